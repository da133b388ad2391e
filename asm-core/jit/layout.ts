// What a translated module looks like from inside (jit/module.ts writes it, jit/emit.ts and
// jit/pending.ts fill its one function): the index of each import and the function's locals.

// ---- the module's imports, in index order (names are the core's exports, index.ts) ----
// Every helper has the one type T_HELPER, (i32 i32 i32) -> i32: the unused arguments are 0 and
// an unused result is dropped (jit/wasm.ts helper()); jitGo keeps its own, T_GO, as a tail call
// must match the translation's result. V8 (Node 20) compiles an import-call wrapper with
// TurboFan for each distinct signature among a module's imported functions, again for every
// module: a boot's modules compiled alone took 251-295 us each with a signature per kind of
// helper (seven), 151-188 us with these two.
export const F_DISPATCH: u32 = 0; // jitDispatch(handler, record)
// The slow paths take `at` last (jit/helpers.ts): where the instruction is, for a fault.
export const F_READ8: u32 = 1; // jitRead8/16/32(lin, at): value
export const F_WRITE8: u32 = 4; // jitWrite8/16/32(lin, value, at)
export const F_SEG_CHECK: u32 = 7; // jitSegCheck(segment | (size - 1) << 8 | write << 16, offset, at)
export const F_CHECK_WRITE: u32 = 8; // jitCheckWrite(lin, bytes, at)
export const F_FLAGS: u32 = 9; // jitFlags(pending flags' kind | fcf << 16, fa, fb), the result already in lazyResult
export const F_ROTATE_FLAGS: u32 = 10; // jitRotateFlags(CF | OF as EFLAGS bits)
export const F_X87: u32 = 11; // jitX87(record, offset, place | operand << 16): FSW, or -1 for the block loop's handler (jit/x87.ts)
export const F_GO: u32 = 12; // jitGo(table index), of type T_GO, tail-called: into that function (the host's, jit/chain.ts)
export const F_CHAIN_TARGET: u32 = 13; // jitChainTarget(cell): where a missed exit cell goes (jit/chain.ts)
export const F_IMPORTS: u32 = 14;

export const G_PC: u32 = 0;
export const G_INSTR_START: u32 = 1;
export const G_RETIRED: u32 = 2; // i64
export const G_ATTENTION: u32 = 3;
export const G_LAZY_OP: u32 = 4;
export const G_LAZY_RESULT: u32 = 5;
export const G_LAZY_SRC1: u32 = 6;
export const G_LAZY_SRC2: u32 = 7;
export const G_LAZY_SIZE: u32 = 8;
export const G_LAZY_MASK: u32 = 9;
export const G_FLAGS: u32 = 10;
// A slow path recorded a fault (jit/helpers.ts jitFault): the translation leaves at LEVEL_FAULT.
export const G_JIT_FAULT: u32 = 11;
export const G_IMPORTS: u32 = 12;

// ---- cells of the core's memory that translations use where a global would do ----
// What a transition between translations reads and writes is here, in one cache line, not in
// imported globals: V8 reaches an imported mutable global through the instance's table of
// their addresses, a memory cell at a constant address in one load. A translation entered
// from another is often cold (its instance too); the line of cells is the one its caller has
// just written. With the first three in memory, a call loop into another page's translation and
// back (two transitions) took 26.7-27.1 ns an iteration against 27.5-28.8 (the best of five,
// three alternating runs; Node 20 on an AMD EPYC host). With EIP, the retired count, the budget
// and the link epoch here too (so a chained transition touches no imported global but the
// lazy flags and `attention`), four alternating boots on an Intel Xeon: awk 1.025-1.039 s
// against 1.04-1.22, sort 4.19-4.33 s against 4.33-4.42, 300 fork+exec 1.28-1.33 s against
// 1.30-1.43. Passing the pending flags in cells too (the callee entering with them dynamic)
// made sort about 3% slower again: not kept.
const JIT_CELLS: u32 = <u32>memory.data(128, 64);
// The first cache line: what a translation is entered with and what it passes on.
/** Where the translation being called enters (jit/emit.ts entryParam): translations read it first. */
export const CELL_ENTRY_PARAM: u32 = JIT_CELLS;
/** EIP at the running translation's entry (its prologue sets it), for the slow paths (jit/helpers.ts). */
export const CELL_JIT_ENTRY: u32 = JIT_CELLS + 4;
/**
 * What a translation is entered with, from its caller (the block loop, cache.ts enter, or
 * another translation, jit/chain.ts): EIP, the retired count and the run's budget end (u64s).
 * The core's globals `pc` and `retired` are written only where the core gets control back.
 */
export const CELL_PC: u32 = JIT_CELLS + 8;
export const CELL_RETIRED: u32 = JIT_CELLS + 16;
export const CELL_BUDGET: u32 = JIT_CELLS + 24;
/** cpu/blocks.ts linkEpoch(), kept here by the core whenever it changes (setLinkEpochCell), for the exit cells' test. */
export const CELL_LINK_EPOCH: u32 = JIT_CELLS + 32;
/** How many calling translations wait in their frames for a return (jit/calls.ts). */
export const CELL_DEPTH: u32 = JIT_CELLS + 36;
/** Always 0: the TLB word of an exit cell that must never hold (jit/chain.ts markUntranslated). */
export const CELL_ZERO: u32 = JIT_CELLS + 40;
// The second: counters.
/** Translations entered from another, since power-on (u64; jit/chain.ts, index.ts jitStats). */
export const CELL_CHAINED: u32 = JIT_CELLS + 64;
/** Returns into a calling translation's frame, since power-on (u64; jit/calls.ts). */
export const CELL_RETURNS: u32 = JIT_CELLS + 72;

// Types: the translation's own () -> (), every helper's (i32 i32 i32) -> i32, jitGo's (i32) -> ().
export const T_V_V: u32 = 0, T_HELPER: u32 = 1, T_GO: u32 = 2;

// ---- locals: the eight registers, then the pending flags' operands, then scratch ----
export const L_FA: u32 = 8, L_FB: u32 = 9, L_FR: u32 = 10, L_FCF: u32 = 11;
export const L_OFF: u32 = 12, L_LIN: u32 = 13, L_E: u32 = 14, L_V: u32 = 15, L_T: u32 = 16, L_ADDR: u32 = 17;
export const L_EIP0: u32 = 18, L_BLK: u32 = 19, L_FK: u32 = 20, L_ROT: u32 = 21, L_CARRY: u32 = 22;
// L_CELL: the exit cell of a computed jump (jit/chain.ts), an address in the jump cache.
export const L_CELL: u32 = 23;
// A slow path in this run of the function set `attention` (the core's global, read after each
// slow path's call): the instruction's end leaves. A local, so the fast path tests no global.
export const L_BAIL: u32 = 24;
export const N_LOCALS: u32 = 25;
// Then two i64 locals: the retired count (the `retired` global's value, kept here between the
// points that hand it to the core: helper calls and exits) and the run's budget end (constant
// during a call: jitBudgetEnd).
export const L_RETIRED: u32 = N_LOCALS, L_BUDGET: u32 = N_LOCALS + 1;
export const N_LOCALS_I64: u32 = 2;

// ---- the function's shared exits (jit/emit.ts functionBody): blocks around the region's loop ----
// A site branches to one (brTo in jit/wasm.ts) with the target EIP in L_T and the pending flags
// described in L_FK (pending.ts kindToLocal), so each exit's code is written once per function.
/** Into the translation the exit cell names (jit/chain.ts), with the state already in memory. */
export const LEVEL_GO: u32 = 1;
/** Store the registers and flags, then as LEVEL_GO. */
export const LEVEL_CHAIN: u32 = 2;
/** Store the registers and flags and return to the block loop at L_T. */
export const LEVEL_LEAVE: u32 = 3;
/** A slow path recorded a fault: store the registers and flags and return (EIP and the retired count are the helper's). */
export const LEVEL_FAULT: u32 = 4;
