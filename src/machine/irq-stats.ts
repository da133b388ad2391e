// Interrupts the CPU took from its interrupt controllers, counted per vector at the acknowledge
// cycle (the monitor's `info irq`, the inspector). Counting costs an array increment or two per
// interrupt; the counts are the host's, not the guest's, so they are not part of a snapshot.

import type { DualPic8259 } from '../devices/i8259.js';

export class IrqStats {
  /** Acknowledged external interrupts per vector since the machine was built. */
  readonly perVector = new Float64Array(256);
  /** Of those, the ones the 8259s supplied (the CPU's INTR straight from them, or ExtINT through the local APIC), per vector. */
  readonly fromPicPerVector = new Float64Array(256);
  /** The same per ISA IRQ 0-15, as the 8259s' vector bases say (a spurious interrupt counts as IRQ 7 or 15, as the CPU sees it). */
  readonly perPicIrq = new Float64Array(16);

  /** The CPU acknowledged `vector`; returns it (to wrap the acknowledge cycle). */
  acknowledged(vector: number): number {
    this.perVector[vector & 0xff]!++;
    return vector;
  }

  /** The CPU acknowledged `vector` from the 8259 pair `pic`; returns it. */
  acknowledgedFromPic(vector: number, pic: DualPic8259): number {
    this.fromPicPerVector[vector & 0xff]!++;
    const base = vector & 0xf8;
    if (base === pic.master.state.vectorBase) this.perPicIrq[vector & 7]!++;
    else if (base === pic.slave.state.vectorBase) this.perPicIrq[8 + (vector & 7)]!++;
    return this.acknowledged(vector);
  }
}
