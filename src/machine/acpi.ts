// The ACPI tables this board hands its firmware (ACPI 6.5 §5.2): RSDP, RSDT, FADT, FACS, MADT
// and a DSDT whose AML (aml.ts) names the PCI root bridge with its interrupt routing (_PRT),
// the legacy ISA devices and the soft-off state. They go to SeaBIOS through fw_cfg the way
// QEMU gives them: two blobs ("etc/acpi/tables", "etc/acpi/rsdp") and a linker/loader script
// ("etc/table-loader") that tells the firmware where to put each blob and which fields to patch
// with the addresses it chose, then which checksums to compute. So the tables hold offsets into
// their blob here, and real addresses only once the firmware has placed them.

import {
  ACPI_PM_WINDOW, PM1_CNT_LENGTH, PM1_CNT_OFFSET, PM1_EVT_LENGTH, PM1_EVT_OFFSET, PM_TMR_LENGTH, PM_TMR_OFFSET, SLP_TYP_S5,
} from '../devices/acpi-pm.js';
import {
  cat, device, dwordMemory, eisaId, integer, io, irqNoFlags, name, packageOf, resourceTemplate, scope, string,
  wordBusNumber, wordIo, type Aml,
} from './aml.js';
import { APIC, IRQ, MEMORY, PCI_SLOT, PIRQ_IOAPIC_PIN, PORTS, ioapicPinOfIsaIrq, pirqOfPciPin } from './board.js';

export const ACPI_OEM_ID = 'WEBX86';
const ACPI_OEM_TABLE_ID = 'WEBX86PC';
const ACPI_CREATOR_ID = 'WX86';
/** The ACPI SCI: ISA IRQ 9, level-triggered and active high (the MADT overrides its polarity). */
export const SCI_IRQ = 9;
const HEADER = 36;

// ---- table headers and checksums ----

function header(t: Uint8Array, signature: string, revision: number): void {
  const v = new DataView(t.buffer, t.byteOffset);
  t.set(new TextEncoder().encode(signature), 0);
  v.setUint32(4, t.length, true);
  t[8] = revision;
  t.set(new TextEncoder().encode(ACPI_OEM_ID.padEnd(6)), 10);
  t.set(new TextEncoder().encode(ACPI_OEM_TABLE_ID.padEnd(8)), 16);
  v.setUint32(24, 1, true);
  t.set(new TextEncoder().encode(ACPI_CREATOR_ID), 28);
  v.setUint32(32, 1, true);
}

// ---- the tables ----

function facs(): Uint8Array {
  const t = new Uint8Array(64);
  t.set(new TextEncoder().encode('FACS'), 0);
  new DataView(t.buffer).setUint32(4, 64, true);
  t[32] = 1; // version
  return t;
}

/**
 * The DSDT's AML: the PCI root bridge with its routing and windows, the ISA devices, \_S5.
 * Without an IO-APIC there is no _PRT: the OS then takes each function's Interrupt Line register,
 * which the firmware programmed with the 8259 IRQ it routed the function's PIRQ line to (PIIX3
 * PIRQRC), as an OS does on a PC without ACPI routing (PCI Firmware spec 3.2 §2.6).
 */
function dsdtAml(ramBytes: number, apic: boolean): Aml {
  // _PRT: each bus-0 slot's INTA#..INTD# to the IO-APIC input of its PIRQ line (board.ts);
  // "source 0" means the last field is a GSI (§6.2.13).
  const routes: Aml[] = [];
  for (let slot = 1; slot < 32 && apic; slot++) {
    for (let pin = 0; pin < 4; pin++) {
      routes.push(packageOf(integer(((slot << 16) | 0xffff) >>> 0), integer(pin), integer(0),
        integer(PIRQ_IOAPIC_PIN + pirqOfPciPin(slot, pin + 1))));
    }
  }
  const isaDevice = (n: string, hid: string, uid: number | null, ...resources: Aml[]) =>
    device(n, name('_HID', eisaId(hid)), ...(uid === null ? [] : [name('_UID', integer(uid))]),
      name('_CRS', resourceTemplate(...resources)));
  const pciBridge = device('PCI0',
    name('_HID', eisaId('PNP0A03')),
    name('_ADR', integer(0)),
    name('_UID', integer(0)),
    ...(apic ? [name('_PRT', packageOf(...routes))] : []),
    // What the root bridge forwards to PCI: every bus number, the I/O ports around the
    // configuration registers, the VGA window, and the memory between RAM and the APICs.
    name('_CRS', resourceTemplate(
      wordBusNumber(0, 0xff),
      io(PORTS.PCI_CONF1.base, PORTS.PCI_CONF1.length),
      wordIo(0, PORTS.PCI_CONF1.base - 1),
      wordIo(PORTS.PCI_CONF1.base + PORTS.PCI_CONF1.length, 0xffff),
      dwordMemory(MEMORY.VGA_HOLE_START, MEMORY.VGA_HOLE_END - 1, true),
      dwordMemory(ramBytes, APIC.IOAPIC.base - 1, false),
    )),
    device('ISA',
      name('_ADR', integer(PCI_SLOT.ISA_BRIDGE << 16)),
      isaDevice('KBD', 'PNP0303', null, io(PORTS.KBC_DATA.base, 1), io(PORTS.KBC_STATUS.base, 1), irqNoFlags(IRQ.KEYBOARD)),
      isaDevice('MOU', 'PNP0F13', null, irqNoFlags(IRQ.MOUSE)),
      isaDevice('COM1', 'PNP0501', 1, io(PORTS.COM1.base, PORTS.COM1.length), irqNoFlags(IRQ.COM1)),
      isaDevice('COM2', 'PNP0501', 2, io(PORTS.COM2.base, PORTS.COM2.length), irqNoFlags(IRQ.COM2)),
      isaDevice('RTC', 'PNP0B00', null, io(PORTS.RTC.base, PORTS.RTC.length), irqNoFlags(IRQ.RTC)),
    ),
  );
  return cat(
    scope('\\_SB',
      device('CPU0', name('_HID', string('ACPI0007')), name('_UID', integer(0))),
      pciBridge),
    // Soft-off: the SLP_TYP value for PM1a and PM1b control (§7.4.2).
    name('\\_S5', packageOf(integer(SLP_TYP_S5), integer(SLP_TYP_S5), integer(0), integer(0))),
  );
}

function dsdt(ramBytes: number, apic: boolean): Uint8Array {
  const aml = dsdtAml(ramBytes, apic);
  const t = new Uint8Array(HEADER + aml.length);
  t.set(aml, HEADER);
  header(t, 'DSDT', 2);
  return t;
}

/** FADT offsets of the fields the loader patches. */
const FADT_FIRMWARE_CTRL = 36;
const FADT_DSDT = 40;

/** ACPI 2.0+ FADT (revision 3, 244 bytes): where the fixed hardware is and how the board boots. */
function fadt(pmBase: number): Uint8Array {
  const t = new Uint8Array(244);
  const v = new DataView(t.buffer);
  v.setUint16(46, SCI_IRQ, true);
  // SMI_CMD 0 (offset 48): no SMM, so the hardware is always in ACPI mode (SCI_EN reads 1).
  v.setUint32(56, pmBase + PM1_EVT_OFFSET, true);
  v.setUint32(64, pmBase + PM1_CNT_OFFSET, true);
  v.setUint32(76, pmBase + PM_TMR_OFFSET, true);
  t[88] = PM1_EVT_LENGTH;
  t[89] = PM1_CNT_LENGTH;
  t[91] = PM_TMR_LENGTH;
  v.setUint16(96, 0x0fff, true); // P_LVL2_LAT > 100: no C2
  v.setUint16(98, 0x0fff, true); // P_LVL3_LAT > 1000: no C3
  t[108] = 0x32; // CENTURY: the RTC's century byte
  // IAPC_BOOT_ARCH: legacy ISA devices, and an 8042 (Linux's i8042 probes it even without PNP).
  v.setUint16(109, 0x0003, true);
  // Flags: WBINVD works, C1 via HLT, the sleep button is not a fixed feature (the power button
  // is: PWRBTN_STS), RESET_REG is supported.
  v.setUint32(112, (1 << 0) | (1 << 2) | (1 << 5) | (1 << 10), true);
  // RESET_REG: the PIIX3's reset control register at 0xCF9, in system I/O space, byte wide.
  t[116] = 1; t[117] = 8; t[118] = 0; t[119] = 1;
  v.setUint32(120, PORTS.PCI_CONF1.base + 1, true);
  t[128] = 0x06; // RESET_VALUE: hard reset (RCR bits SRST | RST_CPU)
  header(t, 'FACP', 3);
  return t;
}

/** MADT (§5.2.12): the local APIC, the IO-APIC, the ISA interrupt overrides and LINT1 as NMI. */
function madt(): Uint8Array {
  const entries: number[][] = [];
  const d = (x: number) => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24];
  entries.push([0, 8, 0, APIC.BSP_APIC_ID, ...d(1)]); // Processor Local APIC, enabled
  entries.push([1, 12, APIC.IOAPIC_ID, 0, ...d(APIC.IOAPIC.base), ...d(0)]); // IO APIC, GSI base 0
  for (let irq = 0; irq < 16; irq++) {
    const pin = ioapicPinOfIsaIrq(irq);
    if (pin !== null && pin !== irq) entries.push([2, 10, 0, irq, ...d(pin), 0, 0]); // IRQ0 -> GSI 2, conforming
  }
  entries.push([2, 10, 0, SCI_IRQ, ...d(SCI_IRQ), 0x0d, 0x00]); // SCI: active high, level
  entries.push([4, 6, 0xff, 0, 0, APIC.LINT_NMI]); // NMI on LINT1 of every processor
  const body = entries.flat();
  const t = new Uint8Array(HEADER + 8 + body.length);
  const v = new DataView(t.buffer);
  v.setUint32(HEADER, APIC.LAPIC.base, true);
  v.setUint32(HEADER + 4, 1, true); // PCAT_COMPAT: there are 8259s too
  t.set(body, HEADER + 8);
  header(t, 'APIC', 3);
  return t;
}

// ---- the linker/loader script (QEMU's hw/acpi/bios-linker-loader interface, as SeaBIOS's
// src/fw/romfile_loader.h documents it): 128-byte commands ----

const LOADER_ALLOCATE = 1, LOADER_ADD_POINTER = 2, LOADER_ADD_CHECKSUM = 3;
const ZONE_HIGH = 1, ZONE_FSEG = 2;
const FILE_NAME = 56;
export const ACPI_TABLES_FILE = 'etc/acpi/tables';
export const ACPI_RSDP_FILE = 'etc/acpi/rsdp';
export const ACPI_LOADER_FILE = 'etc/table-loader';

class Loader {
  private readonly commands: Uint8Array[] = [];
  private command(kind: number, fill: (v: DataView, t: Uint8Array) => void): void {
    const c = new Uint8Array(128);
    const v = new DataView(c.buffer);
    v.setUint32(0, kind, true);
    fill(v, c);
    this.commands.push(c);
  }
  private static file(t: Uint8Array, at: number, fileName: string): void {
    t.set(new TextEncoder().encode(fileName).subarray(0, FILE_NAME - 1), at);
  }
  allocate(file: string, align: number, zone: number): void {
    this.command(LOADER_ALLOCATE, (v, t) => { Loader.file(t, 4, file); v.setUint32(60, align, true); t[64] = zone; });
  }
  /** Add `src`'s address to the `size`-byte field at `offset` in `dest`. */
  addPointer(dest: string, src: string, offset: number, size: number): void {
    this.command(LOADER_ADD_POINTER, (v, t) => {
      Loader.file(t, 4, dest); Loader.file(t, 60, src); v.setUint32(116, offset, true); t[120] = size;
    });
  }
  /** Make bytes [start, start + length) of `file` sum to zero by adjusting the byte at `offset`. */
  addChecksum(file: string, offset: number, start: number, length: number): void {
    this.command(LOADER_ADD_CHECKSUM, (v, t) => {
      Loader.file(t, 4, file); v.setUint32(60, offset, true); v.setUint32(64, start, true); v.setUint32(68, length, true);
    });
  }
  bytes(): Uint8Array { return cat(...this.commands); }
}

export interface AcpiBlobs {
  tables: Uint8Array;
  rsdp: Uint8Array;
  loader: Uint8Array;
}

/**
 * The three fw_cfg files for a machine with `ramBytes` of RAM and its PM block at `pmBase`; with
 * `apic` false (the 8259s alone) no MADT and no APIC routing.
 */
export function buildAcpi(ramBytes: number, pmBase: number, apic = true): AcpiBlobs {
  if (ACPI_PM_WINDOW > 0x100) throw new Error('ACPI PM window too large');
  const parts: { table: Uint8Array; at: number }[] = [];
  let size = 0;
  const place = (table: Uint8Array) => {
    size = (size + 7) & ~7;
    const part = { table, at: size };
    parts.push(part);
    size += table.length;
    return part;
  };
  const facsPart = place(facs()); // first: the blob is 64-byte aligned, as the FACS must be
  const dsdtPart = place(dsdt(ramBytes, apic));
  const fadtPart = place(fadt(pmBase));
  const madtPart = apic ? place(madt()) : null;
  const rsdt = new Uint8Array(HEADER + 4 * (madtPart ? 2 : 1));
  header(rsdt, 'RSDT', 1);
  const rsdtPart = place(rsdt);

  const tables = new Uint8Array(size);
  for (const p of parts) tables.set(p.table, p.at);
  const tv = new DataView(tables.buffer);
  // Pointer fields hold offsets in the blob; the loader adds the blob's address.
  tv.setUint32(fadtPart.at + FADT_FIRMWARE_CTRL, facsPart.at, true);
  tv.setUint32(fadtPart.at + FADT_DSDT, dsdtPart.at, true);
  tv.setUint32(rsdtPart.at + HEADER, fadtPart.at, true);
  if (madtPart) tv.setUint32(rsdtPart.at + HEADER + 4, madtPart.at, true);

  const rsdp = new Uint8Array(20);
  rsdp.set(new TextEncoder().encode('RSD PTR '), 0);
  rsdp.set(new TextEncoder().encode(ACPI_OEM_ID.padEnd(6)), 9);
  rsdp[15] = 0; // revision 0: ACPI 1.0 RSDP, RSDT only
  new DataView(rsdp.buffer).setUint32(16, rsdtPart.at, true);

  const l = new Loader();
  l.allocate(ACPI_TABLES_FILE, 64, ZONE_HIGH);
  l.allocate(ACPI_RSDP_FILE, 16, ZONE_FSEG); // the RSDP must be in the BIOS area for the OS to find it
  l.addPointer(ACPI_TABLES_FILE, ACPI_TABLES_FILE, fadtPart.at + FADT_FIRMWARE_CTRL, 4);
  l.addPointer(ACPI_TABLES_FILE, ACPI_TABLES_FILE, fadtPart.at + FADT_DSDT, 4);
  l.addPointer(ACPI_TABLES_FILE, ACPI_TABLES_FILE, rsdtPart.at + HEADER, 4);
  if (madtPart) l.addPointer(ACPI_TABLES_FILE, ACPI_TABLES_FILE, rsdtPart.at + HEADER + 4, 4);
  l.addPointer(ACPI_RSDP_FILE, ACPI_TABLES_FILE, 16, 4);
  for (const p of [dsdtPart, fadtPart, ...(madtPart ? [madtPart] : []), rsdtPart]) l.addChecksum(ACPI_TABLES_FILE, p.at + 9, p.at, p.table.length);
  l.addChecksum(ACPI_RSDP_FILE, 8, 0, 20);
  return { tables, rsdp, loader: l.bytes() };
}

