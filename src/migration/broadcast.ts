// Live migration between tabs of one origin: a BroadcastChannel named after the migration
// (`webx86-migrate:NAME`) carries the rendezvous and then the frames. A tab opened with
// ?incoming=NAME waits (awaitMigration); the tab that sends its VM offers (offerMigration), the
// first waiting tab accepts, and the source picks it by its id, so that two waiting tabs do not
// both take the guest. Every message names its session; anything else on the channel is ignored.
//
// A BroadcastChannel has no flow control (messages queue without bound), so the receiver acks
// the bytes it took and the sender keeps at most WINDOW bytes unacknowledged.
import { FrameNotSent, FrameReader, MigrationError } from './frames.js';
import { joinParts } from './frames.js';
import type { MigrationLink } from './link.js';

/** Bytes the sender may have in flight before it waits for the receiver's ack. */
const WINDOW = 16 * 1024 * 1024;
/** A receiver that acks nothing for this long is gone (its tab closed). */
const ACK_TIMEOUT_MS = 30_000;
/** How long an offer waits for a tab to accept it. */
export const OFFER_TIMEOUT_MS = 5_000;

type Direction = 'to-target' | 'to-source';

interface Message {
  t: 'offer' | 'accept' | 'go' | 'data' | 'ack' | 'close';
  session: string;
  /** accept, go: the target tab's id. */
  tab?: string;
  dir?: Direction;
  bytes?: Uint8Array;
  /** ack: bytes taken so far. */
  count?: number;
}

export function channelName(name: string): string {
  return `webx86-migrate:${name}`;
}

/** A migration's name: what a user types, kept to safe characters. */
export function checkMigrationName(name: unknown): string {
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) {
    throw new MigrationError('a migration name is 1 to 64 letters, digits, dots, dashes or underscores');
  }
  return name;
}

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function asMessage(data: unknown): Message | null {
  if (typeof data !== 'object' || data === null) return null;
  const m = data as Record<string, unknown>;
  if (typeof m.t !== 'string' || typeof m.session !== 'string') return null;
  return m as unknown as Message;
}

/** The link of one side of `session` over `ch` (which it closes when done). */
function channelLink(ch: BroadcastChannel, session: string, side: 'source' | 'target'): MigrationLink {
  const out: Direction = side === 'source' ? 'to-target' : 'to-source';
  const peer = side === 'source' ? 'the target tab' : 'the source tab';
  const reader = new FrameReader(peer);
  let sent = 0;
  let acked = 0;
  let received = 0;
  let closed = false;
  let ackWaiter: (() => void) | null = null;
  ch.onmessage = (ev: MessageEvent) => {
    const m = asMessage(ev.data);
    if (m === null || m.session !== session || m.dir === out) return;
    if (m.t === 'data') {
      if (!(m.bytes instanceof Uint8Array)) { reader.fail(new MigrationError(`bad message from ${peer}: data without bytes`)); return; }
      reader.push(m.bytes);
      received += m.bytes.length;
      if (!closed) ch.postMessage({ t: 'ack', session, dir: out, count: received } satisfies Message);
    } else if (m.t === 'ack' && typeof m.count === 'number' && Number.isFinite(m.count)) {
      acked = Math.max(acked, m.count);
      ackWaiter?.();
    } else if (m.t === 'close') {
      reader.end();
      ackWaiter?.();
    }
  };
  return {
    reader,
    async write(parts) {
      if (closed) throw new FrameNotSent(`the channel to ${peer} is closed`);
      const bytes = joinParts(parts);
      ch.postMessage({ t: 'data', session, dir: out, bytes } satisfies Message);
      sent += bytes.length;
      while (sent - acked > WINDOW) {
        if (reader.failed) throw reader.failed;
        const got = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => { ackWaiter = null; resolve(false); }, ACK_TIMEOUT_MS);
          ackWaiter = () => { clearTimeout(timer); ackWaiter = null; resolve(true); };
        });
        if (!got) {
          const e = new MigrationError(`${peer} stopped taking data (closed?)`);
          reader.fail(e);
          throw e;
        }
      }
    },
    close() {
      if (closed) return;
      closed = true;
      ch.postMessage({ t: 'close', session, dir: out } satisfies Message);
      ch.close();
    },
  };
}

/** Source: offer a migration under `name`; resolves to the link to the first tab that takes it. */
export function offerMigration(name: string, timeoutMs = OFFER_TIMEOUT_MS): Promise<MigrationLink> {
  checkMigrationName(name);
  const ch = new BroadcastChannel(channelName(name));
  const session = randomId();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ch.close();
      reject(new MigrationError(`no tab is waiting for a migration named ${name} (open one with ?incoming=${name})`));
    }, timeoutMs);
    ch.onmessage = (ev: MessageEvent) => {
      const m = asMessage(ev.data);
      if (m === null || m.session !== session || m.t !== 'accept' || typeof m.tab !== 'string') return;
      clearTimeout(timer);
      ch.postMessage({ t: 'go', session, tab: m.tab } satisfies Message);
      resolve(channelLink(ch, session, 'source'));
    };
    ch.postMessage({ t: 'offer', session } satisfies Message);
  });
}

/** Target: wait for an offer under `name` (until `signal` aborts); resolves to the link once the source picked this tab. */
export function awaitMigration(name: string, signal?: AbortSignal): Promise<MigrationLink> {
  checkMigrationName(name);
  const ch = new BroadcastChannel(channelName(name));
  const tab = randomId();
  let asked: string | null = null;
  return new Promise((resolve, reject) => {
    signal?.addEventListener('abort', () => { ch.close(); reject(new MigrationError('stopped waiting for a migration')); });
    ch.onmessage = (ev: MessageEvent) => {
      const m = asMessage(ev.data);
      if (m === null) return;
      if (m.t === 'offer' && asked === null) {
        asked = m.session;
        ch.postMessage({ t: 'accept', session: m.session, tab } satisfies Message);
      } else if (m.t === 'go' && m.session === asked) {
        if (m.tab === tab) resolve(channelLink(ch, m.session, 'target'));
        else asked = null; // another tab takes this one; wait for the next offer
      }
    };
  });
}
