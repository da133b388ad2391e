// The block backends (src/storage/): whole images in memory and in files, images on a web
// server read by HTTP range requests (against sirv, an independent static file server with
// RFC 9110 range support), and the copy-on-write overlay that keeps every base image unchanged.
// Each is checked against the image's own bytes and against a plain array model of the disk.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sirv from 'sirv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BlockBackend, BlockError, MemoryBackend } from '../../src/storage/block.js';
import { FileBackend } from '../../src/storage/file.js';
import { HttpBackend, type HttpProgress } from '../../src/storage/http.js';
import { OverlayBackend } from '../../src/storage/overlay.js';
import { fingerprintRanges, imageIdentity } from '../../src/storage/identity.js';

const dir = mkdtempSync(join(tmpdir(), 'webx86-storage-'));
/** 3 MiB and 5 sectors: not a whole number of chunks or overlay blocks. */
const IMAGE = new Uint8Array(randomBytes(3 * 1024 * 1024 + 5 * 512));
/** 64 MiB, for the fingerprint's samples to be scattered (identity.ts); random in its first MiB only (the rest reads as zeros). */
const BIG = new Uint8Array(64 * 1024 * 1024);
BIG.set(IMAGE.subarray(0, 1024 * 1024));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

let ranged: Server, unranged: Server, rangedUrl = '', unrangedUrl = '';
beforeAll(async () => {
  writeFileSync(join(dir, 'disk.img'), IMAGE);
  writeFileSync(join(dir, 'odd.img'), IMAGE.subarray(0, 1000));
  writeFileSync(join(dir, 'big.img'), BIG);
  ranged = createServer(sirv(dir, { dev: true }));
  rangedUrl = await listen(ranged);
  // A server that ignores Range and always sends the whole file, as some do.
  unranged = createServer((_req, res) => { res.writeHead(200, { 'Content-Length': IMAGE.length }); res.end(IMAGE); });
  unrangedUrl = await listen(unranged);
});
afterAll(() => {
  ranged?.close();
  unranged?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Seeded random whole-sector requests inside `size` bytes. */
function requests(size: number, n: number, seed: number): { offset: number; length: number }[] {
  let s = seed >>> 0;
  const next = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 2 ** 32; };
  const sectors = size / 512;
  return Array.from({ length: n }, () => {
    const first = Math.floor(next() * sectors);
    const count = 1 + Math.floor(next() ** 2 * Math.min(64, sectors - first));
    return { offset: first * 512, length: Math.min(count, sectors - first) * 512 };
  });
}

/** Writes and reads at random through `disk`, against a plain copy of the image. */
async function exerciseOverlay(disk: BlockBackend, seed: number): Promise<void> {
  const model = IMAGE.slice();
  for (const [i, r] of requests(disk.size, 300, seed).entries()) {
    if (i % 2 === 0) {
      const data = new Uint8Array(randomBytes(r.length));
      model.set(data, r.offset);
      await disk.write(r.offset, data);
    } else {
      expect(sha(await disk.read(r.offset, r.length))).toBe(sha(model.subarray(r.offset, r.offset + r.length)));
    }
  }
  await disk.flush();
  expect(sha(await disk.read(0, disk.size))).toBe(sha(model));
}

describe('block backends', () => {
  it('memory: reads and writes whole sectors, refuses anything else', async () => {
    const disk = new MemoryBackend(IMAGE.slice());
    expect(await disk.read(512, 1024)).toEqual(IMAGE.subarray(512, 1536));
    await disk.write(0, new Uint8Array(512).fill(7));
    expect((await disk.read(0, 512))[511]).toBe(7);
    for (const [o, l] of [[1, 512], [0, 100], [IMAGE.length, 512], [-512, 512]] as const) {
      await expect(disk.read(o, l)).rejects.toThrow(BlockError);
    }
    expect(() => new MemoryBackend(new Uint8Array(1000), false, 'x.img')).toThrow(/^x\.img: 1000 bytes is not a whole number of 512-byte sectors$/);
  });

  it('overlay over memory: the guest sees its writes, the base stays as it was', async () => {
    const base = IMAGE.slice();
    const disk = new OverlayBackend(new MemoryBackend(base, true));
    await exerciseOverlay(disk, 1);
    expect(sha(base)).toBe(sha(IMAGE));
    expect(disk.blocksWritten).toBeGreaterThan(0);
  });

  it('file: reads the image, an overlay takes the writes, and the file is byte-for-byte unchanged', async () => {
    const path = join(dir, 'disk.img');
    const file = await FileBackend.open(path);
    expect(file.size).toBe(IMAGE.length);
    expect(sha(await file.read(0, file.size))).toBe(sha(IMAGE));
    await expect(file.write(0, new Uint8Array(512))).rejects.toThrow(/read-only/);
    await exerciseOverlay(new OverlayBackend(file), 2);
    await file.close();
    expect(sha(readFileSync(path))).toBe(sha(IMAGE));
  });

  it('file: a missing file or one that is not whole sectors is refused in one line', async () => {
    await expect(FileBackend.open(join(dir, 'none.img'))).rejects.toThrow(/none\.img: cannot open \(ENOENT\)$/);
    await expect(FileBackend.open(join(dir, 'odd.img'))).rejects.toThrow(/odd\.img: 1000 bytes is not a whole number of 512-byte sectors$/);
  });

  it('HTTP: range requests in chunks, read ahead, cached, with progress; an overlay on top', async () => {
    const seen: HttpProgress[] = [];
    const chunk = 64 * 1024;
    const disk = await HttpBackend.open(`${rangedUrl}/disk.img`, { chunkSize: chunk, cacheChunks: 8, readAhead: 2, onProgress: (p) => seen.push(p) });
    expect(disk.size).toBe(IMAGE.length);
    // Across a chunk boundary: two chunks fetched, two more read ahead.
    const r = await disk.read(chunk - 1024, 4096);
    expect(sha(r)).toBe(sha(IMAGE.subarray(chunk - 1024, chunk + 3072)));
    await disk.idle(); // let the read-ahead land
    expect(disk.progress.requests).toBe(4);
    expect(disk.progress.fetchedBytes).toBe(4 * chunk);
    // Chunk 2 was read ahead: reading it asks only for chunk 4 (the next read-ahead). Then the
    // whole image, through an 8-chunk cache.
    await disk.read(2 * chunk, 512);
    await disk.idle();
    expect(disk.progress.requests).toBe(5);
    expect(sha(await disk.read(0, disk.size))).toBe(sha(IMAGE));
    expect(seen.at(-1)!.inFlight).toBe(0);
    expect(disk.progress.fetchedBytes).toBeGreaterThanOrEqual(IMAGE.length);
    await exerciseOverlay(new OverlayBackend(disk), 3);
    expect(sha(readFileSync(join(dir, 'disk.img')))).toBe(sha(IMAGE));
  });

  it('HTTP: the image\'s identity reads only its samples (not chunks and read-ahead), and equals the identity of the same bytes in memory', async () => {
    const disk = await HttpBackend.open(`${rangedUrl}/big.img`);
    const id = await imageIdentity(disk);
    expect(id).toEqual(await imageIdentity(new MemoryBackend(BIG.slice(), true)));
    const sampled = fingerprintRanges(BIG.length).reduce((n, [, len]) => n + len, 0);
    // Before, each 64 KiB sample fetched a 256 KiB chunk and read two more ahead: 48 MiB of a 64 MiB image.
    expect(disk.progress.fetchedBytes).toBe(sampled);
    expect(sampled).toBeLessThan(7 * 1024 * 1024);
    // The guest's reads afterwards are cached as before: the samples took no place in the cache.
    await disk.read(0, 4096);
    await disk.idle(); // the read-ahead too
    expect(disk.progress.fetchedBytes).toBe(sampled + 3 * 256 * 1024);
  });

  it('HTTP: a server without range support, a missing image and an unreachable server are refused in one line', async () => {
    await expect(HttpBackend.open(`${unrangedUrl}/disk.img`)).rejects.toThrow(/the server does not support range requests/);
    await expect(HttpBackend.open(`${rangedUrl}/none.img`)).rejects.toThrow(/none\.img: HTTP 404/);
    // A port nobody listens on: one that was just closed.
    const closed = createServer();
    const gone = await listen(closed);
    await new Promise((res) => closed.close(res));
    await expect(HttpBackend.open(`${gone}/disk.img`)).rejects.toThrow(/^http:\/\/127\.0\.0\.1:\d+\/disk\.img: cannot reach the server \(ECONNREFUSED\)$/);
    await expect(HttpBackend.open(`${rangedUrl}/odd.img`)).rejects.toThrow(/odd\.img: 1000 bytes is not a whole number of 512-byte sectors$/);
    for (const e of await Promise.allSettled([HttpBackend.open(`${unrangedUrl}/disk.img`)])) {
      expect(String((e as PromiseRejectedResult).reason.message)).not.toContain('\n');
    }
  });
});
