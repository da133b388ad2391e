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

/** A machine set to run from the interpreter alone, or translated at a block's first run ('chain') or after 20 runs ('regions'). */
function runAs(core: Core, mode: 'interpreter' | 'chain' | 'regions'): Core {
  if (mode === 'interpreter') core.setBlockCache(false);
  else core.setJitThreshold(mode === 'regions' ? 20 : 1);
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
      chained.push(core.jitStats.chained + core.jitStats.returns);
    }
    // The call to the thunk and its RET went from translation to translation (a chained entry
    // and a return into the waiting caller, jit/calls.ts) in each iteration only where F4 was
    // not one, or no longer one: in the second half both go through F4's translation.
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
      return runAs(core, mode);
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

  it.runIf(TAIL_CALLS)('returns into the caller waiting in its frame, and unwinds when a return goes elsewhere', async () => {
    // A loop on page A calls B, and B and C call each other EDX = ECX & 63 deep, deeper than
    // the frames that may wait (jit/calls.ts MAX_DEPTH). Every 8th iteration C returns one byte
    // past its return site in B, which no waiting frame expects; every 16th it rewrites the
    // immediate of A's return site while A waits, so A's code is not what it was at the CALL.
    const N = 600, A = BASE, B = BASE + 0x1000, C = BASE + 0x2000;
    const build = async (mode: 'interpreter' | 'regions' | 'chain') => {
      const core = await bareCore(4 << 20);
      put(core, A, [
        0x89, 0xca, // 0: mov edx, ecx
        0x83, 0xe2, 0x3f, // 2: and edx, 63
        0xe8, ...le32(B - (A + 10)), // 5: call B
        0x83, 0xc3, 0x01, // 10: add ebx, 1 (the immediate at 12 is rewritten)
        0x01, 0xc6, // 13: add esi, eax
        0x49, // 15: dec ecx
        0x75, 0xee, // 16: jnz 0
        0xf4, // 18: hlt
      ]);
      const recurse = (self: number, other: number) => [
        0x85, 0xd2, // 0: test edx, edx
        0x74, 0x07, // 2: jz 11
        0x4a, // 4: dec edx
        0xe8, ...le32(other - (self + 10)), // 5: call other
        0x42, // 10: inc edx
      ];
      put(core, B, [...recurse(B, C), 0x40, 0xc3]); // 11: inc eax; ret
      put(core, C, [
        ...recurse(C, B),
        0xf6, 0xc1, 0x0f, // 11: test cl, 15
        0x75, 0x06, // 14: jnz 22
        0x88, 0x0d, ...le32(A + 12), // 16: mov [A + 12], cl
        0x89, 0xcf, // 22: mov edi, ecx
        0x83, 0xe7, 0x07, // 24: and edi, 7
        0x83, 0xff, 0x03, // 27: cmp edi, 3
        0x75, 0x04, // 30: jne 36
        0x83, 0x04, 0x24, 0x01, // 32: add dword [esp], 1: past B's INC EDX
        0x83, 0xc0, 0x02, // 36: add eax, 2
        0xc3, // 39: ret
      ]);
      enterFlat32(core, A, { ecx: N, esp: BASE - 16 });
      return runAs(core, mode);
    };
    const interp = await build('interpreter');
    const expected = runInSlices(interp);
    for (const mode of ['regions', 'chain'] as const) {
      const core = await build(mode);
      expect(runInSlices(core), mode).toEqual(expected);
      for (const r of ['eax', 'ebx', 'ecx', 'edx', 'esp', 'esi', 'edi', 'ebp'] as const) expect(core.reg(r), `${mode} ${r}`).toBe(interp.reg(r));
      expect(core.jitStats.failures).toBe(0);
    }
    // Run whole, most returns went back into the frame of the translation that made the call.
    const warm = await build('chain');
    for (let i = 0; i < 100 && warm.run(1_000_000) !== 'hlt'; i++);
    expect(warm.reg('ebx')).toBe(interp.reg('ebx'));
    expect(warm.jitStats.returns).toBeGreaterThan(N * 10);
  });

  it.runIf(TAIL_CALLS)('returns into the waiting caller from RET imm16 too', async () => {
    // The loop pushes an argument and calls F on another page, which pops it with RET 4.
    const N = 300, F = BASE + 0x1000;
    const build = async (mode: 'interpreter' | 'chain') => {
      const core = await bareCore(4 << 20);
      put(core, BASE, [
        0x50, // 0: push eax
        0xe8, ...le32(F - (BASE + 6)), // 1: call F
        0x01, 0xd8, // 6: add eax, ebx
        0x49, // 8: dec ecx
        0x75, 0xf5, // 9: jnz 0
        0xf4, // 11: hlt
      ]);
      put(core, F, [0x43, 0xc2, 0x04, 0x00]); // inc ebx; ret 4
      enterFlat32(core, BASE, { ecx: N, esp: BASE - 16 });
      return runAs(core, mode);
    };
    const interp = await build('interpreter');
    const expected = runInSlices(interp);
    const core = await build('chain');
    expect(runInSlices(core)).toEqual(expected);
    for (const r of ['eax', 'ebx', 'ecx', 'esp'] as const) expect(core.reg(r), r).toBe(interp.reg(r));
    const warm = await build('chain');
    for (let i = 0; i < 100 && warm.run(1_000_000) !== 'hlt'; i++);
    expect(warm.reg('eax')).toBe(interp.reg('eax'));
    expect(warm.jitStats.returns).toBeGreaterThan(N / 2);
  });

  it.runIf(TAIL_CALLS)('goes on in the waiting caller only while its page maps the same code, and faults there at its own EIP', async () => {
    // The loop runs at linear CODE_X, which maps P1 or P2: the same code but for the immediate
    // of its return site's ADD. Every 16th iteration the function it calls maps the other page
    // (a PTE write and INVLPG) and returns, so the waiting caller's code is not what it was at
    // the CALL. Half of the iterations then read an absent page after the return site; the #PF
    // handler adds the faulting EIP to EDI and resumes after the load.
    const PD = 0x20_0000, PT = 0x20_1000, CODE_X = 0x30_0000, P1 = 0x31_0000, P2 = 0x32_0000, HOLE = 0x34_0000;
    const GDT = 0x1000, IDT = 0x2000, TABLES = 0x1800, F = BASE + 0x1000, H = BASE + 0x3000, N = 200;
    const pte = PT + (CODE_X >>> 12) * 4;
    const build = async (mode: 'interpreter' | 'regions' | 'chain') => {
      const core = await bareCore(4 << 20);
      const ram = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
      ram.setUint32(PD, PT | 3, true);
      for (let i = 0; i < 1024; i++) ram.setUint32(PT + i * 4, (i << 12) | 3, true);
      ram.setUint32(pte, P1 | 3, true);
      ram.setUint32(PT + (HOLE >>> 12) * 4, 0, true);
      // GDT: null, flat code (0x08), flat data (0x10); the IDT's #PF gate goes to H.
      ram.setUint32(GDT + 8, 0x0000ffff, true); ram.setUint32(GDT + 12, 0x00cf9b00, true);
      ram.setUint32(GDT + 16, 0x0000ffff, true); ram.setUint32(GDT + 20, 0x00cf9300, true);
      ram.setUint32(IDT + 14 * 8, (0x08 << 16) | (H & 0xffff), true); ram.setUint32(IDT + 14 * 8 + 4, (H & 0xffff0000) | 0x8e00, true);
      ram.setUint16(TABLES, 23, true); ram.setUint32(TABLES + 2, GDT, true);
      ram.setUint16(TABLES + 8, 15 * 8 - 1, true); ram.setUint32(TABLES + 10, IDT, true);
      put(core, BASE, [
        0x0f, 0x01, 0x15, ...le32(TABLES), // lgdt [TABLES]
        0x0f, 0x01, 0x1d, ...le32(TABLES + 8), // lidt [TABLES + 8]
        0xe9, ...le32(CODE_X - (BASE + 19)), // jmp CODE_X
      ]);
      const loop = (imm: number) => [
        0xe8, ...le32(F - (CODE_X + 5)), // 0: call F
        0x83, 0xc3, imm, // 5: add ebx, imm
        0xf6, 0xc1, 0x04, // 8: test cl, 4
        0x74, 0x02, // 11: jz 15
        0x8b, 0x06, // 13: mov eax, [esi]: #PF
        0x49, // 15: dec ecx
        0x75, 0xee, // 16: jnz 0
        0xf4, // 18: hlt
      ];
      put(core, P1, loop(1));
      put(core, P2, loop(2));
      put(core, F, [
        0xf6, 0xc1, 0x0f, // 0: test cl, 15
        0x75, 0x11, // 3: jnz 22
        0x81, 0x35, ...le32(pte), ...le32(P1 ^ P2), // 5: xor dword [pte], P1 ^ P2
        0x0f, 0x01, 0x3d, ...le32(CODE_X), // 15: invlpg [CODE_X]
        0xc3, // 22: ret
      ]);
      put(core, H, [
        0x8b, 0x6c, 0x24, 0x04, // mov ebp, [esp + 4]: the faulting EIP
        0x01, 0xef, // add edi, ebp
        0x83, 0x44, 0x24, 0x04, 0x02, // add dword [esp + 4], 2: past the load
        0x83, 0xc4, 0x04, // add esp, 4: the error code
        0xcf, // iret
      ]);
      enterFlat32(core, BASE, { ecx: N, esp: BASE - 16 }, PD);
      core.setReg('esi', HOLE);
      return runAs(core, mode);
    };
    const interp = await build('interpreter');
    const expected = runInSlices(interp);
    expect(interp.reg('edi')).toBe(Math.imul(N / 2, CODE_X + 13) >>> 0);
    for (const mode of ['regions', 'chain'] as const) {
      const core = await build(mode);
      expect(runInSlices(core), mode).toEqual(expected);
      for (const r of ['eax', 'ebx', 'ecx', 'edx', 'esp', 'esi', 'edi', 'ebp'] as const) expect(core.reg(r), `${mode} ${r}`).toBe(interp.reg(r));
    }
    const warm = await build('chain');
    for (let i = 0; i < 100 && warm.run(1_000_000) !== 'hlt'; i++);
    expect(warm.reg('ebx')).toBe(interp.reg('ebx'));
    expect(warm.reg('edi')).toBe(interp.reg('edi'));
    expect(warm.jitStats.returns).toBeGreaterThan(N / 2);
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

  it.runIf(TAIL_CALLS)('chains into a region entered below its hot block, and leaves at that exit when the budget has no room', async () => {
    // Page C holds C: CALL G (on a third page); E: ADD EBX, 1; RET; and L: DEC EDX; JNZ L; JMP C.
    // The loop calls L with EDX = 3, then calls E itself. L runs three times per call, so its
    // region, gathered when L is hot, holds C and E, and E, the return site of C's call, is an
    // entry 11 bytes below the hot block. The loop's exit to E chains into L's translation there,
    // so its exit cell holds that entry (jit/emit.ts entryParam, with a negative offset). Random
    // budgets make the cell miss on the budget too, where the miss path's test for a marked cell
    // (jit/chain.ts markUntranslated) must not take the entry for a block header.
    const N = 300, C = BASE + 0x1000, E = C + 5, L = C + 0x10, G = BASE + 0x2000;
    const build = async (mode: 'interpreter' | 'regions') => {
      const core = await bareCore(4 << 20);
      put(core, BASE, [
        0xba, ...le32(3), // 0: mov edx, 3
        0xe8, ...le32(L - (BASE + 10)), // 5: call L
        0xe8, ...le32(E - (BASE + 15)), // 10: call E
        0x49, // 15: dec ecx
        0x75, 0xee, // 16: jnz 0
        0xf4, // 18: hlt
      ]);
      put(core, C, [0xe8, ...le32(G - E), 0x83, 0xc3, 0x01, 0xc3]); // call G; E: add ebx, 1; ret
      put(core, L, [0x4a, 0x75, 0xfd, 0xeb, (C - (L + 5)) & 0xff]); // dec edx; jnz L; jmp C
      put(core, G, [0xc3]); // ret
      enterFlat32(core, BASE, { ecx: N, esp: BASE - 16 });
      return runAs(core, mode);
    };
    const interp = await build('interpreter');
    const expected = runInSlices(interp);
    expect(interp.reg('ebx')).toBe(2 * N);
    const core = await build('regions');
    expect(runInSlices(core)).toEqual(expected);
    for (const r of ['eax', 'ebx', 'ecx', 'edx', 'esp'] as const) expect(core.reg(r), r).toBe(interp.reg(r));
    expect(core.jitStats.failures).toBe(0);
    // Run whole: three translations (the loop's, L's, G's); E was entered in L's, never
    // translated on its own; and most calls of E chained.
    const warm = await build('regions');
    for (let i = 0; i < 100 && warm.run(1_000_000) !== 'hlt'; i++);
    expect(warm.reg('ebx')).toBe(2 * N);
    expect(warm.jitStats.translations).toBe(3);
    expect(warm.jitStats.chained).toBeGreaterThan(2 * N);
  });
});
