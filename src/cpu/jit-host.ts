// The host's half of the JIT (asm-core/jit/): the core writes a translated block as a complete
// WebAssembly module into its memory and calls the `jitCompile` import; this compiles it,
// instantiates it against the core's own exports (memory, helpers, the globals it reads and
// writes) and puts its one function into the core's function table, at the slot the core chose.
//
// Two ways to compile (`background`):
//  - at once (new WebAssembly.Module: a worker and Node have no size limit on synchronous
//    compiles); the block's next run is translated. The CPU tests use it, to run translations
//    from the first execution.
//  - in the background (WebAssembly.compile, on the engine's compile threads): the run loop does
//    not wait, the block runs from its records meanwhile, and the translation is installed
//    (jitInstall) when the compile has finished, between two of the run loop's slices. The
//    Machine uses it: compiling on the main thread took about an eighth of a Linux boot. Which
//    instructions run translated then depends on the host's timing, but not what they do: a run
//    ends at the same instruction with the JIT on or off (asm-core/jit/emit.ts), so deterministic
//    runs stay identical. The translations asked for in one slice, and those asked for while a
//    compile is under way, are compiled as one module (jit-batch.ts), one function each.
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

/** The most translations compiled as one module, and the bytes at which a batch is compiled at once. */
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

/** A compiled module: its size, and how many of its functions are in the table. */
interface HeldModule { bytes: number; functions: number }

/** Counters of the translator, since power-on (declared with the Machine's status, src/machine/types.ts). */
export type JitStats = JitCounters;

export class JitHost {
  private exports: (WebAssembly.Exports & JitExports) | null = null;
  /** What translations import: the core's exports and jitGo. */
  private imports: WebAssembly.Imports = {};
  private compileMs = 0;
  /** Wall time with at least one background compile under way, and since when (while there is). */
  private backgroundMs = 0;
  private backgroundSince = 0;
  private compiling = 0;
  private reported = false;
  /** Modules compiled; which module each table index's function is from; the bytes of the modules the table holds, now and at most. */
  private modules = 0;
  private slotModule = new Map<number, HeldModule>();
  private heldBytes = 0;
  private heldPeak = 0;
  /** Compile in the background (see the top of this file); off: at once. */
  background = false;

  /** The `jitCompile(ptr, len, tableIndex, ticket)` import: 1 installed, 2 compiling in the background, 0 failed. */
  readonly compile = (ptr: number, len: number, index: number, ticket: number): number => {
    const ex = this.exports;
    if (!ex) return 0;
    const t0 = performance.now();
    try {
      const view = new Uint8Array((ex.memory as WebAssembly.Memory).buffer, ptr >>> 0, len >>> 0);
      if (this.background) {
        this.compileInBackground(ex, view.slice(), index >>> 0, ticket >>> 0); // a copy: the buffer is reused
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

  /** Translations waiting to go into the next batch (jit-batch.ts), and whether its flush is queued. */
  private batch: { bytes: Uint8Array; index: number; ticket: number }[] = [];
  private batchBytes = 0;
  private flushQueued = false;

  /**
   * Queue a translation for the next background compile. Those the core asks for in one run
   * slice (until the run loop yields) are compiled as one module (jit-batch.ts), up to
   * BATCH_MAX of them or BATCH_BYTES.
   */
  private compileInBackground(ex: WebAssembly.Exports & JitExports, bytes: Uint8Array, index: number, ticket: number): void {
    this.batch.push({ bytes, index, ticket });
    this.batchBytes += bytes.length;
    if (this.batch.length >= BATCH_MAX || this.batchBytes >= BATCH_BYTES) { this.flushBatch(ex); return; }
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => { this.flushQueued = false; if (this.compiling === 0) this.flushBatch(ex); });
  }

  private flushBatch(ex: WebAssembly.Exports & JitExports): void {
    const batch = this.batch;
    if (batch.length === 0 || this.exports !== ex) return;
    this.batch = [];
    this.batchBytes = 0;
    const merged = batch.length > 1 ? mergeTranslations(batch.map((t) => t.bytes)) : null;
    if (merged) this.compileModule(ex, merged, batch);
    else for (const t of batch) this.compileModule(ex, t.bytes, [t]);
  }

  /**
   * Compile `bytes` in the background and install its functions: export `f` for a single
   * translation, f0, f1, ... for a batch. If a batch fails, its translations are compiled one
   * by one, so that only the faulty one stays interpreted.
   */
  private compileModule(ex: WebAssembly.Exports & JitExports, bytes: Uint8Array, batch: { bytes: Uint8Array; index: number; ticket: number }[]): void {
    if (this.compiling++ === 0) this.backgroundSince = performance.now();
    const single = batch.length === 1 && bytes === batch[0].bytes;
    const failed = (e: unknown): void => {
      if (!single) { for (const t of batch) this.compileModule(ex, t.bytes, [t]); return; }
      ex.jitInstall(batch[0].index, batch[0].ticket, 0);
      this.refused(e);
    };
    WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>).then((module) => {
      // This core may be gone (a machine powered off or replaced meanwhile): then nothing waits.
      if (this.exports !== ex) return;
      const t1 = performance.now();
      let functions: WebAssembly.Exports;
      try {
        functions = new WebAssembly.Instance(module, this.imports).exports;
      } catch (e) {
        failed(e);
        return;
      }
      // Each block calls its slot's index from its next run: the functions go there now, in
      // the same turn of the event loop, before the core runs again.
      const held = { bytes: bytes.length, functions: 0 };
      this.modules++;
      batch.forEach((t, i) => {
        if (ex.jitInstall(t.index, t.ticket, 1)) this.place(ex, t.index, functions[single ? 'f' : `f${i}`], held);
      });
      this.compileMs += performance.now() - t1;
    }, (e: unknown) => {
      if (this.exports !== ex) return;
      failed(e);
    }).finally(() => {
      if (--this.compiling !== 0) return;
      this.backgroundMs += performance.now() - this.backgroundSince;
      this.flushBatch(ex);
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
      translations: s(0), bytesEmitted: s(1), compileMs: this.compileMs,
      backgroundCompileMs: this.backgroundMs + (this.compiling > 0 ? performance.now() - this.backgroundSince : 0),
      compiling: this.compiling, failures: s(2), evictions: s(3),
      calls: s(4), instructions: s(5), threshold: s(6), guestBytes: s(7), cacheBytes: s(8), cachePeakBytes: s(9), chained: s(10),
      modules: this.modules, moduleBytesHeld: this.heldBytes, moduleBytesHeldPeak: this.heldPeak,
    };
  }
}
