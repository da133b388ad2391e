// The Bochs display interface's scanout (bochs-vbe.ts): a packed-pixel picture read from video
// memory, line after line `stride` bytes apart from `start`, turned into RGBA. The pixel formats
// are QEMU's (hw/display/vga-helpers.h): 8 bpp a DAC index; 15 bpp x:R5:G5:B5 and 16 bpp R5:G6:B5 in
// a 16-bit word; 24 bpp the bytes B, G, R; 32 bpp B, G, R, X (XRGB8888 in a little-endian word).
// With the framebuffer big-endian (QEMU's extended register 0x604) the words and the byte orders
// are reversed. 5- and 6-bit levels are widened by repeating their top bits, so full scale is 255.

import type { VgaDisplaySize } from './vga-render.js';

/** Where a VBE picture is in video memory and how its pixels are laid out. */
export interface VbeScanout {
  width: number;
  height: number;
  /** 8, 15, 16, 24 or 32. */
  bpp: number;
  /** Bytes from one line to the next. */
  stride: number;
  /** Byte offset of the top left pixel. */
  start: number;
  bigEndian: boolean;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** An RGBA word whose bytes in memory are R, G, B, A (an ImageData's layout). */
function rgba(r: number, g: number, b: number): number {
  return (LITTLE_ENDIAN ? 0xff000000 | (b << 16) | (g << 8) | r : (r << 24) | (g << 16) | (b << 8) | 0xff) >>> 0;
}

/** Every 15- or 16-bit pixel's RGBA word, built on first use (256 KiB each). */
const wordColours: { 15?: Uint32Array; 16?: Uint32Array } = {};
function wordLut(bpp: 15 | 16): Uint32Array {
  let lut = wordColours[bpp];
  if (lut !== undefined) return lut;
  lut = new Uint32Array(0x10000);
  const five = (v: number) => (v << 3) | (v >> 2);
  for (let v = 0; v < 0x10000; v++) {
    if (bpp === 16) lut[v] = rgba(five((v >> 11) & 31), ((v >> 5) & 63) << 2 | ((v >> 9) & 3), five(v & 31));
    else lut[v] = rgba(five((v >> 10) & 31), five((v >> 5) & 31), five(v & 31));
  }
  wordColours[bpp] = lut;
  return lut;
}

/**
 * Draw the picture `m` describes into `target`, row after row with no padding, `width` RGBA
 * pixels to a row, where `width` x `height` (returned) is the picture clipped to maxWidth x
 * maxHeight, to what `target` holds, and to the lines that lie wholly inside `vram`. `palette`
 * gives the 8 bpp colours (RGBA words), and is unused at other depths.
 */
export function renderVbe(vram: Uint8Array, m: VbeScanout, palette: Uint32Array | null,
                          target: Uint32Array | Uint8ClampedArray, maxWidth: number, maxHeight: number): VgaDisplaySize {
  let px: Uint32Array;
  let bytes: Uint8ClampedArray | null = null;
  if (target instanceof Uint32Array) px = target;
  else if (target.byteOffset % 4 === 0) px = new Uint32Array(target.buffer, target.byteOffset, target.length >> 2);
  else { px = new Uint32Array(target.length >> 2); bytes = target; }
  const atMost = (n: number) => (n > 0 ? Math.floor(n) : 0); // NaN and negatives are 0
  const bytesPerPixel = m.bpp === 15 ? 2 : m.bpp >> 3;
  const known = bytesPerPixel >= 1 && bytesPerPixel <= 4 && (m.bpp !== 8 || palette !== null);
  const width = known ? Math.min(atMost(m.width), atMost(maxWidth)) : 0;
  let height = width === 0 ? 0 : Math.min(atMost(m.height), atMost(maxHeight), Math.floor(px.length / width));
  const start = atMost(m.start), stride = atMost(m.stride);
  // Never read past the memory: the registers keep a mode inside it (bochs-vbe.ts), this is the second fence.
  while (height > 0 && start + (height - 1) * stride + width * bytesPerPixel > vram.length) height--;
  if (height > 0) draw(vram, m, bytesPerPixel, palette, px, width, height, start, stride);
  if (bytes !== null) bytes.set(new Uint8ClampedArray(px.buffer, 0, width * height * 4));
  return { width, height };
}

function draw(vram: Uint8Array, m: VbeScanout, bytesPerPixel: number, palette: Uint32Array | null,
              px: Uint32Array, width: number, height: number, start: number, stride: number): void {
  const big = m.bigEndian;
  const words = m.bpp === 32 && !big && LITTLE_ENDIAN && vram.byteOffset % 4 === 0
    ? new Uint32Array(vram.buffer, vram.byteOffset, vram.length >> 2) : null;
  for (let y = 0; y < height; y++) {
    let s = start + y * stride;
    const row = y * width;
    switch (m.bpp) {
      case 8: {
        const pal = palette!;
        for (let x = 0; x < width; x++) px[row + x] = pal[vram[s + x]!]!;
        break;
      }
      case 15:
      case 16: {
        const lut = wordLut(m.bpp);
        if (big) for (let x = 0; x < width; x++, s += 2) px[row + x] = lut[(vram[s]! << 8) | vram[s + 1]!]!;
        else for (let x = 0; x < width; x++, s += 2) px[row + x] = lut[vram[s]! | (vram[s + 1]! << 8)]!;
        break;
      }
      case 24:
        if (big) for (let x = 0; x < width; x++, s += 3) px[row + x] = rgba(vram[s]!, vram[s + 1]!, vram[s + 2]!);
        else for (let x = 0; x < width; x++, s += 3) px[row + x] = rgba(vram[s + 2]!, vram[s + 1]!, vram[s]!);
        break;
      default: // 32
        if (big) {
          for (let x = 0; x < width; x++, s += 4) px[row + x] = rgba(vram[s + 1]!, vram[s + 2]!, vram[s + 3]!);
        } else if (words !== null && (s & 3) === 0) {
          // A word B | G << 8 | R << 16 becomes R | G << 8 | B << 16 with opaque alpha.
          const w = s >> 2;
          for (let x = 0; x < width; x++) {
            const v = words[w + x]!;
            px[row + x] = (0xff000000 | ((v & 0xff) << 16) | (v & 0xff00) | ((v >>> 16) & 0xff)) >>> 0;
          }
        } else {
          for (let x = 0; x < width; x++, s += 4) px[row + x] = rgba(vram[s + 2]!, vram[s + 1]!, vram[s]!);
        }
    }
  }
}
