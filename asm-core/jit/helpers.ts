// What translated code calls (jit/emit.ts imports each by its export name from index.ts): the
// slow paths of memory accesses and segment checks, the flag tests it does not inline, the x87,
// and the block loop's handlers for the records it does not inline.
//
// A slow path may fault. It does not throw: the helper sets EIP, the faulting instruction's EIP
// and the retired count from `at`, records the fault (cpu/fault.ts recordFault, which also sets
// `attention`) and sets `jitFault`; the translation, which tests jitFault after each slow path,
// stores the registers it holds in locals and its pending flags (jit/emit.ts functionBody) and
// returns, and the run loop delivers the fault (index.ts loop). So the state is the
// interpreter's:
//   at = flat check << 28 | retired-so-far << 20 | instruction length << 16 | (EIP offset from the translation's entry, 16 bits signed)
// (retired-so-far: the block's instructions before this one, fewer than BLOCK_MAX = 128). The
// flat check, 0 or segment + 1: the access is through ES, SS or DS, which are flat while a
// translation runs, and the helper makes their limit check (segments.ts) before the access.
// Why no throw: a translation that catches exceptions (to store its locals on the way out)
// must have every value its catch reads in memory at each call that can throw; without the
// catch a bare-metal loop of loads, stores and calls ran 2-4% faster (Node 20), and a fault in
// translated code costs 2.6 us instead of 3.5 (bench/faults.mjs).
// A handler (jitDispatch) runs with the state already stored (jit/emit.ts viaHandler). The
// handlers that record their page faults in the block loop (cpu/handlers.ts readLinOrRecord)
// record them here too, and the translation returns (jitDispatch's result); the others throw,
// and the exception passes through the translation to the run loop.

import { pc, instrStart, cplLive } from '../cpu/live';
import { clearPrefixes } from '../cpu/decode';
import { retired } from '../cpu/exec';
import { dispatch } from '../cpu/generated/handlers';
import {
  settleFlags, lazyOp, lazySize, lazySrc1, lazySrc2, lazyMask, flagsReg, LAZY_LOGIC,
} from '../cpu/flags';
import { FLAG_CF, FLAG_OF, FLAG_AF, FLAG_ZF, FLAG_SF, FLAG_PF, FLAGS_ARITH, segSelector } from '../cpu/state';
import { segCheckOrRecord } from '../cpu/segments';
import { pendingVector } from '../cpu/fault';
import { CELL_JIT_ENTRY } from './layout';
import { fpuQuiet, fpuRun, fpuRunDouble, fpuStatus } from '../cpu/fpu';
import { FPU_WRITES } from '../cpu/fpu-escape';
import { REC_IMM, REC_RM } from '../cpu/record';
import { TLB_BASE, TLB_VALID, tlbReadMask, tlbWriteMask } from '../mmu/tlb';
import { RAM_BASE } from '../mmu/phys';
import { readSlow8, readSlow16, readSlow32, writeSlow8, writeSlow16, writeSlow32, pagesOrRecord } from '../mmu/access';

/** EIP at the entry of the running translation (its prologue sets it). */
@inline function jitEntry(): u32 { return load<u32>(CELL_JIT_ENTRY); }
/** A slow path recorded a fault: 1 until the translation, leaving for it, clears it. */
export let jitFault: u32 = 0;
/** The access faults: recorded by segCheckOrRecord or pagesOrRecord, for the translation to leave. */
@inline function faulted(): void { clearPrefixes(); jitFault = 1; }

@inline function enter(at: u32): void {
  instrStart = jitEntry() + <u32>(<i32>(<i16>(at & 0xffff)));
  pc = instrStart + ((at >>> 16) & 15);
  retired += <u64>((at >>> 20) & 0xff);
}
/** The access completed: the instruction has not retired yet. */
@inline function leave(at: u32): void { retired -= <u64>((at >>> 20) & 0xff); }
/** The flat segment's limit check `at` asks for passed, or its fault is recorded (then false). */
@inline function segmentOk(at: u32, lin: u32, n: u32, write: bool): bool {
  const check = at >>> 28;
  return check == 0 || segCheckOrRecord(check - 1, lin, n - 1, write);
}
/** The pages of the access are in the TLB for it now, or a page fault is recorded (then false). */
@inline function reachable(lin: u32, n: u32, write: bool): bool { return pagesOrRecord(lin, n, write, cplLive == 3); }

export function jitRead8(lin: u32, at: u32, _: u32): u32 {
  enter(at); if (!segmentOk(at, lin, 1, false) || !reachable(lin, 1, false)) { faulted(); return 0; }
  const v = readSlow8(lin, cplLive == 3); leave(at); return v;
}
export function jitRead16(lin: u32, at: u32, _: u32): u32 {
  enter(at); if (!segmentOk(at, lin, 2, false) || !reachable(lin, 2, false)) { faulted(); return 0; }
  const v = readSlow16(lin, cplLive == 3); leave(at); return v;
}
export function jitRead32(lin: u32, at: u32, _: u32): u32 {
  enter(at); if (!segmentOk(at, lin, 4, false) || !reachable(lin, 4, false)) { faulted(); return 0; }
  const v = readSlow32(lin, cplLive == 3); leave(at); return v;
}
export function jitWrite8(lin: u32, v: u32, at: u32): u32 {
  enter(at); if (!segmentOk(at, lin, 1, true) || !reachable(lin, 1, true)) { faulted(); return 0; }
  writeSlow8(lin, v, cplLive == 3); leave(at); return 0;
}
export function jitWrite16(lin: u32, v: u32, at: u32): u32 {
  enter(at); if (!segmentOk(at, lin, 2, true) || !reachable(lin, 2, true)) { faulted(); return 0; }
  writeSlow16(lin, v, cplLive == 3); leave(at); return 0;
}
export function jitWrite32(lin: u32, v: u32, at: u32): u32 {
  enter(at); if (!segmentOk(at, lin, 4, true) || !reachable(lin, 4, true)) { faulted(); return 0; }
  writeSlow32(lin, v, cplLive == 3); leave(at); return 0;
}
/** segAddr()'s slow path; `what` = segment | (size - 1) << 8 | write << 16. */
export function jitSegCheck(what: u32, off: u32, at: u32): u32 {
  enter(at);
  if (!segCheckOrRecord(what & 0xff, off, (what >>> 8) & 0xff, (what >>> 16) != 0)) { faulted(); return 0; }
  leave(at); return 0;
}
export function jitCheckWrite(lin: u32, n: u32, at: u32): u32 {
  enter(at); if (!segmentOk(at, lin, n, true) || (n != 0 && !reachable(lin, n, true))) { faulted(); return 0; }
  leave(at); return 0;
}

/**
 * An x87 record the translation writes as this call (jit/x87.ts), its memory operand at offset
 * `off` in a flat segment; `where` is the instruction's EIP offset from the translation's entry
 * (16 bits signed) and, above it, the operand's size | FPU_WRITES (cpu/fpu-escape.ts fpuOperand,
 * which the translation asked once). Returns FSW (for FNSTSW AX); or -1 (0xffffffff), having changed
 * nothing, when the instruction needs more than the FPU itself: #NM or a pending unmasked
 * exception (cpu/fpu.ts fpuQuiet), or an operand that is not on the TLB's fast path in one page
 * (a page to fault on or to mark dirty, a page holding code, MMIO, a wrap past 4 GiB). The
 * translation then runs the block loop's handler, which raises and probes in the FPU's own
 * order: a store blocked by an unmasked exception does not touch its destination at all (vol. 1
 * 8.5.4), and FSTP m80fp writes its significand before it faults on the page of its exponent.
 * So nothing here faults.
 */
export function jitX87(rec: u32, off: u32, where: u32): u32 {
  if (!fpuQuiet()) return 0xffff_ffff;
  const imm = load<u32>(rec, REC_IMM), opcode = imm & 0xff, modrm = (imm >>> 8) & 0xff;
  instrStart = jitEntry() + <u32>(<i32>(<i16>(where & 0xffff)));
  let sel: u32 = 0;
  if (modrm < 0xc0) {
    const operand = where >>> 16;
    const n = operand & 0x1ff;
    const mask = (operand & FPU_WRITES) != 0 ? tlbWriteMask : tlbReadMask;
    const e = load<u32>(TLB_BASE + ((off >>> 12) << 2));
    if ((e & mask) != TLB_VALID || (off & 0xfff) > 0x1000 - n) return 0xffff_ffff;
    sel = segSelector(<u32>load<u8>(rec, REC_RM));
    // FLD and FST(P) of a double, three quarters of awk's x87, straight at the operand in RAM.
    if (fpuRunDouble(opcode, modrm, RAM_BASE + (e & 0xffff_f000) + (off & 0xfff), off, sel)) return fpuStatus();
  }
  fpuRun(opcode, modrm, off, off, sel, true); // flat: the linear address is the offset
  return fpuStatus();
}

/**
 * A record the translation does not inline: the block loop's own handler runs it. 1 when the
 * handler recorded a page fault instead of throwing (cpu/fault.ts recordFault: EIP back on the
 * instruction, `attention` set), and the translation returns.
 */
export function jitDispatch(h: u32, rec: u32, _: u32): u32 {
  dispatch(h, rec);
  return pendingVector >= 0 ? 1 : 0;
}

/** ROL/ROR: CF and OF (EFLAGS bits in `cfof`) replace the materialized flags' (alu.ts rotateFlags). */
export function jitRotateFlags(cfof: u32, _a: u32, _b: u32): u32 {
  settleFlags();
  flagsReg = (flagsReg & ~(FLAG_CF | FLAG_OF)) | cfof;
  return 0;
}

/**
 * The translation's pending flag operation into the lazy-flag globals (jit/pending.ts
 * storeFlags() as a call); the translation has stored its result in lazyResult. `kindCF`: the
 * kind in its low 16 bits, 0 none (the flags are already in the globals), else (lazy kind + 1 |
 * size << 4 | CF mode << 12) with kind 4 a shift (CF and OF in fcf as EFLAGS bits) and CF mode 1
 * (INC/DEC, BT) CF in fcf; fcf in the high 16 bits.
 */
export function jitFlags(kindCF: u32, fa: u32, fb: u32): u32 {
  const kind = kindCF & 0xffff, fcf = kindCF >>> 16;
  const k = kind & 15;
  if (k == 0) return 0;
  lazySize = (kind >>> 4) & 0xff;
  if (k >= 3) {
    lazyOp = LAZY_LOGIC;
    lazyMask = FLAG_ZF | FLAG_SF | FLAG_PF;
    flagsReg = (flagsReg & ~(FLAG_CF | FLAG_OF | FLAG_AF)) | (k == 4 ? fcf : 0);
    return 0;
  }
  const cfMode = kind >>> 12;
  lazyOp = k - 1;
  lazySrc1 = fa;
  lazySrc2 = fb;
  lazyMask = cfMode == 0 ? FLAGS_ARITH : FLAGS_ARITH & ~FLAG_CF;
  if (cfMode == 1) flagsReg = (flagsReg & ~FLAG_CF) | fcf;
  return 0;
}
