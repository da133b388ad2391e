// The inspector's descriptor decoding (src/inspector/descriptors.ts) against descriptors built
// by hand from the layouts in the Intel SDM vol. 3: 3.4.5 (segment descriptor: limit 15:0 and
// base 15:0 in the low dword; base 23:16, type, S, DPL, P, limit 19:16, AVL, L, D/B, G and base
// 31:24 in the high dword), table 3-1 (code and data types), table 3-2 (system types) and 6.11
// (IDT gate descriptors).
import { describe, expect, it } from 'vitest';
import {
  decodeCachedSegment, decodeDescriptorTable, decodeGate, decodeIdt, decodeIvt, decodeSegmentDescriptor, tableEntries,
} from '../../src/inspector/descriptors';

/** Build a segment descriptor's two dwords from its fields (SDM vol. 3 figure 3-8). */
function descriptor(f: { base: number; limit: number; type: number; s: 0 | 1; dpl: number; p: 0 | 1; avl?: 0 | 1; l?: 0 | 1; db: 0 | 1; g: 0 | 1 }): [number, number] {
  const low = (((f.base & 0xffff) << 16) | (f.limit & 0xffff)) >>> 0;
  const high = ((f.base & 0xff000000) | (f.g << 23) | (f.db << 22) | ((f.l ?? 0) << 21) | ((f.avl ?? 0) << 20) | (f.limit & 0xf0000)
    | (f.p << 15) | (f.dpl << 13) | (f.s << 12) | (f.type << 8) | ((f.base >>> 16) & 0xff)) >>> 0;
  return [low, high];
}

function bytesOf(entries: [number, number][]): Uint8Array {
  const out = new Uint8Array(entries.length * 8);
  const v = new DataView(out.buffer);
  entries.forEach(([low, high], i) => { v.setUint32(i * 8, low, true); v.setUint32(i * 8 + 4, high, true); });
  return out;
}

describe('segment descriptors (SDM vol. 3, 3.4.5)', () => {
  it('a flat 4 GiB 32-bit code segment: the well-known 0x00cf9a00_0000ffff', () => {
    const [low, high] = descriptor({ base: 0, limit: 0xfffff, type: 0xa, s: 1, dpl: 0, p: 1, db: 1, g: 1 });
    expect([low, high]).toEqual([0x0000ffff, 0x00cf9a00]);
    const d = decodeSegmentDescriptor(low, high);
    expect(d).toMatchObject({ base: 0, limit: 0xffffffff, type: 0xa, codeOrData: true, dpl: 0, present: true, big: true, granularity: true, long: false });
    expect(d.kind).toBe('code 32 R--');
  });

  it('a user data segment with DPL 3, read/write and accessed (type 3)', () => {
    const d = decodeSegmentDescriptor(0x0000ffff, 0x00cff300);
    expect(d).toMatchObject({ base: 0, limit: 0xffffffff, dpl: 3, type: 3, present: true });
    expect(d.kind).toBe('data 32 W-A');
  });

  it('base bits 31:24, 23:16 and 15:0 come together; a byte-granular limit is taken as is', () => {
    const [low, high] = descriptor({ base: 0x12345678, limit: 0x0abcd, type: 0x2, s: 1, dpl: 0, p: 1, db: 0, g: 0 });
    expect([low, high]).toEqual([0x5678abcd, 0x12009234]);
    const d = decodeSegmentDescriptor(low, high);
    expect(d.base).toBe(0x12345678);
    expect(d.limit).toBe(0xabcd);
    expect(d.kind).toBe('data 16 W--');
  });

  it('G scales the 20-bit limit to 4 KiB units with the low 12 bits set', () => {
    const d = decodeSegmentDescriptor(...descriptor({ base: 0, limit: 0x5abcd, type: 0x8, s: 1, dpl: 0, p: 1, db: 1, g: 1 }));
    expect(d.limit).toBe(0x5abcdfff);
    expect(d.kind).toBe('code 32 ---'); // execute-only
  });

  it('expand-down data and conforming code', () => {
    expect(decodeSegmentDescriptor(...descriptor({ base: 0, limit: 0xfff, type: 0x6, s: 1, dpl: 0, p: 1, db: 1, g: 0 })).kind).toBe('data 32 WE-');
    expect(decodeSegmentDescriptor(...descriptor({ base: 0, limit: 0xfff, type: 0xe, s: 1, dpl: 0, p: 1, db: 0, g: 0 })).kind).toBe('code 16 RC-');
  });

  it('system descriptors by type (table 3-2): TSS available and busy, LDT; reserved types say so', () => {
    const tss = descriptor({ base: 0xc1a0b000, limit: 0x206b, type: 0x9, s: 0, dpl: 0, p: 1, db: 0, g: 0 });
    expect(decodeSegmentDescriptor(...tss)).toMatchObject({ base: 0xc1a0b000, limit: 0x206b, codeOrData: false, kind: 'TSS32 available' });
    expect(decodeSegmentDescriptor(...descriptor({ base: 0, limit: 0x67, type: 0xb, s: 0, dpl: 0, p: 1, db: 0, g: 0 })).kind).toBe('TSS32 busy');
    expect(decodeSegmentDescriptor(...descriptor({ base: 0x1000, limit: 0xf, type: 0x2, s: 0, dpl: 0, p: 1, db: 0, g: 0 })).kind).toBe('LDT');
    expect(decodeSegmentDescriptor(...descriptor({ base: 0, limit: 0, type: 0x8, s: 0, dpl: 0, p: 1, db: 0, g: 0 })).kind).toBe('reserved system type 8');
  });

  it('a not-present descriptor keeps its fields', () => {
    const d = decodeSegmentDescriptor(0x0000ffff, 0x00cf1a00);
    expect(d.present).toBe(false);
    expect(d.kind).toBe('code 32 R--');
  });

  it('a segment register\'s cached attributes (descriptor bits 40..55) decode as the descriptor did', () => {
    const flatCode = 0x00cf9a00;
    const access = (flatCode >>> 8) & 0xffff;
    const cached = decodeCachedSegment(0, 0xffffffff, access);
    expect(cached).toMatchObject({ base: 0, limit: 0xffffffff, dpl: 0, present: true, big: true, kind: 'code 32 R--' });
  });
});

describe('gate descriptors (SDM vol. 3, 6.11)', () => {
  it('a 32-bit interrupt gate: selector in the low dword, offset split across both', () => {
    const low = (0x0060 << 16) | 0x4567;
    const high = (0xc1230000 | 0x8e00) >>> 0;
    expect(decodeGate(low, high)).toEqual({ selector: 0x60, offset: 0xc1234567, type: 0xe, dpl: 0, present: true, kind: 'interrupt gate 32' });
  });

  it('a trap gate user code may call (DPL 3), and a task gate, whose selector names a TSS and has no offset', () => {
    expect(decodeGate((0x0060 << 16) | 0x1000, (0xc1000000 | 0xef00) >>> 0)).toMatchObject({ dpl: 3, kind: 'trap gate 32', offset: 0xc1001000 });
    expect(decodeGate((0x00f8 << 16) | 0xffff, 0xffff8500)).toMatchObject({ selector: 0xf8, offset: 0, kind: 'task gate', present: true });
  });

  it('an entry that is not a gate says so instead of inventing one', () => {
    expect(decodeGate(0x0000ffff, 0x00cf9a00).kind).toBe('not a gate (type 10, S set)');
  });
});

describe('tables from guest memory', () => {
  const code = descriptor({ base: 0, limit: 0xfffff, type: 0xb, s: 1, dpl: 0, p: 1, db: 1, g: 1 });
  const data = descriptor({ base: 0, limit: 0xfffff, type: 0x3, s: 1, dpl: 0, p: 1, db: 1, g: 1 });
  const user = descriptor({ base: 0, limit: 0xfffff, type: 0xb, s: 1, dpl: 3, p: 1, db: 1, g: 1 });
  const gdt = bytesOf([[0, 0], code, data, [0, 0], user]);

  it('the GDT up to its limit, without the null descriptor and empty slots, with selectors', () => {
    const rows = decodeDescriptorTable(gdt, gdt.length - 1, false);
    expect(rows.map((r) => [r.selector, r.decoded.kind, r.decoded.dpl])).toEqual([[0x08, 'code 32 R-A', 0], [0x10, 'data 32 W-A', 0], [0x20, 'code 32 R-A', 3]]);
    // A limit of 23 (three entries) stops before the user segment.
    expect(decodeDescriptorTable(gdt, 23, false).map((r) => r.index)).toEqual([1, 2]);
  });

  it('an LDT starts at entry 0 and its selectors have TI set', () => {
    const rows = decodeDescriptorTable(bytesOf([user]), 7, true);
    expect(rows.map((r) => r.selector)).toEqual([0x04]);
  });

  it('a garbage limit is cut to the bytes read, never beyond them', () => {
    expect(tableEntries(0xffff, 16)).toBe(2);
    expect(tableEntries(0xffffffff, 40)).toBe(5);
    expect(tableEntries(3, 40)).toBe(0); // a limit shorter than one entry
    expect(() => decodeDescriptorTable(gdt.subarray(0, 13), 0xffff, false)).not.toThrow();
    expect(decodeDescriptorTable(gdt.subarray(0, 13), 0xffff, false)).toEqual([]);
  });

  it('the IDT: at most 256 vectors, empty ones left out', () => {
    const gate: [number, number] = [(0x60 << 16) | 0x2000, (0xc1000000 | 0x8e00) >>> 0];
    const idt = bytesOf([gate, [0, 0], gate]);
    expect(decodeIdt(idt, idt.length - 1).map((r) => [r.index, r.decoded.offset])).toEqual([[0, 0xc1002000], [2, 0xc1002000]]);
    expect(decodeIdt(new Uint8Array(300 * 8).fill(0xff), 0xffff).length).toBe(256);
  });

  it('the real-mode vector table: offset then segment, 4 bytes a vector (SDM vol. 3, 20.1.4)', () => {
    // INT 0x10 at f000:f065 and INT 0x13 at c000:1234, as a BIOS leaves them; the rest zero.
    const ivt = new Uint8Array(0x400);
    const v = new DataView(ivt.buffer);
    v.setUint16(0x10 * 4, 0xf065, true); v.setUint16(0x10 * 4 + 2, 0xf000, true);
    v.setUint16(0x13 * 4, 0x1234, true); v.setUint16(0x13 * 4 + 2, 0xc000, true);
    expect(decodeIvt(ivt, 0x3ff).map((r) => [r.index, r.decoded.selector, r.decoded.offset])).toEqual([[0x10, 0xf000, 0xf065], [0x13, 0xc000, 0x1234]]);
    expect(decodeIvt(ivt, 0x4f).map((r) => r.index)).toEqual([0x10, 0x13]);
    expect(decodeIvt(ivt, 0x4b).map((r) => r.index)).toEqual([0x10]); // the limit ends inside vector 0x13
    expect(decodeIvt(ivt.subarray(0, 10), 0xffff)).toEqual([]);
  });
});
