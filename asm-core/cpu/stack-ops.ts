// The stack instructions beyond PUSH and POP (stack.ts): PUSHA and POPA, ENTER and LEAVE, PUSHF
// and POPF (SDM vol. 2), moved here from the opcode map (exec.ts).

import {
  reg32, setReg32, reg16, setReg16, segBase, REG_ESP, REG_EBP, SEG_SS, EXC_GP,
  FLAG_TF, FLAG_DF, FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_AC, FLAG_ID, FLAG_VM, FLAG_RF, FLAGS_ARITH,
} from './state';
import { raiseFault } from './fault';
import { ss32, protectedMode, v86Mode, cplLive } from './live';
import { fetch8, fetch16 } from './fetch';
import { o32 } from './decode';
import { getEflags, flagsReg } from './flags';
import { push, pop, espAdd, spMove, spOffset } from './stack';
import { segAddr } from './segments';
import { writeFlags } from './mode';
import { readLin16, readLin32, checkWriteLin } from '../mmu/access';

export function pusha(): void {
  const n: u32 = o32 ? 4 : 2;
  const esp = reg32(REG_ESP);
  const base = segBase(SEG_SS);
  // All eight stores must be possible before any is made.
  const top = espAdd(-8 * n);
  const off = spOffset(top);
  segAddr(SEG_SS, off, 8 * n - 1, true);
  checkWriteLin(base + off, 8 * n);
  for (let r: u32 = 0; r < 8; r++) {
    const v = r == REG_ESP ? esp : reg32(r);
    push(o32 ? v : v & 0xffff, o32);
  }
}

export function popa(): void {
  const n: u32 = o32 ? 4 : 2;
  segAddr(SEG_SS, spOffset(reg32(REG_ESP)), 8 * n - 1, false);
  for (let i: i32 = 7; i >= 0; i--) {
    const v = pop(o32);
    if (<u32>i == REG_ESP) continue;
    if (o32) setReg32(<u32>i, v); else setReg16(<u32>i, v);
  }
}

/**
 * ENTER (SDM vol. 2 ENTER). A fault leaves EBP, ESP and the stack unchanged, so every check
 * comes first, in the order of the SDM's operation: the push of EBP, for each nesting level the
 * read of the outer frame pointer and its push, the push of FrameTemp, and last the final stack
 * pointer: "#SS(0) if the new value of the SP or ESP register is outside the stack segment
 * limit" and "#PF(fault-code) if ... a write using the final value of the stack pointer (within
 * the current stack segment) would cause a page fault". Then the same steps are done for real.
 */
export function enter(): void {
  const size = fetch16();
  const level = fetch8() & 31;
  const n: u32 = o32 ? 4 : 2;
  const bp = reg32(REG_EBP);
  let sp = spMove(reg32(REG_ESP), -n);
  checkStackWrite(sp, n); // push EBP
  if (level > 0) {
    let tbp = bp;
    for (let i: u32 = 1; i < level; i++) {
      tbp = spMove(tbp, -n); // EBP - 4 (BP - 4 on a 16-bit stack, as SP)
      readFramePointer(tbp); // only its faults here: the value is read again below
      sp = spMove(sp, -n);
      checkStackWrite(sp, n);
    }
    sp = spMove(sp, -n);
    checkStackWrite(sp, n); // push FrameTemp
  }
  if (size > 0) checkStackWrite(spMove(sp, -size), 1); // the final stack pointer
  // Nothing can fault from here on.
  push(o32 ? bp : bp & 0xffff, o32);
  const frame = reg32(REG_ESP);
  if (level > 0) {
    // Read each outer frame pointer after the pushes before it, as the CPU does: with EBP just
    // above ESP the pushes overwrite frame pointers that later iterations copy.
    let tbp = bp;
    for (let i: u32 = 1; i < level; i++) {
      tbp = spMove(tbp, -n);
      push(readFramePointer(tbp), o32);
    }
    push(o32 ? frame : frame & 0xffff, o32);
  }
  if (o32) setReg32(REG_EBP, frame); else setReg16(REG_EBP, frame);
  setReg32(REG_ESP, espAdd(-size));
}

/** The word or dword ENTER copies from the outer frame at stack offset `tbp`. */
function readFramePointer(tbp: u32): u32 {
  const off = spOffset(tbp);
  return o32 ? readLin32(segAddr(SEG_SS, off, 3, false)) : readLin16(segAddr(SEG_SS, off, 1, false));
}

/** Limit check (#SS) and page check (#PF) of a `len`-byte stack write at stack pointer `esp`. */
function checkStackWrite(esp: u32, len: u32): void {
  checkWriteLin(segAddr(SEG_SS, spOffset(esp), len - 1, true), len);
}

/** LEAVE: ESP from EBP, then pop EBP. */
export function leave(): void {
  const bp = ss32 ? reg32(REG_EBP) : reg16(REG_EBP);
  const v = o32 ? readLin32(segAddr(SEG_SS, bp, 3, false)) : readLin16(segAddr(SEG_SS, bp, 1, false));
  if (ss32) setReg32(REG_ESP, bp + (o32 ? 4 : 2));
  else setReg16(REG_ESP, bp + (o32 ? 4 : 2));
  if (o32) setReg32(REG_EBP, v); else setReg16(REG_EBP, v);
}

export function pushf(): void {
  if (v86Mode && ((flagsReg & FLAG_IOPL) >>> 12) != 3) raiseFault(EXC_GP, 0);
  // VM and RF are never pushed as set.
  const f = getEflags() & ~(FLAG_VM | FLAG_RF);
  push(o32 ? f : f & 0xffff, o32);
}

export function popf(): void {
  const iopl = (flagsReg & FLAG_IOPL) >>> 12;
  if (v86Mode && iopl != 3) raiseFault(EXC_GP, 0);
  const v = pop(o32);
  const cur = getEflags();
  let changeable: u32 = FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC | FLAG_ID;
  if (!protectedMode && !v86Mode) changeable |= FLAG_IOPL | FLAG_IF;
  else {
    if (protectedMode && cplLive == 0) changeable |= FLAG_IOPL;
    if (v86Mode || cplLive <= iopl) changeable |= FLAG_IF;
  }
  if (!o32) changeable &= 0xffff;
  writeFlags((cur & ~changeable) | (v & changeable));
}
