// A translation as a whole WebAssembly module (WebAssembly core specification 2.0, 5.5 "Modules"):
// its types, its imports (the core's memory, helpers and globals, by their export names in
// index.ts, in the index order of jit/layout.ts), one function `f`
// and its body (jit/emit.ts).

import { byte, uleb, reserveSize, patchSize, end, out, overflow, rewind, startBody, hintCount, hintOffsets, hintValues, T_I32, T_I64 } from './wasm';
import { F_IMPORTS, G_IMPORTS, T_V_V, T_HELPER, T_GO, N_LOCALS, N_LOCALS_I64 } from './layout';
import { functionBody, planRegisters } from './emit';

function section(id: u32): u32 { byte(id); return reserveSize(); }
function name(s: string): void {
  uleb(<u32>s.length);
  for (let i = 0; i < s.length; i++) byte(<u32>s.charCodeAt(i));
}
function importFunc(s: string, type: u32): void { name('c'); name(s); byte(0); uleb(type); }
function importGlobal(s: string, type: u32): void { name('c'); name(s); byte(3); byte(type); byte(1); }

/** Write a whole module for the region gathered by jit/region.ts into the output buffer. */
export function translateRegion(): void {
  planRegisters();
  byte(0); byte(0x61); byte(0x73); byte(0x6d); byte(1); byte(0); byte(0); byte(0);
  let s = section(1);
  uleb(3);
  byte(0x60); uleb(0); uleb(0); // T_V_V
  byte(0x60); uleb(3); byte(T_I32); byte(T_I32); byte(T_I32); uleb(1); byte(T_I32); // T_HELPER
  byte(0x60); uleb(1); byte(T_I32); uleb(0); // T_GO
  patchSize(s);
  s = section(2);
  uleb(1 + F_IMPORTS + G_IMPORTS);
  // The core's memory is shared (asm-core/build.mjs): limits flag 3 = shared with a maximum, 1..65536 pages.
  name('c'); name('memory'); byte(2); byte(3); uleb(1); uleb(65536);
  importFunc('jitDispatch', T_HELPER);
  importFunc('jitRead8', T_HELPER); importFunc('jitRead16', T_HELPER); importFunc('jitRead32', T_HELPER);
  importFunc('jitWrite8', T_HELPER); importFunc('jitWrite16', T_HELPER); importFunc('jitWrite32', T_HELPER);
  importFunc('jitSegCheck', T_HELPER);
  importFunc('jitCheckWrite', T_HELPER);
  importFunc('jitFlags', T_HELPER);
  importFunc('jitRotateFlags', T_HELPER);
  importFunc('jitX87', T_HELPER);
  importFunc('jitGo', T_GO);
  importFunc('jitChainTarget', T_HELPER);
  importGlobal('pc', T_I32); importGlobal('instrStart', T_I32); importGlobal('retired', T_I64);
  importGlobal('attention', T_I32); importGlobal('lazyOp', T_I32); importGlobal('lazyResult', T_I32);
  importGlobal('lazySrc1', T_I32); importGlobal('lazySrc2', T_I32); importGlobal('lazySize', T_I32);
  importGlobal('lazyMask', T_I32); importGlobal('flagsReg', T_I32);
  importGlobal('jitFault', T_I32);
  patchSize(s);
  s = section(3); uleb(1); uleb(T_V_V); patchSize(s);
  s = section(7); uleb(1); name('f'); byte(0); uleb(F_IMPORTS); patchSize(s);
  const codeAt = out;
  s = section(10);
  uleb(1);
  const body = reserveSize();
  startBody();
  uleb(2); uleb(N_LOCALS); byte(T_I32); uleb(N_LOCALS_I64); byte(T_I64);
  functionBody();
  end();
  patchSize(body);
  patchSize(s);
  branchHints(codeAt);
}

const HINT_SECTION_MAX: u32 = 32 << 10;
const hintSection = memory.data(HINT_SECTION_MAX);

/**
 * The function's branch hints (jit/wasm.ts) as the custom section "metadata.code.branch_hint",
 * which must come before the code section (at `codeAt`): written after it, then moved there.
 * An engine without branch hinting skips the section.
 */
function branchHints(codeAt: u32): void {
  if (hintCount == 0 || overflow) return;
  const at = out;
  byte(0);
  const size = reserveSize();
  name('metadata.code.branch_hint');
  uleb(1); uleb(F_IMPORTS); uleb(hintCount);
  for (let i: u32 = 0; i < hintCount; i++) {
    uleb(load<u32>(hintOffsets + (i << 2))); uleb(1); byte(<u32>load<u8>(hintValues + i));
  }
  patchSize(size);
  const length = out - at;
  if (overflow || length > HINT_SECTION_MAX) { rewind(at); return; }
  memory.copy(hintSection, at, length);
  memory.copy(codeAt + length, codeAt, at - codeAt);
  memory.copy(codeAt, hintSection, length);
}
