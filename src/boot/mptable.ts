// Intel MultiProcessor Specification 1.4 tables (order no. 242016-006): the MP floating pointer
// structure and the MP configuration table a BIOS leaves in memory so that an OS finds the
// local APIC, the I/O APIC and how interrupts are wired to it. Linux reads them in
// arch/x86/kernel/mpparse.c when there is no ACPI MADT.
//
// This is a pure function: it is given the machine's facts (addresses, IDs, wiring) and returns
// the bytes to place at `address`: the 16-byte floating pointer, then the configuration table.

/** Floating pointer signature "_MP_" and configuration table signature "PCMP". */
const MPF_SIGNATURE = '_MP_';
const MPC_SIGNATURE = 'PCMP';
/** Specification revision 1.4. */
const MP_SPEC_REV_1_4 = 4;
const MPF_LENGTH = 16;
const MPC_HEADER_LENGTH = 44;

// Floating pointer fields
const MPF_PHYSPTR = 4;
const MPF_LENGTH_PARAGRAPHS = 8;
const MPF_SPEC_REV = 9;
const MPF_CHECKSUM = 10;
const MPF_FEATURE1 = 11;      // 0: a configuration table is present (no default configuration)
const MPF_FEATURE2 = 12;      // bit 7 IMCRP: PIC mode with an IMCR; clear: virtual wire mode

// Configuration table header fields
const MPC_BASE_LENGTH = 4;
const MPC_SPEC_REV = 6;
const MPC_CHECKSUM = 7;
const MPC_OEM_ID = 8;         // 8 bytes, space padded
const MPC_PRODUCT_ID = 16;    // 12 bytes, space padded
const MPC_ENTRY_COUNT = 34;
const MPC_LAPIC_ADDRESS = 36;

// Entry types, in the order the specification requires them
export const MP_ENTRY_PROCESSOR = 0;
export const MP_ENTRY_BUS = 1;
export const MP_ENTRY_IOAPIC = 2;
export const MP_ENTRY_IO_INTERRUPT = 3;
export const MP_ENTRY_LOCAL_INTERRUPT = 4;
const PROCESSOR_ENTRY_LENGTH = 20;
const SHORT_ENTRY_LENGTH = 8;

// Processor entry CPU flags
const CPU_FLAG_EN = 0x01;     // usable
const CPU_FLAG_BP = 0x02;     // the bootstrap processor
// I/O APIC entry flags
const IOAPIC_FLAG_EN = 0x01;

/** Interrupt types of I/O and local interrupt assignment entries. */
export const MP_INT = 0;      // vectored interrupt, vector from the APIC redirection entry
export const MP_NMI = 1;
export const MP_SMI = 2;
export const MP_EXTINT = 3;   // vector from an 8259-compatible controller
/** Polarity (bits 0-1) and trigger mode (bits 2-3) of an interrupt entry. */
export const MP_IRQ_CONFORMS = 0;          // both: conforms to the bus's specification
export const MP_IRQ_ACTIVE_HIGH = 0x1;
export const MP_IRQ_ACTIVE_LOW = 0x3;
export const MP_IRQ_EDGE = 0x1 << 2;
export const MP_IRQ_LEVEL = 0x3 << 2;
/** Local interrupt entry destination meaning "every local APIC". */
export const MP_ALL_LAPICS = 0xff;

export interface MpProcessor {
  apicId: number;
  /** Local APIC version register bits 0-7 (0x14: integrated xAPIC). */
  apicVersion: number;
  bootstrap: boolean;
  /** CPUID leaf 1 EAX (stepping, model, family) and EDX (feature flags). */
  signature: number;
  features: number;
}

export interface MpBus { id: number; type: 'ISA' | 'PCI' | 'EISA' }

export interface MpIoApic { id: number; version: number; address: number }

export interface MpInterrupt {
  type: number;           // MP_INT / MP_NMI / MP_SMI / MP_EXTINT
  flags: number;          // polarity | trigger
  sourceBus: number;
  /** ISA: the IRQ; PCI: device << 2 | INTx (0 = INTA#). */
  sourceIrq: number;
  /** Destination I/O APIC id (I/O entries) or local APIC id (local entries, MP_ALL_LAPICS). */
  destinationId: number;
  /** I/O APIC INTIN pin, or LINTIN (0 / 1) of the local APIC. */
  destinationPin: number;
}

export interface MpConfig {
  /** Physical address the bytes are placed at (16-byte aligned); the table follows the pointer. */
  address: number;
  oemId: string;
  productId: string;
  localApicAddress: number;
  processors: MpProcessor[];
  buses: MpBus[];
  ioApics: MpIoApic[];
  ioInterrupts: MpInterrupt[];
  localInterrupts: MpInterrupt[];
}

const BUS_TYPE_STRINGS: Record<MpBus['type'], string> = { ISA: 'ISA   ', PCI: 'PCI   ', EISA: 'EISA  ' };

/** The byte that makes `bytes` sum to zero (mod 256). */
function checksumByte(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

function putAscii(b: Uint8Array, at: number, text: string, width: number): void {
  for (let i = 0; i < width; i++) b[at + i] = i < text.length ? text.charCodeAt(i) & 0x7f : 0x20;
}

/** Build the floating pointer and the configuration table, to be written at `config.address`. */
export function buildMpTable(config: MpConfig): Uint8Array {
  if (!Number.isInteger(config.address) || config.address % 16 !== 0 || config.address < 0) {
    throw new RangeError(`MP table address 0x${config.address.toString(16)} is not 16-byte aligned`);
  }
  const entriesLength = config.processors.length * PROCESSOR_ENTRY_LENGTH +
    (config.buses.length + config.ioApics.length + config.ioInterrupts.length + config.localInterrupts.length) *
      SHORT_ENTRY_LENGTH;
  const tableLength = MPC_HEADER_LENGTH + entriesLength;
  const out = new Uint8Array(MPF_LENGTH + tableLength);
  const dv = new DataView(out.buffer);

  // -- the floating pointer --
  putAscii(out, 0, MPF_SIGNATURE, 4);
  dv.setUint32(MPF_PHYSPTR, config.address + MPF_LENGTH, true);
  out[MPF_LENGTH_PARAGRAPHS] = MPF_LENGTH / 16;
  out[MPF_SPEC_REV] = MP_SPEC_REV_1_4;
  out[MPF_FEATURE1] = 0;
  out[MPF_FEATURE2] = 0; // virtual wire mode: there is no IMCR
  out[MPF_CHECKSUM] = checksumByte(out.subarray(0, MPF_LENGTH));

  // -- the configuration table --
  const t = MPF_LENGTH;
  putAscii(out, t, MPC_SIGNATURE, 4);
  dv.setUint16(t + MPC_BASE_LENGTH, tableLength, true);
  out[t + MPC_SPEC_REV] = MP_SPEC_REV_1_4;
  putAscii(out, t + MPC_OEM_ID, config.oemId, 8);
  putAscii(out, t + MPC_PRODUCT_ID, config.productId, 12);
  const count = config.processors.length + config.buses.length + config.ioApics.length +
    config.ioInterrupts.length + config.localInterrupts.length;
  dv.setUint16(t + MPC_ENTRY_COUNT, count, true);
  dv.setUint32(t + MPC_LAPIC_ADDRESS, config.localApicAddress >>> 0, true);
  // OEM table pointer/size, extended table length/checksum: all zero.

  let p = t + MPC_HEADER_LENGTH;
  for (const cpu of config.processors) {
    out[p] = MP_ENTRY_PROCESSOR;
    out[p + 1] = cpu.apicId & 0xff;
    out[p + 2] = cpu.apicVersion & 0xff;
    out[p + 3] = CPU_FLAG_EN | (cpu.bootstrap ? CPU_FLAG_BP : 0);
    dv.setUint32(p + 4, cpu.signature >>> 0, true);
    dv.setUint32(p + 8, cpu.features >>> 0, true);
    p += PROCESSOR_ENTRY_LENGTH;
  }
  for (const bus of config.buses) {
    out[p] = MP_ENTRY_BUS;
    out[p + 1] = bus.id & 0xff;
    putAscii(out, p + 2, BUS_TYPE_STRINGS[bus.type], 6);
    p += SHORT_ENTRY_LENGTH;
  }
  for (const io of config.ioApics) {
    out[p] = MP_ENTRY_IOAPIC;
    out[p + 1] = io.id & 0xff;
    out[p + 2] = io.version & 0xff;
    out[p + 3] = IOAPIC_FLAG_EN;
    dv.setUint32(p + 4, io.address >>> 0, true);
    p += SHORT_ENTRY_LENGTH;
  }
  const interrupt = (kind: number, e: MpInterrupt) => {
    out[p] = kind;
    out[p + 1] = e.type & 0xff;
    dv.setUint16(p + 2, e.flags & 0xf, true);
    out[p + 4] = e.sourceBus & 0xff;
    out[p + 5] = e.sourceIrq & 0xff;
    out[p + 6] = e.destinationId & 0xff;
    out[p + 7] = e.destinationPin & 0xff;
    p += SHORT_ENTRY_LENGTH;
  };
  for (const e of config.ioInterrupts) interrupt(MP_ENTRY_IO_INTERRUPT, e);
  for (const e of config.localInterrupts) interrupt(MP_ENTRY_LOCAL_INTERRUPT, e);

  out[t + MPC_CHECKSUM] = checksumByte(out.subarray(t, t + tableLength));
  return out;
}
