// The host's half of the JIT (asm-core/jit/): the core writes a translated block as a complete
// WebAssembly module into its memory and calls the `jitCompile` import; this compiles it
// synchronously (a worker and Node have no size limit on synchronous compiles), instantiates it
// against the core's own exports (memory, helpers, the globals it reads and writes) and puts its
// one function into the core's function table, at the slot the core chose.
//
// Nothing here decides what to translate or when; the core does. A module that fails to compile
// or link is a core bug: it is counted and reported once, and the block keeps running from the
// interpreter's records (the import returns 0).

import type { JitCounters } from '../machine/types.js';

/** What a JIT-enabled core exports beyond the basics (asm-core/index.ts). */
export interface JitExports {
  table: WebAssembly.Table;
  JIT_SLOTS: WebAssembly.Global;
  setJitTable(base: number): void;
  setJitThreshold(runs: number): void;
  jitStats(which: number): number;
}

/** Counters of the translator, since power-on (declared with the Machine's status, src/machine/types.ts). */
export type JitStats = JitCounters;

export class JitHost {
  private exports: (WebAssembly.Exports & JitExports) | null = null;
  private compileMs = 0;
  private reported = false;

  /** The `jitCompile(ptr, len, tableIndex)` import: 1 when the function is installed. */
  readonly compile = (ptr: number, len: number, index: number): number => {
    const ex = this.exports;
    if (!ex) return 0;
    const t0 = performance.now();
    try {
      const bytes = new Uint8Array((ex.memory as WebAssembly.Memory).buffer, ptr >>> 0, len >>> 0);
      const module = new WebAssembly.Module(bytes);
      const instance = new WebAssembly.Instance(module, { c: ex as unknown as WebAssembly.ModuleImports });
      ex.table.set(index >>> 0, instance.exports.f as WebAssembly.ExportValue);
      return 1;
    } catch (e) {
      if (!this.reported) {
        this.reported = true;
        console.error(`webx86: the JIT produced a module the engine refused (${(e as Error).message}); that code stays interpreted`);
      }
      return 0;
    } finally {
      this.compileMs += performance.now() - t0;
    }
  };

  /** Give the core its table slots. False when this core has no JIT. */
  attach(exports: WebAssembly.Exports): boolean {
    const ex = exports as WebAssembly.Exports & Partial<JitExports>;
    if (!(ex.table instanceof WebAssembly.Table) || typeof ex.setJitTable !== 'function' || !(ex.JIT_SLOTS instanceof WebAssembly.Global)) return false;
    const slots = Number(ex.JIT_SLOTS.value);
    const base = ex.table.grow(slots);
    this.exports = ex as WebAssembly.Exports & JitExports;
    this.exports.setJitTable(base);
    return true;
  }

  get available(): boolean { return this.exports !== null; }

  /** Translate a block after it ran `runs` times (1: at once); 0 turns the JIT off. */
  setThreshold(runs: number): void { this.exports?.setJitThreshold(runs >>> 0); }

  get stats(): JitStats {
    const s = (i: number): number => this.exports?.jitStats(i) ?? 0;
    return {
      translations: s(0), bytesEmitted: s(1), compileMs: this.compileMs, failures: s(2), evictions: s(3),
      calls: s(4), instructions: s(5), threshold: s(6), guestBytes: s(7), cacheBytes: s(8), cachePeakBytes: s(9),
    };
  }
}
