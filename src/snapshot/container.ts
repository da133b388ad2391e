// The outside of a snapshot file: a fixed header, then the payload (the sections) compressed
// with raw DEFLATE: through CompressionStream in the browser, and through node:zlib in Node, whose
// one call works on a libuv thread in 1 MiB steps. (Node's CompressionStream works in 16 KiB
// steps, each waiting for an event-loop turn, and a busy guest holds each turn for a 10 ms run-loop
// slice: a 32 MiB payload took 10 s.) Both make the same format.
//
//   offset size
//    0     8   magic "WX86SNAP"
//    8     2   format version (FORMAT_VERSION); stays at offset 8 in every version
//   10     2   header bytes (HEADER_BYTES)
//   12     4   compression: 1 = raw DEFLATE (RFC 1951)
//   16     4   guest RAM bytes: bounds what the payload may decompress to
//   20     4   payload bytes, uncompressed
//   24     4   CRC-32 of the uncompressed payload
//   28     4   compressed bytes (the rest of the file)
//   32     4   CRC-32 of the compressed bytes
//   36     4   disk overlay blocks (4 KiB each) the payload holds: with RAM, bounds its size
//   40     4   CRC-32 of bytes 0..39
//   44         the compressed payload
//
// Version 2 added the disks (their overlay blocks, sections.ts 'DISK') and the header's field at
// 36; a version 1 file is refused by its version, which stays at offset 8.
// Integers little-endian. The compressed bytes' CRC tells a damaged file from a good one before
// anything is decompressed; the payload's CRC checks the decompressor and this code as well.
import { MAX_MEMORY_MIB, MIN_MEMORY_MIB } from '../machine/board.js';
import { crc32 } from './crc32.js';
import { SnapshotError, unshared } from './bytes.js';

export const MAGIC = Uint8Array.from('WX86SNAP', (c) => c.charCodeAt(0));
export const FORMAT_VERSION = 2;
export const HEADER_BYTES = 44;
const HEADER_CRC = 40;
/** An overlay block in the payload: its number and its bytes. */
export const DISK_BLOCK_BYTES = 4 + 4096;
const COMPRESSION_DEFLATE_RAW = 1;
const MIB = 1024 * 1024;
/**
 * What a payload may hold beyond guest RAM: the configuration, the CPU, the clock and the
 * devices, of which the display's 16 MiB of video memory is by far the largest. A header that
 * declares more is refused before anything is decompressed, and decompression stops at the
 * declared size, so a small file cannot be made to fill the host's memory.
 */
export const PAYLOAD_BEYOND_RAM = 64 * MIB;

/** What the header says, for the caller's information. */
export interface ContainerInfo {
  formatVersion: number;
  ramBytes: number;
  /** Disk overlay blocks the payload holds, at most. */
  diskBlocks: number;
  payloadBytes: number;
  fileBytes: number;
}

/** The most a payload may hold for a machine of `ramBytes` with `diskBlocks` overlay blocks. */
function payloadLimit(ramBytes: number, diskBlocks: number): number {
  return ramBytes + diskBlocks * DISK_BLOCK_BYTES + PAYLOAD_BEYOND_RAM;
}

/** The payload `chunks` (in order) as a snapshot file, for a guest of `ramBytes` of RAM with `diskBlocks` overlay blocks. */
export async function seal(chunks: Uint8Array[], ramBytes: number, deflate?: Deflate, diskBlocks = 0): Promise<Uint8Array> {
  let payloadBytes = 0;
  let payloadCrc = 0;
  for (const c of chunks) { payloadBytes += c.length; payloadCrc = crc32(c, payloadCrc); }
  if (payloadBytes > payloadLimit(ramBytes, diskBlocks) || payloadBytes > 0xffff_ffff) throw new SnapshotError(`the machine's state (${payloadBytes} bytes) is larger than a snapshot of ${ramBytes / MIB} MiB may hold`);
  const compressed = await (deflate ?? await hostDeflate()).compress(chunks);
  const file = new Uint8Array(HEADER_BYTES + compressed.length);
  const v = new DataView(file.buffer);
  file.set(MAGIC, 0);
  v.setUint16(8, FORMAT_VERSION, true);
  v.setUint16(10, HEADER_BYTES, true);
  v.setUint32(12, COMPRESSION_DEFLATE_RAW, true);
  v.setUint32(16, ramBytes, true);
  v.setUint32(20, payloadBytes, true);
  v.setUint32(24, payloadCrc, true);
  v.setUint32(28, compressed.length, true);
  v.setUint32(32, crc32(compressed), true);
  v.setUint32(36, diskBlocks, true);
  v.setUint32(HEADER_CRC, crc32(file.subarray(0, HEADER_CRC)), true);
  file.set(compressed, HEADER_BYTES);
  return file;
}

/** The payload of a snapshot file, after every check of the header and both checksums. */
export async function unseal(file: Uint8Array, deflate?: Deflate): Promise<{ payload: Uint8Array; info: ContainerInfo }> {
  const prefix = Math.min(file.length, MAGIC.length);
  if (!MAGIC.subarray(0, prefix).every((b, i) => file[i] === b)) throw new SnapshotError('not a webx86 snapshot (the file does not start with WX86SNAP)');
  if (file.length < 12) throw new SnapshotError(`snapshot is truncated: ${file.length} bytes, shorter than its header`);
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = v.getUint16(8, true);
  if (version !== FORMAT_VERSION) throw new SnapshotError(`snapshot is format version ${version}; this webx86 reads version ${FORMAT_VERSION}`);
  if (file.length < HEADER_BYTES) throw new SnapshotError(`snapshot is truncated: ${file.length} bytes, shorter than its header`);
  if (crc32(file.subarray(0, HEADER_CRC)) !== v.getUint32(HEADER_CRC, true)) throw new SnapshotError('snapshot is corrupt: its header fails its checksum');
  if (v.getUint16(10, true) !== HEADER_BYTES) throw new SnapshotError(`snapshot is corrupt: a version ${FORMAT_VERSION} header is ${HEADER_BYTES} bytes, this one says ${v.getUint16(10, true)}`);
  if (v.getUint32(12, true) !== COMPRESSION_DEFLATE_RAW) throw new SnapshotError(`snapshot is corrupt: unknown compression ${v.getUint32(12, true)}`);
  const ramBytes = v.getUint32(16, true);
  if (ramBytes % MIB !== 0 || ramBytes < MIN_MEMORY_MIB * MIB || ramBytes > MAX_MEMORY_MIB * MIB) {
    throw new SnapshotError(`snapshot is corrupt: its header's RAM size ${ramBytes} is not ${MIN_MEMORY_MIB}..${MAX_MEMORY_MIB} MiB`);
  }
  const payloadBytes = v.getUint32(20, true);
  const diskBlocks = v.getUint32(36, true);
  if (payloadBytes > payloadLimit(ramBytes, diskBlocks)) {
    throw new SnapshotError(`snapshot is corrupt: it says it holds ${payloadBytes} bytes, more than a ${ramBytes / MIB} MiB machine's state can be`);
  }
  const compressedBytes = v.getUint32(28, true);
  const fileBytes = HEADER_BYTES + compressedBytes;
  if (file.length < fileBytes) throw new SnapshotError(`snapshot is truncated: ${file.length} of its ${fileBytes} bytes`);
  if (file.length > fileBytes) throw new SnapshotError(`snapshot is corrupt: ${file.length - fileBytes} bytes after its end`);
  const compressed = file.subarray(HEADER_BYTES, fileBytes);
  if (crc32(compressed) !== v.getUint32(32, true)) throw new SnapshotError('snapshot is corrupt: its contents fail their checksum');
  let payload: Uint8Array;
  try {
    payload = await (deflate ?? await hostDeflate()).decompress(compressed, payloadBytes);
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    throw new SnapshotError(`snapshot is corrupt: its contents do not decompress (${oneLine(e)})`);
  }
  if (payload.length !== payloadBytes) throw new SnapshotError(`snapshot is corrupt: it decompresses to ${payload.length} bytes, its header says ${payloadBytes}`);
  if (crc32(payload) !== v.getUint32(24, true)) throw new SnapshotError('snapshot is corrupt: its decompressed contents fail their checksum');
  return { payload, info: { formatVersion: version, ramBytes, diskBlocks, payloadBytes, fileBytes } };
}

/** Raw DEFLATE both ways; decompress gives at most `limit` bytes (a SnapshotError past it). */
export interface Deflate {
  compress(chunks: Uint8Array[]): Promise<Uint8Array>;
  decompress(data: Uint8Array, limit: number): Promise<Uint8Array>;
}

/** The browser's way (and Node's, slower): CompressionStream and DecompressionStream. */
export const streamDeflate: Deflate = {
  compress: (chunks) => pump(new CompressionStream('deflate-raw'), chunks, Infinity),
  decompress: (data, limit) => pump(new DecompressionStream('deflate-raw'), [data], limit),
};

type NodeZlib = typeof import('node:zlib');

/** node:zlib in Node (the page's bundle never loads it), else the streams. */
async function hostDeflate(): Promise<Deflate> {
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') return streamDeflate;
  const name = 'node:zlib';
  const zlib = await (import(/* @vite-ignore */ name) as Promise<NodeZlib>);
  return {
    compress: (chunks) => zlibRun(zlib.deflateRaw, concat(chunks), Infinity),
    decompress: (data, limit) => zlibRun(zlib.inflateRaw, data, limit),
  };
}

/** One node:zlib call on its thread, in 1 MiB steps; at most `limit` bytes out (SnapshotError past it). */
function zlibRun(run: NodeZlib['deflateRaw'], input: Uint8Array, limit: number): Promise<Uint8Array> {
  const options = { chunkSize: 1 << 20, ...(Number.isFinite(limit) ? { maxOutputLength: Math.max(1, limit) } : {}) };
  return new Promise((resolve, reject) => run(unshared(input), options, (e, out) => {
    if (e === null) return resolve(new Uint8Array(out.buffer, out.byteOffset, out.length));
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') reject(new SnapshotError(`snapshot is corrupt: it decompresses to more than the ${limit} bytes its header says`));
    else reject(e);
  }));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

/**
 * Push `input` through a (de)compression stream and gather what comes out, at most `limit`
 * bytes: past that the stream is cancelled and a SnapshotError thrown.
 */
async function pump(stream: CompressionStream | DecompressionStream, input: Uint8Array[], limit: number): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  // Written while the output is read (the stream's queues are small): the two must run together.
  const writing = (async () => {
    for (const c of input) await writer.write(unshared(c));
    await writer.close();
  })();
  // If reading fails first, the writer's own failure is the same one: do not report it twice.
  writing.catch(() => {});
  const reader = stream.readable.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  const fixed = Number.isFinite(limit) ? new Uint8Array(limit) : null;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.length > limit) {
      await reader.cancel().catch(() => {});
      await writer.abort().catch(() => {});
      throw new SnapshotError(`snapshot is corrupt: it decompresses to more than the ${limit} bytes its header says`);
    }
    if (fixed !== null) fixed.set(value, total);
    else parts.push(value);
    total += value.length;
  }
  await writing;
  if (fixed !== null) return total === limit ? fixed : fixed.subarray(0, total);
  return concat(parts);
}
