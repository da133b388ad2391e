// Interrupts the CPU took from its interrupt controllers, counted per vector at the acknowledge
// cycle (the monitor's `info irq`). Counting costs one array increment per interrupt; the
// counts are the host's, not the guest's, so they are not part of a snapshot.

export class IrqStats {
  /** Acknowledged external interrupts per vector since the machine was built. */
  readonly perVector = new Float64Array(256);

  /** The CPU acknowledged `vector`; returns it (to wrap the acknowledge cycle). */
  acknowledged(vector: number): number {
    this.perVector[vector & 0xff]!++;
    return vector;
  }
}
