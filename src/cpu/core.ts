// The JavaScript side of the CPU core (build/core.wasm, see asm-core/README.md).
//
// This wrapper does three things and nothing else:
//  - instantiates the module against a CoreHost (port bus, MMIO, interrupt acknowledge, TSC),
//  - runs it: a fault inside an instruction is a WebAssembly exception thrown and caught inside
//    the core, which delivers it through the IDT (asm-core/README.md "Faults"), so run() is one
//    call; the engine must have WebAssembly exception handling,
//  - gives typed access to the architectural state. Every offset comes from the core's own
//    exported `OFF_*` / `SEG_*` / `STATE` globals (declared once in asm-core/cpu/state.ts),
//    so nothing here numbers memory by hand.
//
// Nothing in this file knows about devices, Node or the browser.

import type { IoSize } from '../machine/io.js';
import { JitHost, type JitStats } from './jit-host.js';

/** What the core needs from the machine around it (the module's `env` imports). */
export interface CoreHost {
  /** IN from the port bus. Returns the value zero-extended to `size` bytes. */
  ioRead(port: number, size: IoSize): number;
  /** OUT to the port bus. */
  ioWrite(port: number, size: IoSize, value: number): void;
  /** Read of a physical address that is not RAM. */
  mmioRead(addr: number, size: IoSize): number;
  /** Write of a physical address that is not RAM. */
  mmioWrite(addr: number, size: IoSize, value: number): void;
  /** Interrupt-acknowledge cycle: the vector of the pending external interrupt. */
  intAck(): number;
  /** The machine's time-stamp counter (the core adds the guest's TSC offset). */
  readTsc(): number;
  /** x87 FERR# output level (0 or 1). */
  ferr(level: number): void;
  /** Optional: told of every exception the CPU delivers, once enabled with Core.traceExceptions(true). */
  traceException?(vector: number, errorCode: number, cs: number, eip: number): void;
}

/** Why `run()` returned. */
/**
 * Why run() returned; 'break': before an instruction at a host breakpoint (setBreakpoint);
 * 'watch': after an instruction that touched a host watchpoint (setWatchpoint).
 */
export type StopReason = 'budget' | 'hlt' | 'reset' | 'request' | 'break' | 'watch';
/** What a host watchpoint catches (gdb's Z2, Z3, Z4). */
export type WatchKind = 'write' | 'read' | 'access';

/** One segment register as the core caches it (limit already scaled by G). */
export interface SegmentState {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor bits 40..55 shifted down: type, S, DPL, P at 0..7; AVL, L, D/B, G at 12..15. */
  access: number;
}

/** Segment register numbers, in x86 encoding order, then LDTR and TR. */
export type SegName = 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs' | 'ldtr' | 'tr';
/** General registers in x86 encoding order. */
export type RegName = 'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi';

const REG_NAMES: readonly RegName[] = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const SEG_NAMES: readonly SegName[] = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'];

/** The functions the core module exports (asm-core/README.md). */
interface CoreExports {
  memory: WebAssembly.Memory;
  init(ramBytes: number): void;
  reset(): void;
  run(budget: number): number;
  requestStop(): void;
  setIntr(level: number): void;
  raiseNmi(): void;
  getEflags(): number;
  setEflags(v: number): void;
  refreshState(): void;
  flushTlb(): void;
  setA20(on: number): void;
  // Optional exports, used when present.
  instructionCount?(): number;
  isHalted?(): number;
  setApicPresent?(on: number): void;
  ramWritten?(phys: number, len: number): void;
  blockStats?(which: number): number;
  tlbStats?(which: number): number;
  setBlockCache?(on: number): void;
  translateLinear?(lin: number): number;
  setMemoryKind?(phys: number, len: number, kind: number): number;
  initVram?(bytes: number): number;
  mapVram?(phys: number): number;
  takeVramWrites?(): number;
  setHostBreak?(slot: number, lin: number): number;
  setHostWatch?(slot: number, lin: number, len: number, kind: number): number;
  clearHostWatch?(slot: number): void;
  hostWatchHit?(which: number): number;
  clearHostBreak?(slot: number): void;
  resumeFromBreak?(lin: number): void;
}

/** The core's declared initial memory (asm-core/build.mjs --initialMemory): the low 16 MiB of CPU state and TLB, and its data. */
const CORE_INITIAL_PAGES = 512;

/** A core module that fails to load or lacks a part of its contract. */
export class CoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoreError';
  }
}

/** Read a numeric exported global (AssemblyScript exports `const` globals as WebAssembly.Global). */
function globalValue(exports: WebAssembly.Exports, name: string): number | undefined {
  const g = exports[name];
  if (g instanceof WebAssembly.Global) return Number(g.value);
  if (typeof g === 'number') return g;
  return undefined;
}

/** Layout constants read once from the module. u32 globals arrive as signed i32: fix with >>> 0. */
class Layout {
  private readonly values = new Map<string, number>();
  constructor(private readonly exports: WebAssembly.Exports) {}
  get(name: string): number {
    let v = this.values.get(name);
    if (v === undefined) {
      const raw = globalValue(this.exports, name);
      if (raw === undefined) throw new CoreError(`core.wasm does not export ${name} (see asm-core/README.md)`);
      v = raw >>> 0;
      this.values.set(name, v);
    }
    return v;
  }
  has(name: string): boolean {
    return globalValue(this.exports, name) !== undefined;
  }
}

const REQUIRED_FUNCTIONS: readonly (keyof CoreExports)[] = [
  'init', 'reset', 'run', 'requestStop', 'setIntr', 'raiseNmi', 'getEflags', 'setEflags',
  'refreshState', 'flushTlb', 'setA20',
];

export class Core {
  /** The raw module exports, for the JIT installer and the inspector. */
  readonly exports: CoreExports & WebAssembly.Exports;
  readonly memory: WebAssembly.Memory;
  /** Byte address of the state block in linear memory. */
  readonly stateBase: number;
  /** Byte address of guest physical address 0 in linear memory. */
  readonly ramBase: number;

  private readonly layout: Layout;
  private readonly stopNames = new Map<number, StopReason>();
  private buffer: ArrayBuffer | null = null;
  private view!: DataView;
  private ramView: Uint8Array | null = null;
  private ramViewSize = -1;
  /** Guest RAM size given to init(); the core's reset() may clear its own copy in the state. */
  private ramBytes = 0;

  // Absolute addresses of the hot fields, resolved once.
  private readonly aRegs: number;
  private readonly aEip: number;
  private readonly aSegs: number;
  private readonly segStride: number;
  private readonly segSel: number;
  private readonly segBase: number;
  private readonly segLimit: number;
  private readonly segAccess: number;

  /** The JIT's host half (src/cpu/jit-host.ts); `available` is false for a core without one. */
  readonly jit: JitHost;

  /** @internal use loadCore() */
  constructor(instance: WebAssembly.Instance, jit: JitHost = new JitHost()) {
    this.jit = jit;
    const ex = instance.exports as CoreExports & WebAssembly.Exports;
    for (const f of REQUIRED_FUNCTIONS) {
      if (typeof ex[f] !== 'function') throw new CoreError(`core.wasm does not export function ${f}()`);
    }
    if (!(ex.memory instanceof WebAssembly.Memory)) throw new CoreError('core.wasm does not export its memory');
    this.exports = ex;
    this.memory = ex.memory;
    this.layout = new Layout(ex);
    this.stateBase = this.layout.get('STATE');
    this.ramBase = this.layout.get('RAM_BASE');
    const stops: [string, StopReason][] = [
      ['STOP_BUDGET', 'budget'], ['STOP_HLT', 'hlt'], ['STOP_RESET', 'reset'], ['STOP_REQUEST', 'request'],
    ];
    for (const [g, name] of stops) this.stopNames.set(this.layout.get(g), name);
    // Optional: a core without host breakpoints never stops for one.
    if (this.layout.has('STOP_BREAK')) this.stopNames.set(this.layout.get('STOP_BREAK'), 'break');
    if (this.layout.has('STOP_WATCH')) this.stopNames.set(this.layout.get('STOP_WATCH'), 'watch');

    this.aRegs = this.addr('OFF_REGS');
    this.aEip = this.addr('OFF_EIP');
    this.aSegs = this.addr('OFF_SEGS');
    this.segSel = this.layout.get('SEG_SELECTOR');
    this.segBase = this.layout.get('SEG_BASE');
    this.segLimit = this.layout.get('SEG_LIMIT');
    this.segAccess = this.layout.get('SEG_ACCESS');
    // A segment slot holds the four fields; the stride is the distance between SEG_ES and SEG_CS
    // slots, which the core does not export directly: derive it from the field layout (4 x u32).
    this.segStride = Math.max(this.segSel, this.segBase, this.segLimit, this.segAccess) + 4;
    this.refreshViews();
  }

  /** Absolute linear-memory address of a state field. */
  addr(offName: string): number {
    return this.stateBase + this.layout.get(offName);
  }

  /** A layout constant exported by the core (OFF_*, SEG_*, REG_*, STOP_* ...). */
  constant(name: string): number {
    return this.layout.get(name);
  }

  hasConstant(name: string): boolean {
    return this.layout.has(name);
  }

  private refreshViews(): void {
    if (this.buffer !== this.memory.buffer) {
      this.buffer = this.memory.buffer;
      this.view = new DataView(this.buffer);
      this.ramView = null;
    }
  }

  private dv(): DataView {
    if (this.buffer !== this.memory.buffer) this.refreshViews();
    return this.view;
  }

  // ---- lifecycle and pins ----

  /** Grow memory for `ramBytes` of guest RAM and power-on reset. */
  init(ramBytes: number): void {
    this.exports.init(ramBytes >>> 0);
    this.ramBytes = ramBytes >>> 0;
    this.refreshViews();
  }

  /** CPU reset (real mode, F000:FFF0). */
  reset(): void { this.exports.reset(); }

  /** Called at the start of every run(): the Machine gives the core its clock there (setClock). */
  beforeRun: (() => void) | null = null;

  /**
   * The machine's clock, so that RDTSC is computed in the core without a call to the host
   * (asm-core/cpu/state.ts OFF_CLOCK_*); until it is given, RDTSC calls the readTsc import.
   */
  setClock(t: { anchorNs: number; anchorInstr: number; nsPerInstr: number; floorNs: number; tscPerNs: number }): void {
    this.setF64('OFF_CLOCK_ANCHOR_NS', t.anchorNs);
    this.setF64('OFF_CLOCK_ANCHOR_INSTR', t.anchorInstr);
    this.setF64('OFF_CLOCK_NS_PER_INSTR', t.nsPerInstr);
    this.setF64('OFF_CLOCK_FLOOR_NS', t.floorNs);
    this.setF64('OFF_CLOCK_TSC_PER_NS', t.tscPerNs);
  }

  /**
   * Execute up to `budget` instructions. The core delivers faults itself; any exception that
   * reaches here (a bug in a host callback) propagates.
   */
  run(budget: number): StopReason {
    this.beforeRun?.();
    return this.stopName(this.exports.run(budget >>> 0));
  }

  private stopName(code: number): StopReason {
    const name = this.stopNames.get(code >>> 0);
    if (name === undefined) throw new CoreError(`core.run returned unknown stop reason ${code}`);
    return name;
  }

  requestStop(): void { this.exports.requestStop(); }
  setIntr(level: boolean | number): void { this.exports.setIntr(level ? 1 : 0); }
  raiseNmi(): void { this.exports.raiseNmi(); }
  getEflags(): number { return this.exports.getEflags() >>> 0; }
  setEflags(v: number): void { this.exports.setEflags(v >>> 0); }
  /** Recompute the core's caches after the host wrote state (boot loader, restore). */
  refreshState(): void { this.exports.refreshState(); }
  flushTlb(): void { this.exports.flushTlb(); }
  setA20(on: boolean): void { this.exports.setA20(on ? 1 : 0); }
  /** CPUID's APIC bit (when the core supports switching it): off until a local APIC is wired. */
  setApicPresent(on: boolean): void { this.exports.setApicPresent?.(on ? 1 : 0); }
  /** The host wrote guest RAM (DMA, a loader): the core drops code it decoded from those bytes. */
  ramWritten(phys: number, len: number): void { if (len > 0) this.exports.ramWritten?.(phys >>> 0, len >>> 0); }
  /**
   * The decoded-block cache on (the default) or off: off, 32-bit code runs step by step through
   * the path single-stepping and breakpoints take. Throws when the core cannot switch it.
   */
  setBlockCache(on: boolean): void {
    if (!this.exports.setBlockCache) throw new CoreError('this core has no setBlockCache export');
    this.exports.setBlockCache(on ? 1 : 0);
  }
  /**
   * The JIT: translate a block of 32-bit code to WebAssembly after it ran `runs` times (1: on
   * its first run); 0 turns translation off. Throws when this core has no JIT.
   */
  setJitThreshold(runs: number): void {
    if (!this.jit.available) throw new CoreError('this core has no JIT');
    this.jit.setThreshold(runs);
  }
  get jitStats(): JitStats { return this.jit.stats; }

  // ---- a debugger's breakpoints (asm-core/cpu/host-break.ts), invisible to the guest ----
  /** How many breakpoints the core holds at once (slots 0 .. this - 1). */
  get breakpointSlots(): number { return this.layout.has('HOST_BREAKPOINTS') ? this.layout.get('HOST_BREAKPOINTS') : 0; }
  /** Stop before executing the instruction at linear address `lin` (run() returns 'break'). */
  setBreakpoint(slot: number, lin: number): void {
    if (!this.exports.setHostBreak?.(slot >>> 0, lin >>> 0)) throw new CoreError(`no breakpoint slot ${slot} (this core has ${this.breakpointSlots})`);
  }
  clearBreakpoint(slot: number): void { this.exports.clearHostBreak?.(slot >>> 0); }
  /** The next run() executes the instruction at `lin` (where it stopped) before it breaks there again. */
  resumeFromBreak(lin: number): void { this.exports.resumeFromBreak?.(lin >>> 0); }
  // ---- a debugger's watchpoints (asm-core/cpu/host-watch.ts), invisible to the guest ----
  /** How many watchpoints the core holds at once. */
  get watchpointSlots(): number { return this.layout.has('HOST_WATCHPOINTS') ? this.layout.get('HOST_WATCHPOINTS') : 0; }
  /** Stop after an instruction that reads and/or writes a byte of [lin, lin + len) (run() returns 'watch'). */
  setWatchpoint(slot: number, lin: number, len: number, kind: WatchKind): void {
    const k = kind === 'write' ? 1 : kind === 'read' ? 2 : 3;
    if (!this.exports.setHostWatch?.(slot >>> 0, lin >>> 0, len >>> 0, k)) {
      throw new CoreError(`no watchpoint slot ${slot} for ${len} bytes (this core has ${this.watchpointSlots} slots, up to 4096 bytes each)`);
    }
  }
  clearWatchpoint(slot: number): void { this.exports.clearHostWatch?.(slot >>> 0); }
  /** After run() returned 'watch': which slot, the address accessed and whether it was a write; else null. */
  watchHit(): { slot: number; address: number; write: boolean } | null {
    const slot = this.exports.hostWatchHit?.(0) ?? -1;
    if (slot < 0) return null;
    return { slot, address: (this.exports.hostWatchHit?.(1) ?? 0) >>> 0, write: this.exports.hostWatchHit?.(2) === 1 };
  }

  /** Since power-on: blocks decoded, block-cache flushes, and guest writes that hit decoded code. */
  get blockStats(): { decoded: number; flushes: number; codeWrites: number } {
    const stat = (which: number): number => (this.exports.blockStats?.(which) ?? 0) >>> 0;
    return { decoded: stat(0), flushes: stat(1), codeWrites: stat(2) };
  }

  /**
   * The MMU since power-on: page walks, page faults, TLB entries filled, whole flushes and single
   * pages dropped (INVLPG); all 0 for a core without the counters. Hits are not counted.
   */
  get tlbStats(): { walks: number; faults: number; fills: number; flushes: number; invalidations: number } {
    const stat = (which: number): number => this.exports.tlbStats?.(which) ?? 0;
    return { walks: stat(0), faults: stat(1), fills: stat(2), flushes: stat(3), invalidations: stat(4) };
  }

  // ---- the whole CPU, for snapshots ----

  /**
   * The CPU between runs: a copy of the state block, which the core leaves exact whenever run()
   * returns (nothing the guest can observe lives only in a Wasm global then). With guest RAM it
   * is all a snapshot needs from the core. Not valid from inside a host callback during run().
   */
  saveState(): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.stateBase, this.layout.get('STATE_SIZE')).slice();
  }

  /**
   * Put back a CPU that saveState() took, in this core or another one with the same RAM size,
   * and rebuild the core's caches (its TLB and translated code start empty). Throws CoreError,
   * changing nothing, when the block does not fit this core.
   */
  loadState(state: Uint8Array): void {
    const size = this.layout.get('STATE_SIZE');
    if (state.byteLength !== size) throw new CoreError(`CPU state is ${state.byteLength} bytes, this core's is ${size}`);
    const ramSize = new DataView(state.buffer, state.byteOffset, size).getUint32(this.layout.get('OFF_RAM_SIZE'), true);
    if (ramSize !== this.ramBytes) throw new CoreError(`CPU state is for ${ramSize} bytes of RAM, this core has ${this.ramBytes}`);
    new Uint8Array(this.memory.buffer, this.stateBase, size).set(state);
    this.exports.refreshState();
  }

  /**
   * The physical memory map, in whole 4 KiB pages: 'ram'; 'rom', read from guest RAM's bytes
   * there (fill them first) with writes dropped; or 'mmio', the host's map. After init() the
   * pages below the RAM size are RAM and the rest MMIO. Throws CoreError for a range that is not
   * whole pages, or RAM or ROM without guest RAM behind it.
   */
  setMemoryKind(phys: number, length: number, kind: 'ram' | 'rom' | 'mmio'): void {
    if (!this.exports.setMemoryKind) throw new CoreError('this core has no setMemoryKind export');
    const code = kind === 'ram' ? 0 : kind === 'rom' ? 1 : 2;
    if (!this.exports.setMemoryKind(phys >>> 0, length >>> 0, code)) {
      throw new CoreError(`cannot make 0x${(phys >>> 0).toString(16)}+0x${(length >>> 0).toString(16)} ${kind}: ` +
        'the range must be whole pages, and RAM or ROM must lie inside guest RAM');
    }
  }

  // ---- guest RAM ----

  /** Guest RAM size in bytes (as given to init). */
  get ramSize(): number { return this.ramBytes; }

  /**
   * Video memory of `bytes` inside the core's memory (asm-core/mmu/phys.ts, MEM_VRAM), which the
   * guest reaches at RAM speed once mapVram() places it: a view of it, to give the display
   * device as its memory. Call right after init(), once.
   */
  initVram(bytes: number): Uint8Array {
    const offset = this.exports.initVram?.(bytes >>> 0) ?? 0;
    if (offset === 0) throw new CoreError(`cannot place ${bytes} bytes of video memory in the core`);
    this.refreshViews();
    this.vramView = new Uint8Array(this.memory.buffer, this.ramBase + offset, bytes);
    return this.vramView;
  }

  /** The video memory initVram() placed, or null. */
  get vram(): Uint8Array | null { return this.vramView; }
  private vramView: Uint8Array | null = null;

  /** Show the video memory at physical `phys` (a framebuffer BAR), or nowhere (null). */
  mapVram(phys: number | null): void {
    if (!this.exports.mapVram?.(phys === null ? 0 : phys >>> 0)) {
      throw new CoreError(`cannot map video memory at 0x${((phys ?? 0) >>> 0).toString(16)}: it would cover RAM or leave the 4 GiB space`);
    }
  }

  /** Whether the guest wrote video memory since the last call (the watch is re-armed). */
  takeVramWrites(): boolean { return (this.exports.takeVramWrites?.() ?? 0) !== 0; }

  /** Guest physical RAM. Re-created whenever memory grows (which detaches the old buffer). */
  get ram(): Uint8Array {
    this.dv();
    const size = this.ramSize;
    if (this.ramView === null || this.ramViewSize !== size) {
      this.ramView = new Uint8Array(this.memory.buffer, this.ramBase, size);
      this.ramViewSize = size;
    }
    return this.ramView;
  }

  // ---- typed state accessors ----

  /** u32 state field by its OFF_* name (and an optional byte delta inside it). */
  u32(offName: string, delta = 0): number { return this.dv().getUint32(this.addr(offName) + delta, true); }
  setU32(offName: string, v: number, delta = 0): void { this.dv().setUint32(this.addr(offName) + delta, v >>> 0, true); }
  f64(offName: string): number { return this.dv().getFloat64(this.addr(offName), true); }
  setF64(offName: string, v: number): void { this.dv().setFloat64(this.addr(offName), v, true); }

  /** General register by encoding (0 = EAX ... 7 = EDI) or name. */
  reg(r: number | RegName): number {
    const i = typeof r === 'number' ? r : REG_NAMES.indexOf(r);
    if (i < 0 || i > 7) throw new RangeError(`bad register ${r}`);
    return this.dv().getUint32(this.aRegs + i * 8, true);
  }
  setReg(r: number | RegName, v: number): void {
    const i = typeof r === 'number' ? r : REG_NAMES.indexOf(r);
    if (i < 0 || i > 7) throw new RangeError(`bad register ${r}`);
    // Registers live in 8-byte slots; a 32-bit write clears the upper half as x86-64 would.
    const dv = this.dv();
    dv.setUint32(this.aRegs + i * 8, v >>> 0, true);
    dv.setUint32(this.aRegs + i * 8 + 4, 0, true);
  }

  get eip(): number { return this.dv().getUint32(this.aEip, true); }
  set eip(v: number) { this.dv().setUint32(this.aEip, v >>> 0, true); }
  get eflags(): number { return this.getEflags(); }
  set eflags(v: number) { this.setEflags(v); }

  get cr0(): number { return this.u32('OFF_CR0'); }
  set cr0(v: number) { this.setU32('OFF_CR0', v); }
  get cr2(): number { return this.u32('OFF_CR2'); }
  set cr2(v: number) { this.setU32('OFF_CR2', v); }
  get cr3(): number { return this.u32('OFF_CR3'); }
  set cr3(v: number) { this.setU32('OFF_CR3', v); }
  get cr4(): number { return this.u32('OFF_CR4'); }
  set cr4(v: number) { this.setU32('OFF_CR4', v); }
  get cpl(): number { return this.u32('OFF_CPL'); }
  set cpl(v: number) { this.setU32('OFF_CPL', v); }

  get gdtr(): { base: number; limit: number } {
    return { base: this.u32('OFF_GDTR_BASE'), limit: this.u32('OFF_GDTR_LIMIT') };
  }
  set gdtr(v: { base: number; limit: number }) {
    this.setU32('OFF_GDTR_BASE', v.base);
    this.setU32('OFF_GDTR_LIMIT', v.limit);
  }
  get idtr(): { base: number; limit: number } {
    return { base: this.u32('OFF_IDTR_BASE'), limit: this.u32('OFF_IDTR_LIMIT') };
  }
  set idtr(v: { base: number; limit: number }) {
    this.setU32('OFF_IDTR_BASE', v.base);
    this.setU32('OFF_IDTR_LIMIT', v.limit);
  }

  /** Segment register by number (SEG_ES = 0 ... SEG_TR = 7) or name. */
  seg(s: number | SegName): SegmentState {
    const a = this.segAddr(s);
    const dv = this.dv();
    return {
      selector: dv.getUint32(a + this.segSel, true) & 0xffff,
      base: dv.getUint32(a + this.segBase, true),
      limit: dv.getUint32(a + this.segLimit, true),
      access: dv.getUint32(a + this.segAccess, true),
    };
  }
  setSeg(s: number | SegName, v: SegmentState): void {
    const a = this.segAddr(s);
    const dv = this.dv();
    dv.setUint32(a + this.segSel, v.selector & 0xffff, true);
    dv.setUint32(a + this.segBase, v.base >>> 0, true);
    dv.setUint32(a + this.segLimit, v.limit >>> 0, true);
    dv.setUint32(a + this.segAccess, v.access >>> 0, true);
  }
  private segAddr(s: number | SegName): number {
    const i = typeof s === 'number' ? s : SEG_NAMES.indexOf(s);
    if (i < 0 || i > 7) throw new RangeError(`bad segment register ${s}`);
    return this.aSegs + i * this.segStride;
  }

  /**
   * Instructions retired since power-on (exact up to 2^53). Live during a run when the core
   * exports instructionCount() (devices read the clock from inside run()); else the state copy,
   * which the core updates when run() returns.
   */
  get instructions(): number {
    const live = this.exports.instructionCount;
    return typeof live === 'function' ? live() : this.f64('OFF_INSTR_COUNT');
  }
  /** True while the CPU sits in HLT. */
  get halted(): boolean {
    const live = this.exports.isHalted;
    return typeof live === 'function' ? live() !== 0 : this.u32('OFF_HALTED') !== 0;
  }
  /** Level of the INTR pin as the core last saw it. */
  get intrPin(): boolean { return this.u32('OFF_INTR') !== 0; }
  /** An NMI is latched and not yet delivered. */
  get nmiPending(): boolean { return this.u32('OFF_NMI_PENDING') !== 0; }
  get a20(): boolean { return this.u32('OFF_A20') !== 0; }

  /** A snapshot of the registers for error messages and the inspector. */
  describe(): string {
    const h = (v: number) => (v >>> 0).toString(16).padStart(8, '0');
    const regs = REG_NAMES.map((n) => `${n}=${h(this.reg(n))}`).join(' ');
    const cs = this.seg('cs');
    return `${regs} eip=${h(this.eip)} eflags=${h(this.getEflags())} cs=${cs.selector.toString(16)} ` +
      `cr0=${h(this.cr0)} cr3=${h(this.cr3)} cpl=${this.cpl}`;
  }
}

/** Decode an AssemblyScript string (UTF-16, length stored 4 bytes before) for abort messages. */
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return '';
  try {
    const dv = new DataView(memory.buffer);
    const len = dv.getUint32(ptr - 4, true) >>> 1;
    const chars = new Uint16Array(memory.buffer, ptr, Math.min(len, 1024));
    return String.fromCharCode(...chars);
  } catch {
    return `<string at ${ptr}>`;
  }
}

/** Instantiate the core against a host. */
export async function loadCore(wasmBytes: Uint8Array | ArrayBuffer, host: CoreHost): Promise<Core> {
  // Shared (asm-core/build.mjs): the page reads video memory from it without a copy. The module
  // declares its own minimum, and grows it for guest RAM in init(); 65536 pages is wasm32's 4 GiB.
  const memory = new WebAssembly.Memory({ initial: CORE_INITIAL_PAGES, maximum: 65536, shared: true });
  const jit = new JitHost();
  const env = {
    memory,
    jitCompile: jit.compile,
    ioRead: (port: number, size: number) => host.ioRead(port & 0xffff, size as IoSize) >>> 0,
    ioWrite: (port: number, size: number, value: number) => host.ioWrite(port & 0xffff, size as IoSize, value >>> 0),
    mmioRead: (addr: number, size: number) => host.mmioRead(addr >>> 0, size as IoSize) >>> 0,
    mmioWrite: (addr: number, size: number, value: number) => host.mmioWrite(addr >>> 0, size as IoSize, value >>> 0),
    intAck: () => host.intAck() & 0xff,
    readTsc: () => host.readTsc(),
    ferr: (level: number) => host.ferr(level ? 1 : 0),
    traceException: (v: number, e: number, cs: number, eip: number) => host.traceException?.(v, e, cs, eip >>> 0),
    // AssemblyScript's runtime imports: an assertion inside the core is a core bug.
    abort: (msg: number, file: number, line: number, col: number) => {
      const m = readAsString(memory, msg);
      const f = readAsString(memory, file);
      throw new CoreError(`core aborted: ${m} at ${f}:${line}:${col}`);
    },
    trace: () => {},
    seed: () => 0x5eed,
  };
  // The core throws and catches its faults as WebAssembly exceptions (asm-core/cpu/fault.ts):
  // say so, rather than fail to compile the module with an opaque message.
  if (typeof (WebAssembly as { Tag?: unknown }).Tag !== 'function') {
    throw new CoreError('the CPU core requires WebAssembly exception handling, which this JavaScript engine lacks');
  }
  let instance: WebAssembly.Instance;
  try {
    const bytes = wasmBytes instanceof Uint8Array ? wasmBytes : new Uint8Array(wasmBytes);
    const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    instance = await WebAssembly.instantiate(module, { env });
  } catch (e) {
    throw new CoreError(`cannot instantiate core.wasm: ${(e as Error).message}`);
  }
  jit.attach(instance.exports);
  return new Core(instance, jit);
}
