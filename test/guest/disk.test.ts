// The disk guest (disk-images/disk.mjs) booted as a PC boots: SeaBIOS from the reset vector,
// its AHCI driver reading the MBR, extlinux loading the Debian kernel and initramfs through
// int 13h, Linux's ahci and ext4 drivers mounting the disk's root. Judged by independent parts:
// SeaBIOS and SYSLINUX's own words on the VGA text screen, Linux's mount table, Linux powering
// off through the ACPI tables (the PM1 control register's SLP_TYP is the \_S5 value), and after
// power-off e2fsprogs (debugfs, e2fsck) reading the guest's writes out of the overlay, while the
// image file stays byte-for-byte what it was. Then the same image over HTTP range requests from
// a static file server (sirv) this test starts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sirv from 'sirv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { SLP_TYP_S5 } from '../../src/devices/acpi-pm.js';
import { PCI_SLOT, pirqOfPciPin } from '../../src/machine/board.js';
import type { BlockBackend } from '../../src/storage/block.js';
import { FileBackend } from '../../src/storage/file.js';
import { HttpBackend } from '../../src/storage/http.js';
import { OverlayBackend } from '../../src/storage/overlay.js';
import { CORE, DISK_MANIFEST, IMAGES, diskGuestFiles, haveBuildOutputs } from '../images.js';
import { BOOT_TIMEOUT_MS, Session, runCli, runSession } from './session.js';

const SEABIOS = '/usr/share/seabios/bios-256k.bin';
const VGABIOS = '/usr/share/seabios/vgabios-stdvga.bin';
const ready = haveBuildOutputs('the disk guest tests (test/guest/disk.test.ts)', [CORE, SEABIOS, VGABIOS, ...diskGuestFiles()]);

interface DiskManifest {
  disk: string; size: number; prompt: string; banner: string; rootDevice: string;
  partition: { firstLba: number; sectors: number };
}
const manifest = (): DiskManifest => JSON.parse(readFileSync(DISK_MANIFEST, 'utf8')) as DiskManifest;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Boot `disk` through SeaBIOS, run `commands` at the disk root's shell, power off. */
async function bootDisk(disk: BlockBackend, commands: string[], apic = true) {
  const m = manifest();
  const session = new Session(m.prompt, commands);
  const machine = await Machine.create({
    memoryMiB: 128, cmdline: '', clock: 'deterministic', apic,
    firmware: { bios: new Uint8Array(readFileSync(SEABIOS)), vgaBios: new Uint8Array(readFileSync(VGABIOS)) },
    disks: [disk],
  }, { onSerial: (b) => session.onSerial(b) });
  // The text screen as the kernel starts: SYSLINUX's last line ("Probing EDD") is on COM1 (its
  // SERIAL directive), everything before it on the VGA. Linux's vgacon takes the screen over later.
  let screen = '';
  const original = session.onSerial;
  session.onSerial = (bytes) => {
    original(bytes);
    if (screen === '' && session.text.includes('Probing EDD')) screen = machine.vga.textScreen()?.lines.map((l) => l.trimEnd()).join('\n') ?? '(graphics)';
  };
  const exit = await runSession(machine, session);
  return { machine, session, exit, screen };
}

describe.skipIf(!ready)('the disk guest, booted through SeaBIOS', () => {
  it('boots from the AHCI disk to the shell on its ext4 root; writes reach the overlay, never the image', async () => {
    const m = manifest();
    const path = join(IMAGES, m.disk);
    const before = sha256(readFileSync(path));
    const file = await FileBackend.open(path);
    const disk = new OverlayBackend(file);
    const note = 'webx86 wrote this through ext4 and AHCI';
    const { machine, session, exit, screen } = await bootDisk(disk, [
      "mount | grep ' on / '",
      // Write and sync; then remount read-only (which writes everything back, as an unmount
      // does) and drop the page cache, so the read after remounting read-write comes from the disk.
      `echo '${note}' > /root/note.txt && sync && mount -o remount,ro / && echo 3 > /proc/sys/vm/drop_caches && mount -o remount,rw / && cat /root/note.txt`,
      'dmesg | grep -c -e "ACPI: PM: (supports S0 S5)" -e "ACPI: PCI Root Bridge \\[PCI0\\]"',
    ]);
    expect(exit, session.progress()).toBe('poweroff');
    const [mounts, readBack, acpi] = session.outputs;
    // The screen before Linux: SeaBIOS's banner, its boot message, and SYSLINUX's.
    expect(screen).toMatch(/^SeaBIOS \(version /m);
    expect(screen).toContain('Booting from Hard Disk...');
    expect(screen).toMatch(/^SYSLINUX \d+\.\d+/m);
    expect(session.text).toContain(m.banner);
    expect(mounts).toMatch(new RegExp(`^${m.rootDevice} on / type ext4 \\(rw`));
    expect(readBack).toBe(`${note}\n`);
    expect(acpi).toBe('2\n');
    // Linux switched off through ACPI: the PM1 control register holds the \_S5 sleep type.
    expect((machine.acpiPm.state.control >> 10) & 7).toBe(SLP_TYP_S5);
    expect(machine.ahci.counters.bytesWritten).toBeGreaterThan(0);

    // The image file is what it was; the overlay holds the guest's file system, which
    // e2fsprogs finds clean and holding the note.
    const root = await disk.read(m.partition.firstLba * 512, m.partition.sectors * 512);
    await file.close();
    expect(sha256(readFileSync(path))).toBe(before);
    const dir = mkdtempSync(join(tmpdir(), 'webx86-diskguest-'));
    try {
      const part = join(dir, 'root.ext4');
      writeFileSync(part, root);
      expect(execFileSync('debugfs', ['-R', 'cat /root/note.txt', part], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toBe(`${note}\n`);
      execFileSync('e2fsck', ['-fn', part], { stdio: 'ignore' }); // throws unless the file system is clean
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BOOT_TIMEOUT_MS + 60_000);

  it('boots on a board without APICs: the disk interrupts through the 8259 at the IRQ the firmware routed', async () => {
    const m = manifest();
    const file = await FileBackend.open(join(IMAGES, m.disk));
    const { machine, session, exit } = await bootDisk(new OverlayBackend(file), [
      'grep ahci /proc/interrupts',
      'ls /sys/firmware/acpi/tables',
      `cat /sys/bus/pci/devices/0000:00:0${PCI_SLOT.AHCI}.0/irq`,
    ], false);
    await file.close();
    expect(exit, session.progress()).toBe('poweroff');
    const [interrupts, tables, irq] = session.outputs;
    // One line: "IRQ: count XT-PIC ahci[...]", with interrupts counted; no MADT (no APIC table).
    const line = /^\s*(\d+):\s+(\d+)\s+XT-PIC\s+ahci/.exec(interrupts!);
    expect(line, interrupts).not.toBeNull();
    expect(Number(line![2])).toBeGreaterThan(0);
    expect(tables!.split(/\s+/)).not.toContain('APIC');
    expect(tables!.split(/\s+/)).toContain('DSDT');
    // The IRQ is the one the PIIX3 routes the AHCI's PIRQ line to (the firmware's choice).
    const pirq = pirqOfPciPin(PCI_SLOT.AHCI, 1);
    expect(Number(irq)).toBe(machine.isaBridge.pirqRoute(pirq));
    expect(Number(irq)).toBe(Number(line![1]));
  }, BOOT_TIMEOUT_MS);

  it('is deterministic with disk I/O: two runs print the same bytes, one of them over a slower backend', async () => {
    // In deterministic mode a disk request completes a fixed guest time after it was issued,
    // whatever the host took (io-completions.ts): a backend that answers 5 ms late changes nothing.
    const m = manifest();
    const run = async (delayMs: number) => {
      const file = await FileBackend.open(join(IMAGES, m.disk));
      const slow: BlockBackend = {
        size: file.size, readOnly: true,
        read: async (offset, length) => { await new Promise((r) => setTimeout(r, delayMs)); return file.read(offset, length); },
        write: () => Promise.reject(new Error('read-only')),
        flush: () => Promise.resolve(),
      };
      const { session, exit } = await bootDisk(new OverlayBackend(delayMs > 0 ? slow : file), ['cat /proc/interrupts | grep -c ahci; dd if=/dev/sda bs=64k count=32 2>/dev/null | md5sum']);
      await file.close();
      expect(exit, session.progress()).toBe('poweroff');
      return session.bytes();
    };
    const a = await run(0);
    const b = await run(5);
    expect(b.length).toBe(a.length);
    expect(b.equals(a)).toBe(true);
  }, 2 * BOOT_TIMEOUT_MS + 60_000);

  it('Linux\'s bochs-drm sets a VBE mode; pixels written to /dev/fb0 are what the display shows', async () => {
    const m = manifest();
    const file = await FileBackend.open(join(IMAGES, m.disk));
    // 16 pixels of colour 0x123456 (XRGB8888, little-endian: 56 34 12 00) near the end of the
    // last line, far from fbcon's text and cursor. (Not at the very end: Linux 6.1's fbdev
    // emulation leaves the last pixel of a line out of the damage it copies to the device.)
    const pattern = "for i in 0 1 2 3 4 5 6 7 8 9 a b c d e f; do printf '\\126\\064\\022\\000'; done";
    const { machine, session, exit } = await bootDisk(new OverlayBackend(file), [
      'modprobe bochs; i=0; while [ ! -e /dev/fb0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat /sys/class/graphics/fb0/bits_per_pixel /sys/class/graphics/fb0/stride',
      'cat /sys/class/graphics/fb0/virtual_size',
      // (The pixel index is computed by the shell from the mode it reads back.)
      `s=$(cat /sys/class/graphics/fb0/virtual_size); w=\${s%,*}; h=\${s#*,}; ${pattern} | dd of=/dev/fb0 bs=4 seek=$((w * h - 32)) conv=notrunc 2>/dev/null; sleep 1; echo done`,
      'dmesg | grep -c "Found bochs VGA, ID 0xb0c"',
    ]);
    await file.close();
    expect(exit, session.progress()).toBe('poweroff');
    const [depth, size, wrote, found] = session.outputs;
    expect(found).toBe('1\n');
    expect(wrote).toBe('done\n');
    const [bpp, stride] = depth!.trim().split('\n').map(Number);
    expect(bpp).toBe(32);
    const [w, h] = size!.trim().split(',').map(Number);
    // The display shows the mode the driver set (the virtual height may exceed it, for panning).
    const shown = machine.display.displaySize()!;
    expect(shown.width).toBe(w);
    expect(stride).toBe(w! * 4);
    const pixels = new Uint8ClampedArray(shown.width * shown.height * 4);
    machine.display.render(pixels, shown.width, shown.height);
    const last = (shown.width * shown.height - 32) * 4;
    for (let i = 0; i < 16; i++) expect([...pixels.subarray(last + i * 4, last + i * 4 + 3)]).toEqual([0x12, 0x34, 0x56]);
    expect(h).toBeGreaterThanOrEqual(shown.height);
  }, BOOT_TIMEOUT_MS + 60_000);

  it('bin/webx86 run --boot disk reaches the shell, powers off, and --screenshot saves the screen as a PNG', async () => {
    const m = manifest();
    const dir = mkdtempSync(join(tmpdir(), 'webx86-diskcli-'));
    try {
      const shot = join(dir, 'screen.png');
      // At the prompt after the banner: write on the VGA console, then switch off.
      const { status, out, err } = await runCli(['run', '--boot', 'disk', '--disk', join(IMAGES, m.disk), '--deterministic', '--screenshot', shot],
        m.banner, 'echo webx86-screenshot-line > /dev/tty1; poweroff -f');
      expect(status, `${err}\n${out.slice(-2000)}`).toBe(0);
      expect(out).toContain('reboot: Power down');
      // libmagic (file(1)) reads the PNG's header: the VGA's 80x25 text mode of 9x16 characters.
      expect(execFileSync('file', ['-b', shot], { encoding: 'utf8' })).toMatch(/^PNG image data, 720 x 400, 8-bit\/color RGBA/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BOOT_TIMEOUT_MS + 60_000);

  describe('over HTTP range requests', () => {
    let server: Server;
    let base = '';
    beforeAll(async () => {
      server = createServer(sirv(IMAGES, { dev: true }));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('boots the same image fetched in chunks on demand', async () => {
      const m = manifest();
      const http = await HttpBackend.open(`${base}/${m.disk}`);
      const { exit, session } = await bootDisk(new OverlayBackend(http), [
        "mount | grep ' on / '",
        'echo over-http > /root/h.txt && sync && cat /root/h.txt',
      ]);
      expect(exit, session.progress()).toBe('poweroff');
      expect(session.outputs[0]).toMatch(new RegExp(`^${m.rootDevice} on / type ext4 \\(rw`));
      expect(session.outputs[1]).toBe('over-http\n');
      // Only what the guest read was fetched: less than the whole image.
      expect(http.progress.fetchedBytes).toBeGreaterThan(0);
      expect(http.progress.fetchedBytes).toBeLessThan(m.size);
    }, BOOT_TIMEOUT_MS + 60_000);
  });
});
