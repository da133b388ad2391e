// The CD-ROM guest (disk-images/cdrom.mjs) booted as a PC boots from a CD: SeaBIOS from the
// reset vector, its AHCI driver finding the ATAPI drive (src/devices/atapi.ts) on the SATA port,
// the El Torito boot catalog, ISOLINUX loading the Debian kernel and the default guest's
// initramfs through int 13h, then Linux's own ahci, sr_mod, cdrom and isofs drivers mounting the
// disc. Judged by independent parts: SeaBIOS's and ISOLINUX's own words on the VGA text screen,
// Linux's log and mount table, the files on the disc read back in the guest against the
// checksums the image build recorded (and the whole device against the ISO file's), and the
// image file unchanged afterwards.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SLP_TYP_S5 } from '../../src/devices/acpi-pm.js';
import { Machine } from '../../src/machine/machine.js';
import { FileBackend } from '../../src/storage/file.js';
import { CORE, IMAGES, haveBuildOutputs } from '../images.js';
import { BOOT_TIMEOUT_MS, Session, runCli, runSession } from './session.js';

const SEABIOS = '/usr/share/seabios/bios-256k.bin';
const VGABIOS = '/usr/share/seabios/vgabios-isavga.bin';
/** The third guest: a bootable ISO (disk-images/cdrom.mjs). */
const CDROM_MANIFEST = join(IMAGES, 'cdrom.json');

interface CdromManifest {
  iso: string; size: number; volumeId: string; prompt: string; banner: string;
  files: Record<string, { size: number; sha256: string }>;
  readme: { path: string; text: string };
}
const manifest = (): CdromManifest => JSON.parse(readFileSync(CDROM_MANIFEST, 'utf8')) as CdromManifest;
const isoPath = (): string => {
  try { return join(IMAGES, manifest().iso); } catch { return join(IMAGES, 'cdrom.iso'); }
};
const ready = haveBuildOutputs('the CD-ROM guest tests (test/guest/cdrom.test.ts)', [CORE, SEABIOS, VGABIOS, CDROM_MANIFEST, isoPath()]);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!ready)('the CD-ROM guest, booted through SeaBIOS from the AHCI CD-ROM drive', () => {
  it('boots the El Torito ISO to the shell; Linux\'s ahci and sr_mod read the disc and mount it as ISO 9660', async () => {
    const m = manifest();
    const path = isoPath();
    const before = sha256(readFileSync(path));
    const file = await FileBackend.open(path);
    const session = new Session(m.prompt, [
      // The default guest loads no driver by itself (no udev): the SATA controller's, the SCSI
      // CD-ROM's (with the cdrom layer) and ISO 9660's.
      'modprobe ahci && modprobe sr_mod && modprobe isofs && echo loaded',
      // The drive is probed in the background: wait for the block device (up to 10 s).
      'i=0; while [ ! -b /dev/sr0 ] && [ $i -lt 100 ]; do usleep 100000; i=$((i+1)); done; cat /sys/block/sr0/size /sys/block/sr0/queue/logical_block_size',
      'mkdir -p /mnt && mount -t iso9660 /dev/sr0 /mnt && grep " /mnt " /proc/mounts',
      `cat /mnt${m.readme.path}`,
      'sha256sum /mnt/webx86/pattern.bin',
      // The whole disc through the block device, block by block as the ISO file holds it.
      'sha256sum /dev/sr0',
      'ls -1 /mnt/webx86 && umount /mnt && echo unmounted',
      'dmesg | grep -e "ATAPI:" -e "CD-ROM" -e "scsi3-mmc" -e "ISO 9660"',
    ]);
    const machine = await Machine.create({
      memoryMiB: 128, cmdline: '', clock: 'deterministic',
      firmware: { bios: new Uint8Array(readFileSync(SEABIOS)), vgaBios: new Uint8Array(readFileSync(VGABIOS)), boot: 'cdrom' },
      cdrom: file,
    }, { onSerial: (b) => session.onSerial(b) });
    // The text screen as the kernel starts: ISOLINUX's last line ("Probing EDD") is on COM1 (its
    // SERIAL directive) too; SeaBIOS's words and ISOLINUX's banner are on the VGA.
    let screen = '';
    const original = session.onSerial;
    session.onSerial = (bytes) => {
      original(bytes);
      if (screen === '' && session.text.includes('Probing EDD')) screen = machine.vga.textScreen()?.lines.map((l) => l.trimEnd()).join('\n') ?? '(graphics)';
    };
    const exit = await runSession(machine, session);
    await file.close();
    expect(exit, session.progress()).toBe('poweroff');
    const [loaded, size, mounts, readme, pattern, whole, listing, log] = session.outputs;

    expect(screen).toMatch(/^SeaBIOS \(version /m);
    expect(screen).toContain('Booting from DVD/CD...');
    expect(screen).toMatch(/^ISOLINUX \d+\.\d+/m);
    expect(session.text).toContain(m.banner);

    expect(loaded).toBe('loaded\n');
    // 512-byte sectors in sysfs, 2048-byte logical blocks (READ CAPACITY).
    expect(size).toBe(`${m.size / 512}\n2048\n`);
    expect(mounts).toMatch(/^\/dev\/sr0 \/mnt iso9660 ro[ ,]/);
    expect(readme).toBe(m.readme.text);
    expect(pattern).toBe(`${m.files['/webx86/pattern.bin']!.sha256}  /mnt/webx86/pattern.bin\n`);
    expect(whole).toBe(`${before}  /dev/sr0\n`);
    expect(listing).toBe('pattern.bin\nreadme.txt\nunmounted\n');
    expect(log).toMatch(/ATAPI: webx86 DVD-ROM, 1\.0, max UDMA\/133/);
    expect(log).toMatch(/CD-ROM +webx86 +DVD-ROM +1\.0/);
    expect(log).toMatch(/sr0\] scsi3-mmc drive: 24x\/24x/);

    // Linux switched off through ACPI; the drive answered packets, at least one of them with
    // CHECK CONDITION (the unit attention a fresh drive reports), and the disc was read whole.
    expect((machine.acpiPm.state.control >> 10) & 7).toBe(SLP_TYP_S5);
    expect(machine.ahci.counters.packets).toBeGreaterThan(100);
    expect(machine.ahci.counters.checkConditions).toBeGreaterThan(0);
    expect(machine.ahci.counters.bytesRead).toBeGreaterThanOrEqual(m.size);
    expect(machine.ahci.counters.hostBusErrors).toBe(0);
    expect(sha256(readFileSync(path))).toBe(before);
  }, BOOT_TIMEOUT_MS + 60_000);

  it('bin/webx86 run --boot cdrom --cdrom FILE reaches the shell and powers off', async () => {
    const m = manifest();
    const { status, out, err } = await runCli(['run', '--boot', 'cdrom', '--cdrom', isoPath(), '--deterministic'], m.banner, 'poweroff -f');
    expect(status, `${err}\n${out.slice(-2000)}`).toBe(0);
    expect(out).toMatch(/^ISOLINUX \d+\.\d+/m);
    expect(out).toContain('reboot: Power down');
  }, BOOT_TIMEOUT_MS + 60_000);
});
