// The JIT against the interpreter on instruction sequences. diff.test.ts runs one instruction per
// case against the host CPU on all three paths; what it cannot see is the state a translation
// carries from one instruction to the next inside a block: registers in locals, a pending flag
// operation (a CMP feeding a Jcc, a rotate on top of an ADD, INC keeping an earlier CF), stores
// at exits and slow paths. Here random runs of the generated instructions are strung together
// into one block and run translated (threshold 1) and step by step; everything the cases
// compare must be identical, bit for bit, including the flags the SDM leaves undefined (both
// paths are the same core, so they must agree on those too).
//
// Knobs: JIT_SEQUENCES=N (default 3000), JIT_SEQ_SEED=n.

import { beforeAll, describe, expect, it } from 'vitest';
import { CoreRunner, type CoreCaseResult } from './core-runner.js';
import { CODE_ENTRY, CODE_SIZE, type TestCase } from './gen/case.js';
import { Rng } from './gen/ctx.js';
import { generateCases } from './gen/generate.js';

const SEQUENCES = Number(process.env.JIT_SEQUENCES ?? 3000);
const generated = generateCases({ perForm: 4, seed: 0x51e9 });
/** The generated cases that complete (reach the INT3 after them) rather than fault: sequences of those run further. */
let pool: TestCase[] = [];

function sequence(rng: Rng): TestCase {
  const first = pool[rng.int(pool.length)]!;
  const parts: Uint8Array[] = [];
  let bytes = 0;
  const n = 2 + rng.int(14);
  for (let i = 0; i < n; i++) {
    const c = i === 0 ? first : pool[rng.int(pool.length)]!;
    if (bytes + c.code.length > CODE_SIZE - CODE_ENTRY - 16) break;
    parts.push(c.code);
    bytes += c.code.length;
  }
  const code = new Uint8Array(bytes);
  let at = 0;
  for (const p of parts) { code.set(p, at); at += p.length; }
  return { ...first, code, form: `sequence of ${parts.length}` };
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

describe('JIT against the interpreter on instruction sequences', () => {
  let jit: CoreRunner, interp: CoreRunner;
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
});
