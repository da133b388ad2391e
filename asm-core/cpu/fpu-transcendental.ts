// The x87's transcendental instructions (cpu/fpu.ts has the map of the files), in
// double-double arithmetic from float80.ts; the host's f64 only for special operands.

import {
  f80Control, f80Status, f80Se, f80Sig, f80Class, f80Add, f80Mul, f80Div, f80Sqrt,
  FSW_IE, FSW_DE, FSW_ZE, FSW_UE, FSW_PE, FSW_C1, FSW_C2, CLS_ZERO, CLS_DENORMAL, CLS_NORMAL,
  CLS_INF, CLS_QNAN, CLS_SNAN, CLS_UNSUPPORTED, INDEF_SE, INDEF_SIG,
} from './float80';
import { f80FromF64, f80ToF64 } from './float80-convert';
import {
  ddSinCos, ddToF80, ddDiv, LN2_H, LN2_L, ddMul, ddExpm1, ddLog2, ddLog2p1, ddAtan2, f80ToDD, ddH,
  ddL, sinH, sinL, cosH, cosL,
} from './float80-dd';
import {
  FCW_INIT, J_BIT, begin, blockedPre, fcw, fsw, isEmpty, mergeStatus, pop, push, pushOver, readST,
  setFsw, stSe, stSig, stackOverflow, stackUnderflow, writeST,
} from './fpu-stack';

// ---- transcendental helpers (f64 only for special operands: zeros, infinities, signs) ----

function toHost(se: u32, sig: u64): f64 {
  const c = f80Control, s = f80Status;
  f80Control = FCW_INIT;
  const bits = f80ToF64(se, sig);
  f80Control = c; f80Status = s;
  return reinterpret<f64>(bits);
}
/** Rounds an f64 result into f80Se/f80Sig (exact) and flags it as inexact. */
function fromHost(x: f64): void {
  const s = f80Status;
  f80FromF64(reinterpret<u64>(x));
  f80Status = s | FSW_PE;
}

const LN2: f64 = 0.6931471805599453;
const TWO63: f64 = 9223372036854775808.0;

/**
 * F2XM1 FYL2X FPTAN FPATAN FSINCOS FSIN FCOS FYL2XP1: special operands as the SDM tables say,
 * finite values in double-double (float80.ts) rounded once to 64 bits: within 2 ulps of the
 * host x87 (test/cpu/fpu-diff.test.ts); the argument reduction uses the x87's 66-bit pi.
 */
export function transcendental(modrm: u32): void {
  const two = modrm == 0xf1 || modrm == 0xf3 || modrm == 0xf9; // FYL2X FPATAN FYL2XP1 use ST1
  const pushes = modrm == 0xf2 || modrm == 0xfb; // FPTAN FSINCOS push a second result
  const trig = modrm == 0xfe || modrm == 0xff || modrm == 0xfb || modrm == 0xf2;
  if (trig) setFsw(fsw() & ~FSW_C2); // C2 = 1 only for an out-of-range argument
  if (isEmpty(0) || (two && isEmpty(1))) {
    if (!stackUnderflow()) return;
    if (two) { writeST(1, INDEF_SE, INDEF_SIG); pop(); }
    else { writeST(0, INDEF_SE, INDEF_SIG); if (pushes) pushOver(INDEF_SE, INDEF_SIG); }
    return;
  }
  if (pushes && !isEmpty(7)) {
    if (!stackOverflow()) return;
    writeST(0, INDEF_SE, INDEF_SIG); pushOver(INDEF_SE, INDEF_SIG); return;
  }
  readST(0); const aSe = stSe, aSig = stSig;
  let bSe: u32 = 0, bSig: u64 = 0;
  if (two) { readST(1); bSe = stSe; bSig = stSig; }
  const ac = f80Class(aSe, aSig), bc = two ? f80Class(bSe, bSig) : CLS_NORMAL;
  begin();
  f80Control |= 3 << 8; // transcendentals ignore precision control: always 64 bits
  setFsw(fsw() & ~FSW_C1);
  // NaNs and unsupported formats
  if (ac == CLS_UNSUPPORTED || bc == CLS_UNSUPPORTED || ac == CLS_QNAN || ac == CLS_SNAN || bc == CLS_QNAN || bc == CLS_SNAN) {
    // the NaN rules of any arithmetic operation apply: one NaN is quieted (IE for an SNaN),
    // two follow table 4-7, an unsupported format gives the indefinite
    if (two) f80Add(aSe, aSig, bSe, bSig, false);
    else f80Sqrt(aSe, aSig);
    transResult(two, pushes, f80Se, f80Sig, f80Se, f80Sig);
    return;
  }
  // invalid operands (infinite angle, logarithm of a negative, 0 * inf) take precedence over DE
  const aOne = aSe == 0x3fff && aSig == J_BIT;
  let invalid = false;
  if (modrm == 0xfe || modrm == 0xff || modrm == 0xfb || modrm == 0xf2) invalid = ac == CLS_INF;
  else if (modrm == 0xf1) invalid = ((aSe & 0x8000) != 0 && ac != CLS_ZERO) || ac == CLS_ZERO || (ac == CLS_INF && bc == CLS_ZERO) || (aOne && bc == CLS_INF); // (log2 0: ZE wins too)
  else if (modrm == 0xf9) invalid = (ac == CLS_INF && (aSe & 0x8000) != 0) || (ac == CLS_ZERO && bc == CLS_INF) || (ac == CLS_INF && bc == CLS_ZERO);
  if (!invalid && (ac == CLS_DENORMAL || bc == CLS_DENORMAL)) {
    f80Status |= FSW_DE;
    if ((fcw() & 2) == 0) { mergeStatus(f80Status, 0); return; }
  }
  const a = toHost(aSe, aSig), b = two ? toHost(bSe, bSig) : 0.0;
  const aNeg = (aSe & 0x8000) != 0;
  // finite non-zero values far outside the f64 range take exact shortcuts below
  const aFinite = ac == CLS_NORMAL || ac == CLS_DENORMAL;
  const ea = aFinite ? expOf(aSe, aSig) : 0;
  switch (modrm) {
    case 0xfe: case 0xff: case 0xfb: case 0xf2: { // FSIN FCOS FSINCOS FPTAN
      if (ac == CLS_INF) { setIndef(); transResult(false, pushes, INDEF_SE, INDEF_SIG, INDEF_SE, INDEF_SIG); return; }
      if (Math.abs(a) >= TWO63) { setFsw(fsw() | FSW_C2); return; } // out of range: unchanged
      const one = 0x3fff, oneSig = J_BIT;
      if (ac == CLS_ZERO || ea < TINY_EXP) {
        // sin x = tan x = x and cos x = 1 to far below the last bit
        if (ac == CLS_ZERO) { transResult(false, modrm != 0xff && modrm != 0xfe, modrm == 0xff ? one : aSe, modrm == 0xff ? oneSig : aSig, one, oneSig); return; }
        if (modrm == 0xff) { f80Status |= FSW_PE; transResult(false, false, one, oneSig, 0, 0); return; }
        // x through the rounding (a pseudo-denormal gets exponent 1; unmasked underflow wraps);
        // sin x and tan x are a little off x, so a tiny result is inexact and underflows
        f80Mul(aSe, aSig, 0x3fff, J_BIT);
        f80Status |= FSW_PE;
        if ((f80Se & 0x7fff) == 0 && f80Sig != 0) f80Status |= FSW_UE;
        transResult(false, modrm != 0xfe, f80Se, f80Sig, one, oneSig); return; // FPTAN: x, 1; FSINCOS: sin, cos
      }
      ddSinCos(aSe, aSig);
      if (modrm == 0xfe) { ddToF80(sinH, sinL); transResult(false, false, f80Se, f80Sig, 0, 0); return; }
      if (modrm == 0xff) { ddToF80(cosH, cosL); transResult(false, false, f80Se, f80Sig, 0, 0); return; }
      if (modrm == 0xf2) { ddDiv(sinH, sinL, cosH, cosL); ddToF80(ddH, ddL); transResult(false, true, f80Se, f80Sig, one, oneSig); return; }
      const ch = cosH, cl = cosL;
      ddToF80(sinH, sinL); const sSe = f80Se, sSig = f80Sig;
      ddToF80(ch, cl); transResult(false, true, sSe, sSig, f80Se, f80Sig);
      return;
    }
    case 0xf0: { // F2XM1 (defined for -1 <= x <= 1)
      if (ac == CLS_ZERO) { transResult(false, false, aSe, aSig, 0, 0); return; }
      if (ac == CLS_INF) { if (aNeg) { f80Se = 0xbfff; f80Sig = J_BIT; } else { f80Se = aSe; f80Sig = aSig; } transResult(false, false, f80Se, f80Sig, 0, 0); return; }
      if (ea < TINY_EXP) { f80Mul(aSe, aSig, 0x3ffe, LN2_SIG); f80Status |= FSW_PE; transResult(false, false, f80Se, f80Sig, 0, 0); return; }
      f80ToDD(aSe, aSig, 0); ddMul(ddH, ddL, LN2_H, LN2_L); ddExpm1(ddH, ddL);
      ddToF80(ddH, ddL); transResult(false, false, f80Se, f80Sig, 0, 0); return;
    }
    case 0xf1: case 0xf9: { // FYL2X: ST1 * log2(ST0); FYL2XP1: ST1 * log2(ST0 + 1)
      if (modrm == 0xf1 && aNeg && ac != CLS_ZERO) { setIndef(); transResult(true, false, INDEF_SE, INDEF_SIG, 0, 0); return; }
      if (modrm == 0xf1 && ac == CLS_ZERO) {
        if (bc == CLS_ZERO) { setIndef(); transResult(true, false, INDEF_SE, INDEF_SIG, 0, 0); return; }
        if (bc != CLS_INF) f80Status |= FSW_ZE;
        f80Se = ((bSe & 0x8000) ^ 0x8000) | 0x7fff; f80Sig = J_BIT; // -inf * sign(b)
        transResult(true, false, f80Se, f80Sig, 0, 0); return;
      }
      // L = log2(a) (or log2(1 + a)), exact in range whatever a's exponent
      let L: f64;
      let lSe: u32 = 0, lSig: u64 = 0, lExact = false;
      if (ac == CLS_INF || ac == CLS_ZERO) L = modrm == 0xf1 ? Math.log2(a) : Math.log1p(a) / LN2;
      else if (modrm == 0xf9 && ea < TINY_EXP) {
        // y * x * log2(e): y * log2(e) first, x last (x may be a denormal)
        if (bc != CLS_INF && bc != CLS_ZERO) {
          const s0 = f80Status;
          f80Mul(bSe, bSig, 0x3fff, L2E_SIG); f80Mul(f80Se, f80Sig, aSe, aSig);
          f80Status |= s0 | FSW_PE;
          transResult(true, false, f80Se, f80Sig, 0, 0); return;
        }
        L = aNeg ? -1e-300 : 1e-300;
      } else {
        if (modrm == 0xf9) { f80ToDD(aSe, aSig, 0); ddLog2p1(ddH, ddL); } else ddLog2(aSe, aSig);
        L = ddH;
        if (L != 0) { const s0 = f80Status; ddToF80(ddH, ddL); f80Status = s0; lSe = f80Se; lSig = f80Sig; lExact = true; }
      }
      if (bc == CLS_INF || bc == CLS_ZERO || !isFinite(L)) { // 0, inf or invalid: signs decide
        const bs = bc == CLS_INF || bc == CLS_ZERO ? b : ((bSe & 0x8000) != 0 ? -1.0 : 1.0);
        const ls = isFinite(L) && L != 0 ? (L < 0 ? -1.0 : 1.0) : L;
        const r = bs * ls;
        if (isNaN(r)) { setIndef(); transResult(true, false, INDEF_SE, INDEF_SIG, 0, 0); return; }
        fromHost(r); f80Status &= ~FSW_PE;
        transResult(true, false, f80Se, f80Sig, 0, 0); return;
      }
      if (!lExact) { fromHost(L); if (L == 0) f80Status &= ~FSW_PE; lSe = f80Se; lSig = f80Sig; }
      const s1 = f80Status;
      f80Mul(bSe, bSig, lSe, lSig);
      f80Status |= s1 | (L == 0 ? 0 : FSW_PE);
      transResult(true, false, f80Se, f80Sig, 0, 0); return;
    }
    case 0xf3: { // FPATAN: ST1 = atan2(ST1, ST0), pop
      const bFinite = bc == CLS_NORMAL || bc == CLS_DENORMAL;
      const bNeg = (bSe & 0x8000) != 0;
      if (aFinite && bFinite) {
        const eb = expOf(bSe, bSig);
        if (ea - eb > 80 && !aNeg) { // |b/a| tiny: atan(b/a) = b/a
          const s0 = f80Status; f80Div(bSe, bSig, aSe, aSig); f80Status |= s0 | FSW_PE;
          transResult(true, false, f80Se, f80Sig, 0, 0); return;
        }
        // atan2 depends on the ratio only: both scaled by the larger exponent, as exact pairs
        const m = ea > eb ? ea : eb;
        f80ToDD(aSe, aSig, m); const xh = ddH, xl = ddL;
        f80ToDD(bSe, bSig, m);
        ddAtan2(ddH, ddL, xh, xl);
        ddToF80(ddH, ddL);
      } else { // a zero or an infinity decides (a multiple of pi/4); a finite one counts by sign
        const x = aFinite ? (aNeg ? -1.0 : 1.0) : a, y = bFinite ? (bNeg ? -1.0 : 1.0) : b;
        const q = Math.round(Math.atan2(y, x) / 0.7853981633974483);
        if (q == 0) { f80Se = bSe & 0x8000; f80Sig = 0; }
        else { ddMul(q, 0, 0.7853981633974483, 3.061616997868383e-17); ddToF80(ddH, ddL); }
      }
      if (bc == CLS_ZERO) { f80Se = (f80Se & 0x7fff) | (bSe & 0x8000); }
      transResult(true, false, f80Se, f80Sig, 0, 0); return;
    }
  }
}

/** Below 2^TINY_EXP the transcendentals are linear to far beyond 64 bits (and f64 cannot hold x). */
const TINY_EXP: i32 = -900;
const LN2_SIG: u64 = 0xb17217f7d1cf79ac; // ln 2 = 0x3ffe:LN2_SIG
const L2E_SIG: u64 = 0xb8aa3b295c17f0bc; // log2 e = 0x3fff:L2E_SIG

/** Unbiased exponent of a finite non-zero value (denormals normalized). */
function expOf(se: u32, sig: u64): i32 {
  const e = <i32>(se & 0x7fff);
  if (e == 0) return 1 - 16383 - <i32>clz(sig);
  return e - 16383;
}

@inline function setIndef(): void { f80Status |= FSW_IE; }

/** Stores a transcendental result: into ST1 and pop (two-operand), or ST0 (+ push second). */
function transResult(two: bool, pushes: bool, se: u32, sig: u64, se2: u32, sig2: u64): void {
  const s = f80Status;
  mergeStatus(s, 0);
  if (blockedPre(s)) return;
  if (two) { writeST(1, se, sig); pop(); return; }
  writeST(0, se, sig);
  if (pushes) push(se2, sig2);
}
