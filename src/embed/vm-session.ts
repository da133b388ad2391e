// One <x86-vm> element's VM: its own worker (src/worker/vm-worker.ts, the worker the page runs
// too), the COM1 rings shared with it, and a transcript of everything the guest printed, which
// waitFor() and run() search. The element owns the DOM; this file owns the worker.
import * as Comlink from 'comlink';
import type { ExitReason } from '../machine/types.js';
import { ByteRing } from '../worker/ring.js';
import type { BootOptions, DownloadProgress, VmStatus, VmWorkerApi } from '../worker/vm-worker.js';
import type { SnapshotImageSources } from '../worker/worker-snapshot.js';
import type { MigrationSummary } from '../worker/worker-migrate.js';
import type { RoundReport } from '../migration/messages.js';
import type { GuestChoice } from './guest-choice.js';
import type { InspectorLink } from '../inspector/inspector.js';

/** COM1 output ring: a boot's kernel log while the page is busy elsewhere. */
const SERIAL_OUT_BYTES = 1 << 20;
/** Key input ring: typing and run()'s commands. */
const SERIAL_IN_BYTES = 64 << 10;
/** Characters of guest output kept for waitFor() and run(); older ones are forgotten. */
const TRANSCRIPT_CHARS = 1 << 20;

/** The images a machine is made from, besides its disk (which is read on demand). */
type ImageName = 'kernel' | 'vmlinux' | 'initrd' | 'bios' | 'vgaBios';
export type HeldImages = Partial<Record<ImageName, Uint8Array>>;

/**
 * The guest's images, downloaded here: a snapshot= element fetches them while it fetches the
 * snapshot file, instead of the worker fetching them only once it has the file. One that
 * cannot be had is left out: the worker tries its URL again and says why, if the snapshot needs it.
 */
export async function downloadImages(guest: GuestChoice): Promise<HeldImages> {
  const names: ImageName[] = ['kernel', 'vmlinux', 'initrd', 'bios', 'vgaBios'];
  const got = await Promise.all(names.map(async (name) => {
    const url = guest[name];
    if (url === undefined) return null;
    try {
      const res = await fetch(url);
      if (!res.ok || (res.headers.get('Content-Type') ?? '').startsWith('text/html')) return null;
      const bytes = new Uint8Array(await res.arrayBuffer());
      return bytes.length > 0 ? [name, bytes] as const : null;
    } catch {
      return null;
    }
  }));
  return Object.fromEntries(got.filter((g) => g !== null)) as HeldImages;
}

/** A snapshot file at `url` (relative to `page`), or an error in words. */
export async function downloadSnapshot(url: string, page: string): Promise<Uint8Array> {
  let href: string;
  try {
    href = new URL(url, page).href;
  } catch {
    throw new Error(`snapshot="${url}" is not a URL.`);
  }
  let res: Response;
  try {
    res = await fetch(href);
  } catch (e) {
    throw new Error(`Could not download the snapshot ${href}: ${(e as Error)?.message || 'network error'}.`);
  }
  if (!res.ok || (res.headers.get('Content-Type') ?? '').startsWith('text/html')) {
    throw new Error(`The snapshot was not found: ${href} (HTTP ${res.status}).`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

export interface SessionEvents {
  /** Guest output, decoded as UTF-8 (a character split across two reads comes out whole). */
  serial(bytes: Uint8Array, text: string): void;
  progress(p: DownloadProgress): void;
  exit(reason: ExitReason, error?: string): void;
  /** The worker itself failed (its script could not load, or it crashed). */
  broken(message: string): void;
}

/** A wait on the transcript: met when `test` finds something at or after `from`. */
interface TranscriptWait {
  from: number;
  test(text: string): string | null;
  resolve(found: string): void;
  reject(error: Error): void;
}

export class VmSession {
  private readonly worker: Worker;
  private readonly api: Comlink.Remote<VmWorkerApi>;
  private readonly serialOut = ByteRing.create(SERIAL_OUT_BYTES);
  private readonly serialIn = ByteRing.create(SERIAL_IN_BYTES);
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private readonly encoder = new TextEncoder();
  private readonly pendingInput: Uint8Array[] = [];
  private inputFlushing = false;
  private closed = false;
  /** Guest output, the last TRANSCRIPT_CHARS of it; `forgotten` characters came before. */
  private transcript = '';
  private forgotten = 0;
  private readonly waits = new Set<TranscriptWait>();
  private readonly attached: Promise<void>;

  constructor(private readonly events: SessionEvents) {
    this.worker = new Worker(new URL('../worker/vm-worker.ts', import.meta.url), { type: 'module', name: 'webx86-embed-vm' });
    this.worker.addEventListener('error', (ev) => events.broken(`The VM worker failed: ${ev.message || 'it could not be loaded'}.`));
    this.api = Comlink.wrap<VmWorkerApi>(this.worker);
    const callbacks = {
      onProgress: (p: DownloadProgress) => events.progress(p),
      onExit: (reason: ExitReason, error?: string) => events.exit(reason, error),
    };
    this.attached = this.api.attach(this.serialOut.buffer, this.serialIn.buffer, Comlink.proxy(callbacks));
    this.attached.catch(() => {}); // reported by the first call that awaits it
    void this.drainSerial();
  }

  /** Where the transcript ends now, as an offset that stays valid while older text is forgotten. */
  get end(): number {
    return this.forgotten + this.transcript.length;
  }

  /** Guest output from offset `from` on (what is still kept of it). */
  textFrom(from: number): string {
    return this.transcript.slice(Math.max(0, from - this.forgotten));
  }

  /** Forget the output so far (a new boot or a restore starts a new console). */
  clearTranscript(): void {
    this.forgotten += this.transcript.length;
    this.transcript = '';
  }

  /**
   * Resolve with what `test` finds in the output at or after offset `from`, as soon as it
   * appears; reject after `timeoutMs` (never, when it is Infinity) or when the VM is closed.
   */
  waitForText(from: number, test: (text: string) => string | null, timeoutMs: number, what: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const found = test(this.textFrom(from));
      if (found !== null) return resolve(found);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wait: TranscriptWait = {
        from,
        test,
        resolve: (v) => { clearTimeout(timer); this.waits.delete(wait); resolve(v); },
        reject: (e) => { clearTimeout(timer); this.waits.delete(wait); reject(e); },
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => wait.reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`)), Math.max(0, timeoutMs));
      }
      this.waits.add(wait);
    });
  }

  /** Bytes to COM1, as if typed; a burst larger than the ring waits for the guest to take it. */
  input(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    if (this.pendingInput.length === 0) {
      const n = this.serialIn.write(bytes);
      if (n === bytes.length) return;
      bytes = bytes.subarray(n);
    }
    this.pendingInput.push(bytes.slice());
    if (!this.inputFlushing) void this.flushInput();
  }

  type(text: string): void {
    this.input(this.encoder.encode(text));
  }

  private async flushInput(): Promise<void> {
    this.inputFlushing = true;
    while (this.pendingInput.length > 0 && !this.closed) {
      const seen = this.serialIn.readCount;
      const head = this.pendingInput[0]!;
      const n = this.serialIn.write(head);
      if (n === head.length) this.pendingInput.shift();
      else {
        this.pendingInput[0] = head.subarray(n);
        await this.serialIn.waitForSpaceAsync(seen, 1000);
      }
    }
    this.inputFlushing = false;
  }

  /** COM1 output into the transcript and out to the element; Atomics.waitAsync wakes it, no polling. */
  private async drainSerial(): Promise<void> {
    const buf = new Uint8Array(64 << 10);
    while (!this.closed) {
      const seen = this.serialOut.writeCount;
      const n = this.serialOut.readInto(buf);
      if (n === 0) {
        await this.serialOut.waitForDataAsync(seen, 1000);
        continue;
      }
      const bytes = buf.slice(0, n);
      const text = this.decoder.decode(bytes, { stream: true });
      this.append(text);
      this.events.serial(bytes, text);
    }
  }

  private append(text: string): void {
    if (!text) return;
    this.transcript += text;
    if (this.transcript.length > TRANSCRIPT_CHARS) {
      const drop = this.transcript.length - TRANSCRIPT_CHARS;
      this.transcript = this.transcript.slice(drop);
      this.forgotten += drop;
    }
    for (const wait of [...this.waits]) {
      const found = wait.test(this.textFrom(wait.from));
      if (found !== null) wait.resolve(found);
    }
  }

  /** Fetch the guest's images and boot it; resolves once it runs, rejects in words. */
  async boot(guest: GuestChoice): Promise<void> {
    await this.attached;
    const fromDisk = guest.kernel === undefined;
    const options: BootOptions = {
      memoryMiB: guest.memoryMiB,
      kernel: guest.kernel !== undefined ? { url: guest.kernel } : undefined,
      initrd: guest.initrd !== undefined ? { url: guest.initrd } : undefined,
      vmlinux: guest.vmlinux !== undefined ? { url: guest.vmlinux } : undefined,
      cmdline: guest.cmdline,
      clock: guest.clock,
      disk: guest.disk !== undefined ? { url: guest.disk } : undefined,
      // Docs pages show a guest as published: nothing kept between visits.
      persist: false,
      firmware: fromDisk && guest.bios && guest.vgaBios ? { bios: { url: guest.bios }, vgaBios: { url: guest.vgaBios } } : undefined,
      net: { backend: 'none' },
      jit: guest.jit,
      rng: guest.rng,
      virtioDisk: guest.virtioDisk !== undefined ? { url: guest.virtioDisk } : undefined,
    };
    this.clearTranscript();
    await this.api.boot(options);
  }

  /**
   * Replace the machine by a snapshot's. Its images (known by hash) are those in `held` (already
   * downloaded: downloadImages), else the worker downloads them from the guest's URLs.
   */
  async restore(file: Uint8Array, guest: GuestChoice, held: HeldImages = {}): Promise<void> {
    await this.attached;
    const source = (name: ImageName) => {
      const bytes = held[name];
      const url = guest[name];
      if (bytes !== undefined) return { bytes, name: url ?? name };
      return url !== undefined ? { url } : undefined;
    };
    const images: SnapshotImageSources = {
      kernel: source('kernel'),
      vmlinux: source('vmlinux'),
      initrd: source('initrd'),
      bios: source('bios'),
      vgaBios: source('vgaBios'),
      disk: guest.disk !== undefined ? { url: guest.disk } : undefined,
      persist: false,
    };
    const heldBuffers = Object.values(held).map((b) => b.buffer as ArrayBuffer);
    this.clearTranscript();
    await this.api.restore(Comlink.transfer(file, [file.buffer]), Comlink.transfer({ images, net: { backend: 'none' } }, heldBuffers));
  }

  async snapshot(): Promise<Uint8Array> {
    return this.api.snapshot();
  }

  /** Live-migrate the running machine to the VM waiting as `name`; resolves once it runs there (this one is stopped). */
  migrate(name: string, onRound: (r: RoundReport) => void): Promise<MigrationSummary> {
    return this.api.migrate(name, Comlink.proxy({ onRound }));
  }

  /** Wait for a machine migrated to `name` and run it here; its images are found as a restore's are. */
  /** Wait for a machine migrated to `name` and run it here; whether it arrived paused (it was paused where it came from). */
  async incoming(name: string, guest: GuestChoice, onRound: (r: RoundReport) => void): Promise<{ paused: boolean }> {
    await this.attached;
    const url = (u: string | undefined) => (u !== undefined ? { url: u } : undefined);
    const images: SnapshotImageSources = {
      kernel: url(guest.kernel), vmlinux: url(guest.vmlinux), initrd: url(guest.initrd), bios: url(guest.bios), vgaBios: url(guest.vgaBios),
      disk: url(guest.disk), persist: false,
    };
    this.clearTranscript();
    const arrival = await this.api.incoming(name, { images, net: { backend: 'none' } }, Comlink.proxy({ onRound }));
    return { paused: arrival.paused };
  }

  pause(): Promise<void> {
    return this.api.pause();
  }

  resume(): Promise<void> {
    return this.api.resume();
  }

  reset(): Promise<void> {
    return this.api.reset();
  }

  /** The worker's inspector (src/worker/worker-inspect.ts), for the inspector panel. */
  get inspector(): InspectorLink {
    return this.api.inspector;
  }

  status(): Promise<VmStatus> {
    return this.api.status();
  }

  setBalloon(mib: number): Promise<void> {
    return this.api.setBalloon(mib);
  }

  /** End the worker and everything in it; the element is gone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const wait of [...this.waits]) wait.reject(new Error('The VM was closed (its element left the page).'));
    this.api[Comlink.releaseProxy]();
    this.worker.terminate();
  }
}
