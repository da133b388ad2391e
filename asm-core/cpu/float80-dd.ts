// Double-double arithmetic for the x87's transcendentals (FSIN ... FYL2XP1, in
// cpu/fpu-transcendental.ts), about 106 bits (float80.ts has the 80-bit operand conventions).

import {
  BIAS, EXP_MAX, FCW_PC_SHIFT, FSW_PE, f80Add, f80Control, f80Se, f80Sig, f80Status,
} from './float80';
import { f80FromF64 } from './float80-convert';

// A value is a pair hi + lo of f64 with |lo| <= ulp(hi)/2; every 80-bit finite value inside the
// f64 exponent range is exactly such a pair (53 + 11 significand bits). Results come back in
// ddH/ddL and are rounded once to 64 bits by ddToF80. The argument reduction of FSIN/FCOS/FPTAN/
// FSINCOS uses the x87's own 66-bit pi, exactly, so large arguments agree with the hardware.

export let ddH: f64 = 0;
export let ddL: f64 = 0;

@inline function fastTwoSum(a: f64, b: f64): void { const s = a + b; ddL = b - (s - a); ddH = s; }
function twoSum(a: f64, b: f64): void {
  const s = a + b, bb = s - a;
  ddL = (a - (s - bb)) + (b - bb); ddH = s;
}
function twoProd(a: f64, b: f64): void {
  const p = a * b;
  const ta = 134217729.0 * a, ah = ta - (ta - a), al = a - ah;
  const tb = 134217729.0 * b, bh = tb - (tb - b), bl = b - bh;
  ddL = ((ah * bh - p) + ah * bl + al * bh) + al * bl; ddH = p;
}
export function ddAdd(ah: f64, al: f64, bh: f64, bl: f64): void {
  twoSum(ah, bh); const s = ddH; let e = ddL;
  twoSum(al, bl); const t = ddH, f = ddL;
  e += t; fastTwoSum(s, e); const s2 = ddH; const e2 = ddL + f;
  fastTwoSum(s2, e2);
}
export function ddMul(ah: f64, al: f64, bh: f64, bl: f64): void {
  twoProd(ah, bh); const p = ddH; const e = ddL + (ah * bl + al * bh);
  fastTwoSum(p, e);
}
export function ddDiv(ah: f64, al: f64, bh: f64, bl: f64): void {
  const q1 = ah / bh;
  ddMul(q1, 0, bh, bl); ddAdd(ah, al, -ddH, -ddL); // r = a - q1 b
  const rh = ddH, rl = ddL;
  const q2 = rh / bh;
  ddMul(q2, 0, bh, bl); ddAdd(rh, rl, -ddH, -ddL); // r -= q2 b
  const q3 = ddH / bh;
  fastTwoSum(q1, q2); ddAdd(ddH, ddL, q3, 0);
}

/** The finite value (se, sig) * 2^-scale as a pair (exact while it stays in the f64 range). */
export function f80ToDD(se: u32, sig: u64, scale: i32): void {
  let e = <i32>(se & EXP_MAX);
  if (e == 0) e = 1;
  const n = <i32>clz(sig);
  const m = sig << n;
  const k = <f64>(e - n - BIAS - 63 - scale);
  let h = <f64>(m >> 11) * Math.pow(2.0, k + 11.0);
  let l = <f64>(m & 0x7ff) * Math.pow(2.0, k);
  if ((se & 0x8000) != 0) { h = -h; l = -l; }
  fastTwoSum(h, l);
}

/** Rounds hi + lo (exact sum) to 64 bits under RC into f80Se/f80Sig; sets PE when inexact. */
export function ddToF80(h: f64, l: f64): void {
  const c = f80Control;
  f80Control = (c & ~(3 << FCW_PC_SHIFT)) | (3 << FCW_PC_SHIFT);
  f80FromF64(reinterpret<u64>(l)); const lSe = f80Se, lSig = f80Sig;
  f80FromF64(reinterpret<u64>(h));
  if (l != 0) f80Add(f80Se, f80Sig, lSe, lSig, false);
  f80Control = c;
  f80Status |= FSW_PE;
}

// 1/n! as pairs, n = 0..27
const INV_FACT_H = new StaticArray<f64>(28);
const INV_FACT_L = new StaticArray<f64>(28);
let factReady = false;
function initFact(): void {
  let fh: f64 = 1, fl: f64 = 0;
  for (let n = 0; n < 28; n++) {
    if (n > 0) { ddMul(fh, fl, <f64>n, 0); fh = ddH; fl = ddL; }
    ddDiv(1, 0, fh, fl);
    INV_FACT_H[n] = ddH; INV_FACT_L[n] = ddL;
  }
  factReady = true;
}

/** e^u - 1 for |u| <= 0.75 (Taylor, 27 terms). */
export function ddExpm1(uh: f64, ul: f64): void {
  if (!factReady) initFact();
  let ph = INV_FACT_H[27], pl = INV_FACT_L[27];
  for (let n = 26; n >= 1; n--) {
    ddMul(ph, pl, uh, ul);
    ddAdd(ddH, ddL, INV_FACT_H[n], INV_FACT_L[n]);
    ph = ddH; pl = ddL;
  }
  ddMul(ph, pl, uh, ul);
}

export let sinH: f64 = 0, sinL: f64 = 0, cosH: f64 = 0, cosL: f64 = 0;
/** sin and cos of r, |r| <= pi/4 + a little. */
function ddSinCosReduced(rh: f64, rl: f64): void {
  if (!factReady) initFact();
  ddMul(rh, rl, rh, rl); const zh = -ddH, zl = -ddL; // -r^2
  let sh = INV_FACT_H[25], sl = INV_FACT_L[25];
  for (let n = 23; n >= 1; n -= 2) { ddMul(sh, sl, zh, zl); ddAdd(ddH, ddL, INV_FACT_H[n], INV_FACT_L[n]); sh = ddH; sl = ddL; }
  ddMul(sh, sl, rh, rl); sinH = ddH; sinL = ddL;
  let ch = INV_FACT_H[26], cl = INV_FACT_L[26];
  for (let n = 24; n >= 0; n -= 2) { ddMul(ch, cl, zh, zl); ddAdd(ddH, ddL, INV_FACT_H[n], INV_FACT_L[n]); ch = ddH; cl = ddL; }
  cosH = ch; cosL = cl;
}

// pi/2 as the x87 has it: the 66-bit pi 0x3243F6A8885A308D3 * 2^-64, halved
const PIO2_HI: u64 = 0x3243F6A8885A308D; // top 62 bits of the 66-bit integer (>> 4)
const PIO2_LO4: u64 = 0x3; // its low 4 bits

/** sin and cos of a finite (se, sig) with |x| < 2^63, reduced by the x87's pi/2. */
export function ddSinCos(se: u32, sig: u64): void {
  const n = <i32>clz(sig);
  let e = <i32>(se & EXP_MAX); if (e == 0) e = 1;
  const E = e - n - BIAS; // unbiased exponent; m = sig << n, x = m * 2^(E - 63)
  const m = sig << n;
  let k: u32 = 0;
  let rh: f64, rl: f64;
  if (E < -1) { f80ToDD(se & 0x7fff, sig, 0); rh = ddH; rl = ddL; }
  else {
    // N = m * 2^(E + 2) against Q = pi/2 * 2^65 (66 bits): long division, remainder in r2:r1:r0
    const Qh: u64 = PIO2_HI >> 60, Ql: u64 = (PIO2_HI << 4) | PIO2_LO4; // Q = Qh:Ql (2 + 64 bits)
    let remH: u64 = 0, remL: u64 = 0;
    const bits = 64 + E + 2;
    for (let i = 0; i < bits; i++) {
      const bit: u64 = i < 64 ? (m >> <u64>(63 - i)) & 1 : 0;
      remH = (remH << 1) | (remL >> 63); remL = (remL << 1) | bit;
      k <<= 1;
      if (remH > Qh || (remH == Qh && remL >= Ql)) {
        const b: u64 = remL < Ql ? 1 : 0;
        remL -= Ql; remH = remH - Qh - b; k |= 1;
      }
    }
    // round the quotient to nearest: rem > Q/2 -> rem - Q (negative)
    let neg = false;
    const twoH = (remH << 1) | (remL >> 63), twoL = remL << 1;
    if (twoH > Qh || (twoH == Qh && twoL > Ql)) {
      const b: u64 = Ql < remL ? 1 : 0;
      remL = Ql - remL; remH = Qh - remH - b; neg = true; k++;
    }
    // r = rem * 2^-65, rem < 2^66: split into 53 + 13 bits, both exact in f64
    const sc = Math.pow(2.0, -65.0);
    const top = (remH << 51) | (remL >> 13);
    fastTwoSum(<f64>top * 8192.0 * sc, <f64>(remL & 0x1fff) * sc);
    rh = neg ? -ddH : ddH; rl = neg ? -ddL : ddL;
  }
  ddSinCosReduced(rh, rl);
  let sh = sinH, sl = sinL, ch = cosH, cl = cosL;
  switch (k & 3) {
    case 1: { const th = sh, tl = sl; sh = ch; sl = cl; ch = -th; cl = -tl; break; }
    case 2: { sh = -sh; sl = -sl; ch = -ch; cl = -cl; break; }
    case 3: { const th = sh, tl = sl; sh = -ch; sl = -cl; ch = th; cl = tl; break; }
  }
  if ((se & 0x8000) != 0) { sh = -sh; sl = -sl; }
  sinH = sh; sinL = sl; cosH = ch; cosL = cl;
}

export const LN2_H: f64 = 0.6931471805599453;
export const LN2_L: f64 = 2.3190468138462996e-17;

/** log2(1 + x) for a pair x with |x| < 0.5 (Newton on expm1 from the f64 estimate). */
export function ddLog2p1(xh: f64, xl: f64): void {
  const t0 = Math.log1p(xh) / LN2_H;
  ddMul(t0, 0, LN2_H, LN2_L); ddExpm1(ddH, ddL); // 2^t0 - 1
  const eh = ddH, el = ddL;
  ddAdd(eh, el, -xh, -xl); // 2^t0 - 1 - x
  const corr = ddH / ((1.0 + eh) * LN2_H);
  twoSum(t0, -corr);
}

/** log2 of a finite positive (se, sig) as a pair: the exponent plus log2 of the significand. */
export function ddLog2(se: u32, sig: u64): void {
  const n = <i32>clz(sig);
  let e = <i32>(se & EXP_MAX); if (e == 0) e = 1;
  let E = e - n - BIAS;
  // significand m in [1, 2); above sqrt 2 use m/2 so that m - 1 stays small
  f80ToDD(<u32>BIAS, sig << n, 0);
  let mh = ddH, ml = ddL;
  if (mh > 1.4142135623730951) { mh *= 0.5; ml *= 0.5; E++; }
  ddAdd(mh, ml, -1.0, 0);
  ddLog2p1(ddH, ddL);
  ddAdd(<f64>E, 0, ddH, ddL);
}

/** atan2(y, x) for pairs (Newton on x sin t - y cos t from the f64 estimate). */
export function ddAtan2(yh: f64, yl: f64, xh: f64, xl: f64): void {
  const t0 = Math.atan2(yh, xh);
  // sin/cos of t0 (|t0| <= pi): reduce by the true pi/2 in f64 pieces
  const k = Math.round(t0 / 1.5707963267948966);
  ddMul(k, 0, 1.5707963267948966, 6.123233995736766e-17);
  ddAdd(t0, 0, -ddH, -ddL);
  ddSinCosReduced(ddH, ddL);
  let sh = sinH, sl = sinL, ch = cosH, cl = cosL;
  const q = (<i32>k) & 3;
  if (q == 1) { const th = sh, tl = sl; sh = ch; sl = cl; ch = -th; cl = -tl; }
  else if (q == 2) { sh = -sh; sl = -sl; ch = -ch; cl = -cl; }
  else if (q == 3) { const th = sh, tl = sl; sh = -ch; sl = -cl; ch = th; cl = tl; }
  ddMul(xh, xl, sh, sl); const ah = ddH, al = ddL;
  ddMul(yh, yl, ch, cl);
  ddAdd(ah, al, -ddH, -ddL); // g = x sin t - y cos t
  const g = ddH;
  const dg = xh * ch + yh * sh;
  twoSum(t0, -g / dg);
}
