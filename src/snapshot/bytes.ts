// Little-endian byte writing and bounds-checked reading for the snapshot format. Every length or
// offset the reader takes from a file is checked against what is left before it is used, so a
// damaged file ends in a SnapshotError, never in a RangeError from a typed array.

/** A snapshot that cannot be written or read, or does not fit the machine: the message is one line. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/**
 * `b` over a plain ArrayBuffer, as CompressionStream and crypto.subtle take it: a view of
 * shared memory (a worker's) is copied, any other is used as it is.
 */
export function unshared(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}

const utf8Encoder = new TextEncoder();
/** fatal: a string that is not UTF-8 is damage, not something to replace with U+FFFD. */
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Appends to a growing buffer; `chunks()` hands the bytes over without another copy of large blocks. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private at = 0;
  /** Finished parts: small writes are gathered in `buf`, large blocks are kept by reference. */
  private readonly done: Uint8Array[] = [];
  private doneBytes = 0;

  get length(): number { return this.doneBytes + this.at; }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    bigger.set(this.buf.subarray(0, this.at));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u8(v: number): void { this.room(1); this.buf[this.at++] = v; }
  u16(v: number): void { this.room(2); this.view.setUint16(this.at, v, true); this.at += 2; }
  u32(v: number): void { this.room(4); this.view.setUint32(this.at, v, true); this.at += 4; }
  f64(v: number): void { this.room(8); this.view.setFloat64(this.at, v, true); this.at += 8; }

  /** A u32 byte length, then the UTF-8 bytes. */
  string(s: string): void {
    const b = utf8Encoder.encode(s);
    this.u32(b.length);
    this.bytes(b);
  }

  /** Raw bytes. Blocks of 64 KiB and more are kept by reference: the caller must not change them until chunks() is used. */
  bytes(b: Uint8Array): void {
    if (b.length >= 0x10000) {
      this.flush();
      this.done.push(b);
      this.doneBytes += b.length;
      return;
    }
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  private flush(): void {
    if (this.at === 0) return;
    this.done.push(this.buf.slice(0, this.at));
    this.doneBytes += this.at;
    this.at = 0;
  }

  /** Everything written, in order, as a few arrays (large blocks as they were given). */
  chunks(): Uint8Array[] {
    this.flush();
    return this.done.slice();
  }

  /** Everything written, in one array. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks()) { out.set(c, at); at += c.length; }
    return out;
  }
}

/** Reads `b[start, end)`; `where` names the part of the file in error messages. */
export class ByteReader {
  private readonly view: DataView;
  at: number;

  constructor(readonly b: Uint8Array, start: number, readonly end: number, readonly where: string) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.at = start;
  }

  get left(): number { return this.end - this.at; }

  /** Claim `n` more bytes, or fail naming this part of the file. */
  private take(n: number): number {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.end - this.at) {
      throw new SnapshotError(`snapshot is corrupt: ${this.where} ends early`);
    }
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(): number { return this.b[this.take(1)]!; }
  u16(): number { return this.view.getUint16(this.take(2), true); }
  u32(): number { return this.view.getUint32(this.take(4), true); }
  f64(): number { return this.view.getFloat64(this.take(8), true); }

  /** `n` bytes, as a view into the buffer (no copy). */
  bytes(n: number): Uint8Array {
    const at = this.take(n);
    return this.b.subarray(at, at + n);
  }

  string(): string {
    const raw = this.bytes(this.u32());
    try {
      return utf8Decoder.decode(raw);
    } catch {
      throw new SnapshotError(`snapshot is corrupt: ${this.where} has a string that is not UTF-8`);
    }
  }

  /** A reader over the next `n` bytes, which this one skips. */
  sub(n: number, where: string): ByteReader {
    const at = this.take(n);
    return new ByteReader(this.b, at, at + n, where);
  }

  /** Fail unless every byte was read: leftovers mean the writer and reader disagree. */
  expectEnd(): void {
    if (this.at !== this.end) throw new SnapshotError(`snapshot is corrupt: ${this.end - this.at} unread bytes at the end of ${this.where}`);
  }
}
