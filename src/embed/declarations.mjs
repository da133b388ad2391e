// The <x86-vm> package's type declarations, made in a worker thread while vite bundles
// (vite.config.ts's embedTypes plugin writes them: loading TypeScript alone takes a second).
// One file per module of the public surface, each declared on its own (isolatedDeclarations: no
// type-check of the program). A declaration that needs an inferred type, or names a module
// outside the list, is an error rather than a broken .d.ts in the package.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

/** The modules the package's declarations are made of; index.ts re-exports from the others. */
const PUBLIC = ['index', 'x86-vm', 'guest-choice'];

/** File name -> declaration text; throws in words when one cannot be made. */
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
    files[`${name}.d.ts`] = out.outputText;
  }
  return files;
}

try {
  parentPort.postMessage({ files: declarations(workerData.root) });
} catch (e) {
  parentPort.postMessage({ problem: String(e?.message ?? e) });
}
