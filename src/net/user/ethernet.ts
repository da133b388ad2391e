// Ethernet II framing (IEEE 802.3 with an EtherType) and ARP for IPv4 over Ethernet (RFC 826).
import { rd16, rd32, wr16, wr32 } from './bytes';

export const ETH_HLEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export interface EthFrame {
  dst: Uint8Array;
  src: Uint8Array;
  type: number;
  payload: Uint8Array;
}

/** Splits a frame; null when shorter than the header. An 802.1Q tag is not understood (dropped). */
export function parseEthernet(f: Uint8Array): EthFrame | null {
  if (f.length < ETH_HLEN) return null;
  return { dst: f.subarray(0, 6), src: f.subarray(6, 12), type: rd16(f, 12), payload: f.subarray(ETH_HLEN) };
}

export function buildEthernet(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + payload.length);
  f.set(dst, 0);
  f.set(src, 6);
  wr16(f, 12, type);
  f.set(payload, ETH_HLEN);
  return f;
}

// RFC 826 packet: hardware type, protocol type, their lengths, opcode, then sender and target
// hardware/protocol addresses. Only Ethernet (hrd 1) with IPv4 (pro 0x0800) is handled.
export const ARP_LEN = 28;
export const ARP_HRD_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export interface ArpPacket {
  op: number;
  sha: Uint8Array;
  spa: number;
  tha: Uint8Array;
  tpa: number;
}

export function parseArp(p: Uint8Array): ArpPacket | null {
  if (p.length < ARP_LEN) return null;
  if (rd16(p, 0) !== ARP_HRD_ETHERNET || rd16(p, 2) !== ETHERTYPE_IPV4 || p[4] !== 6 || p[5] !== 4) return null;
  return { op: rd16(p, 6), sha: p.slice(8, 14), spa: rd32(p, 14), tha: p.slice(18, 24), tpa: rd32(p, 24) };
}

export function buildArp(a: ArpPacket): Uint8Array {
  const p = new Uint8Array(ARP_LEN);
  wr16(p, 0, ARP_HRD_ETHERNET);
  wr16(p, 2, ETHERTYPE_IPV4);
  p[4] = 6;
  p[5] = 4;
  wr16(p, 6, a.op);
  p.set(a.sha, 8);
  wr32(p, 14, a.spa);
  p.set(a.tha, 18);
  wr32(p, 24, a.tpa);
  return p;
}
