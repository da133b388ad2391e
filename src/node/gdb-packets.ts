// GDB Remote Serial Protocol framing: `$payload#cs` packets with a two-digit hex checksum (the
// sum of the payload's bytes modulo 256), acknowledged with `+` (good) or `-` (send again), and
// the lone byte 0x03 with which gdb interrupts a running target. Written from the protocol's
// description in the GDB manual (appendix "Remote Protocol", "Overview").

/** What the byte stream from gdb holds, in order. */
export type GdbInput =
  | { kind: 'packet'; payload: string }
  | { kind: 'bad-packet'; why: string }
  | { kind: 'ack' }
  | { kind: 'nack' }
  | { kind: 'interrupt' };

const DOLLAR = 0x24;
const HASH = 0x23;
const PLUS = 0x2b;
const MINUS = 0x2d;
const CTRL_C = 0x03;
const ESCAPE = 0x7d; // '}': the next byte is XORed with 0x20
const ESCAPE_XOR = 0x20;

/** Longest packet we accept (and announce in qSupported's PacketSize). */
export const MAX_PACKET = 16384;

/** Splits what gdb sends into packets, acks and interrupts; a broken packet is reported, never thrown. */
export class PacketDecoder {
  private state: 'idle' | 'payload' | 'check1' | 'check2' = 'idle';
  private bytes: number[] = [];
  private sum = 0;
  private check = '';
  private overflow = false;

  feed(data: Uint8Array): GdbInput[] {
    const out: GdbInput[] = [];
    for (const b of data) {
      switch (this.state) {
        case 'idle':
          if (b === DOLLAR) this.begin();
          else if (b === PLUS) out.push({ kind: 'ack' });
          else if (b === MINUS) out.push({ kind: 'nack' });
          else if (b === CTRL_C) out.push({ kind: 'interrupt' });
          // Anything else between packets is line noise: skipped.
          break;
        case 'payload':
          if (b === HASH) { this.state = 'check1'; break; }
          if (b === DOLLAR) { out.push({ kind: 'bad-packet', why: 'a new packet began inside one' }); this.begin(); break; }
          this.sum = (this.sum + b) & 0xff;
          if (this.bytes.length < MAX_PACKET) this.bytes.push(b); else this.overflow = true;
          break;
        case 'check1':
          this.check = String.fromCharCode(b);
          this.state = 'check2';
          break;
        case 'check2': {
          this.check += String.fromCharCode(b);
          this.state = 'idle';
          if (!/^[0-9a-fA-F]{2}$/.test(this.check)) out.push({ kind: 'bad-packet', why: `checksum '${this.check}' is not two hex digits` });
          else if (parseInt(this.check, 16) !== this.sum) out.push({ kind: 'bad-packet', why: `checksum ${this.check} does not match the payload's ${hex2(this.sum)}` });
          else if (this.overflow) out.push({ kind: 'bad-packet', why: `longer than ${MAX_PACKET} bytes` });
          else out.push({ kind: 'packet', payload: unescape(this.bytes) });
          break;
        }
      }
    }
    return out;
  }

  private begin(): void {
    this.state = 'payload';
    this.bytes = [];
    this.sum = 0;
    this.overflow = false;
  }
}

/** Undo the `}` escapes of binary payloads; the payload as a string of byte-valued characters. */
function unescape(bytes: number[]): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    let b = bytes[i]!;
    if (b === ESCAPE && i + 1 < bytes.length) b = bytes[++i]! ^ ESCAPE_XOR;
    s += String.fromCharCode(b);
  }
  return s;
}

/** `payload` framed as a packet: `$`, the payload with `$ # } *` escaped, `#`, the checksum. */
export function encodePacket(payload: string): Uint8Array {
  const body: number[] = [];
  for (let i = 0; i < payload.length; i++) {
    const c = payload.charCodeAt(i) & 0xff;
    if (c === DOLLAR || c === HASH || c === ESCAPE || c === 0x2a /* '*' */) body.push(ESCAPE, c ^ ESCAPE_XOR);
    else body.push(c);
  }
  let sum = 0;
  for (const b of body) sum = (sum + b) & 0xff;
  const out = new Uint8Array(body.length + 4);
  out[0] = DOLLAR;
  out.set(body, 1);
  out[body.length + 1] = HASH;
  const cs = hex2(sum);
  out[body.length + 2] = cs.charCodeAt(0);
  out[body.length + 3] = cs.charCodeAt(1);
  return out;
}

export function hex2(v: number): string {
  return (v & 0xff).toString(16).padStart(2, '0');
}

/** Bytes as lowercase hex, two digits each. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += hex2(b);
  return s;
}

/** Hex digits to bytes; null unless it is an even number of hex digits. */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A 32-bit value in target byte order (little-endian) as hex, as `g` and `p` send registers. */
export function le32Hex(v: number): string {
  return hex2(v) + hex2(v >>> 8) + hex2(v >>> 16) + hex2(v >>> 24);
}

/** Eight hex digits in little-endian order back to a value; null if malformed. */
export function parseLe32Hex(text: string): number | null {
  const b = fromHex(text);
  if (b === null || b.length !== 4) return null;
  return (b[0]! | b[1]! << 8 | b[2]! << 16 | b[3]! << 24) >>> 0;
}

/** A hex number as gdb writes addresses and lengths (no 0x); null unless 1..8 hex digits. */
export function parseHexNumber(text: string): number | null {
  if (!/^[0-9a-fA-F]{1,8}$/.test(text)) return null;
  return parseInt(text, 16);
}
