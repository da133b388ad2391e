// Hot copies of state that the interpreter touches on every instruction. They are the truth
// while the core runs; syncToState() writes them back to the state block whenever the host may
// look (run() returns), and syncFromState() reloads them (refreshState()).

import { STATE, OFF_EIP, OFF_CPL, OFF_CR0, OFF_SEGS, SEG_CS, SEG_SS, SEG_BASE, SEG_LIMIT, SEG_ACCESS, CR0_PE, OFF_EFLAGS, FLAG_VM } from './state';

/** EIP of the next byte to fetch (the architectural EIP between instructions). */
export let pc: u32 = 0;
/** EIP at the start of the current instruction; faults restart here. */
export let instrStart: u32 = 0;
/** Cached CS base and limit for instruction fetch. */
export let csBase: u32 = 0;
export let csLimit: u32 = 0xffff;
/** Default operand/address size of the code segment (CS.D). */
export let cs32: bool = false;
/** Stack size attribute (SS.B): 32-bit ESP or 16-bit SP. */
export let ss32: bool = false;
/**
 * ES, SS and DS are flat: base 0, and every offset passes their limit and type checks on the
 * fast path (cpu/segments.ts updateSegCheck keeps it). Translations (jit/emit.ts) address these
 * segments without base or limit, so they run only while it holds (cpu/blocks.ts).
 */
export let flatData: bool = false;
/** CR0.PE set and not in v86 mode: descriptors, not paragraph bases. */
export let protectedMode: bool = false;
/** EFLAGS.VM: virtual-8086 mode. */
export let v86Mode: bool = false;
export let cplLive: u32 = 0;
/** Something outside the instruction stream needs the run loop's attention (IRQ, IF set, HLT, stop). */
export let attention: bool = false;
/** An NMI handler is running: further NMIs wait for the next IRET. */
export let nmiBlocked: bool = false;
/** CPL 3 with CR0.AM and EFLAGS.AC: unaligned data accesses raise #AC (cpu/mode.ts keeps it). */
export let alignCheck: bool = false;
/** DR7 enables an instruction breakpoint: the run loop takes its careful path. */
export let breakpointsArmed: bool = false;
/** DR7 enables a data breakpoint: every data access takes the slow path, which compares it. */
export let dataBreakpoints: bool = false;
/** DR7 enables an I/O breakpoint (R/W = 10 with CR4.DE): port accesses are compared. */
export let ioBreakpoints: bool = false;
/** DR6 B0-B3 bits of data breakpoints hit by the current instruction (a trap after it). */
export let dataBreakHits: u32 = 0;

export function syncFromState(): void {
  pc = load<u32>(STATE + OFF_EIP);
  instrStart = pc;
  const cs = STATE + OFF_SEGS + (SEG_CS << 4);
  csBase = load<u32>(cs + SEG_BASE);
  csLimit = load<u32>(cs + SEG_LIMIT);
  v86Mode = (load<u32>(STATE + OFF_EFLAGS) & FLAG_VM) != 0;
  protectedMode = (load<u32>(STATE + OFF_CR0) & CR0_PE) != 0 && !v86Mode;
  cs32 = protectedMode && (load<u32>(cs + SEG_ACCESS) & 0x4000) != 0;
  ss32 = protectedMode && (load<u32>(STATE + OFF_SEGS + (SEG_SS << 4) + SEG_ACCESS) & 0x4000) != 0;
  cplLive = load<u32>(STATE + OFF_CPL);
}

export function syncToState(): void {
  store<u32>(STATE + OFF_EIP, pc);
  store<u32>(STATE + OFF_CPL, cplLive);
}
