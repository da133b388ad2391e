// The VM worker: everything that is the virtual PC runs here, off the page's main thread.
//
// The page drives it through comlink (the VmWorkerApi below). The hot byte streams do not go
// through messages: COM1 output goes into a SharedArrayBuffer ring the page drains, key input
// comes from a ring the page fills. The Machine's run loop yields to the event loop between
// slices, which is when comlink calls (status, pause ...) and ring wake-ups get handled, so the
// guest runs flat out without making the worker deaf.
import * as Comlink from 'comlink';
import type { ClockMode, ExitReason, MachineStatus } from '../machine/types.js';
import type { MachineClass, MachineConfig, MachineInstance } from './machine-api.js';
import { Machine } from '../machine/machine.js';
import { decompressPayload } from '../boot/payload.js';
import { ByteRing } from './ring.js';
import { WorkerScreen, displayMemory, type DisplayMemory } from './worker-screen.js';
import type { PageNet } from '../net/page-options.js';
import { WorkerNet, type WorkerNetStatus } from './worker-net.js';
import { WorkerSnapshots, type RestoreInfo, type RestoreRequest } from './worker-snapshot.js';
import type { MachineOptions } from '../machine/machine.js';
import { WorkerDiskStore, resetDiskStore, type DiskStoreStatus } from './worker-disk-store.js';
import { OverlayBackend } from '../storage/overlay.js';
import { loadCoreWasm, obtainImage, openDisk, type DownloadProgress, type ImageRole, type ImageSource } from './worker-images.js';
import { WorkerMigration, type ArrivalSummary, type MigrationEvents, type MigrationSummary } from './worker-migrate.js';
import { WorkerInspector } from './worker-inspect.js';
import type { InspectorApi } from '../inspector/sample.js';

export type { DownloadProgress, ImageRole, ImageSource };

export interface BootOptions {
  memoryMiB: number;
  /** The kernel to load directly; unused when `firmware` is given. */
  kernel?: ImageSource;
  initrd?: ImageSource;
  /**
   * With a bzImage kernel: the same kernel uncompressed, so the guest skips decompressing itself.
   * Without it the worker decompresses a gzip or XZ bzImage on the host (src/boot/payload.ts).
   */
  vmlinux?: ImageSource;
  cmdline: string;
  clock: ClockMode;
  /**
   * A raw disk image on the first SATA port: a URL is read on demand with HTTP range requests
   * (the server must support them), a local file is held in memory. The guest's writes go to
   * an overlay; the image itself is never changed.
   */
  disk?: ImageSource;
  /**
   * Keep the guest's changes to the disk in this browser's IndexedDB (worker-disk-store.ts), so
   * they are there after a reload (default true; the page's ?persist=0 turns it off).
   */
  persist?: boolean;
  /** Start the PC from this BIOS and VGA BIOS, which boot the disk, instead of loading a kernel. */
  firmware?: { bios: ImageSource; vgaBios: ImageSource };
  /** A network card and what it is plugged into (src/net/page-options.ts). */
  net?: PageNet;
  /** Translate hot code to WebAssembly (default true); false leaves the interpreter alone (the lessons compare them). */
  jit?: boolean;
  /** A virtio-rng entropy device (default true); the lessons boot one without. */
  rng?: boolean;
  /** A raw disk image on a virtio-blk device (read on demand like `disk`, writes to an overlay, never persisted). */
  virtioDisk?: ImageSource;
}

/** Page-side callbacks, passed as a Comlink.proxy. */
export interface VmEvents {
  onProgress(p: DownloadProgress): void;
  /** The machine stopped running on its own or because it was told to. */
  onExit(reason: ExitReason, error?: string): void;
}

/** Where the worker is in a VM's life, beyond what the Machine itself reports. */
export type VmPhase = 'idle' | 'downloading' | 'starting' | 'running' | 'exited';

export interface VmStatus extends MachineStatus {
  phase: VmPhase;
  /** COM1 output bytes dropped because the page stopped draining the ring and the backlog filled. */
  serialDropped: number;
  /** A disk read over HTTP: bytes fetched so far, of the image's size. */
  disk?: { fetched: number; size: number; requests: number };
  /** The disk's changes kept in IndexedDB: how many blocks, and a failure in words. */
  diskStore?: DiskStoreStatus;
  net?: WorkerNetStatus;
  /** The memory balloon (virtio-balloon): the host's target, what the guest gave, and the guest's last statistics. */
  balloon?: { targetMiB: number; actualMiB: number; stats: Readonly<Record<string, number>> };
}

export interface VmWorkerApi {
  /** Hand the worker its rings, the screen it draws into (screen-buffer.ts) and callbacks; call once before boot. */
  attach(serialOut: SharedArrayBuffer, serialIn: SharedArrayBuffer, events: VmEvents, screen?: SharedArrayBuffer): void;
  /** Fetch images, build the machine and start it running. Resolves once it runs; rejects with a plain-words error. */
  boot(options: BootOptions): Promise<void>;
  pause(): void;
  resume(): void;
  reset(): void;
  /** A key at `code` (KeyboardEvent.code) went down or up, on the PS/2 keyboard. */
  key(code: string, down: boolean): void;
  /** The PS/2 mouse moved by (dx, dy) (y up) and dz (wheel), with `buttons` held. */
  mouse(dx: number, dy: number, dz: number, buttons: number): void;
  /** Stop the machine for good (the page's power button). Resolves when its run loop has returned. */
  powerOff(): Promise<void>;
  status(): VmStatus;
  /**
   * The running machine's video memory, shared with the page (the core's memory): the page draws
   * VBE pictures from it (screen-buffer.ts SOURCE_VRAM). Null without a machine. Ask again after
   * each boot: a new machine has new memory.
   */
  displayMemory(): DisplayMemory | null;
  /** The VGA's text screen, line by line, and its cursor; null in a graphics mode or without a machine. */
  textScreen(): { lines: string[]; cursor: { row: number; col: number } | null } | null;
  /** Ask the guest to give `mib` MiB back to the host through its balloon driver (0: take it all back). */
  setBalloon(mib: number): void;
  /** The network capture as a .pcap file (the last part of it: worker-net.ts); null without a network. */
  capture(): Uint8Array | null;
  /** The running machine as a snapshot file (worker-snapshot.ts): paused only while its state is copied. */
  snapshot(): Promise<Uint8Array>;
  /** Replace the machine by the one in a snapshot file; rejects in one line, changing nothing, when it cannot. */
  restore(file: Uint8Array, request: RestoreRequest): Promise<RestoreInfo>;
  /** Live-migrate the running machine to the tab waiting as `name` (worker-migrate.ts); it stops here once that tab runs it. */
  migrate(name: string, events?: MigrationEvents): Promise<MigrationSummary>;
  /**
   * Wait for a tab to migrate its machine here under `name`, then run it (paused if it was paused
   * there); the images are found as a restore finds them.
   */
  incoming(name: string, request: RestoreRequest, events?: MigrationEvents): Promise<ArrivalSummary>;
  /**
   * "Reset disk to its image": power the machine off, then forget the changes kept in this
   * browser for the disk `src`, so the next boot starts from the image. Resolves with how many
   * 4 KiB blocks were forgotten.
   */
  resetDisk(src: ImageSource): Promise<number>;
  /** The page's inspector (worker-inspect.ts): samples of the running machine, pause, step, breakpoints (a comlink proxy: `api.inspector.sample()`). */
  readonly inspector: InspectorApi & Comlink.ProxyMarked;
}

/** How often the status asks the guest's balloon driver for fresh statistics. */
const BALLOON_STATS_MS = 2000;
/** Bound on COM1 output kept in the worker while the page's ring is full (a hidden tab, say). */
const SERIAL_BACKLOG_LIMIT = 4 << 20;
// Checked here against the contract the worker is written to (machine-api.ts).
const MachineImpl: MachineClass = Machine;

function checkOptions(o: BootOptions): void {
  if (!Number.isInteger(o.memoryMiB) || o.memoryMiB < 4 || o.memoryMiB > 3072) {
    throw new Error(`Memory size must be a whole number of MiB between 4 and 3072 (got ${o.memoryMiB}).`);
  }
  if (o.clock !== 'realtime' && o.clock !== 'deterministic') throw new Error(`Unknown clock mode: ${String(o.clock)}.`);
  if (typeof o.cmdline !== 'string') throw new Error('The kernel command line must be text.');
  if (o.firmware === undefined && o.kernel === undefined) throw new Error('Nothing to boot: give a kernel, or a disk to boot through the BIOS.');
  if (o.firmware !== undefined && o.disk === undefined) throw new Error('Booting through the BIOS needs a disk image.');
}

/** Everything the worker keeps about the one VM it hosts. */
class VmHost implements VmWorkerApi {
  private serialOut: ByteRing | null = null;
  private serialIn: ByteRing | null = null;
  private events: VmEvents | null = null;
  private machine: MachineInstance | null = null;
  private running: Promise<ExitReason> | null = null;
  private phase: VmPhase = 'idle';
  private clock: ClockMode = 'realtime';
  private lastExit: { reason: ExitReason; error?: string } | null = null;
  /** Generation counter: a boot or power-off bumps it so stale loops (input pump) end. */
  private generation = 0;
  private screen: WorkerScreen | null = null;
  private balloonAsked = -Infinity;
  private disk: { fetched: number; size: number; requests: number } | undefined;
  /** The running disk's store in IndexedDB, or null (no disk, or ?persist=0). */
  private diskStore: WorkerDiskStore | null = null;
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  private flushing = false;
  private serialDropped = 0;
  private net: WorkerNet | null = null;
  /** Every machine's callbacks: COM1 into the page's ring, diagnostics to the console. */
  private readonly machineHost = { onSerial: (bytes: Uint8Array) => this.emitSerial(bytes), onLog: (line: string) => console.info(`[machine] ${line}`) };
  /** What the last machine was made from (its images serve a restore). */
  private options: MachineOptions | null = null;
  /** Set while a snapshot stops the run loop: that stop is not an exit. */
  private suspended = false;
  /** What the snapshot and migration code may do with this host's machine. */
  private readonly machineControl = {
    current: () => (this.machine && this.options ? { machine: this.machine, options: this.options } : null),
    lastOptions: () => this.options,
    suspend: async (m: MachineInstance) => {
      this.suspended = true;
      m.stop();
      const stopped = (await this.running) === 'stopped';
      this.suspended = stopped; // otherwise runMachine told the page how it ended, and there is nothing to resume
      return stopped;
    },
    resume: (m: MachineInstance) => {
      this.suspended = false;
      if (this.machine === m) this.running = this.runMachine(m, this.generation);
    },
    replace: async (m: MachineInstance, options: MachineOptions, net: WorkerNet | null) => {
      await this.stopMachine(false);
      this.net = net;
      this.lastExit = null;
      this.clock = m.status().clock;
      this.start(m, options, ++this.generation);
    },
    retire: async (m: MachineInstance) => {
      if (this.machine !== m) return;
      await this.stopMachine(false);
      this.suspended = false;
      this.lastExit = { reason: 'stopped', error: 'The VM moved to another tab.' };
    },
    machineHost: this.machineHost,
    coreWasm: loadCoreWasm,
    obtain: (role: ImageRole, src: ImageSource) => obtainImage(role, src, this.events),
    // A restored machine's disk writes to the same store as the running one's (the snapshot's blocks replace its contents).
    prepareDisks: async (options: MachineOptions) => {
      const disk = options.disks?.[0];
      if (this.diskStore !== null && disk instanceof OverlayBackend) this.diskStore.attachTo(disk);
    },
    openDisk: async (src: ImageSource, persist: boolean) => {
      const disk = await openDisk(src, (p) => { this.disk = p; });
      if (persist && disk instanceof OverlayBackend) this.diskStore = await WorkerDiskStore.attach(src, disk, (message) => console.error(`[disk] ${message}`));
      return disk;
    },
  };
  private readonly snapshots = new WorkerSnapshots(this.machineControl);
  private readonly migration = new WorkerMigration(this.machineControl, this.snapshots);
  private readonly inspection = new WorkerInspector(() => ({ net: this.net?.status() ?? null }));
  readonly inspector = Comlink.proxy(this.inspection);

  attach(serialOut: SharedArrayBuffer, serialIn: SharedArrayBuffer, events: VmEvents, screen?: SharedArrayBuffer): void {
    this.serialOut = new ByteRing(serialOut);
    this.serialIn = new ByteRing(serialIn);
    this.events = events;
    this.screen = screen ? new WorkerScreen(screen) : null;
  }

  async boot(options: BootOptions): Promise<void> {
    if (!this.serialOut || !this.serialIn) throw new Error('The worker was not attached to its rings.');
    if (this.phase === 'downloading' || this.phase === 'starting') throw new Error('A machine is already starting.');
    if (this.snapshots.busy) throw new Error('A snapshot is being saved or restored; start again when it is done.');
    checkOptions(options);
    // A tab waiting for an incoming migration (?incoming=NAME) that boots instead stops waiting.
    this.migration.cancelWaiting();
    // Replacing a running machine is not an exit the page needs to hear about.
    await this.stopMachine(false);
    const generation = ++this.generation;
    this.clock = options.clock;
    this.lastExit = null;
    try {
      this.phase = 'downloading';
      // Fetch the core while the images download; report a missing image first.
      const coreWasm = loadCoreWasm();
      coreWasm.catch(() => {});
      this.disk = undefined;
      const disks = options.disk ? [await openDisk(options.disk, (p) => { this.disk = p; })] : [];
      const virtioDisks = options.virtioDisk ? [await openDisk(options.virtioDisk, () => {})] : undefined;
      this.diskStore = null;
      if (options.disk && options.persist !== false && disks[0] instanceof OverlayBackend) {
        this.diskStore = await WorkerDiskStore.attach(options.disk, disks[0], (message) => console.error(`[disk] ${message}`));
      }
      const firmware = options.firmware
        ? { bios: await obtainImage('BIOS', options.firmware.bios, this.events), vgaBios: await obtainImage('VGA BIOS', options.firmware.vgaBios, this.events) }
        : undefined;
      const kernel = firmware || !options.kernel ? undefined : await obtainImage('kernel', options.kernel, this.events);
      const initrd = !firmware && options.initrd ? await obtainImage('initrd', options.initrd, this.events) : undefined;
      let vmlinux = !firmware && options.vmlinux ? await obtainImage('vmlinux', options.vmlinux, this.events) : undefined;
      this.phase = 'starting';
      if (kernel && !vmlinux) {
        // A bzImage alone: unpack its kernel here when its format allows, sparing the guest its
        // own decompression; null (an ELF kernel, bzip2, zstd ...) leaves it to the guest.
        const started = performance.now();
        const unpacked = await decompressPayload(kernel);
        if (unpacked) {
          vmlinux = unpacked.vmlinux;
          console.info(`[machine] kernel: ${unpacked.format} payload decompressed on the host in ${Math.round(performance.now() - started)} ms`);
        }
      }
      this.net = options.net && options.net.backend !== 'none' ? new WorkerNet(options.net) : null;
      const config: MachineConfig = {
        memoryMiB: options.memoryMiB,
        kernel,
        initrd,
        vmlinux,
        cmdline: options.cmdline,
        clock: options.clock,
        coreWasm: await coreWasm,
        disks,
        firmware,
        net: this.net?.link,
        mac: this.net?.mac,
        jit: options.jit,
        rng: options.rng,
        virtioDisks,
      };
      const machine = await MachineImpl.create(config, this.machineHost);
      if (generation !== this.generation) {
        machine.stop();
        this.net?.close();
        return;
      }
      this.start(machine, config, generation);
    } catch (e) {
      if (generation === this.generation) this.phase = 'idle';
      this.net?.close();
      const err = e instanceof Error ? e : new Error(String(e));
      throw new Error(err.message);
    }
  }

  private start(machine: MachineInstance, options: MachineOptions, generation: number): void {
    this.machine = machine;
    this.options = options;
    this.phase = 'running';
    this.running = this.runMachine(machine, generation);
    this.inspection.attach(machine instanceof Machine ? machine : null);
    void this.pumpInput(generation);
    this.screen?.start(machine);
  }

  private async runMachine(machine: MachineInstance, generation: number): Promise<ExitReason> {
    let reason: ExitReason;
    let error: string | undefined;
    try {
      reason = await machine.run();
      if (reason === 'error') error = machine.status().error ?? 'the machine stopped with an error';
    } catch (e) {
      reason = 'error';
      error = (e as Error)?.message ?? String(e);
    }
    if (generation !== this.generation || (reason === 'stopped' && this.suspended)) return reason;
    this.phase = 'exited';
    this.lastExit = { reason, error };
    this.events?.onExit(reason, error);
    return reason;
  }

  /** Feed key bytes from the page's ring into COM1 for as long as this machine lives. */
  private async pumpInput(generation: number): Promise<void> {
    const ring = this.serialIn!;
    const buf = new Uint8Array(4096);
    while (generation === this.generation && this.machine) {
      const seen = ring.writeCount;
      const n = ring.readInto(buf);
      if (n > 0) {
        this.machine.sendSerial(buf.slice(0, n));
        continue;
      }
      // Wake on the page's write; the timeout only bounds how long a dead generation lingers.
      await ring.waitForDataAsync(seen, 1000);
    }
  }

  /** COM1 output: straight into the ring, or into a bounded backlog while the ring is full. */
  private emitSerial(bytes: Uint8Array): void {
    const ring = this.serialOut;
    if (!ring || bytes.length === 0) return;
    if (this.backlog.length === 0) {
      const n = ring.write(bytes);
      if (n === bytes.length) return;
      bytes = bytes.subarray(n);
    }
    if (this.backlogBytes + bytes.length > SERIAL_BACKLOG_LIMIT) {
      this.serialDropped += bytes.length;
      return;
    }
    this.backlog.push(bytes.slice());
    this.backlogBytes += bytes.length;
    if (!this.flushing) void this.flushBacklog();
  }

  private async flushBacklog(): Promise<void> {
    const ring = this.serialOut!;
    this.flushing = true;
    try {
      while (this.backlog.length > 0) {
        const seen = ring.readCount;
        const head = this.backlog[0];
        const n = ring.write(head);
        this.backlogBytes -= n;
        if (n === head.length) {
          this.backlog.shift();
          continue;
        }
        this.backlog[0] = head.subarray(n);
        await ring.waitForSpaceAsync(seen, 1000);
      }
    } finally {
      this.flushing = false;
    }
  }

  pause(): void {
    this.machine?.pause();
  }

  resume(): void {
    this.machine?.resume();
  }

  reset(): void {
    this.machine?.reset();
  }

  displayMemory(): DisplayMemory | null {
    return displayMemory(this.machine);
  }

  textScreen(): { lines: string[]; cursor: { row: number; col: number } | null } | null {
    const t = this.machine?.display.textScreen();
    return t ? { lines: t.lines, cursor: t.cursor } : null;
  }

  key(code: string, down: boolean): void {
    if (typeof code === 'string') this.machine?.keyEvent(code, down === true);
  }

  mouse(dx: number, dy: number, dz: number, buttons: number): void {
    const whole = (v: number) => (Number.isFinite(v) ? Math.trunc(v) : 0);
    this.machine?.moveMouse(whole(dx), whole(dy), whole(dz), whole(buttons) & 7);
  }

  setBalloon(mib: number): void {
    if (!this.machine) throw new Error('No machine is running: start one before setting the balloon.');
    if (!Number.isInteger(mib)) throw new Error(`The balloon takes a whole number of MiB (got ${mib}).`);
    try {
      this.machine.setBalloonTarget(mib);
    } catch (e) {
      throw new Error(`The balloon cannot be set to ${mib} MiB: ${(e as Error).message}.`);
    }
    this.machine.requestBalloonStats();
  }

  capture(): Uint8Array | null {
    return this.net?.capture.bytes() ?? null;
  }

  async snapshot(): Promise<Uint8Array> {
    const file = await this.snapshots.save();
    return Comlink.transfer(file, [file.buffer]);
  }

  restore(file: Uint8Array, request: RestoreRequest): Promise<RestoreInfo> {
    if (this.migration.active) throw new Error('A migration is under way; restore when it is done.');
    return this.snapshots.restore(file, request);
  }

  migrate(name: string, events?: MigrationEvents): Promise<MigrationSummary> {
    return this.migration.send(String(name), this.inspection.watchMigration(events));
  }

  incoming(name: string, request: RestoreRequest, events?: MigrationEvents): Promise<ArrivalSummary> {
    return this.migration.receive(String(name), request, this.inspection.watchMigration(events));
  }

  powerOff(): Promise<void> {
    return this.stopMachine(true);
  }

  async resetDisk(src: ImageSource): Promise<number> {
    if (this.phase === 'downloading' || this.phase === 'starting') throw new Error('A machine is starting: reset the disk once it runs or after it stops.');
    if (this.snapshots.busy) throw new Error('A snapshot is being saved or restored; reset the disk when it is done.');
    await this.stopMachine(true);
    // The stopped guest's last writes commit first, so none lands after the reset.
    await this.diskStore?.settle();
    this.diskStore = null;
    return resetDiskStore(src);
  }

  private async stopMachine(notify: boolean): Promise<void> {
    const machine = this.machine;
    const running = this.running;
    const wasRunning = this.phase === 'running';
    this.generation++;
    this.machine = null;
    this.running = null;
    this.inspection.attach(null);
    this.screen?.stop();
    this.net?.close();
    // A boot still downloading sees the new generation and drops what it builds.
    if (this.phase === 'downloading' || this.phase === 'starting') this.phase = 'idle';
    if (machine) {
      machine.stop();
      await running;
      this.phase = 'exited';
      if (wasRunning && notify) {
        this.lastExit = { reason: 'stopped' };
        this.events?.onExit('stopped');
      }
    }
  }

  status(): VmStatus {
    const base: MachineStatus = this.machine
      ? this.machine.status()
      : {
          state: this.lastExit?.reason === 'error' ? 'error'
            : this.lastExit?.reason === 'poweroff' ? 'poweroff' : 'stopped',
          instructions: 0,
          ips: 0,
          guestSeconds: 0,
          clock: this.clock,
          error: this.lastExit?.error,
        };
    return { ...base, phase: this.phase, serialDropped: this.serialDropped, disk: this.disk ? { ...this.disk } : undefined, diskStore: this.diskStore?.status(), net: this.net?.status(), balloon: this.balloonStatus() };
  }

  /** The balloon for the status bar; fresh statistics are asked for at most every BALLOON_STATS_MS. */
  private balloonStatus(): VmStatus['balloon'] {
    const m = this.machine;
    if (!m) return undefined;
    const now = performance.now();
    if (now - this.balloonAsked >= BALLOON_STATS_MS) {
      this.balloonAsked = now;
      m.requestBalloonStats();
    }
    const b = m.balloon;
    return { targetMiB: b.target / 256, actualMiB: b.actual / 256, stats: { ...b.stats } };
  }
}

Comlink.expose(new VmHost());
