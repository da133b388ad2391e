// The paravirtual devices (src/devices/virtio/) under Linux's own virtio drivers (virtio_pci,
// virtio_blk, virtio-rng, virtio_console), booted from the default guest: the same image on the
// AHCI disk and on the virtio disk reads the same bytes (both against the host's SHA-256 of it),
// a write through virtio-blk reaches its overlay only, /dev/hwrng gives bytes, and hvc0 carries
// text both ways.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { MemoryBackend } from '../../src/storage/block.js';
import { OverlayBackend } from '../../src/storage/overlay.js';
import { guestFiles, haveBuildOutputs, IMAGES, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS, Session, runSession } from './session.js';

const haveImages = haveBuildOutputs('the virtio guest tests (test/guest/virtio.test.ts)', guestFiles());

describe.skipIf(!haveImages)('Linux guest: virtio devices', () => {
  it('virtio-blk reads what AHCI reads and takes writes; virtio-rng gives entropy; the console carries text both ways', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { kernel: string; vmlinux?: string; initrd: string; cmdline: string; prompt: string };
    const image = new Uint8Array(randomBytes(8 * 1024 * 1024));
    const base = new MemoryBackend(image, true);
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const vdisk = new OverlayBackend(base);
    const text = 'webx86 wrote this through virtio-blk';
    const fromHost = 'webx86-from-host';
    const waitFor = (dev: string) => `i=0; while [ ! -e /sys/block/${dev} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`;
    const commands = [
      `modprobe ahci; modprobe sd_mod; modprobe virtio_pci; modprobe virtio_blk; modprobe virtio-rng; modprobe virtio_console; ${waitFor('sda')}; ${waitFor('vda')}; cat /sys/block/vda/size`,
      'dd if=/dev/vda bs=512 skip=100 count=300 2>/dev/null | sha256sum; dd if=/dev/sda bs=512 skip=100 count=300 2>/dev/null | sha256sum',
      `printf '${text}' | dd of=/dev/vda bs=512 seek=2000 conv=sync 2>/dev/null; sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 skip=2000 count=1 2>/dev/null | head -c ${text.length}; echo`,
      'cat /sys/class/misc/hw_random/rng_current; dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -An -tx1 | tr -d " \\n"; echo',
      'echo webx86-to-host > /dev/hvc0; { head -n 1 /dev/hvc0 > /tmp/hvc & }; sleep 1',
      'i=0; while [ ! -s /tmp/hvc ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; cat /tmp/hvc',
    ];
    const session = new Session(m.prompt, commands);
    let consoleText = '';
    let sent = false;
    const machine = await Machine.create({
      memoryMiB: 128,
      kernel: new Uint8Array(readFileSync(join(IMAGES, m.kernel))),
      vmlinux: m.vmlinux ? new Uint8Array(readFileSync(join(IMAGES, m.vmlinux))) : undefined,
      initrd: new Uint8Array(readFileSync(join(IMAGES, m.initrd))),
      cmdline: m.cmdline, clock: 'deterministic',
      disks: [new OverlayBackend(base)], virtioDisks: [vdisk],
    }, {
      onSerial: (b) => {
        session.onSerial(b);
        // Once the reader on hvc0 runs (the fifth command's output is in), the host types a line.
        if (!sent && session.outputs.length >= 5) { sent = true; machine.sendConsole(new TextEncoder().encode(`${fromHost}\n`)); }
      },
      onConsole: (b) => { consoleText += Buffer.from(b).toString('latin1'); },
    });
    expect(await runSession(machine, session)).toBe('poweroff');
    const [size, sums, readBack, rng, , hvc] = session.outputs;
    expect(size).toBe(`${image.length / 512}\n`);
    const expected = `${sha(image.subarray(100 * 512, 400 * 512))}  -\n`;
    expect(sums).toBe(expected + expected);
    expect(readBack).toBe(`${text}\n`);
    // The write is in the virtio disk's overlay, and nowhere else.
    const sector = await vdisk.read(2000 * 512, 512);
    expect(new TextDecoder().decode(sector.subarray(0, text.length))).toBe(text);
    expect(sha(image)).toBe(sha(await base.read(0, image.length)));
    const [current, hex] = rng!.trim().split('\n');
    expect(current).toMatch(/^virtio_rng/);
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(hex!.match(/../g)).size).toBeGreaterThan(8);
    // (hvc0 is a tty: its output turns \n into \r\n, and it echoes what the host typed.)
    expect(consoleText).toContain('webx86-to-host\r\n');
    expect(hvc).toBe(`${fromHost}\n`);
    expect(machine.virtioBlks[0]!.blk.writes).toBeGreaterThan(0);
  }, BOOT_TIMEOUT_MS + 60_000);

  it('inflating the balloon lowers the guest\'s MemTotal by the target, and deflating gives it back', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { kernel: string; vmlinux?: string; initrd: string; cmdline: string; prompt: string };
    const memTotal = "grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2";
    const session = new Session(m.prompt, [
      `modprobe virtio_pci; modprobe virtio_balloon; ${memTotal}`,
      `sleep 3; ${memTotal}`,
      `sleep 3; ${memTotal}`,
    ]);
    let step = 0;
    const machine = await Machine.create({
      memoryMiB: 128,
      kernel: new Uint8Array(readFileSync(join(IMAGES, m.kernel))),
      vmlinux: m.vmlinux ? new Uint8Array(readFileSync(join(IMAGES, m.vmlinux))) : undefined,
      initrd: new Uint8Array(readFileSync(join(IMAGES, m.initrd))),
      cmdline: m.cmdline, clock: 'deterministic',
    }, {
      onSerial: (b) => {
        session.onSerial(b);
        // After the first reading, the host asks for 32 MiB; after the second, for nothing.
        if (step === 0 && session.outputs.length >= 1) { step = 1; machine.setBalloonTarget(32); }
        if (step === 1 && session.outputs.length >= 2) { step = 2; released = machine.balloon.inflatedCount; machine.setBalloonTarget(0); }
      },
    });
    let released = 0;
    expect(await runSession(machine, session)).toBe('poweroff');
    const [before, inflated, after] = session.outputs.map((o) => Number(o.trim()));
    expect(before! - inflated!).toBe(32 * 1024); // kB
    expect(released).toBe(32 * 256); // pages the device was given
    expect(after).toBe(before);
    expect(machine.balloon.inflatedCount).toBe(0);
  }, BOOT_TIMEOUT_MS + 60_000);
});
