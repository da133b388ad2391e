// fillBytes (src/cpu/fill.ts) does what Uint8Array.fill does, at every alignment and length.
import { describe, expect, it } from 'vitest';
import { fillBytes } from '../../src/cpu/fill';

describe('fillBytes', () => {
  it('matches Uint8Array.fill for every start, end and byte offset, on shared and plain memory', () => {
    for (const shared of [true, false]) {
      for (const offset of [0, 1, 2, 3]) {
        for (const [from, to] of [[0, 200], [1, 199], [3, 130], [5, 6], [0, 0], [70, 69], [-5, 300], [2, 67]]) {
          const buf = shared ? new SharedArrayBuffer(256) : new ArrayBuffer(256);
          const a = new Uint8Array(buf, offset, 200).map((_, i) => i);
          const b = new Uint8Array(200).map((_, i) => i);
          fillBytes(a, 0x1a5, from, to);
          b.fill(0xa5, from, to);
          expect(Array.from(a), `${shared} ${offset} ${from}..${to}`).toEqual(Array.from(b));
        }
      }
    }
  });
});
