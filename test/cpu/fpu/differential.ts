// Differential harness for asm-core/cpu/float80.ts: generates x87 test vectors, runs them on the
// host's own x87 (native.c, built here with gcc -m32) and through float80.ts compiled to Wasm
// (f80-entry.ts), and lists every case where the two disagree in a single bit.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const OP = {
  ADD: 0, SUB: 1, MUL: 2, DIV: 3, SQRT: 4, PREM: 5, PREM1: 6, RNDINT: 7, SCALE: 8, XTRACT: 9,
  COM: 10, UCOM: 11, LD32: 12, LD64: 13, ST32: 14, ST64: 15, IST16: 16, IST32: 17, IST64: 18,
  BLD: 19, BSTP: 20, ILD64: 21, CONST: 22,
} as const;

export interface Vector { op: number; cw: number; ase: number; asig: bigint; bse: number; bsig: bigint }
export interface Outcome { rse: number; rsig: bigint; r2se: number; r2sig: bigint; sw: number }

/** Status bits compared: C3 C2 C1 C0, SF and the six exception flags (TOP and ES belong to fpu.ts). */
export const SW_COMPARED = 0x477f;

// ---- deterministic random numbers (xorshift128+) ----
export class Rng {
  private s0: bigint;
  private s1: bigint;
  constructor(seed: number) {
    this.s0 = BigInt(seed) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn | 1n;
    this.s1 = 0x6a09e667f3bcc909n ^ BigInt(seed);
    for (let i = 0; i < 8; i++) this.u64();
  }
  u64(): bigint {
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= (x << 23n) & 0xffffffffffffffffn;
    this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (this.s1 + y) & 0xffffffffffffffffn;
  }
  int(n: number): number { return Number(this.u64() % BigInt(n)); }
  chance(p: number): boolean { return this.int(1_000_000) < p * 1_000_000; }
}

const J = 1n << 63n;
const M64 = (1n << 64n) - 1n;

/** A significand with structure: random, sparse, runs of ones/zeros, or halfway for a precision. */
function genSig(r: Rng): bigint {
  switch (r.int(8)) {
    case 0: return J | (r.u64() & r.u64() & r.u64()); // sparse
    case 1: return J | ((M64 >> BigInt(r.int(64))) & M64); // trailing ones
    case 2: return J | ((r.u64() >> BigInt(r.int(64))) << BigInt(r.int(64)) & M64); // shifted chunk
    case 3: { // exactly halfway (or next to it) for 24/53/64-bit rounding
      const keep = [24, 53, 63][r.int(3)];
      const below = 64n - BigInt(keep);
      let s = (J | r.u64()) >> below << below;
      s |= 1n << (below - 1n);
      if (r.chance(0.3)) s += BigInt(r.int(3)) - 1n;
      return (s & M64) | J;
    }
    case 4: return J | (M64 >> 1n) & ~(M64 >> BigInt(1 + r.int(63)));
    default: return J | r.u64();
  }
}

/** An 80-bit operand; `center` biases the exponent. */
export function genF80(r: Rng, center = 16383, spread = 70): [number, bigint] {
  const sign = r.chance(0.5) ? 0x8000 : 0;
  const k = r.int(100);
  if (k < 4) return [sign, 0n];
  if (k < 10) { // denormal (a few pseudo-denormals)
    const s = r.u64() >> BigInt(1 + r.int(63));
    return [sign, r.chance(0.15) ? s | J : s || 1n];
  }
  if (k < 13) return [sign | 0x7fff, J];
  if (k < 16) return [sign | 0x7fff, J | (1n << 62n) | (r.chance(0.5) ? r.u64() >> 2n : 0n)];
  if (k < 19) return [sign | 0x7fff, J | ((r.u64() >> 2n) || 1n)]; // SNaN
  if (k < 20) { // unsupported: unnormal, pseudo-infinity, pseudo-NaN
    const e = r.chance(0.5) ? 0x7fff : 1 + r.int(0x7ffe);
    return [sign | e, r.u64() >> 1n];
  }
  let e: number;
  const w = r.int(10);
  if (w < 6) e = center + r.int(2 * spread + 1) - spread;
  else if (w < 7) e = 1 + r.int(140);
  else if (w < 8) e = 0x7ffe - r.int(140);
  else e = 1 + r.int(0x7ffe);
  e = Math.max(1, Math.min(0x7ffe, e));
  return [sign | e, genSig(r)];
}

/** b for a two-operand operation: often close to a so that cancellation and ties happen. */
function genRelated(r: Rng, ase: number, asig: bigint, maxDiff: number): [number, bigint] {
  const k = r.int(10);
  const e = ase & 0x7fff;
  if (k < 4 && e > 0 && e < 0x7fff) {
    const ne = Math.max(1, Math.min(0x7ffe, e + r.int(2 * maxDiff + 1) - maxDiff));
    const sign = r.chance(0.5) ? 0x8000 : 0;
    const sig = r.chance(0.3) ? (asig ^ (1n << BigInt(r.int(63)))) | J : genSig(r);
    return [sign | ne, sig];
  }
  if (k < 5) return [ase ^ (r.chance(0.5) ? 0x8000 : 0), asig];
  return genF80(r);
}

export function genCw(r: Rng): number {
  const pc = [0, 2, 3, 3][r.int(4)];
  const rc = r.int(4);
  const masks = r.chance(0.75) ? 0x3f : r.int(64);
  return 0x40 | masks | (pc << 8) | (rc << 10);
}

const bcdDigits = (r: Rng): bigint => {
  let v = 0n;
  const n = 1 + r.int(18);
  for (let i = 0; i < n; i++) v = (v << 4n) | BigInt(r.int(10));
  return v;
};

/** n vectors for one operation. */
export function genVectors(op: number, n: number, seed: number): Vector[] {
  const r = new Rng(seed * 101 + op);
  const out: Vector[] = [];
  for (let i = 0; i < n; i++) {
    const cw = genCw(r);
    let a: [number, bigint], b: [number, bigint] = genF80(r);
    switch (op) {
      case OP.ADD: case OP.SUB:
        a = genF80(r); b = genRelated(r, a[0], a[1], 70); break;
      case OP.MUL: case OP.DIV:
        a = genF80(r, r.chance(0.3) ? 16383 + (r.chance(0.5) ? 8200 : -8200) : 16383, 200);
        b = genRelated(r, a[0], a[1], 200); break;
      case OP.SQRT: a = genF80(r); if (r.chance(0.8)) a[0] &= 0x7fff; break;
      case OP.PREM: case OP.PREM1:
        a = genF80(r, 16383, 40);
        b = genRelated(r, a[0], a[1], r.chance(0.7) ? 66 : 20000); break;
      case OP.RNDINT: case OP.IST16: case OP.IST32: case OP.IST64: case OP.BSTP:
        a = genF80(r, 16383 + 30, 36); break;
      case OP.SCALE: {
        a = genF80(r, 16383, 8000);
        const sc = r.chance(0.8) ? r.int(140000) - 70000 : r.int(40) - 20;
        if (r.chance(0.8)) {
          const m = BigInt(Math.abs(sc)) * 4n + BigInt(r.int(4)); // with a fraction of .0/.25/.5/.75
          if (m === 0n) b = [0, 0n];
          else {
            const shift = 64 - m.toString(2).length;
            b = [(sc < 0 ? 0x8000 : 0) | (16383 + 63 - shift - 2), (m << BigInt(shift)) & M64];
          }
        }
        break;
      }
      case OP.ST32: a = genF80(r, 16383 + (r.chance(0.5) ? 127 : -126), 30); b = [0, r.u64() & 0xffffffffn]; break;
      case OP.ST64: a = genF80(r, 16383 + (r.chance(0.5) ? 1023 : -1022), 60); b = [0, r.u64()]; break;
      case OP.LD32: a = [0, r.chance(0.5) ? r.u64() & 0xffffffffn : (r.u64() & 0x807fffffn) | (r.chance(0.5) ? 0x7f800000n : 0n)]; break;
      case OP.LD64: a = [0, r.chance(0.5) ? r.u64() : (r.u64() & 0x800fffffffffffffn) | (r.chance(0.5) ? 0x7ff0000000000000n : 0n)]; break;
      case OP.ILD64: a = [0, r.u64() >> BigInt(r.int(64))]; break;
      case OP.BLD: { const d = bcdDigits(r); a = [Number(d >> 64n) | (r.chance(0.5) ? 0x8000 : 0), d & M64]; break; }
      case OP.CONST: a = [0, BigInt(r.int(7))]; break;
      default: a = genF80(r); b = genRelated(r, a[0], a[1], 3); break;
    }
    if (op === OP.IST16 || op === OP.IST32 || op === OP.IST64) {
      const width = op === OP.IST16 ? 16 : op === OP.IST32 ? 32 : 64;
      if (r.chance(0.7)) a = genF80(r, 16383 + width - 1, 4);
      b = [0, r.u64() & ((1n << BigInt(width)) - 1n)];
    }
    if (op === OP.BSTP) { if (r.chance(0.3)) a = genF80(r, 16383 + 59, 3); b = [r.int(0x10000), r.u64()]; }
    // a load that is blocked by an unmasked exception leaves nothing to pop; keep IE and DE masked
    let cw2 = cw;
    if (op === OP.LD32 || op === OP.LD64 || op === OP.ILD64 || op === OP.BLD || op === OP.CONST) cw2 |= 3;
    out.push({ op, cw: cw2, ase: a[0], asig: a[1], bse: b[0], bsig: b[1] });
  }
  return out;
}

const hex = (v: number | bigint) => v.toString(16);

export class Reference {
  private dir = mkdtempSync(join(tmpdir(), 'webx86-fpu-'));
  private exe = join(this.dir, 'native');
  constructor() {
    execFileSync('gcc', ['-m32', '-O1', '-o', this.exe, join(here, 'native.c')]);
  }
  run(vs: Vector[]): Outcome[] {
    const input = vs.map((v) => [v.op, v.cw, v.ase, v.asig, v.bse, v.bsig].map(hex).join(' ')).join('\n') + '\n';
    const text = execFileSync(this.exe, { input, maxBuffer: 1 << 30 }).toString();
    return text.trim().split('\n').map((l) => {
      const [rse, rsig, r2se, r2sig, sw] = l.split(' ');
      return { rse: parseInt(rse, 16), rsig: BigInt('0x' + rsig), r2se: parseInt(r2se, 16), r2sig: BigInt('0x' + r2sig), sw: parseInt(sw, 16) };
    });
  }
  dispose(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

export interface F80Module {
  run(op: number, cw: number, ase: number, asig: bigint, bse: number, bsig: bigint): void;
  getRSe(): number; getRSig(): bigint; getR2Se(): number; getR2Sig(): bigint; getSw(): number;
}

/** Compiles f80-entry.ts (and with it asm-core/cpu/float80.ts) and instantiates it. */
export async function loadFloat80(): Promise<F80Module> {
  const asc = (await import('assemblyscript/asc')).default;
  const dir = mkdtempSync(join(tmpdir(), 'webx86-f80-'));
  const outFile = join(dir, 'f80.wasm');
  const { error, stderr } = await asc.main([join(here, 'f80-entry.ts'), '--outFile', outFile, '--runtime', 'stub', '-O3']);
  if (error) throw new Error(`asc failed: ${stderr.toString()}`);
  const bytes = readFileSync(outFile);
  rmSync(dir, { recursive: true, force: true });
  const { instance } = await WebAssembly.instantiate(bytes, { env: { abort: () => { throw new Error('abort'); } } });
  return instance.exports as unknown as F80Module;
}

export function runWasm(m: F80Module, vs: Vector[]): Outcome[] {
  return vs.map((v) => {
    m.run(v.op, v.cw, v.ase, v.asig, v.bse, v.bsig);
    return { rse: m.getRSe() & 0xffff, rsig: BigInt.asUintN(64, m.getRSig()), r2se: m.getR2Se() & 0xffff, r2sig: BigInt.asUintN(64, m.getR2Sig()), sw: m.getSw() };
  });
}

export function describe(v: Vector, want: Outcome, got: Outcome): string {
  const f = (o: Outcome) => `${hex(o.rse)}:${hex(o.rsig)} ${hex(o.r2se)}:${hex(o.r2sig)} sw=${hex(o.sw & SW_COMPARED)}`;
  return `op=${v.op} cw=${hex(v.cw)} a=${hex(v.ase)}:${hex(v.asig)} b=${hex(v.bse)}:${hex(v.bsig)}\n   x87:   ${f(want)}\n   float80: ${f(got)}`;
}

export function same(a: Outcome, b: Outcome): boolean {
  return a.rse === b.rse && a.rsig === b.rsig && a.r2se === b.r2se && a.r2sig === b.r2sig &&
    (a.sw & SW_COMPARED) === (b.sw & SW_COMPARED);
}

/**
 * model.ts 'fprem-denormal-underflow': FPREM/FPREM1 gave back a denormal dividend unchanged with
 * only DE (Intel), where the host also signalled #U and delivered the significand normalized with
 * the exponent biased by 24576, as an unmasked underflow does (AMD). True only for that pair.
 */
export function premUnderflowDiffers(v: Vector, host: Outcome, core: Outcome): boolean {
  const UE = 0x10, DE = 0x02, UM = 0x10;
  if ((v.op !== OP.PREM && v.op !== OP.PREM1) || (v.cw & UM) !== 0) return false;
  if ((v.ase & 0x7fff) !== 0 || v.asig === 0n || v.asig >> 63n !== 0n) return false; // a denormal
  if (core.rse !== v.ase || core.rsig !== v.asig || (core.sw & (UE | DE)) !== DE) return false;
  let shift = 0;
  while ((v.asig << BigInt(shift)) >> 63n === 0n) shift++;
  const biased = ((v.ase & 0x8000) | (1 - shift + 0x6000)) >>> 0;
  return host.rse === biased && host.rsig === (v.asig << BigInt(shift)) && host.r2se === core.r2se && host.r2sig === core.r2sig &&
    (host.sw & SW_COMPARED) === ((core.sw | UE) & SW_COMPARED);
}
