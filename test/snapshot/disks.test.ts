// Snapshots of a Machine with disks, driven at the device level: this test is the driver. It
// issues AHCI commands (READ and WRITE DMA EXT) and virtio-blk requests (IN and OUT) whose host
// I/O is held back (the base image answers only when the test opens a gate), saves the machine
// while they are in flight, and restores the file into a fresh Machine built over fresh copies of
// the base images. The save drains first (Machine.settleIo, as QEMU drains before a snapshot):
// it cannot finish while the host works, and afterwards each device's state holds what its
// driver has not yet been told: AHCI's PxIS bits and INTx with PxCI cleared, virtio-blk's
// used-ring entries and ISR. The restored machine's devices equal the saved ones field for
// field, its RAM holds the data the reads brought, and its overlay the writes; a read issued on
// the restored machine returns what the write before the save wrote. Another base image is
// refused in one line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Machine, type MachineOptions } from '../../src/machine/machine.js';
import { BlockError, MemoryBackend, type BlockBackend } from '../../src/storage/block.js';
import { OverlayBackend } from '../../src/storage/overlay.js';
import { fingerprintRanges } from '../../src/storage/identity.js';
import { decodeSnapshot, machineOptionsFor, restoreSnapshot, saveSnapshot, SnapshotError } from '../../src/snapshot/snapshot.js';
import { VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../src/devices/virtio/virtio-blk.js';
import type { VirtioPci } from '../../src/devices/virtio/virtio-pci.js';
import { Driver, DATA, type Ram } from '../devices/virtio-driver.js';
import { guestFiles, haveBuildOutputs, IMAGES, MANIFEST } from '../images.js';

const haveImages = haveBuildOutputs('the snapshot disk tests (test/snapshot/disks.test.ts)', guestFiles());
const MIB = 1024 * 1024;
// AHCI structures in the machine's RAM (below the command line at 0x20000 is the virtio driver's).
const CLB = 0x60000, FB = 0x61000, CTBA = 0x62000, BUF = 0x70000, WBUF = 0x78000;
const PORT = 0x100, P_IS = 0x10, P_IE = 0x14, P_CMD = 0x18, P_TFD = 0x20, P_CI = 0x38;
const PIS_DHRS = 1;

/** A base image whose reads wait until `open()`: the host's I/O in flight. */
class GatedImage implements BlockBackend {
  readonly readOnly = true;
  readonly size: number;
  readonly source: string;
  reads = 0;
  private gate: Promise<void>;
  open!: () => void;
  constructor(private readonly inner: MemoryBackend) {
    this.size = inner.size;
    this.source = inner.source;
    this.gate = new Promise((r) => { this.open = r; });
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.reads++;
    await this.gate;
    return this.inner.read(offset, length);
  }
  async write(): Promise<void> { throw new BlockError('read-only'); }
  async flush(): Promise<void> {}
}

function image(seed: number, size = MIB): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * seed + (i >> 9) * 13) & 0xff);
}

function guestOptions(overrides: Partial<MachineOptions>): MachineOptions {
  const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { kernel: string; initrd: string; cmdline: string };
  return {
    memoryMiB: 64, kernel: new Uint8Array(readFileSync(join(IMAGES, m.kernel))), initrd: new Uint8Array(readFileSync(join(IMAGES, m.initrd))),
    cmdline: m.cmdline, clock: 'deterministic', ...overrides,
  };
}

/** The test as the AHCI driver of port 0. */
function ahciDriver(machine: Machine) {
  const ram = machine.core.ram;
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const r = (o: number) => machine.ahci.mmio.read(o, 4);
  const w = (o: number, v: number) => machine.ahci.mmio.write(o, 4, v >>> 0);
  return {
    r, w,
    start() {
      w(0x04, 0x80000002); // GHC: AE, IE
      w(PORT + 0x00, CLB); w(PORT + 0x08, FB);
      w(PORT + P_IE, 0xffffffff);
      w(PORT + P_CMD, 0x11); // FRE, ST
    },
    /** A DMA EXT command in `slot`: READ (0x25) or WRITE (0x35) of `count` sectors at `lba` to/from `buf`. */
    command(slot: number, cmd: number, lba: number, count: number, buf: number, write: boolean) {
      const hdr = CLB + slot * 32, table = CTBA + slot * 0x100;
      dv.setUint32(hdr, 5 | (write ? 1 << 6 : 0) | (1 << 16), true);
      dv.setUint32(hdr + 4, 0, true);
      dv.setUint32(hdr + 8, table, true);
      ram.fill(0, table, table + 0x90);
      ram.set([0x27, 0x80, cmd, 0, lba & 0xff, (lba >> 8) & 0xff, (lba >> 16) & 0xff, 0x40, 0, 0, 0, 0, count & 0xff, count >> 8], table);
      dv.setUint32(table + 0x80, buf, true);
      dv.setUint32(table + 0x80 + 12, count * 512 - 1, true);
    },
    issue(slots: number) { w(PORT + P_CI, slots); },
  };
}

/** A virtio-blk request (header, data, status) on the driver's queue 0. */
function blkRequest(drv: Driver, at: number, type: number, sector: number, bytes: number): { status: number; data: number } {
  const dv = drv.dv;
  dv.setUint32(at, type, true); dv.setUint32(at + 4, 0, true); dv.setUint32(at + 8, sector, true); dv.setUint32(at + 12, 0, true);
  const data = at + 0x100, status = at + 0x100 + bytes;
  drv.ram.bytes[status] = 0xff;
  drv.queues[0]!.add([[at, 16], [data, bytes, type === VIRTIO_BLK_T_IN], [status, 1, true]]);
  return { status, data };
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a failure');
}

describe.skipIf(!haveImages)('snapshots of machines with disks, in the middle of their commands', () => {
  it.each(['deterministic', 'realtime'] as const)('AHCI and virtio-blk requests in flight are drained, saved and completed in the restored machine (%s clock)', async (clock) => {
    const sataBytes = image(7), vdBytes = image(11);
    const sataBase = new GatedImage(new MemoryBackend(sataBytes.slice(), true, 'sata.img'));
    const vdBase = new GatedImage(new MemoryBackend(vdBytes.slice(), true, 'vd.img'));
    const options = guestOptions({ clock, disks: [new OverlayBackend(sataBase)], virtioDisks: [new OverlayBackend(vdBase)] });
    const machine = await Machine.create(options, { onSerial: () => {} });
    const ram = machine.core.ram;

    // AHCI: slot 0 reads 8 sectors at LBA 40; slot 1 writes 2 sectors at LBA 100 (half a
    // 4 KiB block: the overlay copies the rest up from the gated base first).
    const ahci = ahciDriver(machine);
    ahci.start();
    ram.fill(0xa5, WBUF, WBUF + 1024);
    ahci.command(0, 0x25, 40, 8, BUF, false);
    ahci.command(1, 0x35, 100, 2, WBUF, true);
    ahci.issue(0b11);
    // virtio-blk: a read of 4 KiB at sector 16 and a write of 1 KiB at sector 3.
    const drv = new Driver(machine.virtioBlks[0]! as VirtioPci<unknown>, { bytes: ram } as unknown as Ram);
    drv.init();
    ram.fill(0x5a, DATA + 0x2100, DATA + 0x2100 + 1024);
    const vRead = blkRequest(drv, DATA, VIRTIO_BLK_T_IN, 16, 4096);
    const vWrite = blkRequest(drv, DATA + 0x2000, VIRTIO_BLK_T_OUT, 3, 1024);
    drv.queues[0]!.kick();
    await new Promise((r) => setTimeout(r, 20));
    expect(ahci.r(PORT + P_CI)).toBe(0b11);
    expect(sataBase.reads + vdBase.reads).toBeGreaterThanOrEqual(2);
    expect(machine.virtioBlks[0]!.inFlight).toBe(2);

    // A save cannot capture a promise: saveState refuses, and the drain waits for the host.
    expect(() => machine.saveState()).toThrow(/disk requests are in flight/);
    let saved: Uint8Array | null = null;
    const saving = saveSnapshot(machine, options).then((f) => { saved = f; });
    await new Promise((r) => setTimeout(r, 50));
    expect(saved).toBeNull();
    sataBase.open();
    vdBase.open();
    await saving;
    const file = saved! as Uint8Array;

    // Drained: the completions are in the devices' state, not yet seen by a driver.
    expect(ahci.r(PORT + P_CI)).toBe(0);
    expect(ahci.r(PORT + P_IS) & PIS_DHRS).toBe(PIS_DHRS);
    expect(ahci.r(PORT + P_TFD) & 0xff).toBe(0x50);
    expect(machine.ahci.intxAsserted).toBe(true);
    expect(machine.virtioBlks[0]!.intxAsserted).toBe(true);
    expect(machine.virtioBlks[0]!.inFlight).toBe(0);
    const before = machine.saveState();

    // A fresh machine over fresh copies of the images (ungated), from the file alone.
    const snap = await decodeSnapshot(file);
    expect(snap.config.drives.map((d) => [d.name, d.source, d.size])).toEqual([['sata0', 'sata.img', MIB], ['vd0', 'vd.img', MIB]]);
    const restoredOptions = await machineOptionsFor(snap.config, {
      kernel: options.kernel, initrd: options.initrd,
      disks: [new MemoryBackend(sataBytes.slice(), true, 'copy of sata.img')], virtioDisks: [new MemoryBackend(vdBytes.slice(), true)],
    });
    const restored = await Machine.create(restoredOptions, { onSerial: () => {} });
    restoreSnapshot(restored, snap);
    const after = restored.saveState();
    // Field for field: every device (AHCI's registers, virtio-blk's queues and ISR), the lines, the clock, the disks.
    // (Compared without a diff: the display's state holds 16 MiB of video memory.)
    const differ = before.devices.filter((d) => !isDeepStrictEqual(after.devices.find((x) => x.name === d.name), d)).map((d) => d.name);
    expect(differ).toEqual([]);
    expect(after.devices.length).toBe(before.devices.length);
    expect(isDeepStrictEqual(after.irqLines, before.irqLines)).toBe(true);
    expect(isDeepStrictEqual(after.clock, before.clock)).toBe(true);
    expect(isDeepStrictEqual(after.disks, before.disks)).toBe(true);
    expect(before.disks!.map((d) => [d.name, [...d.blocks.keys()]])).toEqual([['sata0', [12]], ['vd0', [0]]]);
    expect(Buffer.from(after.ram).equals(Buffer.from(before.ram))).toBe(true);
    expect(restored.ahci.intxAsserted).toBe(true);

    // The restored machine's drivers find their requests completed with the right data.
    const rram = restored.core.ram;
    expect(Buffer.from(rram.subarray(BUF, BUF + 4096)).equals(Buffer.from(sataBytes.subarray(40 * 512, 48 * 512)))).toBe(true);
    const rdrv = new Driver(restored.virtioBlks[0]! as VirtioPci<unknown>, { bytes: rram } as unknown as Ram);
    const q = drv.queues[0]!;
    // The driver's own bookkeeping lives in guest memory and its variables: take over where it was.
    const rq = Object.assign(Object.create(Object.getPrototypeOf(q)), q, { drv: rdrv });
    const used = rq.takeUsed() as { id: number; len: number }[];
    expect(used.map((u) => u.len).sort((a, b) => a - b)).toEqual([1, 4097]);
    expect(rram[vRead.status]).toBe(VIRTIO_BLK_S_OK);
    expect(rram[vWrite.status]).toBe(VIRTIO_BLK_S_OK);
    expect(Buffer.from(rram.subarray(vRead.data, vRead.data + 4096)).equals(Buffer.from(vdBytes.subarray(16 * 512, 24 * 512)))).toBe(true);
    expect(rdrv.isr() & 1).toBe(1);

    // The writes made before the save are on the restored disks, the base images untouched.
    const rahci = ahciDriver(restored);
    rahci.w(PORT + P_IS, 0xffffffff);
    rram.fill(0, BUF, BUF + 4096);
    rahci.command(2, 0x25, 100, 2, BUF, false);
    rahci.issue(0b100);
    await restored.settleIo();
    expect(rahci.r(PORT + P_CI)).toBe(0);
    expect(rram.subarray(BUF, BUF + 1024).every((b) => b === 0xa5)).toBe(true);
    expect(Buffer.from(await restoredOptions.virtioDisks![0]!.read(3 * 512, 1024)).every((b) => b === 0x5a)).toBe(true);
    expect(Buffer.from(await restoredOptions.virtioDisks![0]!.read(2 * 512, 512)).equals(Buffer.from(vdBytes.subarray(1024, 1536)))).toBe(true);
  }, 120_000);

  it('a CD-ROM drive: its disc is named by identity (no overlay), and restoring needs the same disc', async () => {
    const disc = image(3, 2 * MIB);
    const options = guestOptions({ disks: [new OverlayBackend(new MemoryBackend(image(9), true, 'hd.img'))], cdrom: new MemoryBackend(disc, true, 'disc.iso') });
    const machine = await Machine.create(options, { onSerial: () => {} });
    const before = machine.saveState();
    const snap = await decodeSnapshot(await saveSnapshot(machine, options));
    expect(snap.config.drives.map((d) => [d.name, d.readOnly, d.source])).toEqual([['sata0', false, 'hd.img'], ['cdrom', true, 'disc.iso']]);
    expect(snap.state.disks!.map((d) => d.name)).toEqual(['sata0']);
    const parts = { kernel: options.kernel, initrd: options.initrd, disks: [new MemoryBackend(image(9), true)] };
    const restoredOptions = await machineOptionsFor(snap.config, { ...parts, cdrom: new MemoryBackend(disc.slice(), true) });
    expect(restoredOptions.cdrom!.readOnly).toBe(true);
    const restored = await Machine.create(restoredOptions, { onSerial: () => {} });
    restoreSnapshot(restored, snap);
    const after = restored.saveState();
    const ahciOf = (s: typeof before) => s.devices.find((d) => d.name === 'ahci-hba');
    expect(isDeepStrictEqual(ahciOf(after), ahciOf(before))).toBe(true);
    expect((ahciOf(after)!.state as { ports: { atapi?: unknown }[] }).ports[1]!.atapi).toBeDefined();
    const other = disc.slice();
    other[5] ^= 1;
    const e = await failure(machineOptionsFor(snap.config, { ...parts, cdrom: new MemoryBackend(other, true, 'other.iso') }));
    expect(e.message).toMatch(/^the image given for disk cdrom \(other\.iso\) is not the one the snapshot was saved with/);
    expect((await failure(machineOptionsFor(snap.config, parts))).message).toBe(`snapshot needs the image of disk cdrom (${2 * MIB} bytes, saved from disc.iso), and none was given`);
  }, 60_000);

  it('refuses to restore over another image, a resized one or none, in one line', async () => {
    const bytes = image(5, 8 * MIB);
    const options = guestOptions({ disks: [new OverlayBackend(new MemoryBackend(bytes, true, 'a.img'))] });
    const machine = await Machine.create(options, { onSerial: () => {} });
    const snap = await decodeSnapshot(await saveSnapshot(machine, options));
    const parts = { kernel: options.kernel, initrd: options.initrd };
    // One byte changed in the middle of the image (inside a sampled range) and one in the last MiB.
    for (const at of [fingerprintRanges(8 * MIB)[30]![0] + 1000, 8 * MIB - 5]) {
      const other = bytes.slice();
      other[at] ^= 1;
      const e = await failure(machineOptionsFor(snap.config, { ...parts, disks: [new MemoryBackend(other, true, 'b.img')] }));
      expect(e).toBeInstanceOf(SnapshotError);
      expect(e.message).toMatch(/^the image given for disk sata0 \(b\.img\) is not the one the snapshot was saved with \(fingerprint [0-9a-f]{12}…, the snapshot's [0-9a-f]{12}…\)$/);
    }
    const e2 = await failure(machineOptionsFor(snap.config, { ...parts, disks: [new MemoryBackend(bytes.slice(0, 4 * MIB), true, 'c.img')] }));
    expect(e2.message).toBe(`the image given for disk sata0 (c.img) is ${4 * MIB} bytes; the snapshot's disk sata0 (${8 * MIB} bytes, saved from a.img) is another image`);
    const e3 = await failure(machineOptionsFor(snap.config, parts));
    expect(e3.message).toBe(`snapshot needs the image of disk sata0 (${8 * MIB} bytes, saved from a.img), and none was given`);
    // The same bytes under another name are the same image.
    const ok = await machineOptionsFor(snap.config, { ...parts, disks: [new MemoryBackend(bytes.slice(), true, 'renamed.img')] });
    expect(ok.disks).toHaveLength(1);
  }, 60_000);
});
