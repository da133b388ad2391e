// The PS/2 mouse (src/devices/ps2-mouse.ts) against the IBM PS/2 pointing device protocol and
// Microsoft's IntelliMouse extension: reset, identify, the 200/100/80 knock, status, stream
// packets with sign and overflow bits, the wheel byte, and garbage from the host.
import { describe, expect, it } from 'vitest';
import { Ps2Mouse } from '../../src/devices/ps2-mouse';

function setup() {
  const mouse = new Ps2Mouse(() => {});
  const drain = () => { const r: number[] = []; while (mouse.hasData()) r.push(mouse.read()); return r; };
  /** Each byte, and its reply read before the next (as a driver waits for the ACK). */
  const send = (...bytes: number[]) => bytes.flatMap((b) => { mouse.write(b); return drain(); });
  return { mouse, drain, send };
}

describe('PS/2 mouse', () => {
  it('reset, identify, the IntelliMouse knock, status', () => {
    const { send } = setup();
    expect(send(0xff)).toEqual([0xfa, 0xaa, 0x00]); // ACK, self-test passed, ID 0
    expect(send(0xf2)).toEqual([0xfa, 0x00]);
    expect(send(0xf3, 200, 0xf3, 100, 0xf3, 80)).toEqual([0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa]);
    expect(send(0xf2)).toEqual([0xfa, 0x03]); // IntelliMouse
    expect(send(0xe8, 3, 0xf4, 0xe9)).toEqual([0xfa, 0xfa, 0xfa, 0xfa, 0x20, 3, 80]); // reporting on, resolution 3, rate 80
  });

  it('stream packets: buttons, signs, overflow, and the wheel byte in IntelliMouse mode', () => {
    const { mouse, send, drain } = setup();
    mouse.move(5, 5, 0, 0);
    expect(drain()).toEqual([]); // reporting is off after reset
    send(0xf4);
    mouse.move(5, -3, 0, 1);
    expect(drain()).toEqual([0x08 | 0x01 | 0x20, 5, 0xfd]);
    mouse.move(-300, 2, 0, 0);
    expect(drain()).toEqual([0x08 | 0x10 | 0x40, 0x01, 2]); // clamped to -255, X overflow
    send(0xf3, 200, 0xf3, 100, 0xf3, 80);
    mouse.move(0, 0, -1, 4);
    expect(drain()).toEqual([0x08 | 0x04, 0, 0, 0xff]);
    send(0xf5);
    mouse.move(1, 1, 0, 0);
    expect(drain()).toEqual([]);
  });

  it('survives garbage and a host that floods it', () => {
    const { mouse, drain } = setup();
    let seed = 99;
    const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
    for (let i = 0; i < 20000; i++) {
      if (rnd() & 1) mouse.write(rnd() & 0xff); else mouse.move((rnd() % 1000) - 500, (rnd() % 1000) - 500, (rnd() % 20) - 10, rnd() & 7);
      if (rnd() % 7 === 0) drain();
      expect(mouse.state.out.length).toBeLessThanOrEqual(256);
    }
    mouse.write(0xff);
    expect(drain()).toEqual([0xfa, 0xaa, 0x00]);
  });
});
