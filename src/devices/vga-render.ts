// The VGA's scanout: what a monitor shows, one dot per dot clock and one row per scan line of the
// active display (no border). The CRT controller walks an address counter over the planes
// (start address, offset per character row, max scan line, scan doubling, line compare); the
// graphics controller's shift registers turn the four plane bytes at each address into dots (or,
// in text modes, the character generator turns a character, its attribute and its font row in
// plane 2 into dots); the attribute controller maps each 4-bit dot through its palette to a DAC
// index (or joins two 4-bit dots into one 8-bit index in 256-colour mode); the DAC gives the colour.
//
// The picture is in dots: 640x400 for mode 13h (each 256-colour pixel is two dots wide and the
// max scan line shows each row twice), 720x400 for mode 3, 640x480 for mode 12h. A halved dot
// clock (320-dot modes) shows each dot twice, so the picture stays about 640 wide.
//
// Not drawn: the overscan border, blinking (blinking characters are shown on, the cursor steady),
// the cursor skew and the split screen's own panning quirks beyond the pel panning reset.

import {
  AMC_8BIT, AMC_BLINK, AMC_GRAPHICS, AMC_LINE_GRAPHICS, AMC_P54S, AMC_PAN_COMPAT, ATTR_COLOR_PLANE_ENABLE,
  ATTR_COLOR_SELECT, ATTR_HPEL_PANNING, ATTR_MODE_CONTROL, ATTR_PAS, CRTC_CURSOR_END, CRTC_CURSOR_HI,
  CRTC_CURSOR_LO, CRTC_CURSOR_START, CRTC_HDISP_END, CRTC_LINE_COMPARE, CRTC_MAX_SCAN, CRTC_MODE_CONTROL,
  CRTC_OFFSET, CRTC_OVERFLOW, CRTC_PRESET_ROW_SCAN, CRTC_START_HI, CRTC_START_LO, CRTC_UNDERLINE, CRTC_VDISP_END,
  CURSOR_OFF, GC_MODE, GC_MODE_256, GC_MODE_INTERLEAVE, MC_BYTE_MODE, MC_CMS0, MC_SRS, MSL_LC9, MSL_MASK,
  MSL_SCAN_DOUBLE, OVF_LC8, OVF_VDE8, OVF_VDE9, PLANE, SEQ_CHAR_MAP_SELECT, SEQ_CLK_8DOT, SEQ_CLK_DOT_HALF,
  SEQ_CLK_SCREEN_OFF, SEQ_CLOCKING_MODE, UL_DOUBLEWORD, UL_LOCATION, type VgaState,
} from './vga-registers.js';

/** The size of the picture, in dots across and scan lines down. */
export interface VgaDisplaySize { width: number; height: number }

/** RGBA pixels: 32-bit words whose bytes in memory are R, G, B, A (an ImageData's layout). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
function rgba(r: number, g: number, b: number): number {
  return (LITTLE_ENDIAN ? 0xff000000 | (b << 16) | (g << 8) | r : (r << 24) | (g << 16) | (b << 8) | 0xff) >>> 0;
}

interface Timing { text: boolean; cols: number; charWidth: number; dotRepeat: number; width: number; height: number }

/** The display's geometry from the CRTC and sequencer, or null when the screen is blanked. */
function timing(s: VgaState): Timing | null {
  const clocking = s.seq[SEQ_CLOCKING_MODE]!;
  // Screen off (sequencer clocking mode bit 5), or the attribute controller's palette given to
  // the CPU (index bit 5, PAS, clear): the monitor gets no picture.
  if ((clocking & SEQ_CLK_SCREEN_OFF) || !(s.attrIndex & ATTR_PAS)) return null;
  const text = !(s.attr[ATTR_MODE_CONTROL]! & AMC_GRAPHICS);
  const cols = s.crtc[CRTC_HDISP_END]! + 1;
  // The 9th dot exists for characters; graphics modes use 8-dot clocks (the standard modes all do).
  const charWidth = text && !(clocking & SEQ_CLK_8DOT) ? 9 : 8;
  const dotRepeat = clocking & SEQ_CLK_DOT_HALF ? 2 : 1;
  const ovf = s.crtc[CRTC_OVERFLOW]!;
  const height = (s.crtc[CRTC_VDISP_END]! | ((ovf & OVF_VDE8) << 7) | ((ovf & OVF_VDE9) << 3)) + 1;
  return { text, cols, charWidth, dotRepeat, width: cols * charWidth * dotRepeat, height };
}

export function displaySize(s: VgaState): VgaDisplaySize | null {
  const t = timing(s);
  return t === null ? null : { width: t.width, height: t.height };
}

/** The DAC's 256 colours, through the pixel mask, as RGBA words; 6-bit levels widened to 8 bits. */
function dacColors(s: VgaState): Uint32Array {
  const out = new Uint32Array(256);
  const wide = (v: number) => ((v & 0x3f) << 2) | ((v & 0x3f) >> 4);
  for (let i = 0; i < 256; i++) {
    const j = (i & s.dacMask) * 3;
    out[i] = rgba(wide(s.dac[j]!), wide(s.dac[j + 1]!), wide(s.dac[j + 2]!));
  }
  return out;
}

/** A 4-bit dot's colour: colour plane enable, the palette register, the colour select, the DAC. */
function attributeColors(s: VgaState, dac: Uint32Array): Uint32Array {
  const out = new Uint32Array(16);
  const enable = s.attr[ATTR_COLOR_PLANE_ENABLE]! & 0x0f;
  const select = s.attr[ATTR_COLOR_SELECT]!;
  const p54s = (s.attr[ATTR_MODE_CONTROL]! & AMC_P54S) !== 0;
  for (let v = 0; v < 16; v++) {
    let index = s.attr[v & enable]! & 0x3f;
    if (p54s) index = (index & 0x0f) | ((select & 0x03) << 4);
    index |= (select & 0x0c) << 4;
    out[v] = dac[index]!;
  }
  return out;
}

/** Offset of character map n (0-7) in plane 2: maps 0-3 at 16 KiB steps, 4-7 8 KiB above them. */
const fontMap = (n: number) => ((n & 3) << 14) | ((n & 4) << 11);

/**
 * Draw the picture into `target`, row after row with no padding, `width` RGBA pixels to a row,
 * where `width` x `height` (what it returns) is the display size clipped to maxWidth x maxHeight
 * and to what `target` holds. Returns null, drawing nothing, when the screen is blanked.
 */
export function render(s: VgaState, target: Uint32Array | Uint8ClampedArray, maxWidth: number, maxHeight: number): VgaDisplaySize | null {
  const t = timing(s);
  if (t === null) return null;
  let px: Uint32Array;
  let bytes: Uint8ClampedArray | null = null;
  if (target instanceof Uint32Array) px = target;
  else if (target.byteOffset % 4 === 0) px = new Uint32Array(target.buffer, target.byteOffset, target.length >> 2);
  else { px = new Uint32Array(target.length >> 2); bytes = target; }
  const atMost = (n: number) => (n > 0 ? Math.floor(n) : 0); // NaN and negatives are 0
  const width = Math.min(t.width, atMost(maxWidth));
  const height = width === 0 ? 0 : Math.min(t.height, atMost(maxHeight), Math.floor(px.length / width));
  if (height > 0) scan(s, t, px, width, height);
  if (bytes !== null) bytes.set(new Uint8ClampedArray(px.buffer, 0, width * height * 4));
  return { width, height };
}

/** The CRT controller's frame: an address counter and a row scan counter per scan line. */
function scan(s: VgaState, t: Timing, px: Uint32Array, width: number, height: number): void {
  const crtc = s.crtc, attr = s.attr;
  const dac = dacColors(s);
  const colors = attributeColors(s, dac);
  const modeControl = attr[ATTR_MODE_CONTROL]!;

  // Address generation: the counter counts character clocks; doubleword and word modes shift it
  // onto the plane offsets chain-4 and odd/even writes use (vga-memory.ts), and CRTC mode control
  // bits 0 and 1 clear put the row scan counter's bits 0 and 1 on memory address bits 13 and 14
  // (the CGA's two and the Hercules' four interleaved banks of scan lines).
  const mc = crtc[CRTC_MODE_CONTROL]!;
  const shift = crtc[CRTC_UNDERLINE]! & UL_DOUBLEWORD ? 2 : mc & MC_BYTE_MODE ? 0 : 1;
  const keep = 0xffff & (mc & MC_CMS0 ? ~0 : ~0x2000) & (mc & MC_SRS ? ~0 : ~0x4000);
  const address = (ma: number, rowScan: number) =>
    (((ma << shift) & keep) | (mc & MC_CMS0 ? 0 : (rowScan & 1) << 13) | (mc & MC_SRS ? 0 : (rowScan & 2) << 13)) & 0xffff;

  const maxScan = crtc[CRTC_MAX_SCAN]! & MSL_MASK;
  const scanDouble = (crtc[CRTC_MAX_SCAN]! & MSL_SCAN_DOUBLE) !== 0;
  const rowAdvance = crtc[CRTC_OFFSET]! * 2;
  const lineCompare = crtc[CRTC_LINE_COMPARE]! | ((crtc[CRTC_OVERFLOW]! & OVF_LC8) << 4) | ((crtc[CRTC_MAX_SCAN]! & MSL_LC9) << 3);
  const preset = crtc[CRTC_PRESET_ROW_SCAN]!;
  const panRegister = attr[ATTR_HPEL_PANNING]! & 0x0f;
  let pan = t.charWidth === 9 ? (panRegister < 8 ? panRegister + 1 : 0) : panRegister & 7;

  // One scan line of dots, with a spare character clock for the pel panning to shift in.
  const line = new Uint32Array((t.cols + 1) * t.charWidth);
  const drawLine = t.text ? textLine(s, t, colors, address) : graphicsLine(s, t, colors, dac, address);

  let rowStart = (((crtc[CRTC_START_HI]! << 8) | crtc[CRTC_START_LO]!) + ((preset >> 5) & 3)) & 0xffff;
  let rowScan = preset & MSL_MASK;
  let second = false; // scan doubling: the second showing of a line
  const dotShift = t.dotRepeat === 2 ? 1 : 0;
  for (let y = 0; y < height; y++) {
    drawLine(line, rowStart, rowScan);
    const row = y * width;
    for (let x = 0; x < width; x++) px[row + x] = line[pan + (x >> dotShift)]!;
    if (y === lineCompare) {
      // The split screen: the lines below show memory from address 0, unpanned if PPM is set.
      rowStart = 0; rowScan = 0; second = false;
      if (modeControl & AMC_PAN_COMPAT) pan = 0;
      continue;
    }
    if (scanDouble && (second = !second)) continue;
    if (rowScan >= maxScan) { rowScan = 0; rowStart = (rowStart + rowAdvance) & 0xffff; } else rowScan++;
  }
}

type LineDrawer = (line: Uint32Array, rowStart: number, rowScan: number) => void;

/** Text modes: character in plane 0, attribute in plane 1, font rows in plane 2. */
function textLine(s: VgaState, t: Timing, colors: Uint32Array, address: (ma: number, rs: number) => number): LineDrawer {
  const vram = s.vram, crtc = s.crtc;
  const modeControl = s.attr[ATTR_MODE_CONTROL]!;
  const blink = (modeControl & AMC_BLINK) !== 0;
  const lineGraphics = (modeControl & AMC_LINE_GRAPHICS) !== 0;
  const mapSelect = s.seq[SEQ_CHAR_MAP_SELECT]!;
  const mapA = 2 * PLANE + fontMap(((mapSelect >> 2) & 3) | ((mapSelect >> 3) & 4)); // attribute bit 3 set
  const mapB = 2 * PLANE + fontMap((mapSelect & 3) | ((mapSelect >> 2) & 4));        // attribute bit 3 clear
  const cursorAt = (crtc[CRTC_CURSOR_HI]! << 8) | crtc[CRTC_CURSOR_LO]!;
  const cursorOn = !(crtc[CRTC_CURSOR_START]! & CURSOR_OFF);
  const cursorStart = crtc[CRTC_CURSOR_START]! & 0x1f, cursorEnd = crtc[CRTC_CURSOR_END]! & 0x1f;
  const underline = crtc[CRTC_UNDERLINE]! & UL_LOCATION;
  const w = t.charWidth;
  return (line, rowStart, rowScan) => {
    const fontRow = rowScan & 0x1f;
    for (let c = 0, x = 0; c <= t.cols; c++, x += w) {
      const ma = (rowStart + c) & 0xffff;
      const m = address(ma, rowScan);
      const ch = vram[m]!, at = vram[PLANE + m]!;
      let dots = vram[(at & 0x08 ? mapA : mapB) + ch * 32 + fontRow]!;
      // The 9th dot: background, or a copy of the 8th for the box-drawing characters C0-DF.
      let ninth = w === 9 && lineGraphics && ch >= 0xc0 && ch <= 0xdf ? dots & 1 : 0;
      if (((at & 0x77) === 0x01 && rowScan === underline) ||
          (cursorOn && ma === cursorAt && rowScan >= cursorStart && rowScan <= cursorEnd)) {
        dots = 0xff; ninth = 1;
      }
      // Attribute bit 7 is blink (shown here as steady) or, with blink off, background intensity.
      const fg = colors[at & 0x0f]!, bg = colors[blink ? (at >> 4) & 7 : at >> 4]!;
      for (let i = 0; i < 8; i++) line[x + i] = dots & (0x80 >> i) ? fg : bg;
      if (w === 9) line[x + 8] = ninth ? fg : bg;
    }
  };
}

/** Graphics modes: the shift registers' 8 dots per character clock from the four plane bytes. */
function graphicsLine(s: VgaState, t: Timing, colors: Uint32Array, dac: Uint32Array, address: (ma: number, rs: number) => number): LineDrawer {
  const vram = s.vram;
  const gcMode = s.gc[GC_MODE]!;
  const eightBit = (s.attr[ATTR_MODE_CONTROL]! & AMC_8BIT) !== 0;
  const enable = s.attr[ATTR_COLOR_PLANE_ENABLE]! & 0x0f;
  const dots = new Uint8Array(8);
  return (line, rowStart, rowScan) => {
    for (let c = 0, x = 0; c <= t.cols; c++) {
      const m = address((rowStart + c) & 0xffff, rowScan);
      const p0 = vram[m]!, p1 = vram[PLANE + m]!, p2 = vram[2 * PLANE + m]!, p3 = vram[3 * PLANE + m]!;
      if (gcMode & GC_MODE_256) {
        // 256-colour shift: each plane's byte goes out as two 4-bit dots, high nibble first.
        dots[0] = p0 >> 4; dots[1] = p0 & 15; dots[2] = p1 >> 4; dots[3] = p1 & 15;
        dots[4] = p2 >> 4; dots[5] = p2 & 15; dots[6] = p3 >> 4; dots[7] = p3 & 15;
      } else if (gcMode & GC_MODE_INTERLEAVE) {
        // CGA interleave: 2-bit pixels, four from plane 0 (with plane 2 as bits 3:2), then plane 1's (with plane 3).
        for (let i = 0; i < 4; i++) {
          const sh = 6 - 2 * i;
          dots[i] = ((p0 >> sh) & 3) | (((p2 >> sh) & 3) << 2);
          dots[4 + i] = ((p1 >> sh) & 3) | (((p3 >> sh) & 3) << 2);
        }
      } else {
        // Planar: one bit from each plane per dot, most significant bit first.
        for (let i = 0; i < 8; i++) {
          const sh = 7 - i;
          dots[i] = ((p0 >> sh) & 1) | (((p1 >> sh) & 1) << 1) | (((p2 >> sh) & 1) << 2) | (((p3 >> sh) & 1) << 3);
        }
      }
      if (eightBit) {
        // Two dots make one 8-bit pixel, held for both dots' time. The palette registers are
        // bypassed (mode 13h loads them with the identity, so either way looks the same).
        for (let i = 0; i < 8; i += 2) {
          const color = dac[((dots[i]! & enable) << 4) | (dots[i + 1]! & enable)]!;
          line[x++] = color; line[x++] = color;
        }
      } else {
        for (let i = 0; i < 8; i++) line[x++] = colors[dots[i]!]!;
      }
    }
  };
}
