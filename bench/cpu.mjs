// CPU benchmark: the same fixed instruction mix (bench/cpu-mix.asm, a multiboot kernel) run in our
// core and in v86 with its JIT disabled, in one run. Prints guest instructions per second for
// each and the ratio. v86 is installed for this script only (npm install --no-save into a temp
// prefix) when it is not resolvable from the repository.
//
// The host's speed drifts (on a shared machine by 2x within seconds), so the two emulators run
// in alternating rounds; the best round of each is the figure, the median is shown beside it.
//
// Usage: node bench/cpu.mjs [--iterations N] [--rounds R]   (env BENCH_CPU_ITERATIONS works too)

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const argIter = process.argv.indexOf('--iterations');
const ITERATIONS = Number(argIter > 0 ? process.argv[argIter + 1] : process.env.BENCH_CPU_ITERATIONS ?? 2_000_000);
const argRounds = process.argv.indexOf('--rounds');
const ROUNDS = Math.max(1, Number(argRounds > 0 ? process.argv[argRounds + 1] : 3) || 3);
const LOAD = 0x100000;
const COM1 = 0x3f8;
const MULTIBOOT_MAGIC = 0x2badb002;

function buildGuest(dir) {
  const out = join(dir, 'cpu-mix.bin');
  execFileSync('nasm', ['-f', 'bin', `-DITERATIONS=${ITERATIONS}`, join(here, 'cpu-mix.asm'), '-o', out]);
  return new Uint8Array(readFileSync(out));
}

/** Our core: multiboot entry state written straight into the CPU state, then run to HLT. */
async function runOurs(image) {
  const { tsImport } = await import('tsx/esm/api');
  const { loadCore } = await tsImport(pathToFileURL(join(root, 'src/cpu/core.ts')).href, import.meta.url);
  const { readCoreWasm } = await tsImport(pathToFileURL(join(root, 'src/cpu/core-file.ts')).href, import.meta.url);
  let core;
  const marks = {};
  const host = {
    ioRead: () => 0xff,
    ioWrite: (port, _size, value) => {
      if (port === COM1) marks[String.fromCharCode(value & 0xff)] = { t: performance.now(), n: core.instructions };
    },
    mmioRead: () => 0xffffffff,
    mmioWrite: () => {},
    intAck: () => 0,
    readTsc: () => 0,
    ferr: () => {},
  };
  core = await loadCore(await readCoreWasm(), host);
  core.init(32 << 20);
  core.ram.set(image, LOAD);
  const entry = new DataView(image.buffer, image.byteOffset).getUint32(28, true);
  for (let r = 0; r < 8; r++) core.setReg(r, 0);
  core.setReg(0, MULTIBOOT_MAGIC);
  core.eip = entry;
  const flat = (selector, access) => ({ selector, base: 0, limit: 0xffffffff, access });
  core.setSeg('cs', flat(0x08, 0xc09b));
  for (const s of ['ss', 'ds', 'es', 'fs', 'gs']) core.setSeg(s, flat(0x10, 0xc093));
  core.cr0 = 0x11;
  core.cpl = 0;
  core.setU32('OFF_EFLAGS', 0x2); // refreshState() reloads EFLAGS from the state block
  core.refreshState();
  for (let guard = 0; guard < 1e6 && !marks.E; guard++) {
    const stop = core.run(1_000_000);
    if (stop === 'hlt' || stop === 'reset') break;
  }
  if (!marks.S || !marks.E) throw new Error(`our core did not finish the mix: ${core.describe()}`);
  return { instructions: marks.E.n - marks.S.n, ms: marks.E.t - marks.S.t };
}

async function importV86() {
  const req = createRequire(join(root, 'package.json'));
  try {
    const p = req.resolve('v86');
    return { mod: await import(pathToFileURL(p).href), dir: dirname(dirname(p)), cleanup: null };
  } catch { /* not installed in the repository: use a temp prefix */ }
  const prefix = mkdtempSync(join(tmpdir(), 'webx86-bench-v86-'));
  execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, 'v86'], { stdio: 'ignore' });
  const dir = join(prefix, 'node_modules', 'v86');
  const main = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).main ?? 'build/libv86.mjs';
  return { mod: await import(pathToFileURL(join(dir, main)).href), dir, cleanup: () => rmSync(prefix, { recursive: true, force: true }) };
}

function firstExisting(paths) { return paths.find((p) => existsSync(p)); }

/** v86 with the JIT off, booting the same image through its multiboot loader (SeaBIOS first). */
async function runV86(image, { mod, dir }) {
  const V86 = mod.V86 ?? mod.default?.V86 ?? mod.default;
  const bios = firstExisting([join(root, 'bios', 'seabios.bin'), '/usr/share/seabios/bios-256k.bin', '/usr/share/seabios/bios.bin']);
  const vgaBios = firstExisting([join(root, 'bios', 'vgabios.bin'), '/usr/share/seabios/vgabios-stdvga.bin', '/usr/share/seabios/vgabios.bin']);
  if (!bios) throw new Error('no SeaBIOS image found for v86 (apt-get install seabios)');
  const buf = (p) => { const b = readFileSync(p); return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) }; };
  const result = await new Promise((resolve, reject) => {
    const marks = {};
    const emulator = new V86({
      wasm_path: join(dir, 'build', 'v86.wasm'),
      bios: buf(bios),
      vga_bios: vgaBios ? buf(vgaBios) : undefined,
      multiboot: { buffer: image.buffer.slice(image.byteOffset, image.byteOffset + image.byteLength) },
      memory_size: 32 << 20,
      disable_jit: true,
      autostart: true,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
    });
    const timer = setTimeout(() => { emulator.destroy?.(); reject(new Error('v86 did not finish within 10 minutes')); }, 600_000);
    emulator.add_listener('serial0-output-byte', (byte) => {
      const ch = String.fromCharCode(byte);
      if (ch !== 'S' && ch !== 'E') return;
      marks[ch] = { t: performance.now(), n: emulator.get_instruction_counter() };
      if (ch === 'E') {
        clearTimeout(timer);
        Promise.resolve(emulator.destroy?.()).catch(() => {}).finally(() =>
          resolve({ ownCount: (marks.E.n - marks.S.n) >>> 0, ms: marks.E.t - marks.S.t }));
      }
    });
  });
  return result;
}

const mips = (instructions, ms) => instructions / ms / 1000;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[(s.length - 1) >> 1]; };

const dir = mkdtempSync(join(tmpdir(), 'webx86-bench-cpu-'));
let v86Module = null;
try {
  const image = buildGuest(dir);
  console.log(`cpu mix: ${ITERATIONS} rounds of the mix (${image.length}-byte multiboot kernel), ${ROUNDS} alternating runs each`);
  const ours = [], theirs = [];
  let count = 0;
  for (let round = 0; round < ROUNDS; round++) {
    try {
      const r = await runOurs(image);
      count = r.instructions;
      ours.push(mips(r.instructions, r.ms));
      console.log(`  run ${round + 1}: webx86 ${ours.at(-1).toFixed(1)} MIPS`);
    } catch (e) {
      console.log(`webx86 core : not measured (${e.message})`);
      process.exitCode = 1;
      break;
    }
    try {
      v86Module ??= await importV86();
      const r = await runV86(image, v86Module);
      // Same guest code, so the same instruction stream: rate both by our exact count (v86's own
      // counter may count REP iterations differently).
      theirs.push(mips(count || r.ownCount, r.ms));
      console.log(`  run ${round + 1}: v86     ${theirs.at(-1).toFixed(1)} MIPS (v86 counter: ${r.ownCount})`);
    } catch (e) {
      console.log(`v86         : not measured (${e.message})`);
      process.exitCode = 1;
      break;
    }
  }
  const show = (name, xs) => console.log(`${name}: best ${Math.max(...xs).toFixed(2)} MIPS, median ${median(xs).toFixed(2)} MIPS`);
  if (ours.length) show('webx86 core ', ours);
  if (theirs.length) show('v86 (no JIT)', theirs);
  if (ours.length && theirs.length) {
    console.log(`ratio webx86 / v86-interpreter: ${(Math.max(...ours) / Math.max(...theirs)).toFixed(2)}x (best), ${(median(ours) / median(theirs)).toFixed(2)}x (median)`);
  }
} finally {
  v86Module?.cleanup?.();
  rmSync(dir, { recursive: true, force: true });
}
