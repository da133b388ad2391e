// virtio-balloon, the traditional memory balloon (virtio 1.1 §5.5): the host sets a target
// (num_pages, in 4 KiB pages) and the guest gives that many pages up through inflateq (0) and
// takes them back through deflateq (1), each buffer an array of le32 page frame numbers; it
// reports how many it holds in `actual`. With VIRTIO_BALLOON_F_STATS_VQ, statsq (2) carries
// memory statistics: the driver posts one buffer, the device keeps it, and returns it when the
// host wants fresh numbers; the driver then refills it and posts it again (§5.5.6.3).
//
// The device records which pages are in the balloon; the Machine hears of each through
// `onRelease` / `onReclaim` (to zero them, or leave them out of snapshots). PFNs outside guest
// RAM are counted and ignored, a page given twice is recorded once. A driver reset gives every
// page back (the guest owns all its memory again) and keeps the host's target. Not done:
// MUST_TELL_HOST (deflates are applied when notified, so the guest may use the pages at once),
// free page hinting and page reporting (virtio 1.2).

import type { Chain } from './virtqueue.js';
import { VirtioPci, type VirtioPciOptions } from './virtio-pci.js';

export const VIRTIO_ID_BALLOON = 5;
// Feature bits (§5.5.3)
export const VIRTIO_BALLOON_F_MUST_TELL_HOST = 0; // not offered
export const VIRTIO_BALLOON_F_STATS_VQ = 1;       // statsq exists
export const VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2; // the guest may deflate below the target when out of memory
export const VIRTIO_BALLOON_INFLATEQ = 0;
export const VIRTIO_BALLOON_DEFLATEQ = 1;
export const VIRTIO_BALLOON_STATSQ = 2;
export const VIRTIO_BALLOON_QUEUE_SIZE = 128;
/** The balloon's page size: PFNs are in 4 KiB units whatever the guest's page size (§5.5.6). */
export const VIRTIO_BALLOON_PFN_SHIFT = 12;
export const VIRTIO_BALLOON_PAGE_SIZE = 1 << VIRTIO_BALLOON_PFN_SHIFT;
/** PFNs taken from one buffer at most (Linux sends 256); the rest are dropped and the buffer counted bad. */
export const VIRTIO_BALLOON_MAX_PFNS = 16384;
/** struct virtio_balloon_stat: le16 tag, le64 val, packed (§5.5.6.3). */
const STAT_BYTES = 10;
/** Stat entries taken from one buffer at most. */
const STATS_MAX_ENTRIES = 64;
// struct virtio_balloon_config (§5.5.4)
const CFG_NUM_PAGES = 0; // le32, written by the device
const CFG_ACTUAL = 4;    // le32, written by the driver
const CONFIG_SIZE = 8;
const CLASS_OTHER = 0x00ff00;

/** The statistics' tags (VIRTIO_BALLOON_S_*: 0-7 in §5.5.6.3, the rest from Linux's uapi header), by tag number; others are ignored. */
export const VIRTIO_BALLOON_STAT_NAMES: readonly string[] = [
  'swap_in', 'swap_out', 'major_faults', 'minor_faults', 'free_memory', 'total_memory', 'available_memory', 'disk_caches',
  'hugetlb_allocations', 'hugetlb_failures', 'oom_kills', 'alloc_stalls', 'async_scans', 'direct_scans', 'async_reclaims',
  'direct_reclaims',
];

export interface VirtioBalloonOptions extends VirtioPciOptions {
  /** Offer VIRTIO_BALLOON_F_STATS_VQ and a third queue (default true). */
  stats?: boolean;
  /** Offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM (default false). */
  deflateOnOom?: boolean;
  /** A page (4 KiB at pfn << 12) the guest gave up. */
  onRelease?: (pfn: number) => void;
  /** A page the guest took back (a deflate, or a driver reset for every page in the balloon). */
  onReclaim?: (pfn: number) => void;
  /** Fresh statistics arrived from the driver. */
  onStats?: (stats: Readonly<Record<string, number>>) => void;
}

export interface BalloonState {
  /** num_pages: the host's target, in 4 KiB pages. */
  target: number;
  /** actual: what the driver last reported holding. */
  actual: number;
  /** The pages in the balloon, as PFNs in increasing order. */
  inflated: number[];
  /** The latest statistics by name (bytes for the memory ones, counts for the others). */
  stats: Record<string, number>;
  /** The head of the stats buffer the device holds, or -1. */
  statsHead: number;
}

function lowerBound(a: number[], v: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) { const mid = (lo + hi) >>> 1; if (a[mid]! < v) lo = mid + 1; else hi = mid; }
  return lo;
}

export class VirtioBalloon extends VirtioPci<BalloonState> {
  readonly balloon = { inflated: 0, deflated: 0, badPfns: 0, duplicates: 0, notInflated: 0, badBuffers: 0, statsUpdates: 0 };
  private readonly onRelease: (pfn: number) => void;
  private readonly onReclaim: (pfn: number) => void;
  private readonly onStats: (stats: Readonly<Record<string, number>>) => void;
  private readonly statsOffered: boolean;

  constructor(opts: VirtioBalloonOptions) {
    const stats = opts.stats ?? true;
    super('virtio-balloon', {
      virtioId: VIRTIO_ID_BALLOON, classCode: CLASS_OTHER,
      queueMax: stats ? [VIRTIO_BALLOON_QUEUE_SIZE, VIRTIO_BALLOON_QUEUE_SIZE, VIRTIO_BALLOON_QUEUE_SIZE] : [VIRTIO_BALLOON_QUEUE_SIZE, VIRTIO_BALLOON_QUEUE_SIZE],
      configSize: CONFIG_SIZE,
      features: (stats ? 1 << VIRTIO_BALLOON_F_STATS_VQ : 0) | (opts.deflateOnOom ? 1 << VIRTIO_BALLOON_F_DEFLATE_ON_OOM : 0),
    }, opts);
    this.statsOffered = stats;
    this.onRelease = opts.onRelease ?? (() => {});
    this.onReclaim = opts.onReclaim ?? (() => {});
    this.onStats = opts.onStats ?? (() => {});
  }

  protected freshDeviceState(): BalloonState { return { target: 0, actual: 0, inflated: [], stats: {}, statsHead: -1 }; }

  /** A driver reset: the guest owns all its memory again; the host's target and the last statistics stay. */
  protected override keptOverReset(previous: BalloonState): BalloonState {
    for (const pfn of previous.inflated) this.onReclaim(pfn);
    return { target: previous.target, actual: 0, inflated: [], stats: previous.stats, statsHead: -1 };
  }

  // ---- host API ----

  /** Ask the guest to hold `pages` 4 KiB pages in the balloon; it hears through a config interrupt. */
  setTarget(pages: number): void {
    if (!Number.isInteger(pages) || pages < 0 || pages > 0xffffffff) throw new RangeError(`balloon target ${pages}`);
    if (this.vio.device.target === pages) return;
    this.vio.device.target = pages;
    this.configChanged();
  }

  get target(): number { return this.vio.device.target; }
  /** What the driver says it holds (its `actual`). */
  get actual(): number { return this.vio.device.actual; }
  /** Pages the device has recorded in the balloon (may differ from `actual` for a driver that lies). */
  get inflatedCount(): number { return this.vio.device.inflated.length; }
  /** The PFNs in the balloon, increasing (a copy). */
  inflatedPages(): number[] { return this.vio.device.inflated.slice(); }
  isInflated(pfn: number): boolean {
    const a = this.vio.device.inflated, i = lowerBound(a, pfn);
    return i < a.length && a[i] === pfn;
  }
  /** The latest statistics by name. */
  get stats(): Readonly<Record<string, number>> { return this.vio.device.stats; }

  /** Ask the driver for fresh statistics: the held buffer goes back to it. False if it holds none (yet). */
  requestStats(): boolean {
    const head = this.vio.device.statsHead;
    if (head < 0 || !this.statsLive()) return false;
    this.vio.device.statsHead = -1;
    this.used(VIRTIO_BALLOON_STATSQ, { head, segments: [], readable: 0, writable: 0 }, 0);
    this.notifyUsed(VIRTIO_BALLOON_STATSQ);
    return true;
  }

  // ---- the guest side ----

  protected deviceConfigRead(offset: number, size: number): number {
    const d = this.vio.device;
    let v = 0;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const word = at >= CFG_NUM_PAGES && at < CFG_ACTUAL ? d.target : d.actual;
      v |= ((word >>> (8 * (at & 3))) & 0xff) << (8 * i);
    }
    return v >>> 0;
  }

  /** Only `actual` is the driver's to write (byte by byte, for any width); num_pages is read-only. */
  protected override deviceConfigWrite(offset: number, size: number, value: number): void {
    const d = this.vio.device;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      if (at < CFG_ACTUAL) { this.counters.guestErrors++; return; }
      const shift = 8 * (at & 3);
      d.actual = ((d.actual & ~(0xff << shift)) | (((value >>> (8 * i)) & 0xff) << shift)) >>> 0;
    }
  }

  protected queueNotified(q: number): void {
    if (q === VIRTIO_BALLOON_STATSQ) { if (this.statsLive()) this.takeStats(); return; }
    if (q !== VIRTIO_BALLOON_INFLATEQ && q !== VIRTIO_BALLOON_DEFLATEQ) return;
    for (let chain = this.pop(q); chain !== null; chain = this.pop(q)) {
      const pfns = this.pfnsOf(chain);
      this.used(q, chain, 0);
      if (q === VIRTIO_BALLOON_INFLATEQ) this.inflate(pfns); else this.deflate(pfns);
    }
    this.notifyUsed(q);
  }

  /**
   * DRIVER_OK: Linux posts its first stats buffer, and kicks, while it sets the queues up, before
   * DRIVER_OK (§3.1.1 step 7 populates the queues first), when the device may not take it yet
   * (§2.1.2). Take it now, or the driver waits for its return forever and no statistics come.
   */
  protected override driverReady(): void {
    if (this.statsLive()) this.guarded(() => this.takeStats());
  }

  private statsLive(): boolean { return this.statsOffered && this.negotiated(VIRTIO_BALLOON_F_STATS_VQ) && this.live(VIRTIO_BALLOON_STATSQ); }

  /** The chain's le32 PFNs; a length not a multiple of 4, or past the limit, makes it a bad buffer (the whole PFNs in it still count). */
  private pfnsOf(chain: Chain): Uint32Array {
    if (chain.readable % 4 !== 0 || chain.readable > 4 * VIRTIO_BALLOON_MAX_PFNS || chain.writable !== 0) this.balloon.badBuffers++;
    const bytes = this.gather(chain, 0, 4 * VIRTIO_BALLOON_MAX_PFNS);
    const n = bytes.length >>> 2, v = new DataView(bytes.buffer, bytes.byteOffset, 4 * n), out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = v.getUint32(4 * i, true);
    return out;
  }

  private inRam(pfn: number): boolean { return (pfn + 1) * VIRTIO_BALLOON_PAGE_SIZE <= this.dma.size; }

  private inflate(pfns: Uint32Array): void {
    const d = this.vio.device;
    const fresh = new Set<number>();
    for (const pfn of pfns) {
      if (!this.inRam(pfn)) { this.balloon.badPfns++; continue; }
      if (fresh.has(pfn) || this.isInflated(pfn)) { this.balloon.duplicates++; continue; }
      fresh.add(pfn);
    }
    if (fresh.size === 0) return;
    const add = [...fresh].sort((a, b) => a - b);
    const old = d.inflated;
    if (old.length === 0 || add[0]! > old[old.length - 1]!) old.push(...add);
    else {
      // Merge the two increasing lists.
      const merged = new Array<number>(old.length + add.length);
      let i = 0, j = 0, k = 0;
      while (i < old.length || j < add.length) merged[k++] = j >= add.length || (i < old.length && old[i]! < add[j]!) ? old[i++]! : add[j++]!;
      d.inflated = merged;
    }
    this.balloon.inflated += add.length;
    for (const pfn of add) this.onRelease(pfn);
  }

  private deflate(pfns: Uint32Array): void {
    const d = this.vio.device;
    const gone = new Set<number>();
    for (const pfn of pfns) {
      if (!this.inRam(pfn)) { this.balloon.badPfns++; continue; }
      if (gone.has(pfn) || !this.isInflated(pfn)) { this.balloon.notInflated++; continue; }
      gone.add(pfn);
    }
    if (gone.size === 0) return;
    d.inflated = d.inflated.filter((pfn) => !gone.has(pfn));
    this.balloon.deflated += gone.size;
    for (const pfn of gone) this.onReclaim(pfn);
  }

  /**
   * A stats buffer from the driver: read its entries, keep the buffer until the host asks
   * (requestStats). A second buffer while one is held breaks §5.5.6.3; the older goes back unread.
   */
  private takeStats(): void {
    const q = VIRTIO_BALLOON_STATSQ;
    for (let chain = this.pop(q); chain !== null; chain = this.pop(q)) {
      const d = this.vio.device;
      if (d.statsHead >= 0) {
        this.used(q, { head: d.statsHead, segments: [], readable: 0, writable: 0 }, 0);
        this.notifyUsed(q);
      }
      d.statsHead = chain.head;
      if (chain.readable % STAT_BYTES !== 0 || chain.readable > STAT_BYTES * STATS_MAX_ENTRIES) this.balloon.badBuffers++;
      const bytes = this.gather(chain, 0, STAT_BYTES * STATS_MAX_ENTRIES);
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      const stats = { ...d.stats };
      for (let at = 0; at + STAT_BYTES <= bytes.length; at += STAT_BYTES) {
        const name = VIRTIO_BALLOON_STAT_NAMES[v.getUint16(at, true)];
        if (name !== undefined) stats[name] = Number(v.getBigUint64(at + 2, true)); // exact to 2^53
      }
      d.stats = stats;
      this.balloon.statsUpdates++;
      this.onStats(stats);
    }
  }
}
