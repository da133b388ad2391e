// The host side of user-mode networking in a browser: TCP and UDP through a Wisp server
// (https://github.com/MercuryWorkshop/wisp-protocol), using @mercuryworkshop/wisp-js's client.
// A page cannot open sockets, but it can open one WebSocket to a Wisp server, and Wisp streams
// are exactly what the stack's relays are: "open a TCP or UDP stream to host:port, exchange
// data, close". One WebSocket carries every stream, opened when the first stream needs it and
// reopened on demand after it drops (at most once per RETRY_MS, so a dead relay is not hammered).
//
// What the guest sees when something goes wrong is what a real network would show it, never an
// exception: a relay that cannot be reached, refuses a stream or drops the WebSocket ends the
// guest's connections with a reset (a refused SYN gets RST, as from a closed port); UDP to a
// relay that is down gets no answer. The relay's trouble is kept, in words, in `status()`.
//
// Limits of the protocol, and what is done about them:
//  - Wisp says nothing when a CONNECT succeeds, only when it fails (a CLOSE). So the guest's
//    connection is accepted as soon as the stream is asked for, and a refusal arrives as a reset
//    of the established connection.
//  - Wisp streams cannot be half-closed. A guest's FIN is not passed on (closing the stream would
//    lose the host's answer still on its way, e.g. to `printf 'GET ...' | nc host 80`); the
//    stream closes when the host closes or the guest resets.
//  - There is no flow control from client to server: while the guest is not reading, data from
//    the host waits here, up to PAUSED_LIMIT bytes; beyond that the connection is reset rather
//    than letting one stalled guest socket take all memory.
import { client } from '@mercuryworkshop/wisp-js/client';
import type { BoundDatagrams, Listener, RelayDatagrams, RelayStream, TcpRelay, UdpRelay } from './relay';

type WispStream = client.ClientStream;
type WispConnection = client.ClientConnection;

/** Wisp CLOSE reasons (the protocol's "Close Reasons" table). */
export const CLOSE_REASON = {
  unknown: 0x01,
  voluntary: 0x02,
  networkError: 0x03,
  unreachable: 0x42,
  noResponse: 0x43,
  refused: 0x44,
  timeout: 0x47,
  blocked: 0x48,
  throttled: 0x49,
} as const;

const REASON_WORDS: Record<number, string> = {
  [CLOSE_REASON.unknown]: 'closed by the relay',
  [CLOSE_REASON.networkError]: 'the relay could not reach the destination or lost the connection',
  [CLOSE_REASON.unreachable]: 'destination unreachable',
  [CLOSE_REASON.noResponse]: 'the destination did not answer',
  [CLOSE_REASON.refused]: 'connection refused',
  [CLOSE_REASON.timeout]: 'timed out',
  [CLOSE_REASON.blocked]: 'the relay does not allow this destination',
  [CLOSE_REASON.throttled]: 'the relay is limiting connections',
};

/** Least time between two attempts to open the WebSocket after one failed. */
const RETRY_MS = 3000;
/** Bytes from the host kept while the guest is not reading (Wisp cannot tell the server to wait). */
const PAUSED_LIMIT = 8 << 20;
/** How long a refused stream stays in `status().problem` (the connection's own trouble stays until it recovers). */
const NOTE_MS = 30_000;
/** UDP datagrams kept while the WebSocket is still opening; more are dropped, as on a congested link. */
const UDP_PENDING_LIMIT = 64;

export type RelayState = 'idle' | 'connecting' | 'open' | 'down';

export interface WispRelayStatus {
  url: string;
  state: RelayState;
  /** Why the relay is down, or what it refused in the last half minute, in words; null when all is well. */
  problem: string | null;
  /** Streams (TCP connections and UDP associations) open now. */
  streams: number;
}

export interface WispRelayOptions {
  /** Least time between reconnection attempts (default RETRY_MS). */
  retryMs?: number;
}

/** One Wisp server, as the TCP and UDP relays of a UserNet. */
export class WispRelay {
  readonly url: string;
  readonly tcp: TcpRelay;
  readonly udp: UdpRelay;
  private conn: WispConnection | null = null;
  private state: RelayState = 'idle';
  private problem: string | null = null;
  private noted: { text: string; at: number } | null = null;
  private lastFailure = -Infinity;
  private closed = false;
  private readonly waiting: ((conn: WispConnection | null) => void)[] = [];
  private readonly retryMs: number;
  /** @internal streams open now, closed with the relay */
  readonly live = new Set<{ close(): void }>();

  /** `url`: ws: or wss:, ending in '/' (page-options.ts checkWispUrl makes one from what a user typed). */
  constructor(url: string, opts: WispRelayOptions = {}) {
    this.url = url;
    this.retryMs = opts.retryMs ?? RETRY_MS;
    this.tcp = {
      connect: (host, port) => new WispTcpStream(this, host, port),
      listen: (): Listener => {
        throw new Error('port forwarding (hostfwd) is not possible over Wisp: a Wisp server only opens outgoing connections');
      },
    };
    this.udp = {
      connect: (host, port) => new WispDatagrams(this, host, port),
      bind: (): BoundDatagrams => {
        throw new Error('UDP port forwarding is not possible over Wisp: a Wisp server only opens outgoing streams');
      },
    };
  }

  status(): WispRelayStatus {
    const recent = this.noted && performance.now() - this.noted.at < NOTE_MS ? this.noted.text : null;
    return { url: this.url, state: this.state, problem: this.problem ?? recent, streams: this.live.size };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.live]) s.close();
    this.conn?.close();
    this.conn = null;
    this.state = 'down';
    this.flushWaiting(null);
  }

  /** @internal A stream's trouble worth showing the user (refusals, blocked destinations). */
  note(problem: string): void {
    this.noted = { text: problem, at: performance.now() };
  }

  /**
   * @internal Calls `use` with the open connection, or with null when the relay is down (closed,
   * unreachable, or failed less than retryMs ago). Always later, never from inside the call, so
   * the caller has set its callbacks by then.
   */
  withConnection(use: (conn: WispConnection | null) => void): void {
    if (this.closed) return queueMicrotask(() => use(null));
    if (this.conn?.connected) {
      const conn = this.conn;
      return queueMicrotask(() => use(conn));
    }
    if (!this.conn && performance.now() - this.lastFailure < this.retryMs) return queueMicrotask(() => use(null));
    this.waiting.push(use);
    if (!this.conn) this.open();
  }

  private open(): void {
    let conn: WispConnection;
    this.state = 'connecting';
    try {
      conn = new client.ClientConnection(this.url);
    } catch (e) {
      this.fail(null, `cannot open the relay ${this.url}: ${(e as Error).message}`);
      return;
    }
    this.conn = conn;
    // A malformed message from the server must not become an exception in the worker: the
    // connection is dropped instead, and its streams reset.
    const parse = conn.on_ws_msg.bind(conn);
    conn.on_ws_msg = (event) => {
      try {
        parse(event);
      } catch (e) {
        this.fail(conn, `the relay ${this.url} sent a message that is not Wisp (${(e as Error).message})`);
        conn.close();
      }
    };
    let opened = false;
    conn.onopen = () => {
      if (this.conn !== conn) return;
      opened = true;
      this.state = 'open';
      this.problem = null;
      this.flushWaiting(conn);
    };
    const lost = () => this.fail(conn, opened
      ? `the relay ${this.url} closed the connection`
      : `the relay ${this.url} cannot be reached`);
    conn.onclose = lost;
    conn.onerror = lost;
  }

  private fail(conn: WispConnection | null, problem: string): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.state = 'down';
    this.problem = problem;
    this.lastFailure = performance.now();
    this.flushWaiting(null);
  }

  private flushWaiting(conn: WispConnection | null): void {
    for (const use of this.waiting.splice(0)) use(conn);
  }
}

/** What a CLOSE reason means, for the guest's connection and for the status line. */
function reasonError(reason: number, host: string, port: number): Error | undefined {
  if (reason === CLOSE_REASON.voluntary) return undefined;
  return new Error(`${host}:${port}: ${REASON_WORDS[reason] ?? `closed by the relay (reason 0x${reason.toString(16)})`}`);
}

/** A guest TCP connection's host side: one Wisp TCP stream. */
class WispTcpStream implements RelayStream {
  onDrain: (() => void) | null = null;
  onOpen: (() => void) | null = null;
  onData: ((data: Uint8Array) => void) | null = null;
  onEnd: (() => void) | null = null;
  onClose: ((error?: Error) => void) | null = null;
  private stream: WispStream | null = null;
  private done = false;
  /** Written before the stream existed. */
  private pending: Uint8Array[] = [];
  /** Received while paused. */
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private paused = false;
  /** The server closed the stream while data was held: reported once the data is delivered. */
  private closing: { error?: Error } | null = null;

  constructor(private readonly relay: WispRelay, private readonly host: string, private readonly port: number) {
    relay.live.add(this);
    relay.withConnection((conn) => this.start(conn));
  }

  private start(conn: WispConnection | null): void {
    if (this.done) return;
    if (!conn) return this.finish(new Error(this.relay.status().problem ?? 'the relay is not available'));
    let stream: WispStream;
    try {
      stream = conn.create_stream(this.host, this.port, 'tcp');
    } catch (e) {
      return this.finish(new Error(`the relay could not open a stream: ${(e as Error).message}`));
    }
    this.stream = stream;
    stream.onmessage = (data) => this.received(data);
    stream.onclose = (reason) => {
      this.stream = null;
      const error = reasonError(reason, this.host, this.port);
      if (error && reason !== CLOSE_REASON.networkError) this.relay.note(error.message);
      this.closeFromHost(error);
    };
    // The server's CONTINUE reopens its buffer: the stack hears that `buffered` fell.
    const cont = stream.continue_received.bind(stream);
    stream.continue_received = (n) => {
      cont(n);
      if (!this.done) this.onDrain?.();
    };
    for (const d of this.pending.splice(0)) this.sendNow(d);
    this.onOpen?.();
  }

  write(data: Uint8Array): void {
    if (this.done || data.length === 0) return;
    if (this.stream) this.sendNow(data);
    else this.pending.push(data.slice());
  }

  private sendNow(data: Uint8Array): void {
    try {
      this.stream!.send(data);
    } catch (e) {
      this.stream = null;
      this.closeFromHost(new Error(`the relay connection failed: ${(e as Error).message}`));
    }
  }

  /** Wisp cannot half-close (see the file's header): the stream stays open for the host's answer. */
  end(): void {}

  close(): void {
    if (this.done) return;
    this.done = true;
    this.relay.live.delete(this);
    try {
      this.stream?.close(CLOSE_REASON.voluntary);
    } catch { /* the WebSocket is gone already */ }
    this.stream = null;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    while (!this.paused && !this.done && this.held.length > 0) {
      const d = this.held.shift()!;
      this.heldBytes -= d.length;
      this.onData?.(d);
    }
    if (!this.paused && this.closing && this.held.length === 0) this.finish(this.closing.error);
  }

  get buffered(): number {
    let n = 0;
    for (const d of this.pending) n += d.length;
    for (const d of this.stream?.send_buffer ?? []) n += d.length;
    return n;
  }

  private received(data: Uint8Array): void {
    if (this.done) return;
    if (!this.paused) return this.onData?.(data);
    this.held.push(data);
    this.heldBytes += data.length;
    if (this.heldBytes > PAUSED_LIMIT) {
      try { this.stream?.close(CLOSE_REASON.voluntary); } catch { /* gone already */ }
      this.stream = null;
      this.held = [];
      this.finish(new Error(`${this.host}:${this.port}: more than ${PAUSED_LIMIT} bytes arrived while the guest was not reading`));
    }
  }

  private closeFromHost(error?: Error): void {
    if (this.done) return;
    // A clean close waits behind data still held for the guest; an error does not.
    if (!error && this.held.length > 0) this.closing = { error };
    else this.finish(error);
  }

  private finish(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.relay.live.delete(this);
    this.onClose?.(error);
  }
}

/** A guest UDP association's host side: one Wisp UDP stream, reopened if it was closed. */
class WispDatagrams implements RelayDatagrams {
  onMessage: ((data: Uint8Array) => void) | null = null;
  onUnreachable: (() => void) | null = null;
  private stream: WispStream | null = null;
  private opening = false;
  private done = false;
  private pending: Uint8Array[] = [];

  constructor(private readonly relay: WispRelay, private readonly host: string, private readonly port: number) {
    relay.live.add(this);
  }

  send(data: Uint8Array): void {
    if (this.done) return;
    if (this.stream) {
      try {
        this.stream.send(data);
      } catch {
        this.stream = null; // the WebSocket went: this datagram is lost, the next reopens
      }
      return;
    }
    if (this.pending.length < UDP_PENDING_LIMIT) this.pending.push(data.slice());
    if (!this.opening) this.open();
  }

  private open(): void {
    this.opening = true;
    this.relay.withConnection((conn) => {
      this.opening = false;
      if (this.done) return;
      if (!conn) {
        this.pending = []; // no answer, as from a network that is down
        return;
      }
      if (!conn.udp_enabled) {
        this.pending = [];
        this.relay.note(`the relay ${this.relay.url} does not carry UDP (no DNS or other UDP for the guest)`);
        return;
      }
      let stream: WispStream;
      try {
        stream = conn.create_stream(this.host, this.port, 'udp');
      } catch (e) {
        this.pending = [];
        this.relay.note(`the relay could not open a UDP stream: ${(e as Error).message}`);
        return;
      }
      this.stream = stream;
      stream.onmessage = (data) => { if (!this.done) this.onMessage?.(data); };
      stream.onclose = (reason) => {
        if (this.stream === stream) this.stream = null;
        const error = reasonError(reason, this.host, this.port);
        if (error && reason !== CLOSE_REASON.networkError) this.relay.note(error.message);
        // A server closes a UDP stream only when its socket failed (wisp-js: an ICMP error such as
        // port unreachable ends the socket) or it refused the destination: either way the guest
        // hears "port unreachable". A WebSocket that went down (conn no longer connected) closes
        // every stream without anything having been learned about this one: silence.
        if (conn.connected && !this.done) this.onUnreachable?.();
      };
      for (const d of this.pending.splice(0)) this.send(d);
    });
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.relay.live.delete(this);
    try {
      this.stream?.close(CLOSE_REASON.voluntary);
    } catch { /* gone already */ }
    this.stream = null;
    this.pending = [];
  }
}
