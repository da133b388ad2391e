// Differential test of asm-core/cpu/fpu*.ts: random x87 instruction sequences run on the host
// (seq.c, gcc -m32) and through fpuExecute in the core's Wasm (fpu-entry.ts), then the FNSAVE
// image, the memory buffer and EFLAGS are compared. Exceptions stay masked (an unmasked one
// would trap the host process); FIP/FDP/FOP are left out (the host's are its own addresses, and
// recent CPUs no longer track FOP/FDP outside exceptions).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, genF80 } from './differential';

const here = dirname(fileURLToPath(import.meta.url));

export interface Insn { op: number; modrm: number; off: number }
export interface Sequence { eflags: number; buf: Uint8Array; insns: Insn[] }

const m = (op: number, reg: number, off: number): Insn => ({ op, modrm: reg << 3, off });
const r = (op: number, modrm: number): Insn => ({ op, modrm, off: 0 });

/** One random instruction (register or memory form) that a 32-bit user program may run. */
function genInsn(g: Rng): Insn {
  const off = g.int(24) * 10; // 10-byte slots inside the 256-byte buffer
  const i = g.int(8);
  switch (g.int(18)) {
    case 0: case 1: return [m(0xd9, 0, off), m(0xdd, 0, off), m(0xdb, 5, off), m(0xdf, 5, off), m(0xdb, 0, off), m(0xdf, 0, off)][g.int(6)];
    case 2: return r(0xd9, 0xe8 + g.int(7)); // constants
    case 3: return r(0xd9, 0xc0 + i); // FLD ST(i)
    case 4: return g.chance(0.3) ? r(0xde, [0xc0, 0xc8, 0xe0, 0xe8, 0xf0, 0xf8][g.int(6)] + i) : r([0xd8, 0xdc][g.int(2)], 0xc0 + g.int(64));
    case 5: return m([0xd8, 0xdc, 0xda, 0xde][g.int(4)], g.int(8), off); // arithmetic with memory
    case 6: return [m(0xd9, 2, off), m(0xd9, 3, off), m(0xdd, 2, off), m(0xdd, 3, off), m(0xdb, 7, off), m(0xdb, 2, off),
      m(0xdb, 3, off), m(0xdf, 2, off), m(0xdf, 3, off), m(0xdf, 7, off), m(0xdf, 6, off)][g.int(11)]; // stores
    case 7: return r(0xd9, [0xe0, 0xe1, 0xe4, 0xe5, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xfa, 0xfc, 0xfd][g.int(12)]);
    case 8: return r(0xd9, 0xc8 + i); // FXCH
    case 9: return r(0xdd, [0xc0, 0xd0, 0xd8, 0xe0, 0xe8][g.int(5)] + i); // FFREE FST FSTP FUCOM FUCOMP
    case 10: return g.chance(0.5) ? r(0xda, 0xe9) : r(0xde, 0xd9); // FUCOMPP FCOMPP
    case 11: return r([0xdb, 0xdf][g.int(2)], [0xe8, 0xf0][g.int(2)] + i); // FCOMI family
    case 12: return r([0xda, 0xdb][g.int(2)], 0xc0 + g.int(32)); // FCMOVcc
    case 13: return g.chance(0.3) ? r(0xdb, 0xe2) : m(0xdd, 7, off); // FNCLEX, FNSTSW m16
    case 14: return m(0xd9, 7, off); // FNSTCW
    case 15: return g.chance(0.5) ? m(0xdf, 4, off) : r(0xdf, 0xc0 + i); // FBLD, FFREEP
    case 16: // reserved aliases: FCOM2 FCOMP3 FCOMP5 FXCH4 FXCH7 FSTP1 FSTP8 FSTP9
      { const k = g.int(8); return r([0xdc, 0xdc, 0xde, 0xdd, 0xdf, 0xd9, 0xdf, 0xdf][k], [0xd0, 0xd8, 0xd0, 0xc8, 0xc8, 0xd8, 0xd0, 0xd8][k] + i); }
    default: return r(0xd9, 0xc0 + i);
  }
}

export function genSequences(n: number, seed: number): Sequence[] {
  const g = new Rng(seed * 7919 + 17);
  const out: Sequence[] = [];
  for (let k = 0; k < n; k++) {
    const buf = new Uint8Array(256);
    for (let j = 0; j < 240; j += 10) {
      const [se, sig] = genF80(g);
      const kind = g.int(4);
      const dv = new DataView(buf.buffer);
      if (kind === 0) { dv.setBigUint64(j, sig, true); dv.setUint16(j + 8, se, true); }
      else if (kind === 1) dv.setFloat64(j, (Number(g.u64() % 2000000n) - 1000000) / (1 + g.int(1000)), true);
      else if (kind === 2) dv.setFloat32(j, (g.int(2000) - 1000) / (1 + g.int(100)), true);
      else for (let b = 0; b < 10; b++) buf[j + b] = g.int(256);
    }
    // FLDCW operand at 0xf0: all exceptions masked, random precision and rounding control
    const cw = 0x3f | 0x40 | ([0, 2, 3][g.int(3)] << 8) | (g.int(4) << 10);
    buf[0xf0] = cw & 0xff; buf[0xf1] = cw >> 8;
    // Empty registers keep stale contents (FNINIT does not clear them) and FXAM reports an empty
    // ST0's sign bit in C1: fill all eight with known values first, then FNINIT, then FLDCW.
    const insns: Insn[] = [];
    for (let j = 0; j < 8; j++) insns.push(...(g.chance(0.5) ? [r(0xd9, 0xee)] : [r(0xd9, 0xe8), r(0xd9, 0xe0)]));
    insns.push(r(0xdb, 0xe3), m(0xd9, 5, 0xf0));
    const len = 4 + g.int(20);
    for (let j = 0; j < len; j++) insns.push(genInsn(g));
    out.push({ eflags: 0x202 | (g.int(2) ? 1 : 0) | (g.int(2) ? 4 : 0) | (g.int(2) ? 0x40 : 0), buf, insns });
  }
  return out;
}

const hex2 = (b: Uint8Array) => Buffer.from(b).toString('hex');

export interface SeqOutcome { save: Uint8Array; buf: Uint8Array; eflags: number }

export function runNative(seqs: Sequence[]): SeqOutcome[] {
  const dir = mkdtempSync(join(tmpdir(), 'webx86-seq-'));
  try {
    const exe = join(dir, 'seq');
    execFileSync('gcc', ['-m32', '-O1', '-o', exe, join(here, 'seq.c')]);
    const input = seqs.map((s) => `${s.eflags.toString(16)} ${hex2(s.buf)} ` +
      s.insns.map((i) => `${i.op.toString(16)}:${i.modrm.toString(16)}:${i.off.toString(16)}`).join(' ')).join('\n') + '\n';
    const text = execFileSync(exe, { input, maxBuffer: 1 << 28 }).toString();
    return text.trim().split('\n').map((l) => {
      const [sv, bf, fl] = l.split(' ');
      return { save: Buffer.from(sv, 'hex'), buf: Buffer.from(bf, 'hex'), eflags: parseInt(fl, 16) };
    });
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

interface Core {
  memory: WebAssembly.Memory;
  fpuExecute(op: number, modrm: number, lin: number, off: number, sel: number, o32: number): void;
  fpuReset(): void; syncFromState(): void; setRamSize(n: number): void; setEflagsRaw(v: number): void; getEflags(): number;
  STATE: WebAssembly.Global; RAM_BASE: WebAssembly.Global; OFF_CR0: WebAssembly.Global;
  OFF_RAM_SIZE: WebAssembly.Global; OFF_A20: WebAssembly.Global;
}

export class WasmFpu {
  private core!: Core;
  async init(): Promise<void> {
    const asc = (await import('assemblyscript/asc')).default;
    const dir = mkdtempSync(join(tmpdir(), 'webx86-fpucore-'));
    const outFile = join(dir, 'fpu.wasm');
    const { error, stderr } = await asc.main([join(here, 'fpu-entry.ts'), '--outFile', outFile, '--runtime', 'stub',
      '-O3', '--memoryBase', String(0x0100_0000), '--initialMemory', '640', '--exportRuntime']);
    if (error) throw new Error(`asc failed: ${stderr.toString()}`);
    const bytes = readFileSync(outFile);
    rmSync(dir, { recursive: true, force: true });
    const env = {
      abort: () => { throw new Error('abort'); },
      ferr: () => {},
      mmioRead: () => 0xffffffff,
      mmioWrite: () => {},
    };
    // Compiled by asc alone, the fault module's throw is still its placeholder import
    // (asm-core/cpu/fault.ts): a fault ends the run with this error.
    const fault = { throw: () => { throw new Error('fault raised'); } };
    const { instance } = await WebAssembly.instantiate(bytes, { env, fault });
    this.core = instance.exports as unknown as Core;
  }
  run(s: Sequence): SeqOutcome {
    const c = this.core;
    const mem = new DataView(c.memory.buffer);
    const state = c.STATE.value as number, ram = c.RAM_BASE.value as number;
    mem.setUint32(state + (c.OFF_CR0.value as number), 0x31, true); // PE ET NE
    mem.setUint32(state + (c.OFF_RAM_SIZE.value as number), 1 << 20, true);
    mem.setUint32(state + (c.OFF_A20.value as number), 1, true);
    c.setRamSize(1 << 20);
    c.syncFromState();
    c.setEflagsRaw(s.eflags);
    c.fpuReset();
    const BUF = 0x10000, SAVE = 0x20000;
    const bytes = new Uint8Array(c.memory.buffer);
    bytes.set(s.buf, ram + BUF);
    c.fpuExecute(0xdb, 0xe3, 0, 0, 0, 1); // FNINIT
    for (const i of s.insns) {
      if (i.modrm < 0xc0) c.fpuExecute(i.op, i.modrm, BUF + i.off, BUF + i.off, 0x2b, 1);
      else c.fpuExecute(i.op, i.modrm, 0, 0, 0, 1);
    }
    c.fpuExecute(0xdd, 0x30, SAVE, SAVE, 0x2b, 1); // FNSAVE
    return { save: bytes.slice(ram + SAVE, ram + SAVE + 108), buf: bytes.slice(ram + BUF, ram + BUF + 256), eflags: c.getEflags() };
  }
}

/** Differences that matter: FCW/FSW/FTW, the eight registers, the buffer, ZF/PF/CF. */
export function diffSeq(want: SeqOutcome, got: SeqOutcome): string | null {
  const w = want.save, g = got.save;
  const field = (a: Uint8Array, from: number, to: number) => hex2(a.slice(from, to));
  const parts: string[] = [];
  for (const [name, from, to] of [['fcw', 0, 2], ['fsw', 4, 6], ['ftw', 8, 10]] as const) {
    if (field(w, from, to) !== field(g, from, to)) parts.push(`${name}: x87 ${field(w, from, to)} fpu.ts ${field(g, from, to)}`);
  }
  // registers in ST order; an empty one holds stale bits (FNINIT does not clear them)
  const top = (w[5] >> 3) & 7, tags = w[8] | (w[9] << 8);
  for (let i = 0; i < 8; i++) {
    if (((tags >> (((top + i) & 7) * 2)) & 3) === 3) continue;
    const a = field(w, 28 + i * 10, 38 + i * 10), b = field(g, 28 + i * 10, 38 + i * 10);
    if (a !== b) parts.push(`st${i}: x87 ${a} fpu.ts ${b}`);
  }
  if (hex2(want.buf) !== hex2(got.buf)) parts.push(`buf: x87 ${hex2(want.buf)}\n     fpu.ts ${hex2(got.buf)}`);
  if ((want.eflags & 0x45) !== (got.eflags & 0x45)) parts.push(`eflags: x87 ${want.eflags.toString(16)} fpu.ts ${got.eflags.toString(16)}`);
  return parts.length ? parts.join('\n') : null;
}
