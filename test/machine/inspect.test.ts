// The debugger's view of memory (src/machine/inspect.ts): page tables built by hand in a bare
// core are walked to the mappings they hold (4 KiB and 4 MiB pages, rights of both levels), the
// walk agrees with the core's own translation, unmapped addresses read as null, and a write
// through a linear address lands in the physical page and nowhere else. The monitor's x/FMT
// parser (src/node/monitor-info.ts) takes QEMU's letters and refuses others.
import { describe, expect, it } from 'vitest';
import { linearToPhysical, readLinear, readPhysical, walkPageTables, writeLinear } from '../../src/machine/inspect.js';
import { parseExamineFormat } from '../../src/node/monitor-info.js';
import { bareCore, enterFlat32 } from '../cpu/flat32.js';
import { CORE, haveBuildOutputs } from '../images.js';

const ready = haveBuildOutputs('the inspector tests (build/core.wasm)', [CORE]);
const DIR = 0x10000;
const TABLE = 0x11000;

describe.skipIf(!ready)('page tables as a debugger sees them', () => {
  it('walks 4 KiB and 4 MiB pages and agrees with the core', async () => {
    const core = await bareCore(16 << 20);
    const dv = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
    // PDE 0 -> table; PDE 0x300 (0xc0000000) -> 4 MiB page at 8 MiB, supervisor, read-only.
    dv.setUint32(DIR, TABLE | 0x7, true);
    dv.setUint32(DIR + 0x300 * 4, 0x800000 | 0x80 | 0x1, true);
    // linear 0x3000 -> physical 0x50000 user rw; 0x5000 -> 0x51000 supervisor rw (PDE user).
    dv.setUint32(TABLE + 3 * 4, 0x50000 | 0x7, true);
    dv.setUint32(TABLE + 5 * 4, 0x51000 | 0x3, true);
    enterFlat32(core, 0x1000, {}, DIR);
    core.cr4 = 0x10; // PSE
    core.refreshState();
    const maps = walkPageTables(core);
    expect(maps.map((m) => [m.linear, m.physical, m.size, m.user, m.writable])).toEqual([
      [0x3000, 0x50000, 0x1000, true, true],
      [0x5000, 0x51000, 0x1000, false, true],
      [0xc0000000, 0x800000, 0x400000, false, false],
    ]);
    for (const lin of [0x3123, 0x5ffc, 0xc0123456, 0x4000, 0x0, 0xc0400000]) {
      const probe = core.exports.translateLinear!(lin);
      expect(linearToPhysical(core, lin)).toBe(probe < 0 ? null : probe);
    }
    expect(linearToPhysical(core, 0xc0123456)).toBe(0x923456);
    expect(linearToPhysical(core, 0x4000)).toBeNull();

    core.ram.set([1, 2], 0x50ffe);
    core.ram.set([5, 6], 0x51000);
    // 0x3ffe..0x3fff is the end of the page at 0x50000; 0x4000 is unmapped: all or nothing.
    expect(readLinear(core, 0x3ffe, 2)).toEqual(new Uint8Array([1, 2]));
    expect(readLinear(core, 0x3ffe, 3)).toBeNull();
    expect(writeLinear(core, 0x3ffe, new Uint8Array([9, 9, 9]))).toBe(false);
    expect(readPhysical(core, 0x50ffe, 2)).toEqual(new Uint8Array([1, 2]));
    expect(writeLinear(core, 0x3fff, new Uint8Array([0xaa]))).toBe(true);
    expect(readPhysical(core, 0x50ffe, 4)).toEqual(new Uint8Array([1, 0xaa, 5, 6]));
    expect(readPhysical(core, core.ramSize - 2, 4)).toBeNull();
    expect(readPhysical(core, 0xa0000, 4)).toBeNull(); // the VGA window is not RAM
  });

  it('paging off: linear is physical, and no mappings are listed', async () => {
    const core = await bareCore(1 << 20);
    enterFlat32(core, 0x1000, {});
    expect(walkPageTables(core)).toEqual([]);
    expect(linearToPhysical(core, 0x12345)).toBe(0x12345);
  });
});

describe('x/FMT', () => {
  it('reads QEMU\'s count, format and size letters', () => {
    expect(parseExamineFormat('')).toEqual({ count: 1, format: 'x', size: 4 });
    expect(parseExamineFormat('/16xw')).toEqual({ count: 16, format: 'x', size: 4 });
    expect(parseExamineFormat('/4xb')).toEqual({ count: 4, format: 'x', size: 1 });
    expect(parseExamineFormat('/2hd')).toEqual({ count: 2, format: 'd', size: 2 });
    expect(parseExamineFormat('/8c')).toEqual({ count: 8, format: 'c', size: 1 });
    expect(() => parseExamineFormat('/4q')).toThrow(/bad format letter 'q'/);
    expect(() => parseExamineFormat('4x')).toThrow(/bad format/);
    expect(() => parseExamineFormat('/0x')).toThrow(/outside/);
  });
});
