// Linear-address reads and writes for instruction semantics. The fast path is one TLB load
// and one compare; everything else (TLB miss, page-crossing access, MMIO, dirty-bit update,
// a write to a page holding translated code) goes through the slow path, which may fault.

import { RAM_BASE, readPhys8, readPhys16, readPhys32, writePhys8, writePhys16, writePhys32 } from './phys';
import {
  TLB_BASE, TLB_VALID, TLB_MMIO, TLB_CODE, TLB_ROM, TLB_VRAM_CLEAN, TLB_LOG_DIRTY, TLB_WATCH, tlbReadMask, tlbWriteMask, codePageWritten, tlbSet,
  readMaskFor, writeMaskFor,
} from './tlb';
import { watchAccess } from '../cpu/host-watch';
import { setVramDirty } from './phys';
import { logCpuWrite } from './dirty';
import { translate, translateOrRecord } from './paging';
import { cplLive } from '../cpu/live';

/** Writes that hit pages holding decoded code (statistics). */
export let codePageWrites: u32 = 0;

@inline function entryOf(lin: u32): u32 { return load<u32>(TLB_BASE + ((lin >>> 12) << 2)); }
/** Does TLB entry `e` let a dword at `lin` take the fast path under `mask` (inside one page)? */
@inline function fast32(e: u32, mask: u32, lin: u32): bool { return (e & mask) == 1 && (lin & 0xfff) < 0xffd; }
/** The host address of `lin` through TLB entry `e`. */
@inline function hostAt(e: u32, lin: u32): u32 { return RAM_BASE + (e & 0xfffff000) + (lin & 0xfff); }

// ---- fast paths ----
// Each access with the TLB masks and privilege it is made with (`sys`, a constant at each use):
// the current ones (readLin8 ...) or the supervisor's (readSys8 ..., below). The privilege is
// looked at only on the slow path.
@inline function readMaskAs(sys: bool): u32 { return sys ? readMaskFor(false) : tlbReadMask; }
@inline function writeMaskAs(sys: bool): u32 { return sys ? writeMaskFor(false) : tlbWriteMask; }
@inline function userAs(sys: bool): bool { return sys ? false : cplLive == 3; }

@inline function readWith8(lin: u32, sys: bool): u32 {
  const e = entryOf(lin);
  if ((e & readMaskAs(sys)) == 1) return <u32>load<u8>(hostAt(e, lin));
  return readSlow8(lin, userAs(sys));
}
@inline function readWith16(lin: u32, sys: bool): u32 {
  const e = entryOf(lin);
  if ((e & readMaskAs(sys)) == 1 && (lin & 0xfff) < 0xfff) return <u32>load<u16>(hostAt(e, lin));
  return readSlow16(lin, userAs(sys));
}
@inline function readWith32(lin: u32, sys: bool): u32 {
  const e = entryOf(lin);
  if (fast32(e, readMaskAs(sys), lin)) return load<u32>(hostAt(e, lin));
  return readSlow32(lin, userAs(sys));
}
@inline function writeWith8(lin: u32, v: u32, sys: bool): void {
  const e = entryOf(lin);
  if ((e & writeMaskAs(sys)) == 1) { store<u8>(hostAt(e, lin), <u8>v); return; }
  writeSlow8(lin, v, userAs(sys));
}
@inline function writeWith16(lin: u32, v: u32, sys: bool): void {
  const e = entryOf(lin);
  if ((e & writeMaskAs(sys)) == 1 && (lin & 0xfff) < 0xfff) { store<u16>(hostAt(e, lin), <u16>v); return; }
  writeSlow16(lin, v, userAs(sys));
}
@inline function writeWith32(lin: u32, v: u32, sys: bool): void {
  const e = entryOf(lin);
  if (fast32(e, writeMaskAs(sys), lin)) { store<u32>(hostAt(e, lin), v); return; }
  writeSlow32(lin, v, userAs(sys));
}

@inline export function readLin8(lin: u32): u32 { return readWith8(lin, false); }
@inline export function readLin16(lin: u32): u32 { return readWith16(lin, false); }
@inline export function readLin32(lin: u32): u32 { return readWith32(lin, false); }
@inline export function writeLin8(lin: u32, v: u32): void { writeWith8(lin, v, false); }
@inline export function writeLin16(lin: u32, v: u32): void { writeWith16(lin, v, false); }
@inline export function writeLin32(lin: u32, v: u32): void { writeWith32(lin, v, false); }

// The block loop's memory operands (cpu/handlers.ts: MOV, the ALU, CALL and PUSH), which take
// most of the guest's page faults on data (demand paging, copy-on-write after fork): a page
// fault is recorded (cpu/fault.ts recordFault) instead of thrown, so the block loop leaves
// without unwinding and the run loop delivers it (V8's throw and catch took 2% of the time of
// 300 fork+exec). `n` is the operand's size in bytes (1, 2 or 4), a constant at each use.
/** The `n` bytes at `lin`, or 0 with the fault recorded: the caller tests pendingVector before it changes anything. */
@inline export function readLinOrRecord(lin: u32, n: u32): u32 {
  const e = entryOf(lin);
  if ((e & tlbReadMask) == 1 && (lin & 0xfff) <= 0x1000 - n) {
    const at = hostAt(e, lin);
    return n == 4 ? load<u32>(at) : n == 2 ? <u32>load<u16>(at) : <u32>load<u8>(at);
  }
  const user = cplLive == 3;
  // pagesOrRecord checks the pages in the slow paths' order, which then cannot fault.
  if (!pagesOrRecord(lin, n, false, user)) return 0;
  return n == 4 ? readSlow32(lin, user) : n == 2 ? readSlow16(lin, user) : readSlow8(lin, user);
}
/** Write the `n` low bytes of `v` at `lin`; false, with nothing written and the fault recorded, if it faults. */
@inline export function writeLinOrRecord(lin: u32, v: u32, n: u32): bool {
  const e = entryOf(lin);
  if ((e & tlbWriteMask) == 1 && (lin & 0xfff) <= 0x1000 - n) {
    const at = hostAt(e, lin);
    if (n == 4) store<u32>(at, v); else if (n == 2) store<u16>(at, <u16>v); else store<u8>(at, <u8>v);
    return true;
  }
  const user = cplLive == 3;
  if (!pagesOrRecord(lin, n, true, user)) return false;
  if (n == 4) writeSlow32(lin, v, user); else if (n == 2) writeSlow16(lin, v, user); else writeSlow8(lin, v, user);
  return true;
}
/** checkRmw() that records the fault and returns false instead of throwing. */
@inline export function checkRmwOrRecord(lin: u32, n: u32): bool {
  const e = entryOf(lin);
  return ((e & tlbWriteMask) == TLB_VALID && (lin & 0xfff) <= 0x1000 - n) || pagesOrRecord(lin, n, true, cplLive == 3);
}

/** Fault now if any byte of [lin, lin+len) is not writable at the current CPL. */
export function checkWriteLin(lin: u32, len: u32): void { checkWriteAs(lin, len, cplLive == 3); }

/** Fault now if any byte is not writable by a supervisor access (TSS, inner-level stacks). */
export function checkWriteSys(lin: u32, len: u32): void { checkWriteAs(lin, len, false); }

function checkWriteAs(lin: u32, len: u32, user: bool): void {
  if (len == 0) return;
  let page = lin & 0xfffff000;
  const last = (lin + len - 1) & 0xfffff000;
  translate(lin, true, user);
  while (page != last) { page += 0x1000; translate(page, true, user); }
}

/**
 * For translated code's slow paths (jit/helpers.ts): translate each page of [lin, lin + len)
 * in the order the slow paths below would fault on them (the first byte's page, then each next
 * page's first byte), so that those then cannot fault; or record the page fault (cpu/fault.ts
 * recordFault) and return false, without a throw.
 */
export function pagesOrRecord(lin: u32, len: u32, write: bool, user: bool): bool {
  let page = lin & 0xfffff000;
  const last = (lin + len - 1) & 0xfffff000;
  if (translateOrRecord(lin, write, user) == 0) return false;
  while (page != last) { page += 0x1000; if (translateOrRecord(page, write, user) == 0) return false; }
  return true;
}

// ---- supervisor ("implicit") accesses: descriptor tables, TSS, interrupt stacks of ring 0 ----
// Made at any CPL with supervisor rights, so with the supervisor masks, not the current ones.
// Every interrupt, exception, system call and segment load makes several (300 fork+exec about
// 450,000 dword reads): they take the fast path like any access.
export function readSys8(lin: u32): u32 { return readWith8(lin, true); }
export function readSys16(lin: u32): u32 { return readWith16(lin, true); }
export function readSys32(lin: u32): u32 { return readWith32(lin, true); }
export function writeSys8(lin: u32, v: u32): void { writeWith8(lin, v, true); }
export function writeSys16(lin: u32, v: u32): void { writeWith16(lin, v, true); }
export function writeSys32(lin: u32, v: u32): void { writeWith32(lin, v, true); }

// ---- slow paths ----

function physOf(e: u32, lin: u32): u32 { return (e & 0xfffff000) | (lin & 0xfff); }

function noteWrite(e: u32, lin: u32): void {
  if (e & (TLB_VRAM_CLEAN | TLB_LOG_DIRTY)) {
    // The first write to a page of video memory since the host drew the screen, or to a RAM
    // page since the host last read the dirty log: say so, and let the page's next writes take
    // the fast path (the host flushes the TLB when it draws or reads the log).
    if (e & TLB_VRAM_CLEAN) setVramDirty(true);
    if (e & TLB_LOG_DIRTY) logCpuWrite(e >>> 12);
    tlbSet(lin, e & ~(TLB_VRAM_CLEAN | TLB_LOG_DIRTY));
  }
  if (e & TLB_CODE) {
    // Decoded code on this page is now stale. The instruction that wrote it finishes; the run
    // loop then leaves the current block and decodes again from memory.
    codePageWrites++;
    codePageWritten(e);
  }
}

/**
 * The fast-path test of a read-modify-write operand: the write must be allowed before the read.
 * A TLB entry that already permits a fast write (and an access inside its page) says so without
 * a page walk; otherwise the walk checks it (and may fault).
 */
@inline export function checkRmw(lin: u32, n: u32): void {
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & tlbWriteMask) != TLB_VALID || (lin & 0xfff) > 0x1000 - n) checkWriteLin(lin, n);
}

export function readSlow8(lin: u32, user: bool): u32 {
  const e = translate(lin, false, user);
  if (e & TLB_WATCH) watchAccess(lin, 1, false);
  return (e & TLB_MMIO) ? readPhys8(physOf(e, lin)) : <u32>load<u8>(RAM_BASE + physOf(e, lin));
}
export function readSlow16(lin: u32, user: bool): u32 {
  if ((lin & 0xfff) == 0xfff) return readSlow8(lin, user) | (readSlow8(lin + 1, user) << 8);
  const e = translate(lin, false, user);
  if (e & TLB_WATCH) watchAccess(lin, 2, false);
  return (e & TLB_MMIO) ? readPhys16(physOf(e, lin)) : <u32>load<u16>(RAM_BASE + physOf(e, lin));
}
export function readSlow32(lin: u32, user: bool): u32 {
  if ((lin & 0xfff) > 0xffc) {
    let v: u32 = 0;
    for (let i: u32 = 0; i < 4; i++) v |= readSlow8(lin + i, user) << (i << 3);
    return v;
  }
  const e = translate(lin, false, user);
  if (e & TLB_WATCH) watchAccess(lin, 4, false);
  return (e & TLB_MMIO) ? readPhys32(physOf(e, lin)) : load<u32>(RAM_BASE + physOf(e, lin));
}

export function writeSlow8(lin: u32, v: u32, user: bool): void {
  const e = translate(lin, true, user);
  if (e & TLB_WATCH) watchAccess(lin, 1, true);
  if (e & TLB_ROM) return; // a write to ROM goes nowhere
  noteWrite(e, lin);
  if (e & TLB_MMIO) writePhys8(physOf(e, lin), v); else store<u8>(RAM_BASE + physOf(e, lin), <u8>v);
}
export function writeSlow16(lin: u32, v: u32, user: bool): void {
  if ((lin & 0xfff) == 0xfff) {
    // Both pages must be writable before either byte is written; the first page is checked
    // first, so when both fault CR2 names the lower one (as for a dword, below).
    translate(lin, true, user);
    translate(lin + 1, true, user);
    writeSlow8(lin, v, user); writeSlow8(lin + 1, v >>> 8, user);
    return;
  }
  const e = translate(lin, true, user);
  if (e & TLB_WATCH) watchAccess(lin, 2, true);
  if (e & TLB_ROM) return; // a write to ROM goes nowhere
  noteWrite(e, lin);
  if (e & TLB_MMIO) writePhys16(physOf(e, lin), v); else store<u16>(RAM_BASE + physOf(e, lin), <u16>v);
}
export function writeSlow32(lin: u32, v: u32, user: bool): void {
  if ((lin & 0xfff) > 0xffc) {
    // Both pages must be writable before any byte is written; a fault on the second page
    // reports that page's first byte in CR2.
    translate(lin, true, user);
    translate((lin + 3) & 0xfffff000, true, user);
    for (let i: u32 = 0; i < 4; i++) writeSlow8(lin + i, v >>> (i << 3), user);
    return;
  }
  const e = translate(lin, true, user);
  if (e & TLB_WATCH) watchAccess(lin, 4, true);
  if (e & TLB_ROM) return; // a write to ROM goes nowhere
  noteWrite(e, lin);
  if (e & TLB_MMIO) writePhys32(physOf(e, lin), v); else store<u32>(RAM_BASE + physOf(e, lin), v);
}
