// Guest RAM as the devices see it for DMA (DmaView in io.ts): bounds-checked, and every write
// tells the core, so code it decoded or translated from those bytes is dropped.

import type { Core } from '../cpu/core.js';
import type { DmaView } from './io.js';

/**
 * Guest RAM as devices see it for DMA. Addresses come from the guest, so nothing here throws:
 * bytes outside RAM read as all ones (a master abort) and writes to them are dropped, and
 * each such access is counted.
 */
export class RamDma implements DmaView {
  outOfRange = 0;
  constructor(private readonly core: Core) {}
  get size(): number { return this.core.ramSize; }
  read(phys: number, length: number): Uint8Array {
    const n = Number.isInteger(length) && length > 0 ? length : 0;
    const out = new Uint8Array(n).fill(0xff);
    const start = Number.isInteger(phys) && phys >= 0 ? phys : this.size;
    const end = Math.min(start + n, this.size);
    if (end > start) out.set(this.core.ram.subarray(start, end), 0);
    if (end - start < n) this.outOfRange++;
    return out;
  }
  write(phys: number, data: Uint8Array): void {
    const start = Number.isInteger(phys) && phys >= 0 ? phys : this.size;
    const end = Math.min(start + data.length, this.size);
    if (end > start) {
      this.core.ram.set(data.subarray(0, end - start), start);
      this.core.ramWritten(start, end - start); // code decoded from these bytes is stale
    }
    if (end - start < data.length) this.outOfRange++;
  }
}
