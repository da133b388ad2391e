// System instructions: descriptor-table registers (group 6 and 7), LAR/LSL/VERR/VERW, control
// and debug registers, MSRs, CPUID, RDTSC, SYSENTER/SYSEXIT.

import {
  STATE, OFF_GDTR_BASE, OFF_GDTR_LIMIT, OFF_IDTR_BASE, OFF_IDTR_LIMIT, OFF_CR0, OFF_CR2, OFF_CR3, OFF_CR4, OFF_DR,
  OFF_SEGS, SEG_LDTR, SEG_TR, SEG_CS, SEG_SS, SEG_SELECTOR, SEG_ACCESS, OFF_MSR_SYSENTER_CS, OFF_MSR_SYSENTER_ESP,
  OFF_MSR_SYSENTER_EIP, OFF_MSR_APIC_BASE, OFF_MSR_TSC_OFFSET, OFF_MSR_PAT, OFF_MSR_MTRR_DEF_TYPE, OFF_MSR_MTRR_FIXED,
  OFF_MSR_MTRR_VAR, OFF_MSR_MISC_ENABLE, OFF_CPUID_EDX, reg32, setReg32, reg16, segSelector,
  REG_EAX, REG_ECX, REG_EDX, REG_EBX, REG_ESP, CR0_PE, CR0_PG, CR0_WP, CR0_TS, CR0_ET, CR0_MP, CR0_EM, CR0_NE,
  CR0_AM, CR0_NW, CR0_CD, CR4_PSE, CR4_PGE, CR4_PAE, CR4_TSD, CR4_DE, CR4_VME, CR4_PVI, CR4_PCE, CR4_MCE,
  CR4_OSFXSR, CR4_OSXMMEXCPT, FLAG_ZF, FLAG_VM, FLAG_IF, FLAG_RF, EXC_GP, EXC_UD, EXC_DB, OFF_CLOCK_ANCHOR_NS,
  OFF_CLOCK_ANCHOR_INSTR, OFF_CLOCK_NS_PER_INSTR, OFF_CLOCK_FLOOR_NS, OFF_CLOCK_TSC_PER_NS,
} from './state';
import { raiseFault } from './fault';
import { pc, protectedMode, v86Mode, cplLive, breakpointsArmed, attention } from './live';
import { o32, mMod, mReg, mRm, eaSeg, eaOff, decodeModrm, readE, writeE, readMem, writeMem, getReg, setReg } from './decode';
import { setFlag, getEflags } from './flags';
import {
  readDesc, descLo, descHi, descBase, descLimit, descAccess, setSegCache, setAccessed,
  AR_S, AR_CODE, AR_DC, AR_RW, AR_P, AR_DPL_SHIFT, SYS_LDT, SYS_TSS16_AVAIL, SYS_TSS32_AVAIL,
} from './segments';
import { ud, retired } from './exec';
import { writeFlags, setCpl, updateMode, updateAlignCheck, updateDebugArming } from './mode';
import { tlbFlush, tlbFlushAll } from '../mmu/tlb';
import { invalidatePage } from '../mmu/paging';
import { writeSys8 } from '../mmu/access';

@external("env", "readTsc") declare function hostReadTsc(): f64;

function requireCpl0(): void {
  if ((protectedMode || v86Mode) && cplLive != 0) raiseFault(EXC_GP, 0);
}
function requireProtected(): void { if (!protectedMode) ud(); }

// ---------------------------------------------------------------- 0F 00: SLDT STR LLDT LTR VERR VERW

export function group6(): void {
  decodeModrm();
  requireProtected();
  switch (mReg) {
    case 0: storeSelector(segSelector(SEG_LDTR)); return;
    case 1: storeSelector(segSelector(SEG_TR)); return;
    case 2: { requireCpl0(); lldt(readE(16)); return; }
    case 3: { requireCpl0(); ltr(readE(16)); return; }
    case 4: verify(readE(16), false); return;
    case 5: verify(readE(16), true); return;
    default: ud();
  }
}

/** SLDT/STR/SMSW to a register write the full operand size (upper bits zero); to memory 16 bits. */
function storeSelector(v: u32): void {
  if (mMod == 3) setReg(o32 ? 32 : 16, mRm, v); else writeE(16, v);
}

function lldt(sel: u32): void {
  if ((sel & 0xfffc) == 0) { setSegCache(SEG_LDTR, sel, 0, 0, 0); return; }
  const err = <i32>(sel & 0xfffc);
  if (sel & 4) raiseFault(EXC_GP, err);
  readDesc(sel, EXC_GP);
  const ar = descAccess(descHi);
  if ((ar & 0x1f) != SYS_LDT) raiseFault(EXC_GP, err);
  if ((ar & AR_P) == 0) raiseFault(11, err);
  setSegCache(SEG_LDTR, sel, descBase(descLo, descHi), descLimit(descLo, descHi), ar);
}

function ltr(sel: u32): void {
  const err = <i32>(sel & 0xfffc);
  if ((sel & 0xfffc) == 0 || (sel & 4) != 0) raiseFault(EXC_GP, err);
  const a = readDesc(sel, EXC_GP);
  const ar = descAccess(descHi);
  const type = ar & 0x1f;
  if (type != SYS_TSS16_AVAIL && type != SYS_TSS32_AVAIL) raiseFault(EXC_GP, err);
  if ((ar & AR_P) == 0) raiseFault(11, err);
  writeSys8(a + 5, ((descHi >>> 8) | 2) & 0xff); // mark busy
  setSegCache(SEG_TR, sel, descBase(descLo, descHi), descLimit(descLo, descHi), ar | 2);
}

/** Can the descriptor be loaded at all (for LAR/LSL/VERR/VERW)? Returns false instead of faulting. */
function peekDescriptor(sel: u32): bool {
  if ((sel & 0xfffc) == 0) return false;
  const index = sel & 0xfff8;
  let limit: u32;
  if (sel & 4) {
    if ((segSelector(SEG_LDTR) & 0xfffc) == 0) return false;
    limit = load<u32>(STATE + OFF_SEGS + (SEG_LDTR << 4) + 8);
  } else limit = load<u32>(STATE + OFF_GDTR_LIMIT);
  if (index + 7 > limit) return false;
  readDesc(sel, EXC_GP);
  return true;
}

function visible(sel: u32, ar: u32): bool {
  const dpl = (ar >>> AR_DPL_SHIFT) & 3;
  const conformingCode = (ar & (AR_S | AR_CODE | AR_DC)) == (AR_S | AR_CODE | AR_DC);
  return conformingCode || (dpl >= cplLive && dpl >= (sel & 3));
}

function verify(sel: u32, write: bool): void {
  let ok = peekDescriptor(sel);
  if (ok) {
    const ar = descAccess(descHi);
    if ((ar & AR_S) == 0) ok = false;
    else if (!visible(sel, ar)) ok = false;
    else if (write) ok = (ar & (AR_CODE | AR_RW)) == AR_RW;
    else ok = (ar & AR_CODE) == 0 || (ar & AR_RW) != 0;
  }
  setFlag(FLAG_ZF, ok);
}

export function lar(): void {
  requireProtected();
  decodeModrm();
  const sel = readE(16);
  let ok = peekDescriptor(sel);
  if (ok) {
    const ar = descAccess(descHi);
    if ((ar & AR_S) == 0) {
      const t = ar & 0xf;
      ok = t == 1 || t == 2 || t == 3 || t == 4 || t == 5 || t == 9 || t == 11 || t == 12;
    }
    if (ok) ok = visible(sel, ar);
  }
  if (ok) setReg(o32 ? 32 : 16, mReg, descHi & (o32 ? 0x00f0ff00 : 0xff00));
  setFlag(FLAG_ZF, ok);
}

export function lsl(): void {
  requireProtected();
  decodeModrm();
  const sel = readE(16);
  let ok = peekDescriptor(sel);
  if (ok) {
    const ar = descAccess(descHi);
    if ((ar & AR_S) == 0) {
      const t = ar & 0xf;
      ok = t == 1 || t == 2 || t == 3 || t == 9 || t == 11;
    }
    if (ok) ok = visible(sel, ar);
  }
  if (ok) setReg(o32 ? 32 : 16, mReg, descLimit(descLo, descHi));
  setFlag(FLAG_ZF, ok);
}

// ---------------------------------------------------------------- 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG

export function group7(): void {
  decodeModrm();
  switch (mReg) {
    case 0: case 1: {
      if (mMod == 3) ud();
      const base = load<u32>(STATE + (mReg == 0 ? OFF_GDTR_BASE : OFF_IDTR_BASE));
      const limit = load<u32>(STATE + (mReg == 0 ? OFF_GDTR_LIMIT : OFF_IDTR_LIMIT));
      writeMem(16, eaSeg, eaOff, limit);
      // With a 16-bit operand size the Pentium Pro stores the top byte as zero.
      writeMem(32, eaSeg, eaOff + 2, o32 ? base : base & 0xffffff);
      return;
    }
    case 2: case 3: {
      if (mMod == 3) ud();
      requireCpl0();
      const limit = readMem(16, eaSeg, eaOff);
      let base = readMem(32, eaSeg, eaOff + 2);
      if (!o32) base &= 0xffffff;
      store<u32>(STATE + (mReg == 2 ? OFF_GDTR_BASE : OFF_IDTR_BASE), base);
      store<u32>(STATE + (mReg == 2 ? OFF_GDTR_LIMIT : OFF_IDTR_LIMIT), limit);
      return;
    }
    case 4: storeSelector(load<u32>(STATE + OFF_CR0) & 0xffff); return; // SMSW
    case 6: { // LMSW: sets PE (never clears it), MP, EM, TS
      requireCpl0();
      const v = readE(16);
      const cr0 = load<u32>(STATE + OFF_CR0);
      writeCr0((cr0 & ~0xe) | (v & 0xf) | (cr0 & CR0_PE));
      return;
    }
    case 7: {
      if (mMod == 3) ud();
      requireCpl0();
      invalidatePage(load<u32>(STATE + OFF_SEGS + (eaSeg << 4) + 4) + eaOff);
      return;
    }
    default: ud();
  }
}

export function clts(): void {
  requireCpl0();
  store<u32>(STATE + OFF_CR0, load<u32>(STATE + OFF_CR0) & ~CR0_TS);
}

export function invd(): void { requireCpl0(); }

// ---------------------------------------------------------------- control and debug registers

const CR0_WRITABLE: u32 = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG;
const CR4_WRITABLE: u32 = CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_MCE | CR4_PGE | CR4_PCE;

export function writeCr0(v: u32): void {
  const old = load<u32>(STATE + OFF_CR0);
  if ((v & CR0_PG) != 0 && (v & CR0_PE) == 0) raiseFault(EXC_GP, 0);
  if ((v & CR0_NW) != 0 && (v & CR0_CD) == 0) raiseFault(EXC_GP, 0);
  const nv = (v & CR0_WRITABLE) | CR0_ET;
  store<u32>(STATE + OFF_CR0, nv);
  if ((old ^ nv) & (CR0_PG | CR0_WP | CR0_PE)) tlbFlushAll();
  if ((old ^ nv) & CR0_PE) updateMode();
  if ((old ^ nv) & CR0_AM) updateAlignCheck();
}

export function movFromCr(): void {
  decodeModrm();
  requireCpl0();
  let v: u32;
  switch (mReg) {
    case 0: v = load<u32>(STATE + OFF_CR0); break;
    case 2: v = load<u32>(STATE + OFF_CR2); break;
    case 3: v = load<u32>(STATE + OFF_CR3); break;
    case 4: v = load<u32>(STATE + OFF_CR4); break;
    default: ud(); return;
  }
  setReg32(mRm, v);
}

export function movToCr(): void {
  decodeModrm();
  requireCpl0();
  const v = reg32(mRm);
  switch (mReg) {
    case 0: writeCr0(v); return;
    case 2: store<u32>(STATE + OFF_CR2, v); return;
    case 3:
      store<u32>(STATE + OFF_CR3, v & 0xfffff018);
      tlbFlush((load<u32>(STATE + OFF_CR4) & CR4_PGE) != 0);
      return;
    case 4: {
      if (v & ~CR4_WRITABLE) raiseFault(EXC_GP, 0);
      const old = load<u32>(STATE + OFF_CR4);
      store<u32>(STATE + OFF_CR4, v);
      if ((old ^ v) & (CR4_PSE | CR4_PGE | CR4_PAE)) tlbFlushAll();
      if ((old ^ v) & CR4_DE) updateDebugArming();
      return;
    }
    default: ud();
  }
}

export function movFromDr(): void {
  decodeModrm();
  requireCpl0();
  let r = mReg;
  if ((r == 4 || r == 5)) {
    if (load<u32>(STATE + OFF_CR4) & CR4_DE) ud();
    r += 2; // DR4/DR5 alias DR6/DR7 without CR4.DE
  }
  setReg32(mRm, load<u32>(STATE + OFF_DR + (r << 2)));
}

export function movToDr(): void {
  decodeModrm();
  requireCpl0();
  let r = mReg;
  if (r == 4 || r == 5) {
    if (load<u32>(STATE + OFF_CR4) & CR4_DE) ud();
    r += 2;
  }
  let v = reg32(mRm);
  if (r == 6) v = (v & 0x0000e00f) | 0xffff0ff0;
  else if (r == 7) v = (v & 0xffff2bff) | 0x400;
  store<u32>(STATE + OFF_DR + (r << 2), v);
  if (r == 7) updateDebugArming();
}

// ---------------------------------------------------------------- MSRs

const MSR_TSC: u32 = 0x10;
const MSR_APIC_BASE: u32 = 0x1b;
const MSR_MTRRCAP: u32 = 0xfe;
const MSR_SYSENTER_CS: u32 = 0x174;
const MSR_SYSENTER_ESP: u32 = 0x175;
const MSR_SYSENTER_EIP: u32 = 0x176;
const MSR_MCG_CAP: u32 = 0x179;
const MSR_MCG_STATUS: u32 = 0x17a;
const MSR_MISC_ENABLE: u32 = 0x1a0;
const MSR_MTRR_PHYSBASE0: u32 = 0x200; // ..0x20f: base/mask pairs
const MSR_MTRR_FIX64K: u32 = 0x250;
const MSR_MTRR_FIX16K_80000: u32 = 0x258;
const MSR_MTRR_FIX16K_A0000: u32 = 0x259;
const MSR_MTRR_FIX4K_C0000: u32 = 0x268; // ..0x26f
const MSR_PAT: u32 = 0x277;
const MSR_MTRR_DEF_TYPE: u32 = 0x2ff;
const MSR_BIOS_SIGN_ID: u32 = 0x8b; // microcode revision
const MSR_PLATFORM_ID: u32 = 0x17;
const MSR_EBL_CR_POWERON: u32 = 0x2a;

/** State-block slot of an MSR kept as 8 bytes, or 0 for MSRs handled specially / unknown. */
function msrSlot(idx: u32): u32 {
  if (idx == MSR_APIC_BASE) return OFF_MSR_APIC_BASE;
  if (idx == MSR_PAT) return OFF_MSR_PAT;
  if (idx == MSR_MTRR_DEF_TYPE) return OFF_MSR_MTRR_DEF_TYPE;
  if (idx == MSR_MISC_ENABLE) return OFF_MSR_MISC_ENABLE;
  if (idx == MSR_MTRR_FIX64K) return OFF_MSR_MTRR_FIXED;
  if (idx == MSR_MTRR_FIX16K_80000) return OFF_MSR_MTRR_FIXED + 8;
  if (idx == MSR_MTRR_FIX16K_A0000) return OFF_MSR_MTRR_FIXED + 16;
  if (idx >= MSR_MTRR_FIX4K_C0000 && idx <= 0x26f) return OFF_MSR_MTRR_FIXED + 24 + (idx - MSR_MTRR_FIX4K_C0000) * 8;
  if (idx >= MSR_MTRR_PHYSBASE0 && idx <= 0x20f) return OFF_MSR_MTRR_VAR + (idx - MSR_MTRR_PHYSBASE0) * 8;
  return 0;
}

export function rdmsr(): void {
  requireCpl0();
  const idx = reg32(REG_ECX);
  let lo: u32 = 0, hi: u32 = 0;
  switch (idx) {
    case MSR_TSC: { const t = readTsc(); lo = <u32>t; hi = <u32>(t >> 32); break; }
    case MSR_SYSENTER_CS: lo = load<u32>(STATE + OFF_MSR_SYSENTER_CS); break;
    case MSR_SYSENTER_ESP: lo = load<u32>(STATE + OFF_MSR_SYSENTER_ESP); break;
    case MSR_SYSENTER_EIP: lo = load<u32>(STATE + OFF_MSR_SYSENTER_EIP); break;
    case MSR_MTRRCAP: lo = 0x508; break; // 8 variable ranges, fixed ranges, write-combining
    case MSR_MCG_CAP: case MSR_MCG_STATUS: case MSR_BIOS_SIGN_ID: case MSR_PLATFORM_ID: case MSR_EBL_CR_POWERON: break;
    default: {
      const slot = msrSlot(idx);
      if (slot == 0) raiseFault(EXC_GP, 0);
      lo = load<u32>(STATE + slot); hi = load<u32>(STATE + slot + 4);
    }
  }
  setReg32(REG_EAX, lo); setReg32(REG_EDX, hi);
}

export function wrmsr(): void {
  requireCpl0();
  const idx = reg32(REG_ECX);
  const lo = reg32(REG_EAX), hi = reg32(REG_EDX);
  switch (idx) {
    case MSR_TSC: {
      // Writing the TSC sets the guest's offset from the machine's counter.
      const want = (<u64>hi << 32) | <u64>lo;
      store<f64>(STATE + OFF_MSR_TSC_OFFSET, <f64>want - machineTsc());
      return;
    }
    case MSR_SYSENTER_CS: store<u32>(STATE + OFF_MSR_SYSENTER_CS, lo & 0xffff); return;
    case MSR_SYSENTER_ESP: store<u32>(STATE + OFF_MSR_SYSENTER_ESP, lo); return;
    case MSR_SYSENTER_EIP: store<u32>(STATE + OFF_MSR_SYSENTER_EIP, lo); return;
    case MSR_MCG_STATUS: case MSR_BIOS_SIGN_ID: return;
    default: {
      const slot = msrSlot(idx);
      if (slot == 0) raiseFault(EXC_GP, 0);
      if (idx == MSR_APIC_BASE) {
        // Only the enable bit and base are writable; the BSP flag is read-only.
        const old = load<u32>(STATE + slot);
        store<u32>(STATE + slot, (lo & 0xfffff800) | (old & 0x100));
        store<u32>(STATE + slot + 4, 0);
        return;
      }
      store<u32>(STATE + slot, lo); store<u32>(STATE + slot + 4, hi);
    }
  }
}

/** The machine's time-stamp counter: from its clock in the state block, or else from the host. */
function machineTsc(): f64 {
  const rate = load<f64>(STATE + OFF_CLOCK_NS_PER_INSTR);
  if (rate == 0) return hostReadTsc();
  // The same operations in the same order as clock.ts now() and tsc(): the same value.
  let ns = load<f64>(STATE + OFF_CLOCK_ANCHOR_NS) + (<f64>retired - load<f64>(STATE + OFF_CLOCK_ANCHOR_INSTR)) * rate;
  const floor = load<f64>(STATE + OFF_CLOCK_FLOOR_NS);
  if (ns < floor) ns = floor;
  return Math.floor(ns * load<f64>(STATE + OFF_CLOCK_TSC_PER_NS));
}

export function readTsc(): u64 {
  const t = machineTsc() + load<f64>(STATE + OFF_MSR_TSC_OFFSET);
  return t <= 0 ? 0 : <u64>t;
}

export function rdtsc(): void {
  if ((load<u32>(STATE + OFF_CR4) & CR4_TSD) != 0 && (protectedMode || v86Mode) && cplLive != 0) raiseFault(EXC_GP, 0);
  const t = readTsc();
  setReg32(REG_EAX, <u32>t); setReg32(REG_EDX, <u32>(t >> 32));
}

export function rdpmc(): void {
  if ((load<u32>(STATE + OFF_CR4) & CR4_PCE) == 0 && (protectedMode || v86Mode) && cplLive != 0) raiseFault(EXC_GP, 0);
  if (reg32(REG_ECX) > 1) raiseFault(EXC_GP, 0);
  setReg32(REG_EAX, 0); setReg32(REG_EDX, 0);
}

// ---------------------------------------------------------------- CPUID

/** Feature bits of leaf 1 EDX at reset: what this core implements, and nothing else. */
export const CPUID_FEATURES_RESET: u32 =
  (1 << 0) | // FPU
  (1 << 1) | // VME (virtual-8086 mode extensions: CR4 bit accepted; VME behaviour itself not implemented)
  (1 << 2) | // DE (debugging extensions)
  (1 << 3) | // PSE (4 MiB pages)
  (1 << 4) | // TSC
  (1 << 5) | // MSR
  (1 << 8) | // CX8 (CMPXCHG8B)
  (1 << 11) | // SEP (SYSENTER/SYSEXIT)
  (1 << 12) | // MTRR
  (1 << 13) | // PGE (global pages)
  (1 << 15) | // CMOV
  (1 << 16); // PAT

export const CPUID_APIC: u32 = 1 << 9;

/** The machine turns the APIC bit on once a local APIC is wired. It lives in the state block, so a snapshot keeps it. */
export function setCpuidApic(on: bool): void {
  const f = load<u32>(STATE + OFF_CPUID_EDX);
  store<u32>(STATE + OFF_CPUID_EDX, on ? (f | CPUID_APIC) : (f & ~CPUID_APIC));
}

export function cpuid(): void {
  const leaf = reg32(REG_EAX);
  let a: u32 = 0, b: u32 = 0, c: u32 = 0, d: u32 = 0;
  if (leaf == 0) {
    a = 2;
    b = 0x756e6547; d = 0x49656e69; c = 0x6c65746e; // "GenuineIntel"
  } else if (leaf == 1) {
    a = 0x0000_0633; // family 6, model 3, stepping 3 (Pentium II class; a P6 without MMX would be model 1)
    b = 0x0001_0000; // one logical processor, APIC id 0
    d = load<u32>(STATE + OFF_CPUID_EDX) & ~(1 << 1); // VME behaviour is not implemented: do not advertise it
  } else if (leaf == 2) {
    a = 0x0000_0001; // no cache descriptors beyond the count
  }
  setReg32(REG_EAX, a); setReg32(REG_EBX, b); setReg32(REG_ECX, c); setReg32(REG_EDX, d);
}

// ---------------------------------------------------------------- SYSENTER / SYSEXIT

export function sysenter(): void {
  const cs = load<u32>(STATE + OFF_MSR_SYSENTER_CS);
  if (!protectedMode || (cs & 0xfffc) == 0) raiseFault(EXC_GP, 0);
  writeFlags(getEflags() & ~(FLAG_VM | FLAG_IF | FLAG_RF));
  setSegCache(SEG_CS, cs & 0xfffc, 0, 0xffffffff, 0xc09b); // flat 32-bit code, DPL 0
  setCpl(0);
  setSegCache(SEG_SS, (cs + 8) & 0xfffc, 0, 0xffffffff, 0xc093); // flat 32-bit data, DPL 0
  setReg32(REG_ESP, load<u32>(STATE + OFF_MSR_SYSENTER_ESP));
  pc = load<u32>(STATE + OFF_MSR_SYSENTER_EIP);
}

export function sysexit(): void {
  const cs = load<u32>(STATE + OFF_MSR_SYSENTER_CS);
  if (!protectedMode || cplLive != 0 || (cs & 0xfffc) == 0) raiseFault(EXC_GP, 0);
  setSegCache(SEG_CS, ((cs + 16) & 0xfffc) | 3, 0, 0xffffffff, 0xc0fb); // flat 32-bit code, DPL 3
  setCpl(3);
  setSegCache(SEG_SS, ((cs + 24) & 0xfffc) | 3, 0, 0xffffffff, 0xc0f3);
  setReg32(REG_ESP, reg32(REG_ECX));
  pc = reg32(REG_EDX);
}
