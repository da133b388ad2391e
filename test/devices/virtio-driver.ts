// A virtio driver for device tests, written the way the specification tells a driver to go
// (virtio 1.1 §3.1.1 over the PCI transport of §4.1): find the vendor capabilities, reset,
// ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK; split virtqueues (§2.6) as a
// driver keeps them. Copied from virtio.test.ts so new device tests can share it; that file may
// move to it later.
import { expect } from 'vitest';
import { TestRam } from './test-ram';
import {
  COMMON_DF, COMMON_DFSELECT, COMMON_GF, COMMON_GFSELECT, COMMON_NUMQ, COMMON_Q_AVAILHI, COMMON_Q_AVAILLO, COMMON_Q_DESCHI,
  COMMON_Q_DESCLO, COMMON_Q_ENABLE, COMMON_Q_NOFF, COMMON_Q_SELECT, COMMON_Q_SIZE, COMMON_Q_USEDHI, COMMON_Q_USEDLO, COMMON_STATUS,
  VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FEATURES_OK, type VirtioPci,
} from '../../src/devices/virtio/virtio-pci';

export const RAM = 1 << 20;
/** Never a buffer or a ring: must stay as it was. */
export const CANARY = 0x0000, CANARY_END = 0x8000;
export const RINGS = 0x10000;
export const DATA = 0x40000;
export const NEXT = 1, WRITE = 2, INDIRECT = 4;

export class Ram extends TestRam { constructor() { super(RAM); } }

export type Buf = [addr: number, len: number, write?: boolean];

/** A split virtqueue as the driver keeps it (§2.6). */
export class Queue {
  readonly desc: number; readonly avail: number; readonly used: number;
  nextFree = 0; availIdx = 0; lastUsed = 0;
  constructor(readonly drv: Driver, readonly index: number, readonly size: number, base: number) {
    this.desc = base;
    this.avail = base + 16 * size;
    this.used = (this.avail + 6 + 2 * size + 3) & ~3;
  }
  get dv(): DataView { return this.drv.dv; }
  writeDesc(i: number, addr: number, len: number, flags: number, next: number, table = this.desc): void {
    const at = table + 16 * i;
    this.dv.setUint32(at, addr, true); this.dv.setUint32(at + 4, 0, true);
    this.dv.setUint32(at + 8, len, true); this.dv.setUint16(at + 12, flags, true); this.dv.setUint16(at + 14, next, true);
  }
  /** Put the buffers in free descriptors as one chain (or in an indirect table at `indirectAt`) and make it available. */
  add(bufs: Buf[], indirectAt?: number): number {
    const head = this.nextFree % this.size;
    if (indirectAt !== undefined) {
      bufs.forEach(([a, l, w], i) => this.writeDesc(i, a, l, (w ? WRITE : 0) | (i < bufs.length - 1 ? NEXT : 0), i + 1, indirectAt));
      this.writeDesc(head, indirectAt, 16 * bufs.length, INDIRECT, 0);
      this.nextFree++;
    } else {
      bufs.forEach(([a, l, w], i) => {
        const d = (this.nextFree + i) % this.size;
        this.writeDesc(d, a, l, (w ? WRITE : 0) | (i < bufs.length - 1 ? NEXT : 0), (d + 1) % this.size);
      });
      this.nextFree += bufs.length;
    }
    this.publish(head);
    return head;
  }
  publish(head: number): void {
    this.dv.setUint16(this.avail + 4 + 2 * (this.availIdx % this.size), head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.dv.setUint16(this.avail + 2, this.availIdx, true);
  }
  kick(): void { this.drv.notify(this.index); }
  /** Used elements since the last call. */
  takeUsed(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const idx = this.dv.getUint16(this.used + 2, true);
    while (this.lastUsed !== idx) {
      const at = this.used + 4 + 8 * (this.lastUsed % this.size);
      out.push({ id: this.dv.getUint32(at, true), len: this.dv.getUint32(at + 4, true) });
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }
  set usedEvent(v: number) { this.dv.setUint16(this.avail + 4 + 2 * this.size, v, true); }
  set availFlags(v: number) { this.dv.setUint16(this.avail, v, true); }
  get availEvent(): number { return this.dv.getUint16(this.used + 4 + 8 * this.size, true); }
}

export interface Cap { bar: number; offset: number; length: number; multiplier: number }

/** The driver: PCI capabilities, then the BAR's structures (§4.1.4), then §3.1.1. */
export class Driver {
  readonly dv: DataView;
  readonly caps = new Map<number, Cap>();
  readonly queues: Queue[] = [];
  constructor(readonly dev: VirtioPci<unknown>, readonly ram: Ram) {
    this.dv = new DataView(ram.bytes.buffer, ram.bytes.byteOffset, ram.bytes.byteLength);
    dev.writeConfig(0x04, 2, 0x0006); // memory decoding and bus mastering
    expect(dev.readConfig(0x06, 2) & 0x10).toBe(0x10); // Status: capability list
    for (let at = dev.readConfig(0x34, 1); at !== 0; at = dev.readConfig(at + 1, 1)) {
      if (dev.readConfig(at, 1) !== 0x09) continue; // vendor-specific
      const type = dev.readConfig(at + 3, 1);
      if (!this.caps.has(type)) {
        this.caps.set(type, { bar: dev.readConfig(at + 4, 1), offset: dev.readConfig(at + 8, 4), length: dev.readConfig(at + 12, 4),
          multiplier: type === VIRTIO_PCI_CAP_NOTIFY_CFG ? dev.readConfig(at + 16, 4) : 0 });
      }
    }
  }
  private at(type: number, off: number): number { return this.caps.get(type)!.offset + off; }
  r(off: number, size: 1 | 2 | 4): number { return this.dev.mmio.read(this.at(VIRTIO_PCI_CAP_COMMON_CFG, off), size); }
  w(off: number, size: 1 | 2 | 4, v: number): void { this.dev.mmio.write(this.at(VIRTIO_PCI_CAP_COMMON_CFG, off), size, v >>> 0); }
  cfg(off: number, size: 1 | 2 | 4): number { return this.dev.mmio.read(this.at(VIRTIO_PCI_CAP_DEVICE_CFG, off), size); }
  isr(): number { return this.dev.mmio.read(this.at(VIRTIO_PCI_CAP_ISR_CFG, 0), 1); }
  get status(): number { return this.r(COMMON_STATUS, 1); }
  notify(q: number): void {
    this.w(COMMON_Q_SELECT, 2, q);
    const off = this.r(COMMON_Q_NOFF, 2);
    const n = this.caps.get(VIRTIO_PCI_CAP_NOTIFY_CFG)!;
    this.dev.mmio.write(n.offset + off * n.multiplier, 2, q);
  }
  deviceFeatures(): [number, number] {
    this.w(COMMON_DFSELECT, 4, 0); const lo = this.r(COMMON_DF, 4);
    this.w(COMMON_DFSELECT, 4, 1); const hi = this.r(COMMON_DF, 4);
    return [lo, hi];
  }
  /** §3.1.1 steps 1-6; returns whether FEATURES_OK stuck. `want` picks from what is offered. */
  negotiate(want: (lo: number, hi: number) => [number, number]): boolean {
    this.w(COMMON_STATUS, 1, 0); // 1. reset
    expect(this.status).toBe(0);
    this.w(COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE); // 2.
    this.w(COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER); // 3.
    const [lo, hi] = want(...this.deviceFeatures()); // 4.
    this.w(COMMON_GFSELECT, 4, 0); this.w(COMMON_GF, 4, lo);
    this.w(COMMON_GFSELECT, 4, 1); this.w(COMMON_GF, 4, hi);
    this.w(COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK); // 5.
    return (this.status & VIRTIO_STATUS_FEATURES_OK) !== 0; // 6.
  }
  /** §4.1.5.1.3: select, size, addresses, enable. */
  setupQueue(index: number, size?: number): Queue {
    this.w(COMMON_Q_SELECT, 2, index);
    const max = this.r(COMMON_Q_SIZE, 2);
    const q = new Queue(this, index, size ?? max, RINGS + index * 0x8000);
    this.ram.bytes.fill(0, q.desc, q.desc + 0x8000);
    this.w(COMMON_Q_SIZE, 2, q.size);
    this.w(COMMON_Q_DESCLO, 4, q.desc); this.w(COMMON_Q_DESCHI, 4, 0);
    this.w(COMMON_Q_AVAILLO, 4, q.avail); this.w(COMMON_Q_AVAILHI, 4, 0);
    this.w(COMMON_Q_USEDLO, 4, q.used); this.w(COMMON_Q_USEDHI, 4, 0);
    this.w(COMMON_Q_ENABLE, 2, 1);
    this.queues[index] = q;
    return q;
  }
  /** The whole sequence; `extra` picks optional features from those offered (all of them by default). */
  init(extra: (lo: number) => number = (lo) => lo): Queue[] {
    expect(this.negotiate((lo, hi) => [extra(lo) >>> 0, hi & 1])).toBe(true);
    const n = this.r(COMMON_NUMQ, 2);
    for (let i = 0; i < n; i++) this.setupQueue(i);
    this.w(COMMON_STATUS, 1, this.status | VIRTIO_STATUS_DRIVER_OK); // 8.
    expect(this.status & VIRTIO_STATUS_DRIVER_OK).toBe(VIRTIO_STATUS_DRIVER_OK);
    return this.queues;
  }
}

export function canaryFill(ram: Ram): void { for (let i = CANARY; i < CANARY_END; i++) ram.bytes[i] = (i * 37 + 11) & 0xff; }
export function canaryIntact(ram: Ram): boolean {
  for (let i = CANARY; i < CANARY_END; i++) if (ram.bytes[i] !== ((i * 37 + 11) & 0xff)) return false;
  return true;
}

/** A deterministic generator for the tests' random choices. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32; };
}
