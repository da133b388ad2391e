#!/usr/bin/env node
// `npm start`: the main job. Serves the page (Vite, with the COOP/COEP headers the page needs)
// and, in this terminal, boots the same default guest through the CLI with COM1 on stdin/stdout.
// The server also relays the page's network (?net=user) at /wisp/ (vite.config.ts).
// Open the printed address in a browser for the page; Ctrl-A x leaves the terminal guest and
// stops the server. With --page-only the terminal guest is skipped and the server keeps running.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pageOnly = process.argv.includes('--page-only');

const server = await createServer({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
await server.listen();
const url = server.resolvedUrls?.local[0] ?? `http://localhost:${server.config.server.port}/`;
console.log(`webx86: the page is served at ${url}`);
console.log(`webx86: add ?net=user for a network through the Wisp relay at ${url.replace(/^http/, 'ws')}wisp/ (10.0.2.2 is this machine), or ?net=tabs to join other tabs`);
if (pageOnly) {
  console.log('webx86: press Ctrl-C to stop the server');
} else {
  console.log('webx86: booting Linux in this terminal (Ctrl-A x quits)\n');
  const cli = spawn(process.execPath, [join(root, 'bin/webx86'), 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
  cli.on('exit', async (code) => {
    await server.close();
    process.exit(code ?? 0);
  });
  // Stopping this script stops the guest too.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => cli.kill(sig));
}
