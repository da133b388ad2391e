// Lazy arithmetic flags. An ALU instruction records its operands and result instead of
// computing six flags; a later reader (Jcc, PUSHF, ADC...) derives only the flag it needs.
// Three kinds suffice: carries and overflows of ADD/ADC/INC follow from (a, b, r) alone, the
// borrows of SUB/SBB/CMP/NEG/DEC likewise, and logic results clear CF, OF and AF.

import {
  STATE, OFF_EFLAGS, OFF_LAZY_OP, OFF_LAZY_RESULT, OFF_LAZY_SRC1, OFF_LAZY_SRC2, OFF_LAZY_MASK,
  OFF_LAZY_SIZE, FLAG_CF, FLAG_PF, FLAG_AF, FLAG_ZF, FLAG_SF, FLAG_OF, FLAGS_ARITH,
} from './state';

export const LAZY_ADD: u32 = 0; // ADD, ADC, INC
export const LAZY_SUB: u32 = 1; // SUB, SBB, CMP, NEG, DEC
export const LAZY_LOGIC: u32 = 2; // AND, OR, XOR, TEST; also "result only" for shifts and MUL

// The lazy state lives in globals while the core runs (hot), and is spilled to the state
// block by saveLazy() whenever the host may look at it.
export let lazyOp: u32 = LAZY_LOGIC;
export let lazyResult: u32 = 0;
export let lazySrc1: u32 = 0;
export let lazySrc2: u32 = 0;
export let lazySize: u32 = 32;
/** Which arithmetic flags are lazy; the others are in `flagsReg`. */
export let lazyMask: u32 = 0;
/** EFLAGS with the non-lazy bits valid. */
export let flagsReg: u32 = 2;

@inline export function setLazy(op: u32, size: u32, a: u32, b: u32, r: u32): void {
  lazyOp = op; lazySize = size; lazySrc1 = a; lazySrc2 = b; lazyResult = r;
  lazyMask = FLAGS_ARITH;
}

/** INC/DEC: like ADD/SUB with 1, but CF keeps its value. */
@inline export function setLazyKeepCF(op: u32, size: u32, a: u32, r: u32): void {
  if (lazyMask & FLAG_CF) {
    flagsReg = (flagsReg & ~FLAG_CF) | (lazyCF() ? FLAG_CF : 0);
  }
  lazyOp = op; lazySize = size; lazySrc1 = a; lazySrc2 = 1; lazyResult = r;
  lazyMask = FLAGS_ARITH & ~FLAG_CF;
}

/** Logic ops: CF = OF = 0, AF = 0 (undefined on hardware; 0 matches Intel parts). */
@inline export function setLazyLogic(size: u32, r: u32): void {
  lazyOp = LAZY_LOGIC; lazySize = size; lazyResult = r;
  lazyMask = FLAG_ZF | FLAG_SF | FLAG_PF;
  flagsReg &= ~(FLAG_CF | FLAG_OF | FLAG_AF);
}

/** ZF, SF and PF from `r`; CF, OF and AF given explicitly (shifts, multiplies, BCD). */
@inline export function setResultFlags(size: u32, r: u32, cfOfAf: u32): void {
  lazyOp = LAZY_LOGIC; lazySize = size; lazyResult = r;
  lazyMask = FLAG_ZF | FLAG_SF | FLAG_PF;
  flagsReg = (flagsReg & ~(FLAG_CF | FLAG_OF | FLAG_AF)) | cfOfAf;
}

@inline function msb(v: u32): bool { return ((v >>> (lazySize - 1)) & 1) != 0; }

@inline function lazyCF(): bool {
  const a = lazySrc1, b = lazySrc2, r = lazyResult;
  if (lazyOp == LAZY_ADD) return msb((a & b) | ((a | b) & ~r));
  if (lazyOp == LAZY_SUB) return msb((~a & b) | ((~a | b) & r));
  return false;
}

@inline function lazyOF(): bool {
  const a = lazySrc1, b = lazySrc2, r = lazyResult;
  if (lazyOp == LAZY_ADD) return msb((a ^ r) & (b ^ r));
  if (lazyOp == LAZY_SUB) return msb((a ^ b) & (a ^ r));
  return false;
}

@inline function sizeMask(): u32 { return lazySize == 32 ? 0xffffffff : (1 << lazySize) - 1; }

export function getCF(): bool { return (lazyMask & FLAG_CF) ? lazyCF() : (flagsReg & FLAG_CF) != 0; }
export function getZF(): bool { return (lazyMask & FLAG_ZF) ? (lazyResult & sizeMask()) == 0 : (flagsReg & FLAG_ZF) != 0; }
export function getSF(): bool { return (lazyMask & FLAG_SF) ? msb(lazyResult) : (flagsReg & FLAG_SF) != 0; }
export function getOF(): bool { return (lazyMask & FLAG_OF) ? lazyOF() : (flagsReg & FLAG_OF) != 0; }
export function getPF(): bool {
  return (lazyMask & FLAG_PF) ? (popcnt<u32>(lazyResult & 0xff) & 1) == 0 : (flagsReg & FLAG_PF) != 0;
}
export function getAF(): bool {
  if (lazyMask & FLAG_AF) {
    if (lazyOp == LAZY_LOGIC) return false;
    return ((lazySrc1 ^ lazySrc2 ^ lazyResult) & 0x10) != 0;
  }
  return (flagsReg & FLAG_AF) != 0;
}

/** Condition code test for Jcc/SETcc/CMOVcc (the low 4 bits of the opcode). */
export function testCC(cc: u32): bool { return testCCOp(cc); }

/** The definition behind testCC(), inlined where `cc` is a constant (cpu/handlers.ts). */
@inline export function testCCOp(cc: u32): bool {
  let r: bool;
  switch (cc >> 1) {
    case 0: r = getOF(); break;
    case 1: r = getCF(); break;
    case 2: r = getZF(); break;
    case 3: r = getCF() || getZF(); break;
    case 4: r = getSF(); break;
    case 5: r = getPF(); break;
    case 6: r = getSF() != getOF(); break;
    default: r = getZF() || (getSF() != getOF()); break;
  }
  return (cc & 1) ? !r : r;
}

/** EFLAGS with all lazy flags evaluated. */
export function getEflags(): u32 {
  if (lazyMask == 0) return flagsReg;
  let f = flagsReg & ~lazyMask;
  if (lazyMask & FLAG_CF && getCF()) f |= FLAG_CF;
  if (lazyMask & FLAG_PF && getPF()) f |= FLAG_PF;
  if (lazyMask & FLAG_AF && getAF()) f |= FLAG_AF;
  if (lazyMask & FLAG_ZF && getZF()) f |= FLAG_ZF;
  if (lazyMask & FLAG_SF && getSF()) f |= FLAG_SF;
  if (lazyMask & FLAG_OF && getOF()) f |= FLAG_OF;
  return f;
}

/** Replace the whole of EFLAGS (the caller has already applied privilege rules). Bit 1 is always 1. */
export function setEflagsRaw(v: u32): void {
  flagsReg = (v & ~0x8028) | 2;
  lazyMask = 0;
}

/** Materialize lazy flags into flagsReg (before changing a single flag bit). */
export function settleFlags(): void {
  if (lazyMask != 0) { flagsReg = getEflags(); lazyMask = 0; }
}

/** Set one arithmetic flag. */
export function setFlag(flag: u32, on: bool): void {
  settleFlags();
  flagsReg = on ? (flagsReg | flag) : (flagsReg & ~flag);
}

/** FCOMI and friends: ZF, PF, CF as given; OF, SF and AF cleared. */
export function setArithFlags(zf: bool, pf: bool, cf: bool): void {
  settleFlags();
  flagsReg = (flagsReg & ~FLAGS_ARITH) | (zf ? FLAG_ZF : 0) | (pf ? FLAG_PF : 0) | (cf ? FLAG_CF : 0);
}

/** Spill the lazy representation to the state block (for the host and snapshots). */
export function saveFlags(): void {
  store<u32>(STATE + OFF_EFLAGS, getEflags());
  store<u32>(STATE + OFF_LAZY_OP, lazyOp);
  store<u32>(STATE + OFF_LAZY_RESULT, lazyResult);
  store<u32>(STATE + OFF_LAZY_SRC1, lazySrc1);
  store<u32>(STATE + OFF_LAZY_SRC2, lazySrc2);
  store<u32>(STATE + OFF_LAZY_SIZE, lazySize);
  store<u32>(STATE + OFF_LAZY_MASK, 0);
}

/** Take EFLAGS from the state block (after the host wrote it). */
export function loadFlags(): void {
  setEflagsRaw(load<u32>(STATE + OFF_EFLAGS));
}
