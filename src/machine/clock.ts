// The machine's one virtual clock and its event scheduler.
//
// Guest time is nanoseconds since power-on, as a double. Devices arm one-shot Timers at guest
// deadlines; the run loop asks nextDeadline(), gives the CPU an instruction budget that ends
// there, then calls runDue() to fire what is due.
//
// Guest time always advances with instructions retired, at `rate` ns per instruction, plus
// jumps over idle time (HLT). Within one stretch of execution it is therefore smooth and
// consistent between the PIT, the RTC and the TSC, as on a real PC: Linux's TSC calibration
// against the PIT needs exactly that, and fails on a clock that stutters with host scheduling.
// The two modes differ in how `rate` is chosen:
//  - deterministic: rate = NS_PER_INSTRUCTION, fixed. Nothing reads the host clock, so the same
//    inputs give the same guest behaviour (and the same serial bytes) on any host.
//  - realtime: the run loop reports each CPU run's speed (noteRun) and calls sync() between
//    runs, which re-tunes the rate so guest time tracks the host's performance.now() (excluding
//    pauses, capped at MAX_NS_PER_INSTRUCTION):
//    a guest that falls behind runs its clock faster for a while, one that ran ahead (idle
//    skips) is made to wait (aheadMs()). Guest time never runs backwards. If the guest falls
//    more than MAX_LAG_NS behind (a stalled or slow host), the clock jumps to catch up, from
//    one timer deadline to the next, never over one.
//
// The time-stamp counter ticks at TSC_HZ = 1 GHz: one TSC tick per guest nanosecond. That is
// a plausible i686-era frequency, keeps TSC values exact integers in deterministic mode, and
// makes the kernel's TSC calibration against the PIT land on a round number.

import type { Clock, Timer } from './io.js';
import type { ClockMode } from './types.js';

/** Guest nanoseconds per retired instruction in deterministic mode (a 200-MIPS CPU). */
export const NS_PER_INSTRUCTION = 5;
/** Time-stamp counter frequency. */
export const TSC_HZ = 1_000_000_000;

export interface ClockOptions {
  /** Instructions retired so far (deterministic mode reads the core's counter). */
  instructions: () => number;
  /** Host monotonic time in milliseconds (realtime mode); defaults to performance.now(). */
  hostNow?: () => number;
  nsPerInstruction?: number;
}

/** The clock in a snapshot (VirtualClock.save). */
export interface SavedClock {
  nowNs: number;
  rate: number;
  seq: number;
  timers: { name: string; armed: boolean; deadline: number; seq: number }[];
}

class SchedTimer implements Timer {
  armed = false;
  deadline = Infinity;
  /** Arm order, to break deadline ties first-armed-first. */
  seq = 0;
  constructor(
    readonly name: string,
    readonly callback: (now: number) => void,
    private readonly clock: VirtualClock,
  ) {}
  arm(deadline: number): void {
    if (Number.isNaN(deadline)) throw new RangeError(`timer ${this.name}: NaN deadline`);
    this.deadline = deadline;
    this.armed = true;
    this.seq = this.clock.nextSeq();
    this.clock.changed();
    this.clock.armedAt(deadline);
  }
  cancel(): void {
    this.armed = false;
    this.deadline = Infinity;
    this.clock.changed();
  }
}

/**
 * Realtime: the slowest guest clock rate, in ns per instruction. One instruction must never
 * step over a short device event (the PIT's one-clock OUT strobe is 838 ns); a host slower
 * than this lags and catches up by jumps from deadline to deadline.
 */
export const MAX_NS_PER_INSTRUCTION = 200;
/** Realtime: a lag larger than this is not caught up smoothly but jumped over. */
export const MAX_LAG_NS = 1e9;
/** Realtime: the rate correction aims to remove the current lag over about this much time. */
const CORRECTION_WINDOW_NS = 100e6;
/** Realtime: the host speed is measured over at least this many instructions at a time. */
const MEASURE_INSTRUCTIONS = 10_000;

export class VirtualClock implements Clock {
  readonly mode: ClockMode;
  private readonly instructions: () => number;
  private readonly hostNow: () => number;
  private readonly timers: SchedTimer[] = [];
  private seq = 0;
  private cachedNext: SchedTimer | null | undefined = undefined;

  /** Guest ns and instruction count at the last re-anchoring; ns per instruction since then. */
  private anchorNs = 0;
  private anchorInstr = 0;
  private rate: number;
  /** Never hand out a time earlier than one already handed out. */
  private lastNs = 0;

  // Realtime bookkeeping (host milliseconds).
  private hostRunning = false;
  private hostMark = 0;
  private hostElapsedMs = 0;
  /** Measured host ns per instruction while the CPU runs (smoothed). */
  private hostNsPerInstr: number;
  /** Runs noted since the last update of hostNsPerInstr: instructions and host ms. */
  private sampleInstr = 0;
  private sampleMs = 0;
  /** Times the realtime clock jumped to catch up with the host. */
  catchUps = 0;
  /**
   * Guest time at which the CPU run in progress will end (its budget), or null outside a run.
   * A timer armed during the run for an earlier time calls `onPreempt`, so the run loop can
   * stop the CPU in time: the budget was computed before that timer existed.
   */
  runEnd: number | null = null;
  onPreempt: (() => void) | null = null;

  constructor(mode: ClockMode, options: ClockOptions) {
    this.mode = mode;
    this.instructions = options.instructions;
    this.hostNow = options.hostNow ?? (() => performance.now());
    this.rate = options.nsPerInstruction ?? NS_PER_INSTRUCTION;
    if (!(this.rate > 0)) throw new RangeError('nsPerInstruction must be positive');
    this.hostNsPerInstr = this.rate;
    this.anchorInstr = this.instructions();
  }

  /** Guest ns per instruction in effect now. */
  get nsPerInstruction(): number {
    return this.rate;
  }

  /** Current guest time in ns. */
  now(): number {
    let t = this.anchorNs + (this.instructions() - this.anchorInstr) * this.rate;
    if (t < this.lastNs) t = this.lastNs;
    this.lastNs = t;
    return t;
  }

  /** The time-stamp counter: TSC_HZ ticks per guest second. */
  tsc(): number {
    return Math.floor(this.now() * (TSC_HZ / 1e9));
  }

  /**
   * now() and tsc() as terms for a core that computes them itself (asm-core/cpu/system.ts
   * readTsc, from the state block): exact as long as the rate does not change, which it does
   * only between CPU runs (sync()).
   */
  terms(): { anchorNs: number; anchorInstr: number; nsPerInstr: number; floorNs: number; tscPerNs: number } {
    return { anchorNs: this.anchorNs, anchorInstr: this.anchorInstr, nsPerInstr: this.rate, floorNs: this.lastNs, tscPerNs: TSC_HZ / 1e9 };
  }

  /** Realtime: start (or continue) following the host clock. */
  start(): void {
    if (this.mode !== 'realtime' || this.hostRunning) return;
    this.hostRunning = true;
    this.hostMark = this.hostNow();
  }

  /** Realtime: stop following the host clock (pause); the guest does not run meanwhile. */
  freeze(): void {
    if (this.mode !== 'realtime' || !this.hostRunning) return;
    this.hostElapsedMs += this.hostNow() - this.hostMark;
    this.hostRunning = false;
  }

  /** Host time the machine has been running, in ns (realtime). */
  private wallNs(): number {
    return (this.hostElapsedMs + (this.hostRunning ? this.hostNow() - this.hostMark : 0)) * 1e6;
  }

  private reanchor(): void {
    this.anchorNs = this.now();
    this.anchorInstr = this.instructions();
  }

  /**
   * Realtime: re-tune the rate from the host's measured speed and the current lag. Call between
   * CPU runs (never from inside one: the rate must be constant while the guest measures).
   */
  sync(): void {
    if (this.mode !== 'realtime') return;
    const wall = this.wallNs();
    this.reanchor();
    let lag = wall - this.anchorNs;
    if (lag > MAX_LAG_NS) {
      // Jump, but not past the next event: devices see each deadline at its own time.
      const target = Math.min(wall, this.nextDeadline());
      if (target > this.anchorNs) {
        this.skipTo(target);
        this.catchUps++;
      }
      lag = wall - this.anchorNs;
    }
    const correction = Math.max(-0.5, Math.min(1, lag / CORRECTION_WINDOW_NS));
    this.rate = Math.min(MAX_NS_PER_INSTRUCTION, Math.max(1e-3, this.hostNsPerInstr * (1 + correction)));
  }

  /**
   * Realtime: the CPU just retired `instructions` in `hostMs` of host time (a run, not idle
   * time). Sets the host speed that sync() tunes the rate from.
   */
  noteRun(instructions: number, hostMs: number): void {
    if (this.mode !== 'realtime' || !(instructions > 0) || !(hostMs >= 0)) return;
    // Short runs are measured together: the run loop sizes runs from this estimate, so an
    // estimate that only long runs could update would freeze after one slow run (a compile,
    // a GC pause) made every later run short, and guest time would race ahead of the host.
    this.sampleInstr += instructions;
    this.sampleMs += hostMs;
    if (this.sampleInstr < MEASURE_INSTRUCTIONS || !(this.sampleMs > 0)) return;
    this.hostNsPerInstr = 0.7 * this.hostNsPerInstr + 0.3 * ((this.sampleMs * 1e6) / this.sampleInstr);
    this.sampleInstr = 0;
    this.sampleMs = 0;
  }

  /** Realtime: measured host ns per instruction while the CPU runs (sizes the run loop's budgets). */
  get hostSpeed(): number {
    return this.hostNsPerInstr;
  }

  /** Realtime: host ms the guest clock is ahead of the host (after idle skips); else 0. */
  aheadMs(): number {
    if (this.mode !== 'realtime') return 0;
    return Math.max(0, (this.now() - this.wallNs()) / 1e6);
  }

  /**
   * Realtime, CPU idle: bring guest time up to host time (idle time passes as on a real PC),
   * but never past the next timer deadline: events fire at their own time, one after another,
   * so a device that looks at now() in its callback sees exactly its deadline.
   */
  idleToHost(): void {
    if (this.mode !== 'realtime') return;
    const target = Math.min(this.wallNs(), this.nextDeadline());
    if (target > this.now()) this.skipTo(target);
  }

  get running(): boolean {
    return this.mode === 'deterministic' || this.hostRunning;
  }

  /**
   * The CPU is idle (HLT) until `t`: jump guest time forward to `t` at once. In realtime mode
   * the run loop then waits aheadMs() on the host before running the guest again.
   */
  skipTo(t: number): void {
    if (!Number.isFinite(t)) return;
    const now = this.now();
    if (t > now) {
      this.anchorNs = t;
      this.anchorInstr = this.instructions();
      this.lastNs = t;
    }
  }

  createTimer(name: string, callback: (now: number) => void): Timer {
    const t = new SchedTimer(name, callback, this);
    this.timers.push(t);
    return t;
  }

  /** Guest time of the earliest armed timer, or Infinity. */
  nextDeadline(): number {
    const t = this.next();
    return t === null ? Infinity : t.deadline;
  }

  /** Name of the earliest armed timer (for the inspector), or ''. */
  nextTimerName(): string {
    return this.next()?.name ?? '';
  }

  /**
   * Fire every timer whose deadline has passed, earliest first (ties in arm order). A callback
   * that re-arms its timer into the past fires again in this call, as a real periodic source
   * would have fired several times; `limit` bounds that so a zero-period timer cannot hang us.
   * Returns how many fired.
   */
  runDue(limit = 10_000): number {
    let fired = 0;
    while (fired < limit) {
      const t = this.next();
      if (t === null) break;
      const now = this.now();
      if (t.deadline > now) break;
      t.armed = false;
      const deadline = t.deadline;
      t.deadline = Infinity;
      this.changed();
      fired++;
      // The callback sees its own deadline as "now": a device computes its next event from the
      // exact time this one was due, so periodic timers do not drift by the run loop's lateness.
      t.callback(Math.max(deadline, 0));
    }
    return fired;
  }

  /** Instructions until guest time reaches `deadline` at the current rate: at least 1, at most `cap`. */
  instructionsUntil(deadline: number, cap: number): number {
    if (!Number.isFinite(deadline)) return cap;
    const n = Math.ceil((deadline - this.now()) / this.rate);
    return Math.max(1, Math.min(cap, n));
  }

  /** Drop all pending events and restart guest time from zero (a new machine's power-on). */
  restart(): void {
    for (const t of this.timers) {
      t.armed = false;
      t.deadline = Infinity;
    }
    this.changed();
    this.anchorNs = 0;
    this.anchorInstr = this.instructions();
    this.lastNs = 0;
    this.hostElapsedMs = 0;
    if (this.hostRunning) this.hostMark = this.hostNow();
  }

  /**
   * Guest time, the rate, and every timer exactly (deadline and arm order), for a snapshot.
   * Timers are listed in creation order: a machine built the same way creates the same ones.
   */
  save(): SavedClock {
    return {
      nowNs: this.now(), rate: this.rate, seq: this.seq,
      timers: this.timers.map((t) => ({ name: t.name, armed: t.armed, deadline: t.deadline, seq: t.seq })),
    };
  }

  /** Do the saved timers name this clock's, in its order? Throws RangeError if not. */
  checkTimers(saved: SavedClock): void {
    if (saved.timers.length !== this.timers.length || saved.timers.some((t, i) => t.name !== this.timers[i]!.name)) {
      throw new RangeError(`saved timers (${saved.timers.map((t) => t.name).join(', ')}) are not this machine's`);
    }
  }

  /** Guest time and rate from save(), counted from the core's instruction count now. */
  loadTime(saved: SavedClock): void {
    this.anchorNs = saved.nowNs;
    this.anchorInstr = this.instructions();
    this.lastNs = saved.nowNs;
    this.rate = saved.rate;
    // Realtime: the host's side starts again from the loaded time, as if the machine had run that
    // long here. Otherwise a machine loaded in a fresh process (--loadvm, a migration's target)
    // finds its guest ahead of the host by its whole uptime, and its timers wait that long.
    if (this.mode === 'realtime') {
      this.hostElapsedMs = saved.nowNs / 1e6;
      this.hostMark = this.hostNow();
    }
  }

  /**
   * The timers from save(), after the devices loaded their state (which may have re-armed them):
   * the saved deadlines and arm order win, so ties fire in the order they would have.
   */
  loadTimers(saved: SavedClock): void {
    this.checkTimers(saved);
    saved.timers.forEach((t, i) => {
      const timer = this.timers[i]!;
      timer.armed = t.armed;
      timer.deadline = t.deadline;
      timer.seq = t.seq;
    });
    this.seq = saved.seq;
    this.changed();
  }

  // ---- for SchedTimer ----
  /** @internal */
  armedAt(deadline: number): void {
    if (this.runEnd !== null && deadline < this.runEnd) {
      this.runEnd = null; // once per run is enough
      this.onPreempt?.();
    }
  }
  /** @internal */
  nextSeq(): number {
    return ++this.seq;
  }
  /** @internal */
  changed(): void {
    this.cachedNext = undefined;
  }

  private next(): SchedTimer | null {
    if (this.cachedNext !== undefined) return this.cachedNext;
    let best: SchedTimer | null = null;
    for (const t of this.timers) {
      if (!t.armed) continue;
      if (best === null || t.deadline < best.deadline || (t.deadline === best.deadline && t.seq < best.seq)) best = t;
    }
    this.cachedNext = best;
    return best;
  }
}
