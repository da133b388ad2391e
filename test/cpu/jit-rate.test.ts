// A block is translated when it runs often, not when it has run often (asm-core/cpu/blocks.ts
// countRun: run counts halve every 2^27 retired instructions). The guest: an outer block on
// one page (INC EAX; MOV ECX, inner; JMP) that goes to a countdown loop on another page (DEC ECX;
// JNZ), whose exit block (DEC EBX; JNZ outer) goes back, `outer` times; then HLT. The countdown
// loop is hot at any length. The outer block and the exit block run once per countdown: with a
// long countdown they reach the threshold in total but never at its rate, and stay interpreted.

import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32 } from './flat32.js';

const OUTER = 0x10_0000;
const LOOP = 0x10_3000; // another page: not in the outer block's region, nor it in the loop's

async function machine(threshold: number, outer: number, inner: number): Promise<Core> {
  const core = await bareCore(2 << 20);
  const ram = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
  core.ram[OUTER] = 0x40; // INC EAX
  core.ram[OUTER + 1] = 0xb9; ram.setUint32(OUTER + 2, inner, true); // MOV ECX, inner
  core.ram[OUTER + 6] = 0xe9; ram.setInt32(OUTER + 7, LOOP - (OUTER + 11), true); // JMP loop
  core.ram.set([0x49, 0x75, 0xfd], LOOP); // loop: DEC ECX; JNZ loop
  core.ram[LOOP + 3] = 0x4b; // DEC EBX
  core.ram[LOOP + 4] = 0x0f; core.ram[LOOP + 5] = 0x85; ram.setInt32(LOOP + 6, OUTER - (LOOP + 10), true); // JNZ outer
  core.ram[LOOP + 10] = 0xf4; // HLT
  enterFlat32(core, OUTER, { ebx: outer, esp: 0x8_0000 });
  core.setJitThreshold(threshold);
  return core;
}

/**
 * Run to the HLT in slices of 100 million instructions. A slice that ends inside a block leaves
 * its rest to run as a block of its own next time; with flat32.ts runToHlt's slices of a million
 * that rest ran at the outer block's rate and was translated.
 */
function runToHlt(core: Core): void {
  for (let i = 0; i < 10; i++) if (core.run(100_000_000) === 'hlt') return;
  throw new Error(`did not halt: ${core.describe()}`);
}

/** What the guest retires: per outer turn 3 + 2 * inner + 2 instructions, then the HLT. */
const retires = (outer: number, inner: number) => outer * (3 + 2 * inner + 2) + 1;

describe('JIT threshold as a rate', () => {
  it('translates blocks that run often, and not those that ran often once in a long while', async () => {
    // 60 turns of 8 million instructions each: the outer and exit blocks run 60 times, past the
    // threshold of 50, but their count reaches at most about 2 * 2^27 / 8e6 = 34.
    const outer = 60, inner = 4_000_000;
    const slow = await machine(50, outer, inner);
    runToHlt(slow);
    expect(slow.reg('eax')).toBe(outer);
    expect(slow.instructions).toBe(retires(outer, inner));
    expect(slow.jitStats.failures).toBe(0);
    expect(slow.jitStats.translations).toBe(1); // the countdown loop alone
    expect(slow.jitStats.instructions).toBeGreaterThan(slow.instructions * 0.99);

    // The same guest with short countdowns: all three pieces run often and are translated.
    const fast = await machine(50, 2000, 100);
    runToHlt(fast);
    expect(fast.reg('eax')).toBe(2000);
    expect(fast.instructions).toBe(retires(2000, 100));
    expect(fast.jitStats.translations).toBe(3);
  }, 60_000);
});
