// Loads Linux into guest RAM the way a boot loader does, without a BIOS, and returns the CPU
// state for the 32-bit boot protocol entry (Documentation/arch/x86/boot.rst, "32-bit Boot
// Protocol"): flat 4 GiB segments __BOOT_CS = 0x10 and __BOOT_DS = 0x18, protected mode, paging
// off, interrupts off, %esi = boot_params, %ebp = %edi = %ebx = 0.
//
// Two ways to load the kernel:
//  - bzImage: its protected-mode part goes to 0x100000 and we enter at code32_start; the guest's
//    decompressor then unpacks the kernel to pref_address (16 MiB for Debian's kernel).
//  - vmlinux (the same kernel decompressed on the host): its PT_LOAD segments go to their
//    physical addresses and we enter at the ELF entry, which for i386 is phys_startup_32. This
//    skips seconds of guest-side XZ decompression. The bzImage is still read for its setup header.
//
// Guest physical memory used by the loader (the one place these addresses are chosen):
//
//   0x0000_0000 - 0x0000_0fff  left alone: real-mode IVT and BIOS data area (the kernel reads the
//                              EBDA pointer at 0x40e; zero means "none")
//   0x0000_1000 - 0x0000_101f  BOOT_GDT_ADDR: our GDT (null, null, __BOOT_CS, __BOOT_DS)
//   0x0000_1020 - 0x0000_6fff  free; the initial %esp is BOOT_STACK_TOP = 0x7000 (the kernel sets
//                              its own stack at once, so this is only for debuggers)
//   0x0000_7000 - 0x0000_7fff  ZERO_PAGE_ADDR: boot_params ("zero page"), e820 table inside it
//   0x0002_0000 - ...          CMDLINE_ADDR: the command line, at most cmdline_size + 1 bytes
//   0x0010_0000 - ...          BZIMAGE_LOAD_ADDR: a bzImage's protected-mode part; its
//                              decompressor works up to max(load, pref_address) + init_size
//   vmlinux p_paddr            the ELF's segments (0x0100_0000.. for Debian's 686 kernel)
//   high                       the initrd: page aligned, as high as initrd_addr_max, the RAM size
//                              and the e820 map allow, above everything the kernel needs
//
// Everything stays below 0x9fc00 / above 1 MiB, so the usual e820 holes (EBDA, VGA, BIOS) are free
// for the Machine's ROMs and MMIO.

import { BootError } from './boot-error';
import {
  CAN_USE_HEAP, HDR_CMD_LINE_PTR, HDR_CODE32_START, HDR_HEAP_END_PTR, HDR_RAMDISK_IMAGE, HDR_RAMDISK_SIZE,
  HDR_SETUP_SECTS, HDR_TYPE_OF_LOADER, HDR_LOADFLAGS, HDR_BOOT_FLAG, HDR_HEADER, HDR_VERSION, HDR_CMDLINE_SIZE,
  HDR_INITRD_ADDR_MAX, HDR_KERNEL_ALIGNMENT, HDR_JUMP, BOOT_FLAG_MAGIC, HDRS_MAGIC, LOADED_HIGH,
  parseBzImage, type SetupHeader,
} from './bzimage';
import { isElf, parseElf32, type ElfImage } from './elf';
import { fillBytes } from '../cpu/fill';

// ---- the loader's memory layout (see the table above) ----
export const BOOT_GDT_ADDR = 0x1000;
export const BOOT_STACK_TOP = 0x7000;
export const ZERO_PAGE_ADDR = 0x7000;
export const ZERO_PAGE_SIZE = 0x1000;
export const CMDLINE_ADDR = 0x20000;
export const BZIMAGE_LOAD_ADDR = 0x100000;

// ---- boot_params ("zero page") fields outside the setup header (arch/x86/include/uapi/asm/bootparam.h) ----
export const BP_ORIG_VIDEO_MODE = 0x006; // u8: screen_info.orig_video_mode
export const BP_EXT_MEM_K = 0x002; // u16: screen_info.ext_mem_k, KiB above 1 MiB (capped)
export const BP_ORIG_VIDEO_COLS = 0x007; // u8
export const BP_ORIG_VIDEO_LINES = 0x00e; // u8
export const BP_ORIG_VIDEO_ISVGA = 0x00f; // u8: VIDEO_TYPE_*
export const BP_ORIG_VIDEO_POINTS = 0x010; // u16: character height
export const BP_ALT_MEM_K = 0x1e0; // u32: KiB above 1 MiB
export const BP_E820_ENTRIES = 0x1e8; // u8
export const BP_SENTINEL = 0x1ef; // u8: must stay 0, or the kernel wipes fields it thinks are stale
export const BP_E820_TABLE = 0x2d0; // 128 x struct boot_e820_entry
export const E820_ENTRY_SIZE = 20; // u64 addr, u64 size, u32 type
export const E820_MAX_ENTRIES_ZEROPAGE = 128;
export const VIDEO_TYPE_VGAC = 0x22; // VGA colour text

/** Boot loader id 0xFF: "undefined", the value boot.rst asks of loaders without an assigned id. */
export const LOADER_TYPE_UNDEFINED = 0xff;
/** heap_end_ptr for a setup heap ending at 0xe000 in the real-mode segment (boot.rst's example). */
export const HEAP_END_PTR = 0xe000 - 0x200;

// ---- segments for the 32-bit entry ----
export const BOOT_CS = 0x10; // __BOOT_CS
export const BOOT_DS = 0x18; // __BOOT_DS
/** A descriptor as its low and high dwords. */
export interface Descriptor { lo: number; hi: number }
/** Flat 4 GiB ring-0 code: base 0, limit 0xfffff pages, P, DPL 0, execute/read, accessed, D=1, G=1. */
export const GDT_BOOT_CODE: Descriptor = { lo: 0x0000ffff, hi: 0x00cf9b00 };
/** Flat 4 GiB ring-0 data: base 0, limit 0xfffff pages, P, DPL 0, read/write, accessed, B=1, G=1. */
export const GDT_BOOT_DATA: Descriptor = { lo: 0x0000ffff, hi: 0x00cf9300 };
export const CR0_PE = 0x00000001; // protected mode
export const CR0_ET = 0x00000010; // extension type: hard-wired to 1 on i486 and later
export const EFLAGS_RESERVED_1 = 0x00000002; // bit 1 always reads 1; IF (bit 9) stays clear

const PAGE = 4096;
const MiB = 1024 * 1024;
const E820_RAM = 1;

export interface E820Entry {
  addr: number;
  size: number;
  /** 1 usable RAM, 2 reserved, 3 ACPI reclaimable, 4 ACPI NVS. */
  type: 1 | 2 | 3 | 4;
}

export interface LoadLinuxOptions {
  /** The bzImage (its setup header is always used), or an i386 vmlinux ELF on its own. */
  kernel: Uint8Array;
  /** The same kernel decompressed: load its segments instead of the bzImage's decompressor. */
  vmlinux?: Uint8Array;
  initrd?: Uint8Array;
  cmdline: string;
  e820: E820Entry[];
  /** Tell the kernel an 80x25 VGA text screen is present (lets vgacon start); off for serial-only. */
  vgaText?: boolean;
}

/** A segment register as the core keeps it: limit already scaled, access = descriptor bits 40..55 & 0xf0ff. */
export interface SegmentRegister {
  selector: number;
  base: number;
  limit: number;
  access: number;
}

export interface BootLayout {
  bootParams: number;
  cmdline: number;
  cmdlineLength: number;
  kernelKind: 'bzImage' | 'vmlinux';
  /** Bytes the loader copied for the kernel, [start, end). */
  kernelStart: number;
  kernelEnd: number;
  /** End of the memory the kernel needs while booting (decompression buffer, bss, brk). */
  kernelReservedEnd: number;
  initrdStart: number;
  initrdSize: number;
}

/** The CPU state for the 32-bit entry, with the GDT it refers to (already written to RAM). */
export interface BootEntry {
  eip: number;
  eax: number; ebx: number; ecx: number; edx: number;
  esi: number; edi: number; ebp: number; esp: number;
  eflags: number;
  cr0: number;
  cs: SegmentRegister;
  ds: SegmentRegister;
  es: SegmentRegister;
  ss: SegmentRegister;
  fs: SegmentRegister;
  gs: SegmentRegister;
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  gdt: { addr: number; image: Uint8Array };
  layout: BootLayout;
}

/** The usual PC map for `ramBytes` of RAM without ACPI tables: low RAM, EBDA, BIOS ROM, high RAM. */
export function standardE820(ramBytes: number): E820Entry[] {
  return [
    { addr: 0, size: 0x9fc00, type: 1 },
    { addr: 0x9fc00, size: 0x400, type: 2 },
    { addr: 0xf0000, size: 0x10000, type: 2 },
    { addr: 0x100000, size: Math.max(0, Math.min(ramBytes, 0x1_0000_0000) - 0x100000), type: 1 },
  ].filter((e) => e.size > 0) as E820Entry[];
}

const hex = (v: number) => '0x' + v.toString(16);
const alignUp = (v: number, a: number) => Math.ceil(v / a) * a;
const alignDown = (v: number, a: number) => Math.floor(v / a) * a;

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
}

function put64(b: Uint8Array, o: number, v: number): void {
  put32(b, o, v % 0x1_0000_0000);
  put32(b, o + 4, Math.floor(v / 0x1_0000_0000));
}

function get32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/**
 * A setup header for a kernel given only as a vmlinux ELF, with the values a 2.15 bzImage of
 * an i386 kernel would carry (no setup code, no payload).
 */
function syntheticHeader(): Uint8Array {
  const page = new Uint8Array(0x270);
  const jumpEnd = 0x268;
  put16(page, HDR_BOOT_FLAG, BOOT_FLAG_MAGIC);
  page[HDR_JUMP] = 0xeb;
  page[HDR_JUMP + 1] = jumpEnd - (HDR_JUMP + 2);
  put32(page, HDR_HEADER, HDRS_MAGIC);
  put16(page, HDR_VERSION, 0x020f);
  page[HDR_LOADFLAGS] = LOADED_HIGH;
  put32(page, HDR_CODE32_START, BZIMAGE_LOAD_ADDR);
  put32(page, HDR_INITRD_ADDR_MAX, 0x7fffffff); // what i386 kernels declare
  put32(page, HDR_KERNEL_ALIGNMENT, 0x1000000);
  put32(page, HDR_CMDLINE_SIZE, 2047); // COMMAND_LINE_SIZE - 1 on x86
  return page.subarray(HDR_SETUP_SECTS, jumpEnd);
}

interface Range { start: number; end: number; what: string }

/** Writes kernel, initrd, command line, boot_params and GDT into `ram`; returns the entry state. */
export function loadLinux(ram: Uint8Array, opts: LoadLinuxOptions): BootEntry {
  const ramMiB = Math.floor(ram.length / MiB);

  // -- what we are booting --
  let header: SetupHeader | null = null;
  let headerBytes: Uint8Array;
  let pm: Uint8Array | null = null;
  let elf: ElfImage | null = null;
  let elfFile: Uint8Array | null = null;
  if (isElf(opts.kernel)) {
    if (opts.vmlinux) throw new BootError('kernel: an ELF kernel was given together with a vmlinux; pass the bzImage as the kernel');
    elfFile = opts.kernel;
    elf = parseElf32(elfFile, 'kernel');
    headerBytes = syntheticHeader();
  } else {
    const bz = parseBzImage(opts.kernel);
    header = bz.header;
    headerBytes = bz.headerBytes;
    if (opts.vmlinux) {
      elfFile = opts.vmlinux;
      elf = parseElf32(elfFile, 'vmlinux');
    } else {
      pm = bz.protectedMode;
    }
  }
  const hdrField32 = (off: number) => get32(headerBytes, off - HDR_SETUP_SECTS);
  const cmdlineSize = hdrField32(HDR_CMDLINE_SIZE);
  const initrdAddrMax = hdrField32(HDR_INITRD_ADDR_MAX);

  // -- command line --
  const cmdline = new TextEncoder().encode(opts.cmdline);
  if (cmdline.includes(0)) throw new BootError('cmdline: contains a NUL byte');
  if (cmdline.length > cmdlineSize) {
    throw new BootError(`cmdline: ${cmdline.length} bytes is longer than this kernel accepts (${cmdlineSize})`);
  }

  // -- e820 --
  if (opts.e820.length === 0 || opts.e820.length > E820_MAX_ENTRIES_ZEROPAGE) {
    throw new BootError(`e820: ${opts.e820.length} entries (need 1 to ${E820_MAX_ENTRIES_ZEROPAGE})`);
  }
  for (const e of opts.e820) {
    if (!Number.isSafeInteger(e.addr) || !Number.isSafeInteger(e.size) || e.addr < 0 || e.size < 0 || ![1, 2, 3, 4].includes(e.type)) {
      throw new BootError(`e820: bad entry ${JSON.stringify(e)}`);
    }
  }
  const usable = opts.e820.filter((e) => e.type === E820_RAM && e.size > 0);
  /** True when [start, end) lies in usable RAM according to the e820 map and inside `ram`. */
  const inUsableRam = (start: number, end: number): boolean => {
    if (end > ram.length) return false;
    let at = start;
    // Walk adjacent or overlapping usable regions upwards from `start`.
    for (let progress = true; at < end && progress;) {
      progress = false;
      for (const e of usable) {
        if (e.addr <= at && at < e.addr + e.size) { at = e.addr + e.size; progress = true; }
      }
    }
    return at >= end;
  };

  // -- kernel placement --
  const initrd = opts.initrd && opts.initrd.length > 0 ? opts.initrd : null;
  const initrdPages = initrd ? alignUp(initrd.length, PAGE) : 0;
  const placed: Range[] = [
    { start: BOOT_GDT_ADDR, end: BOOT_GDT_ADDR + 32, what: 'the boot GDT' },
    { start: ZERO_PAGE_ADDR, end: ZERO_PAGE_ADDR + ZERO_PAGE_SIZE, what: 'boot_params' },
    { start: CMDLINE_ADDR, end: CMDLINE_ADDR + cmdline.length + 1, what: 'the command line' },
  ];
  let kernelStart: number;
  let kernelEnd: number;
  let reservedEnd: number;
  let entry: number;
  if (pm && header) {
    kernelStart = BZIMAGE_LOAD_ADDR;
    kernelEnd = BZIMAGE_LOAD_ADDR + pm.length;
    // Where the decompressor will put the kernel (arch/x86/boot/compressed/head_32.S): the load
    // address rounded up to kernel_alignment if relocatable, but never below LOAD_PHYSICAL_ADDR
    // (= pref_address); it needs init_size bytes from there.
    const align = header.kernelAlignment || 1;
    const runAt = header.relocatableKernel ? Math.max(alignUp(BZIMAGE_LOAD_ADDR, align), header.prefAddress) : header.prefAddress;
    reservedEnd = Math.max(kernelEnd, runAt + header.initSize);
    entry = BZIMAGE_LOAD_ADDR;
    placed.push({ start: kernelStart, end: reservedEnd, what: 'the kernel' });
  } else if (elf) {
    kernelStart = Math.min(...elf.segments.map((s) => s.paddr));
    kernelEnd = Math.max(...elf.segments.map((s) => s.paddr + s.memsz));
    reservedEnd = kernelEnd;
    entry = elf.entry;
    elf.segments.forEach((s, i) => placed.push({ start: s.paddr, end: s.paddr + s.memsz, what: `vmlinux segment ${i}` }));
    if (!elf.segments.some((s) => entry >= s.paddr && entry < s.paddr + s.filesz)) {
      throw new BootError(`vmlinux: entry point ${hex(entry)} is not inside a loaded segment (not a Linux vmlinux?)`);
    }
  } else {
    throw new BootError('kernel: nothing to load');
  }

  const needMiB = Math.ceil((reservedEnd + initrdPages) / MiB);
  const tooSmall = () => new BootError(
    `${ramMiB} MiB of RAM is too small for this kernel${initrd ? ' and initrd' : ''} (needs at least ${needMiB} MiB)`);
  if (reservedEnd > ram.length) throw tooSmall();
  for (const r of placed) {
    if (r.end > ram.length) throw tooSmall();
  }
  for (const r of placed.slice(3)) {
    if (!inUsableRam(r.start, r.end)) {
      throw new BootError(`${r.what} at ${hex(r.start)}-${hex(r.end)} is not in usable RAM per the e820 map`);
    }
  }

  // -- initrd placement: as high as allowed, page aligned, in usable RAM, above the kernel --
  let initrdStart = 0;
  if (initrd) {
    const limit = Math.min(initrdAddrMax + 1, ram.length);
    const regions = [...usable].sort((a, b) => b.addr - a.addr);
    for (const e of regions) {
      const top = Math.min(e.addr + e.size, limit);
      const start = alignDown(top - initrd.length, PAGE);
      if (start >= Math.max(e.addr, reservedEnd) && top > start) { initrdStart = start; break; }
    }
    if (initrdStart === 0) {
      if (reservedEnd + initrdPages > limit && limit === ram.length) throw tooSmall();
      throw new BootError(`initrd: no usable RAM for ${initrd.length} bytes between ${hex(reservedEnd)} and ${hex(limit)}`);
    }
    placed.push({ start: initrdStart, end: initrdStart + initrd.length, what: 'the initrd' });
  }

  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      const a = placed[i], b = placed[j];
      if (a.start < b.end && b.start < a.end) {
        throw new BootError(`${b.what} at ${hex(b.start)}-${hex(b.end)} overlaps ${a.what} at ${hex(a.start)}-${hex(a.end)}`);
      }
    }
  }

  // -- write the kernel --
  if (pm) {
    ram.set(pm, BZIMAGE_LOAD_ADDR);
  } else if (elf && elfFile) {
    for (const s of elf.segments) {
      ram.set(elfFile.subarray(s.offset, s.offset + s.filesz), s.paddr);
      fillBytes(ram, 0, s.paddr + s.filesz, s.paddr + s.memsz); // .bss and .brk
    }
  }
  if (initrd) ram.set(initrd, initrdStart);
  ram.set(cmdline, CMDLINE_ADDR);
  ram[CMDLINE_ADDR + cmdline.length] = 0;

  // -- boot_params --
  const bp = ram.subarray(ZERO_PAGE_ADDR, ZERO_PAGE_ADDR + ZERO_PAGE_SIZE);
  bp.fill(0);
  bp.set(headerBytes, HDR_SETUP_SECTS);
  bp[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
  bp[HDR_LOADFLAGS] |= CAN_USE_HEAP;
  put16(bp, HDR_HEAP_END_PTR, HEAP_END_PTR);
  if (pm) put32(bp, HDR_CODE32_START, BZIMAGE_LOAD_ADDR);
  put32(bp, HDR_CMD_LINE_PTR, CMDLINE_ADDR);
  put32(bp, HDR_RAMDISK_IMAGE, initrdStart);
  put32(bp, HDR_RAMDISK_SIZE, initrd ? initrd.length : 0);
  // Memory above 1 MiB, contiguous from 1 MiB: the old BIOS 0xE801/0x88 answers.
  let highEnd = BZIMAGE_LOAD_ADDR;
  for (let grown = true; grown;) {
    grown = false;
    for (const e of usable) if (e.addr <= highEnd && e.addr + e.size > highEnd) { highEnd = e.addr + e.size; grown = true; }
  }
  const altMemK = Math.min(Math.floor((highEnd - BZIMAGE_LOAD_ADDR) / 1024), 0xffffffff);
  put16(bp, BP_EXT_MEM_K, Math.min(altMemK, 0xffff));
  put32(bp, BP_ALT_MEM_K, altMemK);
  bp[BP_E820_ENTRIES] = opts.e820.length;
  opts.e820.forEach((e, i) => {
    const o = BP_E820_TABLE + i * E820_ENTRY_SIZE;
    put64(bp, o, e.addr);
    put64(bp, o + 8, e.size);
    put32(bp, o + 16, e.type);
  });
  if (opts.vgaText) {
    bp[BP_ORIG_VIDEO_MODE] = 3;
    bp[BP_ORIG_VIDEO_COLS] = 80;
    bp[BP_ORIG_VIDEO_LINES] = 25;
    bp[BP_ORIG_VIDEO_ISVGA] = VIDEO_TYPE_VGAC;
    put16(bp, BP_ORIG_VIDEO_POINTS, 16);
  }

  // -- GDT --
  const gdt = new Uint8Array(32);
  put32(gdt, BOOT_CS, GDT_BOOT_CODE.lo);
  put32(gdt, BOOT_CS + 4, GDT_BOOT_CODE.hi);
  put32(gdt, BOOT_DS, GDT_BOOT_DATA.lo);
  put32(gdt, BOOT_DS + 4, GDT_BOOT_DATA.hi);
  ram.set(gdt, BOOT_GDT_ADDR);
  // The core keeps descriptor bits 40..55 without the limit nibble (asm-core/cpu/segments.ts descAccess).
  const flat = (selector: number, d: Descriptor): SegmentRegister => ({
    selector,
    base: 0,
    limit: 0xffffffff,
    access: (d.hi >>> 8) & 0xf0ff,
  });
  const data = () => flat(BOOT_DS, GDT_BOOT_DATA);

  return {
    eip: entry,
    eax: 0, ebx: 0, ecx: 0, edx: 0,
    esi: ZERO_PAGE_ADDR, edi: 0, ebp: 0, esp: BOOT_STACK_TOP,
    eflags: EFLAGS_RESERVED_1,
    cr0: CR0_PE | CR0_ET,
    cs: flat(BOOT_CS, GDT_BOOT_CODE),
    ds: data(), es: data(), ss: data(), fs: data(), gs: data(),
    gdtr: { base: BOOT_GDT_ADDR, limit: gdt.length - 1 },
    idtr: { base: 0, limit: 0 },
    gdt: { addr: BOOT_GDT_ADDR, image: gdt },
    layout: {
      bootParams: ZERO_PAGE_ADDR,
      cmdline: CMDLINE_ADDR,
      cmdlineLength: cmdline.length,
      kernelKind: pm ? 'bzImage' : 'vmlinux',
      kernelStart,
      kernelEnd,
      kernelReservedEnd: reservedEnd,
      initrdStart,
      initrdSize: initrd ? initrd.length : 0,
    },
  };
}
