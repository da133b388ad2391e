// ByteRing against a plain array FIFO model, at the 2^32 counter wrap, and across real threads
// (a Node worker_threads producer/consumer sharing the SharedArrayBuffer), since the ring only
// matters when two agents touch it at once.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { ByteRing } from '../../src/worker/ring';

/** Deterministic byte stream (xorshift32), so both threads can produce/check the same data. */
function streamByte(state: { x: number }): number {
  let x = state.x;
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  state.x = x >>> 0;
  return state.x & 0xff;
}

describe('ByteRing', () => {
  it('rounds capacity up to a power of two and refuses foreign buffers', () => {
    expect(ByteRing.create(1000).capacity).toBe(1024);
    expect(ByteRing.create(1).capacity).toBe(16);
    expect(() => ByteRing.create(0)).toThrow(RangeError);
    expect(() => ByteRing.create(NaN)).toThrow(RangeError);
    expect(() => new ByteRing(new SharedArrayBuffer(64))).toThrow(TypeError);
    expect(() => new ByteRing(new SharedArrayBuffer(4))).toThrow(RangeError);
    const r = ByteRing.create(64);
    const again = new ByteRing(r.buffer);
    expect(again.capacity).toBe(64);
  });

  it('behaves like a bounded FIFO under random write/read sizes', () => {
    const ring = ByteRing.create(256);
    const model: number[] = [];
    const gen = { x: 12345 };
    const rnd = { x: 987654321 };
    for (let step = 0; step < 5000; step++) {
      const size = streamByte(rnd) % 200;
      if (streamByte(rnd) & 1) {
        const chunk = new Uint8Array(size);
        for (let i = 0; i < size; i++) chunk[i] = streamByte(gen);
        const wrote = ring.write(chunk);
        expect(wrote).toBe(Math.min(size, 256 - model.length));
        // Bytes that did not fit were refused; the model records only what was accepted.
        for (let i = 0; i < wrote; i++) model.push(chunk[i]);
      } else {
        const got = ring.read(size);
        expect(got.length).toBe(Math.min(size, model.length));
        expect(Array.from(got)).toEqual(model.splice(0, got.length));
      }
      expect(ring.available).toBe(model.length);
      expect(ring.free).toBe(256 - model.length);
    }
  });

  it('reports full and empty exactly', () => {
    const ring = ByteRing.create(16);
    expect(ring.read().length).toBe(0);
    expect(ring.write(new Uint8Array(20).fill(7))).toBe(16);
    expect(ring.write(new Uint8Array([1]))).toBe(0);
    expect(ring.readInto(new Uint8Array(3))).toBe(3);
    expect(ring.write(new Uint8Array([1, 2, 3, 4]))).toBe(3);
    const all = ring.read();
    expect(Array.from(all)).toEqual([...new Array(13).fill(7), 1, 2, 3]);
  });

  it('keeps working when the free-running counters wrap past 2^32', () => {
    const ring = ByteRing.create(32);
    // Put both counters just below the wrap, as after ~4 GiB of traffic.
    const ctl = new Int32Array(ring.buffer, 0, 2);
    ctl[0] = -10; ctl[1] = -10; // 0xFFFFFFF6
    const model: number[] = [];
    const gen = { x: 42 };
    for (let round = 0; round < 20; round++) {
      const chunk = new Uint8Array(7 + (round % 5) * 5);
      for (let i = 0; i < chunk.length; i++) chunk[i] = streamByte(gen);
      const n = ring.write(chunk);
      model.push(...chunk.subarray(0, n));
      expect(ring.available).toBe(model.length);
      const got = ring.read(5 + round % 3);
      expect(Array.from(got)).toEqual(model.splice(0, got.length));
    }
    expect(ctl[0] >>> 0).toBeLessThan(0x1000); // really wrapped
    expect(Array.from(ring.read())).toEqual(model);
  });

  it('waitForDataAsync resolves on a write and times out without one', async () => {
    const ring = ByteRing.create(64);
    const seen = ring.writeCount;
    expect(await ring.waitForDataAsync(seen, 20)).toBe('timed-out');
    const waiting = ring.waitForDataAsync(seen, 5000);
    setTimeout(() => ring.write(new Uint8Array([9])), 10);
    expect(await waiting).toBe('ok');
    // A stale count returns at once.
    expect(await ring.waitForDataAsync(seen, 5000)).toBe('not-equal');
  });

  it('carries a stream between threads without loss or reordering (worker produces)', async () => {
    const ring = ByteRing.create(4096);
    const total = 2_000_000;
    const worker = new Worker(fileURLToPath(new URL('./ring-peer.mjs', import.meta.url)), {
      workerData: { buffer: ring.buffer, role: 'produce', total, seed: 777 },
    });
    const exited = new Promise<number>((res, rej) => { worker.on('exit', res); worker.on('error', rej); });
    const check = { x: 777 };
    let received = 0;
    let mismatches = 0;
    const buf = new Uint8Array(1500);
    while (received < total) {
      const seen = ring.writeCount;
      const n = ring.readInto(buf);
      if (n === 0) {
        const r = await ring.waitForDataAsync(seen, 10_000);
        expect(r).not.toBe('timed-out');
        continue;
      }
      for (let i = 0; i < n; i++) if (buf[i] !== streamByte(check)) mismatches++;
      received += n;
    }
    expect(mismatches).toBe(0);
    expect(await exited).toBe(0);
    expect(ring.available).toBe(0);
  }, 60_000);

  it('carries a stream between threads (worker consumes with blocking waits)', async () => {
    const ring = ByteRing.create(1024);
    const total = 1_000_000;
    const worker = new Worker(fileURLToPath(new URL('./ring-peer.mjs', import.meta.url)), {
      workerData: { buffer: ring.buffer, role: 'consume', total, seed: 4242 },
    });
    const result = new Promise<{ mismatches: number; received: number }>((res, rej) => {
      worker.on('message', res); worker.on('error', rej);
    });
    const gen = { x: 4242 };
    let sent = 0;
    const chunk = new Uint8Array(700);
    while (sent < total) {
      const len = Math.min(chunk.length, total - sent);
      for (let i = 0; i < len; i++) chunk[i] = streamByte(gen);
      let off = 0;
      while (off < len) {
        const seenRead = ring.readCount;
        const n = ring.write(chunk.subarray(off, len));
        off += n;
        if (n === 0) expect(await ring.waitForSpaceAsync(seenRead, 10_000)).not.toBe('timed-out');
      }
      sent += len;
    }
    expect(await result).toEqual({ mismatches: 0, received: total });
    await worker.terminate();
  }, 60_000);
});
