// Operand decoding: prefixes, ModRM and SIB, effective addresses, and reading and writing the
// r/m and reg operands at 8, 16 or 32 bits.

import {
  reg32, setReg32, reg16, setReg16, reg8, setReg8, SEG_DS, SEG_SS, REG_EBP, REG_ESP,
  REG_EBX, REG_ESI, REG_EDI,
} from './state';
import { fetch8, fetch16, fetch32 } from './fetch';
import { segAddr } from './segments';
import {
  readLin8, readLin16, readLin32, writeLin8, writeLin16, writeLin32, checkRmw,
} from '../mmu/access';

/** Operand size is 32 bits (CS.D xor 66h). */
export let o32: bool = false;
/** Address size is 32 bits (CS.D xor 67h). */
export let a32: bool = false;
/** Segment override prefix, or -1. */
export let segOvr: i32 = -1;
/** 0, 0xF2 (REPNE) or 0xF3 (REP/REPE). */
export let repPfx: u32 = 0;
export let lockPfx: bool = false;

export let mMod: u32 = 0;
export let mReg: u32 = 0;
export let mRm: u32 = 0;
/** Segment and offset of the memory operand. */
export let eaSeg: u32 = SEG_DS;
export let eaOff: u32 = 0;

@inline export function isRegForm(): bool { return mMod == 3; }

/** Read the ModRM byte; for a memory operand also its SIB, displacement and effective address. */
@inline export function decodeModrm(): void {
  const b = fetch8();
  mMod = b >> 6; mReg = (b >> 3) & 7; mRm = b & 7;
  if (mMod != 3) decodeAddress();
}

function decodeAddress(): void {
  let seg = SEG_DS;
  let off: u32 = 0;
  if (a32) {
    if (mRm == 4) {
      const sib = fetch8();
      const scale = sib >> 6, idx = (sib >> 3) & 7, base = sib & 7;
      if (base == 5 && mMod == 0) off = fetch32();
      else { off = reg32(base); if (base == REG_ESP || base == REG_EBP) seg = SEG_SS; }
      if (idx != 4) off += reg32(idx) << scale;
    } else if (mRm == 5 && mMod == 0) {
      off = fetch32();
    } else {
      off = reg32(mRm);
      if (mRm == REG_EBP) seg = SEG_SS;
    }
    if (mMod == 1) off += <u32>(<i32>(<i8>fetch8()));
    else if (mMod == 2) off += fetch32();
  } else {
    switch (mRm) {
      case 0: off = reg16(REG_EBX) + reg16(REG_ESI); break;
      case 1: off = reg16(REG_EBX) + reg16(REG_EDI); break;
      case 2: off = reg16(REG_EBP) + reg16(REG_ESI); seg = SEG_SS; break;
      case 3: off = reg16(REG_EBP) + reg16(REG_EDI); seg = SEG_SS; break;
      case 4: off = reg16(REG_ESI); break;
      case 5: off = reg16(REG_EDI); break;
      case 6: if (mMod == 0) { off = fetch16(); } else { off = reg16(REG_EBP); seg = SEG_SS; } break;
      default: off = reg16(REG_EBX); break;
    }
    if (mMod == 1) off += <u32>(<i32>(<i8>fetch8()));
    else if (mMod == 2) off += fetch16();
    off &= 0xffff;
  }
  eaSeg = segOvr >= 0 ? <u32>segOvr : seg;
  eaOff = off;
}

/** Default segment for string sources and XLAT: DS unless overridden. */
@inline export function dataSeg(): u32 { return segOvr >= 0 ? <u32>segOvr : SEG_DS; }

// ---- registers by size ----
@inline export function getReg(size: u32, r: u32): u32 {
  return size == 32 ? reg32(r) : (size == 16 ? reg16(r) : reg8(r));
}
@inline export function setReg(size: u32, r: u32, v: u32): void {
  if (size == 32) setReg32(r, v); else if (size == 16) setReg16(r, v); else setReg8(r, v);
}

// ---- memory by size ----
@inline export function readMem(size: u32, seg: u32, off: u32): u32 {
  if (size == 32) return readLin32(segAddr(seg, off, 3, false));
  if (size == 16) return readLin16(segAddr(seg, off, 1, false));
  return readLin8(segAddr(seg, off, 0, false));
}
@inline export function writeMem(size: u32, seg: u32, off: u32, v: u32): void {
  if (size == 32) writeLin32(segAddr(seg, off, 3, true), v);
  else if (size == 16) writeLin16(segAddr(seg, off, 1, true), v);
  else writeLin8(segAddr(seg, off, 0, true), v);
}

/** The r/m operand. */
@inline export function readE(size: u32): u32 {
  if (mMod == 3) return getReg(size, mRm);
  return readMem(size, eaSeg, eaOff);
}
@inline export function writeE(size: u32, v: u32): void {
  if (mMod == 3) setReg(size, mRm, v);
  else writeMem(size, eaSeg, eaOff, v);
}

/** Linear address of a read-modify-write memory operand, already checked writable. */
export let rmwLin: u32 = 0;

/** Read the r/m operand for a read-modify-write: the write permission is checked first. */
@inline export function readRmw(size: u32): u32 {
  if (mMod == 3) return getReg(size, mRm);
  const n = size >> 3;
  rmwLin = segAddr(eaSeg, eaOff, n - 1, true);
  checkRmw(rmwLin, n);
  if (size == 32) return readLin32(rmwLin);
  if (size == 16) return readLin16(rmwLin);
  return readLin8(rmwLin);
}
@inline export function writeRmw(size: u32, v: u32): void {
  if (mMod == 3) { setReg(size, mRm, v); return; }
  if (size == 32) writeLin32(rmwLin, v);
  else if (size == 16) writeLin16(rmwLin, v);
  else writeLin8(rmwLin, v);
}

@inline export function fetchImm(size: u32): u32 {
  return size == 32 ? fetch32() : (size == 16 ? fetch16() : fetch8());
}

/** After a prefixed instruction (or a fault in one): no segment override, REP or LOCK. */
export function clearPrefixes(): void { segOvr = -1; repPfx = 0; lockPfx = false; }
