// A debugger's watchpoints in the core (asm-core/cpu/host-watch.ts): run() stops after the
// instruction that wrote (or read) a watched byte, with that instruction retired and its store
// done, whether the code ran interpreted, from decoded blocks or translated; accesses elsewhere
// on the same page do not stop; the guest sees nothing (DR6 unchanged); a cleared watchpoint no
// longer stops, and the loop computes what it computes without stops.
import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32 } from '../cpu/flat32.js';
import { CORE, haveBuildOutputs } from '../images.js';

const ready = haveBuildOutputs('the core tests (build/core.wasm)', [CORE]);
const CODE = 0x1000;
const DATA = 0x3000; // a counter the loop writes every pass
const NEAR = 0x3010; // a word on the same page it reads every pass

// loop: mov eax, [NEAR]; add [DATA], eax; dec ecx; jnz loop; hlt
//   0x1000 a1 10 30 00 00        mov eax, [0x3010]
//   0x1005 01 05 00 30 00 00     add [0x3000], eax
//   0x100b 49                    dec ecx
//   0x100c 75 f2                 jnz 0x1000
//   0x100e f4                    hlt
const LOOP = [0xa1, 0x10, 0x30, 0x00, 0x00, 0x01, 0x05, 0x00, 0x30, 0x00, 0x00, 0x49, 0x75, 0xf2, 0xf4];

async function loopCore(jit: boolean, count: number): Promise<Core> {
  const core = await bareCore(1 << 20);
  if (jit && core.jit.available) core.setJitThreshold(2);
  core.ram.set(LOOP, CODE);
  new DataView(core.ram.buffer, core.ram.byteOffset).setUint32(NEAR, 3, true);
  enterFlat32(core, CODE, { esp: 0x8000, ecx: count });
  return core;
}
const counter = (core: Core): number => new DataView(core.ram.buffer, core.ram.byteOffset).getUint32(DATA, true);

describe.skipIf(!ready)('host watchpoints', () => {
  for (const jit of [false, true]) {
    it(`stop after each write to the watched word (${jit ? 'JIT on, loop hot first' : 'interpreter and blocks'})`, async () => {
      const core = await loopCore(jit, 10_000);
      expect(core.run(5_000)).toBe('budget'); // hot, and translated when the JIT is on
      const dr6 = core.u32('OFF_DR', 24);
      core.setWatchpoint(2, DATA, 4, 'write');
      for (let pass = 0; pass < 5; pass++) {
        const before = counter(core);
        expect(core.run(1_000_000)).toBe('watch');
        // The ADD that wrote it has retired: EIP is on the next instruction, the sum is stored.
        expect(core.eip).toBe(CODE + 0x0b);
        expect(counter(core)).toBe((before + 3) >>> 0);
        expect(core.watchHit()).toEqual({ slot: 2, address: DATA, write: true });
      }
      expect(core.u32('OFF_DR', 24)).toBe(dr6); // nothing the guest can see
      core.clearWatchpoint(2);
      expect(core.run(10_000_000)).toBe('hlt');
      expect(core.reg('ecx')).toBe(0);
      expect(counter(core)).toBe(30_000); // 10000 passes adding 3
    });
  }

  for (const jit of [false, true]) {
    it(`stop after a CALL whose push writes the watched word, before the callee (${jit ? 'JIT on, the callee in the caller\'s translation' : 'interpreter and blocks'})`, async () => {
      // loop: call f; dec ecx; jnz loop; hlt; f: inc eax; ret (one page: one translation holds both)
      const core = await bareCore(1 << 20);
      if (jit && core.jit.available) core.setJitThreshold(2);
      core.ram.set([0xe8, 0x06, 0x00, 0x00, 0x00, 0x49, 0x75, 0xf8, 0xf4, 0x90, 0x90, 0x40, 0xc3], CODE);
      enterFlat32(core, CODE, { esp: 0x8000, ecx: 10_000 });
      expect(core.run(5_000)).toBe('budget'); // hot, and translated when the JIT is on
      expect(core.eip).toBe(CODE);
      const start = core.instructions;
      core.setWatchpoint(3, 0x8000 - 4, 4, 'write');
      for (let pass = 1; pass <= 3; pass++) {
        expect(core.run(1_000_000)).toBe('watch');
        expect(core.eip).toBe(CODE + 0x0b); // the CALL retired; its callee has not run
        expect(core.instructions - start).toBe(5 * pass - 4);
      }
    });
  }

  it('a read watchpoint stops on the read; a watch on an untouched byte of the page does not stop', async () => {
    const core = await loopCore(false, 100);
    core.setWatchpoint(0, DATA + 8, 4, 'access'); // same page, never touched
    expect(core.run(1_000_000)).toBe('hlt');
    expect(counter(core)).toBe(300);
    const again = await loopCore(true, 100);
    again.setWatchpoint(1, NEAR + 2, 1, 'read'); // one byte inside the word the MOV reads
    expect(again.run(1_000_000)).toBe('watch');
    expect(again.eip).toBe(CODE + 5); // after the MOV, before the ADD
    expect(again.reg('eax')).toBe(3);
    expect(again.watchHit()).toEqual({ slot: 1, address: NEAR, write: false });
    expect(() => again.setWatchpoint(again.watchpointSlots, 0, 4, 'write')).toThrow(/no watchpoint slot/);
  });
});
