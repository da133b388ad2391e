// Video memory in the core (asm-core/mmu/phys.ts MEM_VRAM): a framebuffer window the guest reads
// and writes at RAM speed, whose bytes are the host's view (what the display renders), and whose
// writes the core reports once per window of the host's drawing (takeVramWrites re-arms the
// watch). Checked with guest code through the interpreter and the same loop run hot enough for
// the JIT, against the bytes the host sees.
import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/cpu/core.js';
import { bareCore, enterFlat32 as enter } from '../cpu/flat32.js';
import { CORE, haveBuildOutputs } from '../images.js';

const ready = haveBuildOutputs('the core tests (build/core.wasm)', [CORE]);
const FB = 0xe000_0000;

/** Enter flat 32-bit code at `eip`, out of the HLT the last program ended in. */
function enterFlat32(core: Core, eip: number, regs: Parameters<typeof enter>[2]): void {
  core.setU32('OFF_HALTED', 0);
  enter(core, eip, regs);
}
const VRAM = 1 << 20;

/** mov edi, FB; mov ecx, n; mov eax, value; rep stosd; mov eax, [FB + 4]; hlt */
function fill(n: number, value: number): number[] {
  const le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  return [0xbf, ...le(FB), 0xb9, ...le(n), 0xb8, ...le(value), 0xf3, 0xab, 0x8b, 0x05, ...le(FB + 4), 0xf4];
}

describe.skipIf(!ready)('video memory in the core', () => {
  it('guest writes land in the host\'s view, reads come back, and each drawing window sees the writes once', async () => {
    const core = await bareCore(4 << 20);
    const vram = core.initVram(VRAM);
    core.mapVram(FB);
    expect(core.takeVramWrites()).toBe(false);
    core.ram.set(fill(256, 0x11223344), 0x1000);
    enterFlat32(core, 0x1000, { esp: 0x8000 });
    expect(core.run(10_000)).toBe('hlt');
    expect(core.reg('eax')).toBe(0x11223344); // read back through the TLB
    expect(new Uint32Array(vram.buffer, vram.byteOffset, 256).every((v) => v === 0x11223344)).toBe(true);
    expect(core.takeVramWrites()).toBe(true);
    expect(core.takeVramWrites()).toBe(false); // nothing written since
    // Again, after the watch was re-armed: a write is seen again.
    core.ram.set(fill(1, 0x55667788), 0x1000);
    core.ramWritten(0x1000, 0x100); // new code where the old was decoded
    enterFlat32(core, 0x1000, { esp: 0x8000 });
    expect(core.run(10_000)).toBe('hlt');
    expect(vram[0]).toBe(0x88);
    expect(core.takeVramWrites()).toBe(true);
  });

  it('a hot loop translated by the JIT writes the same bytes and is seen after each re-arm', async () => {
    const core = await bareCore(4 << 20);
    const vram = core.initVram(VRAM);
    core.mapVram(FB);
    core.setJitThreshold?.(2);
    // loop: mov [edi], eax; add edi, 4; inc eax; dec ecx; jnz loop; hlt
    core.ram.set([0x89, 0x07, 0x83, 0xc7, 0x04, 0x40, 0x49, 0x75, 0xf7, 0xf4], 0x1000);
    for (let round = 0; round < 5; round++) {
      enterFlat32(core, 0x1000, { esp: 0x8000, ecx: 4096, eax: round << 16 });
      core.setReg('edi', FB);
      core.refreshState();
      expect(core.run(1_000_000)).toBe('hlt');
      const words = new Uint32Array(vram.buffer, vram.byteOffset, 4096);
      expect(words[0]).toBe(round << 16);
      expect(words[4095]).toBe((round << 16) + 4095);
      expect(core.takeVramWrites()).toBe(true);
    }
    if (core.jit.available) expect(core.jitStats.translations).toBeGreaterThan(0); // the loop ran translated
  });

  it('refuses a window over RAM, and an unmapped window is not video memory any more', async () => {
    const core = await bareCore(4 << 20);
    const vram = core.initVram(VRAM);
    expect(() => core.mapVram(0x10_0000)).toThrow(/would cover RAM/);
    core.mapVram(FB);
    core.mapVram(null);
    core.ram.set(fill(1, 0x12345678), 0x1000);
    enterFlat32(core, 0x1000, { esp: 0x8000 });
    expect(core.run(10_000)).toBe('hlt');
    expect(vram[0]).toBe(0); // the write went to the (empty) MMIO map
    expect(core.reg('eax')).toBe(0xffffffff); // and reads float high
    expect(core.takeVramWrites()).toBe(false);
  });
});
