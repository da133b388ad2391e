// Turns the form table (forms.ts) into concrete test cases: prefixes, every ModRM/SIB shape,
// operand values (edge cases and seeded random ones), and the compare masks.
//
// Usage: generateCases({ perForm, seed, filter }). `filter` (the OPCODE knob) matches a form key
// such as "ADC Ev,Gv o16" case-insensitively as a substring, or its opcode bytes ("0f af", "d3/5").

import { type TestCase, DATA_BASE, FLAG_DF, FLAGS_ARITH, STACK_BASE } from './case.js';
import { Ctx, INSN_START, Rng, type Size, branchTarget, edgeValue, mask, operandValue } from './ctx.js';
import { FORMS, type Form } from './forms.js';

export interface GenerateOptions {
  /** Cases per form and operand size (scaled by the form's weight). */
  perForm: number;
  seed?: number;
  filter?: string;
}

const hex = (b: number) => b.toString(16).padStart(2, '0');

export function formKey(f: Form, size: Size): string {
  return f.sizes.length > 1 ? `${f.name} o${size}` : f.name;
}

/** Opcode bytes as text ("0f af", "d3/5") for OPCODE= matching and reports. */
export function formOpcode(f: Form): string {
  return f.op.map(hex).join(' ') + (f.plusr ? '+r' : '') + (f.digit !== undefined ? `/${f.digit}` : '');
}

export function matchesFilter(f: Form, size: Size, filter: string | undefined): boolean {
  if (!filter) return true;
  const want = filter.toLowerCase().trim();
  return filter.split(',').some((w) => {
    const x = w.toLowerCase().trim();
    if (!x) return false;
    return formKey(f, size).toLowerCase().includes(x) || formOpcode(f).startsWith(x) || formOpcode(f).replace(/ /g, '') === x.replace(/ /g, '');
  }) || want === '*';
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h;
}

export function generateCases(opts: GenerateOptions): TestCase[] {
  const out: TestCase[] = [];
  for (const f of FORMS) {
    for (const size of f.sizes) {
      if (!matchesFilter(f, size, opts.filter)) continue;
      const key = formKey(f, size);
      const n = Math.max(1, Math.round(opts.perForm * (f.weight ?? 1)));
      const rng = new Rng(hashString(key) ^ (opts.seed ?? 0x1234_5678));
      for (let i = 0; i < n; i++) out.push(buildCase(f, size, key, rng));
    }
  }
  return out;
}

function initialRegister(rng: Rng, size: Size): number {
  if (rng.chance(0.4)) return rng.u32();
  if (size === 8) {
    return ((rng.u32() & 0xffff_0000) | (edgeValue(rng, 8) << 8) | edgeValue(rng, 8)) >>> 0;
  }
  const v = edgeValue(rng, size);
  return size === 32 ? v : ((rng.u32() & 0xffff_0000) | v) >>> 0;
}

function buildCase(f: Form, size: Size, key: string, rng: Rng): TestCase {
  const c = new Ctx(rng, rng.u32(), size, 32);
  for (let r = 0; r < 8; r++) c.regs.push(initialRegister(rng, size));
  c.pin(4, (STACK_BASE + 0x400 + rng.int(0x800)) & (rng.chance(0.9) ? ~3 : ~0));
  if (rng.chance(0.5)) c.regs[5] = STACK_BASE + 0x100 + rng.int(0xe00);
  c.eflags = (0x202 | (rng.u32() & FLAGS_ARITH) | (rng.chance(0.2) ? FLAG_DF : 0)) >>> 0;
  if (f.modrm) c.regField = f.digit ?? rng.int(8);
  f.pre?.(c);

  // ---- ModRM operand ----
  const modrm: number[] = [];
  let mem = false;
  if (f.modrm) {
    mem = f.modrm === 'mem' ? !(f.udOnReg && rng.chance(0.05)) : f.modrm === 'reg' ? false : rng.chance(0.5);
    if (!mem) {
      do c.rmReg = rng.int(8); while (f.noEspRm && c.rmReg === 4);
      c.rmIsReg = true;
      modrm.push(0xc0 | (c.regField << 3) | c.rmReg);
    } else {
      c.rmIsReg = false;
      if (!f.noA16 && rng.chance(0.1)) c.asize = 16;
      const len = (f.memSize ?? size) / 8 * (f.name.startsWith('BOUND') ? 2 : 1);
      modrm.push(...(c.asize === 16 ? encodeMem16(c) : encodeMem32(c, len)).map((b, i) => (i === 0 ? b | (c.regField << 3) : b)));
      if (rng.chance(0.5)) {
        const ms = (f.memSize === 64 ? 32 : f.memSize ?? size) as Size;
        c.poke(c.ea, edgeValue(rng, ms), (ms / 8) as 1 | 2 | 4);
      }
    }
  } else if (f.imm === 'moffs') {
    if (rng.chance(0.1)) c.asize = 16;
    c.ea = c.asize === 16 ? rng.int(0x10000) : c.dataAddress(size / 8);
    mem = true;
  }
  if (f.rep || f.name === 'XLAT') mem = true;
  if ((f.rep || f.a16Count) && rng.chance(f.a16Count ? 0.25 : 0.1)) c.asize = 16;
  f.setup?.(c);
  // A setup hook may have changed a register the address uses (DIV's EDX, a shift count in CL):
  // the undefined-result masks and model.ts must see where the operand really is.
  if (c.eaOf) c.ea = c.eaOf();

  // ---- prefixes ----
  const prefixes: number[] = [];
  if (size === 16) prefixes.push(0x66);
  if (c.asize === 16) prefixes.push(0x67);
  if (mem && rng.chance(0.15)) { const s = rng.pick([0x26, 0x2e, 0x36, 0x3e]); prefixes.push(s); c.tags.push(`seg ${hex(s)}`); }
  if (f.lock ? rng.chance(mem ? 0.3 : 0.05) : rng.chance(0.01)) { prefixes.push(0xf0); c.tags.push('lock'); }
  if (f.rep) { const r = rng.pick([0, 0xf3, 0xf2]); if (r) prefixes.push(r); c.repPrefix = r; }
  for (let i = prefixes.length - 1; i > 0; i--) { const j = rng.int(i + 1); [prefixes[i], prefixes[j]] = [prefixes[j], prefixes[i]]; }

  // ---- opcode, immediates ----
  const op = [...f.op];
  if (f.plusr) {
    let r = rng.int(8);
    if (f.name.startsWith('XCHG') && r === 0) r = 1 + rng.int(7);
    op[op.length - 1] |= r;
    c.rmReg = r;
  }
  const bytes = [...prefixes, ...op, ...modrm];
  const le = (v: number, n: number) => { for (let i = 0; i < n; i++) bytes.push((v >>> (8 * i)) & 0xff); };
  switch (f.imm) {
    case 'b': le(c.imm ?? operandValue(rng, 8), 1); break;
    case 'w': le(c.imm ?? rng.pick([0, 2, 4, 0x10, rng.int(0x100), rng.int(0x10000)]), 2); break;
    case 'v': le(c.imm ?? operandValue(rng, size), size / 8); break;
    case 'moffs': le(c.ea, c.asize / 8); break;
    case 'enter':
      le(c.imm ?? rng.pick([0, 4, 8, 0x10, rng.int(0x200)]), 2);
      le(c.imm2 ?? rng.pick([0, 1, 2, 3, 4, rng.int(32), 31, 32, 33, rng.int(256)]), 1);
      break;
    case 'rel8': {
      const next = INSN_START + bytes.length + 1;
      let rel: number;
      do rel = rng.int(256) - 128; while (next + rel >= INSN_START && next + rel < next);
      le(rel, 1);
      break;
    }
    case 'relv': {
      const n = size / 8;
      const next = INSN_START + bytes.length + n;
      const t = branchTarget(rng, INSN_START, next);
      le(size === 16 ? rng.int(0x10000) : (t - next) >>> 0, n);
      break;
    }
  }
  f.undef?.(c);
  return toTestCase(f, c, key, Uint8Array.from(bytes));
}

/** The case a finished Ctx describes (its masks from the form's undef rule, already applied). */
export function toTestCase(f: Form, c: Ctx, key: string, code: Uint8Array): TestCase {
  return {
    form: key,
    code,
    regs: c.regs.map((v) => v >>> 0),
    eflags: c.eflags,
    seed: c.seed,
    pokes: checkedPokes(c, key),
    undefFlags: c.undefFlags,
    undefRegs: c.undefRegs,
    undefMem: c.undefMem,
    undefFlagsOnFault: c.undefFlagsOnFault,
    ea: f.modrm && !c.rmIsReg ? c.ea >>> 0 : undefined,
  };
}

function checkedPokes(c: Ctx, key: string) {
  if (c.pokes.length > 4) throw new Error(`generator: form ${key} made ${c.pokes.length} pokes (at most 4)`);
  return c.pokes;
}

/** 32-bit ModRM/SIB/displacement for a memory operand, with registers solved so it lands on data. */
function encodeMem32(c: Ctx, len: number): number[] {
  const rng = c.rng;
  const target = c.dataAddress(Math.max(1, len));
  const kind = rng.int(10);
  const free = (r: number) => !c.pinned.has(r);
  const out: number[] = [];
  let disp = 0, dispBytes = 0;
  let base = -1, index = -1, scale = 0;
  let mod = 0;
  if (kind === 0) {
    out.push(0x05); dispBytes = 4; // [disp32]
  } else if (kind <= 3) {
    mod = kind - 1;
    do base = rng.int(8); while (base === 4 || (mod === 0 && base === 5));
    out.push((mod << 6) | base);
    dispBytes = mod === 1 ? 1 : mod === 2 ? 4 : 0;
  } else {
    mod = rng.int(3);
    base = rng.int(8);
    index = rng.int(8);
    scale = rng.int(4);
    out.push((mod << 6) | 4, (scale << 6) | (index << 3) | base);
    if (mod === 0 && base === 5) { base = -1; dispBytes = 4; } else dispBytes = mod === 1 ? 1 : mod === 2 ? 4 : 0;
    if (index === 4) index = -1;
  }
  if (dispBytes === 1) disp = rng.int(256) - 128;
  else if (dispBytes === 4) disp = rng.chance(0.3) ? rng.u32() | 0 : rng.int(0x2000) - 0x1000;
  const m = 1 << scale;
  const idxVal = () => (index >= 0 ? Math.imul(c.regs[index], m) : 0);
  const baseVal = () => (base >= 0 ? c.regs[base] : 0);
  if (base >= 0 && free(base)) {
    if (base === index) {
      c.regs[base] = Math.floor((target - disp) / (1 + m)) >>> 0;
    } else {
      if (index >= 0 && free(index) && rng.chance(0.7)) c.regs[index] = rng.int(0x40);
      c.regs[base] = (target - disp - idxVal()) >>> 0;
    }
  } else if (index >= 0 && free(index)) {
    const rest = (baseVal() + disp) | 0;
    c.regs[index] = Math.floor((target - rest) / m) >>> 0;
  } else if (dispBytes === 4) {
    disp = (target - baseVal() - idxVal()) | 0;
  }
  c.eaOf = () => (baseVal() + idxVal() + disp) >>> 0;
  c.ea = c.eaOf();
  if (base >= 0) c.addrRegs.push(base);
  if (index >= 0) c.addrRegs.push(index);
  for (const r of c.addrRegs) c.pinned.add(r);
  for (let i = 0; i < dispBytes; i++) out.push((disp >>> (8 * i)) & 0xff);
  return out;
}

/** 16-bit ModRM: the address wraps to 64 KiB, which is unmapped: the test checks CR2. */
function encodeMem16(c: Ctx): number[] {
  const rng = c.rng;
  const mod = rng.int(3);
  const rm = rng.int(8);
  const out = [(mod << 6) | rm];
  const dispBytes = mod === 1 ? 1 : mod === 2 || (mod === 0 && rm === 6) ? 2 : 0;
  const disp = dispBytes === 1 ? rng.int(256) - 128 : dispBytes === 2 ? rng.int(0x10000) : 0;
  const pairs: number[][] = [[3, 6], [3, 7], [5, 6], [5, 7], [6], [7], mod === 0 ? [] : [5], [3]];
  c.addrRegs = pairs[rm];
  c.eaOf = () => pairs[rm].reduce((ea, r) => ea + (c.regs[r] & 0xffff), disp) & 0xffff;
  c.ea = c.eaOf();
  for (let i = 0; i < dispBytes; i++) out.push((disp >>> (8 * i)) & 0xff);
  return out;
}

export { FORMS, DATA_BASE, mask };
