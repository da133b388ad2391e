// The decoded-block cache: the interpreter's fast path for 32-bit code. Straight-line code is
// decoded once (cpu/predecode.ts) into a run of fixed-size records, each naming the handler that
// executes it (cpu/handlers.ts) with its operands already taken apart; afterwards the code
// runs from the records, without fetching or decoding a byte.
//
// A block is found by the physical address of its first instruction, so every linear mapping
// and every process that shares a page shares its blocks. It never leaves its page. It is valid
// while its page's code generation (mmu/tlb.ts, CODE_GEN) is the one it was decoded at: a write
// to a page that holds blocks goes through the TLB's slow path, which bumps the generation.
// What the decoder does not take apart runs through the full interpreter (exec.ts step()), as
// the last record of its block.
//
// A block remembers the two blocks it last went on to (its links), so a loop or a call to a
// hot function skips the lookup; a link is good while its target's page has the TLB entry it
// had when the link was made, no code changed since, at the same privilege (mmu/tlb.ts,
// codeEpoch).
//
// A block that ran often enough is translated into WebAssembly with its neighbours (jit/): the
// loop then calls the translation instead of running the records.

import { pc, instrStart, csBase, csLimit, cs32, ss32, cplLive, attention, flatData } from './live';
import { step, interruptShadow, retired } from './exec';
import { decodeBlock } from './predecode';
import { dispatch } from './generated/handlers';
import { REC_SIZE, REC_HANDLER, REC_LEN } from './record';
import { RAM_BASE } from '../mmu/phys';
import { jitThreshold, compileBlock, enter, runsHere, forgetTranslations, TRANSLATION_PENDING } from '../jit/cache';
import { CELL_LINK_EPOCH } from '../jit/layout';
import { translateOrRecord } from '../mmu/paging';
import { pendingVector } from './fault';
import {
  TLB_BASE, TLB_VALID, TLB_MMIO, CODE_PAGES, CODE_GEN, CODE_GEN_NEVER, tlbReadMask, tlbFlushAll, markCodePage,
  codeEpoch, forgetCodeTranslations, retireCodePage,
} from '../mmu/tlb';

/**
 * Blocks by physical address: a 4-way set-associative table of 64 Ki sets, each four 16-byte
 * entries (fields below), the most recently found first. With one way, two hot blocks whose
 * addresses fell in one slot evicted each other at every lookup, each decoded afresh with its
 * run count at zero and so never translated (a user loop and a kernel function did exactly
 * that, once per system call), filling the arena until it flushed everything.
 */
const BLOCK_TABLE: u32 = 0x00b0_0000;
const SET_BITS: u32 = 16;
const WAYS: u32 = 4;
const ENTRY: u32 = 16;
// Entry fields: the physical address; the tag (1 | epoch << 1 | generation << 8 | byte length
// << 16); the block's header.
const E_PHYS: u32 = 0, E_TAG: u32 = 4, E_BLOCK: u32 = 8;
/** Bumped by each flush, so a flush need not clear the table (7 bits; it is cleared on wrap). */
let epoch: u32 = 1;

/**
 * A block in the arena: a 64-byte header, then its records. The header holds the last record,
 * two links (a link is (EIP, linkEpoch, header of the block at that EIP, the TLB entry of
 * that EIP's page then)), the number of records, how often the block ran or, while it has a
 * translation, where the translation enters for it (jit/emit.ts entryParam), its translation
 * (jit/cache.ts: a function-table index, or 0), its physical address and length, and the EIP
 * span its translation covers.
 */
export const H_LAST: u32 = 0;
const H_LINK0: u32 = 4;
const H_LINK1: u32 = 20;
export const H_COUNT: u32 = 36;
export const H_RUNS: u32 = 40;
export const H_FN: u32 = 44;
/** The block's physical address and its length in bytes. */
export const H_PHYS: u32 = 48;
export const H_BYTES: u32 = 52;
/**
 * The EIP window its translation reads code from (jit/region.ts): H_SPAN_BELOW bytes before
 * the block and H_SPAN_ABOVE bytes from its start; all of it must be inside the CS limit.
 */
export const H_SPAN_BELOW: u32 = 56;
export const H_SPAN_ABOVE: u32 = 60;
const L_EIP: u32 = 0, L_EPOCH: u32 = 4, L_BLOCK: u32 = 8, L_TLB: u32 = 12, LINK_BYTES: u32 = 16;
export const HEADER_SIZE: u32 = 64;
/**
 * H_RUNS of a block that may be translated: how often it ran (RUN_COUNT), and in which period of
 * 2^RUN_PERIOD_SHIFT retired instructions it last ran (the bits above, modulo 256). The count
 * halves for each period that ended since, so a block reaches the JIT's threshold only if it
 * runs that often within about two periods: a rate, not a total. Code that runs a few times per
 * system call (the kernel's paths in a fork+exec) otherwise reached the threshold after enough
 * calls, and its translations, each entered for a few instructions and cold in the host's
 * caches, ran slower than its records: twelve loops of 300 fork+exec in one boot went from
 * 1.55 s to 1.85 s a loop as more of them were translated (bench/HISTORY.md). Periods of 2^26
 * left some of the piped sort's kernel paths interpreted, 2-4% slower; 2^27 keeps them.
 */
export const RUN_COUNT: u32 = 0x3f_ffff;
const RUN_PERIOD_SHIFT: u64 = 27;

/** H_RUNS after one more run now. Other words (RUNS_NEVER, jit/cache.ts RUNS_CLAIMED) stay. */
@inline function countRun(word: u32): u32 {
  if (word >= 0x4000_0000) return word;
  const now = <u32>(retired >> RUN_PERIOD_SHIFT) & 0xff;
  const periods = (now - (word >>> 22)) & 0xff;
  let count = word & RUN_COUNT;
  if (periods != 0) count = periods < 22 ? count >>> periods : 0;
  return (now << 22) | (count < RUN_COUNT ? count + 1 : count);
}

/** H_RUNS of a block that could not be translated: it is not tried again. */
export const RUNS_NEVER: u32 = 0x8000_0000;

/**
 * The blocks, allocated in order in the arena after guest RAM (index.ts init() places it);
 * when it is full, every block is dropped.
 */
export const ARENA_BYTES: u32 = 64 << 20;
let arena: u32 = 0;
let arenaEnd: u32 = 0;
export function placeArena(at: u32): void { arena = at; arenaEnd = at + ARENA_BYTES; arenaTop = at; flushBlocks(); }
/** A block has at most this many records, so a new one always fits after a check. */
export const BLOCK_MAX: u32 = 128;

let arenaTop: u32 = 0;
/** Statistics for the benchmark and the inspector. */
export let blocksDecoded: u32 = 0;
export let blockFlushes: u32 = 0;

/** Forget every block (the host rewrote memory, or the arena is full). */
export function flushBlocks(): void {
  epoch++;
  if (epoch == 0x80) {
    epoch = 1;
    memory.fill(BLOCK_TABLE, 0, (WAYS * ENTRY) << SET_BITS);
    // Also give pages that were rewritten too often their chance again.
    memory.fill(CODE_GEN, 0, 0x10_0000);
  }
  // Pages stay marked as code: their next write takes the slow path once, needlessly.
  arenaTop = arena;
  forgetTranslations(); // their owners were in the old arena
  forgetCodeTranslations(); // links point into the old arena
  blockFlushes++;
}

/** The host wrote guest RAM in [phys, phys + len): its decoded code is stale. */
export function invalidateRange(phys: u32, len: u32): void {
  if (len == 0) return;
  const last = <u32>((<u64>phys + <u64>len - 1) >> 12);
  for (let page = phys >>> 12; page <= last && page < 0x10_0000; page++) {
    if (load<u8>(CODE_PAGES + page) != 0) retireCodePage(page);
  }
  tlbFlushAll();
}

@inline function setOf(phys: u32): u32 {
  return BLOCK_TABLE + (((phys * 0x9e3779b1) >>> (32 - SET_BITS)) * (WAYS * ENTRY));
}

/** The tag bits an entry for a block decoded now, at code generation `gen`, has. */
@inline function validTag(gen: u32): u32 { return 1 | (epoch << 1) | (gen << 8); }

/** Find `phys` with a valid tag in `set` and move it to the front; false if it is not there. */
function lookup(set: u32, phys: u32, want: u32): bool {
  for (let w: u32 = 0; w < WAYS; w++) {
    const e = set + w * ENTRY;
    if (load<u32>(e, E_PHYS) != phys || (load<u32>(e, E_TAG) & 0xffff) != want) continue;
    if (w != 0) {
      const tag = load<u32>(e, E_TAG), header = load<u32>(e, E_BLOCK);
      memory.copy(set + ENTRY, set, w * ENTRY);
      store<u32>(set, phys, E_PHYS);
      store<u32>(set, tag, E_TAG);
      store<u32>(set, header, E_BLOCK);
    }
    return true;
  }
  return false;
}

/**
 * Free the front entry of `set` for a new block at `phys`: the ways before the one that goes
 * move down. What goes: a stale entry for the same address, else one from before the last
 * flush (or never used), else the least recently found.
 */
function makeRoom(set: u32, phys: u32): void {
  let victim: u32 = WAYS - 1;
  for (let w: u32 = 0; w < WAYS; w++) {
    const e = set + w * ENTRY;
    if (load<u32>(e, E_PHYS) == phys) { victim = w; break; }
    if ((load<u32>(e, E_TAG) & 0xff) != (1 | (epoch << 1)) && victim == WAYS - 1) victim = w;
  }
  memory.copy(set + ENTRY, set, victim * ENTRY);
}

/**
 * The header of the block at the current EIP, decoding it if needed, or 0 when this
 * instruction must go through step() (not 32-bit code, not RAM, near the CS limit, a page
 * rewritten too often), or when the fetch page-faulted. That fault is recorded, not thrown
 * (cpu/fault.ts recordFault): the caller returns to the run loop, which delivers it.
 */
function findBlock(): u32 {
  if (!cs32) return 0;
  const off = pc;
  if (off > csLimit) return 0;
  const lin = csBase + off;
  let e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & tlbReadMask) != TLB_VALID) {
    e = translateOrRecord(lin, false, cplLive == 3);
    if (e == 0 || (e & TLB_MMIO) != 0) return 0;
  }
  const phys = (e & 0xfffff000) | (lin & 0xfff);
  const gen = <u32>load<u8>(CODE_GEN + (phys >>> 12));
  const set = setOf(phys);
  if (!lookup(set, phys, validTag(gen))) {
    if (gen == CODE_GEN_NEVER) return 0;
    makeRoom(set, phys);
    newBlock(set, phys, gen);
  }
  // Every byte of the block must be inside the CS limit; near the limit, step() checks each fetch.
  if (<u64>off + <u64>(load<u32>(set, E_TAG) >>> 16) > <u64>csLimit + 1) return 0;
  return load<u32>(set, E_BLOCK);
}

/** Decode the block at `phys` into the arena; its entry goes to `slot`. */
function newBlock(slot: u32, phys: u32, gen: u32): void {
  if (arenaTop + HEADER_SIZE + BLOCK_MAX * REC_SIZE > arenaEnd) flushBlocks();
  const page = phys >>> 12;
  if (load<u8>(CODE_PAGES + page) == 0) {
    // From now on writes to this page leave the TLB fast path and retire its blocks.
    markCodePage(phys, true);
    tlbFlushAll();
  }
  const header = arenaTop;
  memory.fill(header, 0, HEADER_SIZE); // no links
  const bytes = decodeBlock(RAM_BASE + phys, RAM_BASE + ((phys | 0xfff) + 1), header + HEADER_SIZE);
  arenaTop = decodedEnd;
  store<u32>(header, decodedEnd - REC_SIZE, H_LAST);
  store<u32>(header, (decodedEnd - header - HEADER_SIZE) / REC_SIZE, H_COUNT);
  store<u32>(header, phys, H_PHYS);
  store<u32>(header, bytes, H_BYTES);
  blocksDecoded++;
  store<u32>(slot, phys, E_PHYS);
  store<u32>(slot, validTag(gen) | (bytes << 16), E_TAG);
  store<u32>(slot, header, E_BLOCK);
}

/** The current budget's end, for translations (jit/emit.ts): they go on to another block of their region only while it has room. */
export let jitBudgetEnd: u64 = 0;

/**
 * The valid block at physical `phys`, decoding it if `decode` and the arena has room; 0 if there
 * is none (for jit/region.ts, which gathers a hot block's neighbours on its page; never flushes).
 */
export function blockAt(phys: u32, decode: bool): u32 {
  const gen = <u32>load<u8>(CODE_GEN + (phys >>> 12));
  if (gen == CODE_GEN_NEVER) return 0;
  const set = setOf(phys);
  if (lookup(set, phys, validTag(gen))) return load<u32>(set, E_BLOCK);
  if (!decode || arenaTop + HEADER_SIZE + BLOCK_MAX * REC_SIZE > arenaEnd) return 0;
  makeRoom(set, phys);
  newBlock(set, phys, gen);
  return load<u32>(set, E_BLOCK);
}

/** Where decodeBlock() stopped writing records. */
export let decodedEnd: u32 = 0;

/**
 * The fast run loop for 32-bit code: like exec.ts runUntil(), it returns when `end`
 * instructions have retired or something needs the run loop's attention.
 */
export function runBlocks(end: u64): void {
  let block: u32 = 0;
  for (;;) {
    if (block == 0) {
      // The fetch page-faulted (findBlock, here or in follow()): the run loop delivers it.
      if (pendingVector >= 0) return;
      interruptShadow = false;
      instrStart = pc;
      block = findBlock();
      if (block == 0) {
        if (pendingVector >= 0) return;
        step();
        retired++;
        if (attention || retired >= end) return;
        continue;
      }
    }
    const fn = load<u32>(block, H_FN);
    if (fn != 0) {
      // The translation runs whole: only when the budget has room for all of it and the run
      // loop does not want control after one instruction (an STI or MOV SS shadow), so that
      // every run ends at the same instruction with the JIT on or off. It was made for a
      // 32-bit stack and flat data segments (jit/emit.ts push32, linear), at one privilege level
      // (jit/cache.ts runsHere).
      const count = load<u32>(block, H_COUNT);
      if (retired + <u64>count <= end && ss32 && flatData && !attention && runsHere(fn)
        && pc >= load<u32>(block, H_SPAN_BELOW) && <u64>pc + <u64>load<u32>(block, H_SPAN_ABOVE) <= <u64>csLimit + 1) {
        jitBudgetEnd = end;
        enter(fn, load<u32>(block, H_RUNS));
        if (attention || retired >= end) return;
        block = follow(block);
        continue;
      }
    } else if (jitThreshold != 0) {
      const runs = countRun(load<u32>(block, H_RUNS));
      store<u32>(block, runs, H_RUNS);
      if ((runs & RUN_COUNT) == jitThreshold && ss32) {
        const index = compileBlock(block);
        if (index == 0) store<u32>(block, RUNS_NEVER, H_RUNS);
        else if (index != TRANSLATION_PENDING) continue; // installed: run it now
      }
    }
    let rec = block + HEADER_SIZE;
    // The last record to run: the block's, or the one that uses up the budget.
    let last = load<u32>(block, H_LAST);
    const room = end - retired;
    if (room < <u64>load<u32>(block, H_COUNT)) last = rec + (<u32>room - 1) * REC_SIZE;
    for (;;) {
      const start = pc;
      instrStart = start;
      pc = start + <u32>load<u8>(rec, REC_LEN);
      dispatch(<u32>load<u16>(rec, REC_HANDLER), rec);
      // Only a block's last record jumps; one before it moves EIP only when a string
      // instruction suspends itself, which asks for the run loop (string.ts suspend). A page
      // fault that a handler recorded instead of throwing (handlers.ts movRM32) also asks for
      // it, and that instruction did not retire.
      if (attention) { if (pendingVector < 0) retired++; break; }
      retired++;
      if (rec == last) break;
      rec += REC_SIZE;
    }
    if (attention || retired >= end) return;
    block = follow(block);
  }
}

/** What a link holds to be good: the code epoch, and whether it was made at CPL 3 (mmu/tlb.ts). */
@inline export function linkEpoch(): u32 { return (codeEpoch << 1) | (cplLive == 3 ? 1 : 0); }
/** Keep linkEpoch() in the translations' cell (jit/layout.ts CELL_LINK_EPOCH): after each change of codeEpoch or CPL. */
export function setLinkEpochCell(): void { store<u32>(CELL_LINK_EPOCH, linkEpoch()); }

/**
 * The block at `eip` if it is already decoded and its page is in the TLB, else 0; it never
 * decodes, walks the page tables or faults (for jit/chain.ts, between two translations, where
 * CS is a 32-bit segment: a translation runs only under one). It is entered in the table by
 * EIP, as follow() does.
 */
export function decodedBlockAt(eip: u32): u32 {
  const now = linkEpoch();
  const target = targetOf(eip);
  if (holds(target, eip, now)) return load<u32>(target, L_BLOCK);
  if (eip > csLimit) return 0;
  const lin = csBase + eip;
  const e = load<u32>(tlbSlotOf(eip));
  if ((e & tlbReadMask) != TLB_VALID) return 0;
  const phys = (e & 0xfffff000) | (lin & 0xfff);
  const set = setOf(phys);
  if (!lookup(set, phys, validTag(<u32>load<u8>(CODE_GEN + (phys >>> 12))))) return 0;
  if (<u64>eip + <u64>(load<u32>(set, E_TAG) >>> 16) > <u64>csLimit + 1) return 0;
  const block = load<u32>(set, E_BLOCK);
  makeLink(target, eip, now, block, e);
  return block;
}

/** The TLB entry EIP's page has now (CS is 32-bit, EIP inside its limit). */
@inline export function tlbSlotOf(eip: u32): u32 { return TLB_BASE + (((csBase + eip) >>> 12) << 2); }

/** Does `link` go to the block at `eip` now: made for it, in this epoch, through the same TLB entry? */
@inline function holds(link: u32, eip: u32, now: u32): bool {
  return load<u32>(link, L_EIP) == eip && load<u32>(link, L_EPOCH) == now && load<u32>(link, L_TLB) == load<u32>(tlbSlotOf(eip));
}

@inline function makeLink(link: u32, eip: u32, now: u32, block: u32, entry: u32): void {
  store<u32>(link, eip, L_EIP);
  store<u32>(link, now, L_EPOCH);
  store<u32>(link, block, L_BLOCK);
  store<u32>(link, entry, L_TLB);
}

/** The block at EIP after `from` ran, through one of its links, or found and linked; 0: step(). */
@inline function follow(from: u32): u32 {
  interruptShadow = false; // as before every instruction in runUntil()
  const eip = pc;
  const now = linkEpoch();
  if (holds(from + H_LINK0, eip, now)) return load<u32>(from, H_LINK0 + L_BLOCK);
  if (holds(from + H_LINK1, eip, now)) return load<u32>(from, H_LINK1 + L_BLOCK);
  // Returns and indirect jumps go to more places than two links hold: a table by EIP next.
  const target = targetOf(eip);
  if (holds(target, eip, now)) return load<u32>(target, L_BLOCK);
  instrStart = eip;
  const to = findBlock();
  // Linked only through a valid TLB entry: a new code page flushed the TLB (newBlock).
  const entry = load<u32>(tlbSlotOf(eip));
  if (to != 0 && linkEpoch() == now && (entry & tlbReadMask) == TLB_VALID) {
    // The newer link first; the older one moves to the second place.
    memory.copy(from + H_LINK1, from + H_LINK0, LINK_BYTES);
    makeLink(from + H_LINK0, eip, now, to, entry);
    makeLink(target, eip, now, to, entry);
  }
  return to;
}

/** Blocks by EIP for the jumps the links miss: 4096 links, good as a block's links are. */
const TARGET_BITS: u32 = 12;
const TARGETS: u32 = <u32>memory.data(LINK_BYTES << TARGET_BITS);
@inline function targetOf(eip: u32): u32 { return TARGETS + (((eip * 0x9e3779b1) >>> (32 - TARGET_BITS)) * LINK_BYTES); }
