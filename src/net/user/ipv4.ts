// IPv4 (RFC 791) header parsing and building, UDP (RFC 768) and ICMP echo (RFC 792).
// Every length the guest gives is checked against the bytes actually present; a packet that does
// not add up is refused (null) for the stack to count and drop.
import { checksum, finishSum, pseudoSum, rd16, rd32, sum16, wr16, wr32 } from './bytes';

export const IPV4_MIN_HLEN = 20;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** Flags/fragment-offset word: More Fragments bit and the 13-bit offset (RFC 791 3.1). */
const IP_MF = 0x2000;
const IP_OFFSET_MASK = 0x1fff;
const DEFAULT_TTL = 64;

export interface Ipv4Packet {
  src: number;
  dst: number;
  proto: number;
  ttl: number;
  /** The payload, cut to the header's total length (Ethernet padding removed). */
  payload: Uint8Array;
  /** The header as received, options included (what an ICMP error quotes, RFC 792). */
  header: Uint8Array;
}

export type Ipv4Result = Ipv4Packet | 'malformed' | 'checksum' | 'fragment';

export function parseIpv4(b: Uint8Array): Ipv4Result {
  if (b.length < IPV4_MIN_HLEN || b[0] >> 4 !== 4) return 'malformed';
  const hlen = (b[0] & 0x0f) * 4;
  const total = rd16(b, 2);
  if (hlen < IPV4_MIN_HLEN || total < hlen || total > b.length) return 'malformed';
  if (checksum(b, 0, hlen) !== 0) return 'checksum';
  // A fragment (More Fragments set, or an offset): the caller reassembles it (ipv4-reassembly.ts).
  const frag = rd16(b, 6);
  if (frag & (IP_MF | IP_OFFSET_MASK)) return 'fragment';
  return { src: rd32(b, 12), dst: rd32(b, 16), proto: b[9], ttl: b[8], payload: b.subarray(hlen, total), header: b.subarray(0, hlen) };
}

let nextId = 1;

/** The IPv4 MTU of the Ethernet link to the guest. */
export const IPV4_LINK_MTU = 1500;

/**
 * A packet this stack built (a 20-byte header, no options) cut into fragments that fit `mtu`
 * (RFC 791 3.2): each has the header with its own total length, offset and More Fragments, and a
 * multiple of 8 data bytes but the last; Don't Fragment is cleared (this stack is the sender and
 * chooses to fragment). A packet that fits is returned as it is.
 */
export function fragmentIpv4(packet: Uint8Array, mtu = IPV4_LINK_MTU): Uint8Array[] {
  if (packet.length <= mtu) return [packet];
  const hlen = (packet[0] & 0x0f) * 4;
  const data = packet.subarray(hlen, rd16(packet, 2));
  const step = (mtu - hlen) & ~7;
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += step) {
    const piece = data.subarray(at, at + step);
    const f = new Uint8Array(hlen + piece.length);
    f.set(packet.subarray(0, hlen));
    f.set(piece, hlen);
    wr16(f, 2, f.length);
    wr16(f, 6, (at + step < data.length ? IP_MF : 0) | (at >> 3));
    wr16(f, 10, 0);
    wr16(f, 10, checksum(f, 0, hlen));
    out.push(f);
  }
  return out;
}

/** A 20-byte header (no options) with its checksum, then the payload. Don't Fragment is set. */
export function buildIpv4(src: number, dst: number, proto: number, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(IPV4_MIN_HLEN + payload.length);
  p[0] = 0x45;
  wr16(p, 2, p.length);
  wr16(p, 4, nextId);
  nextId = (nextId + 1) & 0xffff;
  wr16(p, 6, 0x4000); // DF: this stack never fragments (RFC 791 3.1)
  p[8] = DEFAULT_TTL;
  p[9] = proto;
  wr32(p, 12, src);
  wr32(p, 16, dst);
  wr16(p, 10, checksum(p, 0, IPV4_MIN_HLEN));
  p.set(payload, IPV4_MIN_HLEN);
  return p;
}

// --- UDP (RFC 768): 8-byte header; the checksum covers a pseudo-header and is optional (0). ---
export const UDP_HLEN = 8;

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  data: Uint8Array;
}

export function parseUdp(ip: Ipv4Packet): UdpDatagram | null {
  const b = ip.payload;
  if (b.length < UDP_HLEN) return null;
  const len = rd16(b, 4);
  if (len < UDP_HLEN || len > b.length) return null;
  if (rd16(b, 6) !== 0 && finishSum(sum16(b, 0, len, pseudoSum(ip.src, ip.dst, IPPROTO_UDP, len))) !== 0) return null;
  return { srcPort: rd16(b, 0), dstPort: rd16(b, 2), data: b.subarray(UDP_HLEN, len) };
}

export function buildUdp(src: number, dst: number, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(UDP_HLEN + data.length);
  wr16(u, 0, srcPort);
  wr16(u, 2, dstPort);
  wr16(u, 4, u.length);
  u.set(data, UDP_HLEN);
  // A computed zero is sent as all ones: zero means "no checksum" (RFC 768).
  wr16(u, 6, finishSum(sum16(u, 0, u.length, pseudoSum(src, dst, IPPROTO_UDP, u.length))) || 0xffff);
  return buildIpv4(src, dst, IPPROTO_UDP, u);
}

// --- ICMP echo (RFC 792): type 8 request, type 0 reply, same identifier, sequence and data. ---
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_PORT_UNREACHABLE = 3; // code, with ICMP_DEST_UNREACHABLE
export const ICMP_ECHO_REQUEST = 8;
const ICMP_HLEN = 8;

/** The reply to an echo request addressed to `ip.dst`, or null if it is not a valid request. */
export function icmpEchoReply(ip: Ipv4Packet): Uint8Array | null {
  const b = ip.payload;
  if (b.length < ICMP_HLEN || checksum(b) !== 0) return null;
  if (b[0] !== ICMP_ECHO_REQUEST || b[1] !== 0) return null;
  const r = b.slice();
  r[0] = ICMP_ECHO_REPLY;
  wr16(r, 2, 0);
  wr16(r, 2, checksum(r));
  return buildIpv4(ip.dst, ip.src, IPPROTO_ICMP, r);
}

/**
 * Destination unreachable (RFC 792 type 3) about `ip`, from `from` to its sender: the offending
 * datagram's header and its first 8 data bytes are quoted, so the sender's stack can find the
 * socket (a UDP sender sees ECONNREFUSED for code 3, port unreachable).
 */
export function icmpUnreachable(ip: Ipv4Packet, code: number, from: number): Uint8Array {
  const quoted = Math.min(ip.payload.length, 8);
  const m = new Uint8Array(ICMP_HLEN + ip.header.length + quoted);
  m[0] = ICMP_DEST_UNREACHABLE;
  m[1] = code;
  m.set(ip.header, ICMP_HLEN);
  m.set(ip.payload.subarray(0, quoted), ICMP_HLEN + ip.header.length);
  wr16(m, 2, checksum(m));
  return buildIpv4(from, ip.src, IPPROTO_ICMP, m);
}
