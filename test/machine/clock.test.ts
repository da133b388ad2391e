// The virtual clock: deterministic time from instruction counts, timers in deadline order,
// realtime time that follows the host and never runs backwards.
import { describe, expect, it } from 'vitest';
import { MAX_NS_PER_INSTRUCTION, NS_PER_INSTRUCTION, TSC_HZ, VirtualClock } from '../../src/machine/clock.js';

describe('VirtualClock (deterministic)', () => {
  it('derives guest time from instructions retired', () => {
    let instr = 1000; // the clock counts from where the core was when it was built
    const clock = new VirtualClock('deterministic', { instructions: () => instr });
    expect(clock.now()).toBe(0);
    instr += 200;
    expect(clock.now()).toBe(200 * NS_PER_INSTRUCTION);
    expect(clock.tsc()).toBe(Math.floor(200 * NS_PER_INSTRUCTION * TSC_HZ / 1e9));
  });

  it('gives an instruction budget that ends at the next deadline', () => {
    let instr = 0;
    const clock = new VirtualClock('deterministic', { instructions: () => instr, nsPerInstruction: 10 });
    const t = clock.createTimer('pit', () => {});
    expect(clock.nextDeadline()).toBe(Infinity);
    expect(clock.instructionsUntil(clock.nextDeadline(), 5000)).toBe(5000);
    t.arm(1005);
    expect(clock.instructionsUntil(clock.nextDeadline(), 5000)).toBe(101); // ceil(1005/10)
    instr = 101;
    expect(clock.instructionsUntil(clock.nextDeadline(), 5000)).toBe(1); // overdue: still 1
  });

  it('fires due timers earliest first, ties in arm order, passing each its deadline', () => {
    let instr = 0;
    const clock = new VirtualClock('deterministic', { instructions: () => instr, nsPerInstruction: 1 });
    const fired: string[] = [];
    const mk = (name: string) => clock.createTimer(name, (now) => fired.push(`${name}@${now}`));
    const a = mk('a'), b = mk('b'), c = mk('c'), d = mk('d');
    c.arm(300);
    a.arm(100);
    b.arm(300);
    d.arm(1000);
    instr = 500;
    expect(clock.runDue()).toBe(3);
    expect(fired).toEqual(['a@100', 'c@300', 'b@300']);
    expect(d.armed).toBe(true);
    expect(a.armed).toBe(false);
    expect(clock.nextDeadline()).toBe(1000);
  });

  it('a periodic timer re-armed from its callback catches up in the same runDue', () => {
    let instr = 0;
    const clock = new VirtualClock('deterministic', { instructions: () => instr, nsPerInstruction: 1 });
    const ticks: number[] = [];
    const t = clock.createTimer('tick', (now) => {
      ticks.push(now);
      t.arm(now + 100);
    });
    t.arm(100);
    instr = 350;
    clock.runDue();
    expect(ticks).toEqual([100, 200, 300]);
    expect(t.deadline).toBe(400);
  });

  it('cancel and re-arm replace the deadline', () => {
    const clock = new VirtualClock('deterministic', { instructions: () => 0 });
    const t = clock.createTimer('x', () => { throw new Error('must not fire'); });
    t.arm(0);
    t.cancel();
    expect(clock.runDue()).toBe(0);
    t.arm(50);
    t.arm(10);
    expect(clock.nextDeadline()).toBe(10);
  });

  it('skipTo jumps over idle time, and the same instruction trace gives the same times', () => {
    const trace = (): number[] => {
      let instr = 0;
      const clock = new VirtualClock('deterministic', { instructions: () => instr });
      const seen: number[] = [];
      const t = clock.createTimer('t', (now) => { seen.push(now, clock.now()); t.arm(now + 1_000_000); });
      t.arm(1_000_000);
      for (let i = 0; i < 20; i++) {
        instr += clock.instructionsUntil(clock.nextDeadline(), 50_000);
        if (i % 3 === 0) clock.skipTo(clock.nextDeadline()); // a HLT now and then
        clock.runDue();
      }
      seen.push(clock.now());
      return seen;
    };
    const a = trace();
    expect(a.length).toBeGreaterThan(10);
    expect(trace()).toEqual(a);
    // Time never goes backwards through the trace of "now" values.
    const nows = a.filter((_, i) => i % 2 === 1);
    for (let i = 1; i < nows.length; i++) expect(nows[i]!).toBeGreaterThanOrEqual(nows[i - 1]!);
  });

  it('a timer armed during a run, due before the run ends, preempts it (once)', () => {
    let instr = 0;
    const clock = new VirtualClock('deterministic', { instructions: () => instr, nsPerInstruction: 1 });
    let preempted = 0;
    clock.onPreempt = () => preempted++;
    const t = clock.createTimer('pit', () => {});
    clock.runEnd = 1000; // a run planned up to guest time 1000
    t.arm(2000);
    expect(preempted).toBe(0);
    t.arm(500);
    t.arm(400);
    expect(preempted).toBe(1);
    clock.runEnd = null; // outside runs nothing preempts
    t.arm(10);
    expect(preempted).toBe(1);
  });

  it('restart drops pending timers and resets time to zero', () => {
    let instr = 0;
    const clock = new VirtualClock('deterministic', { instructions: () => instr });
    const t = clock.createTimer('t', () => {});
    t.arm(1e9);
    instr = 1000;
    clock.restart();
    expect(clock.now()).toBe(0);
    expect(t.armed).toBe(false);
    expect(clock.nextDeadline()).toBe(Infinity);
  });
});

describe('VirtualClock (realtime)', () => {
  /** A host that executes one guest instruction every `nsPerInstr` host ns. */
  function simulatedHost(nsPerInstr: number) {
    const h = { ms: 1000, instr: 0 };
    const clock = new VirtualClock('realtime', { instructions: () => h.instr, hostNow: () => h.ms });
    const run = (n: number) => { h.instr += n; h.ms += (n * nsPerInstr) / 1e6; clock.noteRun(n, (n * nsPerInstr) / 1e6); };
    return { h, clock, run };
  }

  it('recovers from one slow run even when every later run is short', () => {
    // One run that took the host 50 ms for 1000 instructions (a compile, a GC pause), then
    // runs sized from the estimate as the Machine sizes them (about 1 ms of host time, at
    // most 5000 instructions here): the estimate must come back to the host's real speed.
    const h = { ms: 1000, instr: 0 };
    const clock = new VirtualClock('realtime', { instructions: () => h.instr, hostNow: () => h.ms });
    clock.start();
    const run = (n: number, ms: number) => { h.instr += n; h.ms += ms; clock.noteRun(n, ms); };
    clock.sync();
    run(1000, 50);
    const runFor = (count: number) => {
      for (let i = 0; i < count; i++) {
        clock.sync();
        const n = Math.min(5000, Math.max(1000, Math.floor(1e6 / clock.hostSpeed)));
        run(n, n * 2e-6); // a 500-MIPS host
      }
    };
    runFor(2000);
    expect(clock.hostSpeed).toBeLessThan(2.5);
    // And guest time comes back to host time, and stays with it.
    runFor(20_000);
    const host = (h.ms - 1000) * 1e6;
    expect(Math.abs(clock.now() - host) / host).toBeLessThan(0.02);
  });

  it('tracks host time through the measured speed, linear in instructions between syncs', () => {
    const { h, clock, run } = simulatedHost(10); // a 100-MIPS host
    clock.start();
    for (let i = 0; i < 300; i++) { clock.sync(); run(100_000); } // 300 ms of host time
    const host = (h.ms - 1000) * 1e6;
    expect(Math.abs(clock.now() - host) / host).toBeLessThan(0.02);
    // Between syncs the rate is constant: equal instruction counts give equal guest time.
    clock.sync();
    const t0 = clock.now();
    run(1000);
    const t1 = clock.now();
    run(1000);
    expect(clock.now() - t1).toBeCloseTo(t1 - t0, 6);
    expect(clock.nsPerInstruction).toBeGreaterThan(5);
    expect(clock.nsPerInstruction).toBeLessThan(20);
  });

  it('idle host time does not slow the rate, and the rate never exceeds MAX_NS_PER_INSTRUCTION', () => {
    const { h, clock, run } = simulatedHost(10);
    clock.start();
    for (let i = 0; i < 50; i++) {
      clock.sync();
      run(10_000); // 0.1 ms of CPU ...
      h.ms += 4; // ... then 4 ms asleep in HLT
      clock.idleToHost();
    }
    clock.sync();
    expect(clock.nsPerInstruction).toBeLessThan(40);
    const slow = simulatedHost(5000); // a host far slower than the cap
    slow.clock.start();
    for (let i = 0; i < 20; i++) { slow.clock.sync(); slow.run(10_000); }
    expect(slow.clock.nsPerInstruction).toBe(MAX_NS_PER_INSTRUCTION);
  });

  it('stays smooth through a host stall and catches up over the next syncs', () => {
    const { h, clock, run } = simulatedHost(10);
    clock.start();
    for (let i = 0; i < 100; i++) { clock.sync(); run(100_000); }
    h.ms += 50; // the host was busy elsewhere for 50 ms
    clock.sync();
    const rateDuringCatchUp = clock.nsPerInstruction;
    expect(rateDuringCatchUp).toBeGreaterThan(10); // runs fast to catch up ...
    for (let i = 0; i < 200; i++) { clock.sync(); run(100_000); }
    const host = (h.ms - 1000) * 1e6;
    expect(Math.abs(clock.now() - host) / host).toBeLessThan(0.02); // ... and has caught up
    expect(clock.catchUps).toBe(0);
  });

  it('jumps over a lag longer than MAX_LAG_NS, but never over a timer deadline', () => {
    const { h, clock, run } = simulatedHost(10);
    clock.start();
    for (let i = 0; i < 10; i++) { clock.sync(); run(100_000); }
    const seen: number[] = [];
    const t = clock.createTimer('pit', (now) => { seen.push(clock.now()); if (now < 3e9) t.arm(now + 1e9); });
    t.arm(2e9);
    h.ms += 5000;
    clock.sync(); // jumps to the deadline at 2 s, not to the host's 5 s
    expect(clock.now()).toBe(2e9);
    clock.runDue();
    clock.sync(); // and on to the next one at 3 s
    expect(clock.now()).toBe(3e9);
    clock.runDue();
    clock.sync(); // no more events: all the way
    expect(clock.catchUps).toBe(3);
    expect(seen).toEqual([2e9, 3e9]);
    expect(clock.now()).toBeGreaterThanOrEqual((h.ms - 1000) * 1e6 - 1);
  });

  it('freezes while paused and never goes backwards', () => {
    const { h, clock, run } = simulatedHost(10);
    clock.start();
    for (let i = 0; i < 50; i++) { clock.sync(); run(100_000); }
    clock.freeze();
    const frozen = clock.now();
    h.ms += 100;
    clock.sync();
    expect(clock.now()).toBe(frozen);
    clock.start();
    h.ms -= 0.5; // a host clock stepping back must not move guest time back
    clock.sync();
    clock.idleToHost();
    expect(clock.now()).toBeGreaterThanOrEqual(frozen);
    // Host time spent paused does not count: after more running, guest ~ running host time (50 ms + 20 ms).
    for (let i = 0; i < 200; i++) { clock.sync(); run(10_000); }
    expect(clock.now() / 1e6).toBeGreaterThan(65);
    expect(clock.now() / 1e6).toBeLessThan(75);
  });

  it('idle time follows the host, and timers fire when it reaches them', () => {
    const { h, clock } = simulatedHost(10);
    clock.start();
    const fired: number[] = [];
    clock.createTimer('rtc', (now) => fired.push(now)).arm(5e6);
    h.ms += 4;
    clock.idleToHost();
    expect(clock.runDue()).toBe(0);
    expect(clock.aheadMs()).toBe(0);
    h.ms += 1;
    clock.idleToHost();
    expect(clock.now()).toBe(5e6);
    expect(clock.runDue()).toBe(1);
    expect(fired).toEqual([5e6]);
    // An idle skip past host time is reported as time to wait.
    clock.skipTo(8e6);
    expect(clock.aheadMs()).toBeCloseTo(3, 6);
  });
});
