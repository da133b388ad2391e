// The board: where each chip of this PC lives. The port windows, ISA IRQ numbers, APIC
// windows, PCI slots and the physical memory map are named here and nowhere else; devices see
// offsets inside their own windows (machine/io.ts), and the Machine (machine.ts) wires them.

import type { E820Entry } from '../boot/linux.js';
import type { IoSize } from './io.js';

/** I/O port windows: base, length, and the access widths each chip's bus interface takes. */
export const PORTS = {
  PIC_MASTER: { base: 0x20, length: 2, widths: [1] },
  PIT: { base: 0x40, length: 4, widths: [1] },
  KBC_DATA: { base: 0x60, length: 1, widths: [1] },
  PORT_B: { base: 0x61, length: 1, widths: [1] },
  KBC_STATUS: { base: 0x64, length: 1, widths: [1] },
  RTC: { base: 0x70, length: 2, widths: [1] },
  POST: { base: 0x80, length: 1, widths: [1] },
  PORT_92: { base: 0x92, length: 1, widths: [1] },
  PIC_SLAVE: { base: 0xa0, length: 2, widths: [1] },
  DEBUGCON: { base: 0xe9, length: 1, widths: [1] },
  COM2: { base: 0x2f8, length: 8, widths: [1] },
  /** QEMU's debug console port, where SeaBIOS writes its log (a read returns 0xE9: "present"). */
  QEMU_DEBUGCON: { base: 0x402, length: 1, widths: [1] },
  /** QEMU's firmware configuration interface (devices/fw-cfg.ts): selector, data, DMA address. */
  FW_CFG: { base: 0x510, length: 12, widths: [1, 2, 4] },
  /** The ACPI fixed hardware (devices/acpi-pm.ts): PM1 event and control blocks, PM timer. */
  ACPI_PM: { base: 0x600, length: 12, widths: [1, 2, 4] },
  /** The Bochs VBE extension's index and data registers (16-bit; a word at 0x1CF reaches 0x1D0). */
  VBE_DISPI: { base: 0x1ce, length: 3, widths: [2] },
  /** The VGA's registers, 0x3C0-0x3DF (colour addressing: CRTC at 0x3D4). */
  VGA: { base: 0x3c0, length: 0x20, widths: [1] },
  COM1: { base: 0x3f8, length: 8, widths: [1] },
  ELCR: { base: 0x4d0, length: 2, widths: [1] },
  /** CONFIG_ADDRESS (dword at 0xCF8), the reset control register (byte at 0xCF9), CONFIG_DATA. */
  PCI_CONF1: { base: 0xcf8, length: 8, widths: [1, 2, 4] },
} as const satisfies Record<string, { base: number; length: number; widths: readonly IoSize[] }>;

/** ISA IRQ numbers. */
export const IRQ = {
  PIT: 0,
  KEYBOARD: 1,
  COM2: 3,
  COM1: 4,
  RTC: 8,
  MOUSE: 12,
  FPU: 13,
} as const;

/** The APICs: MMIO windows, APIC IDs and how ISA IRQs reach the IO-APIC's input pins. */
export const APIC = {
  /** The local APIC's register page at its power-on base (IA32_APIC_BASE); the guest may move it. */
  LAPIC: { base: 0xfee00000, length: 0x1000 },
  /** The 82093AA's IOREGSEL / IOWIN page. */
  IOAPIC: { base: 0xfec00000, length: 0x1000 },
  BSP_APIC_ID: 0,
  /** Not the BSP's ID: Linux would renumber a clash (and the MP table must agree with the chip). */
  IOAPIC_ID: 1,
  /** The 8259's INTR goes to LINT0 (ExtINT, virtual wire); NMI sources would go to LINT1. */
  LINT_EXTINT: 0,
  LINT_NMI: 1,
} as const;

/**
 * IO-APIC input pin of ISA IRQ `irq`: IRQ0 (the PIT) is wired to INTIN2, as on real boards and
 * QEMU's pc, which the MP table announces with an explicit entry; the others keep their number.
 * IRQ2 is the 8259 cascade and reaches no pin.
 */
export function ioapicPinOfIsaIrq(irq: number): number | null {
  if (irq === 2) return null;
  return irq === 0 ? 2 : irq;
}

/**
 * The PCI interrupt line (0 = PIRQA .. 3 = PIRQD) that INTx# `pin` (1 = INTA#) of bus-0 device
 * `device` is wired to: the pins rotate by slot, as on QEMU's pc board, which SeaBIOS and the
 * tables this machine writes assume alike.
 */
export function pirqOfPciPin(device: number, pin: number): number {
  return (device - 1 + pin - 1) & 3;
}

/** The IO-APIC inputs PIRQA..D reach directly (beside the PIIX3's routing to the 8259s). */
export const PIRQ_IOAPIC_PIN = 16;

/** PCI device numbers on bus 0. */
export const PCI_SLOT = {
  HOST_BRIDGE: 0,
  ISA_BRIDGE: 1,
  /** The display (QEMU's stdvga), where QEMU's pc board has it. */
  VGA: 2,
  AHCI: 3,
  /** Paravirtual devices (virtio 1.x over PCI): the balloon, the entropy source, the console, the first network card, then the block devices. */
  VIRTIO_BALLOON: 4,
  VIRTIO_RNG: 5,
  VIRTIO_CONSOLE: 6,
  VIRTIO_NET: 7,
  VIRTIO_BLK_FIRST: 8,
  /** Network cards after the first, after the block devices' slots (8..11): slot 7 stays eth0's. */
  VIRTIO_NET_MORE: 12,
} as const;

/** virtio-net cards a machine can have: PCI_SLOT.VIRTIO_NET, then three from PCI_SLOT.VIRTIO_NET_MORE. */
export const MAX_NICS = 4;

/** Physical memory map below 1 MiB (the PC's legacy layout) and the limits on RAM size. */
export const MEMORY = {
  /** Top of conventional memory; the last KiB is the EBDA a BIOS would keep. */
  EBDA_START: 0x9fc00,
  /** The VGA's display memory window: never RAM; the Machine makes it MMIO and maps the VGA there. */
  VGA_HOLE_START: 0xa0000,
  VGA_HOLE_END: 0xc0000,
  /** The system BIOS ROM area (reserved; the kernel scans it for MP/SMBIOS tables). */
  BIOS_START: 0xf0000,
  /** The MP floating pointer and configuration table, at the start of the BIOS area. */
  MP_TABLE: 0xf0000,
  HIGH_RAM_START: 0x100000,
} as const;

/** Guest RAM limits. Above ~3 GiB RAM would run into the PCI/APIC windows (no PCI hole yet). */
export const MIN_MEMORY_MIB = 8;
export const MAX_MEMORY_MIB = 3072;

/** The E820 map a BIOS would report for this memory map. */
export function e820Map(ramBytes: number): E820Entry[] {
  const map: E820Entry[] = [
    { addr: 0, size: MEMORY.EBDA_START, type: 1 },
    { addr: MEMORY.EBDA_START, size: MEMORY.VGA_HOLE_START - MEMORY.EBDA_START, type: 2 },
    // The VGA hole and the option-ROM area are left out, as real BIOSes do.
    { addr: MEMORY.BIOS_START, size: MEMORY.HIGH_RAM_START - MEMORY.BIOS_START, type: 2 },
  ];
  if (ramBytes > MEMORY.HIGH_RAM_START) {
    map.push({ addr: MEMORY.HIGH_RAM_START, size: ramBytes - MEMORY.HIGH_RAM_START, type: 1 });
  }
  return map;
}
