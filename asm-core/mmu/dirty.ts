// The dirty log: which pages of guest RAM were written since the host last looked, for live
// migration's pre-copy rounds (src/migration/, through src/cpu/dirty-log.ts). One bit per 4 KiB
// physical page of the 4 GiB space.
//
// CPU writes are caught the way writes to code pages are: while logging is on, a TLB entry for
// a RAM page that is not yet logged carries TLB_LOG_DIRTY, which is in both write masks, so the
// first write through it leaves every fast path (the interpreter's, string instructions',
// translated code's) for the slow path, which logs the page and clears the bit in that entry.
// The page's further writes take the fast path until the host harvests the log, which flushes
// the TLB. Writes that bypass the TLB are logged where they happen: accessed and dirty bits the
// page walk sets (mmu/paging.ts), and the host's DMA (ramWritten).

import { tlbFlushAll } from './tlb';

export const DIRTY_LOG: u32 = 0x0088_0000; // 128 KiB: after the TLB list, before the code-page marks
const DIRTY_LOG_BYTES: u32 = 0x2_0000;

/** Logging is on (between dirtyLogStart and dirtyLogStop). */
export let dirtyLogOn: bool = false;
/** Pages logged since logging started: by CPU writes (and page-walk bit updates), and by DMA. */
export let dirtyByCpu: u32 = 0;
export let dirtyByDma: u32 = 0;
/** Harvests since logging started. */
export let dirtyHarvests: u32 = 0;

@inline export function dirtyLogged(page: u32): bool {
  return (load<u8>(DIRTY_LOG + (page >>> 3)) & (1 << (page & 7))) != 0;
}

/** Log physical page `page`; true when it was not logged yet. */
function logPage(page: u32): bool {
  const at = DIRTY_LOG + (page >>> 3);
  const byte = <u32>load<u8>(at);
  const bit: u32 = 1 << (page & 7);
  if (byte & bit) return false;
  store<u8>(at, <u8>(byte | bit));
  return true;
}

/** A CPU write reached physical page `page` past the TLB's fast path. */
export function logCpuWrite(page: u32): void {
  if (dirtyLogOn && logPage(page)) dirtyByCpu++;
}

/** The host wrote [phys, phys + len) of guest RAM (DMA, a loader). */
export function logDmaWrite(phys: u32, len: u32): void {
  if (!dirtyLogOn || len == 0) return;
  const last = <u32>((<u64>phys + <u64>len - 1) >> 12);
  for (let page = phys >>> 12; page <= last && page < 0x10_0000; page++) {
    if (logPage(page)) dirtyByDma++;
  }
}

/** Start logging with an empty log (every page counts as clean from now on). */
export function dirtyLogStart(): void {
  memory.fill(DIRTY_LOG, 0, DIRTY_LOG_BYTES);
  dirtyLogOn = true;
  dirtyByCpu = 0;
  dirtyByDma = 0;
  dirtyHarvests = 0;
  tlbFlushAll(); // entries filled before now lack TLB_LOG_DIRTY
}

/** Stop logging; the fast paths write every page again. */
export function dirtyLogStop(): void {
  dirtyLogOn = false;
  tlbFlushAll();
}

/**
 * The host has read the log at DIRTY_LOG: empty it, and flush the TLB so each page's next write
 * is logged again.
 */
export function dirtyLogClear(): void {
  memory.fill(DIRTY_LOG, 0, DIRTY_LOG_BYTES);
  dirtyHarvests++;
  tlbFlushAll();
}
