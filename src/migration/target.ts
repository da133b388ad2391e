// The receiving side of a live migration (source.ts has the conversation): build the machine the
// source describes, take its pages as they come, load its state, answer DONE and hand the
// machine to the host, which runs it (paused if the source's guest was). Any failure up to the
// loaded state is a one-line MigrationError here, an ERROR frame to the source (which then runs
// on), and no machine. Once the state is loaded the guest is ours whether or not DONE reaches
// the source, which after sending STATE never runs the guest unless we answer ERROR (source.ts,
// "Who runs the guest"): so from that point we never send ERROR, and a DONE that cannot be sent
// is only reported (`confirmed` false).
import type { Machine } from '../machine/machine.js';
import { fillBytes } from '../cpu/fill.js';
import { checkMachineFits, type SnapshotConfig } from '../snapshot/config.js';
import { FrameType, MigrationError } from './frames.js';
import { Peer, type MigrationLink } from './link.js';
import { applyPages, decodeHello, decodeRound, decodeState, encodeDone, PAGE_SIZE, type RoundReport } from './messages.js';

export interface TargetHost {
  /**
   * Build (not run) the machine `config` describes, from this host's images; throw with a
   * one-line reason when it cannot (other images, another network, a disk it does not have).
   */
  build(config: SnapshotConfig): Promise<Machine>;
  /** The source said hello: a migration is under way. */
  onHello?(config: SnapshotConfig): void;
  onRound?(r: RoundReport): void;
}

export interface IncomingResult {
  machine: Machine;
  config: SnapshotConfig;
  rounds: RoundReport[];
  /** Pages written in all (a page sent in several rounds counts each time). */
  pages: number;
  /** Decoding and loading the state, with the guest stopped on both sides. */
  loadMs: number;
  /** The source's guest was running; false: it was paused, and the host starts it paused. */
  running: boolean;
  /** Each network card's backend's state on the source, for restoreLinks (src/net/link.ts). */
  net: unknown[];
  /** DONE went out to the source; false: sending it failed (the guest is ours all the same). */
  confirmed: boolean;
}

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

/** Receive a machine over `link`. `helloTimeoutMs`: how long the source may take to say HELLO. */
export async function migrateIn(link: MigrationLink, host: TargetHost, helloTimeoutMs = 60_000): Promise<IncomingResult> {
  const peer = new Peer(link, 'the source');
  const rounds: RoundReport[] = [];
  let pages = 0;
  try {
    const config = decodeHello((await peer.expect([FrameType.HELLO], helloTimeoutMs)).body);
    host.onHello?.(config);
    let machine: Machine;
    try {
      machine = await host.build(config);
    } catch (e) {
      throw new MigrationError(`the target cannot build the source's machine: ${oneLine(e).replace(/^snapshot needs/, 'it needs').replace(/the one the snapshot was saved with/g, 'the one the source runs').replace(/the snapshot's/g, 'the source\'s')}`);
    }
    // Pages the source does not send (the balloon's) are zeros, as in a snapshot.
    fillBytes(machine.core.ram, 0);
    await peer.send(FrameType.READY, new Uint8Array(0));
    // The overlays' blocks can be at most the writable disks' sizes.
    const diskBlocks = config.drives.filter((d) => !d.readOnly).reduce((n, d) => n + Math.ceil(d.size / PAGE_SIZE), 0);
    for (;;) {
      const f = await peer.expect([FrameType.PAGES, FrameType.ROUND, FrameType.STATE]);
      if (f.type === FrameType.PAGES) {
        pages += applyPages(f.body, machine.core.ram).pages;
      } else if (f.type === FrameType.ROUND) {
        const r = decodeRound(f.body);
        rounds.push(r);
        host.onRound?.(r);
      } else {
        const t0 = performance.now();
        const state = decodeState(f.body, diskBlocks);
        try {
          checkMachineFits(machine, config);
          // RAM is in place already: the machine loads it from itself.
          machine.loadState({ ...state.machine, ram: machine.core.ram });
        } catch (e) {
          throw new MigrationError(`the source's state does not fit this target: ${oneLine(e)}`);
        }
        const loadMs = performance.now() - t0;
        // The guest is ours from here, answered or not (the header says why).
        let confirmed = true;
        try {
          await peer.send(FrameType.DONE, encodeDone(loadMs));
        } catch {
          confirmed = false;
        }
        peer.close();
        return { machine, config, rounds, pages, loadMs, running: state.running, net: state.net, confirmed };
      }
    }
  } catch (e) {
    const err = e instanceof MigrationError ? e : new MigrationError(`incoming migration failed: ${oneLine(e)}`);
    await peer.abort(err.message);
    throw err;
  }
}
