// The shifts, rotates, bit tests and scans, SHLD/SHRD and IMUL a translation writes inline
// (jit/instructions.ts says how emitters are found): their flags are a shift's or depend on the
// count, so they leave them pending in their own ways (jit/pending.ts PEND_SHIFT, PEND_ROTATE,
// PEND_DYNAMIC).

import { op, i32c, i64c, lget, lset, ltee, gget, gset, ifVoid, els, end,
  OP_I32_NE, OP_I32_ADD, OP_I32_SUB, OP_I32_AND, OP_I32_OR, OP_I32_XOR, OP_I32_SHL, OP_I32_SHR_S, OP_I32_SHR_U, OP_DROP,
  OP_I32_ROTL, OP_I32_ROTR, OP_I32_MUL, OP_I32_EXTEND16_S, OP_I64_EXTEND_I32_S, OP_I64_MUL, OP_I64_SHR_S, OP_I32_WRAP_I64, OP_I32_EQZ, OP_I32_CLZ, OP_I32_CTZ,
} from './wasm';
import { L_FA, L_FB, L_FR, L_FCF, L_V, L_T, L_FK, L_ROT, L_OFF, G_FLAGS, G_LAZY_MASK } from './layout';
import { PEND_SHIFT, PEND_DYNAMIC, PEND_ROTATE, pendKind, pendSize, pendCF, rotBaseKind, rotBaseSize, rotBaseCF, pendWithCarry, storeFlags, pendingKind } from './pending';
import { FLAG_CF, FLAG_OF, FLAG_ZF } from '../cpu/state';
import { LAZY_ADD, LAZY_SUB, LAZY_LOGIC } from '../cpu/flags';
import {
  REG_ECX_LOCAL, getReg, getReg32, setReg, setReg32, read, immField, recLinear, regField, rmField, rmwRead, rmwStart, rmwWrite,
  effectiveAddress, linear,
} from './operands';

export function shiftRI32(rec: u32, h: u32): bool {
  const sop = regField(rec), count = immField(rec) & 31;
  return sop < 2 ? rotateImm(sop == 1, count, rmField(rec)) : shiftImm(sop, count, rmField(rec));
}

/**
 * The 16-bit form: SHL/SAL, SHR, SAR by a constant (the rotates go through the handler). The
 * LZMA decoder of an XZ kernel's own decompressor updates its 16-bit probabilities with
 * `shr r16, 5`: 20 million of them in a boot that decompresses in the guest.
 */
export function shiftRI16(rec: u32, h: u32): bool {
  const sop = regField(rec), count = immField(rec) & 31;
  return shiftImm(sop, count, rmField(rec), 16);
}

export function shiftRC32(rec: u32, h: u32): bool { return shiftByCL(regField(rec), rmField(rec)); }

export function bitRR(rec: u32, h: u32): bool {
  getReg32(rmField(rec)); lset(L_V); getReg32(regField(rec)); i32c(31); op(OP_I32_AND); bitTest(immField(rec) >> 8); setReg32(rmField(rec)); return true;
}

export function bitRI(rec: u32, h: u32): bool {
  getReg32(rmField(rec)); lset(L_V); i32c(immField(rec) & 31); bitTest(immField(rec) >> 8); setReg32(rmField(rec)); return true;
}

export function bitMI(rec: u32, h: u32): bool {
  const imm = immField(rec);
  if ((imm >> 8) == 0) { recLinear(rec, 4, false); read(4); lset(L_V); i32c(imm & 31); bitTest(0); op(OP_DROP); return true; }
  recLinear(rec, 4, true); rmwStart(4); rmwRead(4); lset(L_V); i32c(imm & 31); bitTest(imm >> 8); lset(L_V); rmwWrite(4);
  return true;
}

/**
 * BT/BTS/BTR/BTC m32, r32 (the kernel's test_bit and __set_bit with a variable bit; LOCK BTS
 * goes to the interpreter inside the block, cpu/predecode.ts): the register is a signed bit
 * offset from the operand, so the dword it names is offset >> 5 dwords away and the bit is
 * offset & 31 (SDM vol. 2, BT; handlers.ts bitMR).
 */
export function bitMR(rec: u32, h: u32): bool {
  const kind = immField(rec) >> 8, bit = regField(rec);
  effectiveAddress(rec);
  lget(L_OFF); getReg32(bit); i32c(5); op(OP_I32_SHR_S); i32c(2); op(OP_I32_SHL); op(OP_I32_ADD); lset(L_OFF);
  linear(rmField(rec), 4, kind != 0);
  if (kind == 0) { read(4); lset(L_V); getReg32(bit); i32c(31); op(OP_I32_AND); bitTest(0); op(OP_DROP); return true; }
  rmwStart(4); rmwRead(4); lset(L_V); getReg32(bit); i32c(31); op(OP_I32_AND); bitTest(kind); lset(L_V); rmwWrite(4);
  return true;
}

export function imulRR(rec: u32, h: u32): bool { getReg32(regField(rec)); lset(L_FA); getReg32(rmField(rec)); lset(L_FB); imul(regField(rec)); return true; }

export function imulRM(rec: u32, h: u32): bool {
  recLinear(rec, 4, false); read(4); lset(L_V); getReg32(regField(rec)); lset(L_FA); lget(L_V); lset(L_FB); imul(regField(rec)); return true;
}

export function imulRRI(rec: u32, h: u32): bool { getReg32(rmField(rec)); lset(L_FA); i32c(immField(rec)); lset(L_FB); imul(regField(rec)); return true; }
export function imulRMI(rec: u32, h: u32): bool { recLinear(rec, 4, false); read(4); lset(L_FA); i32c(immField(rec)); lset(L_FB); imul(regField(rec)); return true; }
export function bitScanR(rec: u32, h: u32): bool { getReg32(rmField(rec)); lset(L_V); bitScan(immField(rec) != 0, regField(rec)); return true; }
export function bitScanM(rec: u32, h: u32): bool { recLinear(rec, 4, false); read(4); lset(L_V); bitScan(immField(rec) != 0, regField(rec)); return true; }

/** SHLD/SHRD: REC_IMM 0x100 left, 0x200 by CL, else the count in its low bits. */
export function shiftDoubleR(rec: u32, h: u32): bool {
  const imm = immField(rec), left = (imm & 0x100) != 0;
  return (imm & 0x200) != 0 ? shiftDoubleByCL(left, rmField(rec), regField(rec)) : shiftDoubleImm(left, rmField(rec), regField(rec), imm & 31);
}

/**
 * BT/BTS/BTR/BTC (alu.ts bitTest) of L_V, the bit offset (0..31) on the stack: CF becomes the
 * bit, the other flags are kept; pushes the new value. After an ADD or SUB still pending, CF
 * moves to local fcf as after INC/DEC (pendCF 1) and the rest stays pending; otherwise the flags
 * go to their globals and CF is set there.
 */
function bitTest(kind: u32): void {
  lset(L_T); i32c(1); lget(L_T); op(OP_I32_SHL); lset(L_T); // the mask
  if (pendKind == <i32>LAZY_ADD || pendKind == <i32>LAZY_SUB) {
    lget(L_V); lget(L_T); op(OP_I32_AND); i32c(0); op(OP_I32_NE); lset(L_FCF);
    pendCF = 1;
  } else {
    storeFlags(); pendKind = -1;
    gget(G_FLAGS); i32c(~FLAG_CF); op(OP_I32_AND);
    lget(L_V); lget(L_T); op(OP_I32_AND); i32c(0); op(OP_I32_NE); op(OP_I32_OR); gset(G_FLAGS);
    gget(G_LAZY_MASK); i32c(~FLAG_CF); op(OP_I32_AND); gset(G_LAZY_MASK);
  }
  lget(L_V);
  if (kind == 1) { lget(L_T); op(OP_I32_OR); }
  else if (kind == 2) { lget(L_T); i32c(-1); op(OP_I32_XOR); op(OP_I32_AND); }
  else if (kind == 3) { lget(L_T); op(OP_I32_XOR); }
}

/**
 * BSF/BSR (alu.ts bitScan) of L_V into register d. Which flags follow is known only at run
 * time (a zero source sets ZF and keeps the rest), so both arms leave them described in fk and
 * the locals (PEND_DYNAMIC), as shiftByCL does.
 */
function bitScan(reverse: bool, d: u32): void {
  if (pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  lget(L_V); op(OP_I32_EQZ);
  ifVoid();
  // ZF set, the rest kept: the pending flags to their globals, ZF out of the lazy ones and set.
  storeFlags();
  gget(G_FLAGS); i32c(FLAG_ZF); op(OP_I32_OR); gset(G_FLAGS);
  gget(G_LAZY_MASK); i32c(~FLAG_ZF); op(OP_I32_AND); gset(G_LAZY_MASK);
  i32c(0); lset(L_FK);
  els();
  lget(L_V);
  if (reverse) { op(OP_I32_CLZ); i32c(31); op(OP_I32_XOR); } else op(OP_I32_CTZ);
  setReg32(d);
  i32c(1); lset(L_FR);
  i32c(<u32>(LAZY_LOGIC + 1) | (32 << 4)); lset(L_FK);
  end();
  pendKind = PEND_DYNAMIC; pendCF = 0; pendWithCarry = false;
}

// SHLD/SHRD (alu.ts shiftDouble) of register d with bits from register s.
/** The count: a constant 1..31, or (-1) in local v. */
let dcount: i32 = 0;
function pushCount(minus: u32): void { if (dcount >= 0) i32c(<u32>dcount - minus); else { lget(L_V); if (minus != 0) { i32c(minus); op(OP_I32_SUB); } } }
function pushRest(): void { if (dcount >= 0) i32c(32 - <u32>dcount); else { i32c(32); lget(L_V); op(OP_I32_SUB); } }
/** The shift itself, for a count of 1..31: CF the last bit out of d, OF whether d's sign changed; pending as a shift. */
function shiftDoubleCore(left: bool, d: u32, s: u32): void {
  getReg32(d); lset(L_FA); getReg32(s); lset(L_FB);
  lget(L_FA); pushCount(0); op(left ? OP_I32_SHL : OP_I32_SHR_U);
  lget(L_FB); pushRest(); op(left ? OP_I32_SHR_U : OP_I32_SHL);
  op(OP_I32_OR); lset(L_FR);
  lget(L_FA); if (left) pushRest(); else pushCount(1); op(OP_I32_SHR_U); i32c(1); op(OP_I32_AND);
  lget(L_FR); lget(L_FA); op(OP_I32_XOR); i32c(31); op(OP_I32_SHR_U); i32c(11); op(OP_I32_SHL); op(OP_I32_OR);
  lset(L_FCF);
  lget(L_FR); setReg32(d);
}
function shiftDoubleImm(left: bool, d: u32, s: u32, count: u32): bool {
  if (count == 0) return true; // nothing changes, the flags included
  dcount = <i32>count;
  shiftDoubleCore(left, d, s);
  pendKind = PEND_SHIFT; pendSize = 32; pendCF = 0; pendWithCarry = false;
  return true;
}
/** By CL: a count of 0 (mod 32) changes nothing, so both arms leave the flags described in fk, as shiftByCL does. */
function shiftDoubleByCL(left: bool, d: u32, s: u32): bool {
  if (pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  getReg32(REG_ECX_LOCAL); i32c(31); op(OP_I32_AND); ltee(L_V);
  ifVoid();
  dcount = -1;
  shiftDoubleCore(left, d, s);
  i32c(<u32>(PEND_SHIFT + 1) | (32 << 4)); lset(L_FK);
  if (pendKind != PEND_DYNAMIC) { els(); i32c(pendingKind()); lset(L_FK); }
  end();
  pendKind = PEND_DYNAMIC; pendCF = 0; pendWithCarry = false;
  return true;
}

/**
 * IMUL of L_FA by L_FB into register d (alu.ts imul2): CF and OF when the 64-bit product does
 * not fit in 32 bits, ZF SF PF from the result, AF cleared: a pending shift's flags.
 */
function imul(d: u32): void {
  lget(L_FA); lget(L_FB); op(OP_I32_MUL); lset(L_FR);
  lget(L_FA); op(OP_I64_EXTEND_I32_S); lget(L_FB); op(OP_I64_EXTEND_I32_S); op(OP_I64_MUL);
  i64c(32); op(OP_I64_SHR_S); op(OP_I32_WRAP_I64);
  lget(L_FR); i32c(31); op(OP_I32_SHR_S); op(OP_I32_NE);
  i32c(FLAG_CF | FLAG_OF); op(OP_I32_MUL); lset(L_FCF);
  pendKind = PEND_SHIFT; pendSize = 32; pendCF = 0; pendWithCarry = false;
  lget(L_FR); setReg32(d);
}

/**
 * SHL/SAL, SHR, SAR of a 32- or 16-bit register by a constant 1..31 (alu.ts shiftOp); the
 * rotates go through the handler. At 16 bits a count above 16 shifts everything out, and CF is
 * then 0.
 */
function shiftImm(sop: u32, c: u32, r: u32, size: u32 = 32): bool {
  if (c == 0 || sop < 4) return false;
  getReg(size, r); lset(L_FA);
  // SAR shifts the operand's sign in: a 16-bit one sign-extended first.
  lget(L_FA); if (sop == 7 && size == 16) op(OP_I32_EXTEND16_S);
  i32c(c); op(sop == 5 ? OP_I32_SHR_U : sop == 7 ? OP_I32_SHR_S : OP_I32_SHL);
  if (size == 16 && sop != 5) { i32c(0xffff); op(OP_I32_AND); }
  lset(L_FR);
  // CF: the last bit shifted out.
  if (sop == 7) { lget(L_FA); if (size == 16) op(OP_I32_EXTEND16_S); if (c > 1) { i32c(c - 1); op(OP_I32_SHR_S); } }
  else if (c > size) i32c(0);
  else if (sop == 5) { lget(L_FA); if (c > 1) { i32c(c - 1); op(OP_I32_SHR_U); } }
  else { lget(L_FA); i32c(size - c); op(OP_I32_SHR_U); }
  i32c(1); op(OP_I32_AND);
  // OF: SHL: CF xor the result's sign; SHR: the operand's sign; SAR: 0.
  if (sop == 4 || sop == 6) { ltee(L_FCF); lget(L_FR); i32c(size - 1); op(OP_I32_SHR_U); lget(L_FCF); op(OP_I32_XOR); i32c(11); op(OP_I32_SHL); op(OP_I32_OR); }
  else if (sop == 5) { lget(L_FA); i32c(size - 1); op(OP_I32_SHR_U); i32c(11); op(OP_I32_SHL); op(OP_I32_OR); }
  lset(L_FCF);
  pendKind = PEND_SHIFT; pendSize = size; pendCF = 0; pendWithCarry = false;
  lget(L_FR); setReg(size, r);
  return true;
}

/**
 * SHL/SAL, SHR, SAR of a 32-bit register by CL. A count of 0 (mod 32) changes nothing, the
 * flags included, so which operation is pending is known only at run time: both arms leave it
 * described in fk and the locals (PEND_DYNAMIC), as at the top of a region's block.
 */
function shiftByCL(sop: u32, r: u32): bool {
  if (sop < 4) return false;
  // The pending operation as it stands, for the arm that changes nothing.
  if (pendKind == PEND_ROTATE) { storeFlags(); pendKind = -1; }
  getReg32(REG_ECX_LOCAL); i32c(31); op(OP_I32_AND); ltee(L_V);
  ifVoid();
  getReg32(r); lset(L_FA);
  lget(L_FA); lget(L_V); op(sop == 5 ? OP_I32_SHR_U : sop == 7 ? OP_I32_SHR_S : OP_I32_SHL); lset(L_FR);
  // CF: the last bit shifted out; OF: SHL: CF xor the result's sign, SHR: the operand's sign, SAR: 0.
  if (sop == 4 || sop == 6) {
    lget(L_FA); i32c(32); lget(L_V); op(OP_I32_SUB); op(OP_I32_SHR_U); i32c(1); op(OP_I32_AND); ltee(L_FCF);
    lget(L_FR); i32c(31); op(OP_I32_SHR_U); lget(L_FCF); op(OP_I32_XOR); i32c(11); op(OP_I32_SHL); op(OP_I32_OR);
  } else {
    lget(L_FA); lget(L_V); i32c(1); op(OP_I32_SUB); op(sop == 5 ? OP_I32_SHR_U : OP_I32_SHR_S); i32c(1); op(OP_I32_AND);
    if (sop == 5) { lget(L_FA); i32c(31); op(OP_I32_SHR_U); i32c(11); op(OP_I32_SHL); op(OP_I32_OR); }
  }
  lset(L_FCF);
  lget(L_FR); setReg32(r);
  i32c(<u32>(PEND_SHIFT + 1) | (32 << 4)); lset(L_FK);
  if (pendKind != PEND_DYNAMIC) { els(); i32c(pendingKind()); lset(L_FK); }
  end();
  pendKind = PEND_DYNAMIC; pendCF = 0; pendWithCarry = false;
  return true;
}

/** ROL/ROR of a 32-bit register by a constant 1..31: CF and OF from the result, the other flags kept. */
function rotateImm(right: bool, c: u32, r: u32): bool {
  if (c == 0) return false;
  getReg32(r); i32c(c); op(right ? OP_I32_ROTR : OP_I32_ROTL); ltee(L_V); setReg32(r);
  if (right) { // CF = bit 31, OF = bit 31 xor bit 30
    lget(L_V); i32c(31); op(OP_I32_SHR_U); ltee(L_ROT);
    lget(L_V); i32c(30); op(OP_I32_SHR_U); lget(L_ROT); op(OP_I32_XOR); i32c(1); op(OP_I32_AND);
  } else { // CF = bit 0, OF = CF xor bit 31
    lget(L_V); i32c(1); op(OP_I32_AND); ltee(L_ROT);
    lget(L_V); i32c(31); op(OP_I32_SHR_U); lget(L_ROT); op(OP_I32_XOR);
  }
  i32c(11); op(OP_I32_SHL); op(OP_I32_OR); lset(L_ROT);
  if (pendKind != PEND_ROTATE) { rotBaseKind = pendKind; rotBaseSize = pendSize; rotBaseCF = pendCF; }
  pendKind = PEND_ROTATE;
  return true;
}
