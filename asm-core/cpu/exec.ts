// The interpreter: decode one instruction and execute it. Operand decoding is in decode.ts,
// arithmetic in alu.ts, far transfers and interrupts in transfer.ts, system instructions in
// system.ts, the stack instructions beyond PUSH and POP in stack-ops.ts; this file is the
// opcode map itself (SDM vol. 2, appendix A).

import {
  STATE, reg32, setReg32, reg16, setReg16, reg8, setReg8, segSelector,
  REG_EAX, REG_ECX, REG_EDX, REG_EBX, REG_ESP, REG_ESI, REG_EDI,
  SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS,
  FLAG_CF, FLAG_DF, FLAG_IF, FLAG_IOPL,
  FLAG_VIF, FLAG_VIP, FLAG_SF, FLAG_ZF, FLAG_AF, FLAG_PF, FLAGS_ARITH,
  EXC_UD, EXC_GP, EXC_BP, EXC_OF, EXC_BR, EXC_DB, EXC_NM, OFF_HALTED,
} from './state';
import { raiseFault } from './fault';
import { pc, instrStart, cs32, ss32, protectedMode, v86Mode, cplLive, attention } from './live';
import { fetch8, fetch16, fetch32 } from './fetch';
import {
  o32, a32, segOvr, repPfx, lockPfx, mMod, mReg, mRm, eaSeg, eaOff, decodeModrm, dataSeg, getReg, setReg,
  readMem, writeMem, readE, writeE, readRmw, writeRmw, fetchImm, clearPrefixes,
} from './decode';
import {
  getCF, getOF, getZF, testCC, getEflags, setFlag, flagsReg, settleFlags, setLazyLogic, setResultFlags,
  lazyMask,
} from './flags';
import {
  alu, inc, dec, neg, shift, shiftDouble, mul, imul1, imul2, div, idiv, daa, das, aaa, aas, aam, aad, maskOf,
  ALU_CMP, ALU_AND, ALU_ADD,
} from './alu';
import { push, pop, push32, push16, pop32, pop16, peek, espAdd } from './stack';
import { pusha, popa, enter, leave, pushf, popf } from './stack-ops';
import { segAddr, loadSeg } from './segments';
import { jmpFar, callFar, retFar, iret, interrupt, INT_SOFTWARE } from './transfer';
import { stringOp, STR_MOVS, STR_CMPS, STR_STOS, STR_LODS, STR_SCAS, STR_INS, STR_OUTS } from './string';
import { ioIn, ioOut, checkIoPermission } from './io';
import { writeFlags } from './mode';
import { exec0f } from './exec0f';
import { fpuWait } from './fpu-env';
import { fpuEscape } from './fpu-escape';
import { readLin8, writeLin8, writeLin16, writeLin32, checkWriteLin } from '../mmu/access';

/** Set by MOV SS, POP SS and STI: interrupts are held off until after the next instruction. */
export let interruptShadow: bool = false;
/** Set by MOV SS and POP SS: debug exceptions (TF, breakpoints) also wait one instruction (SDM 6.8.3). */
export let stackShadow: bool = false;
/** Set by HLT: the run loop stops and waits for an interrupt. */
export let haltRequested: bool = false;

@inline function osize(): u32 { return o32 ? 32 : 16; }

export function ud(): void { raiseFault(EXC_UD, -1); }

/** LOCK is legal only on read-modify-write instructions with a memory destination. */
@inline export function lockOk(allowed: bool): void {
  if (lockPfx && (!allowed || mMod == 3)) ud();
}

@inline function jumpTo(target: u32): void { pc = o32 ? target : target & 0xffff; }

/** 1 for the eleven prefix bytes, so the common unprefixed case costs one load and one branch. */
const PREFIX_BYTES = memory.data<u8>([
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, // 00-1f
  0,0,0,0,0,0,1,0,0,0,0,0,0,0,1,0, 0,0,0,0,0,0,1,0,0,0,0,0,0,0,1,0, // 20-3f: 26 2e 36 3e
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, // 40-5f
  0,0,0,0,1,1,1,1,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, // 60-7f: 64 65 66 67
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, // 80-9f
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, // a0-bf
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, // c0-df
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 1,0,1,1,0,0,0,0,0,0,0,0,0,0,0,0, // e0-ff: f0 f2 f3
]);

/** Instructions retired since power-on (counted here, in the hot loop). */
export let retired: u64 = 0;

/**
 * The interpreter's hot loop: execute instructions until `end` instructions have retired or
 * something needs the run loop's attention (an interrupt line, HLT, a mode change...).
 */
export function runUntil(end: u64): void {
  do {
    interruptShadow = false;
    step();
    retired++;
  } while (!attention && retired < end);
}

@inline export function step(): void {
  instrStart = pc;
  // Only the sizes need resetting: segment, REP and LOCK prefixes are cleared again by
  // stepPrefixed() when its instruction ends, and by raiseFault() when it does not.
  o32 = cs32; a32 = cs32;
  const op = fetch8();
  if (load<u8>(PREFIX_BYTES + op) == 0) { execute(op); return; }
  stepPrefixed(op);
}

function stepPrefixed(first: u32): void {
  let op = first;
  let prefixes: u32 = 0;
  for (;;) {
    switch (op) {
      case 0x26: segOvr = SEG_ES; break;
      case 0x2e: segOvr = SEG_CS; break;
      case 0x36: segOvr = SEG_SS; break;
      case 0x3e: segOvr = SEG_DS; break;
      case 0x64: segOvr = SEG_FS; break;
      case 0x65: segOvr = SEG_GS; break;
      case 0x66: o32 = !cs32; break;
      case 0x67: a32 = !cs32; break;
      case 0xf0: lockPfx = true; break;
      case 0xf2: case 0xf3: repPfx = op; break;
      default: { execute(op); clearPrefixes(); return; }
    }
    // An instruction is at most 15 bytes long.
    if (++prefixes >= 14) raiseFault(EXC_GP, 0);
    op = fetch8();
  }
}

function execute(op: u32): void {
  if (op < 0x40 && (op & 7) < 6) {
    // ADD OR ADC SBB AND SUB XOR CMP in their six forms.
    const aop = op >> 3;
    switch (op & 7) {
      case 0: { decodeModrm(); lockOk(aop != ALU_CMP); const a = aop == ALU_CMP ? readE(8) : readRmw(8); const r = alu(aop, 8, a, reg8(mReg)); if (aop != ALU_CMP) writeRmw(8, r); return; }
      case 1: { decodeModrm(); lockOk(aop != ALU_CMP); if (o32) aluEvGv(aop, 32); else aluEvGv(aop, 16); return; }
      case 2: { decodeModrm(); lockOk(false); const r = alu(aop, 8, reg8(mReg), readE(8)); if (aop != ALU_CMP) setReg8(mReg, r); return; }
      case 3: { decodeModrm(); lockOk(false); if (o32) aluGvEv(aop, 32); else aluGvEv(aop, 16); return; }
      case 4: { if (lockPfx) ud(); const r = alu(aop, 8, reg8(0), fetch8()); if (aop != ALU_CMP) setReg8(0, r); return; }
      default: { if (lockPfx) ud(); if (o32) aluAccImm(aop, 32); else aluAccImm(aop, 16); return; }
    }
  }
  if (lockPfx) lockAllowedOneByte(op);
  switch (op) {
    case 0x06: push(segSelector(SEG_ES), o32); return;
    case 0x07: popSeg(SEG_ES); return;
    case 0x0e: push(segSelector(SEG_CS), o32); return;
    case 0x0f: exec0f(); return;
    case 0x16: push(segSelector(SEG_SS), o32); return;
    case 0x17: popSeg(SEG_SS); interruptShadow = true; stackShadow = true; return;
    case 0x1e: push(segSelector(SEG_DS), o32); return;
    case 0x1f: popSeg(SEG_DS); return;
    case 0x27: daa(); return;
    case 0x2f: das(); return;
    case 0x37: aaa(); return;
    case 0x3f: aas(); return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47: {
      const s = osize(); setReg(s, op & 7, inc(s, getReg(s, op & 7))); return;
    }
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      const s = osize(); setReg(s, op & 7, dec(s, getReg(s, op & 7))); return;
    }
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      push(o32 ? reg32(op & 7) : reg16(op & 7), o32); return;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      const v = pop(o32);
      if (o32) setReg32(op & 7, v); else setReg16(op & 7, v);
      return;
    }
    case 0x60: pusha(); return;
    case 0x61: popa(); return;
    case 0x62: bound(); return;
    case 0x63: arpl(); return;
    case 0x68: push(fetchImm(osize()), o32); return;
    case 0x69: case 0x6b: {
      decodeModrm();
      const s = osize();
      const a = readE(s);
      const b = op == 0x69 ? fetchImm(s) : <u32>(<i32>(<i8>fetch8()));
      setReg(s, mReg, imul2(s, a, b));
      return;
    }
    case 0x6a: push(<u32>(<i32>(<i8>fetch8())), o32); return;
    case 0x6c: stringOp(STR_INS, 8); return;
    case 0x6d: stringOp(STR_INS, osize()); return;
    case 0x6e: stringOp(STR_OUTS, 8); return;
    case 0x6f: stringOp(STR_OUTS, osize()); return;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      const d = <u32>(<i32>(<i8>fetch8()));
      if (testCC(op & 15)) jumpTo(pc + d);
      return;
    }
    case 0x80: case 0x82: {
      decodeModrm(); lockOk(mReg != ALU_CMP);
      const a = mReg == ALU_CMP ? readE(8) : readRmw(8); const r = alu(mReg, 8, a, fetch8());
      if (mReg != ALU_CMP) writeRmw(8, r);
      return;
    }
    case 0x81: case 0x83: {
      decodeModrm(); lockOk(mReg != ALU_CMP);
      if (o32) aluEvIv(op, 32); else aluEvIv(op, 16);
      return;
    }
    case 0x84: { decodeModrm(); setLazyLogic(8, readE(8) & reg8(mReg)); return; }
    case 0x85: { decodeModrm(); if (o32) setLazyLogic(32, readE(32) & reg32(mReg)); else setLazyLogic(16, readE(16) & reg16(mReg)); return; }
    case 0x86: { decodeModrm(); lockOk(true); const a = readRmw(8); writeRmw(8, reg8(mReg)); setReg8(mReg, a); return; }
    case 0x87: { decodeModrm(); lockOk(true); const s = osize(); const a = readRmw(s); writeRmw(s, getReg(s, mReg)); setReg(s, mReg, a); return; }
    case 0x88: { decodeModrm(); writeE(8, reg8(mReg)); return; }
    case 0x89: { decodeModrm(); if (o32) writeE(32, reg32(mReg)); else writeE(16, reg16(mReg)); return; }
    case 0x8a: { decodeModrm(); setReg8(mReg, readE(8)); return; }
    case 0x8b: { decodeModrm(); if (o32) setReg32(mReg, readE(32)); else setReg16(mReg, readE(16)); return; }
    case 0x8c: {
      decodeModrm();
      if (mReg > 5) ud();
      // To a register, a 32-bit operand size zero-extends; to memory it is always 16 bits.
      if (mMod == 3) setReg(osize(), mRm, segSelector(mReg)); else writeE(16, segSelector(mReg));
      return;
    }
    case 0x8d: {
      decodeModrm();
      if (mMod == 3) ud();
      setReg(osize(), mReg, eaOff);
      return;
    }
    case 0x8e: {
      decodeModrm();
      if (mReg == SEG_CS || mReg > 5) ud();
      loadSeg(mReg, readE(16));
      if (mReg == SEG_SS) { interruptShadow = true; stackShadow = true; }
      return;
    }
    case 0x8f: {
      // POP r/m: ESP is incremented before the destination address is used.
      const s = osize();
      const v = peek(0, o32);
      const oldEsp = reg32(REG_ESP);
      const newEsp = espAdd(s >> 3);
      setReg32(REG_ESP, newEsp);
      decodeModrm(); // an ESP-based address sees the incremented ESP
      setReg32(REG_ESP, oldEsp); // ...but a faulting store must leave ESP unchanged
      if (mMod != 3) checkWriteLin(segAddr(eaSeg, eaOff, (s >> 3) - 1, true), s >> 3);
      setReg32(REG_ESP, newEsp);
      writeE(s, v);
      return;
    }
    case 0x90: return; // NOP, PAUSE
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const s = osize(); const t = getReg(s, REG_EAX);
      setReg(s, REG_EAX, getReg(s, op & 7)); setReg(s, op & 7, t);
      return;
    }
    case 0x98: if (o32) setReg32(REG_EAX, <u32>(<i32>(<i16>reg16(REG_EAX)))); else setReg16(REG_EAX, <u32>(<i32>(<i8>reg8(0)))); return;
    case 0x99:
      if (o32) setReg32(REG_EDX, (reg32(REG_EAX) & 0x80000000) ? 0xffffffff : 0);
      else setReg16(REG_EDX, (reg16(REG_EAX) & 0x8000) ? 0xffff : 0);
      return;
    case 0x9a: { const off = fetchImm(osize()); const sel = fetch16(); callFar(sel, off, o32); return; }
    case 0x9b: fpuWait(); return;
    case 0x9c: pushf(); return;
    case 0x9d: popf(); return;
    case 0x9e: sahf(); return;
    case 0x9f: lahf(); return;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      const off = a32 ? fetch32() : fetch16();
      const s = (op & 1) ? osize() : 8;
      if (op < 0xa2) setReg(s, REG_EAX, readMem(s, dataSeg(), off));
      else writeMem(s, dataSeg(), off, getReg(s, REG_EAX));
      return;
    }
    case 0xa4: stringOp(STR_MOVS, 8); return;
    case 0xa5: stringOp(STR_MOVS, osize()); return;
    case 0xa6: stringOp(STR_CMPS, 8); return;
    case 0xa7: stringOp(STR_CMPS, osize()); return;
    case 0xa8: setLazyLogic(8, reg8(0) & fetch8()); return;
    case 0xa9: { const s = osize(); setLazyLogic(s, getReg(s, REG_EAX) & fetchImm(s)); return; }
    case 0xaa: stringOp(STR_STOS, 8); return;
    case 0xab: stringOp(STR_STOS, osize()); return;
    case 0xac: stringOp(STR_LODS, 8); return;
    case 0xad: stringOp(STR_LODS, osize()); return;
    case 0xae: stringOp(STR_SCAS, 8); return;
    case 0xaf: stringOp(STR_SCAS, osize()); return;
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      setReg8(op & 7, fetch8()); return;
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
      setReg(osize(), op & 7, fetchImm(osize())); return;
    case 0xc0: { decodeModrm(); const a = readRmw(8); writeRmw(8, shift(mReg, 8, a, fetch8())); return; }
    case 0xc1: { decodeModrm(); if (o32) { const a = readRmw(32); writeRmw(32, shift(mReg, 32, a, fetch8())); } else { const a = readRmw(16); writeRmw(16, shift(mReg, 16, a, fetch8())); } return; }
    case 0xc2: { const n = fetch16(); const t = pop(o32); setReg32(REG_ESP, espAdd(n)); jumpTo(t); return; }
    case 0xc3: { jumpTo(pop(o32)); return; }
    case 0xc4: loadFarPointer(SEG_ES); return;
    case 0xc5: loadFarPointer(SEG_DS); return;
    case 0xc6: { decodeModrm(); if (mReg != 0) ud(); writeImmToE(8); return; }
    case 0xc7: { decodeModrm(); if (mReg != 0) ud(); writeImmToE(osize()); return; }
    case 0xc8: enter(); return;
    case 0xc9: leave(); return;
    case 0xca: { const n = fetch16(); retFar(o32, n); return; }
    case 0xcb: retFar(o32, 0); return;
    case 0xcc: interrupt(EXC_BP, -1, INT_SOFTWARE); return;
    case 0xcd: interrupt(fetch8(), -1, INT_SOFTWARE); return;
    case 0xce: if (getOF()) interrupt(EXC_OF, -1, INT_SOFTWARE); return;
    case 0xcf: iret(o32); return;
    case 0xd0: { decodeModrm(); const a = readRmw(8); writeRmw(8, shift(mReg, 8, a, 1)); return; }
    case 0xd1: { decodeModrm(); const s = osize(); const a = readRmw(s); writeRmw(s, shift(mReg, s, a, 1)); return; }
    case 0xd2: { decodeModrm(); const a = readRmw(8); writeRmw(8, shift(mReg, 8, a, reg8(1))); return; }
    case 0xd3: { decodeModrm(); const s = osize(); const a = readRmw(s); writeRmw(s, shift(mReg, s, a, reg8(1))); return; }
    case 0xd4: aam(fetch8()); return;
    case 0xd5: aad(fetch8()); return;
    case 0xd6: setReg8(0, getCF() ? 0xff : 0); return; // SALC
    case 0xd7: { // XLAT
      const off = a32 ? reg32(REG_EBX) + reg8(0) : (reg16(REG_EBX) + reg8(0)) & 0xffff;
      setReg8(0, readMem(8, dataSeg(), off));
      return;
    }
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf: {
      decodeModrm();
      fpuEscape(op, (mMod << 6) | (mReg << 3) | mRm, eaSeg, eaOff, o32);
      return;
    }
    case 0xe0: case 0xe1: case 0xe2: { // LOOPNE, LOOPE, LOOP
      const d = <u32>(<i32>(<i8>fetch8()));
      let c: u32;
      if (a32) { c = reg32(REG_ECX) - 1; setReg32(REG_ECX, c); }
      else { c = (reg16(REG_ECX) - 1) & 0xffff; setReg16(REG_ECX, c); }
      let take = c != 0;
      if (op == 0xe0) take = take && !getZF();
      else if (op == 0xe1) take = take && getZF();
      if (take) jumpTo(pc + d);
      return;
    }
    case 0xe3: { // JCXZ/JECXZ
      const d = <u32>(<i32>(<i8>fetch8()));
      if ((a32 ? reg32(REG_ECX) : reg16(REG_ECX)) == 0) jumpTo(pc + d);
      return;
    }
    case 0xe4: { const p = fetch8(); checkIoPermission(p, 1); setReg8(0, ioIn(p, 1)); return; }
    case 0xe5: { const p = fetch8(); const n: u32 = o32 ? 4 : 2; checkIoPermission(p, n); setReg(n << 3, REG_EAX, ioIn(p, n)); return; }
    case 0xe6: { const p = fetch8(); checkIoPermission(p, 1); ioOut(p, 1, reg8(0)); return; }
    case 0xe7: { const p = fetch8(); const n: u32 = o32 ? 4 : 2; checkIoPermission(p, n); ioOut(p, n, getReg(n << 3, REG_EAX)); return; }
    case 0xe8: {
      const d = fetchImm(osize());
      push(pc, o32);
      jumpTo(pc + d);
      return;
    }
    case 0xe9: { const d = fetchImm(osize()); jumpTo(pc + d); return; }
    case 0xea: { const off = fetchImm(osize()); const sel = fetch16(); jmpFar(sel, off, o32); return; }
    case 0xeb: { const d = <u32>(<i32>(<i8>fetch8())); jumpTo(pc + d); return; }
    case 0xec: { const p = reg16(REG_EDX); checkIoPermission(p, 1); setReg8(0, ioIn(p, 1)); return; }
    case 0xed: { const p = reg16(REG_EDX); const n: u32 = o32 ? 4 : 2; checkIoPermission(p, n); setReg(n << 3, REG_EAX, ioIn(p, n)); return; }
    case 0xee: { const p = reg16(REG_EDX); checkIoPermission(p, 1); ioOut(p, 1, reg8(0)); return; }
    case 0xef: { const p = reg16(REG_EDX); const n: u32 = o32 ? 4 : 2; checkIoPermission(p, n); ioOut(p, n, getReg(n << 3, REG_EAX)); return; }
    case 0xf1: interrupt(EXC_DB, -1, 1); return; // ICEBP: a debug trap that ignores gate DPL
    case 0xf4: // HLT
      if (protectedMode || v86Mode) { if (cplLive != 0) raiseFault(EXC_GP, 0); }
      haltRequested = true;
      attention = true;
      return;
    case 0xf5: setFlag(FLAG_CF, !getCF()); return;
    case 0xf6: group3(8); return;
    case 0xf7: group3(osize()); return;
    case 0xf8: setFlag(FLAG_CF, false); return;
    case 0xf9: setFlag(FLAG_CF, true); return;
    case 0xfa: // CLI
      if (!ifAllowed()) raiseFault(EXC_GP, 0);
      writeFlags(getEflags() & ~FLAG_IF);
      return;
    case 0xfb: // STI
      if (!ifAllowed()) raiseFault(EXC_GP, 0);
      if ((flagsReg & FLAG_IF) == 0) interruptShadow = true;
      writeFlags(getEflags() | FLAG_IF);
      return;
    case 0xfc: writeFlags(getEflags() & ~FLAG_DF); return;
    case 0xfd: writeFlags(getEflags() | FLAG_DF); return;
    case 0xfe: {
      decodeModrm(); lockOk(mReg < 2);
      if (mReg > 1) ud();
      const a = readRmw(8);
      writeRmw(8, mReg == 0 ? inc(8, a) : dec(8, a));
      return;
    }
    case 0xff: group5(); return;
    default: ud();
  }
}

/** LOCK with a one-byte opcode outside the ALU forms: only these may be locked (their handlers check the form). */
function lockAllowedOneByte(op: u32): void {
  switch (op) {
    case 0x0f: case 0x80: case 0x81: case 0x82: case 0x83: case 0x86: case 0x87:
    case 0xf6: case 0xf7: case 0xfe: case 0xff: return;
    default: ud();
  }
}

// The ALU forms with a constant operand size, so the inlined operand accessors fold.
@inline function aluEvIv(op: u32, s: u32): void {
  const a = mReg == ALU_CMP ? readE(s) : readRmw(s);
  const b = op == 0x81 ? fetchImm(s) : <u32>(<i32>(<i8>fetch8())) & maskOf(s);
  const r = alu(mReg, s, a, b);
  if (mReg != ALU_CMP) writeRmw(s, r);
}
@inline function aluEvGv(aop: u32, s: u32): void {
  const a = aop == ALU_CMP ? readE(s) : readRmw(s);
  const r = alu(aop, s, a, getReg(s, mReg));
  if (aop != ALU_CMP) writeRmw(s, r);
}
@inline function aluGvEv(aop: u32, s: u32): void {
  const r = alu(aop, s, getReg(s, mReg), readE(s));
  if (aop != ALU_CMP) setReg(s, mReg, r);
}
@inline function aluAccImm(aop: u32, s: u32): void {
  const r = alu(aop, s, getReg(s, REG_EAX), fetchImm(s));
  if (aop != ALU_CMP) setReg(s, REG_EAX, r);
}

/** CLI/STI are allowed when CPL <= IOPL (protected mode) or IOPL = 3 (v86 mode). */
function ifAllowed(): bool {
  const iopl = (flagsReg & FLAG_IOPL) >>> 12;
  if (v86Mode) return iopl == 3;
  if (protectedMode) return cplLive <= iopl;
  return true;
}

function writeImmToE(size: u32): void {
  if (mMod == 3) { setReg(size, mRm, fetchImm(size)); return; }
  const v = fetchImm(size);
  writeMem(size, eaSeg, eaOff, v);
}

/**
 * POP ES/SS/DS/FS/GS. The SDM's POP operation (vol. 2) picks ESP or SP by StackAddrSize, the
 * stack's B flag as the instruction starts, so the new ESP is computed before SS is loaded: POP
 * SS of a B = 1 selector from a B = 0 stack moves (and wraps) SP only, and the reverse moves ESP.
 */
export function popSeg(seg: u32): void {
  const v = peek(0, o32) & 0xffff;
  const esp = espAdd(o32 ? 4 : 2);
  loadSeg(seg, v);
  setReg32(REG_ESP, esp);
}

/** LDS, LES, LSS, LFS, LGS: offset and selector from memory; the segment load may fault first. */
export function loadFarPointer(seg: u32): void {
  decodeModrm();
  if (mMod == 3) ud();
  const s = osize();
  const off = readMem(s, eaSeg, eaOff);
  const sel = readMem(16, eaSeg, eaOff + (s >> 3));
  loadSeg(seg, sel);
  setReg(s, mReg, off);
}

function group3(size: u32): void {
  decodeModrm();
  lockOk(mReg == 2 || mReg == 3);
  switch (mReg) {
    case 0: case 1: setLazyLogic(size, readE(size) & fetchImm(size)); return;
    case 2: { const a = readRmw(size); writeRmw(size, ~a & maskOf(size)); return; }
    case 3: { const a = readRmw(size); writeRmw(size, neg(size, a)); return; }
    case 4: mul(size, readE(size)); return;
    case 5: imul1(size, readE(size)); return;
    case 6: div(size, readE(size)); return;
    default: idiv(size, readE(size)); return;
  }
}

function group5(): void {
  decodeModrm();
  const s = osize();
  lockOk(mReg < 2);
  switch (mReg) {
    case 0: { const a = readRmw(s); writeRmw(s, inc(s, a)); return; }
    case 1: { const a = readRmw(s); writeRmw(s, dec(s, a)); return; }
    case 2: { const t = readE(s); push(pc, o32); jumpTo(t); return; }
    case 3: {
      if (mMod == 3) ud();
      const off = readMem(s, eaSeg, eaOff); const sel = readMem(16, eaSeg, eaOff + (s >> 3));
      callFar(sel, off, o32);
      return;
    }
    case 4: jumpTo(readE(s)); return;
    case 5: {
      if (mMod == 3) ud();
      const off = readMem(s, eaSeg, eaOff); const sel = readMem(16, eaSeg, eaOff + (s >> 3));
      jmpFar(sel, off, o32);
      return;
    }
    case 6: push(readE(s), o32); return;
    default: ud();
  }
}

function bound(): void {
  decodeModrm();
  if (mMod == 3) ud();
  if (o32) {
    const idx = <i32>reg32(mReg);
    if (idx < <i32>readMem(32, eaSeg, eaOff) || idx > <i32>readMem(32, eaSeg, eaOff + 4)) raiseFault(EXC_BR, -1);
  } else {
    const idx = <i32>(<i16>reg16(mReg));
    if (idx < <i32>(<i16>readMem(16, eaSeg, eaOff)) || idx > <i32>(<i16>readMem(16, eaSeg, eaOff + 2))) raiseFault(EXC_BR, -1);
  }
}

function arpl(): void {
  if (!protectedMode) ud();
  decodeModrm();
  const dst = readRmw(16);
  const src = reg16(mReg);
  if ((dst & 3) < (src & 3)) {
    writeRmw(16, (dst & ~3) | (src & 3));
    setFlag(FLAG_ZF, true);
  } else {
    setFlag(FLAG_ZF, false);
  }
}

/** SAHF: SF, ZF, AF, PF and CF from AH (also cpu/handlers.ts). */
export function sahf(): void {
  settleFlags();
  const mask = FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF;
  writeFlags((getEflags() & ~mask) | (reg8(4) & mask));
}
/** LAHF: AH from SF, ZF, AF, PF and CF, bit 1 set (also cpu/handlers.ts). */
export function lahf(): void { setReg8(4, (getEflags() & 0xd5) | 2); }
