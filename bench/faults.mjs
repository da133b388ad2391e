// Fault benchmark: the cost of a fault the guest's handler fixes and returns from, as in demand
// paging. Runs the bare-metal program test/cpu/baremetal/faults.asm (#PF from ADD, FIADD, STOSD,
// ADD to memory, MOVZX, a byte MOV and REP MOVSD; #UD from UD2; each handler about ten
// instructions) in the core with more rounds, once per
// way of running code, and prints microseconds per fault: the run's time over its faults, the
// handlers' instructions included. The best of a few runs is the figure (the host's speed drifts).
//
// Usage: node bench/faults.mjs [--rounds N] [--repeat R]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const programDir = join(root, 'test/cpu/baremetal');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('--rounds', 2000);
const REPEAT = Math.max(1, arg('--repeat', 3));
/** Where common.inc's programs load and report (test/cpu/baremetal/runner.ts). */
const LOAD_AT = 0x8000, DONE_SLOT = 0x600, DONE_MAGIC = 0x0d0e0d0e;

function assemble() {
  const dir = mkdtempSync(join(tmpdir(), 'webx86-bench-faults-'));
  try {
    const out = join(dir, 'faults.bin');
    execFileSync('nasm', ['-f', 'bin', `-DROUNDS=${ROUNDS}`, '-I', `${programDir}/`, '-o', out, join(programDir, 'faults.asm')]);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const { tsImport } = await import('tsx/esm/api');
const { loadCore } = await tsImport(pathToFileURL(join(root, 'src/cpu/core.ts')).href, import.meta.url);
const { readCoreWasm } = await tsImport(pathToFileURL(join(root, 'src/cpu/core-file.ts')).href, import.meta.url);
const wasm = await readCoreWasm();
const image = assemble();
const host = {
  ioRead: () => 0xffffffff, ioWrite: () => {}, mmioRead: () => 0xffffffff, mmioWrite: () => {},
  intAck: () => 0, readTsc: () => 0, ferr: () => {},
};

/** One run from real mode at 0000:8000, as the bare-metal runner starts a program: ms and instructions. */
async function runOnce(path) {
  const core = await loadCore(wasm, host);
  core.init(8 << 20);
  core.setBlockCache(path.blocks);
  core.setJitThreshold(path.jit);
  core.ram.set(image, LOAD_AT);
  for (const s of ['es', 'ss', 'ds', 'fs', 'gs']) core.setSeg(s, { selector: 0, base: 0, limit: 0xffff, access: 0x93 });
  core.setSeg('cs', { selector: 0, base: 0, limit: 0xffff, access: 0x9b });
  core.eip = LOAD_AT;
  core.setReg('esp', 0x7000);
  core.setU32('OFF_EFLAGS', 2);
  core.refreshState();
  const t0 = performance.now();
  while (core.run(10_000_000) === 'budget') { /* until the program halts */ }
  const ms = performance.now() - t0;
  const slots = new DataView(core.ram.buffer, core.ram.byteOffset);
  if (slots.getUint32(DONE_SLOT, true) !== DONE_MAGIC) throw new Error(`faults.asm did not finish: ${core.describe()}`);
  // Slots 1 and 2: the #PF and #UD its handlers counted.
  return { ms, instructions: core.instructions, faults: slots.getUint32(DONE_SLOT + 4, true) + slots.getUint32(DONE_SLOT + 8, true) };
}

const PATHS = [
  { name: 'translated (JIT threshold 1)', blocks: true, jit: 1 },
  { name: 'block cache', blocks: true, jit: 0 },
  { name: 'step by step', blocks: false, jit: 0 },
];
console.log(`faults.asm, ${ROUNDS} rounds, best of ${REPEAT}`);
for (const path of PATHS) {
  const runs = [];
  for (let i = 0; i < REPEAT; i++) runs.push(await runOnce(path));
  const best = Math.min(...runs.map((r) => r.ms));
  const { faults, instructions } = runs[0];
  const perFault = (best * 1000) / faults;
  console.log(`  ${path.name.padEnd(30)} ${perFault.toFixed(2)} us/fault  (${faults} faults in ${best.toFixed(0)} ms, ${(instructions / faults).toFixed(1)} instructions per fault)`);
}
