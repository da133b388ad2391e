// A translation has several entries (asm-core/jit/region.ts, jit/emit.ts entryMask): a block that
// a translated region already covers is entered there, not translated again as a region of its
// own. The guest computes what the interpreter computes, and the counters show which blocks
// were translated.

import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32, runToHlt } from './flat32.js';

const CALLER = 0x10_0000;
const CALLEE = 0x10_3000; // another page: the CALL leaves the caller's translation

/**
 * A loop that calls a function on another page: CALL f; ADD EBX, EAX; DEC ECX; JNZ loop; HLT,
 * and f: INC EAX; RET.
 */
async function callLoop(threshold: number, iterations: number): Promise<Core> {
  const core = await bareCore(2 << 20);
  const ram = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
  core.ram[CALLER] = 0xe8; // CALL rel32
  ram.setInt32(CALLER + 1, CALLEE - (CALLER + 5), true);
  core.ram.set([0x01, 0xc3, 0x49, 0x75, 0xf6, 0xf4], CALLER + 5); // ADD EBX, EAX; DEC ECX; JNZ -10; HLT
  core.ram.set([0x40, 0xc3], CALLEE); // INC EAX; RET
  enterFlat32(core, CALLER, { ecx: iterations, esp: 0x8_0000 });
  core.setJitThreshold(threshold);
  return core;
}

/** A loop of three blocks on one page: INC EAX; TEST AL, 1; JZ even; INC EBX; even: DEC ECX; JNZ loop; HLT. */
async function branchLoop(threshold: number, iterations: number): Promise<Core> {
  const core = await bareCore(2 << 20);
  core.ram.set([0x40, 0xa8, 0x01, 0x74, 0x01, 0x43, 0x49, 0x75, 0xf7, 0xf4], CALLER);
  enterFlat32(core, CALLER, { ecx: iterations, esp: 0x8_0000 });
  core.setJitThreshold(threshold);
  return core;
}

/**
 * A loop whose branch is first taken after `quiet` turns: INC EAX; CMP EAX, quiet; JA late;
 * back: DEC ECX; JNZ loop; HLT; late: INC EBX; JMP back.
 */
async function lateArmLoop(threshold: number, iterations: number, quiet: number): Promise<Core> {
  const core = await bareCore(2 << 20);
  const ram = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
  core.ram.set([0x40, 0x3d, 0, 0, 0, 0, 0x77, 0x04, 0x49, 0x75, 0xf5, 0xf4, 0x43, 0xeb, 0xf9], CALLER);
  ram.setUint32(CALLER + 2, quiet, true);
  enterFlat32(core, CALLER, { ecx: iterations, esp: 0x8_0000 });
  core.setJitThreshold(threshold);
  return core;
}

/**
 * `jit`, run to its HLT, computed what the interpreter computes on the same guest (`make` with
 * the JIT off), translated without a failure, and ran most of its instructions translated.
 */
async function expectAsInterpreter(jit: Core, make: (threshold: number) => Promise<Core>): Promise<void> {
  const interp = await make(0);
  runToHlt(interp);
  expect(jit.reg('eax')).toBe(interp.reg('eax'));
  expect(jit.reg('ebx')).toBe(interp.reg('ebx'));
  expect(jit.instructions).toBe(interp.instructions);
  expect(jit.jitStats.failures).toBe(0);
  expect(jit.jitStats.instructions).toBeGreaterThan(jit.instructions * 0.9);
}

describe('JIT entries', () => {
  it('enters the caller\'s translation at the return address instead of translating it again', async () => {
    const n = 1000;
    const jit = await callLoop(10, n);
    runToHlt(jit);
    expect(jit.reg('eax')).toBe(n);
    await expectAsInterpreter(jit, (threshold) => callLoop(threshold, n));
    // Two translations: the caller's loop (entered at the CALL and at the return address) and
    // the callee. The return address was not translated as a region of its own.
    expect(jit.jitStats.translations).toBe(2);
  }, 60_000);

  it('leaves a block that has not run yet out of the region, and translates it once it is hot', async () => {
    const n = 2000, quiet = 500;
    const jit = await lateArmLoop(10, n, quiet);
    runToHlt(jit);
    expect(jit.reg('ebx')).toBe(n - quiet);
    await expectAsInterpreter(jit, (threshold) => lateArmLoop(threshold, n, quiet));
    // The loop's region was gathered before its late arm ever ran, so the arm is not in it (the
    // loop's translation leaves for it); it became a region of its own after 10 runs.
    expect(jit.jitStats.translations).toBe(2);
  }, 60_000);

  it('translates a loop once when its blocks become hot while its compile waits for the run loop to yield', async () => {
    const n = 5000;
    const jit = await branchLoop(1, n);
    jit.jit.batched = true;
    // Short slices, each two turns of the loop (11 instructions, so that no slice ends inside a
    // block, whose rest would be a block of its own): every block of the loop runs, and is hot,
    // before the first compile ends.
    let stop = '';
    for (let i = 0; i < 4 && stop !== 'hlt'; i++) {
      stop = jit.run(11);
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < 1000 && jit.jitStats.queued > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    while (stop !== 'hlt') stop = jit.run(1_000_000);
    expect(jit.reg('eax')).toBe(n);
    await expectAsInterpreter(jit, (threshold) => branchLoop(threshold, n));
    // The first block's region holds the others: they waited for its translation.
    expect(jit.jitStats.translations).toBe(1);
  }, 60_000);
});
