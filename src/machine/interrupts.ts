// How interrupts reach the CPU on this board. Without APICs: ISA IRQ n -> 8259 input n -> the
// CPU's INTR pin. With them (MP spec 1.4, virtual wire mode): ISA IRQ n -> 8259 input n and
// IO-APIC pin ioapicPinOfIsaIrq(n); the 8259's INTR -> local APIC LINT0; IO-APIC messages ->
// local APIC; local APIC -> INTR pin; INTA asks the local APIC first, which may hand it to the
// 8259. PCI interrupts (PIRQA..D) join the ISA lines the PIIX3 routes them to.

import type { Core } from '../cpu/core.js';
import { DualPic8259 } from '../devices/i8259.js';
import { Lapic, LAPIC_EXTINT } from '../devices/lapic.js';
import {
  Ioapic, IOAPIC_DELIVERY_FIXED, IOAPIC_DELIVERY_LOWEST, IOAPIC_DELIVERY_NMI, type IoapicMessage,
} from '../devices/ioapic.js';
import { APIC, ioapicPinOfIsaIrq } from './board.js';
import type { MmioMap } from './bus.js';
import type { VirtualClock } from './clock.js';
import { CallbackIrqLine, type IrqLine } from './io.js';
import { IrqStats } from './irq-stats.js';

/** IA32_APIC_BASE: bit 11 EN (the APIC is on), bits 12-31 the register page's base. */
const MSR_APIC_BASE_EN = 1 << 11;
const MSR_APIC_BASE_ADDRESS = 0xfffff000;

export interface InterruptCounters {
  /** IO-APIC messages no local APIC took (other destinations, SMI/INIT/ExtINT modes). */
  apicUndelivered: number;
  /** Guest moves of the local APIC onto another device's window (not mapped there). */
  apicBaseConflicts: number;
}

export interface InterruptWiringOptions {
  /** Local APIC and IO-APIC, or the 8259s alone. */
  apic: boolean;
  core: Core;
  clock: VirtualClock;
  mmio: MmioMap;
  counters: InterruptCounters;
  log: (line: string) => void;
  /** Whether a PCI interrupt the PIIX3 routes to ISA IRQ `n` is asserted (false while the bus is being built). */
  pciLevelOn: (n: number) => boolean;
}

export class InterruptWiring {
  readonly pic: DualPic8259;
  /** The APICs, or null in a machine built with `apic: false`. */
  readonly lapic: Lapic | null;
  readonly ioapic: Ioapic | null;
  /** ISA IRQs 0-15. */
  readonly isaLines: CallbackIrqLine[] = [];
  /** Interrupts taken per vector (`info irq`). */
  readonly stats = new IrqStats();

  /** IA32_APIC_BASE as the MMIO map follows it now (-1: not yet looked at). */
  private apicBaseMsr = -1;
  /** Physical base the local APIC is mapped at, or -1 (disabled, or its base collides). */
  private lapicMappedAt = -1;

  constructor(private readonly o: InterruptWiringOptions) {
    const core = o.core;
    if (o.apic) {
      this.lapic = new Lapic(o.clock, {
        apicId: APIC.BSP_APIC_ID,
        onIntr: (level) => core.setIntr(level),
        onNmi: () => core.raiseNmi(),
        // EOI of a level-triggered vector is broadcast to the IO-APIC (clears Remote IRR).
        onEoi: (vector) => this.ioapic?.eoi(vector),
        // One CPU: IPIs to others (INIT/SIPI to APs that do not exist) go nowhere.
        onIpi: () => { o.counters.apicUndelivered++; },
      });
      this.ioapic = new Ioapic((msg) => this.deliver(msg), APIC.IOAPIC_ID);
      this.pic = new DualPic8259((level) => this.lapic!.setLint(APIC.LINT_EXTINT, level));
    } else {
      this.lapic = null;
      this.ioapic = null;
      this.pic = new DualPic8259((level) => core.setIntr(level));
    }
    for (let n = 0; n < 16; n++) {
      const pin = this.ioapic === null ? null : ioapicPinOfIsaIrq(n);
      const ioapic = this.ioapic;
      this.isaLines.push(new CallbackIrqLine(
        pin === null || ioapic === null
          ? () => this.driveIsaIrq(n)
          : (level) => { this.driveIsaIrq(n); ioapic.setIrq(pin, level); },
      ));
    }
  }

  /** The IrqLine of ISA IRQ `n`. */
  irq(n: number): IrqLine {
    const line = this.isaLines[n];
    if (line === undefined) throw new RangeError(`no IRQ ${n}`);
    return line;
  }

  /** The 8259 input of ISA IRQ `n`: its ISA line, ORed with the PCI interrupt lines the PIIX3 routes to it. */
  driveIsaIrq(n: number): void {
    this.pic.setIrq(n, (this.isaLines[n]?.isHigh ?? false) || this.o.pciLevelOn(n));
  }

  /** An IO-APIC interrupt message on the APIC bus: to the local APIC if it is addressed. */
  private deliver(msg: IoapicMessage): void {
    const lapic = this.lapic;
    if (lapic === null || !lapic.matchesDestination(msg.destination, msg.logical)) {
      this.o.counters.apicUndelivered++;
      // Nobody will EOI it: do not leave a level entry waiting on Remote IRR forever.
      if (msg.levelTriggered) this.ioapic?.eoi(msg.vector);
      return;
    }
    switch (msg.deliveryMode) {
      case IOAPIC_DELIVERY_FIXED:
      case IOAPIC_DELIVERY_LOWEST:
        lapic.acceptInterrupt(msg.vector, msg.levelTriggered);
        return;
      case IOAPIC_DELIVERY_NMI:
        this.o.core.raiseNmi();
        return;
      default:
        this.o.counters.apicUndelivered++;
    }
  }

  /**
   * Follow IA32_APIC_BASE (kept by the core, which has no hook for its writes): map the local
   * APIC's page at the base it names while its EN bit is set, unmap it otherwise. Called before
   * every MMIO access, at INTA and after every CPU run, so a guest that moves or disables the
   * APIC sees that from its next access on.
   */
  syncApicBase(): void {
    const lapic = this.lapic;
    if (lapic === null) return;
    const msr = this.o.core.u32('OFF_MSR_APIC_BASE');
    if (msr === this.apicBaseMsr) return;
    this.apicBaseMsr = msr;
    const enabled = (msr & MSR_APIC_BASE_EN) !== 0;
    const base = (msr & MSR_APIC_BASE_ADDRESS) >>> 0;
    if (this.lapicMappedAt >= 0 && (!enabled || base !== this.lapicMappedAt)) {
      this.o.mmio.unmap(this.lapicMappedAt);
      this.lapicMappedAt = -1;
    }
    if (enabled && this.lapicMappedAt < 0) {
      try {
        this.o.mmio.map(base, APIC.LAPIC.length, lapic, [1, 2, 4]);
        this.lapicMappedAt = base;
      } catch (e) {
        // Moved onto another device's window: the real chip would shadow it; we keep the
        // other device and count the guest's mistake.
        this.o.counters.apicBaseConflicts++;
        this.o.log(`local APIC base 0x${base.toString(16)} not mapped: ${(e as Error).message}`);
      }
    }
    lapic.setGlobalEnable(enabled);
  }

  /** Look at IA32_APIC_BASE afresh (after a power-on or a loaded snapshot), mapping the local APIC where it says. */
  remapApic(): void {
    if (this.lapicMappedAt >= 0) this.o.mmio.unmap(this.lapicMappedAt);
    this.lapicMappedAt = -1;
    this.apicBaseMsr = -1;
    this.syncApicBase();
  }

  /** INTA cycle: the local APIC's vector, or the 8259's when it says ExtINT. */
  acknowledge(): number {
    const lapic = this.lapic;
    if (lapic === null) return this.stats.acknowledgedFromPic(this.pic.acknowledge(), this.pic);
    this.syncApicBase();
    const vector = lapic.acknowledge();
    return vector === LAPIC_EXTINT ? this.stats.acknowledgedFromPic(this.pic.acknowledge(), this.pic) : this.stats.acknowledged(vector);
  }

  /** Whether the CPU's INTR input is asserted (the HLT loop checks it before skipping time). */
  pending(): boolean {
    return this.lapic === null ? this.pic.interruptPending() : this.lapic.interruptPending();
  }
}
