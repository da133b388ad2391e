// The JIT against the interpreter on instruction sequences. diff.test.ts runs one instruction per
// case against the host CPU on all three paths; what it cannot see is the state a translation
// carries from one instruction to the next inside a block: registers in locals, a pending flag
// operation (a CMP feeding a Jcc, a rotate on top of an ADD, INC keeping an earlier CF), stores
// at exits and slow paths. Here random runs of the generated instructions are strung together
// into one block and run translated (threshold 1) and step by step; everything the cases
// compare must be identical, bit for bit, including the flags the SDM leaves undefined (both
// paths are the same core, so they must agree on those too). A second test makes two pending
// operations meet at a block that reads CF, which a translation resolves only at run time. A
// third puts x87 instructions (jit/x87.ts) after a flag operation and reads the flags after
// them: FCMOVcc reads them, FCOMI writes them, the rest must leave them pending.
//
// Knobs: JIT_SEQUENCES=N (default 3000), JIT_SEQ_SEED=n.

import { beforeAll, describe, expect, it } from 'vitest';
import { CoreRunner, type CoreCaseResult } from './core-runner.js';
import { CODE_ENTRY, CODE_SIZE, type TestCase } from './gen/case.js';
import { Rng } from './gen/ctx.js';
import { generateCases } from './gen/generate.js';
import { FRSTOR_INIT, blobPokes, generateFpuCases } from './fpu/decoder.js';

const SEQUENCES = Number(process.env.JIT_SEQUENCES ?? 3000);
const generated = generateCases({ perForm: 4, seed: 0x51e9 });
/** The generated cases that complete (reach the INT3 after them) rather than fault: sequences of those run further. */
let pool: TestCase[] = [];

/** `parts` and then up to `more` random cases from the pool, as long as they fit the code area, as one piece of code. */
function joined(rng: Rng, parts: Uint8Array[], more: number): Uint8Array {
  let bytes = parts.reduce((n, p) => n + p.length, 0);
  for (let i = 0; i < more; i++) {
    const c = pool[rng.int(pool.length)]!;
    if (bytes + c.code.length > CODE_SIZE - CODE_ENTRY - 16) break;
    parts.push(c.code);
    bytes += c.code.length;
  }
  const code = new Uint8Array(bytes);
  let at = 0;
  for (const p of parts) { code.set(p, at); at += p.length; }
  return code;
}

function sequence(rng: Rng): TestCase {
  const first = pool[rng.int(pool.length)]!;
  const parts = [first.code];
  const code = joined(rng, parts, 1 + rng.int(14));
  return { ...first, code, form: `sequence of ${parts.length}` };
}

/**
 * X; Jcc over Y; Y; JMP to the next instruction; Z; and a few more: Z's block is reached from the
 * Jcc with X's pending flag operation and from the JMP with Y's (the JMP ends Y's block, which
 * would otherwise run on into Z), so a translation starts it with whichever arrived (jit/emit.ts
 * PEND_DYNAMIC). Z keeps or reads CF (INC, DEC, ADC, SBB), which it then takes from that
 * operation (jit/pending.ts dynamicCF).
 */
function merging(rng: Rng, readers: TestCase[]): TestCase {
  const x = pool[rng.int(pool.length)]!;
  const y = pool[rng.int(pool.length)]!;
  const z = readers[rng.int(readers.length)]!;
  const jcc = new Uint8Array([0x70 + rng.int(16), y.code.length + 2]);
  const code = joined(rng, [x.code, jcc, y.code, new Uint8Array([0xeb, 0]), z.code], rng.int(4));
  return { ...x, code, form: `${x.form}; Jcc; ${y.form}; JMP; ${z.form}` };
}

function same(a: CoreCaseResult, b: CoreCaseResult): string[] {
  const d: string[] = [];
  const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;
  if (a.thrown !== b.thrown) d.push(`thrown: ${a.thrown} / ${b.thrown}`);
  if (a.vector !== b.vector) d.push(`vector ${a.vector} / ${b.vector}`);
  if (a.error !== b.error) d.push(`error ${a.error} / ${b.error}`);
  if (a.eip !== b.eip) d.push(`eip ${hex(a.eip)} / ${hex(b.eip)}`);
  if (a.cr2 !== b.cr2) d.push(`cr2 ${hex(a.cr2)} / ${hex(b.cr2)}`);
  if (a.eflags !== b.eflags) d.push(`eflags ${hex(a.eflags)} / ${hex(b.eflags)}`);
  a.regs.forEach((v, i) => { if (v !== b.regs[i]) d.push(`reg ${i} ${hex(v)} / ${hex(b.regs[i]!)}`); });
  if (JSON.stringify(a.changes) !== JSON.stringify(b.changes)) d.push('memory differs');
  return d;
}

/** SETB AL; SETE CL; SETP DL; FNSAVE [DATA_BASE + 0x1d00]: the flags and the whole x87 state, where the cases compare them. */
const FLAGS_AND_FPU = new Uint8Array([0x0f, 0x92, 0xc0, 0x0f, 0x94, 0xc1, 0x0f, 0x9a, 0xc2, 0xdd, 0x35, 0x00, 0x1d, 0x00, 0x20]);

/**
 * An x87 case's FNINIT; FRSTOR (which the handler runs, storing the flags); a flag operation from
 * the pool; the case's instruction and FWAIT; FLAGS_AND_FPU.
 */
function x87After(rng: Rng, fpu: TestCase[]): TestCase {
  const x = pool[rng.int(pool.length)]!;
  const f = fpu[rng.int(fpu.length)]!;
  const n = FRSTOR_INIT.length;
  const code = joined(rng, [f.code.subarray(0, n), x.code, f.code.subarray(n), FLAGS_AND_FPU], 0);
  return { ...f, code, form: `${x.form}; ${f.form}` };
}

describe('JIT against the interpreter on instruction sequences', () => {
  let jit: CoreRunner, interp: CoreRunner;
  /** SEQUENCES cases from `make`, each run translated and step by step: the first five that end differently. */
  const differing = (make: () => TestCase): string[] => {
    const failures: string[] = [];
    for (let i = 0; i < SEQUENCES && failures.length < 5; i++) {
      const c = make();
      const d = same(jit.run(c), interp.run(c));
      if (d.length) failures.push(`sequence ${i} (${c.form}: ${Buffer.from(c.code).toString('hex')}): ${d.join('; ')}`);
    }
    return failures;
  };
  beforeAll(async () => {
    jit = await CoreRunner.create();
    jit.core.setJitThreshold(1);
    interp = await CoreRunner.create();
    interp.core.setBlockCache(false);
    interp.core.setJitThreshold(0);
    pool = generated.filter((c) => interp.run(c).vector === 3);
  });

  it(`${SEQUENCES} random sequences end identically`, () => {
    const rng = new Rng(Number(process.env.JIT_SEQ_SEED ?? 0x5e91));
    const failures: string[] = [];
    let instructions = 0;
    for (let i = 0; i < SEQUENCES; i++) {
      const c = sequence(rng);
      const before = jit.core.instructions;
      const a = jit.run(c);
      instructions += jit.core.instructions - before;
      const b = interp.run(c);
      const d = same(a, b);
      if (d.length && failures.length < 5) {
        failures.push(`sequence ${i} (${c.code.length} bytes: ${Buffer.from(c.code).toString('hex')}): ${d.join('; ')}`);
      }
    }
    const s = jit.core.jitStats;
    console.log(`${SEQUENCES} sequences, ${instructions} instructions retired translated-path; JIT: ${JSON.stringify(s)}`);
    expect(failures, failures.join('\n')).toEqual([]);
    // The sequences really ran translated, several instructions each on average.
    expect(s.translations).toBeGreaterThanOrEqual(SEQUENCES);
    expect(s.instructions).toBeGreaterThan(SEQUENCES * 4);
  }, 600_000);

  it(`${SEQUENCES} random sequences where two flag operations meet before a CF reader end identically`, () => {
    const rng = new Rng(Number(process.env.JIT_SEQ_SEED ?? 0xcf01));
    const readers = pool.filter((c) => /^(INC|DEC|ADC|SBB) /.test(c.form));
    expect(readers.length).toBeGreaterThan(20);
    const failures = differing(() => merging(rng, readers));
    expect(failures, failures.join('\n')).toEqual([]);
  }, 600_000);

  it(`${SEQUENCES} random sequences of a flag operation, an x87 instruction and flag readers end identically`, () => {
    const rng = new Rng(Number(process.env.JIT_SEQ_SEED ?? 0x87));
    const fpu: TestCase[] = generateFpuCases(4, 0x87).map((c) => ({
      form: c.form, code: c.code, regs: c.regs, eflags: c.eflags, seed: c.seed, pokes: blobPokes(c.blobs), undefFlags: 0, undefRegs: 0,
    }));
    expect(fpu.every((c) => c.code.length > FRSTOR_INIT.length)).toBe(true);
    const failures = differing(() => x87After(rng, fpu));
    expect(failures, failures.join('\n')).toEqual([]);
  }, 600_000);
});
