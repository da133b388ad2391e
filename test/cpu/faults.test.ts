// Faults are WebAssembly exceptions thrown and caught inside the core (asm-core/cpu/fault.ts,
// asm-core/build.mjs addFaultHandling): the module imports nothing for them, the host sees no
// exception for a fault, and a host callback's exception still reaches the host.
// Run: npx vitest run test/cpu/faults.test.ts
import { describe, expect, it, vi } from 'vitest';
import { check, runProgram } from './baremetal/runner.js';
import { type CoreHost, loadCore } from '../../src/cpu/core.js';
import { readCoreWasm } from '../../src/cpu/core-file.js';

// The bare-metal program runs in every execution path, one of them moving the CPU to another
// core after each instruction: seconds of work, more on a loaded machine.
vi.setConfig({ testTimeout: 120_000 });

describe('faults inside the core', () => {
  it('the built core imports nothing to throw or catch a fault, and exports no resume', async () => {
    const module = await WebAssembly.compile(await readCoreWasm() as Uint8Array<ArrayBuffer>);
    const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`);
    expect(imports).not.toContain('env.unwind');
    expect(imports.filter((i) => i.startsWith('fault.'))).toEqual([]); // build.mjs defined the placeholders
    const exports = WebAssembly.Module.exports(module).map((e) => e.name);
    expect(exports).not.toContain('resume');
    expect(exports).not.toContain('loop'); // exported for the build only
  });

  it('demand paging and #UD: handlers that fix the cause and return, many times', async () => {
    const r = await runProgram('faults');
    const PAGES = 16, ROUNDS = 2, GROUPS = 7;
    // Physical page k of group g holds g * PAGES + k + 1 at first.
    const firsts = (g: number) => PAGES * g * PAGES + (PAGES * (PAGES + 1)) / 2;
    const sum = (g: number) => ROUNDS * firsts(g);
    const below = (PAGES * (PAGES - 1)) / 2; // 0 + 1 + ... + PAGES - 1
    check(r, [
      [1, GROUPS * PAGES * ROUNDS, '#PF for each of the GROUPS * PAGES pages in each round'],
      [2, PAGES * ROUNDS, '#UD for each UD2, stepped over by its handler'],
      [3, sum(0), '6.5: the faulting ADD restarted after the handler mapped its page (pages 1..PAGES)'],
      [4, sum(1), '6.5: so did FIADD (pages PAGES + 1..2 * PAGES)'],
      [5, 2, '4.7: the last #PF, by REP MOVSD: a write to a not-present page at CPL 0'],
      [6, (0xfeed0000 + PAGES - 1) >>> 0, 'STOSD restarted and stored into the page mapped for it'],
      [7, sum(4), 'MOVZX of a byte restarted and read its page'],
      [8, firsts(3) + PAGES * ROUNDS * 0x100, 'ADD to memory restarted and added once per round'],
      [9, firsts(5) + 0x100 * below, 'MOV of a byte restarted and stored it'],
      [10, below, 'REP MOVSD restarted at its second dword, from the second source dword'],
    ]);
  });

  it('lets a host callback\'s exception through the core\'s catch', async () => {
    const host: CoreHost = {
      ioRead: () => { throw new Error('device bug'); },
      ioWrite: () => {},
      mmioRead: () => 0xffff_ffff,
      mmioWrite: () => {},
      intAck: () => 0,
      readTsc: () => 0,
      ferr: () => {},
    };
    const core = await loadCore(await readCoreWasm(), host);
    core.init(1 << 20);
    core.ram.set([0xe4, 0x60], 0x8000); // IN AL, 0x60
    core.setSeg('cs', { selector: 0, base: 0, limit: 0xffff, access: 0x9b });
    core.eip = 0x8000;
    core.refreshState();
    expect(() => core.run(10)).toThrow('device bug');
  });
});
