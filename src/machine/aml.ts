// A small encoder for ACPI Machine Language (ACPI 6.5 §20, "ACPI Machine Language
// Specification"): just the declarative terms a DSDT for this board needs (Scope, Device, Name,
// Package, Buffer, integers, strings, EISA IDs) and the resource descriptors of §6.4. Each
// function returns the encoded bytes; callers concatenate them.

export type Aml = Uint8Array;

const ZERO_OP = 0x00, ONE_OP = 0x01, NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a, WORD_PREFIX = 0x0b, DWORD_PREFIX = 0x0c, STRING_PREFIX = 0x0d;
const SCOPE_OP = 0x10, BUFFER_OP = 0x11, PACKAGE_OP = 0x12;
const EXT_OP_PREFIX = 0x5b, DEVICE_OP = 0x82;
const ROOT_CHAR = 0x5c, DUAL_NAME_PREFIX = 0x2e, MULTI_NAME_PREFIX = 0x2f;

export function cat(...parts: Aml[]): Aml {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** PkgLength (§20.2.4) of a body of `n` bytes, counting its own bytes. */
function pkgLength(n: number): Aml {
  if (n + 1 < 0x40) return Uint8Array.of(n + 1);
  for (let extra = 1; extra <= 3; extra++) {
    const total = n + 1 + extra;
    if (total < 1 << (4 + 8 * extra)) {
      const out = new Uint8Array(1 + extra);
      out[0] = (extra << 6) | (total & 0xf);
      for (let i = 0; i < extra; i++) out[1 + i] = (total >>> (4 + 8 * i)) & 0xff;
      return out;
    }
  }
  throw new RangeError('AML package longer than 2^28 bytes');
}

function pkg(op: Aml, body: Aml): Aml { return cat(op, pkgLength(body.length), body); }

/** A NameString: segments of up to four characters ("_SB", "PCI0"), padded with '_'; a leading '\' is the root. */
export function nameString(path: string): Aml {
  const root = path.startsWith('\\');
  const segs = (root ? path.slice(1) : path).split('.').filter(Boolean).map((s) => {
    if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(s)) throw new RangeError(`bad AML name segment '${s}'`);
    return new TextEncoder().encode(s.padEnd(4, '_'));
  });
  const prefix = root ? [Uint8Array.of(ROOT_CHAR)] : [];
  if (segs.length === 1) return cat(...prefix, segs[0]!);
  if (segs.length === 2) return cat(...prefix, Uint8Array.of(DUAL_NAME_PREFIX), ...segs);
  return cat(...prefix, Uint8Array.of(MULTI_NAME_PREFIX, segs.length), ...segs);
}

/** The shortest integer encoding (ZeroOp, OneOp, Byte/Word/DWordConst). */
export function integer(v: number): Aml {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`AML integer ${v} out of range`);
  if (v === 0) return Uint8Array.of(ZERO_OP);
  if (v === 1) return Uint8Array.of(ONE_OP);
  if (v <= 0xff) return Uint8Array.of(BYTE_PREFIX, v);
  if (v <= 0xffff) return Uint8Array.of(WORD_PREFIX, v & 0xff, v >> 8);
  return Uint8Array.of(DWORD_PREFIX, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
}

export function string(s: string): Aml { return cat(Uint8Array.of(STRING_PREFIX), new TextEncoder().encode(s), Uint8Array.of(0)); }

/** EisaId("PNP0A03"): three compressed letters and four hex digits, as a DWordConst (§19.6.35). */
export function eisaId(id: string): Aml {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`bad EISA ID '${id}'`);
  const c = (i: number) => id.charCodeAt(i) - 0x40;
  const hi = (c(0) << 10) | (c(1) << 5) | c(2);
  const lo = parseInt(id.slice(3), 16);
  // Stored big-endian within the DWORD: the compressed letters, then the product number.
  return Uint8Array.of(DWORD_PREFIX, hi >> 8, hi & 0xff, lo >> 8, lo & 0xff);
}

export function name(n: string, value: Aml): Aml { return cat(Uint8Array.of(NAME_OP), nameString(n), value); }
export function scope(n: string, ...body: Aml[]): Aml { return pkg(Uint8Array.of(SCOPE_OP), cat(nameString(n), ...body)); }
export function device(n: string, ...body: Aml[]): Aml { return pkg(Uint8Array.of(EXT_OP_PREFIX, DEVICE_OP), cat(nameString(n), ...body)); }

export function packageOf(...elements: Aml[]): Aml {
  if (elements.length > 0xff) throw new RangeError('AML Package of more than 255 elements');
  return pkg(Uint8Array.of(PACKAGE_OP), cat(Uint8Array.of(elements.length), ...elements));
}

export function buffer(bytes: Aml): Aml { return pkg(Uint8Array.of(BUFFER_OP), cat(integer(bytes.length), bytes)); }

// ---- resource descriptors (§6.4), for _CRS ----

/** A ResourceTemplate: the descriptors and the End Tag, as a Buffer. */
export function resourceTemplate(...descriptors: Aml[]): Aml {
  return buffer(cat(...descriptors, Uint8Array.of(0x79, 0x00))); // End Tag; checksum 0 means "none"
}

/** IO(Decode16, min, max = min, alignment 1, length) — a fixed I/O range (§6.4.2.5). */
export function io(base: number, length: number): Aml {
  return Uint8Array.of(0x47, 0x01, base & 0xff, base >> 8, base & 0xff, base >> 8, 0x01, length);
}

/** IRQNoFlags(irq) — an edge, active-high ISA interrupt (§6.4.2.1). */
export function irqNoFlags(irq: number): Aml {
  const mask = 1 << irq;
  return Uint8Array.of(0x22, mask & 0xff, mask >> 8);
}

const RESOURCE_MEMORY = 0, RESOURCE_IO = 1, RESOURCE_BUS = 2;
/** General flags: the window's minimum and maximum are fixed, and it is decoded positively by a producer. */
const FIXED_WINDOW = 0x0c;

/** WordBusNumber / WordIO (§6.4.3.5.3): a 16-bit address space window. */
function wordSpace(type: number, typeFlags: number, min: number, max: number): Aml {
  const len = max - min + 1;
  return Uint8Array.of(0x88, 0x0d, 0x00, type, FIXED_WINDOW, typeFlags,
    0, 0, min & 0xff, min >> 8, max & 0xff, max >> 8, 0, 0, len & 0xff, len >> 8);
}
export function wordBusNumber(min: number, max: number): Aml { return wordSpace(RESOURCE_BUS, 0, min, max); }
/** I/O window covering ISA and non-ISA ranges. */
export function wordIo(min: number, max: number): Aml { return wordSpace(RESOURCE_IO, 0x03, min, max); }

/** DWordMemory (§6.4.3.5.2): a 32-bit memory window, read-write, cacheable when asked. */
export function dwordMemory(min: number, max: number, cacheable: boolean): Aml {
  const len = max - min + 1;
  const d = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  const typeFlags = 0x01 | (cacheable ? 0x02 : 0); // read-write; memory attribute
  return Uint8Array.of(0x87, 0x17, 0x00, RESOURCE_MEMORY, FIXED_WINDOW, typeFlags,
    ...d(0), ...d(min), ...d(max), ...d(0), ...d(len));
}
