// One TCP connection terminated in the stack (RFC 9293): the guest talks TCP to the stack, the
// stack talks bytes to a RelayStream on the host. The stack side holds the send queue (bytes the
// host gave, kept from SND.UNA until the guest acknowledges them), retransmits on a timer
// (RFC 6298: 1 s initial RTO, doubled per timeout, go-back-N from SND.UNA), honours the guest's
// window and MSS, and hands in-order guest data straight to the relay. Out-of-order guest
// segments are not queued: they are answered with a duplicate ACK and the guest retransmits.
import { seqAdd, seqDiff, seqLe, seqLt } from './bytes';
import type { RelayStream } from './relay';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpSegment } from './tcp-segment';

/** RFC 9293 3.3.2 states, plus CONNECTING: the guest's SYN is held until the host connect succeeds. */
export type TcpState =
  | 'CONNECTING' | 'SYN_SENT' | 'SYN_RECEIVED' | 'ESTABLISHED' | 'FIN_WAIT_1' | 'FIN_WAIT_2'
  | 'CLOSE_WAIT' | 'CLOSING' | 'LAST_ACK' | 'TIME_WAIT' | 'CLOSED';

export interface TcpTuning {
  /** Initial retransmission timeout (RFC 6298 2.1 says 1 s). */
  rtoMs: number;
  maxRtoMs: number;
  /** Retransmissions of one segment before the connection is reset. */
  maxRetries: number;
  /** The MSS we announce and our largest segment: 1500-byte MTU minus IPv4 and TCP headers. */
  mss: number;
  /** Time spent in TIME-WAIT answering retransmitted FINs (a short stand-in for 2*MSL). */
  timeWaitMs: number;
}

export const DEFAULT_TCP_TUNING: TcpTuning = { rtoMs: 1000, maxRtoMs: 60000, maxRetries: 10, mss: 1460, timeWaitMs: 2000 };

/**
 * The largest receive window we announce (no window scaling). It shrinks by what the relay still
 * holds unsent to the host, so a slow host slows the guest instead of filling memory.
 */
const RCV_WINDOW = 65535;
/** Default MSS when the peer sends none (RFC 9293 3.7.1). */
const DEFAULT_PEER_MSS = 536;
/** Host data queued beyond this pauses the relay stream until the guest has taken it. */
const QUEUE_HIGH = 1 << 20;
const QUEUE_LOW = 1 << 18;
/** Duplicate ACKs that signal a lost segment (RFC 5681 3.2). */
const DUP_ACK_THRESHOLD = 3;

/** What a connection needs from the stack. */
export interface TcpOwner {
  /** Send a segment to the guest (the stack adds addresses, IPv4 and Ethernet). */
  output(seg: TcpSegment): void;
  /** The connection is finished: forget it. */
  remove(conn: TcpConnection): void;
}

/** Bytes from SND.UNA onward: appended by the host, dropped from the front by guest ACKs. */
class ByteQueue {
  private buf = new Uint8Array(4096);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  push(data: Uint8Array): void {
    if (this.end + data.length > this.buf.length) {
      const need = this.length + data.length;
      const next = need > this.buf.length / 2 ? new Uint8Array(Math.max(need * 2, 4096)) : this.buf;
      next.set(this.buf.subarray(this.start, this.end), 0);
      this.buf = next;
      this.end = this.length;
      this.start = 0;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  /** A copy of `len` bytes at `offset` from the front. */
  slice(offset: number, len: number): Uint8Array {
    return this.buf.slice(this.start + offset, this.start + offset + len);
  }

  drop(n: number): void {
    this.start += Math.min(n, this.length);
    if (this.start === this.end) this.start = this.end = 0;
  }
}

function randomIss(): number {
  // RFC 6528: initial sequence numbers should not be guessable.
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

export class TcpConnection {
  state: TcpState;
  /** The port the guest talks to (remote service) and the guest's own port. */
  readonly localPort: number;
  readonly guestPort: number;
  /** Segments retransmitted so far (for tests and statistics). */
  retransmits = 0;

  private readonly owner: TcpOwner;
  private readonly tune: TcpTuning;
  private stream: RelayStream | null = null;
  private readonly iss = randomIss();
  private sndUna = this.iss;
  private sndNxt = this.iss;
  private sndWnd = 0;
  private rcvNxt = 0;
  private peerMss = DEFAULT_PEER_MSS;
  private readonly queue = new ByteQueue();
  private paused = false;
  /** The host ended its side: a FIN follows the queued bytes. */
  private finPending = false;
  private finSent = false;
  private finSeq = 0;
  private probe = false;
  private rto: number;
  private retries = 0;
  private dupAcks = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(owner: TcpOwner, localPort: number, guestPort: number, tune: TcpTuning, state: 'CONNECTING' | 'SYN_SENT') {
    this.owner = owner;
    this.localPort = localPort;
    this.guestPort = guestPort;
    this.tune = tune;
    this.rto = tune.rtoMs;
    this.state = state;
  }

  /** Guest-initiated: remember the guest's SYN; it is answered once the attached stream opens. */
  static fromGuestSyn(owner: TcpOwner, syn: TcpSegment, tune: TcpTuning): TcpConnection {
    const c = new TcpConnection(owner, syn.dstPort, syn.srcPort, tune, 'CONNECTING');
    c.rcvNxt = seqAdd(syn.seq, 1);
    c.sndWnd = syn.window;
    c.peerMss = syn.mss ?? DEFAULT_PEER_MSS;
    return c;
  }

  /** Attach the host stream. For CONNECTING its onOpen sends the SYN-ACK; for SYN_SENT the SYN goes now. */
  attach(stream: RelayStream): void {
    this.stream = stream;
    stream.onOpen = () => {
      if (this.state !== 'CONNECTING') return;
      this.state = 'SYN_RECEIVED';
      this.sendSyn();
    };
    stream.onData = (d) => this.hostData(d);
    stream.onEnd = () => this.hostEnd();
    stream.onClose = (err) => this.hostClosed(err);
    stream.onDrain = () => this.drained();
    if (this.state === 'SYN_SENT') this.sendSyn();
  }

  /**
   * Where a reset must be to reach the guest after a restore (UserNet.saveState): our next
   * sequence number and the next we expect; null before the connection is synchronized (the
   * guest's retransmitted SYN, or its SYN-ACK, meets a fresh stack that handles it as new).
   */
  resumePoint(): { seq: number; ack: number } | null {
    if (this.state === 'CONNECTING' || this.state === 'SYN_SENT' || this.state === 'CLOSED') return null;
    return { seq: this.sndNxt, ack: this.rcvNxt };
  }

  /** Forget the connection without a word to the guest (its guest side was replaced by a restore). */
  drop(): void {
    if (this.state === 'CLOSED') return;
    this.stream?.close();
    this.finish();
  }

  /** Abort from our side (stack closing): RST to the guest, host stream closed. */
  abort(): void {
    if (this.state === 'CLOSED') return;
    if (this.state !== 'CONNECTING' && this.state !== 'SYN_SENT') this.emit(this.sndNxt, TCP_RST | TCP_ACK);
    else if (this.state === 'CONNECTING') this.emit(0, TCP_RST | TCP_ACK);
    this.stream?.close();
    this.finish();
  }

  // --- host side ---

  private hostData(d: Uint8Array): void {
    if (this.state === 'CLOSED' || this.finPending) return;
    this.queue.push(d);
    if (!this.paused && this.queue.length > QUEUE_HIGH) {
      this.paused = true;
      this.stream?.pause();
    }
    this.pump();
  }

  private hostEnd(): void {
    if (this.state === 'CLOSED') return;
    this.finPending = true;
    this.pump();
  }

  private hostClosed(err?: Error): void {
    this.stream = null;
    if (this.state === 'CLOSED') return;
    if (this.state === 'CONNECTING') {
      // Refused or unreachable: the guest's SYN gets a reset (what a closed port answers).
      this.emit(0, TCP_RST | TCP_ACK);
      this.finish();
    } else if (err) {
      this.abort();
    } else if (!this.finPending) {
      this.hostEnd();
    }
  }

  // --- guest side ---

  /** One segment from the guest for this connection (RFC 9293 3.10.7). */
  input(seg: TcpSegment): void {
    const f = seg.flags;
    if (this.state === 'CLOSED') return;
    if (this.state === 'CONNECTING') {
      if (f & TCP_RST) {
        this.stream?.close(); // the guest gave up; a RST is never answered
        this.finish();
      }
      return; // retransmitted SYNs wait for the host connect
    }
    if (this.state === 'SYN_SENT') return this.inputSynSent(seg);

    const segLen = seg.data.length + (f & TCP_SYN ? 1 : 0) + (f & TCP_FIN ? 1 : 0);
    const end = seqAdd(seg.seq, segLen);
    // Acceptable if some of it is new and it starts inside our window (RFC 9293 3.10.7.4).
    const acceptable = seqLt(seg.seq, seqAdd(this.rcvNxt, RCV_WINDOW)) &&
      (segLen === 0 ? seqLe(this.rcvNxt, seg.seq) : seqLt(this.rcvNxt, end));
    if (!acceptable) {
      if (this.state === 'SYN_RECEIVED' && f & TCP_SYN && seqAdd(seg.seq, 1) === this.rcvNxt) return this.sendSyn();
      if (!(f & TCP_RST)) this.emitAck();
      return;
    }
    if (f & TCP_RST) {
      this.stream?.close();
      this.finish();
      return;
    }
    if (f & TCP_SYN) {
      this.emitAck(); // challenge ACK for a SYN in a synchronized state (RFC 5961 4.2)
      return;
    }
    if (!(f & TCP_ACK)) return;

    if (this.state === 'SYN_RECEIVED') {
      if (seg.ack !== this.sndNxt) {
        this.emit(seg.ack, TCP_RST);
        return;
      }
      this.state = 'ESTABLISHED';
    }
    if (seqLt(this.sndNxt, seg.ack)) {
      this.emitAck(); // acknowledges something never sent
      return;
    }
    const dup = seg.ack === this.sndUna && seg.data.length === 0 && !(f & TCP_FIN) &&
      seg.window === this.sndWnd && this.sndNxt !== this.sndUna;
    this.sndWnd = seg.window;
    // An answer to a zero-window probe: the guest is alive, so probing goes on without limit
    // (RFC 9293 3.8.6.1) instead of counting toward the reset.
    if (seg.window === 0) this.retries = 0;
    if (seqLt(this.sndUna, seg.ack)) this.acked(seg.ack);
    else if (dup && ++this.dupAcks === DUP_ACK_THRESHOLD) this.fastRetransmit();
    if ((this.state as TcpState) === 'CLOSED') return; // our FIN acknowledged in LAST-ACK

    // Data and FIN, trimmed to what is new.
    let data = seg.data;
    let seq = seg.seq;
    if (seqLt(seq, this.rcvNxt)) {
      data = data.subarray(Math.min(data.length, seqDiff(this.rcvNxt, seq)));
      seq = this.rcvNxt;
    }
    // Only in-order data is taken; a later segment gets a duplicate ACK (RFC 9293 3.10.7.4 allows
    // dropping it) and comes again.
    const inOrder = seq === this.rcvNxt;
    const receiving = this.state === 'ESTABLISHED' || this.state === 'FIN_WAIT_1' || this.state === 'FIN_WAIT_2';
    let ack = false;
    if (data.length > 0) {
      ack = true;
      if (inOrder && receiving) {
        this.stream?.write(data);
        this.rcvNxt = seqAdd(this.rcvNxt, data.length);
      }
    }
    if (f & TCP_FIN) {
      ack = true;
      if (inOrder && receiving && seqAdd(seq, data.length) === this.rcvNxt) {
        this.rcvNxt = seqAdd(this.rcvNxt, 1);
        this.stream?.end();
        if (this.state === 'ESTABLISHED') this.state = 'CLOSE_WAIT';
        else if (this.state === 'FIN_WAIT_1') this.state = 'CLOSING';
        else this.state = 'TIME_WAIT';
      }
    }
    if (ack) this.emitAck();
    if (this.state === 'TIME_WAIT') this.enterTimeWait();
    this.pump();
  }

  private inputSynSent(seg: TcpSegment): void {
    const f = seg.flags;
    const ackOk = seg.ack === this.sndNxt;
    if (f & TCP_ACK && !ackOk) {
      if (!(f & TCP_RST)) this.emit(seg.ack, TCP_RST);
      return;
    }
    if (f & TCP_RST) {
      if (f & TCP_ACK) {
        this.stream?.close(); // the guest has nothing on that port: refuse the host client too
        this.finish();
      }
      return;
    }
    if (!(f & TCP_SYN) || !(f & TCP_ACK)) return; // simultaneous open is not supported
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.peerMss = seg.mss ?? DEFAULT_PEER_MSS;
    this.sndWnd = seg.window;
    this.state = 'ESTABLISHED';
    this.acked(seg.ack);
    this.emitAck();
    this.pump();
  }

  /** SND.UNA advances to `ack`: drop acknowledged bytes, note an acknowledged FIN, restart the timer. */
  private acked(ack: number): void {
    // The first ACK covers our SYN and a later one our FIN: sequence numbers without a byte.
    const n = seqDiff(ack, this.sndUna) - (this.sndUna === this.iss ? 1 : 0);
    this.sndUna = ack;
    this.dupAcks = 0;
    this.queue.drop(n);
    this.retries = 0;
    this.rto = this.tune.rtoMs;
    if (this.paused && this.queue.length < QUEUE_LOW) {
      this.paused = false;
      this.stream?.resume();
    }
    if (this.finSent && ack === seqAdd(this.finSeq, 1)) {
      if (this.state === 'FIN_WAIT_1') this.state = 'FIN_WAIT_2';
      else if (this.state === 'CLOSING') this.state = 'TIME_WAIT';
      else if (this.state === 'LAST_ACK') {
        this.finish();
        return;
      }
    }
    this.clearTimer();
    if (this.sndNxt !== this.sndUna) this.armTimer();
  }

  /** Send what the guest's window allows, then the FIN once the host has ended and all is sent. */
  private pump(): void {
    const s = this.state;
    if (s === 'CONNECTING' || s === 'SYN_SENT' || s === 'SYN_RECEIVED' || s === 'CLOSED' || s === 'TIME_WAIT') return;
    const mss = Math.min(this.peerMss, this.tune.mss);
    for (;;) {
      const sent = seqDiff(this.sndNxt, this.sndUna);
      const avail = this.queue.length - sent;
      const wnd = Math.max(this.sndWnd, this.probe ? 1 : 0) - sent;
      if (avail <= 0 || wnd <= 0) break;
      const n = Math.min(avail, wnd, mss);
      this.emit(this.sndNxt, TCP_ACK | (n === avail ? TCP_PSH : 0), this.queue.slice(sent, n));
      this.sndNxt = seqAdd(this.sndNxt, n);
    }
    this.probe = false;
    if (this.finPending && !this.finSent && seqDiff(this.sndNxt, this.sndUna) === this.queue.length) {
      this.finSeq = this.sndNxt;
      this.finSent = true;
      this.emit(this.sndNxt, TCP_FIN | TCP_ACK);
      this.sndNxt = seqAdd(this.sndNxt, 1);
      if (this.state === 'ESTABLISHED') this.state = 'FIN_WAIT_1';
      else if (this.state === 'CLOSE_WAIT') this.state = 'LAST_ACK';
    }
    // Outstanding data, or data held back by a zero window (the timer then sends a probe).
    if (this.timer === null && (this.sndNxt !== this.sndUna || this.queue.length > 0)) this.armTimer();
  }

  /**
   * Three duplicate ACKs: the segment at SND.UNA was lost while later ones arrived, so send it
   * again now rather than after the timeout (RFC 5681 3.2, without the congestion window).
   */
  private fastRetransmit(): void {
    const n = Math.min(this.queue.length, Math.min(this.peerMss, this.tune.mss), seqDiff(this.sndNxt, this.sndUna));
    if (n <= 0) return;
    this.retransmits++;
    this.emit(this.sndUna, TCP_ACK, this.queue.slice(0, n));
  }

  private sendSyn(): void {
    const flags = this.state === 'SYN_SENT' ? TCP_SYN : TCP_SYN | TCP_ACK;
    this.sndNxt = seqAdd(this.iss, 1);
    this.emit(this.iss, flags, new Uint8Array(0), this.tune.mss);
    this.clearTimer();
    this.armTimer();
  }

  private timeout(): void {
    this.timer = null;
    if (this.state === 'CLOSED' || this.state === 'TIME_WAIT') return;
    if (++this.retries > this.tune.maxRetries) {
      this.abort();
      return;
    }
    this.rto = Math.min(this.rto * 2, this.tune.maxRtoMs);
    this.retransmits++;
    if (this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED') {
      this.sendSyn();
      return;
    }
    // Go back to SND.UNA and send again; a FIN already sent is sent again after the data.
    this.sndNxt = this.sndUna;
    if (this.finSent) {
      this.finSent = false;
      if (this.state === 'FIN_WAIT_1') this.state = 'ESTABLISHED';
      else if (this.state === 'LAST_ACK') this.state = 'CLOSE_WAIT';
      else if (this.state === 'CLOSING') this.state = 'CLOSE_WAIT';
    }
    if (this.sndWnd === 0) this.probe = true;
    this.pump();
  }

  private armTimer(): void {
    this.timer = setTimeout(() => this.timeout(), this.rto);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private enterTimeWait(): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.finish(), this.tune.timeWaitMs);
  }

  private finish(): void {
    this.clearTimer();
    this.state = 'CLOSED';
    this.owner.remove(this);
  }

  private emitAck(): void {
    this.emit(this.sndNxt, TCP_ACK);
  }

  private emit(seq: number, flags: number, data: Uint8Array = new Uint8Array(0), mss: number | null = null): void {
    const ack = flags & TCP_ACK ? this.rcvNxt : 0;
    const window = this.window();
    this.rcvEdge = seqAdd(this.rcvNxt, window);
    this.rcvEdgeSet = true;
    this.owner.output({ srcPort: this.localPort, dstPort: this.guestPort, seq, ack, flags, window, mss, data });
  }

  /** Right edge of the window last announced: it never moves left (RFC 9293 3.8.6.2.2). */
  private rcvEdge = 0;
  private rcvEdgeSet = false;

  private window(): number {
    const room = Math.max(0, RCV_WINDOW - (this.stream?.buffered ?? 0));
    const kept = !this.rcvEdgeSet ? 0 : Math.max(0, seqDiff(this.rcvEdge, this.rcvNxt));
    return Math.min(RCV_WINDOW, Math.max(room, kept));
  }

  /**
   * The relay drained: announce the larger window once it has grown by a full segment or half the
   * maximum (receiver-side silly window avoidance, RFC 9293 3.8.6.2.2).
   */
  private drained(): void {
    const s = this.state;
    if (s !== 'ESTABLISHED' && s !== 'FIN_WAIT_1' && s !== 'FIN_WAIT_2') return;
    const announced = Math.max(0, seqDiff(this.rcvEdge, this.rcvNxt));
    const grow = this.window() - announced;
    if (grow >= Math.min(RCV_WINDOW / 2, this.tune.mss)) this.emitAck();
  }
}
