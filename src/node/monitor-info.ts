// The monitor's looks inside the machine, in QEMU's words and layouts: `info registers`, `info
// tlb`, `info mem`, `info pic`, `info irq`, `info pci`, `info mtree`, and `x` / `xp` (memory by
// linear or physical address). Everything is read without side effects (machine/inspect.ts);
// the guest may be running: each command sees the CPU between two of the run loop's slices.

import type { Machine } from '../machine/machine.js';
import type { Core, SegName } from '../cpu/core.js';
import type { Pic8259 } from '../devices/i8259.js';
import {
  cpuMode, linearToPhysical, vectorSources, memoryMap, pciFunctions, readLinear, readPhysical, walkPageTables,
  PTE_A, PTE_D, PTE_G, PTE_PCD, PTE_PWT, PTE_RW, PTE_US, PDE_PS, type PageMapping,
} from '../machine/inspect.js';

/** The `info` subjects this file answers. */
export const INFO_SUBJECTS = ['registers', 'tlb', 'mem', 'pic', 'irq', 'pci', 'mtree'] as const;

const h8 = (v: number) => (v >>> 0).toString(16).padStart(8, '0');
const h4 = (v: number) => (v & 0xffff).toString(16).padStart(4, '0');
const h2 = (v: number) => (v & 0xff).toString(16).padStart(2, '0');

// EFLAGS bits QEMU's `info registers` spells out, in its order.
const EFLAGS_LETTERS: [number, string][] = [
  [0x400, 'D'], [0x800, 'O'], [0x80, 'S'], [0x40, 'Z'], [0x10, 'A'], [0x04, 'P'], [0x01, 'C'],
];
const EFLAGS_IF = 0x200;

/** Answer `info SUBJECT`, or null for a subject not handled here. */
export function infoLines(machine: Machine, subject: string): string[] | null {
  switch (subject) {
    case 'registers': return registers(machine.core);
    case 'tlb': return tlb(machine.core);
    case 'mem': return mem(machine.core);
    case 'pic': return [pic('pic0', machine.pic.master), pic('pic1', machine.pic.slave)];
    case 'irq': return irq(machine);
    case 'pci': return pci(machine);
    case 'mtree': return mtree(machine);
    default: return null;
  }
}

function segmentLine(core: Core, name: SegName, label: string): string {
  const s = core.seg(name);
  // QEMU prints the descriptor's high word with the base and limit bits masked: access bits 8..23.
  const flags = (s.access << 8) & 0x00f0ff00;
  const dpl = (s.access >> 5) & 3;
  const code = (s.access & 0x18) === 0x18;
  const system = (s.access & 0x10) === 0;
  const big = (s.access & 0x4000) !== 0;
  let kind: string;
  if ((s.access & 0x80) === 0) kind = '(not present)';
  else if (system) kind = name === 'tr' ? `TSS${big || (s.access & 0x8) ? 32 : 16}-${(s.access & 2) ? 'busy' : 'avl'}` : name === 'ldtr' ? 'LDT' : 'SYS';
  else kind = `${code ? 'CS' : 'DS'}${big ? 32 : 16} [${code ? ((s.access & 4) ? 'C' : '-') : ((s.access & 4) ? 'E' : '-')}${
    (s.access & 2) ? (code ? 'R' : 'W') : '-'}${(s.access & 1) ? 'A' : '-'}]`;
  return `${label}=${h4(s.selector)} ${h8(s.base)} ${h8(s.limit)} ${h8(flags)} DPL=${dpl} ${kind}`;
}

function registers(core: Core): string[] {
  const eflags = core.getEflags();
  const letters = EFLAGS_LETTERS.map(([bit, l]) => (eflags & bit) ? l : '-').join('');
  const gdt = core.gdtr;
  const idt = core.idtr;
  return [
    `EAX=${h8(core.reg('eax'))} EBX=${h8(core.reg('ebx'))} ECX=${h8(core.reg('ecx'))} EDX=${h8(core.reg('edx'))}`,
    `ESI=${h8(core.reg('esi'))} EDI=${h8(core.reg('edi'))} EBP=${h8(core.reg('ebp'))} ESP=${h8(core.reg('esp'))}`,
    `EIP=${h8(core.eip)} EFL=${h8(eflags)} [${letters}] IF=${(eflags & EFLAGS_IF) ? 1 : 0} CPL=${core.cpl} A20=${core.a20 ? 1 : 0} HLT=${core.halted ? 1 : 0}`,
    segmentLine(core, 'es', 'ES '),
    segmentLine(core, 'cs', 'CS '),
    segmentLine(core, 'ss', 'SS '),
    segmentLine(core, 'ds', 'DS '),
    segmentLine(core, 'fs', 'FS '),
    segmentLine(core, 'gs', 'GS '),
    segmentLine(core, 'ldtr', 'LDT'),
    segmentLine(core, 'tr', 'TR '),
    `GDT=     ${h8(gdt.base)} ${h8(gdt.limit)}`,
    `IDT=     ${h8(idt.base)} ${h8(idt.limit)}`,
    `CR0=${h8(core.cr0)} CR2=${h8(core.cr2)} CR3=${h8(core.cr3)} CR4=${h8(core.cr4)}`,
    `MODE=${cpuMode(core)} CPL=${core.cpl}`,
  ];
}

/** QEMU's page flags: G (global), P (4 MiB), D, A, C (PCD), T (PWT), U, W; '-' where clear. */
function pageFlags(entry: number): string {
  return '-' + [[PTE_G, 'G'], [PDE_PS, 'P'], [PTE_D, 'D'], [PTE_A, 'A'], [PTE_PCD, 'C'], [PTE_PWT, 'T'], [PTE_US, 'U'], [PTE_RW, 'W']]
    .map(([bit, l]) => (entry & (bit as number)) ? l : '-').join('');
}

function tlb(core: Core): string[] {
  if ((core.cr0 & 0x80000000) === 0) return ['PG disabled'];
  return walkPageTables(core).map((m) => {
    // A 4 KiB page's PTE has no PS bit (bit 7 is PAT there): leave it out as QEMU does.
    const entry = m.size === 0x1000 ? m.entry & ~PDE_PS : m.entry;
    return `${h8(m.linear)}: ${h8(m.physical)} ${pageFlags(entry)}`;
  });
}

function protection(m: PageMapping): string {
  return `${m.user ? 'u' : '-'}r${m.writable ? 'w' : '-'}`;
}

/** `info mem`: runs of linearly contiguous pages with the same rights. */
function mem(core: Core): string[] {
  if ((core.cr0 & 0x80000000) === 0) return ['PG disabled'];
  const out: string[] = [];
  let start = -1;
  let end = -1;
  let prot = '';
  const flush = () => { if (start >= 0) out.push(`${h8(start)}-${h8(end)} ${h8(end - start)} ${prot}`); };
  for (const m of walkPageTables(core)) {
    const p = protection(m);
    if (m.linear === end && p === prot) { end = m.linear + m.size; continue; }
    flush();
    start = m.linear;
    end = m.linear + m.size;
    prot = p;
  }
  flush();
  return out;
}

function pic(label: string, chip: Pic8259): string {
  const s = chip.state;
  return `${label}: irr=${h2(s.irr)} imr=${h2(s.imr)} isr=${h2(s.isr)} hprio=${(s.lowestPriority + 1) & 7} ` +
    `irq_base=${h2(s.vectorBase)} rr_sel=${s.readIsr ? 1 : 0} elcr=${h2(s.elcr)} fnm=${(s.icw4 & 0x10) ? 1 : 0}`;
}

/** `info irq`: interrupts taken per vector, and the 8259 or IO-APIC input that sends each. */
function irq(machine: Machine): string[] {
  const counts = machine.irqStats.perVector;
  const source = (vector: number): string => {
    const names = vectorSources(machine.pic, machine.ioapic, vector, machine.lapic);
    return names.length === 0 ? '' : ` (${names.join(', ')})`;
  };
  const out = ['IRQ statistics (interrupts taken, by vector):'];
  for (let v = 0; v < 256; v++) {
    if (counts[v]! > 0) out.push(`vector 0x${h2(v)}: ${counts[v]}${source(v)}`);
  }
  if (out.length === 1) out.push('no interrupts taken yet');
  return out;
}

const PCI_CLASS_NAMES: Record<number, string> = {
  0x0100: 'SCSI controller', 0x0101: 'IDE controller', 0x0106: 'SATA controller', 0x0180: 'Storage controller',
  0x0200: 'Ethernet controller', 0x0300: 'VGA controller', 0x0380: 'Display controller',
  0x0600: 'Host bridge', 0x0601: 'ISA bridge', 0x0680: 'Bridge', 0x0780: 'Communication controller',
  0x0500: 'RAM controller', 0x00ff: 'Class 00ff', 0x0580: 'Memory controller', 0x0880: 'System peripheral',
  0x1000: 'Encryption controller', 0x0b40: 'Co-processor',
};

function pci(machine: Machine): string[] {
  const out: string[] = [];
  for (const f of pciFunctions(machine.pci)) {
    const cls = f.classCode >>> 8;
    out.push(`  Bus ${f.bus.toString().padStart(2)}, device ${f.device.toString().padStart(3)}, function ${f.func}:`);
    out.push(`    ${PCI_CLASS_NAMES[cls] ?? `Class ${cls.toString(16).padStart(4, '0')}`}: PCI device ${h4(f.vendorId)}:${h4(f.deviceId)}`);
    if (f.interruptPin !== 0) out.push(`      IRQ ${f.interruptLine}, pin ${String.fromCharCode(0x40 + f.interruptPin)}.`);
    for (const b of f.bars) {
      const kind = b.io ? 'I/O at' : '32 bit memory at';
      const range = b.base === 0 ? '0xffffffffffffffff [0x' + (b.size - 1).toString(16).padStart(b.io ? 4 : 8, '0') + ']'
        : `0x${b.base.toString(16).padStart(b.io ? 4 : 8, '0')} [0x${(b.base + b.size - 1).toString(16).padStart(b.io ? 4 : 8, '0')}]`;
      out.push(`      BAR${b.index}: ${kind} ${range}.`);
    }
    out.push(`      id "${f.name}"`);
  }
  return out;
}

function mtree(machine: Machine): string[] {
  const out = ['address-space: memory'];
  for (const r of memoryMap(machine.core, machine.mmio, machine.pci)) {
    out.push(`  ${h8(r.base)}-${h8(r.end - 1)} (prio 0, ${r.kind === 'ram' ? 'ram' : 'i/o'}): ${r.name}${r.kind === 'pci-bar' ? ' (PCI BAR)' : ''}`);
  }
  return out;
}

/** A parsed `x/FMT` or `xp/FMT`: how many units, the number format, the unit size. */
export interface ExamineFormat {
  count: number;
  format: 'x' | 'd' | 'u' | 'o' | 'c';
  size: 1 | 2 | 4 | 8;
}

const SIZE_LETTERS: Record<string, 1 | 2 | 4 | 8> = { b: 1, h: 2, w: 4, g: 8 };

/** `/16xw` (the part after the command name, '' for none) as QEMU reads it: count, format letter and size letter, in any order after the count. */
export function parseExamineFormat(text: string): ExamineFormat {
  const fmt: ExamineFormat = { count: 1, format: 'x', size: 4 };
  if (text === '') return fmt;
  const m = /^\/(\d*)([a-z]*)$/.exec(text);
  if (m === null) throw new Error(`bad format '${text}': want /NFS as in x/16xw`);
  if (m[1] !== '') fmt.count = Number(m[1]);
  if (fmt.count < 1 || fmt.count > 4096) throw new Error(`count ${m[1]} is outside 1..4096`);
  let sawSize = false;
  for (const l of m[2]!) {
    if (l in SIZE_LETTERS) { fmt.size = SIZE_LETTERS[l]!; sawSize = true; } else if ('xduoc'.includes(l)) {
      fmt.format = l as ExamineFormat['format'];
      if (l === 'c' && !sawSize) fmt.size = 1;
    } else throw new Error(`bad format letter '${l}' (x d u o c; b h w g)`);
  }
  return fmt;
}

/** An address: hex with 0x, decimal, or a general register / $eip as `$eax`. */
export function parseAddress(core: Core, text: string): number {
  const t = text.trim();
  const reg = /^\$(e[a-d]x|e[sd]i|e[sb]p|eip)$/.exec(t);
  if (reg !== null) return reg[1] === 'eip' ? core.eip : core.reg(reg[1] as 'eax');
  if (/^0x[0-9a-f]+$/i.test(t) || /^\d+$/.test(t)) {
    const v = Number(t);
    if (v <= 0xffffffff) return v;
  }
  throw new Error(`bad address '${text}': want 0x... or a number`);
}

/** `x` (linear: through the guest's page tables) and `xp` (physical), QEMU's layout: address, then up to 16 bytes of units a line. */
export function examine(machine: Machine, physical: boolean, formatText: string, addressText: string): string[] {
  const fmt = parseExamineFormat(formatText);
  const core = machine.core;
  const addr = parseAddress(core, addressText);
  const length = fmt.count * fmt.size;
  const bytes = physical ? readPhysical(core, addr, length) : readLinear(core, addr, length);
  if (bytes === null) {
    const where = physical ? `physical 0x${h8(addr)} is not RAM` : linearToPhysical(core, addr) === null ? `0x${h8(addr)} is not mapped` : `0x${h8(addr)} is not RAM`;
    throw new Error(`Cannot access memory: ${where}`);
  }
  const perLine = fmt.size === 1 && fmt.format !== 'c' ? 8 : 16;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  for (let off = 0; off < length; off += perLine) {
    let line = `${h8(addr + off)}:`;
    for (let u = off; u < Math.min(off + perLine, length); u += fmt.size) line += ' ' + unit(view, u, fmt);
    out.push(line);
  }
  return out;
}

function unit(view: DataView, at: number, fmt: ExamineFormat): string {
  const value = fmt.size === 8 ? view.getBigUint64(at, true) : BigInt(fmt.size === 4 ? view.getUint32(at, true) : fmt.size === 2 ? view.getUint16(at, true) : view.getUint8(at));
  const bits = BigInt(fmt.size * 8);
  switch (fmt.format) {
    case 'x': return `0x${value.toString(16).padStart(fmt.size * 2, '0')}`;
    case 'o': return `0${value.toString(8)}`;
    case 'u': return value.toString();
    case 'd': return BigInt.asIntN(Number(bits), value).toString();
    case 'c': {
      const c = Number(value & 0xffn);
      return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `'\\x${h2(c)}'`;
    }
  }
}
