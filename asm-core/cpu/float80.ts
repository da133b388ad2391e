// 80-bit extended-precision arithmetic as the x87 does it, in software.
//
// An operand is passed as two values: `se` (sign in bit 15, biased exponent in bits 0..14) and
// `sig` (the 64-bit significand with its explicit integer bit J in bit 63). Results come back in
// the globals f80Se/f80Sig (and f80Se2/f80Sig2 for FXTRACT). Exceptions and condition codes are
// OR-ed into f80Status in FSW bit positions; f80Control is the FCW that supplies precision
// control, rounding control and the exception masks (masked responses are produced here;
// fpu*.ts decide what an unmasked exception does to the destination).
//
// Inside, a finite non-zero value is "unpacked": an i32 exponent e and a normalized significand
// (bit 63 set) with value = sig * 2^(e - 16383 - 63). Denormals unpack with e < 1, so every
// algorithm below sees only normalized numbers; the final rounding denormalizes again.
// Nothing here touches memory.

// ---- FSW bits ----
export const FSW_IE: u32 = 0x0001; // invalid operation
export const FSW_DE: u32 = 0x0002; // denormal operand
export const FSW_ZE: u32 = 0x0004; // zero divide
export const FSW_OE: u32 = 0x0008; // overflow
export const FSW_UE: u32 = 0x0010; // underflow
export const FSW_PE: u32 = 0x0020; // precision (inexact)
export const FSW_SF: u32 = 0x0040; // stack fault
export const FSW_ES: u32 = 0x0080; // error summary
export const FSW_C0: u32 = 0x0100;
export const FSW_C1: u32 = 0x0200;
export const FSW_C2: u32 = 0x0400;
export const FSW_TOP_SHIFT: u32 = 11;
export const FSW_TOP: u32 = 0x3800;
export const FSW_C3: u32 = 0x4000;
export const FSW_B: u32 = 0x8000; // busy (mirrors ES)
export const FSW_EXC: u32 = 0x003f;

// ---- FCW bits ----
export const FCW_IM: u32 = 0x0001;
export const FCW_DM: u32 = 0x0002;
export const FCW_ZM: u32 = 0x0004;
export const FCW_OM: u32 = 0x0008;
export const FCW_UM: u32 = 0x0010;
export const FCW_PM: u32 = 0x0020;
export const FCW_PC_SHIFT: u32 = 8; // precision control: 00 = 24 bits, 10 = 53, 11 = 64
export const FCW_RC_SHIFT: u32 = 10; // rounding control
export const RC_NEAREST: u32 = 0;
export const RC_DOWN: u32 = 1;
export const RC_UP: u32 = 2;
export const RC_ZERO: u32 = 3;

// ---- operand classes ----
export const CLS_ZERO: u32 = 0;
export const CLS_DENORMAL: u32 = 1; // exponent 0 and non-zero significand (J clear, or a pseudo-denormal)
export const CLS_NORMAL: u32 = 2;
export const CLS_INF: u32 = 3;
export const CLS_QNAN: u32 = 4;
export const CLS_SNAN: u32 = 5;
export const CLS_UNSUPPORTED: u32 = 6; // unnormal, pseudo-infinity, pseudo-NaN

export const EXP_MAX: u32 = 0x7fff;
export const BIAS: i32 = 16383;
export const J_BIT: u64 = 0x8000000000000000;
export const QNAN_BIT: u64 = 0x4000000000000000;
/** The "real indefinite" QNaN that masked invalid operations produce. */
export const INDEF_SE: u32 = 0xffff;
export const INDEF_SIG: u64 = 0xc000000000000000;
/** Exponent bias adjustment of unmasked overflow/underflow results (3 * 2^13). */
const WRAP_BIAS: i32 = 24576;

export let f80Control: u32 = 0x037f;
export let f80Status: u32 = 0;
export let f80Se: u32 = 0;
export let f80Sig: u64 = 0;
export let f80Se2: u32 = 0;
export let f80Sig2: u64 = 0;

// 128-bit scratch (hi:lo) and the unpacked form of the last unpack() call.
let wHi: u64 = 0;
let wLo: u64 = 0;
export let uE: i32 = 0;
export let uSig: u64 = 0;

@inline export function rc(): u32 { return (f80Control >> FCW_RC_SHIFT) & 3; }
/** Significand bits kept under the current precision control. */
@inline function pcBits(): i32 {
  const pc = (f80Control >> FCW_PC_SHIFT) & 3;
  return pc == 0 ? 24 : pc == 2 ? 53 : 64; // 01 is reserved; the hardware treats it as 64? keep 64
}

export function f80Class(se: u32, sig: u64): u32 {
  const exp = se & EXP_MAX;
  if (exp == 0) return sig == 0 ? CLS_ZERO : CLS_DENORMAL;
  if ((sig & J_BIT) == 0) return CLS_UNSUPPORTED;
  if (exp == EXP_MAX) {
    if ((sig << 1) == 0) return CLS_INF;
    return (sig & QNAN_BIT) != 0 ? CLS_QNAN : CLS_SNAN;
  }
  return CLS_NORMAL;
}

@inline export function isNaNCls(c: u32): bool { return c == CLS_QNAN || c == CLS_SNAN; }

/** Unpacks a finite non-zero operand into uE/uSig (normalized). */
export function unpack(se: u32, sig: u64): void {
  let e = <i32>(se & EXP_MAX);
  if (e == 0) e = 1;
  const n = <i32>clz(sig);
  uSig = sig << n;
  uE = e - n;
}

@inline export function setResult(se: u32, sig: u64): void { f80Se = se; f80Sig = sig; }
@inline export function setIndefinite(): void { f80Status |= FSW_IE; f80Se = INDEF_SE; f80Sig = INDEF_SIG; }
@inline export function setZero(sign: u32): void { f80Se = sign << 15; f80Sig = 0; }
@inline export function setInf(sign: u32): void { f80Se = (sign << 15) | EXP_MAX; f80Sig = J_BIT; }

/** Packs an integer magnitude as an extended value into f80Se/f80Sig. */
export function packInt(sign: u32, m: u64): void {
  if (m == 0) { setZero(sign); return; }
  const n = <i32>clz(m);
  f80Se = (sign << 15) | <u32>(BIAS + 63 - n);
  f80Sig = m << n;
}

/** One NaN operand: an SNaN is quieted and signals IE. */
export function nan1(se: u32, sig: u64): void {
  if ((sig & QNAN_BIT) == 0) f80Status |= FSW_IE;
  setResult(se, sig | QNAN_BIT);
}

/** Two operands, at least one a NaN: the x87 rules (SDM table 4-7). */
function nan2(ase: u32, asig: u64, bse: u32, bsig: u64): void {
  const ac = f80Class(ase, asig), bc = f80Class(bse, bsig);
  const aSnan = ac == CLS_SNAN, bSnan = bc == CLS_SNAN;
  const aNan = isNaNCls(ac), bNan = isNaNCls(bc);
  if (aSnan || bSnan) f80Status |= FSW_IE;
  const aq = asig | QNAN_BIT, bq = bsig | QNAN_BIT;
  if (aNan && bNan && aSnan == bSnan) {
    // two SNaNs or two QNaNs: the larger significand; on a tie the positive one
    if (aq > bq) { setResult(ase, aq); return; }
    if (bq > aq) { setResult(bse, bq); return; }
    if (ase < bse) setResult(ase, aq); else setResult(bse, bq);
    return;
  }
  if (aNan && bNan) { // one SNaN, one QNaN: the QNaN
    if (aSnan) setResult(bse, bq); else setResult(ase, aq);
    return;
  }
  if (aNan) setResult(ase, aq); else setResult(bse, bq);
}

/**
 * Signals a denormal operand. With DE unmasked the operation stops here (the destination is
 * left alone and no other flag is raised), so the caller returns when this answers true.
 */
export function denormal(): bool {
  f80Status |= FSW_DE;
  return (f80Control & FCW_DM) == 0;
}

/**
 * Handles NaN and unsupported operands of a two-operand operation, then the denormal-operand
 * check unless `deLater` (division checks for a zero divisor first); true when done.
 */
function specials2(ase: u32, asig: u64, ac: u32, bse: u32, bsig: u64, bc: u32, deLater: bool = false): bool {
  if (ac == CLS_UNSUPPORTED || bc == CLS_UNSUPPORTED) { setIndefinite(); return true; }
  if (isNaNCls(ac) || isNaNCls(bc)) { nan2(ase, asig, bse, bsig); return true; }
  if (!deLater && (ac == CLS_DENORMAL || bc == CLS_DENORMAL)) return denormal();
  return false;
}

// ---- 128-bit helpers ----

/** wHi:wLo = a * b. */
function mul64(a: u64, b: u64): void {
  const a0 = a & 0xffffffff, a1 = a >> 32, b0 = b & 0xffffffff, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  wLo = (mid << 32) | (p00 & 0xffffffff);
  wHi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/** Shifts wHi:wLo right by n, OR-ing every bit shifted out into bit 0 (sticky). */
function shr128Sticky(n: i32): void {
  if (n <= 0) return;
  if (n >= 128) { wLo = (wHi | wLo) != 0 ? 1 : 0; wHi = 0; return; }
  if (n >= 64) {
    const sticky: u64 = (wLo != 0 || (n > 64 && (wHi << (128 - n)) != 0)) ? 1 : 0;
    wLo = (n == 64 ? wHi : wHi >> (n - 64)) | sticky;
    wHi = 0;
    return;
  }
  const sticky: u64 = (wLo << (64 - n)) != 0 ? 1 : 0;
  wLo = (wLo >> n) | (wHi << (64 - n)) | sticky;
  wHi = wHi >> n;
}

// ---- rounding ----

/** Set by roundTo when an unmasked overflow or underflow occurred (memory stores skip). */
export let f80Wrapped: bool = false;

/**
 * Rounds the unpacked value (sign, e, sig:ext), sig normalized, to `prec` significand bits in a
 * format whose normal exponents are emin..emax (expressed in the extended bias). Leaves the
 * rounded exponent in uE and significand in uSig (bit 63 clear for a denormal of the target
 * format). `wrap` is the exponent adjustment for unmasked overflow/underflow (0 for memory
 * destinations, which are then left alone by the caller).
 */
export function roundTo(sign: u32, e: i32, sig: u64, ext: u64, prec: i32, emin: i32, emax: i32, wrap: i32): void {
  const mode = rc();
  const status0 = f80Status;
  let tiny = false;
  f80Wrapped = false;
  // The x87 detects tininess after rounding: a value just below the smallest normal that
  // rounds up to it (at the destination precision, exponent unbounded) is not tiny.
  const roundsToNormal = e == emin - 1 && carriesOut(sign, sig, ext, prec, mode);
  if (e < emin) {
    if ((f80Control & FCW_UM) == 0 && !roundsToNormal) {
      // unmasked underflow: signalled even when exact; a memory destination is left alone
      f80Status |= FSW_UE;
      f80Wrapped = true;
      if (wrap == 0) { uE = e; uSig = sig; return; }
      e += wrap;
      if (e < emin) { // beyond what the bias adjustment can represent: a true zero
        f80Status |= FSW_PE;
        uE = emin; uSig = 0;
        return;
      }
    } else {
      tiny = !roundsToNormal;
      wHi = sig; wLo = ext;
      shr128Sticky(emin - e);
      sig = wHi; ext = wLo; e = emin;
    }
  }
  const shift = 64 - prec;
  let inexact: bool, roundBit: bool, rest: bool, lsb: bool;
  let mask: u64 = 0;
  if (shift == 0) {
    inexact = ext != 0;
    roundBit = (ext >> 63) != 0;
    rest = (ext << 1) != 0;
    lsb = (sig & 1) != 0;
  } else {
    mask = ((<u64>1) << shift) - 1;
    inexact = (sig & mask) != 0 || ext != 0;
    roundBit = ((sig >> (shift - 1)) & 1) != 0;
    rest = (sig & (mask >> 1)) != 0 || ext != 0;
    lsb = ((sig >> shift) & 1) != 0;
  }
  let up = false;
  if (inexact) {
    if (mode == RC_NEAREST) up = roundBit && (rest || lsb);
    else if (mode == RC_UP) up = sign == 0;
    else if (mode == RC_DOWN) up = sign != 0;
  }
  sig &= ~mask;
  if (up) {
    const before = sig;
    sig += (<u64>1) << shift;
    if (sig < before) { sig = J_BIT; e++; } // carried out of the top: 1.111.. -> 10.000..
  }
  if (inexact) {
    f80Status |= FSW_PE;
    if (tiny) f80Status |= FSW_UE;
  }
  if (up) f80Status |= FSW_C1;
  if (e > emax) {
    if ((f80Control & FCW_OM) != 0) {
      f80Status |= FSW_OE | FSW_PE;
      const toInf = mode == RC_NEAREST || (mode == RC_UP && sign == 0) || (mode == RC_DOWN && sign != 0);
      if (toInf) { e = emax + 1; sig = J_BIT; f80Status |= FSW_C1; }
      else { e = emax; sig = ~mask; f80Status &= ~FSW_C1; }
    } else {
      f80Wrapped = true;
      if (wrap == 0) { f80Status = status0 | FSW_OE; } // memory destination: only OE
      else {
        f80Status |= FSW_OE;
        e -= wrap;
        if (e > emax) { // still too large: infinity whatever the rounding mode
          f80Status |= FSW_PE | FSW_C1;
          e = emax + 1; sig = J_BIT;
        }
      }
    }
  }
  uE = e; uSig = sig;
}

/** True when rounding sig:ext to `prec` bits increments it past 2^64 (all kept bits ones). */
function carriesOut(sign: u32, sig: u64, ext: u64, prec: i32, mode: u32): bool {
  const shift = 64 - prec;
  const mask: u64 = shift == 0 ? 0 : ((<u64>1) << shift) - 1;
  if ((sig | mask) != 0xffffffffffffffff) return false;
  const inexact = (sig & mask) != 0 || ext != 0;
  if (!inexact) return false;
  if (mode == RC_NEAREST) {
    const roundBit = shift == 0 ? (ext >> 63) != 0 : ((sig >> (shift - 1)) & 1) != 0;
    return roundBit; // the kept lsb is 1, so a tie rounds up too
  }
  if (mode == RC_UP) return sign == 0;
  if (mode == RC_DOWN) return sign != 0;
  return false;
}

/** Rounds to the extended destination with precision `prec` and packs into f80Se/f80Sig. */
function roundPack(sign: u32, e: i32, sig: u64, ext: u64, prec: i32): void {
  roundTo(sign, e, sig, ext, prec, 1, 0x7ffe, WRAP_BIAS);
  const exp: u32 = (uSig & J_BIT) != 0 ? <u32>uE : 0;
  f80Se = (sign << 15) | (exp & EXP_MAX);
  f80Sig = uSig;
}

/** Normalizes (e, hi:lo) with hi:lo != 0 and rounds it. */
function normRoundPack(sign: u32, e: i32, hi: u64, lo: u64, prec: i32): void {
  if (hi == 0) { hi = lo; lo = 0; e -= 64; }
  const n = <i32>clz(hi);
  if (n != 0) { hi = (hi << n) | (lo >> (64 - n)); lo <<= n; e -= n; }
  roundPack(sign, e, hi, lo, prec);
}

// ---- arithmetic ----

/** a + b (or a - b when `sub`), rounded under PC/RC. FADD/FSUB/FSUBR. */
export function f80Add(ase: u32, asig: u64, bse: u32, bsig: u64, sub: bool): void {
  const ac = f80Class(ase, asig), bc = f80Class(bse, bsig);
  if (specials2(ase, asig, ac, bse, bsig, bc)) return;
  const as = ase >> 15;
  const bs = (bse >> 15) ^ (sub ? 1 : 0);
  if (ac == CLS_INF || bc == CLS_INF) {
    if (ac == CLS_INF && bc == CLS_INF && as != bs) { setIndefinite(); return; }
    setInf(ac == CLS_INF ? as : bs);
    return;
  }
  const prec = pcBits();
  if (ac == CLS_ZERO || bc == CLS_ZERO) {
    if (ac == CLS_ZERO && bc == CLS_ZERO) {
      setZero(as == bs ? as : (rc() == RC_DOWN ? 1 : 0));
      return;
    }
    if (ac == CLS_ZERO) { unpack(bse, bsig); roundPack(bs, uE, uSig, 0, prec); }
    else { unpack(ase, asig); roundPack(as, uE, uSig, 0, prec); }
    return;
  }
  unpack(ase, asig); let ea = uE; let sa = uSig;
  unpack(bse, bsig); let eb = uE; let sb = uSig;
  let sign = as;
  // make a the larger magnitude
  if (eb > ea || (eb == ea && sb > sa)) {
    let t = ea; ea = eb; eb = t;
    const ts = sa; sa = sb; sb = ts;
    sign = bs;
  }
  // b aligned to a in 128 bits
  wHi = sb; wLo = 0;
  shr128Sticky(ea - eb);
  const bh = wHi, bl = wLo;
  if (as == bs) {
    let lo = bl; // sa:0 + bh:bl
    let hi = sa + bh;
    if (hi < sa) { // carry: shift right one with sticky
      wHi = hi; wLo = lo;
      shr128Sticky(1);
      roundPack(sign, ea + 1, wHi | J_BIT, wLo, prec);
      return;
    }
    roundPack(sign, ea, hi, lo, prec);
    return;
  }
  const lo: u64 = 0 - bl;
  const hi: u64 = sa - bh - (bl != 0 ? 1 : 0);
  if (hi == 0 && lo == 0) { setZero(rc() == RC_DOWN ? 1 : 0); return; }
  normRoundPack(sign, ea, hi, lo, prec);
}

/** a * b, rounded under PC/RC. FMUL. */
export function f80Mul(ase: u32, asig: u64, bse: u32, bsig: u64): void {
  const ac = f80Class(ase, asig), bc = f80Class(bse, bsig);
  if (specials2(ase, asig, ac, bse, bsig, bc)) return;
  const sign = (ase ^ bse) >> 15;
  if (ac == CLS_INF || bc == CLS_INF) {
    if (ac == CLS_ZERO || bc == CLS_ZERO) { setIndefinite(); return; }
    setInf(sign); return;
  }
  if (ac == CLS_ZERO || bc == CLS_ZERO) { setZero(sign); return; }
  unpack(ase, asig); const ea = uE; const sa = uSig;
  unpack(bse, bsig); const eb = uE; const sb = uSig;
  mul64(sa, sb);
  let e = ea + eb - BIAS + 1;
  let hi = wHi, lo = wLo;
  if ((hi & J_BIT) == 0) { hi = (hi << 1) | (lo >> 63); lo <<= 1; e--; }
  roundPack(sign, e, hi, lo, pcBits());
}

/** a / b, rounded under PC/RC. FDIV/FDIVR. */
export function f80Div(ase: u32, asig: u64, bse: u32, bsig: u64): void {
  const ac = f80Class(ase, asig), bc = f80Class(bse, bsig);
  if (specials2(ase, asig, ac, bse, bsig, bc, true)) return;
  const sign = (ase ^ bse) >> 15;
  if (bc == CLS_ZERO) { // zero divide takes precedence over a denormal dividend
    if (ac == CLS_ZERO) { setIndefinite(); return; }
    if (ac != CLS_INF) { f80Status |= FSW_ZE; setInf(sign); return; }
  }
  if ((ac == CLS_DENORMAL || bc == CLS_DENORMAL) && denormal()) return;
  if (ac == CLS_INF) {
    if (bc == CLS_INF) { setIndefinite(); return; }
    setInf(sign); return;
  }
  if (bc == CLS_INF) { setZero(sign); return; }
  if (ac == CLS_ZERO) { setZero(sign); return; }
  unpack(ase, asig); const ea = uE; const sa = uSig;
  unpack(bse, bsig); const eb = uE; const sb = uSig;
  let e = ea - eb + BIAS;
  let r = sa;
  let carry = false;
  if (sa < sb) { e--; carry = true; } // work on 2*sa: the first step below doubles
  let q: u64 = 0;
  if (!carry) { r -= sb; q = 1; } // sa >= sb: leading quotient bit is 1
  else { carry = (r >> 63) != 0; r <<= 1; if (carry || r >= sb) { r -= sb; q = 1; } }
  for (let i = 0; i < 63; i++) {
    carry = (r >> 63) != 0; r <<= 1;
    q <<= 1;
    if (carry || r >= sb) { r -= sb; q |= 1; }
  }
  // one more quotient bit for rounding, the remainder for sticky
  carry = (r >> 63) != 0; r <<= 1;
  let ext: u64 = 0;
  if (carry || r >= sb) { r -= sb; ext = J_BIT; }
  if (r != 0) ext |= 1;
  roundPack(sign, e, q, ext, pcBits());
}

/** Integer square root of the 128-bit nH:nL: root in uSig, remainder != 0 / > root in flags. */
let sqrtRoundBit = false;
let sqrtSticky = false;
function isqrt128(nH: u64, nL: u64): u64 {
  // digit-by-digit, two radicand bits per root bit; rem and trial are 128-bit (rH:rL)
  let rH: u64 = 0, rL: u64 = 0, root: u64 = 0;
  for (let i = 0; i < 64; i++) {
    // rem = rem << 2 | next two bits
    rH = (rH << 2) | (rL >> 62);
    rL = (rL << 2) | (nH >> 62);
    nH = (nH << 2) | (nL >> 62);
    nL <<= 2;
    // trial = root << 2 | 1 (root < 2^63 here, so trial < 2^65)
    const tH = root >> 62, tL = (root << 2) | 1;
    root <<= 1;
    if (rH > tH || (rH == tH && rL >= tL)) {
      const b: u64 = rL < tL ? 1 : 0;
      rL -= tL; rH = rH - tH - b;
      root |= 1;
    }
  }
  // remainder R = N - root^2; the exact root lies above root + 1/2 iff R > root
  sqrtRoundBit = rH != 0 || rL > root;
  sqrtSticky = rH != 0 || rL != 0;
  return root;
}

/** sqrt(a), rounded under PC/RC. FSQRT. */
export function f80Sqrt(ase: u32, asig: u64): void {
  const c = f80Class(ase, asig);
  if (c == CLS_UNSUPPORTED) { setIndefinite(); return; }
  if (isNaNCls(c)) { nan1(ase, asig); return; }
  if (c == CLS_ZERO) { setResult(ase, asig); return; }
  if ((ase >> 15) != 0) { setIndefinite(); return; }
  if (c == CLS_DENORMAL && denormal()) return;
  if (c == CLS_INF) { setResult(ase, asig); return; }
  unpack(ase, asig);
  let E = uE - BIAS;
  // radicand M = sig (or 2*sig for an odd exponent) as a 65-bit number; N = M * 2^63
  let nH: u64, nL: u64;
  if ((E & 1) != 0) { E -= 1; nH = uSig; nL = 0; } // 2*sig*2^63 = sig*2^64
  else { nH = uSig >> 1; nL = uSig << 63; }
  const root = isqrt128(nH, nL);
  const ext: u64 = (sqrtRoundBit ? J_BIT : 0) | (sqrtSticky ? 1 : 0);
  roundPack(0, (E >> 1) + BIAS, root, ext, pcBits());
}

// ---- comparisons ----

export const CMP_GT: u32 = 0;
export const CMP_LT: u32 = 1;
export const CMP_EQ: u32 = 2;
export const CMP_UN: u32 = 3;

/** Compares a with b. `quiet` (FUCOM*): QNaNs do not signal IE. */
export function f80Compare(ase: u32, asig: u64, bse: u32, bsig: u64, quiet: bool): u32 {
  const ac = f80Class(ase, asig), bc = f80Class(bse, bsig);
  if (ac == CLS_UNSUPPORTED || bc == CLS_UNSUPPORTED) { f80Status |= FSW_IE; return CMP_UN; }
  if (isNaNCls(ac) || isNaNCls(bc)) {
    if (!quiet || ac == CLS_SNAN || bc == CLS_SNAN) f80Status |= FSW_IE;
    return CMP_UN;
  }
  if (ac == CLS_DENORMAL || bc == CLS_DENORMAL) f80Status |= FSW_DE;
  if (ac == CLS_ZERO && bc == CLS_ZERO) return CMP_EQ;
  const as = ase >> 15, bs = bse >> 15;
  if (as != bs) return as != 0 ? CMP_LT : CMP_GT;
  // same sign: compare magnitudes (infinity is the largest exponent)
  let ka: i32 = -100000, kb: i32 = -100000;
  let ma: u64 = 0, mb: u64 = 0;
  if (ac != CLS_ZERO) { if (ac == CLS_INF) { ka = 0x8000; } else { unpack(ase, asig); ka = uE; ma = uSig; } }
  if (bc != CLS_ZERO) { if (bc == CLS_INF) { kb = 0x8000; } else { unpack(bse, bsig); kb = uE; mb = uSig; } }
  if (ka == kb && ma == mb) return CMP_EQ;
  const aBigger = ka > kb || (ka == kb && ma > mb);
  return (aBigger != (as != 0)) ? CMP_GT : CMP_LT;
}

// ---- FPREM / FPREM1 ----

/**
 * Partial remainder of a by b: `ieee` selects FPREM1 (quotient rounded to nearest) over FPREM
 * (truncated). Sets C2 when the reduction is incomplete, else C0/C3/C1 = quotient bits 2/1/0.
 */
export function f80Rem(ase: u32, asig: u64, bse: u32, bsig: u64, ieee: bool): void {
  const ac = f80Class(ase, asig), bc = f80Class(bse, bsig);
  f80Status &= ~(FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3);
  if (specials2(ase, asig, ac, bse, bsig, bc, true)) return;
  if (ac == CLS_INF || bc == CLS_ZERO) { setIndefinite(); return; }
  if ((ac == CLS_DENORMAL || bc == CLS_DENORMAL) && denormal()) return;
  if (ac == CLS_ZERO || bc == CLS_INF) {
    // a comes back unchanged, except that a pseudo-denormal gets its proper exponent 1
    setResult((ase & 0x7fff) == 0 && (asig & J_BIT) != 0 ? ase | 1 : ase, asig);
    return;
  }
  unpack(ase, asig); const ea = uE; const sa = uSig;
  unpack(bse, bsig); let eb = uE; const sb = uSig;
  let sign = ase >> 15;
  let d = ea - eb;
  let partial = false;
  if (d >= 64) {
    // reduce by b * 2^(d - N); the Pentium Pro family uses N = 32 + (d mod 32)
    const n = 32 + (d & 31);
    eb += d - n;
    d = n;
    partial = true;
  }
  if (d < -1 || (d == -1 && !ieee)) { roundPack(sign, ea, sa, 0, 64); return; }
  // long division of sa * 2^d by sb, keeping the low quotient bits and the remainder
  let r = sa, q: u64 = 0;
  let re = eb; // remainder exponent: r is in units of b's significand
  if (d == -1) {
    // |a| in [b/4, b): only the rounding step below can produce a quotient of 1
    r = sa; re = ea; q = 0;
  } else {
    if (r >= sb) { r -= sb; q = 1; }
    for (let i = 0; i < d; i++) {
      const carry = (r >> 63) != 0; r <<= 1; q <<= 1;
      if (carry || r >= sb) { r -= sb; q |= 1; }
    }
  }
  if (ieee && !partial) {
    // round the quotient to nearest: compare 2r (in b units) with sb
    let up = false;
    if (d == -1) {
      // a/b = sa / (2 sb); round up when sa > sb (sa == sb impossible to tie: that is 0.5 -> even 0)
      up = sa > sb;
      if (up) {
        // r = b - a, in a's scale: sb*2 - sa
        wHi = 0; // value (2*sb - sa) may need 65 bits; compute as (sb - sa/2) in b units with sticky
        // exact: b - a = (2*sb - sa) * 2^(ea-..): do it in 128 bits
        const t = sb - (sa >> 1); // sa < 2sb since a < b
        const lowBit = sa & 1;
        // (2*sb - sa) = 2*t - lowBit
        const hi = t >> 63, lo = (t << 1) - lowBit;
        sign ^= 1;
        q = 1;
        if (hi != 0) normRoundPack(sign, ea + 1, hi, lo, 64);
        else normRoundPack(sign, ea, lo, 0, 64);
        setQuotientBits(q);
        return;
      }
      roundPack(sign, ea, sa, 0, 64);
      return;
    }
    const top = (r >> 63) != 0;
    const r2 = r << 1;
    if (top || r2 > sb || (r2 == sb && (q & 1) != 0)) {
      r = sb - r; q++; sign ^= 1;
    }
  }
  if (r == 0) { setZero(ase >> 15); }
  else normRoundPack(sign, re, r, 0, 64);
  if (partial) { f80Status |= FSW_C2; return; }
  setQuotientBits(q);
}

function setQuotientBits(q: u64): void {
  if ((q & 4) != 0) f80Status |= FSW_C0;
  if ((q & 2) != 0) f80Status |= FSW_C3;
  if ((q & 1) != 0) f80Status |= FSW_C1;
}

// ---- FSCALE / FXTRACT ----

/** a * 2^trunc(b): FSCALE (rounded to 64 bits under RC). */
export function f80Scale(ase: u32, asig: u64, bse: u32, bsig: u64): void {
  const ac = f80Class(ase, asig), bc = f80Class(bse, bsig);
  if (specials2(ase, asig, ac, bse, bsig, bc)) return;
  const as = ase >> 15, bs = bse >> 15;
  if (bc == CLS_INF) {
    if (bs == 0) {
      if (ac == CLS_ZERO) { setIndefinite(); return; }
      setInf(as); return;
    }
    if (ac == CLS_INF) { setIndefinite(); return; }
    setZero(as); return;
  }
  if (ac == CLS_INF || ac == CLS_ZERO) { setResult(ase, asig); return; }
  let n: i32 = 0;
  if (bc != CLS_ZERO) {
    unpack(bse, bsig);
    const E = uE - BIAS;
    if (E >= 0) n = E >= 17 ? 0x20000 : <i32>(uSig >> <u64>(63 - E));
    if (bs != 0) n = -n;
  }
  if (bc == CLS_ZERO) { // a zero scale returns a as it was (a pseudo-denormal gets exponent 1)
    setResult((ase & 0x7fff) == 0 && (asig & J_BIT) != 0 ? ase | 1 : ase, asig);
    return;
  }
  unpack(ase, asig);
  roundPack(as, uE + n, uSig, 0, 64);
}

/** FXTRACT: f80Se/f80Sig = significand (exponent 0), f80Se2/f80Sig2 = unbiased exponent. */
export function f80Extract(ase: u32, asig: u64): void {
  const c = f80Class(ase, asig);
  const sign = ase >> 15;
  if (c == CLS_UNSUPPORTED) { setIndefinite(); f80Se2 = INDEF_SE; f80Sig2 = INDEF_SIG; return; }
  if (isNaNCls(c)) { nan1(ase, asig); f80Se2 = f80Se; f80Sig2 = f80Sig; return; }
  if (c == CLS_ZERO) {
    f80Status |= FSW_ZE;
    f80Se2 = 0xffff; f80Sig2 = J_BIT; // -infinity
    setZero(sign); return;
  }
  if (c == CLS_INF) { setResult(ase, asig); f80Se2 = EXP_MAX; f80Sig2 = J_BIT; return; }
  if (c == CLS_DENORMAL && denormal()) return;
  unpack(ase, asig);
  const E = uE - BIAS;
  f80Se = (sign << 15) | <u32>BIAS; f80Sig = uSig;
  const m: u64 = E < 0 ? <u64>(-E) : <u64>E;
  const se = f80Se, sg = f80Sig;
  packInt(E < 0 ? 1 : 0, m);
  f80Se2 = f80Se; f80Sig2 = f80Sig;
  f80Se = se; f80Sig = sg;
}

// ---- constants (FLD1, FLDL2T, ...): stored with extra bits, rounded under RC ----

export const CONST_ONE: u32 = 0;
export const CONST_L2T: u32 = 1;
export const CONST_L2E: u32 = 2;
export const CONST_PI: u32 = 3;
export const CONST_LG2: u32 = 4;
export const CONST_LN2: u32 = 5;
export const CONST_ZERO: u32 = 6;

/** Loads a constant into f80Se/f80Sig. */
export function f80Const(k: u32): void {
  let se: u32 = 0, sig: u64 = 0, below: u32 = 0; // below: next bits after the 64th (2 bits)
  switch (k) {
    case CONST_ONE: se = 0x3fff; sig = J_BIT; break;
    case CONST_L2T: se = 0x4000; sig = 0xd49a784bcd1b8afe; below = 0x1; break;
    case CONST_L2E: se = 0x3fff; sig = 0xb8aa3b295c17f0bb; below = 0x2; break;
    case CONST_PI: se = 0x4000; sig = 0xc90fdaa22168c234; below = 0x3; break;
    case CONST_LG2: se = 0x3ffd; sig = 0x9a209a84fbcff798; below = 0x2; break;
    case CONST_LN2: se = 0x3ffe; sig = 0xb17217f7d1cf79ab; below = 0x3; break;
    default: se = 0; sig = 0; break;
  }
  f80Se = se; f80Sig = sig;
  if (below == 0) return;
  const mode = rc();
  // the 66-bit constant rounds to nearest by its 65th bit; truncation for down/zero
  if (mode == RC_NEAREST) { if ((below & 2) != 0) f80Sig++; }
  else if (mode == RC_UP) f80Sig++;
}
