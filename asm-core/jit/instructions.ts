// The instructions a translation writes inline (jit/emit.ts): each record form's operation on
// the operands of jit/operands.ts, with its flags left pending (jit/pending.ts). What is not here
// goes through the block loop's handler.

import {
  op, i32c, lget, lset, ltee, gget, gset, call, ifVoid, ifI32, end, els, OP_I32_NE, OP_I32_ADD, OP_I32_SUB,
  OP_I32_AND, OP_I32_OR, OP_I32_XOR, OP_I32_SHL, OP_I32_SHR_S, OP_I32_SHR_U, OP_I32_EXTEND8_S,
  OP_I32_EXTEND16_S, OP_DROP, OP_SELECT, OP_I32_ROTL, OP_I32_ROTR, OP_I32_MUL, OP_I64_EXTEND_I32_S, OP_I64_MUL,
  OP_I64_SHR_S, OP_I32_WRAP_I64, OP_I32_EQZ, OP_I32_EQ, OP_I32_CLZ, OP_I32_CTZ, i64c,
} from './wasm';
import {
  F_SETTLE_CF, L_FA, L_FB, L_FR, L_FCF, L_OFF, L_V, L_T, L_FK, L_ROT, L_CARRY, G_FLAGS, G_LAZY_MASK,
} from './layout';
import {
  PEND_SHIFT, PEND_DYNAMIC, PEND_ROTATE, pendKind, pendSize, pendCF, rotBaseKind, rotBaseSize, rotBaseCF,
  pendWithCarry, maskOf, pendingKind, storeFlags, pendingCF, condition, logicPending,
} from './pending';
import { FLAG_CF, FLAG_OF, FLAG_ZF, FLAG_DF, SEG_SS, REG_EAX, REG_EDX, REG_ESP, REG_EBP } from '../cpu/state';
import { REC_REG, REC_RM, REC_DISP, REC_IMM } from '../cpu/record';
import { H } from '../cpu/generated/handlers';
import { LAZY_ADD, LAZY_SUB, LAZY_LOGIC } from '../cpu/flags';
import { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP } from '../cpu/alu';
import {
  REG_ECX_LOCAL, effectiveAddress, eipAt, getReg, getReg16, getReg32, getReg8, linear, nextOff, pop32,
  push32, read, recLinear, rmwRead, rmwStart, rmwWrite, setReg, setReg16, setReg32, setReg8, write,
} from './operands';

/** The record forms, in the order of the ALU handler numbers (generated/handlers.ts: ALU32 + form * 8 + operation). */
const FORM_RR: u32 = 0, FORM_RI: u32 = 1, FORM_RM: u32 = 2, FORM_MR: u32 = 3, FORM_MI: u32 = 4;

// ---- instructions ----
/** ALU op (ALU_ADD...) of a (L_FA) and b (L_FB) into L_FR; the flags become pending. */
function aluCore(aop: u32, size: u32): void {
  lget(L_FA); lget(L_FB);
  if (aop == ALU_ADC) { op(OP_I32_ADD); lget(L_CARRY); op(OP_I32_ADD); }
  else if (aop == ALU_SBB) { op(OP_I32_SUB); lget(L_CARRY); op(OP_I32_SUB); }
  else if (aop == ALU_ADD) op(OP_I32_ADD);
  else if (aop == ALU_OR) op(OP_I32_OR);
  else if (aop == ALU_AND) op(OP_I32_AND);
  else if (aop == ALU_XOR) op(OP_I32_XOR);
  else op(OP_I32_SUB);
  lset(L_FR);
  pendKind = <i32>(aop == ALU_ADD || aop == ALU_ADC ? LAZY_ADD : aop == ALU_SUB || aop == ALU_CMP || aop == ALU_SBB ? LAZY_SUB : LAZY_LOGIC);
  pendSize = size;
  pendCF = 0;
  pendWithCarry = aop == ALU_ADC || aop == ALU_SBB;
}
/** ADC/SBB: CF of the pending operation into local carry (0 or 1), before the operands replace it. */
function carryIn(): void {
  if (pendKind == PEND_DYNAMIC || pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  if (pendKind < 0) { call(F_SETTLE_CF); gget(G_FLAGS); i32c(1); op(OP_I32_AND); }
  else pendingCF();
  lset(L_CARRY);
}
/** Push the masked result. */
function aluResult(size: u32): void { lget(L_FR); if (size != 32) { i32c(maskOf(size)); op(OP_I32_AND); } }

/** INC/DEC of the value in L_V: CF is kept, so it is first taken from the pending operation. */
function incDec(isDec: bool, size: u32): void {
  if (pendKind == PEND_DYNAMIC || pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  if (pendKind < 0) { call(F_SETTLE_CF); pendCF = 2; }
  else if (pendCF == 0) { pendingCF(); lset(L_FCF); pendCF = 1; }
  // pendCF 1 and 2: CF already lives where the new operation keeps it.
  const keep = pendCF;
  lget(L_V); lset(L_FA); i32c(1); lset(L_FB);
  lget(L_FA); i32c(1); op(isDec ? OP_I32_SUB : OP_I32_ADD); lset(L_FR);
  pendKind = <i32>(isDec ? LAZY_SUB : LAZY_ADD); pendSize = size; pendCF = keep; pendWithCarry = false;
}

/**
 * An ALU operation (ALU_ADD...) of `size` bits in record form `form` (FORM_RR... above):
 * RR and RI write register rm, RM register reg, MR and MI memory (CMP writes nothing).
 */
function aluForm(rec: u32, form: u32, aop: u32, size: u32, regF: u32, rmF: u32, imm: u32): bool {
  if (aop > 7) return false;
  const n = size >> 3;
  if (aop == ALU_ADC || aop == ALU_SBB) carryIn();
  if (form == FORM_RR || form == FORM_RI) {
    getReg(size, rmF); lset(L_FA);
    if (form == FORM_RR) getReg(size, regF); else i32c(imm);
    lset(L_FB);
    aluCore(aop, size);
    if (aop != ALU_CMP) { aluResult(size); setReg(size, rmF); }
  } else if (form == FORM_RM) {
    recLinear(rec, n, false); read(n); lset(L_FB);
    getReg(size, regF); lset(L_FA);
    aluCore(aop, size);
    if (aop != ALU_CMP) { aluResult(size); setReg(size, regF); }
  } else if (aop == ALU_CMP) {
    recLinear(rec, n, false); read(n); lset(L_FA);
    if (form == FORM_MR) getReg(size, regF); else i32c(imm);
    lset(L_FB);
    aluCore(aop, size);
  } else {
    recLinear(rec, n, true); rmwStart(n); rmwRead(n); lset(L_FA);
    if (form == FORM_MR) getReg(size, regF); else i32c(imm);
    lset(L_FB);
    aluCore(aop, size);
    aluResult(size); lset(L_V); rmwWrite(n);
  }
  return true;
}

/** Translate record `rec`; false when it must go through the handler instead. */
export function inline(rec: u32, h: u32, last: bool): bool {
  const regF = <u32>load<u8>(rec, REC_REG);
  const rmF = <u32>load<u8>(rec, REC_RM);
  const imm = load<u32>(rec, REC_IMM);
  if (h < <u32>H.JCC) return aluForm(rec, (h % 40) >> 3, h & 7, h < <u32>H.ALU8 ? 32 : 8, regF, rmF, imm);
  if (h < <u32>H.JCC + 16) {
    condition(h - <u32>H.JCC);
    ifI32(); eipAt(nextOff + load<u32>(rec, REC_DISP)); els(); eipAt(nextOff); end();
    lset(L_T);
    return true;
  }
  switch (h) {
    case H.movRR32: getReg32(regF); setReg32(rmF); return true;
    case H.movRI32: i32c(imm); setReg32(rmF); return true;
    case H.movRM32: recLinear(rec, 4, false); read(4); setReg32(regF); return true;
    case H.movMR32: recLinear(rec, 4, true); getReg32(regF); lset(L_V); write(4); return true;
    case H.movMI32: recLinear(rec, 4, true); i32c(imm); lset(L_V); write(4); return true;
    case H.movRR8: getReg8(regF); setReg8(rmF); return true;
    case H.movRI8: i32c(imm); setReg8(rmF); return true;
    case H.movRM8: recLinear(rec, 1, false); read(1); setReg8(regF); return true;
    case H.movMR8: recLinear(rec, 1, true); getReg8(regF); lset(L_V); write(1); return true;
    case H.movMI8: recLinear(rec, 1, true); i32c(imm); lset(L_V); write(1); return true;
    case H.lea32: effectiveAddress(rec); lget(L_OFF); setReg32(regF); return true;
    case H.movzxRR8: getReg8(rmF); setReg32(regF); return true;
    case H.movzxRM8: recLinear(rec, 1, false); read(1); setReg32(regF); return true;
    case H.movzxRR16: getReg32(rmF); i32c(0xffff); op(OP_I32_AND); setReg32(regF); return true;
    case H.movzxRM16: recLinear(rec, 2, false); read(2); setReg32(regF); return true;
    case H.movsxRR8: getReg8(rmF); op(OP_I32_EXTEND8_S); setReg32(regF); return true;
    case H.movsxRM8: recLinear(rec, 1, false); read(1); op(OP_I32_EXTEND8_S); setReg32(regF); return true;
    case H.movsxRR16: getReg32(rmF); op(OP_I32_EXTEND16_S); setReg32(regF); return true;
    case H.movsxRM16: recLinear(rec, 2, false); read(2); op(OP_I32_EXTEND16_S); setReg32(regF); return true;
    case H.xchgRR32: getReg32(rmF); lset(L_V); getReg32(regF); setReg32(rmF); lget(L_V); setReg32(regF); return true;
    case H.cwde: getReg32(REG_EAX); op(OP_I32_EXTEND16_S); setReg32(REG_EAX); return true;
    case H.cdq: getReg32(REG_EAX); i32c(31); op(OP_I32_SHR_S); setReg32(REG_EDX); return true;
    case H.nop: return true;
    case H.testRR32: getReg32(rmF); getReg32(regF); op(OP_I32_AND); lset(L_FR); logicPending(32); return true;
    case H.testRI32: getReg32(rmF); i32c(imm); op(OP_I32_AND); lset(L_FR); logicPending(32); return true;
    case H.testMR32: recLinear(rec, 4, false); read(4); getReg32(regF); op(OP_I32_AND); lset(L_FR); logicPending(32); return true;
    case H.testMI32: recLinear(rec, 4, false); read(4); i32c(imm); op(OP_I32_AND); lset(L_FR); logicPending(32); return true;
    case H.testRR8: getReg8(rmF); getReg8(regF); op(OP_I32_AND); lset(L_FR); logicPending(8); return true;
    case H.testRI8: getReg8(rmF); i32c(imm); op(OP_I32_AND); lset(L_FR); logicPending(8); return true;
    case H.testMR8: recLinear(rec, 1, false); read(1); getReg8(regF); op(OP_I32_AND); lset(L_FR); logicPending(8); return true;
    case H.testMI8: recLinear(rec, 1, false); read(1); i32c(imm); op(OP_I32_AND); lset(L_FR); logicPending(8); return true;
    case H.incR32: getReg32(rmF); lset(L_V); incDec(false, 32); lget(L_FR); setReg32(rmF); return true;
    case H.incM32: case H.decM32:
      recLinear(rec, 4, true); rmwStart(4); rmwRead(4); lset(L_V);
      incDec(h == <u32>H.decM32, 32); lget(L_FR); lset(L_V); rmwWrite(4);
      return true;
    case H.pushM32: recLinear(rec, 4, false); read(4); lset(L_V); push32(); return true;
    case H.decR32: getReg32(rmF); lset(L_V); incDec(true, 32); lget(L_FR); setReg32(rmF); return true;
    // DF is not among the lazy flags: it lives in flagsReg alone (cpu/flags.ts).
    case H.cld: gget(G_FLAGS); i32c(~FLAG_DF); op(OP_I32_AND); gset(G_FLAGS); return true;
    case H.std: gget(G_FLAGS); i32c(FLAG_DF); op(OP_I32_OR); gset(G_FLAGS); return true;
    case H.notR32: getReg32(rmF); i32c(-1); op(OP_I32_XOR); setReg32(rmF); return true;
    case H.negR32: // the flags of SUB from 0 (alu.ts neg)
      i32c(0); lset(L_FA); getReg32(rmF); lset(L_FB); aluCore(ALU_SUB, 32); lget(L_FR); setReg32(rmF); return true;
    case H.shiftRI32: return regF < 2 ? rotateImm(regF == 1, imm & 31, rmF) : shiftImm(regF, imm & 31, rmF);
    case H.shiftRC32: return shiftByCL(regF, rmF);
    // 16-bit operands (66h): the ALU operation is in REC_IMM (RR, RM, MR) or REC_REG (RI, MI), and
    // an immediate is used as the record has it, as handlers.ts does.
    case H.aluRR16: return aluForm(rec, FORM_RR, imm, 16, regF, rmF, 0);
    case H.aluRI16: return aluForm(rec, FORM_RI, regF, 16, 0, rmF, imm);
    case H.aluRM16: return aluForm(rec, FORM_RM, imm, 16, regF, 0, 0);
    case H.aluMR16: return aluForm(rec, FORM_MR, imm, 16, regF, 0, 0);
    case H.aluMI16: return aluForm(rec, FORM_MI, regF, 16, 0, 0, imm);
    case H.movRR16: getReg16(regF); setReg16(rmF); return true;
    case H.movRI16: i32c(imm); setReg16(rmF); return true;
    case H.movRM16: recLinear(rec, 2, false); read(2); setReg16(regF); return true;
    case H.movMR16: recLinear(rec, 2, true); getReg16(regF); lset(L_V); write(2); return true;
    case H.movMI16: recLinear(rec, 2, true); i32c(imm); lset(L_V); write(2); return true;
    case H.testRR16: getReg16(rmF); getReg16(regF); op(OP_I32_AND); lset(L_FR); logicPending(16); return true;
    case H.testRI16: getReg16(rmF); i32c(imm & 0xffff); op(OP_I32_AND); lset(L_FR); logicPending(16); return true;
    case H.testMR16: recLinear(rec, 2, false); read(2); getReg16(regF); op(OP_I32_AND); lset(L_FR); logicPending(16); return true;
    case H.testMI16: recLinear(rec, 2, false); read(2); i32c(imm & 0xffff); op(OP_I32_AND); lset(L_FR); logicPending(16); return true;
    case H.setccR: condition(imm); setReg8(rmF); return true;
    case H.setccM: recLinear(rec, 1, true); condition(imm); lset(L_V); write(1); return true;
    case H.leave32: // ESP and EBP change only after the read, which may fault (exec.ts leave)
      getReg32(REG_EBP); lset(L_OFF); linear(SEG_SS, 4, false); read(4); lset(L_V);
      lget(L_OFF); i32c(4); op(OP_I32_ADD); setReg32(REG_ESP); lget(L_V); setReg32(REG_EBP);
      return true;
    case H.cmovRR: {
      getReg32(rmF); getReg32(regF); condition(imm); op(OP_SELECT); setReg32(regF);
      return true;
    }
    case H.cmovRM: // the source is read, and may fault, even when the condition is false
      recLinear(rec, 4, false); read(4); getReg32(regF); condition(imm); op(OP_SELECT); setReg32(regF);
      return true;
    case H.pushR32: getReg32(rmF); lset(L_V); push32(); return true;
    case H.pushI32: i32c(imm); lset(L_V); push32(); return true;
    case H.popR32: pop32(); setReg32(rmF); return true;
    case H.bitRR: getReg32(rmF); lset(L_V); getReg32(regF); i32c(31); op(OP_I32_AND); bitTest(imm >> 8); setReg32(rmF); return true;
    case H.bitRI: getReg32(rmF); lset(L_V); i32c(imm & 31); bitTest(imm >> 8); setReg32(rmF); return true;
    case H.bitMI:
      if ((imm >> 8) == 0) { recLinear(rec, 4, false); read(4); lset(L_V); i32c(imm & 31); bitTest(0); op(OP_DROP); return true; }
      recLinear(rec, 4, true); rmwStart(4); rmwRead(4); lset(L_V); i32c(imm & 31); bitTest(imm >> 8); lset(L_V); rmwWrite(4);
      return true;
    case H.imulRR: getReg32(regF); lset(L_FA); getReg32(rmF); lset(L_FB); imul(regF); return true;
    case H.imulRM: recLinear(rec, 4, false); read(4); lset(L_V); getReg32(regF); lset(L_FA); lget(L_V); lset(L_FB); imul(regF); return true;
    case H.imulRRI: getReg32(rmF); lset(L_FA); i32c(imm); lset(L_FB); imul(regF); return true;
    case H.imulRMI: recLinear(rec, 4, false); read(4); lset(L_FA); i32c(imm); lset(L_FB); imul(regF); return true;
    case H.bitScanR: getReg32(rmF); lset(L_V); bitScan(imm != 0, regF); return true;
    case H.bitScanM: recLinear(rec, 4, false); read(4); lset(L_V); bitScan(imm != 0, regF); return true;
    case H.shiftDoubleR: return (imm & 0x200) != 0 ? shiftDoubleByCL((imm & 0x100) != 0, rmF, regF) : shiftDoubleImm((imm & 0x100) != 0, rmF, regF, imm & 31);
    case H.cmpxchgM32: // the write cannot fault once rmwStart checked it: the flags may change before it
      recLinear(rec, 4, true); rmwStart(4); rmwRead(4); lset(L_V);
      getReg32(REG_EAX); lset(L_FA); lget(L_V); lset(L_FB);
      aluCore(ALU_CMP, 32);
      getReg32(regF); lget(L_FB); lget(L_FA); lget(L_FB); op(OP_I32_EQ); op(OP_SELECT); lset(L_V); rmwWrite(4);
      lget(L_FB); setReg32(REG_EAX);
      return true;
    case H.bswapR: // rotate each byte pair into place (alu.ts has no BSWAP: the interpreter uses bswap<u32>)
      getReg32(rmF); i32c(8); op(OP_I32_ROTL); i32c(0x00ff00ff); op(OP_I32_AND);
      getReg32(rmF); i32c(8); op(OP_I32_ROTR); i32c(0xff00ff00); op(OP_I32_AND);
      op(OP_I32_OR); setReg32(rmF);
      return true;
    case H.jmpRel: eipAt(nextOff + load<u32>(rec, REC_DISP)); lset(L_T); return true;
    case H.callRel: eipAt(nextOff); lset(L_V); push32(); eipAt(nextOff + load<u32>(rec, REC_DISP)); lset(L_T); return true;
    case H.jmpR: getReg32(rmF); lset(L_T); return true;
    // The target is read before the push (handlers.ts callR, callM).
    case H.jmpM: recLinear(rec, 4, false); read(4); lset(L_T); return true;
    case H.callR: getReg32(rmF); lset(L_T); eipAt(nextOff); lset(L_V); push32(); return true;
    case H.callM: recLinear(rec, 4, false); read(4); lset(L_T); eipAt(nextOff); lset(L_V); push32(); return true;
    case H.ret: pop32(); lset(L_T); return true;
  }
  return false;
}
/**
 * BT/BTS/BTR/BTC (alu.ts bitTest) of L_V, the bit offset (0..31) on the stack: CF becomes the
 * bit, the other flags are kept; pushes the new value. After an ADD or SUB still pending, CF
 * moves to local fcf as after INC/DEC (pendCF 1) and the rest stays pending; otherwise the flags
 * go to their globals and CF is set there.
 */
export function bitTest(kind: u32): void {
  lset(L_T); i32c(1); lget(L_T); op(OP_I32_SHL); lset(L_T); // the mask
  if (pendKind == <i32>LAZY_ADD || pendKind == <i32>LAZY_SUB) {
    lget(L_V); lget(L_T); op(OP_I32_AND); i32c(0); op(OP_I32_NE); lset(L_FCF);
    pendCF = 1;
  } else {
    storeFlags(); pendKind = -1;
    gget(G_FLAGS); i32c(~FLAG_CF); op(OP_I32_AND);
    lget(L_V); lget(L_T); op(OP_I32_AND); i32c(0); op(OP_I32_NE); op(OP_I32_OR); gset(G_FLAGS);
    gget(G_LAZY_MASK); i32c(~FLAG_CF); op(OP_I32_AND); gset(G_LAZY_MASK);
  }
  lget(L_V);
  if (kind == 1) { lget(L_T); op(OP_I32_OR); }
  else if (kind == 2) { lget(L_T); i32c(-1); op(OP_I32_XOR); op(OP_I32_AND); }
  else if (kind == 3) { lget(L_T); op(OP_I32_XOR); }
}

/**
 * BSF/BSR (alu.ts bitScan) of L_V into register d. Which flags follow is known only at run
 * time (a zero source sets ZF and keeps the rest), so both arms leave them described in fk and
 * the locals (PEND_DYNAMIC), as shiftByCL does.
 */
function bitScan(reverse: bool, d: u32): void {
  if (pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  lget(L_V); op(OP_I32_EQZ);
  ifVoid();
  // ZF set, the rest kept: the pending flags to their globals, ZF out of the lazy ones and set.
  storeFlags();
  gget(G_FLAGS); i32c(FLAG_ZF); op(OP_I32_OR); gset(G_FLAGS);
  gget(G_LAZY_MASK); i32c(~FLAG_ZF); op(OP_I32_AND); gset(G_LAZY_MASK);
  i32c(0); lset(L_FK);
  els();
  lget(L_V);
  if (reverse) { op(OP_I32_CLZ); i32c(31); op(OP_I32_XOR); } else op(OP_I32_CTZ);
  setReg32(d);
  i32c(1); lset(L_FR);
  i32c(<u32>(LAZY_LOGIC + 1) | (32 << 4)); lset(L_FK);
  end();
  pendKind = PEND_DYNAMIC; pendCF = 0; pendWithCarry = false;
}

// SHLD/SHRD (alu.ts shiftDouble) of register d with bits from register s.
/** The count: a constant 1..31, or (-1) in local v. */
let dcount: i32 = 0;
function pushCount(minus: u32): void { if (dcount >= 0) i32c(<u32>dcount - minus); else { lget(L_V); if (minus != 0) { i32c(minus); op(OP_I32_SUB); } } }
function pushRest(): void { if (dcount >= 0) i32c(32 - <u32>dcount); else { i32c(32); lget(L_V); op(OP_I32_SUB); } }
/** The shift itself, for a count of 1..31: CF the last bit out of d, OF whether d's sign changed; pending as a shift. */
function shiftDoubleCore(left: bool, d: u32, s: u32): void {
  getReg32(d); lset(L_FA); getReg32(s); lset(L_FB);
  lget(L_FA); pushCount(0); op(left ? OP_I32_SHL : OP_I32_SHR_U);
  lget(L_FB); pushRest(); op(left ? OP_I32_SHR_U : OP_I32_SHL);
  op(OP_I32_OR); lset(L_FR);
  lget(L_FA); if (left) pushRest(); else pushCount(1); op(OP_I32_SHR_U); i32c(1); op(OP_I32_AND);
  lget(L_FR); lget(L_FA); op(OP_I32_XOR); i32c(31); op(OP_I32_SHR_U); i32c(11); op(OP_I32_SHL); op(OP_I32_OR);
  lset(L_FCF);
  lget(L_FR); setReg32(d);
}
function shiftDoubleImm(left: bool, d: u32, s: u32, count: u32): bool {
  if (count == 0) return true; // nothing changes, the flags included
  dcount = <i32>count;
  shiftDoubleCore(left, d, s);
  pendKind = PEND_SHIFT; pendSize = 32; pendCF = 0; pendWithCarry = false;
  return true;
}
/** By CL: a count of 0 (mod 32) changes nothing, so both arms leave the flags described in fk, as shiftByCL does. */
function shiftDoubleByCL(left: bool, d: u32, s: u32): bool {
  if (pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  getReg32(REG_ECX_LOCAL); i32c(31); op(OP_I32_AND); ltee(L_V);
  ifVoid();
  dcount = -1;
  shiftDoubleCore(left, d, s);
  i32c(<u32>(PEND_SHIFT + 1) | (32 << 4)); lset(L_FK);
  if (pendKind != PEND_DYNAMIC) { els(); i32c(pendingKind()); lset(L_FK); }
  end();
  pendKind = PEND_DYNAMIC; pendCF = 0; pendWithCarry = false;
  return true;
}

/**
 * IMUL of L_FA by L_FB into register d (alu.ts imul2): CF and OF when the 64-bit product does
 * not fit in 32 bits, ZF SF PF from the result, AF cleared: a pending shift's flags.
 */
function imul(d: u32): void {
  lget(L_FA); lget(L_FB); op(OP_I32_MUL); lset(L_FR);
  lget(L_FA); op(OP_I64_EXTEND_I32_S); lget(L_FB); op(OP_I64_EXTEND_I32_S); op(OP_I64_MUL);
  i64c(32); op(OP_I64_SHR_S); op(OP_I32_WRAP_I64);
  lget(L_FR); i32c(31); op(OP_I32_SHR_S); op(OP_I32_NE);
  i32c(FLAG_CF | FLAG_OF); op(OP_I32_MUL); lset(L_FCF);
  pendKind = PEND_SHIFT; pendSize = 32; pendCF = 0; pendWithCarry = false;
  lget(L_FR); setReg32(d);
}

/** SHL/SAL, SHR, SAR of a 32-bit register by a constant 1..31 (alu.ts shiftOp); the rotates go through the handler. */
function shiftImm(sop: u32, c: u32, r: u32): bool {
  if (c == 0 || sop < 4) return false;
  getReg32(r); lset(L_FA);
  lget(L_FA); i32c(c); op(sop == 5 ? OP_I32_SHR_U : sop == 7 ? OP_I32_SHR_S : OP_I32_SHL); lset(L_FR);
  // CF: the last bit shifted out.
  lget(L_FA);
  if (sop == 4 || sop == 6) { i32c(32 - c); op(OP_I32_SHR_U); } else if (c > 1) { i32c(c - 1); op(sop == 5 ? OP_I32_SHR_U : OP_I32_SHR_S); }
  i32c(1); op(OP_I32_AND);
  // OF: SHL: CF xor the result's sign; SHR: the operand's sign; SAR: 0.
  if (sop == 4 || sop == 6) { ltee(L_FCF); lget(L_FR); i32c(31); op(OP_I32_SHR_U); lget(L_FCF); op(OP_I32_XOR); i32c(11); op(OP_I32_SHL); op(OP_I32_OR); }
  else if (sop == 5) { lget(L_FA); i32c(31); op(OP_I32_SHR_U); i32c(11); op(OP_I32_SHL); op(OP_I32_OR); }
  lset(L_FCF);
  pendKind = PEND_SHIFT; pendSize = 32; pendCF = 0; pendWithCarry = false;
  lget(L_FR); setReg32(r);
  return true;
}

/**
 * SHL/SAL, SHR, SAR of a 32-bit register by CL. A count of 0 (mod 32) changes nothing, the
 * flags included, so which operation is pending is known only at run time: both arms leave it
 * described in fk and the locals (PEND_DYNAMIC), as at the top of a region's block.
 */
function shiftByCL(sop: u32, r: u32): bool {
  if (sop < 4) return false;
  // The pending operation as it stands, for the arm that changes nothing.
  if (pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  getReg32(REG_ECX_LOCAL); i32c(31); op(OP_I32_AND); ltee(L_V);
  ifVoid();
  getReg32(r); lset(L_FA);
  lget(L_FA); lget(L_V); op(sop == 5 ? OP_I32_SHR_U : sop == 7 ? OP_I32_SHR_S : OP_I32_SHL); lset(L_FR);
  // CF: the last bit shifted out; OF: SHL: CF xor the result's sign, SHR: the operand's sign, SAR: 0.
  if (sop == 4 || sop == 6) {
    lget(L_FA); i32c(32); lget(L_V); op(OP_I32_SUB); op(OP_I32_SHR_U); i32c(1); op(OP_I32_AND); ltee(L_FCF);
    lget(L_FR); i32c(31); op(OP_I32_SHR_U); lget(L_FCF); op(OP_I32_XOR); i32c(11); op(OP_I32_SHL); op(OP_I32_OR);
  } else {
    lget(L_FA); lget(L_V); i32c(1); op(OP_I32_SUB); op(sop == 5 ? OP_I32_SHR_U : OP_I32_SHR_S); i32c(1); op(OP_I32_AND);
    if (sop == 5) { lget(L_FA); i32c(31); op(OP_I32_SHR_U); i32c(11); op(OP_I32_SHL); op(OP_I32_OR); }
  }
  lset(L_FCF);
  lget(L_FR); setReg32(r);
  i32c(<u32>(PEND_SHIFT + 1) | (32 << 4)); lset(L_FK);
  if (pendKind != PEND_DYNAMIC) { els(); i32c(pendingKind()); lset(L_FK); }
  end();
  pendKind = PEND_DYNAMIC; pendCF = 0; pendWithCarry = false;
  return true;
}

/** ROL/ROR of a 32-bit register by a constant 1..31: CF and OF from the result, the other flags kept. */
function rotateImm(right: bool, c: u32, r: u32): bool {
  if (c == 0) return false;
  getReg32(r); i32c(c); op(right ? OP_I32_ROTR : OP_I32_ROTL); ltee(L_V); setReg32(r);
  if (right) { // CF = bit 31, OF = bit 31 xor bit 30
    lget(L_V); i32c(31); op(OP_I32_SHR_U); ltee(L_ROT);
    lget(L_V); i32c(30); op(OP_I32_SHR_U); lget(L_ROT); op(OP_I32_XOR); i32c(1); op(OP_I32_AND);
  } else { // CF = bit 0, OF = CF xor bit 31
    lget(L_V); i32c(1); op(OP_I32_AND); ltee(L_ROT);
    lget(L_V); i32c(31); op(OP_I32_SHR_U); lget(L_ROT); op(OP_I32_XOR);
  }
  i32c(11); op(OP_I32_SHL); op(OP_I32_OR); lset(L_ROT);
  if (pendKind != PEND_ROTATE) { rotBaseKind = pendKind; rotBaseSize = pendSize; rotBaseCF = pendCF; }
  pendKind = PEND_ROTATE;
  return true;
}
