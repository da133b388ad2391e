// What the guest benchmarks share: the default guest's files (build/images/default.json) and
// v86, resolved from the project or installed once into a temporary prefix (never saved to
// package.json: it is only a yardstick), with SeaBIOS from Debian's `seabios` package.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMAGES = join(ROOT, 'build', 'images');
const V86_VERSION = '0.5.462';
const V86_PREFIX = join(tmpdir(), 'webx86-bench-v86');
export const SEABIOS = '/usr/share/seabios/bios.bin';
export const VGABIOS = ['/usr/share/seabios/vgabios-stdvga.bin', '/usr/share/seabios/vgabios.bin'];

export function manifest() {
  const path = join(IMAGES, 'default.json');
  if (!existsSync(path)) throw new Error(`${path} missing: run npm run build:images`);
  const m = JSON.parse(readFileSync(path, 'utf8'));
  return {
    kernel: join(IMAGES, m.kernel),
    vmlinux: m.vmlinux ? join(IMAGES, m.vmlinux) : null,
    initrd: join(IMAGES, m.initrd),
    cmdline: m.cmdline,
    prompt: m.prompt ?? '~ # ',
  };
}

/** Find v86, installing it into a temporary prefix when the project does not have it. */
export function resolveV86() {
  const fromProject = createRequire(join(ROOT, 'package.json'));
  for (const base of [fromProject, createRequire(join(V86_PREFIX, 'package.json'))]) {
    try {
      return dirname(base.resolve('v86/package.json'));
    } catch { /* not there */ }
  }
  mkdirSync(V86_PREFIX, { recursive: true });
  console.error(`bench: installing v86@${V86_VERSION} into ${V86_PREFIX} (not saved to package.json)`);
  const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', V86_PREFIX, `v86@${V86_VERSION}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error('npm install v86 failed');
  return join(V86_PREFIX, 'node_modules', 'v86');
}

const toArrayBuffer = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);

/**
 * A v86 in this process, started at once with its JIT on (its default), SeaBIOS and the VGA BIOS,
 * `memory` MiB, no keyboard, mouse or speaker: `images` maps v86's image options to files
 * (bzimage, initrd, hda ...), `extra` adds other options (cmdline, net_device ...).
 */
export async function newV86(memory, images, extra = {}) {
  if (!existsSync(SEABIOS)) throw new Error(`${SEABIOS} missing (apt-get install seabios)`);
  const vgabios = VGABIOS.find((p) => existsSync(p));
  const dir = resolveV86();
  const { V86 } = await import(pathToFileURL(join(dir, 'build', 'libv86.mjs')).href);
  const file = (p) => ({ buffer: toArrayBuffer(readFileSync(p)) });
  return new V86({
    wasm_path: join(dir, 'build', 'v86.wasm'),
    memory_size: memory * 1024 * 1024,
    vga_memory_size: 8 * 1024 * 1024,
    bios: file(SEABIOS),
    vga_bios: vgabios ? file(vgabios) : undefined,
    ...Object.fromEntries(Object.entries(images).map(([k, p]) => [k, file(p)])),
    ...extra,
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
  });
}

/** A v86 booting the default guest's bzImage through SeaBIOS and v86's own Linux loader. */
export function startV86(guest, memory) {
  return newV86(memory, { bzimage: guest.kernel, initrd: guest.initrd }, { cmdline: guest.cmdline });
}
