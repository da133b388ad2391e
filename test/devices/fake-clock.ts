// A Clock for device tests: guest time moves only when the test calls advance(), and timers fire
// in deadline order at exactly their deadline, the way the Machine's scheduler delivers them.
import type { Clock, Timer } from '../../src/machine/io';

class FakeTimer implements Timer {
  armed = false;
  deadline = 0;
  constructor(readonly name: string, readonly callback: (now: number) => void) {}
  arm(deadline: number): void { this.armed = true; this.deadline = deadline; }
  cancel(): void { this.armed = false; }
}

export class FakeClock implements Clock {
  private time: number;
  private readonly timers: FakeTimer[] = [];
  /** How many timer callbacks ran, for tests that check devices do not spin. */
  fired = 0;

  constructor(start = 0) { this.time = start; }

  now(): number { return this.time; }

  createTimer(name: string, callback: (now: number) => void): Timer {
    const t = new FakeTimer(name, callback);
    this.timers.push(t);
    return t;
  }

  /** Move guest time forward by `ns`, firing every timer whose deadline falls inside. */
  advance(ns: number): void { this.advanceTo(this.time + ns); }

  advanceTo(target: number): void {
    for (let guard = 0; guard < 10_000_000; guard++) {
      let next: FakeTimer | null = null;
      for (const t of this.timers) {
        if (t.armed && t.deadline <= target && (next === null || t.deadline < next.deadline)) next = t;
      }
      if (next === null) break;
      this.time = Math.max(this.time, next.deadline);
      next.armed = false;
      this.fired++;
      next.callback(this.time);
    }
    this.time = target;
  }

  /** The earliest armed deadline, or Infinity. */
  nextDeadline(): number {
    let d = Infinity;
    for (const t of this.timers) if (t.armed && t.deadline < d) d = t.deadline;
    return d;
  }
}

/** An IrqLine that records its level and counts rising edges. */
export class TestIrq {
  level = false;
  edges = 0;
  raise(): void { this.set(true); }
  lower(): void { this.set(false); }
  pulse(): void { this.set(true); this.set(false); }
  set(level: boolean): void {
    if (level && !this.level) this.edges++;
    this.level = level;
  }
}
