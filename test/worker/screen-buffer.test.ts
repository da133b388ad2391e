// The screen buffer the worker and the page share (src/worker/screen-buffer.ts): rendered rows,
// and VBE pictures described for the page to read from video memory itself.
import { describe, expect, it } from 'vitest';
import { ScreenBuffer, ScreenPublisher, SOURCE_PIXELS, SOURCE_VRAM, takeFrame, type Frame } from '../../src/worker/screen-buffer';

function take(buffer: ScreenBuffer): Frame | null {
  let got: Frame | null = null;
  takeFrame(buffer, (f) => { got = { ...f, pixels: f.pixels.slice(0, f.width * f.height * 4) }; });
  return got;
}

function picture(width: number, height: number, fill: (x: number, y: number) => number): Uint8ClampedArray {
  const px = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) px.fill(fill(x, y), (y * width + x) * 4, (y * width + x) * 4 + 4);
  return px;
}

describe('screen buffer', () => {
  it('publishes only the rows that changed, and nothing when nothing did', () => {
    const buffer = ScreenBuffer.create();
    const pub = new ScreenPublisher(buffer);
    pub.publish(picture(8, 4, () => 1), 8, 4);
    expect(take(buffer)).toMatchObject({ source: SOURCE_PIXELS, width: 8, height: 4, top: 0, bottom: 4 });
    expect(take(buffer)).toBeNull();
    pub.publish(picture(8, 4, (_x, y) => (y === 2 ? 9 : 1)), 8, 4);
    const f = take(buffer)!;
    expect([f.top, f.bottom]).toEqual([2, 3]);
    expect(f.pixels[2 * 8 * 4]).toBe(9);
    pub.publish(picture(8, 4, (_x, y) => (y === 2 ? 9 : 1)), 8, 4);
    expect(take(buffer)).toBeNull();
  });

  it('describes a VBE picture without its pixels, then publishes the next rendered screen whole', () => {
    const buffer = ScreenBuffer.create();
    const pub = new ScreenPublisher(buffer);
    pub.publish(picture(8, 4, () => 1), 8, 4);
    take(buffer);
    const palette = new Uint32Array(256).map((_, i) => i * 0x010101);
    pub.publishScanout({ width: 1024, height: 768, bpp: 8, stride: 1024, start: 4096, bigEndian: false }, palette);
    const f = take(buffer)!;
    expect(f).toMatchObject({ source: SOURCE_VRAM, width: 1024, height: 768, top: 0, bottom: 768 });
    expect(f.scanout).toEqual({ width: 1024, height: 768, bpp: 8, stride: 1024, start: 4096, bigEndian: false });
    expect(f.palette[200]).toBe(200 * 0x010101);
    // Back to a VGA mode with the same picture as before the VBE one: the buffer's rows are stale, so all of them.
    pub.publish(picture(8, 4, () => 1), 8, 4);
    expect(take(buffer)).toMatchObject({ source: SOURCE_PIXELS, top: 0, bottom: 4 });
  });

  it('keeps a frame the page has not taken while the worker writes (seqlock)', () => {
    const buffer = ScreenBuffer.create();
    const pub = new ScreenPublisher(buffer);
    pub.publish(picture(8, 4, () => 1), 8, 4);
    Atomics.add(buffer.header, 0, 1); // the worker is mid-write
    expect(take(buffer)).toBeNull();
    Atomics.add(buffer.header, 0, 1);
    expect(take(buffer)).not.toBeNull();
  });
});
