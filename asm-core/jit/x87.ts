// The x87 in a translation: one call into the FPU (jit/helpers.ts jitX87), with the registers
// and, for most forms, the flags left in their locals. Through the block loop's handler
// (jit/emit.ts viaHandler) an x87 instruction stored every register and the pending flags
// first, and read them back after: awk's floating-point loop runs 64 x87 instructions per
// iteration, three quarters of them FLD and FSTP of a double in memory.
//
// The call runs the instruction only when nothing but the FPU is involved: no #NM or pending
// #MF, an operand on the TLB's fast path. Otherwise it answers -1 and the translation runs the
// handler, as viaHandler does, which raises and probes in the order the SDM gives (vol. 1 8.6:
// #NM, the operand's segment check, #UD, a pending #MF at this waiting instruction, then the
// access). So only operands in the flat segments come here, which need no limit check before
// the call: one through FS, GS or CS would have it inline, ahead of #NM.

import { i32c, lget, lset, gget, gset, op, ifVoidHint, end, helper, OP_I32_LT_S, OP_RETURN } from './wasm';
import { F_X87, F_DISPATCH, G_PC, G_INSTR_START, G_ATTENTION, L_OFF, L_T, L_BAIL } from './layout';
import { pendKind, storeFlags } from './pending';
import {
  effectiveAddress, blockBase, spillInline, eipAt, addRetired, flushRetired, committed, index, startOff, nextOff,
  slowPath, setReg16,
} from './operands';
import { REC_IMM, REC_RM } from '../cpu/record';
import { SEG_ES, SEG_SS, SEG_DS, REG_EAX } from '../cpu/state';
import { fpuUndefined } from '../cpu/fpu';
import { fpuOperand } from '../cpu/fpu-escape';

export function x87(rec: u32, h: u32): bool {
  const imm = load<u32>(rec, REC_IMM), opcode = imm & 0xff, modrm = (imm >> 8) & 0xff;
  const mem = modrm < 0xc0;
  if (fpuUndefined(opcode, modrm, mem)) return false; // #UD, from the handler
  const operand = mem ? fpuOperand(opcode, (modrm >> 3) & 7, true) : 0;
  if (mem) {
    const seg = <u32>load<u8>(rec, REC_RM);
    const n = operand & 0x1ff;
    // Environments and FSAVE images are sized by the operand size, which the handler knows.
    if (n > 10 || (seg != SEG_ES && seg != SEG_SS && seg != SEG_DS)) return false;
    effectiveAddress(rec);
  }
  // FCMOVcc reads ZF, PF and CF; FCOMI, FUCOMI and their pops write them: the flags go to their
  // globals, where the FPU reads and writes them.
  const reg = (modrm >> 3) & 7;
  if (!mem && ((opcode == 0xda && reg < 4) || (opcode == 0xdb && reg < 4) || ((opcode == 0xdb || opcode == 0xdf) && (reg == 5 || reg == 6)))) {
    storeFlags(); pendKind = -1;
  }
  i32c(rec); if (mem) lget(L_OFF); else i32c(0); i32c(operand << 16 | ((blockBase + startOff) & 0xffff)); helper(F_X87, 3, true);
  lset(L_T);
  lget(L_T); i32c(0); op(OP_I32_LT_S);
  ifVoidHint(false);
  // Not run: the handler runs it, as jit/emit.ts viaHandler calls it, with the state in memory
  // (the exception it raises passes through this function to the run loop), and the
  // translation returns to the block loop after it. Leaving before it instead would not do:
  // the block loop would enter the translation of the block that starts there, which would
  // leave again.
  spillInline();
  eipAt(startOff); gset(G_INSTR_START); eipAt(nextOff); gset(G_PC);
  addRetired(<i32>index - <i32>committed); flushRetired();
  i32c(h); i32c(rec); helper(F_DISPATCH, 2, false);
  addRetired(1); flushRetired();
  op(OP_RETURN);
  end();
  // FERR# may have raised IRQ 13 (cpu/fpu-stack.ts setFerr): leave after the instruction if the run
  // loop is wanted (jit/emit.ts records).
  gget(G_ATTENTION); lset(L_BAIL); slowPath = true;
  if (opcode == 0xdf && modrm == 0xe0) { lget(L_T); setReg16(REG_EAX); } // FNSTSW AX
  return true;
}
