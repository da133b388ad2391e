// The VGA (src/devices/vga*.ts), against the IBM VGA Technical Reference: the attribute
// controller's index/data flip-flop (reset by reading Input Status 1), the DAC's auto-incrementing
// index, the CRTC write lock, the graphics controller's memory map select, odd/even and chain-4
// addressing, the latches, read modes 0-1 and write modes 0-3; and the scanout: text from the font
// in plane 2, modes 13h, 12h, 4 and 6, through the attribute controller and the DAC. Each test
// programs the registers through the ports and memory through the window, as a guest does.
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

// ---- the memory system and the scanout (IBM VGA Technical Reference; FreeVGA's register pages) ----

/** A guest's view: ports by their addresses, the window by its offset from 0xA0000. */
function guest(vga: Vga) {
  const out = (p: number, v: number) => vga.ports.write(p - 0x3c0, 1, v);
  const inp = (p: number) => vga.ports.read(p - 0x3c0, 1);
  return {
    out, inp,
    seq: (i: number, v: number) => { out(0x3c4, i); out(0x3c5, v); },
    gc: (i: number, v: number) => { out(0x3ce, i); out(0x3cf, v); },
    crtc: (i: number, v: number) => { out(0x3d4, i); out(0x3d5, v); },
    /** Attribute register i := v, then give the palette back to the screen (index bit 5, PAS). */
    attr: (i: number, v: number) => { inp(0x3da); out(0x3c0, i); out(0x3c0, v); out(0x3c0, 0x20); },
    dac: (i: number, r: number, g: number, b: number) => { out(0x3c8, i); out(0x3c9, r); out(0x3c9, g); out(0x3c9, b); },
    wr: (a: number, v: number) => vga.window.write(a, 1, v),
    rd: (a: number) => vga.window.read(a, 1),
  };
}
type Guest = ReturnType<typeof guest>;

/** A mode set as a VGA BIOS does it, from the IBM standard register tables. */
function setMode(g: Guest, m: { misc: number; seq: number[]; crtc: number[]; attr: number[]; gc: number[] }) {
  // Clear all four planes first: planar, map mask 0x0F, write mode 0 straight through.
  g.seq(4, 0x06); g.seq(2, 0x0f);
  g.gc(1, 0x00); g.gc(3, 0x00); g.gc(5, 0x00); g.gc(6, 0x05); g.gc(8, 0xff);
  for (let a = 0; a < 0x10000; a++) g.wr(a, 0);
  g.seq(0, 0x01); // synchronous reset while the clocks change
  g.out(0x3c2, m.misc);
  m.seq.forEach((v, i) => g.seq(i + 1, v));
  g.seq(0, 0x03);
  g.crtc(0x11, 0x00); // unlock CRTC 0-7 (register 0x11 bit 7)
  m.crtc.forEach((v, i) => g.crtc(i, v));
  g.inp(0x3da);
  m.attr.forEach((v, i) => { g.out(0x3c0, i); g.out(0x3c0, v); });
  g.out(0x3c0, 0x20);
  m.gc.forEach((v, i) => g.gc(i, v));
}

const MODE_13H = {
  misc: 0x63, seq: [0x01, 0x0f, 0x00, 0x0e],
  crtc: [0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x9c, 0x8e, 0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff],
  attr: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x41, 0x00, 0x0f, 0x00, 0x00],
  gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff],
};
const MODE_12H = {
  misc: 0xe3, seq: [0x01, 0x0f, 0x00, 0x06],
  crtc: [0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xea, 0x8c, 0xdf, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff],
  attr: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x01, 0x00, 0x0f, 0x00, 0x00],
  gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0f, 0xff],
};
const MODE_04H = {
  misc: 0x63, seq: [0x09, 0x03, 0x00, 0x02],
  crtc: [0x2d, 0x27, 0x28, 0x90, 0x2b, 0x80, 0xbf, 0x1f, 0x00, 0xc1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x9c, 0x8e, 0x8f, 0x14, 0x00, 0x96, 0xb9, 0xa2, 0xff],
  attr: [0x00, 0x13, 0x15, 0x17, 0x02, 0x04, 0x06, 0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x01, 0x00, 0x03, 0x00, 0x00],
  gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x0f, 0x0f, 0xff],
};
const MODE_06H = {
  misc: 0x63, seq: [0x01, 0x01, 0x00, 0x06],
  crtc: [0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00, 0xc1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x9c, 0x8e, 0x8f, 0x28, 0x00, 0x96, 0xb9, 0xc2, 0xff],
  attr: [0x00, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x01, 0x00, 0x01, 0x00, 0x00],
  gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x0f, 0xff],
};

/** Planar addressing at 0xA0000 (sequencer memory mode 0x06: odd/even off; GC misc 0x05: graphics, 64K map). */
function planar(vga: Vga): Guest {
  const g = guest(vga);
  g.seq(4, 0x06); g.seq(2, 0x0f);
  g.gc(5, 0x00); g.gc(6, 0x05);
  vga.state.vram.fill(0); // test set-up: no mode 3 blanks in planes 0 and 1
  return g;
}
const planes = (vga: Vga, offset: number) => [0, 1, 2, 3].map((p) => vga.state.vram[p * 0x10000 + offset]);
/** Put bytes straight into the planes at an offset (test set-up, not a guest access). */
const fill = (vga: Vga, offset: number, bytes: number[]) => bytes.forEach((b, p) => { vga.state.vram[p * 0x10000 + offset] = b; });

/** A rendered frame and its pixels as [r, g, b] (alpha is checked to be opaque). */
function frame(vga: Vga) {
  const data = new Uint8ClampedArray(1024 * 768 * 4);
  const size = vga.render(data, 1024, 768)!;
  const at = (x: number, y: number) => {
    const i = (y * size.width + x) * 4;
    expect(data[i + 3]).toBe(255);
    return [data[i], data[i + 1], data[i + 2]];
  };
  return { size, at };
}
/** A 6-bit DAC level as the renderer widens it to 8 bits. */
const wide = (v: number) => (v << 2) | (v >> 4);

describe('VGA memory: write modes, latches, read modes (graphics controller registers 0-8)', () => {
  it('write mode 0: set/reset (GC 0) on the planes enable set/reset (GC 1) picks, CPU data on the others', () => {
    const vga = new Vga();
    const g = planar(vga);
    g.gc(0, 0x05); g.gc(1, 0x0f); // every plane from set/reset: 1,0,1,0
    g.wr(0x10, 0x3c);
    expect(planes(vga, 0x10)).toEqual([0xff, 0x00, 0xff, 0x00]);
    g.gc(1, 0x03); // planes 0-1 from set/reset, 2-3 from the CPU's byte
    g.wr(0x11, 0x3c);
    expect(planes(vga, 0x11)).toEqual([0xff, 0x00, 0x3c, 0x3c]);
  });

  it('write mode 0: data rotate (GC 3 bits 2:0) turns the CPU byte right before it is written', () => {
    const vga = new Vga();
    const g = planar(vga);
    g.gc(3, 0x01);
    g.wr(0, 0x81);
    expect(planes(vga, 0)).toEqual([0xc0, 0xc0, 0xc0, 0xc0]);
    g.gc(3, 0x04);
    g.wr(1, 0x12);
    expect(planes(vga, 1)).toEqual([0x21, 0x21, 0x21, 0x21]);
  });

  it('every read loads the four latches; the bit mask (GC 8) keeps latched bits where it is 0', () => {
    const vga = new Vga();
    const g = planar(vga);
    fill(vga, 0x20, [0x11, 0x22, 0x44, 0x88]);
    g.rd(0x20);
    expect(vga.state.latches).toEqual([0x11, 0x22, 0x44, 0x88]);
    g.gc(8, 0xf0);
    g.wr(0x20, 0xff); // high nibble from the CPU, low nibble from the latches
    expect(planes(vga, 0x20)).toEqual([0xf1, 0xf2, 0xf4, 0xf8]);
    // The latches, not memory, supply the kept bits: a write to another offset takes them too.
    g.wr(0x21, 0x00);
    expect(planes(vga, 0x21)).toEqual([0x01, 0x02, 0x04, 0x08]);
  });

  it('the logical function (GC 3 bits 4:3) combines the data with the latches: AND, OR, XOR', () => {
    const vga = new Vga();
    const g = planar(vga);
    const run = (func: number, data: number) => {
      fill(vga, 0x30, [0xf0, 0x0f, 0xff, 0x00]);
      g.rd(0x30);
      g.gc(3, func << 3);
      g.wr(0x30, data);
      return planes(vga, 0x30);
    };
    expect(run(0, 0x3c)).toEqual([0x3c, 0x3c, 0x3c, 0x3c]);
    expect(run(1, 0x3c)).toEqual([0x30, 0x0c, 0x3c, 0x00]);
    expect(run(2, 0x3c)).toEqual([0xfc, 0x3f, 0xff, 0x3c]);
    expect(run(3, 0x3c)).toEqual([0xcc, 0x33, 0xc3, 0x3c]);
  });

  it('write mode 1 (GC 5 bits 1:0 = 1) writes the latches back: a copy of all four planes in one byte', () => {
    const vga = new Vga();
    const g = planar(vga);
    fill(vga, 0x100, [0x12, 0x34, 0x56, 0x78]);
    g.gc(5, 0x01); g.gc(8, 0x00); g.gc(3, 0x18); // bit mask and function do not apply in write mode 1
    g.rd(0x100);
    g.wr(0x200, 0xaa);
    expect(planes(vga, 0x200)).toEqual([0x12, 0x34, 0x56, 0x78]);
    g.seq(2, 0x05); // the map mask (sequencer 2) still gates it
    g.wr(0x300, 0);
    expect(planes(vga, 0x300)).toEqual([0x12, 0, 0x56, 0]);
  });

  it('write mode 2 (GC 5 = 2): CPU bit n fills plane n, the bit mask picks the pixels', () => {
    const vga = new Vga();
    const g = planar(vga);
    fill(vga, 0x40, [0xff, 0x00, 0xff, 0x00]);
    g.rd(0x40);
    g.gc(5, 0x02); g.gc(8, 0x81); // leftmost and rightmost pixels
    g.wr(0x40, 0x0a); // colour 1010
    expect(planes(vga, 0x40)).toEqual([0x7e, 0x81, 0x7e, 0x81]);
  });

  it('write mode 3 (GC 5 = 3): set/reset is the colour, the rotated CPU byte ANDed with the bit mask is the mask', () => {
    const vga = new Vga();
    const g = planar(vga);
    fill(vga, 0x50, [0xff, 0xff, 0x00, 0x00]);
    g.rd(0x50);
    g.gc(5, 0x03); g.gc(0, 0x0c); g.gc(1, 0x00); // enable set/reset does not matter in write mode 3
    g.gc(8, 0xf0); g.gc(3, 0x02); // rotate right by 2
    g.wr(0x50, 0xf0); // rotated 0x3c, AND bit mask 0xf0 = 0x30
    expect(planes(vga, 0x50)).toEqual([0xcf, 0xcf, 0x30, 0x30]);
  });

  it('the map mask (sequencer 2) gates every write mode', () => {
    const vga = new Vga();
    const g = planar(vga);
    g.seq(2, 0x0a);
    g.wr(0x60, 0x5a);
    expect(planes(vga, 0x60)).toEqual([0, 0x5a, 0, 0x5a]);
  });

  it('read mode 0 returns the plane read map select (GC 4) names; read mode 1 (GC 5 bit 3) compares colours', () => {
    const vga = new Vga();
    const g = planar(vga);
    // Eight pixels with colours 0..7 (left to right), plane p holding bit p of each.
    const colours = [0, 1, 2, 3, 4, 5, 6, 7];
    const plane = (p: number) => colours.reduce((b, c, i) => b | (((c >> p) & 1) << (7 - i)), 0);
    fill(vga, 0x70, [plane(0), plane(1), plane(2), plane(3)]);
    g.gc(4, 2);
    expect(g.rd(0x70)).toBe(plane(2));
    g.gc(5, 0x08); // read mode 1
    g.gc(2, 0x05); g.gc(7, 0x0f); // colour 5, all planes compared
    expect(g.rd(0x70)).toBe(0b00000100);
    g.gc(7, 0x01); // colour don't care (GC 7): only plane 0 takes part, so every odd colour matches
    expect(g.rd(0x70)).toBe(0b01010101);
    g.gc(7, 0x00); // no plane compared: everything matches
    expect(g.rd(0x70)).toBe(0xff);
  });

  it('chain-4 (sequencer 4 bit 3): A1:A0 pick the plane, the offset is the address with them cleared', () => {
    const vga = new Vga();
    setMode(guest(vga), MODE_13H);
    const g = guest(vga);
    for (let a = 0; a < 8; a++) g.wr(0x1000 + a, 0x10 + a);
    expect(planes(vga, 0x1000)).toEqual([0x10, 0x11, 0x12, 0x13]);
    expect(planes(vga, 0x1004)).toEqual([0x14, 0x15, 0x16, 0x17]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((a) => g.rd(0x1000 + a))).toEqual([0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17]);
    expect(vga.window.read(0x1000, 4)).toBe(0x13121110);
    g.seq(2, 0x0b); // map mask without plane 2: A1:A0 = 2 is not written
    g.wr(0x1002, 0xee);
    expect(g.rd(0x1002)).toBe(0x12);
  });

  it('odd/even (sequencer 4 bit 2 clear for writes, GC 5 bit 4 for reads): A0 picks the plane of a pair', () => {
    const vga = new Vga(); // mode 3: odd/even at 0xB8000
    const g = guest(vga);
    g.seq(2, 0x0f); // map mask with planes 2 and 3: even bytes reach planes 0 and 2, odd ones 1 and 3
    vga.window.write(0x18000 + 0x42, 2, 0x3c41);
    expect(planes(vga, 0x42)).toEqual([0x41, 0x3c, 0x41, 0x3c]);
    g.gc(4, 2); g.seq(2, 0x0c);
    vga.window.write(0x18000 + 0x42, 2, 0x9988);
    expect(planes(vga, 0x42)).toEqual([0x41, 0x3c, 0x88, 0x99]);
    expect(vga.window.read(0x18000 + 0x42, 2)).toBe(0x9988); // read map select bit 1: planes 2 and 3
    g.gc(4, 0);
    expect(vga.window.read(0x18000 + 0x42, 2)).toBe(0x3c41);
    g.gc(5, 0x00); // host odd/even off: reads are planar, the read map select's plane at the full address
    expect(vga.window.read(0x18000 + 0x42, 1)).toBe(0x41);
    expect(vga.window.read(0x18000 + 0x43, 1)).toBe(0);
  });

  it('the misc output register bit 1 (RAM enable) cuts the CPU off from display memory', () => {
    const vga = new Vga();
    const g = guest(vga);
    g.out(0x3c2, 0x65);
    g.wr(0x18000, 0x55);
    expect(g.rd(0x18000)).toBe(0xff);
    g.out(0x3c2, 0x67);
    expect(g.rd(0x18000)).toBe(0x20);
  });

  it('a word OUT to an index port writes the index then the data (as a BIOS sets registers)', () => {
    const vga = new Vga();
    vga.ports.write(0x3ce - 0x3c0, 2, 0x5508); // GC 8 := 0x55
    expect(vga.state.gc[8]).toBe(0x55);
  });
});

describe('VGA scanout', () => {
  /** Load an 8x16 glyph for `ch` into character map `map` of plane 2, as a VGA BIOS loads its font. */
  function loadGlyph(g: Guest, map: number, ch: number, rows: number[]) {
    g.seq(2, 0x04); g.seq(4, 0x07); // map mask: plane 2 only; odd/even off (planar writes)
    g.gc(4, 0x02); g.gc(5, 0x00); g.gc(6, 0x04); // read plane 2, host odd/even off, A0000 64K
    const base = ((map & 3) << 14) | ((map & 4) << 11);
    rows.forEach((r, i) => g.wr(base + ch * 32 + i, r));
    g.seq(2, 0x03); g.seq(4, 0x03); // back to odd/even text
    g.gc(4, 0x00); g.gc(5, 0x10); g.gc(6, 0x0e);
  }
  const GLYPH = [0x00, 0x18, 0x3c, 0x66, 0xc3, 0xff, 0xc3, 0xc3, 0x81, 0x42, 0x24, 0x18, 0x00, 0x7e, 0x00, 0x01];

  it('mode 3: 720x400; a glyph from plane 2 in the attribute\'s colours through the palette and the DAC', () => {
    const vga = new Vga();
    const g = guest(vga);
    loadGlyph(g, 0, 0x41, GLYPH);
    expect(vga.state.vram[2 * 0x10000 + 0x41 * 32 + 4]).toBe(0xc3);
    g.crtc(0x0e, 0x07); g.crtc(0x0f, 0xd0); // cursor off the screen (CRTC 0x0E/0x0F = 2000)
    vga.window.write(0x18000 + (1 * 80 + 2) * 2, 2, 0x1e41); // row 1, column 2: 'A', yellow on blue
    g.dac(0x3e, 0x3f, 0x3f, 0x10); // palette register 14 = 0x3e
    const f = frame(vga);
    expect(f.size).toEqual({ width: 720, height: 400 }); // 80 x 9 dots (sequencer 1 bit 0 clear), 400 lines
    const fg = [255, 255, wide(0x10)], bg = [0, 0, wide(0x2a)]; // blue: palette register 1 = DAC 1 = (0, 0, 0x2a)
    for (let row = 0; row < 16; row++) {
      for (let dot = 0; dot < 9; dot++) {
        const on = dot < 8 && (GLYPH[row]! & (0x80 >> dot)) !== 0; // the 9th dot is background for 'A'
        expect(f.at(2 * 9 + dot, 16 + row)).toEqual(on ? fg : bg);
      }
    }
    expect(f.at(0, 0)).toEqual([0, 0, 0]); // a blank: space in light grey on black, and no font for it
  });

  it('the 9th dot copies the 8th for C0-DF with line graphics (attribute mode bit 2); 8-dot clocks (sequencer 1 bit 0)', () => {
    const vga = new Vga();
    const g = guest(vga);
    loadGlyph(g, 0, 0xc4, new Array(16).fill(0x01));
    loadGlyph(g, 0, 0x44, new Array(16).fill(0x01));
    vga.window.write(0x18000, 2, 0x07c4);
    vga.window.write(0x18002, 2, 0x0744);
    g.crtc(0x0a, 0x20); // cursor off (CRTC 0x0A bit 5)
    const grey = [wide(0x2a), wide(0x2a), wide(0x2a)];
    let f = frame(vga);
    expect(f.at(8, 3)).toEqual(grey);        // C4: the 8th dot repeated
    expect(f.at(9 + 8, 3)).toEqual([0, 0, 0]); // 44: background
    g.attr(0x10, 0x08); // line graphics off
    f = frame(vga);
    expect(f.at(8, 3)).toEqual([0, 0, 0]);
    g.seq(1, 0x01); // 8-dot characters: 640 wide, the next character starts at dot 8
    f = frame(vga);
    expect(f.size).toEqual({ width: 640, height: 400 });
    expect(f.at(7, 3)).toEqual(grey);
    expect(f.at(8 + 7, 3)).toEqual(grey);
  });

  it('character map select (sequencer 3): attribute bit 3 picks map A, clear picks map B', () => {
    const vga = new Vga();
    const g = guest(vga);
    loadGlyph(g, 0, 0x41, new Array(16).fill(0x80));
    loadGlyph(g, 5, 0x41, new Array(16).fill(0x01)); // map 5 is at 0x6000 in plane 2
    g.seq(3, 0x24); // map A = 5 (bits 5,3,2 = 1,0,1), map B = 0
    vga.window.write(0x18000, 2, 0x0f41); // bit 3 set: map A
    vga.window.write(0x18002, 2, 0x0741); // bit 3 clear: map B
    g.crtc(0x0a, 0x20);
    const f = frame(vga);
    expect(f.at(0, 5)).toEqual([0, 0, 0]);
    expect(f.at(7, 5)).toEqual([255, 255, 255]);
    expect(f.at(9, 5)).toEqual([wide(0x2a), wide(0x2a), wide(0x2a)]);
    expect(f.at(9 + 7, 5)).toEqual([0, 0, 0]);
  });

  it('the cursor (CRTC 0x0A-0x0B scan lines, 0x0E-0x0F address) fills its lines with the foreground', () => {
    const vga = new Vga(); // mode 3 cursor: lines 13-14 (0x0d, 0x0e), at address 0
    guest(vga).crtc(0x0f, 81); // row 1, column 1
    vga.window.write(0x18000 + 81 * 2, 2, 0x0420); // space, red on black
    const f = frame(vga);
    const red = [wide(0x2a), 0, 0];
    expect(f.at(9 + 4, 16 + 12)).toEqual([0, 0, 0]);
    expect(f.at(9 + 4, 16 + 13)).toEqual(red);
    expect(f.at(9 + 8, 16 + 14)).toEqual(red);
    expect(f.at(9 + 4, 16 + 15)).toEqual([0, 0, 0]);
  });

  it('attribute bit 7 is blink (attribute mode bit 3: background 0-7, character shown) or background intensity', () => {
    const vga = new Vga();
    const g = guest(vga);
    loadGlyph(g, 0, 0x41, new Array(16).fill(0xf0));
    g.crtc(0x0a, 0x20);
    vga.window.write(0x18000, 2, 0x9f41); // blink, blue background, white
    let f = frame(vga);
    expect(f.at(0, 0)).toEqual([255, 255, 255]);
    expect(f.at(5, 0)).toEqual([0, 0, wide(0x2a)]); // background 1
    g.attr(0x10, 0x04); // blink off: background 9 (palette register 9 = 0x39)
    f = frame(vga);
    expect(f.at(5, 0)).toEqual([wide(0x15), wide(0x15), 255]);
  });

  it('start address (CRTC 0x0C-0x0D), line offset (0x13) and max scan line (0x09) place the rows', () => {
    const vga = new Vga();
    const g = guest(vga);
    loadGlyph(g, 0, 0x41, new Array(16).fill(0xff));
    g.crtc(0x0a, 0x20);
    g.crtc(0x13, 0x30); // 96 characters a row in memory, 80 shown
    g.crtc(0x09, 0x47); // 8 scan lines a character row
    g.crtc(0x0d, 4); // start at character 4
    vga.window.write(0x18000 + (4 + 96 + 3) * 2, 2, 0x0741); // memory row 1, shown column 3
    const f = frame(vga);
    const grey = [wide(0x2a), wide(0x2a), wide(0x2a)];
    expect(f.at(3 * 9, 8)).toEqual(grey);
    expect(f.at(3 * 9, 7)).toEqual([0, 0, 0]);
    expect(f.at(3 * 9, 16)).toEqual([0, 0, 0]);
  });

  it('mode 13h: 320x200 in 256 colours shown as 640x400, pixel n at plane n&3 offset n&~3, through the DAC', () => {
    const vga = new Vga();
    const g = guest(vga);
    setMode(g, MODE_13H);
    g.dac(0x2a, 0x3f, 0x20, 0x00);
    g.dac(0x00, 0x00, 0x00, 0x00);
    g.dac(0x99, 0x01, 0x02, 0x03);
    g.wr(5 * 320 + 10, 0x2a);
    g.wr(199 * 320 + 319, 0x99);
    expect(vga.state.vram[2 * 0x10000 + ((5 * 320 + 10) & ~3)]).toBe(0x2a);
    expect(vga.displaySize()).toEqual({ width: 640, height: 400 });
    const f = frame(vga);
    expect(f.size).toEqual({ width: 640, height: 400 });
    // Each pixel is 2 dots (attribute mode bit 6) by 2 scan lines (max scan line 1).
    for (const [x, y] of [[20, 10], [21, 10], [20, 11], [21, 11]] as const) expect(f.at(x, y)).toEqual([255, wide(0x20), 0]);
    expect(f.at(19, 10)).toEqual([0, 0, 0]);
    expect(f.at(22, 10)).toEqual([0, 0, 0]);
    expect(f.at(20, 12)).toEqual([0, 0, 0]);
    expect(f.at(639, 399)).toEqual([wide(1), wide(2), wide(3)]);
    g.out(0x3c6, 0x0f); // DAC pixel mask: 0x2a & 0x0f = 0x0a
    g.dac(0x0a, 0x00, 0x3f, 0x00);
    expect(frame(vga).at(20, 10)).toEqual([0, 255, 0]);
  });

  it('mode 12h: a 16-colour pixel from the four planes through palette register and DAC', () => {
    const vga = new Vga();
    const g = guest(vga);
    setMode(g, MODE_12H);
    g.dac(0x3c, 0x3f, 0x15, 0x15); // palette register 12 = 0x3c
    // Pixel (3, 7) := colour 12, the usual way: write mode 2 with the bit mask on one pixel.
    g.gc(5, 0x02); g.gc(8, 0x80 >> 3);
    g.rd(7 * 80);
    g.wr(7 * 80, 0x0c);
    expect(planes(vga, 7 * 80)).toEqual([0, 0, 0x10, 0x10]);
    const f = frame(vga);
    expect(f.size).toEqual({ width: 640, height: 480 });
    expect(f.at(3, 7)).toEqual([255, wide(0x15), wide(0x15)]);
    expect(f.at(2, 7)).toEqual([0, 0, 0]);
    expect(f.at(4, 7)).toEqual([0, 0, 0]);
    g.attr(0x12, 0x07); // colour plane enable without plane 3: the pixel is colour 4 (palette 4 = DAC 4)
    expect(frame(vga).at(3, 7)).toEqual([wide(0x2a), 0, 0]);
  });

  it('mode 4: CGA 2-bit pixels (GC 5 bit 5), odd scan lines at +8K (CRTC 0x17 bit 0), doubled dots and lines', () => {
    const vga = new Vga();
    const g = guest(vga);
    setMode(g, MODE_04H);
    g.dac(0x13, 0x00, 0x3f, 0x2a); g.dac(0x15, 0x3f, 0x00, 0x3f); g.dac(0x17, 0x3f, 0x3f, 0x3f);
    g.wr(0x18000 + 0x2000 + 80 * 2 + 1, 0x1b); // line 5 (odd: second bank), pixels 4-7: colours 0,1,2,3
    expect(vga.state.vram[0x10000 + 0x2000 + 160]).toBe(0x1b); // odd address: plane 1
    const f = frame(vga);
    expect(f.size).toEqual({ width: 640, height: 400 }); // 320 dots, each shown twice; 200 lines, each twice
    const y = 5 * 2;
    expect(f.at(4 * 2, y)).toEqual([0, 0, 0]);
    expect(f.at(5 * 2, y)).toEqual([0, 255, wide(0x2a)]);
    expect(f.at(6 * 2 + 1, y + 1)).toEqual([255, 0, 255]);
    expect(f.at(7 * 2, y)).toEqual([255, 255, 255]);
    expect(f.at(7 * 2, y - 2)).toEqual([0, 0, 0]); // line 4, in the first bank, is empty
  });

  it('mode 6: 640x200 in 2 colours from plane 0, odd lines at +8K', () => {
    const vga = new Vga();
    const g = guest(vga);
    setMode(g, MODE_06H);
    g.dac(0x17, 0x3f, 0x3f, 0x3f);
    g.wr(0x18000 + 0x2000 + 80 * 1 + 2, 0x81); // line 3, pixels 16 and 23
    const f = frame(vga);
    expect(f.size).toEqual({ width: 640, height: 400 });
    expect(f.at(16, 6)).toEqual([255, 255, 255]);
    expect(f.at(17, 7)).toEqual([0, 0, 0]);
    expect(f.at(23, 7)).toEqual([255, 255, 255]);
  });

  it('line compare (CRTC 0x18, 0x07 bit 4, 0x09 bit 6) restarts the address counter at 0 below its line', () => {
    const vga = new Vga();
    const g = guest(vga);
    setMode(g, MODE_12H);
    g.dac(0x3f, 0x3f, 0x3f, 0x3f);
    g.wr(0, 0xff); // line 0 of memory: white
    g.crtc(0x0c, 0x10); // the top of the screen starts at 0x1000 (blank)
    g.crtc(0x18, 99); g.crtc(0x07, 0x2e); g.crtc(0x09, 0x00); // line compare 99: bits 8 and 9 clear
    const f = frame(vga);
    expect(f.at(0, 0)).toEqual([0, 0, 0]);
    expect(f.at(0, 99)).toEqual([0, 0, 0]);
    expect(f.at(0, 100)).toEqual([255, 255, 255]);
    expect(f.at(0, 101)).toEqual([0, 0, 0]);
  });

  it('the screen is blank with screen off (sequencer 1 bit 5) or the palette given to the CPU (attribute index bit 5)', () => {
    const vga = new Vga();
    const g = guest(vga);
    const data = new Uint32Array(720 * 400);
    expect(vga.render(data, 720, 400)).toEqual({ width: 720, height: 400 });
    const before = vga.changes;
    g.seq(1, 0x20);
    expect(vga.changes).toBeGreaterThan(before);
    expect(vga.render(data, 720, 400)).toBeNull();
    expect(vga.displaySize()).toBeNull();
    g.seq(1, 0x00);
    g.inp(0x3da); g.out(0x3c0, 0x01); // an index with PAS clear
    expect(vga.render(data, 720, 400)).toBeNull();
    g.out(0x3c0, 0x01); g.out(0x3c0, 0x20);
    expect(vga.render(data, 720, 400)).not.toBeNull();
  });

  it('clips to maxWidth x maxHeight and to the target, rows packed at the clipped width', () => {
    const vga = new Vga();
    const data = new Uint32Array(100 * 50 + 10).fill(0x12345678);
    expect(vga.render(data, 100, 1000)).toEqual({ width: 100, height: 50 });
    expect(data[100 * 50]).toBe(0x12345678);
    expect(vga.render(data, 0, 10)).toEqual({ width: 0, height: 0 });
  });

  it('a snapshot keeps the latches and copies the planes', () => {
    const vga = new Vga();
    const g = planar(vga);
    fill(vga, 0, [1, 2, 3, 4]);
    g.rd(0);
    const copy = new Vga();
    copy.loadState(vga.state);
    expect(copy.state.latches).toEqual([1, 2, 3, 4]);
    vga.state.vram[0] = 9;
    expect(copy.state.vram[0]).toBe(1);
  });

  it('fuzz: random port writes and window accesses never throw; render never throws or writes past its frame', () => {
    const vga = new Vga();
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 8; };
    const guard = 0x5a5a5a5a;
    let drawn = 0;
    for (let round = 0; round < 300; round++) {
      for (let i = 0; i < 200; i++) {
        const r = rnd();
        if (r & 1) vga.ports.write(r % 0x20, 1, rnd() & 0xff); else vga.ports.read(r % 0x20, 1);
        if (rnd() & 1) vga.window.write(rnd() % 0x20000, ([1, 2, 4] as const)[rnd() % 3]!, rnd() & 0xff);
        else expect(Number.isInteger(vga.window.read(rnd() % 0x20000, ([1, 2, 4] as const)[rnd() % 3]!))).toBe(true);
      }
      // Keep the screen on most of the time so render has something to do.
      if (round % 3) { vga.ports.read(0x1a, 1); vga.ports.write(0, 1, 0x20); vga.state.seq[1]! &= ~0x20; }
      const maxW = [0, 1, 17, 320, 800, 5000][rnd() % 6]!, maxH = [0, 1, 9, 200, 600, 3000][rnd() % 6]!;
      const len = rnd() % (320 * 240);
      const target = new Uint32Array(len + 64).fill(guard);
      const size = vga.render(target.subarray(0, len), maxW, maxH);
      vga.displaySize();
      vga.textScreen();
      const used = size === null ? 0 : size.width * size.height;
      if (used > 0) drawn++;
      if (size !== null) {
        expect(size.width).toBeLessThanOrEqual(maxW);
        expect(size.height).toBeLessThanOrEqual(maxH);
        expect(used).toBeLessThanOrEqual(len);
      }
      for (let i = used; i < len + 64; i++) if (target[i] !== guard) expect.fail(`pixel ${i} written past ${used}`);
      // An ImageData-like byte array at an odd offset takes the same path through a copy.
      const bytes = new Uint8ClampedArray(4 * 64 * 64 + 9);
      const view = bytes.subarray(1, 1 + 4 * 64 * 64);
      const s2 = vga.render(view, 64, 64);
      if (s2 !== null) expect(bytes[0]).toBe(0);
      expect(bytes[4 * 64 * 64 + 1]).toBe(0);
    }
    expect(drawn).toBeGreaterThan(50); // the fuzz reached the scanout, not just the blank screen
  });
});
