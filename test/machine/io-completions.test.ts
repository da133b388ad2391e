// The drain before a snapshot (IoCompletions.settle, src/machine/io-completions.ts): it waits
// for the host's work, then gives every completion to its device at once, in request order,
// whether it was still with the host, finished but queued for the run loop (realtime), or
// finished and waiting for its deadline (deterministic); a completion that starts new host work
// is drained too. Afterwards nothing is outstanding, and the run loop's stale events do nothing.
import { describe, expect, it } from 'vitest';
import { HostEvents } from '../../src/machine/host-events';
import { DETERMINISTIC_IO_LATENCY_NS, IoCompletions } from '../../src/machine/io-completions';
import { FakeClock } from '../devices/fake-clock';

function deferred(): { promise: Promise<() => void>; resolve: (deliver: () => void) => void } {
  let resolve!: (deliver: () => void) => void;
  const promise = new Promise<() => void>((r) => { resolve = r; });
  return { promise, resolve };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe.each([['realtime', false], ['deterministic', true]] as const)('IoCompletions.settle (%s)', (_mode, deterministic) => {
  it('waits for the host, then completes everything in request order, including work a completion starts', async () => {
    const clock = new FakeClock(1000);
    const events = new HostEvents();
    const io = new IoCompletions(clock, deterministic, events, () => {});
    const order: string[] = [];
    // A: finished by the host at once; B: still with the host; C: finished, and its completion starts D.
    const b = deferred();
    io.add(Promise.resolve(() => order.push('A')));
    io.add(b.promise);
    io.add(Promise.resolve(() => { order.push('C'); io.add(Promise.resolve(() => order.push('D'))); }));
    await tick();
    // A and C are done on the host but not given to their devices: that waits for the run loop
    // (realtime) or their deadline (deterministic).
    expect(order).toEqual([]);
    expect(io.inFlight).toBe(1);
    expect(io.undelivered).toBe(deterministic ? 3 : 2);
    let settled = false;
    const settling = io.settle().then(() => { settled = true; });
    await tick();
    expect(settled).toBe(false); // B is still with the host
    b.resolve(() => order.push('B'));
    await settling;
    // Realtime delivers in the order the host finished (B last); deterministic in request order.
    expect(order).toEqual(deterministic ? ['A', 'B', 'C', 'D'] : ['A', 'C', 'B', 'D']);
    expect(io.inFlight).toBe(0);
    expect(io.undelivered).toBe(0);
    expect(io.counters.completed).toBe(4);
    // What the run loop still holds for them (realtime events, the deterministic timer) does nothing more.
    events.deliver(deterministic, true);
    clock.advance(10 * DETERMINISTIC_IO_LATENCY_NS);
    expect(order).toHaveLength(4);
    expect(io.counters.completed).toBe(4);
  });

  it('settles at once with nothing outstanding, and leaves later requests to the usual path', async () => {
    const clock = new FakeClock();
    const events = new HostEvents();
    const io = new IoCompletions(clock, deterministic, events, () => {});
    await io.settle();
    const done: string[] = [];
    io.add(Promise.resolve(() => done.push('E')));
    await tick();
    expect(done).toEqual([]);
    if (deterministic) clock.advance(DETERMINISTIC_IO_LATENCY_NS);
    else events.deliver(false, true);
    expect(done).toEqual(['E']);
  });
});
