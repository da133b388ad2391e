// Operating mode bookkeeping: CPL, real/protected/v86, and EFLAGS writes that can change them.

import { OFF_DR, OFF_CR4, CR4_DE, STATE, OFF_CPL, OFF_CR0, OFF_SEGS, SEG_CS, SEG_SS, SEG_ACCESS, CR0_PE, CR0_AM, FLAG_VM, FLAG_IF, FLAG_TF, FLAG_RF, FLAG_AC } from './state';
import { cplLive, protectedMode, v86Mode, cs32, ss32, attention, alignCheck, breakpointsArmed, dataBreakpoints, ioBreakpoints } from './live';
import { tlbSetUser } from '../mmu/tlb';
import { setLinkEpochCell } from './blocks';
import { flagsReg, setEflagsRaw } from './flags';
import { updateAllSegChecks, AR_DB } from './segments';

export function setCpl(c: u32): void {
  if (c != cplLive) {
    cplLive = c;
    setLinkEpochCell();
    tlbSetUser(c == 3);
    updateAlignCheck();
  }
  store<u32>(STATE + OFF_CPL, c);
}

/** Recompute whether #AC checking is on; call after CPL, CR0.AM or EFLAGS.AC may have changed. */
export function updateAlignCheck(): void {
  const on = cplLive == 3 && (load<u32>(STATE + OFF_CR0) & CR0_AM) != 0 && (flagsReg & FLAG_AC) != 0;
  if (on != alignCheck) {
    alignCheck = on;
    updateAllSegChecks();
  }
}

/** Recompute the mode flags after CR0.PE or EFLAGS.VM changed. */
export function updateMode(): void {
  v86Mode = (flagsReg & FLAG_VM) != 0;
  protectedMode = (load<u32>(STATE + OFF_CR0) & CR0_PE) != 0 && !v86Mode;
  const big = protectedMode && (load<u32>(STATE + OFF_SEGS + (SEG_CS << 4) + SEG_ACCESS) & AR_DB) != 0;
  if (big != cs32) { cs32 = big; attention = true; } // the run loop picks blocks or step()
  const big32 = protectedMode && (load<u32>(STATE + OFF_SEGS + (SEG_SS << 4) + SEG_ACCESS) & AR_DB) != 0;
  if (ss32 && !big32) attention = true; // translations need a 32-bit stack (cpu/blocks.ts)
  ss32 = big32;
  updateAllSegChecks();
  if (v86Mode) setCpl(3);
  updateAlignCheck();
}

/** Replace EFLAGS (privilege rules already applied by the caller). */
export function writeFlags(v: u32): void {
  const before = flagsReg;
  const vmBefore = before & FLAG_VM;
  setEflagsRaw(v);
  // Enabling interrupts or single-step changes what the run loop must check between instructions;
  // RF (set by IRET or a suspended REP) must be cleared after the next instruction (carefulStep).
  // IF that stays set changes nothing there: SAHF, CLD and POPF in user code rewrite it every
  // time, and each ended the block or translation they ran in.
  if ((v & ~before & FLAG_IF) != 0 || (v & (FLAG_TF | FLAG_RF)) != 0) attention = true;
  if (((v & FLAG_AC) != 0) != alignCheck) updateAlignCheck();
  if ((flagsReg & FLAG_VM) != vmBefore) updateMode();
}

/** Re-read DR7: which breakpoints are armed (instruction breakpoints: R/W = 00; data: 01 or 11). */
export function updateDebugArming(): void {
  const dr7 = load<u32>(STATE + OFF_DR + 28);
  const de = (load<u32>(STATE + OFF_CR4) & CR4_DE) != 0;
  let any = false, data = false, io = false;
  for (let i: u32 = 0; i < 4; i++) {
    if (((dr7 >>> (i * 2)) & 3) == 0) continue;
    any = true;
    const rw = (dr7 >>> (16 + i * 4)) & 3;
    if (rw == 1 || rw == 3) data = true;
    if (rw == 2 && de) io = true;
  }
  breakpointsArmed = any;
  ioBreakpoints = io;
  attention = true;
  if (data != dataBreakpoints) {
    dataBreakpoints = data;
    updateAllSegChecks();
  }
}
