// The forms the CPU differential test is generated from: the rows of the instruction table
// (asm-core/opcodes/instructions.mjs, the opcode table's one description of each encoding),
// but those it says are tested elsewhere.
//
// A row names an encoding (opcode bytes, ModRM shape, immediate) and the operand sizes it comes
// in. This file adds, by the row's name, hooks that pin the implicit registers it uses (pre),
// choose the inputs that matter (setup), and mark what the SDM leaves undefined for those inputs
// (undef) so it is not compared, and how the harness treats it (weight, noEspRm, noA16,
// a16Count).

import { DATA_BASE, FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, FLAGS_ARITH, STACK_BASE, USER_CS, USER_DS } from './case.js';
import { type Ctx, branchTarget, edgeValue, mask, operandValue } from './ctx.js';
import { open } from '../model.js';
import { INSTRUCTIONS, ALU_OPS, CC_NAMES, SHIFT_OPS, BIT_OPS, type Instruction } from '../../../asm-core/opcodes/instructions.mjs';

/** A row of the instruction table (its fields are described there), with the test's hooks. */
export interface Form extends Instruction, Hooks {}

/** What the test adds to a row. */
interface Hooks {
  /** A register r/m must not be ESP (indirect branches: executing the stack page differs natively). */
  noEspRm?: boolean;
  /** No 16-bit addressing (wild accesses could leave the test window). */
  noA16?: boolean;
  /** Try the 67 prefix although there is no memory operand (LOOP/JECXZ then count with CX). */
  a16Count?: boolean;
  pre?: (c: Ctx) => void;
  setup?: (c: Ctx) => void;
  undef?: (c: Ctx) => void;
  weight?: number;
}


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

const hooks = new Map<string, Hooks>();
const rowNames = new Set(INSTRUCTIONS.map((r) => r.name));
/** Give row `name` these hooks (a typo is an error, not a form without them). */
function hook(name: string, h: Hooks): void {
  if (!rowNames.has(name)) throw new Error(`forms: no instruction row ${name}`);
  hooks.set(name, { ...hooks.get(name), ...h });
}

// ---- ALU ----
ALU_OPS.map((a) => a.toUpperCase()).forEach((n) => {
  const undef = n === 'AND' || n === 'OR' || n === 'XOR' ? logicUndef : undefined;
  for (const operands of ['Eb,Gb', 'Ev,Gv', 'Gb,Eb', 'Gv,Ev', 'AL,Ib', 'eAX,Iv', 'Eb,Ib', 'Ev,Iv', 'Ev,Ib']) hook(`${n} ${operands}`, { undef });
  hook(`${n} Eb,Ib (82)`, { undef, weight: 0.3 });
});
for (const name of ['TEST Eb,Gb', 'TEST Ev,Gv', 'TEST AL,Ib', 'TEST eAX,Iv', 'TEST Eb,Ib', 'TEST Ev,Iv']) hook(name, { undef: logicUndef });
for (const name of ['TEST Eb,Ib (/1)', 'TEST Ev,Iv (/1)']) hook(name, { undef: logicUndef, weight: 0.3 });

// ---- multiply and divide ----
for (const name of ['MUL Eb', 'MUL Ev', 'IMUL Eb', 'IMUL Ev', 'IMUL Gv,Ev', 'IMUL Gv,Ev,Iv', 'IMUL Gv,Ev,Ib']) hook(name, { undef: mulUndef });
hook('DIV Eb', { setup: divSetup(false), undef: divUndef });
hook('DIV Ev', { setup: divSetup(false), undef: divUndef });
hook('IDIV Eb', { setup: divSetup(true), undef: divUndef });
hook('IDIV Ev', { setup: divSetup(true), undef: divUndef });

// ---- moves ----
hook('MOV Ew,Sw', { pre: (c) => { c.regField = c.rng.pick([0, 1, 2, 3]); } });
hook('MOV Sw,Ew', {
  pre: (c) => { c.regField = c.rng.pick([0, 0, 2, 3, 3, 1]); }, // 1 = CS: #UD
  setup: (c) => {
    const sel = c.rng.pick([USER_DS, USER_DS, USER_CS, 0, USER_DS & ~3, USER_CS & ~3, USER_DS | 4]);
    if (c.rmIsReg) c.setReg(c.rmReg, sel, 16); else c.poke(c.ea, sel, 2);
  },
});
hook('XLAT', { pre: (c) => c.pin(3, DATA_BASE + 0x100 + c.rng.int(0x1d00)) });

// ---- shifts and rotates ----
SHIFT_OPS.forEach((n, k) => {
  for (const [op, operands, imm] of [[0xd0, 'Eb,1', false], [0xd1, 'Ev,1', false], [0xd2, 'Eb,CL', false],
    [0xd3, 'Ev,CL', false], [0xc0, 'Eb,Ib', true], [0xc1, 'Ev,Ib', true]] as const) {
    hook(`${n} ${operands}`, {
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
  hook(n, {
    // ECX may take part in the memory operand's address: CL then stays what the address needs
    // (changing it would move the operand away from c.ea, which the undefined-result mask names).
    setup: (c) => { if (!(op & 1)) c.imm = shiftCountValue(c); else if (!c.addrRegs.includes(1)) c.setReg(1, shiftCountValue(c), 8); },
    undef: shldUndef(op),
  });
}

// ---- bit operations ----
BIT_OPS.forEach((n) => {
  // Register bit offsets reach far beyond the addressed operand: aim them back into the data pages.
  hook(`${n} Ev,Gv`, {
    noA16: true, undef: btUndef,
    setup: (c) => {
      if (c.rmIsReg) return;
      if (c.regField === c.rmReg || c.addrRegs.includes(c.regField)) return;
      const big = c.rng.chance(0.1);
      const range = c.size === 16 ? 0x8000 : 0x7f00;
      const off = big ? c.rng.u32() : ((c.rng.int(2 * range) - range) & mask(c.size));
      c.setReg(c.regField, off, c.size);
    },
  });
  hook(`${n} Ev,Ib`, { undef: btUndef });
});
for (const n of ['BSF', 'BSR']) {
  hook(`${n} Gv,Ev`, {
    setup: (c) => { if (c.rng.chance(0.2)) { if (c.rmIsReg) c.setReg(c.rmReg, 0); else c.poke(c.ea, 0, c.size / 8 as 2 | 4); } },
    undef: rule('bsf-zero', (c) => {
      c.undefinedFlags(FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF);
      if (c.rm() === 0) c.undefinedReg(c.regField);
    }),
  });
}

// ---- exchange-and-operate ----
const cmpxchgSetup = (c: Ctx) => { if (c.rng.chance(0.5)) c.setReg(0, c.rm()); };
hook('CMPXCHG Eb,Gb', { setup: cmpxchgSetup });
hook('CMPXCHG Ev,Gv', { setup: cmpxchgSetup });
hook('CMPXCHG8B Mq', {
  setup: (c) => {
    if (!c.rmIsReg && c.rng.chance(0.5)) { c.setReg(0, c.mem(c.ea, 32)); c.setReg(2, c.mem(c.ea + 4, 32)); }
  },
});

// ---- conditional moves, sets, branches ----
CC_NAMES.forEach((cc) => {
  for (const name of [`CMOV${cc} Gv,Ev`, `SET${cc} Eb`, `J${cc} Jb`, `J${cc} Jz`]) hook(name, { weight: 0.5 });
});
hook('JMP Ev', { noEspRm: true, setup: indirectTarget });
hook('CALL Ev', { noEspRm: true, setup: indirectTarget });
const retSetup = (c: Ctx) => stackTopPoke(c, branchTarget(c.rng, 0, 0), c.size === 16 ? 2 : 4);
hook('RET', { setup: retSetup });
hook('RET Iw', { setup: retSetup });
const loopPre = (c: Ctx) => c.pin(1, c.rng.pick([0, 1, 2, 0x10000, 0x10001, c.rng.u32()]));
for (const name of ['LOOPNE Jb', 'LOOPE Jb', 'LOOP Jb', 'JECXZ Jb']) hook(name, { pre: loopPre, a16Count: true });
// Far returns to the same privilege level: the popped CS must be the user code selector
// (anything else: #GP with the selector, or #NP/#TS). IRET also pops EFLAGS (IF/IOPL kept at CPL 3).
const farFrame = (withFlags: boolean) => (c: Ctx) => {
  const w = c.size === 16 ? 2 : 4;
  c.poke(c.regs[4], branchTarget(c.rng, 0, 0), w);
  c.poke(c.regs[4] + w, c.rng.pick([USER_CS, USER_CS, USER_CS, USER_DS, USER_CS & ~3, 0]), w);
  if (withFlags) c.poke(c.regs[4] + 2 * w, (c.rng.u32() & ~0x100 & ~0x4000 & ~0x30000) >>> 0, w);
};
hook('RETF', { setup: farFrame(false) });
hook('RETF Iw', { setup: farFrame(false) });
hook('IRET', { setup: farFrame(true) });

// ---- stack ----
hook('POPF', {
  // TF would single-step natively into the harness: keep it clear. IF/IOPL/VM are ignored at CPL 3.
  setup: (c) => stackTopPoke(c, (c.rng.u32() & ~0x100 & ~0x30000) >>> 0, c.size === 16 ? 2 : 4),
});
hook('ENTER Iw,Ib', { pre: pinFrame });
hook('LEAVE', { pre: pinFrame });
for (const n of ['ES', 'CS', 'SS', 'DS']) {
  // With a 32-bit operand size recent Intel cores write only the selector's 16 bits and leave
  // the upper half of the slot alone; the SDM allows that or a zero-extended write.
  hook(`PUSH ${n}`, { weight: 0.3, undef: rule('push-sreg-o32', (c) => { if (c.size === 32) c.undefMem = [c.regs[4] - 2, 2]; }) });
}
const selectorSetup = (c: Ctx) =>
  stackTopPoke(c, c.rng.pick([USER_DS, USER_DS, USER_CS, 0, USER_DS & ~3, USER_CS & ~3, USER_DS | 4]), c.size === 16 ? 2 : 4);
for (const n of ['ES', 'SS', 'DS']) hook(`POP ${n}`, { setup: selectorSetup, weight: 0.5 });

// ---- strings ----
for (const n of ['MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS']) {
  // A REPE/REPNE compare interrupted by a fault: the host leaves EFLAGS as they were before the
  // instruction (fast-string microcode), the SDM does not say: flags are not compared then.
  const undef = n === 'CMPS' || n === 'SCAS' ? rule('rep-cmps-flags-on-fault', (c) => { if (c.repPrefix) c.undefFlagsOnFault = FLAGS_ARITH; }) : undefined;
  hook(`${n}B`, { pre: stringPre, undef });
  hook(`${n}v`, { pre: stringPre, undef });
}

// ---- BCD and flags ----
const bcdUndef = (flags: number) => rule('bcd-flags', (c) => c.undefinedFlags(flags));
const bcdPre = (c: Ctx) => c.setReg(0, c.rng.chance(0.5) ? edgeValue(c.rng, 16) : c.rng.u32() & 0xffff, 16);
hook('DAA', { pre: bcdPre, undef: bcdUndef(FLAG_OF) });
hook('DAS', { pre: bcdPre, undef: bcdUndef(FLAG_OF) });
hook('AAA', { pre: bcdPre, undef: bcdUndef(FLAG_OF | FLAG_SF | FLAG_ZF | FLAG_PF) });
hook('AAS', { pre: bcdPre, undef: bcdUndef(FLAG_OF | FLAG_SF | FLAG_ZF | FLAG_PF) });
const bcdImm = (c: Ctx) => { c.imm = c.rng.pick([10, 10, 0, 1, 16, 0xff, c.rng.int(256)]); };
hook('AAM Ib', { pre: bcdPre, setup: bcdImm, undef: bcdUndef(FLAG_OF | FLAG_AF | FLAG_CF) });
hook('AAD Ib', { pre: bcdPre, setup: bcdImm, undef: bcdUndef(FLAG_OF | FLAG_AF | FLAG_CF) });
for (const n of ['SAHF', 'LAHF', 'CLC', 'STC', 'CMC', 'CLD', 'STD', 'NOP']) hook(n, { weight: 0.3 });

// ---- checks and exceptions ----
hook('BOUND Gv,Ma', {
  noA16: false,
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
hook('UD2', { weight: 0.2 });
hook('INT3', { weight: 0.2 });
hook('INTO', { weight: 0.3 });
hook('INT Ib', { weight: 0.5, setup: (c) => { c.imm = c.rng.pick([1, 3, 4, 5, 6, 0x0d, 0x0e, 0x20, 0x81, 0xff]); } });

// Privileged or I/O instructions at CPL 3 with IOPL 0: #GP(0).
for (const n of ['CLI', 'STI', 'HLT', 'IN AL,Ib', 'IN eAX,Ib', 'IN AL,DX', 'IN eAX,DX', 'OUT Ib,AL', 'OUT Ib,eAX', 'OUT DX,AL',
  'OUT DX,eAX', 'INSB', 'OUTSD', 'CLTS', 'INVD', 'WBINVD', 'WRMSR', 'RDMSR', 'MOV Rd,CR0', 'MOV CR3,Rd', 'MOV Rd,DR7',
  'MOV DR0,Rd', 'LGDT Ms', 'LIDT Ms', 'LMSW Ew', 'INVLPG M', 'LLDT Ew', 'LTR Ew']) {
  hook(n, { weight: 0.2 });
}

/** The forms: every row of the instruction table that is not tested elsewhere, with its hooks. */
export const FORMS: Form[] = INSTRUCTIONS.filter((r: Instruction) => !r.tested).map((r: Instruction) => ({ ...(r as Form), ...hooks.get(r.name) }));
