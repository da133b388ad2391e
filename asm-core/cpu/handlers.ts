// What each decoded record does (cpu/record.ts, cpu/blocks.ts). A handler only routes operands:
// the operation itself is the one definition the interpreter uses too (alu.ts, flags.ts,
// stack.ts, string.ts...), inlined here where the operation and size are constants. Every
// handler is for 32-bit operand and address size; the decoder leaves all else to step().
//
// On entry EIP (`pc`) already points past the instruction and `instrStart` at it, as after the
// interpreter's fetch, so a fault restarts the instruction and a relative jump adds to `pc`.

import {
  STATE, reg32, setReg32, reg16, reg8, setReg8, REG_EAX, REG_EDX, REG_ESP,
} from './state';
import { pc } from './live';
import { o32, a32, segOvr, repPfx, clearPrefixes } from './decode';
import { setLazyLogic, testCC, testCCOp } from './flags';
import {
  aluOp, inc, dec, neg, shift, imul2, mul, imul1, div, idiv,
  ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP,
} from './alu';
import { push32, pop32, espAdd } from './stack';
import { segAddr } from './segments';
import { stringOp } from './string';
import { step, leave } from './exec';
import { REC_REG, REC_RM, REC_SCALE, REC_BASE, REC_INDEX, REC_DISP, REC_IMM } from './record';
import { readLin8, readLin16, readLin32, writeLin8, writeLin32, checkRmw } from '../mmu/access';

/** The function-table index of a handler (what a record stores). */
@inline export function index(h: (r: u32) => void): u32 { return load<u32>(changetype<usize>(h)); }

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

@inline function aluRR32(r: u32, op: u32): void { const d = fRm(r); const v = aluOp(op, 32, reg32(d), reg32(fReg(r))); if (op != ALU_CMP) setReg32(d, v); }
@inline function aluRI32(r: u32, op: u32): void { const d = fRm(r); const v = aluOp(op, 32, reg32(d), fImm(r)); if (op != ALU_CMP) setReg32(d, v); }
@inline function aluRM32(r: u32, op: u32): void { const d = fReg(r); const v = aluOp(op, 32, reg32(d), readLin32(linRead(r, 4))); if (op != ALU_CMP) setReg32(d, v); }
@inline function aluMR32(r: u32, op: u32): void {
  if (op == ALU_CMP) { aluOp(op, 32, readLin32(linRead(r, 4)), reg32(fReg(r))); return; }
  const lin = linRmw(r, 4); writeLin32(lin, aluOp(op, 32, readLin32(lin), reg32(fReg(r))));
}
@inline function aluMI32(r: u32, op: u32): void {
  if (op == ALU_CMP) { aluOp(op, 32, readLin32(linRead(r, 4)), fImm(r)); return; }
  const lin = linRmw(r, 4); writeLin32(lin, aluOp(op, 32, readLin32(lin), fImm(r)));
}
@inline function aluRR8(r: u32, op: u32): void { const d = fRm(r); const v = aluOp(op, 8, reg8(d), reg8(fReg(r))); if (op != ALU_CMP) setReg8(d, v); }
@inline function aluRI8(r: u32, op: u32): void { const d = fRm(r); const v = aluOp(op, 8, reg8(d), fImm(r)); if (op != ALU_CMP) setReg8(d, v); }
@inline function aluRM8(r: u32, op: u32): void { const d = fReg(r); const v = aluOp(op, 8, reg8(d), readLin8(linRead(r, 1))); if (op != ALU_CMP) setReg8(d, v); }
@inline function aluMR8(r: u32, op: u32): void {
  if (op == ALU_CMP) { aluOp(op, 8, readLin8(linRead(r, 1)), reg8(fReg(r))); return; }
  const lin = linRmw(r, 1); writeLin8(lin, aluOp(op, 8, readLin8(lin), reg8(fReg(r))));
}
@inline function aluMI8(r: u32, op: u32): void {
  if (op == ALU_CMP) { aluOp(op, 8, readLin8(linRead(r, 1)), fImm(r)); return; }
  const lin = linRmw(r, 1); writeLin8(lin, aluOp(op, 8, readLin8(lin), fImm(r)));
}

function addRR32(r: u32): void { aluRR32(r, ALU_ADD); }  function orRR32(r: u32): void { aluRR32(r, ALU_OR); }
function adcRR32(r: u32): void { aluRR32(r, ALU_ADC); }  function sbbRR32(r: u32): void { aluRR32(r, ALU_SBB); }
function andRR32(r: u32): void { aluRR32(r, ALU_AND); }  function subRR32(r: u32): void { aluRR32(r, ALU_SUB); }
function xorRR32(r: u32): void { aluRR32(r, ALU_XOR); }  function cmpRR32(r: u32): void { aluRR32(r, ALU_CMP); }
function addRI32(r: u32): void { aluRI32(r, ALU_ADD); }  function orRI32(r: u32): void { aluRI32(r, ALU_OR); }
function adcRI32(r: u32): void { aluRI32(r, ALU_ADC); }  function sbbRI32(r: u32): void { aluRI32(r, ALU_SBB); }
function andRI32(r: u32): void { aluRI32(r, ALU_AND); }  function subRI32(r: u32): void { aluRI32(r, ALU_SUB); }
function xorRI32(r: u32): void { aluRI32(r, ALU_XOR); }  function cmpRI32(r: u32): void { aluRI32(r, ALU_CMP); }
function addRM32(r: u32): void { aluRM32(r, ALU_ADD); }  function orRM32(r: u32): void { aluRM32(r, ALU_OR); }
function adcRM32(r: u32): void { aluRM32(r, ALU_ADC); }  function sbbRM32(r: u32): void { aluRM32(r, ALU_SBB); }
function andRM32(r: u32): void { aluRM32(r, ALU_AND); }  function subRM32(r: u32): void { aluRM32(r, ALU_SUB); }
function xorRM32(r: u32): void { aluRM32(r, ALU_XOR); }  function cmpRM32(r: u32): void { aluRM32(r, ALU_CMP); }
function addMR32(r: u32): void { aluMR32(r, ALU_ADD); }  function orMR32(r: u32): void { aluMR32(r, ALU_OR); }
function adcMR32(r: u32): void { aluMR32(r, ALU_ADC); }  function sbbMR32(r: u32): void { aluMR32(r, ALU_SBB); }
function andMR32(r: u32): void { aluMR32(r, ALU_AND); }  function subMR32(r: u32): void { aluMR32(r, ALU_SUB); }
function xorMR32(r: u32): void { aluMR32(r, ALU_XOR); }  function cmpMR32(r: u32): void { aluMR32(r, ALU_CMP); }
function addMI32(r: u32): void { aluMI32(r, ALU_ADD); }  function orMI32(r: u32): void { aluMI32(r, ALU_OR); }
function adcMI32(r: u32): void { aluMI32(r, ALU_ADC); }  function sbbMI32(r: u32): void { aluMI32(r, ALU_SBB); }
function andMI32(r: u32): void { aluMI32(r, ALU_AND); }  function subMI32(r: u32): void { aluMI32(r, ALU_SUB); }
function xorMI32(r: u32): void { aluMI32(r, ALU_XOR); }  function cmpMI32(r: u32): void { aluMI32(r, ALU_CMP); }
function addRR8(r: u32): void { aluRR8(r, ALU_ADD); }  function orRR8(r: u32): void { aluRR8(r, ALU_OR); }
function adcRR8(r: u32): void { aluRR8(r, ALU_ADC); }  function sbbRR8(r: u32): void { aluRR8(r, ALU_SBB); }
function andRR8(r: u32): void { aluRR8(r, ALU_AND); }  function subRR8(r: u32): void { aluRR8(r, ALU_SUB); }
function xorRR8(r: u32): void { aluRR8(r, ALU_XOR); }  function cmpRR8(r: u32): void { aluRR8(r, ALU_CMP); }
function addRI8(r: u32): void { aluRI8(r, ALU_ADD); }  function orRI8(r: u32): void { aluRI8(r, ALU_OR); }
function adcRI8(r: u32): void { aluRI8(r, ALU_ADC); }  function sbbRI8(r: u32): void { aluRI8(r, ALU_SBB); }
function andRI8(r: u32): void { aluRI8(r, ALU_AND); }  function subRI8(r: u32): void { aluRI8(r, ALU_SUB); }
function xorRI8(r: u32): void { aluRI8(r, ALU_XOR); }  function cmpRI8(r: u32): void { aluRI8(r, ALU_CMP); }
function addRM8(r: u32): void { aluRM8(r, ALU_ADD); }  function orRM8(r: u32): void { aluRM8(r, ALU_OR); }
function adcRM8(r: u32): void { aluRM8(r, ALU_ADC); }  function sbbRM8(r: u32): void { aluRM8(r, ALU_SBB); }
function andRM8(r: u32): void { aluRM8(r, ALU_AND); }  function subRM8(r: u32): void { aluRM8(r, ALU_SUB); }
function xorRM8(r: u32): void { aluRM8(r, ALU_XOR); }  function cmpRM8(r: u32): void { aluRM8(r, ALU_CMP); }
function addMR8(r: u32): void { aluMR8(r, ALU_ADD); }  function orMR8(r: u32): void { aluMR8(r, ALU_OR); }
function adcMR8(r: u32): void { aluMR8(r, ALU_ADC); }  function sbbMR8(r: u32): void { aluMR8(r, ALU_SBB); }
function andMR8(r: u32): void { aluMR8(r, ALU_AND); }  function subMR8(r: u32): void { aluMR8(r, ALU_SUB); }
function xorMR8(r: u32): void { aluMR8(r, ALU_XOR); }  function cmpMR8(r: u32): void { aluMR8(r, ALU_CMP); }
function addMI8(r: u32): void { aluMI8(r, ALU_ADD); }  function orMI8(r: u32): void { aluMI8(r, ALU_OR); }
function adcMI8(r: u32): void { aluMI8(r, ALU_ADC); }  function sbbMI8(r: u32): void { aluMI8(r, ALU_SBB); }
function andMI8(r: u32): void { aluMI8(r, ALU_AND); }  function subMI8(r: u32): void { aluMI8(r, ALU_SUB); }
function xorMI8(r: u32): void { aluMI8(r, ALU_XOR); }  function cmpMI8(r: u32): void { aluMI8(r, ALU_CMP); }

/** The handler of ALU operation `op` (ALU_ADD...) in form FORM_* at 32 bits. */
export function aluHandler32(form: u32, op: u32): u32 {
  switch (form * 8 + op) {
    case 0: return index(addRR32); case 1: return index(orRR32); case 2: return index(adcRR32); case 3: return index(sbbRR32);
    case 4: return index(andRR32); case 5: return index(subRR32); case 6: return index(xorRR32); case 7: return index(cmpRR32);
    case 8: return index(addRI32); case 9: return index(orRI32); case 10: return index(adcRI32); case 11: return index(sbbRI32);
    case 12: return index(andRI32); case 13: return index(subRI32); case 14: return index(xorRI32); case 15: return index(cmpRI32);
    case 16: return index(addRM32); case 17: return index(orRM32); case 18: return index(adcRM32); case 19: return index(sbbRM32);
    case 20: return index(andRM32); case 21: return index(subRM32); case 22: return index(xorRM32); case 23: return index(cmpRM32);
    case 24: return index(addMR32); case 25: return index(orMR32); case 26: return index(adcMR32); case 27: return index(sbbMR32);
    case 28: return index(andMR32); case 29: return index(subMR32); case 30: return index(xorMR32); case 31: return index(cmpMR32);
    case 32: return index(addMI32); case 33: return index(orMI32); case 34: return index(adcMI32); case 35: return index(sbbMI32);
    case 36: return index(andMI32); case 37: return index(subMI32); case 38: return index(xorMI32); case 39: return index(cmpMI32);
  }
  return 0;
}
/** The handler of ALU operation `op` (ALU_ADD...) in form FORM_* at 8 bits. */
export function aluHandler8(form: u32, op: u32): u32 {
  switch (form * 8 + op) {
    case 0: return index(addRR8); case 1: return index(orRR8); case 2: return index(adcRR8); case 3: return index(sbbRR8);
    case 4: return index(andRR8); case 5: return index(subRR8); case 6: return index(xorRR8); case 7: return index(cmpRR8);
    case 8: return index(addRI8); case 9: return index(orRI8); case 10: return index(adcRI8); case 11: return index(sbbRI8);
    case 12: return index(andRI8); case 13: return index(subRI8); case 14: return index(xorRI8); case 15: return index(cmpRI8);
    case 16: return index(addRM8); case 17: return index(orRM8); case 18: return index(adcRM8); case 19: return index(sbbRM8);
    case 20: return index(andRM8); case 21: return index(subRM8); case 22: return index(xorRM8); case 23: return index(cmpRM8);
    case 24: return index(addMR8); case 25: return index(orMR8); case 26: return index(adcMR8); case 27: return index(sbbMR8);
    case 28: return index(andMR8); case 29: return index(subMR8); case 30: return index(xorMR8); case 31: return index(cmpMR8);
    case 32: return index(addMI8); case 33: return index(orMI8); case 34: return index(adcMI8); case 35: return index(sbbMI8);
    case 36: return index(andMI8); case 37: return index(subMI8); case 38: return index(xorMI8); case 39: return index(cmpMI8);
  }
  return 0;
}

// ---- Jcc, one handler per condition so that its test folds ----
function jo(r: u32): void { if (testCCOp(0)) pc += load<u32>(r, REC_DISP); }  function jno(r: u32): void { if (testCCOp(1)) pc += load<u32>(r, REC_DISP); }
function jb(r: u32): void { if (testCCOp(2)) pc += load<u32>(r, REC_DISP); }  function jae(r: u32): void { if (testCCOp(3)) pc += load<u32>(r, REC_DISP); }
function jz(r: u32): void { if (testCCOp(4)) pc += load<u32>(r, REC_DISP); }  function jnz(r: u32): void { if (testCCOp(5)) pc += load<u32>(r, REC_DISP); }
function jbe(r: u32): void { if (testCCOp(6)) pc += load<u32>(r, REC_DISP); }  function ja(r: u32): void { if (testCCOp(7)) pc += load<u32>(r, REC_DISP); }
function js(r: u32): void { if (testCCOp(8)) pc += load<u32>(r, REC_DISP); }  function jns(r: u32): void { if (testCCOp(9)) pc += load<u32>(r, REC_DISP); }
function jp(r: u32): void { if (testCCOp(10)) pc += load<u32>(r, REC_DISP); }  function jnp(r: u32): void { if (testCCOp(11)) pc += load<u32>(r, REC_DISP); }
function jl(r: u32): void { if (testCCOp(12)) pc += load<u32>(r, REC_DISP); }  function jge(r: u32): void { if (testCCOp(13)) pc += load<u32>(r, REC_DISP); }
function jle(r: u32): void { if (testCCOp(14)) pc += load<u32>(r, REC_DISP); }  function jg(r: u32): void { if (testCCOp(15)) pc += load<u32>(r, REC_DISP); }
export function jccHandler(cc: u32): u32 {
  switch (cc) {
    case 0: return index(jo); case 1: return index(jno); case 2: return index(jb); case 3: return index(jae);
    case 4: return index(jz); case 5: return index(jnz); case 6: return index(jbe); case 7: return index(ja);
    case 8: return index(js); case 9: return index(jns); case 10: return index(jp); case 11: return index(jnp);
    case 12: return index(jl); case 13: return index(jge); case 14: return index(jle); case 15: return index(jg);
  }
  return 0;
}

// ---- moves ----
export function movRR32(r: u32): void { setReg32(fRm(r), reg32(fReg(r))); }
export function movRI32(r: u32): void { setReg32(fRm(r), fImm(r)); }
export function movRM32(r: u32): void { setReg32(fReg(r), readLin32(linRead(r, 4))); }
export function movMR32(r: u32): void { writeLin32(linWrite(r, 4), reg32(fReg(r))); }
export function movMI32(r: u32): void { writeLin32(linWrite(r, 4), fImm(r)); }
export function movRR8(r: u32): void { setReg8(fRm(r), reg8(fReg(r))); }
export function movRI8(r: u32): void { setReg8(fRm(r), fImm(r)); }
export function movRM8(r: u32): void { setReg8(fReg(r), readLin8(linRead(r, 1))); }
export function movMR8(r: u32): void { writeLin8(linWrite(r, 1), reg8(fReg(r))); }
export function movMI8(r: u32): void { writeLin8(linWrite(r, 1), fImm(r)); }
export function lea32(r: u32): void { setReg32(fReg(r), ea(r)); }
export function movzxRR8(r: u32): void { setReg32(fReg(r), reg8(fRm(r))); }
export function movzxRM8(r: u32): void { setReg32(fReg(r), readLin8(linRead(r, 1))); }
export function movzxRR16(r: u32): void { setReg32(fReg(r), reg16(fRm(r))); }
export function movzxRM16(r: u32): void { setReg32(fReg(r), readLin16(linRead(r, 2))); }
export function movsxRR8(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i8>reg8(fRm(r))))); }
export function movsxRM8(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i8>readLin8(linRead(r, 1))))); }
export function movsxRR16(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i16>reg16(fRm(r))))); }
export function movsxRM16(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i16>readLin16(linRead(r, 2))))); }
export function xchgRR32(r: u32): void { const a = fRm(r), b = fReg(r); const t = reg32(a); setReg32(a, reg32(b)); setReg32(b, t); }
export function cwde(r: u32): void { setReg32(REG_EAX, <u32>(<i32>(<i16>reg16(REG_EAX)))); }
export function cdq(r: u32): void { setReg32(REG_EDX, <u32>(<i32>reg32(REG_EAX) >> 31)); }
export function nop(r: u32): void {}

// ---- TEST, INC, DEC, NOT, NEG, multiply and divide ----
export function testRR32(r: u32): void { setLazyLogic(32, reg32(fRm(r)) & reg32(fReg(r))); }
export function testRI32(r: u32): void { setLazyLogic(32, reg32(fRm(r)) & fImm(r)); }
export function testMR32(r: u32): void { setLazyLogic(32, readLin32(linRead(r, 4)) & reg32(fReg(r))); }
export function testMI32(r: u32): void { setLazyLogic(32, readLin32(linRead(r, 4)) & fImm(r)); }
export function testRR8(r: u32): void { setLazyLogic(8, reg8(fRm(r)) & reg8(fReg(r))); }
export function testRI8(r: u32): void { setLazyLogic(8, reg8(fRm(r)) & fImm(r)); }
export function testMR8(r: u32): void { setLazyLogic(8, readLin8(linRead(r, 1)) & reg8(fReg(r))); }
export function testMI8(r: u32): void { setLazyLogic(8, readLin8(linRead(r, 1)) & fImm(r)); }
export function incR32(r: u32): void { const d = fRm(r); setReg32(d, inc(32, reg32(d))); }
export function decR32(r: u32): void { const d = fRm(r); setReg32(d, dec(32, reg32(d))); }
export function incM32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, inc(32, readLin32(lin))); }
export function decM32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, dec(32, readLin32(lin))); }
export function notR32(r: u32): void { const d = fRm(r); setReg32(d, ~reg32(d)); }
export function notM32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, ~readLin32(lin)); }
export function negR32(r: u32): void { const d = fRm(r); setReg32(d, neg(32, reg32(d))); }
export function negM32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, neg(32, readLin32(lin))); }
/** F7 /4../7: MUL, IMUL, DIV, IDIV of EDX:EAX by the operand (REC_REG holds /r). */
@inline function mulDiv32(op: u32, v: u32): void {
  if (op == 4) mul(32, v); else if (op == 5) imul1(32, v); else if (op == 6) div(32, v); else idiv(32, v);
}
export function mulDivR32(r: u32): void { mulDiv32(fReg(r), reg32(fRm(r))); }
export function mulDivM32(r: u32): void { mulDiv32(fReg(r), readLin32(linRead(r, 4))); }
export function imulRRI(r: u32): void { setReg32(fReg(r), imul2(32, reg32(fRm(r)), fImm(r))); }
export function imulRMI(r: u32): void { setReg32(fReg(r), imul2(32, readLin32(linRead(r, 4)), fImm(r))); }
export function imulRR(r: u32): void { const d = fReg(r); setReg32(d, imul2(32, reg32(d), reg32(fRm(r)))); }
export function imulRM(r: u32): void { const d = fReg(r); setReg32(d, imul2(32, reg32(d), readLin32(linRead(r, 4)))); }

// ---- shifts and rotates (REC_REG: the group-2 operation; REC_IMM: the count, or CL) ----
export function shiftRI32(r: u32): void { const d = fRm(r); setReg32(d, shift(fReg(r), 32, reg32(d), fImm(r))); }
export function shiftRC32(r: u32): void { const d = fRm(r); setReg32(d, shift(fReg(r), 32, reg32(d), reg8(1))); }
export function shiftMI32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, shift(fReg(r), 32, readLin32(lin), fImm(r))); }
export function shiftMC32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, shift(fReg(r), 32, readLin32(lin), reg8(1))); }

// ---- SETcc and CMOVcc (REC_IMM: the condition) ----
export function setccR(r: u32): void { setReg8(fRm(r), testCC(fImm(r)) ? 1 : 0); }
export function setccM(r: u32): void { writeLin8(linWrite(r, 1), testCC(fImm(r)) ? 1 : 0); }
export function cmovRR(r: u32): void { if (testCC(fImm(r))) setReg32(fReg(r), reg32(fRm(r))); }
/** The source is read even when the condition is false. */
export function cmovRM(r: u32): void { const v = readLin32(linRead(r, 4)); if (testCC(fImm(r))) setReg32(fReg(r), v); }

// ---- stack ----
export function pushR32(r: u32): void { push32(reg32(fRm(r))); }
export function pushI32(r: u32): void { push32(fImm(r)); }
export function pushM32(r: u32): void { push32(readLin32(linRead(r, 4))); }
export function popR32(r: u32): void { const v = pop32(); setReg32(fRm(r), v); }
export function leave32(r: u32): void { o32 = true; leave(); }

// ---- near jumps, calls and returns (they end a block; REC_DISP: the relative target) ----
export function jmpRel(r: u32): void { pc += load<u32>(r, REC_DISP); }
export function callRel(r: u32): void { push32(pc); pc += load<u32>(r, REC_DISP); }
export function jmpR(r: u32): void { pc = reg32(fRm(r)); }
export function jmpM(r: u32): void { pc = readLin32(linRead(r, 4)); }
export function callR(r: u32): void { const t = reg32(fRm(r)); push32(pc); pc = t; }
export function callM(r: u32): void { const t = readLin32(linRead(r, 4)); push32(pc); pc = t; }
export function ret(r: u32): void { pc = pop32(); }
export function retImm(r: u32): void { const t = pop32(); setReg32(REG_ESP, espAdd(fImm(r))); pc = t; }

// ---- string instructions (REC_REG: STR_* kind, REC_SCALE: size in bits, REC_RM: segment
// override or 0xff, REC_IMM: the REP prefix or 0) ----
export function stringOp32(r: u32): void {
  a32 = true;
  repPfx = fImm(r);
  const seg = fRm(r);
  segOvr = seg == 0xff ? -1 : <i32>seg;
  stringOp(fReg(r), <u32>load<u8>(r, REC_SCALE));
  clearPrefixes();
}

/** Anything else: the full interpreter decodes and executes it (always a block's last record). */
export function interpret(r: u32): void { step(); }
