// The core's exports: power-on, the run loop with its instruction budget, the interrupt pins,
// and the layout constants the host builds its accessors from (see README.md).

import { hostBreakCount, hostBreakHit } from './cpu/host-break';
import { watchStop, takeWatchStop, clearWatchHit } from './cpu/host-watch';
import { logDmaWrite, dirtyByCpu, dirtyByDma, dirtyHarvests, dirtyLogOn } from './mmu/dirty';
import {
  STATE, OFF_EIP, OFF_EFLAGS, OFF_CR0, OFF_DR, OFF_HALTED, OFF_INTR, OFF_NMI_PENDING, OFF_A20, OFF_RAM_SIZE,
  OFF_INSTR_COUNT, OFF_SEGS, OFF_GDTR_LIMIT, OFF_IDTR_LIMIT, OFF_MSR_APIC_BASE, OFF_MSR_PAT, OFF_CPL, STATE_SIZE,
  REG_EDX, setReg32, FLAG_IF, FLAG_TF, FLAG_RF, CR0_ET, CR0_CD, CR0_NW, EXC_DB, EXC_DF, EXC_NMI, EXC_PF, OFF_MSR_TSC_OFFSET,
  SEG_CS, SEG_LDTR, SEG_TR, OFF_LAST_EXCEPTION, OFF_EXCEPTION_COUNTS, OFF_SHADOWS, SHADOW_INTERRUPT, SHADOW_DEBUG,
  OFF_NMI_BLOCKED, OFF_FERR, OFF_CPUID_EDX,
} from './cpu/state';
import { pc, instrStart, syncFromState, syncToState, cplLive, attention, nmiBlocked, breakpointsArmed, dataBreakHits, cs32, csBase } from './cpu/live';
import { pendingVector, pendingError, clearPending } from './cpu/fault';
import { step, interruptShadow, haltRequested, runUntil, retired, stackShadow } from './cpu/exec';
import { runBlocks, flushBlocks, invalidateRange, placeArena, blocksDecoded, blockFlushes, ARENA_BYTES, setLinkEpochCell } from './cpu/blocks';
import { interrupt, INT_EXCEPTION, INT_EXTERNAL, INT_FAULT } from './cpu/transfer';
import { flagsReg, getEflags as flagsGetEflags, saveFlags, loadFlags } from './cpu/flags';
import { updateMode, writeFlags, updateDebugArming } from './cpu/mode';
import { setSegCache } from './cpu/segments';
import { RAM_BASE, setRamSize, ramSize, setPageKind, setVramWindow, vramLen, vramPhys, vramBacking, vramDirty, setVramDirty, setVramPages, MEM_MMIO } from './mmu/phys';
import { tlbFlushAll, tlbSetUser, tlbFills, tlbFlushes, tlbInvalidations } from './mmu/tlb';
import { codePageWrites } from './mmu/access';
import { setA20Mask, probe, pageWalks, pageFaults } from './mmu/paging';
import { fpuReset } from './cpu/fpu-env';
import { setCpuidApic, CPUID_FEATURES_RESET, CPUID_APIC } from './cpu/system';
import { placeJit, JIT_MEMORY_BYTES, setJitTable as cacheSetJitTable, setJitThreshold as cacheSetJitThreshold, jitThreshold,
  translations, bytesEmitted, translationFailures, evictions, calls, instructionsTranslated, guestBytes, cacheBytes, cachePeak } from './jit/cache';

@external("env", "intAck") declare function intAck(): u32;
@external("env", "traceException") declare function traceException(vector: u32, error: i32, cs: u32, eip: u32): void;

/** When set, every exception is reported to the host's traceException() (for debugging and the inspector). */
let traceExceptions: bool = false;
export function setTraceExceptions(on: u32): void { traceExceptions = on != 0; }

// ---- layout, for the host: every offset and register number, declared in cpu/state.ts ----
export {
  STATE, REG_EAX, REG_ECX, REG_EDX, REG_EBX, REG_ESP, REG_EBP, REG_ESI, REG_EDI, OFF_REGS, OFF_EIP,
  OFF_EFLAGS, SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, OFF_SEGS,
  SEG_SELECTOR, SEG_BASE, SEG_LIMIT, SEG_ACCESS, OFF_GDTR_BASE, OFF_GDTR_LIMIT, OFF_IDTR_BASE,
  OFF_IDTR_LIMIT, OFF_CR0, OFF_CR2, OFF_CR3, OFF_CR4, OFF_DR, OFF_CPL, OFF_MSR_SYSENTER_CS,
  OFF_MSR_SYSENTER_ESP, OFF_MSR_SYSENTER_EIP, OFF_MSR_APIC_BASE, OFF_MSR_TSC_OFFSET, OFF_MSR_PAT,
  OFF_MSR_MTRR_DEF_TYPE, OFF_MSR_MTRR_FIXED, OFF_MSR_MTRR_VAR, OFF_MSR_MISC_ENABLE, OFF_MSR_EFER,
  OFF_FPU_REGS, OFF_FPU_FCW, OFF_FPU_FSW, OFF_FPU_FTW, OFF_FPU_FOP, OFF_FPU_FIP, OFF_FPU_FCS,
  OFF_FPU_FDP, OFF_FPU_FDS, OFF_FPU_MXCSR, OFF_INSTR_EIP, OFF_HALTED, OFF_INTR, OFF_NMI_PENDING,
  OFF_A20, OFF_RAM_SIZE, OFF_INSTR_COUNT, OFF_LAZY_OP, OFF_LAZY_RESULT, OFF_LAZY_SRC1,
  OFF_LAZY_SRC2, OFF_LAZY_MASK, OFF_LAZY_SIZE, OFF_SEG_CHECK, OFF_LAST_EXCEPTION, OFF_EXCEPTION_COUNTS,
  OFF_SHADOWS, OFF_NMI_BLOCKED, OFF_FERR, OFF_CPUID_EDX, OFF_CLOCK_ANCHOR_NS, OFF_CLOCK_ANCHOR_INSTR,
  OFF_CLOCK_NS_PER_INSTR, OFF_CLOCK_FLOOR_NS, OFF_CLOCK_TSC_PER_NS, STATE_SIZE,
} from './cpu/state';
export { RAM_BASE } from './mmu/phys';

// ---- for the JIT's generated modules (jit/emit.ts imports these by name) ----
export { pc, instrStart, attention } from './cpu/live';
export { retired } from './cpu/exec';
export { lazyOp, lazyResult, lazySrc1, lazySrc2, lazySize, lazyMask, flagsReg } from './cpu/flags';
export { jitChainTarget } from './jit/chain';
import { setChaining, chained } from './jit/chain';
import { returnsIntoCallers } from './jit/calls';
export {
  jitFault, jitRead8, jitRead16, jitRead32, jitWrite8, jitWrite16, jitWrite32, jitSegCheck, jitCheckWrite, jitDispatch,
  jitFlags, jitRotateFlags, jitX87,
} from './jit/helpers';

// ---- why run() returned ----
export const STOP_BUDGET: u32 = 0;
export const STOP_HLT: u32 = 1;
export const STOP_RESET: u32 = 2;
export const STOP_REQUEST: u32 = 3;
/** Before an instruction at a host breakpoint (cpu/host-break.ts). */
export const STOP_BREAK: u32 = 4;
/** After an instruction that touched a host watchpoint (cpu/host-watch.ts). */
export const STOP_WATCH: u32 = 5;

let budgetEnd: u64 = 0;
let halted: bool = false;
let intrLine: bool = false;
let nmiPending: bool = false;
let stopRequested: bool = false;
let resetRequested: bool = false;
/** Exception being delivered when a fault occurred (for double and triple faults), or -1. */
let delivering: i32 = -1;

export function init(ramBytes: u32): void {
  // Once per core: the memory behind guest RAM is then as the host made it.
  if (ramSize != 0) unreachable();
  // Guest RAM, then the decoded-block arena.
  const arenaAt = <u64>RAM_BASE + ((<u64>ramBytes + 0xffff) & ~0xffff);
  const jitAt = arenaAt + <u64>ARENA_BYTES;
  const needed = <i32>((jitAt + <u64>JIT_MEMORY_BYTES + 0xffff) >> 16);
  const have = memory.size();
  if (needed > have) {
    if (memory.grow(needed - have) < 0) unreachable();
  }
  placeJit(<u32>jitAt);
  placeArena(<u32>arenaAt);
  setRamSize(ramBytes);
  store<u32>(STATE + OFF_RAM_SIZE, ramBytes);
  // RAM is not cleared here: a new memory and every page memory.grow adds are zero (WebAssembly
  // core specification, 4.5.3 and 4.4.7), and the host creates the memory for this core alone
  // (src/cpu/core.ts). Writing 256 MiB of zeros made the host commit every page at start-up
  // (about 130 ms and the whole RAM size in resident memory, before the guest touched any).
  reset();
}

/** The processor's RESET state (SDM vol. 3, table 9-1). */
export function reset(): void {
  // The APIC wiring, the FERR# line and the instruction count belong to the machine: they
  // survive the CPU's reset (fpuReset() below lowers FERR# through the machine).
  const apic = load<u32>(STATE + OFF_CPUID_EDX) & CPUID_APIC;
  const ferrLine = load<u32>(STATE + OFF_FERR);
  memory.fill(STATE, 0, STATE_SIZE);
  store<u32>(STATE + OFF_CPUID_EDX, CPUID_FEATURES_RESET | apic);
  store<u32>(STATE + OFF_FERR, ferrLine);
  store<f64>(STATE + OFF_INSTR_COUNT, <f64>retired); // the machine's clock may count instructions
  store<u32>(STATE + OFF_RAM_SIZE, ramSize); // a property of the machine, not of the CPU
  store<u32>(STATE + OFF_EFLAGS, 2);
  store<u32>(STATE + OFF_CR0, CR0_ET | CR0_CD | CR0_NW);
  store<u32>(STATE + OFF_DR + 24, 0xffff0ff0);
  store<u32>(STATE + OFF_DR + 28, 0x400);
  setReg32(REG_EDX, 0x0633);
  for (let s: u32 = 0; s < 6; s++) {
    const slot = STATE + OFF_SEGS + (s << 4);
    store<u32>(slot + 8, 0xffff);
    store<u32>(slot + 12, 0x93);
  }
  store<u32>(STATE + OFF_SEGS + (SEG_CS << 4), 0xf000);
  store<u32>(STATE + OFF_SEGS + (SEG_CS << 4) + 4, 0xffff0000);
  store<u32>(STATE + OFF_SEGS + (SEG_CS << 4) + 12, 0x9b);
  store<u32>(STATE + OFF_SEGS + (SEG_LDTR << 4) + 8, 0xffff);
  store<u32>(STATE + OFF_SEGS + (SEG_LDTR << 4) + 12, 0x82);
  store<u32>(STATE + OFF_SEGS + (SEG_TR << 4) + 8, 0xffff);
  store<u32>(STATE + OFF_SEGS + (SEG_TR << 4) + 12, 0x8b);
  store<u32>(STATE + OFF_GDTR_LIMIT, 0xffff);
  store<u32>(STATE + OFF_IDTR_LIMIT, 0xffff);
  store<u32>(STATE + OFF_EIP, 0xfff0);
  store<u32>(STATE + OFF_MSR_APIC_BASE, 0xfee00900);
  store<u64>(STATE + OFF_MSR_PAT, 0x0007040600070406);
  store<u32>(STATE + OFF_A20, 1);
  fpuReset();
  stopRequested = false; resetRequested = false; delivering = -1;
  clearPending();
  refreshState();
}

/**
 * Take the whole CPU from the state block (after the host wrote it: a boot loader, a snapshot
 * being restored) and rebuild every cache. With finish(), which writes it back whenever run()
 * returns, this is the core's exact spill and fill: nothing the guest can observe lives only
 * in a Wasm global between runs.
 */
export function refreshState(): void {
  flushBlocks(); // the host may have rewritten code too
  loadFlags();
  syncFromState();
  setLinkEpochCell();
  updateMode();
  tlbSetUser(cplLive == 3);
  setA20Mask(load<u32>(STATE + OFF_A20) != 0);
  tlbFlushAll();
  updateDebugArming();
  halted = load<u32>(STATE + OFF_HALTED) != 0;
  intrLine = load<u32>(STATE + OFF_INTR) != 0;
  nmiPending = load<u32>(STATE + OFF_NMI_PENDING) != 0;
  nmiBlocked = load<u32>(STATE + OFF_NMI_BLOCKED) != 0;
  retired = <u64>load<f64>(STATE + OFF_INSTR_COUNT);
  const shadows = load<u32>(STATE + OFF_SHADOWS);
  interruptShadow = (shadows & SHADOW_INTERRUPT) != 0;
  debugShadow = (shadows & SHADOW_DEBUG) != 0;
  attention = true; // the run loop looks at the pins and shadows before the next instruction
  for (let s: u32 = 0; s < 6; s++) {
    const slot = STATE + OFF_SEGS + (s << 4);
    setSegCache(s, load<u32>(slot), load<u32>(slot + 4), load<u32>(slot + 8), load<u32>(slot + 12));
  }
}

export function run(budget: u32): u32 {
  budgetEnd = retired + <u64>budget;
  clearWatchHit();
  return loopCatchingFaults();
}

/**
 * loop() inside a try that catches the `fault` tag (cpu/fault.ts throwFault) and calls loop()
 * again, which delivers the recorded exception and goes on with the same budget. A placeholder:
 * AssemblyScript has no try/catch, so asm-core/build.mjs defines it after compiling, as
 * `(loop $again (result i32) (try (result i32) (do (call $loop)) (catch $fault (br $again))))`.
 * Only the `fault` tag is caught: any other exception (a host callback's) still reaches the host.
 */
@external("fault", "loopCatchingFaults") declare function loopCatchingFaults(): u32;

export function requestStop(): void { stopRequested = true; attention = true; }
export function setIntr(level: u32): void { intrLine = level != 0; store<u32>(STATE + OFF_INTR, level); attention = true; }
export function raiseNmi(): void { nmiPending = true; store<u32>(STATE + OFF_NMI_PENDING, 1); attention = true; }
export function getEflags(): u32 { return flagsGetEflags(); }
export function setEflags(v: u32): void { writeFlags(v); }
export function flushTlb(): void { tlbFlushAll(); }
export function setA20(on: u32): void { setA20Mask(on != 0); store<u32>(STATE + OFF_A20, on); tlbFlushAll(); }
export function instructionCount(): f64 { return <f64>retired; }
export function isHalted(): u32 { return halted ? 1 : 0; }
export function translateLinear(lin: u32): f64 { return <f64>probe(lin); }
export function setApicPresent(on: u32): void { setCpuidApic(on != 0); }
/**
 * The physical memory map: make whole pages [phys, phys + len) RAM (0), ROM (1: read from guest
 * RAM's bytes there, which the host filled; writes dropped) or MMIO (2: the host's map). RAM
 * and ROM need guest RAM behind them. Returns 1, or 0 when refused (nothing changed).
 */
export function setMemoryKind(phys: u32, len: u32, kind: u32): u32 {
  if (!setPageKind(phys, len, kind)) return 0;
  if (len != 0) invalidateRange(phys, len); // decoded code and TLB entries knew the old kind
  return 1;
}
/**
 * Video memory of `bytes` (whole pages) in the core's memory, after everything init() placed:
 * returns its offset from RAM_BASE (the host views it there), or 0 when memory cannot grow.
 * Call once, after init() and before the host takes views of memory (growing detaches them).
 */
export function initVram(bytes: u32): u32 {
  if (vramLen != 0 || bytes == 0 || (bytes & 0xfff) != 0) return 0;
  const at = <u64>memory.size() << 16;
  const needed = <i32>((at + <u64>bytes + 0xffff) >> 16);
  if (at + <u64>bytes > 0xffff_f000 || memory.grow(needed - memory.size()) < 0) return 0;
  setVramWindow(0, bytes, <u32>(at - <u64>RAM_BASE));
  return vramBacking;
}
/**
 * Show the video memory at physical `phys` (the framebuffer BAR moved there), or nowhere (`phys`
 * 0): its pages become VRAM, and the old ones MMIO again. 0 when the window would leave the 4 GiB
 * space or cover RAM.
 */
export function mapVram(phys: u32): u32 {
  if (vramLen == 0 || (phys & 0xfff) != 0) return 0;
  if (phys != 0 && (<u64>phys + <u64>vramLen > 0x1_0000_0000 || phys < ramSize)) return 0;
  if (vramPhys != 0) { setPageKind(vramPhys, vramLen, MEM_MMIO); invalidateRange(vramPhys, vramLen); }
  setVramWindow(phys, vramLen, vramBacking);
  if (phys != 0) {
    setVramPages(phys, vramLen);
    invalidateRange(phys, vramLen);
  }
  tlbFlushAll();
  return 1;
}
/**
 * 1 when the guest wrote video memory since the last call, which re-arms the watch: the TLB is
 * flushed so each page's next write is seen again (mmu/tlb.ts TLB_VRAM_CLEAN).
 */
export function takeVramWrites(): u32 {
  if (!vramDirty) return 0;
  setVramDirty(false);
  tlbFlushAll();
  return 1;
}
/** The host (a device's DMA, a loader) wrote guest RAM in [phys, phys + len): drop code decoded from it. */
export function ramWritten(phys: u32, len: u32): void { invalidateRange(phys, len); logDmaWrite(phys, len); }
/**
 * The dirty log (mmu/dirty.ts), for live migration: dirtyLogStart() empties it and turns it on;
 * from then a bit per 4 KiB physical page at DIRTY_LOG says the page was written (by the CPU or
 * by the host through ramWritten). The host reads the bits, then dirtyLogClear() empties the log
 * and re-arms it. dirtyLogStop() turns it off.
 */
export { DIRTY_LOG, dirtyLogStart, dirtyLogStop, dirtyLogClear } from './mmu/dirty';
/** Dirty-log counters since dirtyLogStart: pages logged by CPU writes (0), by DMA (1), harvests (2), on (3). */
export function dirtyStats(which: u32): u32 {
  switch (which) {
    case 0: return dirtyByCpu;
    case 1: return dirtyByDma;
    case 2: return dirtyHarvests;
    case 3: return dirtyLogOn ? 1 : 0;
    default: return 0;
  }
}
/** Since power-on: blocks decoded (0), block-cache flushes (1), writes that hit decoded code (2). */
/**
 * Switches the decoded-block cache (cpu/blocks.ts) off or on. Off, 32-bit code runs through
 * the step-by-step interpreter, the path single-stepping and breakpoints take; the CPU tests
 * compare both paths with the host.
 */
export function setBlockCache(on: u32): void { blockCacheOn = on != 0; flushBlocks(); }
let blockCacheOn: bool = true;
/**
 * The JIT (jit/cache.ts): the host grew the function table by `slots` entries from `base`
 * (JIT_SLOTS are used) and compiles through the `jitCompile` import. Then
 * setJitThreshold(runs) turns translation on: a block is translated after it ran `runs` times
 * (1: at once); 0 turns it off.
 */
export { JIT_SLOTS, jitInstall } from './jit/cache';
export function setJitTable(base: u32): void { cacheSetJitTable(base); flushBlocks(); }
export function setJitThreshold(runs: u32): void { cacheSetJitThreshold(runs); flushBlocks(); }
/** The host gave translations jitGo (its engine has tail calls): they go straight into each other (jit/chain.ts). */
export function setJitChaining(on: u32): void { setChaining(on != 0); flushBlocks(); }
/**
 * JIT counters since power-on: translations (0), bytes emitted (1), failed translations (2),
 * evictions (3), calls of translated blocks (4), instructions run in translated blocks (5),
 * the threshold (6), guest code bytes translated (7), bytes of modules in the cache now (8)
 * and at most (9), translations entered from another translation (10, jit/chain.ts), returns
 * into a calling translation's frame (11, jit/calls.ts).
 */
export function jitStats(which: u32): f64 {
  switch (which) {
    case 0: return <f64>translations;
    case 1: return bytesEmitted;
    case 2: return <f64>translationFailures;
    case 3: return <f64>evictions;
    case 4: return calls;
    case 5: return instructionsTranslated;
    case 6: return <f64>jitThreshold;
    case 7: return guestBytes;
    case 8: return cacheBytes;
    case 9: return cachePeak;
    case 10: return <f64>chained();
    default: return <f64>returnsIntoCallers();
  }
}
/**
 * MMU counters since power-on, for the inspector: page walks (0), page faults (1), TLB entries
 * filled (2), whole-TLB flushes (3, a CR3 load, CR4 paging bits, a new code page) and single
 * pages dropped (4, INVLPG). Hits are not counted: that would cost every fast-path access.
 */
export function tlbStats(which: u32): f64 {
  switch (which) {
    case 0: return <f64>pageWalks;
    case 1: return <f64>pageFaults;
    case 2: return tlbFills;
    case 3: return tlbFlushes;
    default: return tlbInvalidations;
  }
}
export function blockStats(which: u32): u32 { return which == 0 ? blocksDecoded : which == 1 ? blockFlushes : codePageWrites; }

function finish(reason: u32): u32 {
  syncToState();
  saveFlags();
  store<u32>(STATE + OFF_HALTED, halted ? 1 : 0);
  store<f64>(STATE + OFF_INSTR_COUNT, <f64>retired);
  store<u32>(STATE + OFF_NMI_BLOCKED, nmiBlocked ? 1 : 0);
  store<u32>(STATE + OFF_SHADOWS, (interruptShadow ? SHADOW_INTERRUPT : 0) | (debugShadow ? SHADOW_DEBUG : 0));
  return reason;
}

function isContributory(v: i32): bool { return v == 0 || (v >= 10 && v <= 13); }
/**
 * Fault-class exceptions delivered here (SDM vol. 3 table 6-1): #DE, #DB (here only the
 * general-detect fault; breakpoint #DBs come from carefulStep), #BR, #UD, #NM, #TS, #NP, #SS,
 * #GP, #PF, #MF, #AC, #XM. Not #BP/#OF (traps, from INT3/INTO), #DF and #MC (aborts).
 */
function isFault(v: i32): bool { return v == 0 || v == 1 || (v >= 5 && v <= 7) || (v >= 10 && v <= 14) || v == 16 || v == 17 || v == 19; }

function deliverPending(): void {
  let vec = pendingVector, err = pendingError;
  clearPending();
  if (delivering >= 0) {
    if (traceExceptions) traceException(0x100 | <u32>vec, err, load<u32>(STATE + OFF_SEGS + (SEG_CS << 4)), pc);
    // A fault while delivering an exception (SDM vol. 3, table 6-5).
    const prev = delivering;
    if (prev == <i32>EXC_DF) { delivering = -1; resetRequested = true; return; }
    if ((isContributory(prev) && isContributory(vec)) || (prev == <i32>EXC_PF && (vec == <i32>EXC_PF || isContributory(vec)))) {
      vec = <i32>EXC_DF; err = 0;
    }
  }
  delivering = vec;
  instrStart = pc;
  store<u32>(STATE + OFF_LAST_EXCEPTION, <u32>vec);
  store<i32>(STATE + OFF_LAST_EXCEPTION + 4, err);
  store<u32>(STATE + OFF_LAST_EXCEPTION + 8, load<u32>(STATE + OFF_SEGS + (SEG_CS << 4)));
  store<u32>(STATE + OFF_LAST_EXCEPTION + 12, pc);
  if (traceExceptions) traceException(<u32>vec, err, load<u32>(STATE + OFF_SEGS + (SEG_CS << 4)), pc);
  const counter = STATE + OFF_EXCEPTION_COUNTS + ((<u32>vec & 31) << 2);
  store<u32>(counter, load<u32>(counter) + 1);
  interrupt(<u32>vec, err, isFault(vec) ? INT_FAULT : INT_EXCEPTION);
  delivering = -1;
}

/**
 * The run loop. Exported only so that asm-core/build.mjs finds it for loopCatchingFaults (nothing
 * in the module calls it by name, and the build removes the export again).
 */
export function loop(): u32 {
  for (;;) {
    // A fault: thrown (cpu/fault.ts) and caught in loopCatchingFaults, or recorded by translated code's slow paths.
    if (pendingVector >= 0) deliverPending();
    if (resetRequested) { resetRequested = false; return finish(STOP_RESET); }
    if (watchStop) { takeWatchStop(); return finish(STOP_WATCH); }
    if (retired >= budgetEnd) return finish(STOP_BUDGET);
    if (stopRequested) { stopRequested = false; return finish(STOP_REQUEST); }
    if (!interruptShadow) {
      if (nmiPending && !nmiBlocked) {
        nmiPending = false; store<u32>(STATE + OFF_NMI_PENDING, 0);
        nmiBlocked = true;
        halted = false;
        instrStart = pc;
        interrupt(EXC_NMI, -1, INT_EXTERNAL);
      } else if (intrLine && (flagsReg & FLAG_IF) != 0) {
        halted = false;
        instrStart = pc;
        const vector = intAck();
        interrupt(vector & 0xff, -1, INT_EXTERNAL);
      }
    }
    if (halted) return finish(STOP_HLT);
    attention = interruptShadow;
    if (hostBreakCount != 0) {
      // A debugger's breakpoints: one instruction at a time, checked before each.
      if (hostBreakHit(csBase + pc)) return finish(STOP_BREAK);
      attention = true; // the step below ends after one instruction
    }
    // RF lives for one instruction (SDM vol. 3 17.3.1.1): carefulStep clears it.
    if ((flagsReg & (FLAG_TF | FLAG_RF)) != 0 || breakpointsArmed) {
      carefulStep();
    } else if (cs32 && blockCacheOn && hostBreakCount == 0) {
      runBlocks(budgetEnd);
    } else {
      runUntil(budgetEnd);
    }
    if (haltRequested) { haltRequested = false; halted = true; }
  }
  return STOP_BUDGET;
}

/** The previous instruction was MOV SS or POP SS: no debug exception before this one. */
let debugShadow: bool = false;

/** One instruction with DR7 instruction breakpoints and TF single-step traps. */
function carefulStep(): void {
  const tf = (flagsReg & FLAG_TF) != 0;
  const shadowed = debugShadow;
  debugShadow = false;
  if (breakpointsArmed && !shadowed && (flagsGetEflags() & (1 << 16)) == 0) {
    const dr7 = load<u32>(STATE + OFF_DR + 28);
    const lin = load<u32>(STATE + OFF_SEGS + (SEG_CS << 4) + 4) + pc;
    for (let i: u32 = 0; i < 4; i++) {
      const enabled = (dr7 >>> (i * 2)) & 3;
      const rw = (dr7 >>> (16 + i * 4)) & 3;
      if (enabled != 0 && rw == 0 && load<u32>(STATE + OFF_DR + i * 4) == lin) {
        store<u32>(STATE + OFF_DR + 24, (load<u32>(STATE + OFF_DR + 24) & ~0xf) | (1 << i));
        instrStart = pc;
        interrupt(EXC_DB, -1, INT_EXCEPTION);
        return;
      }
    }
  }
  // RF suppresses instruction breakpoints for exactly one instruction.
  if (flagsGetEflags() & (1 << 16)) writeFlags(flagsGetEflags() & ~(1 << 16));
  interruptShadow = false;
  stackShadow = false;
  dataBreakHits = 0;
  step();
  retired++;
  if (stackShadow) { debugShadow = true; attention = true; return; }
  if (tf || dataBreakHits != 0) {
    // A trap after the instruction: DR6.BS for single-step, B0-B3 for data breakpoints.
    const dr6 = load<u32>(STATE + OFF_DR + 24) & ~0xf;
    store<u32>(STATE + OFF_DR + 24, dr6 | dataBreakHits | (tf ? 1 << 14 : 0));
    instrStart = pc;
    interrupt(EXC_DB, -1, INT_EXCEPTION);
  }
}

/**
 * A debugger's breakpoints (cpu/host-break.ts): slot `i` (below HOST_BREAKPOINTS) at linear
 * address `lin`. While any is set, run() steps and returns STOP_BREAK before an instruction at
 * one; resumeFromBreak(lin) lets the next run execute the instruction at `lin` first.
 */
export { HOST_BREAKPOINTS, setHostBreak, clearHostBreak, resumeFromBreak } from './cpu/host-break';
/**
 * A debugger's watchpoints (cpu/host-watch.ts): slot `i` (below HOST_WATCHPOINTS) on `len` bytes
 * from linear `lin`, for writes (1), reads (2) or both (3); run() returns STOP_WATCH after an
 * instruction that touched one, and hostWatchHit says which slot (0), at what address (1), a
 * write or not (2).
 */
export { HOST_WATCHPOINTS, setHostWatch, clearHostWatch, hostWatchHit } from './cpu/host-watch';
