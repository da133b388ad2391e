// The Bochs display interface (src/devices/bochs-vbe*.ts) against its references: Bochs's
// vbe_display_api (index/data ports 0x1CE/0x1CF, the ID handshake, XRES/YRES/BPP/ENABLE/BANK,
// VIRT_WIDTH/VIRT_HEIGHT, X/Y_OFFSET, VIDEO_MEMORY_64K, GETCAPS, NOCLEARMEM, 8BIT_DAC), QEMU's
// hw/display/vga.c for how out-of-range values are pulled back, QEMU's docs/specs/standard-vga.rst
// for the PCI function (1234:1111, BAR0 framebuffer, BAR2 register page, ROM BAR), and the PCI
// Local Bus Specification §6.2.5 for sizing BARs and the expansion ROM. Each test drives the
// device as a guest does: ports, MMIO windows and configuration cycles.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BochsVbe, VBE_DISPI_8BIT_DAC, VBE_DISPI_ENABLED, VBE_DISPI_GETCAPS, VBE_DISPI_ID0, VBE_DISPI_ID5,
  VBE_DISPI_INDEX_BANK, VBE_DISPI_INDEX_BPP, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_INDEX_ID, VBE_DISPI_INDEX_VIDEO_MEMORY_64K,
  VBE_DISPI_INDEX_VIRT_HEIGHT, VBE_DISPI_INDEX_VIRT_WIDTH, VBE_DISPI_INDEX_XRES, VBE_DISPI_INDEX_X_OFFSET,
  VBE_DISPI_INDEX_YRES, VBE_DISPI_INDEX_Y_OFFSET, VBE_DISPI_LFB_ENABLED, VBE_DISPI_MAX_BPP, VBE_DISPI_MAX_XRES,
  VBE_DISPI_MAX_YRES, VBE_DISPI_NOCLEARMEM,
} from '../../src/devices/bochs-vbe';
import { BochsVbePci, PCI_ROM_ADDRESS, optionRomPciIds } from '../../src/devices/bochs-vbe-pci';
import { Vga } from '../../src/devices/vga';

const STDVGA_BIOS = '/usr/share/seabios/vgabios-stdvga.bin';

function setup(vramSize?: number) {
  const vga = new Vga();
  const vbe = new BochsVbe(vga, vramSize === undefined ? {} : { vramSize });
  const write = (index: number, value: number) => { vbe.dispiPorts.write(0, 2, index); vbe.dispiPorts.write(1, 2, value); };
  const read = (index: number) => { vbe.dispiPorts.write(0, 2, index); return vbe.dispiPorts.read(1, 2); };
  /** A mode set as SeaBIOS's bochsvga_set_mode and bochs-drm do it: disable, depth, size, bank 0, enable. */
  const setMode = (xres: number, yres: number, bpp: number, flags = VBE_DISPI_LFB_ENABLED) => {
    write(VBE_DISPI_INDEX_ENABLE, 0);
    write(VBE_DISPI_INDEX_BPP, bpp);
    write(VBE_DISPI_INDEX_XRES, xres);
    write(VBE_DISPI_INDEX_YRES, yres);
    write(VBE_DISPI_INDEX_BANK, 0);
    write(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | flags);
  };
  const out = (port: number, v: number) => vga.ports.write(port - 0x3c0, 1, v);
  return { vga, vbe, write, read, setMode, out };
}

/** Render into a fresh RGBA byte array; returns [r, g, b, a] of pixel (x, y) and the size. */
function draw(vbe: BochsVbe, maxW = 4096, maxH = 4096) {
  const size = vbe.displaySize();
  const pixels = new Uint8ClampedArray(4 * (size === null ? 1 : size.width * size.height));
  const drawn = vbe.render(pixels, maxW, maxH);
  const at = (x: number, y: number) => {
    const i = 4 * (y * drawn!.width + x);
    return [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
  };
  return { drawn, at };
}

function pciSetup(rom?: Uint8Array) {
  const { vbe, ...rest } = setup();
  const maps = { fb: [] as (number | null)[], mmio: [] as (number | null)[], rom: [] as (number | null)[] };
  const pci = new BochsVbePci({
    display: vbe, rom,
    onMapFramebuffer: (b) => maps.fb.push(b), onMapMmio: (b) => maps.mmio.push(b), onMapRom: (b) => maps.rom.push(b),
  });
  return { vbe, pci, maps, ...rest };
}

describe('Bochs VBE display interface', () => {
  it('ID handshake: reads 0xB0C5 after reset; a BIOS writes the version it wants (0xB0C0..0xB0C5) and reads it back', () => {
    const { read, write, vbe } = setup();
    expect(read(VBE_DISPI_INDEX_ID)).toBe(VBE_DISPI_ID5);
    // SeaBIOS's bochsvga_setup: ID0 must read back, then it settles on ID5.
    write(VBE_DISPI_INDEX_ID, VBE_DISPI_ID0);
    expect(read(VBE_DISPI_INDEX_ID)).toBe(VBE_DISPI_ID0);
    for (let id = 0xb0c1; id <= 0xb0c5; id++) {
      write(VBE_DISPI_INDEX_ID, id);
      expect(read(VBE_DISPI_INDEX_ID)).toBe(id);
    }
    // A version this interface does not speak is not taken.
    write(VBE_DISPI_INDEX_ID, 0xb0c6);
    write(VBE_DISPI_INDEX_ID, 0x1234);
    expect(read(VBE_DISPI_INDEX_ID)).toBe(VBE_DISPI_ID5);
    // The index port reads back; the ports take 16-bit accesses only (a byte reads as ones).
    vbe.dispiPorts.write(0, 2, 3);
    expect(vbe.dispiPorts.read(0, 2)).toBe(3);
    expect(vbe.dispiPorts.read(0, 1)).toBe(0xff);
    vbe.dispiPorts.write(0, 1, 0);
    expect(vbe.dispiPorts.read(0, 2)).toBe(3);
    expect(vbe.state.guestErrors).toBeGreaterThan(0);
  });

  it('VIDEO_MEMORY_64K gives the memory size; GETCAPS makes XRES, YRES and BPP read their maxima', () => {
    const { read, write } = setup();
    expect(read(VBE_DISPI_INDEX_VIDEO_MEMORY_64K)).toBe(256); // 16 MiB
    expect(setup(1 << 20).read(VBE_DISPI_INDEX_VIDEO_MEMORY_64K)).toBe(16);
    write(VBE_DISPI_INDEX_XRES, 640);
    write(VBE_DISPI_INDEX_BPP, 16);
    // SeaBIOS reads the limits with GETCAPS set, then puts ENABLE back.
    const en = read(VBE_DISPI_INDEX_ENABLE);
    write(VBE_DISPI_INDEX_ENABLE, en | VBE_DISPI_GETCAPS);
    expect(read(VBE_DISPI_INDEX_XRES)).toBe(VBE_DISPI_MAX_XRES);
    expect(read(VBE_DISPI_INDEX_YRES)).toBe(VBE_DISPI_MAX_YRES);
    expect(read(VBE_DISPI_INDEX_BPP)).toBe(VBE_DISPI_MAX_BPP);
    expect(read(VBE_DISPI_INDEX_ID)).toBe(VBE_DISPI_ID5);
    write(VBE_DISPI_INDEX_ENABLE, en);
    expect(read(VBE_DISPI_INDEX_XRES)).toBe(640);
    expect(read(VBE_DISPI_INDEX_BPP)).toBe(16);
    // Indices past VIDEO_MEMORY_64K read as 0.
    expect(read(0x0b)).toBe(0);
    expect(read(0xffff)).toBe(0);
  });

  it('enabling shows the mode; it clears the picture unless NOCLEARMEM; disabling gives the screen back to the VGA', () => {
    const { vbe, setMode, write } = setup();
    expect(vbe.displaySize()).toEqual({ width: 720, height: 400 }); // the VGA's mode 3
    expect(vbe.textScreen()).not.toBeNull();
    vbe.vram.fill(0x77, 0, 0x1000);
    setMode(16, 8, 8, VBE_DISPI_LFB_ENABLED | VBE_DISPI_NOCLEARMEM);
    expect(vbe.displaySize()).toEqual({ width: 16, height: 8 });
    expect(vbe.textScreen()).toBeNull();
    expect(vbe.vram[0]).toBe(0x77);
    expect(vbe.scanout()).toEqual({ width: 16, height: 8, bpp: 8, stride: 16, start: 0, bigEndian: false });
    setMode(16, 8, 32);
    expect(vbe.vram.subarray(0, 16 * 8 * 4).every((b) => b === 0)).toBe(true); // cleared: 8 lines of 64 bytes
    expect(vbe.vram[16 * 8 * 4]).toBe(0x77); // only the picture is cleared
    write(VBE_DISPI_INDEX_ENABLE, 0);
    expect(vbe.scanout()).toBeNull();
    expect(vbe.displaySize()).toEqual({ width: 720, height: 400 });
  });

  it('8 bpp: each byte is a DAC index; the DAC is 6-bit, or 8-bit with ENABLE.8BIT_DAC', () => {
    const { vbe, setMode, out, write } = setup();
    setMode(4, 2, 8);
    out(0x3c8, 5); out(0x3c9, 0x3f); out(0x3c9, 0x20); out(0x3c9, 0x00); // colour 5: full red, half green
    vbe.lfb.write(4 + 1, 1, 5); // (1, 1)
    expect(draw(vbe).at(1, 1)).toEqual([255, 130, 0, 255]);
    expect(draw(vbe).at(0, 0)).toEqual([0, 0, 0, 255]); // colour 0 of the EGA palette
    write(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED | VBE_DISPI_8BIT_DAC);
    out(0x3c8, 5); out(0x3c9, 0xc8); out(0x3c9, 0x80); out(0x3c9, 0x01);
    expect(draw(vbe).at(1, 1)).toEqual([0xc8, 0x80, 0x01, 255]);
    out(0x3c7, 5);
    expect([vbe.vga.ports.read(9, 1), vbe.vga.ports.read(9, 1)]).toEqual([0xc8, 0x80]); // reads keep 8 bits
    // Back to a 6-bit DAC: writes keep 6 bits again.
    write(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    out(0x3c8, 6); out(0x3c9, 0xff);
    expect(vbe.vga.state.dac[18]).toBe(0x3f);
  });

  it('15 and 16 bpp: x:R5:G5:B5 and R5:G6:B5 words, little-endian', () => {
    const { vbe, setMode } = setup();
    setMode(8, 2, 16);
    vbe.lfb.write(0, 2, 0xf800);                 // (0, 0) red
    vbe.lfb.write(2, 2, 0x07e0);                 // (1, 0) green
    vbe.lfb.write(16 + 6, 2, 0x001f);            // (3, 1) blue: lines are 8 * 2 bytes
    vbe.lfb.write(16 + 8, 2, 0x8410);            // (4, 1) mid grey: 10000 100000 10000
    let { at } = draw(vbe);
    expect([at(0, 0), at(1, 0), at(3, 1), at(4, 1)]).toEqual([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [132, 130, 132, 255]]);
    setMode(8, 2, 15, VBE_DISPI_LFB_ENABLED | VBE_DISPI_NOCLEARMEM);
    vbe.lfb.write(0, 2, 0x7c00);
    vbe.lfb.write(2, 2, 0x03e0);
    vbe.lfb.write(4, 2, 0x801f);                 // bit 15 is ignored
    ({ at } = draw(vbe));
    expect([at(0, 0), at(1, 0), at(2, 0)]).toEqual([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]]);
  });

  it('24 and 32 bpp: bytes B, G, R (and X); dwords in the framebuffer are little-endian', () => {
    const { vbe, setMode } = setup();
    setMode(8, 2, 24);
    vbe.lfb.write(3, 1, 0x10); vbe.lfb.write(4, 1, 0x20); vbe.lfb.write(5, 1, 0x30); // (1, 0): B, G, R
    vbe.lfb.write(24 + 6, 2, 0xbbcc); vbe.lfb.write(24 + 8, 1, 0xaa);                // (2, 1), a word at an even address
    let { at } = draw(vbe);
    expect([at(1, 0), at(2, 1)]).toEqual([[0x30, 0x20, 0x10, 255], [0xaa, 0xbb, 0xcc, 255]]);
    setMode(8, 2, 32);
    vbe.lfb.write(4, 4, 0x00123456);            // (1, 0): XRGB8888
    vbe.lfb.write(32 + 7 * 4, 4, 0xffabcdef);   // (7, 1): X is ignored
    ({ at } = draw(vbe));
    expect([at(1, 0), at(7, 1), at(0, 0)]).toEqual([[0x12, 0x34, 0x56, 255], [0xab, 0xcd, 0xef, 255], [0, 0, 0, 255]]);
    // Into a Uint32Array too, one RGBA word per pixel.
    const words = new Uint32Array(16);
    expect(vbe.render(words, 100, 100)).toEqual({ width: 8, height: 2 });
    expect(new Uint8Array(words.buffer, 4, 4)).toEqual(new Uint8Array([0x12, 0x34, 0x56, 255]));
  });

  it('the framebuffer MMIO window: bytes, words and dwords, aligned or not, little-endian; outside it reads ones', () => {
    const { vbe } = setup(1 << 20);
    const before = vbe.changes;
    vbe.lfb.write(0x100, 4, 0x44332211);
    expect(vbe.changes).toBeGreaterThan(before);
    expect(Array.from(vbe.vram.subarray(0x100, 0x104))).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(vbe.lfb.read(0x101, 2)).toBe(0x3322);
    expect(vbe.lfb.read(0x101, 4)).toBe(0x00443322);
    expect(vbe.lfb.read(0x102, 2)).toBe(0x4433);
    expect(vbe.lfb.read(0x103, 1)).toBe(0x44);
    vbe.lfb.write(0x203, 4, 0xdeadbeef);
    expect(vbe.lfb.read(0x200, 4)).toBe(0xef000000);
    expect(vbe.lfb.read(0x204, 4)).toBe(0x00deadbe);
    vbe.lfb.write(0x301, 2, 0xabcd);
    expect(vbe.lfb.read(0x300, 4)).toBe(0x00abcd00);
    expect(vbe.lfb.read((1 << 20) - 2, 4)).toBe(0xffffffff);
    expect(vbe.lfb.read(1 << 20, 1)).toBe(0xff);
    vbe.lfb.write((1 << 20) - 1, 2, 0xffff); // not taken: it runs past the end
    expect(vbe.vram[(1 << 20) - 1]).toBe(0);
  });

  it('the banked window: 0xA0000-0xAFFFF shows 64 KiB bank BANK of video memory; 0xB0000 up answers nothing', () => {
    const { vbe, setMode, write, read } = setup();
    // SeaBIOS sets a banked mode without LFB_ENABLED.
    setMode(640, 480, 8, 0);
    write(VBE_DISPI_INDEX_BANK, 2);
    vbe.window.write(0x1234, 2, 0xbeef);
    expect(vbe.vram[2 * 0x10000 + 0x1234]).toBe(0xef);
    expect(vbe.lfb.read(2 * 0x10000 + 0x1234, 2)).toBe(0xbeef);
    expect(vbe.window.read(0x1234, 2)).toBe(0xbeef);
    vbe.window.write(0xffff, 2, 0x1122); // the half past the bank is dropped
    expect(vbe.vram[2 * 0x10000 + 0xffff]).toBe(0x22);
    expect(vbe.vram[3 * 0x10000]).toBe(0);
    expect(vbe.window.read(0xffff, 2)).toBe(0xff22);
    expect(vbe.window.read(0x18000, 1)).toBe(0xff);
    // Banks past the memory wrap onto it: the BIOS reads the register back to find out.
    write(VBE_DISPI_INDEX_BANK, 0x1234);
    expect(read(VBE_DISPI_INDEX_BANK)).toBe(0x34);
    // With the interface off, the window is the VGA's again (text at 0xB8000 in mode 3).
    write(VBE_DISPI_INDEX_ENABLE, 0);
    vbe.window.write(0x18000, 1, 0x41);
    expect(vbe.vga.state.vram[0]).toBe(0x41);
    expect(vbe.textScreen()!.lines[0]![0]).toBe('A');
  });

  it('VIRT_WIDTH sets the line length, VIRT_HEIGHT follows the memory; X/Y_OFFSET pick the top left shown', () => {
    const { vbe, setMode, write, read } = setup(1 << 20);
    setMode(4, 2, 8);
    expect(read(VBE_DISPI_INDEX_VIRT_WIDTH)).toBe(4);
    expect(read(VBE_DISPI_INDEX_VIRT_HEIGHT)).toBe(0xffff); // 262144 lines, as many as 16 bits say
    write(VBE_DISPI_INDEX_VIRT_WIDTH, 100);
    expect(read(VBE_DISPI_INDEX_VIRT_HEIGHT)).toBe(Math.floor((1 << 20) / 100));
    write(VBE_DISPI_INDEX_VIRT_HEIGHT, 3); // read only
    expect(read(VBE_DISPI_INDEX_VIRT_HEIGHT)).toBe(Math.floor((1 << 20) / 100));
    write(VBE_DISPI_INDEX_X_OFFSET, 3);
    write(VBE_DISPI_INDEX_Y_OFFSET, 5);
    expect(vbe.scanout()).toMatchObject({ width: 4, height: 2, stride: 100, start: 5 * 100 + 3 });
    vbe.lfb.write(503, 2, 0x1110); // shown line 0: colours 16, 17
    vbe.lfb.write(603, 1, 31);     // shown line 1, first pixel
    out6(vbe, 16, [63, 0, 0]); out6(vbe, 17, [0, 63, 0]); out6(vbe, 31, [0, 0, 63]);
    const { at, drawn } = draw(vbe);
    expect(drawn).toEqual({ width: 4, height: 2 });
    expect([at(0, 0), at(1, 0), at(0, 1)]).toEqual([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]]);
    // A virtual width under the mode's is the mode's; over the limit, the limit.
    write(VBE_DISPI_INDEX_VIRT_WIDTH, 2);
    expect(read(VBE_DISPI_INDEX_VIRT_WIDTH)).toBe(4);
    write(VBE_DISPI_INDEX_VIRT_WIDTH, 60000);
    expect(read(VBE_DISPI_INDEX_VIRT_WIDTH)).toBe(VBE_DISPI_MAX_XRES);
    // An offset that would show memory past the end goes back to 0 (Y first, then X).
    write(VBE_DISPI_INDEX_VIRT_WIDTH, 64);
    write(VBE_DISPI_INDEX_X_OFFSET, 0);
    write(VBE_DISPI_INDEX_Y_OFFSET, (1 << 20) / 64 - 1); // the last line: the second would be past the end
    expect(read(VBE_DISPI_INDEX_Y_OFFSET)).toBe(0);
    write(VBE_DISPI_INDEX_Y_OFFSET, (1 << 20) / 64 - 2); // the last two lines: fits
    expect(read(VBE_DISPI_INDEX_Y_OFFSET)).toBe((1 << 20) / 64 - 2);
    expect(vbe.scanout()!.start + 2 * 64).toBe(1 << 20);
    write(VBE_DISPI_INDEX_X_OFFSET, 1); // now the last pixel would be past the end: Y goes back to 0
    expect([read(VBE_DISPI_INDEX_X_OFFSET), read(VBE_DISPI_INDEX_Y_OFFSET)]).toEqual([1, 0]);
  });

  it('bochs-drm\'s mode set: a 32 bpp mode, a virtual height over the whole memory, a framebuffer at a Y offset', () => {
    const { vbe, setMode, write, read } = setup();
    setMode(1024, 768, 32);
    write(VBE_DISPI_INDEX_VIRT_WIDTH, 1024);
    write(VBE_DISPI_INDEX_VIRT_HEIGHT, (16 << 20) / 4096);
    write(VBE_DISPI_INDEX_X_OFFSET, 0);
    write(VBE_DISPI_INDEX_Y_OFFSET, 1000); // a second buffer well below the first
    expect(read(VBE_DISPI_INDEX_VIRT_HEIGHT)).toBe(4096);
    expect(read(VBE_DISPI_INDEX_Y_OFFSET)).toBe(1000);
    vbe.lfb.write(1000 * 4096 + 4 * 5, 4, 0x00ff8000);
    const { at, drawn } = draw(vbe);
    expect(drawn).toEqual({ width: 1024, height: 768 });
    expect(at(5, 0)).toEqual([255, 128, 0, 255]);
  });

  it('out-of-range values are pulled to the nearest valid mode while enabled; raw values read back while disabled', () => {
    const { vbe, setMode, write, read } = setup(1 << 20);
    write(VBE_DISPI_INDEX_XRES, 60000);
    expect(read(VBE_DISPI_INDEX_XRES)).toBe(60000); // disabled: stored as written (QEMU)
    setMode(0, 0, 7);
    expect([read(VBE_DISPI_INDEX_XRES), read(VBE_DISPI_INDEX_YRES), read(VBE_DISPI_INDEX_BPP)]).toEqual([8, 1, 8]);
    setMode(60000, 60000, 32);
    // 2560 pixels of 4 bytes: 1 MiB holds 102 such lines.
    expect([read(VBE_DISPI_INDEX_XRES), read(VBE_DISPI_INDEX_YRES)]).toEqual([VBE_DISPI_MAX_XRES, 102]);
    expect(vbe.displaySize()).toEqual({ width: 2560, height: 102 });
    write(VBE_DISPI_INDEX_YRES, 5000);
    expect(read(VBE_DISPI_INDEX_YRES)).toBe(102);
    write(VBE_DISPI_INDEX_BPP, 15);
    expect(read(VBE_DISPI_INDEX_BPP)).toBe(15);
    expect(vbe.scanout()!.stride).toBe(2560 * 2);
    write(VBE_DISPI_INDEX_BPP, 12);
    expect(read(VBE_DISPI_INDEX_BPP)).toBe(8);
  });

  it('4 bpp (SeaBIOS\'s planar VBE modes): the VGA keeps the window and draws from its planes', () => {
    const { vbe, setMode } = setup();
    setMode(800, 600, 4, 0);
    expect(vbe.enabled).toBe(true);
    expect(vbe.scanout()).toBeNull();
    vbe.window.write(0x18000, 1, 0x42); // mode 3's odd/even text window, still the VGA's
    expect(vbe.vga.state.vram[0]).toBe(0x42);
    expect(vbe.displaySize()).toEqual(vbe.vga.displaySize());
  });

  it('the attribute controller\'s PAS bit blanks a VBE picture too (bochs-drm blanks and unblanks with it)', () => {
    const { vbe, setMode, vga } = setup();
    setMode(16, 16, 32);
    vga.ports.read(0x1a, 1); // reset the flip-flop
    vga.ports.write(0, 1, 0x00);
    expect(vbe.displaySize()).toBeNull();
    expect(vbe.render(new Uint32Array(256), 16, 16)).toBeNull();
    vga.ports.read(0x1a, 1);
    vga.ports.write(0, 1, 0x20);
    expect(vbe.displaySize()).toEqual({ width: 16, height: 16 });
  });

  it('render clips to maxWidth x maxHeight and to the target, rows packed at the clipped width', () => {
    const { vbe, setMode } = setup();
    setMode(64, 32, 32);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 64; x++) vbe.lfb.write((y * 64 + x) * 4, 4, (y << 8) | x);
    const target = new Uint32Array(10 * 3 + 5).fill(0x5a5a5a5a);
    expect(vbe.render(target, 10, 100)).toEqual({ width: 10, height: 3 });
    const bytes = new Uint8Array(target.buffer);
    expect(Array.from(bytes.subarray(4 * (2 * 10 + 7), 4 * (2 * 10 + 8)))).toEqual([0, 2, 7, 255]); // (7, 2): G = y, B = x
    expect(target[30]).toBe(0x5a5a5a5a);
    // An odd-offset byte array goes through a copy.
    const odd = new Uint8ClampedArray(4 * 8 * 8 + 2);
    expect(vbe.render(odd.subarray(1, 1 + 4 * 8 * 8), 8, 8)).toEqual({ width: 8, height: 8 });
    expect([odd[1 + 4 * 9 + 1], odd[1 + 4 * 9 + 2]]).toEqual([1, 1]); // (1, 1)
    expect(odd[0]).toBe(0);
  });

  it('a snapshot copies video memory into the same array and brings back the mode and the DAC width', () => {
    const { vbe, setMode, write } = setup(1 << 20);
    setMode(32, 16, 8, VBE_DISPI_LFB_ENABLED | VBE_DISPI_8BIT_DAC);
    write(VBE_DISPI_INDEX_Y_OFFSET, 3);
    vbe.lfb.write(0x400, 4, 0xcafef00d);
    const saved = structuredClone(vbe.state);
    const vram = vbe.vram;
    vbe.reset();
    expect(vbe.enabled).toBe(false);
    expect(vbe.vga.dac8Bit).toBe(false);
    vbe.loadState(saved);
    expect(vbe.vram).toBe(vram);
    expect(vbe.lfb.read(0x400, 4)).toBe(0xcafef00d);
    expect(vbe.scanout()).toEqual({ width: 32, height: 16, bpp: 8, stride: 32, start: 3 * 32, bigEndian: false });
    expect(vbe.vga.dac8Bit).toBe(true);
    // A state with impossible registers is pulled back like a guest's writes.
    const bad = structuredClone(saved);
    bad.regs[VBE_DISPI_INDEX_YRES] = 0xffff;
    bad.regs[VBE_DISPI_INDEX_Y_OFFSET] = 0xffff;
    vbe.loadState(bad);
    expect(vbe.scanout()!.start + vbe.scanout()!.height * vbe.scanout()!.stride).toBeLessThanOrEqual(1 << 20);
    expect(() => vbe.loadState({ ...saved, vram: new Uint8Array(16) })).toThrow(RangeError);
    expect(() => new BochsVbe(new Vga(), { vramSize: 3 << 20 })).toThrow(RangeError);
  });
});

/** Set DAC entry `i` to a 6-bit colour through the ports. */
function out6(vbe: BochsVbe, i: number, rgb: number[]) {
  vbe.vga.ports.write(8, 1, i);
  for (const c of rgb) vbe.vga.ports.write(9, 1, c);
}

describe('QEMU standard VGA on PCI (1234:1111)', () => {
  it('identifies as QEMU\'s stdvga: vendor 1234, device 1111, class VGA, revision 2, no interrupt pin', () => {
    const { pci } = pciSetup();
    expect(pci.readConfig(0x00, 4)).toBe(0x11111234);
    expect(pci.readConfig(0x08, 4)).toBe(0x03000002); // class 03 00 00, revision 2 (extended registers)
    expect(pci.readConfig(0x2c, 4)).toBe(0x11001af4);
    expect(pci.readConfig(0x3d, 1)).toBe(0);
    expect(pci.readConfig(0x0e, 1)).toBe(0);
  });

  it('BARs size by writing all ones (PCI 2.2 §6.2.5.1): BAR0 16 MiB prefetchable memory, BAR2 4 KiB memory, BAR1 none', () => {
    const { pci, maps } = pciSetup();
    for (const off of [0x10, 0x14, 0x18]) pci.writeConfig(off, 4, 0xffffffff);
    expect(pci.readConfig(0x10, 4)).toBe(0xff000008);
    expect(pci.readConfig(0x14, 4)).toBe(0);
    expect(pci.readConfig(0x18, 4)).toBe(0xfffff000);
    pci.writeConfig(0x10, 4, 0xfd000000);
    pci.writeConfig(0x18, 4, 0xfebf0000);
    expect(maps.fb).toEqual([]);
    pci.writeConfig(0x04, 2, 0x0003); // I/O and memory space on, as SeaBIOS sets them
    expect(maps.fb).toEqual([0xfd000000]);
    expect(maps.mmio).toEqual([0xfebf0000]);
    pci.writeConfig(0x04, 2, 0);
    expect(maps.fb).toEqual([0xfd000000, null]);
  });

  it('the expansion ROM BAR (PCI 2.2 §6.2.5.2): sized like a BAR, decodes with its enable bit and Command.Memory, reads the image', () => {
    const image = new Uint8Array(39936); // vgabios-stdvga.bin's size: a 64 KiB ROM BAR
    image[0] = 0x55; image[1] = 0xaa; image[2] = 39936 / 512; image[0x1234] = 0x5a;
    const { pci, maps } = pciSetup(image);
    expect(pci.romSize).toBe(0x10000);
    expect(pci.readConfig(PCI_ROM_ADDRESS, 4)).toBe(0);
    // SeaBIOS's map_pcirom: write ~enable, read the size back.
    pci.writeConfig(PCI_ROM_ADDRESS, 4, 0xfffffffe);
    expect(pci.readConfig(PCI_ROM_ADDRESS, 4)).toBe(0xffff0000);
    pci.writeConfig(PCI_ROM_ADDRESS, 4, 0xfebe0000);
    pci.writeConfig(0x04, 2, 0x0002);
    expect(maps.rom).toEqual([]); // enable bit clear
    pci.writeConfig(PCI_ROM_ADDRESS, 4, 0xfebe0001);
    expect(maps.rom).toEqual([0xfebe0000]);
    expect(pci.readConfig(PCI_ROM_ADDRESS, 4)).toBe(0xfebe0001);
    expect(pci.rom.read(0, 2)).toBe(0xaa55);
    expect(pci.rom.read(2, 1)).toBe(78);
    expect(pci.rom.read(0x1234, 1)).toBe(0x5a);
    expect(pci.rom.read(0xfffc, 4)).toBe(0); // past the image, inside the BAR
    pci.rom.write(0, 1, 0);
    expect(pci.rom.read(0, 1)).toBe(0x55);
    pci.writeConfig(0x04, 2, 0x0001); // memory space off: the ROM goes with it
    expect(maps.rom).toEqual([0xfebe0000, null]);
    pci.writeConfig(0x04, 2, 0x0002);
    pci.writeConfig(PCI_ROM_ADDRESS, 4, 0xfebe0000); // enable bit off
    expect(maps.rom).toEqual([0xfebe0000, null, 0xfebe0000, null]);
    pci.writeConfig(PCI_ROM_ADDRESS, 4, 0xfebe0001);
    pci.reset();
    expect(pci.readConfig(PCI_ROM_ADDRESS, 4)).toBe(0);
    expect(maps.rom.at(-1)).toBeNull();
    // Without an image the register is not implemented: it reads 0 whatever is written.
    const bare = pciSetup().pci;
    bare.writeConfig(PCI_ROM_ADDRESS, 4, 0xffffffff);
    expect(bare.readConfig(PCI_ROM_ADDRESS, 4)).toBe(0);
  });

  it.skipIf(!existsSync(STDVGA_BIOS))('serves SeaBIOS\'s vgabios-stdvga.bin: option ROM header and a PCI data structure naming 1234:1111', () => {
    const image = new Uint8Array(readFileSync(STDVGA_BIOS));
    const { pci } = pciSetup(image);
    pci.writeConfig(PCI_ROM_ADDRESS, 4, 0xfebe0001);
    pci.writeConfig(0x04, 2, 0x0002);
    expect(pci.rom.read(0, 2)).toBe(0xaa55);
    const pcir = pci.rom.read(0x18, 2);
    expect(pci.rom.read(pcir, 4)).toBe(0x52494350); // "PCIR"
    expect(pci.rom.read(pcir + 4, 4)).toBe(0x11111234);
    for (let i = 0; i < image.length; i += 4093) expect(pci.rom.read(i, 1)).toBe(image[i]);
    expect(optionRomPciIds(image)).toEqual({ vendorId: 0x1234, deviceId: 0x1111 });
  });

  it('optionRomPciIds reads the PCI data structure, and finds none in an ISA ROM or garbage', () => {
    const rom = new Uint8Array(0x200);
    rom.set([0x55, 0xaa, 1]);
    expect(optionRomPciIds(rom)).toBeNull();
    rom[0x18] = 0x40;
    rom.set([0x50, 0x43, 0x49, 0x52, 0x34, 0x12, 0x11, 0x11], 0x40);
    expect(optionRomPciIds(rom)).toEqual({ vendorId: 0x1234, deviceId: 0x1111 });
    rom[0x18] = 0xfe; rom[0x19] = 0x01; // points past the end
    expect(optionRomPciIds(rom)).toBeNull();
    expect(optionRomPciIds(new Uint8Array(4))).toBeNull();
    if (existsSync('/usr/share/seabios/vgabios-isavga.bin')) {
      expect(optionRomPciIds(new Uint8Array(readFileSync('/usr/share/seabios/vgabios-isavga.bin')))).toBeNull();
    }
  });

  it('BAR2: the VGA ports at 0x400 (a word is index then data), DISPI registers at 0x500 + 2n, QEMU\'s extended registers at 0x600', () => {
    const { pci, vbe, read } = pciSetup();
    pci.mmio.write(0x404, 2, 0x0f02); // sequencer map mask := 0x0f
    expect(vbe.vga.state.seq[2]).toBe(0x0f);
    expect(pci.mmio.read(0x400 + 0x0c, 1)).toBe(vbe.vga.state.misc); // 0x3CC
    expect(pci.mmio.read(0x500, 2)).toBe(VBE_DISPI_ID5);
    expect(pci.mmio.read(0x500 + 2 * VBE_DISPI_INDEX_VIDEO_MEMORY_64K, 2)).toBe(256);
    // bochs-drm's mode set through the page.
    pci.mmio.write(0x500 + 2 * VBE_DISPI_INDEX_BPP, 2, 32);
    pci.mmio.write(0x500 + 2 * VBE_DISPI_INDEX_XRES, 4, (600 << 16) | 800); // XRES and YRES in one dword
    pci.mmio.write(0x500 + 2 * VBE_DISPI_INDEX_ENABLE, 2, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    expect(vbe.displaySize()).toEqual({ width: 800, height: 600 });
    expect(pci.mmio.read(0x500 + 2 * VBE_DISPI_INDEX_XRES, 4)).toBe((600 << 16) | 800);
    expect(pci.mmio.read(0x502, 1)).toBe(800 & 0xff);
    expect(vbe.state.index).toBe(VBE_DISPI_INDEX_XRES); // the page moves the index register, as QEMU's does
    expect(read(VBE_DISPI_INDEX_BPP)).toBe(32);
    // Extended registers: the region is 8 bytes; the byte order register takes two magic values.
    expect(pci.mmio.read(0x600, 4)).toBe(8);
    expect(pci.mmio.read(0x604, 4)).toBe(0x1e1e1e1e);
    vbe.lfb.write(0, 4, 0x11223300);
    pci.mmio.write(0x604, 4, 0xbebebebe);
    expect(pci.mmio.read(0x604, 4)).toBe(0xbebebebe);
    expect(draw(vbe).at(0, 0)).toEqual([0x33, 0x22, 0x11, 255]); // bytes 00 33 22 11 read as X, R, G, B
    pci.mmio.write(0x604, 4, 0x12345678); // neither: unchanged
    expect(pci.mmio.read(0x604, 4)).toBe(0xbebebebe);
    pci.mmio.write(0x604, 4, 0x1e1e1e1e);
    expect(draw(vbe).at(0, 0)).toEqual([0x22, 0x33, 0x00, 255]); // the same bytes as B, G, R, X
    // The EDID blob is empty: no header, so bochs-drm falls back to its own list of modes.
    expect(pci.mmio.read(0, 4)).toBe(0);
    expect(pci.mmio.read(0xffc, 4)).toBe(0);
  });

  it('big-endian framebuffers (QEMU 0x604 = 0xbebebebe) swap 16-bit words and 24-bit byte order too', () => {
    const { vbe, setMode } = setup();
    setMode(8, 1, 16);
    vbe.setBigEndian(true);
    vbe.lfb.write(0, 1, 0xf8); vbe.lfb.write(1, 1, 0x00); // 0xf800 big-endian: red
    expect(draw(vbe).at(0, 0)).toEqual([255, 0, 0, 255]);
    setMode(8, 1, 24, VBE_DISPI_LFB_ENABLED | VBE_DISPI_NOCLEARMEM);
    vbe.lfb.write(3, 1, 0x10); vbe.lfb.write(4, 1, 0x20); vbe.lfb.write(5, 1, 0x30); // R, G, B
    expect(draw(vbe).at(1, 0)).toEqual([0x10, 0x20, 0x30, 255]);
  });

  it('fuzz: random DISPI, port, MMIO, window, framebuffer and configuration accesses never throw; render stays in its frame', () => {
    const image = new Uint8Array(5000);
    image[0] = 0x55; image[1] = 0xaa;
    const { pci, vbe, vga } = pciSetup(image);
    let seed = 0x2545f491;
    const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed >>> 8; };
    const size = () => ([1, 2, 4] as const)[rnd() % 3]!;
    const value = () => (rnd() & 1 ? rnd() & 0xffff : (rnd() << 8) >>> 0);
    // DISPI values worth trying: small numbers, real modes, limits, garbage.
    const interesting = [0, 1, 4, 7, 8, 15, 16, 24, 32, 0x41, 0x61, 0xe1, 320, 640, 1024, 2560, 4096, 0xb0c0, 0xb0c5, 0xffff];
    const guard = 0x5a5a5a5a;
    let drawn = 0, vbeFrames = 0;
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < 60; i++) {
        const r = rnd() % 9;
        const s = size();
        if (r === 0) { vbe.dispiPorts.write(rnd() % 3, s, rnd() % 12); vbe.dispiPorts.write(1, 2, interesting[rnd() % interesting.length]!); }
        else if (r === 1) vbe.dispiPorts.read(rnd() % 3, s);
        else if (r === 2) pci.mmio.write(rnd() % 0x1000, s, value());
        else if (r === 3) expect(pci.mmio.read(rnd() % 0x1000, s)).toBeGreaterThanOrEqual(0);
        else if (r === 4) vbe.window.write(rnd() % 0x20000, s, value() & 0xff);
        else if (r === 5) expect(Number.isInteger(vbe.window.read(rnd() % 0x20000, s))).toBe(true);
        else if (r === 6) vbe.lfb.write((rnd() * 7) % (16 << 20) + (rnd() & 3), s, value());
        else if (r === 7) pci.writeConfig(rnd() % 0x48, s, rnd() & 1 ? 0xffffffff : value());
        else { vga.ports.write(rnd() % 0x20, 1, rnd() & 0xff); pci.rom.read(rnd() % 0x2000, s); }
      }
      if (round % 3) { vga.ports.read(0x1a, 1); vga.ports.write(0, 1, 0x20); vga.state.seq[1]! &= ~0x20; }
      if (round % 5 === 0) { // a valid mode now and then, so the VBE scanout gets exercised
        const bpp = [8, 15, 16, 24, 32][rnd() % 5]!;
        pci.mmio.write(0x508, 2, 0);
        pci.mmio.write(0x506, 2, bpp);
        pci.mmio.write(0x502, 4, ((1 + rnd() % 300) << 16) | (1 + rnd() % 400));
        pci.mmio.write(0x508, 2, VBE_DISPI_ENABLED | VBE_DISPI_NOCLEARMEM | (rnd() & VBE_DISPI_8BIT_DAC));
        pci.mmio.write(0x510, 2, rnd() % 5000); // X offset
        pci.mmio.write(0x512, 2, rnd() % 0x10000); // Y offset
      }
      const m = vbe.scanout();
      if (m !== null) {
        vbeFrames++;
        const bytesPerPixel = m.bpp === 15 ? 2 : m.bpp / 8;
        expect(m.start + (m.height - 1) * m.stride + m.width * bytesPerPixel).toBeLessThanOrEqual(vbe.vram.length);
        expect(m.width).toBeLessThanOrEqual(VBE_DISPI_MAX_XRES);
        expect(m.height).toBeLessThanOrEqual(VBE_DISPI_MAX_YRES);
      }
      const maxW = [0, 1, 17, 320, 800, 5000][rnd() % 6]!, maxH = [0, 1, 9, 200, 600, 3000][rnd() % 6]!;
      const len = rnd() % (320 * 240);
      const target = new Uint32Array(len + 64).fill(guard);
      const got = vbe.render(target.subarray(0, len), maxW, maxH);
      vbe.displaySize();
      vbe.textScreen();
      const used = got === null ? 0 : got.width * got.height;
      if (used > 0) drawn++;
      if (got !== null) {
        expect(got.width).toBeLessThanOrEqual(maxW);
        expect(got.height).toBeLessThanOrEqual(maxH);
        expect(used).toBeLessThanOrEqual(len);
      }
      for (let i = used; i < len + 64; i++) if (target[i] !== guard) expect.fail(`pixel ${i} written past ${used}`);
    }
    expect(drawn).toBeGreaterThan(50);
    expect(vbeFrames).toBeGreaterThan(50);
    // Whatever happened, a snapshot of it loads.
    const saved = structuredClone(vbe.state);
    vbe.loadState(saved);
    pci.loadState(structuredClone(pci.state));
  });
});
