// A translation's operands (jit/emit.ts writes the function): where the current instruction is,
// the guest registers in locals, EIP and the retired count, the stores before a helper call, the
// memory operands with their inline segment check and TLB fast path (mmu/access.ts), and the
// stack. jit/instructions.ts builds the instructions from these.

import {
  op, i32c, i64c, lget, lset, ltee, gget, gset, mem, ifVoidHint, ifI32Hint, end, els, brTo,
  OP_I32_LOAD, OP_I64_LOAD, OP_I32_LOAD8_U, OP_I32_LOAD16_U, OP_I32_STORE8, OP_I32_STORE16,
  OP_I32_STORE, OP_I32_NE, OP_I32_XOR, OP_I32_EQZ, OP_I64_GT_S, OP_I32_ADD, OP_I32_SUB, OP_I32_AND,
  OP_I32_OR, OP_I32_SHL, OP_I32_SHR_U, OP_I64_ADD, OP_I64_EXTEND_I32_U, helper,
} from './wasm';
import {
  F_READ8, F_WRITE8, F_SEG_CHECK, F_CHECK_WRITE, G_RETIRED,
  CELL_RETIRED, CELL_BUDGET, G_ATTENTION, G_JIT_FAULT, LEVEL_FAULT, L_BAIL, L_RETIRED, L_BUDGET, L_OFF, L_LIN, L_E, L_V, L_T, L_ADDR, L_EIP0,
} from './layout';
import { storeFlags, kindToLocal } from './pending';
import {
  STATE, OFF_REGS, OFF_ZERO, OFF_SEGS, SEG_BASE, SEG_ES, SEG_SS, SEG_DS, OFF_SEG_FAST_READ,
  OFF_SEG_FAST_WRITE, REG_ESP,
} from '../cpu/state';
import { REC_RM, REC_REG, REC_IMM, REC_SCALE, REC_BASE, REC_INDEX, REC_DISP } from '../cpu/record';
import { RAM_BASE } from '../mmu/phys';
import { TLB_BASE, readMaskFor, writeMaskFor } from '../mmu/tlb';
import { cplLive } from '../cpu/live';

// ---- translation state (the pending flags are jit/pending.ts's) ----
/** Instructions already added to the retired count. */
export let committed: u32 = 0;
/** The current record: its index in its block, and its start and end as offsets from the block's start. */
export let index: u32 = 0, startOff: u32 = 0, nextOff: u32 = 0;
/** A slow path ran in the current instruction: it may have set `attention`. */
export let slowPath: bool = false;

// ---- registers: in locals 0..7 ----
// Only the registers the region's instructions use are loaded (at entry and after a handler
// ran), and only those they write are stored (at exits, handler calls and slow paths): the
// others are never touched, so the state block holds them all along. planRegisters() finds
// both sets by writing the function once and throwing it away.
export const REG_ECX_LOCAL: u32 = 1;
/** The sets (bit r: register r) this function loads and stores; all eight while they are being found. */
export let loadSet: u32 = 0xff, storeSet: u32 = 0xff;
/** The registers the instructions written so far read or write, and write. */
export let used: u32 = 0, written: u32 = 0;
/** A record's fields: the ModRM reg and r/m registers (or what the handler keeps there) and the immediate. */
@inline export function regField(rec: u32): u32 { return <u32>load<u8>(rec, REC_REG); }
@inline export function rmField(rec: u32): u32 { return <u32>load<u8>(rec, REC_RM); }
@inline export function immField(rec: u32): u32 { return load<u32>(rec, REC_IMM); }
export function regAddr(r: u32): u32 { return STATE + OFF_REGS + (r << 3); }
export function loadRegs(): void { for (let r: u32 = 0; r < 8; r++) if (loadSet & (1 << r)) { i32c(0); mem(OP_I32_LOAD, 2, regAddr(r)); lset(r); } }
export function storeRegs(): void { for (let r: u32 = 0; r < 8; r++) if (storeSet & (1 << r)) { i32c(0); lget(r); mem(OP_I32_STORE, 2, regAddr(r)); } }
export function getReg32(r: u32): void { used |= 1 << r; lget(r); }
/** Pops the value into register r. */
export function setReg32(r: u32): void { used |= 1 << r; written |= 1 << r; lset(r); }
export function getReg8(r: u32): void {
  getReg32(r & 3);
  if (r >= 4) { i32c(8); op(OP_I32_SHR_U); }
  i32c(0xff); op(OP_I32_AND);
}
/** Pops the value into byte register r (AL..BH), keeping the rest of its word. */
export function setReg8(r: u32): void {
  const w = r & 3;
  lset(L_T);
  getReg32(w); i32c(r >= 4 ? 0xffff00ff : 0xffffff00); op(OP_I32_AND);
  lget(L_T); i32c(0xff); op(OP_I32_AND);
  if (r >= 4) { i32c(8); op(OP_I32_SHL); }
  op(OP_I32_OR);
  setReg32(w);
}
export function getReg16(r: u32): void { getReg32(r); i32c(0xffff); op(OP_I32_AND); }
/** Pops the value into the low word of register r. */
export function setReg16(r: u32): void {
  i32c(0xffff); op(OP_I32_AND); getReg32(r); i32c(0xffff0000); op(OP_I32_AND); op(OP_I32_OR); setReg32(r);
}
export function getReg(size: u32, r: u32): void { if (size == 32) getReg32(r); else if (size == 16) getReg16(r); else getReg8(r); }
export function setReg(size: u32, r: u32): void { if (size == 32) setReg32(r); else if (size == 16) setReg16(r); else setReg8(r); }

// ---- EIP, the retired count, exits ----
/** EIP offset of the current block from the region's entry. */
export let blockBase: u32 = 0;
export function eipAt(offset: u32): void { lget(L_EIP0); const o = blockBase + offset; if (o != 0) { i32c(o); op(OP_I32_ADD); } }
export function addRetired(n: i32): void {
  if (n == 0) return;
  lget(L_RETIRED); i64c(<i64>n); op(OP_I64_ADD); lset(L_RETIRED);
}
/** The retired count to the core's global: before a call that reads it, and at the exits. */
export function flushRetired(): void { lget(L_RETIRED); gset(G_RETIRED); }
/** The retired count and the budget end from the caller's cells (jit/layout.ts CELL_RETIRED): at entry. */
export function loadRetired(): void { i32c(0); mem(OP_I64_LOAD, 3, CELL_RETIRED); lset(L_RETIRED); i32c(0); mem(OP_I64_LOAD, 3, CELL_BUDGET); lset(L_BUDGET); }
/** Store the written registers and the pending flags, which stay pending: before a handler call. */
export function spillInline(): void {
  storeRegs();
  storeFlags();
}
/**
 * The slow path's last argument (jit/helpers.ts): where the instruction is and, with `flat`,
 * the segment check of the access's flat segment (see flatCheck), which the helper makes first.
 */
export function at(flat: bool = false): void {
  const check = flat && flatCheck >= 0 ? <u32>(flatCheck + 1) << 28 : 0;
  i32c(check | ((index - committed) << 20) | ((nextOff - startOff) << 16) | ((blockBase + startOff) & 0xffff));
}
/**
 * Before a slow path's call: the retired count to the core's global, and the pending flags
 * described in fk. On a fault the helper (jit/helpers.ts) sets EIP and the count from `at`,
 * records the fault and sets jitFault, and the function leaves at once through LEVEL_FAULT
 * (jit/emit.ts functionBody), which stores the registers and the flags fk describes. They are
 * stored only then, not before every slow path: no instruction written here changes a register
 * or the flags before its last access that can fault, and the helpers read neither (they touch
 * memory, the TLB and devices' MMIO). After the call, `attention` into L_BAIL: the
 * instruction's end leaves when it is set (jit/emit.ts records).
 */
function slowCall(): void { flushRetired(); kindToLocal(); slowPath = true; }
function afterCall(): void {
  gget(G_JIT_FAULT); ifVoidHint(false); brTo(LEVEL_FAULT); end();
  gget(G_ATTENTION); lset(L_BAIL);
}

// ---- memory operands ----
function recReg(word: u32): i32 { return word == (OFF_ZERO >> 2) ? -1 : <i32>(((word << 2) - OFF_REGS) >> 3); }
/** The record's effective address into L_OFF. */
export function effectiveAddress(rec: u32): void {
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
 * The segment of the next access when it is flat, or -1: ES, SS and DS are flat while a
 * translation runs (cpu/live.ts flatData), so their accesses skip the limit check and the base
 * on the fast path; only an access that wraps past 4 GiB fails the limit check then, and it
 * also crosses a page, which takes the slow path, whose helper makes the check (`at`).
 */
let flatCheck: i32 = -1;
/** jitSegCheck's first argument (jit/helpers.ts): segment | (size - 1) << 8 | write << 16. */
function segCheckWhat(seg: u32, n: u32, write: bool): u32 { return seg | ((n - 1) << 8) | (write ? 0x10000 : 0); }
/** segAddr() of segments.ts: the limit check's fast path inline, the linear address into L_LIN. */
export function linear(seg: u32, n: u32, write: bool): void {
  if (seg == SEG_ES || seg == SEG_SS || seg == SEG_DS) {
    flatCheck = <i32>seg;
    lget(L_OFF); lset(L_LIN);
    return;
  }
  flatCheck = -1;
  lget(L_OFF); op(OP_I64_EXTEND_I32_U);
  if (n > 1) { i64c(<i64>(n - 1)); op(OP_I64_ADD); }
  i32c(0); mem(OP_I64_LOAD, 3, STATE + (write ? OFF_SEG_FAST_WRITE : OFF_SEG_FAST_READ) + (seg << 3));
  op(OP_I64_GT_S);
  ifVoidHint(false);
  slowCall(); i32c(segCheckWhat(seg, n, write)); lget(L_OFF); at(); helper(F_SEG_CHECK, 3, false); afterCall();
  end();
  i32c(0); mem(OP_I32_LOAD, 2, STATE + OFF_SEGS + (seg << 4) + SEG_BASE); lget(L_OFF); op(OP_I32_ADD); lset(L_LIN);
}
export function recLinear(rec: u32, n: u32, write: bool): void {
  effectiveAddress(rec);
  linear(<u32>load<u8>(rec, REC_RM), n, write);
}
/**
 * The TLB masks (mmu/tlb.ts tlbReadMask, tlbWriteMask) at the privilege level the translation is
 * written for: the one running now. They depend on nothing else, so a translation has them as
 * constants, and runs only at that level (jit/cache.ts runsHere); their locals cost registers.
 */
export function readMask(): u32 { return readMaskFor(cplLive == 3); }
export function writeMask(): u32 { return writeMaskFor(cplLive == 3); }
/**
 * Push: is the access to L_LIN of n bytes on the TLB's fast path (tlbReadMask / tlbWriteMask)?
 * As one value that is zero only then: the entry under the mask is 1 (xor 1 gives 0), and the
 * last byte is on the same page ((offset + n - 1) >> 12 is 0). Two comparisons joined with AND
 * compiled to SETcc and MOVZX pairs (V8, x64); this is one OR that sets the flags for the branch.
 */
export function fastTest(n: u32, write: bool): void {
  lget(L_LIN); i32c(12); op(OP_I32_SHR_U); i32c(2); op(OP_I32_SHL); mem(OP_I32_LOAD, 2, TLB_BASE); ltee(L_E);
  i32c(write ? writeMask() : readMask()); op(OP_I32_AND); i32c(1); op(OP_I32_XOR);
  if (n > 1) { lget(L_LIN); i32c(0xfff); op(OP_I32_AND); i32c(n - 1); op(OP_I32_ADD); i32c(12); op(OP_I32_SHR_U); op(OP_I32_OR); }
  op(OP_I32_EQZ);
}
/** Push the host address of the fast-path access, less RAM_BASE (the memory instruction adds it). */
export function hostAddr(): void { lget(L_E); i32c(0xfffff000); op(OP_I32_AND); lget(L_LIN); i32c(0xfff); op(OP_I32_AND); op(OP_I32_OR); }
function loadOp(n: u32): u32 { return n == 4 ? OP_I32_LOAD : n == 2 ? OP_I32_LOAD16_U : OP_I32_LOAD8_U; }
function storeOp(n: u32): u32 { return n == 4 ? OP_I32_STORE : n == 2 ? OP_I32_STORE16 : OP_I32_STORE8; }
function sizeIndex(n: u32): u32 { return n == 4 ? 2 : n == 2 ? 1 : 0; }
/** Push the n-byte value at L_LIN (readLin8/16/32). */
export function read(n: u32): void {
  fastTest(n, false);
  ifI32Hint(true);
  hostAddr(); mem(loadOp(n), sizeIndex(n), RAM_BASE);
  els();
  slowCall(); lget(L_LIN); at(true); helper(F_READ8 + sizeIndex(n), 2, true); afterCall();
  end();
}
/** Write L_V's low n bytes at L_LIN (writeLin8/16/32). */
export function write(n: u32): void {
  fastTest(n, true);
  ifVoidHint(true);
  hostAddr(); lget(L_V); mem(storeOp(n), sizeIndex(n), RAM_BASE);
  els();
  slowCall(); lget(L_LIN); lget(L_V); at(true); helper(F_WRITE8 + sizeIndex(n), 3, false); afterCall();
  end();
}
/**
 * A read-modify-write operand: the write permission is checked before the read (checkRmw),
 * and L_ADDR is the host address less RAM_BASE on the fast path, or -1 for the slow path.
 */
export function rmwStart(n: u32): void {
  fastTest(n, true);
  ifI32Hint(true);
  hostAddr();
  els();
  slowCall(); lget(L_LIN); i32c(n); at(true); helper(F_CHECK_WRITE, 3, false); afterCall(); i32c(-1);
  end();
  lset(L_ADDR);
}
export function rmwRead(n: u32): void {
  lget(L_ADDR); i32c(-1); op(OP_I32_NE);
  ifI32Hint(true);
  lget(L_ADDR); mem(loadOp(n), sizeIndex(n), RAM_BASE);
  els();
  slowCall(); lget(L_LIN); at(); helper(F_READ8 + sizeIndex(n), 2, true); afterCall();
  end();
}
export function rmwWrite(n: u32): void {
  lget(L_ADDR); i32c(-1); op(OP_I32_NE);
  ifVoidHint(true);
  lget(L_ADDR); lget(L_V); mem(storeOp(n), sizeIndex(n), RAM_BASE);
  els();
  slowCall(); lget(L_LIN); lget(L_V); at(); helper(F_WRITE8 + sizeIndex(n), 3, false); afterCall();
  end();
}

// ---- the stack (SS.B = 1: the translation runs only with a 32-bit stack, see cache.ts) ----
/** push32(L_V). */
export function push32(): void {
  getReg32(REG_ESP); i32c(4); op(OP_I32_SUB); lset(L_OFF);
  linear(SEG_SS, 4, true);
  write(4);
  lget(L_OFF); setReg32(REG_ESP);
}
/** Push pop32(). */
export function pop32(): void {
  getReg32(REG_ESP); lset(L_OFF);
  linear(SEG_SS, 4, false);
  read(4);
  getReg32(REG_ESP); i32c(4); op(OP_I32_ADD); setReg32(REG_ESP);
}
