// Byte-level helpers shared by the packet parsers: big-endian (network order) fields, IPv4
// addresses as unsigned 32-bit numbers, and the Internet checksum (RFC 1071: the ones' complement
// of the ones' complement sum of 16-bit words; an odd last byte is padded with zero).

export const rd16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
export const rd32 = (b: Uint8Array, o: number): number =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

export function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** "a.b.c.d" for an address held as a number. */
export function ipString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** The number for a dotted-quad string, or null when it is not one. */
export function parseIp(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** The unfolded ones' complement sum of `len` bytes at `off`, added to `sum`. */
export function sum16(b: Uint8Array, off: number, len: number, sum = 0): number {
  let i = off;
  const end = off + len;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  return sum;
}

/** Fold a sum to 16 bits and complement it: the value that goes into a checksum field. */
export function finishSum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The checksum over a byte range (a header whose checksum field is zero, or verification: 0 = good). */
export function checksum(b: Uint8Array, off = 0, len = b.length - off): number {
  return finishSum(sum16(b, off, len));
}

/** The pseudo-header sum for UDP (RFC 768) and TCP (RFC 9293 3.1): addresses, protocol, length. */
export function pseudoSum(src: number, dst: number, proto: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + length;
}

/** Sequence-space comparison modulo 2^32 (RFC 9293 3.4): a < b. */
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
export const seqDiff = (a: number, b: number): number => (a - b) | 0;

/** A MAC address as "52:55:0a:00:02:02". */
export function macString(m: Uint8Array): string {
  return [...m].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
