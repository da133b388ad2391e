// Node only: find and read build/core.wasm (the browser fetches it through Vite instead).

import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in src/cpu/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `npm run build:core` writes the core. */
export const CORE_WASM_PATH = join(REPO_ROOT, 'build', 'core.wasm');

/** Read the core module; a missing file is reported with the command that builds it. */
export async function readCoreWasm(path: string = CORE_WASM_PATH): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      throw new Error(`${path} not found: run \`npm run build:core\` first`);
    }
    throw new Error(`cannot read ${path}: ${err.message}`);
  }
}
