import { describe, expect, it } from 'vitest';
import { Mc146818 } from '../../src/devices/mc146818';
import { FakeClock, TestIrq } from './fake-clock';

// 2024-02-29 23:59:58 UTC, a Thursday
const START = Date.UTC(2024, 1, 29, 23, 59, 58);

function setup(start = START) {
  const clock = new FakeClock(0);
  const irq = new TestIrq();
  const rtc = new Mc146818(clock, irq, start);
  const rd = (i: number) => { rtc.write(0, 1, i); return rtc.read(1, 1); };
  const wr = (i: number, v: number) => { rtc.write(0, 1, i); rtc.write(1, 1, v); };
  return { clock, irq, rtc, rd, wr };
}

describe('MC146818 RTC', () => {
  it('reads the start time in BCD, then follows guest time across midnight', () => {
    const { clock, rd } = setup();
    expect([rd(9), rd(8), rd(7), rd(6), rd(4), rd(2), rd(0), rd(0x32)])
      .toEqual([0x24, 0x02, 0x29, 0x05, 0x23, 0x59, 0x58, 0x20]);
    clock.advance(3e9);
    expect([rd(8), rd(7), rd(6), rd(4), rd(2), rd(0)]).toEqual([0x03, 0x01, 0x06, 0x00, 0x00, 0x01]);
  });

  it('binary and 12-hour modes per register B', () => {
    const { rd, wr } = setup(Date.UTC(2031, 6, 4, 13, 5, 9));
    wr(0x0b, 0x04);                                    // binary, 12-hour
    expect([rd(9), rd(2), rd(0)]).toEqual([31, 5, 9]);
    expect(rd(4)).toBe(0x80 | 1);                      // 1 PM
    wr(0x0b, 0x00);                                    // BCD 12-hour
    expect(rd(4)).toBe(0x81);
    wr(0x0b, 0x06);
    expect(rd(4)).toBe(13);
  });

  it('is deterministic: same start, same readings', () => {
    const a = setup(), b = setup();
    a.clock.advance(12345e6); b.clock.advance(12345e6);
    for (const i of [0, 2, 4, 7, 8, 9]) expect(a.rd(i)).toBe(b.rd(i));
  });

  it('the guest sets the time with SET, as hwclock --systohc does', () => {
    const { clock, rd, wr } = setup();
    wr(0x0b, 0x82);                                    // SET, 24h, BCD
    wr(9, 0x99); wr(8, 0x12); wr(7, 0x31); wr(4, 0x23); wr(2, 0x59); wr(0, 0x50); wr(0x32, 0x19);
    clock.advance(5e9);
    expect(rd(0)).toBe(0x50);                          // frozen while SET
    wr(0x0b, 0x02);
    clock.advance(10e9);
    expect([rd(0x32), rd(9), rd(8), rd(7), rd(4), rd(2), rd(0)]).toEqual([0x20, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00]);
  });

  it('UIP is set in the 244 us before each update', () => {
    const { clock, rd } = setup();
    clock.advanceTo(0.5e9);
    expect(rd(0x0a) & 0x80).toBe(0);
    clock.advanceTo(1e9 - 100_000);
    expect(rd(0x0a) & 0x80).toBe(0x80);
    clock.advanceTo(1e9 + 10);
    expect(rd(0x0a) & 0x80).toBe(0);
  });

  it('periodic interrupt at the register A rate; reading C clears IRQF and lowers IRQ8', () => {
    const { clock, irq, rd, wr } = setup();
    wr(0x0a, 0x26);                                    // 1024 Hz
    wr(0x0b, 0x42);                                    // PIE
    let count = 0;
    for (let i = 0; i < 1024; i++) {
      clock.advance(1e9 / 1024);
      if (irq.level) { count++; expect(rd(0x0c) & 0xc0).toBe(0xc0); expect(irq.level).toBe(false); }
    }
    expect(count).toBeGreaterThanOrEqual(1023);
    expect(count).toBeLessThanOrEqual(1024);
    wr(0x0a, 0x2f);                                    // 2 Hz
    rd(0x0c);
    const e = irq.edges;
    clock.advance(1e9);
    expect(irq.edges - e).toBe(1);                     // flag not cleared, so only one edge
    expect(rd(0x0c) & 0x40).toBe(0x40);
  });

  it('update-ended and alarm interrupts', () => {
    const { clock, irq, rd, wr } = setup();
    rd(0x0c);
    wr(0x0b, 0x12);                                    // UIE
    clock.advance(1.2e9);
    expect(irq.level).toBe(true);
    expect(rd(0x0c) & 0x90).toBe(0x90);              // PF may be set too: it runs regardless of PIE
    wr(0x0b, 0x22);                                    // AIE only
    wr(1, 0x05); wr(3, 0x00); wr(5, 0xff);             // any hour, minute 00, second 05
    clock.advance(3e9);                                // 00:00:02
    expect(irq.level).toBe(false);
    clock.advance(3e9);                                // 00:00:05
    expect(irq.level).toBe(true);
    expect(rd(0x0c) & 0xa0).toBe(0xa0);
  });

  it('register D reports valid RAM; polling C without enables still shows UF', () => {
    const { clock, rd } = setup();
    expect(rd(0x0d)).toBe(0x80);
    rd(0x0c);
    clock.advance(2e9);
    expect(rd(0x0c) & 0x90).toBe(0x10);
  });

  it('memory-size helper fills the BIOS fields, and the NMI bit is tracked', () => {
    const { rtc, rd } = setup();
    rtc.setMemorySize(128 * 1024 * 1024);
    expect(rd(0x15) | (rd(0x16) << 8)).toBe(640);
    expect(rd(0x17) | (rd(0x18) << 8)).toBe(0xffff);   // the AT field saturates at 64 MiB
    rtc.setMemorySize(32 * 1024 * 1024);
    expect(rd(0x30) | (rd(0x31) << 8)).toBe(31 * 1024);
    rtc.setMemorySize(128 * 1024 * 1024);
    expect(rd(0x34) | (rd(0x35) << 8)).toBe((112 * 1024 * 1024) / 65536);
    rtc.setMemorySize(3 * 1024 * 1024 * 1024, 2 * 1024 * 1024 * 1024);
    expect(rd(0x17) | (rd(0x18) << 8)).toBe(0xffff);
    expect(rd(0x5b) | (rd(0x5c) << 8) | (rd(0x5d) << 16)).toBe(0x8000);
    rtc.setEquipment(1);
    expect(rd(0x14)).toBe(0x03);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += rd(i);
    expect((rd(0x2e) << 8) | rd(0x2f)).toBe(sum);
    rtc.write(0, 1, 0x8f);
    expect(rtc.nmiDisabled).toBe(true);
    rtc.write(0, 1, 0x0f);
    expect(rtc.nmiDisabled).toBe(false);
  });

  it('survives guest garbage', () => {
    const { clock, rtc } = setup();
    for (let i = 0; i < 5000; i++) {
      rtc.write(i % 3, ((i % 3) + 1) as 1 | 2 | 4, (i * 131) & 0xff);
      rtc.read((i * 7) % 4, 1);
      clock.advance(i * 1000);
    }
    expect(rtc.state.guestErrors).toBeGreaterThan(0);
  });
});
