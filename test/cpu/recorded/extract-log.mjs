#!/usr/bin/env node
// Turns the failure reports of a CPU test log (vitest output of diff.test.ts, fpu-diff.test.ts and
// fpu.test.ts) into recorded host results that recorded.test.ts replays through today's
// comparison. Usage: node extract-log.mjs LOG > NAME.json
// Only what the log printed is recorded: inputs, the host's outputs, nothing of the core's.
import { readFileSync } from 'node:fs';

const VEC = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', '9', '#TS', '#NP', '#SS', '#GP', '#PF', '15', '#MF', '#AC'];
const vec = (name) => (name === 'timeout' ? 0x100 : name === 'other' ? 0x101 : name.startsWith('vector') ? Number(name.slice(7)) : VEC.indexOf(name));
const hex = (s) => parseInt(s, 16) >>> 0;
const regsOf = (line) => [...line.matchAll(/e[a-z]{2}=([0-9a-f]{8})/g)].map((m) => hex(m[1]));
const st = (line) => line.trim().split(/\s+/);

const lines = readFileSync(process.argv[2], 'utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n');
const out = { source: process.argv[2].split('/').pop(), cpu: [], fpu: [], float80: [] };
const seen = new Set();
let section = '';
for (let i = 0; i < lines.length; i++) {
  const l = lines[i];
  const fail = /^ FAIL\s+(test\/cpu\/[a-z0-9-]+\.test\.ts)/.exec(l);
  if (fail) { section = fail[1]; continue; }
  if (section === 'test/cpu/diff.test.ts') {
    const head = /^ {2}(\S.*?): ((?:[0-9a-f]{2} ?)+)$/.exec(l);
    if (!head) continue;
    let j = i + 1;
    while (!lines[j].startsWith('    in:')) j++;
    const input = { regs: regsOf(lines[j]) };
    const l2 = lines[j + 1];
    input.eflags = hex(/eflags=([0-9a-f]+)/.exec(l2)[1]);
    input.seed = hex(/seed=([0-9a-f]+)/.exec(l2)[1]);
    input.pokes = [...l2.matchAll(/\[([0-9a-f]+)\]:(\d)=([0-9a-f]+)/g)].map((m) => ({ addr: hex(m[1]), size: Number(m[2]), value: hex(m[3]) }));
    const h = /host: (\S+(?: \d+)?)(?: err=([0-9a-f]+))?(?: cr2=([0-9a-f]+))? eip=([0-9a-f]+) eflags=([0-9a-f]+)/.exec(lines[j + 2]);
    const mem = /memory: (\d+) bytes changed(?:: (.*))?/.exec(lines[j + 4]);
    const host = {
      vector: vec(h[1]), error: h[2] ? hex(h[2]) : 0, cr2: h[3] ? hex(h[3]) : 0, eip: hex(h[4]), eflags: hex(h[5]),
      regs: regsOf(lines[j + 3]), changeCount: Number(mem[1]),
      changes: [...(mem[2] ?? '').matchAll(/([0-9a-f]{8})=([0-9a-f]{2})/g)].map((m) => ({ addr: hex(m[1]), value: hex(m[2]) })),
    };
    const rec = { form: head[1], code: head[2].trim(), ...input, host };
    const key = JSON.stringify([rec.form, rec.code, rec.seed]);
    if (!seen.has(key)) { seen.add(key); out.cpu.push(rec); }
    i = j + 5;
  } else if (section === 'test/cpu/fpu-diff.test.ts') {
    const head = /^ {2}(\S.*?): ((?:[0-9a-f]{2} ?)+) \(at ([0-9a-f]+);/.exec(l);
    if (!head) continue;
    const regs = /regs: (.*) eflags=([0-9a-f]+)/.exec(lines[i + 3]);
    const h = /host: vec=(\d+) eip=([0-9a-f]+) cw=([0-9a-f]+) sw=([0-9a-f]+) tw=([0-9a-f]+) fip=([0-9a-f]+) fop=([0-9a-f]+) fdp=([0-9a-f]+)/.exec(lines[i + 4]);
    const rec = {
      form: head[1], code: head[2].trim(), insnAt: hex(head[3]), regs: st(regs[1]).map(hex), eflags: hex(regs[2]),
      host: { vector: Number(h[1]), eip: hex(h[2]), cw: hex(h[3]), sw: hex(h[4]), tw: hex(h[5]), fip: hex(h[6]), fop: hex(h[7]), fdp: hex(h[8]), st: st(lines[i + 5]) },
    };
    out.fpu.push(rec);
    i += 6;
  } else if (section === 'test/cpu/fpu.test.ts') {
    const v = /op=(\d+) cw=([0-9a-f]+) a=([0-9a-f]+):([0-9a-f]+) b=([0-9a-f]+):([0-9a-f]+)/.exec(l);
    if (!v) continue;
    const w = /x87:\s+([0-9a-f]+):([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) sw=([0-9a-f]+)/.exec(lines[i + 1]);
    out.float80.push({
      op: Number(v[1]), cw: hex(v[2]), a: [v[3], v[4]], b: [v[5], v[6]], host: { r: [w[1], w[2]], r2: [w[3], w[4]], sw: hex(w[5]) },
    });
    i += 2;
  }
}
// One record per line: reviewable in a diff, and small.
const list = (xs) => `[\n${xs.map((x) => `  ${JSON.stringify(x)}`).join(',\n')}\n ]`;
process.stdout.write(`{\n "source": ${JSON.stringify(out.source)},\n "cpu": ${list(out.cpu)},\n "fpu": ${list(out.fpu)},\n "float80": ${list(out.float80)}\n}\n`);
