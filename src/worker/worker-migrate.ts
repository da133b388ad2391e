// Live migration between tabs, in the VM worker (the protocol is src/migration/, the channel
// src/migration/broadcast.ts). send(): this worker's running machine goes to the tab waiting
// under a name while it runs; once that tab runs it, this machine is stopped for good. receive():
// wait under a name, build the machine the source describes (images by hash, as a snapshot's
// restore finds them), take its pages and state, and run it in place of whatever ran here.
// Any failure before the state went over is one line; the source's machine runs on, the target
// keeps what it had. After it went over, a target that never confirmed may be running the guest
// (src/migration/source.ts, "Who runs the guest"): this tab keeps its machine paused, not ended,
// and says so (MigrationUnconfirmed); the user's Resume runs it here, which is right only if the
// other tab does not run it. A guest paused here arrives paused there, and runs on Resume.
// The network backend's state goes along (NetLink.saveState), and the target's new backend
// resets the connections the guest had open, as the CLI's --incoming does; the target's card
// takes no frames until the state is loaded (GatedLink).
import { Machine, type MachineOptions } from '../machine/machine.js';
import { awaitMigration, offerMigration } from '../migration/broadcast.js';
import { MigrationError } from '../migration/frames.js';
import { GatedLink, restoreLinks, saveLinks } from '../net/link.js';
import type { RoundReport } from '../migration/messages.js';
import { describeResult, migrateOut, type MigrationResult, type SourceVm } from '../migration/source.js';
import { migrateIn } from '../migration/target.js';
import { snapshotConfig } from '../snapshot/config.js';
import type { MachineInstance } from './machine-api.js';
import { machineLinks, type RestoreRequest, type SnapshotHost, type WorkerSnapshots } from './worker-snapshot.js';
import type { WorkerNet } from './worker-net.js';

/** Page-side callbacks (a Comlink.proxy): each pre-copy round as it ends. */
export interface MigrationEvents {
  onRound(r: RoundReport): void;
}

/** What a finished migration tells the page. */
export interface MigrationSummary {
  /** One line: rounds, bytes, time and downtime. */
  text: string;
  rounds: RoundReport[];
  downtimeMs: number;
  totalMs: number;
}

/** What an incoming migration tells the page. */
export interface ArrivalSummary {
  /** One line: pages, rounds, load time. */
  text: string;
  memoryMiB: number;
  /** The guest was paused in the source tab and waits here, paused, for Resume. */
  paused: boolean;
  /** False: the DONE to the source tab could not be sent (the guest is this tab's all the same). */
  confirmed: boolean;
  /** What the network backend did about the guest's open connections, one line each. */
  net: string[];
}

/** The name of the error send() rejects with when the target never confirmed: the machine is held paused here. */
export const UNCONFIRMED = 'MigrationUnconfirmed';

export interface MigrationHost extends SnapshotHost {
  /** The machine moved away: stop it for good (quietly) and tell the page it is gone. */
  retire(machine: MachineInstance): Promise<void>;
}

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

export class WorkerMigration {
  private busy: 'sending' | 'receiving' | null = null;
  private waiting: AbortController | null = null;

  constructor(private readonly host: MigrationHost, private readonly snapshots: WorkerSnapshots) {}

  get active(): boolean {
    return this.busy !== null;
  }

  /** Move the running machine to the tab waiting as `name`. */
  async send(name: string, events?: MigrationEvents): Promise<MigrationSummary> {
    const current = this.host.current();
    if (!current) throw new Error('No machine is running: there is nothing to migrate.');
    const { machine, options } = current;
    if (!(machine instanceof Machine)) throw new Error('This machine cannot migrate: it is not a webx86 Machine.');
    if (this.snapshots.busy) throw new Error('A snapshot is being saved or restored; migrate when it is done.');
    this.claim('sending');
    try {
      let moved = false;
      let held = false;
      // Paused or not as the guest is once stopped: read after the stop, so a Pause that arrives
      // while the run loop is stopping still counts (a pause outlives a stop).
      let pausedAtStop = false;
      const vm: SourceVm = {
        machine,
        whileStopped: async (work) => {
          if (!(await this.host.suspend(machine))) throw new MigrationError('the machine stopped before it could move');
          pausedAtStop = machine.pausePending;
          try {
            return await work();
          } finally {
            // Held: the run loop goes on paused (pause() outlives the stop), so Resume can run it.
            if (!moved) this.host.resume(machine);
          }
        },
        moved: () => { moved = true; },
        get paused() { return pausedAtStop; },
        hold: () => { held = true; machine.pause(); },
        saveNet: () => saveLinks(machineLinks(options)),
      };
      let result: MigrationResult;
      try {
        const config = await snapshotConfig(options);
        const link = await offerMigration(name);
        result = await migrateOut(vm, link, { config, onRound: (r) => events?.onRound(r) });
      } catch (e) {
        if (held) {
          const err = new Error(`Migration not confirmed: ${oneLine(e).replace(/^the state went to the target/, 'the state went to the other tab')}. `
            + 'This VM is paused here; Resume runs it here, but only do that if the other tab does not run it.');
          err.name = UNCONFIRMED;
          console.info(`[migrate] ${err.message}`);
          throw err;
        }
        throw new Error(`Migration failed: ${oneLine(e)}. The VM runs on here.`);
      }
      await this.host.retire(machine);
      const text = describeResult(result);
      console.info(`[migrate] ${text}`);
      return { text, rounds: result.rounds, downtimeMs: result.downtimeMs, totalMs: result.totalMs };
    } finally {
      this.busy = null;
    }
  }

  /** Wait for a tab to send its machine under `name`, then run it here. */
  async receive(name: string, request: RestoreRequest, events?: MigrationEvents): Promise<ArrivalSummary> {
    this.claim('receiving');
    const abort = new AbortController();
    this.waiting = abort;
    let net: WorkerNet | null = null;
    let replaced = false;
    try {
      const link = await awaitMigration(name, abort.signal);
      this.waiting = null;
      const coreWasm = this.host.coreWasm();
      coreWasm.catch(() => {});
      let options: MachineOptions | undefined;
      let gates: GatedLink[] = [];
      const result = await migrateIn(link, {
        build: async (config) => {
          const built = await this.snapshots.optionsFor(config, request);
          net = built.net;
          // Frames for the guest that reach this tab before its state is loaded are the source's
          // guest's: dropped (TCP sends them again), not handed to this copy late.
          gates = machineLinks(built.options).map((l) => new GatedLink(l));
          const nics = (built.options.nics ?? []).map((n, i) => ({ ...n, link: gates[i]! }));
          options = { ...built.options, nics, coreWasm: await coreWasm };
          await this.host.prepareDisks?.(options);
          return Machine.create(options, this.host.machineHost);
        },
        onRound: (r) => events?.onRound(r),
      }).catch((e) => { throw new Error(`Incoming migration failed: ${oneLine(e)}`); });
      const netLines = restoreLinks(gates, result.net);
      for (const g of gates) g.open();
      // A guest paused in the source tab stays paused here until the user's Resume.
      if (!result.running) result.machine.pause();
      await this.host.replace(result.machine, options!, net);
      replaced = true;
      const text = `${result.pages} pages in ${result.rounds.length + 1} rounds, state loaded in ${result.loadMs.toFixed(0)} ms`;
      console.info(`[migrate] received a ${result.config.memoryMiB} MiB machine${result.running ? '' : ' (paused)'}: ${text}`);
      if (!result.confirmed) console.info('[migrate] the source tab may not have heard that the guest runs here (sending DONE failed): it keeps its copy paused');
      for (const line of netLines) console.info(`[migrate] ${line}`);
      return { text, memoryMiB: result.config.memoryMiB, paused: !result.running, confirmed: result.confirmed, net: netLines };
    } finally {
      if (!replaced) (net as WorkerNet | null)?.close();
      this.waiting = null;
      this.busy = null;
    }
  }

  /** Stop waiting for an incoming migration (a boot or a restore takes its place). */
  cancelWaiting(): void {
    this.waiting?.abort();
  }

  private claim(what: 'sending' | 'receiving'): void {
    if (this.busy !== null) throw new Error(`A migration is being ${this.busy === 'sending' ? 'sent' : 'received'} already.`);
    this.busy = what;
  }
}
