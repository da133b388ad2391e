// The CPU the core emulates, and the one list of behaviours the CPU tests do not take from the
// host CPU: what the Intel SDM leaves undefined or model-specific, and where AMD parts (a CI
// host may be either vendor) differ from Intel in a documented way. The same list applies on
// every host, so a test's verdict never depends on which CPU it runs on. test/cpu/README.md
// shows the list; model.test.ts keeps the two in step.
//
// An entry is used in one of two ways:
// - `mask`: the generator or the comparison leaves the named state out of the comparison for
//   the inputs the entry names (forms.ts, fpu/decoder.ts, fpu/differential.ts refer to it by id);
// - `explains`: for a vendor difference, a predicate that recognises exactly that difference in
//   a host/core pair; the core's own (Intel) behaviour is then pinned by a bare-metal test
//   against the SDM (`pinnedBy`), since the host is no reference for it.

import { readFileSync } from 'node:fs';
import { type CaseResult, type TestCase, USER_CS, imageOffset, memoryImage } from './gen/case.js';

/** The CPU the core is: every comparison assumes this model. */
export const CORE_MODEL = 'an Intel P6-family processor (Pentium Pro / II / III) as the Intel SDM describes it';

export interface OpenBehaviour {
  id: string;
  /** undefined: the SDM leaves it open. vendor: Intel and AMD both define it, differently. */
  kind: 'undefined' | 'model-specific' | 'vendor';
  what: string;
  /** Where the behaviour is defined or left open: SDM volume and section, or the AMD APM. */
  cite: string;
  /** The bare-metal test that pins the core's behaviour where the host cannot. */
  pinnedBy?: string;
  /** For vendor entries: true when host and core differ exactly in this way. */
  explains?: (c: TestCase, host: CaseResult, core: CaseResult) => boolean;
}

const SDM2 = 'Intel SDM Vol. 2';

export const OPEN_BEHAVIOURS: readonly OpenBehaviour[] = [
  // ---- flags and results the SDM calls undefined (Vol. 2, each instruction's "Flags Affected") ----
  { id: 'logic-af', kind: 'undefined', what: 'AF after AND, OR, XOR, TEST', cite: `${SDM2}, AND/OR/XOR/TEST, Flags Affected` },
  { id: 'mul-flags', kind: 'undefined', what: 'SF, ZF, AF, PF after MUL and IMUL', cite: `${SDM2}, MUL/IMUL, Flags Affected` },
  { id: 'div-flags', kind: 'undefined', what: 'all arithmetic flags after DIV and IDIV', cite: `${SDM2}, DIV/IDIV, Flags Affected` },
  { id: 'bt-flags', kind: 'undefined', what: 'OF, SF, AF, PF after BT, BTS, BTR, BTC', cite: `${SDM2}, BT/BTS/BTR/BTC, Flags Affected` },
  { id: 'bsf-zero', kind: 'undefined', what: 'CF, OF, SF, AF, PF after BSF/BSR, and the destination when the source is 0', cite: `${SDM2}, BSF/BSR, Operation and Flags Affected` },
  {
    id: 'shift-flags', kind: 'undefined',
    what: 'OF after a shift or rotate by more than 1; AF after a shift by a non-zero count; CF after SHL/SHR by at least the operand width',
    cite: `${SDM2}, SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR, Flags Affected`,
  },
  {
    id: 'shld-count', kind: 'undefined',
    what: 'SHLD/SHRD by a count (mod 32) above the operand size: the destination and all arithmetic flags; AF and (count > 1) OF otherwise',
    cite: `${SDM2}, SHLD and SHRD, Description and Flags Affected`,
  },
  { id: 'bcd-flags', kind: 'undefined', what: 'OF after DAA/DAS; OF, SF, ZF, PF after AAA/AAS; OF, AF, CF after AAM/AAD', cite: `${SDM2}, DAA/DAS/AAA/AAS/AAM/AAD, Flags Affected` },
  {
    id: 'push-sreg-o32', kind: 'model-specific',
    what: 'the upper half of the 4-byte stack slot of a 32-bit PUSH of a segment register (a 16-bit write or a zero-extended one)',
    cite: `${SDM2}, PUSH, Description (a 32-bit push of a segment register writes 2 or 4 bytes, depending on the processor)`,
  },
  {
    id: 'rep-cmps-flags-on-fault', kind: 'undefined',
    what: 'EFLAGS after a REPE/REPNE CMPS or SCAS that faults in the middle of its iterations (the SDM says which iterations completed, not which flags the interrupted one leaves)',
    cite: `${SDM2}, REP/REPE/REPZ/REPNE/REPNZ, Description (an interrupted repeat leaves the registers at the point of interruption; the flags are not specified)`,
  },
  {
    id: 'pf-error-id', kind: 'model-specific',
    what: '#PF error-code bit 4 (I/D): set only on processors with execute-disable or SMEP enabled, which the host has and a P6 has not',
    cite: 'Intel SDM Vol. 3A, 4.7 Page-Fault Exceptions',
  },
  {
    id: 'flat-4g-wrap', kind: 'model-specific',
    what: 'an access that runs past offset FFFFFFFFH of a segment whose limit is 4 GiB: the core wraps to offset 0 (and faults there only if paging says so); the host may raise #GP(0)/#SS(0)',
    cite: 'Intel SDM Vol. 3A, 5.3 Limit Checking (with an effective limit of FFFFFFFFH, whether such an access faults is implementation-specific)',
    explains: (c, host, core) => c.ea !== undefined && c.ea >= 0xffff_fff9 && (host.vector === 13 || host.vector === 12) && host.error === 0 &&
      core.vector === 14 && (core.cr2 >= 0xffff_f000 || core.cr2 < 0x1000),
  },
  // ---- the x87 ----
  {
    id: 'x87-transcendental-ulps', kind: 'model-specific',
    what: 'the last bits of F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS: compared within 2 ulps, special cases exactly',
    cite: 'Intel SDM Vol. 1, 8.3.10 Transcendental Instruction Accuracy',
  },
  {
    id: 'x87-out-of-domain', kind: 'undefined',
    what: 'F2XM1 of a value outside -1..+1 and FYL2XP1 outside +-(1 - sqrt(2)/2)',
    cite: `${SDM2}, F2XM1 and FYL2XP1, Description (outside the range the result is undefined)`,
  },
  {
    id: 'x87-pointers', kind: 'vendor',
    what: 'FIP, FDP and FOP in FXSAVE/FNSAVE/FNSTENV images while no unmasked exception is pending: a P6 always saves the last non-control instruction\'s pointers; later Intel parts save FOP and FDP only on an unmasked exception (CPUID.(EAX=07H,ECX=0):EBX[6], IA32_MISC_ENABLE FOP compatibility); AMD\'s FXSAVE saves none of the three unless FSW.ES is set, and after an instruction without a memory operand AMD saves FDP as 0 where Intel keeps the last memory operand\'s address',
    cite: 'Intel SDM Vol. 1, 8.1.8 x87 FPU Instruction and Data (Operand) Pointers and 8.1.9 Last Instruction Opcode; AMD APM Vol. 5, FXSAVE',
    pinnedBy: 'test/cpu/baremetal/x87ptr.asm (--- FXSAVE ---)',
  },
  {
    id: 'x87-fcs-fds', kind: 'model-specific',
    what: 'FCS and FDS in saved x87 images (deprecated: stored as zero where CPUID.(EAX=07H,ECX=0):EBX[13] = 1)',
    cite: 'Intel SDM Vol. 1, 8.1.8 x87 FPU Instruction and Data (Operand) Pointers',
  },
  {
    id: 'fxsave-host-fields', kind: 'model-specific',
    what: 'MXCSR_MASK and the FXSAVE image beyond XMM7 (the host reports its own SSE features and uses the reserved area)',
    cite: 'Intel SDM Vol. 1, 10.5.1 FXSAVE Area (Table 10-2)',
  },
  {
    id: 'fprem-denormal-underflow', kind: 'vendor',
    what: 'FPREM/FPREM1 returning a denormal dividend unchanged (the divisor is infinite or too large) with #U unmasked: Intel sets only DE; AMD also signals underflow and delivers the significand with the exponent biased by 24576',
    pinnedBy: 'test/cpu/baremetal/x87vendor.asm (--- FPREM1 of a denormal by infinity ---)',
    cite: `${SDM2}, FPREM1 (results table: a finite ST(0) over an infinite ST(1) gives ST(0); #U listed without saying when) and Vol. 1, 4.9.1.5 Numeric Underflow Exception; AMD APM Vol. 5, FPREM1`,
  },
  {
    id: 'x87-store-fault-order', kind: 'vendor',
    what: 'FST/FSTP/FIST/FISTP/FBSTP to a destination that faults, with an unmasked numeric exception that suppresses the store: Intel leaves memory alone and reports the exception (#MF at the next waiting x87 instruction); AMD checks the destination first and raises #PF',
    cite: 'Intel SDM Vol. 1, 4.9.2 Floating-Point Exception Priority and 8.5 (an unmasked exception leaves the destination unchanged; whether the destination is checked first is not specified)',
    pinnedBy: 'test/cpu/baremetal/x87vendor.asm (--- x87 store fault order ---)',
  },
  {
    id: 'x87-store-split', kind: 'vendor',
    what: 'FSTP m80fp/FBSTP crossing into a page that faults: Intel writes the first eight bytes before the #PF on the last two; AMD checks both pages first and writes nothing. Both are restartable',
    cite: 'Intel SDM Vol. 3A, 6.5 Exception Classifications (a fault is restartable; which bytes of a split store reach memory first is not specified)',
    pinnedBy: 'test/cpu/baremetal/x87vendor.asm (--- x87 split store ---)',
  },
  {
    id: 'mxcsr-mm', kind: 'vendor',
    what: 'FXRSTOR of an MXCSR with bit 17 set: reserved on Intel (#GP(0)); AMD parts with misaligned-SSE support take it as MM, the misaligned exception mask, and report it in MXCSR_MASK',
    cite: 'Intel SDM Vol. 1, 10.5.1.1 x87 FPU and SSE State (MXCSR_MASK) and Vol. 2, FXRSTOR (#GP on reserved MXCSR bits); AMD APM Vol. 4, MXCSR (MM, CPUID Fn8000_0001_ECX[MisAlignSse])',
    pinnedBy: 'test/cpu/baremetal/x87vendor.asm (--- FXRSTOR reserved MXCSR bit ---)',
  },
  // ---- fault order: which of two possible faults an instruction reports ----
  {
    id: 'cmps-read-order', kind: 'vendor',
    what: 'CMPS with both DS:ESI and ES:EDI faulting: which address is read first (and reported in CR2); Intel reports ES:EDI, AMD DS:ESI',
    cite: `${SDM2}, CMPS (the Operation compares the two; the order of the two reads is not specified)`,
    pinnedBy: 'test/cpu/baremetal/vendor.asm (--- CMPS with both operands on absent pages ---)',
    explains: (c, host, core) => {
      if (!/^CMPS/.test(c.form) || host.vector !== 14 || core.vector !== 14 || host.cr2 === core.cr2) return false;
      if (!sameState(c, host, core) || (host.error & 7) !== (core.error & 7)) return false;
      // The operands at the point of the fault (the iteration that faulted, both sides agreeing):
      // each side reported where the other operand's access faults.
      const a16 = hasPrefix(c.code, 0x67);
      const width = c.form.startsWith('CMPSB') ? 1 : c.form.endsWith('o16') ? 2 : 4;
      const at = (r: number) => (a16 ? core.regs[r] & 0xffff : core.regs[r]) >>> 0;
      const src = faultAddress(at(6), width), dst = faultAddress(at(7), width);
      // Directional: the core must show Intel's order (ES:EDI first), or a regression would pass.
      return src !== undefined && dst !== undefined && src !== dst && host.cr2 === src && core.cr2 === dst;
    },
  },
  {
    id: 'bound-read-order', kind: 'vendor',
    what: 'BOUND with the index below the lower bound and the upper bound on a page that faults: Intel raises #BR from the lower bound without reading the upper one; AMD reads both and raises #PF',
    cite: `${SDM2}, BOUND (the Operation reads both bounds; the order against the #BR check is not specified)`,
    pinnedBy: 'test/cpu/baremetal/vendor.asm (--- BOUND: the index below the lower bound, the upper bound on an absent page ---)',
    explains: (c, host, core) => {
      if (!c.form.startsWith('BOUND') || c.ea === undefined || core.vector !== 5 || host.vector !== 14) return false;
      if (!sameState(c, host, core)) return false;
      const w = c.form.endsWith('o16') ? 2 : 4;
      // The host faulted on the upper bound, and the lower bound alone justifies the core's #BR.
      if (((host.cr2 - (c.ea + w)) >>> 0) >= w) return false;
      const mem = memoryImage(c.seed, c.pokes);
      const lower = signed(readImage(mem, c.ea, w), w);
      const regField = (c.code[c.code.indexOf(0x62) + 1] >> 3) & 7;
      const index = signed(w === 2 ? c.regs[regField] & 0xffff : c.regs[regField], w);
      return index < lower;
    },
  },
  {
    id: 'retf-selector-first', kind: 'vendor',
    what: 'RETF imm16 to the same privilege level with a return CS selector that fails its checks and the released parameters reaching a page that faults: Intel raises #GP for the selector; AMD touches the new stack top first and raises #PF there',
    cite: `${SDM2}, RET, Operation (the selector checks come before "ESP := ESP + SRC", which reads nothing)`,
    pinnedBy: 'test/cpu/baremetal/vendor.asm (--- RETF imm16 at the same level: the CS checks fault; the new ESP is never accessed ---)',
    explains: (c, host, core) => {
      if (!c.form.startsWith('RETF Iw') || core.vector !== 13 || host.vector !== 14 || !sameState(c, host, core)) return false;
      const w = c.form.endsWith('o16') ? 2 : 4;
      const esp = c.regs[4];
      const imm = c.code[c.code.length - 2] | (c.code[c.code.length - 1] << 8);
      const frameEnd = esp + 2 * w;
      // (AMD reports an address a word above the new stack top)
      if (host.cr2 < frameEnd || host.cr2 >= frameEnd + imm + 2 * w) return false;
      // The core's #GP must be the one the selector calls for: null -> 0, else the selector.
      const sel = c.pokes.find((p) => p.addr === esp + w)?.value;
      if (sel === undefined || (sel & 0xffff) === USER_CS) return false;
      return core.error === ((sel & 0xfffc) === 0 ? 0 : sel & 0xfffc);
    },
  },
  {
    id: 'lock-mov-cr8', kind: 'vendor',
    what: 'LOCK MOV to or from CR0: #UD on Intel; AMD reads it as MOV to/from CR8 (CPUID Fn8000_0001_ECX[AltMovCr8]), which at CPL 3 is #GP(0)',
    cite: `${SDM2}, MOV—Move to/from Control Registers (#UD "If the LOCK prefix is used"); AMD APM Vol. 3, MOV CRn`,
    pinnedBy: 'test/cpu/baremetal/vendor.asm (--- LOCK MOV EAX, CR0 and LOCK MOV CR0, EAX ---)',
    explains: (c, host, core) => {
      const op = c.code.indexOf(0x0f);
      const movCr = op >= 0 && (c.code[op + 1] === 0x20 || c.code[op + 1] === 0x22) && ((c.code[op + 2] >> 3) & 7) === 0;
      return movCr && hasPrefix(c.code.subarray(0, op), 0xf0) && core.vector === 6 && host.vector === 13 && host.error === 0 && sameState(c, host, core);
    },
  },
];

const byId = new Map(OPEN_BEHAVIOURS.map((b) => [b.id, b]));

/** The entry with this id; a typo fails at load time rather than masking nothing. */
export function open(id: string): OpenBehaviour {
  const b = byId.get(id);
  if (!b) throw new Error(`test/cpu/model.ts has no entry '${id}'`);
  return b;
}

/** The vendor entry that explains a host/core difference, or undefined. */
export function explainDifference(c: TestCase, host: CaseResult, core: CaseResult): OpenBehaviour | undefined {
  return OPEN_BEHAVIOURS.find((b) => b.explains?.(c, host, core));
}

/** The host CPU's vendor and model name, for the test log. */
export function hostCpu(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const vendor = /^vendor_id\s*:\s*(.*)$/m.exec(info)?.[1] ?? '?';
    const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? '?';
    const fms = ['cpu family', 'model', 'stepping'].map((k) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1] ?? '?');
    return `${vendor}, ${model} (family ${fms[0]} model ${fms[1]} stepping ${fms[2]})`;
  } catch {
    return 'unknown (no /proc/cpuinfo)';
  }
}

function hasPrefix(code: Uint8Array, p: number): boolean {
  for (const b of code) {
    if (b === p) return true;
    if (![0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3].includes(b)) return false;
  }
  return false;
}

/** Registers, EFLAGS, EIP and memory agree: the difference is only which fault. */
function sameState(c: TestCase, a: CaseResult, b: CaseResult): boolean {
  const flags = 0x0cd5 & ~(c.undefFlagsOnFault ?? 0);
  return a.eip === b.eip && a.regs.every((v, i) => v === b.regs[i]) && ((a.eflags ^ b.eflags) & flags) === 0 &&
    a.changeCount === 0 && b.changeCount === 0;
}

/** Where an access of `width` bytes at `lin` page-faults with only the test pages mapped. */
function faultAddress(lin: number, width: number): number | undefined {
  for (let i = 0; i < width; i++) {
    const a = (lin + i) >>> 0;
    if (imageOffset(a) < 0) return a;
  }
  return undefined;
}

function signed(v: number, w: number): number {
  return w === 2 ? (v << 16) >> 16 : v | 0;
}

function readImage(mem: Uint8Array, lin: number, w: number): number {
  let v = 0;
  for (let i = w - 1; i >= 0; i--) {
    const off = imageOffset((lin + i) >>> 0);
    v = v * 256 + (off < 0 ? 0 : mem[off]);
  }
  return v >>> 0;
}
