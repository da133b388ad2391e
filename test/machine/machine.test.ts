// The Machine end to end with the real core and devices, on tiny i386 "kernels" assembled
// here with nasm and loaded through the boot loader as ELF images. Each checks one piece of
// wiring against what the PC hardware would do: COM1 output and input with its interrupt, the
// PIT/PIC/HLT path against the TSC (PIT ticks are 838.095 ns), the reset sources (0xCF9, the
// 8042, port 0x92, a triple fault) and CMOS memory surviving them, and power-off by "cli; hlt".
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Machine, type MachineState } from '../../src/machine/machine.js';
import { PciFunction } from '../../src/devices/pci.js';
import { assembleTinyKernel } from './tiny-kernel.js';
import type { ClockMode } from '../../src/machine/types.js';

const CORE = resolve(__dirname, '../../build/core.wasm');
const dir = mkdtempSync(join(tmpdir(), 'webx86-machine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Routines only these programs use (beside those of tiny-kernel.ts). */
const ROUTINES = `eoi_handler:
  push eax
  mov al, 0x20
  out 0x20, al
  pop eax
  iretd
zero_idtr: dw 0
      dd 0
`;

const PROGRAMS: Record<string, string> = {
  hello: `
  mov esi, msg
.l: lodsb
  test al, al
  jz poweroff
  call putc
  jmp .l
msg: db "hello from webx86", 13, 10, 0
`,
  // Five PIT periods of 11932 ticks (mode 2), each measured with RDTSC around an idle HLT.
  pit: `
  call initpic
  mov ecx, 0x20
  mov eax, eoi_handler
  call setgate
  OUTB 0x43, 0x34           ; counter 0, lobyte/hibyte, mode 2
  OUTB 0x40, 11932 & 0xff
  OUTB 0x40, 11932 >> 8
  OUTB 0x21, 0xfe           ; unmask IRQ0
  sti
  hlt                       ; align to the first tick
  rdtsc
  mov edi, eax
  mov esi, 5
.t: sti
  hlt
  cli
  rdtsc
  push eax
  sub eax, edi
  call puthex
  pop edi
  dec esi
  jnz .t
  jmp poweroff
`,
  // The TSC (EDX:EAX) at four points, each after an idle HLT woken by the PIT.
  tsc: `
  call initpic
  mov ecx, 0x20
  mov eax, eoi_handler
  call setgate
  OUTB 0x43, 0x34           ; counter 0, lobyte/hibyte, mode 2
  OUTB 0x40, 11932 & 0xff
  OUTB 0x40, 11932 >> 8
  OUTB 0x21, 0xfe           ; unmask IRQ0
  mov esi, 4
.t: rdtsc
  push eax
  mov eax, edx
  call puthex
  pop eax
  call puthex
  sti
  hlt
  cli
  dec esi
  jnz .t
  jmp poweroff
`,
  // Linux's PIT one-shot: mode 4 with a short count (100 ticks = 84 us), programmed from inside a
  // CPU run; each must end the following HLT with IRQ0.
  oneshot: `
  call initpic
  mov ecx, 0x20
  mov eax, eoi_handler
  call setgate
  OUTB 0x21, 0xfe
  mov esi, 20
.o: cli
  OUTB 0x43, 0x38           ; counter 0, lobyte/hibyte, mode 4 (software triggered strobe)
  OUTB 0x40, 100
  OUTB 0x40, 0
  sti
  hlt
  mov al, '.'
  call putc
  dec esi
  jnz .o
  jmp poweroff
`,
  // Echo COM1 input in upper case until a newline, waiting in HLT for the RX interrupt (IRQ4).
  echo: `
  call initpic
  mov ecx, 0x24
  mov eax, eoi_handler
  call setgate
  mov dx, 0x3f9
  OUTB dx, 0x01             ; IER: received data available
  mov dx, 0x3fc
  OUTB dx, 0x08             ; MCR: OUT2 gates the interrupt onto the bus
  OUTB 0x21, 0xef           ; unmask IRQ4
  mov esi, ready
.m: lodsb
  test al, al
  jz .rx
  call putc
  jmp .m
.rx: cli
  mov dx, 0x3fd
  in al, dx
  test al, 1                ; LSR.DR
  jnz .got
  sti
  hlt
  jmp .rx
.got: mov dx, 0x3f8
  in al, dx
  cmp al, 'a'
  jb .out
  cmp al, 'z'
  ja .out
  sub al, 32
.out: call putc
  cmp al, 10
  jne .rx
  jmp poweroff
ready: db "ready> ", 0
`,
};

/** Count boots in CMOS byte 0x40 (battery-backed), print the count, reset by METHOD until 3. */
function resetProgram(method: string): string {
  const methods: Record<string, string> = {
    cf9: 'mov dx, 0xcf9\n  OUTB dx, 0x02\n  OUTB dx, 0x06',
    kbc: 'OUTB 0x64, 0xfe',
    port92: 'in al, 0x92\n  or al, 1\n  out 0x92, al',
    triple: 'lidt [zero_idtr]\n  int3',
  };
  return `
  OUTB 0x70, 0x40
  in al, 0x71
  inc al
  mov bl, al
  OUTB 0x70, 0x40
  mov al, bl
  out 0x71, al
  mov al, bl
  add al, '0'
  call putc
  cmp bl, 3
  jae poweroff
  ${methods[method]}
.spin: jmp .spin
`;
}


const elves: Record<string, Uint8Array> = {};

beforeAll(() => {
  if (!existsSync(CORE)) throw new Error(`${CORE} missing: run npm run build:core`);
  for (const [name, body] of Object.entries(PROGRAMS)) elves[name] = assembleTinyKernel(dir, name, ROUTINES, body);
  for (const m of ['cf9', 'kbc', 'port92', 'triple']) elves[`reset-${m}`] = assembleTinyKernel(dir, `reset-${m}`, ROUTINES, resetProgram(m));
});

async function boot(kernel: string, opts: { clock?: ClockMode; noReboot?: boolean; input?: string; timeoutMs?: number; hostTsc?: boolean } = {}) {
  let out = '';
  const logs: string[] = [];
  const m = await Machine.create(
    { memoryMiB: 16, kernel: elves[kernel]!, cmdline: '', clock: opts.clock ?? 'deterministic', noReboot: opts.noReboot },
    {
      onSerial: (b) => {
        out += Buffer.from(b).toString('latin1');
        if (opts.input && out.endsWith('ready> ')) m.sendSerial(new TextEncoder().encode(opts.input));
      },
      onLog: (l) => logs.push(l),
    },
  );
  // The core computes RDTSC from the clock the Machine gives it before each run; without it, it
  // asks the host, whose answer is the clock's own tsc().
  if (opts.hostTsc) {
    m.core.beforeRun = null;
    m.core.setClock({ anchorNs: 0, anchorInstr: 0, nsPerInstr: 0, floorNs: 0, tscPerNs: 0 });
  }
  const timer = setTimeout(() => m.stop(), opts.timeoutMs ?? 20_000);
  const t0 = performance.now();
  const reason = await m.run();
  clearTimeout(timer);
  return { reason, out, logs, status: m.status(), hostMs: performance.now() - t0, machine: m };
}

/** `v` with every large byte array (RAM, video memory) replaced by its SHA-256, so a difference prints in a line. */
function digested(v: unknown): unknown {
  if (ArrayBuffer.isView(v) && v.byteLength > 4096) {
    return `${v.byteLength} bytes, sha256 ${createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex')}`;
  }
  if (Array.isArray(v)) return v.map(digested);
  if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, digested(x)]));
  return v;
}

/** Two saved machines are equal. */
function expectSameState(a: MachineState, b: MachineState): void {
  expect(digested(a)).toEqual(digested(b));
}

describe('Machine', () => {
  it('prints on COM1 and powers off on cli; hlt', async () => {
    const r = await boot('hello');
    expect(r.out).toBe('hello from webx86\r\n');
    expect(r.reason).toBe('poweroff');
    expect(r.status.state).toBe('poweroff');
    expect(r.status.instructions).toBeGreaterThan(100);
  });

  it('PIT ticks wake HLT at 11932 x 838.095 ns, measured by the TSC (deterministic, reproducible)', async () => {
    const a = await boot('pit');
    expect(a.reason).toBe('poweroff');
    const deltas = a.out.trim().split('\n').map((h) => parseInt(h, 16));
    expect(deltas).toHaveLength(5);
    const period = (11932 * 1e9) / 1_193_182; // ns; the TSC runs at 1 GHz
    for (const d of deltas) expect(Math.abs(d - period)).toBeLessThan(1000);
    const b = await boot('pit');
    expect(b.out).toBe(a.out);
  });

  it("RDTSC computed in the core equals the clock's own TSC, value for value (deterministic)", async () => {
    const inCore = await boot('tsc');
    const fromHost = await boot('tsc', { hostTsc: true });
    expect(inCore.reason).toBe('poweroff');
    const values = inCore.out.trim().split('\n');
    expect(values).toHaveLength(8);
    const tsc = [0, 2, 4, 6].map((i) => BigInt('0x' + values[i]) << 32n | BigInt('0x' + values[i + 1]));
    // A PIT period is 10 ms, 10^7 TSC ticks (the first HLT may end at once: IRQ0 was latched before the setup).
    for (let i = 2; i < 4; i++) expect(tsc[i]! - tsc[i - 1]!).toBeGreaterThan(5_000_000n);
    expect(fromHost.out.split("\n")).toEqual(inCore.out.split("\n"));
  });

  it('realtime: PIT periods follow the host clock', async () => {
    const r = await boot('pit', { clock: 'realtime' });
    expect(r.reason).toBe('poweroff');
    const deltas = r.out.trim().split('\n').map((h) => parseInt(h, 16));
    const period = (11932 * 1e9) / 1_193_182;
    for (const d of deltas) expect(Math.abs(d - period) / period).toBeLessThan(0.01);
    // Five measured idle periods of ~10 ms cannot be over before ~50 ms of host time (the
    // first HLT may end at once: IRQ0 was latched in IRR while masked, before the PIT's setup).
    expect(r.hostMs).toBeGreaterThan(48);
    expect(r.status.guestSeconds).toBeGreaterThan(0.048);
  });

  it('a PIT one-shot programmed during a run interrupts on time (mode 4 strobe)', async () => {
    const r = await boot('oneshot', { timeoutMs: 10_000 });
    expect(r.out).toBe('.'.repeat(20));
    expect(r.reason).toBe('poweroff');
    // At least 19 full one-shots of 100 PIT ticks (83.8 us) went by; the first HLT may end at
    // once on an IRQ0 edge latched in IRR before the PIC was set up.
    expect(r.status.guestSeconds).toBeGreaterThan((19 * 100) / 1_193_182);
  });

  it('delivers COM1 input through the RX interrupt', async () => {
    const r = await boot('echo', { input: 'hello, guest\n' });
    expect(r.reason).toBe('poweroff');
    expect(r.out).toBe('ready> HELLO, GUEST\n');
  });

  for (const method of ['cf9', 'kbc', 'port92', 'triple']) {
    it(`reboots on a ${method} reset, keeping CMOS memory`, async () => {
      const r = await boot(`reset-${method}`);
      expect(r.out).toBe('123');
      expect(r.reason).toBe('poweroff');
      expect(r.logs.filter((l) => l.startsWith('guest reset'))).toHaveLength(2);
    });
  }

  it('stops at a guest reset under noReboot', async () => {
    const r = await boot('reset-cf9', { noReboot: true });
    expect(r.out).toBe('1');
    expect(r.reason).toBe('reset');
  });

  it('refuses a saved state of another machine in one line, and changes nothing', async () => {
    const a = (await boot('hello')).machine;
    const saved = a.saveState();
    const make = (memoryMiB: number, apic: boolean) =>
      Machine.create({ memoryMiB, kernel: elves.hello!, cmdline: '', clock: 'deterministic', apic }, { onSerial: () => {} });
    const other = await make(32, true);
    const before = other.saveState();
    expect(() => other.loadState(saved)).toThrow(/^saved RAM is 16 MiB, this machine has 32 MiB$/);
    const noApic = await make(16, false);
    expect(() => noApic.loadState(saved)).toThrow(/^saved state has device (lapic|ioapic), which this machine does not$/);
    const wrongVersion = { ...saved, devices: saved.devices.map((d) => (d.name === 'pit' ? { ...d, version: 99 } : d)) };
    const same = await make(16, true);
    expect(() => same.loadState(wrongVersion)).toThrow(/^saved pit state is version 99, this machine's is 1$/);
    // Nothing was taken: the machines are as they were.
    expectSameState(other.saveState(), before);
    same.loadState(saved);
    expectSameState(same.saveState(), saved);
  });

  it('routes a PCI card\'s INTA# through the PIIX3 PIRQ registers to the 8259 and to IO-APIC pins 16-19', async () => {
    const m = await Machine.create({ memoryMiB: 16, kernel: elves.hello!, cmdline: '', clock: 'deterministic' }, { onSerial: () => {} });
    // A card in slot 13 (a free one): its INTA# is PIRQ (13 - 1 + 0) & 3 = A on this board (board.ts pirqOfPciPin).
    const card = new PciFunction('card', { vendorId: 0x1234, deviceId: 0x0001, classCode: 0xff0000, interruptPin: 1 });
    m.pci.register(13, 0, card);
    const pirqRc = (pirq: number, v: number) => {
      m.ports.write(0xcf8, 4, (0x80000000 | (1 << 11) | 0x60) >>> 0); // PIIX3 (device 1) PIRQRC[A..D] at 0x60
      m.ports.write(0xcfc + pirq, 1, v);
    };
    const slaveLines = () => m.pic.slave.state.lines;
    card.setIntx(true);
    // PIIX3 datasheet, PIRQRC[A:D] (config 60h-63h): bit 7 set, the reset value, routes the line nowhere.
    expect(slaveLines() & (1 << 3)).toBe(0);
    expect(m.ioapic!.state.lines & (1 << 16)).not.toBe(0);
    pirqRc(0, 11); // PIRQA -> IRQ 11 (the slave's IR3)
    expect(slaveLines() & (1 << 3)).not.toBe(0);
    card.setIntx(false);
    expect(slaveLines() & (1 << 3)).toBe(0);
    expect(m.ioapic!.state.lines & (1 << 16)).toBe(0);
    card.setIntx(true);
    pirqRc(0, 0x80); // routed away again: the 8259 input drops
    expect(slaveLines() & (1 << 3)).toBe(0);
  });

  it('pause, resume, stop and a host reset', async () => {
    let out = '';
    const m = await Machine.create(
      { memoryMiB: 16, kernel: elves['echo']!, cmdline: '', clock: 'realtime' },
      { onSerial: (b) => { out += Buffer.from(b).toString('latin1'); } },
    );
    const done = m.run();
    const until = async (f: () => boolean) => { for (let i = 0; i < 400 && !f(); i++) await new Promise((r) => setTimeout(r, 10)); };
    await until(() => out.endsWith('ready> '));
    expect(out).toBe('ready> ');
    m.pause();
    await until(() => m.status().state === 'paused');
    expect(m.status().state).toBe('paused');
    const frozen = m.status().guestSeconds;
    await new Promise((r) => setTimeout(r, 50));
    expect(m.status().guestSeconds).toBe(frozen);
    m.sendSerial(new TextEncoder().encode('x'));
    await new Promise((r) => setTimeout(r, 30));
    expect(out).toBe('ready> '); // nothing runs while paused
    m.resume();
    await until(() => out.endsWith('X'));
    expect(out).toBe('ready> X');
    m.reset();
    await until(() => out.endsWith('X' + 'ready> '));
    expect(out).toBe('ready> Xready> ');
    m.stop();
    expect(await done).toBe('stopped');
    expect(m.status().state).toBe('stopped');
  });
});
