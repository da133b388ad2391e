// The worker's half of the inspector (src/worker/worker-inspect.ts) on a real Machine running a
// tiny kernel (nasm): a breakpoint at the kernel's entry stops the machine there, one step runs
// exactly its first instruction (`mov esp, 0x90000`: EIP moves on by its 5 bytes and ESP takes
// the value), and Continue runs it to its end; a step at HLT lets the PIT's interrupt in and
// stops where the handler's IRET returns; the port counters hold at least the two accesses
// per character the kernel's putc makes (IN of the line status, OUT of the byte); and a guest
// that loads garbage into GDTR, IDTR, LDTR and CR3 gets a sample with its errors in words,
// never an exception (the guest is untrusted).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../../src/machine/machine';
import { WorkerInspector } from '../../src/worker/worker-inspect';
import { assembleTinyKernel } from '../machine/tiny-kernel';
import { CORE, haveBuildOutputs } from '../images';

const ready = haveBuildOutputs('the inspector\'s worker test (build/core.wasm)', [CORE]);
const CHARS = 40;
// After TAIL's `start: mov esp, 0x90000`: print CHARS characters, then power off.
const BODY = `
  mov ecx, ${CHARS}
.l: mov al, 'x'
  call putc
  loop .l
  jmp poweroff
`;

// An idle loop as an OS has one: the PIT ticks (IRQ0, vector 0x20) wake `sti; hlt`, a handler
// acknowledges the 8259 and returns; after 20 wakeups, power off.
const IDLE = `
  call initpic
  mov ecx, 0x20
  mov eax, tick
  call setgate
  OUTB 0x43, 0x34           ; counter 0, lobyte/hibyte, mode 2
  OUTB 0x40, 11932 & 0xff
  OUTB 0x40, 11932 >> 8
  OUTB 0x21, 0xfe           ; unmask IRQ0
idle:
  sti
  hlt
  inc dword [wakeups]       ; ff 05 disp32: 6 bytes
  cmp dword [wakeups], 20
  jne idle
  jmp poweroff
tick:
  push eax
  OUTB 0x20, 0x20           ; non-specific EOI
  pop eax
  iret
wakeups: dd 0
`;

/** The ELF's entry point (e_entry, at offset 0x18 of the header). */
const entryOf = (elf: Uint8Array) => new DataView(elf.buffer, elf.byteOffset).getUint32(0x18, true);

describe.skipIf(!ready)('the worker\'s inspector on a running machine', () => {
  let dir: string;
  let kernel: Uint8Array;
  let idleKernel: Uint8Array;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'webx86-inspect-'));
    kernel = assembleTinyKernel(dir, 'print', '', BODY);
    idleKernel = assembleTinyKernel(dir, 'idle', '', IDLE);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const create = (onSerial: (b: Uint8Array) => void = () => {}) =>
    Machine.create({ memoryMiB: 16, kernel, cmdline: '', clock: 'deterministic' }, { onSerial });

  it('stops at a breakpoint, steps one instruction, continues; counts the port accesses', async () => {
    let out = '';
    const m = await create((b) => { out += Buffer.from(b).toString('latin1'); });
    const inspector = new WorkerInspector();
    inspector.attach(m);
    const entry = entryOf(kernel);
    inspector.setBreakpoint(entry);
    const running = m.run();
    // The run loop pauses at the breakpoint and sleeps; the sample sees it stopped there.
    let s = await inspector.sample();
    for (let i = 0; i < 200 && s?.state !== 'paused'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      s = await inspector.sample();
    }
    expect(s!.state).toBe('paused');
    expect(s!.stoppedAt).toBe(entry);
    expect(s!.cpu.eip).toBe(entry);
    expect(s!.breakpoints).toEqual([entry]);

    await inspector.step();
    s = await inspector.sample();
    expect(s!.cpu.eip).toBe(entry + 5);
    expect(s!.cpu.regs.esp).toBe(0x90000);
    expect(s!.stoppedAt).toBe(entry + 5);
    expect(out).toBe('');

    inspector.clearBreakpoint(entry);
    inspector.cont();
    expect(await running).toBe('poweroff');
    expect(out).toBe('x'.repeat(CHARS));
    s = await inspector.sample();
    const com1 = s!.counters.ports.find((p) => p.name === 'ns16550 @3f8');
    expect(com1!.count).toBeGreaterThanOrEqual(2 * CHARS);
    // COM2 is another ns16550, counted apart.
    expect(s!.counters.ports.find((p) => p.name === 'ns16550 @2f8')?.count ?? 0).toBeLessThan(com1!.count);
    expect(s!.counters.hltStops).toBeGreaterThan(0); // the kernel ends in cli; hlt
  });

  it('a step at HLT waits for the interrupt that wakes the CPU, and stops where its handler returns', async () => {
    const m = await Machine.create({ memoryMiB: 16, kernel: idleKernel, cmdline: '', clock: 'deterministic' }, { onSerial: () => {} });
    const inspector = new WorkerInspector();
    inspector.attach(m);
    const running = m.run();
    // Pause until the CPU is caught in its HLT (it idles there nearly all the time).
    let s = await inspector.sample();
    for (let i = 0; i < 500 && !(s!.state === 'paused' && s!.cpu.halted); i++) {
      if (s!.state === 'paused') { inspector.cont(); await new Promise((r) => setTimeout(r, 1)); }
      inspector.pause();
      await new Promise((r) => setTimeout(r, 1));
      s = await inspector.sample();
    }
    expect(s!.state).toBe('paused');
    expect(s!.cpu.halted).toBe(true);
    const afterHlt = s!.cpu.eip;
    const ticks = s!.counters.vectors.find((v) => v.vector === 0x20)?.count ?? 0;
    await inspector.step();
    s = await inspector.sample();
    // The tick's handler ran (an interrupt taken, several instructions), then IRET came back
    // to the instruction after the HLT, where the step stops.
    expect(s!.state).toBe('paused');
    expect(s!.cpu.halted).toBe(false);
    expect(s!.cpu.eip).toBe(afterHlt);
    expect(s!.stoppedAt).toBe(afterHlt);
    expect(s!.counters.vectors.find((v) => v.vector === 0x20)!.count).toBe(ticks + 1);
    // Every tick came from the 8259 (through the local APIC's LINT0 as ExtINT): IRQ 0, and no
    // APIC input, though the kernel never touched the IO-APIC.
    expect(s!.counters.lines).toEqual([{ name: '8259 IRQ 0', count: ticks + 1 }]);
    expect(s!.breakpoints).toEqual([]); // the step's own breakpoint is gone
    // And the next step runs `inc dword [wakeups]`.
    await inspector.step();
    expect((await inspector.sample())!.cpu.eip).toBe(afterHlt + 6);
    inspector.cont();
    expect(await running).toBe('poweroff');
  });

  it('refuses to step a running machine, in words', async () => {
    const m = await create();
    const inspector = new WorkerInspector();
    inspector.attach(m);
    await expect(inspector.step()).rejects.toThrow(/Pause the machine before stepping/);
    expect(() => inspector.setBreakpoint(-1)).toThrow(/linear address/);
  });

  it('samples a guest with garbage in GDTR, IDTR, LDTR, CR3 and EIP without throwing', async () => {
    const m = await create();
    const inspector = new WorkerInspector();
    inspector.attach(m);
    const core = m.core;
    core.gdtr = { base: 0xfffffff8, limit: 0xffff };
    core.idtr = { base: 0x7ffff000, limit: 0xffff };
    core.setSeg('ldtr', { selector: 0x28, base: 0xdead0000, limit: 0xffffffff, access: 0x82 });
    core.cr0 = (core.cr0 | 0x80000001) >>> 0; // PE and PG
    core.cr3 = 0xfffff000; // the page directory outside RAM
    core.eip = 0xfffffffe;
    const s = await inspector.sample({ tables: true, walk: 0xc0001234, memory: { address: 0xfffffff0, physical: false, length: 1 << 20 }, mtree: true, disassemble: 1000 });
    expect(s).not.toBeNull();
    expect(s!.tables!.gdt).toEqual({ error: expect.stringMatching(/GDT at 0xfffffff8 .* not all mapped RAM/) });
    expect(s!.tables!.ldt).toEqual({ error: expect.stringMatching(/LDT/) });
    expect(s!.walk).toMatchObject({ paging: true, pde: null, physical: null });
    expect(s!.memory!.bytes).toBeNull();
    expect(s!.disassembly).toEqual({ error: expect.stringMatching(/not mapped RAM/) });
    expect(s!.cpu.mode).toMatch(/^protected paging/);
    // Physical reads are bounded by RAM, and the memory viewer by its own maximum.
    const p = await inspector.sample({ memory: { address: 16 * 1048576 - 8, physical: true, length: 64 } });
    expect(p!.memory!.bytes).toBeNull();
    const q = await inspector.sample({ memory: { address: 0x1000, physical: true, length: 1 << 20 } });
    expect(q!.memory!.bytes!.length).toBe(4096);
  });
});
