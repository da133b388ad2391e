// Split virtqueues (virtio 1.1 §2.6; 1.2 §2.7): the descriptor table, the driver's available
// ring and the device's used ring, all in guest RAM. This file walks them for every virtio
// device: it pops a descriptor chain (direct or through an indirect table, §2.6.5.3), returns
// used buffers, and applies the notification suppression rules (§2.6.7, VIRTIO_F_EVENT_IDX).
//
// Everything here comes from the guest. A chain is checked whole before a device sees it: every
// index inside its table, no more descriptors than the table holds (so a loop is caught), every
// buffer inside RAM, device-readable buffers before device-writable ones, one indirect table at
// most, without NEXT. A violation throws VirtqueueError, which the transport turns into
// DEVICE_NEEDS_RESET (virtio-pci.ts); nothing is written to the guest for that chain.

import type { DmaView } from '../../machine/io.js';

// Descriptor flags (§2.6.5)
export const VIRTQ_DESC_F_NEXT = 1;      // the chain continues in `next`
export const VIRTQ_DESC_F_WRITE = 2;     // device-writable (else device-readable)
export const VIRTQ_DESC_F_INDIRECT = 4;  // the buffer is a table of descriptors (§2.6.5.3)
// Ring flags
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1; // the driver needs no used-buffer notification (without EVENT_IDX)
const DESC_SIZE = 16;
/** The largest queue size the specification allows (§2.6: 32768). */
export const VIRTQ_MAX_SIZE = 32768;
/** The largest indirect table the device takes, in descriptors (the specification sets none; QEMU's is 1024). */
export const VIRTQ_MAX_INDIRECT = 1024;

/** One queue's registers and the device's ring positions: plain data for snapshots. */
export interface VirtqueueState {
  /** Queue size the driver chose (or the maximum, after reset). */
  size: number;
  enabled: boolean;
  /** Descriptor table, driver (available) ring, device (used) ring: low and high 32 bits as written. */
  desc: number; descHi: number;
  driver: number; driverHi: number;
  device: number; deviceHi: number;
  /** Next available-ring entry the device will take (free-running, mod 2^16). */
  lastAvail: number;
  /** The used ring's idx as the device last wrote it (mod 2^16). */
  usedIdx: number;
  /** usedIdx when the device last decided whether to notify the driver (EVENT_IDX's "old"). */
  signalledUsed: number;
}

export function freshQueue(maxSize: number): VirtqueueState {
  return { size: maxSize, enabled: false, desc: 0, descHi: 0, driver: 0, driverHi: 0, device: 0, deviceHi: 0, lastAvail: 0, usedIdx: 0, signalledUsed: 0 };
}

/** A buffer of a chain, inside RAM. */
export interface Segment { addr: number; len: number; write: boolean }

/** A descriptor chain the device took from the available ring. */
export interface Chain {
  /** Head descriptor index: what goes back in the used ring. */
  head: number;
  segments: Segment[];
  /** Total bytes of the device-readable and of the device-writable buffers. */
  readable: number;
  writable: number;
}

/** The driver broke a rule of the virtqueue layout: the device needs a reset. The message says which. */
export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtqueueError';
  }
}

function isPowerOfTwo(n: number): boolean { return n > 0 && (n & (n - 1)) === 0; }

function inRam(dma: DmaView, addr: number, len: number): boolean {
  return addr >= 0 && len >= 0 && addr + len <= dma.size;
}

/**
 * Why the queue's size and rings cannot be used (§2.6: size a power of two up to the device's
 * maximum; the alignment table of §2.6: 16, 2 and 4; every ring inside RAM), or null if they can.
 */
export function layoutError(dma: DmaView, q: VirtqueueState, maxSize: number): string | null {
  if (!isPowerOfTwo(q.size) || q.size > maxSize) return `queue size ${q.size} is not a power of two up to ${maxSize}`;
  if (q.descHi !== 0 || q.driverHi !== 0 || q.deviceHi !== 0) return 'a ring is above 4 GiB, outside RAM';
  if (q.desc % 16 !== 0 || q.driver % 2 !== 0 || q.device % 4 !== 0) return 'a ring is misaligned';
  if (!inRam(dma, q.desc, DESC_SIZE * q.size)) return 'the descriptor table is outside RAM';
  if (!inRam(dma, q.driver, 6 + 2 * q.size)) return 'the available ring is outside RAM';
  if (!inRam(dma, q.device, 6 + 8 * q.size)) return 'the used ring is outside RAM';
  return null;
}

function u16(dma: DmaView, addr: number): number {
  const b = dma.read(addr, 2);
  return b[0]! | (b[1]! << 8);
}

function put16(dma: DmaView, addr: number, v: number): void {
  dma.write(addr, new Uint8Array([v & 0xff, (v >> 8) & 0xff]));
}

/** Entries the driver has made available and the device has not taken. Throws if the index ran ahead by more than the queue. */
export function availablePending(dma: DmaView, q: VirtqueueState): number {
  const pending = (u16(dma, q.driver + 2) - q.lastAvail) & 0xffff;
  if (pending > q.size) throw new VirtqueueError(`the available index ran ${pending} entries ahead of a ${q.size}-entry queue`);
  return pending;
}

/**
 * Take the next available chain, or null if there is none. `indirect`: VIRTIO_F_INDIRECT_DESC
 * was negotiated. Throws VirtqueueError for a malformed chain (its entry is consumed).
 */
export function popChain(dma: DmaView, q: VirtqueueState, indirect: boolean): Chain | null {
  if (availablePending(dma, q) === 0) return null;
  const head = u16(dma, q.driver + 4 + 2 * (q.lastAvail % q.size));
  q.lastAvail = (q.lastAvail + 1) & 0xffff;
  if (head >= q.size) throw new VirtqueueError(`head index ${head} is outside the ${q.size}-entry table`);
  const chain: Chain = { head, segments: [], readable: 0, writable: 0 };
  let table = q.desc, entries = q.size, i = head, seen = 0, inIndirect = false;
  for (;;) {
    // §2.6.5.2 (1.2: 2.7.5.2): a chain is no longer than its table; one that is, loops.
    if (++seen > entries) throw new VirtqueueError(`descriptor chain from ${head} is longer than its ${entries}-entry table (a loop)`);
    const d = new DataView(dma.read(table + DESC_SIZE * i, DESC_SIZE).buffer);
    const addr = d.getUint32(0, true), addrHi = d.getUint32(4, true), len = d.getUint32(8, true);
    const flags = d.getUint16(12, true), next = d.getUint16(14, true);
    if (flags & VIRTQ_DESC_F_INDIRECT) {
      // §2.6.5.3.1: the feature negotiated, not inside an indirect table, not with NEXT, a whole number of descriptors.
      if (!indirect) throw new VirtqueueError('an indirect descriptor without VIRTIO_F_INDIRECT_DESC');
      if (inIndirect) throw new VirtqueueError('an indirect descriptor inside an indirect table');
      if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError('an indirect descriptor with NEXT set');
      if (len === 0 || len % DESC_SIZE !== 0 || len / DESC_SIZE > VIRTQ_MAX_INDIRECT) throw new VirtqueueError(`an indirect table of ${len} bytes`);
      if (addrHi !== 0 || addr % DESC_SIZE !== 0 || !inRam(dma, addr, len)) throw new VirtqueueError('an indirect table outside RAM or misaligned');
      table = addr; entries = len / DESC_SIZE; i = 0; seen = 0; inIndirect = true;
      continue;
    }
    if (addrHi !== 0 || !inRam(dma, addr, len)) throw new VirtqueueError(`a ${len}-byte buffer outside RAM`);
    const write = (flags & VIRTQ_DESC_F_WRITE) !== 0;
    // §2.6.4.2: device-writable buffers come after the device-readable ones.
    if (!write && chain.writable > 0) throw new VirtqueueError('a device-readable buffer after a device-writable one');
    chain.segments.push({ addr, len, write });
    if (write) chain.writable += len; else chain.readable += len;
    if (!(flags & VIRTQ_DESC_F_NEXT)) return chain;
    if (next >= entries) throw new VirtqueueError(`next index ${next} is outside the ${entries}-entry table`);
    i = next;
  }
}

/** Up to `max` device-readable bytes of the chain, from byte `offset` of its readable part. */
export function gather(dma: DmaView, chain: Chain, offset: number, max: number): Uint8Array {
  const n = Math.max(0, Math.min(max, chain.readable - offset));
  const out = new Uint8Array(n);
  let pos = 0, skip = offset;
  for (const s of chain.segments) {
    if (s.write || pos >= n) continue;
    if (skip >= s.len) { skip -= s.len; continue; }
    const take = Math.min(s.len - skip, n - pos);
    out.set(dma.read(s.addr + skip, take), pos);
    pos += take; skip = 0;
  }
  return out;
}

/** Write `data` into the chain's device-writable buffers from byte `offset` of them; returns the bytes written. */
export function scatter(dma: DmaView, chain: Chain, offset: number, data: Uint8Array): number {
  let pos = 0, skip = offset;
  for (const s of chain.segments) {
    if (!s.write || pos >= data.length) continue;
    if (skip >= s.len) { skip -= s.len; continue; }
    const take = Math.min(s.len - skip, data.length - pos);
    dma.write(s.addr + skip, data.subarray(pos, pos + take));
    pos += take; skip = 0;
  }
  return pos;
}

/** Return a chain to the driver: the used element (head, bytes written), then the used index (§2.6.8). */
export function pushUsed(dma: DmaView, q: VirtqueueState, head: number, written: number): void {
  const elem = new Uint8Array(8);
  const v = new DataView(elem.buffer);
  v.setUint32(0, head, true);
  v.setUint32(4, written, true);
  dma.write(q.device + 4 + 8 * (q.usedIdx % q.size), elem);
  q.usedIdx = (q.usedIdx + 1) & 0xffff;
  put16(dma, q.device + 2, q.usedIdx);
}

/**
 * Does the driver want a used-buffer notification for what was used since the last decision?
 * §2.6.7.2 (1.2: 2.7.7.2): with EVENT_IDX, when used_event falls in the entries just used
 * (vring_need_event); without, unless the available ring's flags say VIRTQ_AVAIL_F_NO_INTERRUPT.
 */
export function needsNotification(dma: DmaView, q: VirtqueueState, eventIdx: boolean): boolean {
  const now = q.usedIdx, old = q.signalledUsed;
  q.signalledUsed = now;
  if (now === old) return false;
  if (!eventIdx) return (u16(dma, q.driver) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  const usedEvent = u16(dma, q.driver + 4 + 2 * q.size);
  return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
}

/** With EVENT_IDX: ask the driver to notify when it makes the next entry available (avail_event, §2.6.10). */
export function setAvailEvent(dma: DmaView, q: VirtqueueState): void {
  put16(dma, q.device + 4 + 8 * q.size, q.lastAvail);
}
