// Guest physical memory. A table of one byte per 4 KiB page says what is at each physical
// address (MEM_*): RAM, at RAM_BASE in the core's linear memory; ROM, read from the same bytes
// (the host put the image there) with writes dropped; MMIO, the host's map; or VRAM, a display's
// framebuffer window, whose bytes live in the core's memory after the JIT's (mmu/vram.ts), so the
// guest draws at RAM speed. After init() every page below the RAM size is RAM and every page
// above it MMIO; the machine declares the rest (the VGA window, ROMs, a framebuffer) with
// setMemoryKind() and mapVram().

@external("env", "mmioRead") declare function mmioRead(addr: u32, size: u32): u32;
@external("env", "mmioWrite") declare function mmioWrite(addr: u32, size: u32, value: u32): void;

/** Guest physical address 0 in the core's linear memory. */
export const RAM_BASE: u32 = 0x0200_0000;
/** One byte per physical page of the 4 GiB space (1 MiB): its MEM_* kind. */
const PAGE_KINDS: u32 = 0x00f0_0000;
export const MEM_RAM: u32 = 0;
export const MEM_ROM: u32 = 1;
export const MEM_MMIO: u32 = 2;
export const MEM_VRAM: u32 = 3;

/** The framebuffer window: physical base and length, and its bytes' offset from RAM_BASE. */
export let vramPhys: u32 = 0;
export let vramLen: u32 = 0;
export let vramBacking: u32 = 0;
/** Set by a write to video memory; the host clears it when it has drawn the screen (mmu/vram.ts). */
export let vramDirty: bool = false;
export function setVramDirty(dirty: bool): void { vramDirty = dirty; }
export function setVramWindow(phys: u32, len: u32, backing: u32): void { vramPhys = phys; vramLen = len; vramBacking = backing; }

/** Where physical address `p` of a VRAM page lives, as an offset from RAM_BASE. */
@inline export function vramOffset(p: u32): u32 { return vramBacking + (p - vramPhys); }

export let ramSize: u32 = 0;
/** RAM of `size` bytes (a multiple of 4 KiB): the pages below it RAM, the others MMIO. */
export function setRamSize(size: u32): void {
  ramSize = size;
  memory.fill(PAGE_KINDS, <u8>MEM_MMIO, 0x10_0000);
  memory.fill(PAGE_KINDS, <u8>MEM_RAM, size >>> 12);
}

/** Mark the pages of [phys, phys + len) as the framebuffer's (bounds checked by the caller, index.ts mapVram). */
export function setVramPages(phys: u32, len: u32): void { memory.fill(PAGE_KINDS + (phys >>> 12), <u8>MEM_VRAM, len >>> 12); }

@inline export function pageKind(phys: u32): u32 { return <u32>load<u8>(PAGE_KINDS + (phys >>> 12)); }

/**
 * Make the pages of [phys, phys + len) RAM, ROM or MMIO. RAM and ROM need the bytes of guest
 * RAM behind them: false (nothing changed) for a page at or above the RAM size, or a range that
 * is not whole pages. The caller drops what the core cached about those pages (index.ts).
 */
export function setPageKind(phys: u32, len: u32, kind: u32): bool {
  if ((phys & 0xfff) != 0 || (len & 0xfff) != 0 || kind > MEM_MMIO) return false;
  const end = <u64>phys + <u64>len;
  if (end > 0x1_0000_0000 || (kind != MEM_MMIO && end > <u64>ramSize)) return false;
  memory.fill(PAGE_KINDS + (phys >>> 12), <u8>kind, len >>> 12);
  return true;
}

/** True when the `len` bytes at `phys` (at most two pages) read from RAM_BASE + phys: RAM or ROM. */
@inline function readable(phys: u32, len: u32): bool {
  return pageKind(phys) <= MEM_ROM && pageKind(phys + len - 1) <= MEM_ROM;
}
/** True when the `len` bytes at `phys` (at most two pages) are RAM. */
@inline function writable(phys: u32, len: u32): bool {
  return pageKind(phys) == MEM_RAM && pageKind(phys + len - 1) == MEM_RAM;
}
/** True when the `len` bytes at `phys` are all in one VRAM page. */
@inline function inVram(phys: u32, len: u32): bool {
  return pageKind(phys) == MEM_VRAM && (phys & 0xfff) <= 0x1000 - len;
}

export function readPhys8(p: u32): u32 {
  if (readable(p, 1)) return <u32>load<u8>(RAM_BASE + p);
  if (inVram(p, 1)) return <u32>load<u8>(RAM_BASE + vramOffset(p));
  return mmioRead(p, 1) & 0xff;
}
export function readPhys16(p: u32): u32 {
  if (readable(p, 2)) return <u32>load<u16>(RAM_BASE + p);
  if ((p & 0xfff) == 0xfff) return readPhys8(p) | (readPhys8(p + 1) << 8);
  if (inVram(p, 2)) return <u32>load<u16>(RAM_BASE + vramOffset(p));
  return mmioRead(p, 2) & 0xffff;
}
export function readPhys32(p: u32): u32 {
  if (readable(p, 4)) return load<u32>(RAM_BASE + p);
  if ((p & 0xfff) > 0xffc) return readPhys16(p) | (readPhys16(p + 2) << 16);
  if (inVram(p, 4)) return load<u32>(RAM_BASE + vramOffset(p));
  return mmioRead(p, 4);
}
export function writePhys8(p: u32, v: u32): void {
  const kind = pageKind(p);
  if (kind == MEM_RAM) store<u8>(RAM_BASE + p, <u8>v);
  else if (kind == MEM_VRAM) { store<u8>(RAM_BASE + vramOffset(p), <u8>v); vramDirty = true; }
  else if (kind == MEM_MMIO) mmioWrite(p, 1, v & 0xff);
}
export function writePhys16(p: u32, v: u32): void {
  if (writable(p, 2)) { store<u16>(RAM_BASE + p, <u16>v); return; }
  if ((p & 0xfff) == 0xfff) { writePhys8(p, v); writePhys8(p + 1, v >>> 8); return; }
  if (inVram(p, 2)) { store<u16>(RAM_BASE + vramOffset(p), <u16>v); vramDirty = true; return; }
  if (pageKind(p) == MEM_MMIO) mmioWrite(p, 2, v & 0xffff);
}
export function writePhys32(p: u32, v: u32): void {
  if (writable(p, 4)) { store<u32>(RAM_BASE + p, v); return; }
  if ((p & 0xfff) > 0xffc) { writePhys16(p, v); writePhys16(p + 2, v >>> 16); return; }
  if (inVram(p, 4)) { store<u32>(RAM_BASE + vramOffset(p), v); vramDirty = true; return; }
  if (pageKind(p) == MEM_MMIO) mmioWrite(p, 4, v);
}
