// Calls that return. Most CALLs out of a translation's region come back with the callee's RET to
// the instruction after the CALL. Chained (jit/chain.ts) that is two transitions: a tail call into
// the callee's translation, and later one from the callee's RET, through the jump cache, into an
// entry of the caller's translation, whose prologue loads everything again.
//
// When the CALL's return site is a block of the caller's own region, the caller makes a
// WebAssembly call instead (through jitGo, into the translation the site's exit cell names, as a
// chain would) and waits in its frame. A RET whose target is the address the latest waiting
// caller expects stores the state and returns from its function, as an exit to the block loop
// does. The caller goes on at its return site only after the test a chain into it would pass
// (jit/chain.ts cellHolds): EIP is the return site's, the link epoch and the TLB entry of the code's
// page are what they were at the CALL, nothing wants the run loop, and the budget has room for the
// return site's block. Otherwise it returns too, with the state in memory, to whatever called it.
// A RET to any other address (a task switch, a longjmp, a return past a CALL that did not wait)
// chains as before, and the frames keep waiting until the chain ends in a return: the end of
// the budget, a fault, `attention`, a cell that missed. Then each finds its return site not
// reached and returns too, down to the block loop. So nothing depends on the guest's calls and
// returns pairing up: a waiting frame holds no guest state, only which code it is running.
//
// What it saves: the return is a plain WebAssembly return, which the host CPU predicts, instead of
// the jump cache, two indirect calls (jitGo and the table's) and the caller's prologue.
//
// The expected return addresses are a stack in memory, at most MAX_DEPTH deep (each waiting frame
// is a translation's WebAssembly frame on the host's stack). The block loop empties it whenever it
// enters a translation (jit/cache.ts enter), so frames an exception unwound leave nothing behind.

import { i32c, op, lget, lset, mem, call, OP_I32_LOAD, OP_I32_STORE, OP_I32_ADD, OP_I32_SHL,
  OP_I32_SHR_U, OP_I32_EQ, OP_I32_GE_U, OP_I32_XOR, OP_I32_OR } from './wasm';
import { F_GO, CELL_DEPTH, CELL_RETURNS, L_E, L_V, L_T, L_OFF, L_EIP0 } from './layout';
import { cellTake, linkEpochNow } from './chain';
import { STATE, OFF_SEGS, SEG_CS, SEG_BASE } from '../cpu/state';
import { TLB_BASE } from '../mmu/tlb';

/** How many callers may wait in their frames at once; a CALL beyond them chains as before. */
export const MAX_DEPTH: u32 = 32;
/**
 * The waiting callers' return addresses. A depth of 0 reads the word below the first, 0: a RET
 * to EIP 0 then returns to the block loop instead of chaining, which is only slower.
 */
const RETURN_STACK: u32 = <u32>memory.data((MAX_DEPTH + 1) * 4) + 4;

/** Returns into a waiting caller's frame that went on there, since power-on (index.ts jitStats). */
export function returnsIntoCallers(): u64 { return load<u64>(CELL_RETURNS); }

/** No caller waits: the block loop is about to call a translation (cache.ts enter). */
@inline export function forgetWaitingCalls(): void { store<u32>(CELL_DEPTH, 0); }

/** Push 0 when another caller may wait (nonzero when the stack of waiting callers is full). */
export function callNoRoom(): void { i32c(0); mem(OP_I32_LOAD, 2, CELL_DEPTH); i32c(MAX_DEPTH); op(OP_I32_GE_U); }

/** Push the TLB entry of the translation's code page (its region is on one page, jit/region.ts). */
export function codePageEntry(): void {
  i32c(0); mem(OP_I32_LOAD, 2, STATE + OFF_SEGS + (SEG_CS << 4) + SEG_BASE); lget(L_EIP0); op(OP_I32_ADD);
  i32c(12); op(OP_I32_SHR_U); i32c(2); op(OP_I32_SHL); mem(OP_I32_LOAD, 2, TLB_BASE);
}

/**
 * With the registers and flags in memory, the callee's EIP in L_T, its exit cell holding (L_CELL)
 * and the code page's TLB entry in L_E: note the link epoch in L_V and the return address (in
 * L_OFF) on the stack, call into the callee's translation, and take the address off again.
 */
export function callAndWait(): void {
  linkEpochNow(); lset(L_V);
  i32c(0); mem(OP_I32_LOAD, 2, CELL_DEPTH); i32c(2); op(OP_I32_SHL); lget(L_OFF); mem(OP_I32_STORE, 2, RETURN_STACK);
  depthBy(1);
  cellTake();
  call(F_GO);
  depthBy(-1);
}

function depthBy(n: i32): void {
  i32c(0); i32c(0); mem(OP_I32_LOAD, 2, CELL_DEPTH); i32c(<u32>n); op(OP_I32_ADD); mem(OP_I32_STORE, 2, CELL_DEPTH);
}

/** Push 1 when the running code's return address (in L_T) is what the latest waiting caller expects. */
export function expectedReturn(): void {
  i32c(0); mem(OP_I32_LOAD, 2, CELL_DEPTH); i32c(2); op(OP_I32_SHL); mem(OP_I32_LOAD, 2, RETURN_STACK - 4);
  lget(L_T); op(OP_I32_EQ);
}

/** Push 0 when the link epoch and the code page's TLB entry are those L_V and L_E kept from the CALL. */
export function codeChanged(): void {
  linkEpochNow(); lget(L_V); op(OP_I32_XOR);
  codePageEntry(); lget(L_E); op(OP_I32_XOR);
  op(OP_I32_OR);
}
