// The opcode table (asm-core/opcodes/table.mjs) against what stays hand-written around it:
//  - the block decoder and the handlers in the built core (cpu/predecode.ts, which takes the
//    handler from the table, and the operand shapes it decodes by hand): every encoding the table
//    lists decodes to the table's handler, the block ends after it exactly when the table says
//    so, running it changes no register and no flag the table does not say it writes, and with
//    LOCK it becomes the in-block interpreter's record as the decoder promises;
//  - the differential test's forms (gen/forms.ts): every encoding has a form, so diff.test.ts
//    runs it against the host CPU, or says where else it is tested, and that note is true;
//  - the handlers (cpu/handlers.ts), the generated file (cpu/generated/handlers.ts) and the JIT's
//    inline set (jit/instructions.ts).

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS, type Encoding, type Handler, writesRegisters } from '../../asm-core/opcodes/table.mjs';
import { GENERATED, generate } from '../../asm-core/opcodes/generate.mjs';
import { FORMS, type Form } from './gen/forms.js';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32 } from './flat32.js';

const src = (path: string) => readFileSync(new URL(`../../asm-core/${path}`, import.meta.url), 'utf8');
const byName = new Map(HANDLERS.map((h, i) => [h.name, i]));
const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

/** An encoding with its register (+r) or condition (+cc) opcodes spelled out. */
function opcodes(e: Encoding): number[][] {
  const last = e.op.length - 1;
  const n = e.plusr ? 8 : e.cc ? 16 : 1;
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

  it('leaves anything LOCKed to the interpreter inside the block, but CMPXCHG to memory; a LOCKed jump is not decoded', () => {
    expect(HANDLERS.filter((h) => h.lockedItself).map((h) => h.name)).toEqual(['cmpxchgM32']);
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

describe('the opcode table against the differential test', () => {
  /** The forms that cover encoding `e` (of handler `handler`) with opcode `op` and, if given, /digit `d`. */
  function formsFor(handler: Handler, e: Encoding, op: number[], d?: number): Form[] {
    const size = e.size ?? (e.pfx === 0x66 ? 16 : handler.size);
    const last = op.length - 1;
    return FORMS.filter((f) => {
      if (f.op.length !== op.length || f.op.some((b, i) => (i === last && f.plusr ? b !== (op[i]! & ~7) : b !== op[i]))) return false;
      if (e.mod === undefined ? f.modrm !== undefined : f.modrm !== 'rm' && f.modrm !== e.mod) return false;
      if (handler.form !== 'X' && !f.sizes.includes(size as 8 | 16 | 32)) return false;
      if ((e.pfx === 0xf2 || e.pfx === 0xf3) && !f.rep) return false;
      // A form without a /digit runs every reg field (or the ones its hooks pick).
      return d === undefined || f.digit === undefined || f.digit === d;
    });
  }

  it('has a form for every encoding, or a note of where it is tested that is true', () => {
    const missing: string[] = [];
    const stale: string[] = [];
    HANDLERS.forEach((handler) => {
      for (const e of handler.enc) {
        for (const op of opcodes(e)) {
          const ds = digits(e);
          const uncovered = ds ? ds.filter((d) => formsFor(handler, e, op, d).length === 0) : formsFor(handler, e, op).length === 0 ? [undefined] : [];
          const name = (d?: number) => `${handler.name} ${e.pfx ? hex([e.pfx]) + ' ' : ''}${hex(op)}${d === undefined ? '' : `/${d}`}${e.mod ? ` ${e.mod}` : ''}`;
          if (e.tested) { if (uncovered.length === 0) stale.push(`${name()} has a form: drop "${e.tested}"`); }
          else for (const d of uncovered) missing.push(name(d));
        }
      }
    });
    expect(missing).toEqual([]);
    expect(stale).toEqual([]);
  });
});

describe('the opcode table against the handlers and the JIT', () => {
  it('gives every handler but the interpreter an encoding', () => {
    expect(HANDLERS.filter((h) => h.enc.length === 0).map((h) => h.name)).toEqual(['interpret']);
  });

  it('is what cpu/generated/handlers.ts was generated from', () => {
    expect(readFileSync(GENERATED, 'utf8') === generate(), 'run node asm-core/opcodes/generate.mjs').toBe(true);
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

  it('lists every handler the JIT inlines, none of them the interpreter', () => {
    const inlined = [...src('jit/instructions.ts').matchAll(/case H\.(\w+):/g)].map((m) => m[1]!);
    expect(inlined.length).toBeGreaterThan(50);
    for (const name of inlined) {
      expect(byName.has(name), name).toBe(true);
      expect(HANDLERS[byName.get(name)!]!.form, name).not.toBe('X');
    }
  });
});
