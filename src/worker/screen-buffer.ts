// The screen the worker draws and the page shows, in one SharedArrayBuffer: no message carries
// pixels. The worker renders the display (the VGA, devices/vga.ts) when it changed, and copies
// into the buffer only the rows that differ from what it last published; the page, once per
// animation frame, copies the rows marked dirty onto its canvas.
//
// Header (Int32, then RGBA pixels of up to MAX_WIDTH x MAX_HEIGHT, rows of `width` pixels):
//   [0] seq      odd while the worker writes (a seqlock: the page retries a frame it saw change)
//   [1] width    [2] height          0 x 0 when the screen is blank
//   [3] top      [4] bottom          rows changed since the page last took a frame
//   [5] frame    bumped per publish  [6] taken: the last frame the page copied

export const MAX_WIDTH = 1600;
export const MAX_HEIGHT = 1200;
const HEADER_WORDS = 8;
const SEQ = 0, WIDTH = 1, HEIGHT = 2, TOP = 3, BOTTOM = 4, FRAME = 5, TAKEN = 6;

export class ScreenBuffer {
  readonly header: Int32Array;
  readonly pixels: Uint8ClampedArray;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.header = new Int32Array(buffer, 0, HEADER_WORDS);
    this.pixels = new Uint8ClampedArray(buffer, HEADER_WORDS * 4, MAX_WIDTH * MAX_HEIGHT * 4);
  }

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
}

function sameRow(a: Uint8ClampedArray, b: Uint8ClampedArray, at: number, n: number): boolean {
  if (b.length < at + n) return false;
  for (let i = at, end = at + n; i < end; i += 4) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) return false;
  }
  return true;
}

/** The page's side: take the rows changed since the last take, if a whole frame is there. */
export function takeFrame(screen: ScreenBuffer, into: (width: number, height: number, top: number, bottom: number, pixels: Uint8ClampedArray) => void): boolean {
  const h = screen.header;
  const seq = Atomics.load(h, SEQ);
  if (seq & 1) return false; // the worker is writing: next frame
  const frame = Atomics.load(h, FRAME);
  if (frame === Atomics.load(h, TAKEN)) return false;
  const width = h[WIDTH]!, height = h[HEIGHT]!, top = h[TOP]!, bottom = h[BOTTOM]!;
  into(width, height, top, bottom, screen.pixels);
  // Changed while we copied: the rows are still dirty, take them again next frame.
  if (Atomics.load(h, SEQ) !== seq) return false;
  Atomics.store(h, TAKEN, frame);
  return true;
}
