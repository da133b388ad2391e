// The JIT's code cache is bounded: more hot code than it has function-table slots (JIT_SLOTS)
// evicts translations, least recently used first, and the guest computes the same as with the
// interpreter. The guest: a chain of N pages, each holding one block (INC EAX; JMP to the next
// page), run three times round (the last page: DEC ECX; JNZ to the first), so every page is a
// translation of its own and the chain does not fit.

import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32, runToHlt } from './flat32.js';

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

/**
 * `hot` pages of INC EAX; RET, then `cold` pages that each CALL one of the first hot ones and JMP to the
 * next (the last: DEC ECX; JNZ to the first cold page; HLT), `passes` times round.
 */
async function streamMachine(hot: number, cold: number, jitThreshold: number, passes: number): Promise<Core> {
  const pages = hot + cold;
  const core = await bareCore(Math.ceil((BASE + pages * 4096) / (1 << 20) + 1) * (1 << 20));
  const ram = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
  for (let k = 0; k < hot; k++) { core.ram[BASE + k * 4096] = 0x40; core.ram[BASE + k * 4096 + 1] = 0xc3; }
  const first = BASE + hot * 4096;
  for (let j = 0; j < cold; j++) {
    const at = first + j * 4096;
    // CALL rel32 to a hot page: one more of them joins the round every 17 cold pages, so the
    // first run of each, and its translation, falls in a different batch.
    core.ram[at] = 0xe8;
    ram.setInt32(at + 1, BASE + (j % Math.min(hot, 1 + Math.floor(j / 17))) * 4096 - (at + 5), true);
    if (j < cold - 1) {
      core.ram[at + 5] = 0xe9; // JMP rel32 to the next cold page
      ram.setInt32(at + 6, 4096 - 10, true);
    } else {
      core.ram[at + 5] = 0x49; // DEC ECX
      core.ram[at + 6] = 0x0f; core.ram[at + 7] = 0x85; // JNZ rel32 to the first cold page
      ram.setInt32(at + 8, first - (at + 12), true);
      core.ram[at + 12] = 0xf4; // HLT
    }
  }
  enterFlat32(core, first, { ecx: passes, esp: BASE - 16 });
  core.setJitThreshold(jitThreshold);
  return core;
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

  it('compiles the translations asked for in one run slice as one module when the run loop yields', async () => {
    // Every page is translated after its first run; the run loop yields between slices, as the
    // Machine's does, so that the queued translations are compiled and installed.
    const pages = 200, passes = 50;
    const jit = await machine(pages, 1, passes);
    jit.jit.batched = true;
    // Two passes in slices of 100 instructions ask for every translation; then the compiles end.
    let stop = '';
    for (let i = 0; i < 8 && stop !== 'hlt'; i++) {
      stop = jit.run(100);
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < 1000 && jit.jitStats.queued > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(jit.jitStats.queued).toBe(0);
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

  it('keeps what batches hold bounded by the cache when more code streams through than it has slots', async () => {
    // A stream of cold pages (more than the slots) that each call one of a few hot ones: the
    // batches mix the two, the cold translations are evicted as the stream goes on, and a
    // module lives while any of its translations is in the table.
    const probe = await bareCore(1 << 20);
    const slots = Number((probe.exports.JIT_SLOTS as WebAssembly.Global).value);
    const hot = 300, cold = slots + 1000, passes = 3;
    const jit = await streamMachine(hot, cold, 1, passes);
    jit.jit.batched = true;
    let stop = '';
    let excess = 0;
    // Slices of 100 cold pages, each translated and installed before the next slice.
    for (let i = 0; i < 100_000 && stop !== 'hlt'; i++) {
      stop = jit.run(400);
      await new Promise((resolve) => setImmediate(resolve));
      while (jit.jitStats.queued > 0) await new Promise((resolve) => setTimeout(resolve, 1));
      const s = jit.jitStats;
      excess = Math.max(excess, s.moduleBytesHeld / Math.max(1, s.cacheBytes));
    }
    expect(stop).toBe('hlt');
    const interp = await streamMachine(hot, cold, 0, passes);
    runToHlt(interp);
    expect(jit.reg('eax')).toBe(passes * cold);
    expect(jit.instructions).toBe(interp.instructions);
    const s = jit.jitStats;
    expect(s.failures).toBe(0);
    expect(s.evictions).toBeGreaterThan(0);
    // The hot pages ran translated, and the modules held never passed the bytes of the
    // translations in the cache (a batch has one header: 0.6 of them measured on Node 20).
    expect(s.instructions).toBeGreaterThan(0);
    expect(s.modules).toBeLessThan(s.translations / 4);
    expect(excess).toBeLessThan(1);
  }, 120_000);
});
