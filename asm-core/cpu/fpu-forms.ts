// The x87's register forms (ESC with mod = 3: cpu/fpu.ts has the map of the files): arithmetic
// and compares between stack registers, FXCH, FST/FSTP ST(i), FCMOVcc, FFREE, and D9's group
// (FCHS, FABS, FTST, FXAM, the constants, FPREM, FSQRT, FRNDINT, FSCALE, FXTRACT and the
// transcendentals' entry).

import { FLAG_ZF, FLAG_PF, FLAG_CF, REG_EAX, setReg16 } from './state';
import { getEflags } from './flags';
import {
  f80Status, f80Se, f80Sig, f80Se2, f80Sig2, f80Class, f80Sqrt, f80Rem, f80Scale, f80Extract,
  f80Const, FSW_IE, FSW_SF, FSW_ES, FSW_B, FSW_C0, FSW_C1, FSW_C2, FSW_C3, FSW_EXC, CLS_ZERO,
  CLS_NORMAL, CLS_INF, CLS_QNAN, CLS_SNAN, CLS_UNSUPPORTED, INDEF_SE, INDEF_SIG,
} from './float80';
import { f80RoundInt } from './float80-convert';
import {
  TAG_EMPTY, arith, begin, blockedPre, compare, compareEflags, finishArith, fsw, isEmpty,
  mergeStatus, phys, pop, push, pushChecked, pushOver, readST, setCompareCodes, setFsw, setPhysTag,
  setTop, stSe, stSig, stackOverflow, stackUnderflow, top, ud, writeST,
} from './fpu-stack';
import { finit } from './fpu-env';
import { transcendental } from './fpu-transcendental';

// ---- register forms ----

export function execReg(opcode: u32, reg: u32, rm: u32, modrm: u32): void {
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
