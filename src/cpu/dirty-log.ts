// The core's dirty log of guest RAM (asm-core/mmu/dirty.ts), for live migration's pre-copy
// rounds: which 4 KiB pages the guest (its CPU, or a device's DMA) wrote since the last look.
//
//   const log = new DirtyLog(core);
//   log.start();                  // every page counts as clean from now on
//   ...run the guest...
//   const pages = log.harvest();  // the page numbers written since start() or the last harvest
//   log.stop();
//
// Call these only between runs (run() has returned): the core fills the log while it runs.
import { CoreError, type Core } from './core.js';

/** Counters since start(): pages logged by CPU writes and by DMA, and harvests. */
export interface DirtyLogStats {
  on: boolean;
  byCpu: number;
  byDma: number;
  harvests: number;
}

interface DirtyLogExports {
  dirtyLogStart(): void;
  dirtyLogStop(): void;
  dirtyLogClear(): void;
  dirtyStats(which: number): number;
}

export class DirtyLog {
  private readonly exports: DirtyLogExports;
  private readonly base: number;

  constructor(private readonly core: Core) {
    const e = core.exports as unknown as Partial<DirtyLogExports> & WebAssembly.Exports;
    const at = e.DIRTY_LOG;
    if (typeof e.dirtyLogStart !== 'function' || typeof e.dirtyLogClear !== 'function' || !(at instanceof WebAssembly.Global)) {
      throw new CoreError('this core has no dirty log (rebuild it: npm run build:core)');
    }
    this.exports = e as DirtyLogExports;
    this.base = Number(at.value) >>> 0;
  }

  get on(): boolean { return this.exports.dirtyStats(3) !== 0; }

  /** Turn logging on with an empty log. */
  start(): void { this.exports.dirtyLogStart(); }

  /** Turn logging off. */
  stop(): void { this.exports.dirtyLogStop(); }

  /**
   * The guest RAM pages (physical page numbers, ascending) written since start() or the last
   * harvest; the log is then empty again.
   */
  harvest(): number[] {
    const pages = this.core.ramSize >>> 12;
    const bits = new Uint8Array(this.core.memory.buffer, this.base, (pages + 7) >>> 3);
    const out: number[] = [];
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i];
      if (b === 0) continue;
      for (let k = 0; k < 8; k++) {
        const page = (i << 3) + k;
        if ((b & (1 << k)) !== 0 && page < pages) out.push(page);
      }
    }
    this.exports.dirtyLogClear();
    return out;
  }

  get stats(): DirtyLogStats {
    const s = (which: number): number => this.exports.dirtyStats(which) >>> 0;
    return { on: s(3) !== 0, byCpu: s(0), byDma: s(1), harvests: s(2) };
  }
}
