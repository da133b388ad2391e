// Segment descriptors and gates as the CPU reads them (Intel SDM vol. 3, 3.4.5 "Segment
// Descriptors", 3.5 "System Descriptor Types", 6.11 "IDT Descriptors"), decoded for the
// inspector: the GDT and LDT, the IDT, and the descriptor caches of the segment registers.
//
// Everything here takes raw words or bytes the guest wrote and never throws: a table the guest
// left with garbage decodes to garbage rows, a limit beyond the bytes read is cut to them.

/** Descriptor type field, S = 0 (system), SDM vol. 3 table 3-2 (32-bit mode). */
const SYSTEM_TYPES: Record<number, string> = {
  0x1: 'TSS16 available', 0x2: 'LDT', 0x3: 'TSS16 busy', 0x4: 'call gate 16', 0x5: 'task gate',
  0x6: 'interrupt gate 16', 0x7: 'trap gate 16', 0x9: 'TSS32 available', 0xb: 'TSS32 busy',
  0xc: 'call gate 32', 0xe: 'interrupt gate 32', 0xf: 'trap gate 32',
};

// Bits of the descriptor's high dword (SDM vol. 3 figure 3-8).
export const DESC_S = 1 << 12;      // code or data (1), system (0)
export const DESC_P = 1 << 15;      // present
export const DESC_AVL = 1 << 20;    // available to software
export const DESC_L = 1 << 21;      // 64-bit code (IA-32e)
export const DESC_DB = 1 << 22;     // default operation size 32 (code), big (stack/data)
export const DESC_G = 1 << 23;      // limit in 4 KiB units
// Type bits of a code or data segment (SDM vol. 3 table 3-1).
export const TYPE_CODE = 0x8;
export const TYPE_CONFORMING = 0x4; // code; expand-down for data
export const TYPE_READABLE = 0x2;   // code; writable for data
export const TYPE_ACCESSED = 0x1;

/** A segment or system descriptor. */
export interface SegmentDescriptor {
  base: number;
  /** The limit in bytes, scaled by G (the last valid offset). */
  limit: number;
  type: number;
  /** Code or data (S = 1) rather than a system descriptor. */
  codeOrData: boolean;
  dpl: number;
  present: boolean;
  avl: boolean;
  long: boolean;
  /** D/B: 32-bit code, or a big stack / data segment. */
  big: boolean;
  granularity: boolean;
  /** In words: "code 32 RA", "data 16 W E", "TSS32 busy", "LDT" ... */
  kind: string;
}

/** An IDT entry (or a call gate). */
export interface GateDescriptor {
  selector: number;
  offset: number;
  type: number;
  dpl: number;
  present: boolean;
  /** "interrupt gate 32", "trap gate 32", "task gate", or "not a gate (type N)". */
  kind: string;
}

function codeDataKind(type: number, big: boolean, long: boolean): string {
  if ((type & TYPE_CODE) !== 0) {
    const bits = long ? 64 : big ? 32 : 16;
    return `code ${bits} ${(type & TYPE_READABLE) ? 'R' : '-'}${(type & TYPE_CONFORMING) ? 'C' : '-'}${(type & TYPE_ACCESSED) ? 'A' : '-'}`;
  }
  return `data ${big ? 32 : 16} ${(type & TYPE_READABLE) ? 'W' : '-'}${(type & TYPE_CONFORMING) ? 'E' : '-'}${(type & TYPE_ACCESSED) ? 'A' : '-'}`;
}

/** Decode the two dwords of a segment or system descriptor (low: limit 15:0, base 15:0). */
export function decodeSegmentDescriptor(low: number, high: number): SegmentDescriptor {
  low >>>= 0;
  high >>>= 0;
  const base = ((low >>> 16) | ((high & 0xff) << 16) | (high & 0xff000000)) >>> 0;
  const rawLimit = (low & 0xffff) | (high & 0x000f0000);
  const granularity = (high & DESC_G) !== 0;
  const limit = granularity ? ((rawLimit << 12) | 0xfff) >>> 0 : rawLimit;
  const type = (high >>> 8) & 0xf;
  const codeOrData = (high & DESC_S) !== 0;
  const big = (high & DESC_DB) !== 0;
  const long = (high & DESC_L) !== 0;
  return {
    base, limit, type, codeOrData,
    dpl: (high >>> 13) & 3,
    present: (high & DESC_P) !== 0,
    avl: (high & DESC_AVL) !== 0,
    long, big, granularity,
    kind: codeOrData ? codeDataKind(type, big, long) : SYSTEM_TYPES[type] ?? `reserved system type ${type}`,
  };
}

/**
 * The attributes a segment register's descriptor cache holds (Core.seg().access: descriptor
 * bits 40..55 shifted down), decoded as a descriptor with the cached base and limit.
 */
export function decodeCachedSegment(base: number, limit: number, access: number): SegmentDescriptor {
  const high = ((access & 0xf0ff) << 8) >>> 0;
  const d = decodeSegmentDescriptor(0, high);
  return { ...d, base: base >>> 0, limit: limit >>> 0 };
}

/** Decode the two dwords of an IDT entry (low: offset 15:0, selector; high: offset 31:16, P, DPL, type). */
export function decodeGate(low: number, high: number): GateDescriptor {
  low >>>= 0;
  high >>>= 0;
  const type = (high >>> 8) & 0x1f;
  const system = (type & 0x10) === 0 ? type & 0xf : -1;
  const isGate = system === 0x5 || system === 0x6 || system === 0x7 || system === 0xe || system === 0xf || system === 0x4 || system === 0xc;
  return {
    selector: low >>> 16,
    // A task gate has no offset: its selector names a TSS.
    offset: system === 0x5 ? 0 : ((high & 0xffff0000) | (low & 0xffff)) >>> 0,
    type: type & 0xf,
    dpl: (high >>> 13) & 3,
    present: (high & DESC_P) !== 0,
    kind: isGate ? SYSTEM_TYPES[system]! : `not a gate (type ${type & 0xf}${(type & 0x10) ? ', S set' : ''})`,
  };
}

/** One entry of a table read from guest memory. */
export interface TableRow<T> {
  index: number;
  /** The selector that names it (index * 8, plus TI for the LDT), or the vector for the IDT. */
  selector: number;
  low: number;
  high: number;
  decoded: T;
}

/** How many 8-byte entries fit in a table of `limit` (the last valid byte offset) within `available` bytes. */
export function tableEntries(limit: number, available: number): number {
  const byLimit = Math.floor(((limit >>> 0) + 1) / 8);
  return Math.max(0, Math.min(byLimit, Math.floor(available / 8)));
}

function dwords(bytes: Uint8Array, at: number): [number, number] {
  const w = (o: number) => (bytes[o]! | bytes[o + 1]! << 8 | bytes[o + 2]! << 16 | bytes[o + 3]! << 24) >>> 0;
  return [w(at), w(at + 4)];
}

/**
 * The GDT or LDT in `bytes` (read from the table's base), up to its limit. Entry 0 of the GDT is
 * the null descriptor and is left out; so are all-zero entries, unless `all`.
 */
export function decodeDescriptorTable(bytes: Uint8Array, limit: number, ldt: boolean, all = false): TableRow<SegmentDescriptor>[] {
  const rows: TableRow<SegmentDescriptor>[] = [];
  const n = tableEntries(limit, bytes.length);
  for (let i = ldt ? 0 : 1; i < n; i++) {
    const [low, high] = dwords(bytes, i * 8);
    if (!all && low === 0 && high === 0) continue;
    rows.push({ index: i, selector: i * 8 | (ldt ? 4 : 0), low, high, decoded: decodeSegmentDescriptor(low, high) });
  }
  return rows;
}

/** The IDT in `bytes`, up to its limit; empty entries are left out unless `all`. */
export function decodeIdt(bytes: Uint8Array, limit: number, all = false): TableRow<GateDescriptor>[] {
  const rows: TableRow<GateDescriptor>[] = [];
  const n = Math.min(256, tableEntries(limit, bytes.length));
  for (let v = 0; v < n; v++) {
    const [low, high] = dwords(bytes, v * 8);
    if (!all && low === 0 && high === 0) continue;
    rows.push({ index: v, selector: v, low, high, decoded: decodeGate(low, high) });
  }
  return rows;
}

/**
 * The real-mode interrupt vector table (the IDT register's base and limit in real mode, SDM vol.
 * 3, 20.1.4): 4-byte entries of offset then segment, shown as gates with the segment as their
 * selector; all-zero entries left out unless `all`.
 */
export function decodeIvt(bytes: Uint8Array, limit: number, all = false): TableRow<GateDescriptor>[] {
  const rows: TableRow<GateDescriptor>[] = [];
  const n = Math.min(256, Math.floor(((limit >>> 0) + 1) / 4), Math.floor(bytes.length / 4));
  for (let v = 0; v < n; v++) {
    const entry = (bytes[v * 4]! | bytes[v * 4 + 1]! << 8 | bytes[v * 4 + 2]! << 16 | bytes[v * 4 + 3]! << 24) >>> 0;
    if (!all && entry === 0) continue;
    rows.push({ index: v, selector: v, low: entry, high: 0,
      decoded: { selector: entry >>> 16, offset: entry & 0xffff, type: 0, dpl: 0, present: true, kind: 'real-mode vector' } });
  }
  return rows;
}
