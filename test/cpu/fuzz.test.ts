// Random bytes executed as code in the core, in real mode, 32-bit protected mode at CPL 0 and
// CPL 3, and virtual-8086 mode; interpreted, and translated by the JIT from the first run. Whatever the bytes do, a run must end architecturally: an
// exception delivered through the IDT/IVT to a halting stub, a HLT, a triple fault (reset) or the
// instruction budget. A Wasm trap (RuntimeError), a core abort or any other host exception fails.
//
// Knobs: FUZZ_INSTRUCTIONS=N  total instructions across the four modes (default 2,000,000)
//        FUZZ_SEED=n          first seed
//        FUZZ_MODE=real|pm0|pm3|v86   only one mode

import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { CODE_BASE, CODE_SIZE, DATA_SIZE, STACK_BASE, STACK_SIZE } from './gen/case.js';
import { Rng } from './gen/ctx.js';
import {
  CR0_USER, CoreRunner, refreshWithFlags, KERNEL_CS, KERNEL_DS, PHYS, STUB_LIN, SYS_LIN, TSS_SEL, buildSystem, enterUserMode, segAccess,
} from './core-runner.js';

const TOTAL = Number(process.env.FUZZ_INSTRUCTIONS ?? 2_000_000);
const FIRST_SEED = Number(process.env.FUZZ_SEED ?? 1);
const MODES = ['real', 'pm0', 'pm3', 'v86'] as const;
type Mode = (typeof MODES)[number];
const RUN_BUDGET = 20_000;

// A second page directory for v86 mode: the system one plus the low 4 MiB identity-mapped for user,
// except the system pages (GDT, IDT, TSS, page tables, stubs, ring-0 stack: 0x1000-0xffff), which
// random v86 code must not rewrite (a TSS with a new I/O map base would legitimately allow I/O).
const PD_V86 = 0xe000;
const PT_LOW = 0xf000;

let runner: CoreRunner;
let realModeAccess: { cs: number; data: number };

beforeAll(async () => {
  runner = await CoreRunner.create();
  const core = runner.core;
  core.reset();
  realModeAccess = { cs: core.seg('cs').access, data: core.seg('ds').access };
}, 60_000);

function fillRandom(ram: Uint8Array, from: number, len: number, rng: Rng): void {
  for (let i = 0; i < len; i += 4) {
    const v = rng.u32();
    ram[from + i] = v; ram[from + i + 1] = v >>> 8; ram[from + i + 2] = v >>> 16; ram[from + i + 3] = v >>> 24;
  }
}

/** Fresh system tables, all 256 vectors with halting stubs, IVT for real mode, v86 page tables. */
function prepareWorld(core: Core, rng: Rng): void {
  buildSystem(core);
  const ram = core.ram;
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  for (let v = 0; v < 256; v++) {
    ram.set([0xf4, 0xeb, 0xfd], PHYS.STUBS + v * 16);
    // Real-mode IVT at 0 would overlap the GDT page's neighbour only; stubs at 0900:v*16.
    dv.setUint16(v * 4, v * 16, true);
    dv.setUint16(v * 4 + 2, PHYS.STUBS >>> 4, true);
  }
  ram.copyWithin(PD_V86, PHYS.PD, PHYS.PD + 0x1000);
  dv.setUint32(PD_V86, PT_LOW | 7, true);
  for (let p = 0; p < 0x400; p++) dv.setUint32(PT_LOW + p * 4, (p << 12) | (p >= 1 && p < 0x10 ? 3 : 7), true);
  fillRandom(ram, PHYS.CODE, CODE_SIZE, rng);
  fillRandom(ram, PHYS.DATA, DATA_SIZE + STACK_SIZE, rng);
}

function setupMode(core: Core, mode: Mode, rng: Rng): void {
  const regs = Array.from({ length: 8 }, () => rng.u32());
  const arith = rng.u32() & 0x8d5;
  if (mode === 'pm3') {
    regs[4] = STACK_BASE + 0x800;
    enterUserMode(core, regs, CODE_BASE + rng.int(CODE_SIZE), arith);
    return;
  }
  if (mode === 'pm0') {
    regs[4] = STACK_BASE + 0x800;
    enterUserMode(core, regs, CODE_BASE + rng.int(CODE_SIZE), arith);
    const flat = (sel: number, acc: number) => ({ selector: sel, base: 0, limit: 0xffff_ffff, access: segAccess(acc, 0xc) });
    core.setSeg('cs', flat(KERNEL_CS, 0x9b));
    for (const s of ['ss', 'ds', 'es'] as const) core.setSeg(s, flat(KERNEL_DS, 0x93));
    core.cpl = 0;
    refreshWithFlags(core, 0x202 | arith | (rng.chance(0.5) ? 0x3000 : 0));
    return;
  }
  const seg = (sel: number, acc: number) => ({ selector: sel, base: sel << 4, limit: 0xffff, access: acc });
  const cs = PHYS.CODE >>> 4, ds = PHYS.DATA >>> 4, ss = PHYS.STACK >>> 4;
  for (let r = 0; r < 8; r++) core.setReg(r, regs[r] & 0xffff);
  core.setReg(4, 0x800);
  core.eip = rng.int(CODE_SIZE);
  core.setSeg('ldtr', { selector: 0, base: 0, limit: 0xffff, access: 0x82 });
  if (mode === 'real') {
    core.reset();
    core.setSeg('cs', seg(cs, realModeAccess.cs));
    core.setSeg('ss', seg(ss, realModeAccess.data));
    for (const s of ['ds', 'es', 'fs', 'gs'] as const) core.setSeg(s, seg(ds, realModeAccess.data));
    for (let r = 0; r < 8; r++) core.setReg(r, regs[r] & 0xffff);
    core.setReg(4, 0x800);
    core.eip = rng.int(CODE_SIZE);
    core.idtr = { base: 0, limit: 0x3ff };
    core.setU32('OFF_HALTED', 0);
    refreshWithFlags(core, 0x2 | arith);
    return;
  }
  // v86: protected mode with paging, EFLAGS.VM, segments as in real mode with DPL 3.
  const v86 = 0xf3;
  core.setSeg('cs', seg(cs, v86));
  core.setSeg('ss', seg(ss, v86));
  for (const s of ['ds', 'es', 'fs', 'gs'] as const) core.setSeg(s, seg(ds, v86));
  core.setSeg('ldtr', { selector: 0, base: 0, limit: 0, access: 0 });
  core.setSeg('tr', { selector: TSS_SEL, base: SYS_LIN + PHYS.TSS, limit: 0x67, access: segAccess(0x8b, 0) });
  core.gdtr = { base: SYS_LIN + PHYS.GDT, limit: 0x2f };
  core.idtr = { base: SYS_LIN + PHYS.IDT, limit: 0x7ff };
  core.cr0 = CR0_USER;
  core.cr3 = PD_V86;
  core.cr4 = 0;
  core.cpl = 3;
  core.setU32('OFF_HALTED', 0);
  refreshWithFlags(core, 0x2_0202 | arith | (rng.chance(0.5) ? 0x3000 : 0));
  if (!(core.getEflags() & 0x2_0000)) throw new Error('core did not take EFLAGS.VM: the v86 runs would test protected mode');
}

interface FuzzFailure { mode: Mode; seed: number; error: string; code: string }

function fuzzMode(mode: Mode, budget: number): { instructions: number; runs: number; stops: Record<string, number>; failures: FuzzFailure[] } {
  const core = runner.core;
  const failures: FuzzFailure[] = [];
  const stops: Record<string, number> = {};
  let instructions = 0, runs = 0;
  for (let seed = FIRST_SEED; instructions < budget && failures.length < 20; seed++) {
    const rng = new Rng(seed * 4 + MODES.indexOf(mode));
    prepareWorld(core, rng);
    // Most random code faults within a few instructions: re-enter the same world many times
    // with fresh registers and entry points before building a new one.
    for (let k = 0; k < 64 && instructions < budget; k++) {
      setupMode(core, mode, rng);
      const before = core.instructions;
      const eip = core.eip;
      const io = runner.host.ioReads + runner.host.ioWrites;
      try {
        const stop = core.run(RUN_BUDGET);
        stops[stop] = (stops[stop] ?? 0) + 1;
        if (stop !== 'budget' && stop !== 'hlt' && stop !== 'reset') throw new Error(`unexpected stop '${stop}'`);
        if (stop === 'hlt' && (mode === 'pm3' || mode === 'v86')) {
          // Outside ring 0 a HLT is only reachable through an exception stub.
          const at = (core.eip - 1 - STUB_LIN) >>> 0;
          if (at % 16 !== 0 || at >= 0x1000) throw new Error(`halted at ${core.eip.toString(16)} outside the stubs`);
          // CPL 3 with IOPL 0, and v86 mode with no I/O bitmap: every IN/OUT/INS/OUTS must #GP.
          if (mode === 'pm3' && runner.host.ioReads + runner.host.ioWrites !== io) throw new Error('port I/O reached the bus from CPL 3');
        }
        if (mode === 'v86' && runner.host.ioReads + runner.host.ioWrites !== io) throw new Error('port I/O reached the bus from v86 mode without an I/O bitmap');
      } catch (e) {
        const off = (mode === 'real' || mode === 'v86' ? eip : eip - CODE_BASE) & (CODE_SIZE - 1);
        const bytes = Array.from(core.ram.subarray(PHYS.CODE + off, PHYS.CODE + off + 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
        failures.push({ mode, seed, error: `${(e as Error).name}: ${(e as Error).message} (entry ${k})`, code: bytes });
        break;
      }
      instructions += Math.max(1, core.instructions - before);
      runs++;
    }
  }
  return { instructions, runs, stops, failures };
}

const only = process.env.FUZZ_MODE as Mode | undefined;
describe('CPU core on random code', () => {
  // Interpreted, and with every block translated by the JIT before it first runs.
  for (const mode of MODES) for (const jit of [0, 1]) {
    if (only && only !== mode) continue;
    it(`${mode}${jit ? ', translated' : ''}: ends architecturally`, () => {
      runner.core.setJitThreshold(jit);
      const r = fuzzMode(mode, Math.ceil(TOTAL / (only ? 1 : MODES.length) / 2));
      if (jit) console.log(`fuzz ${mode}: JIT ${JSON.stringify(runner.core.jitStats)}`);
      console.log(`fuzz ${mode}${jit ? ' translated' : ''}: ${r.instructions} instructions in ${r.runs} runs, stops ${JSON.stringify(r.stops)}`);
      const report = r.failures.slice(0, 10).map((f) => `  seed ${f.seed} (FUZZ_SEED=${f.seed} FUZZ_MODE=${f.mode}): ${f.error}\n    code at entry: ${f.code}`).join('\n');
      expect(r.failures.length, `${r.failures.length} runs ended in a host exception:\n${report}`).toBe(0);
    }, 600_000);
  }
});
