// The x87 through the core's real decoder, against the host CPU (fpu-diff.test.ts).
//
// A case is a few bytes of user code at the fixed test addresses of test/cpu/gen/case.ts:
//     FNINIT; FRSTOR [init]    a random but well-formed x87 state (fpu.ts loads it the same way)
//     <prefixes> ESC ...       the instruction under test, any ModRM/SIB shape
//     FWAIT                    surfaces an unmasked exception as #MF
//     INT3 landing
// The host runs it in fpu-harness.c (a signal ends every case; the x87 state comes from the signal
// frame), the core runs it through CoreRunner (test/cpu/core-runner.ts) at CPL 3 with paging. Both
// report the exception, the general registers and EFLAGS, every changed data byte and the x87
// state as the kernel's i387 "fsave" image (full tags recomputed from the contents).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CoreRunner } from '../core-runner.js';
import { PHYS } from '../core-runner.js';
import {
  CODE_BASE, CODE_ENTRY, DATA_BASE, DATA_SIZE, FLAGS_ARITH, FLAGS_VISIBLE, STACK_BASE, STACK_SIZE, type Poke,
  type TestCase, hasErrorCode, imageOffset, memoryImage,
} from '../gen/case.js';
import { Rng, genF80 } from './differential.js';
import { type OpenBehaviour, open } from '../model.js';

const here = dirname(fileURLToPath(import.meta.url));

export const MAX_CODE = 48;
export const MAX_BLOB = 256;
export const MAX_CHANGES = 600;
const IN_BYTES = 8 + MAX_CODE + 32 + 8 + 2 * (8 + MAX_BLOB);
const OUT_BYTES = 56 + 108 + 8 + 8 * MAX_CHANGES;

/** Where the FRSTOR image lives (the test operands stay below it). */
export const INIT_AT = DATA_BASE + 0x1c00;
const START = CODE_BASE + CODE_ENTRY;

export interface Blob { at: number; bytes: Uint8Array }
export interface FpuCase {
  form: string;
  code: Uint8Array;
  regs: number[];
  eflags: number;
  seed: number;
  blobs: Blob[];
  /** EIP of the instruction under test (FIP) and of the FWAIT after it. */
  insnAt: number;
  waitAt: number;
  /** Linear address and length of a memory operand holding an FPU environment (FCS/FDS/FOP/FDP
   *  fields there are host-specific), or of an FXSAVE image. */
  envAt?: number;
  envKind?: 'env16' | 'env32' | 'save16' | 'save32' | 'fxsave';
  /** Linear address and size of the memory operand, for memory forms. */
  operandAt?: number;
  operandSize?: number;
  /** Transcendental: ST results are compared within a few ulps. */
  approx?: boolean;
}

export interface FpuResult {
  vector: number; error: number; eip: number; cr2: number; regs: number[]; eflags: number;
  /** i387 fsave image: cw sw tag fip fcs|fop<<16 fdp fds (u32 each), 8 x 10-byte ST registers. */
  fsave: Uint8Array;
  mxcsr: number;
  changes: Map<number, number>;
  changeCount: number;
  thrown?: string;
}

// ---- the forms ----

interface MemForm { op: number; reg: number; name: string; size: number; kind: 'f32' | 'f64' | 'f80' | 'i16' | 'i32' | 'i64' | 'bcd' | 'cw' | 'env' | 'save' | 'store' | 'ud' | 'fx' }

const ARITH = ['FADD', 'FMUL', 'FCOM', 'FCOMP', 'FSUB', 'FSUBR', 'FDIV', 'FDIVR'];
export const MEM_FORMS: MemForm[] = [];
for (let reg = 0; reg < 8; reg++) {
  MEM_FORMS.push({ op: 0xd8, reg, name: `${ARITH[reg]} m32fp`, size: 4, kind: 'f32' });
  MEM_FORMS.push({ op: 0xda, reg, name: `FI${ARITH[reg].slice(1)} m32int`, size: 4, kind: 'i32' });
  MEM_FORMS.push({ op: 0xdc, reg, name: `${ARITH[reg]} m64fp`, size: 8, kind: 'f64' });
  MEM_FORMS.push({ op: 0xde, reg, name: `FI${ARITH[reg].slice(1)} m16int`, size: 2, kind: 'i16' });
}
MEM_FORMS.push(
  { op: 0xd9, reg: 0, name: 'FLD m32fp', size: 4, kind: 'f32' },
  { op: 0xd9, reg: 1, name: 'D9 /1 (#UD)', size: 4, kind: 'ud' },
  { op: 0xd9, reg: 2, name: 'FST m32fp', size: 4, kind: 'store' },
  { op: 0xd9, reg: 3, name: 'FSTP m32fp', size: 4, kind: 'store' },
  { op: 0xd9, reg: 4, name: 'FLDENV', size: 28, kind: 'env' },
  { op: 0xd9, reg: 5, name: 'FLDCW', size: 2, kind: 'cw' },
  { op: 0xd9, reg: 6, name: 'FNSTENV', size: 28, kind: 'store' },
  { op: 0xd9, reg: 7, name: 'FNSTCW', size: 2, kind: 'store' },
  { op: 0xdb, reg: 0, name: 'FILD m32int', size: 4, kind: 'i32' },
  { op: 0xdb, reg: 2, name: 'FIST m32int', size: 4, kind: 'store' },
  { op: 0xdb, reg: 3, name: 'FISTP m32int', size: 4, kind: 'store' },
  { op: 0xdb, reg: 4, name: 'DB /4 (#UD)', size: 4, kind: 'ud' },
  { op: 0xdb, reg: 5, name: 'FLD m80fp', size: 10, kind: 'f80' },
  { op: 0xdb, reg: 6, name: 'DB /6 (#UD)', size: 4, kind: 'ud' },
  { op: 0xdb, reg: 7, name: 'FSTP m80fp', size: 10, kind: 'store' },
  { op: 0xdd, reg: 0, name: 'FLD m64fp', size: 8, kind: 'f64' },
  { op: 0xdd, reg: 2, name: 'FST m64fp', size: 8, kind: 'store' },
  { op: 0xdd, reg: 3, name: 'FSTP m64fp', size: 8, kind: 'store' },
  { op: 0xdd, reg: 4, name: 'FRSTOR', size: 108, kind: 'save' },
  { op: 0xdd, reg: 5, name: 'DD /5 (#UD)', size: 4, kind: 'ud' },
  { op: 0xdd, reg: 6, name: 'FNSAVE', size: 108, kind: 'store' },
  { op: 0xdd, reg: 7, name: 'FNSTSW m16', size: 2, kind: 'store' },
  { op: 0xdf, reg: 0, name: 'FILD m16int', size: 2, kind: 'i16' },
  { op: 0xdf, reg: 2, name: 'FIST m16int', size: 2, kind: 'store' },
  { op: 0xdf, reg: 3, name: 'FISTP m16int', size: 2, kind: 'store' },
  { op: 0xdf, reg: 4, name: 'FBLD', size: 10, kind: 'bcd' },
  { op: 0xdf, reg: 5, name: 'FILD m64int', size: 8, kind: 'i64' },
  { op: 0xdf, reg: 6, name: 'FBSTP', size: 10, kind: 'store' },
  { op: 0xdf, reg: 7, name: 'FISTP m64int', size: 8, kind: 'store' },
  { op: 0x0f, reg: 0, name: 'FXSAVE', size: 512, kind: 'store' },
  { op: 0x0f, reg: 1, name: 'FXRSTOR', size: 512, kind: 'fx' },
);

/** Register forms, one group per opcode and ModRM reg field (rm = ST(i) chosen per case).
 *  FISTTP (DB/DD/DF /1 memory) is SSE3 and not part of the emulated CPU: left out. */
export const REG_GROUPS: { op: number; reg: number }[] = [];
for (const op of [0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf]) for (let reg = 0; reg < 8; reg++) REG_GROUPS.push({ op, reg });
/** D9 E0..FF one by one (FCHS ... FCOS), transcendentals marked. */
const TRANSCENDENTAL = new Set([0xf0, 0xf1, 0xf2, 0xf3, 0xf9, 0xfb, 0xfe, 0xff]);

export function formNames(): string[] {
  const names = MEM_FORMS.map((f) => f.name);
  for (const g of REG_GROUPS) {
    if (g.op === 0xd9 && g.reg >= 4) for (let rm = 0; rm < 8; rm++) names.push(regName(g.op, 0xc0 | (g.reg << 3) | rm));
    else names.push(regName(g.op, 0xc0 | (g.reg << 3)));
  }
  return names;
}

function regName(op: number, modrm: number): string {
  const h = (v: number) => v.toString(16).padStart(2, '0');
  if (op === 0xd9 && modrm >= 0xe0) return `${h(op)} ${h(modrm)}`;
  return `${h(op)} ${h(modrm & 0xf8)}+i`;
}

// ---- operand shaping ----

const M64 = (1n << 64n) - 1n;

function f80Bytes(se: number, sig: bigint): Uint8Array {
  const b = new Uint8Array(10);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, sig & M64, true);
  dv.setUint16(8, se, true);
  return b;
}

/** A value of the memory format `kind` with edge cases. */
function memOperand(r: Rng, kind: MemForm['kind']): Uint8Array {
  const b = new Uint8Array(10);
  const dv = new DataView(b.buffer);
  switch (kind) {
    case 'f32': {
      const k = r.int(10);
      if (k < 2) dv.setUint32(0, Number(r.u64() & 0xffffffffn), true);
      else if (k < 3) dv.setUint32(0, (r.chance(0.5) ? 0x80000000 : 0) | (r.chance(0.5) ? 0x7f800000 : 0) | Number(r.u64() & (r.chance(0.5) ? 0x7fffffn : 0x3n)), true);
      else dv.setFloat32(0, (r.int(2000) - 1000) / (1 + r.int(64)), true);
      return b;
    }
    case 'f64': {
      const k = r.int(10);
      if (k < 2) dv.setBigUint64(0, r.u64(), true);
      else if (k < 3) dv.setBigUint64(0, (r.chance(0.5) ? 1n << 63n : 0n) | (r.chance(0.5) ? 0x7ffn << 52n : 0n) | (r.u64() & (r.chance(0.5) ? 0xfffffffffffffn : 3n)), true);
      else dv.setFloat64(0, (r.int(2000000) - 1000000) / (1 + r.int(1000)), true);
      return b;
    }
    case 'f80': { const [se, sig] = genF80(r); return f80Bytes(se, sig); }
    case 'i16': dv.setUint16(0, r.chance(0.3) ? [0, 1, 0x7fff, 0x8000, 0xffff][r.int(5)] : Number(r.u64() & 0xffffn), true); return b;
    case 'i32': dv.setUint32(0, r.chance(0.3) ? [0, 1, 0x7fffffff, 0x80000000, 0xffffffff][r.int(5)] : Number(r.u64() >> BigInt(32 + r.int(32))), true); return b;
    case 'i64': dv.setBigUint64(0, r.chance(0.3) ? [0n, 1n, (1n << 63n) - 1n, 1n << 63n, M64][r.int(5)] : r.u64() >> BigInt(r.int(64)), true); return b;
    case 'bcd': {
      let v = 0n;
      const n = r.int(19);
      for (let i = 0; i < n; i++) v = (v << 4n) | BigInt(r.chance(0.05) ? 10 + r.int(6) : r.int(10));
      dv.setBigUint64(0, v & M64, true);
      dv.setUint8(8, Number(v >> 64n) & 0xff);
      dv.setUint8(9, r.chance(0.5) ? 0x80 : r.chance(0.1) ? r.int(256) : 0);
      return b;
    }
    case 'cw': dv.setUint16(0, controlWord(r, r.chance(0.1)), true); return b;
    default: return b;
  }
}

function controlWord(r: Rng, wild: boolean): number {
  if (wild) return Number(r.u64() & 0xffffn);
  const masks = r.chance(0.8) ? 0x3f : r.int(64);
  return 0x40 | masks | ([0, 2, 3, 3][r.int(4)] << 8) | (r.int(4) << 10);
}

/** An x87 state: FCW, FSW (TOP, codes, flags), tags and the eight registers, in FSAVE format
 *  (32-bit protected mode, 108 bytes) or the x87 part of an FXSAVE image (160 bytes). */
function fpuImage(r: Rng, fx: boolean, pending: boolean): Uint8Array {
  const cw = controlWord(r, false) & (pending ? ~r.int(64) & 0xffff : 0xffff);
  let flags = r.chance(0.2) ? r.int(64) | (r.chance(0.3) ? 0x40 : 0) : 0;
  if (pending) flags |= ~cw & 0x3f & (1 << r.int(6));
  const es = (flags & ~cw & 0x3f) !== 0 ? 0x8080 : 0;
  const sw = (flags | es | (r.int(16) << 8 & 0x4700) | (r.int(8) << 11)) & 0xffff;
  const regs: Uint8Array[] = [];
  const empty: boolean[] = [];
  for (let i = 0; i < 8; i++) {
    empty.push(r.chance(0.25));
    const [se, sig] = genF80(r, 16383, r.chance(0.5) ? 8 : 70);
    regs.push(f80Bytes(se, sig));
  }
  const top = (sw >> 11) & 7;
  if (fx) {
    const b = new Uint8Array(160);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, cw, true);
    dv.setUint16(2, sw, true);
    let abridged = 0;
    for (let p = 0; p < 8; p++) if (!empty[p]) abridged |= 1 << p;
    b[4] = abridged;
    dv.setUint16(6, r.int(0x800), true); // FOP
    dv.setUint32(8, Number(r.u64() & 0xffffffffn), true); // FIP
    dv.setUint16(12, 0x23, true);
    dv.setUint32(16, Number(r.u64() & 0xffffffffn), true); // FDP
    dv.setUint16(20, 0x2b, true);
    dv.setUint32(24, r.chance(0.9) ? 0x1f80 | (r.int(4) << 13) : r.chance(0.5) ? 0x1f80 | (1 << (16 + r.int(16))) : r.int(0x10000), true); // MXCSR
    dv.setUint32(28, 0xffff, true);
    for (let i = 0; i < 8; i++) b.set(regs[(top + i) & 7], 32 + i * 16); // ST order
    return b;
  }
  const b = new Uint8Array(108);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0xffff0000 | cw, true);
  dv.setUint32(4, 0xffff0000 | sw, true);
  let tw = 0;
  for (let p = 0; p < 8; p++) tw |= (empty[p] ? 3 : r.int(3)) << (2 * p);
  dv.setUint32(8, 0xffff0000 | tw, true);
  dv.setUint32(12, Number(r.u64() & 0xffffffffn), true); // FIP
  dv.setUint32(16, 0x23 | (r.int(0x800) << 16), true); // FCS, FOP
  dv.setUint32(20, Number(r.u64() & 0xffffffffn), true); // FDP
  dv.setUint32(24, 0xffff002b, true); // FDS
  for (let i = 0; i < 8; i++) b.set(regs[(top + i) & 7], 28 + i * 10);
  return b;
}

/** 14/28-byte environment or 94/108-byte save image for FLDENV/FRSTOR (o16 = 16-bit format). */
function envImage(r: Rng, o16: boolean, withRegs: boolean): Uint8Array {
  const full = fpuImage(r, false, r.chance(0.1));
  if (!o16) return withRegs ? full : full.slice(0, 28);
  const dv = new DataView(full.buffer);
  const b = new Uint8Array(withRegs ? 94 : 14);
  const ov = new DataView(b.buffer);
  ov.setUint16(0, dv.getUint16(0, true), true);
  ov.setUint16(2, dv.getUint16(4, true), true);
  ov.setUint16(4, dv.getUint16(8, true), true);
  ov.setUint16(6, dv.getUint16(12, true), true); // FIP
  ov.setUint16(8, 0x23, true);
  ov.setUint16(10, dv.getUint16(20, true), true); // FDP
  ov.setUint16(12, 0x2b, true);
  if (withRegs) b.set(full.subarray(28, 108), 14);
  return b;
}

// ---- case building ----

const MODRM_REGS = [0, 1, 2, 3, 5, 6, 7];
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r.int(xs.length)];

/** Encodes a memory ModRM for `reg` addressing `ea`, setting the registers it uses. */
function encodeMem(r: Rng, reg: number, ea: number, regs: number[]): number[] {
  const shape = r.int(6);
  const disp8 = r.int(256) - 128;
  const disp32 = Number(r.u64() & 0xffffffffn);
  const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const base = pick(r, MODRM_REGS.filter((x) => x !== 5 || shape !== 1));
  switch (shape) {
    case 0: return [(reg << 3) | 5, ...le32(ea)]; // [disp32]
    case 1: regs[base] = ea >>> 0; return [(reg << 3) | base]; // [base]
    case 2: regs[base] = (ea - disp8) >>> 0; return [0x40 | (reg << 3) | base, disp8 & 0xff]; // [base+disp8]
    case 3: regs[base] = (ea - disp32) >>> 0; return [0x80 | (reg << 3) | base, ...le32(disp32)]; // [base+disp32]
    default: { // SIB
      const scale = r.int(4);
      const mod = r.int(3);
      const b = mod === 0 && base === 5 ? 3 : base; // base 5 with mod 0 means "no base"
      const index = pick(r, MODRM_REGS.filter((x) => x !== b));
      const iv = r.int(64);
      regs[index] = iv;
      if (mod === 0 && r.chance(0.3)) { // no base: [index*s + disp32]
        const d = (ea - (iv << scale)) >>> 0;
        return [(reg << 3) | 4, (scale << 6) | (index << 3) | 5, ...le32(d)];
      }
      const d = mod === 0 ? 0 : mod === 1 ? disp8 : disp32;
      regs[b] = (ea - d - (iv << scale)) >>> 0;
      const tail = mod === 0 ? [] : mod === 1 ? [d & 0xff] : le32(d);
      return [(mod << 6) | (reg << 3) | 4, (scale << 6) | (index << 3) | b, ...tail];
    }
  }
}

/** An operand address: mostly inside the data pages, sometimes crossing into the unmapped page. */
function operandAddress(r: Rng, size: number, align: number): number {
  const k = r.int(100);
  if (k < 5) return DATA_BASE + DATA_SIZE - 1 - r.int(Math.max(1, size - 1)); // crosses the end: #PF
  if (k < 10) return STACK_BASE + 0x200 + r.int(STACK_SIZE - 0x400 - size);
  const at = DATA_BASE + 0x10 + r.int(0x1b00 - size - 0x10);
  return align > 1 && r.chance(0.9) ? at & ~(align - 1) : at;
}

export const FRSTOR_INIT = [0xdb, 0xe3, 0xdd, 0x25, INIT_AT & 0xff, (INIT_AT >>> 8) & 0xff, (INIT_AT >>> 16) & 0xff, INIT_AT >>> 24];

function baseCase(r: Rng, form: string): { c: FpuCase; regs: number[] } {
  const regs: number[] = [];
  for (let i = 0; i < 8; i++) regs.push(Number(r.u64() & 0xffffffffn));
  regs[4] = STACK_BASE + 0x800 + r.int(0x400) * 4;
  const c: FpuCase = {
    form, code: new Uint8Array(0), regs, eflags: (0x202 | (Number(r.u64() & 0xffffn) & FLAGS_ARITH)) >>> 0,
    seed: Number(r.u64() & 0xffffffffn) || 1, blobs: [{ at: INIT_AT, bytes: fpuImage(r, false, r.chance(0.08)) }],
    insnAt: 0, waitAt: 0,
  };
  return { c, regs };
}

function finishCase(c: FpuCase, prefix: number[], insn: number[]): FpuCase {
  const code = [...FRSTOR_INIT, ...prefix, ...insn, 0x9b];
  c.insnAt = START + FRSTOR_INIT.length;
  c.waitAt = START + code.length - 1;
  c.code = Uint8Array.from(code);
  return c;
}

function memCase(r: Rng, f: MemForm): FpuCase {
  const { c, regs } = baseCase(r, f.name);
  // (66 0F AE /0 /1 is #UD on recent hosts; a P6 ignores the prefix: not generated)
  const o16 = (f.kind === 'env' || f.kind === 'save' || f.name === 'FNSTENV' || f.name === 'FNSAVE') ? r.chance(0.5) : f.op !== 0x0f && r.chance(0.05);
  let size = f.size;
  if (o16 && (f.name === 'FNSTENV' || f.kind === 'env')) size = 14;
  if (o16 && (f.name === 'FNSAVE' || f.kind === 'save')) size = 94;
  const ea = operandAddress(r, size, f.op === 0x0f ? 16 : 4);
  const prefix: number[] = [];
  if (o16) prefix.push(0x66);
  // segment overrides; CS only on reads (exec.ts hands fpuExecute a linear address without the
  // segment's write/limit checks, so a store through CS does not #GP yet)
  if (r.chance(0.15)) prefix.push(pick(r, f.kind === 'store' ? [0x26, 0x36, 0x3e] : [0x26, 0x36, 0x3e, 0x2e]));
  const modrm = encodeMem(r, f.reg, ea, regs);
  const insn = f.op === 0x0f ? [0x0f, 0xae, ...modrm] : [f.op, ...modrm];
  let content: Uint8Array | null = null;
  if (f.kind === 'env') content = envImage(r, o16, false);
  else if (f.kind === 'save') content = envImage(r, o16, true);
  else if (f.kind === 'fx') content = fpuImage(r, true, r.chance(0.1));
  else if (f.kind !== 'store' && f.kind !== 'ud') content = memOperand(r, f.kind);
  if (content && r.chance(0.95)) c.blobs.push({ at: ea, bytes: content.slice(0, Math.min(content.length, MAX_BLOB)) });
  c.operandAt = ea;
  c.operandSize = size;
  if (f.name === 'FNSTENV') { c.envAt = ea; c.envKind = o16 ? 'env16' : 'env32'; }
  if (f.name === 'FNSAVE') { c.envAt = ea; c.envKind = o16 ? 'save16' : 'save32'; }
  if (f.name === 'FXSAVE') { c.envAt = ea; c.envKind = 'fxsave'; }
  return finishCase(c, prefix, insn);
}

function regCase(r: Rng, op: number, modrm: number): FpuCase {
  const { c } = baseCase(r, regName(op, modrm));
  if (op === 0xd9 && TRANSCENDENTAL.has(modrm)) c.approx = true;
  return finishCase(c, r.chance(0.05) ? [0x66] : [], [op, modrm]);
}

/** `perForm` cases for every form whose name contains `filter` (case-insensitive). */
export function generateFpuCases(perForm: number, seed: number, filter?: string): FpuCase[] {
  const out: FpuCase[] = [];
  const want = (name: string) => !filter || filter.split(',').some((f) => name.toLowerCase().includes(f.trim().toLowerCase()));
  let k = 0;
  for (const f of MEM_FORMS) {
    k++;
    if (!want(f.name)) continue;
    const r = new Rng(seed * 1009 + k);
    for (let i = 0; i < perForm; i++) out.push(memCase(r, f));
  }
  for (const g of REG_GROUPS) {
    const single = g.op === 0xd9 && g.reg >= 4;
    for (let rm = 0; rm < (single ? 8 : 1); rm++) {
      k++;
      const base = 0xc0 | (g.reg << 3);
      const name = regName(g.op, base | rm);
      if (!want(name)) continue;
      const r = new Rng(seed * 1009 + k);
      for (let i = 0; i < perForm; i++) out.push(regCase(r, g.op, single ? base | rm : base | r.int(8)));
    }
  }
  return out;
}

// ---- host side ----

function encode(cases: FpuCase[]): Uint8Array {
  const buf = new Uint8Array(cases.length * IN_BYTES);
  const dv = new DataView(buf.buffer);
  cases.forEach((c, n) => {
    const o = n * IN_BYTES;
    if (c.code.length > MAX_CODE) throw new Error(`${c.form}: code too long`);
    dv.setUint32(o, n, true);
    dv.setUint32(o + 4, c.code.length, true);
    buf.set(c.code, o + 8);
    for (let i = 0; i < 8; i++) dv.setUint32(o + 8 + MAX_CODE + 4 * i, c.regs[i] >>> 0, true);
    dv.setUint32(o + 40 + MAX_CODE, c.eflags, true);
    dv.setUint32(o + 44 + MAX_CODE, c.seed, true);
    c.blobs.forEach((b, i) => {
      const bo = o + 48 + MAX_CODE + i * (8 + MAX_BLOB);
      dv.setUint32(bo, imageOffset(b.at), true);
      dv.setUint32(bo + 4, imageOffset(b.at) < 0 ? 0 : b.bytes.length, true);
      buf.set(b.bytes, bo + 8);
    });
  });
  return buf;
}

export class FpuNativeRunner {
  private dir = mkdtempSync(join(tmpdir(), 'webx86-fpu-native-'));
  private exe = join(this.dir, 'fpu-harness');
  constructor() {
    const obj = join(this.dir, 'entry.o');
    execFileSync('nasm', ['-f', 'elf32', join(here, '../native/entry.asm'), '-o', obj], { stdio: 'pipe' });
    execFileSync('gcc', ['-m32', '-O2', '-no-pie', '-Wall', '-o', this.exe, join(here, 'fpu-harness.c'), obj], { stdio: 'pipe' });
  }
  run(cases: FpuCase[]): FpuResult[] {
    const inPath = join(this.dir, 'in.bin'), outPath = join(this.dir, 'out.bin');
    writeFileSync(inPath, encode(cases));
    execFileSync(this.exe, [inPath, outPath], { stdio: 'pipe' });
    const buf = readFileSync(outPath);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    return cases.map((_, n) => {
      const o = n * OUT_BYTES;
      if (dv.getUint32(o, true) !== n) throw new Error(`fpu-harness: record ${n} out of order`);
      const regs: number[] = [];
      for (let i = 0; i < 8; i++) regs.push(dv.getUint32(o + 20 + 4 * i, true));
      const nchg = dv.getUint32(o + 168, true);
      const changes = new Map<number, number>();
      for (let i = 0; i < Math.min(nchg, MAX_CHANGES); i++) changes.set(dv.getUint32(o + 172 + 8 * i, true), dv.getUint32(o + 176 + 8 * i, true));
      return {
        vector: dv.getUint32(o + 4, true), error: dv.getUint32(o + 8, true), eip: dv.getUint32(o + 12, true), cr2: dv.getUint32(o + 16, true),
        regs, eflags: dv.getUint32(o + 52, true), fsave: Uint8Array.from(buf.subarray(o + 56, o + 164)),
        mxcsr: dv.getUint32(o + 164, true), changes, changeCount: nchg,
      };
    });
  }
  dispose(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

// ---- core side ----

export function blobPokes(blobs: Blob[]): Poke[] {
  const p: Poke[] = [];
  for (const b of blobs) for (let i = 0; i < b.bytes.length; i++) p.push({ addr: b.at + i, value: b.bytes[i], size: 1 });
  return p;
}

/** Kernel-style tag of a non-empty register (arch/x86 twd_fxsr_to_i387). */
function tagOf(se: number, sigHi: number, sigLo: number): number {
  const e = se & 0x7fff;
  if (e === 0x7fff) return 2;
  if (e === 0) return sigHi === 0 && sigLo === 0 ? 1 : 2;
  return (sigHi & 0x80000000) !== 0 ? 0 : 2;
}

export function runCore(runner: CoreRunner, c: FpuCase): FpuResult {
  const pokes = blobPokes(c.blobs);
  const tc: TestCase = { form: c.form, code: c.code, regs: c.regs, eflags: c.eflags, seed: c.seed, pokes, undefFlags: 0, undefRegs: 0 };
  const res = runner.run(tc);
  const core = runner.core;
  const img = memoryImage(c.seed, pokes);
  const now = core.ram.subarray(PHYS.DATA, PHYS.DATA + img.length);
  const changes = new Map<number, number>();
  let changeCount = 0;
  for (let i = 0; i < img.length; i++) {
    if (img[i] === now[i]) continue;
    changeCount++;
    if (changes.size < MAX_CHANGES) changes.set(i < DATA_SIZE ? DATA_BASE + i : STACK_BASE + i - DATA_SIZE, now[i]);
  }
  const fsave = new Uint8Array(108);
  const dv = new DataView(fsave.buffer);
  const u16 = (off: string, d = 0) => core.u32(off, d) & 0xffff;
  const sw = u16('OFF_FPU_FSW'), ftw = u16('OFF_FPU_FTW');
  const top = (sw >> 11) & 7;
  let tw = 0;
  for (let p = 0; p < 8; p++) {
    let t = (ftw >> (2 * p)) & 3;
    if (t !== 3) t = tagOf(u16('OFF_FPU_REGS', p * 16 + 8), core.u32('OFF_FPU_REGS', p * 16 + 4), core.u32('OFF_FPU_REGS', p * 16));
    tw |= t << (2 * p);
  }
  dv.setUint32(0, 0xffff0000 | u16('OFF_FPU_FCW'), true);
  dv.setUint32(4, 0xffff0000 | sw, true);
  dv.setUint32(8, 0xffff0000 | tw, true);
  dv.setUint32(12, core.u32('OFF_FPU_FIP'), true);
  dv.setUint32(16, (u16('OFF_FPU_FCS') | ((u16('OFF_FPU_FOP') & 0x7ff) << 16)) >>> 0, true);
  dv.setUint32(20, core.u32('OFF_FPU_FDP'), true);
  dv.setUint32(24, 0xffff0000 | u16('OFF_FPU_FDS'), true);
  for (let i = 0; i < 8; i++) {
    const p = (top + i) & 7;
    dv.setUint32(28 + i * 10, core.u32('OFF_FPU_REGS', p * 16), true);
    dv.setUint32(32 + i * 10, core.u32('OFF_FPU_REGS', p * 16 + 4), true);
    dv.setUint16(36 + i * 10, u16('OFF_FPU_REGS', p * 16 + 8), true);
  }
  return {
    vector: res.vector, error: res.error, eip: res.eip, cr2: res.cr2, regs: res.regs, eflags: res.eflags,
    fsave, mxcsr: core.u32('OFF_FPU_MXCSR'), changes, changeCount, thrown: res.thrown,
  };
}

// ---- comparison ----

const hx = (v: number, w = 8) => (v >>> 0).toString(16).padStart(w, '0');
const REGS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];

function stHex(f: Uint8Array, i: number): string {
  let s = '';
  for (let b = 9; b >= 0; b--) s += hx(f[28 + i * 10 + b], 2);
  return `${s.slice(0, 4)}:${s.slice(4)}`;
}

/** ulp distance of two finite 80-bit values with the same sign, or Infinity. */
function ulps(a: Uint8Array, b: Uint8Array, i: number): number {
  const va = new DataView(a.buffer, a.byteOffset + 28 + i * 10), vb = new DataView(b.buffer, b.byteOffset + 28 + i * 10);
  const sa = va.getUint16(8, true), sb = vb.getUint16(8, true);
  if ((sa & 0x8000) !== (sb & 0x8000) || (sa & 0x7fff) === 0x7fff || (sb & 0x7fff) === 0x7fff) return Infinity;
  // as integers: exponent * 2^63 + significand (normalized values, J bit set)
  const ka = (BigInt(sa & 0x7fff) << 63n) + (va.getBigUint64(0, true) & ((1n << 63n) - 1n));
  const kb = (BigInt(sb & 0x7fff) << 63n) + (vb.getBigUint64(0, true) & ((1n << 63n) - 1n));
  const d = ka > kb ? ka - kb : kb - ka;
  return d > 1n << 40n ? Infinity : Number(d);
}

/** The saved x87 pointers mean the same on every vendor only with an unmasked exception pending
 *  (model.ts 'x87-pointers'): at the end of the case, or in the state the case started from. */
const pointersDefined = (nat: FpuResult) => nat.vector === 16 || (nat.fsave[4] & 0x80) !== 0;
const pendingAtStart = (c: FpuCase) => (c.blobs[0].bytes[4] & 0x80) !== 0;

/** Bytes of a saved environment the host fills its own way (model.ts): FCS/FDS ('x87-fcs-fds'),
 *  FOP always and FIP/FDP unless an exception was pending ('x87-pointers'), MXCSR_MASK and the
 *  area beyond XMM7 ('fxsave-host-fields'). */
function envMask(c: FpuCase): Set<number> {
  const m = new Set<number>();
  if (c.envAt === undefined) return m;
  const add = (from: number, n: number) => { for (let i = 0; i < n; i++) m.add((c.envAt! + from + i) >>> 0); };
  const pointers = !pendingAtStart(c);
  switch (c.envKind) {
    case 'env32': case 'save32': add(16, 4); add(24, 4); if (pointers) { add(12, 4); add(20, 4); } break; // FCS+FOP, FDS; FIP, FDP
    case 'env16': case 'save16': add(8, 2); add(12, 2); if (pointers) { add(6, 2); add(10, 2); } break; // FCS|FOP, FDS; FIP, FDP
    case 'fxsave': add(6, 2); add(12, 4); add(20, 4); add(28, 4); add(288, 224); if (pointers) { add(8, 4); add(16, 4); } break;
  }
  return m;
}

/**
 * The vendor entry of model.ts that explains a difference, or undefined. A store whose numeric
 * exception is unmasked leaves memory alone ('x87-store-fault-order'): the core reports the
 * exception (#MF at the FWAIT) where the host faulted on the destination first. A 10-byte store
 * crossing into a page that faults ('x87-store-split'): the core wrote the first eight bytes
 * before the same #PF that the host raised without writing. Both with all else equal.
 */
export function explainFpu(c: FpuCase, nat: FpuResult, core: FpuResult): OpenBehaviour | undefined {
  if (c.form === 'FXRSTOR' && core.vector === 13 && core.error === 0 && nat.vector !== 13) {
    // 'mxcsr-mm': the image's MXCSR sets bit 17 and no other reserved bit; AMD's MXCSR_MASK has it.
    const image = c.blobs.find((b) => b.at === c.operandAt);
    const mxcsr = image && image.bytes.length >= 28 ? new DataView(image.bytes.buffer, image.bytes.byteOffset).getUint32(24, true) : 0;
    return (mxcsr & 0xffff_0000) === 0x2_0000 ? open('mxcsr-mm') : undefined;
  }
  if (c.operandAt === undefined || !/^(FST|FIST|FBSTP)/.test(c.form) || nat.regs.some((v, i) => v !== core.regs[i])) return undefined;
  const inOperand = (a: number) => ((a - c.operandAt!) >>> 0) < c.operandSize!;
  if (nat.vector === 14 && core.vector === 16 && inOperand(nat.cr2) && core.changeCount === 0 && nat.changeCount === 0 &&
      (core.fsave[4] & 0x80) !== 0 && core.eip === c.waitAt) return open('x87-store-fault-order');
  if (c.operandSize === 10 && nat.vector === 14 && core.vector === 14 && nat.cr2 === core.cr2 && inOperand(nat.cr2) &&
      nat.changeCount === 0 && core.changeCount <= 8 && [...core.changes.keys()].every((a) => ((a - c.operandAt!) >>> 0) < 8)) {
    return open('x87-store-split');
  }
  return undefined;
}

/** F2XM1 of a finite value outside -1..+1 and FYL2XP1 outside +-(1 - sqrt(2)/2): the SDM leaves
 *  the result undefined (the host returns its polynomial's value; model.ts 'x87-out-of-domain').
 *  ST0 is the first register of the FRSTOR image. */
function outOfDomain(c: FpuCase): boolean {
  const v = new DataView(c.blobs[0].bytes.buffer);
  const se = v.getUint16(36, true), sig = v.getBigUint64(28, true);
  const e = se & 0x7fff;
  if (e === 0x7fff || (sig >> 63n) === 0n) return false;
  if (c.form === 'd9 f0') return e >= 0x3fff && !(e === 0x3fff && sig === 1n << 63n);
  return e >= 0x3ffd && !(e === 0x3ffd && sig < 0x95f619980c4336f7n); // 0.2928932188...
}

/** model.ts 'x87-transcendental-ulps'. */
export const TOLERANCE_ULPS = Number(process.env.FPU_ULPS ?? 2);

/** Differences between the host and the core for one case (empty when they agree). */
export function compareFpu(c: FpuCase, nat: FpuResult, core: FpuResult): string[] {
  const d: string[] = [];
  if ((c.form === 'd9 f0' || c.form === 'd9 f9') && outOfDomain(c)) return d; // undefined by the SDM
  if (core.thrown) d.push(`core threw: ${core.thrown}`);
  if (nat.vector !== core.vector) d.push(`vector ${nat.vector} != ${core.vector}`);
  if (d.length) return d;
  if (hasErrorCode(nat.vector) && (nat.error & 0xffff & (nat.vector === 14 ? 7 : 0xffff)) !== (core.error & 0xffff & (nat.vector === 14 ? 7 : 0xffff))) d.push(`error ${hx(nat.error, 4)} != ${hx(core.error, 4)}`);
  if (nat.eip !== core.eip) d.push(`eip ${hx(nat.eip)} != ${hx(core.eip)}`);
  if (nat.vector === 14 && nat.cr2 !== core.cr2) d.push(`cr2 ${hx(nat.cr2)} != ${hx(core.cr2)}`);
  for (let i = 0; i < 8; i++) if (nat.regs[i] !== core.regs[i]) d.push(`${REGS[i]} ${hx(nat.regs[i])} != ${hx(core.regs[i])}`);
  if (((nat.eflags ^ core.eflags) & FLAGS_VISIBLE) !== 0) d.push(`eflags ${hx(nat.eflags)} != ${hx(core.eflags)}`);
  const a = new DataView(nat.fsave.buffer, nat.fsave.byteOffset), b = new DataView(core.fsave.buffer);
  const w = (v: DataView, o: number) => v.getUint16(o, true);
  // approximate results: C1 (rounding direction) and PE are not compared
  const swMask = c.approx ? ~0x0220 & 0xffff : 0xffff;
  if (w(a, 0) !== w(b, 0)) d.push(`fcw ${hx(w(a, 0), 4)} != ${hx(w(b, 0), 4)}`);
  if ((w(a, 4) & swMask) !== (w(b, 4) & swMask)) d.push(`fsw ${hx(w(a, 4), 4)} != ${hx(w(b, 4), 4)}`);
  if (w(a, 8) !== w(b, 8)) d.push(`ftw ${hx(w(a, 8), 4)} != ${hx(w(b, 8), 4)}`);
  // FIP and FDP are compared only while an unmasked exception is pending (FSW.ES): every vendor
  // saves them then (model.ts 'x87-pointers'). FDP only after a form with a memory operand: after
  // a register form Intel keeps the last memory operand's address and AMD stores 0 (same entry).
  // FOP is never compared: the kernel's 64-bit FXSAVE signal frame does not carry it over; the
  // bare-metal test pins all three.
  if (pointersDefined(nat)) {
    if (a.getUint32(12, true) !== b.getUint32(12, true)) d.push(`fip ${hx(a.getUint32(12, true))} != ${hx(b.getUint32(12, true))}`);
    if (c.operandAt !== undefined && a.getUint32(20, true) !== b.getUint32(20, true)) d.push(`fdp ${hx(a.getUint32(20, true))} != ${hx(b.getUint32(20, true))}`);
  }
  for (let i = 0; i < 8; i++) {
    const x = stHex(nat.fsave, i), y = stHex(core.fsave, i);
    if (x === y) continue;
    if (c.approx && ulps(nat.fsave, core.fsave, i) <= TOLERANCE_ULPS) continue;
    d.push(`st${i} ${x} != ${y}`);
  }
  if (c.form === 'FXRSTOR' && nat.mxcsr !== core.mxcsr) d.push(`mxcsr ${hx(nat.mxcsr)} != ${hx(core.mxcsr)}`);
  // memory
  const skip = envMask(c);
  const addrs = new Set([...nat.changes.keys(), ...core.changes.keys()]);
  const bad: string[] = [];
  for (const at of [...addrs].sort((x, y) => x - y)) {
    if (skip.has(at)) continue;
    const x = nat.changes.get(at), y = core.changes.get(at);
    if (x !== y && bad.length < 6) bad.push(`[${hx(at)}] ${x === undefined ? '--' : hx(x, 2)} != ${y === undefined ? '--' : hx(y, 2)}`);
  }
  if (bad.length) d.push(`memory ${bad.join(' ')}`);
  if (nat.changeCount !== core.changeCount && skip.size === 0) d.push(`changed bytes ${nat.changeCount} != ${core.changeCount}`);
  return d;
}

function stateLine(f: Uint8Array): string {
  const v = new DataView(f.buffer, f.byteOffset);
  const sts: string[] = [];
  for (let i = 0; i < 8; i++) sts.push(stHex(f, i));
  return `cw=${hx(v.getUint16(0, true), 4)} sw=${hx(v.getUint16(4, true), 4)} tw=${hx(v.getUint16(8, true), 4)} fip=${hx(v.getUint32(12, true))} fop=${hx(v.getUint16(18, true), 3)} fdp=${hx(v.getUint32(20, true))}\n        ${sts.join(' ')}`;
}

export function formatFpuFailure(c: FpuCase, nat: FpuResult, core: FpuResult, diffs: string[]): string {
  const init = c.blobs[0].bytes;
  return [
    `  ${c.form}: ${Array.from(c.code.subarray(FRSTOR_INIT.length), (x) => hx(x, 2)).join(' ')} (at ${hx(c.insnAt)}; operand ${c.blobs[1] ? hx(c.blobs[1].at) + ' = ' + Array.from(c.blobs[1].bytes.subarray(0, 16), (x) => hx(x, 2)).join('') : '-'})`,
    `    init: ${stateLine(init)}`,
    `    regs: ${c.regs.map(hx).join(' ')} eflags=${hx(c.eflags)}`,
    `    host: vec=${nat.vector} eip=${hx(nat.eip)} ${stateLine(nat.fsave)}`,
    `    core: vec=${core.vector} eip=${hx(core.eip)} ${stateLine(core.fsave)}`,
    `    diff: ${diffs.join('; ')}`,
  ].join('\n');
}
