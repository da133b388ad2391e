// Several translations as one WebAssembly module. The core writes each translation as a module
// of its own (asm-core/jit/module.ts: the same type and import sections every time, one
// function `f`); the host merges those it compiles together (the ones asked for in one run
// slice), so that one module, one instance and one code space hold them all.
//
// Why: V8 gives each module its own code space and each instance its own fields, so going from
// one translation into another (asm-core/jit/chain.ts) landed on a cold page nearly every
// time. A microbenchmark of tail calls through one table into a random cycle of 512 functions
// (Node 20, AMD EPYC): 140 ns an entry with one module per function, 16 ns with the 512
// functions in one module.
//
// Sections (WebAssembly core specification 2.0, 5.5): 1 types, 2 imports, 3 functions, 7
// exports, 10 code, and before the code the custom section of branch hints (the branch hinting
// proposal: "metadata.code.branch_hint", asm-core/jit/module.ts). The merged module has the first
// translation's type and import sections and functions f0, f1, ... in the order given, each with
// its own hints (their offsets count from the function's body, so they stay as they were).

/** Where each section of a module is: id -> [start of its contents, end). */
function sections(bytes: Uint8Array): Map<number, [number, number]> | null {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) return null;
  const found = new Map<number, [number, number]>();
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++];
    const [size, from] = uleb(bytes, at);
    if (from + size > bytes.length || found.has(id)) return null;
    found.set(id, [from, from + size]);
    at = from + size;
  }
  return found;
}

function uleb(bytes: Uint8Array, at: number): [number, number] {
  let v = 0, shift = 0;
  for (;;) {
    if (at >= bytes.length || shift > 28) return [Infinity, at];
    const b = bytes[at++];
    v += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [v, at];
    shift += 7;
  }
}

function writeUleb(out: number[], v: number): void {
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

/** A module is written as a list of byte runs, copied once into one array at the end (concat). */
type Part = Uint8Array | number[];

function partsLength(parts: Part[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

function section(out: Part[], id: number, contents: Part[]): void {
  const head = [id];
  writeUleb(head, partsLength(contents));
  out.push(head, ...contents);
}

function concat(parts: Part[]): Uint8Array {
  const bytes = new Uint8Array(partsLength(parts));
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  return bytes;
}

/**
 * One module whose functions f0..f(n-1) are the one function of each module in `modules`, or
 * null when they are not all the translator's shape with the same types and imports (then they
 * are compiled one by one).
 */
export function mergeTranslations(modules: Uint8Array[]): Uint8Array | null {
  if (modules.length === 0) return null;
  const first = sections(modules[0]);
  if (!first) return null;
  const [typesFrom, typesTo] = first.get(1) ?? [0, 0];
  const [importsFrom, importsTo] = first.get(2) ?? [0, 0];
  const types = modules[0].subarray(typesFrom, typesTo);
  const imports = modules[0].subarray(importsFrom, importsTo);
  let functionType = -1;
  const bodies: Uint8Array[] = [];
  const hints: (Uint8Array | null)[] = [];
  for (const m of modules) {
    const s = sections(m);
    if (!s || s.size !== (s.has(0) ? 6 : 5) || !s.has(3) || !s.has(7) || !s.has(10)) return null;
    const h = s.has(0) ? branchHints(m, s.get(0)!) : null;
    if (h === undefined) return null;
    hints.push(h);
    const [tf, tt] = s.get(1)!, [jf, jt] = s.get(2)!;
    if (!same(m.subarray(tf, tt), types) || !same(m.subarray(jf, jt), imports)) return null;
    // The function section: one function, and the same type for all.
    const [ff, ft] = s.get(3)!;
    if (ft - ff !== 2 || m[ff] !== 1 || m[ff + 1] >= 0x80 || (functionType >= 0 && m[ff + 1] !== functionType)) return null;
    functionType = m[ff + 1];
    // The code section: one body, kept with its size prefix.
    const [cf, ct] = s.get(10)!;
    if (m[cf] !== 1) return null;
    const [size, from] = uleb(m, cf + 1);
    if (from + size !== ct) return null;
    bodies.push(m.subarray(cf + 1, ct));
  }
  const out: Part[] = [[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]];
  section(out, 1, [types]);
  section(out, 2, [imports]);
  const fns: number[] = [];
  writeUleb(fns, bodies.length);
  for (let i = 0; i < bodies.length; i++) fns.push(functionType);
  section(out, 3, [fns]);
  // Exports: f0, f1, ...; a function's index counts the imported functions first.
  const importedFunctions = countImportedFunctions(imports);
  if (importedFunctions < 0) return null;
  const exports: number[] = [];
  writeUleb(exports, bodies.length);
  for (let i = 0; i < bodies.length; i++) {
    writeName(exports, `f${i}`);
    exports.push(0);
    writeUleb(exports, importedFunctions + i);
  }
  section(out, 7, [exports]);
  if (hints.some((h) => h !== null)) {
    const head: number[] = [];
    writeName(head, BRANCH_HINTS);
    writeUleb(head, hints.filter((h) => h !== null).length);
    const custom: Part[] = [head];
    hints.forEach((h, i) => {
      if (h === null) return;
      const index: number[] = [];
      writeUleb(index, importedFunctions + i);
      custom.push(index, h);
    });
    section(out, 0, custom);
  }
  const count: number[] = [];
  writeUleb(count, bodies.length);
  section(out, 10, [count, ...bodies]);
  return concat(out);
}

const BRANCH_HINTS = 'metadata.code.branch_hint';

function writeName(out: number[], name: string): void {
  writeUleb(out, name.length);
  for (let k = 0; k < name.length; k++) out.push(name.charCodeAt(k));
}

/**
 * The hints of a translation's one function (its custom section at [from, to)): the bytes of
 * their vector, or undefined when the section is not the translator's.
 */
function branchHints(m: Uint8Array, [from, to]: [number, number]): Uint8Array | undefined {
  const [length, at] = uleb(m, from);
  if (at + length > to || String.fromCharCode(...m.subarray(at, at + length)) !== BRANCH_HINTS) return undefined;
  const [functions, f] = uleb(m, at + length);
  if (functions !== 1) return undefined;
  const [, h] = uleb(m, f); // the function's index: the one function's
  return h < to ? m.subarray(h, to) : undefined;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The imported functions in an import section's contents, or -1 if it does not parse. */
function countImportedFunctions(imports: Uint8Array): number {
  let [n, at] = uleb(imports, 0);
  let functions = 0;
  for (; n > 0; n--) {
    for (let name = 0; name < 2; name++) { const [len, from] = uleb(imports, at); at = from + len; }
    if (at >= imports.length) return -1;
    const kind = imports[at++];
    if (kind === 0) { functions++; at = uleb(imports, at)[1]; }
    else if (kind === 1) { at += 1; at = limits(imports, at); } // table: element type, limits
    else if (kind === 2) at = limits(imports, at); // memory: limits
    else if (kind === 3) at += 2; // global: value type, mutability
    else if (kind === 4) { at += 1; at = uleb(imports, at)[1]; } // tag: attribute, type
    else return -1;
    if (at > imports.length) return -1;
  }
  return functions;
}

function limits(bytes: Uint8Array, at: number): number {
  const flags = bytes[at++];
  at = uleb(bytes, at)[1];
  if (flags & 1) at = uleb(bytes, at)[1];
  return at;
}
