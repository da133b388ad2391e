// The worker's half of the page's inspector (src/inspector/): one sample of the machine per
// request, read between two of the run loop's slices (the worker is single-threaded, so a
// comlink call never sees the CPU in the middle of an instruction), and the debugger's controls:
// pause, one instruction, breakpoints, continue, on the core's host breakpoints as the gdb stub
// (src/node/gdb-stub.ts) uses them.
//
// Nothing here allocates per guest event: the counters it reports are the Machine's and the
// buses' own increments, summed here only when the page asks.

import type { Machine } from '../machine/machine.js';
import type { RegName, SegName } from '../cpu/core.js';
import {
  cpuMode, exceptionCounts, memoryMap, pageWalk, readLinear, readPhysical, vectorSources,
} from '../machine/inspect.js';
import { VirtioPci } from '../devices/virtio/virtio-pci.js';
import { decodeCachedSegment, decodeDescriptorTable, decodeIdt, decodeIvt } from '../inspector/descriptors.js';
import {
  MAX_DISASSEMBLY, MAX_MEMORY_BYTES, type CounterSample, type CpuSample, type InspectorApi, type InspectorRequest, type InspectorSample,
} from '../inspector/sample.js';
import { infoLines } from '../node/monitor-info.js';
import type { RoundReport } from '../migration/messages.js';
import { disassemble } from '../inspector/disassembler.js';

/** What the worker around the machine knows that the Machine does not: its network's frames. */
export interface InspectorHostStatus {
  net: { framesIn: number; framesOut: number } | null;
}

/** Rounds of the last migration kept for the inspector (a migration stops after 30). */
const MAX_ROUNDS = 64;

const SEGMENTS: readonly SegName[] = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'];
const GENERAL: readonly RegName[] = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp'];
/** Bytes read at CS:EIP for the disassembly: the longest x86 instruction is 15 bytes. */
const CODE_BYTES_PER_INSTRUCTION = 15;
/** A descriptor table is at most 64 KiB (a 16-bit limit). */
const MAX_TABLE_BYTES = 0x10000;
/** Access byte bit of a code segment's D flag in the core's cached attributes (descriptor bit 54). */
const ACCESS_DB = 0x4000;
/** The segment register's cached attributes say "present" (descriptor bit 47). */
const ACCESS_P = 0x80;

/** Words for an Error (comlink carries its message). */
function failure(what: string): Error {
  return new Error(what);
}

export class WorkerInspector implements InspectorApi {
  /** Breakpoint address -> the core's slot. */
  private readonly breakpoints = new Map<number, number>();
  private stoppedAt: number | null = null;
  /** The instruction count when the CPU stopped there. */
  private stoppedAfter = 0;
  /** A step at HLT: the slot that catches the return from the interrupt that wakes the CPU, and who waits for it. */
  private haltStep: { slot: number; done: () => void } | null = null;
  private machine: Machine | null = null;
  /** The pre-copy rounds of the last live migration, in or out, as they came. */
  private rounds: RoundReport[] = [];

  constructor(private readonly hostStatus: () => InspectorHostStatus = () => ({ net: null })) {}

  /** Events of a migration, passed on to `events` and kept for the inspector's samples. */
  watchMigration<E extends { onRound(r: RoundReport): void }>(events: E | undefined): { onRound(r: RoundReport): void } {
    this.rounds = [];
    return {
      onRound: (r) => {
        if (this.rounds.length < MAX_ROUNDS) this.rounds.push({ ...r });
        void Promise.resolve(events?.onRound(r)).catch(() => {});
      },
    };
  }

  /** The machine the worker runs now (null: none, or one the inspector cannot look into). */
  attach(machine: Machine | null): void {
    if (machine === this.machine) return;
    // A step waiting on the old machine ends with it (its breakpoint slot is the old core's).
    this.finishHaltStep();
    if (this.machine !== null && this.machine.onBreakpoint === this.onBreak) this.machine.onBreakpoint = null;
    this.machine = machine;
    this.breakpoints.clear();
    this.stoppedAt = null;
    if (machine !== null) machine.onBreakpoint = this.onBreak;
  }

  private readonly onBreak = (): void => {
    const m = this.machine;
    if (m === null) return;
    this.stop(m);
    this.finishHaltStep();
  };

  private stop(m: Machine): void {
    this.stoppedAt = m.core.eip;
    this.stoppedAfter = m.core.instructions;
  }

  private finishHaltStep(): void {
    const h = this.haltStep;
    if (h === null) return;
    this.haltStep = null;
    this.machine?.core.clearBreakpoint(h.slot);
    h.done();
  }

  private need(): Machine {
    if (this.machine === null) throw failure('No machine is running: start one to inspect it.');
    return this.machine;
  }

  async sample(request: InspectorRequest = {}): Promise<InspectorSample | null> {
    const m = this.machine;
    if (m === null) return null;
    const state = m.status().state;
    // A stop at a breakpoint ends once the CPU has run on, whoever resumed it.
    if (this.stoppedAt !== null && m.core.instructions !== this.stoppedAfter) this.stoppedAt = null;
    const s: InspectorSample = {
      at: performance.now(),
      state,
      cpu: this.cpu(m),
      counters: this.counters(m),
      breakpoints: [...this.breakpoints.keys()],
      stoppedAt: this.stoppedAt,
    };
    const core = m.core;
    if (request.walk !== undefined && Number.isFinite(request.walk)) s.walk = pageWalk(core, request.walk >>> 0);
    if (request.memory !== undefined) {
      const { address, physical } = request.memory;
      const length = Math.max(0, Math.min(MAX_MEMORY_BYTES, Math.trunc(request.memory.length) || 0));
      const bytes = physical ? readPhysical(core, address >>> 0, length) : readLinear(core, address >>> 0, length);
      s.memory = { address: address >>> 0, physical, bytes };
      if (bytes === null) s.memory.error = physical ? 'not RAM (MMIO is not read: its reads have effects)' : 'not mapped by the page tables, or not RAM';
    }
    if (request.mtree === true) s.mtree = memoryMap(core, m.mmio, m.pci);
    if (request.tables === true) s.tables = this.tables(m);
    if (request.disassemble !== undefined && request.disassemble > 0) {
      const count = Math.min(MAX_DISASSEMBLY, Math.trunc(request.disassemble));
      try {
        s.disassembly = await this.disassembly(m, count);
      } catch (e) {
        s.disassembly = { error: `no disassembly: ${(e as Error)?.message ?? String(e)}` };
      }
    }
    return s;
  }

  private cpu(m: Machine): CpuSample {
    const core = m.core;
    const regs = {} as CpuSample['regs'];
    for (const r of GENERAL) regs[r as keyof CpuSample['regs']] = core.reg(r);
    return {
      regs,
      eip: core.eip,
      eflags: core.getEflags(),
      cr0: core.cr0, cr2: core.cr2, cr3: core.cr3, cr4: core.cr4,
      cpl: core.cpl,
      mode: cpuMode(core),
      halted: core.halted,
      a20: core.a20,
      segments: SEGMENTS.map((name) => {
        const seg = core.seg(name);
        return { name, ...seg, decoded: decodeCachedSegment(seg.base, seg.limit, seg.access) };
      }),
      gdtr: core.gdtr,
      idtr: core.idtr,
      instructions: core.instructions,
    };
  }

  private counters(m: Machine): CounterSample {
    // Per device object (COM1 and COM2 are both an ns16550): named by the chip and where it
    // decodes first, as `ns16550 @3f8`; a device with several windows sums them.
    const sumByDevice = (list: { base: number; device: object & { name: string }; accesses: number }[]) => {
      const byDevice = new Map<object, { name: string; count: number }>();
      for (const w of list) {
        const d = byDevice.get(w.device);
        if (d === undefined) byDevice.set(w.device, { name: `${w.device.name} @${w.base.toString(16)}`, count: w.accesses });
        else d.count += w.accesses;
      }
      return [...byDevice.values()];
    };
    const irq = m.irqStats;
    const vectors: CounterSample['vectors'] = [];
    // Per input: the 8259s' IRQs as counted when they supplied the vector; the rest of a vector's
    // count goes to the APIC inputs programmed to send it (IO-APIC pins, the local APIC's LVT).
    const lines = new Map<string, number>();
    const addLine = (name: string, n: number) => lines.set(name, (lines.get(name) ?? 0) + n);
    irq.perPicIrq.forEach((n, i) => { if (n > 0) addLine(`8259 IRQ ${i}`, n); });
    for (let v = 0; v < 256; v++) {
      const count = irq.perVector[v]!;
      if (count === 0) continue;
      const sources = vectorSources(m.pic, m.ioapic, v, m.lapic);
      vectors.push({ vector: v, count, sources });
      const viaApic = count - irq.fromPicPerVector[v]!;
      if (viaApic <= 0) continue;
      const apicSources = sources.filter((src) => !src.startsWith('8259'));
      if (apicSources.length === 0) addLine(`vector 0x${v.toString(16)} (no APIC input sends it now)`, viaApic);
      for (const src of apicSources) addLine(src, viaApic);
    }
    const devices: CounterSample['devices'] = [];
    for (const { fn } of m.pci.list()) {
      if (!(fn instanceof VirtioPci)) continue;
      const c = fn.counters;
      devices.push({ name: fn.name, values: { notifications: c.notifications, chains: c.chains, interrupts: c.interrupts } });
    }
    const a = m.ahci.counters;
    devices.push({ name: 'ahci', values: { commands: a.commands, packets: a.packets, bytesRead: a.bytesRead, bytesWritten: a.bytesWritten } });
    const net = this.hostStatus().net;
    if (net !== null) devices.push({ name: 'network (host side)', values: { framesIn: net.framesIn, framesOut: net.framesOut } });
    const status = m.status();
    return {
      ports: sumByDevice(m.ports.list()),
      mmio: sumByDevice(m.mmio.list()),
      vectors,
      lines: [...lines].map(([name, count]) => ({ name, count })),
      exceptions: exceptionCounts(m.core),
      hltStops: m.counters.hltStops,
      haltedNs: m.counters.haltedNs,
      guestNs: m.clock.now(),
      jit: status.jit ?? null,
      blocks: m.core.blockStats,
      tlb: m.core.tlbStats,
      devices,
      balloon: { targetMiB: m.balloon.target / 256, actualMiB: m.balloon.actual / 256 },
      migrationRounds: this.rounds.slice(),
    };
  }

  private tables(m: Machine): NonNullable<InspectorSample['tables']> {
    const core = m.core;
    // The tables' bases are linear addresses (SDM vol. 3 2.4): read through the page tables,
    // bounded by the limit the guest loaded (at most 64 KiB), never past what is mapped.
    const read = (base: number, limit: number, what: string): Uint8Array | { error: string } => {
      const length = Math.min(MAX_TABLE_BYTES, (limit >>> 0) + 1);
      const bytes = readLinear(core, base >>> 0, length);
      return bytes ?? { error: `the ${what} at 0x${(base >>> 0).toString(16)} (limit 0x${(limit >>> 0).toString(16)}) is not all mapped RAM` };
    };
    const gdtr = core.gdtr;
    const idtr = core.idtr;
    const gdtBytes = read(gdtr.base, gdtr.limit, 'GDT');
    const idtBytes = read(idtr.base, idtr.limit, 'IDT');
    const ldtr = core.seg('ldtr');
    const ldtPresent = (ldtr.selector & ~3) !== 0 && (ldtr.access & ACCESS_P) !== 0;
    const ldtBytes = ldtPresent ? read(ldtr.base, ldtr.limit, 'LDT') : { error: 'no LDT loaded (LDTR holds the null selector)' };
    return {
      gdt: gdtBytes instanceof Uint8Array ? decodeDescriptorTable(gdtBytes, gdtr.limit, false) : gdtBytes,
      ldt: ldtBytes instanceof Uint8Array ? decodeDescriptorTable(ldtBytes, ldtr.limit, true) : ldtBytes,
      // In real mode the IDT register points at the vector table of segment:offset pairs.
      idt: !(idtBytes instanceof Uint8Array) ? idtBytes : (core.cr0 & 1) === 0 ? decodeIvt(idtBytes, idtr.limit) : decodeIdt(idtBytes, idtr.limit),
    };
  }

  private async disassembly(m: Machine, count: number): Promise<NonNullable<InspectorSample['disassembly']>> {
    const core = m.core;
    const cs = core.seg('cs');
    const protectedMode = (core.cr0 & 1) !== 0 && (core.getEflags() & 0x20000) === 0;
    const bitness: 16 | 32 = protectedMode && (cs.access & ACCESS_DB) !== 0 ? 32 : 16;
    const start = (cs.base + core.eip) >>> 0;
    // Read as much as is mapped of the bytes wanted: the code may end at an unmapped page.
    let length = count * CODE_BYTES_PER_INSTRUCTION;
    let bytes: Uint8Array | null = null;
    while (length > 0 && (bytes = readLinear(core, start, length)) === null) {
      const toPageEnd = 0x1000 - (start & 0xfff);
      length = length > toPageEnd ? toPageEnd : 0;
    }
    if (bytes === null) return { error: `CS:EIP (linear 0x${start.toString(16)}) is not mapped RAM` };
    const list = await disassemble(bytes, start, bitness, count);
    const hex = (from: number, n: number) => [...bytes!.subarray(from, from + n)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    return list.map((d) => ({ address: d.address, bytes: hex((d.address - start) >>> 0, d.length), text: d.text }));
  }

  monitorInfo(subject: string): string[] | null {
    return infoLines(this.need(), String(subject));
  }

  // ---- controls ----

  /** Pause; a step still waiting for a halted CPU to be woken ends here instead. */
  pause(): void {
    const m = this.need();
    m.pause();
    this.finishHaltStep();
  }

  /** Run on from a pause or a breakpoint: past a breakpoint at the current instruction once. */
  cont(): void {
    const m = this.need();
    this.stoppedAt = null;
    m.core.resumeFromBreak(m.core.eip);
    m.resume();
  }

  /**
   * One instruction, with the machine paused (the run loop is asleep between slices, so the
   * core is ours). At HLT the CPU waits for an interrupt: as the gdb stub does, the guest runs
   * until the handler returns to the instruction after the HLT, and stops there.
   */
  async step(): Promise<void> {
    const m = this.need();
    const state = m.status().state;
    if (state !== 'paused') throw failure(`Pause the machine before stepping (it is ${state}).`);
    if (this.haltStep !== null) throw failure('A step is already waiting for the halted CPU to be woken.');
    const core = m.core;
    core.resumeFromBreak(core.eip);
    if (!core.halted) {
      core.run(1);
      this.stop(m);
      return;
    }
    const slot = this.freeSlot();
    core.setBreakpoint(slot, core.eip);
    await new Promise<void>((done) => {
      this.haltStep = { slot, done };
      m.resume();
    });
    // The run loop says 'paused' on its next turn after the stop: answer once it does, so the
    // next step is not refused as if the machine still ran.
    for (let turn = 0; turn < 100 && m.status().state === 'running'; turn++) await new Promise((r) => setTimeout(r, 1));
  }

  setBreakpoint(linear: number): void {
    const m = this.need();
    if (!Number.isInteger(linear) || linear < 0 || linear > 0xffffffff) throw failure(`A breakpoint needs a linear address 0..0xffffffff (got ${linear}).`);
    if (this.breakpoints.has(linear)) return;
    if (m.core.breakpointSlots === 0) throw failure('This core has no host breakpoints.');
    const slot = this.freeSlot();
    m.core.setBreakpoint(slot, linear);
    this.breakpoints.set(linear, slot);
  }

  clearBreakpoint(linear: number): void {
    const m = this.need();
    const slot = this.breakpoints.get(linear);
    if (slot === undefined) return;
    m.core.clearBreakpoint(slot);
    this.breakpoints.delete(linear);
  }

  private freeSlot(): number {
    const core = this.need().core;
    const used = new Set(this.breakpoints.values());
    if (this.haltStep !== null) used.add(this.haltStep.slot);
    for (let s = 0; s < core.breakpointSlots; s++) if (!used.has(s)) return s;
    throw failure(`All ${core.breakpointSlots} breakpoints are in use: clear one first.`);
  }
}
