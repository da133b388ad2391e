// Writing WebAssembly bytes: the cursor into the JIT's output buffer, LEB128 numbers, and the
// opcodes the translator uses (WebAssembly core specification 2.0, section 5 "Binary Format").

/** Where the next byte goes, and the end of the buffer (jit/cache.ts places it). */
export let out: u32 = 0;
export let outEnd: u32 = 0;
/** The buffer ran out: the translation is abandoned (nothing was written past outEnd). */
export let overflow: bool = false;

export function startOutput(at: u32, end: u32): void { out = at; outEnd = end; overflow = false; }
/**
 * Drop what was written after `at` (a trial pass, jit/emit.ts planRegisters), and whether it
 * ran out of room: the real pass is measured on its own (it is never longer).
 */
export function rewind(at: u32): void { out = at; overflow = false; }

@inline export function byte(b: u32): void {
  if (out >= outEnd) { overflow = true; return; }
  store<u8>(out++, <u8>b);
}

export function uleb(v: u32): void {
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v != 0) b |= 0x80;
    byte(b);
  } while (v != 0);
}

export function sleb(v: i32): void {
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0)) { byte(b); return; }
    byte(b | 0x80);
  }
}

export function sleb64(v: i64): void {
  for (;;) {
    const b = <u32>(v & 0x7f);
    v >>= 7;
    if ((v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0)) { byte(b); return; }
    byte(b | 0x80);
  }
}

/** A 5-byte LEB128 placeholder, patched later with the length of what follows it. */
export function reserveSize(): u32 { const at = out; for (let i = 0; i < 5; i++) byte(0x80); return at; }
export function patchSize(at: u32): void {
  if (overflow) return;
  let v = out - at - 5;
  for (let i: u32 = 0; i < 5; i++) {
    store<u8>(at + i, <u8>((v & 0x7f) | (i < 4 ? 0x80 : 0)));
    v >>>= 7;
  }
}

// ---- value types and block types ----
export const T_I32: u32 = 0x7f;
export const T_I64: u32 = 0x7e;
export const T_VOID: u32 = 0x40;

// ---- instructions ----
export const OP_BLOCK: u32 = 0x02;
export const OP_LOOP: u32 = 0x03;
export const OP_IF: u32 = 0x04;
export const OP_ELSE: u32 = 0x05;
export const OP_END: u32 = 0x0b;
export const OP_BR: u32 = 0x0c;
export const OP_BR_TABLE: u32 = 0x0e;
export const OP_RETURN: u32 = 0x0f;
export const OP_DROP: u32 = 0x1a;
export const OP_RETURN_CALL: u32 = 0x12; // tail calls (WebAssembly 3.0)
export const OP_CALL: u32 = 0x10;
export const OP_SELECT: u32 = 0x1b;
export const OP_LOCAL_GET: u32 = 0x20;
export const OP_LOCAL_SET: u32 = 0x21;
export const OP_LOCAL_TEE: u32 = 0x22;
export const OP_GLOBAL_GET: u32 = 0x23;
export const OP_GLOBAL_SET: u32 = 0x24;
export const OP_I32_LOAD: u32 = 0x28;
export const OP_I64_LOAD: u32 = 0x29;
export const OP_I64_LOAD32_U: u32 = 0x35;
export const OP_I32_LOAD8_U: u32 = 0x2d;
export const OP_I32_LOAD16_U: u32 = 0x2f;
export const OP_I32_STORE: u32 = 0x36;
export const OP_I64_STORE: u32 = 0x37;
export const OP_I32_STORE8: u32 = 0x3a;
export const OP_I32_STORE16: u32 = 0x3b;
export const OP_I32_CONST: u32 = 0x41;
export const OP_I64_CONST: u32 = 0x42;
export const OP_I32_EQZ: u32 = 0x45;
export const OP_I32_EQ: u32 = 0x46;
export const OP_I32_NE: u32 = 0x47;
export const OP_I32_LT_S: u32 = 0x48;
export const OP_I32_LT_U: u32 = 0x49;
export const OP_I32_GT_S: u32 = 0x4a;
export const OP_I32_GT_U: u32 = 0x4b;
export const OP_I32_LE_S: u32 = 0x4c;
export const OP_I32_LE_U: u32 = 0x4d;
export const OP_I32_GE_S: u32 = 0x4e;
export const OP_I32_GE_U: u32 = 0x4f;
export const OP_I64_GT_S: u32 = 0x55;
export const OP_I64_GT_U: u32 = 0x56;
export const OP_I64_LE_S: u32 = 0x57;
export const OP_I64_LE_U: u32 = 0x58;
export const OP_I32_CLZ: u32 = 0x67;
export const OP_I32_CTZ: u32 = 0x68;
export const OP_I32_POPCNT: u32 = 0x69;
export const OP_I32_ADD: u32 = 0x6a;
export const OP_I32_SUB: u32 = 0x6b;
export const OP_I32_MUL: u32 = 0x6c;
export const OP_I32_AND: u32 = 0x71;
export const OP_I32_OR: u32 = 0x72;
export const OP_I32_XOR: u32 = 0x73;
export const OP_I32_SHL: u32 = 0x74;
export const OP_I32_SHR_S: u32 = 0x75;
export const OP_I32_SHR_U: u32 = 0x76;
export const OP_I32_ROTL: u32 = 0x77;
export const OP_I32_ROTR: u32 = 0x78;
export const OP_I64_ADD: u32 = 0x7c;
export const OP_I64_MUL: u32 = 0x7e;
export const OP_I64_SHR_S: u32 = 0x87;
export const OP_I32_WRAP_I64: u32 = 0xa7;
export const OP_I64_EXTEND_I32_S: u32 = 0xac;
export const OP_I64_EXTEND_I32_U: u32 = 0xad;
export const OP_I32_EXTEND8_S: u32 = 0xc0;
export const OP_I32_EXTEND16_S: u32 = 0xc1;

// ---- short forms ----
@inline export function op(o: u32): void { byte(o); }
export function i32c(v: u32): void { byte(OP_I32_CONST); sleb(<i32>v); }
export function i64c(v: i64): void { byte(OP_I64_CONST); sleb64(v); }
export function lget(l: u32): void { byte(OP_LOCAL_GET); uleb(l); }
export function lset(l: u32): void { byte(OP_LOCAL_SET); uleb(l); }
export function ltee(l: u32): void { byte(OP_LOCAL_TEE); uleb(l); }
export function gget(g: u32): void { byte(OP_GLOBAL_GET); uleb(g); }
export function gset(g: u32): void { byte(OP_GLOBAL_SET); uleb(g); }
export function call(f: u32): void { byte(OP_CALL); uleb(f); }
/**
 * Call helper `f` (jit/layout.ts T_HELPER) with the `args` arguments already pushed: the rest
 * are 0; the result stays on the stack only when `result`.
 */
export function helper(f: u32, args: u32, result: bool): void {
  for (let i = args; i < 3; i++) i32c(0);
  call(f);
  if (!result) op(OP_DROP);
}
/** A memory instruction with its alignment hint and constant offset. */
export function mem(o: u32, align: u32, offset: u32): void { byte(o); uleb(align); uleb(offset); }
// Structured control: `depth` counts the blocks, loops and ifs open in the function being written,
// so that a branch to an enclosing label can be written from any depth (brTo).
export let depth: u32 = 0;
export function startFunction(): void { depth = 0; hintCount = 0; }

// ---- branch hints (the branch hinting proposal: a custom section "metadata.code.branch_hint") ----
// The slow paths (a TLB miss, a fault, a bail-out, the budget) are marked unlikely, so that the
// engine compiles them as deferred code, out of the hot path.
export const HINTS_MAX: u32 = 4096;
/** Per hint: the `if`'s offset from the start of the function's body (its locals), and 1 likely / 0 unlikely. */
export const hintOffsets = memory.data(HINTS_MAX * 4);
export const hintValues = memory.data(HINTS_MAX);
export let hintCount: u32 = 0;
let bodyStart: u32 = 0;
/** The function's body (its locals' declarations) starts at `out` now (jit/module.ts). */
export function startBody(): void { bodyStart = out; }
function hint(likely: bool): void {
  if (hintCount == HINTS_MAX) return;
  store<u32>(hintOffsets + (hintCount << 2), out - bodyStart);
  store<u8>(hintValues + hintCount, likely ? 1 : 0);
  hintCount++;
}
/** An `if` whose condition is almost always true (likely) or false. */
export function ifVoidHint(likely: bool): void { hint(likely); ifVoid(); }
export function ifI32Hint(likely: bool): void { hint(likely); ifI32(); }
export function blockVoid(): void { byte(OP_BLOCK); byte(T_VOID); depth++; }
export function loopVoid(): void { byte(OP_LOOP); byte(T_VOID); depth++; }
export function ifVoid(): void { byte(OP_IF); byte(T_VOID); depth++; }
export function ifI32(): void { byte(OP_IF); byte(T_I32); depth++; }
export function end(): void { byte(OP_END); depth--; }
/** Branch to the label of the block opened when `depth` became `level`. */
export function brTo(level: u32): void { byte(OP_BR); uleb(depth - level); }
export function els(): void { byte(OP_ELSE); }
