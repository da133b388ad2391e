// PC thunks. i386 position-independent code finds its own address with a call to a function
// of two instructions, `mov (%esp), %reg; ret` (GCC's __x86.get_pc_thunk.bx and its siblings),
// at the start of nearly every function: glibc's, and so busybox's. The thunk sits on another
// page, so each such call left the translation for the thunk's and came straight back, two
// chained entries for three instructions (a third of all entries in the awk benchmark).
//
// The translator runs the thunk in place instead: after the CALL (which pushed the return
// address), the register gets the return address and ESP goes back up, as the MOV and the RET
// would do, and the translation goes on at the return address. Nothing is assumed at run time:
// the four bytes at the call's target are read through the TLB and compared with the thunk's
// every time, so a rewritten or remapped thunk page, a CS limit that cuts it, a page the code
// may not read (it falls back) or a budget that ends inside the thunk all take the CALL's
// ordinary exit into the thunk's translation.

import { i32c, i64c, op, lget, lset, gget, mem, ifI32, els, end, OP_I32_LOAD, OP_I32_ADD, OP_I32_EQ,
  OP_I32_EQZ, OP_I32_AND, OP_I64_ADD, OP_I64_LE_S, OP_I64_LE_U, OP_I64_LOAD, OP_I64_EXTEND_I32_U } from './wasm';
import { L_RETIRED, L_BUDGET, L_LIN, L_BAIL } from './layout';
import { committed, eipAt, getReg32, fastTest, hostAddr, slowPath } from './operands';
import { STATE, OFF_SEGS, SEG_BASE, SEG_CS, OFF_SEG_FAST_READ, REG_ESP } from '../cpu/state';
import { TLB_BASE, TLB_VALID, tlbReadMask } from '../mmu/tlb';
import { RAM_BASE } from '../mmu/phys';

/** The thunk's bytes as a little-endian word, less the ModRM byte: 8B /r 24 C3. */
const THUNK: u32 = 0xc3_24_00_8b;
const THUNK_MASK: u32 = 0xff_ff_00_ff;

/**
 * The register a PC thunk at linear address `lin` loads, or -1: what the translator looks for
 * now, through the TLB as it is (an entry that is not there means no); the translation checks
 * the bytes again each time it runs (thunkTest).
 */
export function thunkRegister(lin: u32): i32 {
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & tlbReadMask) != TLB_VALID || (lin & 0xfff) > 0xffc) return -1;
  const word = load<u32>(RAM_BASE + (e & 0xfffff000) + (lin & 0xfff));
  if ((word & THUNK_MASK) != THUNK) return -1;
  const modrm = (word >>> 8) & 0xff;
  // MOD 00, R/M 100 with SIB 24: [ESP]; the register is not ESP itself.
  const reg = (modrm >>> 3) & 7;
  return (modrm & 0xc7) == 0x04 && reg != REG_ESP ? <i32>reg : -1;
}

/**
 * Push 1 when the thunk that loads `reg` is at the CALL's target (EIP offset `to`) and may run
 * in place now, after the CALL's push: the budget has room for its two instructions, the CS
 * limit and the TLB let the code read its four bytes and they are the thunk's, and the word the
 * CALL pushed reads back from RAM (the MOV's load: not from MMIO).
 * `done`: instructions of the block up to and including the CALL.
 */
export function thunkTest(reg: u32, to: u32, done: u32): void {
  lget(L_RETIRED); i64c(<i64>(done + 2 - committed)); op(OP_I64_ADD); lget(L_BUDGET); op(OP_I64_LE_U);
  eipAt(to); op(OP_I64_EXTEND_I32_U); i64c(3); op(OP_I64_ADD);
  i32c(0); mem(OP_I64_LOAD, 3, STATE + OFF_SEG_FAST_READ + (SEG_CS << 3)); op(OP_I64_LE_S);
  op(OP_I32_AND);
  if (slowPath) { lget(L_BAIL); op(OP_I32_EQZ); op(OP_I32_AND); }
  ifI32();
  i32c(0); mem(OP_I32_LOAD, 2, STATE + OFF_SEGS + (SEG_CS << 4) + SEG_BASE); eipAt(to); op(OP_I32_ADD); lset(L_LIN);
  fastTest(4, false);
  ifI32();
  hostAddr(); mem(OP_I32_LOAD, 0, RAM_BASE); i32c(THUNK | (0x04 | (reg << 3)) << 8); op(OP_I32_EQ);
  getReg32(REG_ESP); lset(L_LIN); fastTest(4, false); op(OP_I32_AND);
  els(); i32c(0); end();
  els(); i32c(0); end();
}
