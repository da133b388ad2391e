// The one list of behaviours the CPU tests do not take from the host (test/cpu/model.ts): that
// test/cpu/README.md shows exactly that list, that every entry is used, that a vendor entry's
// predicate never fires where the host and the core agree, and that a case rebuilt from what a
// failure report prints (gen/replay.ts) is the case the generator made.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CoreRunner } from './core-runner.js';
import { generateCases } from './gen/generate.js';
import { replayCase } from './gen/replay.js';
import { OPEN_BEHAVIOURS, explainDifference } from './model.js';

// Each runs every generated case through a core: seconds of work, more on a loaded machine; the
// timeout only catches a hang.
vi.setConfig({ testTimeout: 120_000 });

const here = __dirname;
const readme = readFileSync(join(here, 'README.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|asm)$/.test(n) && !/model(\.test)?\.ts$/.test(n) ? [p] : [];
  });
}

describe('the list of open and vendor-specific behaviours', () => {
  it('README.md shows every entry with its citation, and nothing else', () => {
    const rows = [...readme.matchAll(/^\| `([a-z0-9-]+)` \|.*\|(.*)\|\s*$/gm)].map((m) => ({ id: m[1], cite: m[2].trim() }));
    expect(rows.map((r) => r.id).sort()).toEqual(OPEN_BEHAVIOURS.map((b) => b.id).sort());
    for (const b of OPEN_BEHAVIOURS) expect(rows.find((r) => r.id === b.id)?.cite, b.id).toBe(b.cite);
  });

  it('every entry is used by a generator rule, a comparison or a predicate', () => {
    const text = sources(here).map((p) => readFileSync(p, 'utf8')).join('\n');
    for (const b of OPEN_BEHAVIOURS) expect(b.explains !== undefined || text.includes(`'${b.id}'`), b.id).toBe(true);
  });

  it('every vendor entry names the bare-metal test that pins the core', () => {
    for (const b of OPEN_BEHAVIOURS.filter((x) => x.kind === 'vendor')) {
      const m = /^(test\/cpu\/baremetal\/[a-z0-9-]+\.asm) \((.+)\)$/.exec(b.pinnedBy ?? '');
      expect(m, `${b.id}: pinnedBy`).not.toBeNull();
      expect(readFileSync(join(here, '../..', m![1]), 'utf8'), `${b.id}: ${m![1]} mentions '${m![2]}'`).toContain(m![2]);
    }
  });
});

describe('cases and predicates', () => {
  const cases = generateCases({ perForm: 20, seed: 0x5eed });
  let runner: CoreRunner;
  beforeAll(async () => { runner = await CoreRunner.create(); });

  it('replayCase rebuilds every generated case from its bytes, registers and pokes', () => {
    const bad: string[] = [];
    for (const c of cases) {
      const r = replayCase(c);
      const strip = ({ ...x }: typeof c) => JSON.stringify({ ...x, code: Array.from(x.code) });
      if (strip(r) !== strip(c)) bad.push(`${c.form}:\n  generated ${strip(c)}\n  replayed  ${strip(r)}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('no vendor predicate explains a "difference" between two identical results', () => {
    for (const c of cases) {
      const core = runner.run(c);
      expect(explainDifference(c, core, core)?.id, c.form).toBeUndefined();
    }
  });
});
