// Watchpoints of a debugger on the host (the gdb stub's Z2-Z4), not the guest's own DR0-DR3:
// accesses to a watched range of linear addresses stop the run after the instruction that made
// them (as an x86 data breakpoint traps after its access), with STOP_WATCH. The guest cannot
// observe them: no exception, no DR6 change.
//
// How accesses are caught: a TLB entry for a page holding a watched byte carries TLB_WATCH,
// which is in both fast-path masks (mmu/tlb.ts), so every access to the page, by the
// interpreter, a string instruction or translated code, takes the slow path (mmu/access.ts),
// which checks the range here. The rest of memory keeps its fast path.

import { attention } from './live';
import { tlbFlushAll } from '../mmu/tlb';

export const HOST_WATCHPOINTS: u32 = 4;
/** What a watchpoint catches (gdb's Z2, Z3, Z4). */
export const WATCH_WRITE: u32 = 1, WATCH_READ: u32 = 2, WATCH_ACCESS: u32 = 3;
const starts = new StaticArray<u32>(HOST_WATCHPOINTS);
const lengths = new StaticArray<u32>(HOST_WATCHPOINTS);
const kinds = new StaticArray<u32>(HOST_WATCHPOINTS); // 0: free
/** Watchpoints set (the TLB marks pages only while this is not 0). */
export let hostWatchCount: u32 = 0;

/** The last hit since the run began: slot (-1: none), the address accessed, and 1 for a write. */
let hitSlot: i32 = -1;
let hitAddress: u32 = 0;
let hitWrite: bool = false;
/** A watchpoint was hit: the run loop stops before the next instruction. */
export let watchStop: bool = false;

/** Watch [lin, lin + len) for `kind` (WATCH_*) in slot `i`; 0 when an argument is out of range. */
export function setHostWatch(i: u32, lin: u32, len: u32, kind: u32): u32 {
  if (i >= HOST_WATCHPOINTS || len == 0 || len > 0x1000 || kind < WATCH_WRITE || kind > WATCH_ACCESS) return 0;
  if (unchecked(kinds[i]) == 0) hostWatchCount++;
  unchecked(starts[i] = lin);
  unchecked(lengths[i] = len);
  unchecked(kinds[i] = kind);
  tlbFlushAll(); // entries filled before lack TLB_WATCH
  return 1;
}

export function clearHostWatch(i: u32): void {
  if (i >= HOST_WATCHPOINTS || unchecked(kinds[i]) == 0) return;
  unchecked(kinds[i] = 0);
  hostWatchCount--;
  tlbFlushAll(); // let the page's accesses take the fast path again
}

/** Does the 4 KiB linear page of `lin` hold a watched byte? (mmu/tlb.ts tlbSet) */
export function pageWatched(lin: u32): bool {
  const page = lin & 0xfffff000;
  for (let i: u32 = 0; i < HOST_WATCHPOINTS; i++) {
    if (unchecked(kinds[i]) == 0) continue;
    const first = unchecked(starts[i]) & 0xfffff000;
    const last = (unchecked(starts[i]) + unchecked(lengths[i]) - 1) & 0xfffff000;
    // The range may wrap past 4 GiB: then it covers the pages from `first` up and from 0 to `last`.
    if (first <= last ? page >= first && page <= last : page >= first || page <= last) return true;
  }
  return false;
}

/** An access of `n` bytes at `lin` reached memory on a watched page (mmu/access.ts). */
export function watchAccess(lin: u32, n: u32, write: bool): void {
  for (let i: u32 = 0; i < HOST_WATCHPOINTS; i++) {
    const kind = unchecked(kinds[i]);
    if (kind == 0 || (write ? (kind & WATCH_WRITE) == 0 : (kind & WATCH_READ) == 0)) continue;
    // Overlap of [lin, lin + n) and [start, start + len), modulo 4 GiB.
    const start = unchecked(starts[i]);
    if (lin - start < unchecked(lengths[i]) || start - lin < n) {
      if (hitSlot < 0) { hitSlot = <i32>i; hitAddress = lin; hitWrite = write; }
      watchStop = true;
      attention = true; // the run loop sees it after this instruction
    }
  }
}

/** The run loop stopped for it (index.ts loop): the next run starts clean. */
export function takeWatchStop(): void { watchStop = false; }

/** For the host after STOP_WATCH: the slot hit (0) or -1, the address accessed (1), 1 for a write (2). Cleared by the next run. */
export function hostWatchHit(which: u32): i32 {
  return which == 0 ? hitSlot : which == 1 ? <i32>hitAddress : hitWrite ? 1 : 0;
}

/** A run begins: forget the last hit. */
export function clearWatchHit(): void { hitSlot = -1; }
