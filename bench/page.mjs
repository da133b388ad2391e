#!/usr/bin/env node
// Page benchmark: how long the web page takes from navigation to the default guest's shell
// prompt in headless Chromium, and how fast the VM worker runs guest code.
//
//   node bench/page.mjs [--build] [--url=http://host:port/] [--query=vmlinux=1] [--timeout=600]
//
// By default it starts a Vite dev server; --build measures a production build under
// `vite preview` instead (built into a temporary directory); --url measures a page served
// elsewhere. Prints human lines, then one JSON line for bench/run.mjs.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, createServer, preview } from 'vite';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = join(ROOT, 'vite.config.ts');
const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k, v ?? true];
}));
const timeoutMs = Number(args.timeout ?? 600) * 1000;
const manifestPath = join(ROOT, 'build/images/default.json');
const prompt = (existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')).prompt : null) ?? '~ # ';

let close = async () => {};
let base = args.url;
if (!base) {
  if (args.build) {
    const outDir = mkdtempSync(join(tmpdir(), 'webx86-bench-'));
    await build({ configFile: CONFIG, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    const server = await preview({ configFile: CONFIG, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } });
    base = server.resolvedUrls.local[0];
    close = async () => {
      await new Promise((r) => server.httpServer.close(r));
      rmSync(outDir, { recursive: true, force: true });
    };
  } else {
    const server = await createServer({ configFile: CONFIG, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, hmr: false } });
    await server.listen();
    base = server.resolvedUrls.local[0];
    close = () => server.close();
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let exitCode = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  const url = args.query ? `${base}?${args.query}` : base;
  const started = Date.now();
  await page.goto(url);
  const trimmed = prompt.trimEnd();
  // Poll inside the page: the time is the page's own clock from navigation start.
  const handle = await page.waitForFunction((p) => {
    const hook = window.__webx86;
    if (!hook) return false;
    const err = hook.errorText();
    if (err) return { error: err };
    const lines = hook.serialText().split('\n').filter((l) => l.trim() !== '');
    return lines.length > 0 && lines[lines.length - 1].trimEnd().endsWith(p) ? { at: performance.now() } : false;
  }, trimmed, { timeout: timeoutMs, polling: 100 });
  const result = await handle.jsonValue();
  if (result.error) throw new Error(`the page showed an error: ${result.error}`);
  const secondsToPrompt = result.at / 1000;
  const bootStatus = await page.evaluate(() => window.__webx86.status());

  // Guest speed on a CPU-bound loop (the shell spinning), measured by the worker's own counter.
  await page.evaluate(() => window.__webx86.type('while :; do :; done\r'));
  await page.waitForTimeout(1000);
  const a = await page.evaluate(() => window.__webx86.status());
  const t0 = Date.now();
  await page.waitForTimeout(3000);
  const b = await page.evaluate(() => window.__webx86.status());
  const ips = (b.instructions - a.instructions) / ((Date.now() - t0) / 1000);

  console.log(`page load to shell prompt: ${secondsToPrompt.toFixed(2)} s (wall ${((Date.now() - started) / 1000).toFixed(1)} s incl. measuring)`);
  console.log(`boot: ${(bootStatus.instructions / 1e6).toFixed(0)} M instructions, guest time ${bootStatus.guestSeconds.toFixed(2)} s`);
  console.log(`guest speed (busy shell loop): ${(ips / 1e6).toFixed(1)} MIPS`);
  console.log(JSON.stringify({
    bench: 'page',
    mode: args.url ? 'url' : args.build ? 'preview' : 'dev',
    secondsToPrompt,
    bootInstructions: bootStatus.instructions,
    ips,
  }));
} catch (e) {
  console.error(`bench/page: ${e.message}`);
  exitCode = 1;
} finally {
  await browser.close();
  await close();
}
process.exit(exitCode);
