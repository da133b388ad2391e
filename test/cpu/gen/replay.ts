// Rebuilds a test case from what a failure report shows of it (form, bytes, registers, EFLAGS,
// seed, pokes): decodes the bytes far enough to know the operands, and applies the form's own
// undefined-result rule. recorded.test.ts replays recorded host results with it, independently
// of how the generator happens to draw cases today.

import type { Poke, TestCase } from './case.js';
import { Ctx, Rng } from './ctx.js';
import { FORMS, formKey, toTestCase } from './generate.js';

const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

export interface RecordedInput { form: string; code: Uint8Array; regs: number[]; eflags: number; seed: number; pokes: Poke[] }

export function replayCase(r: RecordedInput): TestCase {
  const match = FORMS.flatMap((f) => f.sizes.map((size) => ({ f, size }))).find(({ f, size }) => formKey(f, size) === r.form);
  if (!match) throw new Error(`replay: no form '${r.form}'`);
  const { f, size } = match;
  const code = r.code;
  let at = 0, a16 = false, rep = 0;
  while (PREFIXES.has(code[at])) {
    if (code[at] === 0x67) a16 = true;
    if (code[at] === 0xf2 || code[at] === 0xf3) rep = code[at];
    at++;
  }
  if (f.op.some((b, k) => (f.plusr && k === f.op.length - 1 ? code[at + k] & 0xf8 : code[at + k]) !== b)) {
    throw new Error(`replay: ${r.form} does not start with its opcode: ${Array.from(code, (b) => b.toString(16)).join(' ')}`);
  }
  at += f.op.length;
  const c = new Ctx(new Rng(r.seed), r.seed, size, a16 ? 16 : 32);
  c.regs = r.regs.map((v) => v >>> 0);
  c.eflags = r.eflags;
  c.repPrefix = rep;
  for (const p of r.pokes) c.poke(p.addr, p.value, p.size);
  if (f.plusr) c.rmReg = code[at - 1] & 7;
  if (f.modrm) at = decodeModrm(c, code, at);
  const le = (n: number) => { let v = 0; for (let i = n - 1; i >= 0; i--) v = v * 256 + code[at + i]; at += n; return v >>> 0; };
  if (f.imm === 'b') c.imm = le(1);
  else if (f.imm === 'w') c.imm = le(2);
  else if (f.imm === 'v') c.imm = le(size / 8);
  else if (f.imm === 'enter') { c.imm = le(2); c.imm2 = le(1); }
  f.undef?.(c);
  return toTestCase(f, c, r.form, code);
}

/** ModRM (+ SIB + displacement) at `at`: fills the Ctx's operand fields; returns the next offset. */
function decodeModrm(c: Ctx, code: Uint8Array, at: number): number {
  const modrm = code[at++];
  const mod = modrm >> 6, rm = modrm & 7;
  c.regField = (modrm >> 3) & 7;
  if (mod === 3) { c.rmIsReg = true; c.rmReg = rm; return at; }
  c.rmIsReg = false;
  const sdisp = (n: number) => { let v = 0; for (let i = n - 1; i >= 0; i--) v = v * 256 + code[at + i]; at += n; return n === 1 ? (v << 24) >> 24 : n === 2 ? (v << 16) >> 16 : v | 0; };
  const reg = (r: number) => c.regs[r];
  if (c.asize === 16) {
    const pairs = [[3, 6], [3, 7], [5, 6], [5, 7], [6], [7], [5], [3]][rm];
    let ea = 0;
    if (mod === 0 && rm === 6) ea = sdisp(2);
    else {
      for (const r of pairs) ea += reg(r) & 0xffff;
      if (mod === 1) ea += sdisp(1); else if (mod === 2) ea += sdisp(2);
    }
    c.ea = ea & 0xffff;
    return at;
  }
  let ea = 0;
  if (rm === 4) {
    const sib = code[at++];
    const base = sib & 7, index = (sib >> 3) & 7, scale = sib >> 6;
    if (index !== 4) ea += Math.imul(reg(index), 1 << scale);
    if (base === 5 && mod === 0) ea += sdisp(4); else ea += reg(base);
  } else if (rm === 5 && mod === 0) {
    ea = sdisp(4);
  } else {
    ea = reg(rm);
  }
  if (mod === 1) ea += sdisp(1); else if (mod === 2) ea += sdisp(4);
  c.ea = ea >>> 0;
  return at;
}

