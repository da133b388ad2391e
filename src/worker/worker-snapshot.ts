// Snapshots in the VM worker (the file format and its checks are src/snapshot/): save the running
// machine to a snapshot file, and restore a file into a fresh Machine that then takes the running
// one's place, with the page's screen, serial rings, status and network attached to it.
//
// Save pauses the guest only for the copy of its state: the configuration's image hashes are
// taken before, the compression after, while the guest runs on (the state is a copy by then).
// The network backend's state of the same instant goes in the file's 'NET ' section (the user
// network's open connections), and a restore hands it to the new backend, which resets those
// connections in the guest at once (src/net/user/restore.ts), as the CLI's savevm and loadvm do.
//
// Restore builds the new machine beside the running one (paused meanwhile) and swaps only once
// the file is loaded into it, so a bad file, a missing image or a machine that does not fit
// leaves the running VM as it was, running again. The images a snapshot needs (it holds only their SHA-256) come from those the
// worker already has, else from the URLs the page names (its manifest's), and machineOptionsFor
// refuses any whose hash differs.
import { decompressPayload } from '../boot/payload.js';
import { Machine, type MachineOptions } from '../machine/machine.js';
import { restoreLinks, saveLinks, type NetLink } from '../net/link.js';
import type { PageNet } from '../net/page-options.js';
import {
  decodeSnapshot, encodeSnapshot, machineOptionsFor, restoreSnapshot, snapshotConfig, SnapshotError,
  type SnapshotConfig, type SnapshotImages,
} from '../snapshot/snapshot.js';
import { unshared } from '../snapshot/bytes.js';
import type { MachineHost, MachineInstance } from './machine-api.js';
import type { BlockBackend } from '../storage/block.js';
import type { ImageRole, ImageSource } from './vm-worker.js';
import { WorkerNet } from './worker-net.js';

/** Where the page says the images can be had again (its manifest's URLs, or files it holds). */
export interface SnapshotImageSources {
  kernel?: ImageSource;
  vmlinux?: ImageSource;
  initrd?: ImageSource;
  bios?: ImageSource;
  vgaBios?: ImageSource;
  /** The disk image chosen in the settings: taken when the worker has no disk open (a fresh page), checked by identity. */
  disk?: ImageSource;
  /** Keep that disk's changes in the browser (default true; the page's ?persist=0). */
  persist?: boolean;
}

export interface RestoreRequest {
  images: SnapshotImageSources;
  /** The page's network: the restored card is plugged into it (with the MAC it was saved with). */
  net: PageNet;
}

/** What was restored, for the page to tell. */
export interface RestoreInfo {
  memoryMiB: number;
  /** Network cards of the snapshot left unplugged: the page has no network, or they were past eth0. */
  unplugged: number;
  /** What the network backends did about the saved machine's connections, one line each (restoreLinks). */
  net: string[];
}

/** A machine's network cards' links, eth0 first (as Machine.create takes them). */
export function machineLinks(options: MachineOptions): NetLink[] {
  return options.nics?.map((n) => n.link) ?? (options.net !== undefined ? [options.net] : []);
}

/** What VmHost lends the snapshot code: its machine, and the means to stop, run and swap it. */
export interface SnapshotHost {
  /** The running machine and its options; null when none runs. */
  current(): { machine: MachineInstance; options: MachineOptions } | null;
  /** The options of the last machine made, running or not: their images are the ones at hand. */
  lastOptions(): MachineOptions | null;
  /**
   * Stop `machine`'s run loop without telling the page. False when the guest powered off or
   * failed in that same slice (the page is told of that as usual): there is nothing to save.
   */
  suspend(machine: MachineInstance): Promise<boolean>;
  /** Run `machine` again after suspend(), unless another machine has taken its place meanwhile. */
  resume(machine: MachineInstance): void;
  /** Stop the running machine (quietly) and run `machine` in its place. */
  replace(machine: MachineInstance, options: MachineOptions, net: WorkerNet | null): Promise<void>;
  /** The callbacks every machine of this worker gets (serial into the page's ring, logs). */
  readonly machineHost: MachineHost;
  coreWasm(): Promise<ArrayBuffer | undefined>;
  /** Attach what the page keeps of each disk (its persisted overlay) to a restored machine's fresh overlays. */
  prepareDisks?(options: MachineOptions): Promise<void>;
  /** Open the disk image `src` (with its store in IndexedDB when `persist`), for a restore in a worker that has none open. */
  openDisk?(src: ImageSource, persist: boolean): Promise<BlockBackend>;
  /** An image's bytes: downloaded (with progress shown in the page) or as the page sent them. */
  obtain(role: ImageRole, src: ImageSource): Promise<Uint8Array>;
}

const IMAGE_ROLES: Record<keyof SnapshotImages, ImageRole> = {
  kernel: 'kernel', vmlinux: 'vmlinux', initrd: 'initrd', bios: 'BIOS', vgaBios: 'VGA BIOS',
};
/** In this order: the kernel before the vmlinux that may be unpacked from it. */
const IMAGE_NAMES = ['kernel', 'vmlinux', 'initrd', 'bios', 'vgaBios'] as const;
const PAGE_SIZE = 4096;
type Downloads = Map<keyof SnapshotImages, Promise<Uint8Array>>;
const MIB = 1024 * 1024;

/** A card whose cable leads nowhere: for a snapshot with a network card restored in a page without a network. */
function unpluggedLink(): NetLink {
  return { send() {}, onFrame: null, close() {} };
}

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

export class WorkerSnapshots {
  private busyWith: 'saving' | 'restoring' | null = null;
  /** SHA-256 of images already hashed (they never change once loaded). */
  private readonly hashes = new WeakMap<Uint8Array, string>();

  constructor(private readonly host: SnapshotHost) {}

  /** A save or restore is under way: the machine must not be replaced meanwhile. */
  get busy(): boolean {
    return this.busyWith !== null;
  }

  /** The running machine as a snapshot file. */
  async save(): Promise<Uint8Array> {
    const current = this.host.current();
    if (!current) throw new Error('No machine is running: there is nothing to save.');
    const { machine, options } = current;
    // The worker is written against machine-api.ts; only webx86's own Machine can be saved.
    if (!(machine instanceof Machine)) throw new Error('This machine cannot be saved: it is not a webx86 Machine.');
    this.claim('saving');
    try {
      const config = await snapshotConfig(options);
      const started = performance.now();
      if (!(await this.host.suspend(machine))) throw new Error('The machine stopped before it could be saved.');
      let state: ReturnType<Machine['saveState']>;
      let ballooned: Uint8Array;
      let net: unknown[];
      try {
        // The disks' requests in flight complete first (drained, as QEMU does).
        await machine.settleIo();
        state = machine.saveState();
        // The balloon's pages as they are now: the guest may give more while the file is compressed.
        ballooned = new Uint8Array(state.ram.length / PAGE_SIZE);
        for (let pfn = 0; pfn < ballooned.length; pfn++) if (machine.balloon.isInflated(pfn)) ballooned[pfn] = 1;
        // The network backend's state of the same instant (the user network's open connections).
        net = saveLinks(machineLinks(options));
      } catch (e) {
        // A disk written in place: the Machine says why in its own words.
        throw new SnapshotError(`cannot save this machine: ${oneLine(e)}`);
      } finally {
        this.host.resume(machine);
      }
      const pausedMs = performance.now() - started;
      const file = await encodeSnapshot(state, config, { skipPage: (pfn) => ballooned[pfn] === 1, net });
      console.info(`[snapshot] saved ${(file.length / MIB).toFixed(1)} MiB: guest paused ${pausedMs.toFixed(0)} ms, `
        + `file ready after ${(performance.now() - started).toFixed(0)} ms`);
      return file;
    } finally {
      this.busyWith = null;
    }
  }

  /** Replace the running machine (if any) by the one saved in `file`. On any failure nothing changes. */
  async restore(file: Uint8Array, request: RestoreRequest): Promise<RestoreInfo> {
    if (!(file instanceof Uint8Array)) throw new SnapshotError('not a webx86 snapshot (no bytes were given)');
    this.claim('restoring');
    let net: WorkerNet | null = null;
    // The running guest waits meanwhile: its slices would share this thread with the decoding
    // and double the restore's time. A failed restore lets it go on as it was.
    const running = this.host.current()?.machine;
    const wasPaused = running?.status().state === 'paused';
    running?.pause();
    let replaced = false;
    try {
      const started = performance.now();
      const coreWasm = this.host.coreWasm();
      coreWasm.catch(() => {}); // reported where it is awaited, after the file's own errors
      const downloads = this.prefetch(request.images);
      const snap = await decodeSnapshot(file);
      const decoded = performance.now();
      const { options: built, net: card, unplugged } = await this.optionsFor(snap.config, request, downloads);
      net = card;
      const found = performance.now();
      const options = { ...built, coreWasm: await coreWasm };
      await this.host.prepareDisks?.(options);
      const checked = performance.now();
      const machine = await Machine.create(options, this.host.machineHost);
      const created = performance.now();
      restoreSnapshot(machine, snap);
      // The backends are this page's: they tell the guest what did not come along (before it runs).
      const netLines = restoreLinks(machineLinks(options), snap.net);
      for (const line of netLines) console.info(`[snapshot] ${line}`);
      const loaded = performance.now();
      await this.host.replace(machine, options, net);
      replaced = true;
      net = null; // the host's now
      console.info(`[snapshot] restored a ${snap.config.memoryMiB} MiB machine from ${(file.length / MIB).toFixed(1)} MiB `
        + `in ${(performance.now() - started).toFixed(0)} ms (decode ${(decoded - started).toFixed(0)}, images ${(found - decoded).toFixed(0)}, `
        + `check ${(checked - found).toFixed(0)}, create ${(created - checked).toFixed(0)}, load ${(loaded - created).toFixed(0)} ms)`);
      return { memoryMiB: snap.config.memoryMiB, unplugged, net: netLines };
    } finally {
      (net as WorkerNet | null)?.close();
      if (!replaced && !wasPaused) running?.resume();
      this.busyWith = null;
    }
  }

  /**
   * Options for Machine.create that build the machine `config` describes (no core yet): its
   * images by hash, from those the worker holds or the page's sources; its first network card
   * plugged into the page's network with its MAC, the others unplugged; the disks' base images
   * those of the last machine. A live migration's target builds its machine the same way.
   */
  async optionsFor(config: SnapshotConfig, request: RestoreRequest, downloads: Downloads = this.prefetch(request.images)):
  Promise<{ options: MachineOptions; net: WorkerNet | null; unplugged: number }> {
    const images = await this.imagesFor(config, request.images, downloads);
    let unplugged = 0;
    let net: WorkerNet | null = null;
    try {
      const links = config.nics.map((mac, i) => {
        if (i > 0 || request.net.backend === 'none') { unplugged++; return unpluggedLink(); }
        net = new WorkerNet({ ...request.net, mac: mac === null ? request.net.mac : Uint8Array.from(mac.split(':'), (h) => parseInt(h, 16)) });
        return net.link;
      });
      const last = this.host.lastOptions();
      let disks = last?.disks;
      // A fresh page (no disk open): the disk named in its settings, if the snapshot has one.
      const wanted = request.images.disk;
      if (!disks?.length && wanted !== undefined && this.host.openDisk && config.drives.some((d) => d.name === 'sata0')) {
        disks = [await this.host.openDisk(wanted, request.images.persist !== false)];
      }
      const options = await machineOptionsFor(config, { ...images, links, disks, virtioDisks: last?.virtioDisks, cdrom: last?.cdrom });
      return { options, net, unplugged };
    } catch (e) {
      (net as WorkerNet | null)?.close();
      throw e;
    }
  }

  private claim(what: 'saving' | 'restoring'): void {
    if (this.busyWith !== null) throw new Error(`A snapshot is being ${this.busyWith === 'saving' ? 'saved' : 'restored'}; try again when it is done.`);
    this.busyWith = what;
  }

  /**
   * The images `config` names, by hash: those the worker holds first, then from the page's
   * sources; a vmlinux with no source is unpacked from the kernel, as a boot does. What cannot
   * be found is left out, and machineOptionsFor says which one is missing.
   */
  private async imagesFor(config: SnapshotConfig, sources: SnapshotImageSources, downloads: Downloads): Promise<SnapshotImages> {
    const held = this.held();
    const out: SnapshotImages = {};
    for (const name of IMAGE_NAMES) {
      const want = config.images[name];
      if (want === null) continue;
      let found: Uint8Array | undefined;
      for (const b of held) if (await this.sha256(b) === want) { found = b; break; }
      const src = sources[name];
      if (found === undefined && src !== undefined) found = await (downloads.get(name) ?? this.host.obtain(IMAGE_ROLES[name], src));
      if (found === undefined && name === 'vmlinux' && out.kernel !== undefined) found = (await decompressPayload(out.kernel))?.vmlinux;
      if (found !== undefined) out[name] = found;
    }
    return out;
  }

  /** The images of the last machine made: usually the ones a snapshot of this page needs. */
  private held(): Uint8Array[] {
    const last = this.host.lastOptions();
    return [last?.kernel, last?.vmlinux, last?.initrd, last?.firmware?.bios, last?.firmware?.vgaBios]
      .filter((b): b is Uint8Array => b instanceof Uint8Array);
  }

  /**
   * In a worker that holds no images yet (a fresh page, ?snapshot=URL), every source the page
   * named starts downloading while the file is decoded: that is most of a restore's time there.
   * A download that fails is reported only if the snapshot turns out to need it.
   */
  private prefetch(sources: SnapshotImageSources): Downloads {
    const downloads: Downloads = new Map();
    if (this.held().length > 0) return downloads;
    for (const name of IMAGE_NAMES) {
      const src = sources[name];
      if (src === undefined) continue;
      const bytes = this.host.obtain(IMAGE_ROLES[name], src);
      bytes.catch(() => {});
      downloads.set(name, bytes);
    }
    return downloads;
  }

  private async sha256(b: Uint8Array): Promise<string> {
    let hex = this.hashes.get(b);
    if (hex === undefined) {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', unshared(b)));
      hex = Array.from(digest, (x) => x.toString(16).padStart(2, '0')).join('');
      this.hashes.set(b, hex);
    }
    return hex;
  }
}
