// A region: the unit of translation. It is a hot block and the blocks its direct jumps and calls
// reach (a loop and its body, both arms of an if, the functions it calls), and the return
// address of a call to a PC thunk (jit/thunk.ts) or to a function in the region, found
// breadth-first from the hot block, up to REGION_MAX blocks on up to REGION_PAGES pages.
// Branches between them stay inside the translated function (jit/emit.ts); anything else
// leaves it.
//
// A block is known by its EIP offset from the hot block's, so one translation serves every
// linear address its code is mapped at. On the hot block's own page that is all it takes: the
// page's code generation (mmu/tlb.ts) covers the translation as it covers the block it hangs
// from, and the block loop and the chain test (jit/chain.ts) check the page's TLB entry before
// going in. A block on another page was translated from the physical page that the linear
// address mapped then, at the code generation it had then: a branch into it from another page
// checks both again (jit/emit.ts crossInto), and leaves the translation when either changed.

import { blockAt, HEADER_SIZE, H_LAST, H_COUNT, H_PHYS, H_BYTES, H_SPAN_BELOW, H_SPAN_ABOVE } from '../cpu/blocks';
import { REC_SIZE, REC_HANDLER, REC_DISP } from '../cpu/record';
import { blockEnd, END_BRANCH, END_JUMP, END_CALL, END_NONE } from '../cpu/generated/handlers';
import { pc, csBase } from '../cpu/live';
import { TLB_BASE, TLB_VALID, TLB_MMIO, CODE_GEN, CODE_GEN_NEVER, tlbReadMask } from '../mmu/tlb';
import { thunkRegister } from './thunk';

export const REGION_MAX: u32 = 16;
/** Pages a region's code may come from: the hot block's and three more. */
export const REGION_PAGES: u32 = 4;

/** The region's blocks, the first being the hot one: first record, record count, EIP offset from the first, and page (0: the first's). */
export const regionFirst = memory.data(REGION_MAX * 4);
export const regionCount = memory.data(REGION_MAX * 4);
export const regionOffset = memory.data(REGION_MAX * 4);
export const regionPage = memory.data(REGION_MAX * 4);
export let regionSize: u32 = 0;
/** Bytes of guest code in the region's blocks. */
export let regionBytes: u32 = 0;
/** The EIP offsets of the region's return sites: blocks after a CALL whose target is in the region too. */
export const returnSites = memory.data(REGION_MAX * 4);
export let returnSiteCount: u32 = 0;
/** The region's pages: linear page less the first's, physical page (as the TLB entry has it), and its code generation then. */
export const pageDelta = memory.data(REGION_PAGES * 4);
export const pageFrame = memory.data(REGION_PAGES * 4);
export const pageGen = memory.data(REGION_PAGES * 4);
export let pageCount: u32 = 0;
const headers = memory.data(REGION_MAX * 4);

/** The member whose EIP offset is `offset`, or -1. */
export function memberAt(offset: u32): i32 {
  for (let i: u32 = 0; i < regionSize; i++) if (load<u32>(regionOffset + (i << 2)) == offset) return <i32>i;
  return -1;
}

/** The linear address of the hot block. */
let entryLin: u32 = 0;

/** Which of the region's pages linear page `delta` (less the first's) is, taking it in if there is room: its index, or -1. */
function pageOf(delta: u32): i32 {
  for (let j: u32 = 0; j < pageCount; j++) if (load<u32>(pageDelta + (j << 2)) == delta) return <i32>j;
  if (pageCount == REGION_PAGES) return -1;
  // Code on another page is taken in only as the TLB maps it now, readable at this CPL.
  const lin = (entryLin & ~0xfff) + delta;
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & tlbReadMask) != TLB_VALID || (e & TLB_MMIO) != 0) return -1;
  const frame = e & 0xfffff000;
  const gen = <u32>load<u8>(CODE_GEN + (frame >>> 12));
  if (gen == CODE_GEN_NEVER) return -1;
  const j = pageCount++;
  store<u32>(pageDelta + (j << 2), delta);
  store<u32>(pageFrame + (j << 2), frame);
  store<u32>(pageGen + (j << 2), gen);
  return <i32>j;
}

function add(offset: u32): void {
  if (regionSize == REGION_MAX || memberAt(offset) >= 0) return;
  const lin = entryLin + offset;
  const page = pageOf((lin & ~0xfff) - (entryLin & ~0xfff));
  if (page < 0) return;
  const header = blockAt(load<u32>(pageFrame + (<u32>page << 2)) | (lin & 0xfff));
  if (header == 0) return;
  const i = regionSize++;
  store<u32>(headers + (i << 2), header);
  store<u32>(regionFirst + (i << 2), header + HEADER_SIZE);
  store<u32>(regionCount + (i << 2), load<u32>(header, H_COUNT));
  store<u32>(regionOffset + (i << 2), offset);
  store<u32>(regionPage + (i << 2), <u32>page);
}

/** Take in the blocks member i's last record sends EIP to when that is a constant. */
function addSuccessors(i: u32): void {
  const header = load<u32>(headers + (i << 2));
  const end = load<u32>(regionOffset + (i << 2)) + load<u32>(header, H_BYTES);
  const last = load<u32>(header, H_LAST);
  const kind = blockEnd(<u32>load<u16>(last, REC_HANDLER));
  const target = end + load<u32>(last, REC_DISP);
  if (kind == END_BRANCH) { add(target); add(end); }
  else if (kind == END_JUMP) add(target);
  else if (kind == END_CALL) {
    add(target);
    // A call to a PC thunk goes on after the call (jit/thunk.ts), and a call into the region
    // returns after it (emit.ts returnTo): so does the region.
    if (memberAt(target) >= 0 || thunkRegister(entryLin + target) >= 0) add(end);
  }
  else if (kind == END_NONE) add(end); // the block stopped at its size limit: it goes on
  // Otherwise a computed target: a return, an indirect jump or call, the interpreter's.
}

/** Gather the region of the block with header `entry`, the block at EIP `pc`, and note its EIP span in the header. */
export function gatherRegion(entry: u32): void {
  entryLin = csBase + pc;
  const phys = load<u32>(entry, H_PHYS);
  pageCount = 1;
  store<u32>(pageDelta, 0);
  store<u32>(pageFrame, phys & ~0xfff);
  store<u32>(pageGen, <u32>load<u8>(CODE_GEN + (phys >>> 12)));
  store<u32>(headers, entry);
  store<u32>(regionFirst, entry + HEADER_SIZE);
  store<u32>(regionCount, load<u32>(entry, H_COUNT));
  store<u32>(regionOffset, 0);
  store<u32>(regionPage, 0);
  regionSize = 1;
  for (let i: u32 = 0; i < regionSize; i++) addSuccessors(i);
  let below: u32 = 0, above: u32 = 0;
  regionBytes = 0;
  returnSiteCount = 0;
  for (let i: u32 = 0; i < regionSize; i++) {
    const header = load<u32>(headers + (i << 2));
    const bytes = load<u32>(header, H_BYTES);
    const from = <i32>load<u32>(regionOffset + (i << 2));
    const to = from + <i32>bytes;
    regionBytes += bytes;
    if (from < 0 && <u32>(-from) > below) below = <u32>(-from);
    if (to > 0 && <u32>to > above) above = <u32>to;
    const last = load<u32>(header, H_LAST);
    if (blockEnd(<u32>load<u16>(last, REC_HANDLER)) == END_CALL && memberAt(<u32>to) >= 0 && memberAt(<u32>to + load<u32>(last, REC_DISP)) >= 0) {
      store<u32>(returnSites + (returnSiteCount++ << 2), <u32>to);
    }
  }
  store<u32>(entry, below, H_SPAN_BELOW);
  store<u32>(entry, above, H_SPAN_ABOVE);
}
