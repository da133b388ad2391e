// Branch hints (asm-core/jit/wasm.ts, module.ts; src/cpu/jit-batch.ts merges them): every module
// the JIT compiles carries the custom section "metadata.code.branch_hint" before its code
// section, and each hint names an `if` instruction of its function (the branch hinting
// proposal: the offset counts from the first byte of the function's body, its locals). An engine
// skips a section it cannot use, so a hint at the wrong place would only make translations
// slower, silently: this reads the modules as compiled and checks every hint.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { bareCore, enterFlat32, runToHlt } from './flat32.js';

const BASE = 0x10_0000;

function uleb(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    const x = b[at++]!;
    v += (x & 0x7f) * 2 ** shift;
    if ((x & 0x80) === 0) return [v, at];
  }
}

/** Each function's body (from its locals to its end) and the hints of the module's section, by function index. */
function readModule(b: Uint8Array) {
  const bodies: Uint8Array[] = [];
  let importedFunctions = 0, hintsBeforeCode = false, codeSeen = false;
  const names: string[] = [];
  const hints = new Map<number, { offset: number; size: number; value: number }[]>();
  for (let at = 8; at < b.length;) {
    const id = b[at]!;
    const [size, from] = uleb(b, at + 1);
    const to = from + size;
    if (id === 2) {
      let [n, p] = uleb(b, from);
      for (; n > 0; n--) {
        for (let k = 0; k < 2; k++) { const [len, q] = uleb(b, p); names.push(new TextDecoder().decode(b.subarray(q, q + len))); p = q + len; } // module and name
        const kind = b[p++]!;
        if (kind === 0) { importedFunctions++; p = uleb(b, p)[1]; }
        else if (kind === 2) { const flags = b[p++]!; p = uleb(b, p)[1]; if (flags & 1) p = uleb(b, p)[1]; }
        else if (kind === 3) p += 2;
        else p = uleb(b, p + 1)[1]; // a tag: attribute, type
      }
    } else if (id === 0) {
      const [len, p0] = uleb(b, from);
      if (new TextDecoder().decode(b.subarray(p0, p0 + len)) === 'metadata.code.branch_hint') {
        hintsBeforeCode = !codeSeen;
        let [fns, p] = uleb(b, p0 + len);
        for (; fns > 0; fns--) {
          const [fn, q] = uleb(b, p);
          let [count, r] = uleb(b, q);
          const list: { offset: number; size: number; value: number }[] = [];
          for (; count > 0; count--) {
            const [offset, s1] = uleb(b, r);
            const [hintSize, s2] = uleb(b, s1);
            list.push({ offset, size: hintSize, value: b[s2]! });
            r = s2 + hintSize;
          }
          hints.set(fn, list);
          p = r;
        }
      }
    } else if (id === 10) {
      codeSeen = true;
      let [n, p] = uleb(b, from);
      for (; n > 0; n--) { const [len, q] = uleb(b, p); bodies.push(b.subarray(q, q + len)); p = q + len; }
    }
    at = to;
  }
  return { bodies, importedFunctions, hints, hintsBeforeCode, translation: names.includes('jitDispatch') };
}

describe('JIT branch hints', () => {
  afterEach(() => { vi.restoreAllMocks(); });

  it('mark an `if` of its own function at every offset, in every module compiled, merged or not', async () => {
    const compiled: Uint8Array[] = [];
    const Module = WebAssembly.Module;
    vi.spyOn(WebAssembly, 'Module').mockImplementation(function (bytes: BufferSource) {
      compiled.push(new Uint8Array(ArrayBuffer.isView(bytes) ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) : bytes).slice());
      return new Module(bytes);
    } as unknown as typeof WebAssembly.Module);
    // Pages of a loop body each: a load, a store (memory accesses with slow paths) and a jump to
    // the next page, so that several translations are asked for in one slice and merged.
    const pages = 12;
    const core = await bareCore(4 << 20);
    const ram = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
    for (let k = 0; k < pages; k++) {
      const at = BASE + k * 4096;
      core.ram.set([0x8b, 0x03, 0x01, 0x43, 0x04], at); // mov eax, [ebx]; add [ebx + 4], eax
      if (k < pages - 1) { core.ram[at + 5] = 0xe9; ram.setInt32(at + 6, 4096 - 10, true); } // jmp next page
      else { core.ram.set([0x49, 0x0f, 0x85], at + 5); ram.setInt32(at + 8, BASE - (at + 12), true); core.ram[at + 12] = 0xf4; } // dec ecx; jnz; hlt
    }
    enterFlat32(core, BASE, { ecx: 3000, ebx: 0x20_0000, esp: BASE - 16 });
    core.setJitThreshold(100);
    core.jit.batched = true;
    for (let i = 0; i < 200 && core.jitStats.translations < pages; i++) {
      core.run(5000);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (let i = 0; i < 1000 && core.jitStats.queued > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    runToHlt(core);
    expect(core.jitStats.failures).toBe(0);

    const modules = compiled.map(readModule).filter((m) => m.translation); // not the core's module, nor jitGo's
    expect(modules.length).toBeGreaterThan(0);
    expect(modules.some((m) => m.bodies.length > 1), 'some translations were merged into one module').toBe(true);
    let checked = 0;
    for (const m of modules) {
      expect(m.hintsBeforeCode).toBe(true);
      expect(m.hints.size).toBe(m.bodies.length);
      m.bodies.forEach((body, i) => {
        const list = m.hints.get(m.importedFunctions + i)!;
        expect(list.length).toBeGreaterThan(0);
        for (const h of list) {
          expect(h.size).toBe(1);
          expect([0, 1]).toContain(h.value);
          expect(body[h.offset], `hint at ${h.offset} of f${i}`).toBe(0x04); // `if`
          checked++;
        }
      });
    }
    expect(checked).toBeGreaterThan(pages);
  }, 60_000);
});
