// The sending side of a live migration (QEMU's pre-copy): the guest keeps running while its RAM
// goes over, then stops only for what it wrote meanwhile and its device state.
//
//   HELLO (configuration)             ->
//                                     <- READY (the target built the same machine)
//   dirty log on; PAGES, every page    ->   round 0 (zero pages as markers, the balloon's left out)
//   ROUND                             ->
//   PAGES, pages dirtied meanwhile    ->   round 1, 2 ... until the rest fits the downtime target
//   ROUND                             ->        (~100 ms at the measured rate), or stops shrinking
//                                               (4 rounds), or 30 rounds
//   guest stopped: PAGES (the rest), STATE  ->   (STATE says whether the guest was running or
//                                                paused, and holds the network backends' state)
//                                     <- DONE (the target loaded it and runs the guest)
//   this machine never runs again
//
// Who runs the guest. Exactly one side may, and no exchange of messages can make both sides sure
// of the other's last one (the two generals), so the right to run passes at one fixed point, the
// STATE frame, and each side decides from what it knows itself:
//   - The source gives the guest up once it starts handing the STATE frame to the transport.
//     From then on it runs the guest again only if the target answers ERROR (it could not load
//     the state, and never runs it), or if the transport says the frame's last bytes never left
//     this side (FrameNotSent: the target cannot have it whole). DONE: the target runs it, this
//     machine ends. Anything else (the connection breaks, silence past the deadline, a garbled
//     answer): the target may be running the guest, so this machine stays stopped, paused
//     rather than ended, and says so (MigrationUnconfirmed); a person who knows the target is
//     not running it may `cont` it.
//   - The target runs the guest once it has loaded STATE, whether or not its DONE gets through
//     (target.ts), and after that it never sends ERROR.
// So a lost DONE leaves the guest running on the target only; a target that dies between STATE
// and running leaves it stopped on both sides, never running on two.
//
// Any failure before STATE (the connection, the target's refusal, a bad frame) ends the migration
// with a one-line MigrationError, and the guest runs on here as if nothing had happened. A guest
// paused here (the monitor's stop) arrives paused, as QEMU's target resumes only a running guest.
import type { Machine } from '../machine/machine.js';
import { DirtyLog } from '../cpu/dirty-log.js';
import type { SnapshotConfig } from '../snapshot/config.js';
import { FRAME_HEADER, FrameNotSent, FrameType, MigrationError, MigrationUnconfirmed } from './frames.js';
import { Peer, type MigrationLink } from './link.js';
import { encodeHello, encodePages, encodeRound, encodeState, decodeDone, PAGE_SIZE, type RoundReport } from './messages.js';

/** What the host of the running machine (the CLI's VmRunner, the page's worker) lends a migration. */
export interface SourceVm {
  readonly machine: Machine;
  /**
   * `work` with the machine between two runs (run() has returned); it runs again after, unless
   * moved() was called meanwhile. Rejects (without running `work`) when the guest powered off.
   */
  whileStopped<T>(work: () => Promise<T>): Promise<T>;
  /** Called inside the last whileStopped: the target runs the guest now; this machine must never run again. */
  moved(): void;
  /** The guest is paused (the monitor's stop), read with the machine stopped: the target keeps it paused. */
  readonly paused?: boolean;
  /**
   * Called inside the last whileStopped when the target may be running the guest but never
   * confirmed it: keep this machine stopped (paused, not ended) for a person to decide. A host
   * without it is told moved() instead: never running twice comes before keeping the guest.
   */
  hold?(): void;
  /** Each network card's backend's state (saveLinks, src/net/link.ts), read with the machine stopped. */
  saveNet?(): unknown[];
}

export interface SourceOptions {
  /** The machine's configuration (snapshotConfig of the options it was made with). */
  config: SnapshotConfig;
  /** Stop iterating once the dirty pages are estimated to go over in this long (default 100 ms). */
  downtimeMs?: number;
  /** Stop iterating after this many rounds whatever is left (default 30). */
  maxRounds?: number;
  /**
   * Stop iterating when this many rounds in a row did not shrink the dirty set below 90% of the
   * smallest yet (default 4): the guest dirties pages as fast as they go, and more rounds would
   * only add time, not lower the downtime.
   */
  stallRounds?: number;
  onRound?(r: RoundReport): void;
}

export interface MigrationResult {
  rounds: RoundReport[];
  /** Pages sent with the guest stopped, and the device state's bytes. */
  finalPages: number;
  stateBytes: number;
  /** Every frame's bytes. */
  bytes: number;
  /** From HELLO to DONE. */
  totalMs: number;
  /** From the guest's stop here to the target's DONE (the target resumes the guest as it sends DONE). */
  downtimeMs: number;
  /** Of the downtime, the target's load of the state. */
  targetLoadMs: number;
}

/** Pages per PAGES frame (1 MiB of data). */
const FRAME_PAGES = 256;
/** Pre-copy works this long, then lets the guest run a slice. */
const WORK_MS = 8;
const WORDS_PER_PAGE = PAGE_SIZE / 4;

function yieldTurn(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((r) => setImmediate(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); r(); };
    ch.port2.postMessage(0);
  });
}

function frameBytes(parts: Uint8Array[]): number {
  return parts.reduce((n, p) => n + p.length, FRAME_HEADER);
}

/** Migrate `vm`'s machine to the target at the other end of `link`. */
export async function migrateOut(vm: SourceVm, link: MigrationLink, opts: SourceOptions): Promise<MigrationResult> {
  const machine = vm.machine;
  const peer = new Peer(link, 'the target');
  const downtimeMs = opts.downtimeMs ?? 100;
  const maxRounds = opts.maxRounds ?? 30;
  const stallRounds = opts.stallRounds ?? 4;
  const started = performance.now();
  const rounds: RoundReport[] = [];
  let bytes = 0;
  let log: DirtyLog;
  let logging = false;
  const stopLog = () => { if (logging) { log.stop(); logging = false; } };
  try {
    try {
      log = new DirtyLog(machine.core);
    } catch (e) {
      throw new MigrationError(`this machine cannot migrate: ${(e as Error).message}`);
    }
    const hello = encodeHello(opts.config);
    await peer.send(FrameType.HELLO, hello);
    bytes += hello.length + FRAME_HEADER;
    await peer.expect([FrameType.READY]);

    const pageCount = machine.core.ramSize / PAGE_SIZE;
    const isZero = (pfn: number): boolean => {
      const ram = machine.core.ram;
      const words = new Uint32Array(ram.buffer, ram.byteOffset + pfn * PAGE_SIZE, WORDS_PER_PAGE);
      for (let i = 0; i < WORDS_PER_PAGE; i++) if (words[i] !== 0) return false;
      return true;
    };
    // The balloon's pages are the host's: round 0 leaves them out (the target's RAM starts as
    // zeros); later they go as zero pages, which is what the guest would read there.
    const ballooned = (pfn: number) => machine.balloon.isInflated(pfn);

    /** Send `pfns` (ascending) as PAGES frames, letting the guest run between bursts of work. */
    const sendRound = async (round: number, pfns: number[], yieldToGuest: boolean) => {
      let zeroPages = 0;
      let roundBytes = 0;
      let yieldedMs = 0;
      let burst = performance.now();
      for (let i = 0; i < pfns.length; i += FRAME_PAGES) {
        const batch = pfns.slice(i, i + FRAME_PAGES);
        const { parts, zero } = encodePages(round, batch, machine.core.ram, (pfn) => ballooned(pfn) || isZero(pfn));
        zeroPages += zero;
        roundBytes += frameBytes(parts);
        await peer.send(FrameType.PAGES, parts);
        if (yieldToGuest && performance.now() - burst >= WORK_MS) {
          const y = performance.now();
          await yieldTurn();
          burst = performance.now();
          yieldedMs += burst - y;
        }
      }
      return { zeroPages, roundBytes, yieldedMs };
    };

    await vm.whileStopped(async () => { log.start(); logging = true; });
    let pending: number[] = [];
    for (let pfn = 0; pfn < pageCount; pfn++) if (!ballooned(pfn)) pending.push(pfn);
    // Bytes per host millisecond of our own work (the guest's slices left out), for the estimate.
    let rate = 0;
    let smallest = Infinity;
    let stalled = 0;
    for (let round = 0; ; round++) {
      const t0 = performance.now();
      const { zeroPages, roundBytes, yieldedMs } = await sendRound(round, pending, true);
      const dirty = await vm.whileStopped(async () => log.harvest());
      const ms = performance.now() - t0;
      const r: RoundReport = { round, pages: pending.length, zeroPages, dirtied: dirty.length, bytes: roundBytes, ms };
      rounds.push(r);
      bytes += roundBytes;
      opts.onRound?.(r);
      const report = encodeRound(r);
      await peer.send(FrameType.ROUND, report);
      bytes += report.length + FRAME_HEADER;
      const busy = Math.max(1, ms - yieldedMs);
      if (roundBytes > 1024 * 1024) rate = roundBytes / busy;
      pending = dirty;
      const estimate = rate > 0 ? (dirty.length * (PAGE_SIZE + 4)) / rate : Infinity;
      if (dirty.length < 0.9 * smallest) { smallest = dirty.length; stalled = 0; } else stalled++;
      if (estimate <= downtimeMs || round + 1 >= maxRounds || stalled >= stallRounds) break;
    }

    // Stop and copy: the rest of the pages and the device state, with the guest stopped.
    let finalPages = 0;
    let stateBytes = 0;
    let downtime = 0;
    let targetLoadMs = 0;
    /** The target may be running the guest, unconfirmed: this machine stays stopped (the header's rule). */
    const unconfirmed = (e: unknown): MigrationUnconfirmed => {
      if (vm.hold !== undefined) vm.hold(); else vm.moved();
      const why = String((e as Error)?.message ?? e).split('\n')[0];
      return new MigrationUnconfirmed(`the state went to the target, which did not confirm that it runs the guest (${why}); it may be running it, so this VM stays stopped`);
    };
    await vm.whileStopped(async () => {
      const stoppedAt = performance.now();
      let handing = false;
      try {
        // The disks' requests in flight complete first: their DMA into RAM is in the log after.
        await machine.settleIo();
        const last = new Set(pending);
        for (const pfn of log.harvest()) last.add(pfn);
        stopLog();
        const pfns = [...last].sort((a, b) => a - b);
        finalPages = pfns.length;
        const { roundBytes } = await sendRound(rounds.length, pfns, false);
        bytes += roundBytes;
        const state = encodeState({ machine: machine.saveState({ ram: false }), running: vm.paused !== true, net: vm.saveNet?.() ?? [] });
        stateBytes = state.reduce((n, p) => n + p.length, 0);
        handing = true;
        await peer.send(FrameType.STATE, state);
        bytes += stateBytes + FRAME_HEADER;
      } catch (e) {
        stopLog();
        if (!handing || e instanceof FrameNotSent) throw e;
        throw unconfirmed(e);
      }
      // STATE is out: from here the guest is the target's unless it answers ERROR (above).
      try {
        targetLoadMs = decodeDone((await peer.expect([FrameType.DONE])).body).loadMs;
      } catch (e) {
        if (peer.gaveUp) throw e;
        throw unconfirmed(e);
      }
      // The target runs the guest from here: this one must not run a single slice more.
      vm.moved();
      downtime = performance.now() - stoppedAt;
    });
    peer.close();
    return { rounds, finalPages, stateBytes, bytes, totalMs: performance.now() - started, downtimeMs: downtime, targetLoadMs };
  } catch (e) {
    const err = e instanceof MigrationError ? e : new MigrationError(`migration failed: ${String((e as Error)?.message ?? e)}`);
    if (logging) await vm.whileStopped(async () => stopLog()).catch(() => {});
    await peer.abort(err.message);
    throw err;
  }
}

/** A migration's figures in words, one line per round and one for the whole. */
export function describeRound(r: RoundReport): string {
  return `round ${r.round}: ${r.pages} pages sent (${r.zeroPages} zero), ${r.dirtied} dirtied meanwhile, ${(r.bytes / 1048576).toFixed(1)} MiB in ${r.ms.toFixed(0)} ms`;
}

export function describeResult(m: MigrationResult): string {
  return `migrated: ${m.rounds.length} rounds, then ${m.finalPages} pages and ${(m.stateBytes / 1024).toFixed(0)} KiB of device state with the guest stopped; `
    + `${(m.bytes / 1048576).toFixed(1)} MiB in ${m.totalMs.toFixed(0)} ms, downtime ${m.downtimeMs.toFixed(0)} ms (target load ${m.targetLoadMs.toFixed(0)} ms)`;
}
