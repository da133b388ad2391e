// Port I/O: IN/OUT and INS/OUTS, with the protected-mode permission check (CPL <= IOPL, or the
// TSS I/O permission bitmap) before the host's port bus sees the access.

import { STATE, OFF_SEGS, OFF_DR, SEG_TR, SEG_BASE, SEG_LIMIT, SEG_ACCESS, FLAG_IOPL, EXC_GP } from './state';
import { raiseFault } from './fault';
import { protectedMode, v86Mode, cplLive, ioBreakpoints, dataBreakHits } from './live';
import { flagsReg } from './flags';
import { readSys16 } from '../mmu/access';

@external("env", "ioRead") declare function hostIoRead(port: u32, size: u32): u32;
@external("env", "ioWrite") declare function hostIoWrite(port: u32, size: u32, value: u32): void;

export function checkIoPermission(port: u32, bytes: u32): void {
  if (!protectedMode && !v86Mode) return;
  if (!v86Mode && cplLive <= ((flagsReg & FLAG_IOPL) >>> 12)) return;
  // Consult the I/O permission bitmap of a 32-bit TSS: every bit for the accessed ports must be 0.
  const tr = STATE + OFF_SEGS + (SEG_TR << 4);
  const type = load<u32>(tr + SEG_ACCESS) & 0xf;
  if (type != 9 && type != 11) raiseFault(EXC_GP, 0);
  const base = load<u32>(tr + SEG_BASE), limit = load<u32>(tr + SEG_LIMIT);
  if (limit < 0x67) raiseFault(EXC_GP, 0);
  const mapOff = readSys16(base + 0x66);
  const byteOff = mapOff + (port >>> 3);
  if (byteOff + 1 > limit) raiseFault(EXC_GP, 0);
  const bits = readSys16(base + byteOff);
  const mask: u32 = ((1 << bytes) - 1) << (port & 7);
  if (bits & mask) raiseFault(EXC_GP, 0);
}

/** Compare a port access with the I/O breakpoints of DR0-DR3 (DR7 R/W = 10, CR4.DE). */
function matchIoBreakpoints(port: u32, bytes: u32): void {
  const dr7 = load<u32>(STATE + OFF_DR + 28);
  for (let i: u32 = 0; i < 4; i++) {
    if (((dr7 >>> (i * 2)) & 3) == 0 || ((dr7 >>> (16 + i * 4)) & 3) != 2) continue;
    const lenBits = (dr7 >>> (18 + i * 4)) & 3;
    const lenM1: u32 = lenBits == 0 ? 0 : lenBits == 1 ? 1 : lenBits == 3 ? 3 : 7;
    const start = load<u32>(STATE + OFF_DR + i * 4) & 0xffff & ~lenM1;
    if (port - start <= lenM1 || start - port <= bytes - 1) dataBreakHits |= 1 << i;
  }
}

export function ioIn(port: u32, bytes: u32): u32 {
  if (ioBreakpoints) matchIoBreakpoints(port, bytes);
  const v = hostIoRead(port, bytes);
  return bytes == 4 ? v : v & ((1 << (bytes << 3)) - 1);
}

export function ioOut(port: u32, bytes: u32, value: u32): void {
  if (ioBreakpoints) matchIoBreakpoints(port, bytes);
  hostIoWrite(port, bytes, bytes == 4 ? value : value & ((1 << (bytes << 3)) - 1));
}
