// Where the worker gets what a machine is built from: the core (fetched from the URL the bundler
// gave it) and the guest's images (downloaded with progress, or bytes the page already has),
// and disks as block devices. Every failure is an ImageError worded for the page.
import { BlockError, MemoryBackend, type BlockBackend } from '../storage/block.js';
import { HttpBackend } from '../storage/http.js';
import { OverlayBackend } from '../storage/overlay.js';

/** Where an image comes from: a URL the worker downloads, or bytes the page already has (a local file). */
export type ImageSource =
  | { url: string }
  | { bytes: Uint8Array; name: string };

/** Who hears of a download's progress (the page, through the worker's VmEvents). */
export interface ImageEvents { onProgress(p: DownloadProgress): void }

export type ImageRole = 'kernel' | 'initrd' | 'vmlinux' | 'disk' | 'BIOS' | 'VGA BIOS';

export interface DownloadProgress {
  what: ImageRole;
  url: string;
  loaded: number;
  /** From Content-Length; null when the server did not say. */
  total: number | null;
  done: boolean;
}

/** Progress callbacks are throttled to this interval (ms) so a fast download is not a message storm. */
const PROGRESS_INTERVAL_MS = 100;
/** Largest image we accept, so a wrong URL to a huge file fails in words instead of exhausting memory. */
const MAX_IMAGE_BYTES = 512 << 20;

// The core, as a URL the bundler fingerprints and copies into the build (`npm run build:core`
// makes it). Through a glob so a checkout without the built core still bundles; the Machine
// then looks for the core itself and reports what is missing.
const coreUrls = import.meta.glob<string>('/build/core.wasm', { query: '?url', import: 'default', eager: true });

export async function loadCoreWasm(): Promise<ArrayBuffer | undefined> {
  const url = Object.values(coreUrls)[0];
  if (!url) return undefined;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`The emulator core could not be loaded from ${url} (HTTP ${res.status}).`);
  return res.arrayBuffer();
}

/** An image download or read that failed, worded for the page. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

async function fetchImage(what: ImageRole, url: string, events: ImageEvents | null): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new ImageError(`Could not download the ${what} image from ${url}: ${(e as Error).message || 'network error'}.`);
  }
  if (response.status === 404) throw new ImageError(`The ${what} image was not found: ${url} (HTTP 404).`);
  if (!response.ok) throw new ImageError(`The ${what} image could not be downloaded: ${url} (HTTP ${response.status} ${response.statusText}).`);
  // A host with a single-page-app fallback answers any path with index.html and 200.
  if ((response.headers.get('Content-Type') ?? '').startsWith('text/html')) {
    throw new ImageError(`The ${what} image was not found: ${url} (the server answered with a web page).`);
  }
  const encoded = response.headers.get('Content-Encoding');
  const length = Number(response.headers.get('Content-Length'));
  // With a content encoding, Content-Length counts compressed bytes and the stream yields more.
  const total = !encoded && Number.isFinite(length) && length > 0 ? length : null;
  if (total !== null && total > MAX_IMAGE_BYTES) {
    throw new ImageError(`The ${what} image at ${url} is too large (${total} bytes).`);
  }
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  let lastReport = 0;
  const report = (done: boolean) => events?.onProgress({ what, url, loaded, total, done });
  report(false);
  if (!response.body) {
    const all = new Uint8Array(await response.arrayBuffer());
    loaded = all.length;
    report(true);
    return all;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      if (loaded > MAX_IMAGE_BYTES) throw new ImageError(`The ${what} image at ${url} is too large (over ${MAX_IMAGE_BYTES} bytes).`);
      const now = performance.now();
      if (now - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = now;
        report(false);
      }
    }
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`The ${what} image download from ${url} broke off after ${loaded} bytes: ${(e as Error).message}.`);
  }
  if (total !== null && loaded !== total) {
    throw new ImageError(`The ${what} image download from ${url} is incomplete (${loaded} of ${total} bytes).`);
  }
  report(true);
  if (loaded === 0) throw new ImageError(`The ${what} image at ${url} is empty.`);
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export async function obtainImage(what: ImageRole, src: ImageSource, events: ImageEvents | null): Promise<Uint8Array> {
  if ('bytes' in src) {
    if (!(src.bytes instanceof Uint8Array) || src.bytes.length === 0) {
      throw new ImageError(`The ${what} file ${src.name} is empty.`);
    }
    return src.bytes;
  }
  if (typeof src.url !== 'string' || src.url === '') throw new ImageError(`No ${what} image was given.`);
  return fetchImage(what, src.url, events);
}

/** A disk image as a block device: over HTTP by ranges, or a local file in memory; errors in words. */
export async function openDisk(src: ImageSource, onProgress: (p: { fetched: number; size: number; requests: number }) => void): Promise<BlockBackend> {
  try {
    if ('bytes' in src) {
      if (!(src.bytes instanceof Uint8Array) || src.bytes.length === 0) throw new ImageError(`The disk file ${src.name} is empty.`);
      return new OverlayBackend(new MemoryBackend(src.bytes, true, src.name));
    }
    const http = await HttpBackend.open(src.url, { onProgress: (p) => onProgress({ fetched: p.fetchedBytes, size: p.size, requests: p.requests }) });
    onProgress({ fetched: http.progress.fetchedBytes, size: http.size, requests: http.progress.requests });
    return new OverlayBackend(http);
  } catch (e) {
    if (e instanceof ImageError) throw e;
    const what = 'bytes' in src ? `The disk file ${src.name}` : `The disk image at ${src.url}`;
    if (e instanceof BlockError) {
      // The backends name the image first ("URL: why"); the sentence here names it already.
      const name = 'bytes' in src ? src.name : src.url;
      const why = e.message.startsWith(`${name}: `) ? e.message.slice(name.length + 2) : e.message;
      throw new ImageError(`${what} cannot be used: ${why}.`);
    }
    throw new ImageError(`${what} could not be read: ${(e as Error).message || 'network error'}.`);
  }
}
