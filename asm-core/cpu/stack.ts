// The stack: PUSH and POP through SS with the stack-size attribute (SS.B) choosing ESP or SP.

import { REG_ESP, reg32, setReg32, SEG_SS } from './state';
import { ss32 } from './live';
import { segAddr } from './segments';
import { readLin16, readLin32, writeLin16, writeLin32, writeLinOrRecord } from '../mmu/access';

/** `esp` moved by `delta` under the current stack size: with SS.B = 0 only SP moves, and wraps. */
@inline export function spMove(esp: u32, delta: u32): u32 {
  return ss32 ? esp + delta : (esp & 0xffff0000) | ((esp + delta) & 0xffff);
}
/** ESP after moving it by `delta` under the current stack size. */
@inline export function espAdd(delta: u32): u32 { return spMove(reg32(REG_ESP), delta); }
@inline export function spOffset(esp: u32): u32 { return ss32 ? esp : esp & 0xffff; }

@inline export function push32(v: u32): void {
  const esp = espAdd(-4);
  writeLin32(segAddr(SEG_SS, spOffset(esp), 3, true), v);
  setReg32(REG_ESP, esp);
}
/** push32() for the block loop's PUSH and CALL: false, with nothing changed and the page fault recorded, if it faults. */
@inline export function push32OrRecord(v: u32): bool {
  const esp = espAdd(-4);
  if (!writeLinOrRecord(segAddr(SEG_SS, spOffset(esp), 3, true), v, 4)) return false;
  setReg32(REG_ESP, esp);
  return true;
}
export function push16(v: u32): void {
  const esp = espAdd(-2);
  writeLin16(segAddr(SEG_SS, spOffset(esp), 1, true), v);
  setReg32(REG_ESP, esp);
}
export function push(v: u32, o32: bool): void { if (o32) push32(v); else push16(v); }

@inline export function pop32(): u32 {
  const esp = reg32(REG_ESP);
  const v = readLin32(segAddr(SEG_SS, spOffset(esp), 3, false));
  setReg32(REG_ESP, espAdd(4));
  return v;
}
export function pop16(): u32 {
  const esp = reg32(REG_ESP);
  const v = readLin16(segAddr(SEG_SS, spOffset(esp), 1, false));
  setReg32(REG_ESP, espAdd(2));
  return v;
}
export function pop(o32: bool): u32 { return o32 ? pop32() : pop16(); }

/** Read the stack `index` slots above the top without popping (for multi-part pops that must not half-complete). */
export function peek(byteOffset: u32, o32: bool): u32 {
  const off = spOffset(reg32(REG_ESP) + byteOffset);
  return o32 ? readLin32(segAddr(SEG_SS, off, 3, false)) : readLin16(segAddr(SEG_SS, off, 1, false));
}
