// The host's half of the JIT (asm-core/jit/): the core writes a translated block as a complete
// WebAssembly module into its memory and calls the `jitCompile` import; this compiles it,
// instantiates it against the core's own exports (memory, helpers, the globals it reads and
// writes) and puts its one function into the core's function table, at the slot the core chose.
//
// Two ways to compile (`batched`):
//  - at once: the block's next run is translated. The CPU tests use it, to run translations
//    from the first execution.
//  - batched: the translations the core asks for during one run slice are compiled together,
//    as one module (jit-batch.ts), one function each, when the run loop yields; until then the
//    blocks run from their records. The Machine uses it. Which instructions run translated then
//    depends on the host's timing, but not what they do: a run ends at the same instruction
//    with the JIT on or off (asm-core/jit/emit.ts), so deterministic runs stay identical.
//
// Both compile synchronously (new WebAssembly.Module), which a worker and Node allow at any
// size. Compiling on the engine's threads instead (WebAssembly.compile) kept the run loop free,
// but a translation then arrived 30-120 ms after it was asked for (the compile's steps wait for
// turns of the event loop, one per 10 ms slice), and the block ran from its records meanwhile:
// on an AMD EPYC host the first bzip2 round trip after boot took 1.4-1.8 s against 1.0-1.3 s
// compiled at the end of the slice, while the whole boot spent 115-170 ms compiling in the run
// loop (V8 compiles with Liftoff first and moves hot functions to TurboFan on its own threads).
//
// Nothing here decides what to translate or when; the core does. A module that fails to compile
// or link is a core bug: it is counted and reported once, and the block keeps running from the
// interpreter's records (the import returns 0).

import type { JitCounters } from '../machine/types.js';
import { mergeTranslations } from './jit-batch.js';

/**
 * Translations mark their slow paths unlikely with branch hints (asm-core/jit/wasm.ts), which
 * V8 compiles as deferred code, out of the hot path and its registers. Node 20's V8 (11.3) reads
 * the hints only under this flag (a browser that has shipped the proposal reads them anyway,
 * and one that has not skips the section); it is read when a module compiles, so setting it
 * here, before the first translation, is enough. On an AMD EPYC host the piped sort of
 * `bench/guest.mjs` ran in 8.6-9.3 s with it against 12.5-12.6 s without.
 */
function enableBranchHints(): void {
  const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
  const v8 = proc?.getBuiltinModule?.('node:v8') as { setFlagsFromString(flags: string): void } | undefined;
  v8?.setFlagsFromString('--experimental-wasm-branch-hinting');
}
enableBranchHints();

/** The most translations compiled as one module, and about the most bytes. */
const BATCH_MAX = 64;
const BATCH_BYTES = 2 << 20;

/** What a JIT-enabled core exports beyond the basics (asm-core/index.ts). */
export interface JitExports {
  table: WebAssembly.Table;
  JIT_SLOTS: WebAssembly.Global;
  setJitTable(base: number): void;
  setJitThreshold(runs: number): void;
  setJitChaining(on: number): void;
  jitStats(which: number): number;
  jitInstall(index: number, ticket: number, ok: number): number;
}

/**
 * `jitGo(index)`, the one function through which translations go into each other
 * (asm-core/jit/chain.ts): a tail call to entry `index` of the core's table.
 *   (import "c" "table" (table 0 funcref))
 *   (func (export "go") (param i32) local.get 0 return_call_indirect (type (func)))
 * It is a module of its own so that it alone imports the core's table: V8 visits every instance
 * that imports a table at each table.set, and keeps them all, so translations that imported it
 * made compiling quadratic in the number of translations ever made.
 */
const GO_MODULE = new Uint8Array([
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, // magic, version
  1, 8, 2, 0x60, 0, 0, 0x60, 1, 0x7f, 0, // types: () -> (), (i32) -> ()
  2, 13, 1, 1, 0x63, 5, 0x74, 0x61, 0x62, 0x6c, 0x65, 1, 0x70, 0, 0, // import "c" "table": funcref, at least 0
  3, 2, 1, 1, // one function of type 1
  7, 6, 1, 2, 0x67, 0x6f, 0, 0, // export "go" = function 0
  10, 9, 1, 7, 0, 0x20, 0, 0x13, 0, 0, 0x0b, // local.get 0; return_call_indirect type 0 table 0
]);

/** Does this engine have WebAssembly tail calls (Node 20, Chrome 112)? Only then do translations chain. */
export const TAIL_CALLS: boolean = WebAssembly.validate(GO_MODULE);

/** A translation the core asked for: its module, its table index and the core's ticket for it. */
interface Translation { bytes: Uint8Array; index: number; ticket: number }

/** A compiled module: its size, and how many of its functions are in the table. */
interface HeldModule { bytes: number; functions: number }

/** Counters of the translator, since power-on (declared with the Machine's status, src/machine/types.ts). */
export type JitStats = JitCounters;

export class JitHost {
  private exports: (WebAssembly.Exports & JitExports) | null = null;
  /** What translations import: the core's exports and jitGo. */
  private imports: WebAssembly.Imports = {};
  private compileMs = 0;
  private reported = false;
  /** Modules compiled; which module each table index's function is from; the bytes of the modules the table holds, now and at most. */
  private modules = 0;
  private slotModule = new Map<number, HeldModule>();
  private heldBytes = 0;
  private heldPeak = 0;
  /** Compile batched, when the run loop yields (see the top of this file); off: at once. */
  batched = false;

  /** The `jitCompile(ptr, len, tableIndex, ticket)` import: 1 installed, 2 queued for the batch, 0 failed. */
  readonly compile = (ptr: number, len: number, index: number, ticket: number): number => {
    const ex = this.exports;
    if (!ex) return 0;
    const t0 = performance.now();
    try {
      const view = new Uint8Array((ex.memory as WebAssembly.Memory).buffer, ptr >>> 0, len >>> 0);
      if (this.batched) {
        this.queue(ex, view.slice(), index >>> 0, ticket >>> 0); // a copy: the buffer is reused
        return 2;
      }
      this.install(ex, len >>> 0, new WebAssembly.Module(view), index >>> 0);
      return 1;
    } catch (e) {
      this.refused(e);
      return 0;
    } finally {
      this.compileMs += performance.now() - t0;
    }
  };

  /** Translations waiting for the next compile, and whether it is queued. */
  private waiting: Translation[] = [];
  private flushQueued = false;

  /**
   * Queue a translation. The queue is compiled when the run loop yields: a microtask runs only
   * once the core has returned, so that nothing is installed while the core is translating.
   */
  private queue(ex: WebAssembly.Exports & JitExports, bytes: Uint8Array, index: number, ticket: number): void {
    this.waiting.push({ bytes, index, ticket });
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      const t0 = performance.now();
      this.flush(ex);
      this.compileMs += performance.now() - t0;
    });
  }

  /** Compile what waits, in batches of at most BATCH_MAX translations and about BATCH_BYTES. */
  private flush(ex: WebAssembly.Exports & JitExports): void {
    const waiting = this.waiting;
    this.waiting = [];
    if (this.exports !== ex) return; // this core is gone (a machine powered off or replaced)
    for (let from = 0; from < waiting.length;) {
      let to = from + 1, bytes = waiting[from].bytes.length;
      while (to < waiting.length && to - from < BATCH_MAX && bytes + waiting[to].bytes.length <= BATCH_BYTES) bytes += waiting[to++].bytes.length;
      const batch = waiting.slice(from, to);
      const merged = batch.length > 1 ? mergeTranslations(batch.map((t) => t.bytes)) : null;
      if (merged) this.compileBatch(ex, merged, batch);
      else for (const t of batch) this.compileBatch(ex, t.bytes, [t]);
      from = to;
    }
  }

  /**
   * Compile `bytes` and install its functions: export `f` for a single translation, f0, f1, ...
   * for a batch. If a batch fails, its translations are compiled one by one, so that only the
   * faulty one stays interpreted.
   */
  private compileBatch(ex: WebAssembly.Exports & JitExports, bytes: Uint8Array, batch: Translation[]): void {
    const single = batch.length === 1 && bytes === batch[0].bytes;
    let functions: WebAssembly.Exports;
    try {
      functions = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), this.imports).exports;
    } catch (e) {
      if (!single) { for (const t of batch) this.compileBatch(ex, t.bytes, [t]); return; }
      ex.jitInstall(batch[0].index, batch[0].ticket, 0);
      this.refused(e);
      return;
    }
    const held = { bytes: bytes.length, functions: 0 };
    this.modules++;
    batch.forEach((t, i) => {
      if (ex.jitInstall(t.index, t.ticket, 1)) this.place(ex, t.index, functions[single ? 'f' : `f${i}`], held);
    });
  }

  private install(ex: WebAssembly.Exports & JitExports, bytes: number, module: WebAssembly.Module, index: number): void {
    this.modules++;
    this.place(ex, index, new WebAssembly.Instance(module, this.imports).exports.f, { bytes, functions: 0 });
  }

  /**
   * Put a translation's function at table index `index`. A module stays in memory while any of
   * its functions is in the table, so a batch outlives the eviction of some of its translations
   * (asm-core/jit/cache.ts evicts one slot at a time): counted here, as the bytes held.
   */
  private place(ex: WebAssembly.Exports & JitExports, index: number, f: WebAssembly.ExportValue, module: HeldModule): void {
    const before = this.slotModule.get(index);
    if (before && --before.functions === 0) this.heldBytes -= before.bytes;
    if (module.functions++ === 0) this.heldBytes += module.bytes;
    if (this.heldBytes > this.heldPeak) this.heldPeak = this.heldBytes;
    this.slotModule.set(index, module);
    ex.table.set(index, f);
  }

  /** A module the engine refused is a core bug: said once; that code stays interpreted. */
  private refused(e: unknown): void {
    if (this.reported) return;
    this.reported = true;
    console.error(`webx86: the JIT produced a module the engine refused (${(e as Error).message}); that code stays interpreted`);
  }

  /** Give the core its table slots. False when this core has no JIT. */
  attach(exports: WebAssembly.Exports): boolean {
    const ex = exports as WebAssembly.Exports & Partial<JitExports>;
    if (!(ex.table instanceof WebAssembly.Table) || typeof ex.setJitTable !== 'function' || !(ex.JIT_SLOTS instanceof WebAssembly.Global)) return false;
    const slots = Number(ex.JIT_SLOTS.value);
    const base = ex.table.grow(slots);
    this.exports = ex as WebAssembly.Exports & JitExports;
    // Without tail calls translations never call jitGo (the core does not chain), but import it.
    const go = TAIL_CALLS ? new WebAssembly.Instance(new WebAssembly.Module(GO_MODULE), { c: { table: this.exports.table } }).exports.go : () => {};
    this.imports = { c: { ...(ex as unknown as WebAssembly.ModuleImports), jitGo: go as WebAssembly.ExportValue } };
    this.exports.setJitTable(base);
    this.setChaining(TAIL_CALLS);
    return true;
  }

  /** Let translations go straight into each other (only where the engine has tail calls). */
  setChaining(on: boolean): void {
    if (on && !TAIL_CALLS) throw new Error('this engine has no WebAssembly tail calls: translations cannot chain');
    this.exports?.setJitChaining(on ? 1 : 0);
  }

  get available(): boolean { return this.exports !== null; }

  /** Translate a block after it ran `runs` times (1: at once); 0 turns the JIT off. */
  setThreshold(runs: number): void { this.exports?.setJitThreshold(runs >>> 0); }

  get stats(): JitStats {
    const s = (i: number): number => this.exports?.jitStats(i) ?? 0;
    return {
      translations: s(0), bytesEmitted: s(1), compileMs: this.compileMs, queued: this.waiting.length,
      failures: s(2), evictions: s(3),
      calls: s(4), instructions: s(5), threshold: s(6), guestBytes: s(7), cacheBytes: s(8), cachePeakBytes: s(9), chained: s(10), returns: s(11),
      modules: this.modules, moduleBytesHeld: this.heldBytes, moduleBytesHeldPeak: this.heldPeak,
    };
  }
}
