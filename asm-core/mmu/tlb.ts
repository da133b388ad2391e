// The software TLB: one u32 per 4 KiB linear page, indexed by the linear page number, shared by
// the interpreter and the JIT. An entry holds the physical page frame in bits 12..31 and, in
// the low bits, the reasons an access must leave the fast path. A fast-path access is
//   entry = TLB[lin >>> 12];  if ((entry & mask) == TLB_VALID) host = RAM_BASE + (entry & ~0xfff) + (lin & 0xfff)
// where the mask for the current CPL and access kind is precomputed (tlbReadMask/tlbWriteMask).

import { flushBlocks, setLinkEpochCell } from '../cpu/blocks';
import { attention } from '../cpu/live';
import { hostWatchCount, pageWatched } from '../cpu/host-watch';

export const TLB_BASE: u32 = 0x0040_0000; // 1 Mi entries x 4 bytes
export const TLB_LIST: u32 = 0x0080_0000; // linear page numbers of filled entries, for fast flushes
export const TLB_LIST_CAPACITY: u32 = 0x20000; // 128 Ki entries (512 KiB)
export const CODE_PAGES: u32 = 0x0090_0000; // one byte per physical page: 1 = holds decoded code (cpu/blocks.ts)
/**
 * One byte per physical page: its code generation, bumped each time code on the page is
 * overwritten. A decoded block (cpu/blocks.ts) is valid only while the generation it was decoded
 * at is current. CODE_GEN_NEVER (a page rewritten that often) means: always interpret it.
 */
export const CODE_GEN: u32 = 0x00a0_0000;
export const CODE_GEN_NEVER: u32 = 0xff;

export const TLB_VALID: u32 = 1 << 0;
/** Supervisor-only page: a CPL 3 access must fault. */
export const TLB_NO_USER: u32 = 1 << 1;
/** A CPL 3 write must take the slow path (read-only, or the dirty bit is not yet set). */
export const TLB_NO_WRITE_USER: u32 = 1 << 2;
/** A supervisor write must take the slow path (read-only with CR0.WP, or not yet dirty). */
export const TLB_NO_WRITE_SUP: u32 = 1 << 3;
/** Not RAM: every access goes to the MMIO map. */
export const TLB_MMIO: u32 = 1 << 4;
/** Global page (CR4.PGE): survives CR3 reloads. */
export const TLB_GLOBAL: u32 = 1 << 5;
/** The physical page holds translated code: writes must invalidate it. */
export const TLB_CODE: u32 = 1 << 6;
/** ROM (mmu/phys.ts MEM_ROM): reads on the fast path, writes to the slow path, which drops them. */
export const TLB_ROM: u32 = 1 << 7;
/**
 * Video memory the host has drawn since: the first write through this entry takes the slow
 * path, which marks the screen changed and clears the bit (mmu/access.ts noteWrite); the rest
 * of the writes to the page go the fast path until the host draws again.
 */
export const TLB_VRAM_CLEAN: u32 = 1 << 8;
/**
 * A RAM page the dirty log (mmu/dirty.ts) has not caught a write to since the host last looked:
 * the first write through this entry takes the slow path, which logs the page and clears the bit.
 */
export const TLB_LOG_DIRTY: u32 = 1 << 9;
/** A page holding a byte a host debugger watches (cpu/host-watch.ts): every access takes the slow path. */
export const TLB_WATCH: u32 = 1 << 10;

/** The bits of an entry that send an access at the current privilege level to the slow path (tlbSetUser). */
export let tlbReadMask: u32 = readMaskFor(false);
export let tlbWriteMask: u32 = writeMaskFor(false);
let listCount: u32 = 0;
/** The list overflowed since the last full clear: it no longer names every filled entry. */
let listOverflowed: bool = false;

/**
 * The instruction-fetch cache (cpu/fetch.ts) holds one translated page; it lives here so that
 * every TLB flush or invalidation also empties it (fetchLen = 0).
 */
/** EIP window [fetchLo, fetchLo + fetchLen) that is in one RAM page and inside the CS limit. */
export let fetchLo: u32 = 0;
export let fetchLen: u32 = 0;
/** Host address of EIP inside the window is EIP + fetchDelta. */
export let fetchDelta: u32 = 0;

/**
 * Bumped whenever what a block link (cpu/blocks.ts) or a chain cell (jit/chain.ts) assumed may
 * have changed, other than where a linear page maps: code was overwritten (retireCodePage), CS
 * changed base or limit, a translation was evicted, the block cache was flushed. Links also
 * hold whether they were made at CPL 3 (a CPL change alters only the permission to execute a
 * page, not where it is, so it need not end every link: a system call would otherwise send each
 * block the process runs after it back through the lookup).
 *
 * A link also holds the TLB entry of its target's page, and is good only while that entry is
 * unchanged, so TLB flushes and INVLPG do not move the epoch: Linux reloads CR3 for a process's
 * larger munmap or mremap and at every context switch, and after each, every link went back
 * through the lookup, although the process's code (and, for a fork of the same program, the
 * other process's) maps to the same frames again.
 * Never 0 (a link's "none"); below 2^31, so that a link can hold it shifted.
 */
export let codeEpoch: u32 = 1;

/** Empty the fetch window and make every block link stale. */
export function forgetCodeTranslations(): void {
  fetchLen = 0;
  if (++codeEpoch == 0x8000_0000) {
    // After 2^31 bumps an old link could match again: start from an empty block cache.
    codeEpoch = 1;
    flushBlocks();
  }
  setLinkEpochCell();
}

/** Choose the fast-path masks for a privilege level (user = CPL 3). */
export function tlbSetUser(user: bool): void {
  fetchLen = 0; // the fetch window was checked for the old privilege level
  tlbReadMask = readMaskFor(user);
  tlbWriteMask = writeMaskFor(user);
}

/** The read and write masks at CPL 3 (`user`) or below: they depend on nothing else (translations write them as constants, jit/operands.ts). */
@inline export function readMaskFor(user: bool): u32 {
  return user ? TLB_VALID | TLB_MMIO | TLB_WATCH | TLB_NO_USER : TLB_VALID | TLB_MMIO | TLB_WATCH;
}
@inline export function writeMaskFor(user: bool): u32 {
  return user
    ? TLB_VALID | TLB_MMIO | TLB_CODE | TLB_ROM | TLB_VRAM_CLEAN | TLB_LOG_DIRTY | TLB_WATCH | TLB_NO_USER | TLB_NO_WRITE_USER
    : TLB_VALID | TLB_MMIO | TLB_CODE | TLB_ROM | TLB_VRAM_CLEAN | TLB_LOG_DIRTY | TLB_WATCH | TLB_NO_WRITE_SUP;
}

@inline export function tlbEntry(lin: u32): u32 { return load<u32>(TLB_BASE + ((lin >>> 12) << 2)); }

/** Since power-on, for the inspector (index.ts tlbStats): entries filled, whole flushes, single pages dropped. */
export let tlbFills: f64 = 0, tlbFlushes: f64 = 0, tlbInvalidations: f64 = 0;

/** Fill the entry for `lin`'s page; what it stored (with TLB_WATCH when a host watchpoint is on the page). */
export function tlbSet(lin: u32, entry: u32): u32 {
  tlbFills++;
  if (hostWatchCount != 0 && pageWatched(lin)) entry |= TLB_WATCH;
  const slot = TLB_BASE + ((lin >>> 12) << 2);
  if (load<u32>(slot) == 0) {
    if (listCount == TLB_LIST_CAPACITY) { listOverflowed = true; listCount = 0; }
    store<u32>(TLB_LIST + (listCount << 2), lin >>> 12);
    listCount++;
  }
  store<u32>(slot, entry);
  return entry;
}

/** Drop one page (INVLPG). Block links into it stay: each checks its target's TLB entry (codeEpoch). */
export function tlbInvalidate(lin: u32): void {
  tlbInvalidations++;
  store<u32>(TLB_BASE + ((lin >>> 12) << 2), 0);
  fetchLen = 0;
}

/** Drop every entry, or every non-global entry (a CR3 load with CR4.PGE). */
export function tlbFlush(keepGlobal: bool): void {
  tlbFlushes++;
  if (listOverflowed) {
    // The list lost track of some entries: clear everything (global pages are refilled on use).
    listOverflowed = false;
    listCount = 0;
    memory.fill(TLB_BASE, 0, 0x40_0000);
    fetchLen = 0;
    return;
  }
  fetchLen = 0;
  let kept: u32 = 0;
  for (let i: u32 = 0; i < listCount; i++) {
    const vpn = load<u32>(TLB_LIST + (i << 2));
    const slot = TLB_BASE + (vpn << 2);
    const e = load<u32>(slot);
    if (keepGlobal && (e & TLB_GLOBAL)) {
      store<u32>(TLB_LIST + (kept << 2), vpn);
      kept++;
    } else {
      store<u32>(slot, 0);
    }
  }
  listCount = kept;
}

export function tlbFlushAll(): void {
  if (!listOverflowed) { tlbFlush(false); return; }
  tlbFlushes++;
  fetchLen = 0;
  memory.fill(TLB_BASE, 0, 0x40_0000);
  listCount = 0;
  listOverflowed = false;
}

/**
 * Code on the page holding `phys` was overwritten: unmark the page, retire its decoded blocks,
 * and drop the TLB entries that carried the mark.
 */
export function codePageWritten(phys: u32): void {
  retireCodePage(phys >>> 12);
  tlbFlushAll();
  attention = true; // the run loop leaves the current block, which may be on this page
}

/** Unmark physical page `page`, bump its code generation and end every link; the caller flushes the TLB. */
export function retireCodePage(page: u32): void {
  forgetCodeTranslations();
  store<u8>(CODE_PAGES + page, 0);
  const gen = <u32>load<u8>(CODE_GEN + page);
  if (gen < CODE_GEN_NEVER) store<u8>(CODE_GEN + page, <u8>(gen + 1));
}

export function isCodePage(phys: u32): bool { return load<u8>(CODE_PAGES + (phys >>> 12)) != 0; }
export function markCodePage(phys: u32, on: bool): void { store<u8>(CODE_PAGES + (phys >>> 12), on ? 1 : 0); }
