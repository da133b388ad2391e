// Runs CPU differential test cases in our core (build/core.wasm through src/cpu/core.ts).
//
// The core gets a tiny protected-mode OS image in guest RAM, written straight into the state:
//   GDT: null, ring-0 code 0x08, ring-0 data 0x10, TSS 0x18, user code 0x23, user data 0x2b
//        (the user selectors equal Linux's i386 ones, so selector values read back the same).
//   IDT: exception gates 0..31 and 0x80 are 32-bit interrupt gates to ring-0 stubs
//        `hlt; jmp $-1`, 16 bytes apart; 3 (INT3), 4 (INTO) and 0x80 have DPL 3 like Linux's.
//   TSS: SS0:ESP0 = 0x10:KSTACK_TOP, I/O map base beyond the limit (all ports denied at CPL 3).
//   Paging: system pages at linear SYS_LIN (supervisor), the code page (user, read-only), the two
//   data pages and the stack page (user, read/write) at the same linear addresses as natively.
//   Nothing else is mapped, so wild accesses #PF exactly like in the native process.
// A case runs at CPL 3 until the exception it ends with (the INT3 landing after the bytes, or a
// fault) is delivered to a stub and the stub halts. Vector = which stub; error code, EIP, EFLAGS
// and the user ESP come from the ring-0 interrupt frame; CR2 from the state.

import { type Core, type CoreHost, loadCore } from '../../src/cpu/core.js';
import { readCoreWasm } from '../../src/cpu/core-file.js';
import { fillBytes } from '../../src/cpu/fill.js';
import {
  CODE_BASE, CODE_ENTRY, CODE_SIZE, type CaseResult, DATA_BASE, DATA_SIZE, STACK_BASE, STACK_SIZE,
  type TestCase, USER_CS, USER_DS, VEC_OTHER, VEC_TIMEOUT, diffImages, hasErrorCode, memoryImage,
} from './gen/case.js';

/** Linear address of the system area (phys 0..0xffff mapped supervisor-only). */
export const SYS_LIN = 0xc000_0000;
/** The supervisor-only system pages mapped from SYS_LIN (the first 64 KiB of guest RAM). */
export const SYS_PAGES_BYTES = 0x10000;
export const PHYS = {
  GDT: 0x1000,
  IDT: 0x2000,
  TSS: 0x3000,
  PD: 0x4000,
  PT_SYS: 0x5000,
  PT_CODE: 0x6000,
  PT_DATA: 0x7000,
  PT_STACK: 0x8000,
  STUBS: 0x9000,
  KSTACK_TOP: 0xc000,
  CODE: 0x10000,
  DATA: 0x11000, // data pages, then the stack page right after: one image
  STACK: 0x13000,
} as const;

export const RAM_BYTES = 4 << 20;
export const KERNEL_CS = 0x08;
export const KERNEL_DS = 0x10;
export const TSS_SEL = 0x18;

// Descriptor access bytes (descriptor bits 40..47) and flag nibbles (bits 52..55).
const ACC_PRESENT = 0x80;
const ACC_CODE_RX = 0x1b; // S=1, code, readable, accessed
const ACC_DATA_RW = 0x13; // S=1, data, writable, accessed
const ACC_TSS32_BUSY = 0x0b;
const FLAGS_4K_32 = 0xc; // G=1, D/B=1
const GATE_INT32 = 0x0e;
const PTE_P = 1, PTE_RW = 2, PTE_US = 4;
const CR0_PE = 1, CR0_MP = 2, CR0_ET = 0x10, CR0_NE = 0x20, CR0_WP = 0x1_0000, CR0_AM = 0x4_0000, CR0_PG = 0x8000_0000;
/** CR0 as Linux runs user code: AM set too, so EFLAGS.AC behaves the same on both sides. */
export const CR0_USER = (CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG) >>> 0;

/** Access-rights word as the core caches it (state.ts: bits 40..55 of the descriptor). */
export function segAccess(accByte: number, flags: number): number {
  return (accByte | (flags << 12)) >>> 0;
}

/** A host whose ports and MMIO are empty; any use is counted (CPL-3 cases must never reach it). */
export class CountingHost implements CoreHost {
  ioReads = 0; ioWrites = 0; mmioReads = 0; mmioWrites = 0;
  ioRead(): number { this.ioReads++; return 0xffff_ffff; }
  ioWrite(): void { this.ioWrites++; }
  mmioRead(): number { this.mmioReads++; return 0xffff_ffff; }
  mmioWrite(): void { this.mmioWrites++; }
  intAck(): number { return 0; }
  readTsc(): number { return 0; }
  ferr(): void {}
}

/** Write a GDT descriptor. */
export function writeDescriptor(ram: DataView, at: number, base: number, limit: number, acc: number, flags: number): void {
  ram.setUint16(at, limit & 0xffff, true);
  ram.setUint16(at + 2, base & 0xffff, true);
  ram.setUint8(at + 4, (base >>> 16) & 0xff);
  ram.setUint8(at + 5, acc);
  ram.setUint8(at + 6, ((limit >>> 16) & 0xf) | (flags << 4));
  ram.setUint8(at + 7, base >>> 24);
}

export function writeGate(ram: DataView, at: number, offset: number, selector: number, dpl: number): void {
  ram.setUint16(at, offset & 0xffff, true);
  ram.setUint16(at + 2, selector, true);
  ram.setUint8(at + 4, 0);
  ram.setUint8(at + 5, ACC_PRESENT | (dpl << 5) | GATE_INT32);
  ram.setUint16(at + 6, offset >>> 16, true);
}

export const STUB_LIN = SYS_LIN + PHYS.STUBS;
/** Vectors that get a gate; INT n to any other vector finds a zero (DPL 0, not present) entry. */
const GATED = [...Array.from({ length: 32 }, (_, i) => i), 0x80];
const USER_GATES = new Set([3, 4, 0x80]);

/** Build the system tables (GDT, IDT, TSS, page tables, stubs) in guest RAM. */
export function buildSystem(core: Core): void {
  const ram = core.ram;
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  fillBytes(ram, 0, 0, 0x20000);
  writeSystemDescriptors(dv);
  for (const v of GATED) {
    writeGate(dv, PHYS.IDT + v * 8, STUB_LIN + v * 16, KERNEL_CS, USER_GATES.has(v) ? 3 : 0);
    ram.set([0xf4, 0xeb, 0xfd], PHYS.STUBS + v * 16); // hlt; jmp back to the hlt
  }
  // TSS: ESP0/SS0, I/O map base past the limit.
  dv.setUint32(PHYS.TSS + 4, SYS_LIN + PHYS.KSTACK_TOP, true);
  dv.setUint32(PHYS.TSS + 8, KERNEL_DS, true);
  dv.setUint16(PHYS.TSS + 0x66, 0x68, true);
  // Paging.
  const pde = (lin: number, pt: number, flags: number) => dv.setUint32(PHYS.PD + (lin >>> 22) * 4, pt | flags, true);
  const pte = (pt: number, lin: number, phys: number, flags: number) =>
    dv.setUint32(pt + ((lin >>> 12) & 0x3ff) * 4, phys | flags, true);
  pde(SYS_LIN, PHYS.PT_SYS, PTE_P | PTE_RW);
  for (let p = 0; p < SYS_PAGES_BYTES; p += 0x1000) pte(PHYS.PT_SYS, SYS_LIN + p, p, PTE_P | PTE_RW);
  pde(CODE_BASE, PHYS.PT_CODE, PTE_P | PTE_RW | PTE_US);
  pte(PHYS.PT_CODE, CODE_BASE, PHYS.CODE, PTE_P | PTE_US);
  pde(DATA_BASE, PHYS.PT_DATA, PTE_P | PTE_RW | PTE_US);
  for (let p = 0; p < DATA_SIZE; p += 0x1000) pte(PHYS.PT_DATA, DATA_BASE + p, PHYS.DATA + p, PTE_P | PTE_RW | PTE_US);
  pde(STACK_BASE, PHYS.PT_STACK, PTE_P | PTE_RW | PTE_US);
  pte(PHYS.PT_STACK, STACK_BASE, PHYS.STACK, PTE_P | PTE_RW | PTE_US);
}

function writeSystemDescriptors(dv: DataView): void {
  writeDescriptor(dv, PHYS.GDT + 0, 0, 0, 0, 0);
  writeDescriptor(dv, PHYS.GDT + 0x08, 0, 0xfffff, ACC_PRESENT | ACC_CODE_RX, FLAGS_4K_32);
  writeDescriptor(dv, PHYS.GDT + 0x10, 0, 0xfffff, ACC_PRESENT | ACC_DATA_RW, FLAGS_4K_32);
  writeDescriptor(dv, PHYS.GDT + 0x18, SYS_LIN + PHYS.TSS, 0x67, ACC_PRESENT | ACC_TSS32_BUSY, 0);
  writeDescriptor(dv, PHYS.GDT + 0x20, 0, 0xfffff, ACC_PRESENT | 0x60 | ACC_CODE_RX, FLAGS_4K_32);
  writeDescriptor(dv, PHYS.GDT + 0x28, 0, 0xfffff, ACC_PRESENT | 0x60 | ACC_DATA_RW, FLAGS_4K_32);
}

/** Load the user-mode register file for a CPL-3 flat protected-mode context. */
export function enterUserMode(core: Core, regs: readonly number[], eip: number, eflags: number): void {
  for (let r = 0; r < 8; r++) core.setReg(r, regs[r]);
  core.eip = eip;
  const user = (sel: number, acc: number) => ({ selector: sel, base: 0, limit: 0xffff_ffff, access: segAccess(acc, FLAGS_4K_32) });
  core.setSeg('cs', user(USER_CS, ACC_PRESENT | 0x60 | ACC_CODE_RX));
  for (const s of ['ss', 'ds', 'es'] as const) core.setSeg(s, user(USER_DS, ACC_PRESENT | 0x60 | ACC_DATA_RW));
  for (const s of ['fs', 'gs', 'ldtr'] as const) core.setSeg(s, { selector: 0, base: 0, limit: 0, access: 0 });
  core.setSeg('tr', { selector: TSS_SEL, base: SYS_LIN + PHYS.TSS, limit: 0x67, access: segAccess(ACC_PRESENT | ACC_TSS32_BUSY, 0) });
  core.gdtr = { base: SYS_LIN + PHYS.GDT, limit: 0x2f };
  core.idtr = { base: SYS_LIN + PHYS.IDT, limit: 0x7ff };
  core.cr0 = CR0_USER;
  core.cr3 = PHYS.PD;
  core.cr4 = 0;
  core.cr2 = 0;
  core.cpl = 3;
  core.setU32('OFF_HALTED', 0);
  refreshWithFlags(core, (eflags | 0x202) >>> 0);
}

/**
 * refreshState() reloads EFLAGS from the state block, so the flags go there first; setEflags()
 * after it materializes them in the live (lazy) form as well.
 */
export function refreshWithFlags(core: Core, eflags: number): void {
  core.setU32('OFF_EFLAGS', eflags);
  core.refreshState(); // also flushes the TLB (CR3 and the page tables changed under it)
  core.setEflags(eflags);
}

/** Read back how a case ended from the ring-0 frame a stub halted on. */
export function readExceptionFrame(core: Core): { vector: number; error: number; eip: number; eflags: number; esp: number } | null {
  const stubAt = (core.eip - 1 - STUB_LIN) >>> 0;
  if (stubAt % 16 !== 0 || stubAt / 16 > 0x80) return null;
  const vector = stubAt / 16;
  const withErr = hasErrorCode(vector);
  const esp = core.reg(4);
  const top = SYS_LIN + PHYS.KSTACK_TOP;
  if (esp !== top - (withErr ? 24 : 20)) return null;
  const dv = new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
  let at = esp - SYS_LIN;
  const error = withErr ? dv.getUint32(at, true) : 0;
  if (withErr) at += 4;
  const cs = dv.getUint32(at + 4, true) & 0xffff;
  if (cs !== USER_CS) return null;
  return { vector, error, eip: dv.getUint32(at, true), eflags: dv.getUint32(at + 8, true), esp: dv.getUint32(at + 12, true) };
}

export interface CoreCaseResult extends CaseResult {
  /** Set when the core threw (a Wasm trap or a host exception) instead of ending architecturally. */
  thrown?: string;
}

export class CoreRunner {
  budget = 200_000;
  private constructor(readonly core: Core, readonly host: CountingHost) {}

  static async create(): Promise<CoreRunner> {
    const host = new CountingHost();
    const core = await loadCore(await readCoreWasm(), host);
    core.init(RAM_BYTES);
    buildSystem(core);
    return new CoreRunner(core, host);
  }

  run(c: TestCase): CoreCaseResult {
    const core = this.core;
    const ram = core.ram;
    fillBytes(ram, 0xcc, PHYS.CODE, PHYS.CODE + CODE_SIZE);
    ram.set(c.code, PHYS.CODE + CODE_ENTRY);
    const img = memoryImage(c.seed, c.pokes);
    ram.set(img, PHYS.DATA);
    // Exceptions write the ring-0 stack and may touch descriptor bits: rewrite the GDT each time.
    writeSystemDescriptors(new DataView(ram.buffer, ram.byteOffset, ram.byteLength));
    // MXCSR starts at its power-on value, as in the native harness: no case sees an earlier
    // case's FXRSTOR.
    core.setU32('OFF_FPU_MXCSR', 0x1f80);
    enterUserMode(core, c.regs, CODE_BASE + CODE_ENTRY, c.eflags);

    let vector = VEC_OTHER, error = 0, eip = core.eip, eflags = 0, cr2 = 0, thrown: string | undefined;
    const regs: number[] = [];
    try {
      const stop = core.run(this.budget);
      if (stop === 'hlt') {
        const f = readExceptionFrame(core);
        if (f) {
          ({ vector, error, eip, eflags } = f);
          if (vector === 14) cr2 = core.cr2;
          for (let r = 0; r < 8; r++) regs.push(r === 4 ? f.esp : core.reg(r));
        } else {
          thrown = `halted outside a user-mode exception frame: ${core.describe()}`;
        }
      } else if (stop === 'budget') {
        vector = VEC_TIMEOUT;
      } else {
        thrown = `core stopped with '${stop}': ${core.describe()}`;
      }
    } catch (e) {
      thrown = `${(e as Error).name}: ${(e as Error).message}`;
    }
    if (regs.length === 0) for (let r = 0; r < 8; r++) regs.push(core.reg(r));
    if (thrown) { vector = VEC_OTHER; eip = core.eip; eflags = safeEflags(core); }
    const d = diffImages(img, ram.subarray(PHYS.DATA, PHYS.DATA + DATA_SIZE + STACK_SIZE));
    return { vector, error, eip, cr2, regs, eflags, changeCount: d.count, changes: d.changes, thrown };
  }
}

function safeEflags(core: Core): number {
  try { return core.getEflags(); } catch { return 0; }
}

// The runner copies data and stack as one image: the physical pages must be adjacent.
if (PHYS.STACK !== PHYS.DATA + DATA_SIZE) throw new Error('core-runner: data and stack pages must be adjacent');
