// What the guest recipes (build.mjs, disk.mjs) share: running host tools with one-line errors,
// fetching and unpacking the Debian i386 kernel, busybox-static and e2fsck-static, and picking
// kernel modules with their dependencies.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEBS = join(ROOT, 'build/debs');
export const WORK = join(ROOT, 'build/work');
export const OUT = join(ROOT, 'build/images');

/**
 * Kernel command-line words every guest boots with, after its console= words. Each word and why:
 */
export const FAST_BOOT_WORDS = [
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
  // The machine has no ISA Plug and Play cards (nor does any PC webx86 emulates). The kernel's
  // probe for them writes the PnP key and tries each read port with delays between: 0.35 s of
  // busy-waiting (udelay) at every boot, 3.2 million of its 4.5 million delay-loop reads of the
  // TSC, for "isapnp: No Plug & Play device found".
  'noisapnp',
];

// Drivers for the machine's devices, which Debian builds as modules: the AHCI SATA driver with
// SCSI disks and CD-ROMs (sr_mod, the cdrom layer, ISO 9660) on the machine's SATA controller,
// the PS/2 mouse; virtio over PCI for the disk, network, console, entropy and balloon devices
// that come later.
export const MACHINE_MODULES = ['ahci', 'sd_mod', 'sr_mod', 'cdrom', 'isofs', 'psmouse', 'virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_console', 'virtio-rng', 'virtio_balloon'];

export function fail(message) {
  console.error(`build:images: ${message}`);
  process.exit(1);
}

export function step(message) {
  console.log(`build:images: ${message}`);
}

export function need(tool, pkg) {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  if (r.status !== 0) fail(`'${tool}' not found; install it (apt-get install ${pkg}) or run 'npm run setup'`);
}

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) fail(`${cmd} failed: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  return r.stdout;
}

/** Whether every output exists and is newer than every recipe file. */
export function upToDate(outputs, recipes) {
  const recipeTime = Math.max(...recipes.map((f) => statSync(f).mtimeMs));
  return outputs.every((f) => existsSync(f) && statSync(f).mtimeMs > recipeTime);
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
export function debPackage(deb) {
  const fields = run('dpkg-deb', ['--field', deb, 'Package', 'Version', 'Architecture']);
  const get = (name) => new RegExp(`^${name}: (\\S+)$`, 'm').exec(fields)?.[1] ?? fail(`${basename(deb)}: no ${name} in its control data`);
  return { name: get('Package'), version: get('Version'), architecture: get('Architecture') };
}

/** Name, version and architecture of a package installed on the host (a tool the build runs). */
export function hostPackage(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Version} ${Architecture}', pkg], { encoding: 'utf8' });
  const [name, version, architecture] = (r.stdout ?? '').trim().split(' ');
  if (r.status !== 0 || !version) fail(`package ${pkg} is not installed; apt-get install ${pkg} or run 'npm run setup'`);
  return { name, version, architecture };
}

function unpack(deb, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run('dpkg-deb', ['-x', deb, dir]);
}

let unpacked = null;

/**
 * The kernel and busybox-static packages downloaded and unpacked in build/work (once per run):
 * { kdeb, bdeb, kdir, bdir, release, vmlinuz (path), modRoot (its /lib/modules/<release>) }.
 */
export function debianParts() {
  if (unpacked) return unpacked;
  need('apt-get', 'apt');
  need('apt-cache', 'apt');
  need('dpkg-deb', 'dpkg');
  const kdeb = download(kernelPackage());
  const bdeb = download('busybox-static');
  const kdir = join(WORK, 'kernel');
  const bdir = join(WORK, 'busybox');
  step(`unpacking ${basename(kdeb)} and ${basename(bdeb)}`);
  unpack(kdeb, kdir);
  unpack(bdeb, bdir);
  const vmlinuz = readdirSync(join(kdir, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) fail(`no boot/vmlinuz-* in ${basename(kdeb)}`);
  const release = vmlinuz.slice('vmlinuz-'.length);
  unpacked = {
    kdeb, bdeb, kdir, bdir, release,
    vmlinuz: join(kdir, 'boot', vmlinuz),
    modRoot: join(kdir, 'lib/modules', release),
  };
  return unpacked;
}

let fsckUnpacked = null;

/**
 * Debian's e2fsck-static (one statically linked i386 e2fsck, /sbin/e2fsck.static), downloaded
 * and unpacked in build/work once per run: { deb, binary (path) }. The disk guest carries it so
 * that the guest itself can check its ext4 root (busybox has no e2fsck).
 */
export function e2fsckStatic() {
  if (fsckUnpacked) return fsckUnpacked;
  need('apt-get', 'apt');
  need('dpkg-deb', 'dpkg');
  const deb = download('e2fsck-static');
  const dir = join(WORK, 'e2fsck-static');
  step(`unpacking ${basename(deb)}`);
  unpack(deb, dir);
  const binary = join(dir, 'sbin/e2fsck.static');
  if (!existsSync(binary)) fail(`no sbin/e2fsck.static in ${basename(deb)}`);
  fsckUnpacked = { deb, binary };
  return fsckUnpacked;
}

/** `depends=` from a module's .modinfo section (NUL-separated key=value strings). */
function moduleDepends(ko) {
  const text = ko.toString('latin1');
  const at = text.indexOf('\0depends=');
  if (at < 0) return [];
  const end = text.indexOf('\0', at + 1);
  return text.slice(at + 9, end).split(',').filter(Boolean);
}

/**
 * The modules `names` and their dependencies: `files` (paths relative to modRoot) and `dep`, the
 * text of a modules.dep for them.
 */
export function collectModules(modRoot, names) {
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
  names.forEach(visit);
  // modules.dep lists every dependency, transitively, the ones to load last first (as depmod does).
  // modprobe loads the list from its end: each module's dependencies must come after it.
  const closure = (name) => {
    const seen = new Set();
    const order = [];
    const visit = (n) => { for (const d of deps.get(n)) if (!seen.has(d)) { seen.add(d); visit(d); order.push(d); } };
    visit(name);
    return order.reverse();
  };
  const dep = [...deps.keys()].map((n) => `${paths.get(n)}:${closure(n).map((d) => ' ' + paths.get(d)).join('')}\n`).join('');
  return { files: [...deps.keys()].map((n) => paths.get(n)), dep };
}

/** Busybox applet paths ("/bin/ls", "/sbin/poweroff" ...), read from the binary's own list. */
export function appletPaths(busybox) {
  // The binary is a static i386 executable; x86-64 Linux hosts run it natively (IA32 emulation).
  const r = spawnSync(busybox, ['--list-full'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return r.stdout.split('\n').filter(Boolean).map((p) => '/' + p);
}
