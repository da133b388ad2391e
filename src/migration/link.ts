// One side of a migration's conversation over any transport (tcp.ts in Node, broadcast.ts between
// tabs): frames out, checked frames in, the peer's ERROR turned into a MigrationError, and a
// deadline on every answer so that a silent peer ends the migration instead of hanging it.
import { encodeFrame, FrameNotSent, frameTypeName, FrameType, MigrationError, type Frame, type FrameReader } from './frames.js';
import { decodeError, encodeError } from './messages.js';

/** A transport's end: what it must offer the conversation. */
export interface MigrationLink {
  /**
   * Send one frame's parts, in order; resolves when the transport can take more (backpressure).
   * Rejects when it is closed: with FrameNotSent when the frame's last bytes never left this side.
   */
  write(parts: Uint8Array[]): Promise<void>;
  /** The peer's frames, cut and checked. */
  readonly reader: FrameReader;
  /** Close the transport (after the last write has gone, where the transport can tell). */
  close(): void;
}

/** How long a peer may keep us waiting for a frame before the migration fails. */
export const ANSWER_TIMEOUT_MS = 60_000;

export class Peer {
  /** The peer sent ERROR: it knows the migration is over, so abort() tells it nothing. */
  private peerGaveUp = false;

  constructor(private readonly link: MigrationLink, readonly name: string) {}

  /** The peer sent ERROR: it has given the migration up (and will not run the guest). */
  get gaveUp(): boolean {
    return this.peerGaveUp;
  }

  /** Send a frame; a failure is a MigrationError, a FrameNotSent when the peer cannot have the frame whole. */
  async send(type: FrameType, body: Uint8Array | Uint8Array[]): Promise<void> {
    if (this.link.reader.failed) throw new FrameNotSent(this.link.reader.failed.message);
    try {
      await this.link.write(encodeFrame(type, body));
    } catch (e) {
      const why = this.link.reader.failed ?? (e instanceof MigrationError ? e : new MigrationError(`cannot send to ${this.name}: ${(e as Error)?.message ?? e}`));
      throw e instanceof FrameNotSent && !(why instanceof FrameNotSent) ? new FrameNotSent(why.message) : why;
    }
  }

  /**
   * The next frame, which must be one of `types`; the peer's ERROR frame, another type, silence
   * past `timeoutMs` or a broken stream give a MigrationError.
   */
  async expect(types: readonly FrameType[], timeoutMs = ANSWER_TIMEOUT_MS): Promise<Frame> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          const e = new MigrationError(`${this.name} did not answer within ${(timeoutMs / 1000).toFixed(0)} s`);
          this.link.reader.fail(e);
          reject(e);
        }, timeoutMs);
      }
    });
    try {
      const f = await Promise.race([this.link.reader.next(), timeout]);
      if (f.type === FrameType.ERROR) this.peerGaveUp = true;
      if (f.type === FrameType.ERROR) throw new MigrationError(`${this.name} gave up: ${decodeError(f.body)}`);
      if (!types.includes(f.type)) {
        throw new MigrationError(`bad frame from ${this.name}: a ${frameTypeName(f.type)} frame where ${types.map(frameTypeName).join(' or ')} belongs`);
      }
      return f;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tell the peer why we give up (best effort: the link may be gone already), then close. */
  async abort(reason: string): Promise<void> {
    try {
      if (!this.peerGaveUp) {
        await Promise.race([this.link.write(encodeFrame(FrameType.ERROR, encodeError(reason))), new Promise((r) => setTimeout(r, 1000))]);
      }
    } catch { /* the link is gone: nothing to tell */ }
    this.close();
  }

  close(): void {
    try { this.link.close(); } catch { /* closed already */ }
  }
}
