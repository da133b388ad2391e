// What makes a build's output folder the <x86-vm> npm package, beside the webx86.js vite
// bundles: the type declarations and a package.json. Runs in a worker thread while vite bundles
// (vite.config.ts's embedPackage plugin writes the files: loading TypeScript alone takes a
// second). The declarations are one file per module of the public surface, each declared on its
// own (isolatedDeclarations: no type-check of the program); one that needs an inferred type, or
// names a module outside the list, is an error rather than a broken .d.ts in the package.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

/** The modules the package's declarations are made of; index.ts re-exports from the others. */
const PUBLIC = ['index', 'x86-vm', 'vm-types', 'guest-choice'];

/** Path in the output folder -> declaration text; throws in words when one cannot be made. */
function declarations(root) {
  const ts = createRequire(join(root, 'package.json'))('typescript');
  const files = {};
  for (const name of PUBLIC) {
    const out = ts.transpileDeclaration(readFileSync(join(root, 'src/embed', `${name}.ts`), 'utf8'), {
      fileName: `${name}.ts`,
      reportDiagnostics: true,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, isolatedDeclarations: true, strict: true },
    });
    const problems = (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
    const outside = [...out.outputText.matchAll(/from '([^']+)'/g)].map((m) => m[1])
      .filter((spec) => !PUBLIC.some((p) => spec === `./${p}.js`));
    if (outside.length > 0) problems.push(`imports ${outside.join(', ')}, which the package does not declare`);
    if (problems.length > 0) throw new Error(`src/embed/${name}.ts: ${problems.join('; ')}`);
    files[`types/${name}.d.ts`] = out.outputText;
  }
  return files;
}

/**
 * The package's own package.json: `npm pack` in the output folder (or `npm install` of it) gives
 * the element, the worker and core it loads, the isolation service worker and the types; the
 * guest images are the site's to serve (images/ beside them in a build).
 */
function packageJson(root) {
  const project = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const types = './types/index.d.ts';
  return JSON.stringify({
    name: project.name,
    version: project.version,
    description: 'The <x86-vm> element: an x86 PC running Linux in a web page (webx86)',
    type: 'module',
    exports: { '.': { types, import: './webx86.js' } },
    types,
    // Importing it defines the element.
    sideEffects: ['./webx86.js'],
    files: ['webx86.js', 'assets/', 'coi-sw.js', 'types/'],
  }, null, 2) + '\n';
}

try {
  parentPort.postMessage({ files: { ...declarations(workerData.root), 'package.json': packageJson(workerData.root) } });
} catch (e) {
  parentPort.postMessage({ problem: String(e?.message ?? e) });
}
