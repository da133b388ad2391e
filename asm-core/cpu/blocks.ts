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

import { pc, instrStart, csBase, csLimit, cs32, cplLive, attention } from './live';
import { step, interruptShadow, retired } from './exec';
import { decodeBlock } from './predecode';
import { REC_SIZE, REC_HANDLER, REC_LEN } from './record';
import { RAM_BASE } from '../mmu/phys';
import { translate } from '../mmu/paging';
import {
  TLB_BASE, TLB_VALID, TLB_MMIO, CODE_PAGES, CODE_GEN, CODE_GEN_NEVER, tlbReadMask, tlbFlushAll, markCodePage,
} from '../mmu/tlb';

/** Direct-mapped table of blocks by physical address: 16-byte entries (see the fields below). */
const BLOCK_TABLE: u32 = 0x00b0_0000;
const BLOCK_TABLE_BITS: u32 = 16;
// Entry fields: the physical address; the tag (1 | epoch << 1 | generation << 8 | byte length
// << 16); the first record; the last record.
const E_PHYS: u32 = 0, E_TAG: u32 = 4, E_FIRST: u32 = 8, E_LAST: u32 = 12;
/** Bumped by each flush, so a flush need not clear the table (7 bits; it is cleared on wrap). */
let epoch: u32 = 1;

/** The records of all blocks, allocated in order; when full, every block is dropped. */
const ARENA: u32 = 0x00c0_0000;
const ARENA_END: u32 = 0x0100_0000;
/** A block has at most this many records, so a new one always fits after a check. */
export const BLOCK_MAX: u32 = 128;

let arenaTop: u32 = ARENA;
/** Statistics for the benchmark and the inspector. */
export let blocksDecoded: u32 = 0;
export let blockFlushes: u32 = 0;

/** The last record of the block findBlock() returned. */
let foundLast: u32 = 0;

/** Forget every block (the host rewrote memory, or the arena is full). */
export function flushBlocks(): void {
  epoch++;
  if (epoch == 0x80) {
    epoch = 1;
    memory.fill(BLOCK_TABLE, 0, 16 << BLOCK_TABLE_BITS);
    // Also give pages that were rewritten too often their chance again.
    memory.fill(CODE_GEN, 0, 0x10_0000);
  }
  // Pages stay marked as code: their next write takes the slow path once, needlessly.
  arenaTop = ARENA;
  blockFlushes++;
}

/** The host wrote guest RAM in [phys, phys + len): its decoded code is stale. */
export function invalidateRange(phys: u32, len: u32): void {
  if (len == 0) return;
  const last = <u32>((<u64>phys + <u64>len - 1) >> 12);
  for (let page = phys >>> 12; page <= last && page < 0x10_0000; page++) {
    if (load<u8>(CODE_PAGES + page) == 0) continue;
    store<u8>(CODE_PAGES + page, 0);
    const gen = <u32>load<u8>(CODE_GEN + page);
    if (gen < CODE_GEN_NEVER) store<u8>(CODE_GEN + page, <u8>(gen + 1));
  }
  tlbFlushAll();
}

@inline function slotOf(phys: u32): u32 {
  return BLOCK_TABLE + (((phys * 0x9e3779b1) >>> (32 - BLOCK_TABLE_BITS)) << 4);
}

/**
 * The first record of the block at the current EIP, decoding it if needed, or 0 when this
 * instruction must go through step() (not 32-bit code, not RAM, near the CS limit, a page
 * rewritten too often). A page fault on the fetch is raised here, as step() would.
 */
function findBlock(): u32 {
  if (!cs32) return 0;
  const off = pc;
  if (off > csLimit) return 0;
  const lin = csBase + off;
  let e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & tlbReadMask) != TLB_VALID) {
    e = translate(lin, false, cplLive == 3);
    if (e & TLB_MMIO) return 0;
  }
  const phys = (e & 0xfffff000) | (lin & 0xfff);
  const gen = <u32>load<u8>(CODE_GEN + (phys >>> 12));
  const slot = slotOf(phys);
  let tag = load<u32>(slot, E_TAG);
  if (load<u32>(slot, E_PHYS) != phys || (tag & 0xffff) != (1 | (epoch << 1) | (gen << 8))) {
    if (gen == CODE_GEN_NEVER) return 0;
    tag = newBlock(slot, phys, gen);
  }
  // Every byte of the block must be inside the CS limit; near the limit, step() checks each fetch.
  if (<u64>off + <u64>(tag >>> 16) > <u64>csLimit + 1) return 0;
  foundLast = load<u32>(slot, E_LAST);
  return load<u32>(slot, E_FIRST);
}

function newBlock(slot: u32, phys: u32, gen: u32): u32 {
  if (arenaTop + BLOCK_MAX * REC_SIZE > ARENA_END) flushBlocks();
  const page = phys >>> 12;
  if (load<u8>(CODE_PAGES + page) == 0) {
    // From now on writes to this page leave the TLB fast path and retire its blocks.
    markCodePage(phys, true);
    tlbFlushAll();
  }
  const first = arenaTop;
  const bytes = decodeBlock(RAM_BASE + phys, RAM_BASE + ((phys | 0xfff) + 1), first);
  const count = (decodedEnd - first) / REC_SIZE;
  arenaTop = decodedEnd;
  blocksDecoded++;
  const tag = 1 | (epoch << 1) | (gen << 8) | (bytes << 16);
  store<u32>(slot, phys, E_PHYS);
  store<u32>(slot, tag, E_TAG);
  store<u32>(slot, first, E_FIRST);
  store<u32>(slot, first + (count - 1) * REC_SIZE, E_LAST);
  return tag;
}

/** Where decodeBlock() stopped writing records. */
export let decodedEnd: u32 = 0;

/**
 * The fast run loop for 32-bit code: like exec.ts runUntil(), it returns when `end`
 * instructions have retired or something needs the run loop's attention.
 */
export function runBlocks(end: u64): void {
  do {
    interruptShadow = false;
    instrStart = pc;
    let rec = findBlock();
    if (rec == 0) { step(); retired++; continue; }
    const last = foundLast;
    for (;;) {
      const start = pc;
      const next = start + <u32>load<u8>(rec, REC_LEN);
      instrStart = start;
      pc = next;
      call_indirect<void>(<u32>load<u16>(rec, REC_HANDLER), rec);
      retired++;
      // Leave the block after a jump, at its end, or when the run loop is wanted.
      if (pc != next || rec == last || attention || retired >= end) break;
      rec += REC_SIZE;
    }
  } while (!attention && retired < end);
}
