// Benchmark dispatcher: `node bench/run.mjs [cpu|boot|page ...]`; no argument runs every
// benchmark that exists. Each benchmark is a standalone script in this folder.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const known = ['cpu', 'boot', 'guest', 'loops', 'disk', 'net', 'page', 'migrate', 'embed', 'faults'];
// Names are the bare words; a `--flag value` pair belongs to the benchmarks (e.g. --iterations 1000).
const args = process.argv.slice(2);
const asked = args.filter((a, i) => !a.startsWith('-') && !(i > 0 && args[i - 1].startsWith('--') && !args[i - 1].includes('=')));
const names = asked.length ? asked : known.filter((n) => existsSync(join(here, `${n}.mjs`)));
for (const name of names) {
  const file = join(here, `${name}.mjs`);
  if (!known.includes(name) || !existsSync(file)) {
    console.error(`bench: no benchmark '${name}' (have: ${known.filter((n) => existsSync(join(here, `${n}.mjs`))).join(', ')})`);
    process.exitCode = 2;
    continue;
  }
  console.log(`== bench ${name} ==`);
  // Each benchmark sees only the flags, as if it had been started directly.
  process.argv = [process.argv[0], file, ...args.filter((a) => !asked.includes(a))];
  await import(pathToFileURL(file).href);
}
