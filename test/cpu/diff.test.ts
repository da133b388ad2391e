// CPU differential test: every generated case runs on the host CPU (test/cpu/native) and in our
// core (core-runner.ts) three times: translated to WebAssembly by the JIT from the first
// execution, through the decoded-block cache, and step by step with the cache switched off; registers, defined flags, data/stack memory and the exception must agree.
// What the SDM leaves open, and where the host's vendor defines it otherwise, is test/cpu/model.ts:
// the same list on every host.
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
import { CORE_MODEL, explainDifference, hostCpu } from './model.js';
import { type HostMapping, NativeRunner } from './native/native-runner.js';
import type { JitStats } from '../../src/cpu/jit-host.js';

const perForm = Number(process.env.CPU_CASES ?? 1000);
const cases = generateCases({ perForm, filter: process.env.OPCODE, seed: Number(process.env.CPU_SEED ?? 0x1234_5678) });
const byForm = new Map<string, number[]>();
cases.forEach((c, i) => { const l = byForm.get(c.form) ?? []; l.push(i); byForm.set(c.form, l); });

/** The core's three ways of running 32-bit code (a JIT threshold of 1 translates every block at once). */
const PATHS = [
  { name: 'translated', blocks: true, jit: 1 },
  { name: 'block cache', blocks: true, jit: 0 },
  { name: 'step by step', blocks: false, jit: 0 },
] as const;

let native: CaseResult[] = [];
let mappings: HostMapping[] = [];
const core: CoreCaseResult[][] = PATHS.map(() => []);
let coreError: Error | null = null;
let jitStats: JitStats | null = null;
const summary: { form: string; failed: number; total: number; first: string }[] = [];
/** Differences model.ts explains as the host vendor's own behaviour: entry id -> cases. */
const explained = new Map<string, number>();

beforeAll(async () => {
  console.log(`host CPU: ${hostCpu()}; the core is ${CORE_MODEL}`);
  const nr = NativeRunner.build();
  try { native = nr.run(cases); mappings = nr.mappings; } finally { nr.dispose(); }
  try {
    for (const [p, path] of PATHS.entries()) {
      const runner = await CoreRunner.create();
      runner.core.setBlockCache(path.blocks);
      runner.core.setJitThreshold(path.jit);
      core[p] = cases.map((c) => runner.run(c));
      if (path.jit) jitStats = runner.core.jitStats;
    }
  } catch (e) {
    coreError = e as Error;
  }
}, 900_000);

afterAll(() => {
  const lines = [
    `CPU differential test on ${hostCpu()}: ${summary.length} of ${byForm.size} forms fail (${cases.length} cases, CPU_CASES=${perForm}, all three paths)`,
    ...summary.sort((a, b) => a.form.localeCompare(b.form)).map((s) => `${s.form.padEnd(24)} ${String(s.failed).padStart(5)}/${s.total}  ${s.first}`),
  ];
  if (explained.size) {
    lines.push(`differences test/cpu/model.ts explains (the host's vendor defines these otherwise): ${[...explained].map(([id, n]) => `${id} ${n}`).join(', ')}`);
  }
  if (coreError) lines.unshift(`core did not load: ${coreError.message}`);
  try {
    mkdirSync(join(REPO_ROOT, 'build'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'build', 'cpu-diff.txt'), lines.join('\n') + '\n');
  } catch { /* the report file is a convenience */ }
  if (summary.length || coreError || explained.size) console.log(lines.slice(0, 400).join('\n'));
});

describe('CPU core against the host CPU', () => {
  it('the translated path really ran translated code', () => {
    if (coreError) throw coreError;
    console.log(`JIT on the translated path: ${JSON.stringify(jitStats)}`);
    expect(jitStats!.failures).toBe(0);
    // Every case's first block is translated before it runs (threshold 1); most cases are one block.
    expect(jitStats!.translations).toBeGreaterThanOrEqual(cases.length);
    expect(jitStats!.instructions).toBeGreaterThan(cases.length);
  });

  it.each([...byForm.keys()])('%s', (form) => {
    if (coreError) throw coreError;
    const idx = byForm.get(form)!;
    const failures: string[] = [];
    let failed = 0, first = '';
    for (const i of idx) {
      for (const [p, path] of PATHS.entries()) {
        const diffs = compareResults(cases[i], native[i], core[p][i], mappings);
        if (diffs.length === 0) continue;
        const vendor = explainDifference(cases[i], native[i], core[p][i]);
        if (vendor) { explained.set(vendor.id, (explained.get(vendor.id) ?? 0) + 1); continue; }
        if (failed === 0) first = `${path.name}: ${diffs[0].slice(0, 100)}`;
        failed++;
        // objdump runs once per failing form (a process each): only the first failure gets it.
        if (failures.length < 3) failures.push(`  [${path.name}]\n${formatFailure(cases[i] as TestCase, native[i], core[p][i], diffs, failures.length === 0)}`);
      }
    }
    if (failed) summary.push({ form, failed, total: idx.length * PATHS.length, first });
    expect(failed, `${failed} of ${idx.length * PATHS.length} runs (${idx.length} cases, all three paths) differ from the host CPU:\n${failures.join('\n\n')}`).toBe(0);
  });
});
