// IPv4 fragment reassembly (RFC 791 3.2 "Fragmentation and Reassembly", RFC 815's hole list in
// spirit): the guest's fragmented datagrams (a UDP datagram larger than its MTU, e.g.) are put
// back together before the stack looks at them.
//
// Fragments of one datagram share (source, destination, protocol, identification). Every length
// and offset is guest-controlled, so everything is bounded and checked:
//   - a datagram may not end past 65,535 bytes (the "ping of death" is dropped, not built);
//   - every fragment but the last carries a multiple of 8 bytes (RFC 791: offsets count 8-byte
//     units, so a shorter middle fragment would leave a gap no fragment can fill);
//   - overlapping fragments discard the whole datagram, and later fragments of it until its
//     timer runs out, as RFC 5722 requires for IPv6 (overlaps serve only to slip data past
//     filters); an exact repeat of a fragment is a duplicate and is ignored;
//   - two different ends (last fragments) for one datagram, or data past the end, discard it;
//   - at most MAX_QUEUES datagrams in progress and MAX_BYTES of fragment data held: a new one
//     beyond that evicts the oldest (Linux's ipfrag_high_thresh idea);
//   - a datagram not complete TIMEOUT_MS after its first fragment is dropped (RFC 791 suggests a
//     15 s lower bound; Linux uses 30 s).
// Timers are not used: the clock is read when fragments arrive, so an idle stack holds at most
// the bounded data above and needs nothing to tear down.
import { checksum, rd16, rd32, wr16 } from './bytes';

/** Flags / fragment offset (RFC 791 3.1). */
const IP_MF = 0x2000;
const IP_OFFSET_MASK = 0x1fff;
/** The largest IPv4 datagram: the total length field is 16 bits. */
const IPV4_MAX_TOTAL = 65535;

export interface ReassemblyLimits {
  /** Datagrams in progress at once. */
  maxQueues: number;
  /** Fragment payload bytes held over all datagrams in progress. */
  maxBytes: number;
  /** How long a datagram may take to complete, from its first fragment. */
  timeoutMs: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = { maxQueues: 16, maxBytes: 256 * 1024, timeoutMs: 30_000 };

interface Piece {
  /** Byte offset of the fragment's data in the datagram's payload. */
  start: number;
  data: Uint8Array;
}

interface Queue {
  key: string;
  born: number;
  pieces: Piece[];
  /** The payload length, once the last fragment (MF clear) has come; -1 before. */
  end: number;
  /** The header of the fragment at offset 0 (with its options), once it has come. */
  header: Uint8Array | null;
  bytes: number;
  /** Overlap or conflicting ends: fragments of it are dropped until `born + timeout`. */
  poisoned: boolean;
}

/** What happened to a fragment: the whole datagram (a packet with no fragment bits), or why not yet. */
export type ReassemblyResult = Uint8Array | 'pending' | 'duplicate' | 'overlap' | 'too-long' | 'bad-length' | 'discarded' | 'no-room';

export class Ipv4Reassembly {
  private readonly queues = new Map<string, Queue>();
  private held = 0;
  readonly limits: ReassemblyLimits;
  /** Datagrams given up: timed out, or evicted to stay within the limits. */
  readonly counters = { completed: 0, timedOut: 0, evicted: 0 };

  constructor(limits: Partial<ReassemblyLimits> = {}, private readonly now: () => number = () => Date.now()) {
    this.limits = { ...DEFAULT_REASSEMBLY_LIMITS, ...limits };
  }

  /** Fragment data held now (never above limits.maxBytes). */
  get bytesHeld(): number { return this.held; }
  /** Datagrams in progress (never above limits.maxQueues). */
  get inProgress(): number { return this.queues.size; }

  /**
   * Take one fragment: `packet` is an IPv4 packet whose header the caller has checked (version,
   * header length, total length within the bytes, checksum) and whose MF bit or offset is set;
   * bytes past its total length are ignored.
   */
  add(packet: Uint8Array): ReassemblyResult {
    const now = this.now();
    this.expire(now);
    const hlen = (packet[0]! & 0x0f) * 4;
    const total = rd16(packet, 2);
    const frag = rd16(packet, 6);
    const more = (frag & IP_MF) !== 0;
    const start = (frag & IP_OFFSET_MASK) * 8;
    const data = packet.subarray(hlen, total);
    if (more && (data.length === 0 || data.length % 8 !== 0)) return 'bad-length';
    const stop = start + data.length;
    const key = `${rd32(packet, 12)}>${rd32(packet, 16)}:${packet[9]}:${rd16(packet, 4)}`;
    let q = this.queues.get(key);
    // The header that would carry this payload (the first fragment's, at least 20 bytes) must fit
    // the 16-bit total length.
    if (IPV4_MAX_TOTAL - hlen < stop) { if (q) this.poison(q); return 'too-long'; }
    if (q?.poisoned) return 'discarded';
    if (!q) {
      q = { key, born: now, pieces: [], end: -1, header: null, bytes: 0, poisoned: false };
      this.queues.set(key, q);
    }
    if (!more) {
      if ((q.end >= 0 && q.end !== stop) || q.pieces.some((p) => p.start + p.data.length > stop)) { this.poison(q); return 'overlap'; }
      q.end = stop;
    } else if (q.end >= 0 && stop > q.end) {
      this.poison(q);
      return 'overlap';
    }
    for (const p of q.pieces) {
      const pStop = p.start + p.data.length;
      if (stop <= p.start || start >= pStop) continue;
      if (p.start === start && pStop === stop && p.data.every((b, i) => b === data[i])) return 'duplicate';
      this.poison(q);
      return 'overlap';
    }
    if (start === 0) q.header = packet.slice(0, hlen);
    if (!this.makeRoom(data.length, q)) return 'no-room';
    q.pieces.push({ start, data: data.slice() });
    q.bytes += data.length;
    this.held += data.length;
    return this.complete(q) ?? 'pending';
  }

  /** The datagram, when the pieces cover 0..end with no hole. */
  private complete(q: Queue): Uint8Array | null {
    // The pieces are disjoint and inside 0..end, so bytes == end means no holes.
    if (q.end < 0 || q.header === null || q.bytes !== q.end) return null;
    const hlen = q.header.length;
    if (hlen + q.end > IPV4_MAX_TOTAL) { this.poison(q); return null; } // the first fragment's options made it too long
    const out = new Uint8Array(hlen + q.end);
    out.set(q.header);
    for (const p of q.pieces) out.set(p.data, hlen + p.start);
    wr16(out, 2, out.length);
    wr16(out, 6, rd16(out, 6) & ~(IP_MF | IP_OFFSET_MASK)); // a whole datagram: DF kept, MF and offset clear
    wr16(out, 10, 0);
    wr16(out, 10, checksum(out, 0, hlen));
    this.remove(q);
    this.counters.completed++;
    return out;
  }

  /** Drop a datagram's data but remember its key until its timer ends (RFC 5722). */
  private poison(q: Queue): void {
    this.held -= q.bytes;
    q.bytes = 0;
    q.pieces = [];
    q.header = null;
    q.poisoned = true;
  }

  private remove(q: Queue): void {
    this.held -= q.bytes;
    this.queues.delete(q.key);
  }

  private expire(now: number): void {
    for (const q of this.queues.values()) {
      if (now - q.born < this.limits.timeoutMs) break; // insertion order is age order
      if (!q.poisoned) this.counters.timedOut++;
      this.remove(q);
    }
  }

  /**
   * Evict the oldest other datagrams until `bytes` more fit and the queues are within their
   * limit; false (and `keep` discarded) when even alone it would not fit.
   */
  private makeRoom(bytes: number, keep: Queue): boolean {
    for (const q of this.queues.values()) {
      if (this.held + bytes <= this.limits.maxBytes && this.queues.size <= this.limits.maxQueues) return true;
      if (q === keep) continue;
      if (!q.poisoned) this.counters.evicted++;
      this.remove(q);
    }
    if (this.held + bytes <= this.limits.maxBytes) return true;
    this.poison(keep);
    return false;
  }
}
