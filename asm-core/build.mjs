// Builds asm-core/index.ts into build/core.wasm with the AssemblyScript compiler.
// The core allocates nothing at run time: the stub runtime keeps it free of a GC, and
// --memoryBase leaves the low 16 MiB to the CPU state and the TLB (see README.md).
import asc from 'assemblyscript/asc';
import { mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGenerated, GENERATED } from './opcodes/generate.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'build');
mkdirSync(out, { recursive: true });

// The handler numbering, dispatch and per-handler predicates come from the opcode table.
if (writeGenerated()) console.log(`asm-core: regenerated ${GENERATED} from the opcode table`);

const debug = process.argv.includes('--debug');
// Written beside the old core and renamed over it, so a test or benchmark loading the core
// meanwhile reads the old file or the new one, never half of one.
const partial = join(out, `core.wasm.${process.pid}.tmp`);
const { error, stderr } = await asc.main([
  join(here, 'index.ts'),
  '--outFile', partial,
  '--textFile', join(out, 'core.wat'),
  '--runtime', 'stub',
  '--memoryBase', String(0x0100_0000),
  '--initialMemory', '512',
  '--maximumMemory', '65536',
  // Shared, so the page can read the video memory (and the inspector guest RAM) where the core
  // keeps it, without a copy; the host creates it (src/cpu/core.ts) and every translation imports it.
  '--importMemory',
  '--sharedMemory',
  '--enable', 'threads',
  debug ? '--debug' : '-O3',
  '--noAssert',
  '--converge',
  '--exportTable', // the JIT installs its translations in it (jit/cache.ts)
]);
if (error) {
  console.error(stderr.toString());
  console.error(`asm-core: build failed: ${error.message}`);
  process.exit(1);
}
renameSync(partial, join(out, 'core.wasm'));
console.log(`asm-core: built ${join(out, 'core.wasm')}`);
