// Guest RAM in a snapshot (and a device's large memories, as the display's video memory): 4 KiB
// pages, with all-zero pages (most of a guest at its prompt) and pages the caller says to skip
// (the balloon's: the guest gave them back) left out. A run list, then the pages of every run:
//
//   bytes:u32 runCount:u32 (firstPage:u32 pageCount:u32)[runCount] pages[sum of pageCount][4096]
//
// Runs are ascending, non-empty and do not touch or overlap, so one RAM has one encoding. Pages
// outside every run load as zeros.
import { ByteReader, ByteWriter, SnapshotError } from './bytes.js';

export const PAGE_SIZE = 4096;
const WORDS_PER_PAGE = PAGE_SIZE / 4;

export interface RamEncodeOptions {
  /**
   * Pages to leave out whatever they hold (they load as zeros): the balloon's released pages.
   * Called with each page frame number (address / 4096) that is not all zeros.
   */
  skipPage?: (pfn: number) => boolean;
}

export interface RamCounts {
  /** Pages written to the file. */
  stored: number;
  /** Pages left out because they were all zeros. */
  zero: number;
  /** Pages left out because skipPage said so. */
  skipped: number;
}

/** 32-bit words over `ram` for fast zero checks (a copy only if `ram` is not 4-byte aligned). */
function wordsOf(ram: Uint8Array): Uint32Array {
  if (ram.byteOffset % 4 === 0) return new Uint32Array(ram.buffer, ram.byteOffset, ram.length / 4);
  return new Uint32Array(ram.slice().buffer);
}

function isZeroPage(words: Uint32Array, pfn: number): boolean {
  const end = (pfn + 1) * WORDS_PER_PAGE;
  for (let i = pfn * WORDS_PER_PAGE; i < end; i++) if (words[i] !== 0) return false;
  return true;
}

/** Write `ram` as pages; they go in by reference (no copy of RAM). */
export function encodePages(w: ByteWriter, ram: Uint8Array, opts: RamEncodeOptions = {}): RamCounts {
  if (ram.length % PAGE_SIZE !== 0 || ram.length > 0xffff_ffff) throw new SnapshotError(`memory of ${ram.length} bytes is not a whole number of pages a snapshot can hold`);
  const words = wordsOf(ram);
  const pages = ram.length / PAGE_SIZE;
  const runs: [number, number][] = [];
  const counts: RamCounts = { stored: 0, zero: 0, skipped: 0 };
  let runStart = -1;
  for (let pfn = 0; pfn <= pages; pfn++) {
    let keep = false;
    if (pfn < pages) {
      if (isZeroPage(words, pfn)) counts.zero++;
      else if (opts.skipPage?.(pfn) === true) counts.skipped++;
      else keep = true;
    }
    if (keep && runStart < 0) runStart = pfn;
    if (!keep && runStart >= 0) { runs.push([runStart, pfn - runStart]); runStart = -1; }
  }
  w.u32(ram.length);
  w.u32(runs.length);
  for (const [first, count] of runs) { w.u32(first); w.u32(count); counts.stored += count; }
  for (const [first, count] of runs) w.bytes(ram.subarray(first * PAGE_SIZE, (first + count) * PAGE_SIZE));
  return counts;
}

/**
 * Read what encodePages wrote into new memory, which may be at most `maxBytes` (the size the
 * configuration names, or what is left of a budget): a few bytes must not ask for gigabytes.
 */
export function decodePages(r: ByteReader, maxBytes: number): { ram: Uint8Array; stored: number } {
  const ramBytes = r.u32();
  if (ramBytes % PAGE_SIZE !== 0 || ramBytes > maxBytes) throw new SnapshotError(`snapshot is corrupt: ${r.where} holds ${ramBytes} bytes of pages, where at most ${maxBytes} fit`);
  const pages = ramBytes / PAGE_SIZE;
  const runCount = r.u32();
  if (runCount * 8 > r.left) throw new SnapshotError(`snapshot is corrupt: ${runCount} runs of pages do not fit in ${r.where}`);
  const runs: [number, number][] = [];
  let next = 0;
  let stored = 0;
  for (let i = 0; i < runCount; i++) {
    const first = r.u32();
    const count = r.u32();
    // Ascending and apart (a run starting where the last ended would have been one run).
    if (count === 0 || first < next || (i > 0 && first === next) || first + count > pages) {
      throw new SnapshotError(`snapshot is corrupt: ${r.where}'s run ${i} (pages ${first}+${count}) is out of order or outside ${pages} pages`);
    }
    runs.push([first, count]);
    next = first + count;
    stored += count;
  }
  if (r.left < stored * PAGE_SIZE) throw new SnapshotError(`snapshot is corrupt: ${r.where} has ${r.left} bytes of pages, its runs name ${stored * PAGE_SIZE}`);
  const ram = new Uint8Array(ramBytes);
  for (const [first, count] of runs) ram.set(r.bytes(count * PAGE_SIZE), first * PAGE_SIZE);
  return { ram, stored };
}
