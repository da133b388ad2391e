// Device work the host does asynchronously (a disk read from a file or over HTTP) and the moment
// its result reaches the guest (the DMA into RAM, the status registers, the interrupt).
//
// Realtime: as soon as the host is done, at the run loop's next delivery point (host-events.ts).
// Deterministic: a fixed guest latency after the request, whatever the host's speed. If the host
// is not done by then, guest time stops (the CPU does not run) until it is. So the guest sees the
// same completion times in every run, and a guest that polls for completion (SeaBIOS does,
// with interrupts off) is not held up waiting for an idle point that never comes.

import type { HostEvents } from './host-events.js';
import type { Clock, Timer } from './io.js';

/** Guest time from a request to its completion in deterministic mode: an SSD's latency. */
export const DETERMINISTIC_IO_LATENCY_NS = 100_000;

interface Pending {
  seq: number;
  deadline: number;
  done: Promise<() => void>;
  deliver: (() => void) | null;
}

export class IoCompletions {
  private readonly pending: Pending[] = [];
  private seq = 0;
  private readonly timer: Timer;
  /** Deterministic: the host work the guest is waiting for (due, not done), or null. */
  stalledOn: Promise<unknown> | null = null;
  /** Counters: completions delivered, and how many stopped guest time to wait for the host. */
  readonly counters = { completed: 0, stalls: 0 };
  /** Requests the host is still working on. */
  inFlight = 0;
  /** Realtime: completions the host has finished, oldest first, each with an event queued to deliver it. */
  private readonly ready: (() => void)[] = [];
  /** Who waits in settle() for the host to finish. */
  private readonly settled: (() => void)[] = [];

  constructor(private readonly clock: Clock, private readonly deterministic: boolean,
              private readonly events: HostEvents, private readonly wake: () => void) {
    this.timer = clock.createTimer('io-completions', () => this.deliverDue());
  }

  /** `done` resolves to what completing the work does to the device (never rejects: failure is a delivery too). */
  add(done: Promise<() => void>): void {
    this.inFlight++;
    if (!this.deterministic) {
      void done.then((deliver) => {
        this.inFlight--;
        // Queued here, and the event takes the oldest: settle() can deliver them all at once.
        this.ready.push(deliver);
        this.events.push(() => this.deliverReady(1));
        this.wake();
        this.hostSettled();
      });
      return;
    }
    const entry: Pending = { seq: this.seq++, deadline: this.clock.now() + DETERMINISTIC_IO_LATENCY_NS, done, deliver: null };
    void done.then((deliver) => { this.inFlight--; entry.deliver = deliver; if (this.stalledOn === done) this.wake(); this.hostSettled(); });
    this.pending.push(entry);
    this.arm();
  }

  /** Completions the host has finished that the device has not yet been given. */
  get undelivered(): number {
    return this.ready.length + this.pending.length;
  }

  /**
   * Drain, as QEMU does before a snapshot or migration: wait until the host has finished every
   * request the devices made, then give each device its completions now, in request order (the
   * DMA into RAM, the status registers, the interrupt), whatever their deadline. Afterwards no
   * host promise is outstanding and what the guest has not yet seen (an interrupt pending, a
   * used-ring entry not yet noticed) is in the devices' state. A completion that starts new
   * host work is drained too. Only while the machine is stopped.
   */
  async settle(): Promise<void> {
    for (;;) {
      while (this.inFlight > 0) await new Promise<void>((resolve) => this.settled.push(resolve));
      if (this.undelivered === 0) return;
      this.deliverReady(this.ready.length);
      // (A completion that starts new work adds an entry the host has not finished: the next round waits for it.)
      while (this.pending.length > 0 && this.pending[0]!.deliver !== null) {
        const head = this.pending.shift()!;
        this.counters.completed++;
        head.deliver!();
      }
      this.stalledOn = null;
      this.arm();
    }
  }

  private deliverReady(n: number): void {
    for (const deliver of this.ready.splice(0, n)) {
      this.counters.completed++;
      deliver();
    }
  }

  private hostSettled(): void {
    if (this.inFlight === 0) for (const resolve of this.settled.splice(0)) resolve();
  }

  /** Deterministic: deliver, in request order, each completion that is due; stop at the first the host has not finished. */
  deliverDue(): void {
    this.stalledOn = null;
    const now = this.clock.now();
    while (this.pending.length > 0 && this.pending[0]!.deadline <= now) {
      const head = this.pending[0]!;
      if (head.deliver === null) {
        this.stalledOn = head.done;
        this.counters.stalls++;
        return;
      }
      this.pending.shift();
      this.counters.completed++;
      head.deliver();
    }
    this.arm();
  }

  private arm(): void {
    // Deadlines only grow with the request order, so the first entry is the earliest.
    if (this.pending.length > 0) this.timer.arm(this.pending[0]!.deadline);
    else this.timer.cancel();
  }
}
