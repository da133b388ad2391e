// The one table of instruction forms the CPU differential test is generated from.
//
// A form names an encoding (opcode bytes, ModRM shape, immediate) and the operand sizes it comes
// in; hooks pin the implicit registers it uses (pre), choose the inputs that matter (setup), and
// mark what the SDM leaves undefined for those inputs (undef) so it is not compared.
// Operand notation follows the SDM opcode map: E = ModRM r/m, G = ModRM reg, I = immediate,
// b = byte, v = word/dword by operand size (66 prefix), w = word.

import { DATA_BASE, FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, FLAGS_ARITH, STACK_BASE, USER_CS, USER_DS } from './case.js';
import { type Ctx, type Size, branchTarget, edgeValue, mask, operandValue } from './ctx.js';
import { open } from '../model.js';

export interface Form {
  name: string;
  op: number[];
  /** Operand sizes: [8], or [16, 32] (16 = with the 66 prefix), or one fixed size. */
  sizes: Size[];
  /** ModRM operand: either register or memory ('rm'), memory only, or register only. */
  modrm?: 'rm' | 'mem' | 'reg';
  /** ModRM reg field is an opcode extension (/digit). */
  digit?: number;
  /** Register number in the low three opcode bits (e.g. 50+r). */
  plusr?: boolean;
  /** Immediate: byte, word, by operand size, relative branch, memory offset, ENTER's iw+ib. */
  imm?: 'b' | 'w' | 'v' | 'rel8' | 'relv' | 'moffs' | 'enter';
  /** LOCK is legal with a memory destination. */
  lock?: boolean;
  /** String instruction: REP/REPE/REPNE prefixes are tried. */
  rep?: boolean;
  /** Register form is #UD (LEA, BOUND, CMPXCHG8B): occasionally generated to check that. */
  udOnReg?: boolean;
  /** A register r/m must not be ESP (indirect branches: executing the stack page differs natively). */
  noEspRm?: boolean;
  /** No 16-bit addressing (wild accesses could leave the test window). */
  noA16?: boolean;
  /** Try the 67 prefix although there is no memory operand (LOOP/JECXZ then count with CX). */
  a16Count?: boolean;
  /** Size of the memory operand when it is not the operand size. */
  memSize?: Size | 64;
  pre?: (c: Ctx) => void;
  setup?: (c: Ctx) => void;
  undef?: (c: Ctx) => void;
  weight?: number;
}

const V: Size[] = [16, 32];
const B: Size[] = [8];
const ALU = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];
const CC = ['O', 'NO', 'B', 'AE', 'E', 'NE', 'BE', 'A', 'S', 'NS', 'P', 'NP', 'L', 'GE', 'L E', 'G'].map((s) => s.replace(' ', ''));
const SHIFT = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'];

// ---- undefined-result rules: each names its entry in the one list (model.ts) ----

/** A rule that marks what the entry `id` of model.ts leaves open. */
const rule = (id: string, mark: (c: Ctx) => void) => { open(id); return mark; };

const logicUndef = rule('logic-af', (c) => c.undefinedFlags(FLAG_AF));
const mulUndef = rule('mul-flags', (c) => c.undefinedFlags(FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF));
const divUndef = rule('div-flags', (c) => c.undefinedFlags(FLAGS_ARITH));
const btUndef = rule('bt-flags', (c) => c.undefinedFlags(FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF));

/** The r/m destination's result is undefined. */
function undefRm(c: Ctx): void {
  if (c.rmIsReg) c.undefinedReg(c.size === 8 ? c.rmReg & 3 : c.rmReg);
  else c.undefMem = [c.ea, c.size / 8];
}

function shiftCount(c: Ctx, op: number): number {
  if (op === 0xd0 || op === 0xd1) return 1;
  if (op === 0xd2 || op === 0xd3) return c.reg(1, 8);
  return c.imm ?? 0;
}

function shiftUndef(kind: number, op: number) {
  return rule('shift-flags', (c) => {
    const n = shiftCount(c, op) & 31;
    if (n === 0) return; // flags untouched: all defined
    if (n !== 1) c.undefinedFlags(FLAG_OF);
    if (kind < 4) return; // rotates touch CF and OF only
    c.undefinedFlags(FLAG_AF);
    if (kind !== 7 && n >= c.size) c.undefinedFlags(FLAG_CF); // SHL/SHR by >= width
  });
}

function shldUndef(op: number) {
  return rule('shld-count', (c) => {
    const n = ((op & 1) ? c.reg(1, 8) : (c.imm ?? 0)) & 31;
    if (n === 0) return;
    if (n > c.size) { c.undefinedFlags(FLAGS_ARITH); undefRm(c); return; }
    c.undefinedFlags(FLAG_AF);
    if (n !== 1) c.undefinedFlags(FLAG_OF);
  });
}

// ---- input shaping ----

/** Count operands for shifts: small counts, the width boundaries, and masked-away bits. */
function shiftCountValue(c: Ctx): number {
  return c.rng.pick([0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, c.rng.int(256)]);
}

/** A dividend that often fits the quotient, plus the #DE cases (zero divisor, overflow). */
function divSetup(signed: boolean) {
  return (c: Ctx) => {
    const s = c.size;
    const hiReg = s === 8 ? 4 /* AH */ : 2;
    const divisor = c.rm();
    if (c.rng.chance(0.6) && divisor !== 0) {
      if (signed) {
        const lo = c.reg(0, s);
        const neg = (lo & (s === 32 ? 0x8000_0000 : 1 << (s - 1))) !== 0;
        c.setReg(hiReg, neg ? mask(s) : 0, s);
      } else {
        c.setReg(hiReg, c.rng.int(Math.min(divisor, 0x1_0000_0000)) & mask(s), s);
      }
    }
  };
}

function pinDataAddress(c: Ctx, r: number, len = 64): void {
  c.pin(r, DATA_BASE + 0x100 + c.rng.int(0x2000 - 0x200 - len));
}

/** String instruction inputs: addresses in the data pages, small counts (and the odd huge one). */
function stringPre(c: Ctx): void {
  pinDataAddress(c, 6);
  pinDataAddress(c, 7);
  if (c.rng.chance(0.3)) c.pin(7, c.regs[6] + c.rng.int(16) - 8); // overlapping ranges
  const count = c.rng.chance(0.05) ? c.rng.u32() : c.rng.pick([0, 1, 2, 3, c.rng.int(24)]);
  c.pin(1, count);
  c.eflags = (c.eflags & ~0x400) | (c.rng.chance(0.5) ? 0x400 : 0);
  if (c.rng.chance(0.5)) {
    // Make compares run for a while: copy source to destination in the image.
    for (let i = -4; i < 12; i += 4) c.poke(c.regs[7] + i, c.mem(c.regs[6] + i, 32), 4);
  }
}

/** A branch target placed in r/m for indirect JMP/CALL. */
function indirectTarget(c: Ctx): void {
  const t = branchTarget(c.rng, c.regs[4] - 1, c.regs[4]);
  if (c.rmIsReg) c.setReg(c.rmReg, t, c.size);
  else c.poke(c.ea, t, c.size === 16 ? 2 : 4);
}

function stackTopPoke(c: Ctx, value: number, size: 2 | 4): void { c.poke(c.regs[4], value, size); }

function pinFrame(c: Ctx): void {
  c.pin(5, STACK_BASE + 0x400 + c.rng.int(0xa00));
}

export const FORMS: Form[] = [];
const add = (f: Form) => FORMS.push(f);

// ---- ALU ----
ALU.forEach((n, i) => {
  const undef = n === 'AND' || n === 'OR' || n === 'XOR' ? logicUndef : undefined;
  const lock = n !== 'CMP';
  add({ name: `${n} Eb,Gb`, op: [i * 8], sizes: B, modrm: 'rm', lock, undef });
  add({ name: `${n} Ev,Gv`, op: [i * 8 + 1], sizes: V, modrm: 'rm', lock, undef });
  add({ name: `${n} Gb,Eb`, op: [i * 8 + 2], sizes: B, modrm: 'rm', undef });
  add({ name: `${n} Gv,Ev`, op: [i * 8 + 3], sizes: V, modrm: 'rm', undef });
  add({ name: `${n} AL,Ib`, op: [i * 8 + 4], sizes: B, imm: 'b', undef });
  add({ name: `${n} eAX,Iv`, op: [i * 8 + 5], sizes: V, imm: 'v', undef });
  add({ name: `${n} Eb,Ib`, op: [0x80], digit: i, sizes: B, modrm: 'rm', imm: 'b', lock, undef });
  add({ name: `${n} Ev,Iv`, op: [0x81], digit: i, sizes: V, modrm: 'rm', imm: 'v', lock, undef });
  add({ name: `${n} Eb,Ib (82)`, op: [0x82], digit: i, sizes: B, modrm: 'rm', imm: 'b', lock, undef, weight: 0.3 });
  add({ name: `${n} Ev,Ib`, op: [0x83], digit: i, sizes: V, modrm: 'rm', imm: 'b', lock, undef });
});
add({ name: 'TEST Eb,Gb', op: [0x84], sizes: B, modrm: 'rm', undef: logicUndef });
add({ name: 'TEST Ev,Gv', op: [0x85], sizes: V, modrm: 'rm', undef: logicUndef });
add({ name: 'TEST AL,Ib', op: [0xa8], sizes: B, imm: 'b', undef: logicUndef });
add({ name: 'TEST eAX,Iv', op: [0xa9], sizes: V, imm: 'v', undef: logicUndef });
add({ name: 'TEST Eb,Ib', op: [0xf6], digit: 0, sizes: B, modrm: 'rm', imm: 'b', undef: logicUndef });
add({ name: 'TEST Eb,Ib (/1)', op: [0xf6], digit: 1, sizes: B, modrm: 'rm', imm: 'b', undef: logicUndef, weight: 0.3 });
add({ name: 'TEST Ev,Iv', op: [0xf7], digit: 0, sizes: V, modrm: 'rm', imm: 'v', undef: logicUndef });
add({ name: 'TEST Ev,Iv (/1)', op: [0xf7], digit: 1, sizes: V, modrm: 'rm', imm: 'v', undef: logicUndef, weight: 0.3 });
add({ name: 'NOT Eb', op: [0xf6], digit: 2, sizes: B, modrm: 'rm', lock: true });
add({ name: 'NOT Ev', op: [0xf7], digit: 2, sizes: V, modrm: 'rm', lock: true });
add({ name: 'NEG Eb', op: [0xf6], digit: 3, sizes: B, modrm: 'rm', lock: true });
add({ name: 'NEG Ev', op: [0xf7], digit: 3, sizes: V, modrm: 'rm', lock: true });
add({ name: 'INC Eb', op: [0xfe], digit: 0, sizes: B, modrm: 'rm', lock: true });
add({ name: 'DEC Eb', op: [0xfe], digit: 1, sizes: B, modrm: 'rm', lock: true });
add({ name: 'INC Ev', op: [0xff], digit: 0, sizes: V, modrm: 'rm', lock: true });
add({ name: 'DEC Ev', op: [0xff], digit: 1, sizes: V, modrm: 'rm', lock: true });
add({ name: 'INC Zv', op: [0x40], plusr: true, sizes: V });
add({ name: 'DEC Zv', op: [0x48], plusr: true, sizes: V });

// ---- multiply and divide ----
add({ name: 'MUL Eb', op: [0xf6], digit: 4, sizes: B, modrm: 'rm', undef: mulUndef });
add({ name: 'MUL Ev', op: [0xf7], digit: 4, sizes: V, modrm: 'rm', undef: mulUndef });
add({ name: 'IMUL Eb', op: [0xf6], digit: 5, sizes: B, modrm: 'rm', undef: mulUndef });
add({ name: 'IMUL Ev', op: [0xf7], digit: 5, sizes: V, modrm: 'rm', undef: mulUndef });
add({ name: 'IMUL Gv,Ev', op: [0x0f, 0xaf], sizes: V, modrm: 'rm', undef: mulUndef });
add({ name: 'IMUL Gv,Ev,Iv', op: [0x69], sizes: V, modrm: 'rm', imm: 'v', undef: mulUndef });
add({ name: 'IMUL Gv,Ev,Ib', op: [0x6b], sizes: V, modrm: 'rm', imm: 'b', undef: mulUndef });
add({ name: 'DIV Eb', op: [0xf6], digit: 6, sizes: B, modrm: 'rm', setup: divSetup(false), undef: divUndef });
add({ name: 'DIV Ev', op: [0xf7], digit: 6, sizes: V, modrm: 'rm', setup: divSetup(false), undef: divUndef });
add({ name: 'IDIV Eb', op: [0xf6], digit: 7, sizes: B, modrm: 'rm', setup: divSetup(true), undef: divUndef });
add({ name: 'IDIV Ev', op: [0xf7], digit: 7, sizes: V, modrm: 'rm', setup: divSetup(true), undef: divUndef });

// ---- moves ----
add({ name: 'MOV Eb,Gb', op: [0x88], sizes: B, modrm: 'rm' });
add({ name: 'MOV Ev,Gv', op: [0x89], sizes: V, modrm: 'rm' });
add({ name: 'MOV Gb,Eb', op: [0x8a], sizes: B, modrm: 'rm' });
add({ name: 'MOV Gv,Ev', op: [0x8b], sizes: V, modrm: 'rm' });
add({ name: 'MOV Eb,Ib', op: [0xc6], digit: 0, sizes: B, modrm: 'rm', imm: 'b' });
add({ name: 'MOV Ev,Iv', op: [0xc7], digit: 0, sizes: V, modrm: 'rm', imm: 'v' });
add({ name: 'MOV Zb,Ib', op: [0xb0], plusr: true, sizes: B, imm: 'b' });
add({ name: 'MOV Zv,Iv', op: [0xb8], plusr: true, sizes: V, imm: 'v' });
add({ name: 'MOV AL,Ob', op: [0xa0], sizes: B, imm: 'moffs' });
add({ name: 'MOV eAX,Ov', op: [0xa1], sizes: V, imm: 'moffs' });
add({ name: 'MOV Ob,AL', op: [0xa2], sizes: B, imm: 'moffs' });
add({ name: 'MOV Ov,eAX', op: [0xa3], sizes: V, imm: 'moffs' });
add({ name: 'MOV Ew,Sw', op: [0x8c], sizes: V, modrm: 'rm', pre: (c) => { c.regField = c.rng.pick([0, 1, 2, 3]); } });
add({
  name: 'MOV Sw,Ew', op: [0x8e], sizes: [16, 32], modrm: 'rm', memSize: 16,
  pre: (c) => { c.regField = c.rng.pick([0, 0, 2, 3, 3, 1]); }, // 1 = CS: #UD
  setup: (c) => {
    const sel = c.rng.pick([USER_DS, USER_DS, USER_CS, 0, USER_DS & ~3, USER_CS & ~3, USER_DS | 4]);
    if (c.rmIsReg) c.setReg(c.rmReg, sel, 16); else c.poke(c.ea, sel, 2);
  },
});
add({ name: 'MOVZX Gv,Eb', op: [0x0f, 0xb6], sizes: V, modrm: 'rm', memSize: 8 });
add({ name: 'MOVZX Gv,Ew', op: [0x0f, 0xb7], sizes: V, modrm: 'rm', memSize: 16 });
add({ name: 'NOP Ev', op: [0x0f, 0x1f], digit: 0, sizes: V, modrm: 'rm' }); // the multi-byte NOP compilers pad with
add({ name: 'MOVSX Gv,Eb', op: [0x0f, 0xbe], sizes: V, modrm: 'rm', memSize: 8 });
add({ name: 'MOVSX Gv,Ew', op: [0x0f, 0xbf], sizes: V, modrm: 'rm', memSize: 16 });
add({ name: 'XCHG Eb,Gb', op: [0x86], sizes: B, modrm: 'rm', lock: true });
add({ name: 'XCHG Ev,Gv', op: [0x87], sizes: V, modrm: 'rm', lock: true });
add({ name: 'XCHG eAX,Zv', op: [0x90], plusr: true, sizes: V });
add({ name: 'LEA Gv,M', op: [0x8d], sizes: V, modrm: 'mem', udOnReg: true });
add({ name: 'CBW/CWDE', op: [0x98], sizes: V });
add({ name: 'CWD/CDQ', op: [0x99], sizes: V });
add({ name: 'XLAT', op: [0xd7], sizes: B, pre: (c) => c.pin(3, DATA_BASE + 0x100 + c.rng.int(0x1d00)) });
add({ name: 'BSWAP Zd', op: [0x0f, 0xc8], plusr: true, sizes: [32] });

// ---- shifts and rotates ----
SHIFT.forEach((n, k) => {
  for (const [op, form, imm] of [[0xd0, 'Eb,1', undefined], [0xd1, 'Ev,1', undefined], [0xd2, 'Eb,CL', undefined],
    [0xd3, 'Ev,CL', undefined], [0xc0, 'Eb,Ib', 'b'], [0xc1, 'Ev,Ib', 'b']] as const) {
    add({
      name: `${n} ${form}`, op: [op], digit: k, sizes: op & 1 ? V : B, modrm: 'rm', imm,
      weight: n === 'SAL' ? 0.3 : 1,
      setup: (c) => {
        if (imm) c.imm = shiftCountValue(c);
        if (op === 0xd2 || op === 0xd3) c.setReg(1, shiftCountValue(c), 8);
      },
      undef: shiftUndef(k, op),
    });
  }
});
for (const [op, n] of [[0xa4, 'SHLD Ev,Gv,Ib'], [0xa5, 'SHLD Ev,Gv,CL'], [0xac, 'SHRD Ev,Gv,Ib'], [0xad, 'SHRD Ev,Gv,CL']] as const) {
  add({
    name: n, op: [0x0f, op], sizes: V, modrm: 'rm', imm: op & 1 ? undefined : 'b',
    // ECX may take part in the memory operand's address: CL then stays what the address needs
    // (changing it would move the operand away from c.ea, which the undefined-result mask names).
    setup: (c) => { if (!(op & 1)) c.imm = shiftCountValue(c); else if (!c.addrRegs.includes(1)) c.setReg(1, shiftCountValue(c), 8); },
    undef: shldUndef(op),
  });
}

// ---- bit operations ----
const BT = ['BT', 'BTS', 'BTR', 'BTC'];
BT.forEach((n, k) => {
  // Register bit offsets reach far beyond the addressed operand: aim them back into the data pages.
  add({
    name: `${n} Ev,Gv`, op: [0x0f, 0xa3 + 8 * k], sizes: V, modrm: 'rm', lock: k > 0, noA16: true, undef: btUndef,
    setup: (c) => {
      if (c.rmIsReg) return;
      if (c.regField === c.rmReg || c.addrRegs.includes(c.regField)) return;
      const big = c.rng.chance(0.1);
      const range = c.size === 16 ? 0x8000 : 0x7f00;
      const off = big ? c.rng.u32() : ((c.rng.int(2 * range) - range) & mask(c.size));
      c.setReg(c.regField, off, c.size);
    },
  });
  add({ name: `${n} Ev,Ib`, op: [0x0f, 0xba], digit: 4 + k, sizes: V, modrm: 'rm', imm: 'b', lock: k > 0, undef: btUndef });
});
for (const [op, n] of [[0xbc, 'BSF'], [0xbd, 'BSR']] as const) {
  add({
    name: `${n} Gv,Ev`, op: [0x0f, op], sizes: V, modrm: 'rm',
    setup: (c) => { if (c.rng.chance(0.2)) { if (c.rmIsReg) c.setReg(c.rmReg, 0); else c.poke(c.ea, 0, c.size / 8 as 2 | 4); } },
    undef: rule('bsf-zero', (c) => {
      c.undefinedFlags(FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF);
      if (c.rm() === 0) c.undefinedReg(c.regField);
    }),
  });
}

// ---- exchange-and-operate ----
add({ name: 'XADD Eb,Gb', op: [0x0f, 0xc0], sizes: B, modrm: 'rm', lock: true });
add({ name: 'XADD Ev,Gv', op: [0x0f, 0xc1], sizes: V, modrm: 'rm', lock: true });
const cmpxchgSetup = (c: Ctx) => { if (c.rng.chance(0.5)) c.setReg(0, c.rm()); };
add({ name: 'CMPXCHG Eb,Gb', op: [0x0f, 0xb0], sizes: B, modrm: 'rm', lock: true, setup: cmpxchgSetup });
add({ name: 'CMPXCHG Ev,Gv', op: [0x0f, 0xb1], sizes: V, modrm: 'rm', lock: true, setup: cmpxchgSetup });
add({
  name: 'CMPXCHG8B Mq', op: [0x0f, 0xc7], digit: 1, sizes: [32], modrm: 'mem', lock: true, udOnReg: true, memSize: 64,
  setup: (c) => {
    if (!c.rmIsReg && c.rng.chance(0.5)) { c.setReg(0, c.mem(c.ea, 32)); c.setReg(2, c.mem(c.ea + 4, 32)); }
  },
});

// ---- conditional moves, sets, branches ----
CC.forEach((cc, k) => {
  add({ name: `CMOV${cc} Gv,Ev`, op: [0x0f, 0x40 + k], sizes: V, modrm: 'rm', weight: 0.5 });
  add({ name: `SET${cc} Eb`, op: [0x0f, 0x90 + k], digit: 0, sizes: B, modrm: 'rm', weight: 0.5 });
  add({ name: `J${cc} Jb`, op: [0x70 + k], sizes: [32], imm: 'rel8', weight: 0.5 });
  add({ name: `J${cc} Jz`, op: [0x0f, 0x80 + k], sizes: V, imm: 'relv', weight: 0.5 });
});
add({ name: 'JMP Jb', op: [0xeb], sizes: [32], imm: 'rel8' });
add({ name: 'JMP Jz', op: [0xe9], sizes: V, imm: 'relv' });
add({ name: 'CALL Jz', op: [0xe8], sizes: V, imm: 'relv' });
add({ name: 'JMP Ev', op: [0xff], digit: 4, sizes: V, modrm: 'rm', noEspRm: true, setup: indirectTarget });
add({ name: 'CALL Ev', op: [0xff], digit: 2, sizes: V, modrm: 'rm', noEspRm: true, setup: indirectTarget });
const retSetup = (c: Ctx) => stackTopPoke(c, branchTarget(c.rng, 0, 0), c.size === 16 ? 2 : 4);
add({ name: 'RET', op: [0xc3], sizes: V, setup: retSetup });
add({ name: 'RET Iw', op: [0xc2], sizes: V, imm: 'w', setup: retSetup });
const loopPre = (c: Ctx) => c.pin(1, c.rng.pick([0, 1, 2, 0x10000, 0x10001, c.rng.u32()]));
add({ name: 'LOOPNE Jb', op: [0xe0], sizes: [32], imm: 'rel8', pre: loopPre, a16Count: true });
add({ name: 'LOOPE Jb', op: [0xe1], sizes: [32], imm: 'rel8', pre: loopPre, a16Count: true });
add({ name: 'LOOP Jb', op: [0xe2], sizes: [32], imm: 'rel8', pre: loopPre, a16Count: true });
add({ name: 'JECXZ Jb', op: [0xe3], sizes: [32], imm: 'rel8', pre: loopPre, a16Count: true });
// Far returns to the same privilege level: the popped CS must be the user code selector
// (anything else: #GP with the selector, or #NP/#TS). IRET also pops EFLAGS (IF/IOPL kept at CPL 3).
const farFrame = (withFlags: boolean) => (c: Ctx) => {
  const w = c.size === 16 ? 2 : 4;
  c.poke(c.regs[4], branchTarget(c.rng, 0, 0), w);
  c.poke(c.regs[4] + w, c.rng.pick([USER_CS, USER_CS, USER_CS, USER_DS, USER_CS & ~3, 0]), w);
  if (withFlags) c.poke(c.regs[4] + 2 * w, (c.rng.u32() & ~0x100 & ~0x4000 & ~0x30000) >>> 0, w);
};
add({ name: 'RETF', op: [0xcb], sizes: V, setup: farFrame(false) });
add({ name: 'RETF Iw', op: [0xca], sizes: V, imm: 'w', setup: farFrame(false) });
add({ name: 'IRET', op: [0xcf], sizes: V, setup: farFrame(true) });

// ---- stack ----
add({ name: 'PUSH Zv', op: [0x50], plusr: true, sizes: V });
add({ name: 'POP Zv', op: [0x58], plusr: true, sizes: V });
add({ name: 'PUSH Iz', op: [0x68], sizes: V, imm: 'v' });
add({ name: 'PUSH Ib', op: [0x6a], sizes: V, imm: 'b' });
add({ name: 'PUSH Ev', op: [0xff], digit: 6, sizes: V, modrm: 'rm' });
add({ name: 'POP Ev', op: [0x8f], digit: 0, sizes: V, modrm: 'rm' });
add({ name: 'PUSHA', op: [0x60], sizes: V });
add({ name: 'POPA', op: [0x61], sizes: V });
add({ name: 'PUSHF', op: [0x9c], sizes: V });
add({
  name: 'POPF', op: [0x9d], sizes: V,
  // TF would single-step natively into the harness: keep it clear. IF/IOPL/VM are ignored at CPL 3.
  setup: (c) => stackTopPoke(c, (c.rng.u32() & ~0x100 & ~0x30000) >>> 0, c.size === 16 ? 2 : 4),
});
add({ name: 'ENTER Iw,Ib', op: [0xc8], sizes: V, imm: 'enter', pre: pinFrame });
add({ name: 'LEAVE', op: [0xc9], sizes: V, pre: pinFrame });
for (const [op, n] of [[0x06, 'ES'], [0x0e, 'CS'], [0x16, 'SS'], [0x1e, 'DS']] as const) {
  // With a 32-bit operand size recent Intel cores write only the selector's 16 bits and leave
  // the upper half of the slot alone; the SDM allows that or a zero-extended write.
  add({ name: `PUSH ${n}`, op: [op], sizes: V, weight: 0.3, undef: rule('push-sreg-o32', (c) => { if (c.size === 32) c.undefMem = [c.regs[4] - 2, 2]; }) });
}
const selectorSetup = (c: Ctx) =>
  stackTopPoke(c, c.rng.pick([USER_DS, USER_DS, USER_CS, 0, USER_DS & ~3, USER_CS & ~3, USER_DS | 4]), c.size === 16 ? 2 : 4);
for (const [op, n] of [[0x07, 'ES'], [0x17, 'SS'], [0x1f, 'DS']] as const) {
  add({ name: `POP ${n}`, op: [op], sizes: V, setup: selectorSetup, weight: 0.5 });
}

// ---- strings ----
for (const [op, n] of [[0xa4, 'MOVS'], [0xa6, 'CMPS'], [0xaa, 'STOS'], [0xac, 'LODS'], [0xae, 'SCAS']] as const) {
  // A REPE/REPNE compare interrupted by a fault: the host leaves EFLAGS as they were before the
  // instruction (fast-string microcode), the SDM does not say: flags are not compared then.
  const undef = n === 'CMPS' || n === 'SCAS' ? rule('rep-cmps-flags-on-fault', (c) => { if (c.repPrefix) c.undefFlagsOnFault = FLAGS_ARITH; }) : undefined;
  add({ name: `${n}B`, op: [op], sizes: B, rep: true, pre: stringPre, undef });
  add({ name: `${n}v`, op: [op + 1], sizes: V, rep: true, pre: stringPre, undef });
}

// ---- BCD and flags ----
const bcdUndef = (flags: number) => rule('bcd-flags', (c) => c.undefinedFlags(flags));
const bcdPre = (c: Ctx) => c.setReg(0, c.rng.chance(0.5) ? edgeValue(c.rng, 16) : c.rng.u32() & 0xffff, 16);
add({ name: 'DAA', op: [0x27], sizes: [32], pre: bcdPre, undef: bcdUndef(FLAG_OF) });
add({ name: 'DAS', op: [0x2f], sizes: [32], pre: bcdPre, undef: bcdUndef(FLAG_OF) });
add({ name: 'AAA', op: [0x37], sizes: [32], pre: bcdPre, undef: bcdUndef(FLAG_OF | FLAG_SF | FLAG_ZF | FLAG_PF) });
add({ name: 'AAS', op: [0x3f], sizes: [32], pre: bcdPre, undef: bcdUndef(FLAG_OF | FLAG_SF | FLAG_ZF | FLAG_PF) });
const bcdImm = (c: Ctx) => { c.imm = c.rng.pick([10, 10, 0, 1, 16, 0xff, c.rng.int(256)]); };
add({ name: 'AAM Ib', op: [0xd4], sizes: [32], imm: 'b', pre: bcdPre, setup: bcdImm, undef: bcdUndef(FLAG_OF | FLAG_AF | FLAG_CF) });
add({ name: 'AAD Ib', op: [0xd5], sizes: [32], imm: 'b', pre: bcdPre, setup: bcdImm, undef: bcdUndef(FLAG_OF | FLAG_AF | FLAG_CF) });
for (const [op, n] of [[0x9e, 'SAHF'], [0x9f, 'LAHF'], [0xf8, 'CLC'], [0xf9, 'STC'], [0xf5, 'CMC'], [0xfc, 'CLD'], [0xfd, 'STD'], [0x90, 'NOP']] as const) {
  add({ name: n, op: [op], sizes: [32], weight: 0.3 });
}

// ---- checks and exceptions ----
add({
  name: 'BOUND Gv,Ma', op: [0x62], sizes: V, modrm: 'mem', udOnReg: true, noA16: false,
  setup: (c) => {
    if (c.rmIsReg) return;
    const w = (c.size / 8) as 2 | 4;
    const lo = operandValue(c.rng, c.size), hi = operandValue(c.rng, c.size);
    c.poke(c.ea, lo, w);
    c.poke(c.ea + w, hi, w);
    if (!c.addrRegs.includes(c.regField)) {
      c.setReg(c.regField, c.rng.pick([lo, hi, lo - 1, hi + 1, (lo + hi) >>> 1, c.rng.u32()]) & mask(c.size));
    }
  },
});
add({ name: 'UD2', op: [0x0f, 0x0b], sizes: [32], weight: 0.2 });
add({ name: 'INT3', op: [0xcc], sizes: [32], weight: 0.2 });
add({ name: 'INTO', op: [0xce], sizes: [32], weight: 0.3 });
add({ name: 'INT Ib', op: [0xcd], sizes: [32], imm: 'b', weight: 0.5, setup: (c) => { c.imm = c.rng.pick([1, 3, 4, 5, 6, 0x0d, 0x0e, 0x20, 0x81, 0xff]); } });

// Privileged or I/O instructions at CPL 3 with IOPL 0: #GP(0).
for (const [op, n, extra] of [
  [[0xfa], 'CLI', {}], [[0xfb], 'STI', {}], [[0xf4], 'HLT', {}],
  [[0xe4], 'IN AL,Ib', { imm: 'b' }], [[0xe5], 'IN eAX,Ib', { imm: 'b' }], [[0xec], 'IN AL,DX', {}], [[0xed], 'IN eAX,DX', {}],
  [[0xe6], 'OUT Ib,AL', { imm: 'b' }], [[0xe7], 'OUT Ib,eAX', { imm: 'b' }], [[0xee], 'OUT DX,AL', {}], [[0xef], 'OUT DX,eAX', {}],
  [[0x6c], 'INSB', {}], [[0x6f], 'OUTSD', {}],
  [[0x0f, 0x06], 'CLTS', {}], [[0x0f, 0x08], 'INVD', {}], [[0x0f, 0x09], 'WBINVD', {}],
  [[0x0f, 0x30], 'WRMSR', {}], [[0x0f, 0x32], 'RDMSR', {}],
  [[0x0f, 0x20], 'MOV Rd,CR0', { modrm: 'reg', digit: 0 }], [[0x0f, 0x22], 'MOV CR3,Rd', { modrm: 'reg', digit: 3 }],
  [[0x0f, 0x21], 'MOV Rd,DR7', { modrm: 'reg', digit: 7 }], [[0x0f, 0x23], 'MOV DR0,Rd', { modrm: 'reg', digit: 0 }],
  [[0x0f, 0x01], 'LGDT Ms', { modrm: 'mem', digit: 2 }], [[0x0f, 0x01], 'LIDT Ms', { modrm: 'mem', digit: 3 }],
  [[0x0f, 0x01], 'LMSW Ew', { modrm: 'rm', digit: 6 }], [[0x0f, 0x01], 'INVLPG M', { modrm: 'mem', digit: 7 }],
  [[0x0f, 0x00], 'LLDT Ew', { modrm: 'rm', digit: 2 }], [[0x0f, 0x00], 'LTR Ew', { modrm: 'rm', digit: 3 }],
] as [number[], string, Partial<Form>][]) {
  add({ name: n, op, sizes: [32], weight: 0.2, ...extra });
}
