// A debugger's breakpoints in the core (asm-core/cpu/host-break.ts): run() stops before the
// instruction at the address, with the instructions before it retired and the one there not,
// whether the code ran interpreted, from decoded blocks or translated; the guest sees nothing
// (no exception, DR6 unchanged); resumeFromBreak runs past the stop once; a cleared breakpoint
// no longer stops.
import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32 } from '../cpu/flat32.js';
import { CORE, haveBuildOutputs } from '../images.js';

const ready = haveBuildOutputs('the core tests (build/core.wasm)', [CORE]);
const CODE = 0x1000;

// loop: inc eax; add ebx, eax; dec ecx; jnz loop; hlt
//   0x1000 inc eax (40), 0x1001 add ebx, eax (01 c3), 0x1003 dec ecx (49), 0x1004 jnz -6 (75 fa), 0x1006 hlt
const LOOP = [0x40, 0x01, 0xc3, 0x49, 0x75, 0xfa, 0xf4];

async function loopCore(jit: boolean, count: number): Promise<Core> {
  const core = await bareCore(1 << 20);
  if (jit && core.jit.available) core.setJitThreshold(2);
  core.ram.set(LOOP, CODE);
  enterFlat32(core, CODE, { esp: 0x8000, ecx: count });
  return core;
}

describe.skipIf(!ready)('host breakpoints', () => {
  for (const jit of [false, true]) {
    it(`stop before the instruction, every time it is reached (${jit ? 'JIT on, loop hot first' : 'interpreter and blocks'})`, async () => {
      const core = await loopCore(jit, 100_000);
      // Let the loop run hot (translated when the JIT is on) before the breakpoint is set.
      expect(core.run(50_000)).toBe('budget');
      const dr6 = core.u32('OFF_DR', 24);
      core.setBreakpoint(3, CODE + 3); // dec ecx
      const before = core.instructions;
      expect(core.run(1_000_000)).toBe('break');
      expect(core.eip).toBe(CODE + 3);
      expect(core.instructions - before).toBeLessThanOrEqual(4); // at most the rest of a pass
      const ecx = core.reg('ecx');
      for (let pass = 1; pass <= 5; pass++) {
        core.resumeFromBreak(CODE + 3);
        const at = core.instructions;
        expect(core.run(1_000_000)).toBe('break');
        expect(core.eip).toBe(CODE + 3);
        expect(core.instructions - at).toBe(4); // exactly one pass
        expect(core.reg('ecx')).toBe(ecx - pass);
      }
      expect(core.u32('OFF_DR', 24)).toBe(dr6); // nothing the guest can see
      core.clearBreakpoint(3);
      core.resumeFromBreak(CODE + 3);
      expect(core.run(10_000_000)).toBe('hlt');
      expect(core.reg('ecx')).toBe(0);
      // The sum is what the loop computes without stops: ebx = 1 + 2 + ... + 100000.
      expect(core.reg('ebx')).toBe((100_000 * 100_001 / 2) >>> 0);
    });
  }

  it('without resumeFromBreak a run stays at the breakpoint; a breakpoint not reached does not stop', async () => {
    const core = await loopCore(false, 10);
    core.setBreakpoint(0, CODE);
    expect(core.run(1000)).toBe('break');
    expect(core.instructions).toBe(0);
    expect(core.run(1000)).toBe('break');
    expect(core.instructions).toBe(0);
    core.clearBreakpoint(0);
    core.setBreakpoint(1, 0x5000);
    expect(core.run(1000)).toBe('hlt');
    expect(core.reg('ebx')).toBe(55);
    expect(() => core.setBreakpoint(core.breakpointSlots, 0)).toThrow(/no breakpoint slot/);
  });
});
