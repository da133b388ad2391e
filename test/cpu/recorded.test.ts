// Recorded host results replayed through today's comparison: every case a host once reported
// as different must now either match the core or be a difference test/cpu/model.ts explains
// (with its citation). recorded/amd-epyc-2026-12-02.json holds what an AMD EPYC host printed when
// the suite still assumed an Intel host (../shared/evidence/ci-on-amd-epyc-2026-12-02.log, turned
// into data by recorded/extract-log.mjs). The log printed the first three failing cases of each
// form; for x87 cases it printed the x87 state only, so the host's general registers and memory
// are taken to be the core's (the log's differences were all in the x87 state).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CoreRunner } from './core-runner.js';
import { compareResults } from './compare.js';
import type { CaseResult } from './gen/case.js';
import { replayCase } from './gen/replay.js';
import { type FpuResult, compareFpu, explainFpu, generateFpuCases, runCore } from './fpu/decoder.js';
import { type Outcome, type Vector, loadFloat80, premUnderflowDiffers, runWasm, same } from './fpu/differential.js';
import { type OpenBehaviour, explainDifference } from './model.js';

interface Recorded {
  cpu: { form: string; code: string; regs: number[]; eflags: number; seed: number; pokes: { addr: number; size: 1 | 2 | 4; value: number }[]; host: CaseResult }[];
  fpu: { form: string; code: string; regs: number[]; host: { vector: number; eip: number; cw: number; sw: number; tw: number; fip: number; fop: number; fdp: number; st: string[] } }[];
  float80: { op: number; cw: number; a: [string, string]; b: [string, string]; host: { r: [string, string]; r2: [string, string]; sw: number } }[];
}

const recorded: Recorded = JSON.parse(readFileSync(join(__dirname, 'recorded', 'amd-epyc-2026-12-02.json'), 'utf8'));
const bytes = (s: string) => Uint8Array.from(s.split(' '), (b) => parseInt(b, 16));

/** What each replayed case came to: 'same', an entry id, or the differences. */
function verdict(diffs: string[], explain: () => OpenBehaviour | undefined): string {
  if (diffs.length === 0) return 'same';
  const e = explain();
  return e ? e.id : `differs: ${diffs.join('; ')}`;
}

describe('host results recorded on an AMD EPYC, replayed', () => {
  let runner: CoreRunner;
  beforeAll(async () => { runner = await CoreRunner.create(); });

  it(`${recorded.cpu.length} integer cases: each matches or is explained, on both execution paths`, () => {
    const tally = new Map<string, number>();
    for (const blocks of [true, false]) {
      runner.core.setBlockCache(blocks);
      for (const r of recorded.cpu) {
        const c = replayCase({ ...r, code: bytes(r.code) });
        const core = runner.run(c);
        const v = verdict(compareResults(c, r.host, core), () => explainDifference(c, r.host, core));
        tally.set(`${r.form}: ${v}`, (tally.get(`${r.form}: ${v}`) ?? 0) + 1);
      }
    }
    const bad = [...tally.keys()].filter((k) => k.includes('differs'));
    console.log([...tally].map(([k, n]) => `  ${k} x${n}`).join('\n'));
    expect(bad).toEqual([]);
    // The recorded differences were real ones: the replay must still see them, as explained ones.
    expect([...tally.keys()].filter((k) => !k.endsWith(': same')).length).toBeGreaterThan(0);
  });

  it(`${recorded.fpu.length} x87 cases: each matches or is explained`, () => {
    runner.core.setBlockCache(true);
    const byForm = new Map<string, ReturnType<typeof generateFpuCases>>();
    const tally = new Map<string, number>();
    for (const r of recorded.fpu) {
      if (!byForm.has(r.form)) byForm.set(r.form, generateFpuCases(100, 1, r.form).filter((c) => c.form === r.form));
      const want = bytes(r.code);
      const c = byForm.get(r.form)!.find((x) => x.regs.every((v, i) => v === r.regs[i]) && x.code.slice(-want.length).every((b, i) => b === want[i]));
      expect(c, `${r.form} ${r.code}: the generator no longer makes this case`).toBeDefined();
      const core = runCore(runner, c!);
      const host = withX87State(core, r.host);
      const v = verdict(compareFpu(c!, host, core), () => explainFpu(c!, host, core));
      tally.set(v === 'same' || !v.startsWith('differs') ? v : `${r.form}: ${v}`, (tally.get(v) ?? 0) + 1);
    }
    console.log([...tally].map(([k, n]) => `  ${k} x${n}`).join('\n'));
    expect([...tally.keys()].filter((k) => k.includes('differs'))).toEqual([]);
  });

  it(`${recorded.float80.length} float80 case(s): each matches or is explained`, async () => {
    const f80 = await loadFloat80();
    for (const r of recorded.float80) {
      const v: Vector = { op: r.op, cw: r.cw, ase: parseInt(r.a[0], 16), asig: BigInt(`0x${r.a[1]}`), bse: parseInt(r.b[0], 16), bsig: BigInt(`0x${r.b[1]}`) };
      const host: Outcome = { rse: parseInt(r.host.r[0], 16), rsig: BigInt(`0x${r.host.r[1]}`), r2se: parseInt(r.host.r2[0], 16), r2sig: BigInt(`0x${r.host.r2[1]}`), sw: r.host.sw };
      const [got] = runWasm(f80, [v]);
      expect(same(host, got) || premUnderflowDiffers(v, host, got), `op ${r.op} cw ${r.cw.toString(16)}`).toBe(true);
    }
  }, 120_000);
});

/** The core's result with the x87 state (and how the case ended) the host printed. */
function withX87State(core: FpuResult, h: Recorded['fpu'][number]['host']): FpuResult {
  const fsave = core.fsave.slice();
  const dv = new DataView(fsave.buffer);
  dv.setUint16(0, h.cw, true);
  dv.setUint16(4, h.sw, true);
  dv.setUint16(8, h.tw, true);
  dv.setUint32(12, h.fip, true);
  dv.setUint16(18, h.fop, true);
  dv.setUint32(20, h.fdp, true);
  h.st.forEach((s, i) => {
    const [se, sig] = s.split(':');
    dv.setBigUint64(28 + i * 10, BigInt(`0x${sig}`), true);
    dv.setUint16(36 + i * 10, parseInt(se, 16), true);
  });
  return { ...core, vector: h.vector, eip: h.eip, fsave };
}
