#!/usr/bin/env node
// Embed benchmark: how soon a docs page's `<x86-vm snapshot=...>` element shows its shell prompt
// (issue 13: "a ready shell within a second"), in headless Chromium against a production build.
//
//   node bench/embed.mjs [--runs=5] [--memory=64] [--timeout=300]
//
// It builds the site into a temporary directory (as bench/page.mjs --build does) and serves it
// with COOP/COEP from a small static server (the snapshot file is written after the build, so
// the server reads files as they are asked for). A first page boots the default guest in an
// element and saves it at its prompt with vm.snapshot(); then a page holding only
// `<x86-vm src=... snapshot=... autostart>` is loaded --runs times, each in a fresh browser
// context (nothing cached), and timed by the page's own clock:
//   - restore → prompt: from the element's `restoring` state (the snapshot's download, decode
//     and load into a new machine) to the prompt in its serial output;
//   - navigation → prompt: from the page's navigation start to the same prompt (the element's
//     start, and the downloads of the file and of the guest's images before its restore starts).
// The worker's own breakdown of the restore ([snapshot] restored ... decode, images, ...) is
// printed with each run. Prints human lines, then one JSON line for bench/run.mjs.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir, loadavg } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = join(ROOT, 'vite.config.ts');
const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k, v ?? true];
}));
const runs = Number(args.runs ?? 5);
const memory = Number(args.memory ?? 64);
const timeoutMs = Number(args.timeout ?? 300) * 1000;
const manifestPath = join(ROOT, 'build/images/default.json');
const prompt = (existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')).prompt : null) ?? '~ # ';
const SNAPSHOT_FILE = 'bench-embed.wx86snap';

/** A page with `body`, loading webx86.js as a docs page would. */
const docsPage = (body) => `<!doctype html><html><head><meta charset="utf-8"><title>x86-vm bench</title></head><body>${body}
<script type="module" src="/webx86.js"></script></body></html>`;

/**
 * Installed before any page script: each element's serial text since its last `restoring`
 * state, when that state came, when the prompt first began a line, and its `ready` event.
 */
function recordEvents(prompt) {
  const atLineStart = new RegExp(`(^|\\n)${prompt.trimEnd().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
  const rec = (window.__bench = { text: '', restoreAt: null, promptAt: null, ready: null, error: null });
  for (const type of ['state', 'serial', 'ready', 'error']) {
    document.addEventListener(type, (e) => {
      if (e.target.tagName !== 'X86-VM') return;
      const at = performance.now();
      if (type === 'state' && e.detail.state === 'restoring') Object.assign(rec, { text: '', restoreAt: at, promptAt: null });
      else if (type === 'serial') {
        rec.text += e.detail.text;
        if (rec.promptAt === null && atLineStart.test(rec.text)) rec.promptAt = at;
      } else if (type === 'ready') rec.ready = { ...e.detail, at };
      else if (type === 'error') rec.error = e.detail.message;
    }, true);
  }
}

/** A static server for `dir` with the isolation headers vite preview sends; files read when asked for. */
async function isolatedStaticServer(dir) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = resolve(dir, `.${path === '/' ? '/index.html' : path}`);
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', types[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const outDir = mkdtempSync(join(tmpdir(), 'webx86-bench-embed-'));
await build({ configFile: CONFIG, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
writeFileSync(join(outDir, 'bench-embed-boot.html'), docsPage(`
<x86-vm id="vm" src="/images/default.json" memory="${memory}" autostart keep-running></x86-vm>`));
writeFileSync(join(outDir, 'bench-embed-snapshot.html'), docsPage(`
<x86-vm id="vm" src="/images/default.json" snapshot="/${SNAPSHOT_FILE}" autostart></x86-vm>`));
const server = await isolatedStaticServer(outDir);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function newPage(context, log) {
  const page = await context.newPage();
  await page.addInitScript(recordEvents, prompt);
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  if (log) page.on('console', (m) => { if (m.text().startsWith('[snapshot]')) log.push(m.text()); });
  return page;
}

const ready = (page) => page.waitForFunction(() => {
  const r = window.__bench;
  return r.error ? { error: r.error } : r.ready && r.promptAt !== null ? { ...r.ready, promptAt: r.promptAt, restoreAt: r.restoreAt } : null;
}, null, { timeout: timeoutMs, polling: 50 }).then((h) => h.jsonValue());

let exitCode = 0;
try {
  // The snapshot: the default guest booted in an element, saved at its prompt.
  const context = await browser.newContext();
  try {
    const page = await newPage(context);
    await page.goto(`${server.url}bench-embed-boot.html`);
    const booted = await ready(page);
    if (booted.error) throw new Error(`the booting element showed an error: ${booted.error}`);
    const base64 = await page.evaluate(async () => {
      const bytes = new Uint8Array(await (await document.querySelector('x86-vm').snapshot()).arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    });
    writeFileSync(join(outDir, SNAPSHOT_FILE), Buffer.from(base64, 'base64'));
  } finally {
    await context.close();
  }
  const fileMiB = statSync(join(outDir, SNAPSHOT_FILE)).size / 2 ** 20;
  console.log(`snapshot of the default guest at its prompt: ${memory} MiB of RAM, a ${fileMiB.toFixed(1)} MiB file`);

  const results = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    try {
      const log = [];
      const page = await newPage(context, log);
      await page.goto(`${server.url}bench-embed-snapshot.html`);
      const r = await ready(page);
      if (r.error) throw new Error(`the snapshot= element showed an error: ${r.error}`);
      if (r.from !== 'snapshot') throw new Error(`the element's ready event says it came from '${r.from}', not the snapshot`);
      // When the snapshot file and the last of the guest's images (fetched beside it) had arrived.
      const downloads = await page.evaluate((file) => {
        const got = performance.getEntriesByType('resource').filter((e) => e.name.includes('/images/') || e.name.endsWith(file));
        return { snapshotMs: got.find((e) => e.name.endsWith(file))?.responseEnd ?? null, allMs: Math.max(0, ...got.map((e) => e.responseEnd)) };
      }, SNAPSHOT_FILE);
      const run = {
        restoreToPromptMs: r.promptAt - r.restoreAt, navigationToPromptMs: r.promptAt, navigationToRestoreMs: r.restoreAt,
        snapshotDownloadedMs: downloads.snapshotMs, imagesDownloadedMs: downloads.allMs, readyEventMs: r.ms,
        worker: log.find((l) => l.startsWith('[snapshot] restored')) ?? null,
      };
      results.push(run);
      console.log(`run ${i + 1}: restore start → prompt ${run.restoreToPromptMs.toFixed(0)} ms, navigation → prompt ${run.navigationToPromptMs.toFixed(0)} ms`
        + ` (ready event ${Number(r.ms).toFixed(0)} ms; restore started at ${run.navigationToRestoreMs.toFixed(0)} ms, the file downloaded at`
        + ` ${run.snapshotDownloadedMs?.toFixed(0)} ms, the images at ${run.imagesDownloadedMs.toFixed(0)} ms)${run.worker ? `\n  ${run.worker}` : ''}`);
    } finally {
      await context.close();
    }
  }
  const restoreMedian = median(results.map((r) => r.restoreToPromptMs));
  const navigationMedian = median(results.map((r) => r.navigationToPromptMs));
  const load = loadavg();
  console.log(`median of ${runs}: restore start → prompt ${restoreMedian.toFixed(0)} ms, navigation → prompt ${navigationMedian.toFixed(0)} ms`
    + ` (load average ${load.map((x) => x.toFixed(2)).join(', ')})`);
  console.log(JSON.stringify({
    bench: 'embed',
    memoryMiB: memory,
    snapshotMiB: fileMiB,
    runs: results.map(({ worker, ...run }) => run),
    restoreToPromptMs: restoreMedian,
    navigationToPromptMs: navigationMedian,
    loadAverage: load,
  }));
} catch (e) {
  console.error(`bench/embed: ${e.message}`);
  exitCode = 1;
} finally {
  await browser.close();
  await server.close();
  rmSync(outDir, { recursive: true, force: true });
}
process.exit(exitCode);
