// The one table of the decoded-block records' handlers (cpu/record.ts, cpu/handlers.ts): for
// each handler, in the order of its number, what it does and which encodings the block decoder
// (cpu/predecode.ts) gives it. Plain data, read by the build (asm-core/opcodes/generate.mjs
// writes cpu/generated/handlers.ts from it: the numbering, the dispatch switch, the decoder's
// opcode maps, the JIT's and the region's questions about a handler) and by the tests (test/cpu/opcodes.test.ts checks it
// against the decoder in the built core and against the differential test's forms).
//
// Vocabulary (SDM vol. 2, appendix A, the opcode map):
//  - form: where the operands are. RR reg op= reg (destination REC_RM, source REC_REG), RI reg
//    op= immediate, RM reg op= memory (destination REC_REG), MR memory op= reg, MI memory op=
//    immediate; R a register only (REC_RM), M memory only, RC / MC by CL, J a relative target
//    (REC_DISP), Z no operand in the record, X the interpreter's (anything).
//  - size: the operand size in bits (16: with the 66h prefix).
//  - enc: the encodings decoded to it. op: the opcode bytes after the prefixes; pfx: a prefix
//    that must be there (0x66, 0xF3); digit: the ModRM reg field (/digit), a number or a list;
//    mod: 'reg' (mod 3) or 'mem' (the ModRM r/m is memory), absent without a ModRM byte;
//    plusr: the opcode's low three bits name the register (B8+r); cc: the low four bits are a
//    condition (70+cc); size: the operand size where it is not the handler's. With `tested`, the CPU differential test (test/cpu/gen/forms.ts) has no
//    form for it and the string says where it is tested instead.
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
//  - keepsRegistersUnless: the record immediate for which a handler that writes a general
//    register does so (x87: only FNSTSW AX writes one).

/** The ALU operations in the order of their opcode rows (00, 08, ... 38) and of /digit in 80-83. */
export const ALU_OPS = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
/** The ALU record forms in the order of their handler numbers. */
export const FORMS = ['RR', 'RI', 'RM', 'MR', 'MI'];
/** The condition codes of Jcc, SETcc and CMOVcc (the opcode's low four bits). */
export const CONDITIONS = ['o', 'no', 'b', 'ae', 'z', 'nz', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
/** The flags each condition tests (SDM vol. 1, table B-1). */
const CC_FLAGS = ['O', 'O', 'C', 'C', 'Z', 'Z', 'CZ', 'CZ', 'S', 'S', 'P', 'P', 'SO', 'SO', 'ZSO', 'ZSO'];
const ARITH = 'OSZAPC';
const ALL_DIGITS = [0, 1, 2, 3, 4, 5, 6, 7];

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
  const wide = size === 32 ? 1 : 0;
  FORMS.forEach((form, f) => {
    ALU_OPS.forEach((aop, i) => {
      const row = i * 8;
      const group = size === 32 ? [0x81, 0x83] : [0x80, 0x82];
      const enc = {
        RR: [{ op: [row + wide], mod: 'reg' }, { op: [row + 2 + wide], mod: 'reg' }],
        RI: [{ op: [row + 4 + wide] }, ...group.map((g) => ({ op: [g], digit: i, mod: 'reg' }))],
        RM: [{ op: [row + 2 + wide], mod: 'mem' }],
        MR: [{ op: [row + wide], mod: 'mem' }],
        MI: group.map((g) => ({ op: [g], digit: i, mod: 'mem' })),
      }[form];
      const dst = form === 'RM' ? 'reg' : form[0] === 'M' ? 'mem' : 'rm';
      const src = form === 'RR' || form === 'MR' ? 'reg' : form === 'RM' ? 'mem' : 'imm';
      add({
        name: `${aop}${form}${size}`, mnemonic: aop.toUpperCase(), form, size, enc,
        reads: [dst, src], writes: aop === 'cmp' ? [] : [dst],
        flags: { read: aop === 'adc' || aop === 'sbb' ? 'C' : '', written: ARITH },
        faults: form.includes('M'),
      });
    });
  });
}

// ---- Jcc, one handler per condition ----
CONDITIONS.forEach((cc, k) => add({
  name: `j${cc}`, mnemonic: `J${cc.toUpperCase()}`, form: 'J', size: 32,
  enc: [{ op: [0x70 + k] }, { op: [0x0f, 0x80 + k] }],
  flags: { read: CC_FLAGS[k], written: '' }, ends: 'branch',
}));

// ---- moves ----
const move = (size, opRR, opRM, opI, opRI, moffs) => {
  const p = size === 16 ? { pfx: 0x66 } : {};
  const e = (x) => ({ ...p, ...x });
  add({ name: `movRR${size}`, mnemonic: 'MOV', form: 'RR', size, enc: [...(opRR !== undefined ? [e({ op: [opRR], mod: 'reg' })] : []), e({ op: [opRM], mod: 'reg' })], reads: ['reg'], writes: ['rm'] });
  add({ name: `movRI${size}`, mnemonic: 'MOV', form: 'RI', size, enc: [e({ op: [opRI], plusr: true }), e({ op: [opI], digit: 0, mod: 'reg' })], reads: ['imm'], writes: ['rm'] });
  add({ name: `movRM${size}`, mnemonic: 'MOV', form: 'RM', size, enc: [e({ op: [opRM], mod: 'mem' }), e({ op: [moffs] })], reads: ['mem'], writes: ['reg'], faults: true });
  add({ name: `movMR${size}`, mnemonic: 'MOV', form: 'MR', size, enc: [e({ op: [opRM - 2], mod: 'mem' }), e({ op: [moffs + 2] })], reads: ['reg'], writes: ['mem'], faults: true });
  add({ name: `movMI${size}`, mnemonic: 'MOV', form: 'MI', size, enc: [e({ op: [opI], digit: 0, mod: 'mem' })], reads: ['imm'], writes: ['mem'], faults: true });
};
move(32, 0x89, 0x8b, 0xc7, 0xb8, 0xa1);
move(8, 0x88, 0x8a, 0xc6, 0xb0, 0xa0);
add({ name: 'lea32', mnemonic: 'LEA', form: 'RM', size: 32, enc: [{ op: [0x8d], mod: 'mem' }], reads: ['rm'], writes: ['reg'] });
for (const [mn, base] of [['movzx', 0xb6], ['movsx', 0xbe]]) {
  for (const src of [8, 16]) {
    const op = [0x0f, base + (src === 16 ? 1 : 0)];
    add({ name: `${mn}RR${src}`, mnemonic: mn.toUpperCase(), form: 'RR', size: 32, enc: [{ op, mod: 'reg' }], reads: ['rm'], writes: ['reg'] });
    add({ name: `${mn}RM${src}`, mnemonic: mn.toUpperCase(), form: 'RM', size: 32, enc: [{ op, mod: 'mem' }], reads: ['mem'], writes: ['reg'], faults: true });
  }
}
add({
  name: 'xchgRR32', mnemonic: 'XCHG', form: 'RR', size: 32,
  enc: [{ op: [0x87], mod: 'reg' }, ...[1, 2, 3, 4, 5, 6, 7].map((r) => ({ op: [0x90 + r] }))],
  reads: ['rm', 'reg'], writes: ['rm', 'reg'],
});
add({ name: 'cwde', mnemonic: 'CWDE', form: 'Z', size: 32, enc: [{ op: [0x98] }], reads: ['eAX'], writes: ['eAX'] });
add({ name: 'cdq', mnemonic: 'CDQ', form: 'Z', size: 32, enc: [{ op: [0x99] }], reads: ['eAX'], writes: ['eDX'] });
add({
  name: 'nop', mnemonic: 'NOP', form: 'Z', size: 32,
  enc: [
    { op: [0x90] }, { op: [0x90], pfx: 0x66 }, { op: [0x90], pfx: 0xf3, tested: 'PAUSE: the forms have no REP NOP' },
    { op: [0x0f, 0x1f], digit: 0, mod: 'reg' }, { op: [0x0f, 0x1f], digit: 0, mod: 'mem' },
    { op: [0x0f, 0x1f], digit: 0, mod: 'reg', pfx: 0x66 }, { op: [0x0f, 0x1f], digit: 0, mod: 'mem', pfx: 0x66 },
  ],
});

// ---- TEST, INC, DEC, NOT, NEG, multiply and divide (32 and 8 bits) ----
for (const size of [32, 8]) {
  const w = size === 32 ? 1 : 0;
  const logic = { read: '', written: ARITH };
  add({ name: `testRR${size}`, mnemonic: 'TEST', form: 'RR', size, enc: [{ op: [0x84 + w], mod: 'reg' }], reads: ['rm', 'reg'], flags: logic });
  add({ name: `testRI${size}`, mnemonic: 'TEST', form: 'RI', size, enc: [{ op: [0xa8 + w] }, { op: [0xf6 + w], digit: [0, 1], mod: 'reg' }], reads: ['rm', 'imm'], flags: logic });
  add({ name: `testMR${size}`, mnemonic: 'TEST', form: 'MR', size, enc: [{ op: [0x84 + w], mod: 'mem' }], reads: ['mem', 'reg'], flags: logic, faults: true });
  add({ name: `testMI${size}`, mnemonic: 'TEST', form: 'MI', size, enc: [{ op: [0xf6 + w], digit: [0, 1], mod: 'mem' }], reads: ['mem', 'imm'], flags: logic, faults: true });
}
const incDec = { read: '', written: 'OSZAP' };
add({ name: 'incR32', mnemonic: 'INC', form: 'R', size: 32, enc: [{ op: [0x40], plusr: true }, { op: [0xff], digit: 0, mod: 'reg' }], reads: ['rm'], writes: ['rm'], flags: incDec });
add({ name: 'decR32', mnemonic: 'DEC', form: 'R', size: 32, enc: [{ op: [0x48], plusr: true }, { op: [0xff], digit: 1, mod: 'reg' }], reads: ['rm'], writes: ['rm'], flags: incDec });
add({ name: 'incM32', mnemonic: 'INC', form: 'M', size: 32, enc: [{ op: [0xff], digit: 0, mod: 'mem' }], reads: ['mem'], writes: ['mem'], flags: incDec, faults: true });
add({ name: 'decM32', mnemonic: 'DEC', form: 'M', size: 32, enc: [{ op: [0xff], digit: 1, mod: 'mem' }], reads: ['mem'], writes: ['mem'], flags: incDec, faults: true });
add({ name: 'notR32', mnemonic: 'NOT', form: 'R', size: 32, enc: [{ op: [0xf7], digit: 2, mod: 'reg' }], reads: ['rm'], writes: ['rm'] });
add({ name: 'notM32', mnemonic: 'NOT', form: 'M', size: 32, enc: [{ op: [0xf7], digit: 2, mod: 'mem' }], reads: ['mem'], writes: ['mem'], faults: true });
add({ name: 'negR32', mnemonic: 'NEG', form: 'R', size: 32, enc: [{ op: [0xf7], digit: 3, mod: 'reg' }], reads: ['rm'], writes: ['rm'], flags: { read: '', written: ARITH } });
add({ name: 'negM32', mnemonic: 'NEG', form: 'M', size: 32, enc: [{ op: [0xf7], digit: 3, mod: 'mem' }], reads: ['mem'], writes: ['mem'], flags: { read: '', written: ARITH }, faults: true });
// F7 /4../7: MUL, IMUL, DIV, IDIV of EDX:EAX (the record's REC_REG says which); DIV may raise #DE.
add({ name: 'mulDivR32', mnemonic: 'MUL/IMUL/DIV/IDIV', form: 'R', size: 32, enc: [{ op: [0xf7], digit: [4, 5, 6, 7], mod: 'reg' }], reads: ['rm', 'eAX', 'eDX'], writes: ['eAX', 'eDX'], flags: { read: '', written: ARITH }, faults: true });
add({ name: 'mulDivM32', mnemonic: 'MUL/IMUL/DIV/IDIV', form: 'M', size: 32, enc: [{ op: [0xf7], digit: [4, 5, 6, 7], mod: 'mem' }], reads: ['mem', 'eAX', 'eDX'], writes: ['eAX', 'eDX'], flags: { read: '', written: ARITH }, faults: true });
const imul = { read: '', written: ARITH };
add({ name: 'imulRRI', mnemonic: 'IMUL', form: 'RR', size: 32, enc: [{ op: [0x69], mod: 'reg' }, { op: [0x6b], mod: 'reg' }], reads: ['rm', 'imm'], writes: ['reg'], flags: imul });
add({ name: 'imulRMI', mnemonic: 'IMUL', form: 'RM', size: 32, enc: [{ op: [0x69], mod: 'mem' }, { op: [0x6b], mod: 'mem' }], reads: ['mem', 'imm'], writes: ['reg'], flags: imul, faults: true });
add({ name: 'imulRR', mnemonic: 'IMUL', form: 'RR', size: 32, enc: [{ op: [0x0f, 0xaf], mod: 'reg' }], reads: ['rm', 'reg'], writes: ['reg'], flags: imul });
add({ name: 'imulRM', mnemonic: 'IMUL', form: 'RM', size: 32, enc: [{ op: [0x0f, 0xaf], mod: 'mem' }], reads: ['mem', 'reg'], writes: ['reg'], flags: imul, faults: true });

// ---- shifts and rotates (REC_REG: the group-2 operation; RCL and RCR read CF) ----
const shiftFlags = { read: 'C', written: ARITH, partial: true };
const shifts = (size) => {
  const p = size === 16 ? { pfx: 0x66 } : {};
  add({ name: `shiftRI${size}`, mnemonic: 'ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR', form: 'RI', size, enc: [{ ...p, op: [0xc1], digit: ALL_DIGITS, mod: 'reg' }, { ...p, op: [0xd1], digit: ALL_DIGITS, mod: 'reg' }], reads: ['rm', 'imm'], writes: ['rm'], flags: shiftFlags });
  add({ name: `shiftRC${size}`, mnemonic: 'ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR', form: 'RC', size, enc: [{ ...p, op: [0xd3], digit: ALL_DIGITS, mod: 'reg' }], reads: ['rm', 'eCX'], writes: ['rm'], flags: shiftFlags });
  add({ name: `shiftMI${size}`, mnemonic: 'ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR', form: 'MI', size, enc: [{ ...p, op: [0xc1], digit: ALL_DIGITS, mod: 'mem' }, { ...p, op: [0xd1], digit: ALL_DIGITS, mod: 'mem' }], reads: ['mem', 'imm'], writes: ['mem'], flags: shiftFlags, faults: true });
  add({ name: `shiftMC${size}`, mnemonic: 'ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR', form: 'MC', size, enc: [{ ...p, op: [0xd3], digit: ALL_DIGITS, mod: 'mem' }], reads: ['mem', 'eCX'], writes: ['mem'], flags: shiftFlags, faults: true });
};
shifts(32);

// ---- SETcc and CMOVcc (REC_IMM: the condition) ----
const anyCC = { read: 'OSZPC', written: '' };
add({ name: 'setccR', mnemonic: 'SETcc', form: 'R', size: 8, enc: [{ op: [0x0f, 0x90], cc: true, mod: 'reg' }], writes: ['rm'], flags: anyCC });
add({ name: 'setccM', mnemonic: 'SETcc', form: 'M', size: 8, enc: [{ op: [0x0f, 0x90], cc: true, mod: 'mem' }], writes: ['mem'], flags: anyCC, faults: true });
add({ name: 'cmovRR', mnemonic: 'CMOVcc', form: 'RR', size: 32, enc: [{ op: [0x0f, 0x40], cc: true, mod: 'reg' }], reads: ['rm'], writes: ['reg'], flags: anyCC });
add({ name: 'cmovRM', mnemonic: 'CMOVcc', form: 'RM', size: 32, enc: [{ op: [0x0f, 0x40], cc: true, mod: 'mem' }], reads: ['mem'], writes: ['reg'], flags: anyCC, faults: true });

// ---- stack ----
add({ name: 'pushR32', mnemonic: 'PUSH', form: 'R', size: 32, enc: [{ op: [0x50], plusr: true }, { op: [0xff], digit: 6, mod: 'reg' }], reads: ['rm', 'eSP'], writes: ['stack', 'eSP'], faults: true });
add({ name: 'pushI32', mnemonic: 'PUSH', form: 'RI', size: 32, enc: [{ op: [0x68] }, { op: [0x6a] }], reads: ['imm', 'eSP'], writes: ['stack', 'eSP'], faults: true });
add({ name: 'pushM32', mnemonic: 'PUSH', form: 'M', size: 32, enc: [{ op: [0xff], digit: 6, mod: 'mem' }], reads: ['mem', 'eSP'], writes: ['stack', 'eSP'], faults: true });
add({ name: 'popR32', mnemonic: 'POP', form: 'R', size: 32, enc: [{ op: [0x58], plusr: true }], reads: ['stack', 'eSP'], writes: ['rm', 'eSP'], faults: true });
add({ name: 'leave32', mnemonic: 'LEAVE', form: 'Z', size: 32, enc: [{ op: [0xc9] }], reads: ['eBP', 'stack'], writes: ['eSP', 'eBP'], faults: true });

// ---- near jumps, calls and returns ----
add({ name: 'jmpRel', mnemonic: 'JMP', form: 'J', size: 32, enc: [{ op: [0xe9] }, { op: [0xeb] }], ends: 'jump' });
add({ name: 'callRel', mnemonic: 'CALL', form: 'J', size: 32, enc: [{ op: [0xe8] }], reads: ['eSP'], writes: ['stack', 'eSP'], faults: true, ends: 'call' });
add({ name: 'jmpR', mnemonic: 'JMP', form: 'R', size: 32, enc: [{ op: [0xff], digit: 4, mod: 'reg' }], reads: ['rm'], ends: 'indirect' });
add({ name: 'jmpM', mnemonic: 'JMP', form: 'M', size: 32, enc: [{ op: [0xff], digit: 4, mod: 'mem' }], reads: ['mem'], faults: true, ends: 'indirect' });
add({ name: 'callR', mnemonic: 'CALL', form: 'R', size: 32, enc: [{ op: [0xff], digit: 2, mod: 'reg' }], reads: ['rm', 'eSP'], writes: ['stack', 'eSP'], faults: true, ends: 'indirect-call' });
add({ name: 'callM', mnemonic: 'CALL', form: 'M', size: 32, enc: [{ op: [0xff], digit: 2, mod: 'mem' }], reads: ['mem', 'eSP'], writes: ['stack', 'eSP'], faults: true, ends: 'indirect-call' });
add({ name: 'ret', mnemonic: 'RET', form: 'Z', size: 32, enc: [{ op: [0xc3] }, { op: [0xc3], pfx: 0xf3, tested: 'REP RET: the forms have no REP on RET' }], reads: ['stack', 'eSP'], writes: ['eSP'], faults: true, ends: 'return' });
add({ name: 'retImm', mnemonic: 'RET', form: 'RI', size: 32, enc: [{ op: [0xc2] }], reads: ['stack', 'eSP', 'imm'], writes: ['eSP'], faults: true, ends: 'return' });

// ---- string instructions (REC_REG: the kind, REC_SCALE: 8 or 32, REC_IMM: the REP prefix) ----
add({
  name: 'stringOp32', mnemonic: 'MOVS/CMPS/STOS/LODS/SCAS', form: 'Z', size: 32,
  enc: [0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf].flatMap((op) => {
    const size = op & 1 ? 32 : 8;
    return [{ op: [op], size }, { op: [op], pfx: 0xf3, size }, { op: [op], pfx: 0xf2, size }];
  }),
  reads: ['eSI', 'eDI', 'eCX', 'eAX', 'mem'], writes: ['eSI', 'eDI', 'eCX', 'eAX', 'mem'],
  flags: { read: 'D', written: ARITH, partial: true }, faults: true,
});

// ---- the interpreter, for a whole instruction (always a block's last record) ----
add({ name: 'interpret', mnemonic: '(any)', form: 'X', size: 32, enc: [], reads: ['all'], writes: ['all'], flags: { read: '*', written: '*' }, faults: true, ends: 'interpret' });

// ---- 16-bit operands (66h): MOV, the ALU with the operation in the record, TEST, shifts ----
move(16, 0x89, 0x8b, 0xc7, 0xb8, 0xa1);
const o16 = { pfx: 0x66 };
const aluRows = ALU_OPS.map((_, i) => i * 8);
add({ name: 'aluRR16', mnemonic: 'ALU', form: 'RR', size: 16, enc: aluRows.flatMap((r) => [{ ...o16, op: [r + 1], mod: 'reg' }, { ...o16, op: [r + 3], mod: 'reg' }]), reads: ['rm', 'reg'], writes: ['rm'], flags: { read: 'C', written: ARITH } });
add({ name: 'aluRI16', mnemonic: 'ALU', form: 'RI', size: 16, enc: [...aluRows.map((r) => ({ ...o16, op: [r + 5] })), { ...o16, op: [0x81], digit: ALL_DIGITS, mod: 'reg' }, { ...o16, op: [0x83], digit: ALL_DIGITS, mod: 'reg' }], reads: ['rm', 'imm'], writes: ['rm'], flags: { read: 'C', written: ARITH } });
add({ name: 'aluRM16', mnemonic: 'ALU', form: 'RM', size: 16, enc: aluRows.map((r) => ({ ...o16, op: [r + 3], mod: 'mem' })), reads: ['reg', 'mem'], writes: ['reg'], flags: { read: 'C', written: ARITH }, faults: true });
add({ name: 'aluMR16', mnemonic: 'ALU', form: 'MR', size: 16, enc: aluRows.map((r) => ({ ...o16, op: [r + 1], mod: 'mem' })), reads: ['mem', 'reg'], writes: ['mem'], flags: { read: 'C', written: ARITH }, faults: true });
add({ name: 'aluMI16', mnemonic: 'ALU', form: 'MI', size: 16, enc: [{ ...o16, op: [0x81], digit: ALL_DIGITS, mod: 'mem' }, { ...o16, op: [0x83], digit: ALL_DIGITS, mod: 'mem' }], reads: ['mem', 'imm'], writes: ['mem'], flags: { read: 'C', written: ARITH }, faults: true });
{
  const logic = { read: '', written: ARITH };
  add({ name: 'testRR16', mnemonic: 'TEST', form: 'RR', size: 16, enc: [{ ...o16, op: [0x85], mod: 'reg' }], reads: ['rm', 'reg'], flags: logic });
  add({ name: 'testRI16', mnemonic: 'TEST', form: 'RI', size: 16, enc: [{ ...o16, op: [0xa9] }, { ...o16, op: [0xf7], digit: [0, 1], mod: 'reg' }], reads: ['rm', 'imm'], flags: logic });
  add({ name: 'testMR16', mnemonic: 'TEST', form: 'MR', size: 16, enc: [{ ...o16, op: [0x85], mod: 'mem' }], reads: ['mem', 'reg'], flags: logic, faults: true });
  add({ name: 'testMI16', mnemonic: 'TEST', form: 'MI', size: 16, enc: [{ ...o16, op: [0xf7], digit: [0, 1], mod: 'mem' }], reads: ['mem', 'imm'], flags: logic, faults: true });
}
shifts(16);

// ---- the interpreter, for one instruction inside the block (it cannot change the mode, the
// paging or the flow of control); with a LOCK prefix, any form of the other handlers too ----
add({
  name: 'stepInBlock', mnemonic: '(interpreted)', form: 'X', size: 32,
  enc: [
    ...[0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf].flatMap((op) => ['reg', 'mem'].map((mod) => ({ op: [op], mod, pfx: 0x66, tested: 'fpu-diff.test.ts (x87 with a 16-bit environment)' }))),
    { op: [0x9b], tested: 'fpu-exceptions.test.ts (WAIT)' }, { op: [0x9b], pfx: 0x66, tested: 'fpu-exceptions.test.ts (WAIT)' },
    { op: [0x87], mod: 'mem' }, { op: [0x86], mod: 'reg' }, { op: [0x86], mod: 'mem' },
    ...[0xd0, 0xd2, 0xc0].flatMap((op) => ['reg', 'mem'].map((mod) => ({ op: [op], digit: ALL_DIGITS, mod }))),
    { op: [0xfe], digit: [0, 1], mod: 'reg' }, { op: [0xfe], digit: [0, 1], mod: 'mem' },
    { op: [0xf6], digit: [2, 3, 4, 5, 6, 7], mod: 'reg' }, { op: [0xf6], digit: [2, 3, 4, 5, 6, 7], mod: 'mem' },
    { op: [0x8c], mod: 'reg' }, { op: [0x8c], mod: 'mem' },
    // MOV Sw,Ew to ES, DS, FS, GS (the form MOV Sw,Ew loads ES, SS, DS and CS; FS and GS: baremetal.test.ts).
    { op: [0x8e], digit: [0, 3, 4, 5], mod: 'reg' }, { op: [0x8e], digit: [0, 3, 4, 5], mod: 'mem' },
    { op: [0x06] }, { op: [0x0e] }, { op: [0x16] }, { op: [0x1e] }, { op: [0x07] }, { op: [0x1f] },
    { op: [0x9c] }, { op: [0x9e] }, { op: [0x9f] }, { op: [0xfa] },
    { op: [0x0f, 0x31], tested: 'baremetal.test.ts (RDTSC: the host clock differs)' },
    ...[0xa3, 0xab, 0xb3, 0xbb].map((b) => ({ op: [0x0f, b], mod: 'mem' })),
    { op: [0x0f, 0xbc], pfx: 0xf3, mod: 'reg', tested: 'TZCNT: not in the forms (CPUID has no BMI1)' },
    { op: [0x0f, 0xbc], pfx: 0xf3, mod: 'mem', tested: 'TZCNT: not in the forms (CPUID has no BMI1)' },
    { op: [0x0f, 0xbd], pfx: 0xf3, mod: 'reg', tested: 'LZCNT: not in the forms (CPUID has no ABM)' },
    { op: [0x0f, 0xbd], pfx: 0xf3, mod: 'mem', tested: 'LZCNT: not in the forms (CPUID has no ABM)' },
    ...[0xa4, 0xa5, 0xac, 0xad].map((b) => ({ op: [0x0f, b], mod: 'mem' })),
    { op: [0x0f, 0xb1], mod: 'reg' },
    ...[0xb0, 0xc0, 0xc1].flatMap((b) => ['reg', 'mem'].map((mod) => ({ op: [0x0f, b], mod }))),
    { op: [0x0f, 0xc7], digit: 1, mod: 'mem' },
    ...[0xa0, 0xa1, 0xa8, 0xa9].map((b) => ({ op: [0x0f, b], tested: 'baremetal.test.ts (PUSH and POP FS, GS)' })),
  ],
  reads: ['all'], writes: ['all'], flags: { read: '*', written: '*' }, faults: true,
});

// ---- bit tests (REC_IMM: the kind << 8 | the bit offset), BSWAP, the x87, bit scans, SHLD/SHRD, CMPXCHG ----
const bt = { read: '', written: 'C' };
add({ name: 'bitRR', mnemonic: 'BT/BTS/BTR/BTC', form: 'RR', size: 32, enc: [0xa3, 0xab, 0xb3, 0xbb].map((b) => ({ op: [0x0f, b], mod: 'reg' })), reads: ['rm', 'reg'], writes: ['rm'], flags: bt });
add({ name: 'bitRI', mnemonic: 'BT/BTS/BTR/BTC', form: 'RI', size: 32, enc: [{ op: [0x0f, 0xba], digit: [4, 5, 6, 7], mod: 'reg' }], reads: ['rm', 'imm'], writes: ['rm'], flags: bt });
add({ name: 'bitMI', mnemonic: 'BT/BTS/BTR/BTC', form: 'MI', size: 32, enc: [{ op: [0x0f, 0xba], digit: [4, 5, 6, 7], mod: 'mem' }], reads: ['mem', 'imm'], writes: ['mem'], flags: bt, faults: true });
add({ name: 'bswapR', mnemonic: 'BSWAP', form: 'R', size: 32, enc: [{ op: [0x0f, 0xc8], plusr: true }], reads: ['rm'], writes: ['rm'] });
add({
  name: 'x87', mnemonic: 'ESC', form: 'X', size: 32,
  enc: [0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf].flatMap((op) => ['reg', 'mem'].map((mod) => ({ op: [op], mod, tested: 'fpu-diff.test.ts' }))),
  // FCOMI writes ZF PF CF (and clears OF SF AF), FCMOVcc reads CF ZF PF; FNSTSW AX writes AX.
  reads: ['mem', 'x87'], writes: ['mem', 'x87', 'eAX'], keepsRegistersUnless: 0xdf | (0xe0 << 8),
  flags: { read: 'ZPC', written: ARITH, partial: true }, faults: true,
});
add({ name: 'bitScanR', mnemonic: 'BSF/BSR', form: 'RR', size: 32, enc: [{ op: [0x0f, 0xbc], mod: 'reg' }, { op: [0x0f, 0xbd], mod: 'reg' }], reads: ['rm'], writes: ['reg'], flags: { read: '', written: ARITH, partial: true } });
add({ name: 'bitScanM', mnemonic: 'BSF/BSR', form: 'RM', size: 32, enc: [{ op: [0x0f, 0xbc], mod: 'mem' }, { op: [0x0f, 0xbd], mod: 'mem' }], reads: ['mem'], writes: ['reg'], flags: { read: '', written: ARITH, partial: true }, faults: true });
add({ name: 'shiftDoubleR', mnemonic: 'SHLD/SHRD', form: 'RR', size: 32, enc: [0xa4, 0xa5, 0xac, 0xad].map((b) => ({ op: [0x0f, b], mod: 'reg' })), reads: ['rm', 'reg', 'eCX'], writes: ['rm'], flags: { read: '', written: ARITH, partial: true } });
// CMPXCHG to memory, a spinlock's, runs from its own record with LOCK too (there is one CPU).
add({ name: 'cmpxchgM32', mnemonic: 'CMPXCHG', form: 'MR', size: 32, enc: [{ op: [0x0f, 0xb1], mod: 'mem' }], reads: ['mem', 'reg', 'eAX'], writes: ['mem', 'eAX'], flags: { read: '', written: ARITH }, faults: true, lockedItself: true });
add({ name: 'cld', mnemonic: 'CLD', form: 'Z', size: 32, enc: [{ op: [0xfc] }], flags: { read: '', written: 'D' } });
add({ name: 'std', mnemonic: 'STD', form: 'Z', size: 32, enc: [{ op: [0xfd] }], flags: { read: '', written: 'D' } });

/** Every handler, in the order of its number (HANDLERS[h].name is handler h). */
export const HANDLERS = handlers;

/** The general registers a handler may write ('rm' and 'reg' name one in the record). */
const GENERAL = new Set(['rm', 'reg', 'eAX', 'eCX', 'eDX', 'eBX', 'eSP', 'eBP', 'eSI', 'eDI', 'all']);
/** Does handler `h` leave every general register as it was (whatever its record holds)? */
export function writesRegisters(h) { return h.writes.some((w) => GENERAL.has(w)); }
