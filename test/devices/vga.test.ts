// The VGA's register files and its text-mode memory (src/devices/vga.ts), against the IBM VGA
// Technical Reference: the attribute controller's index/data flip-flop (reset by reading Input
// Status 1), the DAC's auto-incrementing index, the CRTC write lock, the graphics controller's
// memory map select, and odd/even addressing (characters in plane 0, attributes in plane 1).
// Linux's vgacon drawing on it is in test/guest/linux.test.ts.
import { describe, expect, it } from 'vitest';
import { Vga } from '../../src/devices/vga';

const port = (vga: Vga) => ({
  out: (p: number, v: number) => vga.ports.write(p - 0x3c0, 1, v),
  in: (p: number) => vga.ports.read(p - 0x3c0, 1),
});

describe('VGA', () => {
  it('starts in mode 3: 80x25 text, blank, cursor at the top left', () => {
    const vga = new Vga();
    const t = vga.textScreen()!;
    expect([t.cols, t.rows]).toEqual([80, 25]);
    expect(t.lines.every((l) => l === ' '.repeat(80))).toBe(true);
    expect(t.cursor).toEqual({ row: 0, col: 0 });
  });

  it('odd/even text memory at 0xB8000: characters in plane 0, attributes in plane 1', () => {
    const vga = new Vga();
    const at = 0x18000 + (2 * 80 + 5) * 2; // row 2, column 5
    vga.window.write(at, 2, 0x1f41); // 'A', white on blue
    vga.window.write(at + 2, 1, 0x42);
    expect(vga.window.read(at, 2)).toBe(0x1f41);
    expect(vga.state.vram[(2 * 80 + 5) * 2]).toBe(0x41); // plane 0
    expect(vga.state.vram[0x10000 + (2 * 80 + 5) * 2]).toBe(0x1f); // plane 1
    expect(vga.textScreen()!.lines[2]!.slice(5, 7)).toBe('AB');
    // The memory map (GC register 6 bits 3:2) puts text at 0xB8000 only: 0xB0000 reads as ones.
    expect(vga.window.read(0x10000, 1)).toBe(0xff);
    const { out } = port(vga);
    out(0x3ce, 6); out(0x3cf, 0x0a); // map 0xB0000-0xB7FFF (monochrome window)
    expect(vga.window.read(0x10000 + (2 * 80 + 5) * 2, 1)).toBe(0x41);
  });

  it('the CRTC start address scrolls the screen and its cursor registers place the cursor', () => {
    const vga = new Vga();
    vga.window.write(0x18000 + 80 * 2, 1, 0x5a); // row 1, column 0
    const { out } = port(vga);
    out(0x3d4, 0x0c); out(0x3d5, 0); out(0x3d4, 0x0d); out(0x3d5, 80); // start at row 1
    out(0x3d4, 0x0e); out(0x3d5, 0); out(0x3d4, 0x0f); out(0x3d5, 80 + 3);
    const t = vga.textScreen()!;
    expect(t.lines[0]![0]).toBe('Z');
    expect(t.cursor).toEqual({ row: 0, col: 3 });
    out(0x3d4, 0x0a); out(0x3d5, 0x20); // cursor disable
    expect(vga.textScreen()!.cursor).toBeNull();
  });

  it('attribute controller flip-flop, DAC auto-increment, CRTC registers 0-6 locked by 0x11 bit 7', () => {
    const vga = new Vga();
    const { out, in: inp } = port(vga);
    inp(0x3da); // reset the flip-flop: next 0x3C0 write is an index
    out(0x3c0, 0x01); out(0x3c0, 0x2a); // palette register 1 := 0x2a
    expect(vga.state.attr[1]).toBe(0x2a);
    out(0x3c0, 0x02); inp(0x3da); out(0x3c0, 0x03); out(0x3c0, 0x15); // the read reset the flip-flop
    expect(vga.state.attr[3]).toBe(0x15);
    out(0x3c8, 5); out(0x3c9, 1); out(0x3c9, 2); out(0x3c9, 3); out(0x3c9, 0x7f);
    out(0x3c7, 5);
    expect([inp(0x3c9), inp(0x3c9), inp(0x3c9), inp(0x3c9)]).toEqual([1, 2, 3, 0x3f]); // 6-bit DAC, index 6 next
    out(0x3d4, 0x11); out(0x3d5, 0x8e); // protect
    out(0x3d4, 0x01); out(0x3d5, 0x27);
    expect(vga.textScreen()!.cols).toBe(80);
    out(0x3d4, 0x11); out(0x3d5, 0x0e);
    out(0x3d4, 0x01); out(0x3d5, 0x27);
    expect(vga.textScreen()!.cols).toBe(40);
  });

  it('a graphics mode is reported as no text screen; garbage never throws', () => {
    const vga = new Vga();
    const { out } = port(vga);
    out(0x3ce, 6); out(0x3cf, 0x05); // graphics, 0xA0000 64 KiB
    expect(vga.textScreen()).toBeNull();
    let seed = 7;
    const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
    for (let i = 0; i < 20000; i++) {
      const r = rnd();
      if (r & 1) vga.ports.write(r % 0x20, 1, rnd() & 0xff); else vga.ports.read(r % 0x20, 1);
      vga.window.write(rnd() % 0x20000, ([1, 2, 4] as const)[rnd() % 3]!, rnd());
      expect(Number.isInteger(vga.window.read(rnd() % 0x20000, 1))).toBe(true);
      vga.textScreen();
    }
  });
});
