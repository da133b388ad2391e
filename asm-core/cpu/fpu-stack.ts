// The x87 register stack and status (cpu/fpu.ts has the map of the files): ST(i), tags, TOP,
// push and pop with their stack faults, FCW and FSW, FERR#, and writing arithmetic and compare
// results into the stack under the exception masks.
//
// State (cpu/state.ts, OFF_FPU_*): physical registers R0..R7 in 16-byte slots (+0 significand,
// +8 sign/exponent), FCW, FSW (TOP in bits 11..13), the full 2-bit tag word (recomputed from the
// contents whenever a register is written), FOP, FIP/FCS and FDP/FDS.

import {
  STATE, OFF_FPU_REGS, OFF_FPU_FCW, OFF_FPU_FSW, OFF_FPU_FTW, OFF_FERR, EXC_UD,
} from './state';
import { raiseFault } from './fault';
import { setArithFlags } from './flags';
import {
  f80Control, f80Status, f80Se, f80Sig, f80Class, f80Add, f80Mul, f80Div, f80Compare, FSW_IE,
  FSW_DE, FSW_ZE, FSW_OE, FSW_UE, FSW_SF, FSW_ES, FSW_B, FSW_C0, FSW_C1, FSW_C2, FSW_C3, FSW_TOP,
  FSW_TOP_SHIFT, FSW_EXC, FCW_IM, CLS_ZERO, CLS_NORMAL, CMP_GT, CMP_LT, CMP_EQ, INDEF_SE, INDEF_SIG,
} from './float80';

@external("env", "ferr") declare function ferr(level: u32): void;

// Tag values (2 bits per physical register).
const TAG_VALID: u32 = 0;
const TAG_ZERO: u32 = 1;
const TAG_SPECIAL: u32 = 2;
export const TAG_EMPTY: u32 = 3;

export const FCW_INIT: u32 = 0x037f; // FNINIT: all masked, 64-bit precision, round to nearest
export const FCW_RESET: u32 = 0x0040; // after RESET on the P6 family
export const J_BIT: u64 = 0x8000000000000000;
/** Bits of FCW that exist (bit 6 reads as 1, bits 13..15 as 0 on the P6). */
const FCW_WRITABLE: u32 = 0x1f3f;

// ---- register file ----

@inline export function fcw(): u32 { return load<u16>(STATE + OFF_FPU_FCW); }
@inline export function fsw(): u32 { return load<u16>(STATE + OFF_FPU_FSW); }
@inline export function setFsw(v: u32): void { store<u16>(STATE + OFF_FPU_FSW, <u16>v); }
@inline export function ftw(): u32 { return load<u16>(STATE + OFF_FPU_FTW); }
@inline export function setFtw(v: u32): void { store<u16>(STATE + OFF_FPU_FTW, <u16>v); }
@inline export function top(): u32 { return (fsw() >> FSW_TOP_SHIFT) & 7; }
@inline export function setTop(t: u32): void { setFsw((fsw() & ~FSW_TOP) | ((t & 7) << FSW_TOP_SHIFT)); }
@inline export function phys(i: u32): u32 { return (top() + i) & 7; }
@inline export function regAddr(p: u32): u32 { return STATE + OFF_FPU_REGS + (p << 4); }
@inline export function physTag(p: u32): u32 { return (ftw() >> (p << 1)) & 3; }
@inline export function isEmpty(i: u32): bool { return physTag(phys(i)) == TAG_EMPTY; }

export function setPhysTag(p: u32, t: u32): void { setFtw((ftw() & ~(3 << (p << 1))) | (t << (p << 1))); }

export function tagOf(se: u32, sig: u64): u32 {
  const c = f80Class(se, sig);
  if (c == CLS_ZERO) return TAG_ZERO;
  if (c == CLS_NORMAL) return TAG_VALID;
  return TAG_SPECIAL;
}

// ST(i) read into these
export let stSe: u32 = 0;
export let stSig: u64 = 0;
export function readST(i: u32): void {
  const a = regAddr(phys(i));
  stSig = load<u64>(a); stSe = load<u16>(a + 8);
}
export function writeST(i: u32, se: u32, sig: u64): void {
  const p = phys(i);
  const a = regAddr(p);
  store<u64>(a, sig); store<u16>(a + 8, <u16>se);
  setPhysTag(p, tagOf(se, sig));
}
export function pop(): void {
  setPhysTag(phys(0), TAG_EMPTY);
  setTop(top() + 1);
}

// ---- status bookkeeping ----

/** Adds float80's flags for this instruction into FSW (C1 is owned by the caller). */
export function mergeStatus(s: u32, condMask: u32): void {
  setFsw((fsw() & ~condMask) | (s & (FSW_EXC | condMask)));
}

/** True when the unmasked exceptions in `s` forbid writing the destination. */
export function blockedPre(s: u32): bool { return (s & ~fcw() & (FSW_IE | FSW_DE | FSW_ZE)) != 0; }
export function blockedMem(s: u32): bool { return (s & ~fcw() & (FSW_IE | FSW_DE | FSW_ZE | FSW_OE | FSW_UE)) != 0; }

/** Stack underflow: IE and SF with C1 = 0. True when masked (the caller writes an indefinite). */
export function stackUnderflow(): bool {
  setFsw((fsw() & ~FSW_C1) | FSW_IE | FSW_SF);
  return (fcw() & FCW_IM) != 0;
}
/** Stack overflow: IE and SF with C1 = 1. */
export function stackOverflow(): bool {
  setFsw(fsw() | FSW_IE | FSW_SF | FSW_C1);
  return (fcw() & FCW_IM) != 0;
}

/** FERR# as last signalled; in the state block, so a snapshot keeps it. */
@inline export function ferrLevel(): u32 { return load<u32>(STATE + OFF_FERR); }
export function setFerr(level: u32): void { store<u32>(STATE + OFF_FERR, level); ferr(level); }
/** ES and B follow the unmasked exception flags; FERR# follows ES. */
export function updateSummary(): void {
  let s = fsw();
  if ((s & ~fcw() & FSW_EXC) != 0) s |= FSW_ES | FSW_B; else s &= ~(FSW_ES | FSW_B);
  setFsw(s);
  if ((s & FSW_ES) == 0 && ferrLevel() != 0) setFerr(0);
}

/** Prepares float80 for one operation under the current FCW. */
@inline export function begin(): void { f80Control = fcw(); f80Status = 0; }

/** Pushes after a stack fault was reported: no overflow check, the new ST0 is overwritten. */
export function pushOver(se: u32, sig: u64): void {
  setTop(top() - 1);
  writeST(0, se, sig);
}

/** Pushes a value (stack overflow when the new ST0 is in use). */
export function push(se: u32, sig: u64): void {
  if (!isEmpty(7)) {
    if (!stackOverflow()) return;
    se = INDEF_SE; sig = INDEF_SIG;
  }
  setTop(top() - 1);
  writeST(0, se, sig);
}

export function setFcw(v: u32): void {
  store<u16>(STATE + OFF_FPU_FCW, <u16>((v & FCW_WRITABLE) | 0x40));
}

// ---- arithmetic group ----

/** dst op src for reg field 0..7 of D8/DC/DA/DE (2, 3 are compares, handled elsewhere). */
export function arith(reg: u32, dSe: u32, dSig: u64, sSe: u32, sSig: u64): void {
  switch (reg) {
    case 0: f80Add(dSe, dSig, sSe, sSig, false); break;
    case 1: f80Mul(dSe, dSig, sSe, sSig); break;
    case 4: f80Add(dSe, dSig, sSe, sSig, true); break;
    case 5: f80Add(sSe, sSig, dSe, dSig, true); break;
    case 6: f80Div(dSe, dSig, sSe, sSig); break;
    default: f80Div(sSe, sSig, dSe, dSig); break;
  }
}

/** Writes an arithmetic result to ST(i) unless an unmasked exception forbids it; pops if asked. */
export function finishArith(i: u32, popAfter: bool): void {
  const s = f80Status;
  mergeStatus(s, FSW_C1);
  if (blockedPre(s)) return;
  writeST(i, f80Se, f80Sig);
  if (popAfter) pop();
}

/** Condition codes of a compare. */
export function setCompareCodes(r: u32): void {
  let c: u32 = 0;
  if (r == CMP_LT) c = FSW_C0;
  else if (r == CMP_EQ) c = FSW_C3;
  else if (r != CMP_GT) c = FSW_C0 | FSW_C2 | FSW_C3;
  setFsw((fsw() & ~(FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)) | c);
}

/** FCOM-family on ST0 against (se, sig); pops `pops` times unless blocked. */
export function compare(se: u32, sig: u64, quiet: bool, pops: u32): void {
  begin();
  readST(0);
  const r = f80Compare(stSe, stSig, se, sig, quiet);
  mergeStatus(f80Status, 0);
  setCompareCodes(r); // set even when an unmasked IE or DE holds off the pop
  if (blockedPre(f80Status)) return;
  for (let k: u32 = 0; k < pops; k++) pop();
}

/** FCOMI-family: EFLAGS ZF/PF/CF. */
export function compareEflags(i: u32, quiet: bool, popAfter: bool): void {
  if (isEmpty(0) || isEmpty(i)) { // unordered, also when the IE is unmasked (then no pop)
    const masked = stackUnderflow();
    setArithFlags(true, true, true);
    if (masked && popAfter) pop();
    return;
  }
  begin();
  readST(i);
  const bSe = stSe, bSig = stSig;
  readST(0);
  const r = f80Compare(stSe, stSig, bSe, bSig, quiet);
  mergeStatus(f80Status, 0); // C0 C1 C2 C3 stay as they were
  setArithFlags(r == CMP_EQ || r > CMP_EQ, r > CMP_EQ, r == CMP_LT || r > CMP_EQ);
  if (blockedPre(f80Status)) return;
  if (popAfter) pop();
}

/** Pushes a loaded value: C1 = 0 unless the push overflows. */
export function pushChecked(se: u32, sig: u64): void {
  setFsw(fsw() & ~FSW_C1);
  push(se, sig);
}

/** #UD, for an ESC form the P6 does not define. */
@inline export function ud(): void { raiseFault(EXC_UD, -1); }
