#!/usr/bin/env node
// Builds the CD-ROM guest (run by build.mjs after the other guests, or alone with
// `node disk-images/cdrom.mjs`): a bootable ISO 9660 image made from Debian packages.
//
//   build/images/cdrom.iso    El Torito (no emulation) ISO with ISOLINUX (Debian's isolinux and
//                             syslinux-common) booting the default guest's kernel and initramfs
//                             (build/images/bzImage, initramfs.cpio) with a shell on ttyS0, and
//                             a few files whose contents the tests know (/webx86/)
//   build/images/cdrom.json   manifest: file name, size, volume id, command line, banner, prompt,
//                             the files in /webx86 with their sizes and SHA-256, and the packages
//                             (name, version) the image was made with
//
// Boot: BIOS -> El Torito boot catalog -> isolinux.bin -> ldlinux.c32 -> bzImage + initramfs.
// The default guest's initramfs carries the sr_mod, cdrom and isofs modules (debian.mjs), so the
// shell can `modprobe sr_mod` and mount /dev/sr0.
//
// Idempotent: does nothing when both outputs exist and are newer than the recipe files and the
// default guest's files. Needs xorriso, isolinux and syslinux-common; `npm run setup` installs them.

import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OUT, ROOT, WORK, fail, hostPackage, need, run, step, upToDate } from './debian.mjs';

const ISO = join(OUT, 'cdrom.iso');
const MANIFEST = join(OUT, 'cdrom.json');
const DEFAULT_MANIFEST = join(OUT, 'default.json');
const RECIPES = ['cdrom.mjs', 'debian.mjs'].map((f) => fileURLToPath(new URL(f, import.meta.url)));

// Debian's isolinux package: the El Torito boot image; syslinux-common: its core module.
const ISOLINUX_BIN = '/usr/lib/ISOLINUX/isolinux.bin';
const LDLINUX_C32 = '/usr/lib/syslinux/modules/bios/ldlinux.c32';

/** The volume identifier (ISO 9660 d-characters): /dev/disk/by-label would show it. */
const VOLUME_ID = 'WEBX86_CDROM';
const BANNER = 'webx86 initramfs: busybox shell on the serial console';

/** The text file the guest test reads back through sr_mod and isofs. */
const README = 'webx86 CD-ROM: read through AHCI, ATAPI, sr_mod and isofs.\n';

/**
 * A file of pseudo-random bytes (xorshift32 from a fixed seed, so every build makes the same
 * file): big enough that Linux reads it in many READ(10)s of several blocks each.
 */
function patternFile(bytes, seed) {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  return out;
}

/**
 * isolinux.cfg: boot the default guest at once with its own command line (a console on
 * ttyS0). SERIAL copies ISOLINUX's messages after the banner to COM1.
 */
function isolinuxCfg(cmdline) {
  return `# webx86 CD-ROM guest (disk-images/cdrom.mjs)
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 10
LABEL linux
  KERNEL /boot/bzImage
  INITRD /boot/initramfs.cpio
  APPEND ${cmdline}
`;
}

export function buildCdrom() {
  const guest = JSON.parse(readFileSync(DEFAULT_MANIFEST, 'utf8'));
  const kernel = join(OUT, guest.kernel);
  const initrd = join(OUT, guest.initrd);
  if (upToDate([ISO, MANIFEST], [...RECIPES, DEFAULT_MANIFEST, kernel, initrd])) {
    step(`CD-ROM guest up to date (${relative(process.cwd(), ISO)})`);
    return;
  }
  if (guest.banner !== BANNER) fail(`the default guest's banner changed ('${guest.banner}'): update cdrom.mjs`);
  need('xorriso', 'xorriso');
  const isolinux = hostPackage('isolinux');
  const syslinux = hostPackage('syslinux-common');
  const xorriso = hostPackage('xorriso');
  const tree = join(WORK, 'cdrom-root');
  rmSync(tree, { recursive: true, force: true });
  for (const d of ['isolinux', 'boot', 'webx86']) mkdirSync(join(tree, d), { recursive: true });
  copyFileSync(ISOLINUX_BIN, join(tree, 'isolinux/isolinux.bin'));
  copyFileSync(LDLINUX_C32, join(tree, 'isolinux/ldlinux.c32'));
  writeFileSync(join(tree, 'isolinux/isolinux.cfg'), isolinuxCfg(guest.cmdline));
  copyFileSync(kernel, join(tree, 'boot/bzImage'));
  copyFileSync(initrd, join(tree, 'boot/initramfs.cpio'));
  const files = { 'readme.txt': Buffer.from(README), 'pattern.bin': patternFile(3 << 20, 0x77656278) };
  for (const [name, data] of Object.entries(files)) writeFileSync(join(tree, 'webx86', name), data);

  step('making the CD-ROM image (xorriso, El Torito with ISOLINUX)');
  mkdirSync(OUT, { recursive: true });
  rmSync(ISO, { force: true });
  // mkisofs emulation: Rock Ridge and Joliet names, the boot image loaded as 4 virtual sectors
  // (2 KiB, isolinux.bin loads the rest) without emulation, with the boot info table ISOLINUX
  // needs patched in. SOURCE_DATE_EPOCH (xorriso honours it) keeps the dates fixed.
  run('xorriso', [
    '-as', 'mkisofs', '-quiet', '-o', ISO, '-V', VOLUME_ID, '-R', '-J',
    '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat',
    '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', tree,
  ], { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  rmSync(tree, { recursive: true, force: true });
  const size = statSync(ISO).size;
  const sha256 = (b) => createHash('sha256').update(b).digest('hex');
  const manifest = {
    name: 'cdrom',
    description: `the default guest (Debian ${guest.kernelRelease} kernel, busybox initramfs) on a bootable ISO 9660 CD-ROM with ISOLINUX`,
    iso: 'cdrom.iso',
    size,
    volumeId: VOLUME_ID,
    bootloader: 'isolinux',
    cmdline: guest.cmdline,
    // Files on the disc under /webx86, which the guest reads back.
    files: Object.fromEntries(Object.entries(files).map(([name, data]) => [`/webx86/${name}`, { size: data.length, sha256: sha256(data) }])),
    readme: { path: '/webx86/readme.txt', text: README },
    packages: { ...guest.packages, isolinux, syslinux, xorriso },
    banner: BANNER,
    prompt: '~ # ',
    poweroff: 'poweroff -f',
    recommendedMemoryMiB: 128,
  };
  writeFileSync(MANIFEST, JSON.stringify(manifest, null, 2) + '\n');
  step(`wrote ${relative(ROOT, ISO)}: ${(size / 1048576).toFixed(1)} MiB, volume ${VOLUME_ID}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) buildCdrom();
