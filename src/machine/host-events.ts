// Everything the host hands the guest's devices (typed bytes, key presses, and later disk
// completions and network packets) goes through one queue, delivered at points of the guest's
// execution only, so a deterministic run stays the same run whatever the host's timing.

/** How long a deterministic run holds events for a busy guest before giving them anyway (host ms). */
const MAX_HOLD_MS = 500;

export class HostEvents {
  private readonly queue: (() => void)[] = [];
  private since = 0;

  get pending(): number { return this.queue.length; }

  /** Queue an event: `deliver` hands it to its device (and is called exactly once, in order). */
  push(deliver: () => void): void {
    if (this.queue.length === 0) this.since = performance.now();
    this.queue.push(deliver);
  }

  /**
   * Deliver what is queued. Realtime: at once. Deterministic: when the guest is idle (halted,
   * typically waiting at its prompt), which makes the point a function of guest execution
   * only; a guest that stays busy gets them after MAX_HOLD_MS host ms (then, and only then,
   * the host's timing can change the run).
   */
  deliver(deterministic: boolean, guestIdle: boolean): void {
    if (this.queue.length === 0) return;
    if (deterministic && !guestIdle && performance.now() - this.since < MAX_HOLD_MS) return;
    const events = this.queue.splice(0);
    for (const deliver of events) deliver();
  }
}
