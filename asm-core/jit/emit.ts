// The translator: a region of decoded blocks (jit/region.ts; their records as cpu/predecode.ts
// wrote them) becomes the body of one WebAssembly function (jit/module.ts wraps it in a module).
// jit/cache.ts has the host compile it and calls it in place of the first block's records.
//
// What the function does is exactly what the block loop (blocks.ts runBlocks) does with the same
// records, minus the work a translation can do once:
//  - guest registers live in Wasm locals, loaded at entry and stored at exits, helper calls and
//    slow paths (all eight through one call, jitSpill: smaller code than the stores);
//  - the flag-setting operation stays pending in locals (jit/pending.ts);
//  - a memory access inlines the segment-limit check and the TLB fast path (mmu/access.ts);
//    only the slow path calls into the core, after storing registers and flags and passing the
//    instruction's place, so a fault unwinds (cpu/fault.ts) with the interpreter's state;
//  - the forms it does not inline call the block loop's own handler (handlers.ts dispatch) on
//    the same record, so the interpreter and the translation cannot disagree on them;
//  - branches between the region's blocks stay inside the function.
// The function knows EIP only as an offset from its entry (the `pc` global when called), so one
// translation serves every linear address its physical page is mapped at.

import {
  byte, uleb, op, i32c, i64c, lget, lset, ltee, gget, gset, call, mem, ifVoid, ifI32, end, els, T_VOID,
  OP_I32_LOAD, OP_I64_LOAD, OP_I32_LOAD8_U, OP_I32_LOAD16_U, OP_I32_STORE8, OP_I32_STORE16, OP_I32_STORE,
  OP_I32_EQ, OP_I32_NE, OP_I32_LE_U, OP_I64_GT_S, OP_I32_ADD, OP_I32_SUB, OP_I32_AND, OP_I32_OR, OP_I32_XOR,
  OP_I32_SHL, OP_I32_SHR_S, OP_I32_SHR_U, OP_I64_ADD, OP_I64_EXTEND_I32_U, OP_I32_EXTEND8_S, OP_I32_EXTEND16_S,
  OP_RETURN, OP_SELECT, OP_LOOP, OP_BLOCK, OP_BR, OP_BR_TABLE, OP_I64_GT_U, OP_I32_ROTL, OP_I32_ROTR,
} from './wasm';
import {
  F_DISPATCH, F_READ8, F_WRITE8, F_SEG_CHECK, F_CHECK_WRITE, F_SETTLE_CF, F_SPILL, G_PC, G_INSTR_START, G_RETIRED,
  G_ATTENTION, G_TLB_READ_MASK, G_TLB_WRITE_MASK, G_BUDGET_END, G_JIT_ENTRY,
  L_FA, L_FB, L_FR, L_FCF, L_OFF, L_LIN, L_E, L_V, L_T, L_ADDR, L_BAIL, L_EIP0, L_BLK, L_FK, L_ROT, L_CARRY, G_FLAGS,
} from './layout';
import {
  PEND_SHIFT, PEND_DYNAMIC, PEND_ROTATE, pendKind, pendSize, pendCF, rotBaseKind, rotBaseSize, rotBaseCF,
  pendWithCarry, maskOf, pendingKind, pushKind, storeFlags, pendingCF, condition, logicPending,
} from './pending';
import { STATE, OFF_REGS, OFF_ZERO, OFF_SEGS, SEG_BASE, SEG_ES, SEG_SS, SEG_DS, OFF_SEG_FAST_READ, OFF_SEG_FAST_WRITE, REG_EAX, REG_EDX, REG_ESP, REG_EBP } from '../cpu/state';
import { REC_SIZE, REC_HANDLER, REC_LEN, REC_REG, REC_RM, REC_SCALE, REC_BASE, REC_INDEX, REC_DISP, REC_IMM } from '../cpu/record';
import { H } from '../cpu/handlers';
import { LAZY_ADD, LAZY_SUB, LAZY_LOGIC } from '../cpu/flags';
import { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP } from '../cpu/alu';
import { RAM_BASE } from '../mmu/phys';
import { TLB_BASE } from '../mmu/tlb';
import { regionSize, regionFirst, regionCount, regionOffset, memberAt } from './region';

// ---- translation state (the pending flags are jit/pending.ts's) ----
/** Instructions already added to the retired count. */
let committed: u32 = 0;
/** The current record: its index in its block, and its start and end as offsets from the block's start. */
let index: u32 = 0, startOff: u32 = 0, nextOff: u32 = 0;
/** A slow path ran in the current instruction: it may have set `attention`. */
let slowPath: bool = false;

// ---- registers: all eight in locals 0..7 at every point ----
const REG_ECX_LOCAL: u32 = 1;
function regAddr(r: u32): u32 { return STATE + OFF_REGS + (r << 3); }
function loadRegs(): void { for (let r: u32 = 0; r < 8; r++) { i32c(0); mem(OP_I32_LOAD, 2, regAddr(r)); lset(r); } }
function getReg32(r: u32): void { lget(r); }
/** Pops the value into register r. */
function setReg32(r: u32): void { lset(r); }
function getReg8(r: u32): void {
  lget(r & 3);
  if (r >= 4) { i32c(8); op(OP_I32_SHR_U); }
  i32c(0xff); op(OP_I32_AND);
}
/** Pops the value into byte register r (AL..BH), keeping the rest of its word. */
function setReg8(r: u32): void {
  const w = r & 3;
  lset(L_T);
  lget(w); i32c(r >= 4 ? 0xffff00ff : 0xffffff00); op(OP_I32_AND);
  lget(L_T); i32c(0xff); op(OP_I32_AND);
  if (r >= 4) { i32c(8); op(OP_I32_SHL); }
  op(OP_I32_OR);
  setReg32(w);
}
function getReg16(r: u32): void { lget(r); i32c(0xffff); op(OP_I32_AND); }
/** Pops the value into the low word of register r. */
function setReg16(r: u32): void {
  i32c(0xffff); op(OP_I32_AND); lget(r); i32c(0xffff0000); op(OP_I32_AND); op(OP_I32_OR); setReg32(r);
}
function getReg(size: u32, r: u32): void { if (size == 32) getReg32(r); else if (size == 16) getReg16(r); else getReg8(r); }
function setReg(size: u32, r: u32): void { if (size == 32) setReg32(r); else if (size == 16) setReg16(r); else setReg8(r); }

// ---- EIP, the retired count, exits ----
/** EIP offset of the current block from the region's entry. */
let blockBase: u32 = 0;
function eipAt(offset: u32): void { lget(L_EIP0); const o = blockBase + offset; if (o != 0) { i32c(o); op(OP_I32_ADD); } }
function addRetired(n: i32): void {
  if (n == 0) return;
  gget(G_RETIRED); i64c(<i64>n); op(OP_I64_ADD); gset(G_RETIRED);
}
/**
 * Store every register and the pending flags through one call (jit/helpers.ts jitSpill): far
 * smaller code than the stores themselves, at the exits and slow paths that need it. Every
 * register is in its local at every point of a translation (loaded at entry, reloaded after a
 * handler ran), so storing all eight is always right.
 */
function spill(): void {
  // A rotate's flags are not one lazy operation: they go to the globals first (idempotent).
  const kind = pendKind;
  if (kind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  spillAs();
  pendKind = kind;
}
function spillAs(): void {
  for (let r: u32 = 0; r < 8; r++) lget(r);
  pushKind();
  lget(L_FA); lget(L_FB); lget(L_FR); lget(L_FCF);
  call(F_SPILL);
}
/**
 * spill() written out: the register stores and the flags inline. For exits and handler calls,
 * which run far more often than slow paths (every region exit is one), so the bytes pay: the
 * call passed thirteen arguments.
 */
function spillInline(): void {
  for (let r: u32 = 0; r < 8; r++) { i32c(0); lget(r); mem(OP_I32_STORE, 2, regAddr(r)); }
  storeFlags();
}
/** What a fault delivers besides EIP and the count (which the helper sets from `at`): registers and flags. */
function beforeHelper(): void { spill(); }
/** The slow path's last argument (jit/helpers.ts). */
function at(): void {
  i32c(((index - committed) << 20) | ((nextOff - startOff) << 16) | ((blockBase + startOff) & 0xffff));
}
function afterHelper(): void {
  gget(G_ATTENTION); lget(L_BAIL); op(OP_I32_OR); lset(L_BAIL);
  slowPath = true;
}
/** Leave the function with EIP from local L_T, after `done` instructions of the block. */
function exitTo(done: u32): void {
  spillInline();
  lget(L_T); gset(G_PC);
  addRetired(<i32>done - <i32>committed);
  op(OP_RETURN);
}

// ---- memory operands ----
function recReg(word: u32): i32 { return word == (OFF_ZERO >> 2) ? -1 : <i32>(((word << 2) - OFF_REGS) >> 3); }
/** The record's effective address into L_OFF. */
function effectiveAddress(rec: u32): void {
  const base = recReg(<u32>load<u8>(rec, REC_BASE));
  const idx = recReg(<u32>load<u8>(rec, REC_INDEX));
  const scale = <u32>load<u8>(rec, REC_SCALE);
  const disp = load<u32>(rec, REC_DISP);
  let terms = 0;
  if (base >= 0) { getReg32(<u32>base); terms++; }
  if (idx >= 0) {
    getReg32(<u32>idx);
    if (scale != 0) { i32c(scale); op(OP_I32_SHL); }
    if (terms++ > 0) op(OP_I32_ADD);
  }
  if (terms == 0) i32c(disp);
  else if (disp != 0) { i32c(disp); op(OP_I32_ADD); }
  lset(L_OFF);
}
/**
 * The segment check the next access's slow path makes first, or -1: ES, SS and DS are flat
 * while a translation runs (cpu/live.ts flatData), so their accesses skip the check and the
 * base; only an access that wraps past 4 GiB fails the limit check then, and it also crosses a
 * page, which takes the slow path.
 */
let flatCheck: i32 = -1;
/** jitSegCheck's first argument (jit/helpers.ts): segment | (size - 1) << 8 | write << 16. */
function segCheckWhat(seg: u32, n: u32, write: bool): u32 { return seg | ((n - 1) << 8) | (write ? 0x10000 : 0); }
/** The slow path's segment check of a flat segment (see flatCheck); after beforeHelper(). */
function flatSlowCheck(): void {
  if (flatCheck < 0) return;
  i32c(<u32>flatCheck); lget(L_OFF); at(); call(F_SEG_CHECK);
}
/** segAddr() of segments.ts: the limit check's fast path inline, the linear address into L_LIN. */
function linear(seg: u32, n: u32, write: bool): void {
  if (seg == SEG_ES || seg == SEG_SS || seg == SEG_DS) {
    flatCheck = <i32>segCheckWhat(seg, n, write);
    lget(L_OFF); lset(L_LIN);
    return;
  }
  flatCheck = -1;
  lget(L_OFF); op(OP_I64_EXTEND_I32_U);
  if (n > 1) { i64c(<i64>(n - 1)); op(OP_I64_ADD); }
  i32c(0); mem(OP_I64_LOAD, 3, STATE + (write ? OFF_SEG_FAST_WRITE : OFF_SEG_FAST_READ) + (seg << 3));
  op(OP_I64_GT_S);
  ifVoid();
  beforeHelper(); i32c(segCheckWhat(seg, n, write)); lget(L_OFF); at(); call(F_SEG_CHECK); afterHelper();
  end();
  i32c(0); mem(OP_I32_LOAD, 2, STATE + OFF_SEGS + (seg << 4) + SEG_BASE); lget(L_OFF); op(OP_I32_ADD); lset(L_LIN);
}
function recLinear(rec: u32, n: u32, write: bool): void {
  effectiveAddress(rec);
  linear(<u32>load<u8>(rec, REC_RM), n, write);
}
/** Push: is the access to L_LIN of n bytes on the TLB's fast path (tlbReadMask / tlbWriteMask)? */
function fastTest(n: u32, write: bool): void {
  lget(L_LIN); i32c(12); op(OP_I32_SHR_U); i32c(2); op(OP_I32_SHL); mem(OP_I32_LOAD, 2, TLB_BASE); ltee(L_E);
  gget(write ? G_TLB_WRITE_MASK : G_TLB_READ_MASK); op(OP_I32_AND); i32c(1); op(OP_I32_EQ);
  if (n > 1) { lget(L_LIN); i32c(0xfff); op(OP_I32_AND); i32c(0x1000 - n); op(OP_I32_LE_U); op(OP_I32_AND); }
}
/** Push the host address of the fast-path access, less RAM_BASE (the memory instruction adds it). */
function hostAddr(): void { lget(L_E); i32c(0xfffff000); op(OP_I32_AND); lget(L_LIN); i32c(0xfff); op(OP_I32_AND); op(OP_I32_OR); }
function loadOp(n: u32): u32 { return n == 4 ? OP_I32_LOAD : n == 2 ? OP_I32_LOAD16_U : OP_I32_LOAD8_U; }
function storeOp(n: u32): u32 { return n == 4 ? OP_I32_STORE : n == 2 ? OP_I32_STORE16 : OP_I32_STORE8; }
function sizeIndex(n: u32): u32 { return n == 4 ? 2 : n == 2 ? 1 : 0; }
/** Push the n-byte value at L_LIN (readLin8/16/32). */
function read(n: u32): void {
  fastTest(n, false);
  ifI32();
  hostAddr(); mem(loadOp(n), sizeIndex(n), RAM_BASE);
  els();
  beforeHelper(); flatSlowCheck(); lget(L_LIN); at(); call(F_READ8 + sizeIndex(n)); afterHelper();
  end();
}
/** Write L_V's low n bytes at L_LIN (writeLin8/16/32). */
function write(n: u32): void {
  fastTest(n, true);
  ifVoid();
  hostAddr(); lget(L_V); mem(storeOp(n), sizeIndex(n), RAM_BASE);
  els();
  beforeHelper(); flatSlowCheck(); lget(L_LIN); lget(L_V); at(); call(F_WRITE8 + sizeIndex(n)); afterHelper();
  end();
}
/**
 * A read-modify-write operand: the write permission is checked before the read (checkRmw),
 * and L_ADDR is the host address less RAM_BASE on the fast path, or -1 for the slow path.
 */
function rmwStart(n: u32): void {
  fastTest(n, true);
  ifI32();
  hostAddr();
  els();
  beforeHelper(); flatSlowCheck(); lget(L_LIN); i32c(n); at(); call(F_CHECK_WRITE); afterHelper(); i32c(-1);
  end();
  lset(L_ADDR);
}
function rmwRead(n: u32): void {
  lget(L_ADDR); i32c(-1); op(OP_I32_NE);
  ifI32();
  lget(L_ADDR); mem(loadOp(n), sizeIndex(n), RAM_BASE);
  els();
  beforeHelper(); lget(L_LIN); at(); call(F_READ8 + sizeIndex(n)); afterHelper();
  end();
}
function rmwWrite(n: u32): void {
  lget(L_ADDR); i32c(-1); op(OP_I32_NE);
  ifVoid();
  lget(L_ADDR); lget(L_V); mem(storeOp(n), sizeIndex(n), RAM_BASE);
  els();
  beforeHelper(); lget(L_LIN); lget(L_V); at(); call(F_WRITE8 + sizeIndex(n)); afterHelper();
  end();
}

// ---- the stack (SS.B = 1: the translation runs only with a 32-bit stack, see cache.ts) ----
/** push32(L_V). */
function push32(): void {
  getReg32(REG_ESP); i32c(4); op(OP_I32_SUB); lset(L_OFF);
  linear(SEG_SS, 4, true);
  write(4);
  lget(L_OFF); setReg32(REG_ESP);
}
/** Push pop32(). */
function pop32(): void {
  getReg32(REG_ESP); lset(L_OFF);
  linear(SEG_SS, 4, false);
  read(4);
  getReg32(REG_ESP); i32c(4); op(OP_I32_ADD); setReg32(REG_ESP);
}

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

/** Translate record `rec`; false when it must go through the handler instead. */
function inline(rec: u32, h: u32, last: bool): bool {
  const regF = <u32>load<u8>(rec, REC_REG);
  const rmF = <u32>load<u8>(rec, REC_RM);
  const imm = load<u32>(rec, REC_IMM);
  if (h < <u32>H.JCC) {
    const size: u32 = h < <u32>H.ALU8 ? 32 : 8;
    const n = size >> 3;
    const form = (h % 40) >> 3, aop = h & 7;
    if (aop == ALU_ADC || aop == ALU_SBB) carryIn();
    if (form == 0 || form == 1) { // RR, RI: dst r/m
      getReg(size, rmF); lset(L_FA);
      if (form == 0) getReg(size, regF); else i32c(imm);
      lset(L_FB);
      aluCore(aop, size);
      if (aop != ALU_CMP) { aluResult(size); setReg(size, rmF); }
    } else if (form == 2) { // RM: dst reg
      recLinear(rec, n, false); read(n); lset(L_FB);
      getReg(size, regF); lset(L_FA);
      aluCore(aop, size);
      if (aop != ALU_CMP) { aluResult(size); setReg(size, regF); }
    } else if (aop == ALU_CMP) { // MR, MI compare
      recLinear(rec, n, false); read(n); lset(L_FA);
      if (form == 3) getReg(size, regF); else i32c(imm);
      lset(L_FB);
      aluCore(aop, size);
    } else {
      recLinear(rec, n, true); rmwStart(n); rmwRead(n); lset(L_FA);
      if (form == 3) getReg(size, regF); else i32c(imm);
      lset(L_FB);
      aluCore(aop, size);
      aluResult(size); lset(L_V); rmwWrite(n);
    }
    return true;
  }
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
    case H.notR32: getReg32(rmF); i32c(-1); op(OP_I32_XOR); setReg32(rmF); return true;
    case H.shiftRI32: return regF < 2 ? rotateImm(regF == 1, imm & 31, rmF) : shiftImm(regF, imm & 31, rmF);
    case H.shiftRC32: return shiftByCL(regF, rmF);
    // 16-bit operands (66h): the ALU operation is in REC_IMM (RR) or REC_REG (RI), as handlers.ts has it.
    case H.aluRR16: return alu16(imm, rmF, true, regF, 0);
    case H.aluRI16: return alu16(regF, rmF, false, 0, imm);
    case H.movRR16: getReg16(regF); setReg16(rmF); return true;
    case H.movRI16: i32c(imm); setReg16(rmF); return true;
    case H.testRR16: getReg16(rmF); getReg16(regF); op(OP_I32_AND); lset(L_FR); logicPending(16); return true;
    case H.testRI16: getReg16(rmF); i32c(imm & 0xffff); op(OP_I32_AND); lset(L_FR); logicPending(16); return true;
    case H.setccR: condition(imm); setReg8(rmF); return true;
    case H.setccM: recLinear(rec, 1, true); condition(imm); lset(L_V); write(1); return true;
    case H.leave32: // ESP and EBP change only after the read, which may fault (exec.ts leave)
      getReg32(REG_EBP); lset(L_OFF); linear(SEG_SS, 4, false); read(4); lset(L_V);
      lget(L_OFF); i32c(4); op(OP_I32_ADD); setReg32(REG_ESP); lget(L_V); setReg32(REG_EBP);
      return true;
    case H.cmovRR: {
      lget(rmF); lget(regF); condition(imm); op(OP_SELECT); setReg32(regF);
      return true;
    }
    case H.pushR32: getReg32(rmF); lset(L_V); push32(); return true;
    case H.pushI32: i32c(imm); lset(L_V); push32(); return true;
    case H.popR32: pop32(); setReg32(rmF); return true;
    case H.jmpRel: eipAt(nextOff + load<u32>(rec, REC_DISP)); lset(L_T); return true;
    case H.callRel: eipAt(nextOff); lset(L_V); push32(); eipAt(nextOff + load<u32>(rec, REC_DISP)); lset(L_T); return true;
    case H.jmpR: getReg32(rmF); lset(L_T); return true;
    case H.ret: pop32(); lset(L_T); return true;
  }
  return false;
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

/** A 16-bit ALU operation on register `d` with register `src` or an immediate (aluRR16/aluRI16). */
function alu16(aop: u32, d: u32, fromReg: bool, src: u32, imm: u32): bool {
  if (aop > 7) return false;
  if (aop == ALU_ADC || aop == ALU_SBB) carryIn();
  getReg16(d); lset(L_FA);
  if (fromReg) getReg16(src); else i32c(imm); // as handlers.ts aluRI16: the record's immediate as it is
  lset(L_FB);
  aluCore(aop, 16);
  if (aop != ALU_CMP) { aluResult(16); setReg16(d); }
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
  lget(REG_ECX_LOCAL); i32c(31); op(OP_I32_AND); ltee(L_V);
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


/** The handler, on the record itself, with the state it reads stored first. */
function viaHandler(rec: u32, h: u32, last: bool, count: u32): void {
  spillInline(); pendKind = -1;
  eipAt(startOff); gset(G_INSTR_START);
  eipAt(nextOff); gset(G_PC);
  addRetired(<i32>index - <i32>committed); committed = index;
  i32c(h); i32c(rec); call(F_DISPATCH);
  if (last) { addRetired(<i32>count - <i32>committed); op(OP_RETURN); return; }
  // The handler may have changed any register.
  loadRegs();
  // A jump or a suspended string instruction moved EIP; or the run loop is wanted.
  gget(G_PC); eipAt(nextOff); op(OP_I32_NE); gget(G_ATTENTION); op(OP_I32_OR);
  ifVoid(); addRetired(<i32>index + 1 - <i32>committed); op(OP_RETURN); end();
}

/** Does the handler end its block with a computed EIP (the translation's last record)? */
function endsWithJump(h: u32): bool {
  return (h >= <u32>H.JCC && h < <u32>H.JCC + 16) || h == <u32>H.jmpRel || h == <u32>H.callRel || h == <u32>H.jmpR || h == <u32>H.ret;
}

// ---- a region: its blocks inside one loop, entered through a br_table on L_BLK ----
//   loop
//     block (n times)
//       br_table on L_BLK          ;; depth j: to the body of block j
//     end  body 0
//     end  body 1 ...
//     end  body n-1
//   end
// Every register is in its local at the top of each block (loaded once at entry), and the
// pending flags are in fa..fcf with their kind in fk (PEND_DYNAMIC).

/** Which region block is being translated. */
let member: u32 = 0;

/** The function's body: the region of jit/region.ts. */
export function functionBody(): void {
  gget(G_PC); ltee(L_EIP0); gset(G_JIT_ENTRY);
  loadRegs();
  region();
}

function region(): void {
  const n = regionSize;
  op(OP_LOOP); byte(T_VOID);
  for (let i: u32 = 0; i < n; i++) { op(OP_BLOCK); byte(T_VOID); }
  lget(L_BLK);
  byte(OP_BR_TABLE); uleb(n); for (let i: u32 = 0; i < n; i++) uleb(i); uleb(0);
  for (member = 0; member < n; member++) {
    end();
    blockBase = load<u32>(regionOffset + (member << 2));
    records(load<u32>(regionFirst + (member << 2)), load<u32>(regionCount + (member << 2)));
  }
  end();
}

/** Go on at EIP offset `to` (from this block's start) after `done` instructions: within the region if it is a member. */
function goTo(to: u32, done: u32, nested: u32, fallThrough: bool): void {
  const k = memberAt(blockBase + to);
  if (k < 0) { eipAt(to); lset(L_T); exitTo(done); return; }
  // The next block starts with every register in a local and the pending flags in fa..fcf, their kind in fk.
  if (pendKind == PEND_ROTATE) { storeFlags(); i32c(0); lset(L_FK); }
  else if (pendKind != PEND_DYNAMIC) { i32c(pendingKind()); lset(L_FK); }
  addRetired(<i32>done - <i32>committed);
  // It runs whole only if the budget has room for it, as at entry (cpu/blocks.ts runBlocks).
  gget(G_RETIRED); i64c(<i64>load<u32>(regionCount + (<u32>k << 2))); op(OP_I64_ADD); gget(G_BUDGET_END); op(OP_I64_GT_U);
  ifVoid(); spillInline(); eipAt(to); gset(G_PC); op(OP_RETURN); end();
  if (fallThrough && <u32>k == member + 1) return;
  i32c(<u32>k); lset(L_BLK);
  byte(OP_BR); uleb(regionSize - 1 - member + nested);
}

function records(first: u32, count: u32): void {
  pendKind = PEND_DYNAMIC; pendCF = 0; pendWithCarry = false; committed = 0;
  const canFall = member + 1 < regionSize;
  let off: u32 = 0;
  for (index = 0; index < count; index++) {
    const rec = first + index * REC_SIZE;
    const h = <u32>load<u16>(rec, REC_HANDLER);
    const last = index == count - 1;
    startOff = off;
    off += <u32>load<u8>(rec, REC_LEN);
    nextOff = off;
    slowPath = false;
    if (last && h >= <u32>H.JCC && h < <u32>H.JCC + 16) {
      condition(h - <u32>H.JCC);
      ifVoid(); goTo(nextOff + load<u32>(rec, REC_DISP), count, 1, false); end();
      goTo(nextOff, count, 0, canFall);
      return;
    }
    if (last && h == <u32>H.jmpRel) { goTo(nextOff + load<u32>(rec, REC_DISP), count, 0, canFall); return; }
    if (!inline(rec, h, last)) { viaHandler(rec, h, last, count); continue; }
    if (last && h == <u32>H.callRel) { goTo(nextOff + load<u32>(rec, REC_DISP), count, 0, canFall); return; }
    if (endsWithJump(h)) { exitTo(index + 1); return; }
    if (last) { goTo(nextOff, count, 0, canFall); return; }
    if (slowPath) {
      // The slow path touched the machine (MMIO, a write to code): leave if the run loop is wanted.
      lget(L_BAIL); ifVoid(); eipAt(nextOff); lset(L_T); exitTo(index + 1); end();
    }
  }
  // The last record went through its handler, which set EIP and returned.
}
