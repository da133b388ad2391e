// Just enough of ELF (System V gABI, i386 psABI) to load an uncompressed Linux kernel: the file
// header and the PT_LOAD program headers. Every offset and size is checked against the file
// before use, because the file comes from the user.

import { BootError } from './boot-error';

// e_ident
export const ELFMAG = 0x464c457f; // "\x7fELF" as a little-endian u32
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
// ELF32 header fields
export const E_TYPE = 16; // u16
export const E_MACHINE = 18; // u16
export const E_ENTRY = 24; // u32
export const E_PHOFF = 28; // u32
export const E_PHENTSIZE = 42; // u16
export const E_PHNUM = 44; // u16
export const ELF32_EHDR_SIZE = 52;
export const ELF32_PHDR_SIZE = 32;
export const ET_EXEC = 2;
export const EM_386 = 3;
// Program header fields (ELF32)
export const P_TYPE = 0;
export const P_OFFSET = 4;
export const P_VADDR = 8;
export const P_PADDR = 12;
export const P_FILESZ = 16;
export const P_MEMSZ = 20;
export const P_FLAGS = 24;
export const P_ALIGN = 28;
export const PT_LOAD = 1;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** A few machine numbers, to say what a wrong-machine file is. */
const MACHINES: Record<number, string> = {
  3: 'i386', 8: 'MIPS', 20: 'PowerPC', 40: 'ARM', 50: 'IA-64', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V',
};

export interface ElfSegment {
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  flags: number;
  align: number;
}

export interface ElfImage {
  entry: number;
  /** PT_LOAD segments in file order. */
  segments: ElfSegment[];
}

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

export function isElf(b: Uint8Array): boolean {
  return b.length >= 4 && u32(b, 0) === ELFMAG;
}

/** Parses an i386 executable ELF. Throws BootError with a one-line reason otherwise. */
export function parseElf32(file: Uint8Array, what = 'vmlinux'): ElfImage {
  if (!isElf(file)) throw new BootError(`${what}: not an ELF file`);
  if (file.length < ELF32_EHDR_SIZE) throw new BootError(`${what}: ELF truncated to ${file.length} bytes`);
  const machine = u16(file, E_MACHINE);
  if (file[EI_CLASS] === ELFCLASS64 || machine !== EM_386) {
    const name = MACHINES[machine] ?? `machine ${machine}`;
    throw new BootError(`${what}: ELF for ${name}${file[EI_CLASS] === ELFCLASS64 ? ' (64-bit)' : ''}, not i386`);
  }
  if (file[EI_CLASS] !== ELFCLASS32 || file[EI_DATA] !== ELFDATA2LSB) {
    throw new BootError(`${what}: not a 32-bit little-endian ELF`);
  }
  if (u16(file, E_TYPE) !== ET_EXEC) throw new BootError(`${what}: ELF type ${u16(file, E_TYPE)} is not an executable`);
  const phoff = u32(file, E_PHOFF);
  const phentsize = u16(file, E_PHENTSIZE);
  const phnum = u16(file, E_PHNUM);
  if (phnum === 0) throw new BootError(`${what}: ELF has no program headers`);
  if (phentsize < ELF32_PHDR_SIZE) throw new BootError(`${what}: ELF program header size ${phentsize} is too small`);
  if (phoff + phnum * phentsize > file.length) {
    throw new BootError(`${what}: ELF truncated to ${file.length} bytes (program headers end at ${phoff + phnum * phentsize})`);
  }
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (u32(file, ph + P_TYPE) !== PT_LOAD) continue;
    const s: ElfSegment = {
      offset: u32(file, ph + P_OFFSET),
      vaddr: u32(file, ph + P_VADDR),
      paddr: u32(file, ph + P_PADDR),
      filesz: u32(file, ph + P_FILESZ),
      memsz: u32(file, ph + P_MEMSZ),
      flags: u32(file, ph + P_FLAGS),
      align: u32(file, ph + P_ALIGN),
    };
    if (s.filesz > s.memsz) throw new BootError(`${what}: ELF segment ${i} has filesz > memsz`);
    if (s.offset + s.filesz > file.length) {
      throw new BootError(`${what}: ELF truncated to ${file.length} bytes (segment ${i} ends at ${s.offset + s.filesz})`);
    }
    if (s.paddr + s.memsz > 0x1_0000_0000) throw new BootError(`${what}: ELF segment ${i} extends past 4 GiB`);
    segments.push(s);
  }
  if (segments.length === 0) throw new BootError(`${what}: ELF has no PT_LOAD segments`);
  return { entry: u32(file, E_ENTRY), segments };
}
