// Read-only questions about a Machine for debuggers (the monitor's `info` and `x` commands, the
// gdb stub): the guest's page tables walked from CR3, memory by physical or linear address, the
// PCI functions and the physical memory map. Nothing here changes the guest or the core's
// caches, except writeLinear, which a debugger asks for (gdb's `M`).
//
// Paging is the 32-bit kind the core implements: a page directory of 1024 PDEs, each mapping a
// 4 MiB page (PS, with CR4.PSE) or a page table of 1024 PTEs of 4 KiB pages. No PAE.

import type { Core } from '../cpu/core.js';
import type { MmioMap } from './bus.js';
import type { PciBus } from '../devices/pci.js';
import type { DualPic8259 } from '../devices/i8259.js';
import type { Ioapic } from '../devices/ioapic.js';
import type { Lapic } from '../devices/lapic.js';
import { MEMORY } from './board.js';

// Page-table entry bits (Intel SDM vol. 3, 4.3)
export const PTE_P = 0x001;   // present
export const PTE_RW = 0x002;  // writable
export const PTE_US = 0x004;  // user
export const PTE_PWT = 0x008; // write-through
export const PTE_PCD = 0x010; // cache disable
export const PTE_A = 0x020;   // accessed
export const PTE_D = 0x040;   // dirty
export const PDE_PS = 0x080;  // 4 MiB page (in a PDE, with CR4.PSE)
export const PTE_G = 0x100;   // global

export const CR0_PE = 0x00000001;
export const CR0_PG = 0x80000000;
export const CR4_PSE = 0x00000010;
export const EFLAGS_VM = 0x00020000;

const PAGE = 0x1000;
const BIG_PAGE = 0x400000;

/** One page the guest's tables map: linear and physical base, size, the entry that maps it, and the rights both levels grant. */
export interface PageMapping {
  linear: number;
  physical: number;
  size: number;
  /** The PTE (or the PDE of a 4 MiB page) as it is in memory. */
  entry: number;
  /** User and writable only if the PDE and the PTE both say so. */
  user: boolean;
  writable: boolean;
}

/** A 32-bit word of guest RAM, or null outside RAM. */
function ramWord(core: Core, phys: number): number | null {
  if (phys < 0 || phys + 4 > core.ramSize) return null;
  const ram = core.ram;
  return (ram[phys]! | ram[phys + 1]! << 8 | ram[phys + 2]! << 16 | ram[phys + 3]! << 24) >>> 0;
}

/** Whether paging is on. */
export function pagingEnabled(core: Core): boolean {
  return (core.cr0 & CR0_PG) !== 0;
}

/** Every present page of the tables CR3 points at, in linear order (empty when paging is off). */
export function walkPageTables(core: Core): PageMapping[] {
  const out: PageMapping[] = [];
  if (!pagingEnabled(core)) return out;
  const dir = core.cr3 & 0xfffff000;
  const pse = (core.cr4 & CR4_PSE) !== 0;
  for (let i = 0; i < 1024; i++) {
    const pde = ramWord(core, dir + i * 4);
    if (pde === null || (pde & PTE_P) === 0) continue;
    const linear = i * BIG_PAGE;
    if ((pde & PDE_PS) !== 0 && pse) {
      out.push({ linear, physical: (pde & 0xffc00000) >>> 0, size: BIG_PAGE, entry: pde,
        user: (pde & PTE_US) !== 0, writable: (pde & PTE_RW) !== 0 });
      continue;
    }
    const table = (pde & 0xfffff000) >>> 0;
    for (let j = 0; j < 1024; j++) {
      const pte = ramWord(core, table + j * 4);
      if (pte === null || (pte & PTE_P) === 0) continue;
      out.push({ linear: linear + j * PAGE, physical: (pte & 0xfffff000) >>> 0, size: PAGE, entry: pte,
        user: (pde & pte & PTE_US) !== 0, writable: (pde & pte & PTE_RW) !== 0 });
    }
  }
  return out;
}

/** The physical address of linear `lin` through the guest's page tables, or null when no page maps it. */
export function linearToPhysical(core: Core, lin: number): number | null {
  lin >>>= 0;
  const probe = core.exports.translateLinear;
  if (probe !== undefined) {
    const phys = probe(lin);
    return phys < 0 ? null : phys >>> 0;
  }
  // A core without the probe: the same walk in TypeScript (A20 assumed on).
  if (!pagingEnabled(core)) return lin;
  const pde = ramWord(core, (core.cr3 & 0xfffff000) + (lin >>> 22) * 4);
  if (pde === null || (pde & PTE_P) === 0) return null;
  if ((pde & PDE_PS) !== 0 && (core.cr4 & CR4_PSE) !== 0) return ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0;
  const pte = ramWord(core, (pde & 0xfffff000) + ((lin >>> 12) & 0x3ff) * 4);
  if (pte === null || (pte & PTE_P) === 0) return null;
  return ((pte & 0xfffff000) | (lin & 0xfff)) >>> 0;
}

/** One linear address through the guest's tables, level by level (the inspector's page walk). */
export interface PageWalk {
  linear: number;
  /** Paging off: the linear address is the physical one. */
  paging: boolean;
  /** Where the PDE lies and what it holds (null: the directory is outside RAM). */
  pdeAddress?: number;
  pde?: number | null;
  /** A 4 MiB page (PDE.PS with CR4.PSE): no PTE. */
  large?: boolean;
  pteAddress?: number;
  pte?: number | null;
  /** The physical address, or null when a level is not present (the access would be a #PF). */
  physical: number | null;
}

/**
 * Walk `lin` through the tables at CR3 as the MMU does (no A/D updates, no TLB): each entry's
 * address and value, and the physical address. Reads are bounded by RAM: a CR3 or a PDE the
 * guest pointed outside RAM stops the walk there.
 */
export function pageWalk(core: Core, lin: number): PageWalk {
  lin >>>= 0;
  if (!pagingEnabled(core)) return { linear: lin, paging: false, physical: lin };
  const pdeAddress = ((core.cr3 & 0xfffff000) + (lin >>> 22) * 4) >>> 0;
  const pde = ramWord(core, pdeAddress);
  const walk: PageWalk = { linear: lin, paging: true, pdeAddress, pde, physical: null };
  if (pde === null || (pde & PTE_P) === 0) return walk;
  if ((pde & PDE_PS) !== 0 && (core.cr4 & CR4_PSE) !== 0) {
    walk.large = true;
    walk.physical = ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0;
    return walk;
  }
  walk.large = false;
  walk.pteAddress = ((pde & 0xfffff000) + ((lin >>> 12) & 0x3ff) * 4) >>> 0;
  walk.pte = ramWord(core, walk.pteAddress);
  if (walk.pte !== null && (walk.pte & PTE_P) !== 0) walk.physical = ((walk.pte & 0xfffff000) | (lin & 0xfff)) >>> 0;
  return walk;
}

/** Exceptions the CPU delivered since power-on, per vector 0-31 (the core counts them in its state block); zeros for a core that does not. */
export function exceptionCounts(core: Core): number[] {
  const out = new Array<number>(32).fill(0);
  if (!core.hasConstant('OFF_EXCEPTION_COUNTS')) return out;
  const base = core.addr('OFF_EXCEPTION_COUNTS');
  const words = new DataView(core.memory.buffer, base, 32 * 4);
  for (let v = 0; v < 32; v++) out[v] = words.getUint32(v * 4, true);
  return out;
}

/** The local APIC's local vector table in its register order (Intel SDM vol. 3, 11.5.1), as the inspector names the entries. */
const LAPIC_LVT_NAMES = ['local APIC timer', 'local APIC thermal', 'local APIC perf counter', 'local APIC LINT0', 'local APIC LINT1', 'local APIC error'];
const LVT_MASKED = 1 << 16;
/** Delivery mode bits 8-10; 0 is Fixed, the only mode that sends the entry's vector. */
const LVT_DELIVERY_MODE = 7 << 8;

/**
 * The interrupt inputs that send `vector` as the guest programmed its controllers: an 8259 IRQ
 * (by the vector base of its ICW2), the IO-APIC pins whose unmasked redirection entry names it,
 * and the local APIC's own unmasked LVT entries in Fixed mode (its timer, above all). Used by
 * `info irq` and the inspector's interrupts per line.
 */
export function vectorSources(pic: DualPic8259, ioapic: Ioapic | null, vector: number, lapic: Lapic | null = null): string[] {
  const names: string[] = [];
  for (const [chip, first] of [[pic.master, 0], [pic.slave, 8]] as const) {
    const base = chip.state.vectorBase;
    if (base !== 0 && vector >= base && vector < base + 8) names.push(`8259 IRQ ${first + vector - base}`);
  }
  if (ioapic !== null) {
    for (let pin = 0; pin < ioapic.state.redirLow.length; pin++) {
      const low = ioapic.state.redirLow[pin]!;
      // Bit 16: masked.
      if ((low & 0x10000) === 0 && (low & 0xff) === vector) names.push(`IO-APIC pin ${pin}`);
    }
  }
  if (lapic !== null) {
    lapic.state.lvt.forEach((entry, i) => {
      if ((entry & LVT_MASKED) === 0 && (entry & LVT_DELIVERY_MODE) === 0 && (entry & 0xff) === vector) names.push(LAPIC_LVT_NAMES[i] ?? `local APIC LVT ${i}`);
    });
  }
  return names;
}

/** `length` bytes of guest RAM at physical `phys`, or null if any falls outside RAM (MMIO is not read: reads have effects). */
export function readPhysical(core: Core, phys: number, length: number): Uint8Array | null {
  if (phys < 0 || length < 0 || phys + length > core.ramSize) return null;
  if (phys < MEMORY.VGA_HOLE_END && phys + length > MEMORY.VGA_HOLE_START) return null;
  return core.ram.slice(phys, phys + length);
}

/** `length` bytes at linear `lin`, page by page through the tables; null if a page is unmapped or not RAM. */
export function readLinear(core: Core, lin: number, length: number): Uint8Array | null {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const at = (lin + done) >>> 0;
    const chunk = Math.min(length - done, PAGE - (at & (PAGE - 1)));
    const phys = linearToPhysical(core, at);
    if (phys === null) return null;
    const bytes = readPhysical(core, phys, chunk);
    if (bytes === null) return null;
    out.set(bytes, done);
    done += chunk;
  }
  return out;
}

/**
 * Write `bytes` at linear `lin` (a debugger's poke): all of it or, when a page is unmapped or not
 * RAM, nothing (returns false). The core forgets code it decoded from the bytes written.
 */
export function writeLinear(core: Core, lin: number, bytes: Uint8Array): boolean {
  const pieces: { phys: number; from: number; length: number }[] = [];
  for (let done = 0; done < bytes.length;) {
    const at = (lin + done) >>> 0;
    const chunk = Math.min(bytes.length - done, PAGE - (at & (PAGE - 1)));
    const phys = linearToPhysical(core, at);
    if (phys === null || readPhysical(core, phys, chunk) === null) return false;
    pieces.push({ phys, from: done, length: chunk });
    done += chunk;
  }
  for (const p of pieces) {
    core.ram.set(bytes.subarray(p.from, p.from + p.length), p.phys);
    core.ramWritten(p.phys, p.length);
  }
  return true;
}

/** The CPU's mode in words: real, protected or virtual-8086, then paging and PSE when on. */
export function cpuMode(core: Core): string {
  const words = [(core.cr0 & CR0_PE) === 0 ? 'real' : (core.getEflags() & EFLAGS_VM) !== 0 ? 'virtual-8086' : 'protected'];
  if (pagingEnabled(core)) words.push('paging');
  if ((core.cr4 & CR4_PSE) !== 0) words.push('PSE');
  return words.join(' ');
}

/** One PCI function as `info pci` shows it. */
export interface PciFunctionInfo {
  bus: number;
  device: number;
  func: number;
  vendorId: number;
  deviceId: number;
  classCode: number;
  revision: number;
  name: string;
  /** Defined BARs: index, I/O or memory, base the guest gave it (0: none), size. */
  bars: { index: number; io: boolean; base: number; size: number }[];
  interruptPin: number;
  interruptLine: number;
}

/** The functions on PCI bus 0 with their configuration as the guest left it (read from config space, no side effects). */
export function pciFunctions(bus: PciBus): PciFunctionInfo[] {
  return bus.list().map(({ device, func, fn }) => {
    const c = fn.state.config;
    const u16 = (o: number) => c[o]! | c[o + 1]! << 8;
    const u32 = (o: number) => (u16(o) | u16(o + 2) << 16) >>> 0;
    const bars: PciFunctionInfo['bars'] = [];
    for (let i = 0; i < 6; i++) {
      const def = fn.barDefinition(i);
      if (def === null) continue;
      const raw = u32(0x10 + i * 4);
      bars.push({ index: i, io: def.io, base: def.io ? raw & 0xfffffffc : (raw & 0xfffffff0) >>> 0, size: def.size });
    }
    return {
      bus: 0, device, func, name: fn.name,
      vendorId: u16(0x00), deviceId: u16(0x02), revision: c[0x08]!,
      classCode: (c[0x09]! | c[0x0a]! << 8 | c[0x0b]! << 16) >>> 0,
      bars, interruptPin: c[0x3d]!, interruptLine: c[0x3c]!,
    };
  });
}

/** A region of the physical address space. */
export interface MemoryRegion {
  base: number;
  /** One past the last byte. */
  end: number;
  kind: 'ram' | 'mmio' | 'pci-bar';
  name: string;
}

/**
 * The physical memory map: guest RAM (around the VGA hole), the host's MMIO windows by device,
 * and the memory BARs the guest placed (the display's framebuffer is its video memory).
 */
export function memoryMap(core: Core, mmio: MmioMap, bus: PciBus): MemoryRegion[] {
  const out: MemoryRegion[] = [];
  const ram = core.ramSize;
  out.push({ base: 0, end: Math.min(ram, MEMORY.VGA_HOLE_START), kind: 'ram', name: 'ram (conventional)' });
  if (ram > MEMORY.VGA_HOLE_END) out.push({ base: MEMORY.VGA_HOLE_END, end: ram, kind: 'ram', name: 'ram' });
  const windows = mmio.list().map((m): MemoryRegion => ({ base: m.base, end: m.base + m.length, kind: 'mmio', name: m.device.name }));
  out.push(...windows);
  for (const f of pciFunctions(bus)) {
    for (const b of f.bars) {
      if (b.io || b.base === 0) continue;
      const name = `${f.name} BAR${b.index}`;
      // A BAR the host serves through its MMIO map is that window; one it does not is memory the core maps itself (the framebuffer).
      const window = windows.find((w) => w.base === b.base);
      if (window !== undefined) window.name += ` (${name})`;
      else out.push({ base: b.base, end: b.base + b.size, kind: 'pci-bar', name });
    }
  }
  return out.sort((a, b) => a.base - b.base || b.end - a.end);
}
