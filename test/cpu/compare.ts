// Compares a case's native and core results under the case's masks, and formats failures.

import {
  CODE_BASE, CODE_ENTRY, CODE_SIZE, DATA_BASE, DATA_SIZE, STACK_BASE, STACK_SIZE, type CaseResult, type TestCase,
  FLAGS_VISIBLE, VEC_OTHER, VEC_TIMEOUT, hasErrorCode,
} from './gen/case.js';
import { type CoreCaseResult, SYS_LIN, SYS_PAGES_BYTES } from './core-runner.js';
import { type HostMapping, disassemble } from './native/native-runner.js';

const REGS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const h = (v: number, w = 8) => (v >>> 0).toString(16).padStart(w, '0');

/** #PF error-code bits an i686 without NX/PKU can produce: P, W/R, U/S (model.ts 'pf-error-id'). */
const PF_ERROR_BITS = 0x7;

/**
 * The list of differences; empty when the core matches the host CPU. `hostMappings` are the
 * native harness process's own mappings (NativeRunner.mappings).
 */
export function compareResults(c: TestCase, nat: CaseResult, core: CoreCaseResult, hostMappings: readonly HostMapping[] = []): string[] {
  const diffs: string[] = [];
  if (core.thrown) diffs.push(`core threw: ${core.thrown}`);
  // The core maps only the test pages; the harness process has its own mappings too (libraries,
  // heap, stack, vdso: outside 0x0f000000-0x50000000, see check_address_space in
  // native/harness.c). A wild access that lands in one of those succeeds natively and faults in
  // the core: that, and nothing else, is a case the two cannot be compared on.
  if (!core.thrown && core.vector === 14 && nat.vector !== 14 && hostMapped(core.cr2, hostMappings)) return diffs;
  if (nat.vector !== core.vector) diffs.push(`vector ${vecName(nat.vector)} != ${vecName(core.vector)}`);
  if (nat.vector === VEC_TIMEOUT || nat.vector === VEC_OTHER || diffs.length) return diffs;
  if (hasErrorCode(nat.vector)) {
    // The core runner's own system pages (supervisor-only, at SYS_LIN) are present where the
    // host process has nothing: a user access there is a protection fault in the core and a
    // not-present one natively. That P bit says where the harness put its kernel, not how the
    // CPU behaves.
    const inSystemPages = nat.vector === 14 && ((core.cr2 - SYS_LIN) >>> 0) < SYS_PAGES_BYTES;
    const m = nat.vector === 14 ? PF_ERROR_BITS & ~(inSystemPages ? 1 : 0) : 0xffff;
    if ((nat.error & m) !== (core.error & m)) diffs.push(`error code ${h(nat.error & m, 4)} != ${h(core.error & m, 4)}`);
  }
  if (nat.eip !== core.eip) diffs.push(`eip ${h(nat.eip)} != ${h(core.eip)}`);
  if (nat.vector === 14 && nat.cr2 !== core.cr2) diffs.push(`cr2 ${h(nat.cr2)} != ${h(core.cr2)}`);
  for (let r = 0; r < 8; r++) {
    if (c.undefRegs & (1 << r)) continue;
    if (nat.regs[r] !== core.regs[r]) diffs.push(`${REGS[r]} ${h(nat.regs[r])} != ${h(core.regs[r])}`);
  }
  const landed = nat.vector === 3 && nat.eip === CODE_BASE + CODE_ENTRY + c.code.length + 1;
  const fm = FLAGS_VISIBLE & ~c.undefFlags & ~(landed ? 0 : c.undefFlagsOnFault ?? 0);
  if (((nat.eflags ^ core.eflags) & fm) !== 0) {
    diffs.push(`eflags ${h(nat.eflags & fm)} != ${h(core.eflags & fm)} (${flagNames((nat.eflags ^ core.eflags) & fm)} differ)`);
  }
  const memDiff = compareMemory(c, nat, core);
  if (memDiff) diffs.push(memDiff);
  return diffs;
}

/** The address lies in one of the host process's own mappings (not one of the test pages). */
export function hostMapped(addr: number, mappings: readonly HostMapping[]): boolean {
  const a = addr >>> 0;
  const testPage = (a >= CODE_BASE && a < CODE_BASE + CODE_SIZE) || (a >= DATA_BASE && a < DATA_BASE + DATA_SIZE) ||
    (a >= STACK_BASE && a < STACK_BASE + STACK_SIZE);
  return !testPage && mappings.some((m) => a >= m.lo && a < m.hi);
}

function compareMemory(c: TestCase, nat: CaseResult, core: CaseResult): string | null {
  const skip = (a: number) => c.undefMem !== undefined && a >= c.undefMem[0] && a < c.undefMem[0] + c.undefMem[1];
  const a = nat.changes.filter((x) => !skip(x.addr));
  const b = core.changes.filter((x) => !skip(x.addr));
  const complete = nat.changeCount <= nat.changes.length && core.changeCount <= core.changes.length;
  const n = complete ? Math.max(a.length, b.length) : Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i], y = b[i];
    if (!x || !y || x.addr !== y.addr || x.value !== y.value) {
      const show = (z?: { addr: number; value: number }) => (z ? `[${h(z.addr)}]=${h(z.value, 2)}` : 'nothing');
      return `memory: host wrote ${show(x)}, core wrote ${show(y)} (change #${i})`;
    }
  }
  if (!complete && nat.changeCount !== core.changeCount && !c.undefMem) {
    return `memory: ${nat.changeCount} bytes changed natively, ${core.changeCount} in the core`;
  }
  return null;
}

const FLAG_NAMES: [number, string][] = [
  [0x1, 'CF'], [0x4, 'PF'], [0x10, 'AF'], [0x40, 'ZF'], [0x80, 'SF'], [0x100, 'TF'], [0x200, 'IF'], [0x400, 'DF'],
  [0x800, 'OF'], [0x3000, 'IOPL'], [0x4000, 'NT'], [0x4_0000, 'AC'], [0x20_0000, 'ID'], [0x2, 'bit1'],
];
export function flagNames(bits: number): string {
  return FLAG_NAMES.filter(([b]) => bits & b).map(([, n]) => n).join(' ') || '-';
}

const VEC_NAMES = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', '9', '#TS', '#NP', '#SS', '#GP', '#PF', '15', '#MF', '#AC'];
export function vecName(v: number): string {
  if (v === VEC_TIMEOUT) return 'timeout';
  if (v === VEC_OTHER) return 'other';
  return VEC_NAMES[v] ?? `vector ${v}`;
}

function describeResult(r: CaseResult): string {
  const regs = r.regs.map((v, i) => `${REGS[i]}=${h(v)}`).join(' ');
  const mem = r.changes.slice(0, 16).map((x) => `${h(x.addr)}=${h(x.value, 2)}`).join(' ');
  const err = hasErrorCode(r.vector) ? ` err=${h(r.error, 4)}` : '';
  const cr2 = r.vector === 14 ? ` cr2=${h(r.cr2)}` : '';
  return `${vecName(r.vector)}${err}${cr2} eip=${h(r.eip)} eflags=${h(r.eflags)} [${flagNames(r.eflags & 0xcd5)}]\n      ${regs}\n` +
    `      memory: ${r.changeCount} bytes changed${mem ? `: ${mem}${r.changeCount > 16 ? ' ...' : ''}` : ''}`;
}

/** A failure report for one case: bytes, disassembly, inputs, both outputs, the differences. */
export function formatFailure(c: TestCase, nat: CaseResult, core: CoreCaseResult, diffs: string[], withDisassembly = true): string {
  const bytes = Array.from(c.code, (b) => h(b, 2)).join(' ');
  const dis = (withDisassembly ? disassemble(c.code) : '').split('\n').slice(0, 3).map((l) => `      ${l}`).join('\n');
  const regs = c.regs.map((v, i) => `${REGS[i]}=${h(v)}`).join(' ');
  const pokes = c.pokes.map((p) => `[${h(p.addr)}]:${p.size}=${h(p.value, p.size * 2)}`).join(' ');
  return [
    `  ${c.form}: ${bytes}`,
    ...(dis.trim() ? [dis] : []),
    `    in:   ${regs}\n          eflags=${h(c.eflags)} [${flagNames(c.eflags & 0xcd5)}] seed=${h(c.seed)}${pokes ? ` pokes ${pokes}` : ''}` +
      `${c.undefFlags ? ` undefined flags: ${flagNames(c.undefFlags)}` : ''}`,
    `    host: ${describeResult(nat)}`,
    `    core: ${describeResult(core)}`,
    `    diff: ${diffs.join('; ')}`,
  ].join('\n');
}
