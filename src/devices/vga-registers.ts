// The IBM VGA's register names and bits (IBM VGA Technical Reference; FreeVGA uses the same
// names), and the shape of its state. vga.ts decodes the ports, vga-memory.ts is the CPU's window
// onto the four planes, vga-render.ts is the scanout; all three read the registers by these names.

/** Each of the four planes (maps 0-3) is 64 KiB; plane p starts at vram[p * PLANE]. */
export const PLANE = 0x10000;

// Miscellaneous Output register (write 0x3C2, read 0x3CC)
export const MISC_IO_ADDRESS = 0x01;      // 1: CRTC at 0x3D4 (colour), 0: 0x3B4 (monochrome)
export const MISC_RAM_ENABLE = 0x02;      // 0: the CPU's window onto display memory is off

// Sequencer (0x3C4 index, 0x3C5 data)
export const SEQ_CLOCKING_MODE = 1;
export const SEQ_CLK_8DOT = 0x01;         // D89: 8-dot characters (0: 9-dot)
export const SEQ_CLK_DOT_HALF = 0x08;     // DC: dot clock divided by 2 (320- and 360-dot modes)
export const SEQ_CLK_SCREEN_OFF = 0x20;   // SO: screen off, memory to the CPU only
export const SEQ_MAP_MASK = 2;            // bits 3:0 enable CPU writes to planes 3:0
export const SEQ_CHAR_MAP_SELECT = 3;     // bits 5,3,2 map A (attribute bit 3 set); 4,1,0 map B
export const SEQ_MEMORY_MODE = 4;
export const SEQ_MEM_ODD_EVEN_OFF = 0x04; // O/E Dis: 0 = CPU writes go to the even/odd plane by A0
export const SEQ_MEM_CHAIN4 = 0x08;       // Chain 4: A1:A0 select the plane

// Graphics controller (0x3CE index, 0x3CF data)
export const GC_SET_RESET = 0;            // bits 3:0 the value written to each plane
export const GC_ENABLE_SET_RESET = 1;     // bits 3:0 which planes take set/reset in write mode 0
export const GC_COLOR_COMPARE = 2;        // read mode 1: the colour looked for
export const GC_DATA_ROTATE = 3;          // bits 2:0 rotate count, bits 4:3 function select
export const GC_ROTATE_COUNT = 0x07;
export const GC_FUNCTION_SHIFT = 3;       // 0 replace, 1 AND, 2 OR, 3 XOR with the latches
export const GC_READ_MAP_SELECT = 4;      // bits 1:0 the plane read mode 0 returns
export const GC_MODE = 5;
export const GC_MODE_WRITE = 0x03;        // write mode 0-3
export const GC_MODE_READ1 = 0x08;        // read mode 1: colour compare
export const GC_MODE_HOST_OE = 0x10;      // O/E: CPU reads pick the even/odd plane by A0
export const GC_MODE_INTERLEAVE = 0x20;   // Shift Register: CGA 2-bit pixels from plane pairs
export const GC_MODE_256 = 0x40;          // Color 256: the shift register gives 4-bit nibbles
export const GC_MISC = 6;
export const GC_MISC_GRAPHICS = 0x01;     // graphics mode: character generator off
export const GC_MISC_MAP_SHIFT = 2;       // bits 3:2 memory map: A0000 128K, A0000 64K, B0000 32K, B8000 32K
export const GC_COLOR_DONT_CARE = 7;      // read mode 1: planes that take part in the compare
export const GC_BIT_MASK = 8;             // 1 bits take the new data, 0 bits keep the latch

// CRT controller (0x3D4 index, 0x3D5 data)
export const CRTC_HDISP_END = 0x01;       // character clocks shown per line, minus 1
export const CRTC_OVERFLOW = 0x07;
export const OVF_VDE8 = 0x02, OVF_LC8 = 0x10, OVF_VDE9 = 0x40;
export const CRTC_PRESET_ROW_SCAN = 0x08; // bits 4:0 first row scan, bits 6:5 byte panning
export const CRTC_MAX_SCAN = 0x09;
export const MSL_MASK = 0x1f;             // scan lines per character row, minus 1
export const MSL_LC9 = 0x40;              // line compare bit 9
export const MSL_SCAN_DOUBLE = 0x80;      // SD: each scan line shown twice (200-line modes)
export const CRTC_CURSOR_START = 0x0a;
export const CURSOR_OFF = 0x20;
export const CRTC_CURSOR_END = 0x0b;
export const CRTC_START_HI = 0x0c, CRTC_START_LO = 0x0d;
export const CRTC_CURSOR_HI = 0x0e, CRTC_CURSOR_LO = 0x0f;
export const CRTC_VRETRACE_END = 0x11;
export const VRE_PROTECT = 0x80;          // registers 0-7 are read-only
export const CRTC_VDISP_END = 0x12;
export const CRTC_OFFSET = 0x13;          // address counter advance per character row, halved
export const CRTC_UNDERLINE = 0x14;
export const UL_LOCATION = 0x1f;          // the row scan the underline is on
export const UL_DOUBLEWORD = 0x40;        // DW: the address counter addresses doublewords
export const CRTC_MODE_CONTROL = 0x17;
export const MC_CMS0 = 0x01;              // 0: row scan bit 0 is memory address bit 13 (CGA)
export const MC_SRS = 0x02;               // 0: row scan bit 1 is memory address bit 14 (Hercules)
export const MC_BYTE_MODE = 0x40;         // W/B: 1 byte addresses, 0 word addresses
export const CRTC_LINE_COMPARE = 0x18;

// Attribute controller (0x3C0 index and data by the flip-flop, 0x3C1 read)
export const ATTR_PAS = 0x20;             // index bit 5: the palette drives the screen (0: blanked)
export const ATTR_MODE_CONTROL = 0x10;
export const AMC_GRAPHICS = 0x01;         // ATGE: graphics (0: text attributes)
export const AMC_LINE_GRAPHICS = 0x04;    // LGE: 9th dot of characters C0-DF repeats the 8th
export const AMC_BLINK = 0x08;            // attribute bit 7 blinks (0: background intensity)
export const AMC_PAN_COMPAT = 0x20;       // PPM: panning stops at the line compare split
export const AMC_8BIT = 0x40;             // 8BIT: two 4-bit dots make one 256-colour pixel
export const AMC_P54S = 0x80;             // palette bits 5:4 come from the colour select
export const ATTR_COLOR_PLANE_ENABLE = 0x12;
export const ATTR_HPEL_PANNING = 0x13;
export const ATTR_COLOR_SELECT = 0x14;

/**
 * Everything the guest can observe of the VGA.
 * Version 1: the registers, the DAC and the planes. Version 2 added `latches` and `dacMask`.
 */
export interface VgaState {
  misc: number;
  seqIndex: number; seq: number[];
  crtcIndex: number; crtc: number[];
  gcIndex: number; gc: number[];
  /** The attribute controller's index register (bit 5 is PAS) and address/data flip-flop. */
  attrIndex: number; attrFlip: boolean; attr: number[];
  dacWrite: number; dacRead: number; dacStep: number; dac: Uint8Array;
  /** The DAC's pixel mask (0x3C6), ANDed with every pixel's DAC index. */
  dacMask: number;
  /** The graphics controller's four latches, plane 0-3, loaded by every CPU read of the window. */
  latches: number[];
  /** Four planes of 64 KiB. */
  vram: Uint8Array;
  guestErrors: number;
}
