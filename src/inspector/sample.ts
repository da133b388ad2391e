// What the page's inspector asks the VM worker for, about ten times a second, and what one
// answer holds (src/worker/worker-inspect.ts builds it). One request per sample: counters are
// cumulative since power-on, and the page turns two samples into rates, so the guest's events
// never cost a message each.

import type { JitCounters, RunState } from '../machine/types.js';
import type { MemoryRegion, PageWalk } from '../machine/inspect.js';
import type { GateDescriptor, SegmentDescriptor, TableRow } from './descriptors.js';
import type { RoundReport } from '../migration/messages.js';

/** The optional, costlier parts of a sample: only what the open tabs show. */
export interface InspectorRequest {
  /** Disassemble this many instructions at CS:EIP. */
  disassemble?: number;
  /** Decode the GDT, the LDT and the IDT. */
  tables?: boolean;
  /** Walk this linear address through the page tables. */
  walk?: number;
  /** Read memory for the hex viewer (at most MAX_MEMORY_BYTES). */
  memory?: { address: number; physical: boolean; length: number };
  /** The physical memory map (`info mtree`). */
  mtree?: boolean;
}

export const MAX_MEMORY_BYTES = 4096;
/** Most instructions disassembled in one sample. */
export const MAX_DISASSEMBLY = 32;

export interface SegmentSample {
  name: string;
  selector: number;
  base: number;
  limit: number;
  access: number;
  decoded: SegmentDescriptor;
}

export interface CpuSample {
  regs: Record<'eax' | 'ebx' | 'ecx' | 'edx' | 'esi' | 'edi' | 'ebp' | 'esp', number>;
  eip: number;
  eflags: number;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  cpl: number;
  /** cpuMode(): "protected paging PSE" ... */
  mode: string;
  halted: boolean;
  a20: boolean;
  segments: SegmentSample[];
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  instructions: number;
}

export interface DisassembledInstruction {
  /** Linear address. */
  address: number;
  bytes: string;
  text: string;
}

/** Counters since power-on (or since a device's window was mapped); the page makes rates of them. */
export interface CounterSample {
  /** Port I/O accesses per device (summed over its windows). */
  ports: { name: string; count: number }[];
  /** MMIO accesses per device window (RAM and the framebuffer, which the core serves, are not traps). */
  mmio: { name: string; count: number }[];
  /** Interrupts taken per vector (nonzero only) with the inputs that send each. */
  vectors: { vector: number; count: number; sources: string[] }[];
  /**
   * Interrupts per input: an 8259 IRQ counted when the 8259 supplied the vector; an IO-APIC pin
   * or a local APIC LVT entry by the vector it is programmed to send (inputs sharing a vector
   * share its count).
   */
  lines: { name: string; count: number }[];
  /** Exceptions delivered per vector 0-31. */
  exceptions: number[];
  hltStops: number;
  /** Guest time in HLT and guest time in all, ns. */
  haltedNs: number;
  guestNs: number;
  jit: JitCounters | null;
  blocks: { decoded: number; flushes: number; codeWrites: number };
  /** The MMU (Core.tlbStats): page walks, page faults, TLB fills, whole flushes, INVLPGs. */
  tlb: { walks: number; faults: number; fills: number; flushes: number; invalidations: number };
  devices: { name: string; values: Record<string, number> }[];
  balloon: { targetMiB: number; actualMiB: number };
  /** The pre-copy rounds of the last live migration (in or out), as they happened. */
  migrationRounds: RoundReport[];
}

export interface InspectorSample {
  /** Host time of the sample (ms, the worker's performance.now()). */
  at: number;
  state: RunState;
  cpu: CpuSample;
  counters: CounterSample;
  /** The inspector's breakpoints (linear addresses) and where the CPU stopped at one, if it did. */
  breakpoints: number[];
  stoppedAt: number | null;
  disassembly?: DisassembledInstruction[] | { error: string };
  tables?: {
    gdt: TableRow<SegmentDescriptor>[] | { error: string };
    ldt: TableRow<SegmentDescriptor>[] | { error: string };
    idt: TableRow<GateDescriptor>[] | { error: string };
  };
  walk?: PageWalk;
  memory?: { address: number; physical: boolean; bytes: Uint8Array | null; error?: string };
  mtree?: MemoryRegion[];
}

/**
 * The worker's inspector as the page calls it (VmWorkerApi.inspector): samples, and the
 * debugger's controls, each refused with an Error of one line of words when it cannot be done.
 */
export interface InspectorApi {
  /** One sample; null while no machine runs. */
  sample(request?: InspectorRequest): Promise<InspectorSample | null>;
  /** The CLI monitor's `info SUBJECT` (registers, tlb, mem, pic, irq, pci, mtree) on the same machine, in its words. */
  monitorInfo(subject: string): string[] | null;
  pause(): void;
  /** One instruction, with the VM paused; resolves when it ran (at HLT: once an interrupt's handler returns). */
  step(): Promise<void>;
  /** Continue from a pause or a breakpoint. */
  cont(): void;
  setBreakpoint(linear: number): void;
  clearBreakpoint(linear: number): void;
}
