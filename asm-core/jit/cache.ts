// The JIT's code cache: which decoded blocks are hot, their translations (jit/emit.ts) compiled
// by the host into functions of the core's function table, and a bounded set of table slots
// reused least-recently-used first (a clock sweep), so a long run never grows.
//
// A translation (of a region, jit/region.ts) hangs off its entry blocks (cpu/blocks.ts, header
// fields H_FN, and H_RUNS for where it enters: jit/emit.ts entryMask) and lives exactly as long as
// they do: they are all on one page, and a write to that page retires all its blocks
// (mmu/tlb.ts), and with them every way to reach the translation, which covers only that page; a
// flush of the block cache drops every slot's owner (its hot block).
// An entry block that already had another translation keeps it (install): a block is entered
// through one translation at a time, and an eviction clears only the blocks that still point at
// the slot.

import { startOutput, out, overflow } from './wasm';
import { translateRegion } from './module';
import { gatherRegion, regionBytes, regionSize, regionHeader, spanBelow, spanAbove } from './region';
import { entryMask, entryParam } from './emit';
import { retired } from '../cpu/exec';
import { cplLive } from '../cpu/live';
import { H_FN, H_RUNS, H_SPAN_BELOW, H_SPAN_ABOVE, RUNS_NEVER, RUN_COUNT, jitBudgetEnd } from '../cpu/blocks';
import { REGION_MAX } from './region';
import { forgetWaitingCalls } from './calls';
import { forgetCodeTranslations } from '../mmu/tlb';
import { startCells, CELLS_PER_SLOT, CELL_BYTES } from './chain';
import { CELL_ENTRY_PARAM, CELL_PC, CELL_RETIRED, CELL_BUDGET } from './layout';
import { pc } from '../cpu/live';

@external("env", "jitCompile") declare function jitCompile(ptr: u32, len: u32, tableIndex: u32, ticket: u32): u32;

// What jitCompile answers. The host compiles a module either at once or later, with the others
// asked for in the same run slice (src/cpu/jit-host.ts: the block runs from its records
// meanwhile); a later compile ends with jitInstall(index, ticket, ok).
const COMPILE_FAILED: u32 = 0, COMPILED: u32 = 1, COMPILING: u32 = 2;
/** compileBlock's answer for a translation the host compiles later. */
export const TRANSLATION_PENDING: u32 = 0xffff_ffff;

/** Bytes of the output buffer: a region's module (16 blocks of at most BLOCK_MAX records) fits; a bigger one fails cleanly (`overflow`). */
export const JIT_BUFFER_BYTES: u32 = 1 << 20;
/** Function-table slots for translations: the cache's bound. */
export const JIT_SLOTS: u32 = 4096;
const SLOT_CELL_BYTES: u32 = CELLS_PER_SLOT * CELL_BYTES;
/**
 * Per slot, its region's members: their number, the span (region.ts spanBelow, spanAbove),
 * then (block header, entryParam or NOT_ENTRY) for each.
 */
const M_COUNT: u32 = 0, M_BELOW: u32 = 4, M_ABOVE: u32 = 8, M_FIRST: u32 = 12;
const SLOT_MEMBER_BYTES: u32 = M_FIRST + REGION_MAX * 8;
/** Memory the cache needs after the block arena (index.ts init() places it): the buffer, the slots' bookkeeping, their members and chain cells. */
export const JIT_MEMORY_BYTES: u32 = JIT_BUFFER_BYTES + JIT_SLOTS * 14 + JIT_SLOTS * SLOT_MEMBER_BYTES + JIT_SLOTS * SLOT_CELL_BYTES;

let buffer: u32 = 0;
let slotOwner: u32 = 0; // u32 per slot: the block header whose translation is in it, or 0
let slotUsed: u32 = 0; // u8 per slot: called since the clock hand last passed
let slotBytes: u32 = 0; // u32 per slot: the size of the module in it
let slotTicket: u32 = 0; // u32 per slot: the compile its owner waits for (0: none)
let slotUser: u32 = 0; // u8 per slot: 1 when its translation is written for CPL 3 (runsHere)
let slotMembers: u32 = 0; // SLOT_MEMBER_BYTES per slot: its region's members
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
  slotUser = slotTicket + JIT_SLOTS * 4;
  slotMembers = slotUser + JIT_SLOTS;
  slotCells = slotMembers + JIT_SLOTS * SLOT_MEMBER_BYTES;
  forgetTranslations();
}

export function setJitTable(base: u32): void { tableBase = base; forgetTranslations(); }
/** A block's run count tops out at RUN_COUNT (cpu/blocks.ts), and so does the threshold. */
export function setJitThreshold(runs: u32): void { jitThreshold = tableBase == 0 ? 0 : min(runs, RUN_COUNT); }

/** Every block is gone (cpu/blocks.ts flushBlocks): so is every translation. */
export function forgetTranslations(): void {
  if (slotOwner != 0) memory.fill(slotOwner, 0, JIT_SLOTS * 14);
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
    uninstall(s);
    store<u32>(slotTicket + (s << 2), 0); // a compile still under way for it is dropped
    forgetCodeTranslations(); // chain cells (jit/chain.ts) may hold the slot's index
    cacheBytes -= <f64>load<u32>(slotBytes + (s << 2));
    evictions++;
    return s;
  }
}


/** Where the translation being called enters (jit/emit.ts entryParam): translations read it first. */
@inline export function setEntryParam(param: u32): void { store<u32>(CELL_ENTRY_PARAM, param); }

/** A member's second word in the slot's record when it is not an entry (an entry's is its entryParam, whose low byte is below REGION_MAX). */
const NOT_ENTRY: u32 = 0xffff_ffff;
/**
 * H_RUNS of a member of a region being compiled, which stops counting its runs: in a loop the
 * blocks of one region become hot within a few iterations of each other, and before the first
 * one's compile ended each was gathered and compiled as a region of its own.
 * Released (counting from 0 again) once the translation is installed or dropped; an entry
 * then holds its entryParam there.
 */
const RUNS_CLAIMED: u32 = 0x4000_0000;

/** Note the members of the translation just written for slot `s`, and which are entries (jit/emit.ts entryMask); claim them. */
function noteMembers(s: u32, owner: u32): void {
  const members = slotMembers + s * SLOT_MEMBER_BYTES;
  for (let k: u32 = 0; k < regionSize; k++) {
    const header = regionHeader(k);
    store<u32>(members + M_FIRST + (k << 3), header);
    store<u32>(members + M_FIRST + (k << 3) + 4, (entryMask & (1 << k)) != 0 ? entryParam(k) : NOT_ENTRY);
    if (header != owner && load<u32>(header, H_FN) == 0 && load<u32>(header, H_RUNS) < RUNS_CLAIMED) store<u32>(header, RUNS_CLAIMED, H_RUNS);
  }
  store<u32>(members, regionSize, M_COUNT);
  store<u32>(members, spanBelow, M_BELOW);
  store<u32>(members, spanAbove, M_ABOVE);
}

/** The translation in slot `s` will not be installed: its members count their runs again. */
function release(s: u32): void {
  const members = slotMembers + s * SLOT_MEMBER_BYTES;
  const n = load<u32>(members, M_COUNT);
  for (let i: u32 = 0; i < n; i++) {
    const header = load<u32>(members + M_FIRST + (i << 3));
    if (load<u32>(header, H_FN) == 0 && (load<u32>(header, H_RUNS) & RUNS_CLAIMED) != 0) store<u32>(header, 0, H_RUNS);
  }
  store<u32>(members, 0, M_COUNT);
}

/**
 * The translation in slot `s` is ready: its entry blocks call it, each with its entry and the
 * EIP window the translation reads code from, seen from that block (blocks.ts H_SPAN_*). The
 * hot block always; another only if no translation has it already. The other members count
 * their runs again: one that is entered from elsewhere becomes a region of its own.
 */
function install(s: u32): void {
  const members = slotMembers + s * SLOT_MEMBER_BYTES;
  const owner = load<u32>(slotOwner + (s << 2));
  const n = load<u32>(members, M_COUNT);
  for (let i: u32 = 0; i < n; i++) {
    const header = load<u32>(members + M_FIRST + (i << 3));
    const param = load<u32>(members + M_FIRST + (i << 3) + 4);
    if (header != owner && load<u32>(header, H_FN) != 0) continue;
    if (param == NOT_ENTRY) {
      if ((load<u32>(header, H_RUNS) & RUNS_CLAIMED) != 0) store<u32>(header, 0, H_RUNS);
      continue;
    }
    const offset = <u32>(<i32>param >> 8); // from the hot block
    store<u32>(header, tableBase + s, H_FN);
    store<u32>(header, param, H_RUNS);
    store<u32>(header, load<u32>(members, M_BELOW) + offset, H_SPAN_BELOW);
    store<u32>(header, load<u32>(members, M_ABOVE) - offset, H_SPAN_ABOVE);
  }
}

/**
 * The translation in slot `s` is evicted, or its compile dropped: the blocks that enter it, and
 * its hot block, count their runs again, and may be translated again.
 */
function uninstall(s: u32): void {
  const members = slotMembers + s * SLOT_MEMBER_BYTES;
  const owner = load<u32>(slotOwner + (s << 2));
  const n = load<u32>(members, M_COUNT);
  for (let i: u32 = 0; i < n; i++) {
    const header = load<u32>(members + M_FIRST + (i << 3));
    const fn = load<u32>(header, H_FN);
    if (fn == tableBase + s || (fn == 0 && header == owner)) { store<u32>(header, 0, H_FN); store<u32>(header, 0, H_RUNS); }
  }
  release(s);
}

/** Numbers each compile, so that a later compile that ends after its slot moved on is dropped. */
let lastTicket: u32 = 0;

/**
 * Translate the region of the block with header `header` (jit/region.ts); its function-table
 * index (installed: the block calls it now), TRANSLATION_PENDING until the host compiles it
 * later, or 0 when it cannot be translated (the block keeps running from its records).
 */
export function compileBlock(header: u32): u32 {
  gatherRegion(header, jitThreshold == 1); // translated at its first run: nothing around it has run
  // The slot first: the translation's chain cells are the slot's.
  const s = takeSlot();
  const index = tableBase + s;
  store<u8>(slotUser + s, cplLive == 3 ? 1 : 0);
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
  noteMembers(s, header);
  if (answer == COMPILED) install(s);
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
 * The host's later compile for table index `index` ended (`ok`: the function is ready).
 * 1: the slot still waits for this compile, and its entry blocks now call the function, which
 * the host must put at `index` before the core runs again; 0: drop it (the slot was reused, or the
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
    release(s);
    if (load<u32>(owner, H_FN) == 0) store<u32>(owner, RUNS_NEVER, H_RUNS);
    store<u32>(slotOwner + (s << 2), 0);
    return 0;
  }
  install(s);
  return 1;
}

/**
 * May the translation at table index `index` run now? It is written for the privilege level it
 * was translated at, with that level's TLB masks as constants (jit/operands.ts readMask): only
 * at CPL 3, or only below. Code that runs at both runs from its records at the other.
 */
@inline export function runsHere(index: u32): bool { return load<u8>(slotUser + index - tableBase) == (cplLive == 3 ? 1 : 0); }

/** The address less a table index of its slot's used mark (translations mark inline, jit/chain.ts). */
export function usedMarks(): u32 { return slotUsed - tableBase; }

/** The translation at table index `index` ran: the clock hand passes it over once. */
@inline export function markUsed(index: u32): void { store<u8>(slotUsed + index - tableBase, 1); }

/** Run the translation at table index `index` from entry `param` (it may chain into others, jit/chain.ts). */
@inline export function enter(index: u32, param: u32): void {
  setEntryParam(param);
  store<u32>(CELL_PC, pc);
  store<u64>(CELL_RETIRED, retired);
  store<u64>(CELL_BUDGET, jitBudgetEnd);
  forgetWaitingCalls();
  markUsed(index);
  calls += 1;
  const before = retired;
  call_indirect<void>(index);
  instructionsTranslated += <f64>(retired - before);
}
