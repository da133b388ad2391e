// Where the core's WebAssembly comes from when the Machine is not given it: in Node the build's
// file, read by ../cpu/core-file.js (the CLI's bundle, build/node/cli.js, has it at the same
// relative path: build/cpu/core-file.js); in a page, fetched from the build folder.

export async function defaultCoreWasm(): Promise<Uint8Array | ArrayBuffer> {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (isNode) {
    const mod = '../cpu/core-file.js';
    const { readCoreWasm } = (await import(/* @vite-ignore */ mod)) as typeof import('../cpu/core-file.js');
    return readCoreWasm();
  }
  const url = new URL('../../build/core.wasm', import.meta.url);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot load ${url}: HTTP ${res.status}`);
  return res.arrayBuffer();
}
