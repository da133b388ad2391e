// The two ways a snapshot's payload is (de)compressed (src/snapshot/container.ts): the web
// streams the page uses, and node:zlib in Node. Each reads what the other wrote, and each stops a
// decompression bomb at the payload size the header gives.
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SnapshotError } from '../../src/snapshot/bytes.js';
import { HEADER_BYTES, seal, streamDeflate, unseal } from '../../src/snapshot/container.js';

const MIB = 1024 * 1024;

/** Bytes that compress a little, as a guest's RAM does. */
function payload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = (i & 64) ? 0 : x >>> 24; }
  return b;
}

describe('snapshot compression', () => {
  it('the streams and node:zlib each read what the other wrote', async () => {
    const chunks = [payload(256 * 1024), payload(100), payload(64 * 1024 + 7)];
    const whole = Buffer.concat(chunks);
    const byStreams = await seal(chunks, 8 * MIB, streamDeflate);
    const byZlib = await seal(chunks, 8 * MIB);
    expect(byZlib.length).toBeLessThan(whole.length);
    expect(Buffer.from((await unseal(byStreams)).payload)).toEqual(whole);
    expect(Buffer.from((await unseal(byZlib, streamDeflate)).payload)).toEqual(whole);
  }, 60_000);

  it.each([['the streams', streamDeflate], ['node:zlib', undefined]] as const)('%s stop a bomb at the header\'s size', async (_what, deflate) => {
    const good = await seal([payload(1000)], 8 * MIB);
    // 64 MiB of zeros deflate to ~64 KiB; the header says the payload is 1 MiB.
    const bomb = deflateRawSync(Buffer.alloc(64 * MIB));
    const f = new Uint8Array(HEADER_BYTES + bomb.length);
    f.set(good.subarray(0, HEADER_BYTES));
    f.set(bomb, HEADER_BYTES);
    const v = new DataView(f.buffer);
    const { crc32 } = await import('../../src/snapshot/crc32.js');
    v.setUint32(20, MIB, true);
    v.setUint32(28, bomb.length, true);
    v.setUint32(32, crc32(bomb), true);
    v.setUint32(40, crc32(f.subarray(0, 40)), true);
    const e = await unseal(f, deflate).then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(SnapshotError);
    expect((e as Error).message).toBe('snapshot is corrupt: it decompresses to more than the 1048576 bytes its header says');
  }, 60_000);
});
