// The JIT's code cache: which decoded blocks are hot, their translations (jit/emit.ts) compiled
// by the host into functions of the core's function table, and a bounded set of table slots
// reused least-recently-used first (a clock sweep), so a long run never grows.
//
// A translation (of a region, jit/region.ts) hangs off its first decoded block (cpu/blocks.ts,
// header field H_FN) and lives exactly as long as the block: a write to the block's page retires
// the block (mmu/tlb.ts), and with it the only way to reach the translation, which covers only
// that page; a flush of the block cache drops every slot's owner.

import { startOutput, out, overflow } from './wasm';
import { translateRegion } from './module';
import { gatherRegion, regionBytes } from './region';
import { retired } from '../cpu/exec';
import { H_FN, H_RUNS, RUNS_NEVER } from '../cpu/blocks';
import { forgetCodeTranslations } from '../mmu/tlb';
import { startCells, CELLS_PER_SLOT, CELL_BYTES } from './chain';

@external("env", "jitCompile") declare function jitCompile(ptr: u32, len: u32, tableIndex: u32, ticket: u32): u32;

// What jitCompile answers. The host compiles a module either at once or in the background
// (WebAssembly.compile on the engine's compile threads: the run loop does not wait, and the block
// runs from its records meanwhile); a background compile ends with jitInstall(index, ticket, ok).
const COMPILE_FAILED: u32 = 0, COMPILED: u32 = 1, COMPILING: u32 = 2;
/** compileBlock's answer for a translation being compiled in the background. */
export const TRANSLATION_PENDING: u32 = 0xffff_ffff;

/** Bytes of the output buffer: a region's module (16 blocks of at most BLOCK_MAX records) fits; a bigger one fails cleanly (`overflow`). */
export const JIT_BUFFER_BYTES: u32 = 1 << 20;
/** Function-table slots for translations: the cache's bound. */
export const JIT_SLOTS: u32 = 4096;
const SLOT_CELL_BYTES: u32 = CELLS_PER_SLOT * CELL_BYTES;
/** Memory the cache needs after the block arena (index.ts init() places it): the buffer, the slots' bookkeeping, their chain cells. */
export const JIT_MEMORY_BYTES: u32 = JIT_BUFFER_BYTES + JIT_SLOTS * 13 + JIT_SLOTS * SLOT_CELL_BYTES;

let buffer: u32 = 0;
let slotOwner: u32 = 0; // u32 per slot: the block header whose translation is in it, or 0
let slotUsed: u32 = 0; // u8 per slot: called since the clock hand last passed
let slotBytes: u32 = 0; // u32 per slot: the size of the module in it
let slotTicket: u32 = 0; // u32 per slot: the compile its owner waits for (0: none)
let slotCells: u32 = 0; // CELLS_PER_SLOT chain cells per slot (jit/chain.ts)
let hand: u32 = 0;
/** First function-table index of the slots (the host grows the table and says where, setJitTable). */
let tableBase: u32 = 0;

/** Runs of a block before it is translated; 0: the JIT is off. */
export let jitThreshold: u32 = 0;

// Counters since power-on (index.ts jitStats).
export let translations: u32 = 0;
export let bytesEmitted: f64 = 0;
export let translationFailures: u32 = 0;
export let evictions: u32 = 0;
export let calls: f64 = 0;
export let instructionsTranslated: f64 = 0;
/** Bytes of guest code translated (each region's blocks). */
export let guestBytes: f64 = 0;
/** Bytes of the modules now in the cache, and the most there ever were. */
export let cacheBytes: f64 = 0;
export let cachePeak: f64 = 0;

export function placeJit(at: u32): void {
  buffer = at;
  slotOwner = at + JIT_BUFFER_BYTES;
  slotUsed = slotOwner + JIT_SLOTS * 4;
  slotBytes = slotUsed + JIT_SLOTS;
  slotTicket = slotBytes + JIT_SLOTS * 4;
  slotCells = slotTicket + JIT_SLOTS * 4;
  forgetTranslations();
}

export function setJitTable(base: u32): void { tableBase = base; forgetTranslations(); }
export function setJitThreshold(runs: u32): void { jitThreshold = tableBase == 0 ? 0 : runs; }

/** Every block is gone (cpu/blocks.ts flushBlocks): so is every translation. */
export function forgetTranslations(): void {
  if (slotOwner != 0) memory.fill(slotOwner, 0, JIT_SLOTS * 13);
  hand = 0;
  cacheBytes = 0;
}

/** A slot to reuse: a free one, or the first not called since the hand last passed it. */
function takeSlot(): u32 {
  for (;;) {
    const s = hand;
    hand = hand + 1 == JIT_SLOTS ? 0 : hand + 1;
    const owner = load<u32>(slotOwner + (s << 2));
    if (owner == 0) { cacheBytes -= <f64>load<u32>(slotBytes + (s << 2)); store<u32>(slotBytes + (s << 2), 0); return s; }
    if (load<u8>(slotUsed + s) != 0) { store<u8>(slotUsed + s, 0); continue; }
    store<u32>(owner, 0, H_FN);
    store<u32>(owner, 0, H_RUNS); // it may become hot again, and be translated again
    store<u32>(slotTicket + (s << 2), 0); // a compile still under way for it is dropped
    forgetCodeTranslations(); // chain cells (jit/chain.ts) may hold the slot's index
    cacheBytes -= <f64>load<u32>(slotBytes + (s << 2));
    evictions++;
    return s;
  }
}


/** Numbers each compile, so that a background compile that ends after its slot moved on is dropped. */
let lastTicket: u32 = 0;

/**
 * Translate the region of the block with header `header` (jit/region.ts); its function-table
 * index, TRANSLATION_PENDING while the host compiles it in the background, or 0 when it cannot
 * be translated (the block keeps running from its records).
 */
export function compileBlock(header: u32): u32 {
  gatherRegion(header);
  // The slot first: the translation's chain cells are the slot's.
  const s = takeSlot();
  const index = tableBase + s;
  startCells(slotCells + s * SLOT_CELL_BYTES);
  startOutput(buffer, buffer + JIT_BUFFER_BYTES);
  translateRegion();
  if (overflow) { translationFailures++; return 0; }
  lastTicket = lastTicket == 0xffff_ffff ? 1 : lastTicket + 1;
  const answer = jitCompile(buffer, out - buffer, index, lastTicket);
  if (answer == COMPILE_FAILED) { translationFailures++; return 0; }
  store<u32>(slotOwner + (s << 2), header);
  store<u8>(slotUsed + s, 1);
  store<u32>(slotTicket + (s << 2), answer == COMPILING ? lastTicket : 0);
  translations++;
  const size = out - buffer;
  bytesEmitted += <f64>size;
  store<u32>(slotBytes + (s << 2), size);
  cacheBytes += <f64>size;
  if (cacheBytes > cachePeak) cachePeak = cacheBytes;
  guestBytes += <f64>regionBytes;
  return answer == COMPILING ? TRANSLATION_PENDING : index;
}

/**
 * The host's background compile for table index `index` ended (`ok`: the function is ready).
 * 1: the slot still waits for this compile, and its block now calls the function, which the
 * host must put at `index` before the core runs again; 0: drop it (the slot was reused, or the
 * block cache flushed, since the compile began).
 */
export function jitInstall(index: u32, ticket: u32, ok: bool): u32 {
  const s = index - tableBase;
  if (index < tableBase || s >= JIT_SLOTS || ticket == 0 || load<u32>(slotTicket + (s << 2)) != ticket) return 0;
  store<u32>(slotTicket + (s << 2), 0);
  const owner = load<u32>(slotOwner + (s << 2));
  if (!ok) {
    translations--;
    translationFailures++;
    store<u32>(owner, RUNS_NEVER, H_RUNS);
    store<u32>(slotOwner + (s << 2), 0);
    return 0;
  }
  store<u32>(owner, index, H_FN);
  return 1;
}

/** The address less a table index of its slot's used mark (translations mark inline, jit/chain.ts). */
export function usedMarks(): u32 { return slotUsed - tableBase; }

/** The translation at table index `index` ran: the clock hand passes it over once. */
@inline export function markUsed(index: u32): void { store<u8>(slotUsed + index - tableBase, 1); }

/** Run the translation at table index `index` (it may chain into others, jit/chain.ts). */
@inline export function enter(index: u32): void {
  markUsed(index);
  calls += 1;
  const before = retired;
  call_indirect<void>(index);
  instructionsTranslated += <f64>(retired - before);
}
