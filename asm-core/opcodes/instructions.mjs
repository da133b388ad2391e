// The instructions the CPU implements, one row per encoding (the SDM's opcode map, vol. 2,
// appendix A): the one description of each instruction that the rest is generated from.
//  - table.mjs takes each handler's encodings from these rows (`encodings` below), and
//    generate.mjs turns them into the block decoder's opcode maps;
//  - the CPU differential test's forms are these rows (test/cpu/gen/forms.ts adds only how to
//    pick inputs for a row and what the SDM leaves undefined), except the rows that say where
//    else they are tested (`tested`).
// Plain data, read by the build and by the tests.
//
// Fields:
//  - name: mnemonic and operands in the opcode map's notation: E the ModRM r/m, G the ModRM reg,
//    I an immediate, J a relative target, O a memory offset, Z the register in the opcode's low
//    bits, S a segment register; b byte, w word, v word or doubleword by the operand size, d
//    doubleword, z word or doubleword immediate. Unique: tests and handlers name rows by it.
//  - op: the opcode bytes after the prefixes; pfx: a prefix the encoding needs (0xF3: PAUSE,
//    TZCNT, LZCNT).
//  - sizes: the operand sizes it comes in, in bits: [8], [16, 32] (16 with the 66h prefix), or
//    one fixed size.
//  - modrm: there is a ModRM byte, whose r/m may be a register or memory ('rm'), memory only
//    ('mem') or a register only ('reg'); digit: its reg field is an opcode extension (/digit).
//  - plusr: the opcode's low three bits name a register (50+r).
//  - imm: the immediate: a byte 'b', a word 'w', by the operand size 'v', a relative target
//    'rel8' or 'relv', a memory offset 'moffs', or ENTER's word and byte 'enter'.
//  - lock: LOCK is legal with a memory destination. rep: REP, REPE and REPNE apply (strings).
//  - udOnReg: the register form raises #UD (LEA, BOUND, CMPXCHG8B).
//  - memSize: the memory operand's size where it is not the operand size.
//  - tested: the differential test against the host CPU has no form for it; where it is tested.

/** The ALU operations in the order of their opcode rows (00, 08, ... 38) and of /digit in 80-83. */
export const ALU_OPS = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
/** The condition codes of Jcc, SETcc and CMOVcc (the opcode's low four bits), as the mnemonics spell them. */
export const CC_NAMES = ['O', 'NO', 'B', 'AE', 'E', 'NE', 'BE', 'A', 'S', 'NS', 'P', 'NP', 'L', 'GE', 'LE', 'G'];
/** Group 2's operations, by /digit (SAL is SHL's second encoding). */
export const SHIFT_OPS = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'];
/** Group 8 and the 0F A3+8k rows: BT, BTS, BTR, BTC. */
export const BIT_OPS = ['BT', 'BTS', 'BTR', 'BTC'];

const V = [16, 32];
const B = [8];
const rows = [];
const add = (row) => rows.push(row);

// ---- ALU ----
ALU_OPS.map((a) => a.toUpperCase()).forEach((n, i) => {
  const lock = n !== 'CMP';
  add({ name: `${n} Eb,Gb`, op: [i * 8], sizes: B, modrm: 'rm', lock });
  add({ name: `${n} Ev,Gv`, op: [i * 8 + 1], sizes: V, modrm: 'rm', lock });
  add({ name: `${n} Gb,Eb`, op: [i * 8 + 2], sizes: B, modrm: 'rm' });
  add({ name: `${n} Gv,Ev`, op: [i * 8 + 3], sizes: V, modrm: 'rm' });
  add({ name: `${n} AL,Ib`, op: [i * 8 + 4], sizes: B, imm: 'b' });
  add({ name: `${n} eAX,Iv`, op: [i * 8 + 5], sizes: V, imm: 'v' });
  add({ name: `${n} Eb,Ib`, op: [0x80], digit: i, sizes: B, modrm: 'rm', imm: 'b', lock });
  add({ name: `${n} Ev,Iv`, op: [0x81], digit: i, sizes: V, modrm: 'rm', imm: 'v', lock });
  add({ name: `${n} Eb,Ib (82)`, op: [0x82], digit: i, sizes: B, modrm: 'rm', imm: 'b', lock });
  add({ name: `${n} Ev,Ib`, op: [0x83], digit: i, sizes: V, modrm: 'rm', imm: 'b', lock });
});
add({ name: 'TEST Eb,Gb', op: [0x84], sizes: B, modrm: 'rm' });
add({ name: 'TEST Ev,Gv', op: [0x85], sizes: V, modrm: 'rm' });
add({ name: 'TEST AL,Ib', op: [0xa8], sizes: B, imm: 'b' });
add({ name: 'TEST eAX,Iv', op: [0xa9], sizes: V, imm: 'v' });
add({ name: 'TEST Eb,Ib', op: [0xf6], digit: 0, sizes: B, modrm: 'rm', imm: 'b' });
add({ name: 'TEST Eb,Ib (/1)', op: [0xf6], digit: 1, sizes: B, modrm: 'rm', imm: 'b' });
add({ name: 'TEST Ev,Iv', op: [0xf7], digit: 0, sizes: V, modrm: 'rm', imm: 'v' });
add({ name: 'TEST Ev,Iv (/1)', op: [0xf7], digit: 1, sizes: V, modrm: 'rm', imm: 'v' });
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
add({ name: 'MUL Eb', op: [0xf6], digit: 4, sizes: B, modrm: 'rm' });
add({ name: 'MUL Ev', op: [0xf7], digit: 4, sizes: V, modrm: 'rm' });
add({ name: 'IMUL Eb', op: [0xf6], digit: 5, sizes: B, modrm: 'rm' });
add({ name: 'IMUL Ev', op: [0xf7], digit: 5, sizes: V, modrm: 'rm' });
add({ name: 'IMUL Gv,Ev', op: [0x0f, 0xaf], sizes: V, modrm: 'rm' });
add({ name: 'IMUL Gv,Ev,Iv', op: [0x69], sizes: V, modrm: 'rm', imm: 'v' });
add({ name: 'IMUL Gv,Ev,Ib', op: [0x6b], sizes: V, modrm: 'rm', imm: 'b' });
add({ name: 'DIV Eb', op: [0xf6], digit: 6, sizes: B, modrm: 'rm' });
add({ name: 'DIV Ev', op: [0xf7], digit: 6, sizes: V, modrm: 'rm' });
add({ name: 'IDIV Eb', op: [0xf6], digit: 7, sizes: B, modrm: 'rm' });
add({ name: 'IDIV Ev', op: [0xf7], digit: 7, sizes: V, modrm: 'rm' });

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
add({ name: 'MOV Ew,Sw', op: [0x8c], sizes: V, modrm: 'rm' });
add({ name: 'MOV Sw,Ew', op: [0x8e], sizes: V, modrm: 'rm', memSize: 16 });
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
add({ name: 'XLAT', op: [0xd7], sizes: B });
add({ name: 'BSWAP Zd', op: [0x0f, 0xc8], plusr: true, sizes: [32] });

// ---- shifts and rotates ----
SHIFT_OPS.forEach((n, k) => {
  for (const [op, operands, imm] of [[0xd0, 'Eb,1'], [0xd1, 'Ev,1'], [0xd2, 'Eb,CL'], [0xd3, 'Ev,CL'], [0xc0, 'Eb,Ib', 'b'], [0xc1, 'Ev,Ib', 'b']]) {
    add({ name: `${n} ${operands}`, op: [op], digit: k, sizes: op & 1 ? V : B, modrm: 'rm', ...(imm ? { imm } : {}) });
  }
});
for (const [op, name] of [[0xa4, 'SHLD Ev,Gv,Ib'], [0xa5, 'SHLD Ev,Gv,CL'], [0xac, 'SHRD Ev,Gv,Ib'], [0xad, 'SHRD Ev,Gv,CL']]) {
  add({ name, op: [0x0f, op], sizes: V, modrm: 'rm', ...(op & 1 ? {} : { imm: 'b' }) });
}

// ---- bit operations ----
BIT_OPS.forEach((n, k) => {
  add({ name: `${n} Ev,Gv`, op: [0x0f, 0xa3 + 8 * k], sizes: V, modrm: 'rm', lock: k > 0 });
  add({ name: `${n} Ev,Ib`, op: [0x0f, 0xba], digit: 4 + k, sizes: V, modrm: 'rm', imm: 'b', lock: k > 0 });
});
add({ name: 'BSF Gv,Ev', op: [0x0f, 0xbc], sizes: V, modrm: 'rm' });
add({ name: 'BSR Gv,Ev', op: [0x0f, 0xbd], sizes: V, modrm: 'rm' });

// ---- exchange-and-operate ----
add({ name: 'XADD Eb,Gb', op: [0x0f, 0xc0], sizes: B, modrm: 'rm', lock: true });
add({ name: 'XADD Ev,Gv', op: [0x0f, 0xc1], sizes: V, modrm: 'rm', lock: true });
add({ name: 'CMPXCHG Eb,Gb', op: [0x0f, 0xb0], sizes: B, modrm: 'rm', lock: true });
add({ name: 'CMPXCHG Ev,Gv', op: [0x0f, 0xb1], sizes: V, modrm: 'rm', lock: true });
add({ name: 'CMPXCHG8B Mq', op: [0x0f, 0xc7], digit: 1, sizes: [32], modrm: 'mem', lock: true, udOnReg: true, memSize: 64 });

// ---- conditional moves, sets, branches ----
CC_NAMES.forEach((cc, k) => {
  add({ name: `CMOV${cc} Gv,Ev`, op: [0x0f, 0x40 + k], sizes: V, modrm: 'rm' });
  add({ name: `SET${cc} Eb`, op: [0x0f, 0x90 + k], sizes: B, modrm: 'rm' }); // the reg field is ignored (SDM vol. 2, SETcc)
  add({ name: `J${cc} Jb`, op: [0x70 + k], sizes: [32], imm: 'rel8' });
  add({ name: `J${cc} Jz`, op: [0x0f, 0x80 + k], sizes: V, imm: 'relv' });
});
add({ name: 'JMP Jb', op: [0xeb], sizes: [32], imm: 'rel8' });
add({ name: 'JMP Jz', op: [0xe9], sizes: V, imm: 'relv' });
add({ name: 'CALL Jz', op: [0xe8], sizes: V, imm: 'relv' });
add({ name: 'JMP Ev', op: [0xff], digit: 4, sizes: V, modrm: 'rm' });
add({ name: 'CALL Ev', op: [0xff], digit: 2, sizes: V, modrm: 'rm' });
add({ name: 'RET', op: [0xc3], sizes: V });
add({ name: 'RET Iw', op: [0xc2], sizes: V, imm: 'w' });
add({ name: 'LOOPNE Jb', op: [0xe0], sizes: [32], imm: 'rel8' });
add({ name: 'LOOPE Jb', op: [0xe1], sizes: [32], imm: 'rel8' });
add({ name: 'LOOP Jb', op: [0xe2], sizes: [32], imm: 'rel8' });
add({ name: 'JECXZ Jb', op: [0xe3], sizes: [32], imm: 'rel8' });
add({ name: 'RETF', op: [0xcb], sizes: V });
add({ name: 'RETF Iw', op: [0xca], sizes: V, imm: 'w' });
add({ name: 'IRET', op: [0xcf], sizes: V });

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
add({ name: 'POPF', op: [0x9d], sizes: V });
add({ name: 'ENTER Iw,Ib', op: [0xc8], sizes: V, imm: 'enter' });
add({ name: 'LEAVE', op: [0xc9], sizes: V });
for (const [op, n] of [[0x06, 'ES'], [0x0e, 'CS'], [0x16, 'SS'], [0x1e, 'DS']]) add({ name: `PUSH ${n}`, op: [op], sizes: V });
for (const [op, n] of [[0x07, 'ES'], [0x17, 'SS'], [0x1f, 'DS']]) add({ name: `POP ${n}`, op: [op], sizes: V });

// ---- strings ----
for (const [op, n] of [[0xa4, 'MOVS'], [0xa6, 'CMPS'], [0xaa, 'STOS'], [0xac, 'LODS'], [0xae, 'SCAS']]) {
  add({ name: `${n}B`, op: [op], sizes: B, rep: true });
  add({ name: `${n}v`, op: [op + 1], sizes: V, rep: true });
}

// ---- BCD and flags ----
for (const [op, n] of [[0x27, 'DAA'], [0x2f, 'DAS'], [0x37, 'AAA'], [0x3f, 'AAS']]) add({ name: n, op: [op], sizes: [32] });
add({ name: 'AAM Ib', op: [0xd4], sizes: [32], imm: 'b' });
add({ name: 'AAD Ib', op: [0xd5], sizes: [32], imm: 'b' });
for (const [op, n] of [[0x9e, 'SAHF'], [0x9f, 'LAHF'], [0xf8, 'CLC'], [0xf9, 'STC'], [0xf5, 'CMC'], [0xfc, 'CLD'], [0xfd, 'STD'], [0x90, 'NOP']]) {
  add({ name: n, op: [op], sizes: [32] });
}

// ---- checks and exceptions ----
add({ name: 'BOUND Gv,Ma', op: [0x62], sizes: V, modrm: 'mem', udOnReg: true });
add({ name: 'UD2', op: [0x0f, 0x0b], sizes: [32] });
add({ name: 'INT3', op: [0xcc], sizes: [32] });
add({ name: 'INTO', op: [0xce], sizes: [32] });
add({ name: 'INT Ib', op: [0xcd], sizes: [32], imm: 'b' });

// ---- privileged or I/O: at CPL 3 with IOPL 0 they raise #GP(0) ----
for (const [op, name, extra] of [
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
]) {
  add({ name, op, sizes: [32], ...extra });
}

// ---- tested elsewhere: the host CPU cannot be compared with, or the CPU does not claim them ----
const X87 = [0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf];
X87.forEach((op, k) => add({ name: `ESC ${k}`, op: [op], sizes: [32], modrm: 'rm', tested: 'fpu-diff.test.ts' }));
X87.forEach((op, k) => add({ name: `ESC ${k} o16`, op: [op], pfx: 0x66, sizes: [32], modrm: 'rm', tested: 'fpu-diff.test.ts (x87 with a 16-bit environment)' }));
add({ name: 'WAIT', op: [0x9b], sizes: V, tested: 'fpu-exceptions.test.ts (WAIT)' });
add({ name: 'PAUSE', op: [0x90], pfx: 0xf3, sizes: [32], tested: 'PAUSE: the forms have no REP NOP' });
add({ name: 'REP RET', op: [0xc3], pfx: 0xf3, sizes: [32], tested: 'REP RET: the forms have no REP on RET' });
add({ name: 'RDTSC', op: [0x0f, 0x31], sizes: [32], tested: 'baremetal.test.ts (RDTSC: the host clock differs)' });
add({ name: 'TZCNT Gv,Ev', op: [0x0f, 0xbc], pfx: 0xf3, sizes: [32], modrm: 'rm', tested: 'TZCNT: not in the forms (CPUID has no BMI1)' });
add({ name: 'LZCNT Gv,Ev', op: [0x0f, 0xbd], pfx: 0xf3, sizes: [32], modrm: 'rm', tested: 'LZCNT: not in the forms (CPUID has no ABM)' });
for (const [op, name] of [[0xa0, 'PUSH FS'], [0xa1, 'POP FS'], [0xa8, 'PUSH GS'], [0xa9, 'POP GS']]) {
  add({ name, op: [0x0f, op], sizes: [32], tested: 'baremetal.test.ts (PUSH and POP FS, GS)' });
}

/** Every row, in the order above. */
export const INSTRUCTIONS = rows;

const byName = new Map();
for (const row of rows) {
  if (byName.has(row.name)) throw new Error(`instruction table: ${row.name} twice`);
  byName.set(row.name, row);
}

/**
 * The encodings of the rows named `names` that a handler takes (table.mjs), as the block
 * decoder's opcode maps are written from them (generate.mjs):
 *  - size: the operand size (16: with the 66h prefix); all the row's sizes when absent;
 *  - mod: 'reg' or 'mem', the r/m a row with ModRM must have (a row without ModRM ignores it);
 *  - digits: the /digit values, where the row has no digit of its own (all when absent);
 *  - regs: of a +r row, only these registers;
 *  - rep: the REP (F3h) and REPNE (F2h) encodings as well.
 * Each encoding keeps its row's operand size and `tested` note.
 */
export function encodings(names, { size, mod, digits, regs, rep = false } = {}) {
  const out = [];
  for (const name of [names].flat()) {
    const row = instruction(name);
    const at = size === undefined ? row.sizes : row.sizes.filter((s) => s === size);
    if (at.length === 0) throw new Error(`instruction table: ${name} has no ${size}-bit form`);
    if (row.modrm !== undefined && mod === undefined && row.modrm === 'rm') throw new Error(`instruction table: ${name}: say which r/m (mod)`);
    if (row.modrm !== undefined && mod !== undefined && row.modrm !== 'rm' && row.modrm !== mod) throw new Error(`instruction table: ${name} has no ${mod} form`);
    for (const s of at) {
      const e = { op: row.op };
      if (row.pfx !== undefined) e.pfx = row.pfx;
      else if (s === 16 && row.sizes.length > 1) e.pfx = 0x66;
      const digit = row.digit ?? digits;
      if (digit !== undefined) e.digit = digit;
      if (row.modrm !== undefined) e.mod = row.modrm === 'rm' ? mod : row.modrm;
      e.size = s;
      if (row.tested) e.tested = row.tested;
      const last = row.op.length - 1;
      const each = !row.plusr ? [e] : regs ? regs.map((r) => ({ ...e, op: row.op.map((b, i) => (i === last ? b + r : b)) })) : [{ ...e, plusr: true }];
      for (const x of each) {
        out.push(x);
        if (rep) out.push({ ...x, pfx: 0xf3 }, { ...x, pfx: 0xf2 });
      }
    }
  }
  return out;
}

/** The row named `name`. */
export function instruction(name) {
  const row = byName.get(name);
  if (!row) throw new Error(`instruction table: no row ${name}`);
  return row;
}
