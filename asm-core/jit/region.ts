// A region: the unit of translation. It is a hot block and the blocks its direct jumps reach
// on the same physical page (a loop and its body, both arms of an if, a function it calls), and
// the return address of every call, found breadth-first from the hot block, up to REGION_MAX
// blocks. Branches between them stay inside the translated function (jit/emit.ts); anything
// else leaves it.
//
// Only blocks that have run join: the block loop decodes a block when it first runs it, and the
// gathering takes only decoded blocks. The others (an error path, the arm of an if never taken
// yet) would only cost compiling. Taking them too, V8's optimizing compiler had 2.39 MB of
// WebAssembly to compile in a boot (3.8 s of its background threads) against 1.73 MB (2.3 s),
// and the piped sort's first run took 8.6-9.4 s against 7.1-7.7. If such a block runs later,
// the translation leaves for it like any other exit, and the block loop decodes it.
// Translation forced at a block's first run (a threshold of 1, for the tests) is the exception:
// nothing around the hot block has run yet, so the gathering decodes what it reaches.
//
// A translation has several entries (jit/emit.ts entryMask): the hot block, the return
// addresses of its calls (where the callee's RET comes back, from another translation or the
// block loop), and every other block that can start with the flags in their globals. Each entry
// block points at the translation (jit/cache.ts install), so a block that another region
// already covers is entered there instead of being translated again as a region of its own:
// without that, every byte of the guest code in the bench was translated 3.3 times.
//
// Staying on one physical page keeps a translation as valid as its blocks: the page's
// code generation (mmu/tlb.ts) covers every byte it was made from, and each block's EIP is the
// entry EIP plus the difference of their physical addresses, whatever linear address the page
// is mapped at.

import { blockAt, HEADER_SIZE, H_LAST, H_COUNT, H_PHYS, H_BYTES } from '../cpu/blocks';
import { REC_SIZE, REC_HANDLER, REC_DISP } from '../cpu/record';
import { blockEnd, END_BRANCH, END_JUMP, END_CALL, END_NONE } from '../cpu/generated/handlers';

export const REGION_MAX: u32 = 16;

/**
 * The region's blocks in address order: first record, record count, and EIP offset from the hot
 * block, which is member `regionEntry`. In address order most jumps between them go forward,
 * which the translated function branches to directly (jit/emit.ts goTo).
 */
export const regionFirst = memory.data(REGION_MAX * 4);
export const regionCount = memory.data(REGION_MAX * 4);
export const regionOffset = memory.data(REGION_MAX * 4);
export let regionSize: u32 = 0;
export let regionEntry: u32 = 0;
/** Bytes of guest code in the region's blocks. */
export let regionBytes: u32 = 0;
/** The members that are entries whatever the flags analysis finds (jit/emit.ts entryMask): the hot block and the blocks after a CALL. */
export let forcedEntries: u32 = 0;
/** The region's extent around the hot block: bytes of code before its start and from its start. */
export let spanBelow: u32 = 0, spanAbove: u32 = 0;
/** The EIP offsets of the region's return sites: blocks after a CALL whose target is in the region too. */
export const returnSites = memory.data(REGION_MAX * 4);
export let returnSiteCount: u32 = 0;
const headers = memory.data(REGION_MAX * 4);

/** The decoded block (its header) of member `k`. */
export function regionHeader(k: u32): u32 { return load<u32>(headers + (k << 2)); }

/** The member whose EIP offset is `offset`, or -1. */
export function memberAt(offset: u32): i32 {
  for (let i: u32 = 0; i < regionSize; i++) if (load<u32>(regionOffset + (i << 2)) == offset) return <i32>i;
  return -1;
}

/** Where a block's last record sends EIP when that is a constant: up to two physical targets. */
let target0: u32 = 0, target1: u32 = 0, targets: u32 = 0;
function successors(header: u32, entryPhys: u32): void {
  targets = 0;
  const phys = load<u32>(header, H_PHYS);
  const end = phys + load<u32>(header, H_BYTES);
  const last = load<u32>(header, H_LAST);
  const kind = blockEnd(<u32>load<u16>(last, REC_HANDLER));
  if (kind == END_BRANCH) { target0 = end + load<u32>(last, REC_DISP); target1 = end; targets = 2; }
  else if (kind == END_JUMP || kind == END_CALL) {
    target0 = end + load<u32>(last, REC_DISP); targets = 1;
    // A call returns after it: from a PC thunk (jit/thunk.ts) or a function on this page
    // inside the function (emit.ts returnTo), from anywhere else into the entry there.
    if (kind == END_CALL) { target1 = end; targets = 2; }
  }
  else if (kind != END_NONE) targets = 0; // a computed target: a return, an indirect jump or call, the interpreter's
  else { target0 = end; targets = 1; } // the block stopped at its size limit: it goes on
}

/** Whether the gathering decodes the blocks the block loop has not (gatherRegion). */
let decodeNew: bool = false;

function add(entryPhys: u32, phys: u32): void {
  if (regionSize == REGION_MAX || (phys & ~0xfff) != (entryPhys & ~0xfff)) return;
  const offset = phys - entryPhys;
  if (memberAt(offset) >= 0) return;
  const header = blockAt(phys, decodeNew);
  if (header == 0) return;
  const i = regionSize++;
  store<u32>(headers + (i << 2), header);
  store<u32>(regionFirst + (i << 2), header + HEADER_SIZE);
  store<u32>(regionCount + (i << 2), load<u32>(header, H_COUNT));
  store<u32>(regionOffset + (i << 2), offset);
}

/** Put the members in address order (insertion sort: at most REGION_MAX), and find the entry's place. */
function sortByAddress(): void {
  for (let i: u32 = 1; i < regionSize; i++) {
    const h = load<u32>(headers + (i << 2)), f = load<u32>(regionFirst + (i << 2));
    const c = load<u32>(regionCount + (i << 2)), o = load<u32>(regionOffset + (i << 2));
    let j = i;
    while (j > 0 && <i32>load<u32>(regionOffset + ((j - 1) << 2)) > <i32>o) {
      store<u32>(headers + (j << 2), load<u32>(headers + ((j - 1) << 2)));
      store<u32>(regionFirst + (j << 2), load<u32>(regionFirst + ((j - 1) << 2)));
      store<u32>(regionCount + (j << 2), load<u32>(regionCount + ((j - 1) << 2)));
      store<u32>(regionOffset + (j << 2), load<u32>(regionOffset + ((j - 1) << 2)));
      j--;
    }
    store<u32>(headers + (j << 2), h); store<u32>(regionFirst + (j << 2), f);
    store<u32>(regionCount + (j << 2), c); store<u32>(regionOffset + (j << 2), o);
  }
  regionEntry = <u32>memberAt(0);
}

/** Gather the region of the block with header `entry`; with `decode`, of blocks that have not run too. */
export function gatherRegion(entry: u32, decode: bool): void {
  decodeNew = decode;
  const entryPhys = load<u32>(entry, H_PHYS);
  regionSize = 0;
  store<u32>(headers, entry);
  store<u32>(regionFirst, entry + HEADER_SIZE);
  store<u32>(regionCount, load<u32>(entry, H_COUNT));
  store<u32>(regionOffset, 0);
  regionSize = 1;
  for (let i: u32 = 0; i < regionSize; i++) {
    successors(load<u32>(headers + (i << 2)), entryPhys);
    if (targets >= 1) add(entryPhys, target0);
    if (targets == 2) add(entryPhys, target1);
  }
  sortByAddress();
  let below: u32 = 0, above: u32 = 0;
  regionBytes = 0;
  returnSiteCount = 0;
  forcedEntries = 1 << regionEntry;
  for (let i: u32 = 0; i < regionSize; i++) {
    const header = load<u32>(headers + (i << 2));
    const last = load<u32>(header, H_LAST);
    if (blockEnd(<u32>load<u16>(last, REC_HANDLER)) == END_CALL) {
      const after = load<u32>(header, H_PHYS) + load<u32>(header, H_BYTES) - entryPhys;
      const site = memberAt(after);
      if (site >= 0) forcedEntries |= 1 << <u32>site;
      if (site >= 0 && memberAt(after + load<u32>(last, REC_DISP)) >= 0) store<u32>(returnSites + (returnSiteCount++ << 2), after);
    }
    regionBytes += load<u32>(header, H_BYTES);
    const from = <i32>(load<u32>(header, H_PHYS) - entryPhys);
    const to = from + <i32>load<u32>(header, H_BYTES);
    if (from < 0 && <u32>(-from) > below) below = <u32>(-from);
    if (to > 0 && <u32>to > above) above = <u32>to;
  }
  spanBelow = below;
  spanAbove = above;
}
