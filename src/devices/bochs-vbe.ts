// The Bochs VBE display interface ("DISPI"), as Bochs and QEMU's standard VGA implement it
// beside an IBM VGA: a register file behind a 16-bit index/data port pair (0x1CE/0x1CF) that sets
// a resolution and a colour depth directly, and a video memory of its own that the CPU reaches
// through a linear framebuffer (a PCI BAR, bochs-vbe-pci.ts) or 64 KiB banks at 0xA0000. SeaBIOS's
// vgabios-stdvga.bin builds its VBE modes on it; Linux drives it with bochs-drm.
//
// The registers follow Bochs's vbe_display_api and QEMU's hw/display/vga.c: the guest may write
// anything, and while the interface is enabled each write is pulled to the nearest valid mode
// (depth, width, height, virtual width, offsets inside the video memory), as QEMU's
// vbe_fixup_regs does, so the scanout never reads outside the memory.
//
// The VGA's 256 KiB of planes are not the first part of this memory, as they are on QEMU's
// stdvga: the VGA (vga.ts) keeps its own planar store, and the two meet only where a guest could
// tell: with the interface enabled in a direct-colour or 256-colour mode, the window at 0xA0000
// shows a bank of this memory; in its 4-bit planar modes (SeaBIOS's 0x102 and friends) the VGA
// draws from its planes and this device only lends its register file. A guest that draws in VGA
// mode 13h and then enables a VBE mode keeping memory (NOCLEARMEM) does not find its pixels.

import type { IoDevice, IoSize } from '../machine/io.js';
import { renderVbe, type VbeScanout } from './bochs-vbe-render.js';
import type { Vga, VgaDisplaySize } from './vga.js';
import { ATTR_PAS } from './vga-registers.js';
import { fillBytes } from '../cpu/fill.js';

// Register indices (Bochs iodev/display/vga.h, QEMU hw/display/vga_int.h)
export const VBE_DISPI_INDEX_ID = 0x0;
export const VBE_DISPI_INDEX_XRES = 0x1;
export const VBE_DISPI_INDEX_YRES = 0x2;
export const VBE_DISPI_INDEX_BPP = 0x3;
export const VBE_DISPI_INDEX_ENABLE = 0x4;
export const VBE_DISPI_INDEX_BANK = 0x5;               // which 64 KiB of video memory 0xA0000 shows
export const VBE_DISPI_INDEX_VIRT_WIDTH = 0x6;         // pixels per line of video memory
export const VBE_DISPI_INDEX_VIRT_HEIGHT = 0x7;        // read only: lines the memory holds at that width
export const VBE_DISPI_INDEX_X_OFFSET = 0x8;           // the displayed area's top left, in the virtual screen
export const VBE_DISPI_INDEX_Y_OFFSET = 0x9;
export const VBE_DISPI_INDEX_VIDEO_MEMORY_64K = 0xa;   // read only: the memory's size in 64 KiB (ID4 on)
/** Registers 0..9 are stored; 0xA is computed; the rest read as 0. */
const VBE_DISPI_INDEX_NB = 0xa;

// The ID register: a BIOS writes the version it was built for and reads it back (ID0 first
// version; ID1 virtual width and offsets; ID2 15-32 bpp, LFB, NOCLEARMEM; ID3 GETCAPS, 8BIT_DAC;
// ID4 VIDEO_MEMORY_64K; ID5 the version of Bochs 2.4 and QEMU, what a reset leaves).
export const VBE_DISPI_ID0 = 0xb0c0;
export const VBE_DISPI_ID5 = 0xb0c5;

// ENABLE bits
export const VBE_DISPI_ENABLED = 0x01;                 // the mode in the registers drives the screen
export const VBE_DISPI_GETCAPS = 0x02;                 // XRES, YRES and BPP read as their maxima
export const VBE_DISPI_8BIT_DAC = 0x20;                // the DAC keeps 8 bits per colour
export const VBE_DISPI_LFB_ENABLED = 0x40;             // a hint to the BIOS; the framebuffer BAR always decodes
export const VBE_DISPI_NOCLEARMEM = 0x80;              // enabling keeps the memory (otherwise the screen is cleared)

// The limits GETCAPS reports (Bochs 2.6's; QEMU allows 16000x12000, which no host window shows).
export const VBE_DISPI_MAX_XRES = 2560;
export const VBE_DISPI_MAX_YRES = 1600;
export const VBE_DISPI_MAX_BPP = 32;
/** The banked window: 64 KiB at 0xA0000, offsets 0..0xFFFF of the VGA window. */
export const VBE_DISPI_BANK_SIZE = 0x10000;

/** QEMU stdvga's default video memory, the size of its framebuffer BAR. */
export const VBE_DEFAULT_VRAM_SIZE = 16 << 20;

/**
 * Everything the guest can observe of the interface. Version 1.
 * `regs` holds registers 0-9 as the guest reads them back (GETCAPS aside).
 */
export interface BochsVbeState {
  /** The index register (0x1CE), as last written. */
  index: number;
  regs: number[];
  /** The framebuffer's byte order (QEMU's extended register at BAR2 0x604): true for big-endian pixels. */
  bigEndian: boolean;
  /** The video memory, which the framebuffer BAR and the banks show. */
  vram: Uint8Array;
  guestErrors: number;
}

export interface BochsVbeOptions {
  /** Video memory in bytes: a power of two from 1 MiB to 256 MiB (default 16 MiB). */
  vramSize?: number;
  /**
   * Where the video memory is, when the host provides it: the CPU core keeps it in its own
   * memory so the guest writes the framebuffer at RAM speed (asm-core/mmu/phys.ts, MEM_VRAM).
   */
  memory?: Uint8Array;
  /** Whether the guest wrote that memory directly since the last call (the host's change watch). */
  takeGuestWrites?: () => boolean;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const ONES: Record<IoSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

function resetRegs(): number[] {
  const regs = new Array<number>(VBE_DISPI_INDEX_NB).fill(0);
  regs[VBE_DISPI_INDEX_ID] = VBE_DISPI_ID5;
  return regs;
}

/**
 * The VGA with the Bochs display interface: the Vga it is built on (registered separately),
 * the DISPI registers, the video memory, and one picture for the host.
 */
export class BochsVbe {
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: BochsVbeState;
  /** The video memory: the host may read it in place (scanout() says where the picture is). It is never replaced. */
  readonly vram: Uint8Array;
  private readonly vram16: Uint16Array | null;
  private readonly vram32: Uint32Array | null;
  private readonly bankMask: number;
  /** Bytes per line and the picture's first byte, from the registers (fixup()); 0 while disabled. */
  private lineLength = 0;
  private start = 0;
  /** Bumped by every register write and every write to video memory (see `changes`). */
  private ownChanges = 0;

  /** Ports 0x1CE-0x1D0 at offsets 0..2: index at 0, data at 1 (0x1CF, as on x86), 16-bit accesses only. */
  readonly dispiPorts: IoDevice;
  /** The CPU's window at 0xA0000-0xBFFFF (offsets 0..0x1FFFF): a bank of video memory in VBE modes, else the VGA's. */
  readonly window: IoDevice;
  /**
   * The linear framebuffer (offsets 0..vramSize-1): one typed-array access per guest access
   * (aligned words and dwords on a little-endian host), for the framebuffer BAR.
   */
  readonly lfb: IoDevice;

  constructor(readonly vga: Vga, options: BochsVbeOptions = {}) {
    const size = options.vramSize ?? VBE_DEFAULT_VRAM_SIZE;
    if (!Number.isInteger(size) || size < 1 << 20 || size > 256 << 20 || (size & (size - 1)) !== 0) {
      throw new RangeError(`video memory of ${size} bytes: not a power of two from 1 MiB to 256 MiB`);
    }
    if (options.memory !== undefined && (options.memory.length !== size || options.memory.byteOffset % 4 !== 0)) {
      throw new RangeError(`video memory of ${options.memory.length} bytes given for a display of ${size}`);
    }
    this.vram = options.memory ?? new Uint8Array(size);
    this.takeGuestWrites = options.takeGuestWrites ?? (() => false);
    this.vram16 = LITTLE_ENDIAN ? new Uint16Array(this.vram.buffer, this.vram.byteOffset, size >> 1) : null;
    this.vram32 = LITTLE_ENDIAN ? new Uint32Array(this.vram.buffer, this.vram.byteOffset, size >> 2) : null;
    this.bankMask = size / VBE_DISPI_BANK_SIZE - 1;
    this.state = { index: 0, regs: resetRegs(), bigEndian: false, vram: this.vram, guestErrors: 0 };

    this.dispiPorts = {
      name: 'bochs-dispi',
      read: (o, s) => this.portRead(o, s),
      write: (o, s, v) => this.portWrite(o, s, v),
    };
    this.window = {
      name: 'vga-memory',
      read: (o, s) => (this.banked() ? this.bankRead(o, s) : this.vga.window.read(o, s)),
      write: (o, s, v) => { if (this.banked()) this.bankWrite(o, s, v); else this.vga.window.write(o, s, v); },
    };
    const last = size; // offsets o with o + s <= last are inside
    this.lfb = {
      name: 'vga-lfb',
      read: (o, s) => (o >= 0 && o + s <= last ? this.vramRead(o, s) : ONES[s]),
      write: (o, s, v) => {
        if (o >= 0 && o + s <= last) { this.vramWrite(o, s, v); this.ownChanges++; }
      },
    };
  }

  reset(): void {
    this.state.index = 0;
    this.state.regs = resetRegs();
    this.state.bigEndian = false;
    this.state.guestErrors = 0;
    fillBytes(this.vram, 0);
    this.lineLength = 0;
    this.start = 0;
    this.vga.dac8Bit = false;
    this.ownChanges++;
  }

  /** Take a saved state: the memory is copied into `vram` (which stays the same array) and the registers are checked again. */
  loadState(state: BochsVbeState): void {
    if (state.vram.length !== this.vram.length) {
      throw new RangeError(`saved video memory is ${state.vram.length} bytes, this display has ${this.vram.length}`);
    }
    const regs = resetRegs();
    for (let i = 0; i < VBE_DISPI_INDEX_NB; i++) regs[i] = (state.regs[i] ?? regs[i]!) & 0xffff;
    this.vram.set(state.vram);
    this.state = { index: state.index & 0xffff, regs, bigEndian: state.bigEndian === true, vram: this.vram, guestErrors: state.guestErrors ?? 0 };
    this.state.regs[VBE_DISPI_INDEX_BANK]! &= this.bankMask;
    this.lineLength = 0;
    this.start = 0;
    this.fixup();
    this.vga.dac8Bit = (regs[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_8BIT_DAC) !== 0;
    this.ownChanges++;
  }

  /** Bumped whenever what the screen shows may have changed (the VGA's changes, the registers, the video memory). */
  get changes(): number {
    if (this.takeGuestWrites()) this.ownChanges++;
    return this.vga.changes + this.ownChanges;
  }
  private readonly takeGuestWrites: () => boolean;

  /** The interface is enabled (whatever the depth). */
  get enabled(): boolean { return (this.state.regs[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_ENABLED) !== 0; }

  /** Enabled in a packed-pixel depth (8-32 bpp): the picture and the 0xA0000 window are this memory's. 4 bpp is the VGA's. */
  private banked(): boolean {
    const r = this.state.regs;
    return (r[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_ENABLED) !== 0 && r[VBE_DISPI_INDEX_BPP] !== 4;
  }

  /**
   * Where the VBE picture is in `vram`, for a host that converts it itself: null when the VGA
   * draws the screen (the interface is off, or in a 4 bpp planar mode). `start` and `stride` are
   * bytes; pixels are little-endian B, G, R(, X) (24/32 bpp), RGB 5:6:5 or 1:5:5:5 (16/15 bpp), or
   * DAC indices (8 bpp), byte-swapped when `bigEndian`.
   */
  scanout(): VbeScanout | null {
    if (!this.banked()) return null;
    const r = this.state.regs;
    return {
      width: r[VBE_DISPI_INDEX_XRES]!, height: r[VBE_DISPI_INDEX_YRES]!, bpp: r[VBE_DISPI_INDEX_BPP]!,
      stride: this.lineLength, start: this.start, bigEndian: this.state.bigEndian,
    };
  }

  /** The picture's size: the VBE mode's, or the VGA's; null when blanked. */
  displaySize(): VgaDisplaySize | null {
    const m = this.scanout();
    if (m === null) return this.vga.displaySize();
    return this.paletteToScreen() ? { width: m.width, height: m.height } : null;
  }

  /**
   * Draw what the monitor shows into `target` (RGBA, rows packed at the returned width), clipped
   * to maxWidth x maxHeight and to what `target` holds; null, drawing nothing, when blanked. The
   * same contract as Vga.render.
   */
  render(target: Uint32Array | Uint8ClampedArray, maxWidth: number, maxHeight: number): VgaDisplaySize | null {
    const m = this.scanout();
    if (m === null) return this.vga.render(target, maxWidth, maxHeight);
    if (!this.paletteToScreen()) return null;
    return renderVbe(this.vram, m, m.bpp === 8 ? this.palette() : null, target, maxWidth, maxHeight);
  }

  /**
   * The picture for a host that reads video memory itself (the page, src/ui/screen.ts): where it
   * lies and its 8 bpp palette; null when render() must draw it instead (a VGA mode, or blanked).
   */
  directScanout(): { scanout: VbeScanout; palette: Uint32Array | null } | null {
    const m = this.scanout();
    if (m === null || !this.paletteToScreen()) return null;
    return { scanout: m, palette: m.bpp === 8 ? this.palette() : null };
  }

  /** The VGA's text screen, or null in a VBE mode. */
  textScreen(): ReturnType<Vga['textScreen']> {
    return this.banked() ? null : this.vga.textScreen();
  }

  /** The attribute controller's PAS bit gates the picture in VBE modes too (bochs-drm blanks with it). */
  private paletteToScreen(): boolean { return (this.vga.state.attrIndex & ATTR_PAS) !== 0; }

  /** The DAC's 256 colours through the pixel mask, as RGBA words; 6-bit levels widened unless the DAC is 8-bit. */
  private palette(): Uint32Array {
    const s = this.vga.state;
    const eight = this.vga.dac8Bit;
    const out = new Uint32Array(256);
    const c = (v: number) => (eight ? v & 0xff : ((v & 0x3f) << 2) | ((v & 0x3f) >> 4));
    for (let i = 0; i < 256; i++) {
      const j = (i & s.dacMask) * 3;
      const r = c(s.dac[j]!), g = c(s.dac[j + 1]!), b = c(s.dac[j + 2]!);
      out[i] = (LITTLE_ENDIAN ? 0xff000000 | (b << 16) | (g << 8) | r : (r << 24) | (g << 16) | (b << 8) | 0xff) >>> 0;
    }
    return out;
  }

  // ---- the registers ----

  /** Register `index` as the data port returns it (QEMU vbe_ioport_read_data). */
  private dataRead(index: number): number {
    const r = this.state.regs;
    if (index < VBE_DISPI_INDEX_NB) {
      if (r[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_GETCAPS) {
        if (index === VBE_DISPI_INDEX_XRES) return VBE_DISPI_MAX_XRES;
        if (index === VBE_DISPI_INDEX_YRES) return VBE_DISPI_MAX_YRES;
        if (index === VBE_DISPI_INDEX_BPP) return VBE_DISPI_MAX_BPP;
      }
      return r[index]!;
    }
    if (index === VBE_DISPI_INDEX_VIDEO_MEMORY_64K) return this.vram.length / VBE_DISPI_BANK_SIZE;
    return 0;
  }

  /** A write of `v` to register `index` (QEMU vbe_ioport_write_data). */
  private dataWrite(index: number, v: number): void {
    const r = this.state.regs;
    v &= 0xffff;
    switch (index) {
      case VBE_DISPI_INDEX_ID:
        // A BIOS asks for the version it knows; one this interface is not stays unanswered.
        if (v >= VBE_DISPI_ID0 && v <= VBE_DISPI_ID5) r[VBE_DISPI_INDEX_ID] = v;
        else this.state.guestErrors++;
        break;
      case VBE_DISPI_INDEX_XRES:
      case VBE_DISPI_INDEX_YRES:
      case VBE_DISPI_INDEX_BPP:
      case VBE_DISPI_INDEX_VIRT_WIDTH:
      case VBE_DISPI_INDEX_X_OFFSET:
      case VBE_DISPI_INDEX_Y_OFFSET:
        r[index] = v;
        this.fixup();
        break;
      case VBE_DISPI_INDEX_BANK:
        r[VBE_DISPI_INDEX_BANK] = v & this.bankMask; // the BIOS reads it back to see the bank exists
        break;
      case VBE_DISPI_INDEX_ENABLE:
        if ((v & VBE_DISPI_ENABLED) && !(r[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_ENABLED)) {
          // Enabling starts at the top left of a virtual screen as wide as the mode, cleared
          // unless NOCLEARMEM asks to keep it.
          r[VBE_DISPI_INDEX_VIRT_WIDTH] = 0;
          r[VBE_DISPI_INDEX_X_OFFSET] = 0;
          r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
          r[VBE_DISPI_INDEX_ENABLE] = VBE_DISPI_ENABLED;
          this.fixup();
          if (!(v & VBE_DISPI_NOCLEARMEM)) fillBytes(this.vram, 0, 0, r[VBE_DISPI_INDEX_YRES]! * this.lineLength);
        }
        r[VBE_DISPI_INDEX_ENABLE] = v;
        if (!(v & VBE_DISPI_ENABLED)) { this.lineLength = 0; this.start = 0; }
        this.vga.dac8Bit = (v & VBE_DISPI_8BIT_DAC) !== 0;
        break;
      case VBE_DISPI_INDEX_VIRT_HEIGHT: // read only (bochs-drm writes it anyway)
      case VBE_DISPI_INDEX_VIDEO_MEMORY_64K:
        break;
      default:
        this.state.guestErrors++;
        return;
    }
    this.ownChanges++;
  }

  /**
   * Pull the registers to the nearest mode that fits (QEMU vbe_fixup_regs), while enabled: a
   * known depth (else 8), 1..MAX_XRES wide, a virtual width from the width to MAX_XRES,
   * 1..MAX_YRES high and no more lines than the memory holds, and offsets that keep the whole
   * picture inside the memory (else the Y offset, then the X offset, go back to 0).
   */
  private fixup(): void {
    const r = this.state.regs;
    if (!(r[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_ENABLED)) return;
    let bits: number;
    switch (r[VBE_DISPI_INDEX_BPP]) {
      case 4: case 8: case 16: case 24: case 32: bits = r[VBE_DISPI_INDEX_BPP]!; break;
      case 15: bits = 16; break;
      default: bits = r[VBE_DISPI_INDEX_BPP] = 8;
    }
    const vram = this.vram.length;
    if (r[VBE_DISPI_INDEX_XRES] === 0) r[VBE_DISPI_INDEX_XRES] = 8;
    if (r[VBE_DISPI_INDEX_XRES]! > VBE_DISPI_MAX_XRES) r[VBE_DISPI_INDEX_XRES] = VBE_DISPI_MAX_XRES;
    if (r[VBE_DISPI_INDEX_VIRT_WIDTH]! > VBE_DISPI_MAX_XRES) r[VBE_DISPI_INDEX_VIRT_WIDTH] = VBE_DISPI_MAX_XRES;
    if (r[VBE_DISPI_INDEX_VIRT_WIDTH]! < r[VBE_DISPI_INDEX_XRES]!) r[VBE_DISPI_INDEX_VIRT_WIDTH] = r[VBE_DISPI_INDEX_XRES]!;
    const lineLength = Math.max(1, Math.floor((r[VBE_DISPI_INDEX_VIRT_WIDTH]! * bits) / 8));
    const maxY = Math.min(Math.floor(vram / lineLength), 0xffff);
    if (r[VBE_DISPI_INDEX_YRES] === 0) r[VBE_DISPI_INDEX_YRES] = 1;
    if (r[VBE_DISPI_INDEX_YRES]! > VBE_DISPI_MAX_YRES) r[VBE_DISPI_INDEX_YRES] = VBE_DISPI_MAX_YRES;
    if (r[VBE_DISPI_INDEX_YRES]! > maxY) r[VBE_DISPI_INDEX_YRES] = maxY;
    if (r[VBE_DISPI_INDEX_X_OFFSET]! > VBE_DISPI_MAX_XRES) r[VBE_DISPI_INDEX_X_OFFSET] = VBE_DISPI_MAX_XRES;
    const picture = r[VBE_DISPI_INDEX_YRES]! * lineLength;
    let offset = Math.floor((r[VBE_DISPI_INDEX_X_OFFSET]! * bits) / 8) + r[VBE_DISPI_INDEX_Y_OFFSET]! * lineLength;
    if (offset + picture > vram) {
      r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
      offset = Math.floor((r[VBE_DISPI_INDEX_X_OFFSET]! * bits) / 8);
      if (offset + picture > vram) { r[VBE_DISPI_INDEX_X_OFFSET] = 0; offset = 0; }
    }
    r[VBE_DISPI_INDEX_VIRT_HEIGHT] = maxY;
    this.lineLength = lineLength;
    this.start = offset;
  }

  /** Register access as QEMU's MMIO BAR does it: the index is set, then the register read. */
  readRegister(index: number): number {
    this.state.index = index & 0xffff;
    return this.dataRead(this.state.index);
  }

  /** Register access as QEMU's MMIO BAR does it: the index is set, then the register written. */
  writeRegister(index: number, value: number): void {
    this.state.index = index & 0xffff;
    this.dataWrite(this.state.index, value);
  }

  /** The framebuffer's byte order (QEMU's extended register 0x604, bochs-vbe-pci.ts). */
  setBigEndian(big: boolean): void {
    if (this.state.bigEndian !== big) { this.state.bigEndian = big; this.ownChanges++; }
  }

  private portRead(o: number, size: IoSize): number {
    // Both ports take 16-bit accesses only (QEMU registers them so; a byte reads as ones).
    if (size !== 2) { this.state.guestErrors++; return ONES[size]; }
    if (o === 0) return this.state.index;
    if (o === 1) return this.dataRead(this.state.index);
    this.state.guestErrors++;
    return 0xffff;
  }

  private portWrite(o: number, size: IoSize, v: number): void {
    if (size !== 2 || o > 1) { this.state.guestErrors++; return; }
    if (o === 0) this.state.index = v & 0xffff;
    else this.dataWrite(this.state.index, v);
  }

  // ---- video memory ----

  /** `size` bytes at `a` (a + size <= vram.length), little-endian. */
  private vramRead(a: number, size: IoSize): number {
    if (size === 1) return this.vram[a]!;
    if (size === 4) {
      if ((a & 3) === 0 && this.vram32 !== null) return this.vram32[a >> 2]!;
      const v = this.vram;
      return (v[a]! | (v[a + 1]! << 8) | (v[a + 2]! << 16) | (v[a + 3]! << 24)) >>> 0;
    }
    if ((a & 1) === 0 && this.vram16 !== null) return this.vram16[a >> 1]!;
    return this.vram[a]! | (this.vram[a + 1]! << 8);
  }

  private vramWrite(a: number, size: IoSize, value: number): void {
    if (size === 1) { this.vram[a] = value; return; }
    if (size === 4) {
      if ((a & 3) === 0 && this.vram32 !== null) { this.vram32[a >> 2] = value; return; }
      const v = this.vram;
      v[a] = value; v[a + 1] = value >>> 8; v[a + 2] = value >>> 16; v[a + 3] = value >>> 24;
      return;
    }
    if ((a & 1) === 0 && this.vram16 !== null) { this.vram16[a >> 1] = value; return; }
    this.vram[a] = value; this.vram[a + 1] = value >>> 8;
  }

  /** The window in a VBE mode: 0xA0000-0xAFFFF is the bank; 0xB0000-0xBFFFF answers nothing (memory map 1, as QEMU sets it). */
  private bankRead(o: number, size: IoSize): number {
    const base = this.state.regs[VBE_DISPI_INDEX_BANK]! * VBE_DISPI_BANK_SIZE;
    if (o >= 0 && o + size <= VBE_DISPI_BANK_SIZE) return this.vramRead(base + o, size);
    let v = 0;
    for (let i = 0; i < size; i++) v |= (o + i >= 0 && o + i < VBE_DISPI_BANK_SIZE ? this.vram[base + o + i]! : 0xff) << (8 * i);
    return v >>> 0;
  }

  private bankWrite(o: number, size: IoSize, value: number): void {
    const base = this.state.regs[VBE_DISPI_INDEX_BANK]! * VBE_DISPI_BANK_SIZE;
    if (o >= 0 && o + size <= VBE_DISPI_BANK_SIZE) this.vramWrite(base + o, size, value);
    else for (let i = 0; i < size; i++) if (o + i >= 0 && o + i < VBE_DISPI_BANK_SIZE) this.vram[base + o + i] = value >>> (8 * i);
    this.ownChanges++;
  }
}
