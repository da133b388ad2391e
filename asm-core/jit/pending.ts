// The pending flag operation of a translation (jit/emit.ts): the last flag-setting
// instruction's kind and size known at translation time, its operands in locals fa, fb, fr
// (and fcf), so that a flag reader tests exactly the flag it needs (a Jcc after a CMP is one
// compare) and the lazy-flag globals (cpu/flags.ts) are written only where something outside
// the function can read them: an exit, a helper call, a slow path that may fault.

import {
  i32c, lget, lset, gget, gset, op, ifVoid, end, OP_I32_EQZ, OP_I32_EQ, OP_I32_NE, OP_I32_LT_S,
  OP_I32_LT_U, OP_I32_LE_S, OP_I32_LE_U, OP_I32_GT_S, OP_I32_GE_U, OP_I32_GT_U, OP_I32_GE_S,
  OP_I32_POPCNT, OP_I32_AND, OP_I32_OR, OP_I32_XOR, OP_I32_SHR_U, OP_I32_SUB, OP_SELECT,
  OP_I32_EXTEND8_S, OP_I32_EXTEND16_S, ifI32, els, ltee, helper, OP_I32_SHL,
} from './wasm';
import {
  F_FLAGS, F_ROTATE_FLAGS, G_LAZY_OP, G_LAZY_RESULT, G_LAZY_SRC1, G_LAZY_SRC2, G_LAZY_SIZE, G_LAZY_MASK,
  G_FLAGS, L_FA, L_FB, L_FR, L_FCF, L_FK, L_ROT, L_E,
} from './layout';
import { FLAG_CF, FLAG_OF, FLAG_AF, FLAGS_ARITH, FLAG_ZF, FLAG_SF, FLAG_PF } from '../cpu/state';
import { LAZY_ADD, LAZY_SUB, LAZY_LOGIC } from '../cpu/flags';

/** A pending SHL/SHR/SAR: ZF SF PF lazy from fr, CF and OF already computed into fcf (as EFLAGS bits). */
export const PEND_SHIFT: i32 = 3;
/**
 * At the top of a region's block: the pending operation is whatever the block that went on to
 * this one left, its kind in local fk (as pendingKind() packs it; 0: the flags are in their
 * globals). The first flag reader stores it through jitFlags; a flag writer just replaces it.
 */
export const PEND_DYNAMIC: i32 = 5;
/**
 * A ROL/ROR after another operation: the flags are that operation's (saved in rotBase*) with
 * CF and OF replaced by the rotate's, in local rot as EFLAGS bits (alu.ts rotateFlags).
 */
export const PEND_ROTATE: i32 = 6;
export let rotBaseKind: i32 = -1, rotBaseSize: u32 = 32, rotBaseCF: u32 = 0;
/** The pending flag operation: its lazy kind (-1: none, the flags are in the globals), size, and where CF is. */
export let pendKind: i32 = -1, pendSize: u32 = 32;
/** INC/DEC keep CF: 0 it is derived from fa/fb/fr, 1 it is in local fcf. */
export let pendCF: u32 = 0;
/** The pending ADD/SUB was an ADC/SBB: its result includes a carry in, so CF and ZF need the general formulas. */
export let pendWithCarry: bool = false;

export function maskOf(size: u32): u32 { return size == 32 ? 0xffffffff : (1 << size) - 1; }
/** Write the pending flag operation to the lazy-flag globals (idempotent). */
/** The pending operation packed for jitFlags (jit/helpers.ts). */
export function pendingKind(): u32 { return pendKind < 0 ? 0 : <u32>(pendKind + 1) | (pendSize << 4) | (pendCF << 12); }
export function pushKind(): void { if (pendKind == PEND_DYNAMIC) lget(L_FK); else i32c(pendingKind()); }
export function storeFlags(): void {
  if (pendKind < 0) return;
  if (pendKind == PEND_ROTATE) {
    pendKind = rotBaseKind; pendSize = rotBaseSize; pendCF = rotBaseCF;
    storeFlags();
    pendKind = PEND_ROTATE;
    lget(L_ROT); helper(F_ROTATE_FLAGS, 1, false);
    return;
  }
  if (pendKind == PEND_DYNAMIC) {
    // Kind 0 (the flags are in their globals already) is the usual case at a region's entry.
    // jitFlags takes three arguments (jit/layout.ts T_HELPER): the result goes to its global
    // here, and fcf (EFLAGS' CF and OF bits, below bit 16) rides in the kind's upper half.
    lget(L_FK); ifVoid();
    lget(L_FR); gset(G_LAZY_RESULT);
    lget(L_FK); lget(L_FCF); i32c(16); op(OP_I32_SHL); op(OP_I32_OR); lget(L_FA); lget(L_FB); helper(F_FLAGS, 3, false);
    end();
    return;
  }
  if (pendKind == PEND_SHIFT) {
    // setResultFlags(): ZF SF PF from the result, CF and OF as computed (in fcf), AF cleared.
    i32c(LAZY_LOGIC); gset(G_LAZY_OP);
    i32c(pendSize); gset(G_LAZY_SIZE);
    lget(L_FR); gset(G_LAZY_RESULT);
    i32c(FLAG_ZF | FLAG_SF | FLAG_PF); gset(G_LAZY_MASK);
    gget(G_FLAGS); i32c(~(FLAG_CF | FLAG_OF | FLAG_AF)); op(OP_I32_AND); lget(L_FCF); op(OP_I32_OR); gset(G_FLAGS);
    return;
  }
  i32c(<u32>pendKind); gset(G_LAZY_OP);
  i32c(pendSize); gset(G_LAZY_SIZE);
  lget(L_FR); gset(G_LAZY_RESULT);
  if (pendKind == <i32>LAZY_LOGIC) {
    i32c(FLAG_ZF | FLAG_SF | FLAG_PF); gset(G_LAZY_MASK);
    gget(G_FLAGS); i32c(~(FLAG_CF | FLAG_OF | FLAG_AF)); op(OP_I32_AND); gset(G_FLAGS);
    return;
  }
  lget(L_FA); gset(G_LAZY_SRC1);
  lget(L_FB); gset(G_LAZY_SRC2);
  i32c(pendCF == 0 ? FLAGS_ARITH : FLAGS_ARITH & ~FLAG_CF); gset(G_LAZY_MASK);
  if (pendCF == 1) { gget(G_FLAGS); i32c(~FLAG_CF); op(OP_I32_AND); lget(L_FCF); op(OP_I32_OR); gset(G_FLAGS); }
}
/**
 * Before a branch to one of the function's shared exits (jit/emit.ts): the pending operation
 * described in local fk (as at the top of a region's block), so that one exit serves every site.
 */
export function kindToLocal(): void {
  if (pendKind == PEND_ROTATE) { storeFlags(); i32c(0); lset(L_FK); }
  else if (pendKind != PEND_DYNAMIC) { i32c(pendingKind()); lset(L_FK); }
}

/**
 * At a shared exit: the operation described in fk into the lazy-flag globals, jit/helpers.ts
 * jitFlags written out (one copy per function, and no call on the way out).
 */
export function storeKindFromLocal(): void {
  lget(L_FK); i32c(15); op(OP_I32_AND); ltee(L_E);
  ifVoid();
  lget(L_FK); i32c(4); op(OP_I32_SHR_U); i32c(0xff); op(OP_I32_AND); gset(G_LAZY_SIZE);
  lget(L_FR); gset(G_LAZY_RESULT);
  lget(L_E); i32c(3); op(OP_I32_GE_U);
  ifVoid(); // a logic result or a shift: ZF SF PF lazy, CF and OF from fcf for a shift, AF clear
  i32c(LAZY_LOGIC); gset(G_LAZY_OP);
  i32c(FLAG_ZF | FLAG_SF | FLAG_PF); gset(G_LAZY_MASK);
  gget(G_FLAGS); i32c(~(FLAG_CF | FLAG_OF | FLAG_AF)); op(OP_I32_AND);
  lget(L_FCF); i32c(0); lget(L_E); i32c(4); op(OP_I32_EQ); op(OP_SELECT);
  op(OP_I32_OR); gset(G_FLAGS);
  els(); // ADD or SUB: all six lazy, or all but CF (CF mode 1: in fcf)
  lget(L_E); i32c(1); op(OP_I32_SUB); gset(G_LAZY_OP);
  lget(L_FA); gset(G_LAZY_SRC1);
  lget(L_FB); gset(G_LAZY_SRC2);
  i32c(FLAGS_ARITH); i32c(FLAGS_ARITH & ~FLAG_CF); lget(L_FK); i32c(12); op(OP_I32_SHR_U); op(OP_I32_EQZ); op(OP_SELECT);
  gset(G_LAZY_MASK);
  lget(L_FK); i32c(12); op(OP_I32_SHR_U); i32c(1); op(OP_I32_EQ);
  ifVoid(); gget(G_FLAGS); i32c(~FLAG_CF); op(OP_I32_AND); lget(L_FCF); op(OP_I32_OR); gset(G_FLAGS); end();
  end();
  end();
}

export function msb(size: u32): void { i32c(size - 1); op(OP_I32_SHR_U); i32c(1); op(OP_I32_AND); }
/** Push CF (0/1) of the pending operation. */
export function pendingCF(): void {
  if (pendKind == PEND_SHIFT) { lget(L_FCF); i32c(FLAG_CF); op(OP_I32_AND); return; }
  if (pendCF == 1) { lget(L_FCF); return; }
  if (pendKind == <i32>LAZY_LOGIC) { i32c(0); return; }
  carries(pendKind == <i32>LAZY_SUB);
  msb(pendSize);
}
// The operands and result of the pending operation: in the translation's locals, or in the
// lazy-flag globals (cpu/flags.ts) when the flags are there.
function pushA(globals: bool): void { if (globals) gget(G_LAZY_SRC1); else lget(L_FA); }
function pushB(globals: bool): void { if (globals) gget(G_LAZY_SRC2); else lget(L_FB); }
function pushR(globals: bool): void { if (globals) gget(G_LAZY_RESULT); else lget(L_FR); }
/** Push the carries (borrows) out of each bit of the pending ADD (SUB): CF is the one out of the top bit. */
function carries(sub: bool, globals: bool = false): void {
  // ADD: (a & b) | ((a | b) & ~r); SUB: (~a & b) | ((~a | b) & r).
  pushA(globals); if (sub) { i32c(-1); op(OP_I32_XOR); }
  pushB(globals); op(OP_I32_AND);
  pushA(globals); if (sub) { i32c(-1); op(OP_I32_XOR); }
  pushB(globals); op(OP_I32_OR);
  pushR(globals); if (!sub) { i32c(-1); op(OP_I32_XOR); }
  op(OP_I32_AND); op(OP_I32_OR);
}
/** Push the overflows of the pending ADD (SUB) in each bit: OF is the top one. */
function overflows(sub: bool, globals: bool = false): void {
  // ADD: (a ^ r) & (b ^ r); SUB: (a ^ b) & (a ^ r).
  pushA(globals); if (sub) pushB(globals); else pushR(globals); op(OP_I32_XOR);
  if (sub) pushA(globals); else pushB(globals); pushR(globals); op(OP_I32_XOR);
  op(OP_I32_AND);
}

/** The top bit of the value on the stack at the size in the lazySize global. */
function globalMsb(): void { gget(G_LAZY_SIZE); i32c(1); op(OP_I32_SUB); op(OP_I32_SHR_U); i32c(1); op(OP_I32_AND); }

/**
 * Push arithmetic flag `flag` (0 or 1) of the flags in their globals, as cpu/flags.ts getCF()
 * and its siblings compute it: from the lazy operation where lazyMask has the flag, else from
 * flagsReg. Inline, so that a Jcc, an INC or an ADC where a handler or the translation's entry
 * left the flags in their globals does not call into the core for them.
 */
function globalFlag(flag: u32): void {
  gget(G_LAZY_MASK); i32c(flag); op(OP_I32_AND);
  ifI32();
  if (flag == FLAG_ZF) {
    // The result at its size (lazySize 8, 16 or 32: the shift is 24, 16 or 0) is zero.
    gget(G_LAZY_RESULT); i32c(-1); i32c(32); gget(G_LAZY_SIZE); op(OP_I32_SUB); op(OP_I32_SHR_U); op(OP_I32_AND); op(OP_I32_EQZ);
  } else if (flag == FLAG_SF) {
    gget(G_LAZY_RESULT); globalMsb();
  } else if (flag == FLAG_PF) {
    gget(G_LAZY_RESULT); i32c(0xff); op(OP_I32_AND); op(OP_I32_POPCNT); i32c(1); op(OP_I32_AND); op(OP_I32_EQZ);
  } else {
    // CF and OF: from an ADD's or a SUB's operands; a logic result clears both.
    const isOF = flag == FLAG_OF;
    gget(G_LAZY_OP); i32c(LAZY_ADD); op(OP_I32_EQ);
    ifI32();
    if (isOF) overflows(false, true); else carries(false, true);
    globalMsb();
    els();
    gget(G_LAZY_OP); i32c(LAZY_SUB); op(OP_I32_EQ);
    ifI32();
    if (isOF) overflows(true, true); else carries(true, true);
    globalMsb();
    els();
    i32c(0);
    end();
    end();
  }
  els();
  gget(G_FLAGS); i32c(ctz<u32>(flag)); op(OP_I32_SHR_U); i32c(1); op(OP_I32_AND);
  end();
}

/** Push condition `cc` (0 or 1) of the flags in their globals: cpu/flags.ts testCCOp, inline. */
function globalCondition(cc: u32): void {
  switch (cc >> 1) {
    case 0: globalFlag(FLAG_OF); break;
    case 1: globalFlag(FLAG_CF); break;
    case 2: globalFlag(FLAG_ZF); break;
    case 3: globalFlag(FLAG_CF); globalFlag(FLAG_ZF); op(OP_I32_OR); break;
    case 4: globalFlag(FLAG_SF); break;
    case 5: globalFlag(FLAG_PF); break;
    case 6: globalFlag(FLAG_SF); globalFlag(FLAG_OF); op(OP_I32_XOR); break;
    default: globalFlag(FLAG_ZF); globalFlag(FLAG_SF); globalFlag(FLAG_OF); op(OP_I32_XOR); op(OP_I32_OR); break;
  }
  if (cc & 1) op(OP_I32_EQZ);
}

/** Push CF (0 or 1) of the flags in their globals (for INC, DEC, ADC and SBB). */
export function globalCF(): void { globalFlag(FLAG_CF); }
/**
 * Push CF (0/1) of the operation pending at the top of a block that edges reach with different
 * ones (PEND_DYNAMIC: its kind in fk, packed as pendingKind() packs it), without storing it: for
 * INC and DEC, which keep CF and replace the rest, and for ADC and SBB, which replace all of it.
 * With fk 0 (the flags in their globals, as at the region's entry) CF comes from the globals
 * (globalCF). Writing the operation to the lazy-flag globals first (jitFlags) and then settling
 * CF there took two calls into the core at such an INC: 17 million of each in a boot.
 */
export function dynamicCF(): void {
  lget(L_FK); i32c(15); op(OP_I32_AND); op(OP_I32_EQZ);
  ifI32();
  globalCF();
  els();
  // CF mode 1 (INC/DEC, BT: CF in fcf) or a shift (CF and OF in fcf as EFLAGS bits).
  lget(L_FK); i32c(0x3000); op(OP_I32_AND); i32c(0x1000); op(OP_I32_EQ);
  lget(L_FK); i32c(15); op(OP_I32_AND); i32c(<u32>PEND_SHIFT + 1); op(OP_I32_EQ); op(OP_I32_OR);
  ifI32();
  lget(L_FCF); i32c(FLAG_CF); op(OP_I32_AND);
  els();
  // ADD or SUB: the carry (borrow) out of the operand's top bit, as pendingCF() computes it; a logic result: 0.
  lget(L_FK); i32c(15); op(OP_I32_AND); i32c(LAZY_ADD + 1); op(OP_I32_EQ);
  ifI32();
  carries(false); dynamicMsb();
  els();
  lget(L_FK); i32c(15); op(OP_I32_AND); i32c(LAZY_SUB + 1); op(OP_I32_EQ);
  ifI32();
  carries(true); dynamicMsb();
  els();
  i32c(0);
  end();
  end();
  end();
  end();
}
/** The top bit of the value on the stack at the size in fk (bits 4-11). */
function dynamicMsb(): void {
  lget(L_FK); i32c(4); op(OP_I32_SHR_U); i32c(0xff); op(OP_I32_AND); i32c(1); op(OP_I32_SUB);
  op(OP_I32_SHR_U); i32c(1); op(OP_I32_AND);
}
export function pendingZF(): void {
  lget(L_FR);
  if (pendSize != 32) { i32c(maskOf(pendSize)); op(OP_I32_AND); }
  op(OP_I32_EQZ);
}
export function pendingSF(): void { lget(L_FR); msb(pendSize); }
export function pendingOF(): void {
  if (pendKind == <i32>LAZY_LOGIC) { i32c(0); return; }
  if (pendKind == PEND_SHIFT) { lget(L_FCF); i32c(11); op(OP_I32_SHR_U); i32c(1); op(OP_I32_AND); return; }
  overflows(pendKind != <i32>LAZY_ADD); msb(pendSize);
}
export function pendingPF(): void { lget(L_FR); i32c(0xff); op(OP_I32_AND); op(OP_I32_POPCNT); i32c(1); op(OP_I32_AND); op(OP_I32_EQZ); }

/**
 * Push local `l` as a value of the pending operation's size: zero-extended, or sign-extended
 * when `signed`. The locals may hold more than the operand (an 8-bit immediate sign-extended to
 * 32 bits, an OR's result with it), so a narrow compare masks first.
 */
function operand(l: u32, signed: bool): void {
  lget(l);
  if (pendSize == 32) return;
  if (signed) op(pendSize == 8 ? OP_I32_EXTEND8_S : OP_I32_EXTEND16_S);
  else { i32c(maskOf(pendSize)); op(OP_I32_AND); }
}

/** Push condition `cc` (the low nibble of Jcc/SETcc/CMOVcc) as 0 or 1. */
export function condition(cc: u32): void {
  if (pendKind == PEND_DYNAMIC || pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  if (pendKind < 0) { globalCondition(cc); return; }
  const neg = (cc & 1) != 0;
  const base = cc >> 1;
  // A CMP or SUB, or a logic result: one compare (of the operands at their size).
  if (pendKind == <i32>LAZY_SUB && pendCF == 0 && !pendWithCarry) {
    if (base == 1) { operand(L_FA, false); operand(L_FB, false); op(neg ? OP_I32_GE_U : OP_I32_LT_U); return; }
    if (base == 2) { operand(L_FA, false); operand(L_FB, false); op(neg ? OP_I32_NE : OP_I32_EQ); return; }
    if (base == 3) { operand(L_FA, false); operand(L_FB, false); op(neg ? OP_I32_GT_U : OP_I32_LE_U); return; }
    if (base == 6) { operand(L_FA, true); operand(L_FB, true); op(neg ? OP_I32_GE_S : OP_I32_LT_S); return; }
    if (base == 7) { operand(L_FA, true); operand(L_FB, true); op(neg ? OP_I32_GT_S : OP_I32_LE_S); return; }
  }
  if (pendKind == <i32>LAZY_LOGIC) {
    if (base == 2 || base == 3) { operand(L_FR, false); if (neg) { i32c(0); op(OP_I32_NE); } else op(OP_I32_EQZ); return; }
    if (base == 4 || base == 6) { operand(L_FR, true); i32c(0); op(neg ? OP_I32_GE_S : OP_I32_LT_S); return; }
    if (base == 7) { operand(L_FR, true); i32c(0); op(neg ? OP_I32_GT_S : OP_I32_LE_S); return; }
  }
  switch (base) {
    case 0: pendingOF(); break;
    case 1: pendingCF(); i32c(0); op(OP_I32_NE); break;
    case 2: pendingZF(); break;
    case 3: pendingCF(); i32c(0); op(OP_I32_NE); pendingZF(); op(OP_I32_OR); break;
    case 4: pendingSF(); break;
    case 5: pendingPF(); break;
    case 6: pendingSF(); pendingOF(); op(OP_I32_XOR); break;
    default: pendingZF(); pendingSF(); pendingOF(); op(OP_I32_XOR); op(OP_I32_OR); break;
  }
  if (neg) op(OP_I32_EQZ);
}
export function logicPending(size: u32): void { pendKind = <i32>LAZY_LOGIC; pendSize = size; pendCF = 0; pendWithCarry = false; }
