// The pieces of the snapshot format on their own: device states as tagged values, memory as
// pages without its zero pages, and the bytes reader's bounds. No machine needed.
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, SnapshotError } from '../../src/snapshot/bytes.js';
import { decodeValue, encodeValue } from '../../src/snapshot/value-codec.js';
import { decodePages, encodePages, PAGE_SIZE } from '../../src/snapshot/ram-pages.js';

/** Byte equality (vitest's deep equality is slow on large arrays). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

const BIG_BUDGET = () => ({ bytes: 1 << 30 });

function roundTrip(v: unknown, budget = BIG_BUDGET()): unknown {
  const w = new ByteWriter();
  encodeValue(w, v, 'test');
  const bytes = w.finish();
  const r = new ByteReader(bytes, 0, bytes.length, 'test value');
  const out = decodeValue(r, budget);
  r.expectEnd();
  return out;
}

/** Decode hand-made bytes. */
function decodeBytes(bytes: number[], budget = BIG_BUDGET()): unknown {
  const b = Uint8Array.from(bytes);
  return decodeValue(new ByteReader(b, 0, b.length, 'test value'), budget);
}

const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const str = (s: string) => [...u32(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

describe('snapshot values (value-codec.ts)', () => {
  it('round-trips plain data exactly: numbers JSON would lose, undefined, nesting', () => {
    const v = {
      a: 1, b: -0, c: NaN, d: Infinity, e: -Infinity, f: 2 ** 53 + 2, g: 0.1, s: 'héllo ✓', t: '',
      u: undefined, n: null, yes: true, no: false,
      list: [1, 'two', [3, [4]], { five: 5 }, undefined, null],
      nested: { deeper: { deepest: [] as unknown[] } },
    };
    const out = roundTrip(v) as typeof v;
    expect(out).toStrictEqual(v);
    expect(Object.is(out.b, -0)).toBe(true);
    expect(Number.isNaN(out.c)).toBe(true);
    expect('u' in out).toBe(true);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  it('round-trips every kind of typed array, views of larger buffers as their own bytes', () => {
    const backing = new ArrayBuffer(64);
    new Uint8Array(backing).forEach((_, i, a) => { a[i] = i * 7; });
    const arrays = [
      Uint8Array.of(1, 2, 255), Int8Array.of(-1, 5), Uint8ClampedArray.of(0, 255), Uint16Array.of(0xbeef),
      Int16Array.of(-2), Uint32Array.of(0xdeadbeef), Int32Array.of(-3), Float32Array.of(1.5, NaN),
      Float64Array.of(-0, Infinity), BigInt64Array.of(-5n), BigUint64Array.of(2n ** 64n - 1n),
      new Uint8Array(backing, 3, 10), new Uint32Array(backing, 8, 4),
    ];
    const out = roundTrip(arrays) as ArrayBufferView[];
    expect(out).toStrictEqual(arrays);
    out.forEach((a, i) => {
      expect(a.constructor).toBe(arrays[i]!.constructor);
      expect(a.byteOffset).toBe(0);
      expect(a.buffer.byteLength).toBe(arrays[i]!.byteLength);
    });
  });

  it('writes large typed arrays as pages, zero pages left out (blank video memory costs nothing)', () => {
    const vram = new Uint32Array(4 * 1024 * 1024); // 16 MiB
    vram[5] = 0x11223344;
    vram[vram.length - 1] = 7;
    const w = new ByteWriter();
    encodeValue(w, { vram }, 'test');
    expect(w.length).toBeLessThan(3 * PAGE_SIZE);
    const out = roundTrip({ vram }) as { vram: Uint32Array };
    expect(out.vram).toBeInstanceOf(Uint32Array);
    expect(out.vram.length).toBe(vram.length);
    // (Buffer's compare: vitest's deep equality walks 4 M elements slowly.)
    expect(Buffer.from(out.vram.buffer).equals(Buffer.from(vram.buffer))).toBe(true);
  });

  it('charges typed arrays to the budget: a few bytes cannot ask for gigabytes', () => {
    const encoded = (v: unknown) => { const w = new ByteWriter(); encodeValue(w, v, 'test'); return w.finish(); };
    const decode = (bytes: Uint8Array, budget: number) => decodeValue(new ByteReader(bytes, 0, bytes.length, 'test value'), { bytes: budget });
    // Dense arrays count too, all of them together.
    const dense = encoded([new Uint8Array(1000), new Uint16Array(500)]);
    expect(() => decode(dense, 1999)).toThrow(/more typed arrays than a machine's state can \(1000 bytes, 999 left\)/);
    expect(decode(dense, 2000)).toHaveLength(2);
    // Paged ones: 1 MiB of zeros is a few bytes in the file, but is still 1 MiB to hold.
    const paged = encoded([new Uint8Array(1 << 20), new Uint8Array(1 << 20)]);
    expect(paged.length).toBeLessThan(64);
    expect(() => decode(paged, (1 << 20) - 1)).toThrow(/holds 1048576 bytes of pages, where at most 1048575 fit/);
    expect(() => decode(paged, (2 << 20) - 1)).toThrow(/holds 1048576 bytes of pages, where at most 1048575 fit/);
    expect((decode(paged, 2 << 20) as Uint8Array[])[1]!.length).toBe(1 << 20);
    // A paged array claiming 4 GiB - 4 KiB of pages with none stored: refused before allocating.
    expect(() => decodeBytes([9, 0, ...u32(0xffff_f000), ...u32(0)], { bytes: 1 << 26 })).toThrow(/at most/);
  });

  it('refuses what a state must not hold when writing, naming where', () => {
    const bad = (v: unknown) => () => encodeValue(new ByteWriter(), { inner: v }, 'device x');
    expect(bad(new Map())).toThrow(/device x\.inner is a Map/);
    expect(bad(() => 1)).toThrow(/device x\.inner is a function/);
    expect(bad(1n)).toThrow(/bigint/);
    expect(bad(new DataView(new ArrayBuffer(4)))).toThrow(/DataView/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(bad(cyclic)).toThrow(/nested more than/);
    const proto = JSON.parse('{"__proto__": {"polluted": 1}}') as unknown;
    expect(bad(proto)).toThrow(/__proto__/);
  });

  it('refuses keys that reach a prototype, and never pollutes one', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const bytes = [7, ...u32(1), ...str(key), 7, ...u32(1), ...str('polluted'), 3];
      expect(() => decodeBytes(bytes)).toThrow(SnapshotError);
      expect(() => decodeBytes(bytes)).toThrow(new RegExp(`key '${key}'`));
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // The same bytes with a harmless key decode: it is the key that is refused.
    expect(decodeBytes([7, ...u32(1), ...str('ok'), 3])).toEqual({ ok: true });
  });

  it('turns every kind of damage into a SnapshotError', () => {
    const cases: [number[], RegExp][] = [
      [[42], /unknown type 42/],
      [[4, 0, 0], /ends early/],
      [[6, ...u32(1000)], /array of 1000 elements in 0 bytes/],
      [[7, ...u32(0xffffffff)], /object of 4294967295 keys/],
      [[7, ...u32(2), ...str('a'), 1, ...str('a'), 1], /key 'a' twice/],
      [[5, ...u32(2), 0xc3, 0x28], /not UTF-8/],
      [[8, 99, ...u32(0)], /unknown kind 99/],
      [[8, 5, ...u32(6), 1, 2, 3, 4, 5, 6], /Uint32Array of 6 bytes/],
      [[8, 0, ...u32(10), 1], /ends early/],
      [[...new Array<number>(100).fill(6).flatMap(() => [6, ...u32(1)]), 1], /nested more than/],
    ];
    for (const [bytes, message] of cases) {
      let error: unknown;
      try { decodeBytes(bytes); } catch (e) { error = e; }
      expect(error, message.source).toBeInstanceOf(SnapshotError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
  });
});

describe('memory as pages (ram-pages.ts)', () => {
  function pages(ram: Uint8Array, skipPage?: (pfn: number) => boolean) {
    const w = new ByteWriter();
    const counts = encodePages(w, ram, { skipPage });
    const bytes = w.finish();
    const decoded = decodePages(new ByteReader(bytes, 0, bytes.length, 'RAM'), ram.length);
    return { counts, bytes, decoded };
  }

  it('stores only pages that are not all zeros, in runs, and loads the rest as zeros', () => {
    const ram = new Uint8Array(64 * PAGE_SIZE);
    for (const pfn of [0, 1, 2, 10, 63]) ram[pfn * PAGE_SIZE + (pfn % PAGE_SIZE)] = pfn + 1;
    ram[20 * PAGE_SIZE + PAGE_SIZE - 1] = 9; // the last byte of a page counts too
    const { counts, bytes, decoded } = pages(ram);
    expect(counts).toEqual({ stored: 6, zero: 58, skipped: 0 });
    // The header, four runs (0-2, 10, 20, 63), the six pages: nothing else.
    expect(bytes.length).toBe(8 + 4 * 8 + 6 * PAGE_SIZE);
    expect(decoded.stored).toBe(6);
    expect(same(decoded.ram, ram)).toBe(true);
  });

  it('leaves out the pages skipPage names (the balloon\'s), which load as zeros; it is asked only of non-zero pages', () => {
    const ram = new Uint8Array(8 * PAGE_SIZE).fill(0xaa);
    ram.fill(0, 6 * PAGE_SIZE, 7 * PAGE_SIZE);
    const asked: number[] = [];
    const { counts, decoded } = pages(ram, (pfn) => { asked.push(pfn); return pfn === 2 || pfn === 3; });
    expect(asked).toEqual([0, 1, 2, 3, 4, 5, 7]);
    expect(counts).toEqual({ stored: 5, zero: 1, skipped: 2 });
    const want = ram.slice();
    want.fill(0, 2 * PAGE_SIZE, 4 * PAGE_SIZE);
    expect(same(decoded.ram, want)).toBe(true);
  });

  it('refuses run lists that overlap, touch, go backwards, are empty or run past the end', () => {
    const page = new Array<number>(PAGE_SIZE).fill(1);
    const body = (runs: [number, number][], nPages: number, size = 8 * PAGE_SIZE) =>
      Uint8Array.from([...u32(size), ...u32(runs.length), ...runs.flatMap(([a, b]) => [...u32(a), ...u32(b)]),
        ...new Array<number[]>(nPages).fill(page).flat()]);
    const decode = (b: Uint8Array) => decodePages(new ByteReader(b, 0, b.length, 'RAM'), 8 * PAGE_SIZE);
    expect(decode(body([[1, 2], [5, 1]], 3)).stored).toBe(3);
    for (const runs of [[[1, 2], [2, 1]], [[1, 2], [3, 1]], [[5, 1], [1, 1]], [[1, 0]], [[7, 2]], [[0xffffffff, 2]]] as [number, number][][]) {
      expect(() => decode(body(runs, 2)), JSON.stringify(runs)).toThrow(/out of order or outside/);
    }
    expect(() => decode(body([[1, 3]], 2))).toThrow(/has 8192 bytes of pages, its runs name 12288/);
    expect(() => decode(body([], 0, 9 * PAGE_SIZE))).toThrow(/at most 32768 fit/);
    expect(() => decode(body([], 0, 100))).toThrow(SnapshotError);
    expect(() => decode(Uint8Array.from([...u32(8 * PAGE_SIZE), ...u32(0x2000_0000)]))).toThrow(/runs of pages do not fit/);
  });
});
