// The x87 through the core's real decoder against the host CPU: every D8..DF form (register and
// memory, all ModRM/SIB shapes, 66 prefix, segment overrides), FXSAVE/FXRSTOR, FNSTSW AX,
// FCOMI/FCMOVcc EFLAGS, unmasked exceptions (#MF at the next FPU instruction / FWAIT), #PF and
// #GP on operands, compared on registers, x87 state and memory (test/cpu/fpu/decoder.ts).
// Each case runs three times, as in diff.test.ts: translated by the JIT from the first
// execution (jit/x87.ts), through the decoded-block cache, and step by step.
// Transcendentals are compared within TOLERANCE_ULPS (special cases exactly).
//
// Knobs: FPU_DIFF_CASES=n cases per form (default 100), FPU_DIFF_SEED=n, FPU_FORM=text (substring
// of the form names, comma-separated).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreRunner } from './core-runner.js';
import type { JitStats } from '../../src/cpu/jit-host.js';
import {
  type FpuCase, type FpuResult, FpuNativeRunner, compareFpu, explainFpu, formatFpuFailure, generateFpuCases, runCore,
} from './fpu/decoder.js';

const isX86 = process.arch === 'x64' || process.arch === 'ia32';
const perForm = Number(process.env.FPU_DIFF_CASES ?? 100);
const cases: FpuCase[] = generateFpuCases(perForm, Number(process.env.FPU_DIFF_SEED ?? 1), process.env.FPU_FORM);
const byForm = new Map<string, number[]>();
cases.forEach((c, i) => { const l = byForm.get(c.form) ?? []; l.push(i); byForm.set(c.form, l); });

/** The core's three ways of running 32-bit code (a JIT threshold of 1 translates every block at once). */
const PATHS = [
  { name: 'translated', blocks: true, jit: 1 },
  { name: 'block cache', blocks: true, jit: 0 },
  { name: 'step by step', blocks: false, jit: 0 },
] as const;

let native: FpuResult[] = [];
const core: FpuResult[][] = PATHS.map(() => []);
let jitStats: JitStats | null = null;
const failedForms: string[] = [];
const explained = new Map<string, number>();

describe.skipIf(!isX86)('x87 through the decoder vs the host', () => {
  beforeAll(async () => {
    const nr = new FpuNativeRunner();
    try { native = nr.run(cases); } finally { nr.dispose(); }
    for (const [p, path] of PATHS.entries()) {
      const runner = await CoreRunner.create();
      runner.core.setBlockCache(path.blocks);
      runner.core.setJitThreshold(path.jit);
      core[p] = cases.map((c) => runCore(runner, c));
      if (path.jit) jitStats = runner.core.jitStats;
    }
  }, 900_000);
  afterAll(() => {
    if (explained.size) console.log(`x87 cases that differ as test/cpu/model.ts describes (the host is no reference there): ${[...explained].map(([id, n]) => `${id} ${n}`).join(', ')}`);
    if (failedForms.length) console.log(`x87 forms that differ:\n${failedForms.join('\n')}`);
  });

  it('the translated path really ran translated code', () => {
    expect(jitStats!.failures).toBe(0);
    // Every case's first block is translated before it runs (threshold 1).
    expect(jitStats!.translations).toBeGreaterThanOrEqual(cases.length);
  });

  it.each([...byForm.keys()])('%s', (form) => {
    const idx = byForm.get(form)!;
    const reports: string[] = [];
    let failed = 0;
    for (const [p, path] of PATHS.entries()) {
      for (const i of idx) {
        const d = compareFpu(cases[i], native[i], core[p][i]);
        if (!d.length) continue;
        // A documented vendor difference (test/cpu/model.ts): counted, shown, not a failure.
        const vendor = explainFpu(cases[i], native[i], core[p][i]);
        if (vendor) { explained.set(vendor.id, (explained.get(vendor.id) ?? 0) + 1); continue; }
        failed++;
        if (reports.length < 3) reports.push(`[${path.name}] ${formatFpuFailure(cases[i], native[i], core[p][i], d)}`);
      }
    }
    if (failed) failedForms.push(`${form.padEnd(24)} ${failed}/${idx.length * PATHS.length}`);
    expect(failed, `${failed} of ${idx.length * PATHS.length} runs (${idx.length} cases, all three paths) differ from the host:\n${reports.join('\n')}`).toBe(0);
  });
});
