// The instructions a translation writes inline (jit/emit.ts): for each handler the opcode table
// gives an emitter (asm-core/opcodes/table.mjs `jit`), the function of that name here or in
// jit/shifts.ts writes its record's operation on the operands of jit/operands.ts, with its flags
// left pending (jit/pending.ts). jit/generated/inline.ts, generated from the table, dispatches to
// them; a handler without an emitter, or an emitter that answers false, goes through the block
// loop's handler. Each emitter takes the record and its handler number.

import {
  op, i32c, lget, lset, gget, gset, ifI32, end, els, OP_I32_ADD, OP_I32_SUB, OP_I32_AND, OP_I32_OR,
  OP_I32_XOR, OP_I32_SHR_S, OP_I32_EXTEND8_S, OP_I32_EXTEND16_S, OP_SELECT, OP_I32_ROTL,
  OP_I32_ROTR, OP_I32_EQ, helper,
} from './wasm';
import { L_FA, L_FB, L_FR, L_FCF, L_OFF, L_V, L_T, L_CARRY, G_FLAGS } from './layout';
import {
  PEND_DYNAMIC, PEND_ROTATE, pendKind, pendSize, pendCF, pendWithCarry, maskOf, storeFlags, pendingCF,
  dynamicCF, globalCF, condition, logicPending,
} from './pending';
import { FLAG_DF, SEG_SS, REG_EAX, REG_EDX, REG_ESP, REG_EBP } from '../cpu/state';
import { REC_REG, REC_DISP, REC_IMM } from '../cpu/record';
import { H } from '../cpu/generated/handlers';
import { LAZY_ADD, LAZY_SUB, LAZY_LOGIC } from '../cpu/flags';
import { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP } from '../cpu/alu';
import {
  effectiveAddress, eipAt, getReg, getReg16, getReg32, getReg8, linear, nextOff, pop32, push32, read, immField,
  recLinear, regField, rmField, rmwRead, rmwStart, rmwWrite, setReg, setReg16, setReg32, setReg8, write,
} from './operands';

/** The record forms, in the order of the ALU handler numbers (generated/handlers.ts: ALU32 + form * 8 + operation). */
const FORM_RR: u32 = 0, FORM_RI: u32 = 1, FORM_RM: u32 = 2, FORM_MR: u32 = 3, FORM_MI: u32 = 4;

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
  if (pendKind == PEND_DYNAMIC) { dynamicCF(); lset(L_CARRY); return; }
  if (pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  if (pendKind < 0) globalCF();
  else pendingCF();
  lset(L_CARRY);
}
/** Push the masked result. */
function aluResult(size: u32): void { lget(L_FR); if (size != 32) { i32c(maskOf(size)); op(OP_I32_AND); } }

/** INC/DEC of the value in L_V: CF is kept, so it is first taken from the pending operation. */
function incDec(isDec: bool, size: u32): void {
  if (pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  if (pendKind == PEND_DYNAMIC) { dynamicCF(); lset(L_FCF); pendCF = 1; }
  else if (pendKind < 0) { globalCF(); lset(L_FCF); pendCF = 1; }
  else if (pendCF == 0) { pendingCF(); lset(L_FCF); pendCF = 1; }
  // pendCF 1: CF already lives where the new operation keeps it (local fcf).
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

/** An ALU handler (generated/handlers.ts: ALU32 or ALU8 + form * 8 + operation). */
export function alu(rec: u32, h: u32): bool {
  return aluForm(rec, (h % 40) >> 3, h & 7, h < <u32>H.ALU8 ? 32 : 8, regField(rec), rmField(rec), immField(rec));
}

/** A Jcc inside a block (emit.ts writes a block's last one as a branch): the next EIP into L_T. */
export function jcc(rec: u32, h: u32): bool {
  condition(h - <u32>H.JCC);
  ifI32(); eipAt(nextOff + load<u32>(rec, REC_DISP)); els(); eipAt(nextOff); end();
  lset(L_T);
  return true;
}

export function movRR32(rec: u32, h: u32): bool { getReg32(regField(rec)); setReg32(rmField(rec)); return true; }
export function movRI32(rec: u32, h: u32): bool { i32c(immField(rec)); setReg32(rmField(rec)); return true; }
export function movRM32(rec: u32, h: u32): bool { recLinear(rec, 4, false); read(4); setReg32(regField(rec)); return true; }
export function movMR32(rec: u32, h: u32): bool { recLinear(rec, 4, true); getReg32(regField(rec)); lset(L_V); write(4); return true; }
export function movMI32(rec: u32, h: u32): bool { recLinear(rec, 4, true); i32c(immField(rec)); lset(L_V); write(4); return true; }
export function movRR8(rec: u32, h: u32): bool { getReg8(regField(rec)); setReg8(rmField(rec)); return true; }
export function movRI8(rec: u32, h: u32): bool { i32c(immField(rec)); setReg8(rmField(rec)); return true; }
export function movRM8(rec: u32, h: u32): bool { recLinear(rec, 1, false); read(1); setReg8(regField(rec)); return true; }
export function movMR8(rec: u32, h: u32): bool { recLinear(rec, 1, true); getReg8(regField(rec)); lset(L_V); write(1); return true; }
export function movMI8(rec: u32, h: u32): bool { recLinear(rec, 1, true); i32c(immField(rec)); lset(L_V); write(1); return true; }
export function lea32(rec: u32, h: u32): bool { effectiveAddress(rec); lget(L_OFF); setReg32(regField(rec)); return true; }
export function movzxRR8(rec: u32, h: u32): bool { getReg8(rmField(rec)); setReg32(regField(rec)); return true; }
export function movzxRM8(rec: u32, h: u32): bool { recLinear(rec, 1, false); read(1); setReg32(regField(rec)); return true; }
export function movzxRR16(rec: u32, h: u32): bool { getReg32(rmField(rec)); i32c(0xffff); op(OP_I32_AND); setReg32(regField(rec)); return true; }
export function movzxRM16(rec: u32, h: u32): bool { recLinear(rec, 2, false); read(2); setReg32(regField(rec)); return true; }
export function movsxRR8(rec: u32, h: u32): bool { getReg8(rmField(rec)); op(OP_I32_EXTEND8_S); setReg32(regField(rec)); return true; }
export function movsxRM8(rec: u32, h: u32): bool { recLinear(rec, 1, false); read(1); op(OP_I32_EXTEND8_S); setReg32(regField(rec)); return true; }
export function movsxRR16(rec: u32, h: u32): bool { getReg32(rmField(rec)); op(OP_I32_EXTEND16_S); setReg32(regField(rec)); return true; }
export function movsxRM16(rec: u32, h: u32): bool { recLinear(rec, 2, false); read(2); op(OP_I32_EXTEND16_S); setReg32(regField(rec)); return true; }

export function xchgRR32(rec: u32, h: u32): bool {
  getReg32(rmField(rec)); lset(L_V); getReg32(regField(rec)); setReg32(rmField(rec)); lget(L_V); setReg32(regField(rec)); return true;
}

export function cwde(rec: u32, h: u32): bool { getReg32(REG_EAX); op(OP_I32_EXTEND16_S); setReg32(REG_EAX); return true; }
export function cdq(rec: u32, h: u32): bool { getReg32(REG_EAX); i32c(31); op(OP_I32_SHR_S); setReg32(REG_EDX); return true; }
export function nop(rec: u32, h: u32): bool { return true; }
/** TEST's tail, its two operands pushed: AND them into the pending logic result; flags only. */
function testAnd(size: u32): bool { op(OP_I32_AND); lset(L_FR); logicPending(size); return true; }
export function testRR32(rec: u32, h: u32): bool { getReg32(rmField(rec)); getReg32(regField(rec)); return testAnd(32); }
export function testRI32(rec: u32, h: u32): bool { getReg32(rmField(rec)); i32c(immField(rec)); return testAnd(32); }
export function testMR32(rec: u32, h: u32): bool { recLinear(rec, 4, false); read(4); getReg32(regField(rec)); return testAnd(32); }
export function testMI32(rec: u32, h: u32): bool { recLinear(rec, 4, false); read(4); i32c(immField(rec)); return testAnd(32); }
export function testRR8(rec: u32, h: u32): bool { getReg8(rmField(rec)); getReg8(regField(rec)); return testAnd(8); }
export function testRI8(rec: u32, h: u32): bool { getReg8(rmField(rec)); i32c(immField(rec)); return testAnd(8); }
export function testMR8(rec: u32, h: u32): bool { recLinear(rec, 1, false); read(1); getReg8(regField(rec)); return testAnd(8); }
export function testMI8(rec: u32, h: u32): bool { recLinear(rec, 1, false); read(1); i32c(immField(rec)); return testAnd(8); }

export function incR32(rec: u32, h: u32): bool { getReg32(rmField(rec)); lset(L_V); incDec(false, 32); lget(L_FR); setReg32(rmField(rec)); return true; }

export function incDecM32(rec: u32, h: u32): bool {
  recLinear(rec, 4, true); rmwStart(4); rmwRead(4); lset(L_V);
  incDec(h == <u32>H.decM32, 32); lget(L_FR); lset(L_V); rmwWrite(4);
  return true;
}

export function pushM32(rec: u32, h: u32): bool { recLinear(rec, 4, false); read(4); lset(L_V); push32(); return true; }
export function decR32(rec: u32, h: u32): bool { getReg32(rmField(rec)); lset(L_V); incDec(true, 32); lget(L_FR); setReg32(rmField(rec)); return true; }

// DF is not among the lazy flags: it lives in flagsReg alone (cpu/flags.ts).
export function cld(rec: u32, h: u32): bool { gget(G_FLAGS); i32c(~FLAG_DF); op(OP_I32_AND); gset(G_FLAGS); return true; }
export function std(rec: u32, h: u32): bool { gget(G_FLAGS); i32c(FLAG_DF); op(OP_I32_OR); gset(G_FLAGS); return true; }
export function notR32(rec: u32, h: u32): bool { getReg32(rmField(rec)); i32c(-1); op(OP_I32_XOR); setReg32(rmField(rec)); return true; }

/** The flags of SUB from 0 (alu.ts neg). */
export function negR32(rec: u32, h: u32): bool {
  i32c(0); lset(L_FA); getReg32(rmField(rec)); lset(L_FB); aluCore(ALU_SUB, 32); lget(L_FR); setReg32(rmField(rec)); return true;
}

// 16-bit operands (66h): the ALU operation is in REC_IMM (RR, RM, MR) or REC_REG (RI, MI), and
// an immediate is used as the record has it, as handlers.ts does.
export function aluRR16(rec: u32, h: u32): bool { return aluForm(rec, FORM_RR, immField(rec), 16, regField(rec), rmField(rec), 0); }
export function aluRI16(rec: u32, h: u32): bool { return aluForm(rec, FORM_RI, regField(rec), 16, 0, rmField(rec), immField(rec)); }
export function aluRM16(rec: u32, h: u32): bool { return aluForm(rec, FORM_RM, immField(rec), 16, regField(rec), 0, 0); }
export function aluMR16(rec: u32, h: u32): bool { return aluForm(rec, FORM_MR, immField(rec), 16, regField(rec), 0, 0); }
export function aluMI16(rec: u32, h: u32): bool { return aluForm(rec, FORM_MI, regField(rec), 16, 0, 0, immField(rec)); }
export function incDecR16(rec: u32, h: u32): bool {
  getReg16(rmField(rec)); lset(L_V); incDec(h == <u32>H.decR16, 16); lget(L_FR); setReg16(rmField(rec)); return true;
}
export function incDecM16(rec: u32, h: u32): bool {
  recLinear(rec, 2, true); rmwStart(2); rmwRead(2); lset(L_V);
  incDec(h == <u32>H.decM16, 16); lget(L_FR); lset(L_V); rmwWrite(2);
  return true;
}
export function movRR16(rec: u32, h: u32): bool { getReg16(regField(rec)); setReg16(rmField(rec)); return true; }
export function movRI16(rec: u32, h: u32): bool { i32c(immField(rec)); setReg16(rmField(rec)); return true; }
export function movRM16(rec: u32, h: u32): bool { recLinear(rec, 2, false); read(2); setReg16(regField(rec)); return true; }
export function movMR16(rec: u32, h: u32): bool { recLinear(rec, 2, true); getReg16(regField(rec)); lset(L_V); write(2); return true; }
export function movMI16(rec: u32, h: u32): bool { recLinear(rec, 2, true); i32c(immField(rec)); lset(L_V); write(2); return true; }
export function testRR16(rec: u32, h: u32): bool { getReg16(rmField(rec)); getReg16(regField(rec)); op(OP_I32_AND); lset(L_FR); logicPending(16); return true; }
export function testRI16(rec: u32, h: u32): bool { getReg16(rmField(rec)); i32c(immField(rec) & 0xffff); op(OP_I32_AND); lset(L_FR); logicPending(16); return true; }

export function testMR16(rec: u32, h: u32): bool {
  recLinear(rec, 2, false); read(2); getReg16(regField(rec)); op(OP_I32_AND); lset(L_FR); logicPending(16); return true;
}

export function testMI16(rec: u32, h: u32): bool {
  recLinear(rec, 2, false); read(2); i32c(immField(rec) & 0xffff); op(OP_I32_AND); lset(L_FR); logicPending(16); return true;
}

export function setccR(rec: u32, h: u32): bool { condition(immField(rec)); setReg8(rmField(rec)); return true; }
export function setccM(rec: u32, h: u32): bool { recLinear(rec, 1, true); condition(immField(rec)); lset(L_V); write(1); return true; }

/** ESP and EBP change only after the read, which may fault (exec.ts leave). */
export function leave32(rec: u32, h: u32): bool {
  getReg32(REG_EBP); lset(L_OFF); linear(SEG_SS, 4, false); read(4); lset(L_V);
  lget(L_OFF); i32c(4); op(OP_I32_ADD); setReg32(REG_ESP); lget(L_V); setReg32(REG_EBP);
  return true;
}

export function cmovRR(rec: u32, h: u32): bool {
  getReg32(rmField(rec)); getReg32(regField(rec)); condition(immField(rec)); op(OP_SELECT); setReg32(regField(rec));
  return true;
}

/** The source is read, and may fault, even when the condition is false. */
export function cmovRM(rec: u32, h: u32): bool {
  recLinear(rec, 4, false); read(4); getReg32(regField(rec)); condition(immField(rec)); op(OP_SELECT); setReg32(regField(rec));
  return true;
}

export function pushR32(rec: u32, h: u32): bool { getReg32(rmField(rec)); lset(L_V); push32(); return true; }
export function pushI32(rec: u32, h: u32): bool { i32c(immField(rec)); lset(L_V); push32(); return true; }
export function popR32(rec: u32, h: u32): bool { pop32(); setReg32(rmField(rec)); return true; }

/** The write cannot fault once rmwStart checked it: the flags may change before it. */
export function cmpxchgM32(rec: u32, h: u32): bool {
  recLinear(rec, 4, true); rmwStart(4); rmwRead(4); lset(L_V);
  getReg32(REG_EAX); lset(L_FA); lget(L_V); lset(L_FB);
  aluCore(ALU_CMP, 32);
  getReg32(regField(rec)); lget(L_FB); lget(L_FA); lget(L_FB); op(OP_I32_EQ); op(OP_SELECT); lset(L_V); rmwWrite(4);
  lget(L_FB); setReg32(REG_EAX);
  return true;
}

/** XADD m32, r32 (handlers.ts xaddM32): the sum to memory, the old value to the register. */
export function xaddM32(rec: u32, h: u32): bool {
  recLinear(rec, 4, true); rmwStart(4); rmwRead(4); lset(L_FA);
  getReg32(regField(rec)); lset(L_FB);
  aluCore(ALU_ADD, 32);
  lget(L_FR); lset(L_V); rmwWrite(4);
  lget(L_FA); setReg32(regField(rec));
  return true;
}

/** Rotate each byte pair into place (alu.ts has no BSWAP: the interpreter uses bswap<u32>). */
export function bswapR(rec: u32, h: u32): bool {
  getReg32(rmField(rec)); i32c(8); op(OP_I32_ROTL); i32c(0x00ff00ff); op(OP_I32_AND);
  getReg32(rmField(rec)); i32c(8); op(OP_I32_ROTR); i32c(0xff00ff00); op(OP_I32_AND);
  op(OP_I32_OR); setReg32(rmField(rec));
  return true;
}

export function jmpRel(rec: u32, h: u32): bool { eipAt(nextOff + load<u32>(rec, REC_DISP)); lset(L_T); return true; }
export function callRel(rec: u32, h: u32): bool { eipAt(nextOff); lset(L_V); push32(); eipAt(nextOff + load<u32>(rec, REC_DISP)); lset(L_T); return true; }
export function jmpR(rec: u32, h: u32): bool { getReg32(rmField(rec)); lset(L_T); return true; }
export function jmpM(rec: u32, h: u32): bool { recLinear(rec, 4, false); read(4); lset(L_T); return true; }
// The target is read before the push (handlers.ts callR, callM).
export function callR(rec: u32, h: u32): bool { getReg32(rmField(rec)); lset(L_T); eipAt(nextOff); lset(L_V); push32(); return true; }
export function callM(rec: u32, h: u32): bool { recLinear(rec, 4, false); read(4); lset(L_T); eipAt(nextOff); lset(L_V); push32(); return true; }
export function ret(rec: u32, h: u32): bool { pop32(); lset(L_T); return true; }
