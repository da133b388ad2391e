// The two buses a device can sit on: the 64 KiB I/O-port space and the physical MMIO map.
//
// Both follow the ISA bus's manners:
//  - an address nobody decodes reads as all ones (the data lines float high) and swallows writes,
//  - a 16- or 32-bit access that the target does not accept as a whole (the device only takes
//    bytes, or the access straddles two devices) is split into byte accesses, low byte first,
//    each going to whichever device decodes that byte's address.
// Mappings may not overlap: map() throws, because two devices answering one address is a
// wiring bug, never guest behaviour. Guest accesses never throw: a device that throws is
// counted and treated as unmapped for that access.

import type { IoDevice, IoSize } from './io.js';

/** Which access widths a device window accepts: any subset of 1, 2, 4. */
export type WidthSet = readonly IoSize[];

/** One device window on a bus. */
export interface BusMapping {
  readonly base: number;
  readonly length: number;
  readonly device: IoDevice;
  /** Bit mask of accepted widths: bit 1 = byte, bit 2 = word, bit 4 = dword. */
  readonly widths: number;
  /** Guest accesses that reached this window since it was mapped (the inspector's traps per device): one increment, no allocation. */
  accesses: number;
}

const ALL_ONES: Record<IoSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

function widthMask(widths: WidthSet): number {
  let m = 0;
  for (const w of widths) {
    if (w !== 1 && w !== 2 && w !== 4) throw new RangeError(`bad access width ${w}`);
    m |= w;
  }
  if (m === 0) throw new RangeError('a device must accept at least one access width');
  return m;
}

/** Counters for the inspector: accesses that reached no device, and device exceptions. */
export interface BusStats {
  unmappedReads: number;
  unmappedWrites: number;
  deviceErrors: number;
  /** The last device exception, for logs. */
  lastError: string;
}

/** Shared logic of both buses: find the mapping for an address, split what it cannot take. */
abstract class Bus {
  readonly stats: BusStats = { unmappedReads: 0, unmappedWrites: 0, deviceErrors: 0, lastError: '' };
  /** Called once per device exception (the Machine logs it). */
  onDeviceError: ((device: IoDevice, error: unknown) => void) | null = null;

  protected abstract find(addr: number): BusMapping | undefined;
  protected abstract readonly space: number;

  read(addr: number, size: IoSize): number {
    const m = this.find(addr);
    if (m !== undefined && (m.widths & size) !== 0 && addr + size <= m.base + m.length) {
      m.accesses++;
      return this.call(m, () => m.device.read(addr - m.base, size) >>> 0, ALL_ONES[size]) & ALL_ONES[size];
    }
    if (size === 1) {
      this.stats.unmappedReads++;
      return 0xff;
    }
    // Split into bytes, as the ISA bus's byte-swapping logic does, low byte first.
    let v = 0;
    for (let i = 0; i < size; i++) {
      v |= this.readByte((addr + i) % this.space) << (8 * i);
    }
    return v >>> 0;
  }

  write(addr: number, size: IoSize, value: number): void {
    value = (value & ALL_ONES[size]) >>> 0;
    const m = this.find(addr);
    if (m !== undefined && (m.widths & size) !== 0 && addr + size <= m.base + m.length) {
      m.accesses++;
      this.call(m, () => m.device.write(addr - m.base, size, value), undefined);
      return;
    }
    if (size === 1) {
      this.stats.unmappedWrites++;
      return;
    }
    for (let i = 0; i < size; i++) {
      this.writeByte((addr + i) % this.space, (value >>> (8 * i)) & 0xff);
    }
  }

  private readByte(addr: number): number {
    const m = this.find(addr);
    if (m === undefined || (m.widths & 1) === 0) {
      this.stats.unmappedReads++;
      return 0xff;
    }
    m.accesses++;
    return this.call(m, () => m.device.read(addr - m.base, 1), 0xff) & 0xff;
  }

  private writeByte(addr: number, value: number): void {
    const m = this.find(addr);
    if (m === undefined || (m.widths & 1) === 0) {
      this.stats.unmappedWrites++;
      return;
    }
    m.accesses++;
    this.call(m, () => m.device.write(addr - m.base, 1, value), undefined);
  }

  private call<T>(m: BusMapping, f: () => T, fallback: T): T {
    try {
      return f();
    } catch (e) {
      // A device must never throw on guest input; if one does, the guest sees a floating bus
      // and we keep a record instead of tearing down the machine.
      this.stats.deviceErrors++;
      this.stats.lastError = `${m.device.name}: ${(e as Error)?.message ?? String(e)}`;
      this.onDeviceError?.(m.device, e);
      return fallback;
    }
  }
}

/** The I/O-port address space, 0x0000..0xFFFF. */
export class PortBus extends Bus {
  protected readonly space = 0x10000;
  private readonly mappings: (BusMapping | undefined)[] = [];
  /** Port -> index+1 into mappings (0 = nothing), so a lookup is one array read. */
  private readonly table = new Uint16Array(0x10000);

  /** Map `device` at ports base..base+length-1. Throws if any port is already taken. */
  map(base: number, length: number, device: IoDevice, widths: WidthSet = [1]): BusMapping {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > 0x10000) {
      throw new RangeError(`${device.name}: bad port range ${base}+${length}`);
    }
    for (let p = base; p < base + length; p++) {
      const other = this.table[p];
      if (other !== 0) {
        throw new Error(`${device.name}: port 0x${p.toString(16)} already mapped to ${this.mappings[other - 1]!.device.name}`);
      }
    }
    const m: BusMapping = { base, length, device, widths: widthMask(widths), accesses: 0 };
    let slot = this.mappings.indexOf(undefined);
    if (slot < 0) slot = this.mappings.push(m) - 1; else this.mappings[slot] = m;
    if (slot + 1 > 0xffff) throw new Error('too many port mappings');
    this.table.fill(slot + 1, base, base + length);
    return m;
  }

  /** Remove the mapping that starts at `base` (PCI BAR moves). Returns whether one existed. */
  unmap(base: number): boolean {
    const idx = this.table[base & 0xffff];
    if (idx === 0) return false;
    const m = this.mappings[idx - 1]!;
    if (m.base !== base) return false;
    this.table.fill(0, m.base, m.base + m.length);
    this.mappings[idx - 1] = undefined;
    return true;
  }

  protected find(port: number): BusMapping | undefined {
    const idx = this.table[port & 0xffff];
    return idx === 0 ? undefined : this.mappings[idx - 1];
  }

  /** All mappings, sorted by base, for the inspector. */
  list(): BusMapping[] {
    return this.mappings.filter((m): m is BusMapping => m !== undefined).sort((a, b) => a.base - b.base);
  }
}

/** The physical address space outside RAM, 0..4 GiB. */
export class MmioMap extends Bus {
  protected readonly space = 0x1_0000_0000;
  /** Sorted by base, non-overlapping. */
  private ranges: BusMapping[] = [];
  private last: BusMapping | undefined;

  /** Map `device` at physical base..base+length-1. Throws on overlap. */
  map(base: number, length: number, device: IoDevice, widths: WidthSet = [1, 2, 4]): BusMapping {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > this.space) {
      throw new RangeError(`${device.name}: bad MMIO range ${base}+${length}`);
    }
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) {
        throw new Error(`${device.name}: MMIO 0x${base.toString(16)}+0x${length.toString(16)} overlaps ${r.device.name}`);
      }
    }
    const m: BusMapping = { base, length, device, widths: widthMask(widths), accesses: 0 };
    this.ranges.push(m);
    this.ranges.sort((a, b) => a.base - b.base);
    return m;
  }

  unmap(base: number): boolean {
    const i = this.ranges.findIndex((r) => r.base === base);
    if (i < 0) return false;
    if (this.last === this.ranges[i]) this.last = undefined;
    this.ranges.splice(i, 1);
    return true;
  }

  protected find(addr: number): BusMapping | undefined {
    const l = this.last;
    if (l !== undefined && addr >= l.base && addr < l.base + l.length) return l;
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid]!;
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.base + r.length) lo = mid + 1;
      else return (this.last = r);
    }
    return undefined;
  }

  list(): BusMapping[] {
    return this.ranges.slice();
  }
}

/** A one-register window onto a device register at `offset` (for chips with sparse decoding). */
export class OffsetWindow implements IoDevice {
  readonly name: string;
  constructor(private readonly device: IoDevice, private readonly offset: number) {
    this.name = device.name;
  }
  read(offset: number, size: IoSize): number {
    return this.device.read(this.offset + offset, size);
  }
  write(offset: number, size: IoSize, value: number): void {
    this.device.write(this.offset + offset, size, value);
  }
}
