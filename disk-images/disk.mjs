#!/usr/bin/env node
// Builds the disk guest (run by build.mjs after the default guest, or alone with
// `node disk-images/disk.mjs`): a bootable raw disk made from Debian packages.
//
//   build/images/disk.img   64 MiB raw disk: an MBR with syslinux's boot code and one active
//                           Linux partition at 1 MiB, holding an ext4 root with busybox-static,
//                           e2fsck-static (/sbin/e2fsck, /sbin/fsck.ext4: the guest checks its
//                           own root), /boot (the Debian 686 kernel, an initramfs, extlinux) and the
//                           kernel modules of the machine's devices
//   build/images/disk.json  manifest: file name, size, root device, command line, banner,
//                           prompt and the packages (name, version) the disk was built from
//   build/images/bios/      SeaBIOS and its VGA BIOS from Debian's seabios package, which the
//                           page boots the disk with (the CLI reads them from /usr/share/seabios)
//
// Boot: BIOS -> MBR -> extlinux -> kernel + initramfs, which loads the AHCI, SCSI disk and ext4
// modules, mounts /dev/sda1 read-write and switch_roots to the disk's /sbin/init: a busybox
// shell on the console.
//
// Idempotent: does nothing when both outputs exist and are newer than the recipe files.
// Needs root (extlinux is installed through a loop mount) and extlinux, syslinux-common and
// e2fsprogs on the host; `npm run setup` installs them.

import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MBR_BIN, buildBootDisk } from './bootdisk.mjs';
import { Cpio } from './cpio.mjs';
import { FAST_BOOT_WORDS, MACHINE_MODULES, OUT, ROOT, WORK, appletPaths, collectModules, debPackage, debianParts, e2fsckStatic, fail, hostPackage, need, step, upToDate } from './debian.mjs';

const RECIPES = ['disk.mjs', 'bootdisk.mjs', 'debian.mjs', 'cpio.mjs'].map((f) => fileURLToPath(new URL(f, import.meta.url)));
const IMAGE = join(OUT, 'disk.img');
const MANIFEST = join(OUT, 'disk.json');
/** The firmware the disk boots with, as Debian's seabios package installs it (bios/README.md). */
const SEABIOS_DIR = '/usr/share/seabios';
const BIOS_FILES = { bios: 'bios-256k.bin', vgaBios: 'vgabios-stdvga.bin' };

const SIZE = 64 << 20;
// The partition starts at 1 MiB (sector 2048), as partitioning tools align it.
const PART_START = 1 << 20;
const ROOT_DEVICE = '/dev/sda1';
const LABEL = 'webx86-root';
// MBR disk signature: "webx" (Linux shows PARTUUID=78626577-01 for the partition).
const DISK_SIGNATURE = 0x78626577;

// The root, the consoles (the screen, tty0, and COM1; the last console= is /dev/console, where
// init's shell runs), then the words every guest boots with (debian.mjs says why each).
const CMDLINE = [`root=${ROOT_DEVICE}`, 'console=tty0', 'console=ttyS0,115200', ...FAST_BOOT_WORDS].join(' ');

// What the initramfs loads to reach the root: the SATA controller, SCSI disks, and ext4, whose
// checksums need crc32c (a soft dependency the modules' depends= does not name). ata_piix drives
// the PIIX IDE controller other PCs have (v86, in the disk benchmark), so the same disk boots there.
const BOOT_MODULES = ['ahci', 'ata_piix', 'sd_mod', 'crc32c_generic', 'ext4'];

const BANNER = "webx86 disk guest: busybox shell on the disk's root";

const INITRAMFS_INIT = `#!/bin/sh
# webx86 disk guest, first stage: load the disk drivers, wait for the root partition, mount it
# read-write and hand over to its /sbin/init. A failure says why and powers off, so a test ends
# at once instead of running into its time-out.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
stop() { echo "webx86 initramfs: $*"; poweroff -f; }
for m in ${BOOT_MODULES.join(' ')}; do modprobe $m || stop "cannot load the kernel module $m"; done
root=${ROOT_DEVICE}
for word in $(cat /proc/cmdline); do case $word in root=*) root=\${word#root=} ;; esac; done
# The AHCI driver probes its ports and sd_mod reads the partition table in the background;
# devtmpfs makes the node when the partition appears. Poll for up to 10 s.
tries=100
while :; do
  case $root in LABEL=*|UUID=*) dev=$(findfs "$root" 2>/dev/null) ;; *) dev=$root ;; esac
  [ -b "$dev" ] && break
  tries=$((tries - 1))
  [ $tries -gt 0 ] || stop "the root device $root did not appear within 10 s (block devices: $(ls /sys/block | tr '\\n' ' '))"
  usleep 100000
done
mkdir -p /newroot
mount -t ext4 -o rw "$dev" /newroot || stop "cannot mount $dev (ext4) on /newroot"
[ -x /newroot/sbin/init ] || stop "$dev has no /sbin/init"
# The root's init mounts its own proc and sysfs; devtmpfs moves along, with /dev/console.
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
`;

const ROOT_INIT = `#!/bin/sh
# webx86 disk guest, second stage: the init of the disk's root, started by the initramfs's
# switch_root. Mounts the kernel's file systems, makes sure the root is writable and gives an
# interactive shell on the console (the last console= on the command line, ttyS0). Leaving
# the shell powers the machine off.
export HOME=/root PATH=/sbin:/bin:/usr/sbin:/usr/bin TERM=linux
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# The initramfs moved its devtmpfs here; mount one if it did not.
grep -q '^devtmpfs /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -o remount,rw /
echo
echo "${BANNER}"
echo "kernel \$(uname -r), type 'poweroff -f' to switch off"
# \\w shows ~ in HOME (found through /etc/passwd), so the first prompt is "~ # ".
export PS1='\\w \\$ '
cd /root
# setsid + cttyhack: a new session whose controlling terminal is the real console device, so the
# shell has job control and ^C reaches its foreground job.
setsid cttyhack sh -l
sync
mount -o remount,ro /
poweroff -f
`;

/**
 * extlinux.conf: boot the kernel at once (holding Shift or Alt still gives a boot: prompt).
 * SERIAL copies syslinux's own messages to COM1; a BIOS that already mirrors the screen there
 * (SeaBIOS's serial console under QEMU -nographic) shows them twice.
 */
function extlinuxConf(kernel, initrd) {
  return `# webx86 disk guest (disk-images/disk.mjs)
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 10
LABEL linux
  LINUX ${kernel}
  INITRD ${initrd}
  APPEND ${CMDLINE}
`;
}

/** The initramfs: busybox, its /init, a console node and BOOT_MODULES with their dependencies. */
function buildInitramfs(busybox, applets, modRoot, release) {
  const cpio = new Cpio();
  for (const d of ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'newroot']) cpio.dir(d);
  // The kernel opens /dev/console for init's stdio before /init can mount devtmpfs.
  cpio.chr('dev/console', 5, 1);
  cpio.file('bin/busybox', busybox, 0o755);
  for (const p of applets) if (p !== '/bin/busybox') cpio.symlink(p.slice(1), '/bin/busybox');
  cpio.file('init', Buffer.from(INITRAMFS_INIT), 0o755);
  const mods = collectModules(modRoot, BOOT_MODULES);
  cpio.modules(release, modRoot, mods);
  return { image: cpio.finish(), modules: mods.files.length };
}

/** The root file system's tree, in build/work/disk-root, for mke2fs -d. */
function stageRoot(tree, { busybox, applets, e2fsck, kernel, initrd, modRoot, release }) {
  rmSync(tree, { recursive: true, force: true });
  const put = (path, data, mode = 0o644) => {
    const p = join(tree, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, data);
    chmodSync(p, mode);
  };
  const dir = (path, mode = 0o755) => {
    mkdirSync(join(tree, path), { recursive: true });
    chmodSync(join(tree, path), mode);
  };
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'boot/extlinux', 'lib/modules', 'proc', 'sys', 'dev', 'run', 'mnt']) dir(d);
  dir('tmp', 0o1777);
  dir('root', 0o700);
  put('bin/busybox', busybox, 0o755);
  // /sbin/init is the script below, not busybox's init applet.
  for (const p of applets) if (p !== '/bin/busybox' && p !== '/sbin/init') symlinkSync('/bin/busybox', join(tree, p));
  put('sbin/init', ROOT_INIT, 0o755);
  // Debian's static e2fsck, under the names people and busybox's fsck look for (it runs
  // fsck.ext4). Put after busybox's links: a busybox with an e2fsck applet would be replaced.
  rmSync(join(tree, 'sbin/e2fsck'), { force: true });
  rmSync(join(tree, 'sbin/fsck.ext4'), { force: true });
  put('sbin/e2fsck', e2fsck, 0o755);
  symlinkSync('e2fsck', join(tree, 'sbin/fsck.ext4'));
  put('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  put('etc/group', 'root:x:0:\n');
  put('etc/profile', "export PS1='\\w \\$ '\n");
  put(`boot/vmlinuz-${release}`, kernel);
  put(`boot/initrd.img-${release}`, initrd);
  put('boot/extlinux/extlinux.conf', extlinuxConf(`/boot/vmlinuz-${release}`, `/boot/initrd.img-${release}`));
  // For what the running system loads later: the boot modules, the machine's devices, and the
  // display's DRM driver (bochs, for the VBE framebuffer), which only this guest carries: the
  // DRM modules would double the default guest's initramfs.
  const mods = collectModules(modRoot, [...BOOT_MODULES, ...MACHINE_MODULES, 'bochs']);
  const base = `lib/modules/${release}`;
  for (const f of mods.files) put(`${base}/${f}`, readFileSync(join(modRoot, f)));
  put(`${base}/modules.dep`, mods.dep);
  return mods.files.length;
}

export function buildDisk() {
  const biosOut = Object.values(BIOS_FILES).map((f) => join(OUT, 'bios', f));
  if (upToDate([IMAGE, MANIFEST, ...biosOut], RECIPES)) {
    step(`disk guest up to date (${relative(process.cwd(), IMAGE)})`);
    return;
  }
  if (process.getuid?.() !== 0) {
    fail('the disk guest needs root: extlinux is installed through a loop mount (run as root, e.g. sudo npm run build:images)');
  }
  need('mke2fs', 'e2fsprogs');
  need('e2fsck', 'e2fsprogs');
  need('extlinux', 'extlinux');
  need('mount', 'mount');
  for (const f of Object.values(BIOS_FILES)) {
    if (!existsSync(join(SEABIOS_DIR, f))) fail(`${join(SEABIOS_DIR, f)} not found: install Debian's seabios package (npm run setup)`);
  }
  const seabios = hostPackage('seabios');
  const mbr = hostPackage('syslinux-common');
  const extlinux = hostPackage('extlinux');
  const { kdeb, bdeb, bdir, release, vmlinuz, modRoot } = debianParts();
  const busyboxPath = join(bdir, 'bin/busybox');
  const applets = appletPaths(busyboxPath) ??
    fail(`cannot run ${relative(ROOT, busyboxPath)} to list its applets (an i386 binary; does this kernel run 32-bit programs?)`);
  const busybox = readFileSync(busyboxPath);
  const fsck = e2fsckStatic();
  const kernel = readFileSync(vmlinuz);
  const initrd = buildInitramfs(busybox, applets, modRoot, release);
  const tree = join(WORK, 'disk-root');
  const rootModules = stageRoot(tree, { busybox, applets, e2fsck: readFileSync(fsck.binary), kernel, initrd: initrd.image, modRoot, release });
  step(`making the disk: ext4 root (mke2fs -d), extlinux (loop mount), MBR`);
  mkdirSync(OUT, { recursive: true });
  let part;
  try {
    part = buildBootDisk({
      path: IMAGE, size: SIZE, partStart: PART_START, signature: DISK_SIGNATURE,
      tree, label: LABEL, extlinuxDir: 'boot/extlinux', work: WORK,
    });
  } catch (e) {
    fail(e.message);
  }
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(join(OUT, 'bios'), { recursive: true });
  for (const f of Object.values(BIOS_FILES)) copyFileSync(join(SEABIOS_DIR, f), join(OUT, 'bios', f));
  const manifest = {
    name: 'disk',
    description: `Debian ${release} kernel booting from a raw disk (MBR, extlinux) with an ext4 root holding busybox-static and e2fsck-static, a shell on ttyS0`,
    disk: 'disk.img',
    format: 'raw',
    size: SIZE,
    partition: { number: 1, firstLba: part.firstLba, sectors: part.sectors, type: 'Linux (0x83)', active: true, filesystem: 'ext4', label: LABEL },
    rootDevice: ROOT_DEVICE,
    bootloader: 'extlinux',
    // Paths inside the root file system; extlinux.conf names them.
    kernel: `/boot/vmlinuz-${release}`,
    initrd: `/boot/initrd.img-${release}`,
    cmdline: CMDLINE,
    kernelRelease: release,
    // Debian packages the disk is made of: the guest's own (from the .debs' control data) and
    // the host's extlinux and syslinux-common, whose boot code is written to the disk.
    packages: { kernel: debPackage(kdeb), busybox: debPackage(bdeb), e2fsck: debPackage(fsck.deb), extlinux, mbr, seabios },
    // The firmware to boot the disk with (copied from the seabios package).
    bios: `bios/${BIOS_FILES.bios}`,
    vgaBios: `bios/${BIOS_FILES.vgaBios}`,
    banner: BANNER,
    prompt: '~ # ',
    poweroff: 'poweroff -f',
    recommendedMemoryMiB: 128,
  };
  writeFileSync(MANIFEST, JSON.stringify(manifest, null, 2) + '\n');
  const mib = (n) => (n / 1048576).toFixed(1);
  step(`wrote ${relative(ROOT, IMAGE)}: ${mib(SIZE)} MiB, initramfs ${mib(initrd.image.length)} MiB ` +
    `(${initrd.modules} modules), ${rootModules} modules on the root, MBR code from ${MBR_BIN}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) buildDisk();
