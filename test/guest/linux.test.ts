// Boot the default guest (Debian's i686 kernel + busybox initramfs) in deterministic mode
// through the Machine API, use its shell, power it off; twice, with the JIT and with the
// interpreter alone, and the two serial logs must be byte-identical. The outputs are checked against independent sources: the image manifest
// (which records the Debian packages used), arithmetic, the same floating-point sum computed in
// JS, node's own SHA-256 of the same data, and the host's clock.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import type { BlockBackend } from '../../src/storage/block.js';
import { FileBackend } from '../../src/storage/file.js';
import { OverlayBackend } from '../../src/storage/overlay.js';
import type { JitCounters } from '../../src/machine/types.js';
import { guestFiles, guestImages, haveBuildOutputs, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS, Session, runSession } from './session.js';

const haveImages = haveBuildOutputs('the Linux guest tests (test/guest)', guestFiles());

interface Manifest {
  kernel: string; vmlinux?: string; initrd: string; cmdline: string; prompt: string; kernelRelease: string;
  packages: Record<'kernel' | 'busybox', { name: string; version: string }>;
}

const KMSG = 'webx86-test: a kernel message during a command';

const COMMANDS = [
  'uname -a',
  // The first line of busybox's help names its Debian version, to compare with the manifest.
  'busybox 2>&1 | head -n 1',
  'cat /proc/cpuinfo',
  'echo $((6*7))',
  // Debian's busybox awk has no libm functions (atan2 ...), but does its arithmetic in x87
  // doubles: the partial sum of 1/i^2, checked against the same sum computed here.
  `awk 'BEGIN{s=0;for(i=1;i<=20000;i++)s+=1/(i*i);printf "%.9f\\n",s}'`,
  'seq 1 20000 | sha256sum',
  // Interrupt controllers in use: twice, one guest second apart, so counters can be seen moving.
  'cat /proc/interrupts; sleep 1; cat /proc/interrupts',
  // A kernel message (KERN_CRIT, through /dev/kmsg) in the middle of a command's output: it is
  // logged, but kept off the console, so the output stays exactly what the command printed.
  `echo 6; echo '<2>${KMSG}' > /dev/kmsg; echo 7; dmesg | grep -c '${KMSG}'`,
];

/** One /proc/interrupts listing: per IRQ (or LOC/NMI ...) the count, the chip and the name. */
function parseInterrupts(text: string): Map<string, { count: number; rest: string }> {
  const rows = new Map<string, { count: number; rest: string }>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\w+):\s+(\d+)\s*(.*)$/.exec(line);
    if (m) rows.set(m[1]!, { count: Number(m[2]), rest: m[3]!.trim() });
  }
  return rows;
}

/** The two listings of the /proc/interrupts step. */
function interruptListings(out: string): [ReturnType<typeof parseInterrupts>, ReturnType<typeof parseInterrupts>] {
  const parts = out.split(/^\s+CPU0\s*$/m).slice(1);
  if (parts.length !== 2) throw new Error(`expected two /proc/interrupts listings, got: ${JSON.stringify(out)}`);
  return [parseInterrupts(parts[0]!), parseInterrupts(parts[1]!)];
}

interface Results {
  log: Buffer; text: string; outputs: string[];
  /** Per command, host ms from typing it to its end marker. */
  hostMs: number[];
  /** Instructions retired, and the JIT's counters, at power-off. */
  instructions: number;
  jit?: JitCounters;
}

/**
 * `version` as the guest reports it, in a RegExp: a binNMU (+bN) of the package may or may not
 * show there, since it rebuilds the same source version.
 */
function debianVersion(version: string): string {
  return version.replace(/\+b\d+$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '(\\+b\\d+)?';
}

/** A machine of the default guest (128 MiB, deterministic unless told), printing to `onSerial`. */
function makeMachine(
  m: Manifest, onSerial: (bytes: Uint8Array) => void,
  opts: { clock?: 'deterministic' | 'realtime'; disks?: BlockBackend[]; apic?: boolean; jit?: boolean } = {},
): Promise<Machine> {
  return Machine.create(
    {
      memoryMiB: 128,
      ...guestImages(m),
      cmdline: m.cmdline,
      clock: opts.clock ?? 'deterministic',
      disks: opts.disks,
      apic: opts.apic,
      jit: opts.jit,
    },
    { onSerial },
  );
}

async function bootAndUse(
  m: Manifest, commands = COMMANDS, apic = true, clock: 'deterministic' | 'realtime' = 'deterministic', jit = true,
): Promise<Results> {
  const s = new Session(m.prompt, commands);
  const machine = await makeMachine(m, (b) => s.onSerial(b), { clock, apic, jit });
  const reason = await runSession(machine, s);
  // 'poweroff' comes after the last command was typed; anything else is a failure.
  if (reason !== 'poweroff') throw new Error(`machine exited with '${reason}': ${s.progress()}`);
  if (s.outputs.length !== commands.length) throw new Error(`powered off early: ${s.progress()}`);
  const status = machine.status();
  return { log: s.bytes(), text: s.text, outputs: s.outputs, hostMs: commands.map((_, i) => s.hostMs(i)), instructions: status.instructions, jit: status.jit };
}

describe.skipIf(!haveImages)('Linux guest: a SATA disk', () => {
  it('Linux\'s ahci driver reads the image and writes to its overlay; the image file is unchanged', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const dir = mkdtempSync(join(tmpdir(), 'webx86-disk-'));
    try {
      const path = join(dir, 'disk.img');
      const image = new Uint8Array(randomBytes(8 * 1024 * 1024));
      writeFileSync(path, image);
      const file = await FileBackend.open(path);
      const disk = new OverlayBackend(file);
      const text = 'webx86 was here';
      const session = new Session(m.prompt, [
        // Without udev nothing loads drivers: the shell does, then waits for the disk to appear.
        'modprobe ahci; modprobe sd_mod; i=0; while [ ! -e /sys/block/sda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat /sys/block/sda/size',
        'dd if=/dev/sda bs=512 skip=100 count=300 2>/dev/null | sha256sum',
        `printf '${text}' | dd of=/dev/sda bs=512 seek=2000 conv=sync 2>/dev/null; sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/sda bs=512 skip=2000 count=1 2>/dev/null | head -c ${text.length}; echo`,
        'dmesg | grep -c -e "SATA link up 1.5 Gbps" -e "LBA48 NCQ (depth 32)"',
      ]);
      const machine = await makeMachine(m, (b) => session.onSerial(b), { disks: [disk] });
      expect(await runSession(machine, session)).toBe('poweroff');
      const [size, sum, readBack, links] = session.outputs;
      expect(size).toBe(`${image.length / 512}\n`);
      expect(sum).toBe(`${createHash('sha256').update(image.subarray(100 * 512, 400 * 512)).digest('hex')}  -\n`);
      expect(readBack).toBe(`${text}\n`);
      expect(links).toBe('2\n'); // the link, and the disk with native command queuing
      // The guest's write reached the overlay, and only the overlay.
      const sector = await disk.read(2000 * 512, 512);
      expect(new TextDecoder().decode(sector.subarray(0, text.length))).toBe(text);
      expect(sector.subarray(text.length).every((b) => b === 0)).toBe(true);
      await file.close();
      expect(createHash('sha256').update(readFileSync(path)).digest('hex')).toBe(createHash('sha256').update(image).digest('hex'));
      expect(machine.ahci.counters.bytesWritten).toBeGreaterThanOrEqual(512);
      expect(machine.ahci.counters.queued).toBeGreaterThan(0); // Linux used READ/WRITE FPDMA QUEUED
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BOOT_TIMEOUT_MS + 60_000);
});

describe.skipIf(!haveImages)('Linux guest: the VGA text screen', () => {
  it('Linux\'s vgacon draws its console in the VGA\'s text mode, where the machine reads it back', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const text = 'webx86 on the VGA text screen';
    // /dev/tty1 is the first virtual console; vgacon draws it into the VGA's display memory.
    const session = new Session(m.prompt, [`echo '${text}' > /dev/tty1; dmesg | grep -c "Console: colour VGA+ 80x25"`]);
    const machine = await makeMachine(m, (b) => session.onSerial(b));
    let screen: ReturnType<Machine['vga']['textScreen']> = null;
    const original = session.onSerial;
    session.onSerial = (bytes) => { original(bytes); if (session.outputs.length === 1 && screen === null) screen = machine.vga.textScreen(); };
    expect(await runSession(machine, session)).toBe('poweroff');
    expect(session.outputs).toEqual(['1\n']);
    expect(screen).not.toBeNull();
    const { cols, rows, lines, cursor } = screen!;
    expect([cols, rows]).toEqual([80, 25]);
    const row = lines.findIndex((l) => l.startsWith(text));
    expect(row, lines.join('\n')).toBeGreaterThanOrEqual(0);
    expect(lines[row]!.slice(text.length).trim()).toBe('');
    // The cursor stands at the start of the line after the text (echo ended it with a newline).
    expect(cursor).toEqual({ row: row + 1, col: 0 });
  }, BOOT_TIMEOUT_MS + 60_000);
});

describe.skipIf(!haveImages)('Linux guest: the PS/2 mouse', () => {
  it('Linux\'s psmouse finds an IntelliMouse, and a movement reaches /dev/input/mice', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const session = new Session(m.prompt, [
      // A reader of /dev/input/mice, waiting for one packet, before the mouse moves.
      // (the driver probes the port in the background: wait for it.)
      'modprobe psmouse; i=0; while ! grep -q ImPS/2 /proc/bus/input/devices && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ' +
      'grep -c "ImPS/2 Generic Wheel Mouse" /proc/bus/input/devices; (dd if=/dev/input/mice bs=3 count=1 2>/dev/null | od -An -tx1 > /tmp/packet) & sleep 1',
      'sleep 1; cat /tmp/packet',
    ]);
    const machine = await makeMachine(m, (b) => session.onSerial(b));
    const typed = session.onSerial;
    let moved = false;
    session.onSerial = (bytes) => {
      typed(bytes);
      if (session.outputs.length === 1 && !moved) { moved = true; machine.moveMouse(5, 3); }
    };
    expect(await runSession(machine, session)).toBe('poweroff');
    expect(session.outputs[0]).toBe('1\n');
    // mousedev's PS/2 packet: buttons and sign bits (bit 3 always set), dx, dy (up positive).
    expect(session.outputs[1]!.trim()).toBe('08 05 03');
  }, BOOT_TIMEOUT_MS + 60_000);
});

describe.skipIf(!haveImages)('Linux guest: a saved machine', () => {
  it('loaded into a new machine, goes on exactly as the one it was saved from', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    // Boot, run a command, and stop at the prompt; save there.
    let session = new Session(m.prompt, ['echo $((6*7))'], 'stop');
    const a = await makeMachine(m, (bytes) => session.onSerial(bytes));
    expect(await runSession(a, session)).toBe('stopped');
    expect(session.outputs).toEqual(['42\n']);
    const saved = a.saveState();

    // The same commands in the original and in a new machine loaded with the saved state. They
    // read what a restore must bring back: guest time, each timer (sleep, the APIC tick), the
    // interrupt controllers' counts, the CPU and RAM (a checksum, the shell's own state).
    const after = [
      'cat /proc/uptime; cat /proc/interrupts',
      'sleep 1; cat /proc/uptime; cat /proc/interrupts',
      'seq 1 5000 | sha256sum',
      'echo $((6*7))',
    ];
    const original = new Session(m.prompt, after, 'poweroff', true);
    session = original;
    expect(await runSession(a, original)).toBe('poweroff');

    const loadedSession = new Session(m.prompt, after, 'poweroff', true);
    const b = await makeMachine(m, (bytes) => loadedSession.onSerial(bytes));
    b.loadState(saved);
    expect(await runSession(b, loadedSession)).toBe('poweroff');

    expect(loadedSession.outputs).toHaveLength(after.length);
    expect(loadedSession.outputs[3]).toBe('42\n');
    const data = Array.from({ length: 5000 }, (_, i) => `${i + 1}\n`).join('');
    expect(loadedSession.outputs[2]).toBe(`${createHash('sha256').update(data).digest('hex')}  -\n`);
    const uptime = (out: string) => Number(out.split('\n')[0]!.split(' ')[0]);
    // Guest time went on from the saved machine's, across the `sleep 1`.
    expect(uptime(loadedSession.outputs[1]!.split('\n').find((l) => /^\d+\.\d\d /.test(l))!) - uptime(loadedSession.outputs[0]!)).toBeGreaterThanOrEqual(1);
    // And everything is the same, byte for byte and instruction for instruction.
    expect(loadedSession.bytes().toString('latin1')).toBe(original.bytes().toString('latin1'));
    expect(b.status().instructions).toBe(a.status().instructions);
  }, 3 * BOOT_TIMEOUT_MS);
});

describe.skipIf(!haveImages)('Linux guest (deterministic)', () => {
  it('boots to a shell, runs commands, powers off, and does it identically with the interpreter alone', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const first = await bootAndUse(m);
    const [uname, busybox, cpuinfo, arith, basel, sha256, interrupts, kmsg] = first.outputs as
      [string, string, string, string, string, string, string, string];
    const o = { uname, cpuinfo, arith, basel, sha: sha256 };

    // Outputs are compared whole (one line, nothing else), so any stray console text fails them.
    expect(o.uname).toMatch(/^Linux \S+ [^\n]*\n$/);
    expect(o.uname).toContain(` ${m.kernelRelease} `);
    expect(o.uname).toMatch(/\bi[56]86\b/);
    // The manifest names the Debian packages the image was built from (their control data); the
    // kernel's version string and busybox's banner say the same, independently.
    expect(m.packages.kernel.name).toBe(`linux-image-${m.kernelRelease}`);
    expect(o.uname).toMatch(new RegExp(` Debian ${debianVersion(m.packages.kernel.version)} `));
    expect(m.packages.busybox.name).toBe('busybox-static');
    expect(busybox).toMatch(new RegExp(`^BusyBox v\\S+ \\(Debian ${debianVersion(m.packages.busybox.version)}\\) [^\\n]*\\n$`));

    expect(o.cpuinfo).toMatch(/^processor\s*:\s*0$/m);
    expect(o.cpuinfo).toMatch(/^vendor_id\s*:\s*\S+/m);
    expect(o.cpuinfo).toMatch(/^fpu\s*:\s*yes$/m);
    expect(o.cpuinfo).toMatch(/^flags\s*:.*\bfpu\b.*\btsc\b/m);

    expect(o.arith).toBe(`${6 * 7}\n`);
    let sum = 0;
    for (let i = 1; i <= 20000; i++) sum += 1 / (i * i);
    // x87 extended-precision intermediates may differ from JS doubles in the last bits only.
    expect(o.basel).toMatch(/^1\.6448840\d\d\n$/);
    expect(Math.abs(Number(o.basel) - sum)).toBeLessThan(2e-9);

    const data = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
    const sha = createHash('sha256').update(data).digest('hex');
    expect(o.sha).toBe(`${sha}  -\n`);

    // The kernel found the APICs through the MP table and routes the PIT through IO-APIC pin 2.
    expect(first.text).toContain('Intel MultiProcessor Specification v1.4');
    expect(first.text).toMatch(/IOAPIC\[0\]: apic_id 1, version 17, address 0xfec00000, GSI 0-23/);
    expect(first.text).toMatch(/\.\.TIMER: vector=0x30 apic1=0 pin1=2 /);
    expect(first.text).not.toContain('Local APIC disabled by BIOS');
    expect(o.cpuinfo).toMatch(/^flags\s*:.*\bapic\b/m);
    const [before, after] = interruptListings(interrupts);
    expect(after.get('0')?.rest).toMatch(/^IO-APIC\s+2-edge\s+timer$/);
    expect(after.get('4')?.rest).toMatch(/^IO-APIC\s+4-edge\s+ttyS0$/);
    expect(after.get('4')!.count).toBeGreaterThan(0);
    // The local APIC timer is the tick now: it counts (HZ=250 while busy; at least some in 1 s).
    expect(before.get('LOC')!.count).toBeGreaterThan(0);
    expect(after.get('LOC')!.count).toBeGreaterThan(before.get('LOC')!.count + 10);

    expect(kmsg).toBe('6\n7\n1\n');

    // The JIT (on in the first run) changes nothing the guest can see: the same bytes at the
    // same instruction counts, since deterministic time comes from the count.
    expect(first.jit!.instructions).toBeGreaterThan(first.instructions / 2);
    const second = await bootAndUse(m, COMMANDS, true, 'deterministic', false);
    expect(second.jit!.threshold).toBe(0);
    if (!first.log.equals(second.log)) {
      let i = 0;
      while (i < first.log.length && first.log[i] === second.log[i]) i++;
      const ctx = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, i - 200), i + 200).toString('latin1'));
      throw new Error(`serial logs differ at byte ${i} (lengths ${first.log.length} / ${second.log.length}):\n` +
        `first:  ${ctx(first.log)}\nsecond: ${ctx(second.log)}`);
    }
  }, 2 * BOOT_TIMEOUT_MS + 60_000);

  it('boots in realtime mode (guest time follows the host clock), with the APIC timer', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    // The guest reads its own clock (/proc/uptime, seconds since boot in 10 ms steps) around a
    // `sleep 1`; the host times the same command from typing it to its end marker.
    const r = await bootAndUse(m, ['echo $((6*7))', 'cat /proc/uptime; sleep 1; cat /proc/uptime'], true, 'realtime');
    expect(r.outputs[0]).toBe('42\n');
    expect(r.outputs[1]).toMatch(/^(\d+\.\d\d \d+\.\d\d\n){2}$/);
    const [up0, up1] = r.outputs[1]!.split('\n').map((l) => Number(l.split(' ')[0]));
    const guestS = up1! - up0!;
    const hostS = r.hostMs[1]! / 1000;
    // The guest saw its second pass (plus the forks of sleep and cat) ...
    expect(guestS).toBeGreaterThanOrEqual(0.99);
    expect(guestS).toBeLessThan(3);
    // ... and so did the host. Guest time follows host time: it may lag and catch up, but it is
    // never more than a fraction of a ms ahead, and the guest was idle (not lagging) when the
    // command was typed, so the guest's interval fits inside the host's (10 ms for /proc/uptime
    // rounding). A guest clock running fast (10x: the host would see 0.1 s) fails here.
    expect(hostS).toBeGreaterThanOrEqual(guestS - 0.02);
    expect(hostS).toBeGreaterThanOrEqual(0.99);
    // And the command did not take absurdly long: a guest clock running 10x slow would take 10 s.
    // (Generous for a loaded CI machine: the forks cost host time here, not only guest time.)
    expect(hostS).toBeLessThan(5);
  }, BOOT_TIMEOUT_MS + 60_000);

  it('boots the old way without APICs (8259 only)', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const r = await bootAndUse(m, ['cat /proc/cpuinfo', 'cat /proc/interrupts; sleep 1; cat /proc/interrupts'], false);
    expect(r.text).toContain('Local APIC disabled by BIOS');
    expect(r.text).not.toContain('Intel MultiProcessor Specification');
    expect(r.outputs[0]).not.toMatch(/^flags\s*:.*\bapic\b/m);
    const [before, after] = interruptListings(r.outputs[1]!);
    expect(after.get('0')?.rest).toMatch(/^XT-PIC\s+timer$/);
    expect(after.get('0')!.count).toBeGreaterThan(before.get('0')!.count + 10);
    expect(after.get('LOC')!.count).toBe(0);
  }, BOOT_TIMEOUT_MS + 60_000);
});
