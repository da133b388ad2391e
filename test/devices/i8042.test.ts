import { describe, expect, it } from 'vitest';
import { I8042 } from '../../src/devices/i8042';
import { Ps2Keyboard } from '../../src/devices/ps2-keyboard';
import { FakeClock, TestIrq } from './fake-clock';

function setup() {
  const clock = new FakeClock(0);
  const irq1 = new TestIrq(), irq12 = new TestIrq();
  const a20: boolean[] = [];
  let resets = 0;
  // eslint-disable-next-line prefer-const
  let ctrl: I8042;
  const kbd = new Ps2Keyboard(clock, () => ctrl.portDataAvailable());
  ctrl = new I8042(kbd, null, { irq1, irq12, onA20: (e) => a20.push(e), onReset: () => resets++ });
  const status = () => ctrl.read(4, 1);
  const cmd = (v: number) => ctrl.write(4, 1, v);
  const data = (v: number) => ctrl.write(0, 1, v);
  /** Poll like i8042_wait_read + read: the byte, or -1 if nothing arrives. */
  const readByte = () => (status() & 1 ? ctrl.read(0, 1) : -1);
  const drain = () => { const r: number[] = []; while (status() & 1) r.push(ctrl.read(0, 1)); return r; };
  return { clock, irq1, irq12, a20, get resets() { return resets; }, ctrl, kbd, status, cmd, data, readByte, drain };
}

describe('8042 controller and PS/2 keyboard', () => {
  it('goes through the Linux i8042 probe: self-test, CTR, aux loopback, aux enable bit', () => {
    const t = setup();
    t.drain();
    t.cmd(0xaa);
    expect(t.status() & 0x08).toBe(0x08);              // last write was a command
    expect(t.readByte()).toBe(0x55);
    t.cmd(0x20);
    const ctr = t.readByte();
    expect(ctr & 0x40).toBe(0x40);                     // translation on
    t.cmd(0x60); t.data(ctr & ~0x03);                  // interrupts off while probing
    t.cmd(0x20); expect(t.readByte()).toBe(ctr & ~0x03);
    t.cmd(0xd3); t.data(0x5a);                         // AUX loopback
    expect(t.status() & 0x21).toBe(0x21);              // data from aux
    expect(t.readByte()).toBe(0x5a);
    t.cmd(0xa9); expect(t.readByte()).toBe(0x00);
    t.cmd(0xa7); t.cmd(0x20); expect(t.readByte() & 0x20).toBe(0x20);
    t.cmd(0xa8); t.cmd(0x20); expect(t.readByte() & 0x20).toBe(0);
    t.cmd(0xab); expect(t.readByte()).toBe(0x00);
    // Aux IRQ test: with AUXINT set, loopback data raises IRQ12.
    t.cmd(0x60); t.data(0x47 | 0x02);
    t.cmd(0xd3); t.data(0xa5);
    expect(t.irq12.level).toBe(true);
    expect(t.readByte()).toBe(0xa5);
    expect(t.irq12.level).toBe(false);
    t.cmd(0xd4); t.data(0xff);                          // no mouse plugged in
    expect(t.readByte()).toBe(0xfe);
  });

  it('keyboard reset, identify (translated ID 0xAB 0x41), LEDs, echo, scan code set query', () => {
    const t = setup();
    t.data(0xff);
    expect(t.drain()).toEqual([0xfa, 0xaa]);
    t.data(0xf2);
    expect(t.drain()).toEqual([0xfa, 0xab, 0x41]);
    t.cmd(0x60); t.data(0x05);                         // translation off, IRQ1 on
    t.data(0xf2);
    expect(t.drain()).toEqual([0xfa, 0xab, 0x83]);
    t.data(0xed); expect(t.drain()).toEqual([0xfa]);
    t.data(0x07); expect(t.drain()).toEqual([0xfa]);
    expect(t.kbd.state.leds).toBe(7);
    t.data(0xee); expect(t.drain()).toEqual([0xee]);
    t.data(0xf0); t.data(0x00);
    expect(t.drain()).toEqual([0xfa, 0xfa, 0x02]);
    t.data(0xf0); t.data(0x03);
    expect(t.drain()).toEqual([0xfa, 0xfe]);           // only set 2
    t.data(0x12);                                      // not a command
    expect(t.drain()).toEqual([0xfe]);
  });

  it('scan codes: set 2 translated to set 1 with IRQ1, raw when translation is off', () => {
    const t = setup();
    t.kbd.pressKey([0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75]); // A tap, Up tap
    expect(t.irq1.level).toBe(true);
    expect(t.drain()).toEqual([0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8]);
    expect(t.irq1.level).toBe(false);
    t.cmd(0x60); t.data(0x05);
    t.kbd.pressKey([0x76, 0xf0, 0x76]);
    expect(t.drain()).toEqual([0x76, 0xf0, 0x76]);
    t.cmd(0x60); t.data(0x45);
    t.kbd.pressKey([0x83]);                            // F7
    expect(t.drain()).toEqual([0x41]);
  });

  it('disabling the keyboard interface (0xAD) holds data; 0xF5 stops scanning', () => {
    const t = setup();
    t.cmd(0xad);
    t.kbd.pressKey([0x1c]);
    expect(t.status() & 1).toBe(0);
    t.cmd(0xae);
    expect(t.drain()).toEqual([0x1e]);
    t.data(0xf5); expect(t.drain()).toEqual([0xfa]);
    t.kbd.pressKey([0x1c]);
    expect(t.drain()).toEqual([]);
    t.data(0xf4); expect(t.drain()).toEqual([0xfa]);
    t.kbd.pressKey([0x1c]);
    expect(t.drain()).toEqual([0x1e]);
  });

  it('typematic repeat after the delay at the programmed rate', () => {
    const t = setup();
    t.data(0xf3); t.data(0x00);                        // 250 ms, 30 cps (33.36 ms)
    t.drain();
    t.kbd.keyDown([0x1c]);
    t.clock.advance(240e6);
    expect(t.drain()).toEqual([0x1e]);
    t.clock.advance(20e6 + 4 * 33.36e6);
    expect(t.drain()).toEqual([0x1e, 0x1e, 0x1e, 0x1e, 0x1e]);
    t.kbd.keyUp([0x1c]);
    t.clock.advance(1e9);
    expect(t.drain()).toEqual([0x9e]);
  });

  it('A20 through the output port and 0xDD/0xDF, reset through 0xFE and the output port', () => {
    const t = setup();
    t.cmd(0xd0);
    expect(t.readByte() & 0x03).toBe(0x03);
    t.cmd(0xd1); t.data(0xdd);                         // A20 off
    expect(t.a20).toEqual([false]);
    expect(t.ctrl.a20).toBe(false);
    t.cmd(0xd0); expect(t.readByte() & 0x02).toBe(0);
    t.cmd(0xd1); t.data(0xdf);
    expect(t.a20).toEqual([false, true]);
    t.cmd(0xdd); t.cmd(0xdf);
    expect(t.a20).toEqual([false, true, false, true]);
    expect(t.resets).toBe(0);
    t.cmd(0xff);                                       // pulse nothing
    expect(t.resets).toBe(0);
    t.cmd(0xfe);
    expect(t.resets).toBe(1);
    t.cmd(0xd1); t.data(0x02);                         // reset line driven low
    expect(t.resets).toBe(2);
  });

  it('each byte of a multi-byte reply is a new IRQ1 edge (the identify reply FA AB 41 through an edge-triggered controller)', () => {
    const t = setup();
    t.drain();
    t.cmd(0x60); t.data(0x47); // CTR as Linux leaves it: KBD and AUX interrupts, translation
    const before = t.irq1.edges;
    t.data(0xf2); // identify
    const bytes: number[] = [];
    // Read only as an edge-triggered handler would: one byte per rising edge of IRQ1.
    for (let seen = before; t.irq1.edges > seen && bytes.length < 5;) {
      seen = t.irq1.edges;
      bytes.push(t.ctrl.read(0, 1));
    }
    expect(bytes).toEqual([0xfa, 0xab, 0x41]);
  });

  it('survives guest garbage', () => {
    const t = setup();
    for (let i = 0; i < 5000; i++) {
      const v = (i * 151 + 7) & 0xff;
      if (v >= 0xf0 && !(v & 1)) continue;             // skip reset pulses, they are legal
      if (i % 2) t.cmd(v); else t.data(v);
      t.ctrl.read((i * 3) % 6, ((i % 3) + 1) as 1 | 2 | 4);
      t.ctrl.write((i * 5) % 7, 2, v);
      if (i % 50 === 0) t.kbd.pressKey([v]);
      t.clock.advance(1e6);
    }
    expect(t.ctrl.state.guestErrors).toBeGreaterThan(0);
  });
});
