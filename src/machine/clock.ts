// The machine's one virtual clock and its event scheduler.
//
// Guest time is nanoseconds since power-on, as a double. Devices arm one-shot Timers at guest
// deadlines; the run loop asks nextDeadline(), gives the CPU an instruction budget that ends
// there, then calls runDue() to fire what is due.
//
// Two modes:
//  - deterministic: guest time = instructions retired x NS_PER_INSTRUCTION + time skipped while
//    halted. Nothing reads the host clock, so the same inputs give the same guest behaviour
//    (and the same serial bytes) on any host, at any host speed.
//  - realtime: guest time follows performance.now() while the machine runs, frozen while it
//    is paused, and never runs backwards. The run loop bounds each CPU slice by an
//    instruction budget estimated from the measured speed, so timers fire close to on time.
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
  }
  cancel(): void {
    this.armed = false;
    this.deadline = Infinity;
    this.clock.changed();
  }
}

export class VirtualClock implements Clock {
  readonly mode: ClockMode;
  readonly nsPerInstruction: number;
  private readonly instructions: () => number;
  private readonly hostNow: () => number;
  private readonly timers: SchedTimer[] = [];
  private seq = 0;
  private cachedNext: SchedTimer | null | undefined = undefined;

  /** Deterministic: guest ns added by idle skips (on top of instructions x ns). */
  private skippedNs = 0;
  /** Deterministic: instruction count at which this clock started counting (after a reset). */
  private instrBase = 0;

  /** Realtime: guest ns at the anchor, host ms at the anchor; null host anchor = paused. */
  private anchorGuestNs = 0;
  private anchorHostMs: number | null = null;
  /** Never hand out a time earlier than one already handed out. */
  private lastNs = 0;

  constructor(mode: ClockMode, options: ClockOptions) {
    this.mode = mode;
    this.instructions = options.instructions;
    this.hostNow = options.hostNow ?? (() => performance.now());
    this.nsPerInstruction = options.nsPerInstruction ?? NS_PER_INSTRUCTION;
    if (!(this.nsPerInstruction > 0)) throw new RangeError('nsPerInstruction must be positive');
    this.instrBase = this.instructions();
  }

  /** Current guest time in ns. */
  now(): number {
    let t: number;
    if (this.mode === 'deterministic') {
      t = (this.instructions() - this.instrBase) * this.nsPerInstruction + this.skippedNs;
    } else {
      t = this.anchorHostMs === null
        ? this.anchorGuestNs
        : this.anchorGuestNs + (this.hostNow() - this.anchorHostMs) * 1e6;
    }
    if (t < this.lastNs) t = this.lastNs;
    this.lastNs = t;
    return t;
  }

  /** The time-stamp counter: TSC_HZ ticks per guest second. */
  tsc(): number {
    return Math.floor(this.now() * (TSC_HZ / 1e9));
  }

  /** Realtime: start (or continue) following the host clock. */
  start(): void {
    if (this.mode !== 'realtime' || this.anchorHostMs !== null) return;
    this.anchorHostMs = this.hostNow();
  }

  /** Realtime: freeze guest time (pause). */
  freeze(): void {
    if (this.mode !== 'realtime' || this.anchorHostMs === null) return;
    this.anchorGuestNs = this.now();
    this.anchorHostMs = null;
  }

  get running(): boolean {
    return this.mode === 'deterministic' || this.anchorHostMs !== null;
  }

  /**
   * The CPU is idle (HLT) until `t`. Deterministic: jump guest time forward to `t` at once.
   * Realtime: nothing to do, the caller waits on the host clock.
   */
  skipTo(t: number): void {
    if (this.mode !== 'deterministic' || !Number.isFinite(t)) return;
    const now = this.now();
    if (t > now) {
      this.skippedNs += t - now;
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

  /**
   * Deterministic mode: instructions until guest time reaches `deadline`, at least 1, at most
   * `cap`. Realtime callers estimate from measured speed instead (see Machine).
   */
  instructionsUntil(deadline: number, cap: number): number {
    if (!Number.isFinite(deadline)) return cap;
    const n = Math.ceil((deadline - this.now()) / this.nsPerInstruction);
    return Math.max(1, Math.min(cap, n));
  }

  /** Drop all pending events and restart guest time from zero (machine reset/power-on). */
  restart(): void {
    for (const t of this.timers) {
      t.armed = false;
      t.deadline = Infinity;
    }
    this.changed();
    this.skippedNs = 0;
    this.instrBase = this.instructions();
    this.anchorGuestNs = 0;
    this.lastNs = 0;
    if (this.anchorHostMs !== null) this.anchorHostMs = this.hostNow();
  }

  /** A plain-data snapshot of the clock (timers are re-armed by their devices' restore). */
  get state(): { mode: ClockMode; nowNs: number } {
    return { mode: this.mode, nowNs: this.now() };
  }

  // ---- for SchedTimer ----
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
