// Control transfers that change CS: far JMP/CALL/RET, IRET, and the delivery of interrupts and
// exceptions in real, protected and virtual-8086 mode, with the privilege checks, gates and
// stack switches of SDM vol. 3 ch. 5-6. Task switches are in cpu/task.ts.

import {
  STATE, OFF_IDTR_BASE, OFF_IDTR_LIMIT, OFF_SEGS, SEG_CS, SEG_SS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_TR,
  SEG_BASE, SEG_LIMIT, SEG_ACCESS, SEG_SELECTOR, REG_ESP, reg32, setReg32, segSelector,
  FLAG_IF, FLAG_TF, FLAG_NT, FLAG_RF, FLAG_VM, FLAG_AC, FLAG_IOPL, FLAG_VIF, FLAG_VIP, FLAG_ID,
  EXC_GP, EXC_NP, EXC_SS, EXC_TS,
} from './state';
import { raiseFault } from './fault';
import { pc, cplLive, protectedMode, v86Mode, ss32, nmiBlocked, attention } from './live';
import {
  readDesc, descLo, descHi, descBase, descLimit, descAccess, setAccessed, setSegCache, loadSeg, loadSegReal,
  nullInvalidSegments, AR_CODE, AR_DC, AR_P, AR_S, AR_RW, AR_DB, AR_DPL_SHIFT,
  SYS_CALL_GATE16, SYS_CALL_GATE32, SYS_TASK_GATE, SYS_INT_GATE16, SYS_INT_GATE32, SYS_TRAP_GATE16,
  SYS_TRAP_GATE32, SYS_TSS16_AVAIL, SYS_TSS32_AVAIL,
} from './segments';
import { getEflags, flagsReg } from './flags';
import { setCpl, writeFlags, updateMode } from './mode';
import { push, pop, peek, espAdd, spOffset } from './stack';
import { readLin16, readLin32, readSys16, readSys32, writeSys16, writeSys32, writeSlow16, writeSlow32, checkWriteLin, checkWriteSys } from '../mmu/access';
import { translate } from '../mmu/paging';
import { taskSwitch, TASK_JMP, TASK_CALL, TASK_INT } from './task';

@inline function seg(s: u32): u32 { return STATE + OFF_SEGS + (s << 4); }

/** Load CS from the descriptor in descLo/descHi, at privilege `newCpl`. */
function commitCs(sel: u32, newCpl: u32, eip: u32): void {
  setSegCache(SEG_CS, (sel & 0xfffc) | newCpl, descBase(descLo, descHi), descLimit(descLo, descHi), descAccess(descHi));
  setCpl(newCpl);
  pc = eip;
}

function checkEipInLimit(eip: u32): void {
  if (eip > descLimit(descLo, descHi)) raiseFault(EXC_GP, 0);
}

/** A code segment descriptor for a direct far JMP/CALL (not a gate). */
function checkDirectCode(sel: u32): void {
  const ar = descAccess(descHi);
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  const err = <i32>(sel & 0xfffc);
  if ((ar & (AR_S | AR_CODE)) != (AR_S | AR_CODE)) raiseFault(EXC_GP, err);
  if (ar & AR_DC) { if (dpl > cplLive) raiseFault(EXC_GP, err); }
  else if ((sel & 3) > cplLive || dpl != cplLive) raiseFault(EXC_GP, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
}

// ---------------------------------------------------------------- JMP FAR

export function jmpFar(sel: u32, off: u32, o32: bool): void {
  if (!protectedMode) {
    loadSegReal(SEG_CS, sel);
    pc = o32 ? off : off & 0xffff;
    return;
  }
  if ((sel & 0xfffc) == 0) raiseFault(EXC_GP, 0);
  const addr = readDesc(sel, EXC_GP);
  const ar = descAccess(descHi);
  if (ar & AR_S) {
    checkDirectCode(sel);
    checkEipInLimit(off);
    setAccessed(addr);
    commitCs(sel, cplLive, off);
    return;
  }
  const type = ar & 0xf;
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  const err = <i32>(sel & 0xfffc);
  if (type == SYS_CALL_GATE16 || type == SYS_CALL_GATE32) {
    if (dpl < cplLive || dpl < (sel & 3)) raiseFault(EXC_GP, err);
    if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
    const gateLo = descLo, gateHi = descHi;
    const target = gateLo >>> 16;
    const eip = type == SYS_CALL_GATE32 ? (gateLo & 0xffff) | (gateHi & 0xffff0000) : gateLo & 0xffff;
    if ((target & 0xfffc) == 0) raiseFault(EXC_GP, 0);
    const caddr = readDesc(target, EXC_GP);
    const car = descAccess(descHi);
    const cdpl = (car >>> AR_DPL_SHIFT) & 3;
    if ((car & (AR_S | AR_CODE)) != (AR_S | AR_CODE)) raiseFault(EXC_GP, <i32>(target & 0xfffc));
    if ((car & AR_DC) ? cdpl > cplLive : cdpl != cplLive) raiseFault(EXC_GP, <i32>(target & 0xfffc));
    if ((car & AR_P) == 0) raiseFault(EXC_NP, <i32>(target & 0xfffc));
    checkEipInLimit(eip);
    setAccessed(caddr);
    commitCs(target, cplLive, eip);
    return;
  }
  if (type == SYS_TASK_GATE || type == SYS_TSS16_AVAIL || type == SYS_TSS32_AVAIL) {
    if (dpl < cplLive || dpl < (sel & 3)) raiseFault(EXC_GP, err);
    if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
    taskSwitch(type == SYS_TASK_GATE ? descLo >>> 16 : sel, TASK_JMP, -1);
    return;
  }
  raiseFault(EXC_GP, err);
}

// ---------------------------------------------------------------- CALL FAR

export function callFar(sel: u32, off: u32, o32: bool): void {
  if (!protectedMode) {
    const cs = segSelector(SEG_CS);
    // Both pushes must succeed before CS changes.
    checkWriteLin(stackLinear(o32 ? 8 : 4), o32 ? 8 : 4);
    push(cs, o32); push(pc, o32);
    loadSegReal(SEG_CS, sel);
    pc = o32 ? off : off & 0xffff;
    return;
  }
  if ((sel & 0xfffc) == 0) raiseFault(EXC_GP, 0);
  const addr = readDesc(sel, EXC_GP);
  const ar = descAccess(descHi);
  const err = <i32>(sel & 0xfffc);
  if (ar & AR_S) {
    checkDirectCode(sel);
    checkEipInLimit(off);
    checkWriteLin(stackLinear(o32 ? 8 : 4), o32 ? 8 : 4);
    push(segSelector(SEG_CS), o32); push(pc, o32);
    setAccessed(addr);
    commitCs(sel, cplLive, off);
    return;
  }
  const type = ar & 0xf;
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  if (type == SYS_TASK_GATE || type == SYS_TSS16_AVAIL || type == SYS_TSS32_AVAIL) {
    if (dpl < cplLive || dpl < (sel & 3)) raiseFault(EXC_GP, err);
    if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
    taskSwitch(type == SYS_TASK_GATE ? descLo >>> 16 : sel, TASK_CALL, -1);
    return;
  }
  if (type != SYS_CALL_GATE16 && type != SYS_CALL_GATE32) raiseFault(EXC_GP, err);
  if (dpl < cplLive || dpl < (sel & 3)) raiseFault(EXC_GP, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
  const gate32 = type == SYS_CALL_GATE32;
  const gateLo = descLo, gateHi = descHi;
  const target = gateLo >>> 16;
  const eip = gate32 ? (gateLo & 0xffff) | (gateHi & 0xffff0000) : gateLo & 0xffff;
  const params = gateHi & 0x1f;
  if ((target & 0xfffc) == 0) raiseFault(EXC_GP, 0);
  const caddr = readDesc(target, EXC_GP);
  const car = descAccess(descHi);
  const cdpl = (car >>> AR_DPL_SHIFT) & 3;
  const terr = <i32>(target & 0xfffc);
  if ((car & (AR_S | AR_CODE)) != (AR_S | AR_CODE) || cdpl > cplLive) raiseFault(EXC_GP, terr);
  if ((car & AR_P) == 0) raiseFault(EXC_NP, terr);
  const codeLo = descLo, codeHi = descHi;

  if ((car & AR_DC) == 0 && cdpl < cplLive) {
    // More privileged: switch to the inner stack from the TSS and copy the parameters.
    const oldSs = segSelector(SEG_SS), oldEsp = reg32(REG_ESP), oldSsBase = load<u32>(seg(SEG_SS) + SEG_BASE);
    const oldSs32 = ss32;
    const newSs = tssStackSelector(cdpl), newEsp = tssStackPointer(cdpl);
    const ssAddr = checkInnerStack(newSs, cdpl, 0);
    const ssLo = descLo, ssHi = descHi;
    const ssBase = descBase(ssLo, ssHi);
    const ssB = (descAccess(ssHi) & AR_DB) != 0;
    const w: u32 = gate32 ? 4 : 2;
    const frame = (4 + params) * w;
    let sp = ssB ? newEsp - frame : (newEsp - frame) & 0xffff;
    checkWriteSys(ssBase + sp, frame);
    // Frame, top to bottom at increasing addresses: EIP, CS, params..., ESP, SS.
    let p = ssBase + sp;
    stackPut(p, pc, w); p += w;
    stackPut(p, segSelector(SEG_CS), w); p += w;
    // SDM vol. 3 5.8.5 (fig. 5-13): the parameters keep their order: the dword at the caller's
    // ESP (the last one pushed) lands right above CS on the new stack.
    for (let i: u32 = 0; i < params; i++) {
      const src = oldSsBase + (oldSs32 ? oldEsp + i * w : (oldEsp + i * w) & 0xffff);
      stackPut(p, w == 4 ? readLin32(src) : readLin16(src), w);
      p += w;
    }
    stackPut(p, oldEsp, w); p += w;
    stackPut(p, oldSs, w);
    descLo = ssLo; descHi = ssHi;
    setAccessed(ssAddr);
    setSegCache(SEG_SS, (newSs & 0xfffc) | cdpl, ssBase, descLimit(ssLo, ssHi), descAccess(ssHi));
    setReg32(REG_ESP, ssB ? sp : (newEsp & 0xffff0000) | sp);
    descLo = codeLo; descHi = codeHi;
    checkEipInLimit(eip);
    setAccessed(caddr);
    commitCs(target, cdpl, eip);
    return;
  }
  checkEipInLimit(eip);
  checkWriteLin(stackLinear(gate32 ? 8 : 4), gate32 ? 8 : 4);
  push(segSelector(SEG_CS), gate32); push(pc, gate32);
  setAccessed(caddr);
  commitCs(target, cplLive, eip);
}

/** Linear address of the `bytes` below the current top of stack. */
function stackLinear(bytes: u32): u32 {
  return load<u32>(seg(SEG_SS) + SEG_BASE) + spOffset(espAdd(-bytes));
}

function stackPut(lin: u32, v: u32, w: u32): void {
  if (w == 4) writeSys32(lin, v); else writeSys16(lin, v);
}

// ---------------------------------------------------------------- TSS stacks

function tssStackSelector(dpl: u32): u32 {
  const tr = seg(SEG_TR);
  const is32 = (load<u32>(tr + SEG_ACCESS) & 8) != 0;
  const off: u32 = is32 ? 8 + dpl * 8 : 4 + dpl * 4;
  if (off + 1 > load<u32>(tr + SEG_LIMIT)) raiseFault(EXC_TS, <i32>(load<u32>(tr + SEG_SELECTOR) & 0xfffc));
  return readSys16(load<u32>(tr + SEG_BASE) + off);
}
function tssStackPointer(dpl: u32): u32 {
  const tr = seg(SEG_TR);
  const is32 = (load<u32>(tr + SEG_ACCESS) & 8) != 0;
  const off: u32 = is32 ? 4 + dpl * 8 : 2 + dpl * 4;
  if (off + (is32 ? 3 : 1) > load<u32>(tr + SEG_LIMIT)) raiseFault(EXC_TS, <i32>(load<u32>(tr + SEG_SELECTOR) & 0xfffc));
  return is32 ? readSys32(load<u32>(tr + SEG_BASE) + off) : readSys16(load<u32>(tr + SEG_BASE) + off);
}

/** Validate the inner-level stack segment from the TSS; leaves it in descLo/descHi. */
function checkInnerStack(ss: u32, dpl: u32, ext: u32): u32 {
  if ((ss & 0xfffc) == 0) raiseFault(EXC_TS, <i32>ext);
  const a = readDesc(ss, EXC_TS);
  const ar = descAccess(descHi);
  const err = <i32>((ss & 0xfffc) | ext);
  if ((ss & 3) != dpl || ((ar >>> AR_DPL_SHIFT) & 3) != dpl) raiseFault(EXC_TS, err);
  if ((ar & (AR_S | AR_CODE | AR_RW)) != (AR_S | AR_RW)) raiseFault(EXC_TS, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_SS, err);
  return a;
}

// ---------------------------------------------------------------- RET FAR

export function retFar(o32: bool, imm: u32): void {
  if (!protectedMode) {
    const eip = peek(0, o32);
    const cs = peek(o32 ? 4 : 2, o32) & 0xffff;
    setReg32(REG_ESP, espAdd((o32 ? 8 : 4) + imm));
    loadSegReal(SEG_CS, cs);
    pc = o32 ? eip : eip & 0xffff;
    return;
  }
  const w: u32 = o32 ? 4 : 2;
  const eip = peek(0, o32);
  const sel = peek(w, o32) & 0xffff;
  const rpl = sel & 3;
  if ((sel & 0xfffc) == 0) raiseFault(EXC_GP, 0);
  if (rpl < cplLive) raiseFault(EXC_GP, <i32>(sel & 0xfffc));
  const addr = readDesc(sel, EXC_GP);
  const ar = descAccess(descHi);
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  const err = <i32>(sel & 0xfffc);
  if ((ar & (AR_S | AR_CODE)) != (AR_S | AR_CODE)) raiseFault(EXC_GP, err);
  if ((ar & AR_DC) ? dpl > rpl : dpl != rpl) raiseFault(EXC_GP, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
  if (rpl == cplLive) {
    checkEipInLimit(eip);
    setReg32(REG_ESP, espAdd(2 * w + imm));
    setAccessed(addr);
    commitCs(sel, cplLive, eip);
    return;
  }
  // Return to an outer level: the caller's SS:ESP sit above the parameters.
  const codeLo = descLo, codeHi = descHi;
  const newEsp = peek(2 * w + imm, o32);
  const newSs = peek(3 * w + imm, o32) & 0xffff;
  loadOuterStack(newSs, rpl);
  descLo = codeLo; descHi = codeHi;
  checkEipInLimit(eip);
  setAccessed(addr);
  commitCs(sel, rpl, eip);
  commitOuterStack(newSs, newEsp + imm, o32);
  nullInvalidSegments();
}

let outerSsLo: u32 = 0, outerSsHi: u32 = 0, outerSsAddr: u32 = 0;

function loadOuterStack(ss: u32, rpl: u32): void {
  if ((ss & 0xfffc) == 0) raiseFault(EXC_GP, 0);
  outerSsAddr = readDesc(ss, EXC_GP);
  const ar = descAccess(descHi);
  const err = <i32>(ss & 0xfffc);
  if ((ss & 3) != rpl || ((ar >>> AR_DPL_SHIFT) & 3) != rpl) raiseFault(EXC_GP, err);
  if ((ar & (AR_S | AR_CODE | AR_RW)) != (AR_S | AR_RW)) raiseFault(EXC_GP, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_SS, err);
  outerSsLo = descLo; outerSsHi = descHi;
}

function commitOuterStack(ss: u32, esp: u32, o32: bool): void {
  descLo = outerSsLo; descHi = outerSsHi;
  setAccessed(outerSsAddr);
  const ar = descAccess(outerSsHi);
  setSegCache(SEG_SS, ss, descBase(outerSsLo, outerSsHi), descLimit(outerSsLo, outerSsHi), ar);
  if (ar & AR_DB) setReg32(REG_ESP, o32 ? esp : esp & 0xffff);
  else setReg32(REG_ESP, (reg32(REG_ESP) & 0xffff0000) | (esp & 0xffff));
}

// ---------------------------------------------------------------- IRET

export function iret(o32: bool): void {
  const w: u32 = o32 ? 4 : 2;
  // SDM vol. 3 6.7.1: IRET ends NMI blocking; an NMI that arrived meanwhile is taken at the next
  // instruction boundary, so make the run loop look at the pins again.
  if (nmiBlocked) { nmiBlocked = false; attention = true; }
  if (!protectedMode) {
    const iopl = (flagsReg & FLAG_IOPL) >>> 12;
    if (v86Mode && iopl != 3) raiseFault(EXC_GP, 0);
    const eip = peek(0, o32);
    const cs = peek(w, o32) & 0xffff;
    let fl = peek(2 * w, o32);
    if (o32 && eip > 0xffff && !v86Mode) raiseFault(EXC_GP, 0);
    setReg32(REG_ESP, espAdd(3 * w));
    loadSegReal(SEG_CS, cs);
    pc = o32 ? eip : eip & 0xffff;
    const cur = getEflags();
    let keep: u32 = o32 ? (FLAG_VM | FLAG_VIF | FLAG_VIP) : 0xffff0000;
    if (v86Mode) keep |= FLAG_IOPL;
    writeFlags((cur & keep) | (fl & ~keep));
    return;
  }
  if (flagsReg & FLAG_NT) {
    // Return from a nested task: switch back to the task named by the TSS back link.
    const tr = seg(SEG_TR);
    const back = readSys16(load<u32>(tr + SEG_BASE));
    taskSwitch(back, 2 /* TASK_IRET */, -1);
    return;
  }
  const eip = peek(0, o32);
  const sel = peek(w, o32) & 0xffff;
  const fl = peek(2 * w, o32);
  if (o32 && (fl & FLAG_VM) != 0 && cplLive == 0) {
    iretToV86(eip, sel, fl);
    return;
  }
  const rpl = sel & 3;
  if ((sel & 0xfffc) == 0) raiseFault(EXC_GP, 0);
  if (rpl < cplLive) raiseFault(EXC_GP, <i32>(sel & 0xfffc));
  const addr = readDesc(sel, EXC_GP);
  const ar = descAccess(descHi);
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  const err = <i32>(sel & 0xfffc);
  if ((ar & (AR_S | AR_CODE)) != (AR_S | AR_CODE)) raiseFault(EXC_GP, err);
  if ((ar & AR_DC) ? dpl > rpl : dpl != rpl) raiseFault(EXC_GP, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
  const oldCpl = cplLive;
  if (rpl == cplLive) {
    checkEipInLimit(eip);
    setReg32(REG_ESP, espAdd(3 * w));
    setAccessed(addr);
    commitCs(sel, rpl, eip);
    iretFlags(fl, o32, oldCpl);
    return;
  }
  const codeLo = descLo, codeHi = descHi;
  const newEsp = peek(3 * w, o32);
  const newSs = peek(4 * w, o32) & 0xffff;
  loadOuterStack(newSs, rpl);
  descLo = codeLo; descHi = codeHi;
  checkEipInLimit(eip);
  setAccessed(addr);
  commitCs(sel, rpl, eip);
  iretFlags(fl, o32, oldCpl);
  commitOuterStack(newSs, newEsp, o32);
  nullInvalidSegments();
}

/** EFLAGS from IRET/POPF in protected mode: IOPL only at CPL 0, IF only when CPL <= IOPL. */
function iretFlags(fl: u32, o32: bool, oldCpl: u32): void {
  const cur = getEflags();
  let changeable: u32 = 0x3f7fd5 & ~(FLAG_VM | FLAG_VIF | FLAG_VIP | FLAG_IOPL | FLAG_IF);
  if (oldCpl == 0) changeable |= FLAG_IOPL | FLAG_VIF | FLAG_VIP;
  if (oldCpl <= ((cur & FLAG_IOPL) >>> 12)) changeable |= FLAG_IF;
  if (!o32) changeable &= 0xffff;
  writeFlags((cur & ~changeable) | (fl & changeable));
}

function iretToV86(eip: u32, cs: u32, fl: u32): void {
  // Stack at CPL 0: EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS (32-bit slots).
  const esp = peek(12, true);
  const ss = peek(16, true) & 0xffff;
  const es = peek(20, true) & 0xffff;
  const ds = peek(24, true) & 0xffff;
  const fs = peek(28, true) & 0xffff;
  const gs = peek(32, true) & 0xffff;
  writeFlags(fl | FLAG_VM);
  setCpl(3);
  loadSeg(SEG_CS, cs); // v86 mode now: paragraph bases, DPL 3 attributes
  loadSeg(SEG_SS, ss);
  loadSeg(SEG_ES, es);
  loadSeg(SEG_DS, ds);
  loadSeg(SEG_FS, fs);
  loadSeg(SEG_GS, gs);
  setReg32(REG_ESP, esp);
  pc = eip & 0xffff;
}

// ---------------------------------------------------------------- interrupts and exceptions

/** How an interrupt was caused: changes the privilege check and the EXT bit of error codes. */
export const INT_SOFTWARE: u32 = 0; // INT n, INT3, INTO
export const INT_EXTERNAL: u32 = 1; // INTR / NMI
export const INT_EXCEPTION: u32 = 2; // CPU-detected trap or abort (and instruction-breakpoint #DB)
/**
 * A CPU-detected fault: the EFLAGS image pushed has RF set, so that returning into the faulting
 * instruction does not re-trigger its instruction breakpoint (SDM vol. 3 17.3.1.1: "for any
 * fault-class exception except a debug exception generated in response to an instruction
 * breakpoint, the value pushed for RF is 1").
 */
export const INT_FAULT: u32 = 3;

/**
 * Deliver interrupt `vector`. `pc` must already hold the EIP to push: the next instruction for
 * INT n and traps, the faulting instruction for faults. errorCode < 0 means none.
 */
export function interrupt(vector: u32, errorCode: i32, kind: u32): void {
  if (!protectedMode && !v86Mode) {
    interruptReal(vector);
    return;
  }
  if (v86Mode && kind == INT_SOFTWARE && ((flagsReg & FLAG_IOPL) >>> 12) != 3) raiseFault(EXC_GP, 0);
  interruptProtected(vector, errorCode, kind);
}

function interruptReal(vector: u32): void {
  const base = load<u32>(STATE + OFF_IDTR_BASE);
  if (vector * 4 + 3 > load<u32>(STATE + OFF_IDTR_LIMIT)) raiseFault(EXC_GP, 0);
  const ip = readLin16(base + vector * 4);
  const cs = readLin16(base + vector * 4 + 2);
  checkWriteLin(stackLinear(6), 6);
  push(getEflags() & 0xffff, false);
  push(segSelector(SEG_CS), false);
  push(pc & 0xffff, false);
  loadSegReal(SEG_CS, cs);
  pc = ip;
  writeFlags(getEflags() & ~(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF));
}

function interruptProtected(vector: u32, errorCode: i32, kind: u32): void {
  const ext: u32 = kind == INT_SOFTWARE ? 0 : 1;
  const idtErr = <i32>(vector * 8 + 2 + ext);
  if (vector * 8 + 7 > load<u32>(STATE + OFF_IDTR_LIMIT)) raiseFault(EXC_GP, idtErr);
  const gateAddr = load<u32>(STATE + OFF_IDTR_BASE) + vector * 8;
  const gLo = readSys32(gateAddr), gHi = readSys32(gateAddr + 4);
  const type = (gHi >>> 8) & 0x1f;
  const gdpl = (gHi >>> 13) & 3;
  if (type != SYS_TASK_GATE && type != SYS_INT_GATE16 && type != SYS_INT_GATE32
      && type != SYS_TRAP_GATE16 && type != SYS_TRAP_GATE32) raiseFault(EXC_GP, idtErr);
  if (kind == INT_SOFTWARE && gdpl < cplLive) raiseFault(EXC_GP, idtErr);
  if ((gHi & (1 << 15)) == 0) raiseFault(EXC_NP, idtErr);
  if (type == SYS_TASK_GATE) {
    taskSwitch(gLo >>> 16, TASK_INT, errorCode);
    return;
  }
  const gate32 = (type & 8) != 0;
  const isTrap = (type & 1) != 0;
  const sel = gLo >>> 16;
  const eip = gate32 ? (gLo & 0xffff) | (gHi & 0xffff0000) : gLo & 0xffff;
  if ((sel & 0xfffc) == 0) raiseFault(EXC_GP, <i32>ext);
  const caddr = readDesc(sel, EXC_GP);
  const car = descAccess(descHi);
  const cdpl = (car >>> AR_DPL_SHIFT) & 3;
  const cerr = <i32>((sel & 0xfffc) | ext);
  if ((car & (AR_S | AR_CODE)) != (AR_S | AR_CODE) || cdpl > cplLive) raiseFault(EXC_GP, cerr);
  if ((car & AR_P) == 0) raiseFault(EXC_NP, cerr);
  const codeLo = descLo, codeHi = descHi;
  const w: u32 = gate32 ? 4 : 2;
  const hasErr = errorCode >= 0;
  const oldFlags = getEflags() | (kind == INT_FAULT ? FLAG_RF : 0);

  if ((car & AR_DC) == 0 && cdpl < cplLive) {
    // Inner privilege (from user code or v86 mode): switch to the TSS stack of level cdpl.
    if (v86Mode && cdpl != 0) raiseFault(EXC_GP, cerr);
    const newSs = tssStackSelector(cdpl), newEsp = tssStackPointer(cdpl);
    const ssAddr = checkInnerStack(newSs, cdpl, ext);
    const ssLo = descLo, ssHi = descHi;
    const ssBase = descBase(ssLo, ssHi);
    const ssB = (descAccess(ssHi) & AR_DB) != 0;
    const fromV86 = v86Mode;
    const slots: u32 = (fromV86 ? 9 : 5) + (hasErr ? 1 : 0);
    const frame = slots * w;
    const sp = ssB ? newEsp - frame : (newEsp - frame) & 0xffff;
    checkWriteSys(ssBase + sp, frame);
    let p = ssBase + sp;
    if (hasErr) { stackPut(p, <u32>errorCode, w); p += w; }
    stackPut(p, pc, w); p += w;
    stackPut(p, segSelector(SEG_CS), w); p += w;
    stackPut(p, oldFlags, w); p += w;
    stackPut(p, reg32(REG_ESP), w); p += w;
    stackPut(p, segSelector(SEG_SS), w); p += w;
    if (fromV86) {
      stackPut(p, segSelector(SEG_ES), w); p += w;
      stackPut(p, segSelector(SEG_DS), w); p += w;
      stackPut(p, segSelector(SEG_FS), w); p += w;
      stackPut(p, segSelector(SEG_GS), w);
    }
    writeFlags(oldFlags & ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM | (isTrap ? 0 : FLAG_IF)));
    if (fromV86) {
      setSegCache(SEG_ES, 0, 0, 0, 0); setSegCache(SEG_DS, 0, 0, 0, 0);
      setSegCache(SEG_FS, 0, 0, 0, 0); setSegCache(SEG_GS, 0, 0, 0, 0);
    }
    descLo = ssLo; descHi = ssHi;
    setAccessed(ssAddr);
    setSegCache(SEG_SS, (newSs & 0xfffc) | cdpl, ssBase, descLimit(ssLo, ssHi), descAccess(ssHi));
    setReg32(REG_ESP, ssB ? sp : (newEsp & 0xffff0000) | sp);
    descLo = codeLo; descHi = codeHi;
    if (eip > descLimit(codeLo, codeHi)) raiseFault(EXC_GP, 0);
    setAccessed(caddr);
    commitCs(sel, cdpl, eip);
    return;
  }
  if (v86Mode) raiseFault(EXC_GP, cerr);
  // Same privilege: push on the current stack.
  const frame = (hasErr ? 4 : 3) * w;
  const lin = stackLinear(frame);
  const user = cplLive == 3;
  if (user) checkWriteLin(lin, frame); else { translate(lin, true, false); translate(lin + frame - 1, true, false); }
  if (eip > descLimit(codeLo, codeHi)) raiseFault(EXC_GP, 0);
  const newEsp = espAdd(-frame);
  let p = lin;
  if (hasErr) { stackPutAs(p, <u32>errorCode, w, user); p += w; }
  stackPutAs(p, pc, w, user); p += w;
  stackPutAs(p, segSelector(SEG_CS), w, user); p += w;
  stackPutAs(p, oldFlags, w, user);
  setReg32(REG_ESP, newEsp);
  writeFlags(oldFlags & ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM | (isTrap ? 0 : FLAG_IF)));
  setAccessed(caddr);
  commitCs(sel, cplLive, eip);
}

function stackPutAs(lin: u32, v: u32, w: u32, user: bool): void {
  if (w == 4) writeSlow32(lin, v, user); else writeSlow16(lin, v, user);
}

