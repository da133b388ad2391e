// Live migration of a real Machine between two Machines in this process, over TCP on 127.0.0.1,
// driven through the CLI's VmRunner as the monitor's `migrate` drives it. The guest is a tiny
// kernel that, pass after pass, folds the pass number into every word of one quarter of 8 MiB
// and prints that quarter's checksum, so every round has hundreds of dirty pages and a page lost
// or stale on the target changes every later line; the expected lines are computed here in
// JavaScript, independently of the emulator. The migrated run must print exactly them: the
// source's lines before the move, then the target's. A target that cannot build the machine,
// an address where nothing listens and a target fed a damaged frame end in one line, and the
// source runs on to the same result.
//
// The guest stops after the pass in which a byte arrived on its serial line, which the test sends
// once the machine that should finish is known: however fast the emulator runs the passes, the
// guest is still running when a migration starts and ends.
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Machine, type MachineOptions } from '../../src/machine/machine.js';
import { VmRunner } from '../../src/node/vm-runner.js';
import { listenTcp } from '../../src/migration/tcp.js';
import { migrateIn } from '../../src/migration/target.js';
import { encodeFrame, FrameType, joinParts } from '../../src/migration/frames.js';
import { encodeHello } from '../../src/migration/messages.js';
import { machineOptionsFor, snapshotConfig } from '../../src/snapshot/config.js';
import { MemoryBackend } from '../../src/storage/block.js';
import { OverlayBackend } from '../../src/storage/overlay.js';
import { CORE, haveBuildOutputs } from '../images.js';
import { assembleTinyKernel } from '../machine/tiny-kernel.js';

const ready = haveBuildOutputs('the migration machine test (build/core.wasm)', [CORE]);
const QUARTER = 0x80000; // 2 MiB of dwords: each pass updates one quarter of 8 MiB at 4 MiB
const PROGRAM = `
  xor ebp, ebp
outer:
  mov edi, ebp
  and edi, 3
  shl edi, 21
  add edi, 0x400000
  mov ecx, ${QUARTER}
  xor ebx, ebx
.f: mov eax, [edi]
  imul eax, eax, 0x01000193
  add eax, ebp
  add eax, ecx
  mov [edi], eax
  add ebx, eax
  rol ebx, 1
  add edi, 4
  dec ecx
  jnz .f
  mov eax, ebx
  call puthex
  mov ecx, 2000000          ; a pause that writes nothing
.d: dec ecx
  jnz .d
  inc ebp
  mov dx, 0x3fd
  in al, dx
  test al, 1                ; LSR.DR: the test sent a byte, the last pass is done
  jz outer
  jmp poweroff
`;

/**
 * The lines the program prints, computed in JavaScript: each pass folds its number into every
 * word of one quarter (so a page the migration lost would change every later pass over it) and
 * prints the checksum of that quarter. The passes computed so far are kept, for longer runs.
 */
const mem = new Uint32Array(4 * QUARTER);
const passLines: string[] = [];
function expected(passes: number): string {
  for (let pass = passLines.length; pass < passes; pass++) {
    const base = (pass & 3) * QUARTER;
    let sum = 0;
    for (let i = 0; i < QUARTER; i++) {
      const x = (Math.imul(mem[base + i]!, 0x01000193) + pass + (QUARTER - i)) >>> 0;
      mem[base + i] = x;
      sum = (sum + x) >>> 0;
      sum = ((sum << 1) | (sum >>> 31)) >>> 0;
    }
    passLines.push(`${sum.toString(16).padStart(8, '0')}\n`);
  }
  return passLines.slice(0, passes).join('');
}
/** What a whole run must have printed: as many passes as it printed lines, at least one. */
function expectWhole(text: string): void {
  const passes = text.split('\n').length - 1;
  expect(passes).toBeGreaterThan(0);
  expect(text).toBe(expected(passes));
}
/** The byte that ends the guest's run after its current pass. */
const LAST_PASS = Uint8Array.of(0x0a);

describe.skipIf(!ready)('live migration of a Machine over TCP (in one process)', () => {
  let kernel: Uint8Array;
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'webx86-migrate-'));
    try {
      kernel = assembleTinyKernel(dir, 'dirty', '', PROGRAM);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** A running source machine behind a VmRunner, and its serial output so far. */
  async function source(extra: Partial<MachineOptions> = {}) {
    const options: MachineOptions = { memoryMiB: 32, kernel, cmdline: '', clock: 'deterministic', ...extra };
    const out = { text: '' };
    const machine = await Machine.create(options, { onSerial: (b) => { out.text += Buffer.from(b).toString('latin1'); } });
    const runner = new VmRunner(machine, options, async () => ({}));
    const running = runner.run();
    const lines = async (n: number) => { while (out.text.split('\n').length <= n) await new Promise((r) => setTimeout(r, 5)); };
    return { options, machine, out, runner, running, lines };
  }

  it('moves the guest mid-loop: the source stops, the target prints the rest, and the whole is right', async () => {
    const src = await source();
    const listener = await listenTcp({ host: '127.0.0.1', port: 0 });
    const target = { text: '' };
    const incoming = listener.accept().then((link) => migrateIn(link, {
      build: async (config) => Machine.create(await machineOptionsFor(config, { kernel }), { onSerial: (b) => { target.text += Buffer.from(b).toString('latin1'); } }),
    }));
    await src.lines(2);
    const linesAtStart = src.out.text.split('\n').length;
    const progress: string[] = [];
    const summary = await src.runner.migrate(`tcp:127.0.0.1:${listener.port}`, (l) => progress.push(l));
    if (process.env.MIGRATE_DEBUG) console.log([...progress, summary].join('\n'));
    listener.close();
    expect(summary).toMatch(/^migrated: \d+ rounds, then \d+ pages and \d+ KiB of device state with the guest stopped; [\d.]+ MiB in \d+ ms, downtime \d+ ms \(target load \d+ ms\)$/);
    expect(progress[0]).toMatch(/^round 0: \d+ pages sent \(\d+ zero\), \d+ dirtied meanwhile, [\d.]+ MiB in \d+ ms$/);
    // Round 0 sends every page of 32 MiB (none is in the balloon).
    expect(Number(/^round 0: (\d+) pages/.exec(progress[0]!)![1])).toBe(32 * 256);
    expect(await src.running).toBe('stopped');
    expect(src.runner.migratedTo).toBe(`tcp:127.0.0.1:${listener.port}`);
    expect(src.runner.migrationInfo()[0]).toBe(`migration to tcp:127.0.0.1:${listener.port}: completed`);
    const before = src.out.text;
    // The guest ran on during the pre-copy rounds: it printed more lines meanwhile.
    expect(before.split('\n').length).toBeGreaterThan(linesAtStart);
    const { machine, rounds } = await incoming;
    expect(rounds.length).toBe(progress.length);
    machine.sendSerial(LAST_PASS);
    expect(await machine.run()).toBe('poweroff');
    expect(src.out.text).toBe(before); // the source never ran again
    expect(before.length).toBeGreaterThan(0);
    expect(target.text.length).toBeGreaterThan(0);
    expectWhole(before + target.text);
  }, 120_000);

  it('a machine with a disk takes the disk\'s writes along; a target that vanishes mid-way leaves the source running', async () => {
    const image = new Uint8Array(1024 * 1024).fill(0x11);
    const disk = new OverlayBackend(new MemoryBackend(image.slice()));
    // What the guest wrote to its disk so far (through the overlay, as the AHCI controller would).
    await disk.write(8192, new Uint8Array(4096).fill(0x5a));
    await disk.write(65536 + 512, new Uint8Array(512).fill(0x77));
    const src = await source({ disks: [disk] });
    await src.lines(2);
    const listener = await listenTcp({ host: '127.0.0.1', port: 0 });
    let targetDisk: OverlayBackend | undefined;
    const incoming = listener.accept().then((link) => migrateIn(link, {
      build: async (config) => {
        // The target opens the same image, read-only under its own overlay, as --disk does.
        const options = await machineOptionsFor(config, { kernel, disks: [new MemoryBackend(image.slice())] });
        targetDisk = options.disks![0] as OverlayBackend;
        return Machine.create(options, { onSerial: () => {} });
      },
    }));
    await src.runner.migrate(`tcp:127.0.0.1:${listener.port}`, () => {});
    listener.close();
    const { machine } = await incoming;
    expect(await src.running).toBe('stopped');
    expect(await targetDisk!.read(8192, 4096)).toEqual(new Uint8Array(4096).fill(0x5a));
    expect(await targetDisk!.read(65536, 1536)).toEqual(Uint8Array.from({ length: 1536 }, (_, i) => (i >= 512 && i < 1024 ? 0x77 : 0x11)));
    expect(await targetDisk!.read(0, 512)).toEqual(new Uint8Array(512).fill(0x11));
    machine.sendSerial(LAST_PASS);
    expect(await machine.run()).toBe('poweroff');

    // A target that answers READY and then goes away: the source says so and runs on to the end.
    const src2 = await source();
    await src2.lines(1);
    const l2 = await listenTcp({ host: '127.0.0.1', port: 0 });
    const gone = l2.accept().then((link) => migrateIn(link, {
      build: async (config) => {
        const m = await Machine.create(await machineOptionsFor(config, { kernel }), { onSerial: () => {} });
        setTimeout(() => link.close(), 30); // the target process dies during the pre-copy
        return m;
      },
    }));
    gone.catch(() => {});
    await expect(src2.runner.migrate(`tcp:127.0.0.1:${l2.port}`, () => {})).rejects.toThrow(
      /^migrate: (the target closed the connection|the connection to the target broke: \w+|the connection to the target (is )?closed); the VM runs on here$/);
    l2.close();
    src2.machine.sendSerial(LAST_PASS);
    expect(await src2.running).toBe('poweroff');
    expectWhole(src2.out.text);
  }, 120_000);

  it('a target that cannot build the machine, nothing listening, a damaged frame: one line each, and the source runs on to the right result', async () => {
    const src = await source();
    await src.lines(1);
    // A target with another kernel: refused by name; the source hears why.
    const listener = await listenTcp({ host: '127.0.0.1', port: 0 });
    const other = kernel.slice();
    other[other.length - 1] ^= 1;
    const refused = listener.accept().then((link) => migrateIn(link, {
      build: async (config) => Machine.create(await machineOptionsFor(config, { kernel: other }), { onSerial: () => {} }),
    }));
    refused.catch(() => {});
    await expect(src.runner.migrate(`tcp:127.0.0.1:${listener.port}`, () => {})).rejects.toThrow(
      /^migrate: the target gave up: the target cannot build the source's machine: the kernel given \(SHA-256 [0-9a-f]{16}…\) is not the one the source runs \([0-9a-f]{16}…\); the VM runs on here$/);
    await expect(refused).rejects.toThrow(/^the target cannot build the source's machine: the kernel given/);
    listener.close();
    expect(src.runner.migrationInfo()[0]).toMatch(/: failed$/);
    // Nothing listening there.
    const closed = await listenTcp({ host: '127.0.0.1', port: 0 });
    closed.close();
    await new Promise((r) => setTimeout(r, 50));
    await expect(src.runner.migrate(`tcp:127.0.0.1:${closed.port}`, () => {})).rejects.toThrow(
      `migrate: cannot connect to 127.0.0.1:${closed.port}: connection refused (is \`webx86 run --incoming\` waiting there?); the VM runs on here`);
    await expect(src.runner.migrate('tcp:nohost', () => {})).rejects.toThrow('migrate: \'tcp:nohost\' is not tcp:HOST:PORT; the VM runs on here');
    src.machine.sendSerial(LAST_PASS);
    expect(await src.running).toBe('poweroff');
    expect(src.runner.migratedTo).toBeNull();
    expectWhole(src.out.text);

    // A target fed a good HELLO, then a frame with a flipped byte: it says so, and tells the sender.
    const l2 = await listenTcp({ host: '127.0.0.1', port: 0 });
    const damaged = l2.accept().then((link) => migrateIn(link, {
      build: async (config) => Machine.create(await machineOptionsFor(config, { kernel }), { onSerial: () => {} }),
    }));
    damaged.catch(() => {});
    const config = await snapshotConfig(src.options);
    const sock = connect({ host: '127.0.0.1', port: l2.port });
    let answer = Buffer.alloc(0);
    sock.on('data', (d) => { answer = Buffer.concat([answer, d]); });
    sock.write(joinParts(encodeFrame(FrameType.HELLO, encodeHello(config))));
    while (answer.length < 16) await new Promise((r) => setTimeout(r, 5)); // READY
    expect(answer[0]).toBe(FrameType.READY);
    const pages = joinParts(encodeFrame(FrameType.PAGES, new Uint8Array(8 + 4 + 4096)));
    pages[100] ^= 1;
    sock.write(pages);
    await expect(damaged).rejects.toThrow('bad frame from the source: a PAGES frame of 4108 bytes fails its checksum');
    await new Promise<void>((r) => sock.on('close', () => r()));
    // The sender got an ERROR frame with the reason.
    expect(answer[16]).toBe(FrameType.ERROR);
    expect(answer.subarray(32).toString()).toBe('bad frame from the source: a PAGES frame of 4108 bytes fails its checksum');
    l2.close();
  }, 120_000);
});
