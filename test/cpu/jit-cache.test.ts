// The JIT's code cache is bounded: more hot code than it has function-table slots (JIT_SLOTS)
// evicts translations, least recently used first, and the guest computes the same as with the
// interpreter. The guest: a chain of N pages, each holding one block (INC EAX; JMP to the next
// page), run three times round (the last page: DEC ECX; JNZ to the first), so every page is a
// translation of its own and the chain does not fit.

import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32 } from './flat32.js';

const BASE = 0x10_0000;
const PASSES = 3;

/** Flat 32-bit protected mode at CPL 0, EIP at the first page. */
async function machine(pages: number, jitThreshold: number, passes = PASSES): Promise<Core> {
  const core = await bareCore(Math.ceil((BASE + pages * 4096) / (1 << 20) + 1) * (1 << 20));
  const ram = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
  for (let k = 0; k < pages; k++) {
    const at = BASE + k * 4096;
    if (k < pages - 1) {
      core.ram[at] = 0x40; // INC EAX
      core.ram[at + 1] = 0xe9; // JMP rel32 to the next page
      ram.setInt32(at + 2, 4096 - 6, true);
    } else {
      core.ram[at] = 0x40;
      core.ram[at + 1] = 0x49; // DEC ECX
      core.ram[at + 2] = 0x0f; core.ram[at + 3] = 0x85; // JNZ rel32 to the first page
      ram.setInt32(at + 4, BASE - (at + 8), true);
      core.ram[at + 8] = 0xf4; // HLT
    }
  }
  enterFlat32(core, BASE, { ecx: passes, esp: BASE - 16 });
  core.setJitThreshold(jitThreshold);
  return core;
}

function runToHlt(core: Core): void {
  for (let i = 0; i < 1000; i++) if (core.run(1_000_000) === 'hlt') return;
  throw new Error(`did not halt: ${core.describe()}`);
}

describe('JIT code cache', () => {
  it('evicts when more code is hot than it has slots, and computes as the interpreter does', async () => {
    const probe = await bareCore(1 << 20);
    const slots = Number((probe.exports.JIT_SLOTS as WebAssembly.Global).value);
    const pages = slots + 1000;
    const jit = await machine(pages, 1);
    runToHlt(jit);
    const interp = await machine(pages, 0);
    runToHlt(interp);
    expect(jit.reg('eax')).toBe(PASSES * pages);
    expect(jit.reg('eax')).toBe(interp.reg('eax'));
    expect(jit.instructions).toBe(interp.instructions);
    const s = jit.jitStats;
    expect(s.failures).toBe(0);
    // Every page was translated, more than once: the slots ran out and the oldest were reused.
    expect(s.translations).toBeGreaterThan(pages);
    expect(s.evictions).toBeGreaterThan(0);
    expect(s.translations - s.evictions).toBeLessThanOrEqual(slots);
    // The cache's size is bounded by the slots, not by the code run.
    expect(s.cacheBytes).toBeLessThanOrEqual(s.cachePeakBytes);
    expect(s.cachePeakBytes / s.bytesEmitted).toBeLessThan(slots / pages + 0.01);
  }, 120_000);

  it('compiles the translations asked for in one run slice in the background as one module', async () => {
    // Every page is translated after its first run; the run loop yields between slices, as the
    // Machine's does, so that background compiles start, and are installed when they end.
    const pages = 200, passes = 50;
    const jit = await machine(pages, 1, passes);
    jit.jit.background = true;
    // Two passes in slices of 100 instructions ask for every translation; then the compiles end.
    let stop = '';
    for (let i = 0; i < 8 && stop !== 'hlt'; i++) {
      stop = jit.run(100);
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < 1000 && jit.jitStats.compiling > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(jit.jitStats.compiling).toBe(0);
    while (stop !== 'hlt') stop = jit.run(1_000_000);
    expect(stop).toBe('hlt');
    const interp = await machine(pages, 0, passes);
    runToHlt(interp);
    expect(jit.reg('eax')).toBe(passes * pages);
    expect(jit.instructions).toBe(interp.instructions);
    const s = jit.jitStats;
    expect(s.failures).toBe(0);
    expect(s.translations).toBeGreaterThanOrEqual(pages);
    // The translations were asked for in a few slices: far fewer modules, whose functions ran
    // and went into each other.
    expect(s.modules).toBeLessThan(pages / 4);
    expect(s.instructions).toBeGreaterThan(jit.instructions / 2);
    expect(s.chained).toBeGreaterThan(0);
    expect(s.moduleBytesHeld).toBeGreaterThan(s.bytesEmitted / 2);
  }, 120_000);
});
