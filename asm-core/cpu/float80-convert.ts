// Conversions of 80-bit values (float80.ts has the operand conventions): to and from integers
// (FRNDINT, FIST, FILD), packed BCD (FBLD, FBSTP), and the 32- and 64-bit memory formats (FLD,
// FST). Results come back in f80Se/f80Sig or as the return value.

import {
  BIAS, CLS_DENORMAL, CLS_INF, CLS_SNAN, CLS_UNSUPPORTED, CLS_ZERO, EXP_MAX, FSW_C1, FSW_IE, FSW_PE,
  J_BIT, QNAN_BIT, RC_DOWN, RC_NEAREST, RC_UP, denormal, f80Class, f80Se, f80Sig, f80Status,
  f80Wrapped, isNaNCls, nan1, rc, roundTo, packInt, setIndefinite, setInf, setResult, setZero, uE,
  uSig, unpack,
} from './float80';

// ---- integer rounding (FRNDINT, FIST, FBSTP) ----

let intInexact = false;
let intUp = false;
/**
 * Rounds the finite value (sign, unpacked e/sig) to an integer under RC; returns the magnitude.
 * Only valid for e - BIAS <= 63 (larger values are integers already and too big anyway).
 */
function roundToIntMag(sign: u32, e: i32, sig: u64): u64 {
  const E = e - BIAS;
  intInexact = false; intUp = false;
  if (E >= 63) return sig;
  let m: u64, frac: u64, half: bool, restNz: bool;
  if (E < 0) {
    m = 0;
    half = E == -1;
    restNz = E == -1 ? (sig << 1) != 0 : true;
    frac = sig;
  } else {
    const sh = 63 - E;
    m = sig >> sh;
    frac = sig << (64 - sh);
    half = (frac >> 63) != 0;
    restNz = (frac << 1) != 0;
  }
  if (frac == 0) return m;
  intInexact = true;
  const mode = rc();
  let up = false;
  if (mode == RC_NEAREST) up = half && (restNz || (m & 1) != 0);
  else if (mode == RC_UP) up = sign == 0;
  else if (mode == RC_DOWN) up = sign != 0;
  if (up) { m++; intUp = true; }
  return m;
}

/** FRNDINT. */
export function f80RoundInt(ase: u32, asig: u64): void {
  const c = f80Class(ase, asig);
  if (c == CLS_UNSUPPORTED) { setIndefinite(); return; }
  if (isNaNCls(c)) { nan1(ase, asig); return; }
  if (c == CLS_ZERO || c == CLS_INF) { setResult(ase, asig); return; }
  if (c == CLS_DENORMAL && denormal()) return;
  const sign = ase >> 15;
  unpack(ase, asig);
  if (uE - BIAS >= 63) { setResult(ase, asig); return; }
  const m = roundToIntMag(sign, uE, uSig);
  if (intInexact) f80Status |= FSW_PE;
  if (intUp) f80Status |= FSW_C1;
  packInt(sign, m);
}

/**
 * Converts to a signed integer of `bits` (16, 32, 64) under RC (FIST/FISTP). Invalid
 * (NaN, infinity, out of range) gives the integer indefinite (only the top bit set).
 */
export function f80ToInt(ase: u32, asig: u64, bits: u32): u64 {
  const c = f80Class(ase, asig);
  const indef: u64 = (<u64>1) << (bits - 1);
  if (c == CLS_UNSUPPORTED || c == CLS_INF || isNaNCls(c)) { f80Status |= FSW_IE; return indef; }
  if (c == CLS_ZERO) return 0;
  // (a denormal source does not signal DE here)
  const sign = ase >> 15;
  unpack(ase, asig);
  if (uE - BIAS >= 63) {
    // only -2^63 fits among these
    if (sign != 0 && bits == 64 && uE - BIAS == 63 && uSig == J_BIT) return J_BIT;
    f80Status |= FSW_IE; return indef;
  }
  const m = roundToIntMag(sign, uE, uSig);
  const limit: u64 = sign != 0 ? indef : indef - 1;
  if (m > limit) { f80Status |= FSW_IE; return indef; }
  if (intInexact) f80Status |= FSW_PE;
  if (intUp) f80Status |= FSW_C1;
  const v: u64 = sign != 0 ? 0 - m : m;
  return bits == 64 ? v : v & ((<u64>1 << bits) - 1);
}

/** Loads a signed 64-bit integer (exact): FILD. */
export function f80FromInt(v: i64): void {
  if (v < 0) packInt(1, <u64>(0 - v)); else packInt(0, <u64>v);
}

// ---- packed BCD (FBLD/FBSTP): 18 digits in 9 bytes, then a sign byte ----

/** FBLD: lo = bytes 0..7, hi = bytes 8..9. Invalid digits give an undefined (here: base-10 folded) value. */
export function f80FromBcd(lo: u64, hi: u32): void {
  let m: u64 = 0; // byte 8 holds digits 17 and 16
  m = m * 10 + <u64>((hi >> 4) & 0xf);
  m = m * 10 + <u64>(hi & 0xf);
  for (let i = 7; i >= 0; i--) {
    const b = <u32>(lo >> (<u64>i * 8)) & 0xff;
    m = m * 10 + <u64>(b >> 4);
    m = m * 10 + <u64>(b & 0xf);
  }
  packInt((hi >> 15) & 1, m);
}

/** FBSTP: result in f80BcdLo (bytes 0..7) and f80BcdHi (bytes 8..9). */
export let f80BcdLo: u64 = 0;
export let f80BcdHi: u32 = 0;
export function f80ToBcd(ase: u32, asig: u64): void {
  const c = f80Class(ase, asig);
  const sign = ase >> 15;
  let m: u64 = 0;
  let invalid = c == CLS_UNSUPPORTED || c == CLS_INF || isNaNCls(c);
  if (!invalid && c != CLS_ZERO) {
    unpack(ase, asig);
    if (uE - BIAS >= 63) invalid = true;
    else {
      m = roundToIntMag(sign, uE, uSig);
      if (m > 999999999999999999) invalid = true;
      else {
        if (intInexact) f80Status |= FSW_PE;
        if (intUp) f80Status |= FSW_C1;
      }
    }
  }
  if (invalid) {
    f80Status |= FSW_IE;
    f80BcdLo = 0xc000000000000000; f80BcdHi = 0xffff; // BCD indefinite
    return;
  }
  let lo: u64 = 0;
  for (let i = 0; i < 16; i++) { lo |= (m % 10) << (<u64>i * 4); m /= 10; }
  let hi: u32 = <u32>(m % 10); m /= 10;
  hi |= <u32>(m % 10) << 4;
  f80BcdLo = lo;
  f80BcdHi = hi | (sign << 15);
}

// ---- memory formats ----

/**
 * FLD of a 32- or 64-bit IEEE value, given as its sign, biased exponent and fraction moved up to
 * bits 62 and below (`expMax`, `bias`: the format's): exact; an SNaN is quieted (IE), a
 * denormal signals DE.
 */
@inline function fromIeee(sign: u32, exp: u32, frac: u64, expMax: u32, bias: u32): void {
  if (exp == expMax) {
    if (frac == 0) { setInf(sign); return; }
    if ((frac & QNAN_BIT) == 0) f80Status |= FSW_IE;
    setResult((sign << 15) | EXP_MAX, J_BIT | QNAN_BIT | frac);
    return;
  }
  if (exp == 0) {
    if (frac == 0) { setZero(sign); return; }
    denormal(); // the value is produced either way; an unmasked DE stops the caller
    const n = <i32>clz(frac);
    setResult((sign << 15) | <u32>(BIAS - <i32>bias + 1 - n), frac << n);
    return;
  }
  setResult((sign << 15) | (exp - bias + <u32>BIAS), J_BIT | frac);
}

/** FLD m32fp. */
export function f80FromF32(v: u32): void {
  fromIeee(v >> 31, (v >> 23) & 0xff, <u64>(v & 0x7fffff) << 40, 0xff, 127);
}

/** FLD m64fp. */
export function f80FromF64(v: u64): void {
  fromIeee(<u32>(v >> 63), <u32>(v >> 52) & 0x7ff, (v & 0xfffffffffffff) << 11, 0x7ff, 1023);
}

/** FST m32fp: rounds under RC to single precision. */
export function f80ToF32(ase: u32, asig: u64): u32 {
  const c = f80Class(ase, asig);
  const sign = ase >> 15;
  f80Wrapped = false;
  if (c == CLS_UNSUPPORTED) { f80Status |= FSW_IE; return 0xffc00000; }
  if (isNaNCls(c)) {
    if (c == CLS_SNAN) f80Status |= FSW_IE;
    return (sign << 31) | 0x7fc00000 | <u32>((asig >> 40) & 0x7fffff);
  }
  if (c == CLS_INF) return (sign << 31) | 0x7f800000;
  if (c == CLS_ZERO) return sign << 31;
  // (a denormal source does not signal DE here)
  unpack(ase, asig);
  roundTo(sign, uE, uSig, 0, 24, BIAS - 126, BIAS + 127, 0);
  if ((uSig & J_BIT) == 0) return (sign << 31) | <u32>(uSig >> 40);
  if (uE > BIAS + 127) return (sign << 31) | 0x7f800000;
  return (sign << 31) | (<u32>(uE - BIAS + 127) << 23) | (<u32>(uSig >> 40) & 0x7fffff);
}

/** FST m64fp: rounds under RC to double precision. */
export function f80ToF64(ase: u32, asig: u64): u64 {
  const c = f80Class(ase, asig);
  const sign = <u64>(ase >> 15) << 63;
  f80Wrapped = false;
  if (c == CLS_UNSUPPORTED) { f80Status |= FSW_IE; return 0xfff8000000000000; }
  if (isNaNCls(c)) {
    if (c == CLS_SNAN) f80Status |= FSW_IE;
    return sign | 0x7ff8000000000000 | ((asig >> 11) & 0xfffffffffffff);
  }
  if (c == CLS_INF) return sign | 0x7ff0000000000000;
  if (c == CLS_ZERO) return sign;
  unpack(ase, asig);
  roundTo(ase >> 15, uE, uSig, 0, 53, BIAS - 1022, BIAS + 1023, 0);
  if ((uSig & J_BIT) == 0) return sign | (uSig >> 11);
  if (uE > BIAS + 1023) return sign | 0x7ff0000000000000;
  return sign | (<u64>(uE - BIAS + 1023) << 52) | ((uSig >> 11) & 0xfffffffffffff);
}
