// A single-producer, single-consumer byte ring in a SharedArrayBuffer.
//
// The page and the VM worker exchange the hot byte streams (COM1 output, key input) through
// these rings instead of one postMessage per byte: the producer copies bytes in and bumps a
// counter, the consumer copies them out. Neither side ever blocks the other; a full ring is
// reported to the producer, which decides whether to keep a backlog or drop.
//
// Layout of the shared buffer:
//   Int32 [HEADER_WORDS]  control words (below)
//   Uint8 [capacity]      data, capacity a power of two
//
// WRITE_COUNT and READ_COUNT are free-running byte counters that wrap at 2^32. The number of
// bytes in the ring is (WRITE_COUNT - READ_COUNT) mod 2^32, which never exceeds capacity, and a
// byte's slot is its counter value masked by (capacity - 1). Only the producer stores
// WRITE_COUNT and only the consumer stores READ_COUNT, so plain Atomics.load/store suffice; the
// data copy happens-before the counter store, and the consumer's Atomics.load of the counter
// happens-before its copy out (Atomics are sequentially consistent).
//
// Notification: each counter doubles as a futex word. After a write the producer calls
// Atomics.notify on WRITE_COUNT; a consumer waits (Atomics.wait in a worker, Atomics.waitAsync
// on the main thread, which may not block) for WRITE_COUNT to differ from the value it last saw.
// Symmetrically the consumer notifies READ_COUNT after a read, so a producer with a backlog can
// wait for space.

/** Int32 index of the producer's free-running byte counter. */
const WRITE_COUNT = 0;
/** Int32 index of the consumer's free-running byte counter. */
const READ_COUNT = 1;
/** Int32 index of the ring's capacity in bytes (written once at creation, checked on attach). */
const CAPACITY = 2;
/** Int32 index of a magic word so attaching to a foreign buffer fails loudly. */
const MAGIC = 3;
const HEADER_WORDS = 4;
const HEADER_BYTES = HEADER_WORDS * 4;
const RING_MAGIC = 0x52494e47; // "RING"

/** Largest ring we allow: the counters must be able to tell "full" from "empty" (< 2^31). */
const MAX_CAPACITY = 1 << 30;

export type RingWaitResult = 'ok' | 'not-equal' | 'timed-out';

export class ByteRing {
  /** The shared buffer; post it to the other side and wrap it there with `new ByteRing(buffer)`. */
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  private readonly ctl: Int32Array;
  private readonly data: Uint8Array;
  private readonly mask: number;

  /** Allocate a new ring holding up to `capacity` bytes (rounded up to a power of two, at least 16). */
  static create(capacity: number): ByteRing {
    if (!Number.isFinite(capacity) || capacity <= 0 || capacity > MAX_CAPACITY) {
      throw new RangeError(`ring capacity out of range: ${capacity}`);
    }
    let size = 16;
    while (size < capacity) size *= 2;
    const buffer = new SharedArrayBuffer(HEADER_BYTES + size);
    const ctl = new Int32Array(buffer, 0, HEADER_WORDS);
    ctl[CAPACITY] = size;
    ctl[MAGIC] = RING_MAGIC;
    return new ByteRing(buffer);
  }

  /** Attach to a ring created elsewhere (the other thread's `ring.buffer`). */
  constructor(buffer: SharedArrayBuffer) {
    if (buffer.byteLength < HEADER_BYTES) throw new RangeError('buffer too small for a ring');
    this.ctl = new Int32Array(buffer, 0, HEADER_WORDS);
    const capacity = Atomics.load(this.ctl, CAPACITY);
    if (Atomics.load(this.ctl, MAGIC) !== RING_MAGIC || capacity <= 0 || (capacity & (capacity - 1)) !== 0
        || HEADER_BYTES + capacity !== buffer.byteLength) {
      throw new TypeError('buffer does not hold a ByteRing');
    }
    this.buffer = buffer;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.data = new Uint8Array(buffer, HEADER_BYTES, capacity);
  }

  /** Bytes waiting to be read. */
  get available(): number {
    return (Atomics.load(this.ctl, WRITE_COUNT) - Atomics.load(this.ctl, READ_COUNT)) >>> 0;
  }

  /** Bytes that can be written now without overwriting unread data. */
  get free(): number {
    return this.capacity - this.available;
  }

  // ---- producer side -------------------------------------------------------------------------

  /**
   * Copy as many bytes of `bytes` as fit; returns how many were written (0 when full).
   * Wakes a waiting consumer when anything was written.
   */
  write(bytes: Uint8Array): number {
    const w = Atomics.load(this.ctl, WRITE_COUNT) >>> 0;
    const r = Atomics.load(this.ctl, READ_COUNT) >>> 0;
    const space = this.capacity - ((w - r) >>> 0);
    const n = Math.min(space, bytes.length);
    if (n === 0) return 0;
    const at = w & this.mask;
    const first = Math.min(n, this.capacity - at);
    this.data.set(bytes.subarray(0, first), at);
    if (n > first) this.data.set(bytes.subarray(first, n), 0);
    Atomics.store(this.ctl, WRITE_COUNT, (w + n) | 0);
    Atomics.notify(this.ctl, WRITE_COUNT);
    return n;
  }

  /** Wait (blocking; workers only) until the consumer has read since `readCount` was sampled. */
  waitForSpace(readCount: number, timeoutMs = Infinity): RingWaitResult {
    return Atomics.wait(this.ctl, READ_COUNT, readCount | 0, timeoutMs);
  }

  /** The consumer's counter, to pass to waitForSpace / waitForSpaceAsync. */
  get readCount(): number {
    return Atomics.load(this.ctl, READ_COUNT);
  }

  /** Resolve once the consumer has read since `readCount` was sampled (or on timeout). */
  waitForSpaceAsync(readCount: number, timeoutMs = Infinity): Promise<RingWaitResult> {
    return waitAsync(this.ctl, READ_COUNT, readCount | 0, timeoutMs);
  }

  // ---- consumer side -------------------------------------------------------------------------

  /** Copy up to `dst.length` bytes out into `dst`; returns how many were read. */
  readInto(dst: Uint8Array): number {
    const r = Atomics.load(this.ctl, READ_COUNT) >>> 0;
    const w = Atomics.load(this.ctl, WRITE_COUNT) >>> 0;
    const n = Math.min((w - r) >>> 0, dst.length);
    if (n === 0) return 0;
    const at = r & this.mask;
    const first = Math.min(n, this.capacity - at);
    dst.set(this.data.subarray(at, at + first), 0);
    if (n > first) dst.set(this.data.subarray(0, n - first), first);
    Atomics.store(this.ctl, READ_COUNT, (r + n) | 0);
    Atomics.notify(this.ctl, READ_COUNT);
    return n;
  }

  /** Take everything that is waiting (an empty array when nothing is). */
  read(max = this.capacity): Uint8Array {
    const n = Math.min(this.available, max);
    const out = new Uint8Array(n);
    const got = this.readInto(out);
    return got === n ? out : out.subarray(0, got);
  }

  /** The producer's counter, to pass to waitForData / waitForDataAsync. */
  get writeCount(): number {
    return Atomics.load(this.ctl, WRITE_COUNT);
  }

  /** Wait (blocking; workers only) until the producer has written since `writeCount` was sampled. */
  waitForData(writeCount: number, timeoutMs = Infinity): RingWaitResult {
    return Atomics.wait(this.ctl, WRITE_COUNT, writeCount | 0, timeoutMs);
  }

  /**
   * Resolve once the producer has written since `writeCount` was sampled (or on timeout).
   * Never blocks, so it is what the main thread and the event-loop-driven worker use.
   */
  waitForDataAsync(writeCount: number, timeoutMs = Infinity): Promise<RingWaitResult> {
    return waitAsync(this.ctl, WRITE_COUNT, writeCount | 0, timeoutMs);
  }
}

/**
 * Atomics.waitAsync where the engine has it (Chromium, Node >= 16); otherwise poll, which keeps
 * the same contract with more latency (Firefox before 145 lacks waitAsync).
 */
function waitAsync(ctl: Int32Array, index: number, value: number, timeoutMs: number): Promise<RingWaitResult> {
  const native = (Atomics as unknown as {
    waitAsync?: (a: Int32Array, i: number, v: number, t?: number) =>
      { async: boolean; value: RingWaitResult | Promise<RingWaitResult> };
  }).waitAsync;
  if (native) {
    const r = native(ctl, index, value, timeoutMs);
    return r.async ? (r.value as Promise<RingWaitResult>) : Promise.resolve(r.value as RingWaitResult);
  }
  if (Atomics.load(ctl, index) !== value) return Promise.resolve('not-equal');
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve) => {
    const poll = () => {
      if (Atomics.load(ctl, index) !== value) resolve('ok');
      else if (performance.now() >= deadline) resolve('timed-out');
      else setTimeout(poll, 4);
    };
    setTimeout(poll, 4);
  });
}
