// The core's dirty log (asm-core/mmu/dirty.ts), which live migration's pre-copy rounds rest on:
// every guest RAM page whose bytes changed since the last harvest must be in the log, or a
// migrated guest would resume with stale memory. The oracle is independent of the log: a copy
// of RAM taken at each harvest, compared page by page with RAM at the next one: every page that
// changed must be logged, and every page logged must be one the program writes (a page logged
// but unchanged costs a resend, not correctness). Covered: the interpreter, the string instructions' page-at-a-time fast
// path, translated code (JIT), the accessed and dirty bits a page walk sets, and DMA.
import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { DirtyLog } from '../../src/cpu/dirty-log.js';
import { bareCore, enterFlat32 as enter } from '../cpu/flat32.js';
import { CORE, haveBuildOutputs } from '../images.js';

const ready = haveBuildOutputs('the core tests (build/core.wasm)', [CORE]);
const RAM = 8 << 20;
const CODE = 0x1000;
const TABLE = 0x2000; // the addresses to write, read by LODSD (pages 2..3)

/** Each write stores 0x01010101 more than the one before, so a rewritten dword changes in every pass. */
const STEP = 0x0101_0101;
const le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/**
 * Forever: esi = TABLE, ecx = n: loop { lodsd; mov [eax], edx; add edx, STEP; dec ecx; jnz loop };
 * edi = stosAt, ecx = stosCount, eax = edx: rep stosd; jmp to the start. The host stops it by
 * the instruction budget, anywhere, harvests the log and goes on: no TLB flush in between, so
 * the log must re-arm by itself.
 */
function program(n: number, stosAt: number, stosCount: number): number[] {
  const code = [
    0xbe, ...le(TABLE), 0xb9, ...le(n),
    0xad, 0x89, 0x10, 0x81, 0xc2, ...le(STEP), 0x49, 0x75, 0xf4, // loop: 12 bytes, jnz -12
    0xbf, ...le(stosAt), 0xb9, ...le(stosCount), 0x89, 0xd0, 0xf3, 0xab,
  ];
  return [...code, 0xe9, ...le(-(code.length + 5))];
}

/** Pages whose bytes differ between `before` and RAM now. */
function changedPages(core: Core, before: Uint8Array): number[] {
  const ram = core.ram;
  const out: number[] = [];
  for (let p = 0; p < ram.length >>> 12; p++) {
    const a = new Uint32Array(before.buffer, p << 12, 1024);
    const b = new Uint32Array(ram.buffer, ram.byteOffset + (p << 12), 1024);
    for (let i = 0; i < 1024; i++) if (a[i] !== b[i]) { out.push(p); break; }
  }
  return out;
}

function randomTargets(rng: () => number, n: number, avoid: (page: number) => boolean): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const page = 16 + Math.floor(rng() * ((RAM >>> 12) - 16));
    if (avoid(page)) continue;
    out.push((page << 12) + ((Math.floor(rng() * 1024) << 2) & 0xffc));
  }
  return out;
}

/** Enter flat 32-bit code at `eip`, out of the HLT the last program ended in. */
function enterFlat32(core: Core, eip: number, regs: Parameters<typeof enter>[2], cr3?: number): void {
  core.setU32('OFF_HALTED', 0);
  enter(core, eip, regs, cr3);
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

describe.skipIf(!ready)('the dirty log of guest RAM', () => {
  for (const mode of ['interpreter', 'JIT'] as const) {
    it(`logs every page written, interval after interval, without a TLB flush between (${mode})`, async () => {
      const core = await bareCore(RAM);
      if (mode === 'JIT') {
        if (!core.jit.available) return;
        core.setJitThreshold(2);
      }
      const rng = lcg(mode === 'JIT' ? 7 : 3);
      // 300 scattered dwords, one crossing from page 0x50 into 0x51, and a string run over three pages.
      const stosAt = 0x100_ff0;
      const targets = [...randomTargets(rng, 299, (p) => p >= 0x100 && p <= 0x103), 0x50ffe];
      const table = new Uint8Array(targets.length * 4);
      targets.forEach((t, i) => table.set(le(t), i * 4));
      core.ram.set(table, TABLE);
      core.ram.set(program(targets.length, stosAt, 0x800), CODE);
      const mayWrite = new Set([...targets.map((t) => t >>> 12), 0x51, 0x100, 0x101, 0x102, 0x103]);
      enterFlat32(core, CODE, { esp: 0x8000, edx: 0x1000_0000 });
      const log = new DirtyLog(core);
      log.start();
      let wrote = 0;
      for (let round = 0; round < 40; round++) {
        const before = core.ram.slice();
        expect(core.run(200 + Math.floor(rng() * 3000))).toBe('budget');
        const changed = changedPages(core, before);
        const logged = log.harvest();
        for (const p of changed) expect(logged, `page ${p} changed but was not logged`).toContain(p);
        for (const p of logged) expect(mayWrite.has(p), `page ${p} logged but never written`).toBe(true);
        wrote += changed.length;
      }
      expect(wrote).toBeGreaterThan(40 * 50); // the rounds did write
      if (mode === 'JIT') expect(core.jitStats.translations).toBeGreaterThan(0);
      const stats = log.stats;
      expect(stats.on).toBe(true);
      expect(stats.byCpu).toBeGreaterThanOrEqual(wrote);
      expect(stats.harvests).toBe(40);
      log.stop();
      expect(log.stats.on).toBe(false);
    });
  }

  it('logs the page tables when a page walk sets accessed and dirty bits', async () => {
    const core = await bareCore(RAM);
    // Identity-map the first 8 MiB: page directory at 0x3000, tables at 0x4000 and 0x5000, A and D clear.
    const dv = new DataView(core.ram.buffer, core.ram.byteOffset);
    for (let t = 0; t < 2; t++) {
      dv.setUint32(0x3000 + t * 4, (0x4000 + t * 0x1000) | 0x3, true);
      for (let i = 0; i < 1024; i++) dv.setUint32(0x4000 + t * 0x1000 + i * 4, ((t * 1024 + i) << 12) | 0x3, true);
    }
    core.ram.set(program(1, 0x7_0000, 1), CODE);
    const log = new DirtyLog(core);
    log.start();
    const before = core.ram.slice();
    enterFlat32(core, CODE, { esp: 0x8000 }, 0x3000);
    core.setReg('esi', TABLE);
    core.setReg('edx', 0x1234);
    core.ram.set(le(0x60_0000), TABLE); // into the second table's range
    core.refreshState();
    const tableBefore = before.slice(TABLE, TABLE + 4);
    before.set(le(0x60_0000), TABLE); // the host's own write is not the guest's
    expect(core.run(5000)).toBe('budget');
    before.set(tableBefore, TABLE);
    const logged = log.harvest();
    const changed = changedPages(core, before).filter((p) => p !== TABLE >>> 12);
    expect(changed).toEqual(expect.arrayContaining([0x3, 0x4, 0x5, 0x600, 0x70]));
    for (const p of changed) expect(logged).toContain(p);
  });

  it('logs the host\'s DMA writes, and nothing while off', async () => {
    const core = await bareCore(RAM);
    const log = new DirtyLog(core);
    core.ram.fill(1, 0x10_0000, 0x10_0010);
    core.ramWritten(0x10_0000, 16);
    log.start();
    expect(log.harvest()).toEqual([]);
    core.ram.fill(2, 0x20_0ff0, 0x20_2010);
    core.ramWritten(0x20_0ff0, 0x1020);
    expect(log.harvest()).toEqual([0x200, 0x201, 0x202]);
    expect(log.stats.byDma).toBe(3);
    log.stop();
    core.ramWritten(0x30_0000, 16);
    log.start();
    expect(log.harvest()).toEqual([]);
  });
});
