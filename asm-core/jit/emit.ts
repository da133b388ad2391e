// The translator: a region of decoded blocks (jit/region.ts; their records as cpu/predecode.ts
// wrote them) becomes the body of one WebAssembly function (jit/module.ts wraps it in a module).
// jit/cache.ts has the host compile it and calls it in place of the first block's records.
//
// What the function does is exactly what the block loop (blocks.ts runBlocks) does with the same
// records, minus the work a translation can do once:
//  - guest registers live in Wasm locals: those the region uses are loaded at entry, those it
//    writes are stored at exits, helper calls and slow paths (planRegisters);
//  - the flag-setting operation stays pending in locals (jit/pending.ts);
//  - a memory access inlines the segment-limit check and the TLB fast path (mmu/access.ts);
//    only the slow path calls into the core, after storing registers and flags and passing the
//    instruction's place, so a fault leaves the interpreter's state (cpu/fault.ts);
//  - the forms it does not inline call the block loop's own handler (handlers.ts dispatch) on
//    the same record, so the interpreter and the translation cannot disagree on them;
//  - branches between the region's blocks stay inside the function.
// The function knows EIP only as an offset from its hot block's, which it finds from the EIP its
// caller passes (jit/layout.ts CELL_PC) and the entry it is called at (entryParam), so one
// translation serves every linear address its physical page is mapped at.

import {
  byte, uleb, op, i32c, out, rewind, i64c, lget, lset, ltee, gget, gset, ifVoid, ifVoidHint, els, end,
  blockVoid, loopVoid, brTo, startFunction, OP_I32_NE, OP_I32_EQ, OP_I32_OR, OP_I32_ADD,
  OP_I32_SUB, OP_I32_AND, OP_I32_SHR_S, OP_I64_ADD, OP_RETURN, OP_BR, OP_BR_TABLE, OP_I64_GT_U,
  OP_I32_LOAD, OP_I32_STORE, OP_I64_LOAD, OP_I64_STORE, OP_I32_XOR, OP_I64_EXTEND_I32_U, OP_I32_EQZ, mem, helper, depth,
} from './wasm';
import {
  F_DISPATCH, G_PC, G_INSTR_START, G_RETIRED, G_ATTENTION, CELL_JIT_ENTRY, CELL_ENTRY_PARAM, CELL_PC, L_T, L_BAIL, L_EIP0, L_RETIRED, L_BUDGET,
  L_BLK, L_FK, G_JIT_FAULT, LEVEL_GO, LEVEL_CHAIN, LEVEL_LEAVE, LEVEL_FAULT, L_E, CELL_RETURNS, L_OFF, L_LIN,
} from './layout';
import {
  PEND_DYNAMIC, PEND_ROTATE, pendKind, pendSize, pendCF, pendWithCarry, pendingKind, condition, kindToLocal, storeKindFromLocal,
} from './pending';
import { REC_SIZE, REC_HANDLER, REC_LEN, REC_DISP } from '../cpu/record';
import { H, blockEnd, keepsRegisters, END_NONE, END_BRANCH, END_JUMP, END_CALL, END_RETURN } from '../cpu/generated/handlers';
import { regionHeader, regionSize, regionFirst, regionCount, regionOffset, memberAt, returnSites, returnSiteCount, forcedEntries, REGION_MAX } from './region';
import { cellForExit, chainEpilogue, restartCells, cellMisses, chaining } from './chain';
import { callNoRoom, callAndWait, codePageEntry, expectedReturn, codeChanged } from './calls';
import {
  addRetired, flushRetired, loadRetired, blockBase, committed, eipAt, index, loadRegs, readMask, loadSet, nextOff, slowPath, spillInline,
  startOff, storeSet, storeRegs, used, written, setReg32, getReg32,
} from './operands';
import { inline } from './generated/inline';
import { thunkRegister, thunkTest } from './thunk';
import { pc, csBase } from '../cpu/live';
import { REG_ESP } from '../cpu/state';
import { H_LAST, H_BYTES } from '../cpu/blocks';
import { TLB_VALID } from '../mmu/tlb';

/**
 * Leave the function with EIP from local L_T, after `done` instructions of the block: into the
 * translation there (jit/chain.ts) if `chain`, else back to the block loop. `computed`: EIP
 * varies from run to run (RET, an indirect jump). Through the shared exits (functionBody), which
 * store the registers and the flags described in fk.
 */
function exitTo(done: u32, chain: bool, computed: bool = false, ret: bool = false): void {
  kindToLocal();
  addRetired(<i32>done - <i32>committed);
  if (ret && chaining) {
    // A RET to where the latest waiting caller expects it (jit/calls.ts): back into its frame.
    expectedReturn(); ifVoid(); brTo(LEVEL_LEAVE); end();
  }
  brTo(chain && cellForExit(computed) ? LEVEL_CHAIN : LEVEL_LEAVE);
}

/**
 * A CALL to code outside the region whose return site (EIP offset nextOff) is a member of it:
 * to the function's shared call exit (callExit), which calls into the callee's translation and
 * goes on at the return site when it comes back there (jit/calls.ts). False, with nothing
 * written, when the site cannot: then the caller writes the ordinary exit.
 */
function callAndReturn(to: u32, done: u32): bool {
  const k = memberAt(blockBase + nextOff);
  if (k < 0 || callLevel == 0 || !cellForExit(false)) return false;
  kindToLocal();
  addRetired(<i32>done - <i32>committed);
  eipAt(to); lset(L_T);
  eipAt(nextOff); lset(L_OFF);
  i32c(<u32>k); lset(L_BLK);
  i32c(load<u32>(regionCount + (<u32>k << 2))); lset(L_LIN);
  brTo(callLevel);
  return true;
}

/**
 * The shared call exit, after the region's blocks inside its loop (region): with the callee's EIP
 * in L_T, its exit cell in L_CELL, the pending flags as fk describes them, and the return site's
 * EIP, member and instruction count in L_OFF, L_BLK and L_LIN.
 */
function callExit(): void {
  // The state to memory, as for a chain (functionBody's LEVEL_CHAIN); the callee's EIP and the
  // retired count go in the entry cells (chain.ts cellTake) or, the other way, at LEVEL_GO.
  storeRegs(); storeKindFromLocal();
  codePageEntry(); lset(L_E);
  // Each test as a value that is zero when it passes, or'ed (chain.ts cellMisses says why).
  callNoRoom(); cellMisses(); op(OP_I32_OR);
  lget(L_E); i32c(readMask()); op(OP_I32_AND); i32c(TLB_VALID); op(OP_I32_XOR); op(OP_I32_OR);
  op(OP_I32_EQZ);
  ifVoidHint(true);
  callAndWait();
  // Back in this frame: on at the return site if a chain into it would go there now.
  gget(G_PC); lget(L_OFF); op(OP_I32_XOR);
  codeChanged(); op(OP_I32_OR);
  gget(G_ATTENTION); op(OP_I32_OR);
  gget(G_RETIRED); lget(L_LIN); op(OP_I64_EXTEND_I32_U); op(OP_I64_ADD); lget(L_BUDGET); op(OP_I64_GT_U);
  op(OP_I32_OR);
  op(OP_I32_EQZ);
  ifVoidHint(true);
  i32c(0); i32c(0); mem(OP_I64_LOAD, 3, CELL_RETURNS); i64c(1); op(OP_I64_ADD); mem(OP_I64_STORE, 3, CELL_RETURNS);
  // The callee's prologue set the slow paths' entry EIP: this translation's again.
  i32c(0); lget(L_EIP0); mem(OP_I32_STORE, 2, CELL_JIT_ENTRY);
  // The registers and retired count from the core, the flags in their globals (fk 0),
  // as at an entry; into member L_BLK.
  loadRegs(); gget(G_RETIRED); lset(L_RETIRED);
  i32c(0); lset(L_FK);
  brTo(loopLevel);
  end();
  op(OP_RETURN); // not back at the return site: the state is in memory, for whatever called this
  els();
  brTo(LEVEL_GO); // the ordinary way, a tail call (the cell may be refilled there)
  end();
}

/** The handler, on the record itself, with the state it reads stored first. */
function viaHandler(rec: u32, h: u32, last: bool, count: u32): void {
  // The state is in memory now: if the handler throws a fault, its exception passes through
  // this function to the run loop (cpu/fault.ts), after it may have changed the state (a REP
  // string instruction's progress); if it records one, this function returns, with the retired
  // count of the instructions before it.
  spillInline(); pendKind = -1;
  eipAt(startOff); gset(G_INSTR_START);
  eipAt(nextOff); gset(G_PC);
  addRetired(<i32>index - <i32>committed); committed = index;
  flushRetired();
  i32c(h); i32c(rec); helper(F_DISPATCH, 2, true);
  ifVoidHint(false); op(OP_RETURN); end();
  if (last) {
    addRetired(<i32>count - <i32>committed);
    flushRetired();
    // Go on into the translation at the new EIP, as the block loop would: whatever the handler
    // ran (the interpreter too: a system call, a segment load, an instruction across the page
    // end) either kept what translations assume or changed something the chain test checks
    // (jit/chain.ts): the code epoch for CS and code, the TLB entry for paging, the link
    // epoch's CPL 3 bit, and `attention` for the mode, a 16-bit stack, data segments that are
    // no longer flat, TF, RF, breakpoints, HLT and interrupts.
    // The handler left the registers and flags in memory: straight to the chain test.
    gget(G_PC); lset(L_T);
    // RET imm16 (the handler's): back into a waiting caller's frame as a RET would (jit/calls.ts).
    if (h == <u32>H.retImm && chaining) { expectedReturn(); ifVoid(); op(OP_RETURN); end(); }
    if (cellForExit(true)) brTo(LEVEL_GO); else op(OP_RETURN);
    return;
  }
  // The handler may have changed any register, unless it only writes memory or the x87.
  // (Not CPL: a handler inside a block cannot change it, and the TLB masks are constants.)
  if (!keepsRegisters(rec, h)) loadRegs();
  gget(G_RETIRED); lset(L_RETIRED);
  // A jump or a suspended string instruction moved EIP; or the run loop is wanted.
  gget(G_PC); eipAt(nextOff); op(OP_I32_NE); gget(G_ATTENTION); op(OP_I32_OR);
  ifVoidHint(false); addRetired(<i32>index + 1 - <i32>committed); flushRetired(); op(OP_RETURN); end();
}

// ---- a region: its blocks inside one loop, entered through a br_table on L_BLK ----
//   loop
//     block                        ;; only when a member calls out of the region (callsOut)
//       block (n times)
//         br_table on L_BLK        ;; depth j: to the body of block j
//       end  body 0
//       end  body 1 ...
//       end  body n-1
//     end  the shared call exit (callExit), which goes on at member L_BLK through the loop
//   end
// The bodies are in address order (region.ts), so a jump to a later body is a plain `br` out to
// the end of the block before it; only the entries (entryMask) and backward jumps (a loop) go
// through the br_table, with the body's number in L_BLK.
// The registers the region uses are in their locals at the top of each block (loaded at entry), and the
// pending flags are in fa..fcf with their kind in fk, or known (the block's start state, planRegisters).

/** Which region block is being translated. */
let member: u32 = 0;
/** The region's loop, for brTo: a branch there goes to the member in L_BLK. */
let loopLevel: u32 = 0;
/** The block whose end is the shared call exit (callExit), for brTo; 0 when the function has none. */
let callLevel: u32 = 0;

// ---- the pending flags at the top of each block ----
// A block that every edge reaches with the same pending operation (kind, size, where CF is)
// starts with it known, so a flag reader at its top (a second Jcc on one CMP, an INC or DEC,
// which keep CF) tests the locals instead of calling into the core; a block that edges reach
// with different ones starts with PEND_DYNAMIC (the kind in local fk). The region's entry
// reaches block 0 with the flags in their globals.
const STATE_DYNAMIC: u32 = 0xffff_ffff;
const STATE_UNSEEN: u32 = 0xffff_fffe;
/** The state each block assumes at its top, and the merge of what the edges written so far bring it. */
const startState = memory.data(REGION_MAX * 4);
const edgeState = memory.data(REGION_MAX * 4);

/** The pending operation after kindToLocal(), packed: 0 the flags are in their globals (a rotate's are stored there). */
function packState(): u32 {
  if (pendKind == PEND_DYNAMIC) return STATE_DYNAMIC;
  if (pendKind < 0 || pendKind == PEND_ROTATE) return 0;
  return pendingKind() | (pendWithCarry ? 1 << 14 : 0);
}
function unpackState(s: u32): void {
  pendCF = 0; pendWithCarry = false;
  if (s == STATE_DYNAMIC) { pendKind = PEND_DYNAMIC; return; }
  if (s == 0) { pendKind = -1; return; }
  pendKind = <i32>(s & 15) - 1; pendSize = (s >> 4) & 0xff; pendCF = (s >> 12) & 3; pendWithCarry = (s & (1 << 14)) != 0;
}
/** An edge into block k, written with the current pending state. */
function noteEdge(k: u32): void {
  const at = edgeState + (k << 2);
  const was = load<u32>(at), now = packState();
  store<u32>(at, was == STATE_UNSEEN || was == now ? now : STATE_DYNAMIC);
}

/**
 * The members the function can be entered at (bit k: member k): those region.ts forces (the
 * hot block, the blocks after a CALL), whose start state includes the entry's (the flags in
 * their globals), and every other member whose start state takes the entry's too, which adds
 * nothing to the code: the flags in their globals (0) or described by fk, which is 0 at entry.
 */
export let entryMask: u32 = 0;

/** What the caller passes a translation entered at member `k` (cpu/blocks.ts H_RUNS, jit/chain.ts): k and its EIP offset from the hot block. */
export function entryParam(k: u32): u32 { return (load<u32>(regionOffset + (k << 2)) << 8) | k; }

/**
 * Write the function without keeping it, to find which registers the region's code uses and
 * writes (loadSet, storeSet; the passes load and store all eight) and which pending state each
 * block can assume: every block starts dynamic; each pass gives a block the state all its
 * edges brought in the last pass, until no block's changes. A block's state can change what the
 * blocks after it bring (an INC keeps CF where it found it), hence the passes; if they do not
 * settle, every block starts dynamic, which takes any edge.
 */
export function planRegisters(): void {
  const mark = out;
  loadSet = 0xff; storeSet = 0xff;
  for (let k: u32 = 0; k < regionSize; k++) store<u32>(startState + (k << 2), STATE_DYNAMIC);
  let settled = false;
  for (let pass = 0; pass < 4 && !settled; pass++) {
    used = 0; written = 0;
    functionBody();
    rewind(mark);
    restartCells();
    settled = true;
    for (let k: u32 = 0; k < regionSize; k++) {
      const edges = load<u32>(edgeState + (k << 2));
      const next = edges == STATE_UNSEEN ? STATE_DYNAMIC : edges;
      if (next != load<u32>(startState + (k << 2))) { store<u32>(startState + (k << 2), next); settled = false; }
    }
  }
  if (!settled) for (let k: u32 = 0; k < regionSize; k++) store<u32>(startState + (k << 2), STATE_DYNAMIC);
  loadSet = used; storeSet = written;
  entryMask = forcedEntries;
  for (let k: u32 = 0; k < regionSize; k++) {
    const state = load<u32>(startState + (k << 2));
    if (state == 0 || state == STATE_DYNAMIC) entryMask |= 1 << k;
  }
}

/**
 * The function's body: the region of jit/region.ts, inside three blocks whose ends are the
 * shared exits (jit/layout.ts LEVEL_*). Writing each exit once, instead of at each of the sites
 * that leave (every call, return, slow path's fault, budget check and bail), made the functions
 * about 40% smaller.
 */
export function functionBody(): void {
  startFunction();
  // The entry (entryParam): the member in its low byte, its EIP offset from the hot block above.
  i32c(0);
  i32c(0); mem(OP_I32_LOAD, 2, CELL_PC); i32c(0); mem(OP_I32_LOAD, 2, CELL_ENTRY_PARAM); ltee(L_BLK); i32c(8); op(OP_I32_SHR_S); op(OP_I32_SUB); ltee(L_EIP0);
  mem(OP_I32_STORE, 2, CELL_JIT_ENTRY);
  lget(L_BLK); i32c(0xff); op(OP_I32_AND); lset(L_BLK);
  loadRegs();
  loadRetired();
  blockVoid(); blockVoid(); blockVoid(); blockVoid(); // LEVEL_GO, LEVEL_CHAIN, LEVEL_LEAVE, LEVEL_FAULT
  region();
  brTo(LEVEL_LEAVE); // not reached: every block of the region ends in a branch or a return
  end();
  // LEVEL_FAULT: a slow path recorded a fault (jit/helpers.ts) and left the registers in their
  // locals and the pending flags as fk describes them (operands.ts slowCall); EIP and the
  // retired count are the helper's. The run loop delivers the fault (index.ts loop).
  i32c(0); gset(G_JIT_FAULT);
  storeRegs(); storeKindFromLocal(); op(OP_RETURN);
  end();
  // LEVEL_LEAVE: back to the block loop at L_T.
  storeRegs(); storeKindFromLocal(); flushRetired(); lget(L_T); gset(G_PC); op(OP_RETURN);
  end();
  // LEVEL_CHAIN: the registers and flags to memory, then on as LEVEL_GO.
  storeRegs(); storeKindFromLocal();
  end();
  // LEVEL_GO: into the translation at L_T, if the exit cell in L_CELL holds, with EIP and the
  // retired count (L_RETIRED) in the entry cells; else `pc` and `retired` for the core.
  chainEpilogue();
}

function region(): void {
  const n = regionSize;
  for (let k: u32 = 0; k < n; k++) store<u32>(edgeState + (k << 2), STATE_UNSEEN);
  // The forced entries: the flags are in their globals.
  for (let k: u32 = 0; k < n; k++) if (forcedEntries & (1 << k)) store<u32>(edgeState + (k << 2), 0);
  loopVoid();
  loopLevel = depth;
  callLevel = 0;
  if (chaining && callsOut()) { blockVoid(); callLevel = depth; }
  for (let i: u32 = 0; i < n; i++) blockVoid();
  lget(L_BLK);
  byte(OP_BR_TABLE); uleb(n); for (let i: u32 = 0; i < n; i++) uleb(i); uleb(0);
  for (member = 0; member < n; member++) {
    end();
    blockBase = load<u32>(regionOffset + (member << 2));
    records(load<u32>(regionFirst + (member << 2)), load<u32>(regionCount + (member << 2)));
  }
  if (callLevel != 0) { end(); callExit(); }
  end();
}

/** Does a member end in a CALL out of the region whose return site is a member (callAndReturn)? */
function callsOut(): bool {
  for (let k: u32 = 0; k < regionSize; k++) {
    const header = regionHeader(k);
    const last = load<u32>(header, H_LAST);
    if (blockEnd(<u32>load<u16>(last, REC_HANDLER)) != END_CALL) continue;
    const after = load<u32>(regionOffset + (k << 2)) + load<u32>(header, H_BYTES);
    if (memberAt(after) >= 0 && memberAt(after + load<u32>(last, REC_DISP)) < 0) return true;
  }
  return false;
}

/** Go on at EIP offset `to` (from this block's start) after `done` instructions: within the region if it is a member. */
function goTo(to: u32, done: u32, nested: u32, fallThrough: bool): void {
  const k = memberAt(blockBase + to);
  if (k < 0) { eipAt(to); lset(L_T); exitTo(done, true); return; }
  if (slowPath) {
    // The block's last instruction took a slow path, which may want the run loop (a host
    // watchpoint, MMIO): leave before the next block, as the block loop would.
    lget(L_BAIL); ifVoidHint(false); eipAt(to); lset(L_T); exitTo(done, false); end();
  }
  // The next block starts with the registers in their locals and the pending flags in fa..fcf, their kind in fk.
  kindToLocal();
  noteEdge(<u32>k);
  addRetired(<i32>done - <i32>committed);
  // It runs whole only if the budget has room for it, as at entry (cpu/blocks.ts runBlocks).
  lget(L_RETIRED); i64c(<i64>load<u32>(regionCount + (<u32>k << 2))); op(OP_I64_ADD); lget(L_BUDGET); op(OP_I64_GT_U);
  ifVoidHint(false); eipAt(to); lset(L_T); brTo(LEVEL_LEAVE); end();
  if (fallThrough && <u32>k == member + 1) return;
  if (<u32>k > member) { byte(OP_BR); uleb(<u32>k - member - 1 + nested); return; }
  i32c(<u32>k); lset(L_BLK);
  brTo(loopLevel);
}

/**
 * A RET (its target in L_T) to one of the region's return sites goes on there, inside the
 * function, as the call's own jump into the region did; any other target leaves (the caller
 * writes the exit).
 */
function returnTo(done: u32): void {
  for (let i: u32 = 0; i < returnSiteCount; i++) {
    const to = load<u32>(returnSites + (i << 2)) - blockBase;
    lget(L_T); eipAt(to); op(OP_I32_EQ);
    ifVoid(); goTo(to, done, 1, false); end();
  }
}

function records(first: u32, count: u32): void {
  unpackState(load<u32>(startState + (member << 2))); committed = 0;
  const canFall = member + 1 < regionSize;
  let off: u32 = 0;
  for (index = 0; index < count; index++) {
    const rec = first + index * REC_SIZE;
    const h = <u32>load<u16>(rec, REC_HANDLER);
    const last = index == count - 1;
    startOff = off;
    off += <u32>load<u8>(rec, REC_LEN);
    nextOff = off;
    slowPath = false;
    const kind = blockEnd(h);
    if (last && kind == END_BRANCH) {
      condition(h - <u32>H.JCC);
      ifVoid(); goTo(nextOff + load<u32>(rec, REC_DISP), count, 1, false); end();
      goTo(nextOff, count, 0, canFall);
      return;
    }
    if (last && kind == END_JUMP) { goTo(nextOff + load<u32>(rec, REC_DISP), count, 0, canFall); return; }
    if (!inline(rec, h)) { viaHandler(rec, h, last, count); continue; }
    if (last && kind == END_CALL) {
      const to = nextOff + load<u32>(rec, REC_DISP);
      const reg = thunkRegister(csBase + pc + blockBase + to);
      if (reg >= 0) {
        // A PC thunk (jit/thunk.ts): its MOV and RET run here, and the block goes on after the CALL.
        thunkTest(<u32>reg, to, count);
        ifVoid();
        eipAt(nextOff); setReg32(<u32>reg);
        getReg32(REG_ESP); i32c(4); op(OP_I32_ADD); setReg32(REG_ESP);
        goTo(nextOff, count + 2, 1, false);
        end();
      }
      if (memberAt(blockBase + to) < 0 && callAndReturn(to, count)) return;
      goTo(to, count, 0, canFall);
      return;
    }
    if (kind != END_NONE) { // a computed target (an inlined handler is never the interpreter's)
      if (kind == END_RETURN) returnTo(index + 1);
      exitTo(index + 1, true, true, kind == END_RETURN);
      return;
    }
    if (last) { goTo(nextOff, count, 0, canFall); return; }
    if (slowPath) {
      // The slow path touched the machine (MMIO, a write to code): leave if the run loop is wanted.
      lget(L_BAIL); ifVoidHint(false); eipAt(nextOff); lset(L_T); exitTo(index + 1, false); end();
    }
  }
  // The last record went through its handler, which set EIP and returned.
}
