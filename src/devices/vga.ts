// A VGA (IBM VGA, as every PC graphics chip still decodes it): the register files behind ports
// 0x3C0-0x3DF (sequencer, CRT controller, graphics controller, attribute controller, DAC,
// miscellaneous output, input status) and 256 KiB of display memory in four planes, seen by the
// CPU through the window at 0xA0000-0xBFFFF. This file decodes the ports and holds the state;
// vga-memory.ts is the window (addressing, latches, read and write modes), vga-render.ts draws
// what the monitor shows, vga-registers.ts names the registers and their bits.
//
// Only the colour I/O addresses are here (CRTC at 0x3D4, input status 1 at 0x3DA): the machine
// maps no 0x3B0-0x3BF, so a guest that clears the misc register's I/O address bit (monochrome
// mode 7) keeps talking to the CRTC at 0x3D4.

import type { IoDevice, IoSize } from '../machine/io.js';
import { windowRead, windowWrite } from './vga-memory.js';
import { displaySize, render, type VgaDisplaySize } from './vga-render.js';
import {
  ATTR_MODE_CONTROL, ATTR_PAS, AMC_GRAPHICS, CRTC_CURSOR_HI, CRTC_CURSOR_LO, CRTC_CURSOR_START, CRTC_HDISP_END,
  CRTC_MAX_SCAN, CRTC_OVERFLOW, CRTC_START_HI, CRTC_START_LO, CRTC_VDISP_END, CRTC_VRETRACE_END, CURSOR_OFF,
  GC_MISC, GC_MISC_GRAPHICS, OVF_LC8, OVF_VDE8, OVF_VDE9, PLANE, VRE_PROTECT, type VgaState,
} from './vga-registers.js';

export type { VgaState } from './vga-registers.js';
export type { VgaDisplaySize } from './vga-render.js';

/** Input status 1 (0x3DA): display enable off (bit 0) and vertical retrace (bit 3), toggled per read. */
const IS1_RETRACE = 0x09;

/** The VGA BIOS's 64-colour EGA palette in the DAC: bits 2, 1, 0 give red, green, blue 2/3 on; bits 5, 4, 3 add 1/3. */
function egaPalette(): Uint8Array {
  const dac = new Uint8Array(256 * 3);
  for (let i = 0; i < 64; i++) {
    dac[i * 3] = ((i >> 2) & 1) * 0x2a + ((i >> 5) & 1) * 0x15;
    dac[i * 3 + 1] = ((i >> 1) & 1) * 0x2a + ((i >> 4) & 1) * 0x15;
    dac[i * 3 + 2] = (i & 1) * 0x2a + ((i >> 3) & 1) * 0x15;
  }
  return dac;
}

/**
 * Registers as the VGA BIOS leaves them in mode 3 (80x25 text, 16 colours, 9x16 characters),
 * with its palette in the DAC and the screen cleared. Plane 2 holds no font: the VGA has no
 * character ROM, a BIOS copies one there.
 */
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
    // The BIOS ends its mode set by giving the palette back to the screen (index bit 5, PAS).
    attrIndex: ATTR_PAS, attrFlip: false, attr,
    dacWrite: 0, dacRead: 0, dacStep: 0, dac: egaPalette(), dacMask: 0xff,
    latches: [0, 0, 0, 0],
    vram,
    guestErrors: 0,
  };
}

export class Vga {
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 2;
  state: VgaState = mode3();
  /** Bumped whenever what the screen shows may have changed: a host redraws when it moves. */
  changes = 0;
  /**
   * The DAC holds 8 bits per colour instead of the IBM VGA's 6: the Bochs display interface's
   * ENABLE.8BIT_DAC (bochs-vbe.ts), which sets it and restores it with its own state.
   */
  dac8Bit = false;

  /** Ports 0x3C0-0x3DF, at offsets 0..0x1F. A wider access is its bytes in turn (OUT DX, AX sets index then data). */
  readonly ports: IoDevice = {
    name: 'vga',
    read: (o, size) => {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.portRead(o + i) << (8 * i);
      return v >>> 0;
    },
    write: (o, size, value) => { for (let i = 0; i < size; i++) this.portWrite(o + i, (value >>> (8 * i)) & 0xff); },
  };
  /** The CPU's window at 0xA0000-0xBFFFF, at offsets 0..0x1FFFF; a wider access is its bytes in turn. */
  readonly window: IoDevice = { name: 'vga-memory', read: (o, s) => this.memRead(o, s), write: (o, s, v) => this.memWrite(o, s, v) };

  reset(): void { this.state = mode3(); this.changes++; }

  loadState(state: VgaState): void {
    this.state = { ...structuredClone(state), vram: new Uint8Array(state.vram), dac: new Uint8Array(state.dac) };
    this.changes++;
  }

  /** The picture's size in dots and scan lines (e.g. 720x400 in mode 3, 640x400 in mode 13h), or null when blanked. */
  displaySize(): VgaDisplaySize | null { return displaySize(this.state); }

  /**
   * Draw what the monitor shows into `target` (RGBA: an ImageData's `data`, or a Uint32Array over
   * it), row after row with no padding, `width` pixels to a row, where `width` x `height` is
   * what it returns: the display size clipped to maxWidth x maxHeight and to what `target` holds.
   * Returns null, drawing nothing, when the screen is blanked (the monitor shows black).
   */
  render(target: Uint32Array | Uint8ClampedArray, maxWidth: number, maxHeight: number): VgaDisplaySize | null {
    return render(this.state, target, maxWidth, maxHeight);
  }

  // ---- the window ----

  private memRead(o: number, size: IoSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= windowRead(this.state, o + i) << (8 * i);
    return v >>> 0;
  }

  private memWrite(o: number, size: IoSize, value: number): void {
    let taken = false;
    for (let i = 0; i < size; i++) taken = windowWrite(this.state, o + i, (value >>> (8 * i)) & 0xff) || taken;
    if (taken) this.changes++;
  }

  // ---- the registers ----

  private portRead(o: number): number {
    const s = this.state;
    switch (o + 0x3c0) {
      case 0x3c0: return s.attrIndex;
      case 0x3c1: return s.attr[s.attrIndex & 0x1f] ?? 0;
      case 0x3c2: return 0x10; // input status 0: the monitor sense line reads a colour monitor
      case 0x3c4: return s.seqIndex;
      case 0x3c5: return s.seq[s.seqIndex] ?? 0xff;
      case 0x3c6: return s.dacMask;
      case 0x3c7: return s.dacStep === 0 ? 0 : 3; // DAC state: last written mode
      case 0x3c8: return s.dacWrite;
      case 0x3c9: {
        const v = s.dac[s.dacRead * 3 + s.dacStep]!;
        if (++s.dacStep === 3) { s.dacStep = 0; s.dacRead = (s.dacRead + 1) & 0xff; }
        return v;
      }
      case 0x3ca: return 0; // feature control
      case 0x3cc: return s.misc;
      case 0x3ce: return s.gcIndex;
      case 0x3cf: return s.gc[s.gcIndex] ?? 0xff;
      case 0x3d4: return s.crtcIndex;
      case 0x3d5: return s.crtc[s.crtcIndex] ?? 0xff;
      case 0x3da: {
        // Input status 1: reading it resets the attribute controller's flip-flop. The retrace
        // bits toggle on each read, so a driver waiting for a retrace edge sees one.
        s.attrFlip = false;
        this.retrace ^= IS1_RETRACE;
        return this.retrace;
      }
      default: return 0xff;
    }
  }
  private retrace = 0;

  private portWrite(o: number, v: number): void {
    const s = this.state;
    switch (o + 0x3c0) {
      case 0x3c0:
        if (!s.attrFlip) s.attrIndex = v & 0x3f;
        else if ((s.attrIndex & 0x1f) < s.attr.length) s.attr[s.attrIndex & 0x1f] = v;
        s.attrFlip = !s.attrFlip;
        break;
      case 0x3c2: s.misc = v; break;
      case 0x3c3: return; // video subsystem enable: the VGA is always on
      case 0x3c4: s.seqIndex = v & 7; break;
      case 0x3c5: if (s.seqIndex < s.seq.length) s.seq[s.seqIndex] = v; break;
      case 0x3c6: s.dacMask = v; break;
      case 0x3c7: s.dacRead = v; s.dacStep = 0; break;
      case 0x3c8: s.dacWrite = v; s.dacStep = 0; break;
      case 0x3c9:
        s.dac[s.dacWrite * 3 + s.dacStep] = this.dac8Bit ? v : v & 0x3f;
        if (++s.dacStep === 3) { s.dacStep = 0; s.dacWrite = (s.dacWrite + 1) & 0xff; }
        break;
      case 0x3ce: s.gcIndex = v & 0xf; break;
      case 0x3cf: if (s.gcIndex < s.gc.length) s.gc[s.gcIndex] = v; break;
      case 0x3d4: s.crtcIndex = v & 0x3f; break;
      case 0x3d5:
        // Registers 0-7 are locked by CRTC register 0x11 bit 7, except the line compare bit of 7.
        if (s.crtcIndex <= CRTC_OVERFLOW && (s.crtc[CRTC_VRETRACE_END]! & VRE_PROTECT)) {
          if (s.crtcIndex === CRTC_OVERFLOW) s.crtc[CRTC_OVERFLOW] = (s.crtc[CRTC_OVERFLOW]! & ~OVF_LC8) | (v & OVF_LC8);
          break;
        }
        if (s.crtcIndex < s.crtc.length) s.crtc[s.crtcIndex] = v;
        break;
      case 0x3da: return; // feature control (colour address): nothing is attached to its bits
      default: s.guestErrors++; return;
    }
    this.changes++;
  }

  // ---- what the screen shows ----

  /** In a text mode: columns, rows, the lines of characters (code page 437 as Latin-1 bytes) and the cursor. */
  textScreen(): { cols: number; rows: number; lines: string[]; cursor: { row: number; col: number } | null } | null {
    const s = this.state;
    if ((s.gc[GC_MISC]! & GC_MISC_GRAPHICS) || (s.attr[ATTR_MODE_CONTROL]! & AMC_GRAPHICS)) return null; // a graphics mode
    const cols = s.crtc[CRTC_HDISP_END]! + 1;
    const ovf = s.crtc[CRTC_OVERFLOW]!;
    const vdisp = (s.crtc[CRTC_VDISP_END]! | ((ovf & OVF_VDE8) << 7) | ((ovf & OVF_VDE9) << 3)) + 1;
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
    const cursorOff = (s.crtc[CRTC_CURSOR_START]! & CURSOR_OFF) !== 0;
    const cursor = cursorOff || pos < 0 || pos >= rows * cols ? null : { row: Math.floor(pos / cols), col: pos % cols };
    return { cols, rows, lines, cursor };
  }
}
