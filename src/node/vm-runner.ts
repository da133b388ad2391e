// Runs the CLI's Machine and does what the monitor asks of it (MonitorVm). A snapshot needs the
// machine between two run() calls: savevm and loadvm stop it, wait for run() to return, do
// their work and run it again, so the session sees one run that ends only when the guest powers
// off or the user quits. `stop` and `cont` pause instead (run() keeps going, the guest's clock
// stops); a savevm of a paused machine restores it paused, as QEMU does.
import { readFile, writeFile } from 'node:fs/promises';
import type { Machine, MachineOptions } from '../machine/machine.js';
import type { ExitReason } from '../machine/types.js';
import type { BalloonInfo, MonitorVm } from './monitor.js';
import { driveDifference } from '../snapshot/disks.js';
import { restoreLinks, saveLinks, type NetLink } from '../net/link.js';

type SnapshotModule = typeof import('../snapshot/snapshot.js');

/** Guest pages, as the balloon counts them. */
const PAGE_SIZE = 4096;

/** A piece of work for the stopped machine, and who waits for it. */
interface HeldWork {
  work(): Promise<void>;
  fail(e: Error): void;
}

export class VmRunner implements MonitorVm {
  private held: HeldWork | null = null;
  private paused = false;
  private ended = false;
  /** Where the machine went (`migrate`): set once the target runs the guest; this one has ended. */
  migratedTo: string | null = null;
  private migrating = false;
  /** run() has returned for good, and why. */
  private finished: ExitReason | null = null;
  private lastMigration: string[] | null = null;
  /** The running machine's configuration, worked out at the first savevm or loadvm. */
  private ownConfig: Promise<import('../snapshot/snapshot.js').SnapshotConfig> | null = null;

  /**
   * `options`: the object given to Machine.create (a snapshot records the machine from it).
   * `stats`: fresh balloon statistics (BalloonStatsPrinter.fresh).
   */
  constructor(readonly machine: Machine, private readonly options: MachineOptions,
              private readonly freshStats: () => Promise<Readonly<Record<string, number>>>) {}

  /** Run until the guest powers off (or resets under --no-reboot), fails, or end() is called. */
  async run(): Promise<ExitReason> {
    for (;;) {
      const reason = await this.machine.run();
      const held = this.held;
      this.held = null;
      if (held === null) {
        // Over for good: later work (a migration's next round) must not wait for a run that never comes.
        this.finished = reason;
        return reason;
      }
      if (reason !== 'stopped' || this.ended) {
        held.fail(new Error(reason === 'stopped' ? 'the session is ending' : `the machine stopped (${reason}) before it could be done`));
        this.finished = reason;
        return reason;
      }
      await held.work();
      if (this.ended) return 'stopped';
    }
  }

  /** End the session: run() returns 'stopped', even between two runs of a savevm. */
  end(): void {
    this.ended = true;
    this.machine.stop();
  }

  get status(): 'running' | 'paused' {
    return this.paused ? 'paused' : 'running';
  }

  stop(): void {
    this.paused = true;
    this.machine.pause();
  }

  cont(): void {
    this.paused = false;
    this.machine.resume();
  }

  reset(): void {
    // Paused, the reset would wait for cont; QEMU resets at once and stays paused.
    if (this.paused) void this.whileStopped(() => this.machine.reset()).catch(() => {});
    else this.machine.reset();
  }

  quit(): void {
    this.end();
  }

  get ramMiB(): number {
    return this.machine.core.ramSize / 1048576;
  }

  async balloon(): Promise<BalloonInfo> {
    const stats = await this.freshStats();
    return { targetPages: this.machine.balloon.target, actualPages: this.machine.balloon.actual, stats };
  }

  setBalloonTarget(mib: number): void {
    this.machine.setBalloonTarget(mib);
  }

  async savevm(path: string): Promise<string> {
    const snap = await loadSnapshotModule();
    // Hashing the images and compressing RAM take about a second: both happen while the guest
    // runs; it is stopped only to copy its state and note which pages the balloon holds.
    const config = await this.config(snap);
    const t0 = performance.now();
    const { state, ballooned, net } = await this.whileStopped(async () => {
      let state;
      try {
        // The disks' requests in flight complete first (drained, as QEMU does).
        await this.machine.settleIo();
        state = this.machine.saveState();
      } catch (e) {
        // A disk written in place: the Machine says why in its own words.
        throw new snap.SnapshotError(`cannot save this machine: ${String((e as Error).message).split('\n')[0]}`);
      }
      // The balloon's pages as they are now: the guest may give more while the file is compressed.
      const ballooned = new Uint8Array(state.ram.length / PAGE_SIZE);
      for (let pfn = 0; pfn < ballooned.length; pfn++) if (this.machine.balloon.isInflated(pfn)) ballooned[pfn] = 1;
      // The network backends' state of the same instant (the user network's open connections).
      return { state, ballooned, net: saveLinks(this.links) };
    });
    const pausedMs = performance.now() - t0;
    const bytes = await snap.encodeSnapshot(state, config, { skipPage: (pfn) => ballooned[pfn] === 1, net });
    try {
      await writeFile(path, bytes);
    } catch (e) {
      throw new Error(`savevm: cannot write ${path}: ${(e as Error).message}`);
    }
    return `saved ${path} (${mib(bytes.length)}; the guest paused ${pausedMs.toFixed(0)} ms)`;
  }

  /** The running machine's configuration, as a snapshot records it (worked out once: it hashes the images). */
  private config(snap: SnapshotModule): Promise<import('../snapshot/snapshot.js').SnapshotConfig> {
    this.ownConfig ??= snap.snapshotConfig(this.options);
    return this.ownConfig;
  }

  async loadvm(path: string): Promise<string> {
    const snap = await loadSnapshotModule();
    // Everything that can fail before the machine changes is done while the guest still runs.
    const decoded = await snap.decodeSnapshot(await readSnapshotFile(path));
    const differs = configDifferences(await this.config(snap), decoded.config);
    if (differs.length > 0) {
      throw new Error(`loadvm: ${path} was saved from a machine with another ${differs.join(', ')}; start it with webx86 run --loadvm ${path}`);
    }
    const lines = await this.whileStopped(async () => {
      await this.machine.settleIo({ runOn: false }); // the loaded state replaces this one
      snap.restoreSnapshot(this.machine, decoded);
      return restoreLinks(this.links, decoded.net);
    });
    return [`loaded ${path}`, ...lines].join('; ');
  }

  /**
   * `migrate tcp:HOST:PORT`: the machine goes to a `webx86 run --incoming` there while it runs
   * (src/migration/source.ts); once the target runs it, this session ends. On any failure the
   * guest runs on here and the error is one line.
   */
  async migrate(uri: string, progress: (line: string) => void): Promise<string> {
    const { connectTcp, parseTcpAddress } = await import('../migration/tcp.js');
    const { describeResult, describeRound, migrateOut } = await import('../migration/source.js');
    if (this.migrating) throw new Error('migrate: a migration is under way');
    if (this.ended) throw new Error('migrate: the session is ending');
    const rounds: string[] = [];
    const runner = this;
    this.migrating = true;
    try {
      const addr = parseTcpAddress(uri, false);
      const config = await this.config(await loadSnapshotModule());
      const link = await connectTcp(addr);
      const result = await migrateOut({
        machine: this.machine,
        whileStopped: (work) => this.whileStopped(work),
        moved: () => { this.migratedTo = uri; this.end(); },
        get paused() { return runner.paused; },
        // The target may run the guest and never said so: this one stays paused, not ended.
        hold: () => this.stop(),
        saveNet: () => saveLinks(this.links),
      }, link, { config, onRound: (r) => { const line = describeRound(r); rounds.push(line); progress(line); } });
      const summary = describeResult(result);
      this.lastMigration = [`migration to ${uri}: completed`, ...rounds, summary];
      return summary;
    } catch (e) {
      const held = (e as Error)?.name === 'MigrationUnconfirmed';
      const message = `migrate: ${String((e as Error)?.message ?? e).split('\n')[0]}${held ? ' (`cont` runs it here: only if the target does not)' : '; the VM runs on here'}`;
      this.lastMigration = [`migration to ${uri}: ${held ? 'not confirmed' : 'failed'}`, ...rounds, message];
      throw new Error(message);
    } finally {
      this.migrating = false;
    }
  }

  /** The network cards' links (their backends save and restore state with the machine). */
  private get links(): NetLink[] {
    const o = this.options;
    return (o.nics ?? (o.net !== undefined ? [{ link: o.net }] : [])).map((n) => n.link);
  }

  /** `info migrate`: the last migration's rounds and outcome. */
  migrationInfo(): string[] {
    if (this.migrating) return ['migration: under way'];
    return this.lastMigration ?? ['no migration has run'];
  }

  /** `work` done with the machine stopped between two runs; it runs again after. */
  private whileStopped<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.finished !== null) return Promise.reject(new Error(`the machine stopped (${this.finished})`));
    if (this.ended) return Promise.reject(new Error('the session is ending'));
    if (this.held !== null) return Promise.reject(new Error('busy with another savevm or loadvm'));
    return new Promise<T>((resolve, reject) => {
      this.held = {
        work: async () => {
          try { resolve(await work()); } catch (e) { reject(e as Error); }
        },
        fail: reject,
      };
      this.machine.stop();
    });
  }
}

async function loadSnapshotModule(): Promise<SnapshotModule> {
  return import('../snapshot/snapshot.js');
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** A snapshot file's bytes, or a one-line error naming it. */
export async function readSnapshotFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new Error(`snapshot '${path}' not found`);
    if (err.code === 'EISDIR') throw new Error(`snapshot '${path}' is a directory`);
    throw new Error(`cannot read snapshot '${path}': ${err.message}`);
  }
}

/**
 * What differs, in words, between the running machine and a snapshot to load into it, beyond
 * what restoreSnapshot checks itself (memory, APICs, clock, cards, devices): the images and the
 * settings that decide what the next reboot does. Loaded anyway, the guest would run from RAM
 * holding one kernel in a machine that reboots into another.
 */
export function configDifferences(own: import('../snapshot/snapshot.js').SnapshotConfig, saved: import('../snapshot/snapshot.js').SnapshotConfig): string[] {
  const out: string[] = [];
  for (const [name, words] of [['kernel', 'kernel'], ['vmlinux', 'vmlinux'], ['initrd', 'initrd'], ['bios', 'BIOS'], ['vgaBios', 'VGA BIOS']] as const) {
    if (own.images[name] !== saved.images[name]) out.push(words);
  }
  if (own.cmdline !== saved.cmdline) out.push('command line');
  if (own.noReboot !== saved.noReboot) out.push('--no-reboot');
  if (own.balloonMiB !== saved.balloonMiB) out.push('--balloon');
  if (own.firmwareBoot !== saved.firmwareBoot) out.push('--boot');
  // Disks the snapshot's guest does not know of (or knows and would miss), or other images.
  const drives = driveDifference(own.drives, saved.drives);
  if (drives !== null) out.push(drives);
  return out;
}
