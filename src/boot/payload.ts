// Decompresses a bzImage's kernel payload on the host, so that the boot loader can load the
// vmlinux ELF directly (linux.ts, `vmlinux`) instead of running the guest's own decompressor,
// which costs seconds of emulated time for an XZ kernel. Runs in Node and in the browser.
//
// The payload (Documentation/arch/x86/boot.rst, payload_offset / payload_length, protocol 2.08+)
// is the kernel's stripped vmlinux ELF (arch/x86/boot/compressed: objcopy -S) compressed with
// the CONFIG_KERNEL_* method; mkpiggy takes the last four bytes of the compressed file as the
// decompressed size (le32), which gzip's ISIZE already is and which the kernel build appends to
// the other formats (size_append).
//
// Decoded here:
//  - gzip, with the platform's DecompressionStream (Node 18+, every current browser);
//  - XZ as the kernel's scripts/xz_wrap.sh writes it: LZMA2, optionally after the x86 BCJ
//    filter, CRC32 or no check. The container is parsed here (tukaani.org xz-file-format.txt);
//    LZMA2 is decoded by the xz-decompress package (xz-embedded in WebAssembly), which has no
//    BCJ filter, so each block's compressed data is re-wrapped in a minimal LZMA2-only stream for
//    it, and the x86 BCJ filter is undone and the check verified here.
//
// Result, and the error policy:
//  - { vmlinux, format }: the decompressed kernel, checked to be an i386 executable ELF.
//  - null: nothing to decompress here, the caller boots the bzImage and the guest decompresses
//    itself: an ELF kernel (no payload); boot protocol before 2.08 (no payload fields); a
//    format we do not decode (bzip2, lzma, lzo, lz4, zstd, old-magic gzip, unknown magic); an
//    intact XZ stream using options a kernel build never produces (a filter other than x86 BCJ
//    and LZMA2, a check other than none or CRC32, reserved header bits); or a host without the
//    decoder (no DecompressionStream, or the xz-decompress module failed to load).
//  - BootError: the image is broken, which the guest's decompressor would also trip over, later
//    and with a vaguer message: not a valid bzImage (parseBzImage's own errors), or a gzip/XZ
//    payload that is truncated, corrupt, fails its checksum or size check (an XZ stream must end
//    exactly at the appended size, as every kernel build writes it), is larger than
//    MAX_VMLINUX_BYTES, or decompresses to something that is not an i386 ELF executable.
// No other exception escapes: every offset and length is checked against its buffer, and the
// decoders' own exceptions are turned into BootErrors.

import { crc32 } from '../snapshot/crc32.js';
import { BootError } from './boot-error';
import { parseBzImage } from './bzimage';
import { isElf, parseElf32 } from './elf';

/** The largest decompressed kernel accepted (a 686 vmlinux is about 16 MiB). */
export const MAX_VMLINUX_BYTES = 256 << 20;
/** Boot protocol that added payload_offset / payload_length. */
const PAYLOAD_PROTOCOL = 0x0208;

export type PayloadFormat = 'gzip' | 'xz' | 'bzip2' | 'lzma' | 'lzo' | 'lz4' | 'zstd' | 'unknown';

export interface DecompressedPayload {
  /** The kernel as an uncompressed i386 ELF, for VmConfig.vmlinux. */
  vmlinux: Uint8Array;
  /** How the payload was compressed: 'gzip', or 'xz' / 'xz+x86' (with the x86 BCJ filter). */
  format: string;
}

/** The payload's compression, by the two-byte magics of the kernel's lib/decompress.c. */
export function payloadFormat(payload: Uint8Array): PayloadFormat {
  if (payload.length < 2) return 'unknown';
  const m = (payload[0] << 8) | payload[1];
  switch (m) {
    case 0x1f8b: case 0x1f9e: return 'gzip';
    case 0x425a: return 'bzip2';
    case 0x5d00: return 'lzma';
    case 0xfd37: return 'xz';
    case 0x894c: return 'lzo';
    case 0x0221: return 'lz4';
    case 0x28b5: return 'zstd';
    default: return 'unknown';
  }
}

/**
 * The bzImage's kernel decompressed, or null when it cannot or need not be done on the host
 * (see the policy above). Throws only BootError.
 */
export async function decompressPayload(bzImage: Uint8Array): Promise<DecompressedPayload | null> {
  if (isElf(bzImage)) return null;
  const bz = parseBzImage(bzImage);
  if (bz.header.version < PAYLOAD_PROTOCOL) return null;
  const payload = bz.payload;
  if (payload.length < 4) throw new BootError(`kernel: the compressed kernel is only ${payload.length} bytes long`);
  const format = payloadFormat(payload);
  let result: DecompressedPayload | null;
  if (format === 'gzip' && payload[1] === 0x8b) {
    const vmlinux = await gunzip(payload);
    result = vmlinux && { vmlinux, format };
  } else if (format === 'xz') result = await unxz(payload);
  else result = null;
  if (result) checkKernelElf(result);
  return result;
}

// ---- helpers ----

function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

function checkKernelElf(r: DecompressedPayload): void {
  try {
    parseElf32(r.vmlinux, 'vmlinux');
  } catch (e) {
    const why = e instanceof BootError ? e.message.replace(/^vmlinux: /, '') : String(e);
    throw new BootError(`kernel: the ${r.format} payload decompressed to ${r.vmlinux.length} bytes that are not an i386 kernel (${why})`);
  }
}

/** A stream of `bytes`, in 1 MiB views (no copies). */
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const n = Math.min(1 << 20, bytes.length - at);
      controller.enqueue(bytes.subarray(at, at + n));
      at += n;
    },
  });
}

/**
 * Reads `stream` into a buffer of exactly `expected` bytes. Throws BootError(`what` ...) when the
 * stream fails or yields another length; `decoderError` words a decoder exception.
 */
async function collect(stream: ReadableStream<Uint8Array>, expected: number, what: string,
  decoderError: (message: string) => string): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  const reader = stream.getReader();
  let at = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw new BootError(`kernel: ${what} ${decoderError(e instanceof Error ? e.message : String(e))}`);
    }
    if (chunk.done) break;
    const value = chunk.value;
    if (at + value.length > expected) {
      reader.cancel().catch(() => {});
      throw new BootError(`kernel: ${what} is corrupt (it decompresses to more than the ${expected} bytes it declares)`);
    }
    out.set(value, at);
    at += value.length;
  }
  if (at !== expected) {
    throw new BootError(`kernel: ${what} is corrupt (it decompresses to ${at} bytes, not the ${expected} it declares)`);
  }
  return out;
}

// ---- gzip ----

/** The gzip payload decompressed; null on a host without DecompressionStream. */
async function gunzip(payload: Uint8Array): Promise<Uint8Array | null> {
  // ISIZE, the last field of the gzip trailer: the uncompressed size modulo 2^32.
  const expected = u32(payload, payload.length - 4);
  if (expected > MAX_VMLINUX_BYTES) {
    throw new BootError(`kernel: the gzip payload declares ${mib(expected)} of kernel, more than the ${mib(MAX_VMLINUX_BYTES)} accepted`);
  }
  if (typeof DecompressionStream !== 'function') return null;
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = streamOf(payload).pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  } catch (e) {
    throw new BootError(`kernel: cannot start gzip decompression (${(e as Error).message})`);
  }
  return collect(stream, expected, 'the gzip payload', (m) => `is corrupt or truncated (${m})`);
}

// ---- XZ container (xz-file-format.txt) ----

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const XZ_FOOTER_MAGIC = [0x59, 0x5a]; // "YZ"
const XZ_HEADER_SIZE = 12;
const XZ_FOOTER_SIZE = 12;
const CHECK_NONE = 0x00;
const CHECK_CRC32 = 0x01;
const FILTER_X86 = 0x04;
const FILTER_LZMA2 = 0x21;
/** Size of the check field for each check id (the spec's table, ids 0..15). */
const CHECK_SIZES = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];

/** Thrown inside the XZ parser for an intact stream we choose not to decode; becomes null. */
class Unsupported extends Error {}

function corrupt(why: string): BootError {
  return new BootError(`kernel: the XZ payload is corrupt or truncated (${why})`);
}

/** A bounds-checked reader over one region of the payload. */
class Cursor {
  constructor(readonly b: Uint8Array, public at: number, readonly end: number, readonly where: string) {}
  byte(): number {
    if (this.at >= this.end) throw corrupt(`${this.where} ends early`);
    return this.b[this.at++];
  }
  /** A variable-length integer: 7 bits a byte, at most 9 bytes, no redundant trailing zero byte. */
  vli(): number {
    let v = 0;
    for (let i = 0; i < 9; i++) {
      const x = this.byte();
      v += (x & 0x7f) * 2 ** (7 * i);
      if (!(x & 0x80)) {
        if (i > 0 && x === 0) throw corrupt(`bad number in ${this.where}`);
        if (v > Number.MAX_SAFE_INTEGER) throw corrupt(`number out of range in ${this.where}`);
        return v;
      }
    }
    throw corrupt(`bad number in ${this.where}`);
  }
}

interface XzBlock {
  /** The LZMA2 data inside the payload. */
  data: Uint8Array;
  /** LZMA2 dictionary size property byte. */
  dictProp: number;
  uncompressedSize: number;
  /** Start offset of the x86 BCJ filter, or null without it. */
  x86Start: number | null;
  /** The check field (empty with CHECK_NONE). */
  check: Uint8Array;
}

interface XzStream {
  checkType: number;
  blocks: XzBlock[];
  uncompressedSize: number;
}

/** Whether a valid stream footer for stream flags `flags0 flags1` sits at `f`. */
function footerAt(p: Uint8Array, f: number, flags0: number, flags1: number): boolean {
  return f >= XZ_HEADER_SIZE
    && p[f + 10] === XZ_FOOTER_MAGIC[0] && p[f + 11] === XZ_FOOTER_MAGIC[1]
    && crc32(p.subarray(f + 4, f + 10)) === u32(p, f)
    && p[f + 8] === flags0 && p[f + 9] === flags1;
}

/** Parses the XZ stream at the start of the payload. Throws BootError or Unsupported. */
function parseXz(p: Uint8Array): XzStream {
  if (p.length < XZ_HEADER_SIZE + XZ_FOOTER_SIZE) throw corrupt(`only ${p.length} bytes`);
  for (let i = 0; i < XZ_MAGIC.length; i++) if (p[i] !== XZ_MAGIC[i]) throw corrupt('bad stream header magic');
  if (crc32(p.subarray(6, 8)) !== u32(p, 8)) throw corrupt('stream header checksum mismatch');
  if (p[6] !== 0 || (p[7] & 0xf0) !== 0) throw new Unsupported('reserved stream flags');
  const checkType = p[7] & 0x0f;
  const checkSize = CHECK_SIZES[checkType];

  // The stream ends 4 bytes before the payload does: the kernel build appends the decompressed
  // size (le32), which mkpiggy reads from there.
  const footer = p.length - 4 - XZ_FOOTER_SIZE;
  if (!footerAt(p, footer, p[6], p[7])) {
    if (footerAt(p, p.length - XZ_FOOTER_SIZE, p[6], p[7])) throw corrupt('the decompressed size after the stream is missing');
    throw corrupt('no stream footer where the payload ends');
  }
  const indexSize = (u32(p, footer + 4) + 1) * 4;
  const indexStart = footer - indexSize;
  if (indexStart < XZ_HEADER_SIZE) throw corrupt('the index lies outside the stream');

  // -- index: indicator, record count, records (unpadded size, uncompressed size), padding, CRC32 --
  const index = new Cursor(p, indexStart, footer - 4, 'the index');
  if (index.byte() !== 0) throw corrupt('no index where the footer says');
  const count = index.vli();
  const records: { unpadded: number; uncompressed: number }[] = [];
  for (let i = 0; i < count; i++) records.push({ unpadded: index.vli(), uncompressed: index.vli() });
  while ((index.at - indexStart) % 4 !== 0) if (index.byte() !== 0) throw corrupt('index padding is not zero');
  if (index.at !== footer - 4) throw corrupt('index size mismatch');
  if (crc32(p.subarray(indexStart, footer - 4)) !== u32(p, footer - 4)) throw corrupt('index checksum mismatch');

  // -- blocks --
  const blocks: XzBlock[] = [];
  let uncompressedSize = 0;
  let at = XZ_HEADER_SIZE;
  for (const [i, r] of records.entries()) {
    const where = `block ${i} header`;
    const blockEnd = at + Math.ceil(r.unpadded / 4) * 4;
    if (blockEnd > indexStart) throw corrupt(`block ${i} runs into the index`);
    if (p[at] === 0) throw corrupt(`block ${i} missing`);
    const headerSize = (p[at] + 1) * 4;
    if (headerSize + checkSize >= r.unpadded) throw corrupt(`block ${i} sizes do not add up`);
    const h = new Cursor(p, at + 1, at + headerSize - 4, where);
    if (crc32(p.subarray(at, at + headerSize - 4)) !== u32(p, at + headerSize - 4)) throw corrupt(`${where} checksum mismatch`);
    const flags = h.byte();
    if (flags & 0x3c) throw new Unsupported(`reserved block flags`);
    const dataSize = r.unpadded - headerSize - checkSize;
    if (flags & 0x40 && h.vli() !== dataSize) throw corrupt(`block ${i} compressed size disagrees with the index`);
    if (flags & 0x80 && h.vli() !== r.uncompressed) throw corrupt(`block ${i} uncompressed size disagrees with the index`);
    const filters: { id: number; props: Uint8Array }[] = [];
    for (let f = 0; f <= (flags & 3); f++) {
      const id = h.vli();
      const n = h.vli();
      if (n > h.end - h.at) throw corrupt(`${where} ends early`);
      filters.push({ id, props: p.subarray(h.at, h.at + n) });
      h.at += n;
    }
    while (h.at < h.end) if (h.byte() !== 0) throw corrupt(`${where} padding is not zero`);
    // The chain in encoding order: [x86 BCJ,] LZMA2.
    const last = filters[filters.length - 1];
    if (last.id !== FILTER_LZMA2) throw new Unsupported(`filter 0x${last.id.toString(16)}`);
    if (last.props.length !== 1 || last.props[0] > 40) throw corrupt(`${where}: bad LZMA2 properties`);
    let x86Start: number | null = null;
    if (filters.length === 2) {
      const bcj = filters[0];
      if (bcj.id !== FILTER_X86) throw new Unsupported(`filter 0x${bcj.id.toString(16)}`);
      if (bcj.props.length === 0) x86Start = 0;
      else if (bcj.props.length === 4) x86Start = u32(bcj.props, 0);
      else throw corrupt(`${where}: bad x86 filter properties`);
    } else if (filters.length > 2) {
      throw new Unsupported(`a chain of ${filters.length} filters`);
    }
    // header, compressed data, zero padding to a multiple of 4, check
    const dataStart = at + headerSize;
    const dataEnd = dataStart + dataSize;
    const checkAt = blockEnd - checkSize;
    for (let k = dataEnd; k < checkAt; k++) if (p[k] !== 0) throw corrupt(`block ${i} padding is not zero`);
    blocks.push({
      data: p.subarray(dataStart, dataEnd),
      dictProp: last.props[0],
      uncompressedSize: r.uncompressed,
      x86Start,
      check: p.subarray(checkAt, blockEnd),
    });
    uncompressedSize += r.uncompressed;
    if (uncompressedSize > MAX_VMLINUX_BYTES) {
      throw new BootError(`kernel: the XZ payload declares more than the ${mib(MAX_VMLINUX_BYTES)} of kernel accepted`);
    }
    at = blockEnd;
  }
  if (at !== indexStart) throw corrupt('the blocks do not end where the index starts');
  if (u32(p, p.length - 4) !== uncompressedSize % 2 ** 32) {
    throw corrupt(`the appended size ${u32(p, p.length - 4)} is not the stream's ${uncompressedSize}`);
  }
  if (checkType !== CHECK_NONE && checkType !== CHECK_CRC32) throw new Unsupported(`check type ${checkType}`);
  return { checkType, blocks, uncompressedSize };
}

/** Dictionary size of an LZMA2 property byte (0..40). */
function lzma2DictSize(prop: number): number {
  return prop >= 40 ? 0xffffffff : (2 | (prop & 1)) * 2 ** ((prop >> 1) + 11);
}

/** Bytes of a variable-length integer. */
function vliBytes(v: number): number[] {
  const out: number[] = [];
  do {
    const low = v % 128;
    v = Math.floor(v / 128);
    out.push(v > 0 ? low | 0x80 : low);
  } while (v > 0);
  return out;
}

/**
 * An XZ stream, check "none", holding each block's LZMA2 data under a one-filter (LZMA2)
 * block header: what xz-decompress can decode. The dictionary is shrunk to the block's size
 * when smaller (a match can never reach further back than the block's own output), so the
 * decoder allocates no more than it needs.
 */
function lzma2OnlyStream(blocks: XzBlock[]): Uint8Array {
  const BLOCK_HEADER = 12;
  const index: number[] = [0x00, ...vliBytes(blocks.length)];
  for (const b of blocks) index.push(...vliBytes(BLOCK_HEADER + b.data.length), ...vliBytes(b.uncompressedSize));
  while (index.length % 4 !== 0) index.push(0);
  const indexSize = index.length + 4;
  let size = XZ_HEADER_SIZE + indexSize + XZ_FOOTER_SIZE;
  for (const b of blocks) size += BLOCK_HEADER + Math.ceil(b.data.length / 4) * 4;
  const s = new Uint8Array(size);
  s.set(XZ_MAGIC, 0); // stream flags 00 00: check none
  put32(s, 8, crc32(s.subarray(6, 8)));
  let at = XZ_HEADER_SIZE;
  for (const b of blocks) {
    let prop = 0;
    while (prop < b.dictProp && lzma2DictSize(prop) < b.uncompressedSize) prop++;
    // header size (12 / 4 - 1), flags (one filter, no sizes), LZMA2 id, 1 property byte, padding
    s.set([BLOCK_HEADER / 4 - 1, 0x00, FILTER_LZMA2, 1, prop, 0, 0, 0], at);
    put32(s, at + 8, crc32(s.subarray(at, at + 8)));
    s.set(b.data, at + BLOCK_HEADER);
    at += BLOCK_HEADER + Math.ceil(b.data.length / 4) * 4;
  }
  const indexStart = at;
  s.set(index, at);
  put32(s, at + index.length, crc32(s.subarray(indexStart, at + index.length)));
  at += indexSize;
  put32(s, at + 4, indexSize / 4 - 1); // backward size; stream flags 00 00 follow
  put32(s, at, crc32(s.subarray(at + 4, at + 10)));
  s.set(XZ_FOOTER_MAGIC, at + 10);
  return s;
}

interface XzReadableStreamClass {
  new (compressed: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
}

/** xz-decompress's stream class, loaded on first use; null when it cannot load. */
async function loadXzDecoder(): Promise<XzReadableStreamClass | null> {
  try {
    // A CommonJS (UMD) module: Node gives its exports as `default`, bundlers may also name them.
    const mod = (await import('xz-decompress')) as unknown as {
      XzReadableStream?: XzReadableStreamClass;
      default?: { XzReadableStream?: XzReadableStreamClass };
    };
    return mod.XzReadableStream ?? mod.default?.XzReadableStream ?? null;
  } catch {
    return null;
  }
}

/** xz-embedded's enum xz_ret values that mean bad input, by the code xz-decompress reports. */
const XZ_DATA_ERRORS: Record<string, string> = { 5: 'format error', 7: 'data error', 8: 'truncated data' };

async function unxz(payload: Uint8Array): Promise<DecompressedPayload | null> {
  let xz: XzStream;
  try {
    xz = parseXz(payload);
  } catch (e) {
    if (e instanceof Unsupported) return null;
    throw e;
  }
  const Decoder = await loadXzDecoder();
  if (!Decoder) return null;
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = new Decoder(streamOf(lzma2OnlyStream(xz.blocks)));
  } catch (e) {
    throw new BootError(`kernel: cannot start XZ decompression (${(e as Error).message})`);
  }
  const out = await collect(stream, xz.uncompressedSize, 'the XZ payload', (m) => {
    const code = /error code (\d+)/.exec(m)?.[1];
    const why = code !== undefined ? XZ_DATA_ERRORS[code] : undefined;
    return why ? `is corrupt or truncated (LZMA2 ${why})` : `could not be decompressed (${m})`;
  });
  let at = 0;
  for (const [i, b] of xz.blocks.entries()) {
    const data = out.subarray(at, at + b.uncompressedSize);
    if (b.x86Start !== null) unfilterX86(data, b.x86Start);
    if (xz.checkType === CHECK_CRC32 && crc32(data) !== u32(b.check, 0)) throw corrupt(`block ${i} CRC32 mismatch`);
    at += b.uncompressedSize;
  }
  const bcj = xz.blocks.some((b) => b.x86Start !== null);
  return { vmlinux: out, format: bcj ? 'xz+x86' : 'xz' };
}

// ---- x86 BCJ filter, decoding direction ----
//
// The encoder turned the 32-bit relative displacement after each E8 (CALL rel32) or E9 (JMP
// rel32) byte into an absolute address (displacement + position of the next instruction), when
// the displacement's top byte is 00 or FF (a near target), so that repeated calls to one function
// compress well. Decoding subtracts the position again. To avoid converting bytes that merely look
// like E8/E9 but sit inside a recent candidate's 4 operand bytes, the filter tracks a small history:
//   - `history`: bit k set when an unconverted E8/E9 byte stood k positions before the current one
//     (bits 1..3 matter); bit 4+ set when that unconverted candidate's own top byte was 00 or FF.
//   - a candidate is converted only when the history pattern allows it, and when earlier
//     unconverted candidates overlap the operand, the conversion is repeated on the byte such a
//     candidate would have read as its top byte until that byte is no longer 00/FF.
// The table values follow the published algorithm (XZ Utils' and 7-Zip's simple x86 filter).

/** For history bits 1..3 (as history >> 1 & 7): whether a conversion may happen at all. */
const X86_ALLOWED = [true, true, true, false, true, false, false, false];
/** For history bits 1..3: which operand byte (counting down from the top, 0..3) an earlier candidate covers. */
const X86_OVERLAP_BYTE = [0, 1, 2, 2, 3, 3, 3, 3];

const isNearTop = (b: number) => b === 0x00 || b === 0xff;

/** Undoes the x86 BCJ filter in place on one block's output; `start` is the filter's start offset. */
export function unfilterX86(buf: Uint8Array, start = 0): void {
  let history = 0;
  let lastCandidate = -5; // where the previous E8/E9 byte was; far enough back to mean "none"
  const limit = buf.length - 5;
  let i = 0;
  while (i <= limit) {
    if ((buf[i] & 0xfe) !== 0xe8) {
      i++;
      continue;
    }
    const distance = i - lastCandidate;
    lastCandidate = i;
    if (distance > 5) history = 0;
    else for (let k = 0; k < distance; k++) history = (history & 0x77) << 1;

    const top = buf[i + 4];
    const recent = history >> 1;
    if (isNearTop(top) && X86_ALLOWED[recent & 7] && recent < 0x10) {
      const next = (start + i + 5) >>> 0; // position of the following instruction
      let value = (buf[i + 1] | (buf[i + 2] << 8) | (buf[i + 3] << 16) | (top << 24)) >>> 0;
      let target = (value - next) >>> 0;
      while (history !== 0) {
        const shift = 24 - X86_OVERLAP_BYTE[recent] * 8;
        if (!isNearTop((target >>> shift) & 0xff)) break;
        value = (target ^ (2 ** (shift + 8) - 1)) >>> 0;
        target = (value - next) >>> 0;
      }
      // Sign-extend from bit 24: the top byte becomes 00 or FF again.
      buf[i + 1] = target & 0xff;
      buf[i + 2] = (target >>> 8) & 0xff;
      buf[i + 3] = (target >>> 16) & 0xff;
      buf[i + 4] = (target >>> 24) & 1 ? 0xff : 0x00;
      i += 5;
      history = 0;
    } else {
      i++;
      history |= 1;
      if (isNearTop(top)) history |= 0x10;
    }
  }
}
