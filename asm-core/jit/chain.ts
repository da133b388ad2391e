// Chaining: a translation that leaves for code another translation covers goes straight into
// it with tail calls (`return_call`, `return_call_indirect`), instead of returning to the block loop
// (cpu/blocks.ts runBlocks) and being called again from there. Most region exits are calls,
// returns and jumps to another page's translation (a library function, a kernel helper), so
// this is the common way out of a translation.
//
// Each exit site of a translation has a cell of 28 bytes in the slot's cell area: the EIP it
// last went to, the link epoch then (blocks.ts linkEpoch: the code epoch and whether at CPL 3),
// the target's function-table index, the length of the target's first block, where the
// TLB entry of the target's page is and what it was, and the entry the target is called at
// (jit/emit.ts entryParam: a translation has several). At the exit the translation (its shared
// chain exit, jit/emit.ts functionBody, given the cell's address by the site) compares the
// cell with the EIP it leaves for, the epoch now and the TLB entry now, and goes into
// the target when the instruction budget has room for that first block and nothing wants the
// run loop (`attention`): the same test the block loop makes, so a run still ends at the same
// instruction with or without the JIT. A miss asks jitChainTarget(), which finds the target
// without decoding or walking page tables and refills the cell, or gives a function that
// returns at once, to the block loop. Either way the exit tail-calls `jitGo(index)`, a
// two-instruction function the host builds (src/cpu/jit-host.ts) that tail-calls the table.
// When the target block has no translation (most misses: an exit from hot code into the warm
// kernel paths of a fork), jitChainTarget marks the cell so (markUntranslated), and the next
// miss there returns to the block loop at once while the block still has none.
//
// Why not tail-call the table from the translation itself: a module that imports the table is
// registered with it, and V8 (Node 20) then visits every such instance at every table.set, and
// keeps them: compiling became quadratic in the number of translations ever made. Only jitGo
// imports the table.
//
// Why the fast test may skip the block loop's other conditions: a translation runs only while
// CS is a 32-bit segment, SS is 32-bit and ES/SS/DS are flat, and an instruction that changes
// any of them goes through the interpreter, which ends the translation without chaining. The
// CS base and limit are part of the code epoch (segments.ts), and so are the contents of code
// pages (mmu/tlb.ts) and every eviction from the code cache (cache.ts): a cell made before any
// of those changed never matches again. The TLB entry stands for the mapping of the target's
// page, as in the block links (blocks.ts).
//
// Engines without tail calls (the host detects them, and then does not call setJitChaining) get
// plain returns.

import { pc, csLimit, attention } from '../cpu/live';
import { retired } from '../cpu/exec';
import { H_FN, H_RUNS, H_COUNT, H_SPAN_BELOW, H_SPAN_ABOVE, jitBudgetEnd, decodedBlockAt, linkEpoch, tlbSlotOf } from '../cpu/blocks';
import {
  byte, uleb, i32c, i64c, op, lget, lset, ltee, gget, gset, mem, ifI32Hint, ifVoid, els, end, OP_I32_LOAD,
  OP_I32_STORE8, OP_I32_MUL, OP_I32_SHR_U, OP_I32_ADD, OP_I32_EQZ,
  OP_I32_OR, OP_I32_XOR, OP_I64_ADD, OP_I64_GT_U, OP_I64_LOAD32_U, OP_I64_LOAD, OP_I64_STORE, OP_I32_STORE, OP_RETURN, OP_RETURN_CALL,
  helper,
} from './wasm';
import {
  F_GO, F_CHAIN_TARGET, G_ATTENTION, G_PC, CELL_CHAINED, CELL_ENTRY_PARAM, CELL_PC, CELL_RETIRED, CELL_LINK_EPOCH, CELL_ZERO,
  L_T, L_CELL, L_RETIRED, L_BUDGET,
} from './layout';
import { flushRetired } from './operands';
import { markUsed, usedMarks, setEntryParam, runsHere } from './cache';

export const CELL_BYTES: u32 = 28;
/** Exit sites that chain, per translation; further exits return to the block loop. */
export const CELLS_PER_SLOT: u32 = 64;
const C_EIP: u32 = 0, C_EPOCH: u32 = 4, C_FN: u32 = 8, C_COUNT: u32 = 12, C_TLB_SLOT: u32 = 16, C_TLB: u32 = 20, C_ENTRY: u32 = 24;

/** The host's engine has tail calls and gave translations `jitGo` (setJitChaining): they chain. */
export let chaining: bool = false;
export function setChaining(on: bool): void { chaining = on; }

// The cells of the translation being written: the next free one and the end of its slot's.
let firstCell: u32 = 0;
let nextCell: u32 = 0;
let cellsEnd: u32 = 0;
export function startCells(first: u32): void {
  memory.fill(first, 0, CELLS_PER_SLOT * CELL_BYTES);
  firstCell = first;
  nextCell = first;
  cellsEnd = first + CELLS_PER_SLOT * CELL_BYTES;
}
/** The function is written again from the start (jit/emit.ts planRegisters): so are its cells. */
export function restartCells(): void { nextCell = firstCell; }

/**
 * Computed exits (RET, indirect calls and jumps, and whatever follows an instruction the
 * interpreter ran) go to more places than one cell holds: a RET in a function called from many
 * places missed at nearly every run. Their cells are in the jump cache, by EIP: any translation
 * leaving for an EIP finds the cell the last one that left for it filled.
 */
const JUMP_CACHE_BITS: u32 = 12;
const jumpCache: u32 = <u32>memory.data(CELL_BYTES << JUMP_CACHE_BITS);

/**
 * At an exit site, before the branch to the function's shared chain exit (jit/emit.ts): the
 * cell to test into local L_CELL, the site's own or, for a `computed` EIP (in L_T), the jump
 * cache's for it. False when this site does not chain (no tail calls, or the slot's cells are
 * all taken): it leaves for the block loop instead.
 */
export function cellForExit(computed: bool): bool {
  if (!chaining || (!computed && nextCell == cellsEnd)) return false;
  if (computed) {
    lget(L_T); i32c(0x9e3779b1); op(OP_I32_MUL); i32c(32 - JUMP_CACHE_BITS); op(OP_I32_SHR_U);
    i32c(CELL_BYTES); op(OP_I32_MUL); i32c(jumpCache); op(OP_I32_ADD); lset(L_CELL);
  } else {
    i32c(nextCell); lset(L_CELL);
    nextCell += CELL_BYTES;
  }
  return true;
}

/**
 * The shared chain exit, with the registers, flags and retired count stored and `pc` set to the EIP in L_T:
 * tail-call jitGo with the table index to go into, the cell's (L_CELL) when it holds (the test
 * jitChainTarget makes, written inline) or jitChainTarget's.
 */
export function chainEpilogue(): void {
  if (!chaining) { op(OP_RETURN); return; }
  cellHolds();
  ifI32Hint(true);
  cellTake();
  els();
  // The core's globals for jitChainTarget, and for the block loop if it returns there.
  lget(L_T); gset(G_PC); flushRetired();
  // Most misses leave for code without a translation (the warm kernel paths of a fork): when
  // jitChainTarget last found that block at this EIP in this link epoch (markUntranslated) and
  // it still has none, back to the block loop without asking again. The block loop reads the
  // same header next.
  // C_ENTRY is a block header only in a cell with C_FN 0 (else it is an entry parameter): it is
  // read only then.
  lget(L_CELL); mem(OP_I32_LOAD, 2, C_EIP); lget(L_T); op(OP_I32_XOR);
  lget(L_CELL); mem(OP_I32_LOAD, 2, C_EPOCH); linkEpochNow(); op(OP_I32_XOR); op(OP_I32_OR);
  lget(L_CELL); mem(OP_I32_LOAD, 2, C_FN); op(OP_I32_OR);
  op(OP_I32_EQZ);
  ifVoid();
  lget(L_CELL); mem(OP_I32_LOAD, 2, C_ENTRY); mem(OP_I32_LOAD, 2, H_FN); op(OP_I32_EQZ);
  ifVoid(); op(OP_RETURN); end();
  end();
  lget(L_CELL); helper(F_CHAIN_TARGET, 1, true);
  end();
  byte(OP_RETURN_CALL); uleb(F_GO);
}

/**
 * Push 1 when the exit cell in L_CELL holds for the EIP in L_T now (the test jitChainTarget makes,
 * written inline): made for that EIP, in this link epoch, through the same TLB entry, and the
 * budget has room for the target's first block and nothing wants the run loop.
 */
export function cellHolds(): void { cellMisses(); op(OP_I32_EQZ); }

/**
 * Push what cellHolds tests as one value that is zero when the cell holds: each test's
 * difference, or'ed together. V8 compiles a chain of comparisons joined with AND to SETcc and
 * MOVZX pairs; this is one OR that sets the flags for the branch.
 */
export function cellMisses(): void {
  lget(L_CELL); mem(OP_I32_LOAD, 2, C_EIP); lget(L_T); op(OP_I32_XOR);
  lget(L_CELL); mem(OP_I32_LOAD, 2, C_EPOCH); linkEpochNow(); op(OP_I32_XOR); op(OP_I32_OR);
  lget(L_CELL); mem(OP_I32_LOAD, 2, C_TLB_SLOT); mem(OP_I32_LOAD, 2, 0);
  lget(L_CELL); mem(OP_I32_LOAD, 2, C_TLB); op(OP_I32_XOR); op(OP_I32_OR);
  gget(G_ATTENTION); op(OP_I32_OR);
  lget(L_RETIRED); lget(L_CELL); mem(OP_I64_LOAD32_U, 2, C_COUNT); op(OP_I64_ADD); lget(L_BUDGET); op(OP_I64_GT_U);
  op(OP_I32_OR);
}

/** Push blocks.ts linkEpoch(): the code epoch and whether the CPU is at CPL 3. */
export function linkEpochNow(): void { i32c(0); mem(OP_I32_LOAD, 2, CELL_LINK_EPOCH); }

/**
 * The cell in L_CELL held: mark its target used for the cache's clock (cache.ts markUsed),
 * count the entry, say where it enters, and push its table index (into L_T too).
 */
export function cellTake(): void {
  i32c(0); lget(L_T); mem(OP_I32_STORE, 2, CELL_PC);
  i32c(0); lget(L_RETIRED); mem(OP_I64_STORE, 3, CELL_RETIRED);
  lget(L_CELL); mem(OP_I32_LOAD, 2, C_FN); ltee(L_T); i32c(1); mem(OP_I32_STORE8, 0, usedMarks());
  i32c(0); i32c(0); mem(OP_I64_LOAD, 3, CELL_CHAINED); i64c(1); op(OP_I64_ADD); mem(OP_I64_STORE, 3, CELL_CHAINED);
  i32c(0); lget(L_CELL); mem(OP_I32_LOAD, 2, C_ENTRY); mem(OP_I32_STORE, 2, CELL_ENTRY_PARAM);
  lget(L_T);
}

/** Translations entered from another, since power-on (index.ts jitStats). */
export function chained(): u64 { return load<u64>(CELL_CHAINED); }

/** What jitChainTarget returns when there is nothing to go into: it returns at once, to the block loop. */
function backToLoop(): void {}

/**
 * Called by a translation whose exit cell `cell` missed, with `pc` set: the function-table
 * index to tail-call (through jitGo), the translation at `pc` when the block loop would call it
 * now (with its entry in CELL_ENTRY_PARAM), or backToLoop's. Refills the cell whenever the target
 * has a translation.
 */
export function jitChainTarget(cell: u32, _a: u32, _b: u32): u32 {
  // The cell missed (chainExit): find the translation at EIP without decoding or walking page tables.
  if (attention || retired >= jitBudgetEnd) return backToLoop.index;
  const eip = pc;
  const block = decodedBlockAt(eip);
  if (block == 0) return backToLoop.index;
  const fn = load<u32>(block, H_FN);
  if (fn == 0) { markUntranslated(cell, eip, block); return backToLoop.index; }
  if (!runsHere(fn)) return backToLoop.index;
  // Its code must lie inside the CS limit (as runBlocks checks before calling it).
  if (eip < load<u32>(block, H_SPAN_BELOW) || <u64>eip + <u64>load<u32>(block, H_SPAN_ABOVE) > <u64>csLimit + 1) return backToLoop.index;
  const count = load<u32>(block, H_COUNT);
  const slot = tlbSlotOf(eip); // decodedBlockAt found the entry valid
  store<u32>(cell, slot, C_TLB_SLOT);
  store<u32>(cell, load<u32>(slot), C_TLB);
  store<u32>(cell, eip, C_EIP);
  store<u32>(cell, linkEpoch(), C_EPOCH);
  store<u32>(cell, fn, C_FN);
  store<u32>(cell, count, C_COUNT);
  const entry = load<u32>(block, H_RUNS); // while the block has a translation: where it enters
  store<u32>(cell, entry, C_ENTRY);
  if (retired + <u64>count > jitBudgetEnd) return backToLoop.index;
  setEntryParam(entry);
  store<u32>(CELL_PC, eip);
  store<u64>(CELL_RETIRED, retired);
  markUsed(fn);
  store<u64>(CELL_CHAINED, load<u64>(CELL_CHAINED) + 1);
  return fn;
}

/**
 * Remember in `cell` that `block`, at `eip`, has no translation: the cell's chain test
 * (cellMisses) never holds (its TLB word is CELL_ZERO's, its TLB value 1), and the miss path
 * (chainEpilogue) returns to the block loop while the EIP and the link epoch (which a flush of
 * the blocks changes) are the same and the block still has no translation. Returning to the
 * block loop is always right: it finds the next block itself; the cell only saves asking.
 */
function markUntranslated(cell: u32, eip: u32, block: u32): void {
  store<u32>(cell, eip, C_EIP);
  store<u32>(cell, linkEpoch(), C_EPOCH);
  store<u32>(cell, 0, C_FN);
  store<u32>(cell, 0, C_COUNT);
  store<u32>(cell, CELL_ZERO, C_TLB_SLOT);
  store<u32>(cell, 1, C_TLB);
  store<u32>(cell, block, C_ENTRY);
}
