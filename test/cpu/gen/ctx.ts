// The working state of one test case while the generator builds it: inputs, the decoded shape
// of the instruction (operand size, address size, ModRM operand) and what the form marks
// undefined. Form hooks in forms.ts read and adjust it.

import {
  CODE_BASE, CODE_ENTRY, CODE_SIZE, DATA_BASE, DATA_SIZE, type Poke, STACK_BASE, STACK_SIZE,
  imageOffset, memoryImage,
} from './case.js';

export type Size = 8 | 16 | 32;

/** Small seeded PRNG (xorshift128): cases are a pure function of the seed. */
export class Rng {
  private a: number; private b: number; private c: number; private d: number;
  constructor(seed: number) {
    this.a = seed >>> 0 || 1; this.b = 0x9e3779b9; this.c = 0x243f6a88; this.d = 0xb7e15162;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32(): number {
    let t = this.d;
    const s = this.a;
    this.d = this.c; this.c = this.b; this.b = s;
    t ^= t << 11; t ^= t >>> 8;
    this.a = (t ^ s ^ (s >>> 19)) >>> 0;
    return this.a;
  }
  /** Integer in [0, n). */
  int(n: number): number { return Math.floor((this.u32() / 0x1_0000_0000) * n); }
  chance(p: number): boolean { return this.u32() / 0x1_0000_0000 < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
}

export function mask(size: Size): number { return size === 32 ? 0xffff_ffff : (1 << size) - 1; }

/** Sign boundaries and other values where flag logic tends to break. */
export function edgeValue(rng: Rng, size: Size): number {
  const m = mask(size);
  const top = size === 32 ? 0x8000_0000 : 1 << (size - 1);
  const v = rng.pick([0, 1, 2, m, m - 1, top - 1, top, top + 1, top - 2, 0x0f, 0x10, 0x7f, 0x80, 0xff, 0x100, 0x8000, 0xffff, 0x5555_5555, 0xaaaa_aaaa]);
  return (v & m) >>> 0;
}

/** A value of the given size: half edge cases, half uniformly random. */
export function operandValue(rng: Rng, size: Size): number {
  return rng.chance(0.5) ? edgeValue(rng, size) : (rng.u32() & mask(size)) >>> 0;
}

/** A code target for branches: mostly an INT3 landing in the code page, sometimes unmapped. */
export function branchTarget(rng: Rng, avoidFrom: number, avoidTo: number): number {
  if (rng.chance(0.1)) {
    // Unmapped on both sides (never a host library: see harness.c check_address_space).
    return rng.chance(0.5) ? 0x1000_1000 + rng.int(0x0fff_e000) : 0x2000_2000 + rng.int(0x0fff_e000);
  }
  for (;;) {
    const t = CODE_BASE + rng.int(CODE_SIZE);
    if (t < avoidFrom || t >= avoidTo) return t >>> 0;
  }
}

export const INSN_START = CODE_BASE + CODE_ENTRY;

export class Ctx {
  regs: number[] = [];
  eflags = 0x202;
  pokes: Poke[] = [];
  /** Registers whose values the form has fixed: the address solver must not change them. */
  pinned = new Set<number>();
  /** ModRM reg field (register number or /digit). */
  regField = 0;
  /** r/m operand: a register, or memory at `ea` (linear). */
  rmIsReg = true;
  rmReg = 0;
  ea = 0;
  /** Registers that take part in the memory operand's address. */
  addrRegs: number[] = [];
  /** The memory operand's address from the registers as they are now (a setup hook may move one). */
  eaOf: (() => number) | undefined;
  /** Immediate value(s) the form chose in setup (else the generator picks). */
  imm: number | undefined;
  imm2: number | undefined;
  /** Relative branch target (absolute) chosen by the generator for rel forms. */
  target = 0;
  undefFlags = 0;
  undefRegs = 0;
  undefMem: [number, number] | undefined;
  /** Flags not compared when the case ends in a fault rather than at the INT3 landing. */
  undefFlagsOnFault = 0;
  /** The REP/REPE/REPNE prefix byte, or 0. */
  repPrefix = 0;
  /** Extra name detail (e.g. "rep", "a16") added to the form key. */
  tags: string[] = [];
  private image: Uint8Array | null = null;

  constructor(readonly rng: Rng, readonly seed: number, public size: Size, public asize: 16 | 32) {}

  reg(r: number, size: Size = this.size): number {
    if (size === 8) return r < 4 ? this.regs[r] & 0xff : (this.regs[r - 4] >>> 8) & 0xff;
    return (this.regs[r] & mask(size)) >>> 0;
  }
  setReg(r: number, v: number, size: Size = this.size): void {
    if (size === 8) {
      if (r < 4) this.regs[r] = ((this.regs[r] & ~0xff) | (v & 0xff)) >>> 0;
      else this.regs[r - 4] = ((this.regs[r - 4] & ~0xff00) | ((v & 0xff) << 8)) >>> 0;
    } else if (size === 16) {
      this.regs[r] = ((this.regs[r] & 0xffff_0000) | (v & 0xffff)) >>> 0;
    } else {
      this.regs[r] = v >>> 0;
    }
  }
  /** Fix a full 32-bit register and keep the address solver off it. */
  pin(r: number, v: number): void { this.regs[r] = v >>> 0; this.pinned.add(r); }

  poke(addr: number, value: number, size: 1 | 2 | 4): void {
    this.pokes.push({ addr: addr >>> 0, value: value >>> 0, size });
    this.image = null;
  }
  /** Read initial memory (after pokes so far); unmapped bytes read as 0. */
  mem(addr: number, size: Size): number {
    this.image ??= memoryImage(this.seed, this.pokes);
    let v = 0;
    for (let i = 0; i < size / 8; i++) {
      const off = imageOffset(addr + i);
      v += (off < 0 ? 0 : this.image[off]) * 2 ** (8 * i);
    }
    return v >>> 0;
  }
  /** The r/m operand's initial value. */
  rm(size: Size = this.size): number { return this.rmIsReg ? this.reg(this.rmReg, size) : this.mem(this.ea, size); }
  /** The reg-field operand's initial value. */
  regOp(size: Size = this.size): number { return this.reg(this.regField, size); }

  /** A random address in the data pages with room for `len` bytes, or near a page edge. */
  dataAddress(len: number): number {
    const r = this.rng.int(100);
    if (r < 8) return DATA_BASE + 0x1000 - this.rng.int(len + 1); // crosses into the second page
    if (r < 12) return DATA_BASE + DATA_SIZE - 1 - this.rng.int(len); // crosses into unmapped space
    if (r < 20) return STACK_BASE + 0x100 + this.rng.int(STACK_SIZE - 0x200);
    return DATA_BASE + this.rng.int(DATA_SIZE - len);
  }

  undefinedFlags(f: number): void { this.undefFlags |= f; }
  undefinedReg(r: number): void { this.undefRegs |= 1 << r; }
}
