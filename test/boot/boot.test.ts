// The Linux boot loader against the real Debian kernel in build/images (npm run build:images).
// Independent sources: od (setup header bytes), file (bzImage version string), readelf (ELF
// program headers and entry point), dpkg-deb's control data (recorded in the image manifest).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { haveBuildOutputs, IMAGES } from '../images';
import { BootError } from '../../src/boot/boot-error';
import { parseBzImage } from '../../src/boot/bzimage';
import { parseElf32 } from '../../src/boot/elf';
import {
  BOOT_CS, BOOT_DS, BZIMAGE_LOAD_ADDR, CMDLINE_ADDR, ZERO_PAGE_ADDR, loadLinux, standardE820, type E820Entry,
} from '../../src/boot/linux';

const have = haveBuildOutputs('the Linux boot protocol tests (test/boot)',
  ['bzImage', 'vmlinux', 'initramfs.cpio.gz', 'default.json'].map((f) => join(IMAGES, f)));

const MiB = 1024 * 1024;
const u8 = (b: Uint8Array, o: number) => b[o];
const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const u64 = (b: Uint8Array, o: number) => u32(b, o) + u32(b, o + 4) * 2 ** 32;

/** An unsigned little-endian field of the file as `od` prints it. */
function od(file: string, offset: number, size: 1 | 2 | 4 | 8): number {
  const out = execFileSync('od', ['-An', `-tu${size}`, '--endian=little', '-j', String(offset), '-N', String(size), file], { encoding: 'utf8' });
  return Number(out.trim());
}

interface ReadelfLoad { offset: number; vaddr: number; paddr: number; filesz: number; memsz: number; flags: string }
function readelf(file: string): { entry: number; machine: string; loads: ReadelfLoad[] } {
  const h = execFileSync('readelf', ['-hlW', file], { encoding: 'utf8', maxBuffer: 16 * MiB });
  const entry = Number(/Entry point address:\s+(0x[0-9a-f]+)/.exec(h)![1]);
  const machine = /Machine:\s+(.*)/.exec(h)![1].trim();
  const loads = [...h.matchAll(/^\s*LOAD\s+(0x\S+)\s+(0x\S+)\s+(0x\S+)\s+(0x\S+)\s+(0x\S+)\s+(.+?)\s+0x\S+$/gm)].map((m) => ({
    offset: Number(m[1]), vaddr: Number(m[2]), paddr: Number(m[3]), filesz: Number(m[4]), memsz: Number(m[5]),
    flags: m[6].replace(/\s+/g, ''),
  }));
  return { entry, machine, loads };
}

/** Expect a BootError with a one-line message matching `re`. */
function expectBootError(fn: () => unknown, re: RegExp): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(BootError);
  const msg = (err as Error).message;
  expect(msg).not.toContain('\n');
  expect(msg).toMatch(re);
}

describe.skipIf(!have)('Linux boot protocol with the Debian i386 kernel', () => {
  const bzPath = join(IMAGES, 'bzImage');
  const vmPath = join(IMAGES, 'vmlinux');
  const bz = have ? new Uint8Array(readFileSync(bzPath)) : new Uint8Array();
  const vm = have ? new Uint8Array(readFileSync(vmPath)) : new Uint8Array();
  const initrd = have ? new Uint8Array(readFileSync(join(IMAGES, 'initramfs.cpio.gz'))) : new Uint8Array();
  const manifest = have ? JSON.parse(readFileSync(join(IMAGES, 'default.json'), 'utf8')) : {};

  it('parses the setup header to what od and file show', () => {
    const { header, protectedModeOffset, payload } = parseBzImage(bz);
    expect(header.setupSects).toBe(od(bzPath, 0x1f1, 1) || 4);
    expect(header.syssize).toBe(od(bzPath, 0x1f4, 4));
    expect(header.bootFlag).toBe(0xaa55);
    expect(header.version).toBe(od(bzPath, 0x206, 2));
    expect(header.version).toBeGreaterThanOrEqual(0x206);
    expect(header.loadflags).toBe(od(bzPath, 0x211, 1));
    expect(header.code32Start).toBe(od(bzPath, 0x214, 4));
    expect(header.initrdAddrMax).toBe(od(bzPath, 0x22c, 4));
    expect(header.kernelAlignment).toBe(od(bzPath, 0x230, 4));
    expect(header.relocatableKernel).toBe(od(bzPath, 0x234, 1) !== 0);
    expect(header.cmdlineSize).toBe(od(bzPath, 0x238, 4));
    expect(header.payloadOffset).toBe(od(bzPath, 0x248, 4));
    expect(header.payloadLength).toBe(od(bzPath, 0x24c, 4));
    expect(header.prefAddress).toBe(od(bzPath, 0x258, 8));
    expect(header.initSize).toBe(od(bzPath, 0x260, 4));
    expect(protectedModeOffset).toBe((header.setupSects + 1) * 512);
    // The payload is the XZ stream (CONFIG_KERNEL_XZ): magic FD 37 7A 58 5A 00.
    expect([...payload.subarray(0, 6)]).toEqual([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
    const described = execFileSync('file', ['-b', bzPath], { encoding: 'utf8' });
    expect(described).toMatch(/bzImage/);
    const version = /version (\S+)/.exec(described)![1];
    expect(header.kernelVersion.split(' ')[0]).toBe(version);
    expect(version).toBe(manifest.kernelRelease);
    // The kernel's own version string names the Debian package version the manifest recorded
    // (from the .deb's control data); a binNMU suffix (+bN) would not show in it.
    expect(manifest.packages.kernel.name).toBe(`linux-image-${manifest.kernelRelease}`);
    expect(manifest.packages.kernel.version).toMatch(/^[0-9][\w.~+:-]*$/);
    expect(header.kernelVersion).toContain(` Debian ${manifest.packages.kernel.version.replace(/\+b\d+$/, '')} `);
  });

  it('parses vmlinux PT_LOAD segments and entry exactly as readelf -l does', () => {
    const elf = parseElf32(vm);
    const ref = readelf(vmPath);
    expect(ref.machine).toMatch(/80386/);
    expect(elf.entry).toBe(ref.entry);
    expect(ref.loads.length).toBeGreaterThan(0);
    expect(elf.segments.map((s) => ({
      offset: s.offset, vaddr: s.vaddr, paddr: s.paddr, filesz: s.filesz, memsz: s.memsz,
      flags: `${s.flags & 4 ? 'R' : ''}${s.flags & 2 ? 'W' : ''}${s.flags & 1 ? 'E' : ''}`,
    }))).toEqual(ref.loads);
    // The bzImage's init_size covers the decompressed kernel: both say where the kernel ends.
    const { header } = parseBzImage(bz);
    const end = Math.max(...ref.loads.map((l) => l.paddr + l.memsz));
    expect(header.prefAddress + header.initSize).toBeGreaterThanOrEqual(end);
    expect(ref.entry).toBe(header.prefAddress); // phys_startup_32 at LOAD_PHYSICAL_ADDR
  });

  function checkCommon(ram: Uint8Array, e820: E820Entry[], cmdline: string, ramBytes: number) {
    const bp = ram.subarray(ZERO_PAGE_ADDR, ZERO_PAGE_ADDR + 4096);
    // Setup header copied from the image (0x1F1 up to the end declared by the jump at 0x200),
    // apart from the fields a loader writes.
    const hdrEnd = 0x202 + bz[0x201];
    const written = new Set<number>();
    for (const [off, n] of [[0x210, 1], [0x211, 1], [0x214, 4], [0x218, 4], [0x21c, 4], [0x224, 2], [0x228, 4]]) {
      for (let i = 0; i < n; i++) written.add(off + i);
    }
    for (let o = 0x1f1; o < hdrEnd; o++) if (!written.has(o)) expect(bp[o], `boot_params[0x${o.toString(16)}]`).toBe(bz[o]);
    expect(String.fromCharCode(...bp.subarray(0x202, 0x206))).toBe('HdrS');
    expect(u8(bp, 0x210)).toBe(0xff); // type_of_loader
    expect(u8(bp, 0x211)).toBe(bz[0x211] | 0x80); // CAN_USE_HEAP added
    expect(u16(bp, 0x224)).toBe(0xde00);
    expect(u8(bp, 0x1ef)).toBe(0); // sentinel
    // Command line at cmd_line_ptr, NUL terminated.
    const ptr = u32(bp, 0x228);
    expect(ptr).toBe(CMDLINE_ADDR);
    expect(Buffer.from(ram.subarray(ptr, ptr + cmdline.length)).toString('latin1')).toBe(cmdline);
    expect(ram[ptr + cmdline.length]).toBe(0);
    // Initrd at ramdisk_image: the file's bytes, page aligned, high, below the kernel's limit.
    const rdStart = u32(bp, 0x218), rdSize = u32(bp, 0x21c);
    expect(rdSize).toBe(initrd.length);
    expect(rdStart % 4096).toBe(0);
    expect(rdStart + rdSize).toBeLessThanOrEqual(Math.min(ramBytes, u32(bz, 0x22c) + 1));
    expect(rdStart + rdSize).toBeGreaterThan(ramBytes - 4096 - 1); // as high as it goes
    expect(Buffer.compare(Buffer.from(ram.subarray(rdStart, rdStart + rdSize)), Buffer.from(initrd))).toBe(0);
    // E820 table.
    expect(u8(bp, 0x1e8)).toBe(e820.length);
    e820.forEach((e, i) => {
      const o = 0x2d0 + 20 * i;
      expect({ addr: u64(bp, o), size: u64(bp, o + 8), type: u32(bp, o + 16) }).toEqual(e);
    });
    expect(u32(bp, 0x1e0)).toBe((ramBytes - MiB) / 1024); // alt_mem_k
    expect(u16(bp, 0x002)).toBe(Math.min(0xffff, (ramBytes - MiB) / 1024)); // ext_mem_k
  }

  function checkEntry(ram: Uint8Array, entry: ReturnType<typeof loadLinux>) {
    expect(entry.esi).toBe(ZERO_PAGE_ADDR);
    expect([entry.ebx, entry.ebp, entry.edi]).toEqual([0, 0, 0]);
    expect(entry.eflags & 0x200).toBe(0); // IF clear
    expect(entry.cr0 & 0x80000001).toBe(1); // PE on, PG off
    expect(entry.cs.selector).toBe(BOOT_CS);
    for (const s of [entry.ds, entry.es, entry.ss]) expect(s.selector).toBe(BOOT_DS);
    // Decode the GDT from RAM the way the CPU would and compare with the returned registers.
    const g = entry.gdtr.base;
    expect(entry.gdtr.limit).toBeGreaterThanOrEqual(BOOT_DS + 7);
    for (const seg of [entry.cs, entry.ds]) {
      const lo = u32(ram, g + seg.selector), hi = u32(ram, g + seg.selector + 4);
      const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
      const rawLimit = (lo & 0xffff) | (hi & 0x000f0000);
      const limit = hi & 0x00800000 ? ((rawLimit * 4096) + 4095) >>> 0 : rawLimit;
      expect({ base, limit }).toEqual({ base: seg.base, limit: seg.limit });
      expect(base).toBe(0);
      expect(limit).toBe(0xffffffff);
      expect(seg.access).toBe((hi >>> 8) & 0xf0ff);
      expect(hi & 0x8000).toBe(0x8000); // present
      expect(hi & 0x00400000).toBe(0x00400000); // 32-bit
    }
    expect((entry.cs.access & 0x18)).toBe(0x18); // code segment
    expect((entry.ds.access & 0x1a)).toBe(0x12); // writable data segment
  }

  it('loads the bzImage: protected-mode part at 0x100000, boot_params, cmdline, initrd, GDT', () => {
    const ramBytes = 128 * MiB;
    const ram = new Uint8Array(ramBytes).fill(0xaa);
    const e820 = standardE820(ramBytes);
    const cmdline = manifest.cmdline as string;
    const entry = loadLinux(ram, { kernel: bz, initrd, cmdline, e820 });
    const pmOff = (bz[0x1f1] + 1) * 512;
    expect(entry.eip).toBe(u32(bz, 0x214));
    expect(entry.eip).toBe(BZIMAGE_LOAD_ADDR);
    expect(Buffer.compare(Buffer.from(ram.subarray(BZIMAGE_LOAD_ADDR, BZIMAGE_LOAD_ADDR + bz.length - pmOff)), Buffer.from(bz.subarray(pmOff)))).toBe(0);
    // The initrd must sit above the decompressor's output buffer (pref_address + init_size).
    expect(u32(ram, ZERO_PAGE_ADDR + 0x218)).toBeGreaterThanOrEqual(u32(bz, 0x258) + u32(bz, 0x260));
    expect(entry.layout.kernelKind).toBe('bzImage');
    checkCommon(ram, e820, cmdline, ramBytes);
    checkEntry(ram, entry);
  });

  it('loads vmlinux segments at their physical addresses and enters at phys_startup_32', () => {
    const ramBytes = 64 * MiB;
    const ram = new Uint8Array(ramBytes).fill(0xaa);
    const e820 = standardE820(ramBytes);
    const cmdline = 'console=ttyS0 quiet';
    const entry = loadLinux(ram, { kernel: bz, vmlinux: vm, initrd, cmdline, e820 });
    const ref = readelf(vmPath);
    expect(entry.eip).toBe(ref.entry);
    for (const l of ref.loads) {
      expect(Buffer.compare(Buffer.from(ram.subarray(l.paddr, l.paddr + l.filesz)), Buffer.from(vm.subarray(l.offset, l.offset + l.filesz)))).toBe(0);
      expect(ram.subarray(l.paddr + l.filesz, l.paddr + l.memsz).every((b) => b === 0)).toBe(true); // bss cleared
      expect(u32(ram, ZERO_PAGE_ADDR + 0x218)).toBeGreaterThanOrEqual(l.paddr + l.memsz);
    }
    expect(entry.layout.kernelKind).toBe('vmlinux');
    checkCommon(ram, e820, cmdline, ramBytes);
    checkEntry(ram, entry);
  });

  it('boots a vmlinux given alone with a synthesized 2.15 header', () => {
    const ram = new Uint8Array(64 * MiB);
    const entry = loadLinux(ram, { kernel: vm, cmdline: 'console=ttyS0', e820: standardE820(ram.length) });
    expect(entry.eip).toBe(readelf(vmPath).entry);
    const bp = ram.subarray(ZERO_PAGE_ADDR);
    expect(String.fromCharCode(...bp.subarray(0x202, 0x206))).toBe('HdrS');
    expect(u16(bp, 0x206)).toBe(0x020f);
    expect(u16(bp, 0x1fe)).toBe(0xaa55);
    expect(u32(bp, 0x218)).toBe(0); // no initrd
  });

  it('refuses bad input with one-line BootErrors', () => {
    const e820 = standardE820(128 * MiB);
    const ram = new Uint8Array(128 * MiB);
    const load = (kernel: Uint8Array, more: Partial<Parameters<typeof loadLinux>[1]> = {}) =>
      loadLinux(ram, { kernel, cmdline: 'console=ttyS0', e820, ...more });
    expectBootError(() => load(new Uint8Array(0)), /not a Linux bzImage \(an empty file/);
    expectBootError(() => load(bz.subarray(0, 0x220)), /truncated to 544 bytes/);
    expectBootError(() => load(bz.subarray(0, 2 * MiB)), /truncated to 2097152 bytes/);
    // PE: a DOS/PE header alone (Debian's bzImage is also a PE, but it has HdrS at 0x202).
    const pe = new Uint8Array(4096);
    pe.set([0x4d, 0x5a]); pe.set([0x50, 0x45, 0, 0], 0x80); pe[0x3c] = 0x80;
    expectBootError(() => load(pe), /PE\/EFI executable/);
    let seed = 12345;
    const random = new Uint8Array(65536).map(() => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
    expectBootError(() => load(random), /not a Linux bzImage \(65536 bytes of unknown data/);
    // An ELF for the wrong machine: the host's own x86-64 executable.
    const host = new Uint8Array(readFileSync(process.execPath));
    expectBootError(() => load(host), /ELF for x86-64 \(64-bit\), not i386/);
    expectBootError(() => load(bz, { vmlinux: host }), /vmlinux: ELF for x86-64/);
    expectBootError(() => load(bz, { vmlinux: vm.subarray(0, 8192) }), /vmlinux: ELF truncated to 8192 bytes/);
    expectBootError(() => load(bz, { vmlinux: bz }), /vmlinux: not an ELF file/);
    const old = bz.slice(); old[0x206] = 0x04; // protocol 2.04
    expectBootError(() => load(old), /boot protocol 2\.04 is too old/);
    const x64 = bz.slice(); x64[0x236] |= 1; // XLF_KERNEL_64
    expectBootError(() => load(x64), /x86-64 kernel/);
    expectBootError(() => load(bz, { cmdline: 'x'.repeat(u32(bz, 0x238) + 1) }), /cmdline: \d+ bytes is longer/);
    // RAM too small, for both loading paths.
    const small = new Uint8Array(16 * MiB);
    const smallLoad = (vmlinux?: Uint8Array) =>
      loadLinux(small, { kernel: bz, vmlinux, initrd, cmdline: 'x', e820: standardE820(small.length) });
    const needed = Math.ceil((u32(bz, 0x258) + u32(bz, 0x260) + Math.ceil(initrd.length / 4096) * 4096) / MiB);
    expectBootError(() => smallLoad(), new RegExp(`^16 MiB of RAM is too small for this kernel and initrd \\(needs at least ${needed} MiB\\)$`));
    expectBootError(() => smallLoad(vm), /^16 MiB of RAM is too small for this kernel and initrd \(needs at least \d+ MiB\)$/);
    // Enough RAM for the kernel but not for the initrd above it.
    const tight = new Uint8Array(u32(bz, 0x258) + u32(bz, 0x260) + 4096);
    expectBootError(() => loadLinux(tight, { kernel: bz, initrd, cmdline: 'x', e820: standardE820(tight.length) }), /too small for this kernel and initrd/);
    // An e820 map that leaves the kernel's memory out.
    expectBootError(() => load(bz, { e820: [{ addr: 0, size: 0x9fc00, type: 1 }] }), /not in usable RAM per the e820 map/);
  });
});
