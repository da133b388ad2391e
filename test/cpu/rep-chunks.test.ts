// A REP string instruction longer than one chunk (cpu/string.ts CHUNK, 4096 iterations) leaves
// itself between two iterations, EIP back on it, and resumes at the next step. Inside a decoded
// block (cpu/blocks.ts runBlocks) the records after it must not run meanwhile: the block loop goes
// on to a block's next record without comparing EIP, so the suspension has to hand control back
// to the run loop. Here the string instruction is followed, in the same block, by instructions
// that read what it changed (ECX, EDI, ESI, the stored bytes) and the result must equal the host
// CPU's, on all three of the core's paths.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreRunner } from './core-runner.js';
import { compareResults } from './compare.js';
import { DATA_BASE, STACK_BASE, type CaseResult, type TestCase } from './gen/case.js';
import { type HostMapping, NativeRunner } from './native/native-runner.js';

const PATHS = [
  { name: 'translated', blocks: true, jit: 1 },
  { name: 'block cache', blocks: true, jit: 0 },
  { name: 'step by step', blocks: false, jit: 0 },
] as const;

/** `code` with EDI, ESI, ECX and EAX set for a string instruction over the data pages. */
function stringCase(name: string, code: number[], count: number): TestCase {
  // eax ecx edx ebx esp ebp esi edi
  const regs = [0x5a5a_5a5a, count, 0x33, 0x44, STACK_BASE + 0x800, 0x66, DATA_BASE, DATA_BASE + 0x100];
  return { form: name, code: Uint8Array.from(code), regs, eflags: 0x202, seed: 11, pokes: [], undefFlags: 0, undefRegs: 0 };
}

// After the string instruction: ADD EDX, ECX; MOV EBX, EDI; SUB EBX, ESI; MOV EBP, [EDI-4]; INC EAX.
const AFTER = [0x01, 0xca, 0x89, 0xfb, 0x29, 0xf3, 0x8b, 0x6f, 0xfc, 0x40];
const CASES = [
  stringCase('REP STOSB, 5000 bytes', [0xf3, 0xaa, ...AFTER], 5000),
  stringCase('REP MOVSB, 6000 bytes', [0xf3, 0xa4, ...AFTER], 6000),
  stringCase('REP STOSD, 1800 dwords (one chunk)', [0xf3, 0xab, ...AFTER], 1800),
  stringCase('REPE SCASB, 4500 bytes', [0xc6, 0x07, 0x00, 0x31, 0xc0, 0xf3, 0xae, ...AFTER], 4500),
];

let native: CaseResult[] = [];
let mappings: HostMapping[] = [];
beforeAll(() => {
  const nr = NativeRunner.build();
  try { native = nr.run(CASES); mappings = nr.mappings; } finally { nr.dispose(); }
});
afterAll(() => { native = []; });

describe('a REP string instruction that suspends inside a block', () => {
  for (const path of PATHS) {
    it(`matches the host CPU (${path.name})`, async () => {
      const runner = await CoreRunner.create();
      runner.core.setBlockCache(path.blocks);
      runner.core.setJitThreshold(path.jit);
      CASES.forEach((c, i) => {
        expect(native[i].vector, `${c.form}: the native run ends at the INT3 after it`).toBe(3);
        const diffs = compareResults(c, native[i], runner.run(c), mappings);
        expect(diffs, `${c.form} (${path.name})`).toEqual([]);
      });
    });
  }
});
