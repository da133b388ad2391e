// Chaining: a translation that leaves for code another translation covers goes straight into
// it with a tail call (`return_call_indirect`), instead of returning to the block loop
// (cpu/blocks.ts runBlocks) and being called again from there. Most region exits are calls,
// returns and jumps to another page's translation (a library function, a kernel helper), so
// this is the common way out of a translation.
//
// Each exit site of a translation has a cell of 16 bytes in the slot's cell area: the EIP it
// last went to, the link epoch then (blocks.ts linkEpoch: the code epoch and whether at CPL 3),
// the target's function-table index and the length of the target's first block. The exit
// tail-calls `jitNext(cell)`, a three-instruction function the host builds (src/cpu/jit-host.ts):
// it asks jitChainTarget() for a table index and tail-calls that. jitChainTarget compares the
// cell with EIP and the epoch now, and gives the target when the instruction budget has room
// for its first block and nothing wants the run loop (`attention`): the same test the block
// loop makes, so a run still ends at the same instruction with or without the JIT. On a miss it
// finds the target without decoding or walking page tables and refills the cell; with nothing
// to go into it gives a function that returns at once, to the block loop.
//
// Why not tail-call the table from the translation itself: a module that imports the table is
// registered with it, and V8 (Node 20) then visits every such instance at every table.set, and
// keeps them: compiling became quadratic in the number of translations ever made. Only jitNext
// imports the table.
//
// Why the fast test may skip the block loop's other conditions: a translation runs only while
// CS is a 32-bit segment, SS is 32-bit and ES/SS/DS are flat, and an instruction that changes
// any of them goes through the interpreter, which ends the translation without chaining. The
// CS base and limit are part of the code epoch (segments.ts), and so are the page tables, the
// code pages' contents and every eviction from the code cache (cache.ts): a cell made before
// any of those changed never matches again.
//
// Engines without tail calls (the host detects them, and then does not call setJitChaining) get
// plain returns.

import { pc, csLimit, attention } from '../cpu/live';
import { retired } from '../cpu/exec';
import { H_FN, H_COUNT, H_SPAN_BELOW, H_SPAN_ABOVE, jitBudgetEnd, decodedBlockAt, linkEpoch } from '../cpu/blocks';
import { byte, uleb, i32c, op, OP_RETURN, OP_RETURN_CALL } from './wasm';
import { F_NEXT } from './layout';
import { markUsed } from './cache';

export const CELL_BYTES: u32 = 16;
/** Exit sites that chain, per translation; further exits return to the block loop. */
export const CELLS_PER_SLOT: u32 = 64;
const C_EIP: u32 = 0, C_EPOCH: u32 = 4, C_FN: u32 = 8, C_COUNT: u32 = 12;

/** The host's engine has tail calls and gave translations `jitNext` (setJitChaining): they chain. */
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
 * Leave the translation with the registers and flags stored, `pc` set and the retired count up
 * to date: through jitNext (a tail call) into the translation at `pc`, or back to the block loop.
 */
export function chainExit(): void {
  if (!chaining || nextCell == cellsEnd) { op(OP_RETURN); return; }
  i32c(nextCell); byte(OP_RETURN_CALL); uleb(F_NEXT);
  nextCell += CELL_BYTES;
}

/** Translations entered from another through jitNext, since power-on (index.ts jitStats). */
export let chained: f64 = 0;

/** What jitChainTarget returns when there is nothing to go into: it returns at once, to the block loop. */
function backToLoop(): void {}

/**
 * For the host's jitNext (src/cpu/jit-host.ts), called by a translation leaving through exit
 * cell `cell` with `pc` set: the function-table index to go into with a tail call, the
 * translation at `pc` when the block loop would call it now, or backToLoop's.
 */
export function jitChainTarget(cell: u32): u32 {
  if (attention) return backToLoop.index;
  const eip = pc;
  if (load<u32>(cell, C_EIP) == eip && load<u32>(cell, C_EPOCH) == linkEpoch()
    && retired + <u64>load<u32>(cell, C_COUNT) <= jitBudgetEnd) {
    const fn = load<u32>(cell, C_FN);
    markUsed(fn);
    chained += 1;
    return fn;
  }
  // A miss: find the translation at EIP without decoding or walking page tables.
  if (retired >= jitBudgetEnd) return backToLoop.index;
  const block = decodedBlockAt(eip);
  if (block == 0) return backToLoop.index;
  const fn = load<u32>(block, H_FN);
  if (fn == 0) return backToLoop.index;
  // Its code must lie inside the CS limit (as runBlocks checks before calling it).
  if (eip < load<u32>(block, H_SPAN_BELOW) || <u64>eip + <u64>load<u32>(block, H_SPAN_ABOVE) > <u64>csLimit + 1) return backToLoop.index;
  const count = load<u32>(block, H_COUNT);
  store<u32>(cell, eip, C_EIP);
  store<u32>(cell, linkEpoch(), C_EPOCH);
  store<u32>(cell, fn, C_FN);
  store<u32>(cell, count, C_COUNT);
  if (retired + <u64>count > jitBudgetEnd) return backToLoop.index;
  markUsed(fn);
  chained += 1;
  return fn;
}
