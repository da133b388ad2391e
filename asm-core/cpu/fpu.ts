// The x87 FPU (as in the Pentium Pro): register stack, tags, control/status words, exception
// reporting, the ESC opcode map D8..DF, environment save/restore and FXSAVE/FXRSTOR. The
// arithmetic itself is float80.ts; this file decides which registers and memory it reads and
// writes, and what masked and unmasked exceptions do to them.
//
// State (cpu/state.ts, OFF_FPU_*): physical registers R0..R7 in 16-byte slots (+0 significand,
// +8 sign/exponent), FCW, FSW (TOP in bits 11..13), the full 2-bit tag word (recomputed from the
// contents whenever a register is written), FOP, FIP/FCS and FDP/FDS.

import {
  STATE, OFF_FPU_REGS, OFF_FPU_FCW, OFF_FPU_FSW, OFF_FPU_FTW, OFF_FPU_FOP, OFF_FPU_FIP, OFF_FPU_FCS,
  OFF_FPU_FDP, OFF_FPU_FDS, OFF_FPU_MXCSR, OFF_FERR, SEG_CS, segSelector, cr0, CR0_EM, CR0_TS, CR0_MP, CR0_NE,
  EXC_NM, EXC_MF, EXC_UD, EXC_GP, FLAG_ZF, FLAG_PF, FLAG_CF, REG_EAX, setReg16,
} from './state';
import { instrStart, protectedMode } from './live';
import { raiseFault } from './fault';
import { getEflags, setArithFlags } from './flags';
import { readLin8, readLin16, readLin32, writeLin8, writeLin16, writeLin32, checkWriteLin } from '../mmu/access';
import {
  f80Control, f80Status, f80Se, f80Sig, f80Se2, f80Sig2, f80BcdLo, f80BcdHi,
  f80Class, f80Add, f80Mul, f80Div, f80Sqrt, f80Rem, f80RoundInt, f80Scale, f80Extract, f80Compare,
  ddSinCos, ddToF80, ddDiv, LN2_H, LN2_L, ddMul, ddExpm1, ddLog2, ddLog2p1, ddAtan2, f80ToDD, ddH, ddL, sinH, sinL, cosH, cosL,
  f80FromF32, f80FromF64, f80ToF32, f80ToF64, f80ToInt, f80FromInt, f80FromBcd, f80ToBcd, f80Const,
  FSW_IE, FSW_DE, FSW_ZE, FSW_OE, FSW_UE, FSW_PE, FSW_SF, FSW_ES, FSW_B, FSW_C0, FSW_C1, FSW_C2, FSW_C3,
  FSW_TOP, FSW_TOP_SHIFT, FSW_EXC, FCW_IM, CLS_ZERO, CLS_DENORMAL, CLS_NORMAL, CLS_INF, CLS_QNAN,
  CLS_SNAN, CLS_UNSUPPORTED, CMP_GT, CMP_LT, CMP_EQ, INDEF_SE, INDEF_SIG, RC_NEAREST, FCW_RC_SHIFT,
} from './float80';

@external("env", "ferr") declare function ferr(level: u32): void;

// Tag values (2 bits per physical register).
const TAG_VALID: u32 = 0;
const TAG_ZERO: u32 = 1;
const TAG_SPECIAL: u32 = 2;
const TAG_EMPTY: u32 = 3;

const FCW_INIT: u32 = 0x037f; // FNINIT: all masked, 64-bit precision, round to nearest
const FCW_RESET: u32 = 0x0040; // after RESET on the P6 family
const J_BIT: u64 = 0x8000000000000000;
/** Bits of FCW that exist (bit 6 reads as 1, bits 13..15 as 0 on the P6). */
const FCW_WRITABLE: u32 = 0x1f3f;

// ---- register file ----

@inline function fcw(): u32 { return load<u16>(STATE + OFF_FPU_FCW); }
@inline function fsw(): u32 { return load<u16>(STATE + OFF_FPU_FSW); }
@inline function setFsw(v: u32): void { store<u16>(STATE + OFF_FPU_FSW, <u16>v); }
@inline function ftw(): u32 { return load<u16>(STATE + OFF_FPU_FTW); }
@inline function setFtw(v: u32): void { store<u16>(STATE + OFF_FPU_FTW, <u16>v); }
@inline function top(): u32 { return (fsw() >> FSW_TOP_SHIFT) & 7; }
@inline function setTop(t: u32): void { setFsw((fsw() & ~FSW_TOP) | ((t & 7) << FSW_TOP_SHIFT)); }
@inline function phys(i: u32): u32 { return (top() + i) & 7; }
@inline function regAddr(p: u32): u32 { return STATE + OFF_FPU_REGS + (p << 4); }
@inline function physTag(p: u32): u32 { return (ftw() >> (p << 1)) & 3; }
@inline function isEmpty(i: u32): bool { return physTag(phys(i)) == TAG_EMPTY; }

function setPhysTag(p: u32, t: u32): void { setFtw((ftw() & ~(3 << (p << 1))) | (t << (p << 1))); }

function tagOf(se: u32, sig: u64): u32 {
  const c = f80Class(se, sig);
  if (c == CLS_ZERO) return TAG_ZERO;
  if (c == CLS_NORMAL) return TAG_VALID;
  return TAG_SPECIAL;
}

// ST(i) read into these
let stSe: u32 = 0;
let stSig: u64 = 0;
function readST(i: u32): void {
  const a = regAddr(phys(i));
  stSig = load<u64>(a); stSe = load<u16>(a + 8);
}
function writeST(i: u32, se: u32, sig: u64): void {
  const p = phys(i);
  const a = regAddr(p);
  store<u64>(a, sig); store<u16>(a + 8, <u16>se);
  setPhysTag(p, tagOf(se, sig));
}
function pop(): void {
  setPhysTag(phys(0), TAG_EMPTY);
  setTop(top() + 1);
}

// ---- status bookkeeping ----

/** Adds float80's flags for this instruction into FSW (C1 is owned by the caller). */
function mergeStatus(s: u32, condMask: u32): void {
  setFsw((fsw() & ~condMask) | (s & (FSW_EXC | condMask)));
}

/** True when the unmasked exceptions in `s` forbid writing the destination. */
function blockedPre(s: u32): bool { return (s & ~fcw() & (FSW_IE | FSW_DE | FSW_ZE)) != 0; }
function blockedMem(s: u32): bool { return (s & ~fcw() & (FSW_IE | FSW_DE | FSW_ZE | FSW_OE | FSW_UE)) != 0; }

/** Stack underflow: IE and SF with C1 = 0. True when masked (the caller writes an indefinite). */
function stackUnderflow(): bool {
  setFsw((fsw() & ~FSW_C1) | FSW_IE | FSW_SF);
  return (fcw() & FCW_IM) != 0;
}
/** Stack overflow: IE and SF with C1 = 1. */
function stackOverflow(): bool {
  setFsw(fsw() | FSW_IE | FSW_SF | FSW_C1);
  return (fcw() & FCW_IM) != 0;
}

/** FERR# as last signalled; in the state block, so a snapshot keeps it. */
@inline function ferrLevel(): u32 { return load<u32>(STATE + OFF_FERR); }
function setFerr(level: u32): void { store<u32>(STATE + OFF_FERR, level); ferr(level); }
/** ES and B follow the unmasked exception flags; FERR# follows ES. */
function updateSummary(): void {
  let s = fsw();
  if ((s & ~fcw() & FSW_EXC) != 0) s |= FSW_ES | FSW_B; else s &= ~(FSW_ES | FSW_B);
  setFsw(s);
  if ((s & FSW_ES) == 0 && ferrLevel() != 0) setFerr(0);
}

/** Prepares float80 for one operation under the current FCW. */
@inline function begin(): void { f80Control = fcw(); f80Status = 0; }

/** Pushes after a stack fault was reported: no overflow check, the new ST0 is overwritten. */
function pushOver(se: u32, sig: u64): void {
  setTop(top() - 1);
  writeST(0, se, sig);
}

/** Pushes a value (stack overflow when the new ST0 is in use). */
function push(se: u32, sig: u64): void {
  if (!isEmpty(7)) {
    if (!stackOverflow()) return;
    se = INDEF_SE; sig = INDEF_SIG;
  }
  setTop(top() - 1);
  writeST(0, se, sig);
}

// ---- memory operands ----

let memSe: u32 = 0;
let memSig: u64 = 0;
function readM80(lin: u32): void {
  const lo = readLin32(lin), hi = readLin32(lin + 4);
  memSe = readLin16(lin + 8);
  memSig = (<u64>hi << 32) | <u64>lo;
}
function writeM80(lin: u32, se: u32, sig: u64): void {
  writeM64(lin, sig); writeLin16(lin + 8, se);
}
function readM64(lin: u32): u64 { const lo = readLin32(lin); return (<u64>readLin32(lin + 4) << 32) | <u64>lo; }
function writeM64(lin: u32, v: u64): void {
  checkWriteLin(lin, 8);
  writeLin32(lin, <u32>v); writeLin32(lin + 4, <u32>(v >> 32));
}

/** Reads the raw memory operand of the arithmetic group (m32fp, m64fp, m32int, m16int). */
function readArithRaw(opcode: u32, lin: u32): u64 {
  if (opcode == 0xdc) return readM64(lin);
  if (opcode == 0xde) return <u64>readLin16(lin);
  return <u64>readLin32(lin);
}

/**
 * Converts a memory source operand of the arithmetic group (D8/DA/DC/DE) into memSe/memSig.
 * NaNs keep their signalling bit so that the arithmetic applies the two-NaN rules; a denormal
 * signals DE here. Returns false when an unmasked exception stops the instruction.
 */
function loadArithOperand(opcode: u32, reg: u32, raw: u64): bool {
  begin();
  if (opcode == 0xd8) {
    const v = <u32>raw;
    if ((v & 0x7f800000) == 0x7f800000 && (v & 0x7fffff) != 0) {
      memSe = ((v >> 31) << 15) | 0x7fff; memSig = J_BIT | (<u64>(v & 0x7fffff) << 40); return true;
    }
    f80FromF32(v);
  } else if (opcode == 0xdc) {
    const v = raw;
    if ((v & 0x7ff0000000000000) == 0x7ff0000000000000 && (v & 0xfffffffffffff) != 0) {
      memSe = (<u32>(v >> 63) << 15) | 0x7fff; memSig = J_BIT | ((v & 0xfffffffffffff) << 11); return true;
    }
    f80FromF64(v);
  } else if (opcode == 0xda) {
    f80FromInt(<i64><i32><u32>raw);
  } else {
    f80FromInt(<i64><i16><u16>raw);
  }
  memSe = f80Se; memSig = f80Sig;
  if (f80Status != 0) { // a denormal single/double: DE, unless ST0's NaN decides the result
    const k = f80Class(load<u16>(regAddr(phys(0)) + 8), load<u64>(regAddr(phys(0))));
    if (k == CLS_QNAN || k == CLS_SNAN || k == CLS_UNSUPPORTED) { f80Status = 0; return true; }
    if (k == CLS_ZERO && reg == 7) { f80Status = 0; return true; } // FDIVR by a zero ST0: ZE wins
    mergeStatus(f80Status, 0);
    if (blockedPre(f80Status)) return false;
  }
  return true;
}

// ---- arithmetic group ----

/** dst op src for reg field 0..7 of D8/DC/DA/DE (2, 3 are compares, handled elsewhere). */
function arith(reg: u32, dSe: u32, dSig: u64, sSe: u32, sSig: u64): void {
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
function finishArith(i: u32, popAfter: bool): void {
  const s = f80Status;
  mergeStatus(s, FSW_C1);
  if (blockedPre(s)) return;
  writeST(i, f80Se, f80Sig);
  if (popAfter) pop();
}

/** Condition codes of a compare. */
function setCompareCodes(r: u32): void {
  let c: u32 = 0;
  if (r == CMP_LT) c = FSW_C0;
  else if (r == CMP_EQ) c = FSW_C3;
  else if (r != CMP_GT) c = FSW_C0 | FSW_C2 | FSW_C3;
  setFsw((fsw() & ~(FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)) | c);
}

/** FCOM-family on ST0 against (se, sig); pops `pops` times unless blocked. */
function compare(se: u32, sig: u64, quiet: bool, pops: u32): void {
  begin();
  readST(0);
  const r = f80Compare(stSe, stSig, se, sig, quiet);
  mergeStatus(f80Status, 0);
  setCompareCodes(r); // set even when an unmasked IE or DE holds off the pop
  if (blockedPre(f80Status)) return;
  for (let k: u32 = 0; k < pops; k++) pop();
}

/** FCOMI-family: EFLAGS ZF/PF/CF. */
function compareEflags(i: u32, quiet: bool, popAfter: bool): void {
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

// ---- transcendental helpers (f64 only for special operands: zeros, infinities, signs) ----

function toHost(se: u32, sig: u64): f64 {
  const c = f80Control, s = f80Status;
  f80Control = FCW_INIT;
  const bits = f80ToF64(se, sig);
  f80Control = c; f80Status = s;
  return reinterpret<f64>(bits);
}
/** Rounds an f64 result into f80Se/f80Sig (exact) and flags it as inexact. */
function fromHost(x: f64): void {
  const s = f80Status;
  f80FromF64(reinterpret<u64>(x));
  f80Status = s | FSW_PE;
}

const LN2: f64 = 0.6931471805599453;
const TWO63: f64 = 9223372036854775808.0;

// ---- the opcode map ----

@inline function ud(): void { raiseFault(EXC_UD, -1); }

export function fpuExecute(opcode: u32, modrm: u32, lin: u32, dataOff: u32, dataSel: u32, o32: bool): void {
  const c0 = cr0();
  if ((c0 & (CR0_EM | CR0_TS)) != 0) raiseFault(EXC_NM, -1);
  const mem = modrm < 0xc0;
  if (fpuUndefined(opcode, modrm, mem)) ud(); // #UD comes before a pending #MF
  if (!isNoWait(opcode, modrm, mem) && (fsw() & FSW_ES) != 0) {
    if ((c0 & CR0_NE) != 0) raiseFault(EXC_MF, -1);
    if (ferrLevel() == 0) setFerr(1);
  }
  fpuRun(opcode, modrm, lin, dataOff, dataSel, o32);
}

/**
 * Neither #NM nor a pending unmasked exception stands in the way of the next x87 instruction:
 * fpuRun may then run any defined one whose memory operand it can reach without a fault, and
 * raises nothing. Translated code (jit/helpers.ts jitX87) calls fpuRun or fpuRunDouble only
 * then, and otherwise leaves the instruction to fpuExecute, which raises them in their order.
 */
export function fpuQuiet(): bool { return (cr0() & (CR0_EM | CR0_TS)) == 0 && (fsw() & FSW_ES) == 0; }
/** FSW, for FNSTSW AX in translated code. */
export function fpuStatus(): u32 { return fsw(); }

/** A defined x87 instruction, after fpuExecute's #NM, #UD and #MF checks. */
export function fpuRun(opcode: u32, modrm: u32, lin: u32, dataOff: u32, dataSel: u32, o32: bool): void {
  const reg = (modrm >> 3) & 7, rm = modrm & 7;
  const mem = modrm < 0xc0;
  if (mem) execMem(opcode, reg, lin, o32);
  else execReg(opcode, reg, rm, modrm);
  fpuDone(opcode, modrm, dataOff, dataSel);
}

/**
 * FLD, FST and FSTP of a double at host address `host` in RAM, which translated code found on
 * the TLB's fast path for the access (jit/helpers.ts jitX87): as fpuRun, without its dispatch and
 * its accesses' checks. False, having done nothing, for any other instruction.
 */
export function fpuRunDouble(opcode: u32, modrm: u32, host: usize, dataOff: u32, dataSel: u32): bool {
  const reg = (modrm >> 3) & 7;
  if (opcode != 0xdd || modrm >= 0xc0 || (reg != 0 && reg != 2 && reg != 3)) return false;
  if (reg == 0) loadDouble(load<u64>(host));
  else if (isEmpty(0)) {
    if (storeUnderflow()) { store<u64>(host, 0xfff8000000000000); stackUnderflow(); if (reg == 3) pop(); }
  } else {
    const s = storeValue(64);
    mergeStatus(s, FSW_C1);
    if (!blockedMem(s)) { store<u64>(host, stored); if (reg == 3) pop(); }
  }
  fpuDone(opcode, modrm, dataOff, dataSel);
  return true;
}

/** After an instruction that got through: the instruction and data pointers, and ES, B and FERR#. */
function fpuDone(opcode: u32, modrm: u32, dataOff: u32, dataSel: u32): void {
  const mem = modrm < 0xc0;
  // the instruction and data pointers move only when the instruction got through (#UD and
  // memory faults leave the previous ones for the handler)
  if (!isControl(opcode, modrm, mem)) {
    store<u32>(STATE + OFF_FPU_FIP, instrStart);
    store<u32>(STATE + OFF_FPU_FCS, segSelector(SEG_CS));
    store<u16>(STATE + OFF_FPU_FOP, <u16>(((opcode & 7) << 8) | modrm));
    if (mem) {
      store<u32>(STATE + OFF_FPU_FDP, dataOff);
      store<u32>(STATE + OFF_FPU_FDS, dataSel);
    }
  }
  updateSummary();
}

/** The control instructions, which do not update FIP/FOP/FDP. */
function isControl(opcode: u32, modrm: u32, mem: bool): bool {
  if (mem) {
    const reg = (modrm >> 3) & 7;
    if (opcode == 0xd9) return reg >= 4; // FLDENV FLDCW FNSTENV FNSTCW
    if (opcode == 0xdd) return reg == 4 || reg == 6 || reg == 7; // FRSTOR FNSAVE FNSTSW
    return false;
  }
  if (opcode == 0xdb) return modrm >= 0xe0 && modrm <= 0xe4; // FNENI FNDISI FNCLEX FNINIT FNSETPM
  if (opcode == 0xdf) return modrm == 0xe0; // FNSTSW AX
  return false;
}

/** The no-wait instructions, which do not report a pending unmasked exception (FLDENV, FLDCW
 *  and FRSTOR are control instructions but do). */
function isNoWait(opcode: u32, modrm: u32, mem: bool): bool {
  if (mem) {
    const reg = (modrm >> 3) & 7;
    if (opcode == 0xd9) return reg == 6 || reg == 7; // FNSTENV FNSTCW
    if (opcode == 0xdd) return reg == 6 || reg == 7; // FNSAVE FNSTSW
    return false;
  }
  return isControl(opcode, modrm, false);
}

/** Encodings with no instruction on this CPU (FISTTP is SSE3, so DB/DD/DF /1 too). */
export function fpuUndefined(opcode: u32, modrm: u32, mem: bool): bool {
  const reg = (modrm >> 3) & 7;
  if (mem) {
    if (opcode == 0xd9) return reg == 1;
    if (opcode == 0xdb) return reg == 1 || reg == 4 || reg == 6;
    if (opcode == 0xdd) return reg == 1 || reg == 5;
    if (opcode == 0xdf) return reg == 1;
    return false;
  }
  switch (opcode) {
    case 0xd9: return (modrm >= 0xd1 && modrm <= 0xd7) || modrm == 0xe2 || modrm == 0xe3 || modrm == 0xe6 || modrm == 0xe7 || modrm == 0xef;
    case 0xda: return reg >= 4 && modrm != 0xe9;
    case 0xdb: return (modrm >= 0xe5 && modrm <= 0xe7) || modrm >= 0xf8;
    case 0xdd: return modrm >= 0xf0;
    case 0xde: return modrm == 0xd8 || (modrm >= 0xda && modrm <= 0xdf);
    case 0xdf: return (modrm >= 0xe1 && modrm <= 0xe7) || modrm >= 0xf8;
  }
  return false;
}

function execMem(opcode: u32, reg: u32, lin: u32, o32: bool): void {
  switch (opcode) {
    case 0xd8: case 0xda: case 0xdc: case 0xde: {
      const raw = readArithRaw(opcode, lin); // a #PF comes before any stack fault
      if (isEmpty(0)) {
        if (reg == 2 || reg == 3) { const masked = stackUnderflow(); setCompareCodes(3); if (masked && reg == 3) pop(); return; }
        if (stackUnderflow()) writeST(0, INDEF_SE, INDEF_SIG);
        return;
      }
      const ok = loadArithOperand(opcode, reg, raw);
      const sSe = memSe, sSig = memSig;
      // a compare still sets the condition codes when an unmasked DE holds it (but no pop)
      if (reg == 2 || reg == 3) { compare(sSe, sSig, false, reg == 3 && ok ? 1 : 0); return; }
      if (!ok) { setFsw(fsw() & ~FSW_C1); return; }
      begin();
      readST(0);
      arith(reg, stSe, stSig, sSe, sSig);
      finishArith(0, false);
      return;
    }
    case 0xd9:
      switch (reg) {
        case 0: { // FLD m32fp
          const v = readLin32(lin);
          if (overflowFirst()) return;
          begin(); f80FromF32(v); loadResult();
          return;
        }
        case 2: case 3: storeFloat(lin, 32, reg == 3); return;
        case 4: ldenv(lin, o32); return;
        case 5: setFcw(readLin16(lin)); return;
        case 6: stenv(lin, o32); setFcw(fcw() | 0x3f); return;
        case 7: writeLin16(lin, fcw()); return;
        default: ud(); return;
      }
    case 0xdb:
      switch (reg) {
        case 0: begin(); f80FromInt(<i64><i32>readLin32(lin)); loadResult(); return;
        case 2: case 3: storeInt(lin, 32, reg == 3); return;
        case 5: readM80(lin); pushChecked(memSe, memSig); return;
        case 7: { // FSTP m80fp: the significand is written first, then sign and exponent
          if (isEmpty(0)) {
            if (!storeUnderflow()) return;
            writeM80(lin, INDEF_SE, INDEF_SIG); stackUnderflow(); pop(); return;
          }
          readST(0); writeM80(lin, stSe, stSig); setFsw(fsw() & ~FSW_C1); pop(); return;
        }
        default: ud(); return;
      }
    case 0xdd:
      switch (reg) {
        case 0: loadDouble(readM64(lin)); return; // FLD m64fp
        case 2: case 3: storeFloat(lin, 64, reg == 3); return;
        case 4: frstor(lin, o32); return;
        case 6: fsave(lin, o32); return;
        case 7: writeLin16(lin, fsw()); return;
        default: ud(); return;
      }
    case 0xdf:
      switch (reg) {
        case 0: begin(); f80FromInt(<i64><i16><u16>readLin16(lin)); loadResult(); return;
        case 2: case 3: storeInt(lin, 16, reg == 3); return;
        case 4: { // FBLD
          const lo = readM64(lin); const hi = readLin16(lin + 8);
          begin(); f80FromBcd(lo, hi); loadResult(); return;
        }
        case 5: begin(); f80FromInt(<i64>readM64(lin)); loadResult(); return;
        case 6: { // FBSTP (written like FSTP m80fp: low 8 bytes, then the top 2)
          if (isEmpty(0)) {
            if (!storeUnderflow()) return;
            writeM64(lin, 0xc000000000000000); writeLin16(lin + 8, 0xffff); stackUnderflow(); pop(); return;
          }
          readST(0); begin(); f80ToBcd(stSe, stSig);
          const s = f80Status;
          if (blockedMem(s)) { mergeStatus(s, FSW_C1); return; }
          writeM64(lin, f80BcdLo); writeLin16(lin + 8, f80BcdHi);
          mergeStatus(s, FSW_C1); pop(); return;
        }
        case 7: storeInt(lin, 64, true); return;
        default: ud(); return;
      }
  }
}

/** A load onto a full stack reports only the overflow (no IE/DE from converting its operand). */
function overflowFirst(): bool {
  if (isEmpty(7)) return false;
  push(INDEF_SE, INDEF_SIG);
  return true;
}

/** Pushes the result of a load conversion in f80Se/f80Sig (unless an unmasked IE/DE). */
function loadResult(): void {
  const s = f80Status;
  mergeStatus(s, FSW_C1);
  setFsw(fsw() & ~FSW_C1);
  if (blockedPre(s & FSW_IE)) return; // an unmasked DE still loads the (normalized) value
  pushChecked(f80Se, f80Sig);
}
function pushChecked(se: u32, sig: u64): void {
  setFsw(fsw() & ~FSW_C1);
  push(se, sig);
}

// Stores: an unmasked exception suppresses the store before memory is touched; otherwise the
// destination is checked (a #PF leaves the FPU as it was) before the status is merged.

/** Stack underflow of a store: true when masked and the caller stores the indefinite. The
 *  masked case reports only after the store got through. */
function storeUnderflow(): bool {
  if ((fcw() & FCW_IM) == 0) { stackUnderflow(); return false; }
  return true;
}

/** FLD m64fp of the double `v` (read before: a #PF comes before a stack fault). */
function loadDouble(v: u64): void {
  if (overflowFirst()) return;
  begin(); f80FromF64(v); loadResult();
}

function storeFloat(lin: u32, bits: u32, popAfter: bool): void {
  if (isEmpty(0)) {
    if (!storeUnderflow()) return;
    if (bits == 32) writeLin32(lin, 0xffc00000); else writeM64(lin, 0xfff8000000000000);
    stackUnderflow();
    if (popAfter) pop();
    return;
  }
  const s = storeValue(bits);
  if (!blockedMem(s)) checkWriteLin(lin, bits >> 3);
  mergeStatus(s, FSW_C1);
  if (blockedMem(s)) return;
  if (bits == 32) writeLin32(lin, <u32>stored); else writeM64(lin, stored);
  if (popAfter) pop();
}

/** What FST m32fp or m64fp of a non-empty ST0 stores, into `stored`; returns its status, not yet merged. */
let stored: u64 = 0;
function storeValue(bits: u32): u32 {
  readST(0);
  begin();
  stored = bits == 32 ? <u64>f80ToF32(stSe, stSig) : f80ToF64(stSe, stSig);
  return f80Status;
}

function storeInt(lin: u32, bits: u32, popAfter: bool): void {
  let v: u64;
  if (isEmpty(0)) {
    if (!storeUnderflow()) return;
    checkWriteLin(lin, bits >> 3);
    stackUnderflow();
    v = (<u64>1) << (bits - 1);
  } else {
    readST(0);
    begin();
    v = f80ToInt(stSe, stSig, bits);
    const s = f80Status;
    if (!blockedMem(s)) checkWriteLin(lin, bits >> 3);
    mergeStatus(s, FSW_C1);
    if (blockedMem(s)) return;
  }
  if (bits == 16) writeLin16(lin, <u32>v);
  else if (bits == 32) writeLin32(lin, <u32>v);
  else writeM64(lin, v);
  if (popAfter) pop();
}

function setFcw(v: u32): void {
  store<u16>(STATE + OFF_FPU_FCW, <u16>((v & FCW_WRITABLE) | 0x40));
}

// ---- register forms ----

function execReg(opcode: u32, reg: u32, rm: u32, modrm: u32): void {
  switch (opcode) {
    case 0xd8: regArith(reg, rm, false, false); return;
    case 0xdc: regArith(reg, rm, true, false); return;
    case 0xde:
      if (reg == 3) { if (rm == 1) regCompare(1, false, 2); else ud(); return; } // FCOMPP
      if (reg == 2) { regCompare(rm, false, 1); return; } // FCOMP5 (reserved alias of FCOMP)
      regArith(reg, rm, true, true); return;
    case 0xd9: execD9(reg, rm, modrm); return;
    case 0xda:
      if (reg < 4) { fcmov(reg, rm, false); return; }
      if (modrm == 0xe9) { regCompare(1, true, 2); return; } // FUCOMPP
      ud(); return;
    case 0xdb:
      if (reg < 4) { fcmov(reg, rm, true); return; }
      if (reg == 4) {
        if (rm == 2) { setFsw(fsw() & ~(FSW_EXC | FSW_SF | FSW_ES | FSW_B)); return; } // FNCLEX
        if (rm == 3) { finit(); return; } // FNINIT
        if (rm == 0 || rm == 1 || rm == 4) return; // FNENI, FNDISI, FNSETPM: no-ops on the 387+
        ud(); return;
      }
      if (reg == 5) { compareEflags(rm, true, false); return; } // FUCOMI
      if (reg == 6) { compareEflags(rm, false, false); return; } // FCOMI
      ud(); return;
    case 0xdd:
      switch (reg) {
        case 0: setPhysTag(phys(rm), TAG_EMPTY); setFsw(fsw() & ~FSW_C1); return; // FFREE
        case 1: fxch(rm); return;
        case 2: case 3: fstReg(rm, reg == 3); return;
        case 4: regCompare(rm, true, 0); return; // FUCOM
        case 5: regCompare(rm, true, 1); return; // FUCOMP
        default: ud(); return;
      }
    case 0xdf:
      switch (reg) {
        case 0: setPhysTag(phys(rm), TAG_EMPTY); setFsw(fsw() & ~FSW_C1); pop(); return; // FFREEP
        case 1: fxch(rm); return;
        case 2: case 3: fstReg(rm, true); return;
        case 4: if (rm == 0) { setReg16(REG_EAX, fsw()); return; } ud(); return; // FNSTSW AX
        case 5: compareEflags(rm, true, true); return; // FUCOMIP
        case 6: compareEflags(rm, false, true); return; // FCOMIP
        default: ud(); return;
      }
  }
}

/** D8 (ST0 = ST0 op ST(i)), DC (ST(i) = ST(i) op ST0) and DE (DC, then pop). */
function regArith(reg: u32, i: u32, toSti: bool, popAfter: bool): void {
  if (reg == 2 || reg == 3) { regCompare(i, false, reg == 3 ? 1 : 0); return; }
  const dst: u32 = toSti ? i : 0;
  if (isEmpty(0) || isEmpty(i)) {
    if (!stackUnderflow()) return;
    writeST(dst, INDEF_SE, INDEF_SIG);
    if (popAfter) pop();
    return;
  }
  readST(i); const iSe = stSe, iSig = stSig;
  readST(0); const zSe = stSe, zSig = stSig;
  begin();
  // for DC/DE the reg field names the reverse operation (FSUBR <-> FSUB, FDIVR <-> FDIV)
  const r = toSti && reg >= 4 ? reg ^ 1 : reg;
  if (toSti) arith(r, iSe, iSig, zSe, zSig); else arith(r, zSe, zSig, iSe, iSig);
  finishArith(dst, popAfter);
}

function regCompare(i: u32, quiet: bool, pops: u32): void {
  if (isEmpty(0) || isEmpty(i)) {
    const masked = stackUnderflow();
    setCompareCodes(3);
    if (masked) for (let k: u32 = 0; k < pops; k++) pop();
    return;
  }
  readST(i);
  compare(stSe, stSig, quiet, pops);
}

function fxch(i: u32): void {
  if (isEmpty(0) || isEmpty(i)) {
    if (!stackUnderflow()) return;
    if (isEmpty(0)) writeST(0, INDEF_SE, INDEF_SIG);
    if (isEmpty(i)) writeST(i, INDEF_SE, INDEF_SIG);
  } else setFsw(fsw() & ~FSW_C1);
  readST(i); const se = stSe, sig = stSig;
  readST(0);
  writeST(i, stSe, stSig);
  writeST(0, se, sig);
}

/** FST/FSTP ST(i). */
function fstReg(i: u32, popAfter: bool): void {
  if (isEmpty(0)) {
    if (!stackUnderflow()) return;
    writeST(i, INDEF_SE, INDEF_SIG);
  } else {
    setFsw(fsw() & ~FSW_C1);
    readST(0); writeST(i, stSe, stSig);
  }
  if (popAfter) pop();
}

/** FCMOVcc: reg 0..3 = B, E, BE, U (negated for DB). */
function fcmov(reg: u32, i: u32, negate: bool): void {
  const f = getEflags();
  let cond: bool;
  if (reg == 0) cond = (f & FLAG_CF) != 0;
  else if (reg == 1) cond = (f & FLAG_ZF) != 0;
  else if (reg == 2) cond = (f & (FLAG_CF | FLAG_ZF)) != 0;
  else cond = (f & FLAG_PF) != 0;
  if (negate) cond = !cond;
  if (isEmpty(0) || isEmpty(i)) {
    if (!stackUnderflow()) return;
    writeST(0, INDEF_SE, INDEF_SIG);
    return;
  }
  if (cond) { readST(i); writeST(0, stSe, stSig); } // C1 is left alone
}

function execD9(reg: u32, rm: u32, modrm: u32): void {
  if (reg == 0) { // FLD ST(i)
    if (isEmpty(rm)) { // underflow wins over overflow: the indefinite goes into the new ST0
      if (stackUnderflow()) pushOver(INDEF_SE, INDEF_SIG);
      return;
    }
    readST(rm); pushChecked(stSe, stSig); return;
  }
  if (reg == 1) { fxch(rm); return; }
  if (reg == 3) { // FSTP1 (reserved alias): from an empty ST0 it only pops, with no stack fault
    if (isEmpty(0)) { setFsw(fsw() & ~FSW_C1); pop(); return; }
    fstReg(rm, true); return;
  }
  if (modrm == 0xd0) return; // FNOP
  if (reg == 2) { ud(); return; }
  if (modrm >= 0xe8 && modrm <= 0xee) { // constants
    begin(); f80Const(modrm - 0xe8);
    pushChecked(f80Se, f80Sig);
    return;
  }
  switch (modrm) {
    case 0xe0: case 0xe1: { // FCHS, FABS
      if (isEmpty(0)) { if (stackUnderflow()) writeST(0, INDEF_SE, INDEF_SIG); return; }
      readST(0);
      setFsw(fsw() & ~FSW_C1);
      writeST(0, modrm == 0xe0 ? stSe ^ 0x8000 : stSe & 0x7fff, stSig);
      return;
    }
    case 0xe4: { // FTST
      if (isEmpty(0)) { stackUnderflow(); setCompareCodes(3); return; }
      compare(0, 0, false, 0);
      return;
    }
    case 0xe5: { fxam(); return; }
    case 0xf6: setTop(top() - 1); setFsw(fsw() & ~FSW_C1); return; // FDECSTP
    case 0xf7: setTop(top() + 1); setFsw(fsw() & ~FSW_C1); return; // FINCSTP
    case 0xfa: case 0xfc: { // FSQRT, FRNDINT
      if (isEmpty(0)) { if (stackUnderflow()) writeST(0, INDEF_SE, INDEF_SIG); return; }
      readST(0); begin();
      if (modrm == 0xfa) f80Sqrt(stSe, stSig); else f80RoundInt(stSe, stSig);
      finishArith(0, false);
      return;
    }
    case 0xf4: { // FXTRACT
      if (isEmpty(0)) {
        if (!stackUnderflow()) return;
        writeST(0, INDEF_SE, INDEF_SIG); pushOver(INDEF_SE, INDEF_SIG); return;
      }
      if (!isEmpty(7)) {
        if (!stackOverflow()) return;
        writeST(0, INDEF_SE, INDEF_SIG); pushOver(INDEF_SE, INDEF_SIG); return;
      }
      readST(0); begin(); f80Extract(stSe, stSig);
      const s = f80Status;
      mergeStatus(s, FSW_C1);
      if (blockedPre(s)) return;
      writeST(0, f80Se2, f80Sig2);
      push(f80Se, f80Sig);
      return;
    }
    case 0xf5: case 0xf8: { // FPREM1, FPREM
      // a NaN result (NaN operand, invalid operation, stack fault) clears C1 and C2 and leaves
      // C0 and C3 as they were; otherwise C0 C3 C1 are the low quotient bits
      if (isEmpty(0) || isEmpty(1)) {
        const masked = stackUnderflow();
        setFsw(fsw() & ~FSW_C2);
        if (masked) writeST(0, INDEF_SE, INDEF_SIG);
        return;
      }
      readST(1); const bSe = stSe, bSig = stSig;
      readST(0); begin();
      f80Rem(stSe, stSig, bSe, bSig, modrm == 0xf5);
      const s = f80Status;
      const k = f80Class(f80Se, f80Sig);
      const noQuotient = (s & FSW_IE) != 0 || k == CLS_QNAN || k == CLS_SNAN || blockedPre(s);
      mergeStatus(s, noQuotient ? FSW_C1 | FSW_C2 : FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3);
      if (blockedPre(s)) return;
      writeST(0, f80Se, f80Sig);
      return;
    }
    case 0xfd: { // FSCALE
      if (isEmpty(0) || isEmpty(1)) { if (stackUnderflow()) writeST(0, INDEF_SE, INDEF_SIG); return; }
      readST(1); const bSe = stSe, bSig = stSig;
      readST(0); begin();
      f80Scale(stSe, stSig, bSe, bSig);
      finishArith(0, false);
      return;
    }
    default:
      if (modrm >= 0xf0) { transcendental(modrm); return; }
      ud();
  }
}

function fxam(): void {
  readST(0);
  let c: u32 = 0;
  if (isEmpty(0)) c = FSW_C3 | FSW_C0;
  else {
    const k = f80Class(stSe, stSig);
    if (k == CLS_UNSUPPORTED) c = 0;
    else if (k == CLS_QNAN || k == CLS_SNAN) c = FSW_C0;
    else if (k == CLS_NORMAL) c = FSW_C2;
    else if (k == CLS_INF) c = FSW_C2 | FSW_C0;
    else if (k == CLS_ZERO) c = FSW_C3;
    else c = FSW_C3 | FSW_C2; // denormal
  }
  if ((stSe & 0x8000) != 0) c |= FSW_C1;
  setFsw((fsw() & ~(FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)) | c);
}

/**
 * F2XM1 FYL2X FPTAN FPATAN FSINCOS FSIN FCOS FYL2XP1: special operands as the SDM tables say,
 * finite values in double-double (float80.ts) rounded once to 64 bits: within 2 ulps of the
 * host x87 (test/cpu/fpu-diff.test.ts); the argument reduction uses the x87's 66-bit pi.
 */
function transcendental(modrm: u32): void {
  const two = modrm == 0xf1 || modrm == 0xf3 || modrm == 0xf9; // FYL2X FPATAN FYL2XP1 use ST1
  const pushes = modrm == 0xf2 || modrm == 0xfb; // FPTAN FSINCOS push a second result
  const trig = modrm == 0xfe || modrm == 0xff || modrm == 0xfb || modrm == 0xf2;
  if (trig) setFsw(fsw() & ~FSW_C2); // C2 = 1 only for an out-of-range argument
  if (isEmpty(0) || (two && isEmpty(1))) {
    if (!stackUnderflow()) return;
    if (two) { writeST(1, INDEF_SE, INDEF_SIG); pop(); }
    else { writeST(0, INDEF_SE, INDEF_SIG); if (pushes) pushOver(INDEF_SE, INDEF_SIG); }
    return;
  }
  if (pushes && !isEmpty(7)) {
    if (!stackOverflow()) return;
    writeST(0, INDEF_SE, INDEF_SIG); pushOver(INDEF_SE, INDEF_SIG); return;
  }
  readST(0); const aSe = stSe, aSig = stSig;
  let bSe: u32 = 0, bSig: u64 = 0;
  if (two) { readST(1); bSe = stSe; bSig = stSig; }
  const ac = f80Class(aSe, aSig), bc = two ? f80Class(bSe, bSig) : CLS_NORMAL;
  begin();
  f80Control |= 3 << 8; // transcendentals ignore precision control: always 64 bits
  setFsw(fsw() & ~FSW_C1);
  // NaNs and unsupported formats
  if (ac == CLS_UNSUPPORTED || bc == CLS_UNSUPPORTED || ac == CLS_QNAN || ac == CLS_SNAN || bc == CLS_QNAN || bc == CLS_SNAN) {
    // the NaN rules of any arithmetic operation apply: one NaN is quieted (IE for an SNaN),
    // two follow table 4-7, an unsupported format gives the indefinite
    if (two) f80Add(aSe, aSig, bSe, bSig, false);
    else f80Sqrt(aSe, aSig);
    transResult(two, pushes, f80Se, f80Sig, f80Se, f80Sig);
    return;
  }
  // invalid operands (infinite angle, logarithm of a negative, 0 * inf) take precedence over DE
  const aOne = aSe == 0x3fff && aSig == J_BIT;
  let invalid = false;
  if (modrm == 0xfe || modrm == 0xff || modrm == 0xfb || modrm == 0xf2) invalid = ac == CLS_INF;
  else if (modrm == 0xf1) invalid = ((aSe & 0x8000) != 0 && ac != CLS_ZERO) || ac == CLS_ZERO || (ac == CLS_INF && bc == CLS_ZERO) || (aOne && bc == CLS_INF); // (log2 0: ZE wins too)
  else if (modrm == 0xf9) invalid = (ac == CLS_INF && (aSe & 0x8000) != 0) || (ac == CLS_ZERO && bc == CLS_INF) || (ac == CLS_INF && bc == CLS_ZERO);
  if (!invalid && (ac == CLS_DENORMAL || bc == CLS_DENORMAL)) {
    f80Status |= FSW_DE;
    if ((fcw() & 2) == 0) { mergeStatus(f80Status, 0); return; }
  }
  const a = toHost(aSe, aSig), b = two ? toHost(bSe, bSig) : 0.0;
  const aNeg = (aSe & 0x8000) != 0;
  // finite non-zero values far outside the f64 range take exact shortcuts below
  const aFinite = ac == CLS_NORMAL || ac == CLS_DENORMAL;
  const ea = aFinite ? expOf(aSe, aSig) : 0;
  switch (modrm) {
    case 0xfe: case 0xff: case 0xfb: case 0xf2: { // FSIN FCOS FSINCOS FPTAN
      if (ac == CLS_INF) { setIndef(); transResult(false, pushes, INDEF_SE, INDEF_SIG, INDEF_SE, INDEF_SIG); return; }
      if (Math.abs(a) >= TWO63) { setFsw(fsw() | FSW_C2); return; } // out of range: unchanged
      const one = 0x3fff, oneSig = J_BIT;
      if (ac == CLS_ZERO || ea < TINY_EXP) {
        // sin x = tan x = x and cos x = 1 to far below the last bit
        if (ac == CLS_ZERO) { transResult(false, modrm != 0xff && modrm != 0xfe, modrm == 0xff ? one : aSe, modrm == 0xff ? oneSig : aSig, one, oneSig); return; }
        if (modrm == 0xff) { f80Status |= FSW_PE; transResult(false, false, one, oneSig, 0, 0); return; }
        // x through the rounding (a pseudo-denormal gets exponent 1; unmasked underflow wraps);
        // sin x and tan x are a little off x, so a tiny result is inexact and underflows
        f80Mul(aSe, aSig, 0x3fff, J_BIT);
        f80Status |= FSW_PE;
        if ((f80Se & 0x7fff) == 0 && f80Sig != 0) f80Status |= FSW_UE;
        transResult(false, modrm != 0xfe, f80Se, f80Sig, one, oneSig); return; // FPTAN: x, 1; FSINCOS: sin, cos
      }
      ddSinCos(aSe, aSig);
      if (modrm == 0xfe) { ddToF80(sinH, sinL); transResult(false, false, f80Se, f80Sig, 0, 0); return; }
      if (modrm == 0xff) { ddToF80(cosH, cosL); transResult(false, false, f80Se, f80Sig, 0, 0); return; }
      if (modrm == 0xf2) { ddDiv(sinH, sinL, cosH, cosL); ddToF80(ddH, ddL); transResult(false, true, f80Se, f80Sig, one, oneSig); return; }
      const ch = cosH, cl = cosL;
      ddToF80(sinH, sinL); const sSe = f80Se, sSig = f80Sig;
      ddToF80(ch, cl); transResult(false, true, sSe, sSig, f80Se, f80Sig);
      return;
    }
    case 0xf0: { // F2XM1 (defined for -1 <= x <= 1)
      if (ac == CLS_ZERO) { transResult(false, false, aSe, aSig, 0, 0); return; }
      if (ac == CLS_INF) { if (aNeg) { f80Se = 0xbfff; f80Sig = J_BIT; } else { f80Se = aSe; f80Sig = aSig; } transResult(false, false, f80Se, f80Sig, 0, 0); return; }
      if (ea < TINY_EXP) { f80Mul(aSe, aSig, 0x3ffe, LN2_SIG); f80Status |= FSW_PE; transResult(false, false, f80Se, f80Sig, 0, 0); return; }
      f80ToDD(aSe, aSig, 0); ddMul(ddH, ddL, LN2_H, LN2_L); ddExpm1(ddH, ddL);
      ddToF80(ddH, ddL); transResult(false, false, f80Se, f80Sig, 0, 0); return;
    }
    case 0xf1: case 0xf9: { // FYL2X: ST1 * log2(ST0); FYL2XP1: ST1 * log2(ST0 + 1)
      if (modrm == 0xf1 && aNeg && ac != CLS_ZERO) { setIndef(); transResult(true, false, INDEF_SE, INDEF_SIG, 0, 0); return; }
      if (modrm == 0xf1 && ac == CLS_ZERO) {
        if (bc == CLS_ZERO) { setIndef(); transResult(true, false, INDEF_SE, INDEF_SIG, 0, 0); return; }
        if (bc != CLS_INF) f80Status |= FSW_ZE;
        f80Se = ((bSe & 0x8000) ^ 0x8000) | 0x7fff; f80Sig = J_BIT; // -inf * sign(b)
        transResult(true, false, f80Se, f80Sig, 0, 0); return;
      }
      // L = log2(a) (or log2(1 + a)), exact in range whatever a's exponent
      let L: f64;
      let lSe: u32 = 0, lSig: u64 = 0, lExact = false;
      if (ac == CLS_INF || ac == CLS_ZERO) L = modrm == 0xf1 ? Math.log2(a) : Math.log1p(a) / LN2;
      else if (modrm == 0xf9 && ea < TINY_EXP) {
        // y * x * log2(e): y * log2(e) first, x last (x may be a denormal)
        if (bc != CLS_INF && bc != CLS_ZERO) {
          const s0 = f80Status;
          f80Mul(bSe, bSig, 0x3fff, L2E_SIG); f80Mul(f80Se, f80Sig, aSe, aSig);
          f80Status |= s0 | FSW_PE;
          transResult(true, false, f80Se, f80Sig, 0, 0); return;
        }
        L = aNeg ? -1e-300 : 1e-300;
      } else {
        if (modrm == 0xf9) { f80ToDD(aSe, aSig, 0); ddLog2p1(ddH, ddL); } else ddLog2(aSe, aSig);
        L = ddH;
        if (L != 0) { const s0 = f80Status; ddToF80(ddH, ddL); f80Status = s0; lSe = f80Se; lSig = f80Sig; lExact = true; }
      }
      if (bc == CLS_INF || bc == CLS_ZERO || !isFinite(L)) { // 0, inf or invalid: signs decide
        const bs = bc == CLS_INF || bc == CLS_ZERO ? b : ((bSe & 0x8000) != 0 ? -1.0 : 1.0);
        const ls = isFinite(L) && L != 0 ? (L < 0 ? -1.0 : 1.0) : L;
        const r = bs * ls;
        if (isNaN(r)) { setIndef(); transResult(true, false, INDEF_SE, INDEF_SIG, 0, 0); return; }
        fromHost(r); f80Status &= ~FSW_PE;
        transResult(true, false, f80Se, f80Sig, 0, 0); return;
      }
      if (!lExact) { fromHost(L); if (L == 0) f80Status &= ~FSW_PE; lSe = f80Se; lSig = f80Sig; }
      const s1 = f80Status;
      f80Mul(bSe, bSig, lSe, lSig);
      f80Status |= s1 | (L == 0 ? 0 : FSW_PE);
      transResult(true, false, f80Se, f80Sig, 0, 0); return;
    }
    case 0xf3: { // FPATAN: ST1 = atan2(ST1, ST0), pop
      const bFinite = bc == CLS_NORMAL || bc == CLS_DENORMAL;
      const bNeg = (bSe & 0x8000) != 0;
      if (aFinite && bFinite) {
        const eb = expOf(bSe, bSig);
        if (ea - eb > 80 && !aNeg) { // |b/a| tiny: atan(b/a) = b/a
          const s0 = f80Status; f80Div(bSe, bSig, aSe, aSig); f80Status |= s0 | FSW_PE;
          transResult(true, false, f80Se, f80Sig, 0, 0); return;
        }
        // atan2 depends on the ratio only: both scaled by the larger exponent, as exact pairs
        const m = ea > eb ? ea : eb;
        f80ToDD(aSe, aSig, m); const xh = ddH, xl = ddL;
        f80ToDD(bSe, bSig, m);
        ddAtan2(ddH, ddL, xh, xl);
        ddToF80(ddH, ddL);
      } else { // a zero or an infinity decides (a multiple of pi/4); a finite one counts by sign
        const x = aFinite ? (aNeg ? -1.0 : 1.0) : a, y = bFinite ? (bNeg ? -1.0 : 1.0) : b;
        const q = Math.round(Math.atan2(y, x) / 0.7853981633974483);
        if (q == 0) { f80Se = bSe & 0x8000; f80Sig = 0; }
        else { ddMul(q, 0, 0.7853981633974483, 3.061616997868383e-17); ddToF80(ddH, ddL); }
      }
      if (bc == CLS_ZERO) { f80Se = (f80Se & 0x7fff) | (bSe & 0x8000); }
      transResult(true, false, f80Se, f80Sig, 0, 0); return;
    }
  }
}

/** Below 2^TINY_EXP the transcendentals are linear to far beyond 64 bits (and f64 cannot hold x). */
const TINY_EXP: i32 = -900;
const LN2_SIG: u64 = 0xb17217f7d1cf79ac; // ln 2 = 0x3ffe:LN2_SIG
const L2E_SIG: u64 = 0xb8aa3b295c17f0bc; // log2 e = 0x3fff:L2E_SIG

/** Unbiased exponent of a finite non-zero value (denormals normalized). */
function expOf(se: u32, sig: u64): i32 {
  const e = <i32>(se & 0x7fff);
  if (e == 0) return 1 - 16383 - <i32>clz(sig);
  return e - 16383;
}

@inline function setIndef(): void { f80Status |= FSW_IE; }

/** Stores a transcendental result: into ST1 and pop (two-operand), or ST0 (+ push second). */
function transResult(two: bool, pushes: bool, se: u32, sig: u64, se2: u32, sig2: u64): void {
  const s = f80Status;
  mergeStatus(s, 0);
  if (blockedPre(s)) return;
  if (two) { writeST(1, se, sig); pop(); return; }
  writeST(0, se, sig);
  if (pushes) push(se2, sig2);
}

// ---- FNINIT, environment, FNSAVE/FRSTOR ----

function finit(): void {
  setFcw(FCW_INIT);
  setFsw(0);
  setFtw(0xffff);
  store<u16>(STATE + OFF_FPU_FOP, 0);
  store<u32>(STATE + OFF_FPU_FIP, 0);
  store<u32>(STATE + OFF_FPU_FCS, 0);
  store<u32>(STATE + OFF_FPU_FDP, 0);
  store<u32>(STATE + OFF_FPU_FDS, 0);
}

/** Tag word as FNSTENV reports it: each non-empty register classified by its contents. */
function fullTags(): u32 {
  let t: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) {
    let tag = physTag(p);
    if (tag != TAG_EMPTY) {
      const a = regAddr(p);
      tag = tagOf(load<u16>(a + 8), load<u64>(a));
    }
    t |= tag << (p << 1);
  }
  return t;
}

/** Loads a tag word: only empty / non-empty is taken, the rest comes from the contents. */
function loadTags(t: u32): void {
  let out: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) {
    let tag = (t >> (p << 1)) & 3;
    if (tag != TAG_EMPTY) {
      const a = regAddr(p);
      tag = tagOf(load<u16>(a + 8), load<u64>(a));
    }
    out |= tag << (p << 1);
  }
  setFtw(out);
}

/** Size of the environment image: 28 bytes (32-bit) or 14 (16-bit). */
@inline function envSize(o32: bool): u32 { return o32 ? 28 : 14; }

/** Faults for an image of n bytes in the order the hardware shows (CR2): its first field (w
 *  bytes), then its last byte, then the rest. */
function probeWrite(lin: u32, n: u32, w: u32): void { checkWriteLin(lin, w); checkWriteLin(lin + n - 1, 1); checkWriteLin(lin, n); }
function probeRead(lin: u32, n: u32, w: u32): void {
  for (let i: u32 = 0; i < w; i++) readLin8(lin + i);
  readLin8(lin + n - 1);
  for (let p = (lin & ~0xfff) + 0x1000; p - lin < n; p += 0x1000) readLin8(p); // every page in between
  readLin8(lin);
}

function stenv(lin: u32, o32: bool): void {
  probeWrite(lin, envSize(o32), o32 ? 4 : 2);
  const fip = load<u32>(STATE + OFF_FPU_FIP), fcs = load<u32>(STATE + OFF_FPU_FCS);
  const fdp = load<u32>(STATE + OFF_FPU_FDP), fds = load<u32>(STATE + OFF_FPU_FDS);
  const fop = <u32>load<u16>(STATE + OFF_FPU_FOP) & 0x7ff;
  const tags = fullTags();
  if (o32) {
    writeLin32(lin, 0xffff0000 | fcw());
    writeLin32(lin + 4, 0xffff0000 | fsw());
    writeLin32(lin + 8, 0xffff0000 | tags);
    if (protectedMode) {
      writeLin32(lin + 12, fip);
      writeLin32(lin + 16, (fcs & 0xffff) | (fop << 16));
      writeLin32(lin + 20, fdp);
      writeLin32(lin + 24, 0xffff0000 | (fds & 0xffff));
    } else {
      const ip = fip + ((fcs & 0xffff) << 4), dp = fdp + ((fds & 0xffff) << 4);
      writeLin32(lin + 12, 0xffff0000 | (ip & 0xffff));
      writeLin32(lin + 16, ((ip >> 16) << 12) | fop);
      writeLin32(lin + 20, 0xffff0000 | (dp & 0xffff));
      writeLin32(lin + 24, (dp >> 16) << 12);
    }
  } else {
    writeLin16(lin, fcw());
    writeLin16(lin + 2, fsw());
    writeLin16(lin + 4, tags);
    if (protectedMode) {
      writeLin16(lin + 6, fip);
      writeLin16(lin + 8, fcs);
      writeLin16(lin + 10, fdp);
      writeLin16(lin + 12, fds);
    } else {
      const ip = fip + ((fcs & 0xffff) << 4), dp = fdp + ((fds & 0xffff) << 4);
      writeLin16(lin + 6, ip);
      writeLin16(lin + 8, (((ip >> 16) & 0xf) << 12) | fop);
      writeLin16(lin + 10, dp);
      writeLin16(lin + 12, ((dp >> 16) & 0xf) << 12);
    }
  }
}

function ldenv(lin: u32, o32: bool): void {
  probeRead(lin, envSize(o32), o32 ? 4 : 2);
  let cw: u32, sw: u32, tw: u32, fip: u32, fcs: u32, fop: u32, fdp: u32, fds: u32;
  if (o32) {
    cw = readLin16(lin); sw = readLin16(lin + 4); tw = readLin16(lin + 8);
    if (protectedMode) {
      fip = readLin32(lin + 12); const w = readLin32(lin + 16);
      fcs = w & 0xffff; fop = (w >> 16) & 0x7ff;
      fdp = readLin32(lin + 20); fds = readLin16(lin + 24);
    } else {
      const w1 = readLin32(lin + 12), w2 = readLin32(lin + 16), w3 = readLin32(lin + 20), w4 = readLin32(lin + 24);
      fip = (w1 & 0xffff) | ((w2 >> 12) << 16); fop = w2 & 0x7ff; fcs = 0;
      fdp = (w3 & 0xffff) | ((w4 >> 12) << 16); fds = 0;
    }
  } else {
    cw = readLin16(lin); sw = readLin16(lin + 2); tw = readLin16(lin + 4);
    if (protectedMode) {
      fip = readLin16(lin + 6); fcs = readLin16(lin + 8); fdp = readLin16(lin + 10); fds = readLin16(lin + 12); fop = 0;
    } else {
      const w2 = readLin16(lin + 8);
      fip = readLin16(lin + 6) | ((w2 >> 12) << 16); fop = w2 & 0x7ff; fcs = 0;
      fdp = readLin16(lin + 10) | ((readLin16(lin + 12) >> 12) << 16); fds = 0;
    }
  }
  setFcw(cw);
  setFsw(sw);
  loadTags(tw);
  store<u32>(STATE + OFF_FPU_FIP, fip); store<u32>(STATE + OFF_FPU_FCS, fcs);
  store<u16>(STATE + OFF_FPU_FOP, <u16>fop);
  store<u32>(STATE + OFF_FPU_FDP, fdp); store<u32>(STATE + OFF_FPU_FDS, fds);
}

function fsave(lin: u32, o32: bool): void {
  const n = envSize(o32);
  probeWrite(lin, n + 80, o32 ? 4 : 2);
  stenv(lin, o32);
  for (let i: u32 = 0; i < 8; i++) {
    const a = regAddr(phys(i));
    const p = lin + n + i * 10;
    const sig = load<u64>(a);
    writeLin32(p, <u32>sig); writeLin32(p + 4, <u32>(sig >> 32)); writeLin16(p + 8, load<u16>(a + 8));
  }
  finit();
}

function frstor(lin: u32, o32: bool): void {
  const n = envSize(o32);
  probeRead(lin, n + 80, o32 ? 4 : 2); // a fault leaves the FPU untouched
  ldenv(lin, o32);
  for (let i: u32 = 0; i < 8; i++) {
    const p = lin + n + i * 10;
    const lo = readLin32(p), hi = readLin32(p + 4), se = readLin16(p + 8);
    const a = regAddr(phys(i));
    store<u64>(a, (<u64>hi << 32) | <u64>lo); store<u16>(a + 8, <u16>se);
  }
  loadTags(ftw());
}

// ---- WAIT, FXSAVE/FXRSTOR, reset ----

export function fpuWait(): void {
  const c0 = cr0();
  if ((c0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) raiseFault(EXC_NM, -1);
  if ((fsw() & FSW_ES) != 0) {
    if ((c0 & CR0_NE) != 0) raiseFault(EXC_MF, -1);
    if (ferrLevel() == 0) setFerr(1);
  }
}

export function fpuFxsave(lin: u32): void {
  if ((cr0() & (CR0_EM | CR0_TS)) != 0) raiseFault(EXC_NM, -1);
  if ((lin & 15) != 0) raiseFault(EXC_GP, 0);
  checkWriteLin(lin + 511, 1); // the hardware probes the end first (CR2)
  checkWriteLin(lin, 512);
  let abridged: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) if (physTag(p) != TAG_EMPTY) abridged |= 1 << p;
  writeLin16(lin, fcw());
  writeLin16(lin + 2, fsw());
  writeLin16(lin + 4, abridged);
  writeLin16(lin + 6, load<u16>(STATE + OFF_FPU_FOP) & 0x7ff);
  writeLin32(lin + 8, load<u32>(STATE + OFF_FPU_FIP));
  writeLin32(lin + 12, load<u32>(STATE + OFF_FPU_FCS) & 0xffff);
  writeLin32(lin + 16, load<u32>(STATE + OFF_FPU_FDP));
  writeLin32(lin + 20, load<u32>(STATE + OFF_FPU_FDS) & 0xffff);
  writeLin32(lin + 24, load<u32>(STATE + OFF_FPU_MXCSR));
  writeLin32(lin + 28, 0); // MXCSR_MASK: 0 means the default mask
  for (let i: u32 = 0; i < 8; i++) {
    const a = regAddr(phys(i));
    const p = lin + 32 + (i << 4);
    const sig = load<u64>(a);
    writeLin32(p, <u32>sig); writeLin32(p + 4, <u32>(sig >> 32));
    writeLin32(p + 8, <u32>load<u16>(a + 8)); writeLin32(p + 12, 0);
  }
  for (let p: u32 = lin + 160; p < lin + 288; p += 4) writeLin32(p, 0); // XMM0..7: no SSE state
}

export function fpuFxrstor(lin: u32): void {
  if ((cr0() & (CR0_EM | CR0_TS)) != 0) raiseFault(EXC_NM, -1);
  if ((lin & 15) != 0) raiseFault(EXC_GP, 0);
  readLin8(lin + 511); // the hardware probes the end first (CR2)
  for (let p: u32 = (lin & ~0xfff) + 0x1000; p - lin < 512; p += 0x1000) readLin8(p);
  const mxcsr = readLin32(lin + 24);
  if ((mxcsr & 0xffff0000) != 0) raiseFault(EXC_GP, 0); // reserved MXCSR bits
  readLin8(lin + 159); // the whole x87 area is readable before anything changes
  setFcw(readLin16(lin));
  setFsw(readLin16(lin + 2));
  const abridged = readLin8(lin + 4);
  store<u16>(STATE + OFF_FPU_FOP, <u16>(readLin16(lin + 6) & 0x7ff));
  store<u32>(STATE + OFF_FPU_FIP, readLin32(lin + 8));
  store<u32>(STATE + OFF_FPU_FCS, readLin16(lin + 12));
  store<u32>(STATE + OFF_FPU_FDP, readLin32(lin + 16));
  store<u32>(STATE + OFF_FPU_FDS, readLin16(lin + 20));
  store<u32>(STATE + OFF_FPU_MXCSR, mxcsr);
  for (let i: u32 = 0; i < 8; i++) {
    const a = regAddr(phys(i));
    const p = lin + 32 + (i << 4);
    store<u64>(a, (<u64>readLin32(p + 4) << 32) | <u64>readLin32(p));
    store<u16>(a + 8, <u16>readLin16(p + 8));
  }
  let tags: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) if ((abridged & (1 << p)) == 0) tags |= TAG_EMPTY << (p << 1);
  loadTags(tags);
  updateSummary();
}

/** Power-on / RESET: FCW 0x0040, everything else cleared, all registers empty. */
export function fpuReset(): void {
  finit();
  setFcw(FCW_RESET);
  for (let p: u32 = 0; p < 8; p++) { store<u64>(regAddr(p), 0); store<u16>(regAddr(p) + 8, 0); }
  store<u32>(STATE + OFF_FPU_MXCSR, 0x1f80);
  if (ferrLevel() != 0) setFerr(0);
}
