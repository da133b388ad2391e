// The run loop, one slice at a time (a slice is a few milliseconds of host time, then we yield
// to the event loop so the worker/CLI can handle input and control messages):
//   deliver host events -> fire due timers -> budget = instructions up to the next timer deadline
//   (capped) -> run the core -> on HLT: jump (deterministic) or sleep (realtime) to the next
//   deadline -> repeat.
// The chips' output is collected during the slice and handed to the host once per slice, and
// whenever the guest idles. The Machine (machine.ts) owns the chips; this owns when they run.

import type { Core, StopReason } from '../cpu/core.js';
import type { VirtualClock } from './clock.js';
import type { HostEvents } from './host-events.js';
import type { IoCompletions } from './io-completions.js';
import type { ExitReason, RunState } from './types.js';

/** CPU slice length in host milliseconds before we yield to the event loop. */
const SLICE_MS = 10;
/** Most instructions in one core.run() in deterministic mode (1 ms of guest time at 5 ns). */
const MAX_BUDGET_DETERMINISTIC = 200_000;
/** Realtime: a core.run() should last about this long, so timers fire within ~1 ms. */
const REALTIME_RUN_MS = 1;
/**
 * Realtime, while the host works on a disk request: runs this short, and a yield to the event
 * loop after each, so the completion (a promise the host resolves) reaches the guest within
 * about this long, not at the end of a whole slice. A firmware polling for completion waits
 * that much less.
 */
const IO_WAIT_RUN_MS = 0.1;
/** Deterministic: idle-skipped guest time per slice before we let the host CPU rest. */
const IDLE_SKIP_PER_SLICE_NS = 100e6;

const EFLAGS_IF = 1 << 9;

/** Resolve on the next turn of the event loop without setTimeout's 1-4 ms clamping. */
function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((r) => setImmediate(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); r(); };
    ch.port2.postMessage(0);
  });
}

/** What the run loop needs of the machine it runs. */
export interface RunLoopHooks {
  readonly core: Core;
  readonly clock: VirtualClock;
  readonly events: HostEvents;
  readonly io: IoCompletions;
  /** A guest reset stops the machine instead of powering it on again. */
  readonly noReboot: boolean;
  /** haltedNs: guest time the CPU spent in HLT (the inspector's idle share). */
  readonly counters: { resets: number; hltStops: number; slices: number; haltedNs: number };
  /** After each CPU run (the core has no hook for writes to IA32_APIC_BASE). */
  afterRun(): void;
  /** Whether the CPU's INTR input is asserted. */
  interruptPending(): boolean;
  /** Hand the host what the chips printed. */
  flushOutput(): void;
  /** Power the PC on again (a reset). */
  powerOn(): void;
  log(line: string): void;
  /** The CPU stopped at a debugger's breakpoint; the loop is pausing. */
  onBreakpoint?(): void;
}

export class RunLoop {
  state: RunState = 'stopped';
  /** Set while run() runs. */
  running = false;
  /** Why run() returned 'error'. */
  errorMessage: string | undefined;
  private stopRequested = false;
  private pauseRequested = false;
  private hostResetRequested = false;
  /** Set by a device (or triple fault) during a core run; handled when run() returns. */
  private guestResetRequested = false;
  /** Set when the guest enters S5 through the ACPI PM control register. */
  private guestPowerOffRequested = false;
  private wakeup: (() => void) | null = null;
  /** runUntilIoIdle: stop at the first instant with no disk request outstanding, or at this guest time (ns). */
  private ioIdleBy: number | null = null;
  /** Guest time (ns) at which the CPU last stopped at HLT, until it runs again: the span goes to counters.haltedNs. */
  private haltedSince: number | null = null;

  constructor(private readonly m: RunLoopHooks) {}

  /** Run until the guest powers off, resets under noReboot, stop() is called, or an error. */
  async run(): Promise<ExitReason> {
    if (this.running) throw new Error('Machine.run() is already running');
    if (this.state === 'poweroff' || this.state === 'error') {
      throw new Error(`the machine is ${this.state}; create a new one`);
    }
    this.running = true;
    this.stopRequested = false;
    this.state = this.pauseRequested ? 'paused' : 'running';
    try {
      for (;;) {
        if (this.stopRequested) return this.finish('stopped', 'stopped');
        if (this.pauseRequested) {
          this.state = 'paused';
          this.m.clock.freeze();
          this.m.flushOutput();
          await this.sleep(Infinity);
          continue;
        }
        if (this.hostResetRequested) {
          this.hostResetRequested = false;
          this.m.counters.resets++;
          this.m.powerOn();
        }
        this.state = 'running';
        this.m.clock.start();
        const result = this.slice();
        this.m.flushOutput();
        if (result instanceof Promise) {
          // Wait for the host's I/O, or for stop/pause/reset, whichever comes first.
          await Promise.race([result, this.sleep(Infinity)]);
          this.wake();
          continue;
        }
        if (typeof result === 'string') return this.finish(result, result === 'poweroff' ? 'poweroff' : result === 'reset' ? 'reset' : 'stopped');
        if (result > 0) await this.sleep(result);
        else await yieldToEventLoop();
      }
    } catch (e) {
      this.m.flushOutput();
      this.errorMessage = `${(e as Error)?.message ?? String(e)} (${this.safeDescribe()})`;
      this.state = 'error';
      this.m.clock.freeze();
      return 'error';
    } finally {
      this.running = false;
    }
  }

  private finish(reason: ExitReason, state: RunState): ExitReason {
    this.state = state;
    this.m.clock.freeze();
    return reason;
  }

  /**
   * Run the guest on (from stopped or paused) until no disk request is outstanding, or until
   * `limitNs` of guest time has passed, and stop there. Deterministic mode takes this way to a
   * save: completing the requests at once would make the run differ from one never saved.
   */
  async runUntilIoIdle(limitNs: number): Promise<ExitReason> {
    const paused = this.pauseRequested;
    this.pauseRequested = false;
    this.ioIdleBy = this.m.clock.now() + limitNs;
    try {
      return await this.run();
    } finally {
      this.ioIdleBy = null;
      this.pauseRequested = paused;
    }
  }

  /** pause() was asked and not resume(): the guest is paused, or will be when the loop runs again (a pause outlives a stop). */
  get pausePending(): boolean { return this.pauseRequested; }

  /** Pause guest execution (guest time stops in realtime mode). */
  pause(): void {
    this.pauseRequested = true;
    this.wake();
  }

  resume(): void {
    this.pauseRequested = false;
    if (this.state === 'paused' && !this.running) this.state = 'stopped';
    this.wake();
  }

  /** Make run() return 'stopped' at the end of the current slice. */
  stop(): void {
    this.stopRequested = true;
    this.wake();
  }

  /** The host's reset button while run() runs: the machine powers on again before the next slice. */
  requestHostReset(): void {
    this.hostResetRequested = true;
    this.wake();
  }

  /** A device (or the CPU) reset the PC: handled when the current CPU run returns. */
  requestGuestReset(): void {
    this.guestResetRequested = true;
    this.m.core.requestStop();
  }

  /** The guest entered S5 through ACPI: run() returns 'poweroff' when the current CPU run returns. */
  requestPowerOff(): void {
    this.guestPowerOffRequested = true;
    this.m.core.requestStop();
  }

  /** A loaded snapshot starts with nothing pending from before. */
  forgetGuestRequests(): void {
    this.guestResetRequested = false;
    this.guestPowerOffRequested = false;
  }
  /**
   * Run the CPU for about SLICE_MS of host time. Returns an exit reason, or how many host ms
   * to sleep before the next slice (0: just yield).
   */
  private slice(): 'poweroff' | 'reset' | 'stopped' | number | Promise<void> {
    const { core, clock } = this.m;
    const deterministic = clock.mode === 'deterministic';
    const sliceEnd = performance.now() + SLICE_MS;
    let idleSkipped = 0;
    this.m.counters.slices++;
    for (;;) {
      if (this.stopRequested || this.pauseRequested || this.hostResetRequested) return 0;
      if (performance.now() >= sliceEnd) return 0;
      this.m.events.deliver(deterministic, core.halted);
      if (!deterministic) {
        if (core.halted) clock.idleToHost();
        clock.sync();
      }
      clock.runDue();
      if (this.ioIdleBy !== null && ((this.m.io.inFlight === 0 && this.m.io.undelivered === 0) || clock.now() >= this.ioIdleBy)) return 'stopped';
      // Deterministic: a disk request is due and the host has not finished it: guest time
      // waits (the CPU does not run) until it has.
      if (this.m.io.stalledOn !== null) return this.m.io.stalledOn.then(() => this.m.io.deliverDue());

      const ioWait = !deterministic && this.m.io.inFlight > 0;
      const deadline = clock.nextDeadline();
      const budget = clock.instructionsUntil(deadline, deterministic ? MAX_BUDGET_DETERMINISTIC : this.realtimeCap(ioWait ? IO_WAIT_RUN_MS : REALTIME_RUN_MS));
      if (this.haltedSince !== null) {
        this.m.counters.haltedNs += Math.max(0, clock.now() - this.haltedSince);
        this.haltedSince = null;
      }
      const t0 = performance.now();
      const before = core.instructions;
      clock.runEnd = clock.now() + budget * clock.nsPerInstruction;
      const stop: StopReason = core.run(budget);
      clock.runEnd = null;
      this.m.afterRun();
      const t1 = performance.now();
      const ran = core.instructions - before;
      if (!deterministic) clock.noteRun(ran, t1 - t0);

      if (this.guestPowerOffRequested) {
        this.guestPowerOffRequested = false;
        return 'poweroff';
      }
      if (this.guestResetRequested || stop === 'reset') {
        this.guestResetRequested = false;
        if (stop === 'reset') this.m.log(`guest reset: triple fault or CPU reset (${this.safeDescribe()})`);
        this.m.counters.resets++;
        if (this.m.noReboot) return 'reset';
        this.m.powerOn();
        continue;
      }

      if (stop === 'break' || stop === 'watch') {
        // A debugger's breakpoint (Core.setBreakpoint): pause before the instruction there; or
        // its watchpoint (Core.setWatchpoint): pause after the instruction that touched it.
        this.pauseRequested = true;
        this.m.flushOutput();
        this.m.onBreakpoint?.();
        return 0;
      }
      if (stop === 'hlt') {
        this.m.counters.hltStops++;
        this.haltedSince ??= clock.now();
        // With IF clear and no NMI latched, nothing can ever wake this CPU: "cli; hlt" forever.
        // Without ACPI that is how Linux powers off (machine_power_off falls back to
        // machine_halt -> stop_this_cpu: interrupts off, HLT in a loop), so it is our power-off.
        if ((core.getEflags() & EFLAGS_IF) === 0 && !core.nmiPending) return 'poweroff';
        // The guest is idle: show the host what it printed, so a host that answers (a test
        // typing the next command at the prompt) does so at this point of the guest's
        // execution, which is the same point in every deterministic run.
        this.m.flushOutput();
        if (this.m.events.pending > 0) continue; // delivered at the top of the loop, at this HLT
        // An interrupt may already be waiting (raised during the run): let the core take it.
        if (this.m.interruptPending()) continue;
        clock.runDue();
        if (this.m.interruptPending() || this.m.io.stalledOn !== null) continue;
        const next = clock.nextDeadline();
        if (deterministic) {
          if (!Number.isFinite(next)) return 5; // nothing will ever happen but host input
          const skip = next - clock.now();
          clock.skipTo(next);
          idleSkipped += skip;
          if (idleSkipped > IDLE_SKIP_PER_SLICE_NS) return 1;
          continue;
        }
        // Realtime: sleep on the host until the next event is due (input wakes us earlier).
        clock.idleToHost();
        const waitMs = Number.isFinite(next) ? (next - clock.now()) / 1e6 : 50;
        if (waitMs > 0.5) return Math.min(waitMs, 50);
        clock.skipTo(next);
        continue;
      }
      // 'budget' or 'request': go on with the next run, after letting the host finish its I/O.
      if (ioWait) return 0;
    }
  }

  /** Realtime: the most instructions in one run, about `ms` of host time. */
  private realtimeCap(ms: number): number {
    return Math.max(1000, Math.floor((ms * 1e6) / this.m.clock.hostSpeed));
  }

  /** Sleep up to `ms` host milliseconds; stop/pause/resume/input wake it early. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.wakeup = null;
        resolve();
      };
      this.wakeup = done;
      if (Number.isFinite(ms)) timer = setTimeout(done, Math.max(0, ms));
    });
  }

  /** Wake a sleeping run loop: stop, pause, resume, host input and finished I/O call it. */
  wake(): void {
    this.wakeup?.();
  }

  private safeDescribe(): string {
    try {
      return this.m.core.describe();
    } catch {
      return 'cpu state unavailable';
    }
  }
}
