import { describe, expect, it } from 'vitest';
import { Ioapic, type IoapicMessage } from '../../src/devices/ioapic';
import { Lapic } from '../../src/devices/lapic';
import { FakeClock } from './fake-clock';

function setup() {
  const sent: IoapicMessage[] = [];
  const io = new Ioapic((m) => sent.push(m), 1);
  const rd = (index: number) => { io.write(0, 4, index); return io.read(0x10, 4); };
  const wr = (index: number, v: number) => { io.write(0, 4, index); io.write(0x10, 4, v >>> 0); };
  return { io, sent, rd, wr };
}

describe('I/O APIC', () => {
  it('identifies itself: ID, version 0x11 with 24 entries, all entries masked', () => {
    const { rd, wr } = setup();
    expect(rd(0)).toBe(0x01000000);
    expect(rd(1)).toBe(0x00170011);
    for (let i = 0; i < 24; i++) expect(rd(0x10 + 2 * i) & 0x10000).toBe(0x10000);
    wr(0, 0x0f000000);
    expect(rd(0)).toBe(0x0f000000);
    wr(1, 0);
    expect(rd(1)).toBe(0x00170011);
  });

  it('edge entries send on rising edges only, not while masked', () => {
    const { io, sent, rd, wr } = setup();
    wr(0x10 + 2 * 4, 0x00000831);                       // pin 4: vector 0x31, logical, edge
    wr(0x11 + 2 * 4, 0x01000000);
    expect(rd(0x11 + 2 * 4)).toBe(0x01000000);
    io.setIrq(4, true);
    io.setIrq(4, true);
    expect(sent).toEqual([{ vector: 0x31, deliveryMode: 0, logical: true, destination: 1, levelTriggered: false }]);
    io.setIrq(4, false);
    wr(0x10 + 2 * 4, 0x00010831);
    io.setIrq(4, true);
    expect(sent.length).toBe(1);
  });

  it('level entries: Remote IRR until EOI, resend while asserted, send on unmask', () => {
    const { io, sent, rd, wr } = setup();
    wr(0x10 + 2 * 10, 0x0001a0b2);                      // pin 10 level, active low, masked
    io.setIrq(10, true);
    expect(sent.length).toBe(0);
    wr(0x10 + 2 * 10, 0x0000a0b2);                      // unmask: asserted, so it goes out
    expect(sent.length).toBe(1);
    expect(sent[0].levelTriggered).toBe(true);
    expect(rd(0x10 + 2 * 10) & 0x4000).toBe(0x4000);
    io.setIrq(10, true);
    expect(sent.length).toBe(1);                         // waiting for EOI
    io.eoi(0xb2);
    expect(sent.length).toBe(2);                         // still asserted: again
    io.setIrq(10, false);
    io.eoi(0xb2);
    expect(sent.length).toBe(2);
    expect(rd(0x10 + 2 * 10) & 0x4000).toBe(0);
    wr(0x10 + 2 * 10, 0xffffffff);
    expect(rd(0x10 + 2 * 10) & 0x5000).toBe(0);          // read-only bits stay clear
  });

  it('delivers through a local APIC and gets the EOI back', () => {
    const clock = new FakeClock();
    // eslint-disable-next-line prefer-const
    let io: Ioapic;
    const apic = new Lapic(clock, { onEoi: (v) => io.eoi(v) });
    io = new Ioapic((m) => { if (apic.matchesDestination(m.destination, m.logical)) apic.acceptInterrupt(m.vector, m.levelTriggered); });
    apic.write(0xf0, 4, 0x1ff);
    io.write(0, 4, 0x10 + 2 * 11); io.write(0x10, 4, 0x8000 | 0x61);
    io.write(0, 4, 0x11 + 2 * 11); io.write(0x10, 4, 0);
    io.setIrq(11, true);
    expect(apic.acknowledge()).toBe(0x61);
    io.setIrq(11, false);
    apic.write(0xb0, 4, 0);
    expect(apic.interruptPending()).toBe(false);
    io.setIrq(11, true);
    expect(apic.acknowledge()).toBe(0x61);
  });

  it('survives guest garbage', () => {
    const { io } = setup();
    for (let i = 0; i < 20000; i++) {
      const v = Math.imul(i + 7, 0x9e3779b1) >>> 0;
      const size = ([1, 2, 4] as const)[i % 3];
      if (i & 1) io.write(v % 0x30, size, v & 0xff); else io.read(v % 0x30, size);
      io.write(0, 4, v & 0xff); io.write(0x10, 4, v);
      io.setIrq((v >>> 8) % 30 - 3, (v & 0x100) !== 0);
      io.eoi(v & 0xff);
    }
    expect(io.state.guestErrors).toBeGreaterThan(0);
  });
});
