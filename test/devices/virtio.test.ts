// The virtio devices (src/devices/virtio/) driven by a small driver written here the way the
// specification tells a driver to go (virtio 1.1 §3.1.1 over the PCI transport of §4.1: find the
// vendor capabilities, reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK),
// then with malformed and random input: each case ends as the specification says (the
// section is cited), never in a host exception, and nothing is written outside guest RAM.
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/storage/block';
import {
  VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VirtioBlk,
} from '../../src/devices/virtio/virtio-blk';
import { VirtioConsole } from '../../src/devices/virtio/virtio-console';
import { VirtioNet } from '../../src/devices/virtio/virtio-net';
import {
  COMMON_NUMQ,
  COMMON_Q_DESCLO, COMMON_Q_ENABLE, COMMON_Q_SELECT, COMMON_STATUS,
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_DEVICE_CFG,
  VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK, type VirtioPci,
} from '../../src/devices/virtio/virtio-pci';
import { VirtioRng } from '../../src/devices/virtio/virtio-rng';

import {
  Driver, Ram, Queue, RAM, DATA, NEXT, WRITE, INDIRECT, canaryFill, canaryIntact, prng, type Buf,
} from './virtio-driver';

function blkSetup(opts: { readOnly?: boolean; image?: Uint8Array } = {}) {
  const ram = new Ram();
  canaryFill(ram);
  const image = opts.image ?? Uint8Array.from({ length: 1 << 16 }, (_, i) => (i * 7 + (i >> 9)) & 0xff);
  const disk = new MemoryBackend(image, opts.readOnly ?? false);
  const queue: (() => void)[] = [];
  const maps: (number | null)[] = [];
  const dev = new VirtioBlk({ dma: ram, disk, serial: 'disk-0001', complete: (done) => { void done.then((d) => queue.push(d)); }, onMap: (b) => maps.push(b) });
  dev.reset();
  const settle = async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise((res) => setImmediate(res));
      while (queue.length > 0) queue.shift()!();
    }
  };
  const drv = new Driver(dev as VirtioPci<unknown>, ram);
  return { ram, image, disk, dev, drv, settle, maps, pending: queue };
}

/** A block request's header at `at`: type, reserved, sector. */
function header(ram: Ram, at: number, type: number, sector: number): void {
  const v = new DataView(ram.bytes.buffer);
  v.setUint32(at, type, true); v.setUint32(at + 4, 0, true);
  v.setUint32(at + 8, sector, true); v.setUint32(at + 12, 0, true);
}

describe('virtio PCI transport', () => {
  it('is a modern virtio device: 1AF4:1042 revision 1, four vendor capabilities in BAR4, the BAR mapped where the guest puts it', () => {
    const { dev, drv, maps } = blkSetup();
    expect(dev.readConfig(0x00, 2)).toBe(0x1af4);
    expect(dev.readConfig(0x02, 2)).toBe(0x1042);
    expect(dev.readConfig(0x08, 1)).toBe(1);
    expect(dev.readConfig(0x3d, 1)).toBe(1); // INTA#
    for (const t of [VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_DEVICE_CFG]) {
      expect(drv.caps.get(t)?.bar).toBe(4);
    }
    expect(drv.caps.get(VIRTIO_PCI_CAP_NOTIFY_CFG)!.multiplier).toBe(4);
    expect(drv.caps.get(5)).toBeDefined(); // VIRTIO_PCI_CAP_PCI_CFG
    dev.writeConfig(0x20, 4, 0xffffffff);
    const size = (~(dev.readConfig(0x20, 4) & 0xfffffff0) + 1) >>> 0;
    expect(size).toBe(0x4000);
    dev.writeConfig(0x20, 4, 0xfebf0000);
    expect(maps.at(-1)).toBe(0xfebf0000);
  });

  it('the configuration-space window (VIRTIO_PCI_CAP_PCI_CFG, §4.1.4.7) reads and writes the BAR', () => {
    const { dev, drv } = blkSetup();
    let at = dev.readConfig(0x34, 1);
    while (at !== 0 && dev.readConfig(at + 3, 1) !== 5) at = dev.readConfig(at + 1, 1);
    expect(at).not.toBe(0);
    dev.writeConfig(at + 4, 1, 4); // BAR4
    dev.writeConfig(at + 8, 4, drv.caps.get(VIRTIO_PCI_CAP_COMMON_CFG)!.offset + COMMON_STATUS);
    dev.writeConfig(at + 12, 4, 1);
    dev.writeConfig(at + 16, 4, VIRTIO_STATUS_ACKNOWLEDGE);
    expect(drv.status).toBe(VIRTIO_STATUS_ACKNOWLEDGE);
    expect(dev.readConfig(at + 16, 1)).toBe(VIRTIO_STATUS_ACKNOWLEDGE);
    dev.writeConfig(at + 8, 4, drv.caps.get(VIRTIO_PCI_CAP_COMMON_CFG)!.offset + COMMON_NUMQ);
    dev.writeConfig(at + 12, 4, 2);
    expect(dev.readConfig(at + 16, 4) & 0xffff).toBe(1);
  });

  it('offers VERSION_1, INDIRECT_DESC and EVENT_IDX; FEATURES_OK stays set for a subset with VERSION_1', () => {
    const { drv } = blkSetup();
    const [lo, hi] = drv.deviceFeatures();
    expect(hi & 1).toBe(1);
    expect((lo >>> VIRTIO_F_INDIRECT_DESC) & 1).toBe(1);
    expect((lo >>> VIRTIO_F_EVENT_IDX) & 1).toBe(1);
    expect(drv.negotiate(() => [0, 1])).toBe(true);
  });

  it('features without VIRTIO_F_VERSION_1, or not offered, leave FEATURES_OK clear (§2.2.2, §6.2: a modern device needs VERSION_1)', () => {
    const { drv, dev } = blkSetup();
    expect(drv.negotiate((lo) => [lo, 0])).toBe(false);
    expect(drv.negotiate((lo, hi) => [lo | (1 << 20), hi])).toBe(false); // bit 20 is not offered
    expect(drv.negotiate(() => [0, 1 | 2])).toBe(false); // bit 33 is not offered
    // DRIVER_OK without FEATURES_OK does not start the device: a notify does nothing.
    drv.w(COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
    expect(drv.status & VIRTIO_STATUS_DRIVER_OK).toBe(0);
    drv.notify(0);
    expect(dev.counters.chains).toBe(0);
  });

  it('a queue size that is not a power of two, or above the maximum, or rings outside RAM: DEVICE_NEEDS_RESET, the queue stays disabled (§2.6, §2.1.2)', () => {
    for (const bad of [100, 512, 0]) {
      const { drv, dev } = blkSetup();
      expect(drv.negotiate((lo, hi) => [0, hi & 1])).toBe(true);
      drv.setupQueue(0, bad);
      expect(drv.r(COMMON_Q_ENABLE, 2)).toBe(0);
      expect(drv.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(VIRTIO_STATUS_DEVICE_NEEDS_RESET);
      expect(dev.counters.lastError).toMatch(/queue size/);
    }
    const { drv } = blkSetup();
    expect(drv.negotiate((lo, hi) => [0, hi & 1])).toBe(true);
    drv.w(COMMON_Q_SELECT, 2, 0);
    drv.w(COMMON_Q_DESCLO, 4, RAM - 16); // 256 descriptors do not fit
    drv.w(COMMON_Q_ENABLE, 2, 1);
    expect(drv.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    // A reset (status 0) clears it (§2.1.1).
    drv.w(COMMON_STATUS, 1, 0);
    expect(drv.status).toBe(0);
  });
});

describe('virtio-blk', () => {
  it('reports capacity, blk_size and seg_max; FLUSH offered, RO not for a writable disk', () => {
    const { drv } = blkSetup();
    expect(drv.cfg(0, 4)).toBe((1 << 16) / 512);
    expect(drv.cfg(4, 4)).toBe(0);
    expect(drv.cfg(12, 4)).toBe(254);
    expect(drv.cfg(20, 4)).toBe(512);
    const [lo] = drv.deviceFeatures();
    expect((lo >>> VIRTIO_BLK_F_FLUSH) & 1).toBe(1);
    expect((lo >>> VIRTIO_BLK_F_RO) & 1).toBe(0);
  });

  it('writes over two data buffers, reads back over three, flushes, and answers GET_ID; INTx through the ISR, read-to-clear', async () => {
    const s = blkSetup();
    const [q] = s.drv.init();
    const { ram } = s;
    ram.bytes.fill(0xa5, DATA + 0x1000, DATA + 0x1400);
    ram.bytes.fill(0x5a, DATA + 0x2000, DATA + 0x2200);
    header(ram, DATA, VIRTIO_BLK_T_OUT, 10);
    ram.bytes[DATA + 0x100] = 0xee;
    q!.add([[DATA, 16], [DATA + 0x1000, 0x400], [DATA + 0x2000, 0x200], [DATA + 0x100, 1, true]]);
    q!.kick();
    expect(s.dev.intxAsserted).toBe(false); // the backend answers later
    expect(s.dev.inFlight).toBe(1);
    await s.settle();
    expect(s.dev.inFlight).toBe(0);
    expect(q!.takeUsed()).toEqual([{ id: 0, len: 1 }]);
    expect(ram.bytes[DATA + 0x100]).toBe(VIRTIO_BLK_S_OK);
    expect(s.image.subarray(10 * 512, 12 * 512).every((b) => b === 0xa5)).toBe(true);
    expect(s.image.subarray(12 * 512, 13 * 512).every((b) => b === 0x5a)).toBe(true);
    expect(s.dev.intxAsserted).toBe(true);
    expect(s.drv.isr()).toBe(1);
    expect(s.dev.intxAsserted).toBe(false);
    expect(s.drv.isr()).toBe(0);

    header(ram, DATA + 0x200, VIRTIO_BLK_T_IN, 9);
    q!.add([[DATA + 0x200, 16], [DATA + 0x3000, 512, true], [DATA + 0x4000, 1000, true], [DATA + 0x5000, 24 + 1, true]]);
    q!.kick();
    await s.settle();
    expect(q!.takeUsed()).toEqual([{ id: 4, len: 1537 }]);
    expect(ram.bytes[DATA + 0x5000 + 24]).toBe(VIRTIO_BLK_S_OK);
    expect(ram.bytes.subarray(DATA + 0x3000, DATA + 0x3200)).toEqual(s.image.subarray(9 * 512, 10 * 512));
    const rest = new Uint8Array([...ram.bytes.subarray(DATA + 0x4000, DATA + 0x4000 + 1000), ...ram.bytes.subarray(DATA + 0x5000, DATA + 0x5000 + 24)]);
    expect(rest).toEqual(s.image.subarray(10 * 512, 12 * 512));

    header(ram, DATA + 0x300, VIRTIO_BLK_T_FLUSH, 0);
    q!.add([[DATA + 0x300, 16], [DATA + 0x310, 1, true]]);
    header(ram, DATA + 0x400, VIRTIO_BLK_T_GET_ID, 0);
    q!.add([[DATA + 0x400, 16], [DATA + 0x500, 20, true], [DATA + 0x520, 1, true]]);
    q!.kick();
    await s.settle();
    expect(q!.takeUsed().map((u) => u.id).sort((a, b) => a - b)).toEqual([8, 10]);
    expect(ram.bytes[DATA + 0x310]).toBe(VIRTIO_BLK_S_OK);
    expect(ram.bytes[DATA + 0x520]).toBe(VIRTIO_BLK_S_OK);
    expect(new TextDecoder().decode(ram.bytes.subarray(DATA + 0x500, DATA + 0x509))).toBe('disk-0001');
    expect(ram.bytes[DATA + 0x509]).toBe(0);
    expect(s.dev.blk).toMatchObject({ requests: 4, reads: 1, writes: 1, flushes: 1, bytesRead: 1536, bytesWritten: 1536 });
    expect(s.dev.counters.notifications).toBe(3);
    expect(ram.outOfRange).toBe(0);
    expect(canaryIntact(ram)).toBe(true);
  });

  it('IOERR past the capacity or for a length that is not whole sectors; UNSUPP for an unknown type (§5.2.6)', async () => {
    const s = blkSetup();
    const [q] = s.drv.init();
    header(s.ram, DATA, VIRTIO_BLK_T_IN, 127);
    q!.add([[DATA, 16], [DATA + 0x1000, 1024, true], [DATA + 0x20, 1, true]]); // sectors 127-128 of 128
    header(s.ram, DATA + 0x40, VIRTIO_BLK_T_IN, 0);
    q!.add([[DATA + 0x40, 16], [DATA + 0x1000, 100, true], [DATA + 0x60, 1, true]]);
    header(s.ram, DATA + 0x80, 0x55, 0);
    q!.add([[DATA + 0x80, 16], [DATA + 0xa0, 1, true]]);
    q!.kick();
    await s.settle();
    expect(s.ram.bytes[DATA + 0x20]).toBe(VIRTIO_BLK_S_IOERR);
    expect(s.ram.bytes[DATA + 0x60]).toBe(VIRTIO_BLK_S_IOERR);
    expect(s.ram.bytes[DATA + 0xa0]).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(q!.takeUsed()).toHaveLength(3);
    expect(s.drv.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(0);
  });

  it('a read-only backend: VIRTIO_BLK_F_RO offered, writes fail with IOERR and change nothing (§5.2.6.2)', async () => {
    const image = new Uint8Array(1 << 14).fill(0x11);
    const s = blkSetup({ readOnly: true, image });
    expect((s.drv.deviceFeatures()[0] >>> VIRTIO_BLK_F_RO) & 1).toBe(1);
    const [q] = s.drv.init();
    header(s.ram, DATA, VIRTIO_BLK_T_OUT, 0);
    q!.add([[DATA, 16], [DATA + 0x1000, 512], [DATA + 0x20, 1, true]]);
    q!.kick();
    await s.settle();
    expect(s.ram.bytes[DATA + 0x20]).toBe(VIRTIO_BLK_S_IOERR);
    expect(image.every((b) => b === 0x11)).toBe(true);
  });

  it('indirect descriptors (§2.6.5.3): a read through one indirect table', async () => {
    const s = blkSetup();
    const [q] = s.drv.init((lo) => lo | (1 << VIRTIO_F_INDIRECT_DESC));
    header(s.ram, DATA, VIRTIO_BLK_T_IN, 3);
    const head = q!.add([[DATA, 16], [DATA + 0x1000, 512, true], [DATA + 0x20, 1, true]], DATA + 0x8000);
    q!.kick();
    await s.settle();
    expect(q!.takeUsed()).toEqual([{ id: head, len: 513 }]);
    expect(s.ram.bytes[DATA + 0x20]).toBe(VIRTIO_BLK_S_OK);
    expect(s.ram.bytes.subarray(DATA + 0x1000, DATA + 0x1200)).toEqual(s.image.subarray(3 * 512, 4 * 512));
  });

  it('an indirect descriptor without the feature negotiated: DEVICE_NEEDS_RESET (§2.6.5.3.1)', () => {
    const s = blkSetup();
    const [q] = s.drv.init(() => 0);
    q!.add([[DATA, 16], [DATA + 0x20, 1, true]], DATA + 0x8000);
    q!.kick();
    expect(s.drv.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(VIRTIO_STATUS_DEVICE_NEEDS_RESET);
  });

  it('with EVENT_IDX, avail_event asks for the next notification as soon as a request is taken, before the backend answers (§2.6.10)', async () => {
    const s = blkSetup();
    const [q] = s.drv.init();
    header(s.ram, DATA, VIRTIO_BLK_T_IN, 0);
    q!.add([[DATA, 16], [DATA + 0x1000, 512, true], [DATA + 0x20, 1, true]]);
    q!.kick();
    expect(q!.availEvent).toBe(1);
    await s.settle();
    expect(q!.takeUsed()).toHaveLength(1);
  });

  it('a reset while a request is with the backend drops its completion; the queue starts afresh', async () => {
    const s = blkSetup();
    let [q] = s.drv.init();
    header(s.ram, DATA, VIRTIO_BLK_T_IN, 0);
    q!.add([[DATA, 16], [DATA + 0x1000, 512, true], [DATA + 0x20, 1, true]]);
    q!.kick();
    s.ram.bytes[DATA + 0x20] = 0xcc;
    s.drv.w(COMMON_STATUS, 1, 0);
    await s.settle();
    expect(s.ram.bytes[DATA + 0x20]).toBe(0xcc);
    expect(s.dev.intxAsserted).toBe(false);
    [q] = s.drv.init();
    q!.add([[DATA, 16], [DATA + 0x1000, 512, true], [DATA + 0x20, 1, true]]);
    q!.kick();
    await s.settle();
    expect(q!.takeUsed()).toEqual([{ id: 0, len: 513 }]);
  });

  it('saves and restores its state: a restored device continues the queue', async () => {
    const s = blkSetup();
    const [q] = s.drv.init();
    header(s.ram, DATA, VIRTIO_BLK_T_FLUSH, 0);
    q!.add([[DATA, 16], [DATA + 0x20, 1, true]]);
    q!.kick();
    await s.settle();
    q!.takeUsed();
    const saved = structuredClone({ config: s.dev.state, vio: s.dev.transport.state });
    const t = blkSetup({ image: s.image });
    t.dev.loadState(saved.config);
    t.dev.transport.loadState(saved.vio);
    expect(t.dev.transport.stateVersion).toBe(1);
    // The driver's view of the queue, in the old RAM, moves to the new device's RAM.
    t.ram.bytes.set(s.ram.bytes);
    const d2 = t.drv;
    const q2 = new Queue(d2, 0, q!.size, q!.desc);
    q2.nextFree = q!.nextFree; q2.availIdx = q!.availIdx; q2.lastUsed = q!.lastUsed;
    q2.add([[DATA, 16], [DATA + 0x20, 1, true]]);
    q2.kick();
    await t.settle();
    expect(q2.takeUsed()).toEqual([{ id: 2, len: 1 }]);
  });
});

describe('virtio-rng', () => {
  function rngSetup() {
    const ram = new Ram();
    canaryFill(ram);
    let n = 0;
    const dev = new VirtioRng({ dma: ram, random: (b) => { for (let i = 0; i < b.length; i++) b[i] = (n++ * 13 + 1) & 0xff; } });
    dev.reset();
    return { ram, dev, drv: new Driver(dev as VirtioPci<unknown>, ram) };
  }

  it('fills device-writable buffers and returns them with their lengths', () => {
    const s = rngSetup();
    const [q] = s.drv.init();
    s.ram.bytes.fill(0, DATA, DATA + 0x1000);
    q!.add([[DATA, 64, true]]);
    q!.add([[DATA + 0x100, 16, true], [DATA + 0x200, 16, true]]);
    q!.kick();
    expect(q!.takeUsed()).toEqual([{ id: 0, len: 64 }, { id: 1, len: 32 }]);
    expect(s.ram.bytes[DATA + 5]).toBe((5 * 13 + 1) & 0xff);
    expect(s.ram.bytes[DATA + 0x200]).toBe(((64 + 16) * 13 + 1) & 0xff);
    expect(s.dev.rng).toEqual({ requests: 2, bytes: 96 });
    expect(s.drv.isr()).toBe(1);
  });

  it('with EVENT_IDX the device interrupts only when used_event is passed, and asks for the next notification in avail_event (§2.6.7)', () => {
    const s = rngSetup();
    const [q] = s.drv.init((lo) => lo | (1 << VIRTIO_F_EVENT_IDX));
    q!.usedEvent = 2; // interrupt when the entry at used index 2 is used, i.e. after the third
    q!.add([[DATA, 8, true]]); q!.kick();
    expect(q!.availEvent).toBe(1);
    q!.add([[DATA, 8, true]]); q!.kick();
    expect(s.dev.intxAsserted).toBe(false);
    q!.add([[DATA, 8, true]]); q!.kick();
    expect(s.dev.intxAsserted).toBe(true);
    expect(s.drv.isr()).toBe(1);
    q!.add([[DATA, 8, true]]); q!.kick();
    expect(s.dev.intxAsserted).toBe(false);
    expect(q!.takeUsed()).toHaveLength(4);
  });

  it('without EVENT_IDX, VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt (§2.6.7.2)', () => {
    const s = rngSetup();
    const [q] = s.drv.init(() => 0);
    q!.availFlags = 1;
    q!.add([[DATA, 8, true]]); q!.kick();
    expect(s.dev.intxAsserted).toBe(false);
    q!.availFlags = 0;
    q!.add([[DATA, 8, true]]); q!.kick();
    expect(s.dev.intxAsserted).toBe(true);
  });

  describe('malformed chains: DEVICE_NEEDS_RESET, a configuration change interrupt, nothing written (§2.1.2)', () => {
    const cases: [string, (s: ReturnType<typeof rngSetup>, q: Queue) => void, RegExp][] = [
      ['a loop', (_s, q) => { q.writeDesc(0, DATA, 8, WRITE | NEXT, 1); q.writeDesc(1, DATA, 8, WRITE | NEXT, 0); q.publish(0); }, /loop/],
      ['a next index outside the table (§2.6.5)', (_s, q) => { q.writeDesc(0, DATA, 8, WRITE | NEXT, q.size); q.publish(0); }, /next index/],
      ['a head index outside the table', (_s, q) => { q.publish(q.size + 3); }, /head index/],
      ['the available index more than the queue size ahead (§2.6.6)', (s, q) => { s.drv.dv.setUint16(q.avail + 2, q.size + 1, true); }, /ahead/],
      ['a chain past the queue size through an indirect table with a loop', (_s, q) => {
        q.writeDesc(0, DATA, 8, WRITE | NEXT, 1, DATA + 0x8000); q.writeDesc(1, DATA, 8, WRITE | NEXT, 0, DATA + 0x8000);
        q.writeDesc(0, DATA + 0x8000, 32, INDIRECT, 0); q.publish(0);
      }, /loop/],
      ['an indirect table inside an indirect table', (_s, q) => {
        q.writeDesc(0, DATA + 0x9000, 16, INDIRECT, 0, DATA + 0x8000);
        q.writeDesc(0, DATA + 0x8000, 16, INDIRECT, 0); q.publish(0);
      }, /inside an indirect/],
      ['INDIRECT with NEXT (§2.6.5.3.1)', (_s, q) => { q.writeDesc(0, DATA + 0x8000, 16, INDIRECT | NEXT, 1); q.publish(0); }, /NEXT/],
      ['a buffer outside RAM', (_s, q) => { q.writeDesc(0, RAM - 4, 8, WRITE, 0); q.publish(0); }, /outside RAM/],
      ['a buffer above 4 GiB', (s, q) => { q.writeDesc(0, DATA, 8, WRITE, 0); s.drv.dv.setUint32(q.desc + 4, 1, true); q.publish(0); }, /outside RAM/],
      ['a device-readable buffer after a device-writable one (§2.6.4.2)', (_s, q) => {
        q.writeDesc(0, DATA, 8, WRITE | NEXT, 1); q.writeDesc(1, DATA + 8, 8, 0, 0); q.publish(0);
      }, /after a device-writable/],
    ];
    for (const [what, make, message] of cases) {
      it(what, () => {
        const s = rngSetup();
        const [q] = s.drv.init((lo) => lo | (1 << VIRTIO_F_INDIRECT_DESC));
        s.ram.bytes.fill(0x77, DATA, DATA + 16);
        make(s, q!);
        q!.kick();
        expect(s.drv.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        expect(s.dev.counters.lastError).toMatch(message);
        expect(s.drv.isr()).toBe(2);
        expect(s.ram.bytes.subarray(DATA, DATA + 16).every((b) => b === 0x77)).toBe(true);
        expect(q!.takeUsed()).toEqual([]);
        expect(s.ram.outOfRange).toBe(0);
        expect(canaryIntact(s.ram)).toBe(true);
        // The device stays stopped until the driver resets it.
        q!.add([[DATA, 8, true]]); q!.kick();
        expect(s.ram.bytes[DATA]).toBe(0x77);
        const [q2] = s.drv.init();
        q2!.add([[DATA, 8, true]]); q2!.kick();
        expect(q2!.takeUsed()).toEqual([{ id: 0, len: 8 }]);
      });
    }
  });
});

describe('virtio-console', () => {
  function consoleSetup() {
    const ram = new Ram();
    const out: number[] = [];
    const dev = new VirtioConsole({ dma: ram, output: (b) => out.push(...b) });
    dev.reset();
    return { ram, dev, out, drv: new Driver(dev as VirtioPci<unknown>, ram) };
  }

  it('host bytes wait for receive buffers; guest bytes reach the host', () => {
    const s = consoleSetup();
    s.dev.send(new TextEncoder().encode('early '));
    const [rx, tx] = s.drv.init();
    expect(s.dev.pendingBytes).toBe(6);
    s.dev.send(new TextEncoder().encode('hello'));
    rx!.add([[DATA, 4, true]]);
    rx!.add([[DATA + 0x100, 64, true]]);
    rx!.kick();
    expect(rx!.takeUsed()).toEqual([{ id: 0, len: 4 }, { id: 1, len: 7 }]);
    expect(new TextDecoder().decode(s.ram.bytes.subarray(DATA, DATA + 4))).toBe('earl');
    expect(new TextDecoder().decode(s.ram.bytes.subarray(DATA + 0x100, DATA + 0x107))).toBe('y hello');
    expect(s.dev.pendingBytes).toBe(0);
    // A buffer already posted takes the next bytes at once.
    rx!.add([[DATA + 0x200, 64, true]]);
    rx!.kick();
    expect(rx!.takeUsed()).toEqual([]);
    s.dev.send(new Uint8Array([0x41, 0x42]));
    expect(rx!.takeUsed()).toEqual([{ id: 2, len: 2 }]);
    expect(s.drv.isr()).toBe(1);

    s.ram.bytes.set(new TextEncoder().encode('ls -l\n'), DATA + 0x300);
    tx!.add([[DATA + 0x300, 3], [DATA + 0x303, 3]]);
    tx!.kick();
    expect(tx!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(String.fromCharCode(...s.out)).toBe('ls -l\n');
    expect(s.dev.console).toMatchObject({ received: 13, transmitted: 6 });
  });

  it('pending host bytes are part of the state and survive a restore', () => {
    const s = consoleSetup();
    s.dev.send(new Uint8Array([1, 2, 3]));
    const saved = structuredClone(s.dev.transport.state);
    const t = consoleSetup();
    t.dev.transport.loadState(saved);
    expect(t.dev.pendingBytes).toBe(3);
  });
});

describe('virtio-net', () => {
  const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc);
  function netSetup() {
    const ram = new Ram();
    canaryFill(ram);
    const sent: Uint8Array[] = [];
    const dev = new VirtioNet({ dma: ram, mac: MAC, send: (f) => sent.push(f) });
    dev.reset();
    return { ram, dev, sent, drv: new Driver(dev as VirtioPci<unknown>, ram) };
  }
  /** An Ethernet frame carrying IPv4/UDP from 10.0.2.15:1234 to 10.0.2.2:53 with `payload`; the UDP checksum field holds the pseudo-header's sum, as a driver leaves it for CSUM offload. */
  function udpFrame(payload: Uint8Array): { frame: Uint8Array; pseudo: number } {
    const f = new Uint8Array(14 + 20 + 8 + payload.length);
    const v = new DataView(f.buffer);
    v.setUint16(12, 0x0800);
    f[14] = 0x45; v.setUint16(16, 20 + 8 + payload.length); f[22] = 64; f[23] = 17;
    f.set([10, 0, 2, 15], 26); f.set([10, 0, 2, 2], 30);
    v.setUint16(34, 1234); v.setUint16(36, 53); v.setUint16(38, 8 + payload.length);
    f.set(payload, 42);
    const pseudo = (0x0a00 + 0x020f + 0x0a00 + 0x0202 + 17 + 8 + payload.length) % 0xffff;
    v.setUint16(40, pseudo);
    return { frame: f, pseudo };
  }
  /** The one's-complement sum of `b` (RFC 1071). */
  const sum16 = (b: Uint8Array) => { let s = 0; for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0); while (s > 0xffff) s = (s & 0xffff) + (s >>> 16); return s; };

  it('reports its MAC and the link in the device config; the link going down raises a config interrupt (§5.1.4)', () => {
    const s = netSetup();
    s.drv.init();
    expect([0, 1, 2, 3, 4, 5].map((i) => s.drv.cfg(i, 1))).toEqual([...MAC]);
    expect(s.drv.cfg(6, 2)).toBe(1);
    s.drv.isr();
    s.dev.setLink(false);
    expect(s.drv.cfg(6, 2)).toBe(0);
    expect(s.drv.isr() & 2).toBe(2);
  });

  it('transmits frames without their header, finishing a checksum the guest left to it (VIRTIO_NET_F_CSUM, §5.1.6.2)', () => {
    const s = netSetup();
    const [, tx] = s.drv.init();
    const { frame } = udpFrame(new TextEncoder().encode('abcdefg'));
    const hdr = new Uint8Array(12);
    hdr[0] = 1; // NEEDS_CSUM
    new DataView(hdr.buffer).setUint16(6, 34, true); // csum_start: the UDP header
    new DataView(hdr.buffer).setUint16(8, 6, true); // csum_offset: its checksum field
    s.ram.bytes.set(hdr, DATA);
    s.ram.bytes.set(frame, DATA + 0x100);
    tx!.add([[DATA, 12], [DATA + 0x100, frame.length]]);
    tx!.kick();
    expect(tx!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(s.sent).toHaveLength(1);
    const out = s.sent[0]!;
    expect(out.length).toBe(frame.length);
    // The UDP checksum now verifies: pseudo-header + UDP header and data sum to 0xffff.
    const pseudoOnly = (0x0a00 + 0x020f + 0x0a00 + 0x0202 + 17 + out.length - 34);
    let total = sum16(out.subarray(34)) + pseudoOnly;
    while (total > 0xffff) total = (total & 0xffff) + (total >>> 16);
    expect(total).toBe(0xffff);
    expect(s.dev.net).toMatchObject({ sent: 1, checksums: 1 });
  });

  it('receives frames into posted buffers with a 12-byte header; frames wait while there is none', () => {
    const s = netSetup();
    s.dev.receive(udpFrame(new Uint8Array(10)).frame); // before the driver: gone with the driver's reset
    const [rx] = s.drv.init();
    const { frame } = udpFrame(new TextEncoder().encode('hello'));
    s.dev.receive(frame); // no buffer yet: waits
    rx!.add([[DATA, 2048, true]]);
    rx!.add([[DATA + 0x1000, 2048, true]]);
    rx!.kick();
    expect(rx!.takeUsed()).toEqual([{ id: 0, len: 12 + frame.length }]);
    expect(s.ram.bytes[DATA + 10]).toBe(1); // num_buffers
    expect([...s.ram.bytes.subarray(DATA + 12, DATA + 12 + frame.length)]).toEqual([...frame]);
    const second = udpFrame(new Uint8Array(10)).frame;
    s.dev.receive(second); // a buffer is posted: given at once
    expect(rx!.takeUsed()).toEqual([{ id: 1, len: 12 + second.length }]);
    expect(s.drv.isr() & 1).toBe(1);
  });

  it('drops what is not an Ethernet frame, and a checksum offset outside the frame, without touching memory', () => {
    const s = netSetup();
    const [rx, tx] = s.drv.init();
    s.dev.receive(new Uint8Array(10));
    s.dev.receive(new Uint8Array(1600));
    rx!.add([[DATA, 2048, true]]);
    rx!.kick();
    expect(rx!.takeUsed()).toEqual([]);
    const hdr = new Uint8Array(12);
    hdr[0] = 1;
    new DataView(hdr.buffer).setUint16(6, 60, true);
    s.ram.bytes.set(hdr, DATA + 0x800);
    tx!.add([[DATA + 0x800, 12], [DATA + 0x900, 40]]);
    tx!.add([[DATA + 0x800, 12], [DATA + 0x900, 1600]]);
    tx!.kick();
    expect(tx!.takeUsed().length).toBe(2);
    expect(s.sent).toHaveLength(0);
    expect(s.dev.net.badFrames).toBe(4);
    expect(s.ram.outOfRange).toBe(0);
    expect(canaryIntact(s.ram)).toBe(true);
  });
});

describe('fuzz: random descriptors and notifications', () => {
  /** Random descriptors, ring indices and notifications; re-initialise when the device asks for a reset. */
  async function fuzz(dev: VirtioPci<unknown>, ram: Ram, settle: () => Promise<void>, seed: number, rounds: number,
                      valid?: (q: Queue, pick: (n: number) => number) => void) {
    const rand = prng(seed);
    const pick = (n: number) => Math.floor(rand() * n);
    canaryFill(ram);
    const drv = new Driver(dev, ram);
    let queues = drv.init((lo) => lo | (rand() < 0.5 ? 1 << VIRTIO_F_INDIRECT_DESC : 0) | (rand() < 0.5 ? 1 << VIRTIO_F_EVENT_IDX : 0));
    const addr = () => {
      const r = rand();
      if (r < 0.7) return DATA + pick(0x80000);
      if (r < 0.8) return RAM - pick(0x100);
      if (r < 0.9) return RAM + pick(0x10000);
      return Math.floor(rand() * 2 ** 32);
    };
    for (let round = 0; round < rounds; round++) {
      const q = queues[pick(queues.length)]!;
      const n = 1 + pick(8);
      for (let i = 0; i < n; i++) {
        const table = rand() < 0.2 ? DATA + 0x80000 + pick(0x10) * 0x100 : q.desc;
        const entries = table === q.desc ? q.size : 16;
        q.writeDesc(pick(entries + 2), addr(), rand() < 0.8 ? pick(0x2000) : Math.floor(rand() * 2 ** 32), pick(8), pick(entries + 2), table);
      }
      if (valid && rand() < 0.3) valid(q, pick);
      const r = rand();
      if (r < 0.8) for (let i = 0, k = 1 + pick(4); i < k; i++) q.publish(rand() < 0.95 ? pick(q.size) : pick(0x10000));
      else if (r < 0.9) drv.dv.setUint16(q.avail + 2, pick(0x10000), true);
      else q.usedEvent = pick(0x10000);
      if (rand() < 0.8) drv.notify(rand() < 0.95 ? q.index : pick(8));
      if (rand() < 0.1) drv.isr();
      if (rand() < 0.05) {
        // A driver writing garbage: any register of the BAR, any width, any value (status 0 aside, which resets).
        const size = ([1, 2, 4] as const)[pick(3)]!;
        const at = rand() < 0.5 ? pick(0x40) : pick(0x4000);
        const v = Math.floor(rand() * 2 ** 32) >>> (32 - 8 * size);
        if (rand() < 0.5) dev.mmio.write(at, size, v); else dev.mmio.read(at, size);
      }
      if (rand() < 0.02) dev.writeConfig(pick(0x100), ([1, 2, 4] as const)[pick(3)]!, Math.floor(rand() * 2 ** 32) >>> 0);
      if (rand() < 0.3) await settle();
      q.takeUsed();
      if ((drv.status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_DRIVER_OK)) !== VIRTIO_STATUS_DRIVER_OK || rand() < 0.01) {
        dev.writeConfig(0x04, 2, 0x0006);
        queues = drv.init((lo) => lo | (rand() < 0.5 ? 1 << VIRTIO_F_INDIRECT_DESC : 0) | (rand() < 0.5 ? 1 << VIRTIO_F_EVENT_IDX : 0));
      }
    }
    await settle();
    expect(ram.outOfRange).toBe(0);
    expect(canaryIntact(ram)).toBe(true);
    return dev.counters;
  }

  it.each([1, 2, 3, 4])('virtio-blk, seed %i, well-formed requests among the random ones', async (seed) => {
    const s = blkSetup();
    const c = await fuzz(s.dev as VirtioPci<unknown>, s.ram, s.settle, seed, 1500, (q, pick) => {
      const at = DATA + 0x70000 + pick(8) * 0x20;
      header(s.ram, at, [VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID][pick(4)]!, pick(130));
      const type = s.ram.bytes[at]!;
      const data: Buf = [DATA + pick(0x60000), 512 * pick(4), type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_GET_ID];
      q.add([[at, 16], data, [at + 16, 1, true]]);
    });
    expect(c.needsReset).toBeGreaterThan(10);
    expect(c.chains).toBeGreaterThan(10);
    expect(s.dev.blk.bytesRead + s.dev.blk.bytesWritten).toBeGreaterThan(0);
  });

  it('virtio-rng', async () => {
    const ram = new Ram();
    const dev = new VirtioRng({ dma: ram, random: (b) => b.fill(0x42) });
    dev.reset();
    const c = await fuzz(dev as VirtioPci<unknown>, ram, async () => {}, 2, 3000);
    expect(c.chains).toBeGreaterThan(10);
  });

  it('virtio-net', async () => {
    const ram = new Ram();
    const dev = new VirtioNet({ dma: ram, mac: Uint8Array.of(2, 0, 0, 0, 0, 1), send: () => {} });
    dev.reset();
    const rand = prng(11);
    const c = await fuzz(dev as VirtioPci<unknown>, ram, async () => { dev.receive(new Uint8Array(Math.floor(rand() * 1600))); }, 5, 3000);
    expect(c.chains).toBeGreaterThan(10);
  });

  it('virtio-console', async () => {
    const ram = new Ram();
    const dev = new VirtioConsole({ dma: ram, output: () => {} });
    dev.reset();
    const rand = prng(9);
    const c = await fuzz(dev as VirtioPci<unknown>, ram, async () => { dev.send(new Uint8Array(Math.floor(rand() * 300))); }, 3, 3000);
    expect(c.chains).toBeGreaterThan(10);
  });
});
