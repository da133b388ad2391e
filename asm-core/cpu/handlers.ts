// What each decoded record does (cpu/record.ts, cpu/blocks.ts). A handler only routes operands:
// the operation itself is the one definition the interpreter uses too (alu.ts, flags.ts,
// stack.ts, string.ts...), inlined here where the operation and size are constants. Every
// handler is for 32-bit addresses and 32-bit operands, or for the common 16-bit ones (66h prefix);
// the decoder leaves all else to step().
//
// On entry EIP (`pc`) already points past the instruction and `instrStart` at it, as after the
// interpreter's fetch, so a fault restarts the instruction and a relative jump adds to `pc`.

import {
  STATE, reg32, setReg32, reg16, setReg16, reg8, setReg8, REG_EAX, REG_EDX, REG_ESP, FLAG_DF,
} from './state';
import { pc, instrStart } from './live';
import { o32, a32, segOvr, repPfx, clearPrefixes, getReg, setReg } from './decode';
import { setLazyLogic, testCC, testCCOp, flagsReg } from './flags';
import {
  alu, aluOp, inc, dec, neg, shift, shiftOp, imul2, mul, imul1, div, idiv, bitTest, bitScan, shiftDouble, cmpxchg,
  ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP,
} from './alu';
import { push32, pop32, espAdd } from './stack';
import { segAddr } from './segments';
import { stringOp } from './string';
import { step, leave } from './exec';
import { fpuEscape } from './fpu-escape';
import { REC_REG, REC_RM, REC_SCALE, REC_BASE, REC_INDEX, REC_DISP, REC_IMM } from './record';
import { readLin8, readLin16, readLin32, writeLin8, writeLin16, writeLin32, checkRmw } from '../mmu/access';

// ---- record fields ----
@inline function fReg(r: u32): u32 { return <u32>load<u8>(r, REC_REG); }
@inline function fRm(r: u32): u32 { return <u32>load<u8>(r, REC_RM); }
@inline function fImm(r: u32): u32 { return load<u32>(r, REC_IMM); }

/** The memory operand's offset: base + (index << scale) + displacement. */
@inline function ea(r: u32): u32 {
  return load<u32>(STATE + (<u32>load<u8>(r, REC_BASE) << 2))
    + (load<u32>(STATE + (<u32>load<u8>(r, REC_INDEX) << 2)) << (<u32>load<u8>(r, REC_SCALE)))
    + load<u32>(r, REC_DISP);
}
/** Linear address of an operand of `n` bytes to read, to write, or to read and then write. */
@inline function linRead(r: u32, n: u32): u32 { return segAddr(fRm(r), ea(r), n - 1, false); }
@inline function linWrite(r: u32, n: u32): u32 { return segAddr(fRm(r), ea(r), n - 1, true); }
@inline function linRmw(r: u32, n: u32): u32 { const lin = segAddr(fRm(r), ea(r), n - 1, true); checkRmw(lin, n); return lin; }

// ---- ALU: RR reg op= reg (dst REC_RM, src REC_REG), RI reg op= imm, RM reg op= mem (dst REC_REG),
// MR mem op= reg, MI mem op= imm ----
export const FORM_RR: u32 = 0;
export const FORM_RI: u32 = 1;
export const FORM_RM: u32 = 2;
export const FORM_MR: u32 = 3;
export const FORM_MI: u32 = 4;

@inline function readSized(size: u32, lin: u32): u32 {
  return size == 32 ? readLin32(lin) : size == 16 ? readLin16(lin) : readLin8(lin);
}
@inline function writeSized(size: u32, lin: u32, v: u32): void {
  if (size == 32) writeLin32(lin, v); else if (size == 16) writeLin16(lin, v); else writeLin8(lin, v);
}

@inline function aluRR(r: u32, op: u32, size: u32): void {
  const d = fRm(r);
  const v = aluOp(op, size, getReg(size, d), getReg(size, fReg(r)));
  if (op != ALU_CMP) setReg(size, d, v);
}
@inline function aluRI(r: u32, op: u32, size: u32): void {
  const d = fRm(r);
  const v = aluOp(op, size, getReg(size, d), fImm(r));
  if (op != ALU_CMP) setReg(size, d, v);
}
@inline function aluRM(r: u32, op: u32, size: u32): void {
  const d = fReg(r);
  const v = aluOp(op, size, getReg(size, d), readSized(size, linRead(r, size >> 3)));
  if (op != ALU_CMP) setReg(size, d, v);
}
@inline function aluMR(r: u32, op: u32, size: u32): void {
  if (op == ALU_CMP) { aluOp(op, size, readSized(size, linRead(r, size >> 3)), getReg(size, fReg(r))); return; }
  const lin = linRmw(r, size >> 3);
  writeSized(size, lin, aluOp(op, size, readSized(size, lin), getReg(size, fReg(r))));
}
@inline function aluMI(r: u32, op: u32, size: u32): void {
  if (op == ALU_CMP) { aluOp(op, size, readSized(size, linRead(r, size >> 3)), fImm(r)); return; }
  const lin = linRmw(r, size >> 3);
  writeSized(size, lin, aluOp(op, size, readSized(size, lin), fImm(r)));
}

function addRR32(r: u32): void { aluRR(r, ALU_ADD, 32); }  function orRR32(r: u32): void { aluRR(r, ALU_OR, 32); }
function adcRR32(r: u32): void { aluRR(r, ALU_ADC, 32); }  function sbbRR32(r: u32): void { aluRR(r, ALU_SBB, 32); }
function andRR32(r: u32): void { aluRR(r, ALU_AND, 32); }  function subRR32(r: u32): void { aluRR(r, ALU_SUB, 32); }
function xorRR32(r: u32): void { aluRR(r, ALU_XOR, 32); }  function cmpRR32(r: u32): void { aluRR(r, ALU_CMP, 32); }
function addRI32(r: u32): void { aluRI(r, ALU_ADD, 32); }  function orRI32(r: u32): void { aluRI(r, ALU_OR, 32); }
function adcRI32(r: u32): void { aluRI(r, ALU_ADC, 32); }  function sbbRI32(r: u32): void { aluRI(r, ALU_SBB, 32); }
function andRI32(r: u32): void { aluRI(r, ALU_AND, 32); }  function subRI32(r: u32): void { aluRI(r, ALU_SUB, 32); }
function xorRI32(r: u32): void { aluRI(r, ALU_XOR, 32); }  function cmpRI32(r: u32): void { aluRI(r, ALU_CMP, 32); }
function addRM32(r: u32): void { aluRM(r, ALU_ADD, 32); }  function orRM32(r: u32): void { aluRM(r, ALU_OR, 32); }
function adcRM32(r: u32): void { aluRM(r, ALU_ADC, 32); }  function sbbRM32(r: u32): void { aluRM(r, ALU_SBB, 32); }
function andRM32(r: u32): void { aluRM(r, ALU_AND, 32); }  function subRM32(r: u32): void { aluRM(r, ALU_SUB, 32); }
function xorRM32(r: u32): void { aluRM(r, ALU_XOR, 32); }  function cmpRM32(r: u32): void { aluRM(r, ALU_CMP, 32); }
function addMR32(r: u32): void { aluMR(r, ALU_ADD, 32); }  function orMR32(r: u32): void { aluMR(r, ALU_OR, 32); }
function adcMR32(r: u32): void { aluMR(r, ALU_ADC, 32); }  function sbbMR32(r: u32): void { aluMR(r, ALU_SBB, 32); }
function andMR32(r: u32): void { aluMR(r, ALU_AND, 32); }  function subMR32(r: u32): void { aluMR(r, ALU_SUB, 32); }
function xorMR32(r: u32): void { aluMR(r, ALU_XOR, 32); }  function cmpMR32(r: u32): void { aluMR(r, ALU_CMP, 32); }
function addMI32(r: u32): void { aluMI(r, ALU_ADD, 32); }  function orMI32(r: u32): void { aluMI(r, ALU_OR, 32); }
function adcMI32(r: u32): void { aluMI(r, ALU_ADC, 32); }  function sbbMI32(r: u32): void { aluMI(r, ALU_SBB, 32); }
function andMI32(r: u32): void { aluMI(r, ALU_AND, 32); }  function subMI32(r: u32): void { aluMI(r, ALU_SUB, 32); }
function xorMI32(r: u32): void { aluMI(r, ALU_XOR, 32); }  function cmpMI32(r: u32): void { aluMI(r, ALU_CMP, 32); }
function addRR8(r: u32): void { aluRR(r, ALU_ADD, 8); }  function orRR8(r: u32): void { aluRR(r, ALU_OR, 8); }
function adcRR8(r: u32): void { aluRR(r, ALU_ADC, 8); }  function sbbRR8(r: u32): void { aluRR(r, ALU_SBB, 8); }
function andRR8(r: u32): void { aluRR(r, ALU_AND, 8); }  function subRR8(r: u32): void { aluRR(r, ALU_SUB, 8); }
function xorRR8(r: u32): void { aluRR(r, ALU_XOR, 8); }  function cmpRR8(r: u32): void { aluRR(r, ALU_CMP, 8); }
function addRI8(r: u32): void { aluRI(r, ALU_ADD, 8); }  function orRI8(r: u32): void { aluRI(r, ALU_OR, 8); }
function adcRI8(r: u32): void { aluRI(r, ALU_ADC, 8); }  function sbbRI8(r: u32): void { aluRI(r, ALU_SBB, 8); }
function andRI8(r: u32): void { aluRI(r, ALU_AND, 8); }  function subRI8(r: u32): void { aluRI(r, ALU_SUB, 8); }
function xorRI8(r: u32): void { aluRI(r, ALU_XOR, 8); }  function cmpRI8(r: u32): void { aluRI(r, ALU_CMP, 8); }
function addRM8(r: u32): void { aluRM(r, ALU_ADD, 8); }  function orRM8(r: u32): void { aluRM(r, ALU_OR, 8); }
function adcRM8(r: u32): void { aluRM(r, ALU_ADC, 8); }  function sbbRM8(r: u32): void { aluRM(r, ALU_SBB, 8); }
function andRM8(r: u32): void { aluRM(r, ALU_AND, 8); }  function subRM8(r: u32): void { aluRM(r, ALU_SUB, 8); }
function xorRM8(r: u32): void { aluRM(r, ALU_XOR, 8); }  function cmpRM8(r: u32): void { aluRM(r, ALU_CMP, 8); }
function addMR8(r: u32): void { aluMR(r, ALU_ADD, 8); }  function orMR8(r: u32): void { aluMR(r, ALU_OR, 8); }
function adcMR8(r: u32): void { aluMR(r, ALU_ADC, 8); }  function sbbMR8(r: u32): void { aluMR(r, ALU_SBB, 8); }
function andMR8(r: u32): void { aluMR(r, ALU_AND, 8); }  function subMR8(r: u32): void { aluMR(r, ALU_SUB, 8); }
function xorMR8(r: u32): void { aluMR(r, ALU_XOR, 8); }  function cmpMR8(r: u32): void { aluMR(r, ALU_CMP, 8); }
function addMI8(r: u32): void { aluMI(r, ALU_ADD, 8); }  function orMI8(r: u32): void { aluMI(r, ALU_OR, 8); }
function adcMI8(r: u32): void { aluMI(r, ALU_ADC, 8); }  function sbbMI8(r: u32): void { aluMI(r, ALU_SBB, 8); }
function andMI8(r: u32): void { aluMI(r, ALU_AND, 8); }  function subMI8(r: u32): void { aluMI(r, ALU_SUB, 8); }
function xorMI8(r: u32): void { aluMI(r, ALU_XOR, 8); }  function cmpMI8(r: u32): void { aluMI(r, ALU_CMP, 8); }

/** The handler of ALU operation `op` (ALU_ADD...) in form FORM_* at 32 and at 8 bits. */
@inline export function aluHandler32(form: u32, op: u32): u32 { return H.ALU32 + form * 8 + op; }
@inline export function aluHandler8(form: u32, op: u32): u32 { return H.ALU8 + form * 8 + op; }

// ---- Jcc, one handler per condition so that its test folds ----
function jo(r: u32): void { if (testCCOp(0)) pc += load<u32>(r, REC_DISP); }  function jno(r: u32): void { if (testCCOp(1)) pc += load<u32>(r, REC_DISP); }
function jb(r: u32): void { if (testCCOp(2)) pc += load<u32>(r, REC_DISP); }  function jae(r: u32): void { if (testCCOp(3)) pc += load<u32>(r, REC_DISP); }
function jz(r: u32): void { if (testCCOp(4)) pc += load<u32>(r, REC_DISP); }  function jnz(r: u32): void { if (testCCOp(5)) pc += load<u32>(r, REC_DISP); }
function jbe(r: u32): void { if (testCCOp(6)) pc += load<u32>(r, REC_DISP); }  function ja(r: u32): void { if (testCCOp(7)) pc += load<u32>(r, REC_DISP); }
function js(r: u32): void { if (testCCOp(8)) pc += load<u32>(r, REC_DISP); }  function jns(r: u32): void { if (testCCOp(9)) pc += load<u32>(r, REC_DISP); }
function jp(r: u32): void { if (testCCOp(10)) pc += load<u32>(r, REC_DISP); }  function jnp(r: u32): void { if (testCCOp(11)) pc += load<u32>(r, REC_DISP); }
function jl(r: u32): void { if (testCCOp(12)) pc += load<u32>(r, REC_DISP); }  function jge(r: u32): void { if (testCCOp(13)) pc += load<u32>(r, REC_DISP); }
function jle(r: u32): void { if (testCCOp(14)) pc += load<u32>(r, REC_DISP); }  function jg(r: u32): void { if (testCCOp(15)) pc += load<u32>(r, REC_DISP); }
@inline export function jccHandler(cc: u32): u32 { return H.JCC + cc; }

// ---- moves ----
function movRR32(r: u32): void { setReg32(fRm(r), reg32(fReg(r))); }
function movRI32(r: u32): void { setReg32(fRm(r), fImm(r)); }
function movRM32(r: u32): void { setReg32(fReg(r), readLin32(linRead(r, 4))); }
function movMR32(r: u32): void { writeLin32(linWrite(r, 4), reg32(fReg(r))); }
function movMI32(r: u32): void { writeLin32(linWrite(r, 4), fImm(r)); }
function movRR8(r: u32): void { setReg8(fRm(r), reg8(fReg(r))); }
function movRI8(r: u32): void { setReg8(fRm(r), fImm(r)); }
function movRM8(r: u32): void { setReg8(fReg(r), readLin8(linRead(r, 1))); }
function movMR8(r: u32): void { writeLin8(linWrite(r, 1), reg8(fReg(r))); }
function movMI8(r: u32): void { writeLin8(linWrite(r, 1), fImm(r)); }
function lea32(r: u32): void { setReg32(fReg(r), ea(r)); }
function movzxRR8(r: u32): void { setReg32(fReg(r), reg8(fRm(r))); }
function movzxRM8(r: u32): void { setReg32(fReg(r), readLin8(linRead(r, 1))); }
function movzxRR16(r: u32): void { setReg32(fReg(r), reg16(fRm(r))); }
function movzxRM16(r: u32): void { setReg32(fReg(r), readLin16(linRead(r, 2))); }
function movsxRR8(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i8>reg8(fRm(r))))); }
function movsxRM8(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i8>readLin8(linRead(r, 1))))); }
function movsxRR16(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i16>reg16(fRm(r))))); }
function movsxRM16(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i16>readLin16(linRead(r, 2))))); }
function xchgRR32(r: u32): void { const a = fRm(r), b = fReg(r); const t = reg32(a); setReg32(a, reg32(b)); setReg32(b, t); }
function cwde(r: u32): void { setReg32(REG_EAX, <u32>(<i32>(<i16>reg16(REG_EAX)))); }
function cdq(r: u32): void { setReg32(REG_EDX, <u32>(<i32>reg32(REG_EAX) >> 31)); }
function nop(r: u32): void {}

// ---- 16-bit operands (66h): MOV, the ALU with the operation in the record (REC_IMM, or
// REC_REG for the immediate forms), TEST, shifts ----
function movRR16(r: u32): void { setReg16(fRm(r), reg16(fReg(r))); }
function movRI16(r: u32): void { setReg16(fRm(r), fImm(r)); }
function movRM16(r: u32): void { setReg16(fReg(r), readLin16(linRead(r, 2))); }
function movMR16(r: u32): void { writeLin16(linWrite(r, 2), reg16(fReg(r))); }
function movMI16(r: u32): void { writeLin16(linWrite(r, 2), fImm(r)); }
function aluRR16(r: u32): void { const op = fImm(r), d = fRm(r); const v = alu(op, 16, reg16(d), reg16(fReg(r))); if (op != ALU_CMP) setReg16(d, v); }
function aluRI16(r: u32): void { const op = fReg(r), d = fRm(r); const v = alu(op, 16, reg16(d), fImm(r)); if (op != ALU_CMP) setReg16(d, v); }
function aluRM16(r: u32): void { const op = fImm(r), d = fReg(r); const v = alu(op, 16, reg16(d), readLin16(linRead(r, 2))); if (op != ALU_CMP) setReg16(d, v); }
function aluMR16(r: u32): void {
  const op = fImm(r);
  if (op == ALU_CMP) { alu(op, 16, readLin16(linRead(r, 2)), reg16(fReg(r))); return; }
  const lin = linRmw(r, 2); writeLin16(lin, alu(op, 16, readLin16(lin), reg16(fReg(r))));
}
function aluMI16(r: u32): void {
  const op = fReg(r);
  if (op == ALU_CMP) { alu(op, 16, readLin16(linRead(r, 2)), fImm(r)); return; }
  const lin = linRmw(r, 2); writeLin16(lin, alu(op, 16, readLin16(lin), fImm(r)));
}
function testRR16(r: u32): void { setLazyLogic(16, reg16(fRm(r)) & reg16(fReg(r))); }
function testRI16(r: u32): void { setLazyLogic(16, reg16(fRm(r)) & fImm(r)); }
function testMR16(r: u32): void { setLazyLogic(16, readLin16(linRead(r, 2)) & reg16(fReg(r))); }
function testMI16(r: u32): void { setLazyLogic(16, readLin16(linRead(r, 2)) & fImm(r)); }
function shiftRI16(r: u32): void { const d = fRm(r); setReg16(d, shift(fReg(r), 16, reg16(d), fImm(r))); }
function shiftRC16(r: u32): void { const d = fRm(r); setReg16(d, shift(fReg(r), 16, reg16(d), reg8(1))); }
function shiftMI16(r: u32): void { const lin = linRmw(r, 2); writeLin16(lin, shift(fReg(r), 16, readLin16(lin), fImm(r))); }
function shiftMC16(r: u32): void { const lin = linRmw(r, 2); writeLin16(lin, shift(fReg(r), 16, readLin16(lin), reg8(1))); }

// ---- TEST, INC, DEC, NOT, NEG, multiply and divide ----
function testRR32(r: u32): void { setLazyLogic(32, reg32(fRm(r)) & reg32(fReg(r))); }
function testRI32(r: u32): void { setLazyLogic(32, reg32(fRm(r)) & fImm(r)); }
function testMR32(r: u32): void { setLazyLogic(32, readLin32(linRead(r, 4)) & reg32(fReg(r))); }
function testMI32(r: u32): void { setLazyLogic(32, readLin32(linRead(r, 4)) & fImm(r)); }
function testRR8(r: u32): void { setLazyLogic(8, reg8(fRm(r)) & reg8(fReg(r))); }
function testRI8(r: u32): void { setLazyLogic(8, reg8(fRm(r)) & fImm(r)); }
function testMR8(r: u32): void { setLazyLogic(8, readLin8(linRead(r, 1)) & reg8(fReg(r))); }
function testMI8(r: u32): void { setLazyLogic(8, readLin8(linRead(r, 1)) & fImm(r)); }
function incR32(r: u32): void { const d = fRm(r); setReg32(d, inc(32, reg32(d))); }
function decR32(r: u32): void { const d = fRm(r); setReg32(d, dec(32, reg32(d))); }
function incM32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, inc(32, readLin32(lin))); }
function decM32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, dec(32, readLin32(lin))); }
function notR32(r: u32): void { const d = fRm(r); setReg32(d, ~reg32(d)); }
function notM32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, ~readLin32(lin)); }
function negR32(r: u32): void { const d = fRm(r); setReg32(d, neg(32, reg32(d))); }
function negM32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, neg(32, readLin32(lin))); }
/** F7 /4../7: MUL, IMUL, DIV, IDIV of EDX:EAX by the operand (REC_REG holds /r). */
@inline function mulDiv32(op: u32, v: u32): void {
  if (op == 4) mul(32, v); else if (op == 5) imul1(32, v); else if (op == 6) div(32, v); else idiv(32, v);
}
function mulDivR32(r: u32): void { mulDiv32(fReg(r), reg32(fRm(r))); }
function mulDivM32(r: u32): void { mulDiv32(fReg(r), readLin32(linRead(r, 4))); }
function imulRRI(r: u32): void { setReg32(fReg(r), imul2(32, reg32(fRm(r)), fImm(r))); }
function imulRMI(r: u32): void { setReg32(fReg(r), imul2(32, readLin32(linRead(r, 4)), fImm(r))); }
function imulRR(r: u32): void { const d = fReg(r); setReg32(d, imul2(32, reg32(d), reg32(fRm(r)))); }
function imulRM(r: u32): void { const d = fReg(r); setReg32(d, imul2(32, reg32(d), readLin32(linRead(r, 4)))); }

// ---- shifts and rotates (REC_REG: the group-2 operation; REC_IMM: the count, or CL) ----
/** The common shifts by a constant, with the operation folded; RCL and RCR through shift(). */
@inline function shiftConst32(op: u32, v: u32, count: u32): u32 {
  switch (op) {
    case 0: return shiftOp(0, 32, v, count);
    case 1: return shiftOp(1, 32, v, count);
    case 4: return shiftOp(4, 32, v, count);
    case 5: return shiftOp(5, 32, v, count);
    case 7: return shiftOp(7, 32, v, count);
    default: return shift(op, 32, v, count);
  }
}
function shiftRI32(r: u32): void { const d = fRm(r); setReg32(d, shiftConst32(fReg(r), reg32(d), fImm(r))); }
function shiftRC32(r: u32): void { const d = fRm(r); setReg32(d, shift(fReg(r), 32, reg32(d), reg8(1))); }
function shiftMI32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, shift(fReg(r), 32, readLin32(lin), fImm(r))); }
function shiftMC32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, shift(fReg(r), 32, readLin32(lin), reg8(1))); }

// ---- SETcc and CMOVcc (REC_IMM: the condition) ----
function setccR(r: u32): void { setReg8(fRm(r), testCC(fImm(r)) ? 1 : 0); }
function setccM(r: u32): void { writeLin8(linWrite(r, 1), testCC(fImm(r)) ? 1 : 0); }
function cmovRR(r: u32): void { if (testCC(fImm(r))) setReg32(fReg(r), reg32(fRm(r))); }
/** The source is read even when the condition is false. */
function cmovRM(r: u32): void { const v = readLin32(linRead(r, 4)); if (testCC(fImm(r))) setReg32(fReg(r), v); }

// ---- SHLD, SHRD of a register (REC_IMM: the count byte | 0x100 for SHLD | 0x200 for a count in CL) ----
function shiftDoubleR(r: u32): void {
  const imm = fImm(r), d = fRm(r);
  const count = (imm & 0x200) != 0 ? reg8(1) : imm & 0xff;
  setReg32(d, shiftDouble((imm & 0x100) != 0, 32, reg32(d), reg32(fReg(r)), count));
}

/** 0F B1, CMPXCHG to memory (LOCKed or not: there is one CPU), with REC_REG's register (alu.ts cmpxchg). */
function cmpxchgM32(r: u32): void {
  const lin = linRmw(r, 4);
  const dst = readLin32(lin);
  const acc = reg32(REG_EAX);
  writeLin32(lin, cmpxchg(32, acc, dst, reg32(fReg(r))));
  if (dst != acc) setReg32(REG_EAX, dst);
}

// ---- BSF, BSR (REC_IMM: 1 for BSR) of a register or memory into REC_REG ----
@inline function bitScanTo(r: u32, v: u32): void { const i = bitScan(fImm(r) != 0, 32, v); if (i >= 0) setReg32(fReg(r), <u32>i); }
function bitScanR(r: u32): void { bitScanTo(r, reg32(fRm(r))); }
function bitScanM(r: u32): void { bitScanTo(r, readLin32(linRead(r, 4))); }

// ---- bit tests (REC_IMM: the kind, BT 0 BTS 1 BTR 2 BTC 3, << 8 | the immediate bit offset) and BSWAP ----
/** Bit offset in REC_REG's register (mod 32: the register form). */
function bitRR(r: u32): void {
  const d = fRm(r), kind = fImm(r) >> 8;
  const v = bitTest(kind, reg32(d), reg32(fReg(r)) & 31);
  if (kind != 0) setReg32(d, v);
}
function bitRI(r: u32): void {
  const d = fRm(r), kind = fImm(r) >> 8;
  const v = bitTest(kind, reg32(d), fImm(r) & 31);
  if (kind != 0) setReg32(d, v);
}
/** To memory with an immediate offset (the register-offset form addresses beyond the operand: step() runs it). */
function bitMI(r: u32): void {
  const kind = fImm(r) >> 8;
  if (kind == 0) { bitTest(0, readLin32(linRead(r, 4)), fImm(r) & 31); return; }
  const lin = linRmw(r, 4);
  writeLin32(lin, bitTest(kind, readLin32(lin), fImm(r) & 31));
}
function bswapR(r: u32): void { const d = fRm(r); setReg32(d, bswap<u32>(reg32(d))); }

// ---- the x87 (REC_IMM: the ESC opcode | ModRM << 8; a memory operand as any other) ----
function x87(r: u32): void {
  const modrm = fImm(r) >> 8;
  fpuEscape(fImm(r) & 0xff, modrm, fRm(r), modrm >= 0xc0 ? 0 : ea(r), true);
}

// ---- stack ----
function pushR32(r: u32): void { push32(reg32(fRm(r))); }
function pushI32(r: u32): void { push32(fImm(r)); }
function pushM32(r: u32): void { push32(readLin32(linRead(r, 4))); }
function popR32(r: u32): void { const v = pop32(); setReg32(fRm(r), v); }
function leave32(r: u32): void { o32 = true; leave(); }

// ---- near jumps, calls and returns (they end a block; REC_DISP: the relative target) ----
function jmpRel(r: u32): void { pc += load<u32>(r, REC_DISP); }
function callRel(r: u32): void { push32(pc); pc += load<u32>(r, REC_DISP); }
function jmpR(r: u32): void { pc = reg32(fRm(r)); }
function jmpM(r: u32): void { pc = readLin32(linRead(r, 4)); }
function callR(r: u32): void { const t = reg32(fRm(r)); push32(pc); pc = t; }
function callM(r: u32): void { const t = readLin32(linRead(r, 4)); push32(pc); pc = t; }
function ret(r: u32): void { pc = pop32(); }
function retImm(r: u32): void { const t = pop32(); setReg32(REG_ESP, espAdd(fImm(r))); pc = t; }

// ---- string instructions (REC_REG: STR_* kind, REC_SCALE: size in bits, REC_RM: segment
// override or 0xff, REC_IMM: the REP prefix or 0) ----
function stringOp32(r: u32): void {
  a32 = true;
  repPfx = fImm(r);
  const seg = fRm(r);
  segOvr = seg == 0xff ? -1 : <i32>seg;
  stringOp(fReg(r), <u32>load<u8>(r, REC_SCALE));
  clearPrefixes();
}

/** Anything else: the full interpreter decodes and executes it (always a block's last record). */
function interpret(r: u32): void { step(); }
/**
 * An instruction that cannot change the mode, the paging, the segments or the flow of control
 * (the x87, WAIT, bit scans and tests, double shifts, BSWAP, RDTSC): the interpreter runs it
 * from its first byte, and the block goes on (cpu/predecode.ts).
 */
function stepInBlock(r: u32): void { pc = instrStart; step(); }

/**
 * Handler numbers, as records store them: the ALU forms at ALU32 + form * 8 + operation and
 * ALU8 + form * 8 + operation, the sixteen Jcc at JCC + condition, then one number per handler.
 */
export enum H {
  ALU32 = 0, ALU8 = 40, JCC = 80,
  movRR32 = 96, movRI32, movRM32, movMR32, movMI32, movRR8, movRI8, movRM8, movMR8, movMI8, lea32,
  movzxRR8, movzxRM8, movzxRR16, movzxRM16, movsxRR8, movsxRM8, movsxRR16, movsxRM16, xchgRR32,
  cwde, cdq, nop, testRR32, testRI32, testMR32, testMI32, testRR8, testRI8, testMR8, testMI8,
  incR32, decR32, incM32, decM32, notR32, notM32, negR32, negM32, mulDivR32, mulDivM32, imulRRI,
  imulRMI, imulRR, imulRM, shiftRI32, shiftRC32, shiftMI32, shiftMC32, setccR, setccM, cmovRR,
  cmovRM, pushR32, pushI32, pushM32, popR32, leave32, jmpRel, callRel, jmpR, jmpM, callR, callM,
  ret, retImm, stringOp32, interpret,
  movRR16, movRI16, movRM16, movMR16, movMI16, aluRR16, aluRI16, aluRM16, aluMR16, aluMI16,
  testRR16, testRI16, testMR16, testMI16, shiftRI16, shiftRC16, shiftMI16, shiftMC16, stepInBlock,
  bitRR, bitRI, bitMI, bswapR, x87, bitScanR, bitScanM, shiftDoubleR, cmpxchgM32, cld, std,
}

/** Run the handler numbered `h` on record `r` (inlined into the block loop: one jump table). */
@inline export function dispatch(h: u32, r: u32): void {
  switch (h) {
    case 0: addRR32(r); return; case 1: orRR32(r); return; case 2: adcRR32(r); return; case 3: sbbRR32(r); return;
    case 4: andRR32(r); return; case 5: subRR32(r); return; case 6: xorRR32(r); return; case 7: cmpRR32(r); return;
    case 8: addRI32(r); return; case 9: orRI32(r); return; case 10: adcRI32(r); return; case 11: sbbRI32(r); return;
    case 12: andRI32(r); return; case 13: subRI32(r); return; case 14: xorRI32(r); return; case 15: cmpRI32(r); return;
    case 16: addRM32(r); return; case 17: orRM32(r); return; case 18: adcRM32(r); return; case 19: sbbRM32(r); return;
    case 20: andRM32(r); return; case 21: subRM32(r); return; case 22: xorRM32(r); return; case 23: cmpRM32(r); return;
    case 24: addMR32(r); return; case 25: orMR32(r); return; case 26: adcMR32(r); return; case 27: sbbMR32(r); return;
    case 28: andMR32(r); return; case 29: subMR32(r); return; case 30: xorMR32(r); return; case 31: cmpMR32(r); return;
    case 32: addMI32(r); return; case 33: orMI32(r); return; case 34: adcMI32(r); return; case 35: sbbMI32(r); return;
    case 36: andMI32(r); return; case 37: subMI32(r); return; case 38: xorMI32(r); return; case 39: cmpMI32(r); return;
    case 40: addRR8(r); return; case 41: orRR8(r); return; case 42: adcRR8(r); return; case 43: sbbRR8(r); return;
    case 44: andRR8(r); return; case 45: subRR8(r); return; case 46: xorRR8(r); return; case 47: cmpRR8(r); return;
    case 48: addRI8(r); return; case 49: orRI8(r); return; case 50: adcRI8(r); return; case 51: sbbRI8(r); return;
    case 52: andRI8(r); return; case 53: subRI8(r); return; case 54: xorRI8(r); return; case 55: cmpRI8(r); return;
    case 56: addRM8(r); return; case 57: orRM8(r); return; case 58: adcRM8(r); return; case 59: sbbRM8(r); return;
    case 60: andRM8(r); return; case 61: subRM8(r); return; case 62: xorRM8(r); return; case 63: cmpRM8(r); return;
    case 64: addMR8(r); return; case 65: orMR8(r); return; case 66: adcMR8(r); return; case 67: sbbMR8(r); return;
    case 68: andMR8(r); return; case 69: subMR8(r); return; case 70: xorMR8(r); return; case 71: cmpMR8(r); return;
    case 72: addMI8(r); return; case 73: orMI8(r); return; case 74: adcMI8(r); return; case 75: sbbMI8(r); return;
    case 76: andMI8(r); return; case 77: subMI8(r); return; case 78: xorMI8(r); return; case 79: cmpMI8(r); return;
    case 80: jo(r); return; case 81: jno(r); return; case 82: jb(r); return; case 83: jae(r); return;
    case 84: jz(r); return; case 85: jnz(r); return; case 86: jbe(r); return; case 87: ja(r); return;
    case 88: js(r); return; case 89: jns(r); return; case 90: jp(r); return; case 91: jnp(r); return;
    case 92: jl(r); return; case 93: jge(r); return; case 94: jle(r); return; case 95: jg(r); return;
    case H.movRR32: movRR32(r); return;
    case H.movRI32: movRI32(r); return;
    case H.movRM32: movRM32(r); return;
    case H.movMR32: movMR32(r); return;
    case H.movMI32: movMI32(r); return;
    case H.movRR8: movRR8(r); return;
    case H.movRI8: movRI8(r); return;
    case H.movRM8: movRM8(r); return;
    case H.movMR8: movMR8(r); return;
    case H.movMI8: movMI8(r); return;
    case H.lea32: lea32(r); return;
    case H.movzxRR8: movzxRR8(r); return;
    case H.movzxRM8: movzxRM8(r); return;
    case H.movzxRR16: movzxRR16(r); return;
    case H.movzxRM16: movzxRM16(r); return;
    case H.movsxRR8: movsxRR8(r); return;
    case H.movsxRM8: movsxRM8(r); return;
    case H.movsxRR16: movsxRR16(r); return;
    case H.movsxRM16: movsxRM16(r); return;
    case H.xchgRR32: xchgRR32(r); return;
    case H.cwde: cwde(r); return;
    case H.cdq: cdq(r); return;
    case H.nop: nop(r); return;
    case H.testRR32: testRR32(r); return;
    case H.testRI32: testRI32(r); return;
    case H.testMR32: testMR32(r); return;
    case H.testMI32: testMI32(r); return;
    case H.testRR8: testRR8(r); return;
    case H.testRI8: testRI8(r); return;
    case H.testMR8: testMR8(r); return;
    case H.testMI8: testMI8(r); return;
    case H.incR32: incR32(r); return;
    case H.decR32: decR32(r); return;
    case H.incM32: incM32(r); return;
    case H.decM32: decM32(r); return;
    case H.notR32: notR32(r); return;
    case H.notM32: notM32(r); return;
    case H.negR32: negR32(r); return;
    case H.negM32: negM32(r); return;
    case H.mulDivR32: mulDivR32(r); return;
    case H.mulDivM32: mulDivM32(r); return;
    case H.imulRRI: imulRRI(r); return;
    case H.imulRMI: imulRMI(r); return;
    case H.imulRR: imulRR(r); return;
    case H.imulRM: imulRM(r); return;
    case H.shiftRI32: shiftRI32(r); return;
    case H.shiftRC32: shiftRC32(r); return;
    case H.shiftMI32: shiftMI32(r); return;
    case H.shiftMC32: shiftMC32(r); return;
    case H.setccR: setccR(r); return;
    case H.setccM: setccM(r); return;
    case H.cmovRR: cmovRR(r); return;
    case H.cmovRM: cmovRM(r); return;
    case H.pushR32: pushR32(r); return;
    case H.pushI32: pushI32(r); return;
    case H.pushM32: pushM32(r); return;
    case H.popR32: popR32(r); return;
    case H.leave32: leave32(r); return;
    case H.jmpRel: jmpRel(r); return;
    case H.callRel: callRel(r); return;
    case H.jmpR: jmpR(r); return;
    case H.jmpM: jmpM(r); return;
    case H.callR: callR(r); return;
    case H.callM: callM(r); return;
    case H.ret: ret(r); return;
    case H.retImm: retImm(r); return;
    case H.stringOp32: stringOp32(r); return;
    case H.interpret: interpret(r); return;
    case H.movRR16: movRR16(r); return;
    case H.movRI16: movRI16(r); return;
    case H.movRM16: movRM16(r); return;
    case H.movMR16: movMR16(r); return;
    case H.movMI16: movMI16(r); return;
    case H.aluRR16: aluRR16(r); return;
    case H.aluRI16: aluRI16(r); return;
    case H.aluRM16: aluRM16(r); return;
    case H.aluMR16: aluMR16(r); return;
    case H.aluMI16: aluMI16(r); return;
    case H.testRR16: testRR16(r); return;
    case H.testRI16: testRI16(r); return;
    case H.testMR16: testMR16(r); return;
    case H.testMI16: testMI16(r); return;
    case H.shiftRI16: shiftRI16(r); return;
    case H.shiftRC16: shiftRC16(r); return;
    case H.shiftMI16: shiftMI16(r); return;
    case H.shiftMC16: shiftMC16(r); return;
    case H.stepInBlock: stepInBlock(r); return;
    case H.bitRR: bitRR(r); return;
    case H.bitRI: bitRI(r); return;
    case H.bitMI: bitMI(r); return;
    case H.bswapR: bswapR(r); return;
    case H.x87: x87(r); return;
    case H.bitScanR: bitScanR(r); return;
    case H.bitScanM: bitScanM(r); return;
    case H.shiftDoubleR: shiftDoubleR(r); return;
    case H.cmpxchgM32: cmpxchgM32(r); return;
    case H.cld: flagsReg &= ~FLAG_DF; return;
    case H.std: flagsReg |= FLAG_DF; return;
    default: interpret(r); return;
  }
}
