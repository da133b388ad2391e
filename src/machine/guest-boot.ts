// What a power-on starts once the devices have their reset state: the firmware at the reset
// vector (bios.ts: SeaBIOS, which finds the board through fw_cfg and the CMOS), or, without
// firmware, what a BIOS would have left (firmware.ts: the APIC in virtual wire mode, the MP
// table, the CPU in Linux's entry state) with the kernel loaded directly (boot/linux.ts).

import { loadLinux } from '../boot/linux.js';
import type { Core } from '../cpu/core.js';
import type { Mc146818 } from '../devices/mc146818.js';
import type { Lapic } from '../devices/lapic.js';
import type { PciBus } from '../devices/pci.js';
import type { InterruptWiring } from './interrupts.js';
import { e820Map } from './board.js';
import { enterLinux, writeMpTable, type CpuidLeaf1 } from './firmware.js';
import { CMOS_BOOT_ORDER, cmosBootOrder, loadBiosLowAlias } from './bios.js';
import type { MachineOptions } from './machine-options.js';

/** The parts of the Machine a power-on loads the guest through. */
export interface GuestBootBoard {
  core: Core;
  config: MachineOptions;
  rtc: Mc146818;
  lapic: Lapic | null;
  pci: PciBus;
  interrupts: InterruptWiring;
  /** Zero guest RAM, as at a real power-on. */
  clearRam(): void;
  /** CPUID leaf 1, for the MP table (asked of the core once: it resets the CPU and runs CPUID). */
  cpuid1(): CpuidLeaf1;
}

/** Start the guest after a power-on's device reset: the firmware, or Linux loaded directly. */
export function bootGuest(b: GuestBootBoard): void {
  const { core, config } = b;
  const ramBytes = config.memoryMiB * 1024 * 1024;
  b.rtc.setMemorySize(ramBytes);
  b.rtc.setEquipment(0);
  const ram = core.ram;
  if (config.firmware !== undefined) {
    // A real power-on: the CPU at its reset vector (core.reset()), RAM cleared, the ROM's low
    // alias behind 0xE0000-0xFFFFF (PAM, reset with the host bridge, has made the area ROM).
    b.clearRam();
    loadBiosLowAlias(ram, config.firmware.bios);
    const order = cmosBootOrder(config.firmware.boot ?? 'disk');
    b.rtc.setCmosByte(CMOS_BOOT_ORDER.FIRST_SECOND, order.firstSecond);
    b.rtc.setCmosByte(CMOS_BOOT_ORDER.THIRD, order.third);
    b.interrupts.remapApic();
    core.refreshState();
    core.flushTlb();
    return;
  }
  // CPUID is asked first: it runs an instruction in the core, from RAM (firmware.ts cpuidLeaf1).
  const leaf1 = b.lapic !== null ? b.cpuid1() : null;
  if (b.lapic !== null) {
    // What the BIOS leaves: the APIC on at its reset base (the core's reset put that in
    // IA32_APIC_BASE), in virtual wire mode, and the MP table that describes the board.
    b.interrupts.remapApic();
    b.lapic.enterVirtualWireMode();
  }
  b.clearRam();
  if (leaf1 !== null) writeMpTable(ram, leaf1, b.pci.interruptSources());
  const entry = loadLinux(ram, {
    kernel: config.kernel!,
    vmlinux: config.vmlinux,
    initrd: config.initrd,
    cmdline: config.cmdline,
    vgaText: true, // the VGA is in mode 3, as its BIOS would leave it
    e820: e820Map(ramBytes),
  });
  enterLinux(core, entry);
}
