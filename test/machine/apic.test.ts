// The APIC wiring of the Machine, with the real core, on tiny i386 programs assembled with nasm
// (as in machine.test.ts): the MP table a BIOS would leave (found by the guest's own scan, and
// its processor entry checked against CPUID run on the same CPU), the registers at the MMIO
// addresses, the PIT through IO-APIC pin 2, the local APIC timer measured by the TSC, level-
// triggered COM1 interrupts that need the EOI broadcast, IA32_APIC_BASE moves, and the same
// programs on a machine built without APICs.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { assembleTinyKernel } from './tiny-kernel.js';
import { APIC_BUS_FREQUENCY_HZ } from '../../src/devices/lapic.js';

const CORE = resolve(__dirname, '../../build/core.wasm');
const dir = mkdtempSync(join(tmpdir(), 'webx86-apic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** APIC routines (beside those of tiny-kernel.ts). */
const ROUTINES = `%define LAPIC 0xfee00000
%define IOAPIC 0xfec00000
apic_on:                    ; SVR: enabled, spurious vector 0xff; LINT0 (8259) masked
  mov dword [LAPIC + 0xf0], 0x1ff
  mov dword [LAPIC + 0x350], 0x10700
  ret
ioapic_write:               ; register ECX <- EAX
  mov [IOAPIC], ecx
  mov [IOAPIC + 0x10], eax
  ret
lapic_eoi_handler:
  mov dword [LAPIC + 0xb0], 0
  iretd
measure5:                   ; print 5 TSC deltas between interrupts that end HLT
  sti
  hlt
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
  ret
`;

const PROGRAMS: Record<string, string> = {
  // Find the MP floating pointer as Linux does (16-byte steps, signature, checksum) and print
  // its address and the processor entry's signature and features; then CPUID leaf 1 EAX/EDX,
  // the local APIC version register and the IO-APIC version register.
  mp: `
  mov esi, 0xf0000
.s: cmp dword [esi], '_MP_'
  jne .n
  xor eax, eax
  xor ecx, ecx
.c: add al, [esi + ecx]
  inc ecx
  cmp ecx, 16
  jb .c
  test al, al
  jz .found
.n: add esi, 16
  cmp esi, 0x100000
  jb .s
  xor eax, eax
  call puthex
  call puthex
  call puthex
  jmp .cpu
.found:
  mov eax, esi
  call puthex
  mov ebx, [esi + 4]
  mov eax, [ebx + 44 + 4]
  call puthex
  mov eax, [ebx + 44 + 8]
  call puthex
.cpu:
  mov eax, 1
  cpuid
  push edx
  call puthex
  pop eax
  call puthex
  mov eax, [LAPIC + 0x30]
  call puthex
  mov dword [IOAPIC], 1
  mov eax, [IOAPIC + 0x10]
  call puthex
  jmp poweroff
`,
  // The PIT (ISA IRQ0) through IO-APIC pin 2 to vector 0x30, the 8259 masked.
  ioapicPit: `
  call initpic
  call apic_on
  mov ecx, 0x30
  mov eax, lapic_eoi_handler
  call setgate
  mov ecx, 0x10 + 2 * 2 + 1
  xor eax, eax              ; destination: APIC ID 0
  call ioapic_write
  mov ecx, 0x10 + 2 * 2
  mov eax, 0x30             ; fixed, physical, edge, unmasked, vector 0x30
  call ioapic_write
  OUTB 0x43, 0x34
  OUTB 0x40, 11932 & 0xff
  OUTB 0x40, 11932 >> 8
  call measure5
  jmp poweroff
`,
  // The local APIC timer, periodic, divide by 1, 1,000,000 bus clocks.
  lapicTimer: `
  call initpic
  call apic_on
  mov ecx, 0x40
  mov eax, lapic_eoi_handler
  call setgate
  mov dword [LAPIC + 0x3e0], 0x0b
  mov dword [LAPIC + 0x320], 0x20040
  mov dword [LAPIC + 0x380], 1000000
  call measure5
  mov dword [LAPIC + 0x380], 0
  jmp poweroff
`,
  // COM1 RX through IO-APIC pin 4, level-triggered: the handler drains the FIFO before its
  // EOI. Two lines, typed one after the other's echo: the second needs the first EOI to have
  // reached the IO-APIC (Remote IRR), or it is never delivered.
  levelEcho: `
  call initpic
  call apic_on
  mov ecx, 0x34
  mov eax, rx_handler
  call setgate
  mov ecx, 0x10 + 2 * 4 + 1
  xor eax, eax
  call ioapic_write
  mov ecx, 0x10 + 2 * 4
  mov eax, 0x8034           ; level-triggered, vector 0x34
  call ioapic_write
  mov dx, 0x3f9
  OUTB dx, 0x01
  mov dx, 0x3fc
  OUTB dx, 0x08
.prompt: mov esi, ready
.m: lodsb
  test al, al
  jz .main
  call putc
  jmp .m
.main: cli
  mov eax, [rpos]
  cmp eax, [wpos]
  jne .have
  sti
  hlt
  jmp .main
.have: movzx eax, byte [buf + eax]
  inc dword [rpos]
  cmp al, 'a'
  jb .out
  cmp al, 'z'
  ja .out
  sub al, 32
.out: call putc
  cmp al, 10
  jne .main
  inc dword [lines]
  cmp dword [lines], 2
  jb .prompt
  mov eax, [irqs]
  call puthex
  jmp poweroff
rx_handler:
  push eax
  push edx
  push ebx
  inc dword [irqs]
.r: mov dx, 0x3fd
  in al, dx
  test al, 1
  jz .done
  mov dx, 0x3f8
  in al, dx
  mov ebx, [wpos]
  and ebx, 63
  mov [buf + ebx], al
  inc dword [wpos]
  jmp .r
.done: mov dword [LAPIC + 0xb0], 0
  pop ebx
  pop edx
  pop eax
  iretd
ready: db "ready> ", 0
irqs: dd 0
lines: dd 0
wpos: dd 0
rpos: dd 0
buf: times 64 db 0
`,
  // Move the APIC to 0xFED00000 through IA32_APIC_BASE, then disable it (EN clear).
  baseMove: `
  mov ecx, 0x1b
  rdmsr
  call puthex
  mov eax, 0xfed00900
  xor edx, edx
  mov ecx, 0x1b
  wrmsr
  mov eax, [0xfed00030]
  call puthex
  mov eax, [LAPIC + 0x30]
  call puthex
  mov eax, 0xfed00100
  xor edx, edx
  mov ecx, 0x1b
  wrmsr
  mov eax, [0xfed00030]
  call puthex
  jmp poweroff
`,
};

const elves: Record<string, Uint8Array> = {};

beforeAll(() => {
  if (!existsSync(CORE)) throw new Error(`${CORE} missing: run npm run build:core`);
  for (const [name, body] of Object.entries(PROGRAMS)) elves[name] = assembleTinyKernel(dir, name, ROUTINES, body);
});

async function boot(kernel: string, opts: { apic?: boolean; input?: string; timeoutMs?: number } = {}) {
  let out = '';
  const m = await Machine.create(
    { memoryMiB: 16, kernel: elves[kernel]!, cmdline: '', clock: 'deterministic', apic: opts.apic },
    {
      onSerial: (b) => {
        out += Buffer.from(b).toString('latin1');
        if (opts.input && out.endsWith('ready> ')) m.sendSerial(new TextEncoder().encode(opts.input));
      },
    },
  );
  const timer = setTimeout(() => m.stop(), opts.timeoutMs ?? 20_000);
  const reason = await m.run();
  clearTimeout(timer);
  return { reason, out, lines: out.trim().split('\n').map((h) => parseInt(h, 16) >>> 0), machine: m };
}

describe('Machine with local APIC and IO-APIC', () => {
  it('leaves an MP table the guest finds, describing the CPU as its own CPUID does', async () => {
    const r = await boot('mp');
    expect(r.reason).toBe('poweroff');
    const [mpf, signature, features, eax, edx, lapicVersion, ioapicVersion] = r.lines;
    expect(mpf).toBe(0xf0000);
    expect(signature).toBe(eax);
    expect(features).toBe(edx);
    expect(edx! & (1 << 9)).not.toBe(0);            // CPUID.1:EDX.APIC
    expect(lapicVersion! & 0xff).toBe(0x14);
    expect((lapicVersion! >>> 16) & 0xff).toBe(5);  // six LVT entries
    expect(ioapicVersion! & 0xff).toBe(0x11);
    expect((ioapicVersion! >>> 16) & 0xff).toBe(23); // 24 redirection entries
  });

  it('without APICs: no MP table, no CPUID APIC bit, nothing at the APIC addresses', async () => {
    const r = await boot('mp', { apic: false });
    expect(r.reason).toBe('poweroff');
    const [mpf, , , , edx, lapicVersion, ioapicVersion] = r.lines;
    expect(mpf).toBe(0);
    expect(edx! & (1 << 9)).toBe(0);
    expect(lapicVersion).toBe(0xffffffff);
    expect(ioapicVersion).toBe(0xffffffff);
    expect(r.machine.lapic).toBeNull();
  });

  it('delivers PIT ticks through IO-APIC pin 2 every 11932 PIT clocks (measured by the TSC)', async () => {
    const r = await boot('ioapicPit');
    expect(r.reason).toBe('poweroff');
    expect(r.lines).toHaveLength(5);
    const period = (11932 * 1e9) / 1_193_182;
    for (const d of r.lines) expect(Math.abs(d - period)).toBeLessThan(1000);
  });

  it('runs the local APIC timer at the bus clock (periodic, divide by 1)', async () => {
    const r = await boot('lapicTimer');
    expect(r.reason).toBe('poweroff');
    expect(r.lines).toHaveLength(5);
    const period = (1_000_000 * 1e9) / APIC_BUS_FREQUENCY_HZ; // ns = TSC ticks at 1 GHz
    for (const d of r.lines) expect(Math.abs(d - period)).toBeLessThan(100);
  });

  it('level-triggered COM1 interrupts: the EOI reaches the IO-APIC, so every character arrives', async () => {
    const r = await boot('levelEcho', { input: 'hello, guest\n', timeoutMs: 5000 });
    expect(r.reason).toBe('poweroff');
    const text = r.out.slice(0, r.out.lastIndexOf('\n', r.out.length - 2) + 1);
    expect(text).toBe('ready> HELLO, GUEST\nready> HELLO, GUEST\n');
    const irqs = parseInt(r.out.trim().split('\n').pop()!, 16);
    expect(irqs).toBeGreaterThanOrEqual(2);
    expect(r.machine.ioapic!.state.guestErrors).toBe(0);
  });

  it('follows IA32_APIC_BASE: moved, the registers answer at the new base only; disabled, nowhere', async () => {
    const r = await boot('baseMove');
    expect(r.reason).toBe('poweroff');
    const [msr, atNew, atOld, afterDisable] = r.lines;
    expect(msr).toBe(0xfee00900);                    // BSP, EN, base 0xFEE00000
    expect(atNew! & 0xff).toBe(0x14);
    expect(atOld).toBe(0xffffffff);
    expect(afterDisable).toBe(0xffffffff);
  });
});
