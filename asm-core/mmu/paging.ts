// The two-level i386 page walk (4 KiB pages, and 4 MiB pages with CR4.PSE), accessed and dirty
// bits, the user/supervisor and read/write checks (CR0.WP), page-fault error codes and CR2.

import { STATE, OFF_CR0, OFF_CR2, OFF_CR3, OFF_CR4, CR0_PG, CR0_WP, CR4_PSE, CR4_PGE, EXC_PF } from '../cpu/state';
import { recordFault, abandon } from '../cpu/fault';
import { readPhys32, writePhys32, pageKind, vramOffset, MEM_RAM, MEM_ROM, MEM_VRAM } from './phys';
import {
  tlbEntry, tlbSet, tlbInvalidate, isCodePage, TLB_VALID, TLB_NO_USER, TLB_NO_WRITE_USER, TLB_NO_WRITE_SUP, TLB_MMIO,
  TLB_GLOBAL, TLB_CODE, TLB_ROM, TLB_VRAM_CLEAN, TLB_LOG_DIRTY, codePageWritten,
} from './tlb';
import { dirtyLogOn, dirtyLogged, logCpuWrite } from './dirty';

const PTE_P: u32 = 1 << 0; // present
const PTE_RW: u32 = 1 << 1; // writable
const PTE_US: u32 = 1 << 2; // user accessible
const PTE_A: u32 = 1 << 5; // accessed
const PTE_D: u32 = 1 << 6; // dirty
const PDE_PS: u32 = 1 << 7; // 4 MiB page (with CR4.PSE)
const PTE_G: u32 = 1 << 8; // global (with CR4.PGE)

// Page-fault error code bits
const PF_PROTECTION: u32 = 1 << 0; // 0: not present, 1: protection violation
const PF_WRITE: u32 = 1 << 1;
const PF_USER: u32 = 1 << 2;

/** Address line 20 mask: 0xffefffff while the A20 gate is closed. */
export let a20Mask: u32 = 0xffffffff;
export function setA20Mask(open: bool): void { a20Mask = open ? 0xffffffff : 0xffefffff; }

/** Page-walk statistics for the inspector. */
export let pageWalks: u32 = 0;
export let pageFaults: u32 = 0;

/**
 * 4 MiB regions whose TLB entries may come from a 4 MiB page. The TLB holds 4 KiB pieces, but
 * INVLPG of any address in a large page must drop all of it (SDM vol. 3 4.10.4.1). A stale mark
 * only costs an over-wide invalidation, which the SDM allows.
 */
const largeRegions = new StaticArray<u8>(1024);

/** INVLPG: drop the translation of the page holding `lin` (all 4 MiB of a large page). */
export function invalidatePage(lin: u32): void {
  const region = lin >>> 22;
  if (unchecked(largeRegions[region]) == 0) { tlbInvalidate(lin); return; }
  unchecked(largeRegions[region] = 0);
  const first = region << 22;
  for (let i: u32 = 0; i < 1024; i++) tlbInvalidate(first + (i << 12));
}

/** Accessed and dirty bits go straight to physical memory, so they bypass the TLB's code-page mark. */
function writeTableEntry(addr: u32, v: u32): void {
  writePhys32(addr, v);
  logCpuWrite(addr >>> 12);
  if (isCodePage(addr)) codePageWritten(addr);
}

/** Record a #PF for `lin` (CR2) with the error code walk() left. */
function recordPageFault(lin: u32): void {
  pageFaults++;
  store<u32>(STATE + OFF_CR2, lin);
  recordFault(EXC_PF, <i32>walkError);
}

function makeEntry(phys: u32, user: bool, writable: bool, dirty: bool, global: bool): u32 {
  const cr0 = load<u32>(STATE + OFF_CR0);
  let e = (phys & 0xfffff000) | TLB_VALID;
  if (!user) e |= TLB_NO_USER | TLB_NO_WRITE_USER;
  if (!writable || !dirty) e |= TLB_NO_WRITE_USER;
  if ((!writable && (cr0 & CR0_WP) != 0) || !dirty) e |= TLB_NO_WRITE_SUP;
  const kind = pageKind(phys);
  if (kind == MEM_ROM) e |= TLB_ROM;
  else if (kind == MEM_VRAM) {
    // The entry names where the page's bytes are, after the JIT's memory (mmu/phys.ts): the
    // fast paths add RAM_BASE as for RAM. Code tracking goes by that place too.
    const at = vramOffset(phys & 0xfffff000);
    e = (e & 0xfff) | at | TLB_VRAM_CLEAN;
    if (isCodePage(at)) e |= TLB_CODE;
  } else if (kind != MEM_RAM) e |= TLB_MMIO;
  else {
    if (isCodePage(phys)) e |= TLB_CODE;
    if (dirtyLogOn && !dirtyLogged(phys >>> 12)) e |= TLB_LOG_DIRTY;
  }
  if (global) e |= TLB_GLOBAL;
  return e;
}

/**
 * Translate `lin` for an access (write or not, by user code or not), raising #PF when the
 * paging structures forbid it, and return the TLB entry (which is also installed).
 */
export function translate(lin: u32, write: bool, user: bool): u32 {
  const e = translateOrRecord(lin, write, user);
  if (e == 0) abandon();
  return e;
}

/**
 * translate() that only records a page fault (cpu/fault.ts recordFault) and returns 0, for
 * translated code's slow paths (jit/helpers.ts), which leave without a throw.
 */
export function translateOrRecord(lin: u32, write: bool, user: bool): u32 {
  let e = tlbEntry(lin);
  if (e & TLB_VALID) {
    let bad = user ? (e & TLB_NO_USER) : 0;
    if (write) bad |= e & (user ? TLB_NO_WRITE_USER : TLB_NO_WRITE_SUP);
    if (bad == 0) return e;
  }
  e = walk(lin, write, user);
  if (e == 0) { recordPageFault(lin); return 0; }
  // The entry as stored: an access on a page a host watchpoint covers must see TLB_WATCH the
  // first time too (mmu/access.ts), not only once the entry is in the TLB.
  return tlbSet(lin, e);
}

/** The #PF error code when walk() returns 0. */
let walkError: u32 = 0;

/** The TLB entry for `lin` (always with TLB_VALID), or 0 for a page fault with walkError. Nothing changes before a fault. */
function walk(lin: u32, write: bool, user: bool): u32 {
  const cr0 = load<u32>(STATE + OFF_CR0);
  if ((cr0 & CR0_PG) == 0) {
    return makeEntry(lin & a20Mask, true, true, true, false);
  }
  pageWalks++;
  const cr4 = load<u32>(STATE + OFF_CR4);
  const code: u32 = (write ? PF_WRITE : 0) | (user ? PF_USER : 0);
  const pdeAddr = ((load<u32>(STATE + OFF_CR3) & 0xfffff000) | ((lin >>> 20) & 0xffc)) & a20Mask;
  let pde = readPhys32(pdeAddr);
  if ((pde & PTE_P) == 0) { walkError = code; return 0; }
  const wp = (cr0 & CR0_WP) != 0;

  if ((pde & PDE_PS) != 0 && (cr4 & CR4_PSE) != 0) {
    const us = (pde & PTE_US) != 0, rw = (pde & PTE_RW) != 0;
    if ((user && !us) || (write && !rw && (user || wp))) { walkError = code | PF_PROTECTION; return 0; }
    const newPde = pde | PTE_A | (write ? PTE_D : 0);
    if (newPde != pde) { writeTableEntry(pdeAddr, newPde); pde = newPde; }
    const phys = ((pde & 0xffc00000) | (lin & 0x003ff000)) & a20Mask;
    unchecked(largeRegions[lin >>> 22] = 1);
    return makeEntry(phys, us, rw, (pde & PTE_D) != 0, (pde & PTE_G) != 0 && (cr4 & CR4_PGE) != 0);
  }

  const pteAddr = ((pde & 0xfffff000) | ((lin >>> 10) & 0xffc)) & a20Mask;
  let pte = readPhys32(pteAddr);
  if ((pte & PTE_P) == 0) { walkError = code; return 0; }
  const us = (pde & pte & PTE_US) != 0, rw = (pde & pte & PTE_RW) != 0;
  if ((user && !us) || (write && !rw && (user || wp))) { walkError = code | PF_PROTECTION; return 0; }
  if ((pde & PTE_A) == 0) writeTableEntry(pdeAddr, pde | PTE_A);
  const newPte = pte | PTE_A | (write ? PTE_D : 0);
  if (newPte != pte) { writeTableEntry(pteAddr, newPte); pte = newPte; }
  return makeEntry((pte & 0xfffff000) & a20Mask, us, rw, (pte & PTE_D) != 0, (pte & PTE_G) != 0 && (cr4 & CR4_PGE) != 0);
}

/** Translate without side effects or faults (for the inspector and debuggers): physical address or -1. */
export function probe(lin: u32): i64 {
  const cr0 = load<u32>(STATE + OFF_CR0);
  if ((cr0 & CR0_PG) == 0) return <i64>(lin & a20Mask);
  const pde = readPhys32(((load<u32>(STATE + OFF_CR3) & 0xfffff000) | ((lin >>> 20) & 0xffc)) & a20Mask);
  if ((pde & PTE_P) == 0) return -1;
  if ((pde & PDE_PS) != 0 && (load<u32>(STATE + OFF_CR4) & CR4_PSE) != 0) return <i64>(((pde & 0xffc00000) | (lin & 0x3fffff)) & a20Mask);
  const pte = readPhys32(((pde & 0xfffff000) | ((lin >>> 10) & 0xffc)) & a20Mask);
  if ((pte & PTE_P) == 0) return -1;
  return <i64>(((pte & 0xfffff000) | (lin & 0xfff)) & a20Mask);
}
