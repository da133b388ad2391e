// What each decoded record does (cpu/record.ts, cpu/blocks.ts). A handler only routes operands:
// the operation itself is the one definition the interpreter uses too (alu.ts, flags.ts,
// stack.ts, string.ts...), inlined here where the operation and size are constants. Every
// handler is for 32-bit addresses and 32-bit operands, or for the common 16-bit ones (66h prefix);
// the decoder leaves all else to step().
//
// On entry EIP (`pc`) already points past the instruction and `instrStart` at it, as after the
// interpreter's fetch, so a fault restarts the instruction and a relative jump adds to `pc`.
//
// Each handler is a row of the opcode table (asm-core/opcodes/table.mjs), which numbers them:
// the numbers (enum H) and the dispatch switch over them are generated from it
// (cpu/generated/handlers.ts). A handler added here needs its row there.

import {
  STATE, reg32, setReg32, reg16, setReg16, reg8, setReg8, REG_EAX, REG_EDX, REG_ESP, FLAG_DF, FLAG_IF, FLAG_VM, FLAG_RF,
} from './state';
import { pc, instrStart, cplLive } from './live';
import { o32, a32, segOvr, repPfx, clearPrefixes, getReg, setReg } from './decode';
import { setLazyLogic, testCC, testCCOp, flagsReg, getEflags } from './flags';
import {
  alu, aluOp, inc, dec, neg, shift, shiftOp, imul2, mul, imul1, div, idiv, bitTest, bitScan, shiftDouble, cmpxchg,
  ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP,
} from './alu';
import { push32, push32OrRecord, pop32, espAdd } from './stack';
import { segAddr } from './segments';
import { stringOp } from './string';
import { step, sahf as sahfOp, lahf as lahfOp } from './exec';
import { leave } from './stack-ops';
import { fpuEscape } from './fpu-escape';
import { cmpxchg8bAt } from './exec0f';
import { REC_REG, REC_RM, REC_SCALE, REC_BASE, REC_INDEX, REC_DISP, REC_IMM } from './record';
import { readLin8, readLin16, readLin32, writeLin8, writeLin16, writeLin32, checkRmw, readLinOrRecord, writeLinOrRecord, checkRmwOrRecord } from '../mmu/access';
import { pendingVector } from './fault';

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
// A page fault in the 8- and 32-bit memory forms is recorded, not thrown (mmu/access.ts
// readLinOrRecord): the handler returns before it changes anything, and the block loop leaves.
@inline function aluRM(r: u32, op: u32, size: u32): void {
  const d = fReg(r);
  const m = readLinOrRecord(linRead(r, size >> 3), size >> 3);
  if (pendingVector >= 0) return;
  const v = aluOp(op, size, getReg(size, d), m);
  if (op != ALU_CMP) setReg(size, d, v);
}
@inline function aluMR(r: u32, op: u32, size: u32): void { aluM(r, op, size, getReg(size, fReg(r))); }
@inline function aluMI(r: u32, op: u32, size: u32): void { aluM(r, op, size, fImm(r)); }
/** The memory operand op= `src`; after the write check the read and the write cannot fault. */
@inline function aluM(r: u32, op: u32, size: u32, src: u32): void {
  const n = size >> 3;
  if (op == ALU_CMP) {
    const m = readLinOrRecord(linRead(r, n), n);
    if (pendingVector < 0) aluOp(op, size, m, src);
    return;
  }
  const lin = linWrite(r, n);
  if (checkRmwOrRecord(lin, n)) writeSized(size, lin, aluOp(op, size, readSized(size, lin), src));
}

export function addRR32(r: u32): void { aluRR(r, ALU_ADD, 32); }  export function orRR32(r: u32): void { aluRR(r, ALU_OR, 32); }
export function adcRR32(r: u32): void { aluRR(r, ALU_ADC, 32); }  export function sbbRR32(r: u32): void { aluRR(r, ALU_SBB, 32); }
export function andRR32(r: u32): void { aluRR(r, ALU_AND, 32); }  export function subRR32(r: u32): void { aluRR(r, ALU_SUB, 32); }
export function xorRR32(r: u32): void { aluRR(r, ALU_XOR, 32); }  export function cmpRR32(r: u32): void { aluRR(r, ALU_CMP, 32); }
export function addRI32(r: u32): void { aluRI(r, ALU_ADD, 32); }  export function orRI32(r: u32): void { aluRI(r, ALU_OR, 32); }
export function adcRI32(r: u32): void { aluRI(r, ALU_ADC, 32); }  export function sbbRI32(r: u32): void { aluRI(r, ALU_SBB, 32); }
export function andRI32(r: u32): void { aluRI(r, ALU_AND, 32); }  export function subRI32(r: u32): void { aluRI(r, ALU_SUB, 32); }
export function xorRI32(r: u32): void { aluRI(r, ALU_XOR, 32); }  export function cmpRI32(r: u32): void { aluRI(r, ALU_CMP, 32); }
export function addRM32(r: u32): void { aluRM(r, ALU_ADD, 32); }  export function orRM32(r: u32): void { aluRM(r, ALU_OR, 32); }
export function adcRM32(r: u32): void { aluRM(r, ALU_ADC, 32); }  export function sbbRM32(r: u32): void { aluRM(r, ALU_SBB, 32); }
export function andRM32(r: u32): void { aluRM(r, ALU_AND, 32); }  export function subRM32(r: u32): void { aluRM(r, ALU_SUB, 32); }
export function xorRM32(r: u32): void { aluRM(r, ALU_XOR, 32); }  export function cmpRM32(r: u32): void { aluRM(r, ALU_CMP, 32); }
export function addMR32(r: u32): void { aluMR(r, ALU_ADD, 32); }  export function orMR32(r: u32): void { aluMR(r, ALU_OR, 32); }
export function adcMR32(r: u32): void { aluMR(r, ALU_ADC, 32); }  export function sbbMR32(r: u32): void { aluMR(r, ALU_SBB, 32); }
export function andMR32(r: u32): void { aluMR(r, ALU_AND, 32); }  export function subMR32(r: u32): void { aluMR(r, ALU_SUB, 32); }
export function xorMR32(r: u32): void { aluMR(r, ALU_XOR, 32); }  export function cmpMR32(r: u32): void { aluMR(r, ALU_CMP, 32); }
export function addMI32(r: u32): void { aluMI(r, ALU_ADD, 32); }  export function orMI32(r: u32): void { aluMI(r, ALU_OR, 32); }
export function adcMI32(r: u32): void { aluMI(r, ALU_ADC, 32); }  export function sbbMI32(r: u32): void { aluMI(r, ALU_SBB, 32); }
export function andMI32(r: u32): void { aluMI(r, ALU_AND, 32); }  export function subMI32(r: u32): void { aluMI(r, ALU_SUB, 32); }
export function xorMI32(r: u32): void { aluMI(r, ALU_XOR, 32); }  export function cmpMI32(r: u32): void { aluMI(r, ALU_CMP, 32); }
export function addRR8(r: u32): void { aluRR(r, ALU_ADD, 8); }  export function orRR8(r: u32): void { aluRR(r, ALU_OR, 8); }
export function adcRR8(r: u32): void { aluRR(r, ALU_ADC, 8); }  export function sbbRR8(r: u32): void { aluRR(r, ALU_SBB, 8); }
export function andRR8(r: u32): void { aluRR(r, ALU_AND, 8); }  export function subRR8(r: u32): void { aluRR(r, ALU_SUB, 8); }
export function xorRR8(r: u32): void { aluRR(r, ALU_XOR, 8); }  export function cmpRR8(r: u32): void { aluRR(r, ALU_CMP, 8); }
export function addRI8(r: u32): void { aluRI(r, ALU_ADD, 8); }  export function orRI8(r: u32): void { aluRI(r, ALU_OR, 8); }
export function adcRI8(r: u32): void { aluRI(r, ALU_ADC, 8); }  export function sbbRI8(r: u32): void { aluRI(r, ALU_SBB, 8); }
export function andRI8(r: u32): void { aluRI(r, ALU_AND, 8); }  export function subRI8(r: u32): void { aluRI(r, ALU_SUB, 8); }
export function xorRI8(r: u32): void { aluRI(r, ALU_XOR, 8); }  export function cmpRI8(r: u32): void { aluRI(r, ALU_CMP, 8); }
export function addRM8(r: u32): void { aluRM(r, ALU_ADD, 8); }  export function orRM8(r: u32): void { aluRM(r, ALU_OR, 8); }
export function adcRM8(r: u32): void { aluRM(r, ALU_ADC, 8); }  export function sbbRM8(r: u32): void { aluRM(r, ALU_SBB, 8); }
export function andRM8(r: u32): void { aluRM(r, ALU_AND, 8); }  export function subRM8(r: u32): void { aluRM(r, ALU_SUB, 8); }
export function xorRM8(r: u32): void { aluRM(r, ALU_XOR, 8); }  export function cmpRM8(r: u32): void { aluRM(r, ALU_CMP, 8); }
export function addMR8(r: u32): void { aluMR(r, ALU_ADD, 8); }  export function orMR8(r: u32): void { aluMR(r, ALU_OR, 8); }
export function adcMR8(r: u32): void { aluMR(r, ALU_ADC, 8); }  export function sbbMR8(r: u32): void { aluMR(r, ALU_SBB, 8); }
export function andMR8(r: u32): void { aluMR(r, ALU_AND, 8); }  export function subMR8(r: u32): void { aluMR(r, ALU_SUB, 8); }
export function xorMR8(r: u32): void { aluMR(r, ALU_XOR, 8); }  export function cmpMR8(r: u32): void { aluMR(r, ALU_CMP, 8); }
export function addMI8(r: u32): void { aluMI(r, ALU_ADD, 8); }  export function orMI8(r: u32): void { aluMI(r, ALU_OR, 8); }
export function adcMI8(r: u32): void { aluMI(r, ALU_ADC, 8); }  export function sbbMI8(r: u32): void { aluMI(r, ALU_SBB, 8); }
export function andMI8(r: u32): void { aluMI(r, ALU_AND, 8); }  export function subMI8(r: u32): void { aluMI(r, ALU_SUB, 8); }
export function xorMI8(r: u32): void { aluMI(r, ALU_XOR, 8); }  export function cmpMI8(r: u32): void { aluMI(r, ALU_CMP, 8); }

// ---- Jcc, one handler per condition so that its test folds ----
export function jo(r: u32): void { if (testCCOp(0)) pc += load<u32>(r, REC_DISP); }  export function jno(r: u32): void { if (testCCOp(1)) pc += load<u32>(r, REC_DISP); }
export function jb(r: u32): void { if (testCCOp(2)) pc += load<u32>(r, REC_DISP); }  export function jae(r: u32): void { if (testCCOp(3)) pc += load<u32>(r, REC_DISP); }
export function jz(r: u32): void { if (testCCOp(4)) pc += load<u32>(r, REC_DISP); }  export function jnz(r: u32): void { if (testCCOp(5)) pc += load<u32>(r, REC_DISP); }
export function jbe(r: u32): void { if (testCCOp(6)) pc += load<u32>(r, REC_DISP); }  export function ja(r: u32): void { if (testCCOp(7)) pc += load<u32>(r, REC_DISP); }
export function js(r: u32): void { if (testCCOp(8)) pc += load<u32>(r, REC_DISP); }  export function jns(r: u32): void { if (testCCOp(9)) pc += load<u32>(r, REC_DISP); }
export function jp(r: u32): void { if (testCCOp(10)) pc += load<u32>(r, REC_DISP); }  export function jnp(r: u32): void { if (testCCOp(11)) pc += load<u32>(r, REC_DISP); }
export function jl(r: u32): void { if (testCCOp(12)) pc += load<u32>(r, REC_DISP); }  export function jge(r: u32): void { if (testCCOp(13)) pc += load<u32>(r, REC_DISP); }
export function jle(r: u32): void { if (testCCOp(14)) pc += load<u32>(r, REC_DISP); }  export function jg(r: u32): void { if (testCCOp(15)) pc += load<u32>(r, REC_DISP); }

// ---- moves ----
export function movRR32(r: u32): void { setReg32(fRm(r), reg32(fReg(r))); }
export function movRI32(r: u32): void { setReg32(fRm(r), fImm(r)); }
// A page fault in these is recorded, not thrown (mmu/access.ts readLinOrRecord): the
// block loop (blocks.ts) then does not retire the instruction.
@inline export function movRM32(r: u32): void {
  const v = readLinOrRecord(linRead(r, 4), 4);
  if (pendingVector < 0) setReg32(fReg(r), v);
}
@inline export function movMR32(r: u32): void { writeLinOrRecord(linWrite(r, 4), reg32(fReg(r)), 4); }
export function movMI32(r: u32): void { writeLinOrRecord(linWrite(r, 4), fImm(r), 4); }
export function movRR8(r: u32): void { setReg8(fRm(r), reg8(fReg(r))); }
export function movRI8(r: u32): void { setReg8(fRm(r), fImm(r)); }
export function movRM8(r: u32): void {
  const v = readLinOrRecord(linRead(r, 1), 1);
  if (pendingVector < 0) setReg8(fReg(r), v);
}
export function movMR8(r: u32): void { writeLinOrRecord(linWrite(r, 1), reg8(fReg(r)), 1); }
export function movMI8(r: u32): void { writeLinOrRecord(linWrite(r, 1), fImm(r), 1); }
export function lea32(r: u32): void { setReg32(fReg(r), ea(r)); }
export function movzxRR8(r: u32): void { setReg32(fReg(r), reg8(fRm(r))); }
export function movzxRM8(r: u32): void {
  const v = readLinOrRecord(linRead(r, 1), 1);
  if (pendingVector < 0) setReg32(fReg(r), v);
}
export function movzxRR16(r: u32): void { setReg32(fReg(r), reg16(fRm(r))); }
export function movzxRM16(r: u32): void {
  const v = readLinOrRecord(linRead(r, 2), 2);
  if (pendingVector < 0) setReg32(fReg(r), v);
}
export function movsxRR8(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i8>reg8(fRm(r))))); }
export function movsxRM8(r: u32): void {
  const v = readLinOrRecord(linRead(r, 1), 1);
  if (pendingVector < 0) setReg32(fReg(r), <u32>(<i32>(<i8>v)));
}
export function movsxRR16(r: u32): void { setReg32(fReg(r), <u32>(<i32>(<i16>reg16(fRm(r))))); }
export function movsxRM16(r: u32): void {
  const v = readLinOrRecord(linRead(r, 2), 2);
  if (pendingVector < 0) setReg32(fReg(r), <u32>(<i32>(<i16>v)));
}
export function xchgRR32(r: u32): void { const a = fRm(r), b = fReg(r); const t = reg32(a); setReg32(a, reg32(b)); setReg32(b, t); }
export function cwde(r: u32): void { setReg32(REG_EAX, <u32>(<i32>(<i16>reg16(REG_EAX)))); }
export function cdq(r: u32): void { setReg32(REG_EDX, <u32>(<i32>reg32(REG_EAX) >> 31)); }
export function nop(r: u32): void {}

// ---- 16-bit operands (66h): MOV, the ALU with the operation in the record (REC_IMM, or
// REC_REG for the immediate forms), TEST, shifts ----
export function movRR16(r: u32): void { setReg16(fRm(r), reg16(fReg(r))); }
export function movRI16(r: u32): void { setReg16(fRm(r), fImm(r)); }
export function movRM16(r: u32): void { setReg16(fReg(r), readLin16(linRead(r, 2))); }
export function movMR16(r: u32): void { writeLin16(linWrite(r, 2), reg16(fReg(r))); }
export function movMI16(r: u32): void { writeLin16(linWrite(r, 2), fImm(r)); }
export function aluRR16(r: u32): void { const op = fImm(r), d = fRm(r); const v = alu(op, 16, reg16(d), reg16(fReg(r))); if (op != ALU_CMP) setReg16(d, v); }
export function aluRI16(r: u32): void { const op = fReg(r), d = fRm(r); const v = alu(op, 16, reg16(d), fImm(r)); if (op != ALU_CMP) setReg16(d, v); }
export function aluRM16(r: u32): void { const op = fImm(r), d = fReg(r); const v = alu(op, 16, reg16(d), readLin16(linRead(r, 2))); if (op != ALU_CMP) setReg16(d, v); }
export function aluMR16(r: u32): void {
  const op = fImm(r);
  if (op == ALU_CMP) { alu(op, 16, readLin16(linRead(r, 2)), reg16(fReg(r))); return; }
  const lin = linRmw(r, 2); writeLin16(lin, alu(op, 16, readLin16(lin), reg16(fReg(r))));
}
export function aluMI16(r: u32): void {
  const op = fReg(r);
  if (op == ALU_CMP) { alu(op, 16, readLin16(linRead(r, 2)), fImm(r)); return; }
  const lin = linRmw(r, 2); writeLin16(lin, alu(op, 16, readLin16(lin), fImm(r)));
}
export function incR16(r: u32): void { const d = fRm(r); setReg16(d, inc(16, reg16(d))); }
export function decR16(r: u32): void { const d = fRm(r); setReg16(d, dec(16, reg16(d))); }
export function incM16(r: u32): void { const lin = linRmw(r, 2); writeLin16(lin, inc(16, readLin16(lin))); }
export function decM16(r: u32): void { const lin = linRmw(r, 2); writeLin16(lin, dec(16, readLin16(lin))); }
export function testRR16(r: u32): void { setLazyLogic(16, reg16(fRm(r)) & reg16(fReg(r))); }
export function testRI16(r: u32): void { setLazyLogic(16, reg16(fRm(r)) & fImm(r)); }
export function testMR16(r: u32): void { setLazyLogic(16, readLin16(linRead(r, 2)) & reg16(fReg(r))); }
export function testMI16(r: u32): void { setLazyLogic(16, readLin16(linRead(r, 2)) & fImm(r)); }
export function shiftRI16(r: u32): void { const d = fRm(r); setReg16(d, shift(fReg(r), 16, reg16(d), fImm(r))); }
export function shiftRC16(r: u32): void { const d = fRm(r); setReg16(d, shift(fReg(r), 16, reg16(d), reg8(1))); }
export function shiftMI16(r: u32): void { const lin = linRmw(r, 2); writeLin16(lin, shift(fReg(r), 16, readLin16(lin), fImm(r))); }
export function shiftMC16(r: u32): void { const lin = linRmw(r, 2); writeLin16(lin, shift(fReg(r), 16, readLin16(lin), reg8(1))); }

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
export function shiftRI32(r: u32): void { const d = fRm(r); setReg32(d, shiftConst32(fReg(r), reg32(d), fImm(r))); }
export function shiftRC32(r: u32): void { const d = fRm(r); setReg32(d, shift(fReg(r), 32, reg32(d), reg8(1))); }
export function shiftMI32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, shift(fReg(r), 32, readLin32(lin), fImm(r))); }
export function shiftMC32(r: u32): void { const lin = linRmw(r, 4); writeLin32(lin, shift(fReg(r), 32, readLin32(lin), reg8(1))); }

// ---- SETcc and CMOVcc (REC_IMM: the condition) ----
export function setccR(r: u32): void { setReg8(fRm(r), testCC(fImm(r)) ? 1 : 0); }
export function setccM(r: u32): void { writeLin8(linWrite(r, 1), testCC(fImm(r)) ? 1 : 0); }
export function cmovRR(r: u32): void { if (testCC(fImm(r))) setReg32(fReg(r), reg32(fRm(r))); }
/** The source is read even when the condition is false. */
export function cmovRM(r: u32): void { const v = readLin32(linRead(r, 4)); if (testCC(fImm(r))) setReg32(fReg(r), v); }

// ---- SHLD, SHRD of a register (REC_IMM: the count byte | 0x100 for SHLD | 0x200 for a count in CL) ----
export function shiftDoubleR(r: u32): void {
  const imm = fImm(r), d = fRm(r);
  const count = (imm & 0x200) != 0 ? reg8(1) : imm & 0xff;
  setReg32(d, shiftDouble((imm & 0x100) != 0, 32, reg32(d), reg32(fReg(r)), count));
}

/** 0F B1, CMPXCHG to memory (LOCKed or not: there is one CPU), with REC_REG's register (alu.ts cmpxchg). */
export function cmpxchgM32(r: u32): void {
  const lin = linRmw(r, 4);
  const dst = readLin32(lin);
  const acc = reg32(REG_EAX);
  writeLin32(lin, cmpxchg(32, acc, dst, reg32(fReg(r))));
  if (dst != acc) setReg32(REG_EAX, dst);
}

// ---- BSF, BSR (REC_IMM: 1 for BSR) of a register or memory into REC_REG ----
@inline function bitScanTo(r: u32, v: u32): void { const i = bitScan(fImm(r) != 0, 32, v); if (i >= 0) setReg32(fReg(r), <u32>i); }
export function bitScanR(r: u32): void { bitScanTo(r, reg32(fRm(r))); }
export function bitScanM(r: u32): void { bitScanTo(r, readLin32(linRead(r, 4))); }

// ---- bit tests (REC_IMM: the kind, BT 0 BTS 1 BTR 2 BTC 3, << 8 | the immediate bit offset) and BSWAP ----
/** Bit offset in REC_REG's register (mod 32: the register form). */
export function bitRR(r: u32): void {
  const d = fRm(r), kind = fImm(r) >> 8;
  const v = bitTest(kind, reg32(d), reg32(fReg(r)) & 31);
  if (kind != 0) setReg32(d, v);
}
export function bitRI(r: u32): void {
  const d = fRm(r), kind = fImm(r) >> 8;
  const v = bitTest(kind, reg32(d), fImm(r) & 31);
  if (kind != 0) setReg32(d, v);
}
/** To memory with an immediate offset (the register-offset form addresses beyond the operand: step() runs it). */
export function bitMI(r: u32): void {
  const kind = fImm(r) >> 8;
  if (kind == 0) { bitTest(0, readLin32(linRead(r, 4)), fImm(r) & 31); return; }
  const lin = linRmw(r, 4);
  writeLin32(lin, bitTest(kind, readLin32(lin), fImm(r) & 31));
}
/** With a register offset: a signed bit offset from the operand, so any dword of the segment (exec0f.ts bitOp). */
export function bitMR(r: u32): void {
  const kind = fImm(r) >> 8;
  const sbit = <i32>reg32(fReg(r));
  const off = ea(r) + <u32>((sbit >> 5) << 2);
  if (kind == 0) { bitTest(0, readLin32(segAddr(fRm(r), off, 3, false)), <u32>sbit & 31); return; }
  const lin = segAddr(fRm(r), off, 3, true);
  checkRmw(lin, 4);
  writeLin32(lin, bitTest(kind, readLin32(lin), <u32>sbit & 31));
}
export function cmpxchg8b(r: u32): void { cmpxchg8bAt(segAddr(fRm(r), ea(r), 7, true)); }
export function bswapR(r: u32): void { const d = fRm(r); setReg32(d, bswap<u32>(reg32(d))); }

// ---- the x87 (REC_IMM: the ESC opcode | ModRM << 8; a memory operand as any other) ----
export function x87(r: u32): void {
  const modrm = fImm(r) >> 8;
  fpuEscape(fImm(r) & 0xff, modrm, fRm(r), modrm >= 0xc0 ? 0 : ea(r), true);
}

// ---- stack ----
@inline export function pushR32(r: u32): void { push32OrRecord(reg32(fRm(r))); }
export function pushI32(r: u32): void { push32OrRecord(fImm(r)); }
export function pushM32(r: u32): void { push32(readLin32(linRead(r, 4))); }
@inline export function popR32(r: u32): void { const v = pop32(); setReg32(fRm(r), v); }
export function leave32(r: u32): void { o32 = true; leave(); }

// ---- near jumps, calls and returns (they end a block; REC_DISP: the relative target) ----
export function jmpRel(r: u32): void { pc += load<u32>(r, REC_DISP); }
export function callRel(r: u32): void { if (push32OrRecord(pc)) pc += load<u32>(r, REC_DISP); }
export function jmpR(r: u32): void { pc = reg32(fRm(r)); }
export function jmpM(r: u32): void { pc = readLin32(linRead(r, 4)); }
export function callR(r: u32): void { const t = reg32(fRm(r)); if (push32OrRecord(pc)) pc = t; }
export function callM(r: u32): void {
  const t = readLinOrRecord(linRead(r, 4), 4);
  if (pendingVector < 0 && push32OrRecord(pc)) pc = t;
}
export function ret(r: u32): void { pc = pop32(); }
export function retImm(r: u32): void { const t = pop32(); setReg32(REG_ESP, espAdd(fImm(r))); pc = t; }

// ---- string instructions (REC_REG: STR_* kind, REC_SCALE: size in bits, REC_RM: segment
// override or 0xff, REC_IMM: the REP prefix or 0) ----
export function stringOp32(r: u32): void {
  a32 = true;
  repPfx = fImm(r);
  const seg = fRm(r);
  segOvr = seg == 0xff ? -1 : <i32>seg;
  stringOp(fReg(r), <u32>load<u8>(r, REC_SCALE), true);
  clearPrefixes();
}

/** Anything else: the full interpreter decodes and executes it (always a block's last record). */
export function interpret(r: u32): void { step(); }
/**
 * An instruction that cannot change the mode, the paging, the segments or the flow of control
 * (the x87, WAIT, bit scans and tests, double shifts, BSWAP, RDTSC): the interpreter runs it
 * from its first byte, and the block goes on (cpu/predecode.ts).
 */
export function stepInBlock(r: u32): void { pc = instrStart; step(); }

// ---- CLD, STD: DF is not among the lazy flags, it lives in flagsReg alone (cpu/flags.ts) ----
export function cld(r: u32): void { flagsReg &= ~FLAG_DF; }
export function std(r: u32): void { flagsReg |= FLAG_DF; }

// ---- CLI and PUSHF, a kernel's local_irq_save() ----
/** CLI: CPL 0 always may (SDM vol. 2, CLI); at other levels IOPL and VME decide, in the interpreter. */
export function cli(r: u32): void { if (cplLive == 0) flagsReg &= ~FLAG_IF; else stepInBlock(r); }
/**
 * PUSHF of 32-bit code: blocks hold no virtual-8086 code (its CS is 16-bit), where IOPL could
 * make it fault; VM and RF are pushed clear (SDM vol. 2, PUSHF).
 */
export function pushf(r: u32): void { push32(getEflags() & ~(FLAG_VM | FLAG_RF)); }

/** XADD m32, r32: the register gets the old value, memory the sum, the flags ADD's. */
export function xaddM32(r: u32): void {
  const lin = linRmw(r, 4);
  const dst = readLin32(lin);
  writeLin32(lin, alu(ALU_ADD, 32, dst, reg32(fReg(r))));
  setReg32(fReg(r), dst);
}

// ---- SAHF, LAHF: compiled code saving and restoring flags around the x87's compares ----
export function sahf(r: u32): void { sahfOp(); }
export function lahf(r: u32): void { lahfOp(); }
