// What a BIOS leaves behind when it hands a PC to Linux, for the machine that boots a kernel
// file without firmware: CPUID asked once, the MP table that describes the board (Intel MP
// spec 1.4), and the CPU in the Linux boot protocol's 32-bit entry state.

import type { BootEntry, SegmentRegister } from '../boot/linux.js';
import {
  buildMpTable, MP_ALL_LAPICS, MP_EXTINT, MP_INT, MP_IRQ_CONFORMS, MP_NMI, type MpInterrupt,
} from '../boot/mptable.js';
import type { Core, SegmentState } from '../cpu/core.js';
import { LAPIC_VERSION } from '../devices/lapic.js';
import { IOAPIC_VERSION } from '../devices/ioapic.js';
import { APIC, MEMORY, PIRQ_IOAPIC_PIN, ioapicPinOfIsaIrq } from './board.js';

/** Bus IDs in the MP table (PCI bus 0 keeps its number; ISA follows it, as SeaBIOS does). */
const MP_BUS_ID = { PCI: 0, ISA: 1 } as const;
/** MP table OEM and product strings. */
const MP_OEM_ID = 'WEBX86';
const MP_PRODUCT_ID = 'i440FX PIIX3';

/** Where cpuidLeaf1 runs its one instruction (conventional RAM, cleared again by the boot). */
const CPUID_PROBE_ADDR = 0x7c00;
const CPUID_INSTRUCTION = Uint8Array.of(0x0f, 0xa2);
/** Present, readable, accessed code segment: a real-mode CS after a far jump. */
const REAL_MODE_CODE_ACCESS = 0x9b;
const EFLAGS_IF = 1 << 9;
const CR0_PE = 1 << 0;

export interface CpuidLeaf1 { eax: number; edx: number }

/** CPUID leaf 1, executed by the core itself (real mode, one instruction), as a BIOS asks it. Resets the CPU. */
export function cpuidLeaf1(core: Core): CpuidLeaf1 {
  core.reset();
  core.setSeg('cs', { selector: 0, base: 0, limit: 0xffff, access: REAL_MODE_CODE_ACCESS });
  core.eip = CPUID_PROBE_ADDR;
  core.setReg('eax', 1);
  core.ram.set(CPUID_INSTRUCTION, CPUID_PROBE_ADDR);
  core.refreshState();
  core.run(1);
  return { eax: core.reg('eax'), edx: core.reg('edx') };
}

/** A PCI function's interrupt pin, for the MP table: bus-0 device, pin (1 = INTA#), and its PIRQ line. */
export interface PciInterruptSource { device: number; pin: number; pirq: number }

/**
 * The MP configuration a BIOS would write for this board, at MEMORY.MP_TABLE. Each PCI
 * interrupt pin gets an entry naming the IO-APIC input of its PIRQ line (MP spec 1.4 §4.3.4:
 * source bus IRQ = device << 2 | INTx, with the PCI bus's own polarity and trigger: active low,
 * level).
 */
export function writeMpTable(ram: Uint8Array, cpuid: CpuidLeaf1, pciInterrupts: readonly PciInterruptSource[] = []): void {
  const isa = (irq: number, pin: number, type = MP_INT): MpInterrupt => ({
    type, flags: MP_IRQ_CONFORMS, sourceBus: MP_BUS_ID.ISA, sourceIrq: irq, destinationId: APIC.IOAPIC_ID, destinationPin: pin,
  });
  const ioInterrupts: MpInterrupt[] = [];
  for (let irq = 0; irq < 16; irq++) {
    const pin = ioapicPinOfIsaIrq(irq);
    if (pin !== null) ioInterrupts.push(isa(irq, pin));
  }
  for (const p of pciInterrupts) {
    ioInterrupts.push({
      type: MP_INT, flags: MP_IRQ_CONFORMS, sourceBus: MP_BUS_ID.PCI, sourceIrq: (p.device << 2) | (p.pin - 1),
      destinationId: APIC.IOAPIC_ID, destinationPin: PIRQ_IOAPIC_PIN + p.pirq,
    });
  }
  const local = (type: number, pin: number): MpInterrupt => ({
    type, flags: MP_IRQ_CONFORMS, sourceBus: MP_BUS_ID.ISA, sourceIrq: 0, destinationId: MP_ALL_LAPICS, destinationPin: pin,
  });
  const table = buildMpTable({
    address: MEMORY.MP_TABLE,
    oemId: MP_OEM_ID,
    productId: MP_PRODUCT_ID,
    localApicAddress: APIC.LAPIC.base,
    processors: [{ apicId: APIC.BSP_APIC_ID, apicVersion: LAPIC_VERSION, bootstrap: true, signature: cpuid.eax, features: cpuid.edx }],
    buses: [{ id: MP_BUS_ID.PCI, type: 'PCI' }, { id: MP_BUS_ID.ISA, type: 'ISA' }],
    ioApics: [{ id: APIC.IOAPIC_ID, version: IOAPIC_VERSION, address: APIC.IOAPIC.base }],
    ioInterrupts,
    localInterrupts: [local(MP_EXTINT, APIC.LINT_EXTINT), local(MP_NMI, APIC.LINT_NMI)],
  });
  if (MEMORY.MP_TABLE + table.length > MEMORY.HIGH_RAM_START) throw new Error('MP table does not fit the BIOS area');
  ram.set(table, MEMORY.MP_TABLE);
}

/** Set the CPU to the boot protocol's 32-bit entry state (BootEntry), then refresh its caches. */
export function enterLinux(core: Core, entry: BootEntry): void {
  // The GDT image is already in RAM (loadLinux writes it); the core only needs GDTR to match.
  core.gdtr = entry.gdtr;
  core.idtr = entry.idtr;
  const seg = (s: SegmentRegister): SegmentState => ({ selector: s.selector, base: s.base, limit: s.limit, access: s.access });
  core.setSeg('cs', seg(entry.cs));
  core.setSeg('ds', seg(entry.ds));
  core.setSeg('es', seg(entry.es));
  core.setSeg('ss', seg(entry.ss));
  core.setSeg('fs', seg(entry.fs));
  core.setSeg('gs', seg(entry.gs));
  core.setReg('eax', entry.eax);
  core.setReg('ecx', entry.ecx);
  core.setReg('edx', entry.edx);
  core.setReg('ebx', entry.ebx);
  core.setReg('esp', entry.esp);
  core.setReg('ebp', entry.ebp);
  core.setReg('esi', entry.esi);
  core.setReg('edi', entry.edi);
  core.cr0 = entry.cr0 | CR0_PE;
  core.cpl = 0;
  core.eip = entry.eip;
  core.setEflags(entry.eflags & ~EFLAGS_IF);
  core.refreshState();
  core.flushTlb();
}
