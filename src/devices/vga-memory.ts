// The CPU's window onto the VGA's four planes (0xA0000-0xBFFFF, seen here as offsets 0..0x1FFFF),
// as the IBM VGA's sequencer and graphics controller define it: the memory map picks the part of
// the window the VGA answers; the sequencer's memory mode turns a CPU address into a plane offset
// and the planes it may touch; every read loads the four latches; reads return one plane (read
// mode 0) or a colour compare (read mode 1); writes go through one pipeline (write modes 0-3,
// rotate, set/reset, the logical function, the bit mask) gated by the map mask.
//
// Plane offsets, one convention for the whole device: the address bits that choose the plane
// are cleared, not moved. Chain-4 keeps A15:A2 (offset = a & ~3, so mode 13h's pixel n is at
// offset n & ~3 of plane n & 3); odd/even keeps A15:A1 (offset = a & ~1: characters at even
// offsets of plane 0, their attributes at the same offsets of plane 1, what textScreen() reads).
// The CRTC's doubleword and word addressing (vga-render.ts) shift its counter left by 2 and 1 to
// land on the same offsets. (The IBM VGA also moves a high address bit into the cleared bits, so
// that chain-4 and odd/even reach all 64 KiB of a plane: that is what the graphics controller's
// chain odd/even bit, misc register bit 1, does for A0. Here the cleared bits stay clear, so that
// bit changes nothing, and a plane's bytes at offsets that are not multiples of 4 (chain-4) or
// are odd (odd/even) are not reached from the window in those modes. No standard mode needs them.)

import {
  GC_BIT_MASK, GC_COLOR_COMPARE, GC_COLOR_DONT_CARE, GC_DATA_ROTATE, GC_ENABLE_SET_RESET, GC_FUNCTION_SHIFT,
  GC_MISC, GC_MISC_MAP_SHIFT, GC_MODE, GC_MODE_HOST_OE, GC_MODE_READ1, GC_MODE_WRITE, GC_READ_MAP_SELECT,
  GC_ROTATE_COUNT, GC_SET_RESET, MISC_RAM_ENABLE, PLANE, SEQ_MAP_MASK, SEQ_MEMORY_MODE, SEQ_MEM_CHAIN4,
  SEQ_MEM_ODD_EVEN_OFF, type VgaState,
} from './vga-registers.js';

/** Offset of window offset `o` inside the memory map the graphics controller selects, or -1 outside it. */
function mapped(s: VgaState, o: number): number {
  if (!(s.misc & MISC_RAM_ENABLE)) return -1;
  switch ((s.gc[GC_MISC]! >> GC_MISC_MAP_SHIFT) & 3) {
    case 0: return o < 0x20000 ? o : -1;                       // A0000-BFFFF
    case 1: return o < 0x10000 ? o : -1;                       // A0000-AFFFF
    case 2: return o >= 0x10000 && o < 0x18000 ? o - 0x10000 : -1; // B0000-B7FFF
    default: return o >= 0x18000 && o < 0x20000 ? o - 0x18000 : -1; // B8000-BFFFF
  }
}

/** A CPU read of one byte at window offset `o`: loads the latches, returns what the read mode gives. */
export function windowRead(s: VgaState, o: number): number {
  const a = mapped(s, o);
  if (a < 0) return 0xff; // nothing answers: the ISA bus floats high
  const mode = s.gc[GC_MODE]!;
  let offset: number, plane: number;
  if (s.seq[SEQ_MEMORY_MODE]! & SEQ_MEM_CHAIN4) {
    offset = a & 0xfffc; plane = a & 3;
  } else if (mode & GC_MODE_HOST_OE) {
    // Odd/even reads: A0 picks the odd or even plane; read map select bit 1 picks the pair.
    offset = a & 0xfffe; plane = (a & 1) | (s.gc[GC_READ_MAP_SELECT]! & 2);
  } else {
    offset = a & 0xffff; plane = s.gc[GC_READ_MAP_SELECT]! & 3;
  }
  const v = s.vram, latch = s.latches;
  latch[0] = v[offset]!; latch[1] = v[PLANE + offset]!; latch[2] = v[2 * PLANE + offset]!; latch[3] = v[3 * PLANE + offset]!;
  if (!(mode & GC_MODE_READ1)) return latch[plane]!;
  // Read mode 1: a 1 for each pixel whose colour, in the planes colour don't care includes,
  // equals the colour compare register.
  const compare = s.gc[GC_COLOR_COMPARE]!, care = s.gc[GC_COLOR_DONT_CARE]!;
  let match = 0xff;
  for (let p = 0; p < 4; p++) {
    if (care & (1 << p)) match &= ~(latch[p]! ^ (compare & (1 << p) ? 0xff : 0x00));
  }
  return match & 0xff;
}

/** A CPU write of byte `b` at window offset `o`. Returns whether the VGA took it (it is inside the memory map). */
export function windowWrite(s: VgaState, o: number, b: number): boolean {
  const a = mapped(s, o);
  if (a < 0) return false;
  const memoryMode = s.seq[SEQ_MEMORY_MODE]!;
  let offset: number, planes: number;
  if (memoryMode & SEQ_MEM_CHAIN4) {
    offset = a & 0xfffc; planes = 1 << (a & 3);
  } else if (!(memoryMode & SEQ_MEM_ODD_EVEN_OFF)) {
    // Odd/even writes: even addresses reach planes 0 and 2, odd ones planes 1 and 3.
    offset = a & 0xfffe; planes = a & 1 ? 0b1010 : 0b0101;
  } else {
    offset = a & 0xffff; planes = 0b1111;
  }
  planes &= s.seq[SEQ_MAP_MASK]!;
  if (planes === 0) return true;
  const gc = s.gc, v = s.vram, latch = s.latches;
  const writeMode = gc[GC_MODE]! & GC_MODE_WRITE;
  if (writeMode === 0 && !(gc[GC_ENABLE_SET_RESET]! & 0x0f) && gc[GC_DATA_ROTATE] === 0 && gc[GC_BIT_MASK] === 0xff) {
    // Write mode 0 with nothing in the way (text modes, mode 13h): the byte goes to each plane.
    if (planes & 1) v[offset] = b;
    if (planes & 2) v[PLANE + offset] = b;
    if (planes & 4) v[2 * PLANE + offset] = b;
    if (planes & 8) v[3 * PLANE + offset] = b;
    return true;
  }
  const rotate = gc[GC_DATA_ROTATE]! & GC_ROTATE_COUNT;
  const func = (gc[GC_DATA_ROTATE]! >> GC_FUNCTION_SHIFT) & 3;
  const setReset = gc[GC_SET_RESET]!, enableSetReset = gc[GC_ENABLE_SET_RESET]!;
  if (writeMode === 1) {
    // Write mode 1: the latches, as the last read loaded them, go back unchanged (a fast copy).
    for (let p = 0; p < 4; p++) if (planes & (1 << p)) v[p * PLANE + offset] = latch[p]!;
    return true;
  }
  const rotated = ((b >> rotate) | (b << (8 - rotate))) & 0xff;
  let mask = gc[GC_BIT_MASK]!;
  if (writeMode === 3) mask &= rotated; // write mode 3: the rotated data is a second bit mask
  for (let p = 0; p < 4; p++) {
    if (!(planes & (1 << p))) continue;
    let d: number;
    const bit = 1 << p;
    if (writeMode === 0) d = enableSetReset & bit ? (setReset & bit ? 0xff : 0) : rotated;
    else if (writeMode === 2) d = b & bit ? 0xff : 0; // write mode 2: CPU bit p fills plane p
    else d = setReset & bit ? 0xff : 0;               // write mode 3: set/reset is the colour
    const l = latch[p]!;
    if (func === 1) d &= l; else if (func === 2) d |= l; else if (func === 3) d ^= l;
    v[p * PLANE + offset] = (d & mask) | (l & ~mask);
  }
  return true;
}
