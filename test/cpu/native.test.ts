// Checks the native harness itself against facts that do not depend on it: arithmetic computed
// in JavaScript, the architectural exception for known faulting instructions, and the memory
// image that the TypeScript side derives from the same seed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_BASE, CODE_ENTRY, type CaseResult, DATA_BASE, STACK_BASE, type TestCase, memoryImage } from './gen/case.js';
import { NativeRunner } from './native/native-runner.js';

const START = CODE_BASE + CODE_ENTRY;
let runner: NativeRunner;
beforeAll(() => { runner = NativeRunner.build(); });
afterAll(() => runner?.dispose());

function mk(code: number[], regs: Partial<Record<number, number>> = {}, eflags = 0x202, seed = 7): TestCase {
  const r = [0x11, 0x22, 0x33, 0x44, STACK_BASE + 0x800, 0x66, 0x77, 0x88].map((v, i) => regs[i] ?? v);
  return { form: 't', code: Uint8Array.from(code), regs: r, eflags, seed, pokes: [], undefFlags: 0, undefRegs: 0 };
}
const run1 = (c: TestCase): CaseResult => runner.run([c])[0];

describe('native harness', () => {
  it('computes ADD like JavaScript does, flags included', () => {
    const pairs = [[1, 2], [0xffff_ffff, 1], [0x7fff_ffff, 1], [0x8000_0000, 0x8000_0000], [0x1234_5678, 0x9abc_def0]];
    const res = runner.run(pairs.map(([a, b]) => mk([0x01, 0xd8], { 0: a, 3: b }))); // add eax, ebx
    pairs.forEach(([a, b], i) => {
      const sum = (a + b) >>> 0;
      const r = res[i];
      expect(r.vector).toBe(3); // the INT3 landing after the instruction
      expect(r.eip).toBe(START + 3);
      expect(r.regs[0]).toBe(sum);
      expect(r.eflags & 1).toBe(a + b > 0xffff_ffff ? 1 : 0);
      expect((r.eflags >> 6) & 1).toBe(sum === 0 ? 1 : 0);
      expect((r.eflags >> 7) & 1).toBe(sum >>> 31);
      const of = ((a ^ sum) & (b ^ sum)) >>> 31;
      expect((r.eflags >> 11) & 1).toBe(of);
    });
  });

  it('reports #DE at the faulting instruction with registers untouched', () => {
    const r = run1(mk([0xf7, 0xf1], { 1: 0 })); // div ecx
    expect(r.vector).toBe(0);
    expect(r.eip).toBe(START);
    expect(r.regs[0]).toBe(0x11);
  });

  it('reports #PF with CR2 and a user-mode read error code', () => {
    const r = run1(mk([0xa1, 0x78, 0x56, 0x34, 0x12])); // mov eax, [0x12345678]
    expect(r.vector).toBe(14);
    expect(r.cr2).toBe(0x1234_5678);
    expect(r.error & 7).toBe(4);
    const w = run1(mk([0x89, 0x07], { 7: CODE_BASE })); // mov [edi], eax into the read-only code page
    expect(w.vector).toBe(14);
    expect(w.error & 7).toBe(7);
  });

  it('reports #UD, #GP(0) and #BP', () => {
    expect(run1(mk([0x0f, 0x0b])).vector).toBe(6);
    const gp = run1(mk([0xf4]));
    expect([gp.vector, gp.error, gp.eip]).toEqual([13, 0, START]);
    const bp = run1(mk([0xcc, 0x90]));
    expect([bp.vector, bp.eip]).toEqual([3, START + 1]);
  });

  it('derives the same memory image as the TypeScript side and reports writes', () => {
    const img = memoryImage(1234, []);
    const r = run1(mk([0x8b, 0x47, 0x40, 0x89, 0x47, 0x10], { 7: DATA_BASE }, 0x202, 1234)); // mov eax,[edi+0x40]; mov [edi+0x10],eax
    const word = new DataView(img.buffer).getUint32(0x40, true);
    expect(r.regs[0]).toBe(word);
    const expected = [0, 1, 2, 3].map((i) => ({ addr: DATA_BASE + 0x10 + i, value: (word >>> (8 * i)) & 0xff }))
      .filter((x) => x.value !== img[0x10 + x.addr - DATA_BASE - 0x10]);
    expect(r.changes).toEqual(expected);
  });

  it('loads EFLAGS and all registers, and pushes onto the stack page', () => {
    const r = run1(mk([0x9c], {}, 0x202 | 0x8d5)); // pushfd
    expect(r.regs[4]).toBe(STACK_BASE + 0x7fc);
    const pushed = r.changes.reduce((v, x) => v + x.value * 2 ** (8 * (x.addr - (STACK_BASE + 0x7fc))), 0);
    expect(pushed & 0xcd5).toBe(0x8d5);
    expect(r.regs.slice(5)).toEqual([0x66, 0x77, 0x88]);
  });
});
