// TCP segment format (RFC 9293 3.1): ports, sequence and acknowledgement numbers, data offset,
// control bits, window, checksum over a pseudo-header, options (only MSS, kind 2, is read and
// sent: RFC 9293 3.7.1), data.
import { finishSum, pseudoSum, rd16, rd32, sum16, wr16, wr32 } from './bytes';
import { buildIpv4, IPPROTO_TCP, type Ipv4Packet } from './ipv4';

export const TCP_MIN_HLEN = 20;
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
const TCPOPT_END = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MSS = 2;

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** The MSS option when present (SYN segments), else null. */
  mss: number | null;
  data: Uint8Array;
}

export function parseTcp(ip: Ipv4Packet): TcpSegment | null {
  const b = ip.payload;
  if (b.length < TCP_MIN_HLEN) return null;
  const hlen = (b[12] >> 4) * 4;
  if (hlen < TCP_MIN_HLEN || hlen > b.length) return null;
  if (finishSum(sum16(b, 0, b.length, pseudoSum(ip.src, ip.dst, IPPROTO_TCP, b.length))) !== 0) return null;
  let mss: number | null = null;
  for (let i = TCP_MIN_HLEN; i < hlen; ) {
    const kind = b[i];
    if (kind === TCPOPT_END) break;
    if (kind === TCPOPT_NOP) { i++; continue; }
    if (i + 1 >= hlen) return null;
    const len = b[i + 1];
    if (len < 2 || i + len > hlen) return null;
    if (kind === TCPOPT_MSS && len === 4) mss = rd16(b, i + 2);
    i += len;
  }
  return {
    srcPort: rd16(b, 0), dstPort: rd16(b, 2), seq: rd32(b, 4), ack: rd32(b, 8),
    flags: b[13] & 0x3f, window: rd16(b, 14), mss, data: b.subarray(hlen),
  };
}

/** A whole IPv4 packet carrying the segment; an MSS option is added when `mss` is given. */
export function buildTcp(src: number, dst: number, seg: TcpSegment): Uint8Array {
  const hlen = TCP_MIN_HLEN + (seg.mss !== null ? 4 : 0);
  const t = new Uint8Array(hlen + seg.data.length);
  wr16(t, 0, seg.srcPort);
  wr16(t, 2, seg.dstPort);
  wr32(t, 4, seg.seq);
  wr32(t, 8, seg.ack);
  t[12] = (hlen / 4) << 4;
  t[13] = seg.flags;
  wr16(t, 14, seg.window);
  if (seg.mss !== null) {
    t[20] = TCPOPT_MSS;
    t[21] = 4;
    wr16(t, 22, seg.mss);
  }
  t.set(seg.data, hlen);
  wr16(t, 16, finishSum(sum16(t, 0, t.length, pseudoSum(src, dst, IPPROTO_TCP, t.length))));
  return buildIpv4(src, dst, IPPROTO_TCP, t);
}
