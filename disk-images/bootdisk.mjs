// A bootable raw disk from a directory tree: an MBR partition table with one active Linux
// partition, syslinux's MBR boot code, an ext4 file system made with `mke2fs -d`, and extlinux
// installed in it. Installing extlinux needs the file system mounted (it asks the kernel where
// ldlinux.sys landed), so this part needs root and a loop device.

import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';

const SECTOR = 512;

// Master boot record layout (sector 0).
const MBR_CODE_SIZE = 440; // boot code, then:
const MBR_DISK_SIGNATURE = 440; // le32, Linux shows it as PARTUUID=<signature>-<partition number>
const MBR_PARTITION_TABLE = 446; // four 16-byte entries:
const PTE_STATUS = 0; //   0x80 = active (the partition the MBR boot code starts)
const PTE_CHS_FIRST = 1; //   head, sector | cylinder bits 8-9 << 6, cylinder bits 0-7
const PTE_TYPE = 4; //   partition type
const PTE_CHS_LAST = 5;
const PTE_LBA_FIRST = 8; //   le32
const PTE_SECTORS = 12; //   le32
const MBR_BOOT_SIGNATURE = 510; // 0x55 0xaa
const PTE_ACTIVE = 0x80;
const PART_TYPE_LINUX = 0x83;
// The CHS fields are for BIOSes without LBA; 255 heads and 63 sectors per track is what
// partitioning tools and BIOS translations assume. Past cylinder 1023 the fields saturate.
const HEADS = 255;
const SECTORS_PER_TRACK = 63;

// The boot sector extlinux writes to the partition's first sector carries a FAT-style BPB.
const BS_OEM_NAME = 3; // "SYSLINUX" (6.x; "EXTLINUX" before)
const BS_HIDDEN_SECTORS = 0x1c; // le32, the partition's first LBA, added to every sector it reads
const BS_SIGNATURE = 510; // 0x55 0xaa

/** The syslinux MBR boot code (Debian's syslinux-common). */
export const MBR_BIN = '/usr/lib/syslinux/mbr/mbr.bin';

/** Run a tool; throws an Error with its last line of stderr (so callers can clean up first). */
function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} failed: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
  return r.stdout;
}

function chs(lba) {
  const cylinder = Math.floor(lba / (HEADS * SECTORS_PER_TRACK));
  if (cylinder > 1023) return [0xfe, 0xff, 0xff];
  const head = Math.floor(lba / SECTORS_PER_TRACK) % HEADS;
  const sector = (lba % SECTORS_PER_TRACK) + 1;
  return [head, sector | ((cylinder >> 2) & 0xc0), cylinder & 0xff];
}

/** Sector 0: the boot code, a disk signature and one active Linux partition. */
export function masterBootRecord(code, signature, firstLba, sectors) {
  if (code.length !== MBR_CODE_SIZE) throw new Error(`${MBR_BIN} is ${code.length} bytes, expected ${MBR_CODE_SIZE}`);
  const mbr = Buffer.alloc(SECTOR);
  code.copy(mbr, 0);
  mbr.writeUInt32LE(signature, MBR_DISK_SIGNATURE);
  const e = MBR_PARTITION_TABLE;
  mbr[e + PTE_STATUS] = PTE_ACTIVE;
  mbr.set(chs(firstLba), e + PTE_CHS_FIRST);
  mbr[e + PTE_TYPE] = PART_TYPE_LINUX;
  mbr.set(chs(firstLba + sectors - 1), e + PTE_CHS_LAST);
  mbr.writeUInt32LE(firstLba, e + PTE_LBA_FIRST);
  mbr.writeUInt32LE(sectors, e + PTE_SECTORS);
  mbr[MBR_BOOT_SIGNATURE] = 0x55;
  mbr[MBR_BOOT_SIGNATURE + 1] = 0xaa;
  return mbr;
}

/**
 * The ext4 file system of the partition, in its own file: `tree` copied in by mke2fs, then
 * extlinux installed in `extlinuxDir` (relative to the tree) through a loop mount.
 */
function makeRootFs(fsFile, bytes, tree, label, extlinuxDir, mnt) {
  rmSync(fsFile, { force: true });
  const fd = openSync(fsFile, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
  sh('mke2fs', [
    '-q', '-F', '-t', 'ext4', '-L', label, '-d', tree,
    // 4 KiB blocks, an inode per 8 KiB, no blocks reserved for root: a small, mostly full disk.
    '-b', '4096', '-i', '8192', '-m', '0',
    // syslinux 6.04 reads neither 64-bit group descriptors nor metadata checksums.
    '-O', '^64bit,^metadata_csum',
    // Zero the inode tables and journal now, so the guest's kernel has no lazy init to do.
    '-E', 'root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0',
    fsFile,
  ]);
  rmSync(mnt, { recursive: true, force: true });
  mkdirSync(mnt, { recursive: true });
  const m = spawnSync('mount', ['-t', 'ext4', '-o', 'loop', fsFile, mnt], { encoding: 'utf8' });
  if (m.error || m.status !== 0) {
    const why = m.error ? m.error.message : (m.stderr || '').trim().split('\n').pop();
    const who = process.getuid?.() === 0 ? 'root' : 'not root';
    throw new Error(`cannot loop-mount the root file system to install extlinux (needs root and a loop device; running as ${who}): ${why}`);
  }
  try {
    sh('extlinux', ['--install', join(mnt, extlinuxDir)]);
  } finally {
    sh('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
  // -f: check even though clean; -n: change nothing. Exit status 0 means no errors.
  sh('e2fsck', ['-f', '-n', fsFile]);
}

/**
 * Build `path`, a raw disk of `size` bytes: MBR + one partition from `partStart` to the end,
 * holding an ext4 file system with `tree` and extlinux. Writes a temporary file and renames it.
 * Throws an Error with a one-line message.
 */
export function buildBootDisk({ path, size, partStart, signature, tree, label, extlinuxDir, work }) {
  const firstLba = partStart / SECTOR;
  const sectors = (size - partStart) / SECTOR;
  const fsFile = join(work, 'disk-root.ext4');
  makeRootFs(fsFile, size - partStart, tree, label, extlinuxDir, join(work, 'disk-mnt'));
  const fs = readFileSync(fsFile);
  // extlinux cannot see the partition's offset through a loop device of the partition alone
  // (it asks HDIO_GETGEO, which loop devices do not answer) and leaves the hidden-sectors field
  // 0. The boot sector prefers the offset the MBR code hands over, but write the true value so
  // boot managers that hand over nothing work too.
  if (!/^(SYS|EXT)LINUX$/.test(fs.toString('latin1', BS_OEM_NAME, BS_OEM_NAME + 8)) || fs.readUInt16LE(BS_SIGNATURE) !== 0xaa55) {
    throw new Error(`extlinux left no boot sector in ${relative(process.cwd(), fsFile)}`);
  }
  fs.writeUInt32LE(firstLba, BS_HIDDEN_SECTORS);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    ftruncateSync(fd, size);
    writeSync(fd, masterBootRecord(readFileSync(MBR_BIN), signature, firstLba, sectors), 0, SECTOR, 0);
    // Copy the file system in, skipping blocks of zeros so the image stays sparse on the host.
    const BLOCK = 4096;
    const zero = Buffer.alloc(BLOCK);
    for (let at = 0; at < fs.length; at += BLOCK) {
      const block = fs.subarray(at, at + BLOCK);
      if (!block.equals(zero.subarray(0, block.length))) writeSync(fd, block, 0, block.length, partStart + at);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  rmSync(fsFile, { force: true });
  return { firstLba, sectors };
}
