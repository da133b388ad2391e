// Hardware task switching (SDM vol. 3 ch. 7): JMP, CALL, INT through a task gate or to a TSS,
// and IRET with NT set. The outgoing state goes to the current TSS, the incoming state comes
// from the new one; segment loads then run with the new task's privilege and fault with #TS.

import {
  STATE, OFF_SEGS, OFF_CR0, OFF_CR3, OFF_GDTR_BASE, SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR,
  SEG_BASE, SEG_LIMIT, SEG_ACCESS, SEG_SELECTOR, reg32, setReg32, segSelector, CR0_TS, CR0_PG, CR4_PGE, OFF_CR4,
  FLAG_NT, FLAG_VM, EXC_GP, EXC_NP, EXC_TS, EXC_SS, REG_EAX, REG_ESP,
} from './state';
import { raiseFault } from './fault';
import { pc, cplLive } from './live';
import {
  readDesc, descLo, descHi, descBase, descLimit, descAccess, setSegCache, setAccessed,
  AR_S, AR_CODE, AR_DC, AR_RW, AR_P, AR_DPL_SHIFT, SYS_LDT,
} from './segments';
import { getEflags } from './flags';
import { writeFlags, setCpl, updateMode } from './mode';
import { readSys16, readSys32, writeSys16, writeSys32, writeSys8, checkWriteSys } from '../mmu/access';
import { tlbFlush } from '../mmu/tlb';
import { push } from './stack';

export const TASK_JMP: u32 = 0;
export const TASK_CALL: u32 = 1;
export const TASK_IRET: u32 = 2;
export const TASK_INT: u32 = 3;

const TSS_BUSY: u32 = 2; // type bit 1 distinguishes busy from available

@inline function seg(s: u32): u32 { return STATE + OFF_SEGS + (s << 4); }

export function taskSwitch(sel: u32, source: u32, errorCode: i32): void {
  const err = <i32>(sel & 0xfffc);
  if ((sel & 4) != 0 || (sel & 0xfffc) == 0) raiseFault(EXC_GP, err);
  const descAddrNew = readDesc(sel, EXC_GP);
  const ar = descAccess(descHi);
  const type = ar & 0x1f;
  const is32 = (type & 8) != 0;
  const busy = (type & TSS_BUSY) != 0;
  if ((type & 0x15) != 1) raiseFault(EXC_GP, err); // must be a 16/32-bit TSS (S=0)
  if (source == TASK_IRET ? !busy : busy) raiseFault(EXC_GP, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
  const newBase = descBase(descLo, descHi);
  const newLimit = descLimit(descLo, descHi);
  const minLimit: u32 = is32 ? 0x67 : 0x2b;
  if (newLimit < minLimit) raiseFault(EXC_TS, err);
  const newLo = descLo, newHi = descHi;

  // Outgoing task.
  const tr = seg(SEG_TR);
  const oldBase = load<u32>(tr + SEG_BASE);
  const oldSel = load<u32>(tr + SEG_SELECTOR);
  const old32 = (load<u32>(tr + SEG_ACCESS) & 8) != 0;
  checkWriteSys(oldBase, old32 ? 0x68 : 0x2c);
  checkWriteSys(newBase, 2);
  let flags = getEflags();
  if (source == TASK_JMP || source == TASK_IRET) {
    // The outgoing task is no longer busy.
    const oa = readDesc(oldSel, EXC_GP);
    writeSys8(oa + 5, (descHi >>> 8) & ~TSS_BUSY & 0xff);
  }
  if (source == TASK_IRET) flags &= ~FLAG_NT;
  if (old32) {
    writeSys32(oldBase + 0x20, pc);
    writeSys32(oldBase + 0x24, flags);
    for (let r: u32 = 0; r < 8; r++) writeSys32(oldBase + 0x28 + r * 4, reg32(REG_EAX + r));
    for (let s: u32 = 0; s < 6; s++) writeSys16(oldBase + 0x48 + s * 4, segSelector(s));
  } else {
    writeSys16(oldBase + 0x0e, pc);
    writeSys16(oldBase + 0x10, flags);
    for (let r: u32 = 0; r < 8; r++) writeSys16(oldBase + 0x12 + r * 2, reg32(REG_EAX + r));
    for (let s: u32 = 0; s < 4; s++) writeSys16(oldBase + 0x22 + s * 2, segSelector(s));
  }

  // Incoming task: read its whole state before changing anything else.
  let eip: u32, nflags: u32, cr3: u32 = 0, ldt: u32;
  const regs = memory.data(32);
  const sels = memory.data(24);
  if (is32) {
    cr3 = readSys32(newBase + 0x1c);
    eip = readSys32(newBase + 0x20);
    nflags = readSys32(newBase + 0x24);
    for (let r: u32 = 0; r < 8; r++) store<u32>(regs + r * 4, readSys32(newBase + 0x28 + r * 4));
    for (let s: u32 = 0; s < 6; s++) store<u32>(sels + s * 4, readSys16(newBase + 0x48 + s * 4));
    ldt = readSys16(newBase + 0x60);
  } else {
    eip = readSys16(newBase + 0x0e);
    nflags = readSys16(newBase + 0x10) | (getEflags() & 0xffff0000 & ~FLAG_VM);
    for (let r: u32 = 0; r < 8; r++) store<u32>(regs + r * 4, (reg32(REG_EAX + r) & 0xffff0000) | readSys16(newBase + 0x12 + r * 2));
    for (let s: u32 = 0; s < 4; s++) store<u32>(sels + s * 4, readSys16(newBase + 0x22 + s * 2));
    store<u32>(sels + 16, 0); store<u32>(sels + 20, 0);
    ldt = readSys16(newBase + 0x2a);
  }
  if (source == TASK_CALL || source == TASK_INT) {
    writeSys16(newBase, oldSel);
    nflags |= FLAG_NT;
  }
  if (source != TASK_IRET) {
    descLo = newLo; descHi = newHi;
    writeSys8(descAddrNew + 5, ((newHi >>> 8) | TSS_BUSY) & 0xff);
  }
  setSegCache(SEG_TR, sel, newBase, newLimit, descAccess(newHi) | TSS_BUSY);
  store<u32>(STATE + OFF_CR0, load<u32>(STATE + OFF_CR0) | CR0_TS);
  if (is32 && (load<u32>(STATE + OFF_CR0) & CR0_PG) != 0) {
    store<u32>(STATE + OFF_CR3, cr3);
    tlbFlush((load<u32>(STATE + OFF_CR4) & CR4_PGE) != 0);
  }
  for (let r: u32 = 0; r < 8; r++) setReg32(REG_EAX + r, load<u32>(regs + r * 4));
  pc = eip;
  writeFlags(nflags | 2);
  // From here on faults belong to the new task.
  const v86 = (nflags & FLAG_VM) != 0;
  if (v86) {
    setCpl(3);
    for (let s: u32 = 0; s < 6; s++) {
      const v = load<u32>(sels + s * 4);
      setSegCache(s, v, v << 4, 0xffff, AR_P | AR_S | AR_RW | 1 | (3 << AR_DPL_SHIFT));
    }
  } else {
    // Selectors first (so a fault shows the new task's values), then descriptors.
    for (let s: u32 = 0; s < 6; s++) store<u32>(seg(s) + SEG_SELECTOR, load<u32>(sels + s * 4));
    setCpl(load<u32>(sels + SEG_CS * 4) & 3);
  }
  loadTaskLdt(ldt);
  if (!v86) {
    loadTaskCode(load<u32>(sels + SEG_CS * 4));
    loadTaskStack(load<u32>(sels + SEG_SS * 4));
    loadTaskData(SEG_ES, load<u32>(sels + 0));
    loadTaskData(SEG_DS, load<u32>(sels + SEG_DS * 4));
    loadTaskData(SEG_FS, load<u32>(sels + SEG_FS * 4));
    loadTaskData(SEG_GS, load<u32>(sels + SEG_GS * 4));
  }
  updateMode();
  if (errorCode >= 0) push(<u32>errorCode, is32);
}

function loadTaskLdt(sel: u32): void {
  if ((sel & 0xfffc) == 0) { setSegCache(SEG_LDTR, sel, 0, 0, 0); return; }
  const err = <i32>(sel & 0xfffc);
  if (sel & 4) raiseFault(EXC_TS, err);
  readDesc(sel, EXC_TS);
  const ar = descAccess(descHi);
  if ((ar & 0x1f) != SYS_LDT) raiseFault(EXC_TS, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_TS, err);
  setSegCache(SEG_LDTR, sel, descBase(descLo, descHi), descLimit(descLo, descHi), ar);
}

function loadTaskCode(sel: u32): void {
  const err = <i32>(sel & 0xfffc);
  if ((sel & 0xfffc) == 0) raiseFault(EXC_TS, err);
  const a = readDesc(sel, EXC_TS);
  const ar = descAccess(descHi);
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  if ((ar & (AR_S | AR_CODE)) != (AR_S | AR_CODE)) raiseFault(EXC_TS, err);
  if ((ar & AR_DC) ? dpl > (sel & 3) : dpl != (sel & 3)) raiseFault(EXC_TS, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
  setAccessed(a);
  setSegCache(SEG_CS, sel, descBase(descLo, descHi), descLimit(descLo, descHi), ar);
}

function loadTaskStack(sel: u32): void {
  const err = <i32>(sel & 0xfffc);
  if ((sel & 0xfffc) == 0) raiseFault(EXC_TS, err);
  const a = readDesc(sel, EXC_TS);
  const ar = descAccess(descHi);
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  if ((sel & 3) != cplLive || dpl != cplLive || (ar & (AR_S | AR_CODE | AR_RW)) != (AR_S | AR_RW)) raiseFault(EXC_TS, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_SS, err);
  setAccessed(a);
  setSegCache(SEG_SS, sel, descBase(descLo, descHi), descLimit(descLo, descHi), ar);
}

function loadTaskData(s: u32, sel: u32): void {
  if ((sel & 0xfffc) == 0) { setSegCache(s, sel, 0, 0, 0); return; }
  const err = <i32>(sel & 0xfffc);
  const a = readDesc(sel, EXC_TS);
  const ar = descAccess(descHi);
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  if ((ar & AR_S) == 0 || ((ar & AR_CODE) != 0 && (ar & AR_RW) == 0)) raiseFault(EXC_TS, err);
  const conforming = (ar & (AR_CODE | AR_DC)) == (AR_CODE | AR_DC);
  if (!conforming && (dpl < cplLive || dpl < (sel & 3))) raiseFault(EXC_TS, err);
  if ((ar & AR_P) == 0) raiseFault(EXC_NP, err);
  setAccessed(a);
  setSegCache(s, sel, descBase(descLo, descHi), descLimit(descLo, descHi), ar);
}
