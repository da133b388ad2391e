// Builds asm-core/index.ts into build/core.wasm with the AssemblyScript compiler.
// The core allocates nothing at run time: the stub runtime keeps it free of a GC, and
// --memoryBase leaves the low 16 MiB to the CPU state and the TLB (see README.md).
// Then addFaultHandling() gives the module the Wasm exception handling AssemblyScript cannot write.
import asc from 'assemblyscript/asc';
import binaryen from 'binaryen';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGenerated } from './opcodes/generate.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'build');
mkdirSync(out, { recursive: true });

// The handler numbering, dispatch, per-handler predicates and the JIT's dispatch come from the opcode table.
for (const path of writeGenerated()) console.log(`asm-core: regenerated ${path} from the opcode table`);

const debug = process.argv.includes('--debug');
// Written beside the old core and renamed over it, so a test or benchmark loading the core
// meanwhile reads the old file or the new one, never half of one.
const partial = join(out, `core.wasm.${process.pid}.tmp`);
const { error, stderr } = await asc.main([
  join(here, 'index.ts'),
  '--outFile', partial,
  '--textFile', join(out, 'core.wat'), // asc's output, with its names: before addFaultHandling below
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
try {
  writeFileSync(partial, addFaultHandling(readFileSync(partial)));
} catch (e) {
  rmSync(partial, { force: true });
  console.error(`asm-core: ${e.message}`);
  process.exit(1);
}
renameSync(partial, join(out, 'core.wasm'));
console.log(`asm-core: built ${join(out, 'core.wasm')}`);

/**
 * A fault inside an instruction throws to the run loop (cpu/fault.ts). AssemblyScript has no
 * throw or try/catch, so the source declares two placeholder imports from "fault", and here,
 * after asc's -O3, they become functions with the module's exception tag `fault` (no params):
 *   throw                 (func $throw (throw $fault))
 *   loopCatchingFaults    (func (result i32) (loop $again (result i32)
 *                            (try (result i32) (do (call $loop)) (catch $fault (br $again)))))
 * where $loop is index.ts loop(), exported for this and unexported here. Turning the imports
 * into functions, rather than rewriting each call site, leaves every other function as asc
 * wrote it, and no optimization pass runs; the extra call before a throw costs nothing next to
 * the throw. This is the legacy exception-handling proposal (try/catch/throw), which Node 20
 * and the browsers ship (src/cpu/core.ts refuses an engine without WebAssembly.Tag); Node 20
 * knows no newer form (try_table, exnref), which Binaryen's translate-to-exnref pass could write.
 */
function addFaultHandling(bytes) {
  const F = binaryen.Features;
  // What asc's output uses (threads for the shared memory, and asc's defaults), plus exception
  // handling; validate() below fails if an instruction needs one that is missing.
  const features = F.Atomics | F.MutableGlobals | F.NontrappingFPToInt | F.BulkMemory | F.BulkMemoryOpt |
    F.SignExt | F.ExceptionHandling;
  // Written as asc writes it (optimized Stack IR at -O3), so the functions come out as asc made
  // them; the round trip through Binaryen IR leaves only a few unused locals declared.
  binaryen.setOptimizeLevel(debug ? 0 : 3);
  binaryen.setShrinkLevel(0);
  binaryen.setGenerateStackIR(!debug);
  binaryen.setOptimizeStackIR(!debug);
  const module = binaryen.readBinaryWithFeatures(bytes, features);
  try {
    module.setFeatures(features);
    const placeholders = new Map();
    for (let i = 0; i < module.getNumFunctions(); i++) {
      const f = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
      if (f.module === 'fault') placeholders.set(f.base, f);
    }
    const placeholder = (base, params, results) => {
      const f = placeholders.get(base);
      if (!f || f.params !== params || f.results !== results) throw new Error(`no placeholder import fault.${base} of the expected type`);
      placeholders.delete(base);
      module.removeFunction(f.name); // the import; calls name the function, which comes back defined
      return f.name;
    };
    const loopExport = module.getExport('loop');
    if (!loopExport) throw new Error('index.ts does not export loop');
    const loop = binaryen.getExportInfo(loopExport).value;
    module.removeExport('loop');

    module.addTag('fault', binaryen.none, binaryen.none);
    module.addFunction(placeholder('throw', binaryen.none, binaryen.none), binaryen.none, binaryen.none, [],
      module.throw('fault', []));
    module.addFunction(placeholder('loopCatchingFaults', binaryen.none, binaryen.i32), binaryen.none, binaryen.i32, [],
      module.loop('again',
        module.try('', module.call(loop, [], binaryen.i32), ['fault'], [module.br('again')])));
    if (placeholders.size !== 0) throw new Error(`unknown placeholder imports: fault.${[...placeholders.keys()].join(', fault.')}`);
    if (!module.validate()) throw new Error('the module does not validate after adding fault handling');
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}
