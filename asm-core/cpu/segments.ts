// Segmentation: descriptor tables, the descriptor caches behind the six segment registers,
// and the checks the SDM requires when a selector is loaded and when memory is addressed.

import {
  STATE, OFF_SEGS, OFF_SEG_CHECK, OFF_SEG_FAST_READ, OFF_SEG_FAST_WRITE, SEG_SELECTOR, SEG_BASE, SEG_LIMIT, SEG_ACCESS, OFF_GDTR_BASE, OFF_GDTR_LIMIT,
  SEG_CS, SEG_SS, SEG_DS, SEG_LDTR, SEG_ES, SEG_GS, EXC_GP, EXC_SS, EXC_NP, EXC_AC, OFF_DR,
} from './state';
import { raiseFault, recordFault, abandon } from './fault';
import { readSys32, writeSys8 } from '../mmu/access';
import { forgetCodeTranslations } from '../mmu/tlb';
import { protectedMode, v86Mode, cplLive, ss32, csBase, csLimit, cs32, alignCheck, dataBreakpoints, dataBreakHits, attention, flatData } from './live';

// Access-rights byte (descriptor bits 40..47) and flags nibble (52..55), as kept in SEG_ACCESS.
export const AR_ACCESSED: u32 = 1 << 0;
export const AR_RW: u32 = 1 << 1; // data: writable; code: readable
export const AR_DC: u32 = 1 << 2; // data: expand-down; code: conforming
export const AR_CODE: u32 = 1 << 3;
export const AR_S: u32 = 1 << 4; // code/data (1) or system (0)
export const AR_DPL_SHIFT: u32 = 5;
export const AR_P: u32 = 1 << 7; // present
export const AR_DB: u32 = 1 << 14; // default operation size / big
export const AR_G: u32 = 1 << 15; // granularity

// Derived check bits (OFF_SEG_CHECK)
export const SC_READ: u32 = 1;
export const SC_WRITE: u32 = 2;
export const SC_EXPAND_DOWN: u32 = 4;

// System descriptor types
export const SYS_TSS16_AVAIL: u32 = 1;
export const SYS_LDT: u32 = 2;
export const SYS_TSS16_BUSY: u32 = 3;
export const SYS_CALL_GATE16: u32 = 4;
export const SYS_TASK_GATE: u32 = 5;
export const SYS_INT_GATE16: u32 = 6;
export const SYS_TRAP_GATE16: u32 = 7;
export const SYS_TSS32_AVAIL: u32 = 9;
export const SYS_TSS32_BUSY: u32 = 11;
export const SYS_CALL_GATE32: u32 = 12;
export const SYS_INT_GATE32: u32 = 14;
export const SYS_TRAP_GATE32: u32 = 15;

@inline function segSlot(seg: u32): u32 { return STATE + OFF_SEGS + (seg << 4); }

export function descBase(lo: u32, hi: u32): u32 { return (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000); }
export function descLimit(lo: u32, hi: u32): u32 {
  const l = (lo & 0xffff) | (hi & 0xf0000);
  return (hi & (1 << 23)) ? (l << 12) | 0xfff : l;
}
export function descAccess(hi: u32): u32 { return (hi >>> 8) & 0xf0ff; }

/** Write a segment register's selector and cache, and recompute its access checks. */
export function setSegCache(seg: u32, sel: u32, base: u32, limit: u32, access: u32): void {
  const s = segSlot(seg);
  store<u32>(s + SEG_SELECTOR, sel & 0xffff);
  store<u32>(s + SEG_BASE, base);
  store<u32>(s + SEG_LIMIT, limit);
  store<u32>(s + SEG_ACCESS, access);
  updateSegCheck(seg);
  if (seg == SEG_CS) {
    // A far transfer within flat code (an interrupt, SYSENTER...) keeps the code translations.
    if (base != csBase || limit != csLimit) { csBase = base; csLimit = limit; forgetCodeTranslations(); }
    const big = protectedMode && (access & AR_DB) != 0;
    // 32-bit code runs from decoded blocks, other code instruction by instruction: the run
    // loop picks again.
    if (big != cs32) { cs32 = big; attention = true; }
  }
  else if (seg == SEG_SS) {
    const big = protectedMode && (access & AR_DB) != 0;
    if (ss32 && !big) attention = true; // translations need a 32-bit stack (cpu/blocks.ts)
    ss32 = big;
  }
}

/** Recompute the derived check bits of one segment from its cache. */
export function updateSegCheck(seg: u32): void {
  if (seg > SEG_GS) return;
  const s = segSlot(seg);
  const ar = load<u32>(s + SEG_ACCESS);
  let chk: u32 = 0;
  if (!protectedMode) {
    chk = SC_READ | SC_WRITE; // real and v86 mode: any segment may be read and written
    if ((ar & (AR_S | AR_CODE | AR_DC)) == (AR_S | AR_DC)) chk |= SC_EXPAND_DOWN;
  } else if ((ar & AR_P) != 0 && (ar & AR_S) != 0 && (seg == SEG_CS || (load<u32>(s + SEG_SELECTOR) & 0xfffc) != 0)) {
    if (ar & AR_CODE) {
      chk = (ar & AR_RW) ? SC_READ : 0;
    } else {
      chk = SC_READ | ((ar & AR_RW) ? SC_WRITE : 0) | ((ar & AR_DC) ? SC_EXPAND_DOWN : 0);
    }
  }
  store<u32>(STATE + OFF_SEG_CHECK + (seg << 2), chk);
  const limit = <i64>load<u32>(s + SEG_LIMIT);
  // With alignment checking on, every access takes the slow path, which checks alignment.
  const up = (chk & SC_EXPAND_DOWN) == 0 && !alignCheck && !dataBreakpoints;
  store<i64>(STATE + OFF_SEG_FAST_READ + (seg << 3), up && (chk & SC_READ) != 0 ? limit : -1);
  store<i64>(STATE + OFF_SEG_FAST_WRITE + (seg << 3), up && (chk & SC_WRITE) != 0 ? limit : -1);
  if (seg == SEG_ES || seg == SEG_SS || seg == SEG_DS) {
    const flat = isFlat(SEG_ES) && isFlat(SEG_SS) && isFlat(SEG_DS);
    // A translation runs only while they are flat (cpu/blocks.ts): one that loaded a data
    // segment in the middle (predecode.ts, stepInBlock) leaves when this ends it.
    if (flatData && !flat) attention = true;
    flatData = flat;
  }
}

/** Base 0, and any offset readable and writable on the fast path (see flatData). */
function isFlat(seg: u32): bool {
  return load<u32>(segSlot(seg) + SEG_BASE) == 0
    && load<i64>(STATE + OFF_SEG_FAST_READ + (seg << 3)) == 0xffff_ffff
    && load<i64>(STATE + OFF_SEG_FAST_WRITE + (seg << 3)) == 0xffff_ffff;
}

export function updateAllSegChecks(): void {
  for (let s: u32 = SEG_ES; s <= SEG_GS; s++) updateSegCheck(s);
}

/**
 * Linear address of `off` in segment `seg` for an access of sizeM1+1 bytes, after the limit and
 * type checks; #GP(0) (or #SS(0) for the stack segment) on violation.
 */
@inline export function segAddr(seg: u32, off: u32, sizeM1: u32, write: bool): u32 {
  const lim = load<i64>(STATE + (write ? OFF_SEG_FAST_WRITE : OFF_SEG_FAST_READ) + (seg << 3));
  if (<i64>off + <i64>sizeM1 > lim) segCheckSlow(seg, off, sizeM1, write);
  return load<u32>(segSlot(seg) + SEG_BASE) + off;
}

export function segCheckSlow(seg: u32, off: u32, sizeM1: u32, write: bool): void {
  if (!segCheckOrRecord(seg, off, sizeM1, write)) abandon();
}

/**
 * segCheckSlow() that only records a fault (cpu/fault.ts recordFault) and returns false, for
 * translated code's slow paths (jit/helpers.ts), which leave without a throw.
 */
export function segCheckOrRecord(seg: u32, off: u32, sizeM1: u32, write: bool): bool {
  const vector = segLimitFault(seg, off, sizeM1, write);
  if (vector >= 0) { recordFault(<u32>vector, 0); return false; }
  // #AC(0): an unaligned word, dword or qword access at CPL 3 with CR0.AM and EFLAGS.AC (SDM 6.15).
  if (alignCheck && sizeM1 != 0 && ((load<u32>(segSlot(seg) + SEG_BASE) + off) & (sizeM1 > 7 ? 7 : sizeM1)) != 0) {
    recordFault(EXC_AC, 0);
    return false;
  }
  if (dataBreakpoints) matchDataBreakpoints(load<u32>(segSlot(seg) + SEG_BASE) + off, sizeM1, write);
  return true;
}

/** Compare a data access with DR0-DR3 (DR7 R/W 01: writes, 11: reads and writes; LEN 1, 2, 4 bytes). */
function matchDataBreakpoints(lin: u32, sizeM1: u32, write: bool): void {
  const dr7 = load<u32>(STATE + OFF_DR + 28);
  for (let i: u32 = 0; i < 4; i++) {
    if (((dr7 >>> (i * 2)) & 3) == 0) continue;
    const rw = (dr7 >>> (16 + i * 4)) & 3;
    if (!(rw == 3 || (rw == 1 && write))) continue;
    const lenBits = (dr7 >>> (18 + i * 4)) & 3;
    const lenM1: u32 = lenBits == 0 ? 0 : lenBits == 1 ? 1 : lenBits == 3 ? 3 : 7;
    const start = load<u32>(STATE + OFF_DR + i * 4) & ~lenM1;
    // Overlap of [lin, lin + sizeM1] and [start, start + lenM1].
    if (lin - start <= lenM1 || start - lin <= sizeM1) dataBreakHits |= 1 << i;
  }
}

/** The fault (#GP, or #SS for the stack segment; error code 0) the limit and type checks raise, or -1. */
function segLimitFault(seg: u32, off: u32, sizeM1: u32, write: bool): i32 {
  const chk = load<u32>(STATE + OFF_SEG_CHECK + (seg << 2));
  const vec = <i32>(seg == SEG_SS ? EXC_SS : EXC_GP);
  if ((chk & (write ? SC_WRITE : SC_READ)) == 0) return vec;
  const limit = load<u32>(segSlot(seg) + SEG_LIMIT);
  if (chk & SC_EXPAND_DOWN) {
    const upper: u32 = (load<u32>(segSlot(seg) + SEG_ACCESS) & AR_DB) ? 0xffffffff : 0xffff;
    return off <= limit || off > upper || upper - off < sizeM1 ? vec : -1;
  }
  // A flat 4 GiB segment wraps rather than faulting (the access continues at linear 0).
  return (off > limit || limit - off < sizeM1) && limit != 0xffffffff ? vec : -1;
}

// ---- descriptor tables ----

/** Linear address of the descriptor for `sel`, or #GP(sel) / the given vector if outside its table. */
export function descAddr(sel: u32, vector: u32): u32 {
  const index = sel & 0xfff8;
  let base: u32, limit: u32;
  if (sel & 4) {
    const l = segSlot(SEG_LDTR);
    if ((load<u32>(l + SEG_SELECTOR) & 0xfffc) == 0) raiseFault(vector, <i32>(sel & 0xfffc));
    base = load<u32>(l + SEG_BASE); limit = load<u32>(l + SEG_LIMIT);
  } else {
    base = load<u32>(STATE + OFF_GDTR_BASE); limit = load<u32>(STATE + OFF_GDTR_LIMIT);
  }
  if (index + 7 > limit) raiseFault(vector, <i32>(sel & 0xfffc));
  return base + index;
}

export let descLo: u32 = 0;
export let descHi: u32 = 0;
/** Read the descriptor for `sel` into descLo/descHi; returns its linear address. */
export function readDesc(sel: u32, vector: u32): u32 {
  const a = descAddr(sel, vector);
  descLo = readSys32(a);
  descHi = readSys32(a + 4);
  return a;
}

/** Set the accessed bit of a code/data descriptor in memory, as the CPU does on load. */
export function setAccessed(addr: u32): void {
  if ((descHi & (AR_ACCESSED << 8)) == 0) {
    descHi |= AR_ACCESSED << 8;
    writeSys8(addr + 5, (descHi >>> 8) & 0xff);
  }
}

/**
 * Load a data or stack segment register (MOV/POP Sreg, LDS...) with all protected-mode checks.
 * CS is loaded only by control transfers (cpu/transfer.ts).
 */
export function loadSeg(seg: u32, sel: u32): void {
  sel &= 0xffff;
  if (!protectedMode) {
    const s = segSlot(seg);
    let ar = load<u32>(s + SEG_ACCESS);
    let limit = load<u32>(s + SEG_LIMIT);
    if (v86Mode) { ar = AR_P | AR_S | AR_RW | AR_ACCESSED | (3 << AR_DPL_SHIFT); limit = 0xffff; }
    setSegCache(seg, sel, sel << 4, limit, ar);
    return;
  }
  const rpl = sel & 3;
  if ((sel & 0xfffc) == 0) {
    if (seg == SEG_SS) raiseFault(EXC_GP, 0);
    setSegCache(seg, sel, 0, 0, 0); // null selector: loads, but any use faults
    return;
  }
  const addr = readDesc(sel, EXC_GP);
  const ar = descAccess(descHi);
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  const err = <i32>(sel & 0xfffc);
  if ((ar & AR_S) == 0) raiseFault(EXC_GP, err);
  if (seg == SEG_SS) {
    if (rpl != cplLive || dpl != cplLive || (ar & AR_CODE) != 0 || (ar & AR_RW) == 0) raiseFault(EXC_GP, err);
    if ((ar & AR_P) == 0) raiseFault(EXC_SS, err);
  } else {
    if ((ar & AR_CODE) != 0 && (ar & AR_RW) == 0) raiseFault(EXC_GP, err); // execute-only code
    const conformingCode = (ar & (AR_CODE | AR_DC)) == (AR_CODE | AR_DC);
    if (!conformingCode && (dpl < cplLive || dpl < rpl)) raiseFault(EXC_GP, err);
    if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
  }
  setAccessed(addr);
  setSegCache(seg, sel, descBase(descLo, descHi), descLimit(descLo, descHi), descAccess(descHi));
}

/** After a privilege drop (RET/IRET to an outer level): data segments the new CPL may not use become null. */
export function nullInvalidSegments(): void {
  for (let seg: u32 = SEG_ES; seg <= SEG_GS; seg++) {
    if (seg == SEG_CS || seg == SEG_SS) continue;
    const s = segSlot(seg);
    const ar = load<u32>(s + SEG_ACCESS);
    const dpl = (ar >>> AR_DPL_SHIFT) & 3;
    const isData = (ar & AR_CODE) == 0;
    const conforming = (ar & (AR_CODE | AR_DC)) == (AR_CODE | AR_DC);
    if ((isData || !conforming) && dpl < cplLive) {
      setSegCache(seg, 0, 0, 0, 0);
    }
  }
}

/** Real-mode style load for reset and mode switches: selector, base = selector * 16. */
export function loadSegReal(seg: u32, sel: u32): void {
  const s = segSlot(seg);
  setSegCache(seg, sel, (sel & 0xffff) << 4, load<u32>(s + SEG_LIMIT), load<u32>(s + SEG_ACCESS));
}
