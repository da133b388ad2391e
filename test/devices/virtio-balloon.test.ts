// virtio-balloon (src/devices/virtio/virtio-balloon.ts, virtio 1.1 §5.5) driven by the spec-following
// test driver: the target through the config space, inflate and deflate, statistics, snapshots,
// and random input that must end in no host exception and nothing written outside guest RAM.
import { describe, expect, it } from 'vitest';
import {
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM, VIRTIO_BALLOON_F_STATS_VQ, VIRTIO_BALLOON_MAX_PFNS, VirtioBalloon, type VirtioBalloonOptions,
} from '../../src/devices/virtio/virtio-balloon';
import {
  COMMON_NUMQ, COMMON_STATUS, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER_OK, type VirtioPci,
} from '../../src/devices/virtio/virtio-pci';
import { DATA, Driver, RAM, Ram, canaryFill, canaryIntact, prng, type Queue } from './virtio-driver';

const PAGES = RAM / 4096;

function setup(opts: Partial<VirtioBalloonOptions> = {}) {
  const ram = new Ram();
  canaryFill(ram);
  const released: number[] = [], reclaimed: number[] = [], statsSeen: Record<string, number>[] = [];
  const dev = new VirtioBalloon({
    dma: ram, onRelease: (p) => released.push(p), onReclaim: (p) => reclaimed.push(p), onStats: (s) => statsSeen.push({ ...s }), ...opts,
  });
  dev.reset();
  const drv = new Driver(dev as VirtioPci<unknown>, ram);
  const cfgWrite = (off: number, size: 1 | 2 | 4, v: number) => dev.mmio.write(drv.caps.get(VIRTIO_PCI_CAP_DEVICE_CFG)!.offset + off, size, v >>> 0);
  return { ram, dev, drv, released, reclaimed, statsSeen, cfgWrite };
}

/** Write le32 PFNs at `at` and post them as one device-readable buffer. */
function postPfns(s: ReturnType<typeof setup>, q: Queue, at: number, pfns: number[]): void {
  pfns.forEach((p, i) => s.drv.dv.setUint32(at + 4 * i, p >>> 0, true));
  q.add([[at, 4 * pfns.length]]);
  q.kick();
}

/** struct virtio_balloon_stat entries (le16 tag, le64 val) at `at`; returns the length. */
function writeStats(s: ReturnType<typeof setup>, at: number, entries: [number, bigint][]): number {
  entries.forEach(([tag, val], i) => { s.drv.dv.setUint16(at + 10 * i, tag, true); s.drv.dv.setBigUint64(at + 10 * i + 2, val, true); });
  return 10 * entries.length;
}

describe('virtio-balloon', () => {
  it('is virtio device 5 (1AF4:1045) with inflateq, deflateq and statsq; offers STATS_VQ, and DEFLATE_ON_OOM when asked', () => {
    const s = setup();
    expect(s.dev.readConfig(0x02, 2)).toBe(0x1045);
    expect(s.drv.r(COMMON_NUMQ, 2)).toBe(3);
    const [lo] = s.drv.deviceFeatures();
    expect((lo >>> VIRTIO_BALLOON_F_STATS_VQ) & 1).toBe(1);
    expect((lo >>> VIRTIO_BALLOON_F_DEFLATE_ON_OOM) & 1).toBe(0);
    const t = setup({ stats: false, deflateOnOom: true });
    expect(t.drv.r(COMMON_NUMQ, 2)).toBe(2);
    const [lo2] = t.drv.deviceFeatures();
    expect((lo2 >>> VIRTIO_BALLOON_F_STATS_VQ) & 1).toBe(0);
    expect((lo2 >>> VIRTIO_BALLOON_F_DEFLATE_ON_OOM) & 1).toBe(1);
    const queues = s.drv.init();
    expect(queues).toHaveLength(3);
    expect(s.drv.status & VIRTIO_STATUS_DRIVER_OK).toBe(VIRTIO_STATUS_DRIVER_OK);
    expect(s.drv.cfg(0, 4)).toBe(0);
    expect(s.drv.cfg(4, 4)).toBe(0);
  });

  it('setTarget sets num_pages and raises a configuration change interrupt (§5.5.6); actual is the driver\'s to write', () => {
    const s = setup();
    s.drv.init();
    expect(s.dev.intxAsserted).toBe(false);
    const gen = s.drv.r(0x15, 1);
    s.dev.setTarget(100);
    expect(s.dev.intxAsserted).toBe(true);
    expect(s.drv.isr()).toBe(2);
    expect(s.drv.r(0x15, 1)).toBe((gen + 1) & 0xff);
    expect(s.drv.cfg(0, 4)).toBe(100);
    expect(s.drv.cfg(1, 1)).toBe(0);
    expect(s.dev.target).toBe(100);
    s.dev.setTarget(100); // no change: no interrupt
    expect(s.dev.intxAsserted).toBe(false);
    s.cfgWrite(4, 4, 42);
    expect(s.dev.actual).toBe(42);
    expect(s.drv.cfg(4, 4)).toBe(42);
    s.cfgWrite(5, 1, 1); // a byte of actual
    expect(s.dev.actual).toBe(42 + 256);
    const errors = s.dev.counters.guestErrors;
    s.cfgWrite(0, 4, 7); // num_pages is read-only for the driver
    expect(s.dev.target).toBe(100);
    expect(s.dev.counters.guestErrors).toBe(errors + 1);
    expect(() => s.dev.setTarget(-1)).toThrow(RangeError);
    expect(() => s.dev.setTarget(2 ** 32)).toThrow(RangeError);
  });

  it('inflate records the pages once, in order, and calls onRelease; deflate gives them back through onReclaim', () => {
    const s = setup();
    const [inf, def] = s.drv.init();
    s.dev.setTarget(5);
    postPfns(s, inf!, DATA, [30, 10, 20, 10]); // 10 twice
    expect(inf!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(s.dev.inflatedPages()).toEqual([10, 20, 30]);
    expect(s.released).toEqual([10, 20, 30]);
    postPfns(s, inf!, DATA + 0x100, [15, 20, 40]); // 20 already in
    expect(s.dev.inflatedPages()).toEqual([10, 15, 20, 30, 40]);
    expect(s.released).toEqual([10, 20, 30, 15, 40]);
    expect(s.dev.balloon).toMatchObject({ inflated: 5, duplicates: 2, badPfns: 0 });
    expect(s.dev.isInflated(15)).toBe(true);
    expect(s.dev.isInflated(16)).toBe(false);
    s.cfgWrite(4, 4, 5);
    expect(s.dev.actual).toBe(5);

    postPfns(s, def!, DATA + 0x200, [20, 10, 99]); // 99 is not in the balloon
    expect(def!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(s.dev.inflatedPages()).toEqual([15, 30, 40]);
    expect(s.reclaimed.sort((a, b) => a - b)).toEqual([10, 20]);
    expect(s.dev.balloon).toMatchObject({ deflated: 2, notInflated: 1 });
    expect(s.dev.intxAsserted).toBe(true); // used-buffer notifications
    expect(s.ram.outOfRange).toBe(0);
    expect(canaryIntact(s.ram)).toBe(true);
  });

  it('PFNs outside RAM are counted and ignored; lengths not a multiple of 4 and oversized buffers are bad buffers', () => {
    const s = setup();
    const [inf, def] = s.drv.init();
    postPfns(s, inf!, DATA, [PAGES - 1, PAGES, 0xffffffff, 0x100000]);
    expect(s.dev.inflatedPages()).toEqual([PAGES - 1]);
    expect(s.dev.balloon.badPfns).toBe(3);
    s.drv.dv.setUint32(DATA + 0x100, 7, true);
    inf!.add([[DATA + 0x100, 6]]); // one whole PFN and two stray bytes
    inf!.kick();
    expect(s.dev.inflatedPages()).toEqual([7, PAGES - 1]);
    expect(s.dev.balloon.badBuffers).toBe(1);
    // More PFNs than the device takes from one buffer: the first MAX taken, the buffer counted.
    const big = Array.from({ length: VIRTIO_BALLOON_MAX_PFNS + 10 }, (_, i) => i % PAGES);
    postPfns(s, inf!, DATA + 0x1000, big);
    expect(s.dev.balloon.badBuffers).toBe(2);
    expect(s.dev.inflatedCount).toBe(PAGES); // every page of RAM, each once
    postPfns(s, def!, DATA, [PAGES, 0xffffffff]);
    expect(s.dev.balloon.badPfns).toBe(5);
    expect(inf!.takeUsed()).toHaveLength(3);
    expect(s.ram.outOfRange).toBe(0);
    expect(canaryIntact(s.ram)).toBe(true);
  });

  it('statistics: the driver posts a buffer, the device keeps it; requestStats returns it and the refilled one updates the values (§5.5.6.3)', () => {
    const s = setup();
    const [, , stq] = s.drv.init();
    expect(s.dev.requestStats()).toBe(false); // nothing held yet
    const len = writeStats(s, DATA, [[4, 1000n * 4096n], [5, 2000n * 4096n], [0, 3n], [200, 9n]]); // 200: unknown, ignored
    stq!.add([[DATA, len]]);
    stq!.kick();
    expect(stq!.takeUsed()).toEqual([]); // held
    expect(s.dev.stats).toEqual({ free_memory: 1000 * 4096, total_memory: 2000 * 4096, swap_in: 3 });
    expect(s.statsSeen).toHaveLength(1);
    s.drv.isr();
    expect(s.dev.requestStats()).toBe(true);
    expect(stq!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(s.drv.isr() & 1).toBe(1);
    expect(s.dev.requestStats()).toBe(false); // the driver has it now
    const len2 = writeStats(s, DATA, [[4, 500n * 4096n], [6, 2n ** 40n], [7, 12345n]]);
    stq!.add([[DATA, len2]]);
    stq!.kick();
    expect(s.dev.stats).toMatchObject({ free_memory: 500 * 4096, available_memory: 2 ** 40, disk_caches: 12345, total_memory: 2000 * 4096 });
    expect(s.dev.balloon.statsUpdates).toBe(2);
    // A length not a multiple of 10 is a bad buffer; whole entries still count.
    stq!.add([[DATA, len2 + 3]]);
    stq!.kick();
    expect(s.dev.balloon.badBuffers).toBe(1);
    expect(stq!.takeUsed()).toEqual([{ id: 1, len: 0 }]); // the older buffer went back unread
    expect(s.ram.outOfRange).toBe(0);
  });

  it('a stats buffer posted before DRIVER_OK (as Linux does in probe) is taken when the driver is ready', () => {
    const s = setup();
    expect(s.drv.negotiate((lo, hi) => [lo, hi & 1])).toBe(true);
    const qs = [0, 1, 2].map((i) => s.drv.setupQueue(i));
    qs[2]!.add([[DATA, writeStats(s, DATA, [[4, 42n * 4096n]])]]);
    qs[2]!.kick();
    expect(s.dev.stats).toEqual({}); // not yet: the device may not use queues before DRIVER_OK (§2.1.2)
    s.drv.w(COMMON_STATUS, 1, s.drv.status | VIRTIO_STATUS_DRIVER_OK);
    expect(s.dev.stats).toEqual({ free_memory: 42 * 4096 });
    expect(s.dev.requestStats()).toBe(true);
    expect(qs[2]!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
  });

  it('without STATS_VQ negotiated, statsq is ignored', () => {
    const s = setup();
    const [, , stq] = s.drv.init((lo) => lo & ~(1 << VIRTIO_BALLOON_F_STATS_VQ));
    stq!.add([[DATA, writeStats(s, DATA, [[4, 1n]])]]);
    stq!.kick();
    expect(s.dev.stats).toEqual({});
    expect(s.dev.requestStats()).toBe(false);
  });

  it('the state (pages, target, actual, statistics, the held buffer) saves and loads', () => {
    const s = setup();
    const [inf, , stq] = s.drv.init();
    s.dev.setTarget(3);
    postPfns(s, inf!, DATA, [9, 3, 5]);
    s.cfgWrite(4, 4, 3);
    stq!.add([[DATA + 0x100, writeStats(s, DATA + 0x100, [[4, 77n]])]]);
    stq!.kick();
    const saved = structuredClone(s.dev.transport.state);
    expect(saved.device).toEqual({ target: 3, actual: 3, inflated: [3, 5, 9], stats: { free_memory: 77 }, statsHead: 0 });
    const t = setup();
    // Load into the second machine's RAM as well, so the rings are there.
    t.ram.bytes.set(s.ram.bytes);
    t.dev.transport.loadState(structuredClone(saved));
    expect(t.dev.target).toBe(3);
    expect(t.dev.actual).toBe(3);
    expect(t.dev.inflatedPages()).toEqual([3, 5, 9]);
    expect(t.dev.stats).toEqual({ free_memory: 77 });
    expect(t.dev.requestStats()).toBe(true);
    expect(t.ram.bytes[stq!.used + 2]).toBe(1); // used idx moved in the loaded machine's RAM
    expect(t.released).toEqual([]); // a load is not a release: the Machine restores RAM itself
  });

  it('a driver reset gives every page back (onReclaim) and keeps the target', () => {
    const s = setup();
    const [inf] = s.drv.init();
    s.dev.setTarget(2);
    postPfns(s, inf!, DATA, [4, 8]);
    s.cfgWrite(4, 4, 2);
    s.drv.w(COMMON_STATUS, 1, 0);
    expect(s.reclaimed).toEqual([4, 8]);
    expect(s.dev.inflatedPages()).toEqual([]);
    expect(s.dev.actual).toBe(0);
    expect(s.dev.target).toBe(2);
    s.drv.init();
    expect(s.drv.cfg(0, 4)).toBe(2);
  });

  it.each([1, 2, 3])('fuzz, seed %i: random descriptors, PFNs, stats and config writes; no exception, nothing outside RAM', (seed) => {
    const s = setup();
    const rand = prng(seed);
    const pick = (n: number) => Math.floor(rand() * n);
    const features = (lo: number) => lo & ~(rand() < 0.3 ? 1 << VIRTIO_BALLOON_F_STATS_VQ : 0) |
      (rand() < 0.5 ? 1 << VIRTIO_F_INDIRECT_DESC : 0) | (rand() < 0.5 ? 1 << VIRTIO_F_EVENT_IDX : 0);
    let queues = s.drv.init(features);
    const addr = () => {
      const r = rand();
      if (r < 0.7) return DATA + pick(0x80000);
      if (r < 0.8) return RAM - pick(0x100);
      if (r < 0.9) return RAM + pick(0x10000);
      return Math.floor(rand() * 2 ** 32);
    };
    for (let round = 0; round < 3000; round++) {
      const q = queues[pick(queues.length)]!;
      const r0 = rand();
      if (r0 < 0.4) {
        // Well-formed buffers of PFNs (some outside RAM) or stats, of any length.
        const at = DATA + pick(0x7f000);
        const n = pick(40);
        for (let i = 0; i < n; i++) s.drv.dv.setUint32(at + 4 * i, rand() < 0.8 ? pick(PAGES) : Math.floor(rand() * 2 ** 32), true);
        q.add([[at, rand() < 0.8 ? 4 * n : pick(200)]]);
      } else if (r0 < 0.8) {
        for (let i = 0, n = 1 + pick(6); i < n; i++) {
          const table = rand() < 0.2 ? DATA + 0x80000 + pick(0x10) * 0x100 : q.desc;
          const entries = table === q.desc ? q.size : 16;
          q.writeDesc(pick(entries + 2), addr(), rand() < 0.8 ? pick(0x2000) : Math.floor(rand() * 2 ** 32), pick(8), pick(entries + 2), table);
        }
        if (rand() < 0.8) q.publish(rand() < 0.95 ? pick(q.size) : pick(0x10000));
        else s.drv.dv.setUint16(q.avail + 2, pick(0x10000), true);
      }
      if (rand() < 0.8) s.drv.notify(rand() < 0.95 ? q.index : pick(8));
      if (rand() < 0.1) s.dev.setTarget(pick(PAGES * 2));
      if (rand() < 0.1) s.dev.requestStats();
      if (rand() < 0.05) s.cfgWrite(pick(8), ([1, 2, 4] as const)[pick(3)]!, Math.floor(rand() * 2 ** 32));
      if (rand() < 0.1) s.drv.isr();
      if (rand() < 0.03) {
        const size = ([1, 2, 4] as const)[pick(3)]!;
        const at = rand() < 0.5 ? pick(0x40) : pick(0x4000);
        const v = Math.floor(rand() * 2 ** 32) >>> (32 - 8 * size);
        if (rand() < 0.5) s.dev.mmio.write(at, size, v); else s.dev.mmio.read(at, size);
      }
      if (rand() < 0.01) s.dev.transport.loadState(structuredClone(s.dev.transport.state));
      q.takeUsed();
      if ((s.drv.status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_DRIVER_OK)) !== VIRTIO_STATUS_DRIVER_OK || rand() < 0.01) {
        s.dev.writeConfig(0x04, 2, 0x0006);
        queues = s.drv.init(features);
      }
      const pages = s.dev.inflatedPages();
      for (let i = 1; i < pages.length; i++) if (!(pages[i - 1]! < pages[i]!)) throw new Error('inflated pages out of order');
      if (pages.length > 0 && (pages[0]! < 0 || pages.at(-1)! >= PAGES)) throw new Error('a page outside RAM recorded');
    }
    expect(s.ram.outOfRange).toBe(0);
    expect(canaryIntact(s.ram)).toBe(true);
    expect(s.released.every((p) => p >= 0 && p < PAGES)).toBe(true);
    // Every release and reclaim accounted for: what is in the balloon was released once more than reclaimed.
    const count = new Map<number, number>();
    for (const p of s.released) count.set(p, (count.get(p) ?? 0) + 1);
    for (const p of s.reclaimed) count.set(p, (count.get(p) ?? 0) - 1);
    expect([...count].filter(([, c]) => c !== 0).map(([p]) => p).sort((a, b) => a - b)).toEqual(s.dev.inflatedPages());
    expect(s.dev.counters.chains).toBeGreaterThan(100);
    expect(s.dev.balloon.inflated).toBeGreaterThan(0);
    expect(s.dev.counters.needsReset).toBeGreaterThan(0);
  });
});
