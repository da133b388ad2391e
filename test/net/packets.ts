// A test guest's own packet code, written apart from src/net/user so that the stack is checked
// against a second implementation: frames are built and parsed here with DataView, the Internet
// checksum (RFC 1071) computed by a different loop, and every checksum the stack sends verified.

export const GUEST_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
export const GW_MAC = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
export const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

export const addr = (s: string): number[] => s.split('.').map(Number);
export const addrStr = (b: ArrayLike<number>): string => Array.from(b).join('.');

/** RFC 1071 checksum, summed over a plain number array (result 0 when verifying a good one). */
export function csum(bytes: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += bytes[i] * 256 + (i + 1 < bytes.length ? bytes[i + 1] : 0);
  while (s >= 0x10000) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return 0xffff - s;
}

const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

export function eth(dst: number[], type: number, payload: number[]): Uint8Array {
  return Uint8Array.from([...dst, ...GUEST_MAC, ...be16(type), ...payload]);
}

export function ipv4(src: string, dst: string, proto: number, payload: number[]): number[] {
  const h = [0x45, 0, ...be16(20 + payload.length), 0x12, 0x34, 0x40, 0, 64, proto, 0, 0, ...addr(src), ...addr(dst)];
  const c = csum(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return [...h, ...payload];
}

function pseudo(src: string, dst: string, proto: number, len: number): number[] {
  return [...addr(src), ...addr(dst), 0, proto, ...be16(len)];
}

export function udp(src: string, dst: string, sport: number, dport: number, data: number[]): Uint8Array {
  const u = [...be16(sport), ...be16(dport), ...be16(8 + data.length), 0, 0, ...data];
  const c = csum([...pseudo(src, dst, 17, u.length), ...u]) || 0xffff;
  u[6] = c >> 8;
  u[7] = c & 0xff;
  return eth(dst === '255.255.255.255' ? BCAST : GW_MAC, 0x0800, ipv4(src, dst, 17, u));
}

export interface TcpOut {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  win?: number;
  mss?: number;
  data?: number[];
}

export const FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16;

export function tcp(src: string, dst: string, s: TcpOut): Uint8Array {
  const opts = s.mss !== undefined ? [2, 4, ...be16(s.mss)] : [];
  const t = [...be16(s.sport), ...be16(s.dport), ...be32(s.seq >>> 0), ...be32(s.ack >>> 0),
    ((20 + opts.length) / 4) << 4, s.flags, ...be16(s.win ?? 65535), 0, 0, 0, 0, ...opts, ...(s.data ?? [])];
  const c = csum([...pseudo(src, dst, 6, t.length), ...t]);
  t[16] = c >> 8;
  t[17] = c & 0xff;
  return eth(GW_MAC, 0x0800, ipv4(src, dst, 6, t));
}

export interface Rx {
  dstMac: number[];
  srcMac: number[];
  type: number;
  arp?: { op: number; sha: number[]; spa: string; tha: number[]; tpa: string };
  ip?: { src: string; dst: string; proto: number };
  icmp?: { type: number; code: number; id: number; seq: number; data: number[] };
  udp?: { sport: number; dport: number; data: number[] };
  tcp?: { sport: number; dport: number; seq: number; ack: number; flags: number; win: number; mss: number | null; data: number[] };
}

/** Parses a frame from the stack, throwing if any length or checksum is wrong. */
export function parse(f: Uint8Array): Rx {
  const b = Array.from(f);
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const rx: Rx = { dstMac: b.slice(0, 6), srcMac: b.slice(6, 12), type: v.getUint16(12) };
  if (rx.type === 0x0806) {
    rx.arp = { op: v.getUint16(20), sha: b.slice(22, 28), spa: addrStr(b.slice(28, 32)), tha: b.slice(32, 38), tpa: addrStr(b.slice(38, 42)) };
    return rx;
  }
  const ih = b.slice(14, 14 + (b[14] & 15) * 4);
  if (csum(ih) !== 0) throw new Error('bad IPv4 header checksum');
  const total = v.getUint16(16);
  if (14 + total !== f.length) throw new Error(`IPv4 total length ${total} vs frame ${f.length}`);
  const src = addrStr(ih.slice(12, 16)), dst = addrStr(ih.slice(16, 20));
  rx.ip = { src, dst, proto: ih[9] };
  const p = b.slice(14 + ih.length);
  const pv = new DataView(f.buffer, f.byteOffset + 14 + ih.length);
  if (rx.ip.proto === 1) {
    if (csum(p) !== 0) throw new Error('bad ICMP checksum');
    rx.icmp = { type: p[0], code: p[1], id: pv.getUint16(4), seq: pv.getUint16(6), data: p.slice(8) };
  } else if (rx.ip.proto === 17) {
    if (pv.getUint16(4) !== p.length) throw new Error('bad UDP length');
    if (csum([...pseudo(src, dst, 17, p.length), ...p]) !== 0) throw new Error('bad UDP checksum');
    rx.udp = { sport: pv.getUint16(0), dport: pv.getUint16(2), data: p.slice(8) };
  } else if (rx.ip.proto === 6) {
    if (csum([...pseudo(src, dst, 6, p.length), ...p]) !== 0) throw new Error('bad TCP checksum');
    const hl = (p[12] >> 4) * 4;
    const mss = hl >= 24 && p[20] === 2 ? pv.getUint16(22) : null;
    rx.tcp = { sport: pv.getUint16(0), dport: pv.getUint16(2), seq: pv.getUint32(4), ack: pv.getUint32(8), flags: p[13], win: pv.getUint16(14), mss, data: p.slice(hl) };
  }
  return rx;
}

/** The frames a link delivers, with a way to wait for one that matches. */
export class Inbox {
  readonly frames: Rx[] = [];
  private waiters: { pred: (r: Rx) => boolean; resolve: (r: Rx) => void }[] = [];
  /** Every frame seen, also those taken by `next`. */
  readonly all: Rx[] = [];
  onRx: ((r: Rx) => void) | null = null;

  push(f: Uint8Array): void {
    const r = parse(f);
    this.all.push(r);
    if (this.onRx) return this.onRx(r);
    const w = this.waiters.findIndex((x) => x.pred(r));
    if (w >= 0) this.waiters.splice(w, 1)[0].resolve(r);
    else this.frames.push(r);
  }

  next(pred: (r: Rx) => boolean = () => true, ms = 3000): Promise<Rx> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error('timed out waiting for a frame'));
      }, ms);
    });
  }
}
