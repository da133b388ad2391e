// The x87 FPU (as in the Pentium Pro): the ESC opcode map D8..DF, what blocks an instruction
// (#NM, a pending unmasked exception, #UD) and its memory forms: loads, stores and arithmetic
// on a memory operand. The rest of the x87 is beside it:
//   fpu-escape.ts          where an instruction comes in, after its operand's segment checks;
//   fpu-stack.ts           the register stack, tags, FCW/FSW and exception reporting;
//   fpu-forms.ts           the register forms (ESC with mod = 3), D9's constants and FXAM;
//   fpu-transcendental.ts  F2XM1, FYL2X, FPTAN, FPATAN, FSIN, FCOS, FSINCOS, FYL2XP1;
//   fpu-env.ts             FNINIT, FNSTENV/FLDENV, FNSAVE/FRSTOR, WAIT, FXSAVE/FXRSTOR, reset.
// The arithmetic itself is float80.ts; these files decide which registers and memory it reads
// and writes, and what masked and unmasked exceptions do to them.

import {
  STATE, OFF_FPU_FOP, OFF_FPU_FIP, OFF_FPU_FCS, OFF_FPU_FDP, OFF_FPU_FDS, SEG_CS, segSelector, cr0,
  CR0_EM, CR0_TS, CR0_NE, EXC_NM, EXC_MF,
} from './state';
import { instrStart } from './live';
import { raiseFault } from './fault';
import { readLin16, readLin32, writeLin16, writeLin32, checkWriteLin } from '../mmu/access';
import {
  f80Status, f80Se, f80Sig, f80Class, FSW_IE, FSW_ES, FSW_C1, FCW_IM, CLS_ZERO, CLS_QNAN, CLS_SNAN,
  CLS_UNSUPPORTED, INDEF_SE, INDEF_SIG,
} from './float80';
import {
  f80BcdLo, f80BcdHi, f80FromF32, f80FromF64, f80ToF32, f80ToF64, f80ToInt, f80FromInt, f80FromBcd,
  f80ToBcd,
} from './float80-convert';
import {
  J_BIT, arith, begin, blockedMem, blockedPre, compare, fcw, ferrLevel, finishArith, fsw, isEmpty,
  mergeStatus, phys, pop, push, pushChecked, readST, regAddr, setCompareCodes, setFcw, setFerr,
  setFsw, stSe, stSig, stackUnderflow, ud, updateSummary, writeST,
} from './fpu-stack';
import { frstor, fsave, ldenv, stenv } from './fpu-env';
import { execReg } from './fpu-forms';

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

// ---- the opcode map ----

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
