// A VGA (IBM VGA, as every PC graphics chip still decodes it): the register files behind ports
// 0x3C0-0x3DF (sequencer, CRT controller, graphics controller, attribute controller, DAC,
// miscellaneous output, input status) and 256 KiB of display memory in four planes, seen by the
// CPU through the window at 0xA0000-0xBFFFF. This first part does the text modes: the window the
// graphics controller's memory map selects, odd/even addressing (characters in plane 0,
// attributes in plane 1, the font in plane 2), and the text screen the CRT controller shows.
// The graphics modes' write modes and chain-4 are not here yet: in a graphics mode the window
// reads as all ones and ignores writes, and the screen reports it is not text.

import type { IoDevice, IoSize } from '../machine/io.js';

const PLANE = 0x10000;
/** Sequencer memory mode (index 4) bit 2 clear: odd/even addressing of the planes. */
const SEQ_MEMORY_MODE = 4;
const SEQ_ODD_EVEN_OFF = 1 << 2;
/** Graphics controller: miscellaneous register (index 6): bit 0 graphics mode, bits 3:2 memory map. */
const GC_MISC = 6;
/** CRT controller indices used to find the screen. */
const CRTC_HDISP_END = 0x01, CRTC_OVERFLOW = 0x07, CRTC_MAX_SCAN = 0x09, CRTC_CURSOR_START = 0x0a;
const CRTC_START_HI = 0x0c, CRTC_START_LO = 0x0d, CRTC_CURSOR_HI = 0x0e, CRTC_CURSOR_LO = 0x0f, CRTC_VDISP_END = 0x12;

export interface VgaState {
  misc: number;
  seqIndex: number; seq: number[];
  crtcIndex: number; crtc: number[];
  gcIndex: number; gc: number[];
  attrIndex: number; attrFlip: boolean; attr: number[];
  dacWrite: number; dacRead: number; dacStep: number; dac: Uint8Array;
  /** Four planes of 64 KiB. */
  vram: Uint8Array;
  guestErrors: number;
}

/** Registers as the VGA BIOS leaves them in mode 3 (80x25 text, 16 colours, 9x16 characters). */
function mode3(): VgaState {
  const crtc = [0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00,
    0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff];
  const attr = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    0x0c, 0x00, 0x0f, 0x08, 0x00];
  // The BIOS's mode set clears the text window to blanks: space, light grey on black.
  const vram = new Uint8Array(4 * PLANE);
  for (let a = 0; a < 0x8000; a += 2) { vram[a] = 0x20; vram[PLANE + a] = 0x07; }
  return {
    misc: 0x67,
    seqIndex: 0, seq: [0x03, 0x00, 0x03, 0x00, 0x02],
    crtcIndex: 0, crtc,
    gcIndex: 0, gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff],
    attrIndex: 0, attrFlip: false, attr,
    dacWrite: 0, dacRead: 0, dacStep: 0, dac: new Uint8Array(256 * 3),
    vram,
    guestErrors: 0,
  };
}

export class Vga {
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: VgaState = mode3();
  /** Bumped whenever what the screen shows may have changed (for whoever draws it). */
  changes = 0;

  /** Ports 0x3C0-0x3DF, at offsets 0..0x1F. */
  readonly ports: IoDevice = { name: 'vga', read: (o, s) => this.portRead(o, s), write: (o, s, v) => this.portWrite(o, s, v) };
  /** The CPU's window at 0xA0000-0xBFFFF, at offsets 0..0x1FFFF. */
  readonly window: IoDevice = { name: 'vga-memory', read: (o, s) => this.memRead(o, s), write: (o, s, v) => this.memWrite(o, s, v) };

  reset(): void { this.state = mode3(); this.changes++; }

  loadState(state: VgaState): void {
    this.state = { ...structuredClone(state), vram: new Uint8Array(state.vram), dac: new Uint8Array(state.dac) };
    this.changes++;
  }

  // ---- the window ----

  /** Plane and offset of window offset `o` (from 0xA0000), or null when the memory map leaves it out. */
  private locate(o: number): { plane: number; offset: number } | null {
    const s = this.state;
    let base: number, size: number;
    switch ((s.gc[GC_MISC]! >> 2) & 3) {
      case 0: base = 0; size = 0x20000; break;
      case 1: base = 0; size = 0x10000; break;
      case 2: base = 0x10000; size = 0x8000; break;
      default: base = 0x18000; size = 0x8000; break;
    }
    if (o < base || o >= base + size) return null;
    const a = o - base;
    if (s.seq[SEQ_MEMORY_MODE]! & SEQ_ODD_EVEN_OFF) return null; // planar or chain-4: not here yet
    // Odd/even: address bit 0 picks plane 0 or 1 (2 or 3 with the read map / map mask's high
    // planes), and the other bits address the plane.
    return { plane: a & 1, offset: a & 0xfffe };
  }

  private memRead(o: number, size: IoSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const at = this.locate(o + i);
      const plane = at === null ? -1 : at.plane | (this.state.gc[4]! & 2); // read map select: planes 2/3
      v |= (at === null ? 0xff : this.state.vram[plane * PLANE + at.offset]!) << (8 * i);
    }
    return v >>> 0;
  }

  private memWrite(o: number, size: IoSize, value: number): void {
    const s = this.state;
    for (let i = 0; i < size; i++) {
      const at = this.locate(o + i);
      if (at === null) continue;
      const b = (value >>> (8 * i)) & 0xff;
      // The map mask enables the planes; odd/even pairs plane 0 with 2 and 1 with 3.
      for (const plane of [at.plane, at.plane + 2]) {
        if (s.seq[2]! & (1 << plane)) s.vram[plane * PLANE + at.offset] = b;
      }
    }
    this.changes++;
  }

  // ---- the registers ----

  private portRead(o: number, _size: IoSize): number {
    const s = this.state;
    switch (o + 0x3c0) {
      case 0x3c0: return s.attrIndex;
      case 0x3c1: return s.attr[s.attrIndex & 0x1f] ?? 0;
      case 0x3c2: return 0x10; // input status 0: the monitor sense line reads a colour monitor
      case 0x3c4: return s.seqIndex;
      case 0x3c5: return s.seq[s.seqIndex] ?? 0xff;
      case 0x3c7: return s.dacStep === 0 ? 0 : 3; // DAC state: last written mode
      case 0x3c8: return s.dacWrite;
      case 0x3c9: {
        const v = s.dac[s.dacRead * 3 + s.dacStep]!;
        if (++s.dacStep === 3) { s.dacStep = 0; s.dacRead = (s.dacRead + 1) & 0xff; }
        return v;
      }
      case 0x3cc: return s.misc;
      case 0x3ce: return s.gcIndex;
      case 0x3cf: return s.gc[s.gcIndex] ?? 0xff;
      case 0x3d4: return s.crtcIndex;
      case 0x3d5: return s.crtc[s.crtcIndex] ?? 0xff;
      case 0x3da: {
        // Input status 1: reading it resets the attribute controller's flip-flop. The retrace
        // bits toggle on each read, so a driver waiting for a retrace edge sees one.
        s.attrFlip = false;
        this.retrace ^= 0x09;
        return this.retrace;
      }
      default: return 0xff;
    }
  }
  private retrace = 0;

  private portWrite(o: number, _size: IoSize, value: number): void {
    const s = this.state;
    const v = value & 0xff;
    switch (o + 0x3c0) {
      case 0x3c0:
        if (!s.attrFlip) s.attrIndex = v & 0x3f;
        else if ((s.attrIndex & 0x1f) < s.attr.length) s.attr[s.attrIndex & 0x1f] = v;
        s.attrFlip = !s.attrFlip;
        break;
      case 0x3c2: s.misc = v; break;
      case 0x3c4: s.seqIndex = v & 7; break;
      case 0x3c5: if (s.seqIndex < s.seq.length) s.seq[s.seqIndex] = v; break;
      case 0x3c7: s.dacRead = v; s.dacStep = 0; break;
      case 0x3c8: s.dacWrite = v; s.dacStep = 0; break;
      case 0x3c9:
        s.dac[s.dacWrite * 3 + s.dacStep] = v & 0x3f;
        if (++s.dacStep === 3) { s.dacStep = 0; s.dacWrite = (s.dacWrite + 1) & 0xff; }
        break;
      case 0x3ce: s.gcIndex = v & 0xf; break;
      case 0x3cf: if (s.gcIndex < s.gc.length) s.gc[s.gcIndex] = v; break;
      case 0x3d4: s.crtcIndex = v & 0x3f; break;
      case 0x3d5:
        // Registers 0-7 are locked by CRTC register 0x11 bit 7 (except the line compare bit of 7).
        if (s.crtcIndex < 7 && (s.crtc[0x11]! & 0x80)) break;
        if (s.crtcIndex < s.crtc.length) s.crtc[s.crtcIndex] = v;
        break;
      default: s.guestErrors++; return;
    }
    this.changes++;
  }

  // ---- what the screen shows ----

  /** In a text mode: columns, rows, the lines of characters (code page 437 as Latin-1 bytes) and the cursor. */
  textScreen(): { cols: number; rows: number; lines: string[]; cursor: { row: number; col: number } | null } | null {
    const s = this.state;
    if ((s.gc[GC_MISC]! & 1) || (s.attr[0x10]! & 1)) return null; // a graphics mode
    const cols = s.crtc[CRTC_HDISP_END]! + 1;
    const vdisp = (s.crtc[CRTC_VDISP_END]! | ((s.crtc[CRTC_OVERFLOW]! & 0x02) << 7) | ((s.crtc[CRTC_OVERFLOW]! & 0x40) << 3)) + 1;
    const charHeight = (s.crtc[CRTC_MAX_SCAN]! & 0x1f) + 1;
    const rows = Math.max(1, Math.floor(vdisp / charHeight));
    const start = (s.crtc[CRTC_START_HI]! << 8) | s.crtc[CRTC_START_LO]!;
    const lines: string[] = [];
    for (let r = 0; r < rows; r++) {
      let line = '';
      for (let c = 0; c < cols; c++) line += String.fromCharCode(s.vram[((start + r * cols + c) * 2) & 0xffff]!);
      lines.push(line);
    }
    const pos = ((s.crtc[CRTC_CURSOR_HI]! << 8) | s.crtc[CRTC_CURSOR_LO]!) - start;
    const cursorOff = (s.crtc[CRTC_CURSOR_START]! & 0x20) !== 0;
    const cursor = cursorOff || pos < 0 || pos >= rows * cols ? null : { row: Math.floor(pos / cols), col: pos % cols };
    return { cols, rows, lines, cursor };
  }
}
