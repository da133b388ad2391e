// The shape of one CPU differential test case, shared by the generator, the native runner
// (test/cpu/native/harness.c reads the same binary records) and the core runner.
//
// The world a case runs in, identical natively (a 32-bit Linux process) and in the core (a tiny
// protected-mode OS image built by core-runner.ts):
//   code page  CODE_BASE  (read + execute, user): filled with 0xCC (INT3), the instruction bytes
//              at CODE_BASE + CODE_ENTRY. Whatever path the code takes, it ends on an INT3 landing,
//              which raises #BP, so "instruction completed" is just "#BP with EIP past the bytes".
//   data pages DATA_BASE  (two pages, read/write, user)
//   stack page STACK_BASE (one page, read/write, user)
// Data and stack pages are filled from the case seed (xorshift32), then the pokes are applied.
// Every other address is unmapped, so wild accesses raise #PF on both sides.

export const CODE_BASE = 0x1000_0000;
export const CODE_SIZE = 0x1000;
export const CODE_ENTRY = 0x800;
export const DATA_BASE = 0x2000_0000;
export const DATA_SIZE = 0x2000;
export const STACK_BASE = 0x3000_0000;
export const STACK_SIZE = 0x1000;

/** Flat user selectors, equal to Linux's i386 ABI values so MOV r/m,Sreg and PUSH Sreg agree. */
export const USER_CS = 0x23;
export const USER_DS = 0x2b;

export const MAX_CODE = 32;
export const MAX_POKES = 4;
export const MAX_CHANGES = 64;

/** Result vectors beyond the 32 architectural exceptions. */
export const VEC_TIMEOUT = 0x100; // never reached an end (budget / watchdog)
export const VEC_OTHER = 0x101; // an unexpected signal or a fault taken in ring 0

/** EFLAGS bits a user program can observe (RF and VM are not, bit 1 always reads 1). */
export const FLAGS_VISIBLE = 0x0024_7fd7;
export const FLAG_CF = 0x001, FLAG_PF = 0x004, FLAG_AF = 0x010, FLAG_ZF = 0x040, FLAG_SF = 0x080;
export const FLAG_TF = 0x100, FLAG_IF = 0x200, FLAG_DF = 0x400, FLAG_OF = 0x800;
export const FLAG_NT = 0x4000, FLAG_AC = 0x4_0000, FLAG_ID = 0x20_0000;
export const FLAGS_ARITH = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;

export interface Poke { addr: number; value: number; size: 1 | 2 | 4 }

export interface TestCase {
  /** Form key, e.g. "ADD Ev,Gv o32 a32": what OPCODE= matches and failures are grouped by. */
  form: string;
  code: Uint8Array;
  regs: number[]; // EAX ECX EDX EBX ESP EBP ESI EDI
  eflags: number;
  seed: number;
  pokes: Poke[];
  /** EFLAGS bits that the SDM calls undefined for this case: not compared. */
  undefFlags: number;
  /** Registers (bit i = register i) whose result is undefined: not compared. */
  undefRegs: number;
  /** A memory range whose result is undefined: [linear address, length]. */
  undefMem?: [number, number];
  /** EFLAGS bits not compared when the case ends in a fault (not at the INT3 landing). */
  undefFlagsOnFault?: number;
  /** Linear address of the ModRM memory operand, when there is one (model.ts reads it). */
  ea?: number;
}

export interface Change { addr: number; value: number }

export interface CaseResult {
  vector: number;
  /** Error code for vectors that push one (8, 10-14, 17), else 0. */
  error: number;
  eip: number;
  /** Fault address for #PF, else 0. */
  cr2: number;
  regs: number[];
  eflags: number;
  /** Total number of bytes of data/stack memory that differ from the initial image. */
  changeCount: number;
  /** The first MAX_CHANGES of them, in address order. */
  changes: Change[];
}

/** Vectors whose exception pushes an error code. */
export function hasErrorCode(v: number): boolean {
  return v === 8 || (v >= 10 && v <= 14) || v === 17;
}

// ---- memory image ----

/** The initial data + stack image for a seed (data pages first, then the stack page). */
export function memoryImage(seed: number, pokes: readonly Poke[]): Uint8Array {
  const img = new Uint8Array(DATA_SIZE + STACK_SIZE);
  const w = new Uint32Array(img.buffer);
  let x = (seed >>> 0) || 0x9e3779b9;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    w[i] = x;
  }
  for (const p of pokes) {
    for (let i = 0; i < p.size; i++) {
      const off = imageOffset(p.addr + i);
      if (off >= 0) img[off] = (p.value >>> (8 * i)) & 0xff;
    }
  }
  return img;
}

/** Offset of a linear address in the image, or -1 when it is outside data and stack. */
export function imageOffset(lin: number): number {
  lin >>>= 0;
  if (lin >= DATA_BASE && lin < DATA_BASE + DATA_SIZE) return lin - DATA_BASE;
  if (lin >= STACK_BASE && lin < STACK_BASE + STACK_SIZE) return DATA_SIZE + lin - STACK_BASE;
  return -1;
}

export function imageAddress(off: number): number {
  return off < DATA_SIZE ? DATA_BASE + off : STACK_BASE + off - DATA_SIZE;
}

/** Byte differences between two images (both produced for the same case). */
export function diffImages(before: Uint8Array, after: Uint8Array): { count: number; changes: Change[] } {
  const changes: Change[] = [];
  let count = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== after[i]) {
      if (changes.length < MAX_CHANGES) changes.push({ addr: imageAddress(i), value: after[i] });
      count++;
    }
  }
  return { count, changes };
}

// ---- binary records exchanged with the native harness (little endian u32 words) ----

export const IN_WORDS = 33; // id, len, code[8], regs[8], eflags, seed, npokes, pokes[4][3]
export const OUT_WORDS = 15 + 2 * MAX_CHANGES; // id, vector, err, eip, cr2, regs[8], eflags, nchg, chg[64][2]

export function encodeCases(cases: readonly TestCase[]): Uint8Array {
  const buf = new Uint8Array(cases.length * IN_WORDS * 4);
  const dv = new DataView(buf.buffer);
  cases.forEach((c, n) => {
    const o = n * IN_WORDS * 4;
    if (c.code.length > MAX_CODE) throw new Error(`case ${c.form}: code longer than ${MAX_CODE}`);
    if (c.pokes.length > MAX_POKES) throw new Error(`case ${c.form}: more than ${MAX_POKES} pokes`);
    dv.setUint32(o, n, true);
    dv.setUint32(o + 4, c.code.length, true);
    buf.set(c.code, o + 8);
    for (let r = 0; r < 8; r++) dv.setUint32(o + 40 + 4 * r, c.regs[r] >>> 0, true);
    dv.setUint32(o + 72, c.eflags >>> 0, true);
    dv.setUint32(o + 76, c.seed >>> 0, true);
    dv.setUint32(o + 80, c.pokes.length, true);
    c.pokes.forEach((p, i) => {
      dv.setUint32(o + 84 + 12 * i, p.addr >>> 0, true);
      dv.setUint32(o + 88 + 12 * i, p.value >>> 0, true);
      dv.setUint32(o + 92 + 12 * i, p.size, true);
    });
  });
  return buf;
}

export function decodeResults(buf: Uint8Array, count: number): CaseResult[] {
  if (buf.length < count * OUT_WORDS * 4) {
    throw new Error(`native results truncated: ${buf.length} bytes for ${count} cases`);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: CaseResult[] = new Array(count);
  for (let n = 0; n < count; n++) {
    const o = n * OUT_WORDS * 4;
    const id = dv.getUint32(o, true);
    if (id !== n) throw new Error(`native result ${n} carries id ${id}`);
    const regs: number[] = [];
    for (let r = 0; r < 8; r++) regs.push(dv.getUint32(o + 20 + 4 * r, true));
    const changeCount = dv.getUint32(o + 56, true);
    const changes: Change[] = [];
    for (let i = 0; i < Math.min(changeCount, MAX_CHANGES); i++) {
      changes.push({ addr: dv.getUint32(o + 60 + 8 * i, true), value: dv.getUint32(o + 64 + 8 * i, true) });
    }
    out[n] = {
      vector: dv.getUint32(o + 4, true),
      error: dv.getUint32(o + 8, true),
      eip: dv.getUint32(o + 12, true),
      cr2: dv.getUint32(o + 16, true),
      regs,
      eflags: dv.getUint32(o + 52, true),
      changeCount,
      changes,
    };
  }
  return out;
}
