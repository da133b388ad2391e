// String instructions (MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS) with REP prefixes. A long
// REP runs in chunks: after CHUNK iterations the instruction restarts itself, so interrupts
// and the time budget are honoured between iterations, as on hardware.

import {
  STATE, OFF_SEGS, SEG_BASE, OFF_SEG_FAST_READ, OFF_SEG_FAST_WRITE, reg32, setReg32, REG_ECX, REG_ESI, REG_EDI,
  REG_EAX, REG_EDX, SEG_ES, FLAG_DF,
} from './state';
import { TLB_BASE, TLB_VALID, tlbReadMask, tlbWriteMask } from '../mmu/tlb';
import { RAM_BASE } from '../mmu/phys';
import { a32, repPfx, dataSeg, getReg, setReg, readMem, writeMem } from './decode';
import { flagsReg, getZF } from './flags';
import { alu, ALU_CMP } from './alu';
import { pc, instrStart } from './live';
import { ioIn, ioOut, checkIoPermission } from './io';
import { segAddr } from './segments';
import { checkWriteLin } from '../mmu/access';

const CHUNK: u32 = 4096;

export const STR_MOVS: u32 = 0;
export const STR_CMPS: u32 = 1;
export const STR_STOS: u32 = 2;
export const STR_LODS: u32 = 3;
export const STR_SCAS: u32 = 4;
export const STR_INS: u32 = 5;
export const STR_OUTS: u32 = 6;

@inline function idx(r: u32): u32 { return a32 ? reg32(r) : reg32(r) & 0xffff; }
@inline function advance(r: u32, delta: u32): void {
  if (a32) setReg32(r, reg32(r) + delta);
  else setReg32(r, (reg32(r) & 0xffff0000) | ((reg32(r) + delta) & 0xffff));
}
@inline function count(): u32 { return a32 ? reg32(REG_ECX) : reg32(REG_ECX) & 0xffff; }
@inline function setCount(v: u32): void {
  if (a32) setReg32(REG_ECX, v); else setReg32(REG_ECX, (reg32(REG_ECX) & 0xffff0000) | (v & 0xffff));
}

export function stringOp(kind: u32, size: u32): void {
  if ((kind == STR_INS || kind == STR_OUTS)) checkIoPermission(reg32(REG_EDX) & 0xffff, size >> 3);
  const step: u32 = (flagsReg & FLAG_DF) ? <u32>(-(<i32>(size >> 3))) : size >> 3;
  if (repPfx == 0) { once(kind, size, step); return; }
  let n = count();
  let done: u32 = 0;
  while (n != 0) {
    if ((kind == STR_MOVS || kind == STR_STOS) && step == (size >> 3) && a32) {
      // Forward REP MOVS/STOS: whole runs inside one page at a time, straight in host memory.
      const k = repRun(kind, size >> 3, n > CHUNK ? CHUNK : n);
      if (k != 0) {
        n -= k;
        setCount(n);
        done += k;
        if (done >= CHUNK && n != 0) { pc = instrStart; return; }
        continue;
      }
    }
    once(kind, size, step);
    n--;
    setCount(n);
    if (kind == STR_CMPS || kind == STR_SCAS) {
      // REPE stops on not-equal, REPNE on equal.
      if ((repPfx == 0xf3) != getZF()) return;
    }
    if (++done == CHUNK && n != 0) { pc = instrStart; return; }
  }
}

/**
 * Up to `max` forward iterations of REP MOVS or STOS that stay inside one page of the source and
 * one of the destination, both ordinary RAM reachable through the TLB fast path and inside the
 * segment limits. Returns how many were done (0: take the element-by-element path, which also
 * raises any fault at the right element).
 */
function repRun(kind: u32, bytes: u32, max: u32): u32 {
  const dOff = reg32(REG_EDI);
  const dLin = load<u32>(STATE + OFF_SEGS + (SEG_ES << 4) + SEG_BASE) + dOff;
  let n: u32 = (0x1000 - (dLin & 0xfff)) / bytes;
  if (n > max) n = max;
  let sOff: u32 = 0, sLin: u32 = 0, sSeg: u32 = 0;
  if (kind == STR_MOVS) {
    sOff = reg32(REG_ESI);
    sSeg = dataSeg();
    sLin = load<u32>(STATE + OFF_SEGS + (sSeg << 4) + SEG_BASE) + sOff;
    const sn: u32 = (0x1000 - (sLin & 0xfff)) / bytes;
    if (sn < n) n = sn;
  }
  if (n == 0) return 0;
  const span: u32 = n * bytes;
  // Segment limits: the whole run must be inside the fast (expand-up, permitted) limits.
  if (<i64>dOff + <i64>(span - 1) > load<i64>(STATE + OFF_SEG_FAST_WRITE + (SEG_ES << 3))) return 0;
  if (kind == STR_MOVS && <i64>sOff + <i64>(span - 1) > load<i64>(STATE + OFF_SEG_FAST_READ + (sSeg << 3))) return 0;
  const de = load<u32>(TLB_BASE + ((dLin >>> 12) << 2));
  if ((de & tlbWriteMask) != TLB_VALID) return 0;
  const dHost = RAM_BASE + (de & 0xfffff000) + (dLin & 0xfff);
  if (kind == STR_MOVS) {
    const se = load<u32>(TLB_BASE + ((sLin >>> 12) << 2));
    if ((se & tlbReadMask) != TLB_VALID) return 0;
    const sHost = RAM_BASE + (se & 0xfffff000) + (sLin & 0xfff);
    // A destination just above an overlapping source repeats the source pattern, element by
    // element; memory.copy would move the original bytes instead.
    if (dHost > sHost && dHost - sHost < span) return 0;
    memory.copy(dHost, sHost, span);
    setReg32(REG_ESI, sOff + span);
  } else {
    const v = reg32(REG_EAX);
    if (bytes == 1) memory.fill(dHost, <u8>v, span);
    else if (bytes == 2) { for (let i: u32 = 0; i < span; i += 2) store<u16>(dHost + i, <u16>v); }
    else { for (let i: u32 = 0; i < span; i += 4) store<u32>(dHost + i, v); }
  }
  setReg32(REG_EDI, dOff + span);
  return n;
}

function once(kind: u32, size: u32, step: u32): void {
  switch (kind) {
    case STR_MOVS: {
      const v = readMem(size, dataSeg(), idx(REG_ESI));
      writeMem(size, SEG_ES, idx(REG_EDI), v);
      advance(REG_ESI, step); advance(REG_EDI, step);
      break;
    }
    case STR_CMPS: {
      const b = readMem(size, SEG_ES, idx(REG_EDI)); // the destination is read first
      const a = readMem(size, dataSeg(), idx(REG_ESI));
      alu(ALU_CMP, size, a, b);
      advance(REG_ESI, step); advance(REG_EDI, step);
      break;
    }
    case STR_STOS: {
      writeMem(size, SEG_ES, idx(REG_EDI), getReg(size, REG_EAX));
      advance(REG_EDI, step);
      break;
    }
    case STR_LODS: {
      setReg(size, REG_EAX, readMem(size, dataSeg(), idx(REG_ESI)));
      advance(REG_ESI, step);
      break;
    }
    case STR_SCAS: {
      const b = readMem(size, SEG_ES, idx(REG_EDI));
      alu(ALU_CMP, size, getReg(size, REG_EAX), b);
      advance(REG_EDI, step);
      break;
    }
    case STR_INS: {
      // The destination must be writable before the port is read (the read has side effects).
      checkWriteLin(segAddr(SEG_ES, idx(REG_EDI), (size >> 3) - 1, true), size >> 3);
      writeMem(size, SEG_ES, idx(REG_EDI), ioIn(reg32(REG_EDX) & 0xffff, size >> 3));
      advance(REG_EDI, step);
      break;
    }
    default: { // OUTS
      ioOut(reg32(REG_EDX) & 0xffff, size >> 3, readMem(size, dataSeg(), idx(REG_ESI)));
      advance(REG_ESI, step);
      break;
    }
  }
}
