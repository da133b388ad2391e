import { describe, expect, it } from 'vitest';
import { DualPic8259 } from '../../src/devices/i8259';

/** The sequence Linux's init_8259A() issues (arch/x86/kernel/i8259.c). */
function linuxInit(pic: DualPic8259, autoEoi = false): void {
  const m = pic.master, s = pic.slave;
  m.write(1, 1, 0xff); s.write(1, 1, 0xff);        // mask all
  m.write(0, 1, 0x11);                              // ICW1: edge, cascade, ICW4
  m.write(1, 1, 0x30);                              // ICW2: vectors 0x30..0x37
  m.write(1, 1, 0x04);                              // ICW3: slave on IR2
  m.write(1, 1, autoEoi ? 0x03 : 0x01);             // ICW4: 8086 (+AEOI)
  s.write(0, 1, 0x11);
  s.write(1, 1, 0x38);
  s.write(1, 1, 0x02);                              // slave identity 2
  s.write(1, 1, 0x01);
  m.write(1, 1, 0x00); s.write(1, 1, 0x00);         // unmask
}

describe('8259A pair', () => {
  it('delivers IRQs through the Linux init sequence with vectors from ICW2', () => {
    const levels: boolean[] = [];
    const pic = new DualPic8259((l) => levels.push(l));
    linuxInit(pic);
    expect(pic.interruptPending()).toBe(false);
    pic.setIrq(1, true);
    expect(pic.interruptPending()).toBe(true);
    expect(levels).toEqual([true]);
    expect(pic.acknowledge()).toBe(0x31);
    expect(pic.interruptPending()).toBe(false);
    pic.master.write(0, 1, 0x0b); // OCW3 read ISR
    expect(pic.master.read(0, 1)).toBe(0x02);
    pic.master.write(0, 1, 0x20); // non-specific EOI
    expect(pic.master.read(0, 1)).toBe(0x00);
  });

  it('cascades the slave through IR2 and needs EOI on both', () => {
    const pic = new DualPic8259();
    linuxInit(pic);
    pic.setIrq(12, true);
    expect(pic.interruptPending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x3c);
    pic.master.write(0, 1, 0x0b); pic.slave.write(0, 1, 0x0b);
    expect(pic.master.read(0, 1)).toBe(0x04);
    expect(pic.slave.read(0, 1)).toBe(0x10);
    // IRQ 3 is lower priority than IR2 in service; IRQ 0 is higher.
    pic.setIrq(3, true);
    expect(pic.interruptPending()).toBe(false);
    pic.setIrq(0, true);
    expect(pic.acknowledge()).toBe(0x30);
    pic.master.write(0, 1, 0x20); // EOI IRQ0
    pic.slave.write(0, 1, 0x20); pic.master.write(0, 1, 0x20); // EOI 12 then cascade
    expect(pic.acknowledge()).toBe(0x33);
    pic.master.write(0, 1, 0x20);
    pic.setIrq(2, true);                                 // ISA IRQ2 is IRQ9 on an AT
    expect(pic.acknowledge()).toBe(0x39);
  });

  it('edge inputs need a new rising edge; level inputs re-request while high', () => {
    const pic = new DualPic8259();
    linuxInit(pic);
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x34);
    pic.master.write(0, 1, 0x20);
    expect(pic.interruptPending()).toBe(false); // still high, no new edge
    pic.setIrq(4, false); pic.setIrq(4, true);
    expect(pic.interruptPending()).toBe(true);
    pic.acknowledge(); pic.master.write(0, 1, 0x20); pic.setIrq(4, false);

    pic.elcr.write(1, 1, 0x08);                     // IRQ11 level-triggered
    expect(pic.elcr.read(1, 1)).toBe(0x08);
    pic.setIrq(11, true);
    expect(pic.acknowledge()).toBe(0x3b);
    pic.slave.write(0, 1, 0x20); pic.master.write(0, 1, 0x20);
    expect(pic.interruptPending()).toBe(true);     // level still asserted
    pic.setIrq(11, false);
    expect(pic.interruptPending()).toBe(false);    // and it goes away with the level
    pic.elcr.write(0, 1, 0xff);
    expect(pic.elcr.read(0, 1)).toBe(0xf8);         // IRQ0-2 cannot be level
  });

  it('masks with OCW1 and reads IMR back', () => {
    const pic = new DualPic8259();
    linuxInit(pic);
    pic.master.write(1, 1, 0x01);
    expect(pic.master.read(1, 1)).toBe(0x01);
    pic.setIrq(0, true);
    expect(pic.interruptPending()).toBe(false);
    pic.master.write(0, 1, 0x0a); // read IRR
    expect(pic.master.read(0, 1) & 1).toBe(1);
    pic.master.write(1, 1, 0x00);
    expect(pic.acknowledge()).toBe(0x30);
  });

  it('gives spurious IRQ7 without setting ISR, also when a slave request vanishes', () => {
    const pic = new DualPic8259();
    linuxInit(pic);
    expect(pic.acknowledge()).toBe(0x37);
    pic.master.write(0, 1, 0x0b);
    expect(pic.master.read(0, 1)).toBe(0);
    // A slave request that goes away before INTA withdraws the master's IR2 request too
    // (the request latch follows the level), so INTA sees nothing: spurious IRQ7 again.
    pic.elcr.write(1, 1, 0x02);
    pic.setIrq(9, true);
    expect(pic.interruptPending()).toBe(true);
    pic.setIrq(9, false);
    expect(pic.acknowledge()).toBe(0x37);
    pic.slave.write(0, 1, 0x0b); pic.master.write(0, 1, 0x0b);
    expect(pic.slave.read(0, 1)).toBe(0);
    expect(pic.master.read(0, 1)).toBe(0);
  });

  it('auto-EOI leaves ISR clear; specific rotation changes priority', () => {
    const pic = new DualPic8259();
    linuxInit(pic, true);
    pic.setIrq(5, true);
    expect(pic.acknowledge()).toBe(0x35);
    pic.master.write(0, 1, 0x0b);
    expect(pic.master.read(0, 1)).toBe(0);
    // Set priority: IR5 lowest, so IR6 is highest: IR6 wins over IR1.
    pic.master.write(0, 1, 0xc5);
    pic.setIrq(1, true); pic.setIrq(6, true);
    expect(pic.acknowledge()).toBe(0x36);
    expect(pic.acknowledge()).toBe(0x31);
  });

  it('rotate on non-specific EOI makes the served level lowest', () => {
    const pic = new DualPic8259();
    linuxInit(pic);
    pic.setIrq(0, true);
    expect(pic.acknowledge()).toBe(0x30);
    pic.master.write(0, 1, 0xa0);                  // rotate on non-specific EOI: IR0 lowest
    pic.setIrq(0, false); pic.setIrq(0, true); pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x33);
  });

  it('special mask mode lets lower priorities through a masked in-service level', () => {
    const pic = new DualPic8259();
    linuxInit(pic);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x31);
    pic.setIrq(5, true);
    expect(pic.interruptPending()).toBe(false);
    pic.master.write(1, 1, 0x02);                  // mask IR1
    pic.master.write(0, 1, 0x68);                  // OCW3: ESMM|SMM
    expect(pic.interruptPending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x35);
  });

  it('poll mode returns the level and acknowledges', () => {
    const pic = new DualPic8259();
    linuxInit(pic);
    pic.master.write(0, 1, 0x0c);
    expect(pic.master.read(0, 1)).toBe(0);
    pic.setIrq(6, true);
    pic.master.write(0, 1, 0x0c);
    expect(pic.master.read(0, 1)).toBe(0x86);
    pic.master.write(0, 1, 0x0b);
    expect(pic.master.read(0, 1)).toBe(0x40);
  });

  it('ICW1 clears masks and edge latches', () => {
    const pic = new DualPic8259();
    linuxInit(pic);
    pic.master.write(1, 1, 0xaa);
    pic.setIrq(3, true);
    linuxInit(pic);
    expect(pic.master.read(1, 1)).toBe(0);
    expect(pic.interruptPending()).toBe(false);
  });

  it('survives guest garbage', () => {
    const pic = new DualPic8259();
    for (let i = 0; i < 2000; i++) {
      const off = (i * 7) % 5, v = (i * 37) & 0xff;
      if (i & 1) pic.master.write(off, 1, v); else pic.slave.read(off, ((i % 3) + 1) as 1 | 2 | 4);
      pic.slave.write(off, 4, v * 0x01010101 >>> 0);
      pic.setIrq((i * 13) % 20 - 2, (i & 2) !== 0);
      pic.acknowledge();
      pic.elcr.write(off, 2, v);
    }
    expect(pic.master.state.guestErrors).toBeGreaterThan(0);
  });
});
