// Guest physical memory: RAM at RAM_BASE in the core's linear memory, everything else (the VGA
// hole, ROMs, device windows, addresses above RAM) goes to the host's MMIO map.

@external("env", "mmioRead") declare function mmioRead(addr: u32, size: u32): u32;
@external("env", "mmioWrite") declare function mmioWrite(addr: u32, size: u32, value: u32): void;

/** Guest physical address 0 in the core's linear memory. */
export const RAM_BASE: u32 = 0x0200_0000;
/** Legacy VGA window: never RAM, even when RAM is larger. */
export const VGA_HOLE_START: u32 = 0xa0000;
export const VGA_HOLE_END: u32 = 0xc0000;

export let ramSize: u32 = 0;
export function setRamSize(size: u32): void { ramSize = size; }

/** True when the `len` bytes at `phys` are all ordinary RAM. */
@inline export function isRam(phys: u32, len: u32): bool {
  const end = phys + len;
  if (end > ramSize || end < phys) return false;
  return end <= VGA_HOLE_START || phys >= VGA_HOLE_END;
}

/** True when the whole 4 KiB page holding `phys` is ordinary RAM (TLB entries map whole pages). */
@inline export function isRamPage(phys: u32): bool {
  return isRam(phys & ~0xfff, 0x1000);
}

export function readPhys8(p: u32): u32 { return isRam(p, 1) ? <u32>load<u8>(RAM_BASE + p) : mmioRead(p, 1) & 0xff; }
export function readPhys16(p: u32): u32 {
  if (isRam(p, 2)) return <u32>load<u16>(RAM_BASE + p);
  if ((p & 0xfff) == 0xfff) return readPhys8(p) | (readPhys8(p + 1) << 8);
  return mmioRead(p, 2) & 0xffff;
}
export function readPhys32(p: u32): u32 {
  if (isRam(p, 4)) return load<u32>(RAM_BASE + p);
  if ((p & 0xfff) > 0xffc) return readPhys16(p) | (readPhys16(p + 2) << 16);
  return mmioRead(p, 4);
}
export function writePhys8(p: u32, v: u32): void { if (isRam(p, 1)) store<u8>(RAM_BASE + p, <u8>v); else mmioWrite(p, 1, v & 0xff); }
export function writePhys16(p: u32, v: u32): void {
  if (isRam(p, 2)) { store<u16>(RAM_BASE + p, <u16>v); return; }
  if ((p & 0xfff) == 0xfff) { writePhys8(p, v); writePhys8(p + 1, v >>> 8); return; }
  mmioWrite(p, 2, v & 0xffff);
}
export function writePhys32(p: u32, v: u32): void {
  if (isRam(p, 4)) { store<u32>(RAM_BASE + p, v); return; }
  if ((p & 0xfff) > 0xffc) { writePhys16(p, v); writePhys16(p + 2, v >>> 16); return; }
  mmioWrite(p, 4, v);
}
