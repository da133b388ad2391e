// Which base image a disk is: its size and a fingerprint of its contents, so that a snapshot's
// overlay blocks (src/snapshot/disks.ts) or a page's persisted blocks (persist.ts) are never laid
// over another image than the one they were written on.
//
// The fingerprint is SHA-256 over the size, the first and last MiB, and 64 KiB at 62 evenly
// spaced offsets between them: about 6 MiB read whatever the image's size. Hashing the whole
// image would be exact but would read all of it, which over HTTP ranges (the page's disks) means
// downloading an image the guest may never read in full. The first MiB holds the partition table
// and boot loader, the last the end of the last file system (a GPT's backup table), and the
// samples land in every file system's metadata groups (ext4's block group descriptors, inode
// tables and bitmaps repeat every 128 MiB at most), so a rebuilt or other image of the same size
// differs in a sampled byte unless it differs only inside file data between samples. That is a
// check against a mistake, not a proof against a forgery.

import type { BlockBackend } from './block.js';

const MIB = 1024 * 1024;
const SAMPLE = 64 * 1024;
const SAMPLES = 62;
const HEADER = 'webx86 disk fingerprint 1';

/** A base image's identity. */
export interface ImageIdentity {
  size: number;
  /** SHA-256 (lower-case hex) of the sampled contents (see above). */
  fingerprint: string;
}

const known = new WeakMap<BlockBackend, Promise<ImageIdentity>>();

/** The ranges the fingerprint reads, in order: [offset, length]. */
export function fingerprintRanges(size: number): [number, number][] {
  if (size <= 2 * MIB + SAMPLES * SAMPLE) return [[0, size]];
  const out: [number, number][] = [[0, MIB]];
  const span = size - 2 * MIB - SAMPLE;
  for (let i = 1; i <= SAMPLES; i++) {
    // Sector-aligned offsets strictly between the first and the last MiB.
    const at = MIB + Math.floor((span * i) / (SAMPLES + 1) / 512) * 512;
    out.push([at, SAMPLE]);
  }
  out.push([size - MIB, MIB]);
  return out;
}

/** A backend that can read bytes without caching them or reading ahead (http.ts peek). */
interface Peekable { peek(offset: number, length: number): Promise<Uint8Array> }

async function compute(image: BlockBackend): Promise<ImageIdentity> {
  const ranges = fingerprintRanges(image.size);
  const head = new TextEncoder().encode(`${HEADER} ${image.size}\n`);
  const total = head.length + ranges.reduce((n, [, len]) => n + len, 0);
  const all = new Uint8Array(total);
  all.set(head);
  // Over HTTP a read fetches whole chunks and reads ahead: 64 scattered samples read that way
  // downloaded more than a 64 MiB image before its boot. The samples are fetched as they are, at once.
  const peek = typeof (image as Partial<Peekable>).peek === 'function' ? (image as unknown as Peekable) : null;
  const parts = await Promise.all(ranges.map(([offset, len]) => (peek ? peek.peek(offset, len) : image.read(offset, len))));
  let at = head.length;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return { size: image.size, fingerprint: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') };
}

/** The identity of `image` (a base image, never an overlay: its contents change); worked out once per backend. */
export function imageIdentity(image: BlockBackend): Promise<ImageIdentity> {
  let id = known.get(image);
  if (id === undefined) {
    id = compute(image);
    known.set(image, id);
    id.catch(() => known.delete(image));
  }
  return id;
}
