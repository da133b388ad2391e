// The MP table builder against the Intel MultiProcessor Specification 1.4 layout: a parser
// written here from the specification's tables (chapter 4) reads the bytes back.
import { describe, expect, it } from 'vitest';
import {
  buildMpTable, MP_ALL_LAPICS, MP_EXTINT, MP_INT, MP_IRQ_ACTIVE_LOW, MP_IRQ_CONFORMS, MP_IRQ_LEVEL, MP_NMI,
  type MpConfig,
} from '../../src/boot/mptable';

const sum8 = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);
const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

function config(): MpConfig {
  return {
    address: 0xf0000,
    oemId: 'WEBX86',
    productId: 'i440FX PIIX3',
    localApicAddress: 0xfee00000,
    processors: [{ apicId: 0, apicVersion: 0x14, bootstrap: true, signature: 0x633, features: 0x1bbff }],
    buses: [{ id: 0, type: 'PCI' }, { id: 1, type: 'ISA' }],
    ioApics: [{ id: 1, version: 0x11, address: 0xfec00000 }],
    ioInterrupts: [
      { type: MP_INT, flags: MP_IRQ_CONFORMS, sourceBus: 1, sourceIrq: 0, destinationId: 1, destinationPin: 2 },
      { type: MP_INT, flags: MP_IRQ_CONFORMS, sourceBus: 1, sourceIrq: 4, destinationId: 1, destinationPin: 4 },
      { type: MP_INT, flags: MP_IRQ_ACTIVE_LOW | MP_IRQ_LEVEL, sourceBus: 0, sourceIrq: (3 << 2) | 0, destinationId: 1, destinationPin: 16 },
    ],
    localInterrupts: [
      { type: MP_EXTINT, flags: MP_IRQ_CONFORMS, sourceBus: 1, sourceIrq: 0, destinationId: MP_ALL_LAPICS, destinationPin: 0 },
      { type: MP_NMI, flags: MP_IRQ_CONFORMS, sourceBus: 1, sourceIrq: 0, destinationId: MP_ALL_LAPICS, destinationPin: 1 },
    ],
  };
}

describe('MP table (MP spec 1.4)', () => {
  it('floating pointer: signature, pointer, length, revision, checksum, virtual wire', () => {
    const b = buildMpTable(config());
    const dv = new DataView(b.buffer);
    expect(ascii(b, 0, 4)).toBe('_MP_');
    expect(dv.getUint32(4, true)).toBe(0xf0010);   // the table follows the 16-byte pointer
    expect(b[8]).toBe(1);                           // length in paragraphs
    expect(b[9]).toBe(4);                           // revision 1.4
    expect(sum8(b.subarray(0, 16))).toBe(0);
    expect(b[11]).toBe(0);                          // a configuration table is present
    expect(b[12] & 0x80).toBe(0);                   // IMCRP clear: virtual wire mode
  });

  it('configuration table: header, checksum and every entry as Linux mpparse reads them', () => {
    const b = buildMpTable(config());
    const dv = new DataView(b.buffer);
    const t = 16;
    expect(ascii(b, t, 4)).toBe('PCMP');
    const len = dv.getUint16(t + 4, true);
    expect(t + len).toBe(b.length);
    expect(len).toBe(44 + 20 + 2 * 8 + 8 + 5 * 8); // header, 1 CPU, 2 buses, 1 IO-APIC, 3 + 2 interrupts
    expect(b[t + 6]).toBe(4);
    expect(sum8(b.subarray(t, t + len))).toBe(0);
    expect(ascii(b, t + 8, 8)).toBe('WEBX86  ');
    expect(ascii(b, t + 16, 12)).toBe('i440FX PIIX3');
    expect(dv.getUint16(t + 34, true)).toBe(1 + 2 + 1 + 3 + 2);
    expect(dv.getUint32(t + 36, true)).toBe(0xfee00000);
    expect(dv.getUint16(t + 40, true)).toBe(0);   // no extended table

    // Walk the entries by type, each with its specified length; types must not decrease.
    const seen: number[] = [];
    let p = t + 44;
    const entries: Uint8Array[] = [];
    while (p < t + len) {
      const type = b[p]!;
      const size = type === 0 ? 20 : 8;
      entries.push(b.subarray(p, p + size));
      seen.push(type);
      p += size;
    }
    expect(p).toBe(t + len);
    expect(seen).toEqual([0, 1, 1, 2, 3, 3, 3, 4, 4]);
    const [cpu, pci, isa, io, irq0, irq4, pciInt, extint, nmi] = entries as Uint8Array[];
    const cdv = new DataView(cpu!.buffer, cpu!.byteOffset);
    expect([cpu![1], cpu![2], cpu![3]]).toEqual([0, 0x14, 0x03]);  // id, version, EN | BP
    expect(cdv.getUint32(4, true)).toBe(0x633);
    expect(cdv.getUint32(8, true)).toBe(0x1bbff);
    expect([pci![1], ascii(pci!, 2, 6)]).toEqual([0, 'PCI   ']);
    expect([isa![1], ascii(isa!, 2, 6)]).toEqual([1, 'ISA   ']);
    expect([io![1], io![2], io![3]]).toEqual([1, 0x11, 1]);
    expect(new DataView(io!.buffer, io!.byteOffset).getUint32(4, true)).toBe(0xfec00000);
    // type, int type, flags (2 bytes), bus, bus irq, dest id, dest pin
    expect(Array.from(irq0!)).toEqual([3, 0, 0, 0, 1, 0, 1, 2]);
    expect(Array.from(irq4!)).toEqual([3, 0, 0, 0, 1, 4, 1, 4]);
    expect(Array.from(pciInt!)).toEqual([3, 0, 0x0f, 0, 0, 12, 1, 16]);
    expect(Array.from(extint!)).toEqual([4, 3, 0, 0, 1, 0, 0xff, 0]);
    expect(Array.from(nmi!)).toEqual([4, 1, 0, 0, 1, 0, 0xff, 1]);
  });

  it('refuses an unaligned address', () => {
    expect(() => buildMpTable({ ...config(), address: 0xf0008 })).toThrow(RangeError);
  });
});
