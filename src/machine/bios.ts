// The firmware path: a PC that starts as a real one does, at the reset vector of its BIOS ROM
// (SeaBIOS, from Debian's seabios package; bios/README.md). What the board does for it:
//
//  - the ROM image sits at the top of the 4 GiB space (the CPU's first fetch is at 0xFFFFFFF0),
//    and its last 128 KiB also answer at 0xE0000-0xFFFFF, below 1 MiB;
//  - the i440FX's PAM registers decide, per segment of 0xC0000-0xFFFFF, whether the CPU's writes
//    reach RAM there (SeaBIOS "shadows" itself into RAM, then write-protects it);
//  - fw_cfg (devices/fw-cfg.ts) carries what the firmware asks about this machine: the E820
//    RAM map, the CPU count, the ACPI tables (acpi.ts), the VGA BIOS as an option ROM.

import { FW_CFG, le, type FwCfg } from '../devices/fw-cfg.js';
import { buildAcpi, ACPI_LOADER_FILE, ACPI_RSDP_FILE, ACPI_TABLES_FILE } from './acpi.js';
import { MEMORY } from './board.js';
import type { IoDevice, IoSize } from './io.js';

/** The part of the ROM that also answers below 1 MiB (0xE0000-0xFFFFF). */
export const BIOS_LOW_ALIAS = 0x20000;
const BIOS_MAX = 0x40000; // the 256 KiB a 440FX board decodes below 4 GiB
const BIOS_MIN = 0x10000;
/** The option-ROM and BIOS area the PAM registers cover. */
export const SHADOW_START = 0xc0000;
const E820_RAM = 1;

export class BiosImageError extends Error { override name = 'BiosImageError'; }

/** Refuse an image that cannot be a PC BIOS, in one line. */
export function checkBiosImage(image: Uint8Array, what = 'BIOS image'): void {
  if (image.length < BIOS_MIN || image.length > BIOS_MAX || image.length % BIOS_MIN !== 0) {
    throw new BiosImageError(`${what} is ${image.length} bytes; a BIOS ROM is 64, 128, 192 or 256 KiB`);
  }
  // The reset vector (16 bytes below the end) must hold code: a far JMP is what every PC BIOS has.
  if (image[image.length - 16] !== 0xea) throw new BiosImageError(`${what} has no far jump at its reset vector (16 bytes before its end)`);
}

/** A VGA BIOS is an option ROM: 0x55 0xAA, then its length in 512-byte blocks (PCI Firmware spec §5.1). */
export function checkOptionRom(image: Uint8Array, what = 'VGA BIOS image'): void {
  if (image.length < 3 || image[0] !== 0x55 || image[1] !== 0xaa) throw new BiosImageError(`${what} is not an option ROM (no 55 AA signature)`);
  if (image[2]! * 512 > image.length) throw new BiosImageError(`${what} is truncated: its header says ${image[2]! * 512} bytes, the file has ${image.length}`);
}

/** The ROM at the top of the 4 GiB space: reads return the image, writes go nowhere. */
export class BiosRom implements IoDevice {
  readonly name = 'bios-rom';
  constructor(readonly image: Uint8Array) {}
  /** Where the image starts below 4 GiB. */
  get base(): number { return 0x1_0000_0000 - this.image.length; }
  read(offset: number, size: IoSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= (this.image[offset + i] ?? 0xff) << (8 * i);
    return v >>> 0;
  }
  write(): void {}
}

/** Put the ROM's low alias into the RAM behind 0xE0000-0xFFFFF (read from there while PAM says ROM). */
export function loadBiosLowAlias(ram: Uint8Array, image: Uint8Array): void {
  const n = Math.min(BIOS_LOW_ALIAS, image.length);
  ram.set(image.subarray(image.length - n), MEMORY.HIGH_RAM_START - n);
}

/**
 * The segments PAM register `register` (0..6) covers and whether each lets writes reach RAM
 * (82441FX datasheet §3.2.18): PAM0 bits 5:4 cover 0xF0000-0xFFFFF; PAMn, n = 1..6, covers
 * 0xC0000 + (n-1)*32 KiB in two 16 KiB halves (bits 1:0 low, 5:4 high). In each field bit 0
 * sends reads to DRAM and bit 1 writes.
 *
 * The RAM behind the area always holds what reads return: the ROM's bytes until the firmware
 * copies itself (an unchanged copy, since it starts as the ROM), then the shadow. So only the
 * write-enable bit changes anything here: it makes a segment RAM or ROM.
 */
export function pamSegments(register: number, value: number): { base: number; length: number; writable: boolean }[] {
  const WE = 0x2;
  if (register === 0) return [{ base: 0xf0000, length: 0x10000, writable: ((value >> 4) & WE) !== 0 }];
  const base = SHADOW_START + (register - 1) * 0x8000;
  return [
    { base, length: 0x4000, writable: (value & WE) !== 0 },
    { base: base + 0x4000, length: 0x4000, writable: ((value >> 4) & WE) !== 0 },
  ];
}

export interface FirmwareConfig {
  ramBytes: number;
  /** The ACPI PM block's I/O base (the FADT points there). */
  pmBase: number;
  /** The board has a local APIC and an IO-APIC (Machine option `apic`, default true). */
  apic?: boolean;
  /** An ISA VGA's BIOS, run by SeaBIOS as an option ROM (QEMU names it "vgaroms/vgabios.bin"). */
  vgaBios?: Uint8Array;
}

/** Fill fw_cfg with what SeaBIOS asks about this machine. */
export function configureFirmware(fw: FwCfg, c: FirmwareConfig): void {
  fw.setItem(FW_CFG.NB_CPUS, le(2, 1));
  fw.setItem(FW_CFG.MAX_CPUS, le(2, 1));
  fw.setItem(FW_CFG.NOGRAPHIC, le(2, 0));
  fw.setItem(FW_CFG.BOOT_MENU, le(2, 0)); // no "Press ESC for boot menu" wait
  fw.setItem(FW_CFG.IRQ0_OVERRIDE, le(4, (c.apic ?? true) ? 1 : 0)); // the PIT reaches IO-APIC input 2 (board.ts)
  // The RAM map: one range from 0. The firmware reserves its own areas (EBDA, BIOS, tables) in
  // what it reports, as on any PC; the holes (VGA, ROMs) are in its E820 answer, not here.
  const e820 = new Uint8Array(20);
  const v = new DataView(e820.buffer);
  v.setBigUint64(0, 0n, true);
  v.setBigUint64(8, BigInt(c.ramBytes), true);
  v.setUint32(16, E820_RAM, true);
  fw.setFile('etc/e820', e820);
  const acpi = buildAcpi(c.ramBytes, c.pmBase, c.apic ?? true);
  fw.setFile(ACPI_TABLES_FILE, acpi.tables);
  fw.setFile(ACPI_RSDP_FILE, acpi.rsdp);
  fw.setFile(ACPI_LOADER_FILE, acpi.loader);
  if (c.vgaBios !== undefined) fw.setFile('vgaroms/vgabios.bin', c.vgaBios);
}

/** The legacy boot order QEMU keeps in CMOS (0x3D: first and second device, 0x38 bits 7:4: third), which SeaBIOS reads without a "bootorder" file. */
export const CMOS_BOOT_ORDER = { FIRST_SECOND: 0x3d, THIRD: 0x38 } as const;
const BOOT_FLOPPY = 1, BOOT_DISK = 2, BOOT_CDROM = 3;

export function cmosBootOrder(first: 'disk' | 'cdrom'): { firstSecond: number; third: number } {
  const [a, b] = first === 'disk' ? [BOOT_DISK, BOOT_CDROM] : [BOOT_CDROM, BOOT_DISK];
  return { firstSecond: (b << 4) | a, third: BOOT_FLOPPY << 4 };
}
