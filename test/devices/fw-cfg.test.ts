// QEMU's firmware configuration interface (src/devices/fw-cfg.ts) as QEMU's
// docs/specs/fw_cfg.rst defines it: the selector and data ports, the file directory (big-endian
// count and entries), and the DMA interface (FWCfgDmaAccess, big-endian, control word written
// back as 0 or with the error bit). SeaBIOS reading it is the test in test/machine/firmware.test.ts.
import { describe, expect, it } from 'vitest';
import { FW_CFG, FwCfg } from '../../src/devices/fw-cfg';
import { TestRam } from './test-ram';

const RAM = 1 << 16;
class Ram extends TestRam { constructor() { super(RAM); } }

// Port offsets from 0x510: selector (16-bit), data (8-bit), DMA address high and low (32-bit, big-endian).
const SEL = 0, DATA = 1, DMA_HI = 4, DMA_LO = 8;
const bswap = (v: number) => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

function readItem(fw: FwCfg, key: number, n: number): number[] {
  fw.write(SEL, 2, key);
  return Array.from({ length: n }, () => fw.read(DATA, 1));
}

/** Write an FWCfgDmaAccess at `at` and start it as firmware does (the low address dword, big-endian). */
function dma(fw: FwCfg, ram: Ram, at: number, control: number, length: number, address: number): number {
  const v = new DataView(ram.bytes.buffer);
  v.setUint32(at, control); v.setUint32(at + 4, length); v.setUint32(at + 8, 0); v.setUint32(at + 12, address);
  fw.write(DMA_LO, 4, bswap(at));
  return v.getUint32(at);
}

describe('fw_cfg', () => {
  it('answers the signature and the feature bits through the data port', () => {
    const fw = new FwCfg(new Ram());
    expect(String.fromCharCode(...readItem(fw, FW_CFG.SIGNATURE, 4))).toBe('QEMU');
    // ID: bit 0 traditional interface, bit 1 DMA (little-endian u32).
    expect(readItem(fw, FW_CFG.ID, 4)).toEqual([3, 0, 0, 0]);
    // Past an item's end, and an item that does not exist, read as zero.
    expect(readItem(fw, FW_CFG.SIGNATURE, 6).slice(4)).toEqual([0, 0]);
    expect(readItem(fw, 0x7777, 2)).toEqual([0, 0]);
    // The DMA address register reads "QEMU CFG".
    expect(fw.read(DMA_HI, 4)).toBe(0x51454d55);
    expect(fw.read(DMA_LO, 4)).toBe(0x20434647);
  });

  it('lists files in the directory, sorted by name, and reads them by their key', () => {
    const fw = new FwCfg(new Ram());
    fw.setFile('etc/zeta', Uint8Array.of(9, 8, 7));
    fw.setFile('etc/alpha', Uint8Array.of(1, 2));
    const head = readItem(fw, FW_CFG.FILE_DIR, 4 + 2 * 64);
    const dir = new DataView(Uint8Array.from(head).buffer);
    expect(dir.getUint32(0)).toBe(2);
    const entry = (i: number) => ({
      size: dir.getUint32(4 + i * 64),
      key: dir.getUint16(8 + i * 64),
      name: String.fromCharCode(...head.slice(12 + i * 64, 12 + i * 64 + 56)).replace(/\0+$/, ''),
    });
    expect(entry(0)).toMatchObject({ name: 'etc/alpha', size: 2 });
    expect(entry(1)).toMatchObject({ name: 'etc/zeta', size: 3 });
    expect(entry(0).key).toBeGreaterThanOrEqual(FW_CFG.FILE_FIRST);
    expect(readItem(fw, entry(1).key, 3)).toEqual([9, 8, 7]);
    // Replacing a file keeps its key and changes its size.
    fw.setFile('etc/zeta', Uint8Array.of(5));
    expect(readItem(fw, entry(1).key, 2)).toEqual([5, 0]);
  });

  it('copies by DMA with select, skip and read, zero-filling past the end', () => {
    const ram = new Ram();
    const fw = new FwCfg(ram);
    fw.setFile('f', Uint8Array.of(10, 11, 12, 13, 14));
    const key = 0x20;
    ram.bytes.fill(0xee, 0x2000, 0x2010);
    // SELECT | SKIP two bytes, then READ four: 12, 13, 14 and a zero.
    expect(dma(fw, ram, 0x1000, (key << 16) | 0x08 | 0x04, 2, 0)).toBe(0);
    expect(dma(fw, ram, 0x1000, 0x02, 4, 0x2000)).toBe(0);
    expect([...ram.bytes.subarray(0x2000, 0x2005)]).toEqual([12, 13, 14, 0, 0xee]);
    // The byte port continues where DMA left off (offset 5: past the end).
    expect(fw.read(DATA, 1)).toBe(0);
  });

  it('sets the error bit for a write, and a read into memory that is not RAM', () => {
    const ram = new Ram();
    const fw = new FwCfg(ram);
    fw.setFile('f', Uint8Array.of(1, 2, 3, 4));
    const before = ram.bytes.slice();
    expect(dma(fw, ram, 0x1000, (0x20 << 16) | 0x08 | 0x10, 4, 0x2000) & 1).toBe(1);
    expect(dma(fw, ram, 0x1000, (0x20 << 16) | 0x08 | 0x02, 4, RAM - 2) & 1).toBe(1);
    // Nothing but the control words changed.
    before.set(ram.bytes.subarray(0x1000, 0x1010), 0x1000);
    expect(ram.bytes).toEqual(before);
    // A DMA structure outside RAM is ignored (nothing to write the status to) and counted.
    const errors = fw.guestErrors;
    fw.write(DMA_LO, 4, bswap(RAM - 8));
    expect(fw.guestErrors).toBe(errors + 1);
  });

  it('survives random guest accesses', () => {
    const ram = new Ram();
    const fw = new FwCfg(ram);
    fw.setFile('etc/e820', new Uint8Array(20).fill(1));
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    for (let i = 0; i < 20000; i++) {
      const offset = rnd() % 12;
      const size = ([1, 2, 4] as const)[rnd() % 3]!;
      if (rnd() & 1) fw.read(offset, size);
      else fw.write(offset, size, rnd() >>> 0);
      if (i % 100 === 0) for (let j = 0; j < 16; j++) ram.bytes[(rnd() % RAM) & ~0] = rnd() & 0xff;
    }
    expect(ram.bytes.length).toBe(RAM);
  });
});
