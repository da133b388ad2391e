// x87 exception delivery through the whole core (decoder, fpu.ts, IDT): #NM for CR0.EM / CR0.TS
// (and WAIT with TS+MP), #MF on the next waiting x87 instruction when CR0.NE=1, and the legacy
// path when NE=0: FERR# (the `ferr` import, which the machine routes to IRQ13) and no #MF.
// The small protected-mode system is core-runner.ts's; CR0 is set through the state accessors.
import { beforeAll, describe, expect, it } from 'vitest';
import { type Core } from '../../src/cpu/core.js';
import { CoreRunner, PHYS, buildSystem, enterUserMode, readExceptionFrame, refreshWithFlags } from './core-runner.js';
import { CODE_BASE, CODE_ENTRY, DATA_BASE, STACK_BASE } from './gen/case.js';

const CR0_MP = 1 << 1, CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR0_NE = 1 << 5;
const START = CODE_BASE + CODE_ENTRY;
const CW_AT = DATA_BASE + 0x100;
const abs = (a: number) => [a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, a >>> 24];

// Instruction bytes
const FNINIT = [0xdb, 0xe3];
const FLDCW = [0xd9, 0x2d, ...abs(CW_AT)]; // FLDCW [CW_AT]
const FLD1 = [0xd9, 0xe8];
const FLDZ = [0xd9, 0xee];
const FDIVP = [0xde, 0xf9]; // ST1 = ST1 / ST0, pop: 1 / 0
const FWAIT = [0x9b];
const FNCLEX = [0xdb, 0xe2];
const FNSTSW_AX = [0xdf, 0xe0];

let runner: CoreRunner;
let core: Core;
let ferrCalls: number[] = [];

beforeAll(async () => {
  runner = await CoreRunner.create();
  core = runner.core;
  // CountingHost.ferr ignores its level; record it (the core calls host.ferr at the time of use)
  Object.assign(runner.host, { ferr: (level: number) => { ferrCalls.push(level); } });
});

/** Runs `code` at CPL 3 with the given CR0 bits changed; returns how it ended. */
function run(code: number[], cr0Set: number, cr0Clear: number, cw = 0x037f) {
  buildSystem(core);
  const ram = core.ram;
  ram.fill(0xcc, PHYS.CODE, PHYS.CODE + 0x1000);
  ram.set(code, PHYS.CODE + CODE_ENTRY);
  ram[PHYS.DATA + 0x100] = cw & 0xff; ram[PHYS.DATA + 0x101] = cw >> 8;
  const regs = [0x1111_1111, 0, 0, 0, STACK_BASE + 0x800, 0, 0, 0];
  enterUserMode(core, regs, START, 0x202);
  // leave the FPU in a clean state from any earlier case (FNINIT is a no-wait instruction)
  core.cr0 = (core.cr0 & ~(CR0_EM | CR0_TS)) >>> 0;
  ferrCalls = [];
  core.cr0 = ((core.cr0 | cr0Set) & ~cr0Clear) >>> 0;
  refreshWithFlags(core, 0x202);
  const stop = core.run(10_000);
  expect(stop).toBe('hlt');
  const f = readExceptionFrame(core);
  expect(f).not.toBeNull();
  const fsw = core.u32('OFF_FPU_FSW') & 0xffff;
  return { vector: f!.vector, eip: f!.eip, eax: core.reg(0), fsw, ferr: [...ferrCalls] };
}

/** Offset of instruction k in a list of encodings. */
const at = (parts: number[][], k: number) => START + parts.slice(0, k).reduce((n, p) => n + p.length, 0);

describe('x87 exceptions through the core', () => {
  it('CR0.EM: an ESC instruction raises #NM at itself, WAIT does not', () => {
    const r = run([...FNINIT], CR0_EM, 0);
    expect(r.vector).toBe(7);
    expect(r.eip).toBe(START);
    const w = run([...FWAIT], CR0_EM, CR0_TS);
    expect(w.vector).toBe(3); // the INT3 landing after FWAIT
    expect(w.eip).toBe(START + 2);
  });

  it('CR0.TS: ESC raises #NM; WAIT raises #NM only with MP', () => {
    expect(run([...FLD1], CR0_TS | CR0_MP, 0)).toMatchObject({ vector: 7, eip: START });
    expect(run([...FLD1], CR0_TS, CR0_MP)).toMatchObject({ vector: 7, eip: START });
    expect(run([...FWAIT], CR0_TS | CR0_MP, 0)).toMatchObject({ vector: 7, eip: START });
    expect(run([...FWAIT], CR0_TS, CR0_MP)).toMatchObject({ vector: 3, eip: START + 2 });
  });

  it('CR0.NE=1: an unmasked exception raises #MF at the next waiting x87 instruction', () => {
    const parts = [FNINIT, FLDCW, FLD1, FLDZ, FDIVP, FNSTSW_AX, FLD1];
    const r = run(parts.flat(), CR0_NE, 0, 0x037b); // ZM clear
    expect(r.vector).toBe(16);
    expect(r.eip).toBe(at(parts, 6)); // FNSTSW AX is a no-wait instruction and completes
    // ZE, ES and B set; TOP back at 7 because FDIVP did not store or pop
    expect(r.eax & 0xffff).toBe(0x8000 | (6 << 11) | 0x80 | 0x04);
    expect(r.fsw).toBe(0x8000 | (6 << 11) | 0x80 | 0x04);
    expect(r.ferr).toEqual([]);
    // FWAIT reports it too
    const w = run([FNINIT, FLDCW, FLD1, FLDZ, FDIVP, FWAIT].flat(), CR0_NE, 0, 0x037b);
    expect(w).toMatchObject({ vector: 16, eip: at([FNINIT, FLDCW, FLD1, FLDZ, FDIVP], 5) });
    // masked: no exception at all
    const m = run([FNINIT, FLDCW, FLD1, FLDZ, FDIVP, FWAIT, FLD1].flat(), CR0_NE, 0, 0x037f);
    expect(m.vector).toBe(3);
    expect(m.fsw & 0xff).toBe(0x04);
  });

  it('CR0.NE=0: FERR# is asserted instead, no #MF, and FNCLEX deasserts it', () => {
    const parts = [FNINIT, FLDCW, FLD1, FLDZ, FDIVP, FLD1, FNCLEX];
    const r = run(parts.flat(), 0, CR0_NE, 0x037b);
    expect(r.vector).toBe(3);
    expect(r.eip).toBe(at(parts, 7) + 1);
    expect(r.ferr).toEqual([1, 0]);
    expect(r.fsw & 0x80ff).toBe(0);
  });
});
