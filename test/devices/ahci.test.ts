// The AHCI controller (src/devices/ahci.ts) driven as a driver drives it (Serial ATA AHCI 1.3.1:
// command list, command table with an H2D register FIS and a PRDT, received FIS area, CI and IS),
// against a disk image model, then with malformed and random guest input: every case must end
// in the error bits the specification gives (IS.TFES with TFD.ERR/ABRT, IS.HBFS), never in a host
// exception, and the base image never changes. Linux's own ahci driver is the test in
// test/guest/linux.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Ahci } from '../../src/devices/ahci';
import { TestRam } from './test-ram';
import { MemoryBackend } from '../../src/storage/block';
import { OverlayBackend } from '../../src/storage/overlay';

const RAM = 1 << 20;
const CLB = 0x10000, FB = 0x11000, CTBA = 0x12000, BUF = 0x20000;
const PORT = 0x100;
const P_IS = 0x10, P_IE = 0x14, P_CMD = 0x18, P_TFD = 0x20, P_CI = 0x38;

class Ram extends TestRam { constructor() { super(RAM); } }

function setup(withDisk = true) {
  const ram = new Ram();
  const base = new Uint8Array(randomBytes(1 << 20));
  const baseSha = createHash('sha256').update(base).digest('hex');
  const disk = new OverlayBackend(new MemoryBackend(base, true));
  const queue: (() => void)[] = [];
  const ahci = new Ahci({ dma: ram, disks: withDisk ? [disk] : [], complete: (done) => { void done.then((d) => queue.push(d)); }, onMap: () => {} });
  ahci.reset();
  const r = (o: number) => ahci.mmio.read(o, 4);
  const w = (o: number, v: number) => ahci.mmio.write(o, 4, v >>> 0);
  /** Let the backend answer and deliver what it posted, until nothing is left. */
  const settle = async () => {
    for (let i = 0; i < 50; i++) {
      await new Promise((res) => setImmediate(res));
      while (queue.length > 0) queue.shift()!();
    }
  };
  const dv = new DataView(ram.bytes.buffer);
  /** A command in slot 0: H2D FIS with `cmd`, `lba`, `count`; PRDT entries [addr, bytes]. */
  const command = (cmd: number, lba: number, count: number, prd: [number, number][], write = false, cfl = 5, slot = 0, features = 0) => {
    const hdr = CLB + slot * 32, table = CTBA + slot * 0x400;
    dv.setUint32(hdr, cfl | (write ? 1 << 6 : 0) | (prd.length << 16), true);
    dv.setUint32(hdr + 4, 0, true);
    dv.setUint32(hdr + 8, table, true);
    ram.bytes.fill(0, table, table + 0x80);
    ram.bytes.set([0x27, 0x80, cmd, features & 0xff, lba & 0xff, (lba >> 8) & 0xff, (lba >> 16) & 0xff, 0x40, (lba >>> 24) & 0xff, 0, 0, features >> 8, count & 0xff, count >> 8], table);
    prd.forEach(([addr, bytes], i) => {
      dv.setUint32(table + 0x80 + i * 16, addr, true);
      dv.setUint32(table + 0x80 + i * 16 + 12, (bytes - 1) & 0x3fffff, true);
    });
  };
  const start = () => {
    w(0x04, 0x80000002); // GHC: AE, IE
    w(PORT + 0x00, CLB); w(PORT + 0x08, FB);
    w(PORT + P_IE, 0xffffffff);
    w(PORT + P_CMD, 0x11); // FRE, ST
  };
  const issue = async () => { w(PORT + P_IS, 0xffffffff); w(0x08, 0xffffffff); w(PORT + P_CI, 1); await settle(); };
  return { ram, base, baseSha, disk, ahci, r, w, settle, command, start, issue, dv };
}

describe('AHCI', () => {
  it('reports an AHCI 1.3.1 HBA with six ports, a disk on port 0 with its signature', () => {
    const { r } = setup();
    expect(r(0x10)).toBe(0x00010301); // VS
    expect(r(0x0c)).toBe(0x3f); // PI
    expect(r(0x00) & 0x1f).toBe(5); // CAP.NP: 6 ports
    expect(r(PORT + 0x24)).toBe(0x101); // SIG: ATA disk
    expect(r(PORT + 0x28) & 0xf).toBe(3); // SSTS.DET: device present, PHY up
    expect(r(PORT + 0x80 + 0x28) & 0xf).toBe(0); // port 1: nothing
  });

  it('IDENTIFY, READ DMA EXT over three PRDs, WRITE DMA EXT to the overlay, FLUSH CACHE EXT', async () => {
    const s = setup();
    s.start();
    s.command(0xec, 0, 1, [[BUF, 512]]);
    await s.issue();
    expect(s.r(PORT + P_CI)).toBe(0);
    expect(s.r(PORT + P_TFD) & 0xff).toBe(0x50);
    expect(s.r(PORT + P_IS) & 0x3).toBe(0x3); // D2H register FIS and PIO setup FIS
    expect(s.ahci.intxAsserted).toBe(true);
    expect(s.dv.getUint32(CLB + 4, true)).toBe(512); // PRDBC
    const sectors = s.dv.getUint32(BUF + 200, true); // IDENTIFY words 100-101
    expect(sectors).toBe((1 << 20) / 512);
    expect(s.ram.bytes[FB + 0x40]).toBe(0x34); // the D2H FIS landed in the receive area

    s.command(0x25, 16, 8, [[BUF, 1024], [BUF + 0x2000, 2048], [BUF + 0x5000, 1024]]);
    await s.issue();
    expect(s.r(PORT + P_TFD) & 0xff).toBe(0x50);
    const got = new Uint8Array([...s.ram.bytes.subarray(BUF, BUF + 1024), ...s.ram.bytes.subarray(BUF + 0x2000, BUF + 0x2800), ...s.ram.bytes.subarray(BUF + 0x5000, BUF + 0x5400)]);
    expect(got).toEqual(s.base.subarray(16 * 512, 24 * 512));

    s.ram.bytes.fill(0xab, BUF, BUF + 1024);
    s.command(0x35, 100, 2, [[BUF, 1024]], true);
    await s.issue();
    expect(s.r(PORT + P_TFD) & 0xff).toBe(0x50);
    expect((await s.disk.read(100 * 512, 1024)).every((b) => b === 0xab)).toBe(true);
    s.command(0xea, 0, 0, []);
    await s.issue();
    expect(s.r(PORT + P_TFD) & 0xff).toBe(0x50);
    expect(createHash('sha256').update(s.base).digest('hex')).toBe(s.baseSha);
  });

  it('IS: clearing a port\'s bit while its PxIS still holds an enabled interrupt sets it again (the interrupt is not lost)', async () => {
    // AHCI 1.3.1 3.1.2 (IS.IPS) and 10.7.2.1: an interrupt handler clears PxIS, handles the
    // port, then clears IS; a completion arriving in between sets PxIS again, and IS must
    // follow it, or INTx drops with that completion unseen.
    const s = setup();
    s.start();
    s.command(0xec, 0, 1, [[BUF, 512]]);
    await s.issue();
    expect(s.r(PORT + P_IS)).not.toBe(0);
    expect(s.r(0x08) & 1).toBe(1);
    s.w(0x08, 1); // IS cleared without clearing PxIS first
    expect(s.r(0x08) & 1).toBe(1);
    expect(s.ahci.intxAsserted).toBe(true);
    s.w(PORT + P_IS, 0xffffffff); // the handler's order: PxIS first,
    s.w(0x08, 1); // then IS
    expect(s.r(0x08) & 1).toBe(0);
    expect(s.ahci.intxAsserted).toBe(false);
  });

  it('native command queuing: two READ FPDMA QUEUED in flight, completed by Set Device Bits FISes', async () => {
    const s = setup();
    s.start();
    s.command(0xec, 0, 1, [[BUF, 512]]);
    await s.issue();
    expect(s.dv.getUint16(BUF + 76 * 2, true) & (1 << 8)).not.toBe(0); // IDENTIFY: NCQ supported
    expect(s.dv.getUint16(BUF + 75 * 2, true)).toBe(31); // queue depth 32
    expect(s.r(0x00) >>> 30 & 1).toBe(1); // CAP.SNCQ
    // Tags = slots 0 and 1; the sector count in the features field, the tag in count bits 7:3.
    s.command(0x60, 40, 0, [[BUF, 4 * 512]], false, 5, 0, 4);
    s.command(0x60, 200, 1 << 3, [[BUF + 0x4000, 2 * 512]], false, 5, 1, 2);
    s.w(PORT + P_IS, 0xffffffff);
    s.w(PORT + 0x34, 3); // SActive
    s.w(PORT + P_CI, 3);
    expect(s.r(PORT + P_CI)).toBe(0); // accepted at once
    expect(s.r(PORT + 0x34)).toBe(3); // and still active
    await s.settle();
    expect(s.r(PORT + 0x34)).toBe(0);
    expect(s.r(PORT + P_IS) & (1 << 3)).not.toBe(0); // IS.SDBS
    expect(s.ram.bytes[FB + 0x58]).toBe(0xa1); // the Set Device Bits FIS
    expect(s.ram.bytes.subarray(BUF, BUF + 2048)).toEqual(s.base.subarray(40 * 512, 44 * 512));
    expect(s.ram.bytes.subarray(BUF + 0x4000, BUF + 0x4400)).toEqual(s.base.subarray(200 * 512, 202 * 512));
  });

  it('malformed commands end in the specification\'s error bits, never a host exception', async () => {
    const s = setup();
    s.start();
    const tfes = async (label: string) => {
      await s.issue();
      expect(s.r(PORT + P_IS) & (1 << 30), label).not.toBe(0); // IS.TFES
      expect(s.r(PORT + P_TFD), label).toBe(0x0451); // ERR, ABRT
    };
    s.command(0x99, 0, 1, [[BUF, 512]]); await tfes('an unknown command');
    s.command(0x25, 0, 0, [[BUF, 512]]); await tfes('READ DMA EXT of 65536 sectors (count 0) past the end');
    s.command(0x25, 0, 8, [[BUF, 512]]); await tfes('a PRDT smaller than the transfer');
    s.command(0x25, 0x7fffffff, 1, [[BUF, 512]]); await tfes('an LBA past the end');
    s.command(0x35, 0, 1, [[BUF, 512]], false); await tfes('a write without the header\'s W bit');
    s.command(0x25, 0, 1, [[BUF, 512]], false, 2); await tfes('a command FIS shorter than an H2D FIS');

    s.command(0x25, 0, 1, [[RAM + 0x1000, 512]]);
    await s.issue();
    expect(s.r(PORT + P_IS) & (1 << 29)).not.toBe(0); // IS.HBFS: the data went nowhere
    expect(s.ahci.counters.hostBusErrors).toBe(1);
    // The command list itself outside RAM (say, on a device's MMIO window).
    s.w(PORT + P_CMD, 0); s.w(PORT + 0x00, 0xfebf0000); s.w(PORT + P_CMD, 0x11);
    await s.issue();
    expect(s.r(PORT + P_IS) & (1 << 29)).not.toBe(0);
    expect(s.ahci.counters.hostBusErrors).toBe(2);
    expect(createHash('sha256').update(s.base).digest('hex')).toBe(s.baseSha);
  });

  it('a command to a port without a disk is aborted', async () => {
    const s = setup(false);
    s.start();
    s.command(0xec, 0, 1, [[BUF, 512]]);
    await s.issue();
    expect(s.r(PORT + P_IS) & (1 << 30)).not.toBe(0);
  });

  it('survives random register writes and random command tables (fuzz)', async () => {
    const s = setup();
    let seed = 0x1234567;
    const rnd = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; };
    for (let i = 0; i < 3000; i++) {
      const k = rnd() % 8;
      if (k < 4) {
        // A register anywhere in the ABAR, or one of the ports' interesting ones.
        const off = k < 2 ? (rnd() % 0x1000) & ~3 : PORT + (rnd() % 6) * 0x80 + [0, 8, P_IS, P_IE, P_CMD, 0x2c, 0x30, P_CI][rnd() % 8]!;
        s.w(off, rnd());
      } else if (k < 6) {
        // Random bytes where the command list and tables are, sometimes pointed inside RAM.
        const at = [CLB, CTBA, CTBA + 0x80][rnd() % 3]!;
        s.ram.bytes.set(randomBytes(64), at);
        if (rnd() % 2) s.dv.setUint32(CLB + 8, CTBA, true);
        if (rnd() % 2) s.dv.setUint32(CTBA + 0x80, BUF + (rnd() % 0x10000), true);
      } else {
        s.w(PORT + 0x00, rnd() % 2 ? CLB : rnd());
        s.w(PORT + P_CMD, 0x11);
        s.w(PORT + P_CI, rnd());
      }
      if (i % 50 === 0) await s.settle();
      for (const o of [0, 4, 8, 0x0c, PORT + P_IS, PORT + P_TFD, PORT + P_CI]) expect(Number.isInteger(s.r(o))).toBe(true);
    }
    await s.settle();
    expect(createHash('sha256').update(s.base).digest('hex')).toBe(s.baseSha);
    expect(s.ahci.counters.commands).toBeGreaterThan(100);
  });
});
