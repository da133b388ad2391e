import { describe, expect, it } from 'vitest';
import { Pit8254, PitPortB, PIT_FREQUENCY_HZ } from '../../src/devices/i8254';
import { FakeClock, TestIrq } from './fake-clock';

const tickNs = 1e9 / PIT_FREQUENCY_HZ;

function setup() {
  const clock = new FakeClock(1_000_000);
  const irq = new TestIrq();
  const pit = new Pit8254(clock, irq);
  const portB = new PitPortB(pit, clock);
  return { clock, irq, pit, portB };
}

/** Latch counter `n` and read it LSB then MSB, as Linux's pit_read / get_count does. */
function latchRead(pit: Pit8254, n: number): number {
  pit.write(3, 1, n << 6);
  const lo = pit.read(n, 1);
  return lo | (pit.read(n, 1) << 8);
}

describe('8254 PIT', () => {
  it('mode 2 on counter 0 raises IRQ0 once per period, like Linux HZ=100 setup', () => {
    const { clock, irq, pit } = setup();
    const latch = Math.round(PIT_FREQUENCY_HZ / 100); // 11932
    pit.write(3, 1, 0x34);                           // counter 0, lsb/msb, mode 2, binary
    pit.write(0, 1, latch & 0xff);
    pit.write(0, 1, latch >> 8);
    expect(irq.level).toBe(true);
    const edges0 = irq.edges;
    clock.advance(100 * latch * tickNs + 1);          // 100 periods (1.0000335 s)
    expect(irq.edges - edges0).toBe(100);
    clock.advance(latch * tickNs - 2000);
    expect(irq.edges - edges0).toBe(100);
    // Count decreases with time: half a period later about latch/2 remain.
    const start = latchRead(pit, 0);
    clock.advance((latch / 2) * tickNs);
    const later = latchRead(pit, 0);
    expect((start - later + latch) % latch).toBeGreaterThanOrEqual(latch / 2 - 2);
    expect((start - later + latch) % latch).toBeLessThanOrEqual(latch / 2 + 2);
  });

  it('mode 0 counts down once and raises OUT at terminal count', () => {
    const { clock, irq, pit } = setup();
    pit.write(3, 1, 0x30);                           // counter 0, lsb/msb, mode 0
    expect(irq.level).toBe(false);
    pit.write(0, 1, 1000 & 0xff); pit.write(0, 1, 1000 >> 8);
    clock.advance(500 * tickNs);
    expect(latchRead(pit, 0)).toBeGreaterThanOrEqual(499);
    expect(latchRead(pit, 0)).toBeLessThanOrEqual(501);
    expect(irq.level).toBe(false);
    clock.advance(501 * tickNs);
    expect(irq.level).toBe(true);
    expect(irq.edges).toBe(1);
    clock.advance(1e8);
    expect(irq.edges).toBe(1);                        // no reload in mode 0
  });

  it('mode 3 square wave: OUT high half the period', () => {
    const { clock, pit } = setup();
    pit.write(3, 1, 0x36);
    pit.write(0, 1, 0); pit.write(0, 1, 0);           // 65536: the BIOS 18.2 Hz tick
    expect(pit.out(0)).toBe(true);
    clock.advance(32700 * tickNs);
    expect(pit.out(0)).toBe(true);
    clock.advance(100 * tickNs);
    expect(pit.out(0)).toBe(false);
    clock.advance(32800 * tickNs);
    expect(pit.out(0)).toBe(true);
  });

  it('counter 2 through Port B: gate, OUT2 and the refresh bit, as pit_calibrate_tsc uses them', () => {
    const { clock, pit, portB } = setup();
    portB.write(0, 1, (portB.read(0, 1) & ~0x02) | 0x01); // gate on, speaker off
    pit.write(3, 1, 0xb0);                           // counter 2, lsb/msb, mode 0
    const latch = Math.floor(PIT_FREQUENCY_HZ / 20);  // 50 ms
    pit.write(2, 1, latch & 0xff); pit.write(2, 1, latch >> 8);
    expect(portB.read(0, 1) & 0x20).toBe(0);
    clock.advance(49e6);
    expect(portB.read(0, 1) & 0x20).toBe(0);
    clock.advance(1.1e6);
    expect(portB.read(0, 1) & 0x20).toBe(0x20);
    expect(portB.read(0, 1) & 0x03).toBe(0x01);
    const r1 = portB.read(0, 1) & 0x10;
    clock.advance(15_085);
    expect(portB.read(0, 1) & 0x10).not.toBe(r1);
  });

  it('gate low pauses mode 0 counting', () => {
    const { clock, pit, portB } = setup();
    portB.write(0, 1, 0x01);
    pit.write(3, 1, 0xb0);
    pit.write(2, 1, 0x00); pit.write(2, 1, 0x10);     // 4096
    clock.advance(1000 * tickNs);
    portB.write(0, 1, 0x00);
    const a = latchRead(pit, 2);
    clock.advance(5000 * tickNs);
    expect(latchRead(pit, 2)).toBe(a);
    portB.write(0, 1, 0x01);
    clock.advance(100 * tickNs);
    expect(Math.abs(a - latchRead(pit, 2) - 100)).toBeLessThanOrEqual(1);
  });

  it('mode 1 one-shot is triggered by the gate', () => {
    const { clock, pit, portB } = setup();
    pit.write(3, 1, 0xb2);                           // counter 2 mode 1
    pit.write(2, 1, 100); pit.write(2, 1, 0);
    clock.advance(1000 * tickNs);
    expect(pit.out(2)).toBe(true);                    // waiting for trigger
    portB.write(0, 1, 0x01);
    expect(pit.out(2)).toBe(false);
    clock.advance(101 * tickNs);
    expect(pit.out(2)).toBe(true);
  });

  it('modes 4 and 5 strobe OUT low for one clock', () => {
    const { clock, pit } = setup();
    pit.write(3, 1, 0x78);                           // counter 1, lsb/msb, mode 4
    pit.write(1, 1, 10); pit.write(1, 1, 0);
    clock.advance(9.5 * tickNs);
    expect(pit.out(1)).toBe(true);
    clock.advance(1 * tickNs);
    expect(pit.out(1)).toBe(false);
    clock.advance(1 * tickNs);
    expect(pit.out(1)).toBe(true);
  });

  it('BCD counting, LSB-only and MSB-only access', () => {
    const { clock, pit } = setup();
    pit.write(3, 1, 0x51);                           // counter 1, LSB only, mode 0, BCD
    pit.write(1, 1, 0x99);                            // 99 decimal
    clock.advance(10.5 * tickNs);
    expect(pit.read(1, 1)).toBe(0x89);
    pit.write(3, 1, 0x60);                           // counter 1, MSB only, mode 0, binary
    pit.write(1, 1, 0x12);                            // 0x1200
    expect(pit.read(1, 1)).toBe(0x12);
    clock.advance(0x101 * tickNs + 1);
    expect(pit.read(1, 1)).toBe(0x10);
  });

  it('read-back latches status and count', () => {
    const { clock, pit } = setup();
    pit.write(3, 1, 0x34);
    pit.write(0, 1, 0x00); pit.write(0, 1, 0x10);
    clock.advance(16 * tickNs + 1);
    pit.write(3, 1, 0xc2);                           // read-back count+status, counter 0
    const status = pit.read(0, 1);
    expect(status & 0x3f).toBe(0x34);
    expect(status & 0x40).toBe(0);                     // count loaded
    expect(status & 0x80).toBe(0x80);
    clock.advance(1000 * tickNs);                     // latched value must not move
    const v = pit.read(0, 1) | (pit.read(0, 1) << 8);
    expect(v).toBe(0x1000 - 16);
    pit.write(3, 1, 0xb0);
    pit.write(3, 1, 0xe8);                           // status only, counter 2: null count set
    expect(pit.read(2, 1)).toBe(0x70);
  });

  it('a late timer callback still sees the one-clock OUT strobe (modes 2 and 4)', () => {
    // The Machine fires timers between CPU runs, so a callback may run after its deadline: the
    // clock has moved on, but the callback is given the deadline. This clock does exactly that.
    class LateClock {
      time = 1_000_000;
      private timers: { deadline: number; armed: boolean; cb: (now: number) => void }[] = [];
      now(): number { return this.time; }
      createTimer(_name: string, cb: (now: number) => void) {
        const t = { deadline: 0, armed: false, cb };
        this.timers.push(t);
        return {
          arm: (d: number) => { t.deadline = d; t.armed = true; },
          cancel: () => { t.armed = false; },
          get armed() { return t.armed; },
          get deadline() { return t.deadline; },
        };
      }
      /** Jump to `target` first, then fire what is due, each with its own deadline. */
      lateAdvance(ns: number): void {
        this.time += ns;
        for (let guard = 0; guard < 100_000; guard++) {
          const due = this.timers.filter((t) => t.armed && t.deadline <= this.time).sort((a, b) => a.deadline - b.deadline)[0];
          if (!due) return;
          due.armed = false;
          due.cb(due.deadline);
        }
      }
    }
    const clock = new LateClock();
    const irq = new TestIrq();
    const pit = new Pit8254(clock, irq);
    // Mode 2, 100 ticks: each period ends with a one-clock low strobe, then a rising edge. The
    // clock moves 1.5 periods at a time, so a callback never runs inside the strobe.
    pit.write(3, 1, 0x34);
    pit.write(0, 1, 100); pit.write(0, 1, 0);
    const e0 = irq.edges;
    for (let i = 0; i < 20; i++) clock.lateAdvance(150 * tickNs);
    clock.lateAdvance(50 * tickNs);                   // 3050 ticks: 30 whole periods
    expect(irq.edges - e0).toBe(30);
    // Mode 4 (Linux's one-shot), 50 ticks, with the callback 100 ticks late: one rising edge.
    pit.write(3, 1, 0x38);
    pit.write(0, 1, 50); pit.write(0, 1, 0);
    const e1 = irq.edges;
    clock.lateAdvance(150 * tickNs);
    expect(irq.edges - e1).toBe(1);
    expect(irq.level).toBe(true);
  });

  it('survives guest garbage', () => {
    const { clock, pit, portB } = setup();
    for (let i = 0; i < 3000; i++) {
      const v = (i * 97 + 13) & 0xff;
      pit.write(i % 6, ((i % 3) + 1) as 1 | 2 | 4, v);
      pit.read((i * 5) % 7, 1);
      portB.write(i % 2, 1, v); portB.read(i % 3, 2);
      clock.advance((i % 50) * 100);
    }
    clock.advance(1e9);
    expect(pit.state.guestErrors).toBeGreaterThan(0);
    expect(clock.fired).toBeLessThan(1e6);
  });
});
