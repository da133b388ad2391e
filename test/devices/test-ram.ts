// Guest RAM for device tests, behaving as the Machine's DMA view does (src/machine/dma.ts):
// bounds-checked, reads outside RAM give all ones (a master abort), writes there are dropped.
import type { DmaView } from '../../src/machine/io';

export class TestRam implements DmaView {
  readonly bytes: Uint8Array;
  /** Accesses that reached past RAM (a device that checks first never makes one). */
  outOfRange = 0;
  constructor(readonly size: number) { this.bytes = new Uint8Array(size); }
  read(phys: number, length: number): Uint8Array {
    const out = new Uint8Array(length).fill(0xff);
    if (phys >= 0 && phys < this.size) out.set(this.bytes.subarray(phys, Math.min(this.size, phys + length)));
    if (!(phys >= 0 && phys + length <= this.size)) this.outOfRange++;
    return out;
  }
  write(phys: number, data: Uint8Array): void {
    if (phys >= 0 && phys < this.size) this.bytes.set(data.subarray(0, Math.max(0, this.size - phys)), phys);
    if (!(phys >= 0 && phys + data.length <= this.size)) this.outOfRange++;
  }
}
