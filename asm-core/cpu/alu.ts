// Integer arithmetic: the eight ALU operations, shifts and rotates, multiply and divide, and
// the BCD adjustments. Each returns the result and leaves the flags as the SDM defines them.

import {
  LAZY_ADD, LAZY_SUB, setLazy, setLazyLogic, setResultFlags, setLazyKeepCF, getCF, getAF, getOF, setFlag, settleFlags,
  flagsReg,
} from './flags';
import { FLAG_CF, FLAG_OF, FLAG_AF, FLAG_ZF, FLAG_SF, FLAG_PF, EXC_DE, REG_EAX, REG_EDX, reg32, setReg32, reg8, setReg8, reg16, setReg16 } from './state';
import { raiseFault } from './fault';

export const ALU_ADD: u32 = 0;
export const ALU_OR: u32 = 1;
export const ALU_ADC: u32 = 2;
export const ALU_SBB: u32 = 3;
export const ALU_AND: u32 = 4;
export const ALU_SUB: u32 = 5;
export const ALU_XOR: u32 = 6;
export const ALU_CMP: u32 = 7;

@inline export function maskOf(size: u32): u32 { return size == 32 ? 0xffffffff : (1 << size) - 1; }

/** One of ADD OR ADC SBB AND SUB XOR CMP on `size`-bit operands; CMP returns `a` unchanged. */
export function alu(op: u32, size: u32, a: u32, b: u32): u32 { return aluOp(op, size, a, b); }

/** The definition behind alu(), inlined where `op` and `size` are constants (cpu/handlers.ts). */
@inline export function aluOp(op: u32, size: u32, a: u32, b: u32): u32 {
  const m = maskOf(size);
  let r: u32;
  switch (op) {
    case 0: r = a + b; setLazy(LAZY_ADD, size, a, b, r); break;
    case 1: r = a | b; setLazyLogic(size, r); break;
    case 2: r = a + b + (getCF() ? 1 : 0); setLazy(LAZY_ADD, size, a, b, r); break;
    case 3: r = a - b - (getCF() ? 1 : 0); setLazy(LAZY_SUB, size, a, b, r); break;
    case 4: r = a & b; setLazyLogic(size, r); break;
    case 5: r = a - b; setLazy(LAZY_SUB, size, a, b, r); break;
    case 6: r = a ^ b; setLazyLogic(size, r); break;
    default: r = a - b; setLazy(LAZY_SUB, size, a, b, r); return a;
  }
  return r & m;
}

export function inc(size: u32, a: u32): u32 { const r = a + 1; setLazyKeepCF(LAZY_ADD, size, a, r); return r & maskOf(size); }
export function dec(size: u32, a: u32): u32 { const r = a - 1; setLazyKeepCF(LAZY_SUB, size, a, r); return r & maskOf(size); }
export function neg(size: u32, a: u32): u32 { const r = 0 - a; setLazy(LAZY_SUB, size, 0, a, r); return r & maskOf(size); }

@inline function msbOf(v: u32, size: u32): u32 { return (v >>> (size - 1)) & 1; }

/** Group 2: ROL ROR RCL RCR SHL SHR SAL SAR by `count` (already read from CL or the immediate). */
export function shift(op: u32, size: u32, a: u32, countIn: u32): u32 { return shiftOp(op, size, a, countIn); }

/** The definition behind shift(), inlined where `op` and `size` are constants (cpu/handlers.ts). */
@inline export function shiftOp(op: u32, size: u32, a: u32, countIn: u32): u32 {
  let count = countIn & 31;
  if (count == 0) return a;
  const m = maskOf(size);
  a &= m;
  let r: u32 = 0, cf: u32 = 0, ovf: u32 = 0;
  switch (op) {
    case 0: { // ROL
      const c = count & (size - 1);
      r = c == 0 ? a : ((a << c) | (a >>> (size - c))) & m;
      cf = r & 1;
      ovf = cf ^ msbOf(r, size);
      rotateFlags(cf, ovf);
      return r;
    }
    case 1: { // ROR
      const c = count & (size - 1);
      r = c == 0 ? a : ((a >>> c) | (a << (size - c))) & m;
      cf = msbOf(r, size);
      ovf = ((r >>> (size - 1)) ^ (r >>> (size - 2))) & 1;
      rotateFlags(cf, ovf);
      return r;
    }
    case 2: { // RCL: rotate through carry (size+1 bits)
      const c = size == 32 ? count : count % (size + 1);
      if (c == 0) return a;
      const cin: u64 = getCF() ? 1 : 0;
      const wide: u64 = (<u64>a) | (cin << size);
      const bits: u32 = size + 1;
      const wm: u64 = (<u64>1 << bits) - 1;
      const rot: u64 = ((wide << c) | (wide >> (bits - c))) & wm;
      r = <u32>(rot & m);
      cf = <u32>(rot >> size) & 1;
      ovf = cf ^ msbOf(r, size);
      rotateFlags(cf, ovf);
      return r;
    }
    case 3: { // RCR
      const c = size == 32 ? count : count % (size + 1);
      if (c == 0) return a;
      const cin: u64 = getCF() ? 1 : 0;
      const wide: u64 = (<u64>a) | (cin << size);
      const bits: u32 = size + 1;
      const wm: u64 = (<u64>1 << bits) - 1;
      const rot: u64 = ((wide >> c) | (wide << (bits - c))) & wm;
      r = <u32>(rot & m);
      cf = <u32>(rot >> size) & 1;
      ovf = ((r >>> (size - 1)) ^ (r >>> (size - 2))) & 1;
      rotateFlags(cf, ovf);
      return r;
    }
    case 4: case 6: { // SHL/SAL
      r = count < 32 ? (a << count) & m : 0;
      cf = count <= size ? (a >>> (size - count)) & 1 : 0;
      ovf = cf ^ msbOf(r, size);
      break;
    }
    case 5: { // SHR
      r = count < 32 ? a >>> count : 0;
      cf = (a >>> (count - 1)) & 1;
      if (count > size) cf = 0;
      ovf = msbOf(a, size);
      break;
    }
    default: { // SAR
      const sa: i32 = size == 32 ? <i32>a : (size == 16 ? <i32>(<i16>a) : <i32>(<i8>a));
      r = <u32>(sa >> (count > 31 ? 31 : count)) & m;
      cf = <u32>(sa >> (count - 1 > 31 ? 31 : count - 1)) & 1;
      ovf = 0;
      break;
    }
  }
  setResultFlags(size, r, (cf ? FLAG_CF : 0) | (ovf ? FLAG_OF : 0));
  return r;
}

/** Rotates change only CF and OF. */
function rotateFlags(cf: u32, ovf: u32): void {
  settleFlags();
  flagsReg = (flagsReg & ~(FLAG_CF | FLAG_OF)) | (cf ? FLAG_CF : 0) | (ovf ? FLAG_OF : 0);
}

/** SHLD/SHRD: shift `a` by count, filling from `b`. */
export function shiftDouble(left: bool, size: u32, a: u32, b: u32, countIn: u32): u32 {
  const count = countIn & 31;
  if (count == 0) return a;
  const m = maskOf(size);
  let r: u32, cf: u32;
  if (size == 32) {
    if (left) { r = (a << count) | (b >>> (32 - count)); cf = (a >>> (32 - count)) & 1; }
    else { r = (a >>> count) | (b << (32 - count)); cf = (a >>> (count - 1)) & 1; }
  } else {
    // 16-bit: the 32-bit concatenation; counts above 16 are undefined on hardware.
    const wide: u64 = left ? ((<u64>(a & 0xffff) << 32) | (<u64>(b & 0xffff) << 16) | <u64>(a & 0xffff))
                           : ((<u64>(a & 0xffff)) | (<u64>(b & 0xffff) << 16) | (<u64>(a & 0xffff) << 32));
    if (left) { r = <u32>(wide >> (32 - count)) & m; cf = <u32>(wide >> (48 - count)) & 1; }
    else { r = <u32>(wide >> count) & m; cf = <u32>(wide >> (count - 1)) & 1; }
  }
  r &= m;
  const ovf = (msbOf(r, size) ^ msbOf(a, size));
  setResultFlags(size, r, (cf ? FLAG_CF : 0) | (ovf ? FLAG_OF : 0));
  return r;
}

// ---- multiply and divide (accumulator forms) ----

export function mul(size: u32, src: u32): void {
  if (size == 8) {
    const r = reg8(0) * (src & 0xff);
    setReg16(REG_EAX, r);
    const hi = (r & 0xff00) != 0;
    setResultFlags(8, r & 0xff, hi ? FLAG_CF | FLAG_OF : 0);
  } else if (size == 16) {
    const r = reg16(REG_EAX) * (src & 0xffff);
    setReg16(REG_EAX, r); setReg16(REG_EDX, r >>> 16);
    setResultFlags(16, r & 0xffff, (r >>> 16) != 0 ? FLAG_CF | FLAG_OF : 0);
  } else {
    const r: u64 = <u64>reg32(REG_EAX) * <u64>src;
    setReg32(REG_EAX, <u32>r); setReg32(REG_EDX, <u32>(r >> 32));
    setResultFlags(32, <u32>r, (r >> 32) != 0 ? FLAG_CF | FLAG_OF : 0);
  }
}

export function imul1(size: u32, src: u32): void {
  if (size == 8) {
    const r: i32 = <i32>(<i8>reg8(0)) * <i32>(<i8>src);
    setReg16(REG_EAX, <u32>r);
    setResultFlags(8, <u32>r & 0xff, r != <i32>(<i8>r) ? FLAG_CF | FLAG_OF : 0);
  } else if (size == 16) {
    const r: i32 = <i32>(<i16>reg16(REG_EAX)) * <i32>(<i16>src);
    setReg16(REG_EAX, <u32>r); setReg16(REG_EDX, <u32>r >>> 16);
    setResultFlags(16, <u32>r & 0xffff, r != <i32>(<i16>r) ? FLAG_CF | FLAG_OF : 0);
  } else {
    const r: i64 = <i64>(<i32>reg32(REG_EAX)) * <i64>(<i32>src);
    setReg32(REG_EAX, <u32>r); setReg32(REG_EDX, <u32>(r >> 32));
    setResultFlags(32, <u32>r, r != <i64>(<i32>r) ? FLAG_CF | FLAG_OF : 0);
  }
}

/**
 * BSF, BSR (`reverse`): the index of v's lowest or highest set bit, with ZF clear. For v = 0,
 * -1 with ZF set: the destination is kept (the SDM leaves it undefined; AMD's manual keeps it).
 * The other flags are undefined: they are left as a logic result of 1 makes them.
 */
export function bitScan(reverse: bool, size: u32, v: u32): i32 {
  if (v == 0) { setFlag(FLAG_ZF, true); return -1; }
  setLazyLogic(size, 1);
  return <i32>(reverse ? 31 - clz<u32>(v) : ctz<u32>(v));
}

/**
 * CMPXCHG: compare the accumulator with the destination (the flags of CMP); the value to write
 * back: the source when they are equal, else the destination itself (it is always written).
 * When they differ the caller loads the destination into the accumulator, after the write.
 */
export function cmpxchg(size: u32, acc: u32, dst: u32, src: u32): u32 {
  alu(ALU_CMP, size, acc, dst);
  return dst == acc ? src : dst;
}

/** IMUL r, r/m (, imm): truncated signed product. */
export function imul2(size: u32, a: u32, b: u32): u32 {
  if (size == 16) {
    const r: i32 = <i32>(<i16>a) * <i32>(<i16>b);
    setResultFlags(16, <u32>r & 0xffff, r != <i32>(<i16>r) ? FLAG_CF | FLAG_OF : 0);
    return <u32>r & 0xffff;
  }
  const r: i64 = <i64>(<i32>a) * <i64>(<i32>b);
  setResultFlags(32, <u32>r, r != <i64>(<i32>r) ? FLAG_CF | FLAG_OF : 0);
  return <u32>r;
}

export function div(size: u32, src: u32): void {
  if (size == 8) {
    const d = src & 0xff;
    if (d == 0) raiseFault(EXC_DE, -1);
    const n = reg16(REG_EAX);
    const q = n / d;
    if (q > 0xff) raiseFault(EXC_DE, -1);
    setReg8(0, q); setReg8(4, n % d);
  } else if (size == 16) {
    const d = src & 0xffff;
    if (d == 0) raiseFault(EXC_DE, -1);
    const n = (reg16(REG_EDX) << 16) | reg16(REG_EAX);
    const q = n / d;
    if (q > 0xffff) raiseFault(EXC_DE, -1);
    setReg16(REG_EAX, q); setReg16(REG_EDX, n % d);
  } else {
    if (src == 0) raiseFault(EXC_DE, -1);
    const n: u64 = (<u64>reg32(REG_EDX) << 32) | <u64>reg32(REG_EAX);
    const q: u64 = n / <u64>src;
    if (q > 0xffffffff) raiseFault(EXC_DE, -1);
    setReg32(REG_EAX, <u32>q); setReg32(REG_EDX, <u32>(n % <u64>src));
  }
}

export function idiv(size: u32, src: u32): void {
  if (size == 8) {
    const d: i32 = <i32>(<i8>src);
    if (d == 0) raiseFault(EXC_DE, -1);
    const n: i32 = <i32>(<i16>reg16(REG_EAX));
    const q = n / d;
    if (q != <i32>(<i8>q)) raiseFault(EXC_DE, -1);
    setReg8(0, <u32>q); setReg8(4, <u32>(n % d));
  } else if (size == 16) {
    const d: i32 = <i32>(<i16>src);
    if (d == 0) raiseFault(EXC_DE, -1);
    const n: i32 = <i32>((reg16(REG_EDX) << 16) | reg16(REG_EAX));
    if (n == <i32>0x80000000 && d == -1) raiseFault(EXC_DE, -1);
    const q = n / d;
    if (q != <i32>(<i16>q)) raiseFault(EXC_DE, -1);
    setReg16(REG_EAX, <u32>q); setReg16(REG_EDX, <u32>(n % d));
  } else {
    const d: i64 = <i64>(<i32>src);
    if (d == 0) raiseFault(EXC_DE, -1);
    const n: i64 = <i64>((<u64>reg32(REG_EDX) << 32) | <u64>reg32(REG_EAX));
    if (n == <i64>0x8000000000000000 && d == -1) raiseFault(EXC_DE, -1);
    const q = n / d;
    if (q != <i64>(<i32>q)) raiseFault(EXC_DE, -1);
    setReg32(REG_EAX, <u32>q); setReg32(REG_EDX, <u32>(n % d));
  }
}

// ---- BCD ----

export function daa(): void {
  const al = reg8(0);
  const cf = getCF(), af = getAF();
  let r = al, ncf = false, naf = false;
  if ((al & 0xf) > 9 || af) { r = (r + 6) & 0xff; naf = true; ncf = cf || al + 6 > 0xff; }
  if (al > 0x99 || cf) { r = (r + 0x60) & 0xff; ncf = true; }
  setReg8(0, r);
  setResultFlags(8, r, (ncf ? FLAG_CF : 0) | (naf ? FLAG_AF : 0));
}

export function das(): void {
  const al = reg8(0);
  const cf = getCF(), af = getAF();
  let r = al, ncf = false, naf = false;
  if ((al & 0xf) > 9 || af) { r = (r - 6) & 0xff; naf = true; ncf = cf || al < 6; }
  if (al > 0x99 || cf) { r = (r - 0x60) & 0xff; ncf = true; }
  setReg8(0, r);
  setResultFlags(8, r, (ncf ? FLAG_CF : 0) | (naf ? FLAG_AF : 0));
}

export function aaa(): void {
  const ax = reg16(REG_EAX);
  let r = ax;
  const adj = (ax & 0xf) > 9 || getAF();
  if (adj) r = ((ax + 0x106) & 0xff00) | ((ax + 6) & 0x0f);
  else r = ax & 0xff0f;
  setReg16(REG_EAX, r);
  setResultFlags(8, r & 0xff, adj ? FLAG_CF | FLAG_AF : 0);
}

export function aas(): void {
  const ax = reg16(REG_EAX);
  let r = ax;
  const adj = (ax & 0xf) > 9 || getAF();
  if (adj) r = ((ax - 0x106) & 0xff00) | ((ax - 6) & 0x0f);
  else r = ax & 0xff0f;
  setReg16(REG_EAX, r);
  setResultFlags(8, r & 0xff, adj ? FLAG_CF | FLAG_AF : 0);
}

export function aam(imm: u32): void {
  if (imm == 0) raiseFault(EXC_DE, -1);
  const al = reg8(0);
  const r = ((al / imm) << 8) | (al % imm);
  setReg16(REG_EAX, r);
  setResultFlags(8, r & 0xff, 0);
}

export function aad(imm: u32): void {
  const ax = reg16(REG_EAX);
  const lo = ax & 0xff, prod = ((ax >>> 8) * imm) & 0xff;
  const r = (lo + prod) & 0xff;
  setReg16(REG_EAX, r);
  setLazy(LAZY_ADD, 8, lo, prod, lo + prod);
}

/**
 * BT (0), BTS (1), BTR (2), BTC (3) of bit `bit` (already reduced to the operand size) of `v`:
 * CF is the bit, the other flags are kept; the new value (BT: `v`). The JIT (jit/emit.ts
 * bitTest) writes the same thing inline.
 */
export function bitTest(kind: u32, v: u32, bit: u32): u32 {
  const m: u32 = 1 << bit;
  setFlag(FLAG_CF, (v & m) != 0);
  return kind == 1 ? v | m : kind == 2 ? v & ~m : kind == 3 ? v ^ m : v;
}
