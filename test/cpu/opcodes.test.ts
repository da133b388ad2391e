// The opcode table (asm-core/opcodes/: the instruction rows of instructions.mjs and the handlers
// of table.mjs, which take their encodings from the rows) against what stays hand-written
// around it:
//  - the block decoder and the handlers in the built core (cpu/predecode.ts, which takes the
//    handler from the table, and the operand shapes it decodes by hand): every encoding a
//    handler lists decodes to it, every other row to the interpreter, the block ends after it
//    exactly when the table says so, running it changes no register and no flag the table does
//    not say it writes, and with LOCK it keeps its record or becomes the in-block
//    interpreter's as the table says;
//  - the differential test's forms (gen/forms.ts): they are the rows, but those whose note says
//    where else they are tested, and that place exists;
//  - the handlers (cpu/handlers.ts), the generated files (cpu/generated/handlers.ts,
//    jit/generated/inline.ts) and the JIT's emitters (jit/instructions.ts, jit/shifts.ts).

import { readFileSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS, type Encoding, type Handler, writesRegisters } from '../../asm-core/opcodes/table.mjs';
import { generatedFiles } from '../../asm-core/opcodes/generate.mjs';
import { INSTRUCTIONS, type Instruction } from '../../asm-core/opcodes/instructions.mjs';
import { FORMS } from './gen/forms.js';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32 } from './flat32.js';

const src = (path: string) => readFileSync(new URL(`../../asm-core/${path}`, import.meta.url), 'utf8');
const byName = new Map(HANDLERS.map((h, i) => [h.name, i]));
const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
/** An encoding as one string: prefix, opcode bytes, /digit (when the decoder distinguishes it) and r/m kind. */
const encodingKey = (pfx: number | undefined, op: number[], digit: number | undefined, mod: string | undefined) => `${pfx ?? ''}:${op.join(',')}:${digit ?? ''}:${mod ?? ''}`;

/** An encoding with its register (+r) opcodes spelled out. */
function opcodes(e: Encoding): number[][] {
  const last = e.op.length - 1;
  const n = e.plusr ? 8 : 1;
  return Array.from({ length: n }, (_, k) => e.op.map((b, i) => (i === last ? b + k : b)));
}
const digits = (e: Encoding): number[] | undefined => (e.digit === undefined ? undefined : [e.digit].flat());

/** The instruction bytes of `e` with opcode `op` and ModRM reg field `digit`: r/m ECX, or [EAX]. */
function bytesOf(e: Encoding, op: number[], digit: number): number[] {
  const b = [...(e.pfx ? [e.pfx] : []), ...op];
  if (e.mod) b.push((e.mod === 'reg' ? 0xc1 : 0x00) | (digit << 3));
  return b;
}

/** Every concrete instruction the table lists: its bytes and handler. */
function instructions(): { bytes: number[]; h: number; handler: Handler; enc: Encoding }[] {
  const out: { bytes: number[]; h: number; handler: Handler; enc: Encoding }[] = [];
  HANDLERS.forEach((handler, h) => {
    for (const enc of handler.enc) {
      for (const op of opcodes(enc)) {
        for (const d of digits(enc) ?? [2]) out.push({ bytes: bytesOf(enc, op, d), h, handler, enc });
      }
    }
  });
  return out;
}

// The decoded-block arena as cpu/blocks.ts lays it out: it starts after guest RAM (64 KiB
// aligned), the first block after a flush at its start, its records after a 64-byte header.
const HEADER_SIZE = 64, H_COUNT = 36;
const RAM = 1 << 20, CODE = 0x10000, DATA = 0x20000, STACK = 0x30000;

/** General registers at the start: [EAX] is in the data page, ECX a small count, ESP the stack. */
const START = [DATA, 5, 0x1234_5678, 0x8765_4321, STACK, 0x2_0040, 0x2_0080, 0x2_00c0];

/** EFLAGS bits by the table's letters (SDM vol. 1, 3.4.3). */
const FLAG_BITS: Record<string, number> = { C: 0x1, P: 0x4, A: 0x10, Z: 0x40, S: 0x80, D: 0x400, O: 0x800 };
const flagMask = (letters: string) => [...letters].reduce((m, l) => m | FLAG_BITS[l]!, 0);

/**
 * Decode `bytes` (then NOPs) as a block's first instruction and run it from its record, from
 * EFLAGS `eflags`: the record's handler, the block's record count, and the general registers and
 * EFLAGS after it (null when it faulted: with no IDT the core resets).
 */
function decode(core: Core, bytes: number[], eflags = 0x2): { handler: number; count: number; regs: number[] | null; eflags: number | null } {
  core.setBlockCache(true); // empties the arena
  enterFlat32(core, CODE, {});
  START.forEach((v, r) => core.setReg(r, v));
  core.setU32('OFF_EFLAGS', eflags);
  core.setU32('OFF_HALTED', 0); // after a HLT
  core.refreshState();
  core.ram.fill(0x90, CODE, CODE + 64);
  core.ram.set(bytes, CODE);
  core.run(1);
  const arena = core.ramBase + ((RAM + 0xffff) & ~0xffff);
  const view = new DataView(core.memory.buffer);
  const ok = (core.cr0 & 1) !== 0;
  const regs = ok ? START.map((_, r) => core.reg(r) >>> 0) : null;
  return { handler: view.getUint16(arena + HEADER_SIZE, true), count: view.getUint32(arena + H_COUNT, true), regs, eflags: ok ? core.eflags : null };
}

describe('the opcode table against the block decoder', () => {
  let core: Core;
  beforeAll(async () => { core = await bareCore(RAM); });

  it('decodes every encoding the table lists to its handler, ends the block where the table says, and writes only the registers it says', () => {
    const wrong: string[] = [];
    let ran = 0;
    for (const { bytes, h, handler } of instructions()) {
      const got = decode(core, bytes);
      if (got.handler !== h) wrong.push(`${hex(bytes)}: ${HANDLERS[got.handler]?.name ?? got.handler}, the table says ${handler.name}`);
      else if ((got.count === 1) !== (handler.ends !== undefined)) {
        wrong.push(`${hex(bytes)} (${handler.name}): ${got.count} records, the table says it ${handler.ends ? `ends the block (${handler.ends})` : 'goes on'}`);
      } else if (got.regs && !writesRegisters(handler)) {
        // The generated keepsRegisters lets a translation skip reloading its registers after this handler.
        ran++;
        const changed = START.flatMap((v, r) => ((v >>> 0) !== got.regs![r] ? [r] : []));
        if (changed.length) wrong.push(`${hex(bytes)} (${handler.name}) wrote registers ${changed.join(', ')}, the table says it writes none`);
      }
    }
    expect(wrong).toEqual([]);
    expect(ran).toBeGreaterThan(100);
  });

  it('changes no flag the table does not say it writes', () => {
    // What a flag-liveness pass would rely on: a flag outside `written` lives on through the handler.
    const wrong: string[] = [];
    let ran = 0;
    for (const { bytes, handler } of instructions()) {
      if (handler.flags.written === '*') continue;
      const kept = flagMask('ODSZAPC') & ~flagMask(handler.flags.written);
      for (const before of [0x2 | flagMask('ODSZAPC'), 0x2]) {
        const after = decode(core, bytes, before).eflags;
        if (after === null) continue;
        ran++;
        if (((after ^ before) & kept) !== 0) {
          wrong.push(`${hex(bytes)} (${handler.name}) changed EFLAGS ${before.toString(16)} to ${after.toString(16)}, the table says it writes ${handler.flags.written || 'none'}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(ran).toBeGreaterThan(500);
  });

  it('keeps the records of LOCKed read-modify-writes of memory, leaves anything else LOCKed to the interpreter inside the block, and does not decode a LOCKed jump', () => {
    // The instructions LOCK may precede, always with a memory destination (SDM vol. 2, LOCK);
    // the 16-bit ALU's records also hold CMP, so they are not among them.
    const lockable = new Set(['ADD', 'ADC', 'AND', 'BTC', 'BTR', 'BTS', 'CMPXCHG', 'CMPXCHG8B', 'DEC', 'INC', 'NEG', 'NOT', 'OR', 'SBB', 'SUB', 'XOR', 'XADD', 'XCHG']);
    const own = HANDLERS.filter((h) => h.lockedItself);
    for (const h of own) {
      expect(lockable.has(h.mnemonic) && h.form.startsWith('M') && h.writes.includes('mem'), h.name).toBe(true);
    }
    const alu = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor'];
    expect(own.map((h) => h.name).sort()).toEqual([
      ...[32, 8].flatMap((size) => ['MR', 'MI'].flatMap((form) => alu.map((op) => `${op}${form}${size}`))),
      'incM32', 'decM32', 'notM32', 'negM32', 'incM16', 'decM16', 'cmpxchgM32', 'xaddM32', 'cmpxchg8b',
    ].sort());
    const wrong: string[] = [];
    const interpret = byName.get('interpret')!, stepInBlock = byName.get('stepInBlock')!;
    for (const { bytes, h, handler } of instructions()) {
      const got = decode(core, [0xf0, ...bytes]).handler;
      const want = handler.ends ? interpret : handler.lockedItself ? h : stepInBlock;
      if (got !== want) wrong.push(`f0 ${hex(bytes)}: ${HANDLERS[got]?.name}, expected ${HANDLERS[want]!.name}`);
    }
    expect(wrong).toEqual([]);
  });

  it('gives what the table does not list to the interpreter', () => {
    // HLT, IN, a far jump, a 16-bit address, LOOP, MOV to SS, POPF, STI, INT, an undecoded 0F, an ALU op on AX with REP.
    for (const bytes of [[0xf4], [0xe4, 0x60], [0xea, 0, 0, 0, 0, 8, 0], [0x67, 0x8b, 0x07], [0xe2, 0xfe], [0x8e, 0xd0],
      [0x9d], [0xfb], [0xcd, 0x80], [0x0f, 0x0b], [0xf3, 0x01, 0xc1]]) {
      const { handler, count } = decode(core, bytes);
      expect({ handler, count }, hex(bytes)).toEqual({ handler: byName.get('interpret'), count: 1 });
    }
  });
});

describe('the instruction rows against the decoder and the differential test', () => {
  let core: Core;
  beforeAll(async () => { core = await bareCore(RAM); });

  /** Each concrete encoding of the rows (every size, r/m kind, /digit and +r register), with its bytes. */
  function rowEncodings(): { row: Instruction; bytes: number[]; key: string }[] {
    const out: { row: Instruction; bytes: number[]; key: string }[] = [];
    for (const row of INSTRUCTIONS) {
      const last = row.op.length - 1;
      const ops = row.plusr ? [0, 1, 2, 3, 4, 5, 6, 7].map((r) => row.op.map((b, i) => (i === last ? b + r : b))) : [row.op];
      const mods = row.modrm === undefined ? [undefined] : row.modrm === 'rm' ? ['reg', 'mem'] as const : [row.modrm];
      const ds = row.modrm === undefined ? [undefined] : row.digit !== undefined ? [row.digit] : [0, 1, 2, 3, 4, 5, 6, 7];
      for (const size of row.sizes) {
        const pfxs = row.pfx !== undefined ? [row.pfx] : [...(size === 16 && row.sizes.length > 1 ? [0x66] : [undefined]), ...(row.rep ? [0xf3, 0xf2] : [])];
        for (const pfx of pfxs) for (const op of ops) for (const mod of mods) for (const d of ds) {
          const enc: Encoding = { op, ...(pfx === undefined ? {} : { pfx: pfx as Encoding['pfx'] }), ...(mod ? { mod } : {}) };
          out.push({ row, bytes: bytesOf(enc, op, d ?? 0), key: encodingKey(pfx, op, d, mod) });
        }
      }
    }
    return out;
  }

  it('decodes every row to the handler that lists it, and what no handler lists to the interpreter', () => {
    // The handlers' encodings are taken from the rows (table.mjs); this checks the other way: that
    // the decoder gives nothing to a handler that the table does not say it takes.
    const owner = new Map<string, number>();
    HANDLERS.forEach((handler, h) => {
      // Without a /digit, an encoding with ModRM takes every reg field (generate.mjs).
      const ds = (e: Encoding) => (e.mod === undefined ? [undefined] : digits(e) ?? [0, 1, 2, 3, 4, 5, 6, 7]);
      for (const e of handler.enc) for (const op of opcodes(e)) for (const d of ds(e)) owner.set(encodingKey(e.pfx, op, d, e.mod), h);
    });
    const interpret = byName.get('interpret')!;
    const wrong: string[] = [];
    let decoded = 0;
    for (const { row, bytes, key } of rowEncodings()) {
      const want = owner.get(key) ?? interpret;
      const got = decode(core, bytes).handler;
      decoded++;
      if (got !== want) wrong.push(`${row.name} ${hex(bytes)}: ${HANDLERS[got]?.name ?? got}, the table says ${HANDLERS[want]!.name}`);
    }
    expect(wrong).toEqual([]);
    expect(decoded).toBeGreaterThan(2000);
  });

  it('runs every row against the host CPU, but those that say where else they are tested, and those places exist', () => {
    expect(FORMS.map((f) => f.name)).toEqual(INSTRUCTIONS.filter((r) => !r.tested).map((r) => r.name));
    const files = new Set(readdirSync(new URL('.', import.meta.url)));
    for (const row of INSTRUCTIONS.filter((r) => r.tested)) {
      const file = /^([\w-]+\.test\.ts)/.exec(row.tested!)?.[1];
      if (file) expect(files.has(file), `${row.name}: ${row.tested}`).toBe(true);
    }
  });
});

describe('the opcode table against the handlers and the JIT', () => {
  it('gives every handler but the interpreter an encoding', () => {
    expect(HANDLERS.filter((h) => h.enc.length === 0).map((h) => h.name)).toEqual(['interpret']);
  });

  it('is what the generated files were generated from', () => {
    for (const [path, text] of generatedFiles()) expect(readFileSync(path, 'utf8') === text, `${path}: run node asm-core/opcodes/generate.mjs`).toBe(true);
  });

  it('has a row for every handler function and dispatches each by its own number', () => {
    const functions = [...src('cpu/handlers.ts').matchAll(/export function (\w+)\(r: u32\): void/g)].map((m) => m[1]);
    expect(new Set(functions)).toEqual(new Set(HANDLERS.map((h) => h.name)));
    const generated = src('cpu/generated/handlers.ts');
    const numbers = new Map([...generated.matchAll(/^ {2}(\w+) = (\d+),$/gm)].map((m) => [m[1]!, Number(m[2])]));
    const cases = [...generated.matchAll(/case H\.(\w+): (\w+)\(r\); return;/g)];
    expect(cases.map((m) => m[1])).toEqual(HANDLERS.map((h) => h.name));
    expect(cases.every((m) => m[1] === m[2])).toBe(true);
    HANDLERS.forEach((h, i) => expect(numbers.get(h.name), h.name).toBe(i));
  });

  it('names an emitter of the JIT for most handlers, each written once, none for the interpreter', () => {
    const exported = (file: string) => [...src(file).matchAll(/^export function (\w+)\(rec: u32, h: u32\): bool/gm)].map((m) => m[1]!);
    const emitters = [...exported('jit/instructions.ts'), ...exported('jit/shifts.ts'), ...exported('jit/x87.ts')];
    expect(emitters.length).toBe(new Set(emitters).size);
    const named = new Set(HANDLERS.map((h) => (h.jit === true ? h.name : h.jit || undefined)).filter((e) => e !== undefined));
    expect(new Set(emitters)).toEqual(named);
    expect(HANDLERS.filter((h) => h.jit).length).toBeGreaterThan(150);
    expect(HANDLERS.filter((h) => h.jit && h.form === 'X')).toEqual([]);
  });
});
