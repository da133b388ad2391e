// Test entry that exposes asm-core/cpu/float80.ts to the differential test (fpu.test.ts).
// run() performs one operation the way fpu.ts would on ST0 = a, ST1 = b, including what an
// unmasked exception leaves in the destination, so its output can be compared bit for bit with
// the host x87 running the same operation (native.c).

import {
  f80Add, f80Mul, f80Div, f80Sqrt, f80Rem, f80Scale, f80Extract, f80Compare, f80Const, f80Control,
  f80Status, f80Se, f80Sig, f80Se2, f80Sig2, f80Wrapped, FSW_IE, FSW_DE, FSW_ZE, FSW_OE, FSW_UE,
  FSW_C0, FSW_C2, FSW_C3, CMP_LT, CMP_EQ, CMP_UN,
} from '../../../asm-core/cpu/float80';
import {
  f80RoundInt, f80FromF32, f80FromF64, f80ToF32, f80ToF64, f80ToInt, f80FromInt, f80FromBcd,
  f80ToBcd, f80BcdLo, f80BcdHi,
} from '../../../asm-core/cpu/float80-convert';

export let rSe: u32 = 0;
export let rSig: u64 = 0;
export let r2Se: u32 = 0;
export let r2Sig: u64 = 0;
export let rSw: u32 = 0;

export function getRSe(): u32 { return rSe; }
export function getRSig(): u64 { return rSig; }
export function getR2Se(): u32 { return r2Se; }
export function getR2Sig(): u64 { return r2Sig; }
export function getSw(): u32 { return rSw; }

export const OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3, OP_SQRT = 4, OP_PREM = 5, OP_PREM1 = 6,
  OP_RNDINT = 7, OP_SCALE = 8, OP_XTRACT = 9, OP_COM = 10, OP_UCOM = 11, OP_LD32 = 12, OP_LD64 = 13,
  OP_ST32 = 14, OP_ST64 = 15, OP_IST16 = 16, OP_IST32 = 17, OP_IST64 = 18, OP_BLD = 19, OP_BSTP = 20,
  OP_ILD64 = 21, OP_CONST = 22;

/** Unmasked exception bits that stop an operation from writing its destination. */
function blocked(pre: bool): bool {
  const unmasked = ~f80Control & f80Status & 0x3f;
  return (unmasked & (FSW_IE | FSW_DE | FSW_ZE)) != 0 || (!pre && (unmasked & (FSW_OE | FSW_UE)) != 0);
}

export function run(op: u32, cw: u32, ase: u32, asig: u64, bse: u32, bsig: u64): void {
  f80Control = cw;
  f80Status = 0;
  // defaults: the destination keeps its old value (ST0 = a, second result = b / memory = b)
  rSe = ase; rSig = asig; r2Se = bse; r2Sig = bsig;
  switch (op) {
    case OP_ADD: f80Add(ase, asig, bse, bsig, false); break;
    case OP_SUB: f80Add(ase, asig, bse, bsig, true); break;
    case OP_MUL: f80Mul(ase, asig, bse, bsig); break;
    case OP_DIV: f80Div(ase, asig, bse, bsig); break;
    case OP_SQRT: f80Sqrt(ase, asig); break;
    case OP_PREM: f80Rem(ase, asig, bse, bsig, false); break;
    case OP_PREM1: f80Rem(ase, asig, bse, bsig, true); break;
    case OP_RNDINT: f80RoundInt(ase, asig); break;
    case OP_SCALE: f80Scale(ase, asig, bse, bsig); break;
    case OP_XTRACT:
      f80Extract(ase, asig);
      if (!blocked(true)) { rSe = f80Se; rSig = f80Sig; r2Se = f80Se2; r2Sig = f80Sig2; }
      rSw = f80Status;
      return;
    case OP_COM: case OP_UCOM: {
      const r = f80Compare(ase, asig, bse, bsig, op == OP_UCOM);
      if (r == CMP_LT) f80Status |= FSW_C0;
      else if (r == CMP_EQ) f80Status |= FSW_C3;
      else if (r == CMP_UN) f80Status |= FSW_C0 | FSW_C2 | FSW_C3;
      rSw = f80Status;
      return;
    }
    case OP_LD32: case OP_LD64: case OP_ILD64: case OP_BLD: case OP_CONST:
      if (op == OP_LD32) f80FromF32(<u32>asig);
      else if (op == OP_LD64) f80FromF64(asig);
      else if (op == OP_ILD64) f80FromInt(<i64>asig);
      else if (op == OP_BLD) f80FromBcd(asig, ase);
      else f80Const(<u32>asig);
      rSw = f80Status;
      if (!blocked(true)) { rSe = f80Se; rSig = f80Sig; }
      // nothing was pushed: native.c's FSTP then pops an empty register (masked IE: indefinite)
      else if ((cw & 1) != 0) { rSe = 0xffff; rSig = 0xc000000000000000; }
      else { rSe = 0; rSig = 0; }
      return;
    case OP_ST32: case OP_ST64: case OP_IST16: case OP_IST32: case OP_IST64: case OP_BSTP: {
      // memory destinations: r = stored bits, or b when the store did not happen
      let v: u64 = 0, hi: u32 = 0;
      if (op == OP_ST32) v = <u64>f80ToF32(ase, asig);
      else if (op == OP_ST64) v = f80ToF64(ase, asig);
      else if (op == OP_IST16) v = f80ToInt(ase, asig, 16);
      else if (op == OP_IST32) v = f80ToInt(ase, asig, 32);
      else if (op == OP_IST64) v = f80ToInt(ase, asig, 64);
      else { f80ToBcd(ase, asig); v = f80BcdLo; hi = f80BcdHi; }
      rSw = f80Status;
      if (!blocked(false)) { rSe = hi; rSig = v; }
      else if (op == OP_BSTP) { rSe = bse & 0xffff; rSig = bsig; }
      else {
        rSe = 0;
        rSig = op == OP_ST32 || op == OP_IST32 ? bsig & 0xffffffff : op == OP_IST16 ? bsig & 0xffff : bsig;
      }
      return;
    }
  }
  rSw = f80Status;
  if (!blocked(true)) { rSe = f80Se; rSig = f80Sig; }
}
