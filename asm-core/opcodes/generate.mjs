// Writes from the opcode table (table.mjs, with the encodings of instructions.mjs):
//  - asm-core/cpu/generated/handlers.ts: the handler numbers (enum H), the dispatch switch over
//    them, the decoder's opcode maps, and what the decoder, the JIT and the region builder ask
//    about a handler (how it ends its block, whether it keeps the general registers);
//  - asm-core/jit/generated/inline.ts: the JIT's dispatch to each handler's emitter.
// asm-core/build.mjs runs it before asc; the files are committed too, so that the sources compile
// (the x87 tests build parts of the core themselves) and read without a build, and
// test/cpu/opcodes.test.ts checks that they are what this writes.
//
//   node asm-core/opcodes/generate.mjs     rewrite the files (only those that changed)

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HANDLERS, GROUPS, FORMS, ALU_OPS, CONDITIONS, writesRegisters } from './table.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const GENERATED = join(here, '..', 'cpu', 'generated', 'handlers.ts');
export const GENERATED_INLINE = join(here, '..', 'jit', 'generated', 'inline.ts');

/** How a handler ends its block, as the generated END_* constants number it. */
export const ENDS = [undefined, 'branch', 'jump', 'call', 'indirect', 'indirect-call', 'return', 'interpret'];
const END_NAMES = ['NONE', 'BRANCH', 'JUMP', 'CALL', 'INDIRECT', 'INDIRECT_CALL', 'RETURN', 'INTERPRET'];

/** The table's shape the generated arithmetic relies on; throws where the table breaks it. */
function checkTable() {
  const names = new Set();
  for (const h of HANDLERS) {
    if (!/^[a-z][A-Za-z0-9]*$/.test(h.name)) throw new Error(`opcode table: bad handler name ${h.name}`);
    if (names.has(h.name)) throw new Error(`opcode table: ${h.name} twice`);
    names.add(h.name);
    if (!ENDS.includes(h.ends)) throw new Error(`opcode table: ${h.name} ends '${h.ends}'`);
  }
  for (const [group, size] of [['ALU32', 32], ['ALU8', 8]]) {
    FORMS.forEach((form, f) => ALU_OPS.forEach((aop, i) => {
      const h = HANDLERS[GROUPS[group] + f * 8 + i];
      if (h?.name !== `${aop}${form}${size}`) throw new Error(`opcode table: handler ${GROUPS[group] + f * 8 + i} is not ${aop}${form}${size}`);
    }));
  }
  CONDITIONS.forEach((cc, k) => {
    if (HANDLERS[GROUPS.JCC + k]?.name !== `j${cc}`) throw new Error(`opcode table: handler ${GROUPS.JCC + k} is not j${cc}`);
  });
  if (!names.has('interpret') || !names.has('stepInBlock')) throw new Error('opcode table: no interpret or stepInBlock handler');
  for (const h of HANDLERS) {
    if (h.jit !== undefined && h.jit !== false && (h.form === 'X' || !(h.jit === true || /^[a-z][A-Za-z0-9]*$/.test(h.jit)))) throw new Error(`opcode table: ${h.name} jit '${h.jit}'`);
  }
}

/** The handlers numbered `numbers` as `case H.name:` lines, six to a line. */
function caseList(numbers) {
  const lines = [];
  for (let i = 0; i < numbers.length; i += 6) lines.push('    ' + numbers.slice(i, i + 6).map((n) => `case H.${HANDLERS[n].name}:`).join(' '));
  return lines.join('\n');
}

/**
 * The opcode maps the decoder looks a handler up in (cpu/predecode.ts): the one-byte map and
 * the 0F map, each plain and with the 66h prefix, and the 0F encodings that need F3h (TZCNT,
 * LZCNT). A one-byte encoding with REP (a string instruction, REP RET, PAUSE) must have the
 * plain one's handler: the decoder looks it up in the plain map.
 */
export const MAPS = ['ONE', 'TWO', 'ONE_66', 'TWO_66', 'TWO_F3'];

/** Map index -> opcode -> the handler of each (mod, reg) as `${reg|mem}${digit}` -> handler number. */
function opcodeMaps() {
  const maps = MAPS.map(() => new Map());
  HANDLERS.forEach((h, n) => {
    for (const e of h.enc) {
      if (e.op.length === 2 && e.op[0] !== 0x0f) throw new Error(`opcode table: ${h.name}: a two-byte opcode not after 0F`);
      const two = e.op.length === 2 ? 1 : 0;
      const targets = e.pfx === 0x66 ? [2 + two] : two ? (e.pfx === 0xf3 ? [4] : e.pfx === 0xf2 ? [] : [1]) : [0];
      const last = e.op[e.op.length - 1];
      const ops = e.plusr ? [0, 1, 2, 3, 4, 5, 6, 7].map((r) => last + r) : [last];
      const mods = e.mod ? [e.mod] : ['reg', 'mem'];
      const digits = e.digit === undefined ? [0, 1, 2, 3, 4, 5, 6, 7] : [e.digit].flat();
      for (const t of targets) {
        for (const op of ops) {
          if (!maps[t].has(op)) maps[t].set(op, { modrm: e.mod !== undefined, cells: new Map() });
          const entry = maps[t].get(op);
          if (entry.modrm !== (e.mod !== undefined)) throw new Error(`opcode table: ${MAPS[t]} ${op.toString(16)} both with and without ModRM`);
          for (const m of mods) {
            for (const d of digits) {
              const key = `${m}${d}`;
              if (entry.cells.has(key) && entry.cells.get(key) !== n) {
                throw new Error(`opcode table: ${MAPS[t]} ${op.toString(16)} ${key} is both ${HANDLERS[entry.cells.get(key)].name} and ${h.name}`);
              }
              entry.cells.set(key, n);
            }
          }
        }
      }
    }
  });
  return maps;
}

/** The body of handlerOf(): a switch on map << 8 | opcode, then on mod and reg where they choose. */
function handlerOfBody() {
  const lines = [];
  const name = (n) => (n === undefined ? 'NO_HANDLER' : `H.${HANDLERS[n].name}`);
  const pair = (r, m) => (r === m ? `return ${name(r)};` : `return mod == 3 ? ${name(r)} : ${name(m)};`);
  opcodeMaps().forEach((map, t) => {
    for (const op of [...map.keys()].sort((a, b) => a - b)) {
      const { modrm, cells } = map.get(op);
      const label = `    case MAP_${MAPS[t]} << 8 | 0x${op.toString(16).padStart(2, '0')}:`;
      if (!modrm) { lines.push(`${label} ${pair(cells.get('reg0'), cells.get('reg0'))}`); continue; }
      const per = [0, 1, 2, 3, 4, 5, 6, 7].map((d) => [cells.get(`reg${d}`), cells.get(`mem${d}`)]);
      if (per.every(([r, m]) => r === per[0][0] && m === per[0][1])) { lines.push(`${label} ${pair(per[0][0], per[0][1])}`); continue; }
      lines.push(`${label} switch (reg) {`);
      per.forEach(([r, m], d) => { if (r !== undefined || m !== undefined) lines.push(`      case ${d}: ${pair(r, m)}`); });
      lines.push('      default: return NO_HANDLER;');
      lines.push('    }');
    }
  });
  return lines;
}

/** The text of cpu/generated/handlers.ts. */
export function generate() {
  checkTable();
  const out = [];
  const w = (s = '') => out.push(s);
  w('// GENERATED by asm-core/opcodes/generate.mjs from asm-core/opcodes/table.mjs: do not edit.');
  w('// The handler numbers records store (cpu/record.ts REC_HANDLER), the dispatch over them, and');
  w('// what the decoder, the JIT and the region builder ask about a handler.');
  w();
  w("import { REC_IMM } from '../record';");
  const imported = HANDLERS.map((h) => h.name);
  w('import {');
  for (let i = 0; i < imported.length; i += 8) w(`  ${imported.slice(i, i + 8).join(', ')},`);
  w("} from '../handlers';");
  w();
  w('/**');
  w(' * Handler numbers: the ALU forms at ALU32 + form * 8 + operation and ALU8 + form * 8 +');
  w(' * operation, the sixteen Jcc at JCC + condition, then one number per handler.');
  w(' */');
  w('export enum H {');
  w(`  ${Object.entries(GROUPS).map(([g, n]) => `${g} = ${n}`).join(', ')},`);
  HANDLERS.forEach((h, i) => w(`  ${h.name} = ${i},`));
  w('}');
  w(`/** How many handler numbers there are. */`);
  w(`export const HANDLER_COUNT: u32 = ${HANDLERS.length};`);
  w();
  w('/** Run the handler numbered `h` on record `r` (inlined into the block loop: one jump table). */');
  w('@inline export function dispatch(h: u32, r: u32): void {');
  w('  switch (h) {');
  HANDLERS.forEach((h) => w(`    case H.${h.name}: ${h.name}(r); return;`));
  w('    default: interpret(r); return;');
  w('  }');
  w('}');
  w();
  w('/** The opcode maps of handlerOf(). */');
  MAPS.forEach((m, i) => w(`export const MAP_${m}: u32 = ${i};`));
  w('/** handlerOf() for an encoding no handler decodes. */');
  w('export const NO_HANDLER: u32 = 0xffff;');
  w('/**');
  w(' * The handler of opcode `op` in opcode map `map` (MAP_*), with ModRM fields `mod` and `reg`');
  w(' * (ignored for an opcode without ModRM), or NO_HANDLER.');
  w(' */');
  w('export function handlerOf(map: u32, op: u32, mod: u32, reg: u32): u32 {');
  w('  switch (map << 8 | op) {');
  for (const line of handlerOfBody()) w(line);
  w('    default: return NO_HANDLER;');
  w('  }');
  w('}');
  w();
  w('/** How a handler ends its block (END_NONE: the block goes on after it). */');
  END_NAMES.forEach((n, i) => w(`export const END_${n}: u32 = ${i};`));
  w('export function blockEnd(h: u32): u32 {');
  w('  switch (h) {');
  for (let e = 1; e < ENDS.length; e++) {
    const hs = HANDLERS.map((h, i) => (h.ends === ENDS[e] ? i : -1)).filter((i) => i >= 0);
    if (hs.length === 0) continue;
    w(caseList(hs));
    w(`      return END_${END_NAMES[e]};`);
  }
  w('    default: return END_NONE;');
  w('  }');
  w('}');
  w();
  w('/** The handler of a LOCKed encoding whose handler without LOCK is `h`, or NO_HANDLER. */');
  w('export function lockedHandler(h: u32): u32 {');
  w('  switch (h) {');
  const own = HANDLERS.map((h, i) => (h.lockedItself ? i : -1)).filter((i) => i >= 0);
  if (own.length) { w(caseList(own)); w('      return h;'); }
  const ending = HANDLERS.map((h, i) => (h.ends !== undefined ? i : -1)).filter((i) => i >= 0);
  w(caseList(ending));
  w('      return NO_HANDLER;');
  w('    default: return H.stepInBlock;');
  w('  }');
  w('}');
  w();
  w('/** Does the handler on record `rec` leave every general register as it was? */');
  w('export function keepsRegisters(rec: u32, h: u32): bool {');
  w('  switch (h) {');
  const keeps = HANDLERS.map((h, i) => (!writesRegisters(h) ? i : -1)).filter((i) => i >= 0);
  w(caseList(keeps));
  w('      return true;');
  HANDLERS.forEach((h) => {
    if (h.keepsRegistersUnless === undefined) return;
    w(`    case H.${h.name}: return load<u32>(rec, REC_IMM) != 0x${h.keepsRegistersUnless.toString(16)};`);
  });
  w('    default: return false;');
  w('  }');
  w('}');
  return out.join('\n') + '\n';
}

/** The emitter that writes handler `h` in a translation (table.mjs `jit`), or undefined. */
export function emitterOf(h) { return h.jit === true ? h.name : h.jit || undefined; }

/** The text of jit/generated/inline.ts: the JIT's dispatch to the emitters. */
export function generateInline() {
  checkTable();
  const out = [];
  const w = (s = '') => out.push(s);
  w('// GENERATED by asm-core/opcodes/generate.mjs from asm-core/opcodes/table.mjs (its `jit` column): do not edit.');
  w('// Which emitter writes each handler\'s record in a translation (jit/instructions.ts, jit/shifts.ts, jit/x87.ts).');
  w();
  w("import { H } from '../../cpu/generated/handlers';");
  const emitters = [...new Set(HANDLERS.map(emitterOf).filter((e) => e !== undefined))];
  // Each emitter is in jit/instructions.ts unless one of the other files exports it.
  const exportsOf = (file) => new Set(readFileSync(join(here, '..', 'jit', `${file}.ts`), 'utf8').match(/^export function (\w+)/gm)?.map((m) => m.slice(16)) ?? []);
  const others = ['shifts', 'x87'].map((file) => [file, exportsOf(file)]);
  const fileOf = (e) => others.find(([, names]) => names.has(e))?.[0] ?? 'instructions';
  for (const file of ['instructions', ...others.map(([f]) => f)]) {
    const from = `../${file}`, names = emitters.filter((e) => fileOf(e) === file);
    w('import {');
    for (let i = 0; i < names.length; i += 8) w(`  ${names.slice(i, i + 8).join(', ')},`);
    w(`} from '${from}';`);
  }
  w();
  w('/** Write record `rec` of handler `h` inline; false: the translation calls the handler instead. */');
  w('export function inline(rec: u32, h: u32): bool {');
  w('  switch (h) {');
  for (const e of emitters) {
    const hs = HANDLERS.map((h, i) => (emitterOf(h) === e ? i : -1)).filter((i) => i >= 0);
    w(caseList(hs));
    w(`      return ${e}(rec, h);`);
  }
  w('    default: return false;');
  w('  }');
  w('}');
  return out.join('\n') + '\n';
}

/** Every generated file: its path and the text it must have. */
export function generatedFiles() { return [[GENERATED, generate()], [GENERATED_INLINE, generateInline()]]; }

/** Write the generated files whose text changed; the paths written. */
export function writeGenerated() {
  const written = [];
  for (const [path, text] of generatedFiles()) {
    let old = null;
    try { old = readFileSync(path, 'utf8'); } catch { /* not there yet */ }
    if (old === text) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(path);
  }
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const written = writeGenerated();
  console.log(written.length ? written.map((p) => `wrote ${p}`).join('\n') : 'the generated files are up to date');
}
