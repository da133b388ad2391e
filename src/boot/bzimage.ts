// The bzImage setup header (Linux Documentation/arch/x86/boot.rst, "The real-mode kernel header").
//
// A bzImage is: the boot sector and real-mode setup code (setup_sects + 1 sectors of 512 bytes,
// with the setup header at 0x1F1), then the protected-mode part, which holds the decompressor
// and the compressed kernel (the "payload"). We boot through the 32-bit entry, so the real-mode
// code is never run; only its header is copied into boot_params.

import { BootError } from './boot-error';

// Offsets of setup header fields inside the kernel file (and inside boot_params: same offsets).
export const HDR_SETUP_SECTS = 0x1f1; // u8: size of the real-mode code in 512-byte sectors; 0 means 4
export const HDR_ROOT_FLAGS = 0x1f2; // u16: mount root read-only if non-zero
export const HDR_SYSSIZE = 0x1f4; // u32: size of the protected-mode code in 16-byte paragraphs
export const HDR_VID_MODE = 0x1fa; // u16: video mode for the real-mode setup
export const HDR_BOOT_FLAG = 0x1fe; // u16: 0xAA55
export const HDR_JUMP = 0x200; // u16: short jump over the header; its second byte ends the header
export const HDR_HEADER = 0x202; // u32: "HdrS"
export const HDR_VERSION = 0x206; // u16: boot protocol version, e.g. 0x020F
export const HDR_KERNEL_VERSION = 0x20e; // u16: pointer (minus 0x200) to the version string
export const HDR_TYPE_OF_LOADER = 0x210; // u8: boot loader identifier (written by us)
export const HDR_LOADFLAGS = 0x211; // u8: LOADED_HIGH, KASLR_FLAG, QUIET_FLAG, KEEP_SEGMENTS, CAN_USE_HEAP
export const HDR_CODE32_START = 0x214; // u32: where the protected-mode part is loaded / 32-bit entry
export const HDR_RAMDISK_IMAGE = 0x218; // u32: initrd physical address (written by us)
export const HDR_RAMDISK_SIZE = 0x21c; // u32: initrd size (written by us)
export const HDR_HEAP_END_PTR = 0x224; // u16: end of the setup heap, minus 0x200 (written by us)
export const HDR_CMD_LINE_PTR = 0x228; // u32: command line physical address (written by us)
export const HDR_INITRD_ADDR_MAX = 0x22c; // u32: highest address the initrd may occupy
export const HDR_KERNEL_ALIGNMENT = 0x230; // u32: physical alignment a relocatable kernel needs
export const HDR_RELOCATABLE_KERNEL = 0x234; // u8: the protected-mode part can run anywhere aligned
export const HDR_XLOADFLAGS = 0x236; // u16: XLF_* bits
export const HDR_CMDLINE_SIZE = 0x238; // u32: longest command line, without the NUL
export const HDR_HARDWARE_SUBARCH = 0x23c; // u32: 0 = normal PC
export const HDR_PAYLOAD_OFFSET = 0x248; // u32: payload offset from the start of the protected-mode part
export const HDR_PAYLOAD_LENGTH = 0x24c; // u32: payload length
export const HDR_SETUP_DATA = 0x250; // u64: linked list of struct setup_data
export const HDR_PREF_ADDRESS = 0x258; // u64: preferred load address for the kernel proper
export const HDR_INIT_SIZE = 0x260; // u32: linear memory the kernel needs from its load address to boot

/** "HdrS" read as a little-endian u32. */
export const HDRS_MAGIC = 0x53726448;
export const BOOT_FLAG_MAGIC = 0xaa55;
/** Oldest protocol we accept: 2.06 added cmdline_size, which we need to bound the command line. */
export const MIN_PROTOCOL = 0x0206;

// loadflags
export const LOADED_HIGH = 0x01; // protected-mode code is loaded at 0x100000 (bzImage, not zImage)
export const KASLR_FLAG = 0x02; // set by the decompressor when it randomized the kernel address
export const QUIET_FLAG = 0x20; // suppress early messages
export const KEEP_SEGMENTS = 0x40; // obsolete: do not reload segment registers on 32-bit entry
export const CAN_USE_HEAP = 0x80; // heap_end_ptr is valid

// xloadflags
export const XLF_KERNEL_64 = 0x0001; // has the legacy 64-bit entry point at 0x200: an x86-64 kernel
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x0002;

/** The setup header fields the loader uses, decoded. */
export interface SetupHeader {
  setupSects: number;
  syssize: number;
  bootFlag: number;
  version: number;
  loadflags: number;
  code32Start: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatableKernel: boolean;
  xloadflags: number;
  cmdlineSize: number;
  payloadOffset: number;
  payloadLength: number;
  prefAddress: number;
  initSize: number;
  /** The kernel's version string, e.g. "6.1.0-50-686 (debian-kernel@...) #1 SMP ...", or "". */
  kernelVersion: string;
}

export interface BzImage {
  header: SetupHeader;
  /** The setup header bytes, 0x1F1 up to the end the jump at 0x200 declares: copied into boot_params. */
  headerBytes: Uint8Array;
  /** File offset of the protected-mode part: (setup_sects + 1) * 512. */
  protectedModeOffset: number;
  /** The protected-mode part (decompressor + compressed kernel), loaded at code32_start. */
  protectedMode: Uint8Array;
  /** The compressed kernel inside the protected-mode part. */
  payload: Uint8Array;
}

/** Smallest file that holds every field we read (through init_size). */
const MIN_LENGTH = HDR_INIT_SIZE + 4;

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/** A u64 field as a number; the high half only matters above 4 GiB, where we refuse anyway. */
function u64(b: Uint8Array, o: number): number {
  return u32(b, o) + u32(b, o + 4) * 0x1_0000_0000;
}

/** What a non-bzImage file looks like, for the error message. */
export function describeFile(b: Uint8Array): string {
  if (b.length === 0) return 'an empty file';
  if (b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46) return 'an ELF file';
  if (b.length >= 2 && b[0] === 0x4d && b[1] === 0x5a) return 'a PE/EFI executable without a Linux setup header';
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip data';
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58) return 'XZ data';
  return `${b.length} bytes of unknown data`;
}

/** Reads the NUL-terminated kernel version string the header points at (empty if out of range). */
function versionString(b: Uint8Array): string {
  const ptr = u16(b, HDR_KERNEL_VERSION);
  if (ptr === 0) return '';
  const start = ptr + 0x200;
  let s = '';
  for (let i = start; i < b.length && i < start + 256 && b[i] !== 0; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Decodes and checks a bzImage. Throws BootError with a one-line reason for anything else. */
export function parseBzImage(file: Uint8Array): BzImage {
  const hasMagic = file.length >= HDR_HEADER + 4 && u32(file, HDR_HEADER) === HDRS_MAGIC;
  if (!hasMagic) {
    throw new BootError(`kernel: not a Linux bzImage (${describeFile(file)}; no "HdrS" setup header)`);
  }
  if (file.length < MIN_LENGTH) {
    throw new BootError(`kernel: bzImage truncated to ${file.length} bytes (its setup header is incomplete)`);
  }
  const version = u16(file, HDR_VERSION);
  const hex = (v: number) => `${v >> 8}.${(v & 0xff).toString().padStart(2, '0')}`;
  if (version < MIN_PROTOCOL) {
    throw new BootError(`kernel: boot protocol ${hex(version)} is too old (need ${hex(MIN_PROTOCOL)} or later)`);
  }
  const bootFlag = u16(file, HDR_BOOT_FLAG);
  if (bootFlag !== BOOT_FLAG_MAGIC) {
    throw new BootError(`kernel: bad boot_flag 0x${bootFlag.toString(16)} (expected 0xaa55)`);
  }
  const loadflags = file[HDR_LOADFLAGS];
  if (!(loadflags & LOADED_HIGH)) {
    throw new BootError('kernel: a zImage (loaded low) is not supported; use a bzImage');
  }
  const xloadflags = u16(file, HDR_XLOADFLAGS);
  if (xloadflags & XLF_KERNEL_64) {
    throw new BootError('kernel: this is an x86-64 kernel; the emulated CPU is a 32-bit i686');
  }
  const setupSects = file[HDR_SETUP_SECTS] || 4;
  const protectedModeOffset = (setupSects + 1) * 512;
  if (protectedModeOffset >= file.length) {
    throw new BootError(`kernel: bzImage truncated to ${file.length} bytes (setup code alone is ${protectedModeOffset})`);
  }
  const syssize = u32(file, HDR_SYSSIZE);
  const pmLength = file.length - protectedModeOffset;
  // syssize is rounded up to 16 bytes, so a complete file is at most 15 bytes shorter than it says.
  if (syssize * 16 > pmLength + 15) {
    throw new BootError(`kernel: bzImage truncated to ${file.length} bytes (header says ${protectedModeOffset + syssize * 16})`);
  }
  const payloadOffset = u32(file, HDR_PAYLOAD_OFFSET);
  const payloadLength = u32(file, HDR_PAYLOAD_LENGTH);
  if (payloadOffset + payloadLength > pmLength) {
    throw new BootError(`kernel: bzImage payload (${payloadOffset}+${payloadLength}) lies outside the ${pmLength}-byte protected-mode part`);
  }
  const headerEnd = HDR_JUMP + 2 + file[HDR_JUMP + 1];
  const header: SetupHeader = {
    setupSects,
    syssize,
    bootFlag,
    version,
    loadflags,
    code32Start: u32(file, HDR_CODE32_START),
    initrdAddrMax: u32(file, HDR_INITRD_ADDR_MAX),
    kernelAlignment: u32(file, HDR_KERNEL_ALIGNMENT),
    relocatableKernel: file[HDR_RELOCATABLE_KERNEL] !== 0,
    xloadflags,
    cmdlineSize: u32(file, HDR_CMDLINE_SIZE),
    payloadOffset,
    payloadLength,
    prefAddress: u64(file, HDR_PREF_ADDRESS),
    initSize: u32(file, HDR_INIT_SIZE),
    kernelVersion: versionString(file),
  };
  if (header.prefAddress >= 0x1_0000_0000 || header.prefAddress + header.initSize > 0x1_0000_0000) {
    throw new BootError('kernel: preferred load address is above 4 GiB');
  }
  if (header.kernelAlignment !== 0 && (header.kernelAlignment & (header.kernelAlignment - 1)) !== 0) {
    throw new BootError(`kernel: kernel_alignment 0x${header.kernelAlignment.toString(16)} is not a power of two`);
  }
  return {
    header,
    headerBytes: file.subarray(HDR_SETUP_SECTS, Math.min(headerEnd, protectedModeOffset)),
    protectedModeOffset,
    protectedMode: file.subarray(protectedModeOffset),
    payload: file.subarray(protectedModeOffset + payloadOffset, protectedModeOffset + payloadOffset + payloadLength),
  };
}
