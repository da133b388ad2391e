// Devices' states (and the snapshot's configuration) as bytes. A device's state is plain data
// (STYLE.md 6): numbers, strings, booleans, null, undefined, arrays, plain objects and typed
// arrays, nested. JSON would lose Infinity (an unarmed timer's deadline), NaN, -0 and undefined,
// and would turn typed arrays into lists of numbers; so values are written as tag-length-value:
//
//   value   := tag:u8 body
//   tag 0 undefined, 1 null, 2 false, 3 true             (no body)
//   tag 4 number       f64                               (every number, exactly: NaN, -0, ±Infinity)
//   tag 5 string       len:u32 utf8[len]
//   tag 6 array        count:u32 value[count]
//   tag 7 object       count:u32 (key:string value)[count]   (keys unique; never __proto__,
//                                                           constructor or prototype)
//   tag 8 typed array  kind:u8 len:u32 bytes[len]        (kind: TYPED_ARRAY_KINDS' index;
//                                                           elements little-endian)
//   tag 9 paged typed array  kind:u8 pages               (ram-pages.ts: zero pages left out;
//                                                           for those of PAGED_MIN_BYTES and more
//                                                           in whole pages, as video memory)
//
// All integers little-endian. Decoding builds fresh arrays and plain objects; nothing is
// evaluated, and keys that could reach an object's prototype are refused.
import { ByteReader, ByteWriter, SnapshotError } from './bytes.js';
import { decodePages, encodePages, PAGE_SIZE } from './ram-pages.js';

const TAG_UNDEFINED = 0;
const TAG_NULL = 1;
const TAG_FALSE = 2;
const TAG_TRUE = 3;
const TAG_NUMBER = 4;
const TAG_STRING = 5;
const TAG_ARRAY = 6;
const TAG_OBJECT = 7;
const TAG_TYPED_ARRAY = 8;
const TAG_PAGED_TYPED_ARRAY = 9;

/** Typed arrays this large (in whole pages) leave their zero pages out: 16 MiB of blank video memory is 8 bytes. */
const PAGED_MIN_BYTES = 64 * 1024;

/** Typed array kinds by their number in the format: append only, never reorder. */
const TYPED_ARRAY_KINDS = [
  Uint8Array, Int8Array, Uint8ClampedArray, Uint16Array, Int16Array, Uint32Array, Int32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
] as const;

/** Deeper nesting than any device state has: a limit, so a hostile file cannot exhaust the stack. */
const MAX_DEPTH = 64;

/** Keys that would reach Object.prototype (or confuse code that walks one) when assigned. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Little-endian hosts only (every browser and Node platform): typed arrays are written as they lie in memory. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Write `value` (plain data); `where` names it in errors (a device's name). */
export function encodeValue(w: ByteWriter, value: unknown, where: string): void {
  if (!LITTLE_ENDIAN) throw new SnapshotError('snapshots are written on little-endian hosts only');
  write(w, value, where, 0);
}

function write(w: ByteWriter, v: unknown, path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new SnapshotError(`${path} is nested more than ${MAX_DEPTH} deep (a cycle?)`);
  switch (typeof v) {
    case 'undefined': w.u8(TAG_UNDEFINED); return;
    case 'boolean': w.u8(v ? TAG_TRUE : TAG_FALSE); return;
    case 'number': w.u8(TAG_NUMBER); w.f64(v); return;
    case 'string': w.u8(TAG_STRING); w.string(v); return;
    case 'object': break;
    default: throw new SnapshotError(`${path} is a ${typeof v}, which a snapshot cannot hold`);
  }
  if (v === null) { w.u8(TAG_NULL); return; }
  if (Array.isArray(v)) {
    w.u8(TAG_ARRAY);
    w.u32(v.length);
    for (let i = 0; i < v.length; i++) write(w, v[i], `${path}[${i}]`, depth + 1);
    return;
  }
  if (ArrayBuffer.isView(v)) {
    const kind = TYPED_ARRAY_KINDS.findIndex((k) => v.constructor === k);
    if (kind < 0) throw new SnapshotError(`${path} is a ${v.constructor.name}, which a snapshot cannot hold`);
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (bytes.length >= PAGED_MIN_BYTES && bytes.length % PAGE_SIZE === 0) {
      w.u8(TAG_PAGED_TYPED_ARRAY);
      w.u8(kind);
      encodePages(w, bytes);
      return;
    }
    w.u8(TAG_TYPED_ARRAY);
    w.u8(kind);
    w.u32(bytes.length);
    w.bytes(bytes);
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    throw new SnapshotError(`${path} is a ${(v as object).constructor?.name ?? 'object'}, which a snapshot cannot hold`);
  }
  const keys = Object.keys(v);
  w.u8(TAG_OBJECT);
  w.u32(keys.length);
  for (const k of keys) {
    if (FORBIDDEN_KEYS.has(k)) throw new SnapshotError(`${path} has a key '${k}', which a snapshot refuses`);
    w.string(k);
    write(w, (v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
  }
}

/**
 * What the typed arrays of a payload may take in memory, together: paged ones expand, so the
 * file's size does not bound them. Shared by every decodeValue of one payload.
 */
export interface MemoryBudget { bytes: number }

/** Read one value that encodeValue wrote; its typed arrays are charged to `budget`. */
export function decodeValue(r: ByteReader, budget: MemoryBudget): unknown {
  return read(r, budget, 0);
}

function corrupt(r: ByteReader, what: string): SnapshotError {
  return new SnapshotError(`snapshot is corrupt: ${r.where} ${what}`);
}

function charge(r: ByteReader, budget: MemoryBudget, bytes: number): void {
  if (bytes > budget.bytes) throw corrupt(r, `holds more typed arrays than a machine's state can (${bytes} bytes, ${budget.bytes} left)`);
  budget.bytes -= bytes;
}

function read(r: ByteReader, budget: MemoryBudget, depth: number): unknown {
  if (depth > MAX_DEPTH) throw corrupt(r, `is nested more than ${MAX_DEPTH} deep`);
  const tag = r.u8();
  switch (tag) {
    case TAG_UNDEFINED: return undefined;
    case TAG_NULL: return null;
    case TAG_FALSE: return false;
    case TAG_TRUE: return true;
    case TAG_NUMBER: return r.f64();
    case TAG_STRING: return r.string();
    case TAG_ARRAY: {
      const n = r.u32();
      // Each element takes at least its tag byte: a count beyond what is left is damage, and
      // must not become a huge allocation.
      if (n > r.left) throw corrupt(r, `has an array of ${n} elements in ${r.left} bytes`);
      const out: unknown[] = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = read(r, budget, depth + 1);
      return out;
    }
    case TAG_OBJECT: {
      const n = r.u32();
      if (n > r.left) throw corrupt(r, `has an object of ${n} keys in ${r.left} bytes`);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = r.string();
        if (FORBIDDEN_KEYS.has(key)) throw corrupt(r, `has a key '${key}', which a snapshot refuses`);
        if (Object.hasOwn(out, key)) throw corrupt(r, `has the key '${key}' twice`);
        out[key] = read(r, budget, depth + 1);
      }
      return out;
    }
    case TAG_TYPED_ARRAY: {
      const kind = r.u8();
      const Kind = TYPED_ARRAY_KINDS[kind];
      if (Kind === undefined) throw corrupt(r, `has a typed array of unknown kind ${kind}`);
      const len = r.u32();
      if (len % Kind.BYTES_PER_ELEMENT !== 0) throw corrupt(r, `has a ${Kind.name} of ${len} bytes`);
      charge(r, budget, len);
      const raw = r.bytes(len);
      // A copy into its own buffer: aligned for the element size, and not holding the file alive.
      const out = new Kind(len / Kind.BYTES_PER_ELEMENT);
      new Uint8Array(out.buffer).set(raw);
      return out;
    }
    case TAG_PAGED_TYPED_ARRAY: {
      const kind = r.u8();
      const Kind = TYPED_ARRAY_KINDS[kind];
      if (Kind === undefined) throw corrupt(r, `has a typed array of unknown kind ${kind}`);
      const { ram } = decodePages(r, budget.bytes);
      charge(r, budget, ram.length);
      // Whole pages are whole elements of every kind (8 divides 4096).
      return new Kind(ram.buffer as ArrayBuffer, 0, ram.length / Kind.BYTES_PER_ELEMENT);
    }
    default:
      throw corrupt(r, `has a value of unknown type ${tag}`);
  }
}
