// Chaining (asm-core/jit/chain.ts): translations go straight into each other with tail calls.
// The guest: a loop on one page that calls a function on a second page directly and one on a
// third through a pointer in memory (which jumps on to a fourth page and returns from there),
// calls a PC thunk (jit/thunk.ts) on a fifth, and, once, rewrites an immediate of the function
// it calls directly and the register the thunk loads. Every page is its own
// translation (threshold 1), so nearly every exit is a chain. It must compute what the
// interpreter computes, and stop at the same instruction for any instruction budget: the run
// is cut into random budgets and the (retired count, EIP) after each run must match the
// interpreter's, with chaining and without.

import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32 } from './flat32.js';
import { TAIL_CALLS } from '../../src/cpu/jit-host.js';

const BASE = 0x10_0000;
const F1 = BASE + 0x1000, F2 = BASE + 0x2000, F3 = BASE + 0x3000, F4 = BASE + 0x4000;
const PTR = BASE + 0x800;
const LOOPS = 1000;
/** The iteration (ECX counting down) at which the loop rewrites F1's immediate. */
const REWRITE_AT = 500;

function put(core: Core, at: number, bytes: number[]): void { core.ram.set(bytes, at); }
function le32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]; }

/** `regions`: translated after 20 runs, when the blocks around the hot one are decoded. */
async function machine(mode: 'chain' | 'no-chain' | 'regions' | 'interpreter', notThunk = false): Promise<Core> {
  const core = await bareCore(4 << 20);
  put(core, BASE, [
    0xe8, ...le32(F1 - (BASE + 5)), // 0: call F1
    0xff, 0x15, ...le32(PTR), // 5: call [PTR]
    0xe8, ...le32(F4 - (BASE + 16)), // 11: call F4 (a PC thunk)
    0x01, 0xfe, // 16: add esi, edi
    0x01, 0xfe, // 18: add esi, edi
    0x01, 0xee, // 20: add esi, ebp
    0x31, 0xff, // 22: xor edi, edi
    0x31, 0xed, // 24: xor ebp, ebp
    0x01, 0xd8, // 26: add eax, ebx
    0x81, 0xf9, ...le32(REWRITE_AT), // 28: cmp ecx, REWRITE_AT
    0x75, 0x0e, // 34: jne 50
    0xc6, 0x05, ...le32(F1 + 2), 0x07, // 36: mov byte [F1 + 2], 7
    0xc6, 0x05, ...le32(F4 + 1), notThunk ? 0x6c : 0x2c, // 43: mov byte [F4 + 1], ... (F4 now loads EBP)
    0x49, // 50: dec ecx
    0x75, 0xcb, // 51: jnz 0
    0xf4, // 53: hlt
  ]);
  put(core, PTR, le32(F2));
  put(core, F1, [0x83, 0xc3, 0x03, 0xc3]); // add ebx, 3; ret
  put(core, F2, [0x42, 0xe9, ...le32(F3 - (F2 + 6))]); // inc edx; jmp F3
  put(core, F3, [0x31, 0xd3, 0xc3]); // xor ebx, edx; ret
  // mov edi, [esp]; ret: a PC thunk, or the same with a displacement of 0, which is not one.
  put(core, F4, notThunk ? [0x8b, 0x7c, 0x24, 0x00, 0xc3] : [0x8b, 0x3c, 0x24, 0xc3]); // mov edi, [esp]; ret
  enterFlat32(core, BASE, { ecx: LOOPS, esp: BASE - 16 });
  if (mode === 'interpreter') core.setBlockCache(false);
  else {
    core.setJitThreshold(mode === 'regions' ? 20 : 1);
    core.jit.setChaining(mode !== 'no-chain');
  }
  return core;
}

/** Run to HLT in budgets from a fixed pseudo-random sequence; the state after each run. */
function runInSlices(core: Core): string[] {
  const trace: string[] = [];
  let seed = 12345;
  for (let i = 0; i < 100_000; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const stop = core.run(1 + (seed >>> 16) % 97);
    trace.push(`${core.instructions}@${core.eip.toString(16)}`);
    if (stop === 'hlt') return trace;
  }
  throw new Error(`did not halt: ${core.describe()}`);
}

describe('JIT chaining', () => {
  it.runIf(TAIL_CALLS)('goes from translation to translation and stops where the interpreter stops', async () => {
    const interp = await machine('interpreter');
    const expected = runInSlices(interp);
    for (const mode of ['chain', 'no-chain', 'regions'] as const) {
      const core = await machine(mode);
      const trace = runInSlices(core);
      expect(trace.length, mode).toBe(expected.length);
      expect(trace, mode).toEqual(expected);
      for (const r of ['eax', 'ebx', 'ecx', 'edx', 'esp', 'esi', 'edi', 'ebp'] as const) expect(core.reg(r), `${mode} ${r}`).toBe(interp.reg(r));
      expect(core.jitStats.failures).toBe(0);
      
    }
    // Each iteration went through F2, and the loop rewrote F1 (after which every path adds 7).
    expect(interp.reg('edx')).toBe(LOOPS);
    expect(interp.ram[F1 + 2]).toBe(7);
    // The thunk loaded EDI (counted twice) before its rewrite, and EBP after.
    expect(interp.reg('esi')).toBe(Math.imul(2 * (LOOPS - REWRITE_AT + 1) + REWRITE_AT - 1, BASE + 16) >>> 0);
  });

  it.runIf(TAIL_CALLS)('enters translations from the block loop far less often when they chain', async () => {
    const calls: Record<string, number> = {}, chained: Record<string, number> = {};
    for (const mode of ['chain', 'no-chain'] as const) {
      const core = await machine(mode);
      for (let i = 0; i < 100 && core.run(1_000_000) !== 'hlt'; i++);
      calls[mode] = core.jitStats.calls;
      chained[mode] = core.jitStats.chained;
    }
    // Without chaining every exit returns to the loop: about five per iteration.
    expect(calls['no-chain']).toBeGreaterThan(4 * LOOPS);
    expect(chained['no-chain']).toBe(0);
    expect(calls['chain']!).toBeLessThan(calls['no-chain']! / 10);
    expect(chained['chain']).toBeGreaterThan(4 * LOOPS);
  });

  it.runIf(TAIL_CALLS)('runs a PC thunk in place of the call to it, until the thunk is rewritten', async () => {
    const chained: number[] = [];
    const interp = await machine('interpreter');
    runInSlices(interp);
    for (const notThunk of [false, true]) {
      const core = await machine('regions', notThunk);
      for (let i = 0; i < 100 && core.run(1_000_000) !== 'hlt'; i++);
      for (const r of ['eax', 'ebx', 'ecx', 'edx', 'esp', 'esi', 'edi', 'ebp'] as const) expect(core.reg(r), r).toBe(interp.reg(r));
      chained.push(core.jitStats.chained);
    }
    // The call to the thunk and its RET chained in each iteration only where F4 was not one, or
    // no longer one: in the second half both go through F4's translation (LOOPS chained entries).
    expect(chained[0]).toBeLessThan(chained[1]! - LOOPS / 2);
  });

  it.runIf(TAIL_CALLS)('returns inside a region to the return site of its own call, and leaves for any other return address', async () => {
    // A loop calls a function on its own page, which every 8th time moves its return address
    // past the return site's first instruction (ADD EBX, 1). One region holds both: its RET goes
    // on at the return site inside the function when the address is the one the CALL pushed.
    const N = 400, F = BASE + 0x40;
    const build = async (mode: 'interpreter' | 'regions') => {
      const core = await bareCore(4 << 20);
      put(core, BASE, [
        0xe8, ...le32(F - (BASE + 5)), // 0: call F
        0x83, 0xc3, 0x01, // 5: add ebx, 1
        0x49, // 8: dec ecx
        0x75, 0xf5, // 9: jnz 0
        0xf4, // 11: hlt
      ]);
      put(core, F, [
        0xf6, 0xc1, 0x07, // test cl, 7
        0x75, 0x04, // jnz +4
        0x83, 0x04, 0x24, 0x03, // add dword [esp], 3: return to 8
        0x01, 0xce, // add esi, ecx
        0xc3, // ret
      ]);
      enterFlat32(core, BASE, { ecx: N, esp: BASE - 16 });
      if (mode === 'interpreter') core.setBlockCache(false);
      else core.setJitThreshold(20);
      return core;
    };
    const interp = await build('interpreter');
    const expected = runInSlices(interp);
    const core = await build('regions');
    expect(runInSlices(core)).toEqual(expected);
    for (const r of ['eax', 'ebx', 'ecx', 'edx', 'esp', 'esi', 'edi', 'ebp'] as const) expect(core.reg(r), r).toBe(interp.reg(r));
    expect(interp.reg('ebx')).toBe(N - N / 8);
    // Without returns inside the region every RET would leave it (N chained entries at least);
    // with them only the iterations that moved their return address leave, and come back.
    const warm = await build('regions');
    for (let i = 0; i < 100 && warm.run(1_000_000) !== 'hlt'; i++);
    expect(warm.jitStats.chained).toBeLessThan(N / 2);
  });

  it.each([1, 20])('follows a code page that INVLPG remapped, in translations linked to it (threshold %i)', async (threshold) => {
    // Paging: an identity map of the low 4 MiB, but linear CODE_X maps P1 (MOV EAX, 1; RET), then
    // P2 (MOV EAX, 2; RET) after the loop rewrites its PTE and invalidates it.
    const PD = 0x20_0000, PT = 0x20_1000, CODE_X = 0x30_0000, P1 = 0x31_0000, P2 = 0x32_0000;
    const N = 200;
    const core = await bareCore(4 << 20);
    const ram = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
    ram.setUint32(PD, PT | 3, true);
    for (let i = 0; i < 1024; i++) ram.setUint32(PT + i * 4, (i << 12) | 3, true);
    const pte = PT + (CODE_X >>> 12) * 4;
    ram.setUint32(pte, P1 | 3, true);
    put(core, P1, [0xb8, ...le32(1), 0xc3]);
    put(core, P2, [0xb8, ...le32(2), 0xc3]);
    const code = [
      0xe8, ...le32(CODE_X - (BASE + 5)), // 0: call CODE_X
      0x01, 0xc3, // 5: add ebx, eax
      0x49, // 7: dec ecx
      0x75, 0xf6, // 8: jnz 0
      0xc7, 0x05, ...le32(pte), ...le32(P2 | 3), // 10: mov dword [pte], P2 | P | RW
      0x0f, 0x01, 0x3d, ...le32(CODE_X), // 20: invlpg [CODE_X]
      0xb9, ...le32(N), // 27: mov ecx, N
    ];
    const loop2 = BASE + code.length;
    code.push(0xe8, ...le32(CODE_X - (loop2 + 5)), 0x01, 0xc2, 0x49, 0x75, 0xf6, 0xf4); // call; add edx, eax; dec ecx; jnz; hlt
    put(core, BASE, code);
    enterFlat32(core, BASE, { ecx: N, esp: BASE - 16 }, PD);
    core.setJitThreshold(threshold);
    for (let i = 0; i < 100 && core.run(1_000_000) !== 'hlt'; i++);
    expect(core.reg('ebx')).toBe(N);
    expect(core.reg('edx')).toBe(2 * N);
    expect(core.jitStats.chained).toBeGreaterThan(N);
  });

  it.each([1, 20])('follows a code page that a CR3 load maps elsewhere, in translations and links made before (threshold %i)', async (threshold) => {
    // Two address spaces: both map the low 4 MiB one to one, but linear CODE_X is P1 (MOV EAX, 1;
    // RET) in the first and P2 (MOV EAX, 2; RET) in the second. The loop calls CODE_X, and every
    // 16th time loads CR3 with the other page directory. TLB flushes leave block links and chain
    // cells in place (each checks the TLB entry of its target's page): none of them may run
    // P1's translation after the switch to P2.
    const PD_A = 0x20_0000, PD_B = 0x20_1000, PT_A = 0x20_2000, PT_B = 0x20_3000;
    const CODE_X = 0x30_0000, P1 = 0x31_0000, P2 = 0x32_0000;
    const N = 200;
    const core = await bareCore(4 << 20);
    const ram = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
    for (const [pd, pt, frame] of [[PD_A, PT_A, P1], [PD_B, PT_B, P2]] as const) {
      ram.setUint32(pd, pt | 3, true);
      for (let i = 0; i < 1024; i++) ram.setUint32(pt + i * 4, (i << 12) | 3, true);
      ram.setUint32(pt + (CODE_X >>> 12) * 4, frame | 3, true);
    }
    put(core, P1, [0xb8, ...le32(1), 0xc3]);
    put(core, P2, [0xb8, ...le32(2), 0xc3]);
    put(core, BASE, [
      0xe8, ...le32(CODE_X - (BASE + 5)), // 0: call CODE_X
      0x01, 0xc3, // 5: add ebx, eax
      0xf6, 0xc1, 0x0f, // 7: test cl, 15
      0x75, 0x0b, // 10: jnz 23
      0x0f, 0x20, 0xd8, // 12: mov eax, cr3
      0x35, ...le32(PD_A ^ PD_B), // 15: xor eax, PD_A ^ PD_B
      0x0f, 0x22, 0xd8, // 20: mov cr3, eax
      0x49, // 23: dec ecx
      0x75, 0xe6, // 24: jnz 0
      0xf4, // 26: hlt
    ]);
    enterFlat32(core, BASE, { ecx: N, esp: BASE - 16 }, PD_A);
    core.setJitThreshold(threshold);
    for (let i = 0; i < 100 && core.run(1_000_000) !== 'hlt'; i++);
    let expected = 0, second = false;
    for (let ecx = N; ecx > 0; ecx--) {
      expected += second ? 2 : 1;
      if ((ecx & 15) === 0) second = !second;
    }
    expect(core.reg('ecx')).toBe(0);
    expect(core.reg('ebx')).toBe(expected);
    expect(core.jitStats.translations).toBeGreaterThan(0);
  });
});
