#!/usr/bin/env node
// Builds the default guest (`npm run build:images`) from Debian i386 packages:
//
//   build/images/bzImage            the Debian 686 kernel as shipped
//   build/images/vmlinux            the same kernel decompressed on the host (an i386 ELF), so the
//                                   boot loader can skip the guest's own XZ decompression
//   build/images/initramfs.cpio     busybox-static, /init, a few device nodes, virtio modules
//   build/images/initramfs.cpio.gz  the same, gzipped
//   build/images/default.json       manifest: file names, the recommended command line and the
//                                   Debian packages (name, version) the guest was built from
//
// Idempotent: does nothing when every output exists and is newer than this recipe (and the
// helpers it imports). Then builds the disk guest, build/images/disk.img (disk.mjs).
// Needs apt-get (with the i386 architecture added), dpkg-deb and xz; `npm run setup` installs them.
// The initramfs is written in JS (newc cpio + zlib), so no root and no cpio tool are needed.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Cpio } from './cpio.mjs';
import { FAST_BOOT_WORDS, MACHINE_MODULES, OUT, ROOT, appletPaths, collectModules, debPackage, debianParts, fail, need, step, upToDate } from './debian.mjs';
import { buildDisk } from './disk.mjs';
import { buildCdrom } from './cdrom.mjs';

const RECIPES = ['build.mjs', 'debian.mjs', 'cpio.mjs'].map((f) => fileURLToPath(new URL(f, import.meta.url)));
const OUTPUTS = ['bzImage', 'vmlinux', 'initramfs.cpio', 'initramfs.cpio.gz', 'default.json'].map((f) => join(OUT, f));

// Kernel command line for a fast boot on the serial console: COM1 at 115200 8N1 (what the CLI
// and the page terminal expect), then the words every guest uses (debian.mjs says why each).
const CMDLINE = ['console=ttyS0,115200', ...FAST_BOOT_WORDS].join(' ');
// Deliberately absent: tsc=reliable (only skips the clocksource watchdog; our TSC follows the
// same virtual clock as the PIT, so the watchdog passes and costs nothing measurable), lpj= (the
// kernel already skips the delay-loop calibration when the TSC frequency is known),
// no_timer_check (only matters with an IO-APIC whose timer pin is doubtful), quiet or loglevel=
// (the boot log is the best diagnostic we have; the tests keep later kernel messages out of
// command outputs by other means, test/shell-markers.ts).

const BANNER = 'webx86 initramfs: busybox shell on the serial console';

const INIT = `#!/bin/sh
# webx86 default guest: mount the kernel's file systems and give an interactive shell on the
# console (ttyS0 with console=ttyS0). Leaving the shell powers the machine off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /tmp /run
mount -t devpts devpts /dev/pts
# A virtio network card (PCI 1af4:1041): load its driver and configure eth0 by DHCP, so that on
# user-mode NAT the guest is 10.0.2.15 with 10.0.2.2 as its gateway and 10.0.2.3 as its DNS. On
# a network without a DHCP server (VMs on a hub) it gives up after three tries a second apart.
if grep -qs 0x1041 /sys/bus/pci/devices/*/device; then
  modprobe virtio_pci; modprobe virtio_net
  udhcpc -i eth0 -n -q -t 3 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1 && echo "eth0: \$(ifconfig eth0 | grep -o 'inet addr:[0-9.]*')"
fi
# The other virtio devices (PCI 1af4:1042-1045: block, console, entropy, balloon): their drivers,
# as udev loads them on a distribution, so the balloon the host sets and /dev/hwrng just work.
for dev in 1042:virtio_blk 1043:virtio_console 1044:virtio-rng 1045:virtio_balloon; do
  grep -qs "0x\${dev%%:*}" /sys/bus/pci/devices/*/device && modprobe virtio_pci && modprobe "\${dev#*:}"
done
echo
echo "${BANNER}"
echo "kernel \$(uname -r), type 'poweroff -f' to switch off"
export HOME=/root PATH=/sbin:/bin:/usr/sbin:/usr/bin TERM=linux
# \\w shows ~ in HOME (found through /etc/passwd), so the first prompt is "~ # ".
export PS1='\\w \\$ '
cd /root
# setsid + cttyhack: a new session whose controlling terminal is the real console device, so the
# shell has job control and ^C reaches its foreground job.
setsid cttyhack sh -l
poweroff -f
`;

const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ifconfig $interface 0.0.0.0 up ;;
  bound|renew) ifconfig $interface $ip netmask $subnet up; route add default gw $router; echo "nameserver $dns" > /etc/resolv.conf ;;
esac
`;

/** Decompress the bzImage payload (XZ) on the host, giving the kernel's ELF image. */
function extractVmlinux(bz) {
  if (bz.length < 0x268 || bz.readUInt32LE(0x202) !== 0x53726448) fail('the kernel is not a bzImage (no HdrS)');
  const setupSects = bz[0x1f1] || 4;
  const pmOffset = (setupSects + 1) * 512;
  const payloadOffset = bz.readUInt32LE(0x248);
  const payloadLength = bz.readUInt32LE(0x24c);
  const start = pmOffset + payloadOffset;
  if (payloadLength < 4 || start + payloadLength > bz.length) fail('bzImage payload lies outside the file');
  const payload = bz.subarray(start, start + payloadLength);
  if (payload.readUInt32BE(0) !== 0xfd377a58) fail('bzImage payload is not XZ (expected CONFIG_KERNEL_XZ)');
  // The kernel build appends the decompressed size (le32) after the XZ stream.
  const expected = payload.readUInt32LE(payload.length - 4);
  const r = spawnSync('xz', ['-dc', '--single-stream'], { input: payload, maxBuffer: 256 << 20 });
  if (r.status !== 0) fail(`xz -dc failed on the bzImage payload: ${String(r.stderr).trim()}`);
  const elf = r.stdout;
  if (elf.length !== expected) fail(`decompressed kernel is ${elf.length} bytes, the bzImage says ${expected}`);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 1 || elf.readUInt16LE(18) !== 3) {
    fail('decompressed kernel is not an i386 ELF');
  }
  return elf;
}

function buildInitramfs(busyboxRoot, modRoot, kernelRelease) {
  const busyboxPath = join(busyboxRoot, 'bin/busybox');
  const cpio = new Cpio();
  for (const d of ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'run', 'root', 'etc', 'lib', 'lib/modules']) cpio.dir(d);
  // The kernel opens /dev/console for init's stdio before /init can mount devtmpfs.
  cpio.chr('dev/console', 5, 1);
  cpio.chr('dev/ttyS0', 4, 64, 0o660);
  cpio.file('bin/busybox', readFileSync(busyboxPath), 0o755);
  const applets = appletPaths(busyboxPath);
  if (applets) {
    for (const p of applets) if (p !== '/bin/busybox') cpio.symlink(p.slice(1), '/bin/busybox');
  } else {
    // Cannot run the i386 binary here: install the applet links at boot instead.
    cpio.symlink('bin/sh', 'busybox');
  }
  cpio.file('init', Buffer.from(applets ? INIT : INIT.replace('mount -t proc', '/bin/busybox --install -s\nmount -t proc')), 0o755);
  cpio.file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'));
  cpio.file('etc/group', Buffer.from('root:x:0:\n'));
  cpio.file('etc/profile', Buffer.from("export PS1='\\w \\$ '\n"));
  // busybox udhcpc's hook: set the address, the default route and the resolver it was given.
  cpio.file('etc/udhcpc.script', Buffer.from(UDHCPC_SCRIPT), 0o755);
  const mods = collectModules(modRoot, MACHINE_MODULES);
  cpio.modules(kernelRelease, modRoot, mods);
  const raw = cpio.finish();
  return { raw, image: gzipSync(raw, { level: 9 }), applets: applets ? applets.length : 0, modules: mods.files.length };
}

function buildDefault() {
  if (upToDate(OUTPUTS, RECIPES)) {
    step(`up to date (${relative(process.cwd(), OUT) || '.'})`);
    return;
  }
  need('xz', 'xz-utils');
  const { kdeb, bdeb, bdir, release, vmlinuz, modRoot } = debianParts();
  const bz = readFileSync(vmlinuz);
  mkdirSync(OUT, { recursive: true });
  step(`decompressing the kernel payload with xz`);
  const elf = extractVmlinux(bz);
  const initrd = buildInitramfs(bdir, modRoot, release);
  writeFileSync(join(OUT, 'bzImage'), bz);
  writeFileSync(join(OUT, 'vmlinux'), elf);
  writeFileSync(join(OUT, 'initramfs.cpio'), initrd.raw);
  writeFileSync(join(OUT, 'initramfs.cpio.gz'), initrd.image);
  const manifest = {
    name: 'default',
    description: `Debian ${release} kernel with a busybox-static initramfs and a shell on ttyS0`,
    kernel: 'bzImage',
    vmlinux: 'vmlinux',
    // The uncompressed archive boots faster: gunzipping 2.4 MiB in the guest costs about 140
    // million instructions, 30% of the kernel's boot, to save 1.2 MiB of download. The
    // gzipped copy stays for hosts that prefer the smaller file.
    initrd: 'initramfs.cpio',
    cmdline: CMDLINE,
    kernelRelease: release,
    // Which Debian packages this guest is made of, as their control data says (the versions
    // apt served when the image was built; the .deb file names only carry them URL-encoded).
    packages: { kernel: debPackage(kdeb), busybox: debPackage(bdeb) },
    banner: BANNER,
    prompt: '~ # ',
    poweroff: 'poweroff -f',
    recommendedMemoryMiB: 128,
  };
  writeFileSync(join(OUT, 'default.json'), JSON.stringify(manifest, null, 2) + '\n');
  const mib = (n) => (n / 1048576).toFixed(1);
  step(`wrote ${relative(ROOT, OUT)}: bzImage ${mib(bz.length)} MiB, vmlinux ${mib(elf.length)} MiB, ` +
    `initramfs ${mib(initrd.image.length)} MiB (${initrd.applets} applets, ${initrd.modules} modules)`);
}

buildDefault();
// The second guest, a bootable disk (disk.mjs); it needs root for a loop mount.
buildDisk();
// The third, a bootable CD-ROM with the default guest on it (cdrom.mjs).
buildCdrom();
