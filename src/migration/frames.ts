// Live migration's wire format: a stream of frames, the same over TCP (Node) and between tabs
// (BroadcastChannel), each sized and checksummed so that a damaged or cut stream is named in one
// line instead of loading a broken guest:
//
//   frame := type:u8  0:u8  0:u16  length:u32  bodyCrc:u32  headerCrc:u32  body[length]
//            bodyCrc: CRC-32 of the body; headerCrc: of the 12 bytes before it, so that a damaged
//            length is caught at once rather than waited for
//
// What each type's body holds is messages.ts; the order of the conversation is source.ts and
// target.ts. The stream begins with HELLO, whose body starts with the protocol's magic and version,
// so that a peer of another version (or not webx86 at all) is told apart before anything else.
import { crc32 } from '../snapshot/crc32.js';

export const FRAME_HEADER = 16;
/** The largest body: a round of pages (1 MiB of them), or the device state (video memory, disks' overlays). */
export const MAX_FRAME_BODY = 256 * 1024 * 1024;

export const FrameType = {
  /** source -> target: magic, version, the machine's configuration. */
  HELLO: 1,
  /** target -> source: the machine is built and its RAM cleared; send pages. */
  READY: 2,
  /** either way: the sender gives up; the body is a one-line reason (UTF-8). */
  ERROR: 3,
  /** source -> target: pages of RAM (zero pages as a marker only). */
  PAGES: 4,
  /** source -> target: a pre-copy round ended (its figures, for the target to show). */
  ROUND: 5,
  /** source -> target: the stopped machine's state without RAM, and the disks' overlays. */
  STATE: 6,
  /** target -> source: the state is loaded; the target runs the guest from here. */
  DONE: 7,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const TYPE_NAMES = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));

export function frameTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type ${type}`;
}

/** A migration that cannot go on: the message is one line, fit to show as it is. */
export class MigrationError extends Error {
  constructor(message: string) {
    super(message.split('\n')[0]!.slice(0, 500));
    this.name = 'MigrationError';
  }
}

/**
 * The source sent the whole state but never heard the target's DONE (nor its ERROR): the target
 * may be running the guest, so the source must not (source.ts, "Who runs the guest").
 */
export class MigrationUnconfirmed extends MigrationError {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationUnconfirmed';
  }
}

/**
 * A frame could not be handed to the transport and none of its last bytes left this side, so the
 * peer cannot have it whole. Transports throw it when they know; any other failure of a write
 * leaves open whether the peer got the frame.
 */
export class FrameNotSent extends MigrationError {
  constructor(message: string) {
    super(message);
    this.name = 'FrameNotSent';
  }
}

export interface Frame {
  type: FrameType;
  body: Uint8Array;
}

/** One frame as the parts to send (the body's parts are not copied). */
export function encodeFrame(type: FrameType, body: Uint8Array | Uint8Array[]): Uint8Array[] {
  const parts = Array.isArray(body) ? body : [body];
  let length = 0;
  for (const p of parts) length += p.length;
  if (length > MAX_FRAME_BODY) throw new MigrationError(`a ${frameTypeName(type)} frame of ${length} bytes is larger than the ${MAX_FRAME_BODY} a frame may hold`);
  const header = new Uint8Array(FRAME_HEADER);
  const v = new DataView(header.buffer);
  header[0] = type;
  v.setUint32(4, length, true);
  let crc = 0;
  for (const p of parts) crc = crc32(p, crc);
  v.setUint32(8, crc, true);
  v.setUint32(12, crc32(header.subarray(0, 12)), true);
  return [header, ...parts];
}

/** The parts as one array (for transports that send whole messages). */
export function joinParts(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * Cuts a byte stream into checked frames. push() takes bytes as they come (any split), end() says
 * the stream is over; next() resolves to each frame in order, or rejects with a MigrationError:
 * a bad header or checksum at once, a stream that ends inside a frame at its end. `peer` names
 * the other side in messages ("the source", "the target").
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly frames: Frame[] = [];
  private failure: MigrationError | null = null;
  private ended = false;
  private waiter: { resolve(f: Frame): void; reject(e: Error): void } | null = null;

  constructor(private readonly peer: string) {}

  push(bytes: Uint8Array): void {
    if (this.failure !== null || this.ended) return;
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.buffered += bytes.length;
    try {
      this.cut();
    } catch (e) {
      this.fail(e instanceof MigrationError ? e : new MigrationError(String((e as Error)?.message ?? e)));
    }
    this.deliver();
  }

  /** The stream is over: `error` says why when it broke (a reset connection), else it closed. */
  end(error?: string): void {
    if (this.failure !== null || this.ended) return;
    this.ended = true;
    if (this.buffered > 0) {
      const want = this.buffered >= FRAME_HEADER ? FRAME_HEADER + this.peekLength() : FRAME_HEADER;
      this.failure = new MigrationError(`bad frame from ${this.peer}: the stream ended inside a frame (${this.buffered} of ${want} bytes)${error ? ` (${error})` : ''}`);
    } else {
      this.failure = new MigrationError(error !== undefined ? `the connection to ${this.peer} broke: ${error}` : `${this.peer} closed the connection`);
    }
    this.deliver();
  }

  /** Fail now with `e` (a timeout, a local decision): next() rejects with it. */
  fail(e: MigrationError): void {
    if (this.failure === null) this.failure = e;
    this.chunks = [];
    this.buffered = 0;
    this.deliver();
  }

  get failed(): MigrationError | null { return this.failure; }

  /** The next frame; frames already cut come first, then the failure if any. */
  next(): Promise<Frame> {
    if (this.waiter !== null) return Promise.reject(new MigrationError('two readers of one migration stream'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.deliver();
    });
  }

  private deliver(): void {
    const w = this.waiter;
    if (w === null) return;
    const f = this.frames.shift();
    if (f !== undefined) { this.waiter = null; w.resolve(f); return; }
    if (this.failure !== null) { this.waiter = null; w.reject(this.failure); }
  }

  private peekLength(): number {
    const head = this.take(FRAME_HEADER, false);
    return new DataView(head.buffer, head.byteOffset, FRAME_HEADER).getUint32(4, true);
  }

  /** The first `n` buffered bytes (removed when `consume`). */
  private take(n: number, consume = true): Uint8Array {
    const first = this.chunks[0]!;
    let out: Uint8Array;
    if (first.length >= n) out = first.subarray(0, n);
    else {
      out = new Uint8Array(n);
      let at = 0;
      for (const c of this.chunks) {
        const k = Math.min(c.length, n - at);
        out.set(c.subarray(0, k), at);
        at += k;
        if (at === n) break;
      }
    }
    if (consume) {
      let left = n;
      while (left > 0) {
        const c = this.chunks[0]!;
        if (c.length <= left) { this.chunks.shift(); left -= c.length; } else { this.chunks[0] = c.subarray(left); left = 0; }
      }
      this.buffered -= n;
    }
    return out;
  }

  private cut(): void {
    while (this.buffered >= FRAME_HEADER) {
      const head = this.take(FRAME_HEADER, false);
      const v = new DataView(head.buffer, head.byteOffset, FRAME_HEADER);
      const type = head[0]!;
      if (crc32(head.subarray(0, 12)) !== v.getUint32(12, true)) {
        throw new MigrationError(`bad frame from ${this.peer}: a frame header fails its checksum (not a webx86 migration stream, or a damaged one)`);
      }
      if (!TYPE_NAMES.has(type) || head[1] !== 0 || v.getUint16(2, true) !== 0) {
        throw new MigrationError(`bad frame from ${this.peer}: unknown frame type ${type}`);
      }
      const length = v.getUint32(4, true);
      if (length > MAX_FRAME_BODY) throw new MigrationError(`bad frame from ${this.peer}: a ${frameTypeName(type)} frame says it holds ${length} bytes, more than ${MAX_FRAME_BODY}`);
      if (this.buffered < FRAME_HEADER + length) return;
      const bodyCrc = v.getUint32(8, true);
      const whole = this.take(FRAME_HEADER + length);
      // A view into a chunk may share its buffer with the next frame: the body gets its own bytes.
      const body = whole.slice(FRAME_HEADER);
      if (crc32(body) !== bodyCrc) {
        throw new MigrationError(`bad frame from ${this.peer}: a ${frameTypeName(type)} frame of ${length} bytes fails its checksum`);
      }
      this.frames.push({ type: type as FrameType, body });
    }
  }
}
