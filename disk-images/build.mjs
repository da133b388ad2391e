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
// Idempotent: does nothing when every output exists and is newer than this recipe.
// Needs apt-get (with the i386 architecture added), dpkg-deb and xz; `npm run setup` installs them.
// The initramfs is written in JS (newc cpio + zlib), so no root and no cpio tool are needed.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const RECIPE = fileURLToPath(import.meta.url);
const ROOT = join(dirname(RECIPE), '..');
const DEBS = join(ROOT, 'build/debs');
const WORK = join(ROOT, 'build/work');
const OUT = join(ROOT, 'build/images');
const OUTPUTS = ['bzImage', 'vmlinux', 'initramfs.cpio', 'initramfs.cpio.gz', 'default.json'].map((f) => join(OUT, f));

// Kernel command line for a fast boot on the serial console. Each word and why:
const CMDLINE = [
  // The console is COM1; 115200 8N1 is what the CLI and the page terminal expect.
  'console=ttyS0,115200',
  // Print from the first instructions of setup_arch, before the 8250 driver registers, so an
  // early crash in the emulator is visible instead of silent.
  'earlyprintk=serial,ttyS0,115200',
  // The emulated CPU does not speculate, so Spectre/Meltdown work-arounds only cost time; PTI in
  // particular would reload CR3 (and flush our TLB) on every system call and interrupt.
  'mitigations=off',
  // With the bzImage path the decompressor would otherwise pick a random physical address; fixed
  // placement makes both paths (bzImage and vmlinux) put the kernel at 16 MiB, matching
  // System.map, and keeps deterministic runs identical.
  'nokaslr',
  // Reboot at once on a panic instead of hanging: with --no-reboot the machine then stops, so a
  // failing boot ends a test quickly instead of running into its time-out.
  'panic=-1',
  // Skip the crypto manager's boot-time self-tests of every registered algorithm. They are
  // pure CPU work (RSA and Diffie-Hellman modular exponentiation with multi-precision
  // arithmetic): about 3 billion guest instructions, 90% of this kernel's boot. The
  // algorithms still work; they are just not re-verified at each boot, as on most embedded
  // configurations.
  'cryptomgr.notests',
].join(' ');
// Deliberately absent: tsc=reliable (only skips the clocksource watchdog; our TSC follows the
// same virtual clock as the PIT, so the watchdog passes and costs nothing measurable), lpj= (the
// kernel already skips the delay-loop calibration when the TSC frequency is known),
// no_timer_check (only matters with an IO-APIC whose timer pin is doubtful), quiet or loglevel=
// (the boot log is the best diagnostic we have; the tests keep later kernel messages out of
// command outputs by other means, test/shell-markers.ts).

// Modules copied into the initramfs (with their dependencies): the AHCI SATA driver and SCSI
// disks (the machine's SATA controller), the PS/2 mouse; virtio over PCI for the disk, network, console,
// entropy and balloon devices that come later. Debian builds them as modules.
const MODULES = ['ahci', 'sd_mod', 'psmouse', 'virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_console', 'virtio-rng', 'virtio_balloon'];

const BANNER = 'webx86 initramfs: busybox shell on the serial console';

const INIT = `#!/bin/sh
# webx86 default guest: mount the kernel's file systems and give an interactive shell on the
# console (ttyS0 with console=ttyS0). Leaving the shell powers the machine off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /tmp /run
mount -t devpts devpts /dev/pts
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

function fail(message) {
  console.error(`build:images: ${message}`);
  process.exit(1);
}

function step(message) {
  console.log(`build:images: ${message}`);
}

function need(tool, pkg) {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  if (r.status !== 0) fail(`'${tool}' not found; install it (apt-get install ${pkg}) or run 'npm run setup'`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) fail(`${cmd} failed: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  return r.stdout;
}

function upToDate() {
  const recipeTime = statSync(RECIPE).mtimeMs;
  return OUTPUTS.every((f) => existsSync(f) && statSync(f).mtimeMs > recipeTime);
}

/** The versioned kernel package the linux-image-686 metapackage currently depends on. */
function kernelPackage() {
  const out = run('apt-cache', ['depends', 'linux-image-686:i386']);
  const m = /Depends:\s*(linux-image-[0-9][^\s:]*-686)(?::i386)?/.exec(out);
  if (!m) fail(`cannot find the kernel package in 'apt-cache depends linux-image-686:i386' (is the i386 architecture added and apt-get update done?)`);
  return m[1];
}

/** Download `pkg:i386` into build/debs unless a .deb for it is already there; returns its path. */
function download(pkg) {
  mkdirSync(DEBS, { recursive: true });
  const find = () => readdirSync(DEBS).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('_i386.deb'));
  if (!find()) {
    step(`apt-get download ${pkg}:i386`);
    run('apt-get', ['download', `${pkg}:i386`], { cwd: DEBS });
  }
  const deb = find();
  if (!deb) fail(`apt-get download ${pkg}:i386 left no .deb in ${DEBS}`);
  return join(DEBS, deb);
}

/** Name, version and architecture from a .deb's control data (what dpkg would install). */
function debPackage(deb) {
  const fields = run('dpkg-deb', ['--field', deb, 'Package', 'Version', 'Architecture']);
  const get = (name) => new RegExp(`^${name}: (\\S+)$`, 'm').exec(fields)?.[1] ?? fail(`${basename(deb)}: no ${name} in its control data`);
  return { name: get('Package'), version: get('Version'), architecture: get('Architecture') };
}

function unpack(deb, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run('dpkg-deb', ['-x', deb, dir]);
}

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

/** `depends=` from a module's .modinfo section (NUL-separated key=value strings). */
function moduleDepends(ko) {
  const text = ko.toString('latin1');
  const at = text.indexOf('\0depends=');
  if (at < 0) return [];
  const end = text.indexOf('\0', at + 1);
  return text.slice(at + 9, end).split(',').filter(Boolean);
}

/** The wanted modules and their dependencies, each with the paths of its dependencies in load order. */
function collectModules(modRoot) {
  const paths = new Map(); // module name -> path relative to modRoot
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) paths.set(e.name.slice(0, -3), relative(modRoot, p));
    }
  };
  walk(join(modRoot, 'kernel'));
  const deps = new Map(); // name -> direct dependencies
  const visit = (name) => {
    const key = paths.has(name) ? name : name.replace(/_/g, '-');
    if (!paths.has(key)) fail(`kernel module ${name} not found in the kernel package`);
    if (deps.has(key)) return key;
    deps.set(key, []);
    deps.set(key, moduleDepends(readFileSync(join(modRoot, paths.get(key)))).map(visit));
    return key;
  };
  MODULES.forEach(visit);
  // modules.dep lists every dependency, transitively, the ones to load last first (as depmod does).
  const closure = (name, seen = new Set()) => {
    for (const d of deps.get(name)) if (!seen.has(d)) { seen.add(d); closure(d, seen); }
    return [...seen];
  };
  const dep = [...deps.keys()].map((n) => `${paths.get(n)}:${closure(n).map((d) => ' ' + paths.get(d)).join('')}\n`).join('');
  return { files: [...deps.keys()].map((n) => paths.get(n)), dep };
}

// ---- newc cpio ----

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

class Cpio {
  chunks = [];
  ino = 1;
  add(name, mode, data = Buffer.alloc(0), rdev = [0, 0]) {
    const nameBytes = Buffer.from(name + '\0');
    const fields = [
      this.ino++, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0,
    ];
    const header = '070701' + fields.map((v) => v.toString(16).padStart(8, '0')).join('');
    this.push(Buffer.concat([Buffer.from(header, 'ascii'), nameBytes]));
    this.push(data);
  }
  push(buf) {
    this.chunks.push(buf);
    const len = this.chunks.reduce((n, b) => n + b.length, 0);
    if (len % 4) this.chunks.push(Buffer.alloc(4 - (len % 4)));
  }
  dir(name) { this.add(name, S_IFDIR | 0o755); }
  file(name, data, perm = 0o644) { this.add(name, S_IFREG | perm, data); }
  symlink(name, target) { this.add(name, S_IFLNK | 0o777, Buffer.from(target)); }
  chr(name, major, minor, perm = 0o600) { this.add(name, S_IFCHR | perm, Buffer.alloc(0), [major, minor]); }
  finish() {
    this.add('TRAILER!!!', 0);
    return Buffer.concat(this.chunks);
  }
}

/** Busybox applet paths ("/bin/ls", "/sbin/poweroff" ...), read from the binary's own list. */
function appletPaths(busybox) {
  // The binary is a static i386 executable; x86-64 Linux hosts run it natively (IA32 emulation).
  const r = spawnSync(busybox, ['--list-full'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return r.stdout.split('\n').filter(Boolean).map((p) => '/' + p);
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
  const mods = collectModules(modRoot);
  const base = `lib/modules/${kernelRelease}`;
  const made = new Set(['lib/modules']);
  const mkdirs = (p) => {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!made.has(d) && d.startsWith('lib/modules')) { made.add(d); cpio.dir(d); }
    }
  };
  mkdirs(base);
  for (const f of mods.files) {
    mkdirs(dirname(`${base}/${f}`));
    cpio.file(`${base}/${f}`, readFileSync(join(modRoot, f)));
  }
  cpio.file(`${base}/modules.dep`, Buffer.from(mods.dep));
  const raw = cpio.finish();
  return { raw, image: gzipSync(raw, { level: 9 }), applets: applets ? applets.length : 0, modules: mods.files.length };
}

function main() {
  if (upToDate()) {
    step(`up to date (${relative(process.cwd(), OUT) || '.'})`);
    return;
  }
  need('apt-get', 'apt');
  need('apt-cache', 'apt');
  need('dpkg-deb', 'dpkg');
  need('xz', 'xz-utils');
  const kpkg = kernelPackage();
  const kdeb = download(kpkg);
  const bdeb = download('busybox-static');
  const kdir = join(WORK, 'kernel');
  const bdir = join(WORK, 'busybox');
  step(`unpacking ${basename(kdeb)} and ${basename(bdeb)}`);
  unpack(kdeb, kdir);
  unpack(bdeb, bdir);
  const vmlinuz = readdirSync(join(kdir, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) fail(`no boot/vmlinuz-* in ${basename(kdeb)}`);
  const release = vmlinuz.slice('vmlinuz-'.length);
  const bz = readFileSync(join(kdir, 'boot', vmlinuz));
  mkdirSync(OUT, { recursive: true });
  step(`decompressing the kernel payload with xz`);
  const elf = extractVmlinux(bz);
  const initrd = buildInitramfs(bdir, join(kdir, 'lib/modules', release), release);
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

main();
