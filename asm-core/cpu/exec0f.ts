// The two-byte opcode map (0F xx).

import {
  reg32, setReg32, reg16, setReg16, reg8, segSelector, REG_EAX, REG_ECX, REG_EDX, REG_EBX,
  SEG_FS, SEG_GS, SEG_SS, FLAG_ZF, FLAG_CF, EXC_UD,
} from './state';
import { raiseFault } from './fault';
import { pc } from './live';
import { fetch8 } from './fetch';
import {
  o32, a32, lockPfx, mMod, mReg, mRm, eaSeg, eaOff, decodeModrm, getReg, setReg, readMem, readE, writeE,
  readRmw, writeRmw, fetchImm,
} from './decode';
import { testCC, setFlag, getCF, setResultFlags, setLazy, LAZY_SUB, settleFlags, flagsReg } from './flags';
import { alu, shiftDouble, imul2, maskOf, bitTest, bitScan, cmpxchg, ALU_ADD } from './alu';
import { push } from './stack';
import { segAddr } from './segments';
import { ud, lockOk, loadFarPointer, popSeg } from './exec';
import {
  group6, group7, lar, lsl, clts, invd, movFromCr, movToCr, movFromDr, movToDr, wrmsr, rdmsr, rdtsc, rdpmc, cpuid,
  sysenter, sysexit,
} from './system';
import { fpuFxsave, fpuFxrstor } from './fpu-env';
import { readLin32, writeLin32, checkWriteLin, readLin16, writeLin16 } from '../mmu/access';

@inline function osize(): u32 { return o32 ? 32 : 16; }
@inline function jumpTo(target: u32): void { pc = o32 ? target : target & 0xffff; }

export function exec0f(): void {
  const op = fetch8();
  if (lockPfx) lockAllowedTwoByte(op);
  if (op >= 0x40 && op <= 0x4f) { // CMOVcc: the source is read even when the condition is false
    decodeModrm();
    const s = osize();
    const v = readE(s);
    if (testCC(op & 15)) setReg(s, mReg, v);
    return;
  }
  if (op >= 0x80 && op <= 0x8f) {
    const d = fetchImm(osize());
    if (testCC(op & 15)) jumpTo(pc + d);
    return;
  }
  if (op >= 0x90 && op <= 0x9f) { decodeModrm(); writeE(8, testCC(op & 15) ? 1 : 0); return; }
  if (op >= 0xc8 && op <= 0xcf) {
    if (o32) setReg32(op & 7, bswap<u32>(reg32(op & 7)));
    else setReg16(op & 7, 0); // undefined on hardware; Intel parts clear the word
    return;
  }
  switch (op) {
    case 0x00: group6(); return;
    case 0x01: group7(); return;
    case 0x02: lar(); return;
    case 0x03: lsl(); return;
    case 0x06: clts(); return;
    case 0x08: case 0x09: invd(); return;
    case 0x0b: ud(); return; // UD2
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      decodeModrm(); return; // hint NOPs (P6)
    case 0x20: movFromCr(); return;
    case 0x21: movFromDr(); return;
    case 0x22: movToCr(); return;
    case 0x23: movToDr(); return;
    case 0x30: wrmsr(); return;
    case 0x31: rdtsc(); return;
    case 0x32: rdmsr(); return;
    case 0x33: rdpmc(); return;
    case 0x34: sysenter(); return;
    case 0x35: sysexit(); return;
    case 0xa0: push(segSelector(SEG_FS), o32); return;
    case 0xa1: popSeg(SEG_FS); return;
    case 0xa2: cpuid(); return;
    case 0xa3: bitOp(0, false); return;
    case 0xa4: { decodeModrm(); const s = osize(); const a = readRmw(s); writeRmw(s, shiftDouble(true, s, a, getReg(s, mReg), fetch8())); return; }
    case 0xa5: { decodeModrm(); const s = osize(); const a = readRmw(s); writeRmw(s, shiftDouble(true, s, a, getReg(s, mReg), reg8(1))); return; }
    case 0xa8: push(segSelector(SEG_GS), o32); return;
    case 0xa9: popSeg(SEG_GS); return;
    case 0xab: bitOp(1, false); return;
    case 0xac: { decodeModrm(); const s = osize(); const a = readRmw(s); writeRmw(s, shiftDouble(false, s, a, getReg(s, mReg), fetch8())); return; }
    case 0xad: { decodeModrm(); const s = osize(); const a = readRmw(s); writeRmw(s, shiftDouble(false, s, a, getReg(s, mReg), reg8(1))); return; }
    case 0xae: {
      decodeModrm();
      if (mMod == 3) ud();
      if (mReg == 0) fpuFxsave(segAddr(eaSeg, eaOff, 511, true));
      else if (mReg == 1) fpuFxrstor(segAddr(eaSeg, eaOff, 511, false));
      else ud();
      return;
    }
    case 0xaf: { decodeModrm(); const s = osize(); setReg(s, mReg, imul2(s, getReg(s, mReg), readE(s))); return; }
    case 0xb0: case 0xb1: { // CMPXCHG
      decodeModrm(); lockOk(true);
      const s = op == 0xb0 ? 8 : osize();
      const dst = readRmw(s);
      const acc = getReg(s, REG_EAX);
      writeRmw(s, cmpxchg(s, acc, dst, getReg(s, mReg)));
      if (dst != acc) setReg(s, REG_EAX, dst);
      return;
    }
    case 0xb2: loadFarPointer(SEG_SS); return;
    case 0xb3: bitOp(2, false); return;
    case 0xb4: loadFarPointer(SEG_FS); return;
    case 0xb5: loadFarPointer(SEG_GS); return;
    case 0xb6: { decodeModrm(); setReg(osize(), mReg, readE(8)); return; }
    case 0xb7: { decodeModrm(); setReg(osize(), mReg, readE(16)); return; }
    case 0xba: {
      decodeModrm();
      if (mReg < 4) ud();
      lockOk(mReg != 4);
      bitOpImm(mReg - 4, fetch8());
      return;
    }
    case 0xbb: bitOp(3, false); return;
    case 0xbc: case 0xbd: { // BSF, BSR
      decodeModrm();
      const s = osize();
      const r = bitScan(op == 0xbd, s, readE(s));
      if (r >= 0) setReg(s, mReg, <u32>r);
      return;
    }
    case 0xbe: { decodeModrm(); const v = readE(8); setReg(osize(), mReg, <u32>(<i32>(<i8>v))); return; }
    case 0xbf: { decodeModrm(); const v = readE(16); setReg(osize(), mReg, <u32>(<i32>(<i16>v))); return; }
    case 0xc0: case 0xc1: { // XADD
      decodeModrm(); lockOk(true);
      const s = op == 0xc0 ? 8 : osize();
      const dst = readRmw(s);
      const src = getReg(s, mReg);
      const sum = alu(ALU_ADD, s, dst, src);
      setReg(s, mReg, dst);
      writeRmw(s, sum);
      return;
    }
    case 0xc7: { // CMPXCHG8B
      decodeModrm(); lockOk(true);
      if (mReg != 1 || mMod == 3) ud();
      cmpxchg8bAt(segAddr(eaSeg, eaOff, 7, true));
      return;
    }
    default: ud();
  }
}

/** CMPXCHG8B of the quadword at `lin` (also cpu/handlers.ts cmpxchg8b). */
export function cmpxchg8bAt(lin: u32): void {
  checkWriteLin(lin, 8);
  const lo = readLin32(lin), hi = readLin32(lin + 4);
  if (lo == reg32(REG_EAX) && hi == reg32(REG_EDX)) {
    writeLin32(lin, reg32(REG_EBX)); writeLin32(lin + 4, reg32(REG_ECX));
    setFlag(FLAG_ZF, true);
  } else {
    // The destination is written back either way (SDM vol. 2, CMPXCHG8B).
    writeLin32(lin, lo); writeLin32(lin + 4, hi);
    setReg32(REG_EAX, lo); setReg32(REG_EDX, hi);
    setFlag(FLAG_ZF, false);
  }
}

/** LOCK with 0F xx: only the bit-test-and-modify, CMPXCHG, XADD and CMPXCHG8B opcodes. */
function lockAllowedTwoByte(op: u32): void {
  switch (op) {
    case 0xab: case 0xb3: case 0xbb: case 0xba: case 0xb0: case 0xb1: case 0xc0: case 0xc1: case 0xc7: return;
    default: ud();
  }
}


/** BT (0), BTS (1), BTR (2), BTC (3) with a register bit offset: memory forms address by the signed offset. */
function bitOp(kind: u32, _imm: bool): void {
  decodeModrm();
  lockOk(kind != 0);
  const s = osize();
  const bitReg = getReg(s, mReg);
  if (mMod == 3) {
    const bit = bitReg & (s - 1);
    const v = getReg(s, mRm);
    applyBit(kind, s, v, bit, true, 0);
    return;
  }
  // The bit offset is a signed displacement from the operand address.
  const sbit: i32 = s == 32 ? <i32>bitReg : <i32>(<i16>bitReg);
  const byteDisp = <u32>((sbit >> (s == 32 ? 5 : 4)) * <i32>(s >> 3));
  const off = a32 ? eaOff + byteDisp : (eaOff + byteDisp) & 0xffff;
  memBit(kind, s, off, <u32>sbit & (s - 1));
}

function bitOpImm(kind: u32, imm: u32): void {
  const s = osize();
  const bit = imm & (s - 1);
  if (mMod == 3) { applyBit(kind, s, getReg(s, mRm), bit, true, 0); return; }
  memBit(kind, s, eaOff, bit);
}

function memBit(kind: u32, s: u32, off: u32, bit: u32): void {
  if (kind == 0) {
    const v = readMem(s, eaSeg, off);
    setFlag(FLAG_CF, ((v >>> bit) & 1) != 0);
    return;
  }
  const lin = segAddr(eaSeg, off, (s >> 3) - 1, true);
  checkWriteLin(lin, s >> 3);
  const v = s == 32 ? readLin32(lin) : readLin16(lin);
  const r = applyBit(kind, s, v, bit, false, 0);
  if (s == 32) writeLin32(lin, r); else writeLin16(lin, r);
}

function applyBit(kind: u32, s: u32, v: u32, bit: u32, toReg: bool, _u: u32): u32 {
  const r = bitTest(kind, v, bit);
  if (toReg && kind != 0) setReg(s, mRm, r);
  return r;
}
