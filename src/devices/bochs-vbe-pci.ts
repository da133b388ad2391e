// QEMU's standard VGA as a PCI function (QEMU docs/specs/standard-vga.rst, hw/display/vga-pci.c):
// ID 1234:1111, class VGA (03 00 00), revision 2; BAR0 the video memory of the Bochs display
// interface (bochs-vbe.ts) as a prefetchable linear framebuffer; BAR2 a 4 KiB register page
// (EDID blob, the VGA's ports, the DISPI registers flat, QEMU's extended registers); and the
// expansion ROM BAR holding the VGA BIOS, which the system BIOS copies to 0xC0000 and runs.
// The legacy resources (ports 0x3C0-0x3DF and 0x1CE/0x1CF, the window at 0xA0000) are decoded
// whatever the command register says, as QEMU does, so the screen works before firmware runs.

import type { IoDevice, IoSize } from '../machine/io.js';
import type { BochsVbe } from './bochs-vbe.js';
import { PCI_COMMAND, PCI_COMMAND_MEMORY, PciFunction, type PciFunctionState } from './pci.js';

export const STDVGA_VENDOR_ID = 0x1234;  // QEMU (originally Bochs)
export const STDVGA_DEVICE_ID = 0x1111;
const STDVGA_CLASS = 0x030000;           // display controller, VGA compatible
/** Revision 2 and up has the extended registers at BAR2 0x600 (bochs-drm checks). */
const STDVGA_REVISION = 2;
const SUBSYSTEM_VENDOR_REDHAT = 0x1af4;  // what QEMU puts in every device's subsystem IDs
const SUBSYSTEM_QEMU = 0x1100;

/** BAR2, the register page. */
export const STDVGA_MMIO_SIZE = 0x1000;
const MMIO_VGA_PORTS = 0x400;            // 0x3C0-0x3DF at 0x400-0x41F; a wider access is its bytes, low first
const MMIO_VGA_PORTS_END = 0x420;
const MMIO_DISPI = 0x500;                // register n as a 16-bit word at 0x500 + 2n
const MMIO_DISPI_END = 0x516;
const MMIO_QEXT_SIZE = 0x600;            // 32-bit: the extended region's size in bytes
const MMIO_QEXT_BYTEORDER = 0x604;       // 32-bit: the framebuffer's byte order
const QEXT_REGION_SIZE = 8;
const QEXT_LITTLE_ENDIAN = 0x1e1e1e1e;
const QEXT_BIG_ENDIAN = 0xbebebebe;

// Expansion ROM base address register (PCI Local Bus Specification 2.2, §6.2.5.2)
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_ROM_ADDRESS_ENABLE = 0x01;   // decode the ROM (with Command.Memory)
const PCI_ROM_ADDRESS_MASK = 0xfffff800;      // bits 31:11 the base; a ROM is at least 2 KiB
const PCI_ROM_MIN_SIZE = 0x800;

/**
 * The vendor and device IDs in an option ROM's PCI data structure (PCI Firmware Specification
 * 3.0 §5.1: the word at 0x18 points to "PCIR", then vendor and device IDs), or null without one.
 * A system BIOS runs a PCI ROM only if they name the function (SeaBIOS's map_pcirom), so
 * vgabios-stdvga.bin works here and vgabios-isavga.bin, which has none, does not.
 */
export function optionRomPciIds(image: Uint8Array): { vendorId: number; deviceId: number } | null {
  if (image.length < 0x1a || image[0] !== 0x55 || image[1] !== 0xaa) return null;
  const at = image[0x18]! | (image[0x19]! << 8);
  if (at + 8 > image.length || String.fromCharCode(...image.subarray(at, at + 4)) !== 'PCIR') return null;
  return { vendorId: image[at + 4]! | (image[at + 5]! << 8), deviceId: image[at + 6]! | (image[at + 7]! << 8) };
}

export interface BochsVbePciOptions {
  /** The display whose memory and registers this function exposes. */
  display: BochsVbe;
  /** The VGA BIOS (an option ROM with a PCI data structure naming 1234:1111), for the expansion ROM BAR. */
  rom?: Uint8Array;
  /** Where BAR0 (the framebuffer, `display.lfb`) now decodes, or null. */
  onMapFramebuffer?: (base: number | null) => void;
  /** Where BAR2 (the register page, `mmio`) now decodes, or null. */
  onMapMmio?: (base: number | null) => void;
  /** Where the expansion ROM (`rom`) now decodes, or null: enabled by its BAR's bit 0 and Command.Memory. */
  onMapRom?: (base: number | null) => void;
}

export class BochsVbePci extends PciFunction {
  /** BAR2, the register page, as an MMIO window (offsets 0..0xFFF; 1-, 2- and 4-byte accesses). */
  readonly mmio: IoDevice;
  /** The expansion ROM as an MMIO window (offsets 0..romSize-1): the image, zeros after it, writes ignored. */
  readonly rom: IoDevice;
  /** The ROM BAR's size: the image rounded up to a power of two (at least 2 KiB), or 0 without an image. */
  readonly romSize: number;
  private romMappedAt: number | null = null;

  constructor(private readonly opts: BochsVbePciOptions) {
    super('stdvga', {
      vendorId: STDVGA_VENDOR_ID, deviceId: STDVGA_DEVICE_ID, classCode: STDVGA_CLASS, revision: STDVGA_REVISION,
      subsystemVendorId: SUBSYSTEM_VENDOR_REDHAT, subsystemId: SUBSYSTEM_QEMU,
    });
    const display = opts.display;
    this.defineBar(0, { size: display.vram.length, io: false, prefetchable: true, onMap: (b) => opts.onMapFramebuffer?.(b) });
    this.defineBar(2, { size: STDVGA_MMIO_SIZE, io: false, onMap: (b) => opts.onMapMmio?.(b) });
    const image = opts.rom;
    let romSize = 0;
    if (image !== undefined && image.length > 0) {
      romSize = PCI_ROM_MIN_SIZE;
      while (romSize < image.length) romSize *= 2;
      if (romSize > 1 << 24) throw new RangeError(`a ${image.length}-byte VGA BIOS is no option ROM`);
      // The base bits below the size read back as zero: that is how the guest sizes the ROM.
      this.setWritable(PCI_ROM_ADDRESS, 4, ((~(romSize - 1) & PCI_ROM_ADDRESS_MASK) | PCI_ROM_ADDRESS_ENABLE) >>> 0);
    }
    this.romSize = romSize;
    this.captureResetState();

    this.mmio = { name: 'stdvga-mmio', read: (o, s) => this.mmioRead(o, s), write: (o, s, v) => this.mmioWrite(o, s, v) };
    const rom = image ?? new Uint8Array(0);
    this.rom = {
      name: 'stdvga-rom',
      read: (o, s) => {
        let v = 0;
        for (let i = 0; i < s; i++) v |= (rom[o + i] ?? 0) << (8 * i);
        return v >>> 0;
      },
      write: () => {},
    };
  }

  override reset(): void {
    super.reset();
    this.remapRom();
  }

  override loadState(state: PciFunctionState): void {
    super.loadState(state);
    this.remapRom();
  }

  protected override configWritten(offset: number, size: number): void {
    const touches = (at: number, length: number) => offset < at + length && offset + size > at;
    if (touches(PCI_COMMAND, 2) || touches(PCI_ROM_ADDRESS, 4)) this.remapRom();
  }

  /** The ROM decodes while its enable bit and Command.Memory are both set, at a base that is not 0. */
  private remapRom(): void {
    const raw = this.readConfig(PCI_ROM_ADDRESS, 4);
    const base = (raw & PCI_ROM_ADDRESS_MASK) >>> 0;
    const on = this.romSize > 0 && (raw & PCI_ROM_ADDRESS_ENABLE) !== 0 && (this.get16(PCI_COMMAND) & PCI_COMMAND_MEMORY) !== 0;
    const at = on && base !== 0 ? base : null;
    if (at === this.romMappedAt) return;
    this.romMappedAt = at;
    this.opts.onMapRom?.(at);
  }

  // ---- BAR2 ----

  private mmioRead(o: number, size: IoSize): number {
    const display = this.opts.display;
    if (o >= MMIO_VGA_PORTS && o + size <= MMIO_VGA_PORTS_END) return display.vga.ports.read(o - MMIO_VGA_PORTS, size);
    if (o >= MMIO_DISPI && o + size <= MMIO_DISPI_END) {
      // 16-bit registers; a dword is two of them, low first; a byte is half of one.
      const index = (o - MMIO_DISPI) >> 1;
      if (size === 1) return (display.readRegister(index) >> (8 * (o & 1))) & 0xff;
      if (o & 1) return 0;
      const low = display.readRegister(index);
      return size === 2 ? low : (low | (display.readRegister(index + 1) << 16)) >>> 0;
    }
    if (size === 4 && o === MMIO_QEXT_SIZE) return QEXT_REGION_SIZE;
    if (size === 4 && o === MMIO_QEXT_BYTEORDER) return display.state.bigEndian ? QEXT_BIG_ENDIAN : QEXT_LITTLE_ENDIAN;
    return 0; // the EDID blob (0x000-0x3FF) is empty: no valid header, so bochs-drm offers its own modes
  }

  private mmioWrite(o: number, size: IoSize, v: number): void {
    const display = this.opts.display;
    if (o >= MMIO_VGA_PORTS && o + size <= MMIO_VGA_PORTS_END) { display.vga.ports.write(o - MMIO_VGA_PORTS, size, v); return; }
    if (o >= MMIO_DISPI && o + size <= MMIO_DISPI_END) {
      if (size === 1 || (o & 1)) return; // half a register: nothing sensible to write
      const index = (o - MMIO_DISPI) >> 1;
      display.writeRegister(index, v & 0xffff);
      if (size === 4) display.writeRegister(index + 1, v >>> 16);
      return;
    }
    if (size === 4 && o === MMIO_QEXT_BYTEORDER) {
      if (v === QEXT_BIG_ENDIAN) display.setBigEndian(true);
      else if (v === QEXT_LITTLE_ENDIAN) display.setBigEndian(false);
    }
  }
}
