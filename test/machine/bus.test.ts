// PortBus / MmioMap behave like the ISA bus: floating reads, byte splitting, no overlaps.
import { describe, expect, it } from 'vitest';
import { MmioMap, PortBus } from '../../src/machine/bus.js';
import type { IoDevice, IoSize } from '../../src/machine/io.js';

/** A register file that records every access it sees. */
class RegFile implements IoDevice {
  readonly log: string[] = [];
  readonly bytes: Uint8Array;
  constructor(readonly name: string, size: number) {
    this.bytes = new Uint8Array(size);
  }
  read(offset: number, size: IoSize): number {
    this.log.push(`r${size}@${offset.toString(16)}`);
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.bytes[offset + i]! << (8 * i);
    return v >>> 0;
  }
  write(offset: number, size: IoSize, value: number): void {
    this.log.push(`w${size}@${offset.toString(16)}=${value.toString(16)}`);
    for (let i = 0; i < size; i++) this.bytes[offset + i] = (value >>> (8 * i)) & 0xff;
  }
}

describe('PortBus', () => {
  it('reads all ones and ignores writes where nothing is mapped', () => {
    const bus = new PortBus();
    expect(bus.read(0x1234, 1)).toBe(0xff);
    expect(bus.read(0x1234, 2)).toBe(0xffff);
    expect(bus.read(0x1234, 4)).toBe(0xffffffff);
    bus.write(0x1234, 4, 0xdeadbeef);
    expect(bus.stats.unmappedWrites).toBe(4);
  });

  it('passes offsets, not port numbers, to the device', () => {
    const bus = new PortBus();
    const dev = new RegFile('uart', 8);
    bus.map(0x3f8, 8, dev, [1]);
    bus.write(0x3fb, 1, 0x83);
    expect(dev.log).toEqual(['w1@3=83']);
    expect(bus.read(0x3fb, 1)).toBe(0x83);
  });

  it('refuses overlapping ranges', () => {
    const bus = new PortBus();
    bus.map(0x40, 4, new RegFile('pit', 4));
    expect(() => bus.map(0x43, 2, new RegFile('other', 2))).toThrow(/already mapped to pit/);
    // Adjacent is fine.
    bus.map(0x44, 2, new RegFile('adjacent', 2));
  });

  it('splits a wide access the device does not accept into byte accesses, low byte first', () => {
    const bus = new PortBus();
    const dev = new RegFile('byteonly', 4);
    bus.map(0x60, 4, dev, [1]);
    bus.write(0x60, 2, 0xbeef);
    expect(dev.log).toEqual(['w1@0=ef', 'w1@1=be']);
    dev.log.length = 0;
    expect(bus.read(0x60, 4)).toBe(0x0000beef);
    expect(dev.log).toEqual(['r1@0', 'r1@1', 'r1@2', 'r1@3']);
  });

  it('delivers whole accesses the device accepts', () => {
    const bus = new PortBus();
    const dev = new RegFile('pci', 4);
    bus.map(0xcfc, 4, dev, [1, 2, 4]);
    bus.write(0xcfc, 4, 0x12345678);
    expect(dev.log).toEqual(['w4@0=12345678']);
    expect(bus.read(0xcfe, 2)).toBe(0x1234);
  });

  it('splits an access that straddles two devices and the floating bus', () => {
    const bus = new PortBus();
    const a = new RegFile('a', 2);
    const b = new RegFile('b', 1);
    a.bytes.set([0x11, 0x22]);
    b.bytes.set([0x33]);
    bus.map(0x100, 2, a, [1, 2, 4]);
    bus.map(0x102, 1, b, [1]);
    // bytes: a[0] a[1] b[0] <unmapped 0x103>
    expect(bus.read(0x100, 4)).toBe(0xff332211);
    expect(a.log).toEqual(['r1@0', 'r1@1']);
  });

  it('a device that accepts only words gets no byte accesses', () => {
    const bus = new PortBus();
    const dev = new RegFile('wordonly', 2);
    dev.bytes.set([0xaa, 0xbb]);
    bus.map(0x200, 2, dev, [2]);
    expect(bus.read(0x200, 2)).toBe(0xbbaa);
    expect(bus.read(0x200, 1)).toBe(0xff);
    expect(dev.log).toEqual(['r2@0']);
  });

  it('contains a device exception and counts it', () => {
    const bus = new PortBus();
    const bad: IoDevice = {
      name: 'bad',
      read() { throw new Error('boom'); },
      write() { throw new Error('boom'); },
    };
    bus.map(0x300, 1, bad);
    expect(bus.read(0x300, 1)).toBe(0xff);
    bus.write(0x300, 1, 1);
    expect(bus.stats.deviceErrors).toBe(2);
    expect(bus.stats.lastError).toContain('bad: boom');
  });

  it('unmap frees the range', () => {
    const bus = new PortBus();
    bus.map(0x500, 8, new RegFile('x', 8));
    expect(bus.unmap(0x500)).toBe(true);
    expect(bus.read(0x504, 1)).toBe(0xff);
    bus.map(0x500, 8, new RegFile('y', 8));
  });

  it('rejects ranges outside the 64 KiB port space', () => {
    const bus = new PortBus();
    expect(() => bus.map(0xfffe, 4, new RegFile('x', 4))).toThrow(RangeError);
  });
});

describe('MmioMap', () => {
  it('maps physical windows and splits like the port bus', () => {
    const mmio = new MmioMap();
    const vga = new RegFile('vga', 0x20000);
    mmio.map(0xa0000, 0x20000, vga, [1]);
    mmio.write(0xb8000, 2, 0x0741);
    expect(vga.bytes[0x18000]).toBe(0x41);
    expect(vga.bytes[0x18001]).toBe(0x07);
    expect(mmio.read(0xb8000, 2)).toBe(0x0741);
    expect(mmio.read(0xc0000, 4)).toBe(0xffffffff);
    expect(mmio.read(0x9ffff, 1)).toBe(0xff);
  });

  it('refuses overlaps and finds ranges above 2 GiB', () => {
    const mmio = new MmioMap();
    const apic = new RegFile('lapic', 0x1000);
    mmio.map(0xfee00000, 0x1000, apic, [4]);
    expect(() => mmio.map(0xfee00800, 0x10, new RegFile('x', 16))).toThrow(/overlaps lapic/);
    mmio.write(0xfee000f0, 4, 0x1ff);
    expect(apic.log).toEqual(['w4@f0=1ff']);
    expect(mmio.read(0xfee000f0, 4)).toBe(0x1ff);
    mmio.map(0xfec00000, 0x20, new RegFile('ioapic', 0x20), [4]);
    expect(mmio.list().map((m) => m.device.name)).toEqual(['ioapic', 'lapic']);
  });
});
