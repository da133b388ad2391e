// The screen the worker and the page share, in one SharedArrayBuffer: no message carries pixels.
// A frame comes from one of two sources:
//  - pixels: the worker renders the display (the VGA's text and planar modes, devices/vga.ts)
//    when it changed, and copies into the buffer only the rows that differ from what it last
//    published; the page, once per animation frame, copies the rows marked dirty onto its canvas.
//  - video memory: in a VBE packed-pixel mode the worker publishes only where the picture lies in
//    video memory and how its pixels are laid out (devices/bochs-vbe-render.ts VbeScanout); the
//    page reads the pixels itself from the core's shared memory (src/cpu/core.ts), which the guest
//    writes as RAM. Nothing is copied on the worker's side; a frame may show a write in progress,
//    as a real monitor's scan does.
//
// Header (Int32, then RGBA pixels of up to MAX_WIDTH x MAX_HEIGHT, rows of `width` pixels):
//   [0] seq      odd while the worker writes (a seqlock: the page retries a frame it saw change)
//   [1] width    [2] height          0 x 0 when the screen is blank
//   [3] top      [4] bottom          rows changed since the page last took a frame
//   [5] frame    bumped per publish  [6] taken: the last frame the page copied
//   [7] source   SOURCE_PIXELS or SOURCE_VRAM
//   [8] bpp      [9] stride  [10] start  [11] bigEndian     the scanout, for SOURCE_VRAM
//   [16..272)    the 256 palette colours (RGBA words) of an 8 bpp scanout

import type { VbeScanout } from '../devices/bochs-vbe-render.js';

export const MAX_WIDTH = 1600;
export const MAX_HEIGHT = 1200;
/** Frames read from video memory are as large as the VBE registers allow (bochs-vbe.ts). */
export const MAX_VRAM_WIDTH = 2560;
export const MAX_VRAM_HEIGHT = 1600;
export const SOURCE_PIXELS = 0;
export const SOURCE_VRAM = 1;
const PALETTE_AT = 16;
const HEADER_WORDS = PALETTE_AT + 256;
const SEQ = 0, WIDTH = 1, HEIGHT = 2, TOP = 3, BOTTOM = 4, FRAME = 5, TAKEN = 6, SOURCE = 7;
const BPP = 8, STRIDE = 9, START = 10, BIG_ENDIAN = 11;

/** A frame the page takes: which rows changed, and where its pixels are. */
export interface Frame {
  source: typeof SOURCE_PIXELS | typeof SOURCE_VRAM;
  width: number;
  height: number;
  top: number;
  bottom: number;
  /** SOURCE_PIXELS: the rendered rows, `width` RGBA pixels each. */
  pixels: Uint8ClampedArray;
  /** SOURCE_VRAM: the picture in video memory, and the 8 bpp palette. */
  scanout: VbeScanout;
  palette: Uint32Array;
}

export class ScreenBuffer {
  readonly header: Int32Array;
  readonly pixels: Uint8ClampedArray;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.header = new Int32Array(buffer, 0, HEADER_WORDS);
    this.pixels = new Uint8ClampedArray(buffer, HEADER_WORDS * 4, MAX_WIDTH * MAX_HEIGHT * 4);
    this.palette = new Uint32Array(buffer, PALETTE_AT * 4, 256);
  }
  readonly palette: Uint32Array;

  static create(): ScreenBuffer {
    return new ScreenBuffer(new SharedArrayBuffer(HEADER_WORDS * 4 + MAX_WIDTH * MAX_HEIGHT * 4));
  }
}

/**
 * The worker's side: publish(frame) copies what changed since the last publish. Keeps its own
 * copy of the published picture to find the changed rows.
 */
export class ScreenPublisher {
  private last = new Uint8ClampedArray(0);
  private lastWidth = 0;
  private lastHeight = 0;

  constructor(private readonly screen: ScreenBuffer) {}

  /** Publish `pixels` (width * height * 4 bytes, RGBA), or a blank screen (width 0). */
  publish(pixels: Uint8ClampedArray, width: number, height: number): void {
    const h = this.screen.header;
    width = Math.min(width, MAX_WIDTH);
    height = Math.min(height, MAX_HEIGHT);
    const rowBytes = width * 4;
    const resized = width !== this.lastWidth || height !== this.lastHeight;
    let top = resized ? 0 : height;
    let bottom = resized ? height : 0;
    if (!resized) {
      for (let y = 0; y < height; y++) {
        if (!sameRow(pixels, this.last, y * rowBytes, rowBytes)) { top = Math.min(top, y); bottom = y + 1; }
      }
      if (top >= bottom) return; // nothing changed on the screen
    }
    Atomics.add(h, SEQ, 1); // odd: writing
    this.screen.pixels.set(pixels.subarray(top * rowBytes, bottom * rowBytes), top * rowBytes);
    const pending = Atomics.load(h, TAKEN) !== Atomics.load(h, FRAME);
    // Rows the page has not taken yet stay dirty, whatever changed since.
    const wasTop = h[TOP]!, wasBottom = h[BOTTOM]!;
    h[SOURCE] = SOURCE_PIXELS;
    h[WIDTH] = width;
    h[HEIGHT] = height;
    h[TOP] = pending && !resized ? Math.min(top, wasTop) : top;
    h[BOTTOM] = pending && !resized ? Math.max(bottom, wasBottom) : bottom;
    Atomics.add(h, FRAME, 1);
    Atomics.add(h, SEQ, 1); // even: done
    if (this.last.length < pixels.length) this.last = new Uint8ClampedArray(MAX_WIDTH * MAX_HEIGHT * 4);
    this.last.set(pixels.subarray(top * rowBytes, bottom * rowBytes), top * rowBytes);
    this.lastWidth = width;
    this.lastHeight = height;
  }

  /**
   * Publish a picture the page reads from video memory itself: where it is (`m`) and, at 8 bpp,
   * its palette. Only the description is written; the page redraws the whole picture.
   */
  publishScanout(m: VbeScanout, palette: Uint32Array | null): void {
    const h = this.screen.header;
    Atomics.add(h, SEQ, 1); // odd: writing
    h[SOURCE] = SOURCE_VRAM;
    h[WIDTH] = Math.min(m.width, MAX_VRAM_WIDTH);
    h[HEIGHT] = Math.min(m.height, MAX_VRAM_HEIGHT);
    h[TOP] = 0;
    h[BOTTOM] = h[HEIGHT]!;
    h[BPP] = m.bpp;
    h[STRIDE] = m.stride;
    h[START] = m.start;
    h[BIG_ENDIAN] = m.bigEndian ? 1 : 0;
    if (palette !== null) this.screen.palette.set(palette);
    Atomics.add(h, FRAME, 1);
    Atomics.add(h, SEQ, 1); // even: done
    // The next rendered picture is published whole: the buffer's rows are stale now.
    this.lastWidth = -1;
  }
}

function sameRow(a: Uint8ClampedArray, b: Uint8ClampedArray, at: number, n: number): boolean {
  if (b.length < at + n) return false;
  for (let i = at, end = at + n; i < end; i += 4) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) return false;
  }
  return true;
}

/** The page's side: take the frame published since the last take, if a whole one is there. */
export function takeFrame(screen: ScreenBuffer, into: (frame: Frame) => void): boolean {
  const h = screen.header;
  const seq = Atomics.load(h, SEQ);
  if (seq & 1) return false; // the worker is writing: next frame
  const frame = Atomics.load(h, FRAME);
  if (frame === Atomics.load(h, TAKEN)) return false;
  const scanout: VbeScanout = { width: h[WIDTH]!, height: h[HEIGHT]!, bpp: h[BPP]!, stride: h[STRIDE]!, start: h[START]!, bigEndian: h[BIG_ENDIAN] !== 0 };
  const palette = screen.palette.slice();
  // The description changed while we read it: take it again next frame.
  if (Atomics.load(h, SEQ) !== seq) return false;
  into({
    source: h[SOURCE] === SOURCE_VRAM ? SOURCE_VRAM : SOURCE_PIXELS,
    width: scanout.width, height: scanout.height, top: h[TOP]!, bottom: h[BOTTOM]!,
    pixels: screen.pixels, scanout, palette,
  });
  // Changed while we copied: the rows are still dirty, take them again next frame.
  if (Atomics.load(h, SEQ) !== seq) return false;
  Atomics.store(h, TAKEN, frame);
  return true;
}
