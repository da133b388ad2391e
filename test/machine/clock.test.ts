// The virtual clock: deterministic time from instruction counts, timers in deadline order,
// realtime time that follows the host and never runs backwards.
import { describe, expect, it } from 'vitest';
import { NS_PER_INSTRUCTION, TSC_HZ, VirtualClock } from '../../src/machine/clock.js';

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
  it('follows the host clock while started, freezes while paused, never goes backwards', () => {
    let host = 1000; // ms
    const clock = new VirtualClock('realtime', { instructions: () => 0, hostNow: () => host });
    expect(clock.now()).toBe(0);
    clock.start();
    host += 2.5;
    expect(clock.now()).toBe(2.5e6);
    clock.freeze();
    host += 100;
    expect(clock.now()).toBe(2.5e6);
    clock.start();
    host += 1;
    expect(clock.now()).toBe(3.5e6);
    host -= 0.5; // a host clock that steps back must not move guest time back
    expect(clock.now()).toBe(3.5e6);
  });

  it('fires timers when host time reaches them', () => {
    let host = 0;
    const clock = new VirtualClock('realtime', { instructions: () => 0, hostNow: () => host });
    clock.start();
    const fired: number[] = [];
    clock.createTimer('rtc', (now) => fired.push(now)).arm(5e6);
    host = 4;
    expect(clock.runDue()).toBe(0);
    host = 5;
    expect(clock.runDue()).toBe(1);
    expect(fired).toEqual([5e6]);
  });
});
