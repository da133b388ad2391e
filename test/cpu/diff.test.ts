// CPU differential test: every generated case runs on the host CPU (test/cpu/native) and in our
// core (core-runner.ts); registers, defined flags, data/stack memory and the exception must agree.
//
// Knobs:  CPU_CASES=N    cases per form and operand size (default 1000)
//         OPCODE=text    only forms whose key contains text, or whose opcode is e.g. "0f af" / "d3/5";
//                        comma-separated list allowed (OPCODE='adc ev,gv,0f bc')
//         CPU_SEED=n     generator seed
// One test per form; a summary of failing forms is printed and written to build/cpu-diff.txt.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/cpu/core-file.js';
import { type CoreCaseResult, CoreRunner } from './core-runner.js';
import { compareResults, formatFailure } from './compare.js';
import type { CaseResult, TestCase } from './gen/case.js';
import { generateCases } from './gen/generate.js';
import { NativeRunner } from './native/native-runner.js';

const perForm = Number(process.env.CPU_CASES ?? 1000);
const cases = generateCases({ perForm, filter: process.env.OPCODE, seed: Number(process.env.CPU_SEED ?? 0x1234_5678) });
const byForm = new Map<string, number[]>();
cases.forEach((c, i) => { const l = byForm.get(c.form) ?? []; l.push(i); byForm.set(c.form, l); });

let native: CaseResult[] = [];
let core: CoreCaseResult[] = [];
let coreError: Error | null = null;
const summary: { form: string; failed: number; total: number; first: string }[] = [];

beforeAll(async () => {
  const nr = NativeRunner.build();
  try { native = nr.run(cases); } finally { nr.dispose(); }
  try {
    const runner = await CoreRunner.create();
    core = cases.map((c) => runner.run(c));
  } catch (e) {
    coreError = e as Error;
  }
}, 600_000);

afterAll(() => {
  const lines = [
    `CPU differential test: ${summary.length} of ${byForm.size} forms fail (${cases.length} cases, CPU_CASES=${perForm})`,
    ...summary.sort((a, b) => a.form.localeCompare(b.form)).map((s) => `${s.form.padEnd(24)} ${String(s.failed).padStart(5)}/${s.total}  ${s.first}`),
  ];
  if (coreError) lines.unshift(`core did not load: ${coreError.message}`);
  try {
    mkdirSync(join(REPO_ROOT, 'build'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'build', 'cpu-diff.txt'), lines.join('\n') + '\n');
  } catch { /* the report file is a convenience */ }
  if (summary.length || coreError) console.log(lines.slice(0, 400).join('\n'));
});

describe('CPU core against the host CPU', () => {
  it.each([...byForm.keys()])('%s', (form) => {
    if (coreError) throw coreError;
    const idx = byForm.get(form)!;
    const failures: string[] = [];
    let failed = 0, first = '';
    for (const i of idx) {
      const diffs = compareResults(cases[i], native[i], core[i]);
      if (diffs.length === 0) continue;
      if (failed === 0) first = diffs[0].slice(0, 100);
      failed++;
      // objdump runs once per failing form (a process each): only the first failure gets it.
      if (failures.length < 3) failures.push(formatFailure(cases[i] as TestCase, native[i], core[i], diffs, failures.length === 0));
    }
    if (failed) summary.push({ form, failed, total: idx.length, first });
    expect(failed, `${failed} of ${idx.length} cases differ from the host CPU:\n${failures.join('\n\n')}`).toBe(0);
  });
});
