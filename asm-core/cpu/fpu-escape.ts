// An x87 instruction (the ESC opcodes D8-DF) with its ModRM and memory operand already decoded:
// the operand's segment checks, then the FPU (fpu.ts). The interpreter (exec.ts) and the block
// cache's x87 records (handlers.ts x87) both come here.

import { segSelector, segBase, cr0, CR0_TS, CR0_EM } from './state';
import { segAddr } from './segments';
import { fpuExecute } from './fpu';

/**
 * ESC opcode `op` (0xd8..0xdf) with ModRM `modrm`; a memory operand at offset `off` in segment
 * `seg`, with a 32-bit (`o32`) or 16-bit operand size (which sizes the environment images).
 */
export function fpuEscape(op: u32, modrm: u32, seg: u32, off: u32, o32: bool): void {
  if (modrm >= 0xc0) { fpuExecute(op, modrm, 0, 0, 0, o32); return; }
  // Segment limit and type checks for the operand; #NM (CR0.EM/TS) takes precedence.
  if ((cr0() & (CR0_EM | CR0_TS)) == 0) {
    const acc = fpuOperand(op, (modrm >> 3) & 7, o32);
    if (acc != 0) segAddr(seg, off, (acc & 0x1ff) - 1, (acc & FPU_WRITES) != 0);
  }
  fpuExecute(op, modrm, segBase(seg) + off, off, segSelector(seg), o32);
}

export const FPU_WRITES: u32 = 0x200;

/** Size in bytes (| FPU_WRITES for stores) of the memory operand of ESC opcode `op` /reg. */
export function fpuOperand(op: u32, reg: u32, o32: bool): u32 {
  const env: u32 = o32 ? 28 : 14, save: u32 = o32 ? 108 : 94;
  switch (op) {
    case 0xd8: return 4;
    case 0xd9: {
      if (reg == 0) return 4;
      if (reg == 2 || reg == 3) return 4 | FPU_WRITES;
      if (reg == 4) return env;
      if (reg == 5) return 2;
      if (reg == 6) return env | FPU_WRITES;
      if (reg == 7) return 2 | FPU_WRITES;
      return 0;
    }
    case 0xda: return 4;
    case 0xdb: {
      if (reg == 0) return 4;
      if (reg >= 1 && reg <= 3) return 4 | FPU_WRITES;
      if (reg == 5) return 10;
      if (reg == 7) return 10 | FPU_WRITES;
      return 0;
    }
    case 0xdc: return 8;
    case 0xdd: {
      if (reg == 0) return 8;
      if (reg >= 1 && reg <= 3) return 8 | FPU_WRITES;
      if (reg == 4) return save;
      if (reg == 6) return save | FPU_WRITES;
      if (reg == 7) return 2 | FPU_WRITES;
      return 0;
    }
    case 0xde: return 2;
    default: { // DF
      if (reg == 0) return 2;
      if (reg >= 1 && reg <= 3) return 2 | FPU_WRITES;
      if (reg == 4) return 10;
      if (reg == 5) return 8;
      if (reg == 6) return 10 | FPU_WRITES;
      return 8 | FPU_WRITES;
    }
  }
}

