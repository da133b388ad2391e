// The one table of the decoded-block records' handlers (cpu/record.ts, cpu/handlers.ts): for
// each handler, in the order of its number, what it does and which instructions the block
// decoder (cpu/predecode.ts) gives it, by their rows in instructions.mjs. Plain data, read by
// the build (asm-core/opcodes/generate.mjs writes from it cpu/generated/handlers.ts: the
// numbering, the dispatch switch, the decoder's opcode maps, the JIT's and the region's questions
// about a handler; and jit/generated/inline.ts: the JIT's dispatch to its emitters) and by the
// tests (test/cpu/opcodes.test.ts checks it against the decoder in the built core).
//
// Vocabulary (SDM vol. 2, appendix A, the opcode map):
//  - form: where the operands are. RR reg op= reg (destination REC_RM, source REC_REG), RI reg
//    op= immediate, RM reg op= memory (destination REC_REG), MR memory op= reg, MI memory op=
//    immediate; R a register only (REC_RM), M memory only, RC / MC by CL, J a relative target
//    (REC_DISP), Z no operand in the record, E a register or memory as ModRM says (the x87's
//    ESC opcode and ModRM in REC_IMM), X the interpreter's (anything).
//  - size: the operand size in bits (16: with the 66h prefix).
//  - enc: the encodings decoded to it, taken from the instruction rows (instructions.mjs
//    `encodings`). op: the opcode bytes after the prefixes; pfx: a prefix that must be there
//    (0x66, 0xF2, 0xF3); digit: the ModRM reg field (/digit), a number or a list; mod: 'reg'
//    (mod 3) or 'mem' (the ModRM r/m is memory), absent without a ModRM byte; plusr: the
//    opcode's low three bits name the register (B8+r); size: the encoding's operand size;
//    tested: the row's note of where it is tested, when the CPU differential test has no form
//    for it.
//  - reads / writes: 'rm' the REC_RM register, 'reg' the REC_REG register, 'mem' the memory
//    operand, 'imm' the immediate, 'stack' memory at ESP, 'eAX'... a fixed register, 'x87' the
//    FPU state, 'all' whatever the interpreter does.
//  - flags: the EFLAGS bits read and written, as letters O D S Z A P C ('*': any); partial: the
//    write depends on an operand (a shift count of 0, a zero BSF source), so it may not happen.
//  - faults: it may raise an exception (a memory access, a stack access, #DE).
//  - ends: how it ends its block: 'branch' (Jcc: the target or the next instruction), 'jump' and
//    'call' (a direct target), 'indirect' and 'indirect-call' (a computed target), 'return', or
//    'interpret' (the interpreter decides); absent: the block goes on after it.
//  - lockedItself: with a LOCK prefix the encoding still decodes to this handler; any other
//    handler's encodings that go on in the block then go to the interpreter inside the block
//    (stepInBlock, which knows which forms may be locked: #UD otherwise), and those that end
//    the block to the interpreter alone.
//  - jit: how a translation writes it (jit/emit.ts): true, by the emitter of the handler's own
//    name in jit/instructions.ts, jit/shifts.ts or jit/x87.ts; a string, by that emitter (one
//    for a group: 'alu', 'jcc'); absent, it calls the handler (jit/generated/inline.ts is
//    generated from this).
//  - keepsRegistersUnless: the record immediate for which a handler that writes a general
//    register does so (x87: only FNSTSW AX writes one).

import { ALU_OPS, CC_NAMES, SHIFT_OPS, BIT_OPS, encodings } from './instructions.mjs';

export { ALU_OPS };
/** The ALU record forms in the order of their handler numbers. */
export const FORMS = ['RR', 'RI', 'RM', 'MR', 'MI'];
/** The condition codes of Jcc, SETcc and CMOVcc (the opcode's low four bits), as the handlers' names spell them (jz: JE). */
export const CONDITIONS = ['o', 'no', 'b', 'ae', 'z', 'nz', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
/** The flags each condition tests (SDM vol. 1, table B-1). */
const CC_FLAGS = ['O', 'O', 'C', 'C', 'Z', 'Z', 'CZ', 'CZ', 'S', 'S', 'P', 'P', 'SO', 'SO', 'ZSO', 'ZSO'];
const ARITH = 'OSZAPC';
const X87 = [0, 1, 2, 3, 4, 5, 6, 7];
/** The encodings of `names` (instructions.mjs) with a register r/m and with a memory one. */
const both = (names, opts = {}) => [...encodings(names, { ...opts, mod: 'reg' }), ...encodings(names, { ...opts, mod: 'mem' })];

/**
 * The groups whose handler numbers the JIT takes apart (jit/instructions.ts inline: the ALU's
 * size, form and operation; jit/emit.ts: a Jcc's condition): where each starts. The ALU groups
 * hold form * 8 + operation (FORMS, ALU_OPS), JCC the sixteen conditions (generate.mjs checks).
 */
export const GROUPS = { ALU32: 0, ALU8: 40, JCC: 80 };

const handlers = [];
const add = (h) => handlers.push({ reads: [], writes: [], flags: { read: '', written: '' }, faults: false, ...h });

// ---- the ALU: form * 8 + operation, at 32 bits then at 8 ----
for (const size of [32, 8]) {
  FORMS.forEach((form, f) => {
    ALU_OPS.forEach((aop, i) => {
      const N = aop.toUpperCase();
      const [E, G, A, I] = size === 32 ? ['Ev', 'Gv', 'eAX', 'Iv'] : ['Eb', 'Gb', 'AL', 'Ib'];
      const imm = size === 32 ? [`${N} Ev,Iv`, `${N} Ev,Ib`] : [`${N} Eb,Ib`, `${N} Eb,Ib (82)`];
      const enc = {
        RR: encodings([`${N} ${E},${G}`, `${N} ${G},${E}`], { size, mod: 'reg' }),
        RI: encodings([`${N} ${A},${I}`, ...imm], { size, mod: 'reg' }),
        RM: encodings(`${N} ${G},${E}`, { size, mod: 'mem' }),
        MR: encodings(`${N} ${E},${G}`, { size, mod: 'mem' }),
        MI: encodings(imm, { size, mod: 'mem' }),
      }[form];
      const dst = form === 'RM' ? 'reg' : form[0] === 'M' ? 'mem' : 'rm';
      const src = form === 'RR' || form === 'MR' ? 'reg' : form === 'RM' ? 'mem' : 'imm';
      add({
        name: `${aop}${form}${size}`, mnemonic: aop.toUpperCase(), form, size, enc, jit: 'alu',
        reads: [dst, src], writes: aop === 'cmp' ? [] : [dst],
        flags: { read: aop === 'adc' || aop === 'sbb' ? 'C' : '', written: ARITH },
        faults: form.includes('M'),
        // LOCK ADD/OR/.../XOR to memory (atomic_inc, the kernel's `lock addl $0,(%esp)` barrier)
        // runs from its own record: there is one CPU, so LOCK changes nothing but which forms are
        // legal, and LOCK CMP or a register destination is #UD (SDM vol. 2, LOCK).
        ...((form === 'MR' || form === 'MI') && aop !== 'cmp' ? { lockedItself: true } : {}),
      });
    });
  });
}

// ---- Jcc, one handler per condition ----
CONDITIONS.forEach((cc, k) => add({
  name: `j${cc}`, mnemonic: `J${cc.toUpperCase()}`, form: 'J', size: 32, jit: 'jcc',
  enc: encodings([`J${CC_NAMES[k]} Jb`, `J${CC_NAMES[k]} Jz`], { size: 32 }),
  flags: { read: CC_FLAGS[k], written: '' }, ends: 'branch',
}));

// ---- moves ----
const move = (size) => {
  const [E, G, Z, I, A, O] = size === 8 ? ['Eb', 'Gb', 'Zb', 'Ib', 'AL', 'Ob'] : ['Ev', 'Gv', 'Zv', 'Iv', 'eAX', 'Ov'];
  add({ name: `movRR${size}`, mnemonic: 'MOV', form: 'RR', size, jit: true, enc: encodings([`MOV ${E},${G}`, `MOV ${G},${E}`], { size, mod: 'reg' }), reads: ['reg'], writes: ['rm'] });
  add({ name: `movRI${size}`, mnemonic: 'MOV', form: 'RI', size, jit: true, enc: encodings([`MOV ${Z},${I}`, `MOV ${E},${I}`], { size, mod: 'reg' }), reads: ['imm'], writes: ['rm'] });
  add({ name: `movRM${size}`, mnemonic: 'MOV', form: 'RM', size, jit: true, enc: encodings([`MOV ${G},${E}`, `MOV ${A},${O}`], { size, mod: 'mem' }), reads: ['mem'], writes: ['reg'], faults: true });
  add({ name: `movMR${size}`, mnemonic: 'MOV', form: 'MR', size, jit: true, enc: encodings([`MOV ${E},${G}`, `MOV ${O},${A}`], { size, mod: 'mem' }), reads: ['reg'], writes: ['mem'], faults: true });
  add({ name: `movMI${size}`, mnemonic: 'MOV', form: 'MI', size, jit: true, enc: encodings(`MOV ${E},${I}`, { size, mod: 'mem' }), reads: ['imm'], writes: ['mem'], faults: true });
};
move(32);
move(8);
add({ name: 'lea32', jit: true, mnemonic: 'LEA', form: 'RM', size: 32, enc: encodings('LEA Gv,M', { size: 32 }), reads: ['rm'], writes: ['reg'] });
for (const mn of ['movzx', 'movsx']) {
  for (const src of [8, 16]) {
    const row = `${mn.toUpperCase()} Gv,E${src === 8 ? 'b' : 'w'}`;
    add({ name: `${mn}RR${src}`, mnemonic: mn.toUpperCase(), form: 'RR', size: 32, jit: true, enc: encodings(row, { size: 32, mod: 'reg' }), reads: ['rm'], writes: ['reg'] });
    add({ name: `${mn}RM${src}`, mnemonic: mn.toUpperCase(), form: 'RM', size: 32, jit: true, enc: encodings(row, { size: 32, mod: 'mem' }), reads: ['mem'], writes: ['reg'], faults: true });
  }
}
add({
  name: 'xchgRR32', jit: true, mnemonic: 'XCHG', form: 'RR', size: 32,
  // 90 (XCHG EAX,EAX) is NOP.
  enc: [...encodings('XCHG Ev,Gv', { size: 32, mod: 'reg' }), ...encodings('XCHG eAX,Zv', { size: 32, regs: [1, 2, 3, 4, 5, 6, 7] })],
  reads: ['rm', 'reg'], writes: ['rm', 'reg'],
});
add({ name: 'cwde', jit: true, mnemonic: 'CWDE', form: 'Z', size: 32, enc: encodings('CBW/CWDE', { size: 32 }), reads: ['eAX'], writes: ['eAX'] });
add({ name: 'cdq', jit: true, mnemonic: 'CDQ', form: 'Z', size: 32, enc: encodings('CWD/CDQ', { size: 32 }), reads: ['eAX'], writes: ['eDX'] });
add({
  name: 'nop', jit: true, mnemonic: 'NOP', form: 'Z', size: 32,
  enc: [
    ...encodings(['NOP', 'PAUSE']), ...encodings('XCHG eAX,Zv', { size: 16, regs: [0] }),
    ...encodings('NOP Ev', { mod: 'reg' }), ...encodings('NOP Ev', { mod: 'mem' }),
  ],
});

// ---- TEST, INC, DEC, NOT, NEG, multiply and divide (32 and 8 bits) ----
function test(size) {
  const [RR, RI] = size === 8 ? ['TEST Eb,Gb', ['TEST Eb,Ib', 'TEST Eb,Ib (/1)']] : ['TEST Ev,Gv', ['TEST Ev,Iv', 'TEST Ev,Iv (/1)']];
  const A = size === 8 ? 'TEST AL,Ib' : 'TEST eAX,Iv';
  const logic = { read: '', written: ARITH };
  add({ name: `testRR${size}`, mnemonic: 'TEST', form: 'RR', size, jit: true, enc: encodings(RR, { size, mod: 'reg' }), reads: ['rm', 'reg'], flags: logic });
  add({ name: `testRI${size}`, mnemonic: 'TEST', form: 'RI', size, jit: true, enc: encodings([A, ...RI], { size, mod: 'reg' }), reads: ['rm', 'imm'], flags: logic });
  add({ name: `testMR${size}`, mnemonic: 'TEST', form: 'MR', size, jit: true, enc: encodings(RR, { size, mod: 'mem' }), reads: ['mem', 'reg'], flags: logic, faults: true });
  add({ name: `testMI${size}`, mnemonic: 'TEST', form: 'MI', size, jit: true, enc: encodings(RI, { size, mod: 'mem' }), reads: ['mem', 'imm'], flags: logic, faults: true });
}
for (const size of [32, 8]) {
  test(size);
}
const incDec = { read: '', written: 'OSZAP' };
add({ name: 'incR32', jit: true, mnemonic: 'INC', form: 'R', size: 32, enc: encodings(['INC Zv', 'INC Ev'], { size: 32, mod: 'reg' }), reads: ['rm'], writes: ['rm'], flags: incDec });
add({ name: 'decR32', jit: true, mnemonic: 'DEC', form: 'R', size: 32, enc: encodings(['DEC Zv', 'DEC Ev'], { size: 32, mod: 'reg' }), reads: ['rm'], writes: ['rm'], flags: incDec });
add({ name: 'incM32', jit: 'incDecM32', mnemonic: 'INC', form: 'M', size: 32, enc: encodings('INC Ev', { size: 32, mod: 'mem' }), reads: ['mem'], writes: ['mem'], flags: incDec, faults: true, lockedItself: true });
add({ name: 'decM32', jit: 'incDecM32', mnemonic: 'DEC', form: 'M', size: 32, enc: encodings('DEC Ev', { size: 32, mod: 'mem' }), reads: ['mem'], writes: ['mem'], flags: incDec, faults: true, lockedItself: true });
add({ name: 'notR32', jit: true, mnemonic: 'NOT', form: 'R', size: 32, enc: encodings('NOT Ev', { size: 32, mod: 'reg' }), reads: ['rm'], writes: ['rm'] });
add({ name: 'notM32', mnemonic: 'NOT', form: 'M', size: 32, enc: encodings('NOT Ev', { size: 32, mod: 'mem' }), reads: ['mem'], writes: ['mem'], faults: true, lockedItself: true });
add({ name: 'negR32', jit: true, mnemonic: 'NEG', form: 'R', size: 32, enc: encodings('NEG Ev', { size: 32, mod: 'reg' }), reads: ['rm'], writes: ['rm'], flags: { read: '', written: ARITH } });
add({ name: 'negM32', mnemonic: 'NEG', form: 'M', size: 32, enc: encodings('NEG Ev', { size: 32, mod: 'mem' }), reads: ['mem'], writes: ['mem'], flags: { read: '', written: ARITH }, faults: true, lockedItself: true });
const MUL_DIV = ['MUL Ev', 'IMUL Ev', 'DIV Ev', 'IDIV Ev'];
// F7 /4../7: MUL, IMUL, DIV, IDIV of EDX:EAX (the record's REC_REG says which); DIV may raise #DE.
add({ name: 'mulDivR32', mnemonic: 'MUL/IMUL/DIV/IDIV', form: 'R', size: 32, enc: encodings(MUL_DIV, { size: 32, mod: 'reg' }), reads: ['rm', 'eAX', 'eDX'], writes: ['eAX', 'eDX'], flags: { read: '', written: ARITH }, faults: true });
add({ name: 'mulDivM32', mnemonic: 'MUL/IMUL/DIV/IDIV', form: 'M', size: 32, enc: encodings(MUL_DIV, { size: 32, mod: 'mem' }), reads: ['mem', 'eAX', 'eDX'], writes: ['eAX', 'eDX'], flags: { read: '', written: ARITH }, faults: true });
const imul = { read: '', written: ARITH };
add({ name: 'imulRRI', jit: true, mnemonic: 'IMUL', form: 'RR', size: 32, enc: encodings(['IMUL Gv,Ev,Iv', 'IMUL Gv,Ev,Ib'], { size: 32, mod: 'reg' }), reads: ['rm', 'imm'], writes: ['reg'], flags: imul });
add({ name: 'imulRMI', jit: true, mnemonic: 'IMUL', form: 'RM', size: 32, enc: encodings(['IMUL Gv,Ev,Iv', 'IMUL Gv,Ev,Ib'], { size: 32, mod: 'mem' }), reads: ['mem', 'imm'], writes: ['reg'], flags: imul, faults: true });
add({ name: 'imulRR', jit: true, mnemonic: 'IMUL', form: 'RR', size: 32, enc: encodings('IMUL Gv,Ev', { size: 32, mod: 'reg' }), reads: ['rm', 'reg'], writes: ['reg'], flags: imul });
add({ name: 'imulRM', jit: true, mnemonic: 'IMUL', form: 'RM', size: 32, enc: encodings('IMUL Gv,Ev', { size: 32, mod: 'mem' }), reads: ['mem', 'reg'], writes: ['reg'], flags: imul, faults: true });

// ---- shifts and rotates (REC_REG: the group-2 operation; RCL and RCR read CF) ----
const shiftFlags = { read: 'C', written: ARITH, partial: true };
const shifts = (size) => {
  const byImm = SHIFT_OPS.flatMap((n) => [`${n} Ev,Ib`, `${n} Ev,1`]);
  const byCL = SHIFT_OPS.map((n) => `${n} Ev,CL`);
  add({ name: `shiftRI${size}`, mnemonic: 'ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR', form: 'RI', size, jit: true, enc: encodings(byImm, { size, mod: 'reg' }), reads: ['rm', 'imm'], writes: ['rm'], flags: shiftFlags });
  add({ name: `shiftRC${size}`, mnemonic: 'ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR', form: 'RC', size, jit: size === 32, enc: encodings(byCL, { size, mod: 'reg' }), reads: ['rm', 'eCX'], writes: ['rm'], flags: shiftFlags });
  add({ name: `shiftMI${size}`, mnemonic: 'ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR', form: 'MI', size, enc: encodings(byImm, { size, mod: 'mem' }), reads: ['mem', 'imm'], writes: ['mem'], flags: shiftFlags, faults: true });
  add({ name: `shiftMC${size}`, mnemonic: 'ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR', form: 'MC', size, enc: encodings(byCL, { size, mod: 'mem' }), reads: ['mem', 'eCX'], writes: ['mem'], flags: shiftFlags, faults: true });
};
shifts(32);

// ---- SETcc and CMOVcc (REC_IMM: the condition) ----
const anyCC = { read: 'OSZPC', written: '' };
const SETCC = CC_NAMES.map((cc) => `SET${cc} Eb`);
const CMOVCC = CC_NAMES.map((cc) => `CMOV${cc} Gv,Ev`);
add({ name: 'setccR', jit: true, mnemonic: 'SETcc', form: 'R', size: 8, enc: encodings(SETCC, { mod: 'reg' }), writes: ['rm'], flags: anyCC });
add({ name: 'setccM', jit: true, mnemonic: 'SETcc', form: 'M', size: 8, enc: encodings(SETCC, { mod: 'mem' }), writes: ['mem'], flags: anyCC, faults: true });
add({ name: 'cmovRR', jit: true, mnemonic: 'CMOVcc', form: 'RR', size: 32, enc: encodings(CMOVCC, { size: 32, mod: 'reg' }), reads: ['rm'], writes: ['reg'], flags: anyCC });
add({ name: 'cmovRM', jit: true, mnemonic: 'CMOVcc', form: 'RM', size: 32, enc: encodings(CMOVCC, { size: 32, mod: 'mem' }), reads: ['mem'], writes: ['reg'], flags: anyCC, faults: true });

// ---- stack ----
add({ name: 'pushR32', jit: true, mnemonic: 'PUSH', form: 'R', size: 32, enc: encodings(['PUSH Zv', 'PUSH Ev'], { size: 32, mod: 'reg' }), reads: ['rm', 'eSP'], writes: ['stack', 'eSP'], faults: true });
add({ name: 'pushI32', jit: true, mnemonic: 'PUSH', form: 'RI', size: 32, enc: encodings(['PUSH Iz', 'PUSH Ib'], { size: 32 }), reads: ['imm', 'eSP'], writes: ['stack', 'eSP'], faults: true });
add({ name: 'pushM32', jit: true, mnemonic: 'PUSH', form: 'M', size: 32, enc: encodings('PUSH Ev', { size: 32, mod: 'mem' }), reads: ['mem', 'eSP'], writes: ['stack', 'eSP'], faults: true });
add({ name: 'popR32', jit: true, mnemonic: 'POP', form: 'R', size: 32, enc: encodings('POP Zv', { size: 32 }), reads: ['stack', 'eSP'], writes: ['rm', 'eSP'], faults: true });
add({ name: 'leave32', jit: true, mnemonic: 'LEAVE', form: 'Z', size: 32, enc: encodings('LEAVE', { size: 32 }), reads: ['eBP', 'stack'], writes: ['eSP', 'eBP'], faults: true });

// ---- near jumps, calls and returns ----
add({ name: 'jmpRel', jit: true, mnemonic: 'JMP', form: 'J', size: 32, enc: encodings(['JMP Jz', 'JMP Jb'], { size: 32 }), ends: 'jump' });
add({ name: 'callRel', jit: true, mnemonic: 'CALL', form: 'J', size: 32, enc: encodings('CALL Jz', { size: 32 }), reads: ['eSP'], writes: ['stack', 'eSP'], faults: true, ends: 'call' });
add({ name: 'jmpR', jit: true, mnemonic: 'JMP', form: 'R', size: 32, enc: encodings('JMP Ev', { size: 32, mod: 'reg' }), reads: ['rm'], ends: 'indirect' });
add({ name: 'jmpM', jit: true, mnemonic: 'JMP', form: 'M', size: 32, enc: encodings('JMP Ev', { size: 32, mod: 'mem' }), reads: ['mem'], faults: true, ends: 'indirect' });
add({ name: 'callR', jit: true, mnemonic: 'CALL', form: 'R', size: 32, enc: encodings('CALL Ev', { size: 32, mod: 'reg' }), reads: ['rm', 'eSP'], writes: ['stack', 'eSP'], faults: true, ends: 'indirect-call' });
add({ name: 'callM', jit: true, mnemonic: 'CALL', form: 'M', size: 32, enc: encodings('CALL Ev', { size: 32, mod: 'mem' }), reads: ['mem', 'eSP'], writes: ['stack', 'eSP'], faults: true, ends: 'indirect-call' });
add({ name: 'ret', jit: true, mnemonic: 'RET', form: 'Z', size: 32, enc: encodings(['RET', 'REP RET'], { size: 32 }), reads: ['stack', 'eSP'], writes: ['eSP'], faults: true, ends: 'return' });
add({ name: 'retImm', mnemonic: 'RET', form: 'RI', size: 32, enc: encodings('RET Iw', { size: 32 }), reads: ['stack', 'eSP', 'imm'], writes: ['eSP'], faults: true, ends: 'return' });

// ---- string instructions (REC_REG: the kind, REC_SCALE: 8 or 32, REC_IMM: the REP prefix) ----
add({
  name: 'stringOp32', mnemonic: 'MOVS/CMPS/STOS/LODS/SCAS', form: 'Z', size: 32,
  enc: ['MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS'].flatMap((n) => [...encodings(`${n}B`, { rep: true }), ...encodings(`${n}v`, { size: 32, rep: true })]),
  reads: ['eSI', 'eDI', 'eCX', 'eAX', 'mem'], writes: ['eSI', 'eDI', 'eCX', 'eAX', 'mem'],
  flags: { read: 'D', written: ARITH, partial: true }, faults: true,
});

// ---- the interpreter, for a whole instruction (always a block's last record) ----
add({ name: 'interpret', mnemonic: '(any)', form: 'X', size: 32, enc: [], reads: ['all'], writes: ['all'], flags: { read: '*', written: '*' }, faults: true, ends: 'interpret' });

// ---- 16-bit operands (66h): MOV, the ALU with the operation in the record, INC/DEC, TEST, shifts ----
move(16);
const ALU16 = ALU_OPS.map((a) => a.toUpperCase());
const alu16 = (rows, mod) => encodings(ALU16.flatMap(rows), { size: 16, mod });
add({ name: 'aluRR16', mnemonic: 'ALU', jit: true, form: 'RR', size: 16, enc: alu16((N) => [`${N} Ev,Gv`, `${N} Gv,Ev`], 'reg'), reads: ['rm', 'reg'], writes: ['rm'], flags: { read: 'C', written: ARITH } });
add({ name: 'aluRI16', mnemonic: 'ALU', jit: true, form: 'RI', size: 16, enc: alu16((N) => [`${N} eAX,Iv`, `${N} Ev,Iv`, `${N} Ev,Ib`], 'reg'), reads: ['rm', 'imm'], writes: ['rm'], flags: { read: 'C', written: ARITH } });
add({ name: 'aluRM16', mnemonic: 'ALU', jit: true, form: 'RM', size: 16, enc: alu16((N) => [`${N} Gv,Ev`], 'mem'), reads: ['reg', 'mem'], writes: ['reg'], flags: { read: 'C', written: ARITH }, faults: true });
add({ name: 'aluMR16', mnemonic: 'ALU', jit: true, form: 'MR', size: 16, enc: alu16((N) => [`${N} Ev,Gv`], 'mem'), reads: ['mem', 'reg'], writes: ['mem'], flags: { read: 'C', written: ARITH }, faults: true });
add({ name: 'aluMI16', mnemonic: 'ALU', jit: true, form: 'MI', size: 16, enc: alu16((N) => [`${N} Ev,Iv`, `${N} Ev,Ib`], 'mem'), reads: ['mem', 'imm'], writes: ['mem'], flags: { read: 'C', written: ARITH }, faults: true });
add({ name: 'incR16', jit: 'incDecR16', mnemonic: 'INC', form: 'R', size: 16, enc: encodings(['INC Zv', 'INC Ev'], { size: 16, mod: 'reg' }), reads: ['rm'], writes: ['rm'], flags: incDec });
add({ name: 'decR16', jit: 'incDecR16', mnemonic: 'DEC', form: 'R', size: 16, enc: encodings(['DEC Zv', 'DEC Ev'], { size: 16, mod: 'reg' }), reads: ['rm'], writes: ['rm'], flags: incDec });
add({ name: 'incM16', jit: 'incDecM16', mnemonic: 'INC', form: 'M', size: 16, enc: encodings('INC Ev', { size: 16, mod: 'mem' }), reads: ['mem'], writes: ['mem'], flags: incDec, faults: true, lockedItself: true });
add({ name: 'decM16', jit: 'incDecM16', mnemonic: 'DEC', form: 'M', size: 16, enc: encodings('DEC Ev', { size: 16, mod: 'mem' }), reads: ['mem'], writes: ['mem'], flags: incDec, faults: true, lockedItself: true });
test(16);
shifts(16);

// ---- the interpreter, for one instruction inside the block (it cannot change the mode, the
// paging or the flow of control); with a LOCK prefix, any form of the other handlers too ----
add({
  name: 'stepInBlock', mnemonic: '(interpreted)', form: 'X', size: 32,
  enc: [
    ...both(X87.map((k) => `ESC ${k} o16`)), ...encodings('WAIT'),
    ...encodings('XCHG Ev,Gv', { size: 32, mod: 'mem' }), ...both('XCHG Eb,Gb'),
    ...both(SHIFT_OPS.flatMap((n) => [`${n} Eb,1`, `${n} Eb,CL`, `${n} Eb,Ib`])),
    ...both(['INC Eb', 'DEC Eb', 'NOT Eb', 'NEG Eb', 'MUL Eb', 'IMUL Eb', 'DIV Eb', 'IDIV Eb']),
    ...both('MOV Ew,Sw', { size: 32 }),
    // MOV to ES, DS, FS and GS (CS is #UD, SS ends the block: it holds off interrupts).
    ...both('MOV Sw,Ew', { size: 32, digits: [0, 3, 4, 5] }),
    ...encodings(['PUSH ES', 'PUSH CS', 'PUSH SS', 'PUSH DS', 'POP ES', 'POP DS'], { size: 32 }),
    ...encodings(['RDTSC', 'PUSH FS', 'POP FS', 'PUSH GS', 'POP GS']),
    ...both(['TZCNT Gv,Ev', 'LZCNT Gv,Ev']),
    ...encodings(['SHLD Ev,Gv,Ib', 'SHLD Ev,Gv,CL', 'SHRD Ev,Gv,Ib', 'SHRD Ev,Gv,CL'], { size: 32, mod: 'mem' }),
    ...encodings('CMPXCHG Ev,Gv', { size: 32, mod: 'reg' }),
    ...both(['CMPXCHG Eb,Gb', 'XADD Eb,Gb']), ...encodings('XADD Ev,Gv', { size: 32, mod: 'reg' }),
  ],
  reads: ['all'], writes: ['all'], flags: { read: '*', written: '*' }, faults: true,
});

// ---- bit tests (REC_IMM: the kind << 8 | the bit offset), BSWAP, the x87, bit scans, SHLD/SHRD, CMPXCHG ----
const bt = { read: '', written: 'C' };
add({ name: 'bitRR', jit: true, mnemonic: 'BT/BTS/BTR/BTC', form: 'RR', size: 32, enc: encodings(BIT_OPS.map((n) => `${n} Ev,Gv`), { size: 32, mod: 'reg' }), reads: ['rm', 'reg'], writes: ['rm'], flags: bt });
add({ name: 'bitRI', jit: true, mnemonic: 'BT/BTS/BTR/BTC', form: 'RI', size: 32, enc: encodings(BIT_OPS.map((n) => `${n} Ev,Ib`), { size: 32, mod: 'reg' }), reads: ['rm', 'imm'], writes: ['rm'], flags: bt });
add({ name: 'bitMI', jit: true, mnemonic: 'BT/BTS/BTR/BTC', form: 'MI', size: 32, enc: encodings(BIT_OPS.map((n) => `${n} Ev,Ib`), { size: 32, mod: 'mem' }), reads: ['mem', 'imm'], writes: ['mem'], flags: bt, faults: true });
// With a register offset, any dword of the segment: the offset is signed (SDM vol. 2, BT).
add({ name: 'bitMR', jit: true, mnemonic: 'BT/BTS/BTR/BTC', form: 'MR', size: 32, enc: encodings(BIT_OPS.map((n) => `${n} Ev,Gv`), { size: 32, mod: 'mem' }), reads: ['mem', 'reg'], writes: ['mem'], flags: bt, faults: true });
add({ name: 'bswapR', jit: true, mnemonic: 'BSWAP', form: 'R', size: 32, enc: encodings('BSWAP Zd'), reads: ['rm'], writes: ['rm'] });
add({
  name: 'x87', jit: true, mnemonic: 'ESC', form: 'E', size: 32,
  enc: both(X87.map((k) => `ESC ${k}`)),
  // FCOMI writes ZF PF CF (and clears OF SF AF), FCMOVcc reads CF ZF PF; FNSTSW AX writes AX.
  reads: ['mem', 'x87'], writes: ['mem', 'x87', 'eAX'], keepsRegistersUnless: 0xdf | (0xe0 << 8),
  flags: { read: 'ZPC', written: ARITH, partial: true }, faults: true,
});
add({ name: 'bitScanR', jit: true, mnemonic: 'BSF/BSR', form: 'RR', size: 32, enc: encodings(['BSF Gv,Ev', 'BSR Gv,Ev'], { size: 32, mod: 'reg' }), reads: ['rm'], writes: ['reg'], flags: { read: '', written: ARITH, partial: true } });
add({ name: 'bitScanM', jit: true, mnemonic: 'BSF/BSR', form: 'RM', size: 32, enc: encodings(['BSF Gv,Ev', 'BSR Gv,Ev'], { size: 32, mod: 'mem' }), reads: ['mem'], writes: ['reg'], flags: { read: '', written: ARITH, partial: true }, faults: true });
add({ name: 'shiftDoubleR', jit: true, mnemonic: 'SHLD/SHRD', form: 'RR', size: 32, enc: encodings(['SHLD Ev,Gv,Ib', 'SHLD Ev,Gv,CL', 'SHRD Ev,Gv,Ib', 'SHRD Ev,Gv,CL'], { size: 32, mod: 'reg' }), reads: ['rm', 'reg', 'eCX'], writes: ['rm'], flags: { read: '', written: ARITH, partial: true } });
// CMPXCHG to memory, a spinlock's, runs from its own record with LOCK too, as the ALU does.
add({ name: 'cmpxchgM32', jit: true, mnemonic: 'CMPXCHG', form: 'MR', size: 32, enc: encodings('CMPXCHG Ev,Gv', { size: 32, mod: 'mem' }), reads: ['mem', 'reg', 'eAX'], writes: ['mem', 'eAX'], flags: { read: '', written: ARITH }, faults: true, lockedItself: true });
// XADD to memory (atomic_add_return; this_cpu_add_return through FS, without LOCK) likewise.
add({ name: 'xaddM32', jit: true, mnemonic: 'XADD', form: 'MR', size: 32, enc: encodings('XADD Ev,Gv', { size: 32, mod: 'mem' }), reads: ['mem', 'reg'], writes: ['mem', 'reg'], flags: { read: '', written: ARITH }, faults: true, lockedItself: true });
// CMPXCHG8B: a kernel's this_cpu_cmpxchg_double (SLUB's allocation and free) and 64-bit atomics.
add({ name: 'cmpxchg8b', mnemonic: 'CMPXCHG8B', form: 'M', size: 32, enc: encodings('CMPXCHG8B Mq'), reads: ['mem', 'eAX', 'eDX', 'eBX', 'eCX'], writes: ['mem', 'eAX', 'eDX'], flags: { read: '', written: 'Z' }, faults: true, lockedItself: true });
// CLI and PUSHF, a kernel's local_irq_save(), from their own records (handlers.ts says when).
add({ name: 'cli', mnemonic: 'CLI', form: 'Z', size: 32, enc: encodings('CLI'), flags: { read: '', written: '' }, faults: true });
add({ name: 'pushf', mnemonic: 'PUSHF', form: 'Z', size: 32, enc: encodings('PUSHF', { size: 32 }), reads: ['eSP'], writes: ['stack', 'eSP'], flags: { read: '*', written: '' }, faults: true });
// SAHF and LAHF, which compiled code runs around the x87's compares (sort, awk).
add({ name: 'sahf', mnemonic: 'SAHF', form: 'Z', size: 32, enc: encodings('SAHF'), reads: ['eAX'], flags: { read: '', written: 'SZAPC' } });
add({ name: 'lahf', mnemonic: 'LAHF', form: 'Z', size: 32, enc: encodings('LAHF'), writes: ['eAX'], flags: { read: 'SZAPC', written: '' } });
add({ name: 'cld', jit: true, mnemonic: 'CLD', form: 'Z', size: 32, enc: encodings('CLD'), flags: { read: '', written: 'D' } });
add({ name: 'std', jit: true, mnemonic: 'STD', form: 'Z', size: 32, enc: encodings('STD'), flags: { read: '', written: 'D' } });

/** Every handler, in the order of its number (HANDLERS[h].name is handler h). */
export const HANDLERS = handlers;

/** The general registers a handler may write ('rm' and 'reg' name one in the record). */
const GENERAL = new Set(['rm', 'reg', 'eAX', 'eCX', 'eDX', 'eBX', 'eSP', 'eBP', 'eSI', 'eDI', 'all']);
/** Does handler `h` leave every general register as it was (whatever its record holds)? */
export function writesRegisters(h) { return h.writes.some((w) => GENERAL.has(w)); }
