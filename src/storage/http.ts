// A disk image on a web server, fetched in fixed-size chunks with HTTP range requests (RFC 9110
// §14) as the guest reads it: each chunk once, the next ones read ahead, the most recently used
// kept in a cache. Read-only: an overlay (overlay.ts) takes the guest's writes.

import { type BlockBackend, BlockError, SECTOR, checkImageSize, checkRequest } from './block.js';

export interface HttpProgress {
  /** Bytes of the image fetched so far (each chunk counted once per fetch). */
  fetchedBytes: number;
  /** Range requests made, and how many are in flight now. */
  requests: number;
  inFlight: number;
  /** The image's size. */
  size: number;
}

export interface HttpOptions {
  /** Bytes per range request: a multiple of 512 (default 256 KiB). */
  chunkSize?: number;
  /** Chunks kept (default 64, so 16 MiB with the default chunk). */
  cacheChunks?: number;
  /** Chunks fetched ahead of a read, in the background (default 2). */
  readAhead?: number;
  /** Told after every fetch starts and ends: for the page's download progress. */
  onProgress?: (p: HttpProgress) => void;
}

const DEFAULT_CHUNK = 256 * 1024;

export class HttpBackend implements BlockBackend {
  readonly readOnly = true;
  private readonly chunkSize: number;
  private readonly cacheChunks: number;
  private readonly readAhead: number;
  /** Chunk index -> its bytes (or the fetch under way), least recently used first. */
  private readonly cache = new Map<number, Promise<Uint8Array>>();
  readonly progress: HttpProgress;
  get source(): string { return this.url; }

  private constructor(private readonly url: string, readonly size: number, private readonly opts: HttpOptions) {
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK;
    this.cacheChunks = Math.max(1, opts.cacheChunks ?? 64);
    this.readAhead = Math.max(0, opts.readAhead ?? 2);
    this.progress = { fetchedBytes: 0, requests: 0, inFlight: 0, size };
  }

  /** Learn the image's size from a range request for the first sector; refuse a server that ignores ranges. */
  static async open(url: string, opts: HttpOptions = {}): Promise<HttpBackend> {
    const chunk = opts.chunkSize ?? DEFAULT_CHUNK;
    if (!Number.isInteger(chunk) || chunk <= 0 || chunk % SECTOR !== 0) throw new BlockError(`chunk size ${chunk} is not a whole number of sectors`);
    const res = await request(url, `bytes=0-${SECTOR - 1}`);
    // Only the headers matter: a server that sends more than asked is not read further.
    await res.body?.cancel();
    if (res.status === 200) throw new BlockError(`${url}: the server does not support range requests (it answered a range with the whole file)`);
    if (res.status !== 206) throw new BlockError(`${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    const total = /^bytes 0-\d+\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
    if (!total) throw new BlockError(`${url}: the server gave no image size (Content-Range: ${res.headers.get('content-range') ?? 'none'})`);
    const size = Number(total[1]);
    checkImageSize(url, size);
    return new HttpBackend(url, size, opts);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRequest(this.size, offset, length);
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const first = Math.floor(offset / this.chunkSize);
    const last = Math.floor((offset + length - 1) / this.chunkSize);
    for (let k = last + 1; k <= last + this.readAhead && k * this.chunkSize < this.size; k++) {
      if (!this.cache.has(k)) this.chunk(k).catch(() => {}); // a failed read-ahead is retried when read
    }
    const parts = [];
    for (let k = first; k <= last; k++) parts.push(this.chunk(k));
    const chunks = await Promise.all(parts);
    chunks.forEach((bytes, i) => {
      const start = (first + i) * this.chunkSize;
      const from = Math.max(offset, start);
      const to = Math.min(offset + length, start + bytes.length);
      out.set(bytes.subarray(from - start, to - start), from - offset);
    });
    return out;
  }

  /**
   * Exactly the bytes asked for, for a look that is not the guest's (the image's fingerprint,
   * identity.ts): one range request, neither cached nor read ahead, so a few scattered samples
   * cost what they are, not a chunk and its read-ahead each.
   */
  async peek(offset: number, length: number): Promise<Uint8Array> {
    checkRequest(this.size, offset, length);
    if (length === 0) return new Uint8Array(0);
    return this.fetchRange(offset, offset + length - 1);
  }

  /** Resolves when every fetch started so far (reads and read-ahead) has settled. */
  async idle(): Promise<void> { await Promise.allSettled([...this.cache.values()]); }

  async write(): Promise<void> { throw new BlockError('the disk is read-only'); }
  async flush(): Promise<void> {}

  /** Chunk `k`, from the cache or fetched (then cached, evicting the least recently used). */
  private chunk(k: number): Promise<Uint8Array> {
    const hit = this.cache.get(k);
    if (hit) {
      this.cache.delete(k);
      this.cache.set(k, hit);
      return hit;
    }
    const p = this.fetchChunk(k);
    this.cache.set(k, p);
    p.catch(() => { if (this.cache.get(k) === p) this.cache.delete(k); });
    while (this.cache.size > this.cacheChunks) this.cache.delete(this.cache.keys().next().value!);
    return p;
  }

  private fetchChunk(k: number): Promise<Uint8Array> {
    const start = k * this.chunkSize;
    return this.fetchRange(start, Math.min(this.size, start + this.chunkSize) - 1);
  }

  /** Bytes start..end (inclusive) by one range request, checked against what the server says it sent. */
  private async fetchRange(start: number, end: number): Promise<Uint8Array> {
    this.progress.requests++;
    this.progress.inFlight++;
    this.opts.onProgress?.({ ...this.progress });
    try {
      const res = await request(this.url, `bytes=${start}-${end}`);
      const body = new Uint8Array(await res.arrayBuffer());
      if (res.status !== 206) throw new BlockError(`${this.url}: HTTP ${res.status} for bytes ${start}-${end}`);
      const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
      if (!range || Number(range[1]) !== start || Number(range[2]) !== end || Number(range[3]) !== this.size || body.length !== end - start + 1) {
        throw new BlockError(`${this.url}: the server answered bytes ${start}-${end} with ${res.headers.get('content-range') ?? 'no range'} (${body.length} bytes); did the image change?`);
      }
      this.progress.fetchedBytes += body.length;
      return body;
    } finally {
      this.progress.inFlight--;
      this.opts.onProgress?.({ ...this.progress });
    }
  }
}

/** A GET with a Range header; a network failure becomes a BlockError in one line. */
async function request(url: string, range: string): Promise<Response> {
  try {
    return await fetch(url, { headers: { Range: range } });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new BlockError(`${url}: cannot reach the server (${cause?.code ?? cause?.message ?? (e as Error).message})`);
  }
}
