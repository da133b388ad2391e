// The firmware path end to end: Debian's SeaBIOS and its VGA BIOS run on this machine from the
// reset vector. They are independent judges of the board: SeaBIOS finds its RAM, the CPU and the
// ACPI tables through fw_cfg and says so on its debug port; the VGA BIOS sets mode 3 through
// the VGA's registers and planes; SeaBIOS's own AHCI driver reads a boot sector from the SATA
// disk, whose int 10h and int 13h calls (served by those BIOSes) must then work.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { MemoryBackend } from '../../src/storage/block.js';
import { OverlayBackend } from '../../src/storage/overlay.js';
import { CORE, haveBuildOutputs } from '../images.js';

const SEABIOS = '/usr/share/seabios/bios-256k.bin';
const VGABIOS = '/usr/share/seabios/vgabios-isavga.bin';
const ready = haveBuildOutputs('SeaBIOS firmware tests (the seabios package: npm run setup)', [CORE, SEABIOS, VGABIOS]);

/** A boot sector: prints a line with int 10h, reads LBA 1 with int 13h AH=42h, prints it, switches off. */
const MBR = `
bits 16
org 0x7c00
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7c00
  mov [drive], dl
  mov si, hello
  call print
  mov si, dap
  mov ah, 0x42
  mov dl, [drive]
  int 0x13
  jc failed
  mov si, 0x8000
  call print
  cli
  hlt                      ; interrupts off and halted: the machine switches off
failed:
  mov si, readerr
  call print
  cli
  hlt
print:                     ; DS:SI, NUL-terminated, through the VGA BIOS's teletype output
  lodsb
  test al, al
  jz .done
  mov ah, 0x0e
  mov bx, 0x0007
  int 0x10
  jmp print
.done:
  ret
drive: db 0
hello: db "webx86 boot sector from drive ", 0
readerr: db "int 13h read failed", 0
dap: db 16, 0
  dw 1                     ; one sector
  dw 0x8000, 0             ; to 0000:8000
  dq 1                     ; LBA 1
times 510 - ($ - $$) db 0
  dw 0xaa55
`;

/** A boot sector that sets a graphics mode through the VGA BIOS (int 10h AH=00h) and plots pixels with AH=0Ch, then switches off. */
function plotter(mode: number, pixels: [x: number, y: number, colour: number][]): string {
  return `
bits 16
org 0x7c00
  xor ax, ax
  mov ds, ax
  mov ss, ax
  mov sp, 0x7c00
  mov ax, 0x${mode.toString(16).padStart(4, '0')}
  int 0x10
${pixels.map(([x, y, c]) => `  mov ax, 0x0c${c.toString(16).padStart(2, '0')}\n  xor bx, bx\n  mov cx, ${x}\n  mov dx, ${y}\n  int 0x10`).join('\n')}
  cli
  hlt
times 510 - ($ - $$) db 0
  dw 0xaa55
`;
}

function assemble(source: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'webx86-fw-'));
  try {
    writeFileSync(join(dir, 'mbr.asm'), source);
    execFileSync('nasm', ['-f', 'bin', join(dir, 'mbr.asm'), '-o', join(dir, 'mbr.bin')]);
    return new Uint8Array(readFileSync(join(dir, 'mbr.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Boot { machine: Machine; debug: () => string; screen: () => string; exit: Promise<string> }

async function boot(disks: Uint8Array[] = []): Promise<Boot> {
  let debug = '';
  const machine = await Machine.create({
    memoryMiB: 64, cmdline: '', clock: 'deterministic',
    coreWasm: new Uint8Array(readFileSync(CORE)),
    firmware: { bios: new Uint8Array(readFileSync(SEABIOS)), vgaBios: new Uint8Array(readFileSync(VGABIOS)) },
    disks: disks.map((d) => new OverlayBackend(new MemoryBackend(d, true))),
  }, { onSerial: () => {}, onDebugConsole: (b) => { debug += Buffer.from(b).toString('latin1'); } });
  const screen = () => machine.vga.textScreen()?.lines.map((l) => l.trimEnd()).join('\n') ?? '';
  return { machine, debug: () => debug, screen, exit: machine.run() };
}

/** Wait until `done()` holds (checked every 50 ms), or fail after `seconds` with what was seen. */
async function until(b: Boot, done: () => boolean, seconds: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out; screen:\n${b.screen()}\ndebug console:\n${b.debug().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!ready)('SeaBIOS on this board', () => {
  it('finds fw_cfg, the RAM, the ACPI tables and the VGA BIOS, and reports no bootable device', async () => {
    const b = await boot();
    await until(b, () => b.screen().includes('No bootable device'), 120);
    b.machine.stop();
    await b.exit;
    const log = b.debug();
    expect(log).toContain('Running on QEMU (i440fx)');
    expect(log).toContain('Found QEMU fw_cfg');
    expect(log).toContain('QEMU fw_cfg DMA interface supported');
    // The E820 file: RAM from 0 to 64 MiB.
    expect(log).toContain('qemu/e820: addr 0x0000000000000000 len 0x0000000004000000 [RAM]');
    expect(log).toMatch(/Found 1 cpu\(s\)/);
    // The linker/loader placed the tables, and SeaBIOS found the FADT ("FACP") through the RSDT
    // and could parse the DSDT's AML.
    expect(log).toMatch(/table\(50434146\)=0x[0-9a-f]+ \(via rsdt\)/);
    expect(log).toMatch(/ACPI: parse DSDT at 0x[0-9a-f]+ \(len \d+\)/);
    expect(log).not.toMatch(/parse error|overrun/);
    // The DSDT names the PS/2 keyboard, so SeaBIOS sets it up.
    expect(log).toContain('PS2 keyboard initialized');
    expect(log).toContain('AHCI controller at 00:03.0');
    // The VGA BIOS ran as an option ROM and set mode 3; its banner is on the text screen.
    expect(log).toContain('set VGA mode 3');
    expect(b.screen()).toMatch(/^SeaBIOS \(version [^)]+\)/);
  }, 180_000);

  // The VGA BIOS programs the mode's registers and writes the pixels through the VGA's write
  // modes; the colours are the BIOS's default palettes (IBM VGA: EGA colour 4 is red, 0xAA0000
  // from DAC values 42/63; the 256-colour palette's entry 0x28 is full red, 63/63).
  it('the VGA BIOS\'s planar mode 12h shows the pixels it plots', async () => {
    const disk = new Uint8Array(1 << 20);
    disk.set(assemble(plotter(0x12, [[10, 20, 4], [639, 479, 15], [11, 20, 1]])), 0);
    const b = await boot([disk]);
    expect(await b.exit).toBe('poweroff');
    const size = b.machine.display.displaySize();
    expect(size).toEqual({ width: 640, height: 480 });
    const px = new Uint8ClampedArray(640 * 480 * 4);
    b.machine.display.render(px, 640, 480);
    const at = (x: number, y: number) => [...px.subarray((y * 640 + x) * 4, (y * 640 + x) * 4 + 3)];
    expect(at(10, 20)).toEqual([0xaa, 0, 0]);
    expect(at(11, 20)).toEqual([0, 0, 0xaa]);
    expect(at(639, 479)).toEqual([0xff, 0xff, 0xff]);
    expect(at(12, 20)).toEqual([0, 0, 0]);
  }, 180_000);

  it('the VGA BIOS\'s mode 13h shows the pixels it plots, each drawn 2x2', async () => {
    const disk = new Uint8Array(1 << 20);
    disk.set(assemble(plotter(0x13, [[100, 50, 0x28], [319, 199, 0x0f]])), 0);
    const b = await boot([disk]);
    expect(await b.exit).toBe('poweroff');
    const size = b.machine.display.displaySize()!;
    expect(size).toEqual({ width: 640, height: 400 });
    const px = new Uint8ClampedArray(640 * 400 * 4);
    b.machine.display.render(px, 640, 400);
    const at = (x: number, y: number) => [...px.subarray((y * 640 + x) * 4, (y * 640 + x) * 4 + 3)];
    for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) expect(at(200 + dx!, 100 + dy!)).toEqual([0xff, 0, 0]);
    expect(at(638, 398)).toEqual([0xff, 0xff, 0xff]);
    expect(at(202, 100)).toEqual([0, 0, 0]);
  }, 180_000);

  it('boots a boot sector from the AHCI disk, whose int 10h and int 13h calls work', async () => {
    const disk = new Uint8Array(1 << 20);
    disk.set(assemble(MBR), 0);
    disk.set(new TextEncoder().encode('and sector 1 read through int 13h\0'), 512);
    const b = await boot([disk]);
    const exit = await Promise.race([b.exit, new Promise<string>((r) => setTimeout(() => r('timeout'), 120_000))]);
    if (exit === 'timeout') b.machine.stop();
    expect(exit, b.screen()).toBe('poweroff');
    expect(b.debug()).toMatch(/Booting from Hard Disk/);
    const lines = b.screen().split('\n');
    expect(lines).toContain('webx86 boot sector from drive and sector 1 read through int 13h');
  }, 180_000);
});
