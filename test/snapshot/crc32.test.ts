// CRC-32 (src/snapshot/crc32.ts; snapshots, migration frames, XZ and PNG use it) against the
// standard's check value and against the bit-at-a-time definition (ISO 3309 / IEEE 802.3,
// reflected polynomial 0xEDB88320), over every alignment and tail length the word-wise loop
// has, and continued over data that arrives in parts.
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/snapshot/crc32.js';

function bitwise(b: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32', () => {
  it('gives the check value of "123456789" (0xCBF43926)', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('equals the bit-at-a-time definition at every offset and length, and continues across parts', () => {
    const data = new Uint8Array(4096 + 64);
    let seed = 12345;
    for (let i = 0; i < data.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; data[i] = seed >>> 24; }
    for (let offset = 0; offset < 12; offset++) {
      for (const length of [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000, 4096]) {
        const part = data.subarray(offset, offset + length);
        expect(crc32(part)).toBe(bitwise(part));
        const cut = length >> 1;
        expect(crc32(part.subarray(cut), crc32(part.subarray(0, cut)))).toBe(bitwise(part));
      }
    }
  });
});
