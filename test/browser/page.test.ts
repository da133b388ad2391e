// The web page in a real browser (headless Chromium through playwright-core), served by a real
// Vite dev server and by `vite preview` of a real production build.
//
// What it proves: the page is cross-origin isolated and says so in words when it is not; a
// missing image ends in an error message, not a hang; the default guest boots to a shell prompt
// and runs commands typed into the terminal; and the page's main thread keeps painting frames
// while the guest spins the CPU in the worker.
//
// The guest tests need the core (build/core.wasm, `npm run build:core`) and the default guest
// (build/images/, `npm run build:images`); without them they are skipped, and the error-path
// tests still run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, createServer, preview, type PreviewServer, type ViteDevServer } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = join(ROOT, 'vite.config.ts');
const MANIFEST = join(ROOT, 'build/images/default.json');

const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A Linux boot in an interpreter can take minutes on a loaded CI machine. */
const BOOT_TIMEOUT_MS = 600_000;
const COMMAND_TIMEOUT_MS = 60_000;

const haveGuest = existsSync(join(ROOT, 'build/core.wasm')) && existsSync(MANIFEST);
const manifest = existsSync(MANIFEST)
  ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt?: string; kernelRelease?: string }
  : {};
/** The shell prompt the default guest prints (trailing blanks are trimmed in the terminal text). */
const PROMPT = (manifest.prompt ?? '~ # ').trimEnd();

function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
  return page;
}

const serialText = (page: Page) => page.evaluate(() => window.__webx86!.serialText());

/** Wait until the terminal text matches; on timeout say what the terminal did show. */
async function waitForTerminal(page: Page, test: (text: string) => boolean, what: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await serialText(page);
    if (test(text)) return text;
    const error = await page.evaluate(() => window.__webx86!.errorText());
    if (error) throw new Error(`page showed an error while waiting for ${what}: ${error}\n--- terminal ---\n${text.slice(-3000)}`);
    await page.waitForTimeout(250);
  }
  throw new Error(`timed out waiting for ${what}\n--- terminal ---\n${text.slice(-3000)}`);
}

/** The last non-empty terminal line is the prompt: the shell is waiting for input. */
function atPrompt(text: string): boolean {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.length > 0 && lines[lines.length - 1].trimEnd().endsWith(PROMPT);
}

/** Type a command, wait for the next prompt, return what the terminal added. */
async function runCommand(page: Page, command: string): Promise<string> {
  const before = await serialText(page);
  await page.evaluate((c) => window.__webx86!.type(c + '\r'), command);
  const after = await waitForTerminal(page, (t) => t.length > before.length + command.length && atPrompt(t)
    && t.slice(before.length).includes(command), `the prompt after "${command}"`, COMMAND_TIMEOUT_MS);
  // From the start of the prompt line the command was typed on.
  return after.slice(before.lastIndexOf('\n') + 1);
}

/** requestAnimationFrame callbacks over `ms` of wall time on the page's main thread. */
function countFrames(page: Page, ms: number): Promise<number> {
  return page.evaluate((duration) => new Promise<number>((resolve) => {
    let frames = 0;
    const start = performance.now();
    const tick = (t: number) => {
      frames++;
      if (t - start < duration) requestAnimationFrame(tick);
      else resolve(frames);
    };
    requestAnimationFrame(tick);
  }), ms);
}

/** Boot to a prompt, then check commands and the page's frame rate under a busy guest. */
async function guestSession(page: Page): Promise<void> {
  await waitForTerminal(page, atPrompt, 'the shell prompt', BOOT_TIMEOUT_MS);

  const uname = await runCommand(page, 'uname -a');
  expect(uname).toMatch(/Linux .*i[3-6]86/);
  if (manifest.kernelRelease) expect(uname).toContain(manifest.kernelRelease);

  const answer = await runCommand(page, 'echo $((6*7))');
  expect(answer.split('\n').map((l) => l.trim())).toContain('42');
}

describe('web page on the vite dev server', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    server = await createServer({
      configFile: CONFIG,
      logLevel: 'warn',
      server: { host: '127.0.0.1', port: 0, hmr: false },
    });
    await server.listen();
    base = server.resolvedUrls!.local[0];
    browser = await launch();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('serves the page cross-origin isolated, with the guest images under /images/', async () => {
    const res = await fetch(base);
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const missing = await fetch(new URL('/images/nope', base));
    expect(missing.status).toBe(404);
    if (existsSync(MANIFEST)) {
      const m = await fetch(new URL('/images/default.json', base));
      expect(m.status).toBe(200);
      expect(await m.json()).toEqual(JSON.parse(readFileSync(MANIFEST, 'utf8')));
    }
    const page = await openPage(browser, `${base}?autostart=0`);
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    await page.close();
  }, 60_000);

  it('says in words that a missing kernel image was not found', async () => {
    const page = await openPage(browser, `${base}?kernel=/images/nope`);
    const error = await page.waitForFunction(() => window.__webx86!.errorText(), null, { timeout: 30_000 });
    const text = String(await error.jsonValue());
    expect(text).toMatch(/kernel image was not found/);
    expect(text).toContain('/images/nope');
    // The worker is idle again and the Start button usable, not stuck half-booted.
    expect(await page.evaluate(async () => (await window.__webx86!.status())?.phase)).toBe('idle');
    expect(await page.isEnabled('#btn-start')).toBe(true);
    await page.close();
  }, 60_000);

  it('says in words that a kernel URL on an unreachable host failed to download', async () => {
    const page = await openPage(browser, `${base}?kernel=${encodeURIComponent('http://127.0.0.1:9/bzImage')}`);
    const error = await page.waitForFunction(() => window.__webx86!.errorText(), null, { timeout: 30_000 });
    expect(String(await error.jsonValue())).toMatch(/Could not download the kernel image from http:\/\/127\.0\.0\.1:9\/bzImage/);
    await page.close();
  }, 60_000);

  it('explains that the page is not cross-origin isolated when the headers are missing', async () => {
    // Service workers blocked, so the isolation fallback (public/coi-sw.js) cannot step in.
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    // Strip COOP/COEP from every response, as a host that cannot set headers would.
    await page.route('**/*', async (route) => {
      const response = await route.fetch();
      const headers = { ...response.headers() };
      delete headers['cross-origin-opener-policy'];
      delete headers['cross-origin-embedder-policy'];
      await route.fulfill({ response, headers });
    });
    await page.goto(base);
    await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(false);
    expect(await page.evaluate(() => window.__webx86!.errorText())).toMatch(/not cross-origin isolated/);
    await context.close();
  }, 60_000);

  it.skipIf(!haveGuest)('boots the default guest to a shell prompt and runs commands', async () => {
    const page = await openPage(browser, base);
    await guestSession(page);

    // The guest spins in the worker (a shell counting loop, seconds long and fork-free); the
    // page must keep drawing frames at its idle rate meanwhile.
    const idleFrames = await countFrames(page, 2000);
    const before = await serialText(page);
    await page.evaluate(() => window.__webx86!.type('i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo spun-$i\r'));
    await page.waitForTimeout(500);
    const statusNow = () => page.evaluate(() => window.__webx86!.status());
    const a = await statusNow();
    const frames = await countFrames(page, 2000);
    const b = await statusNow();
    const busy = { frames, instructions: b!.instructions - a!.instructions, state: b!.state };
    // Still spinning when the counting ended, so the frames were counted under load.
    expect((await serialText(page)).slice(before.length)).not.toMatch(/^spun-20000$/m);
    expect(busy.state).toBe('running');
    expect(busy.instructions).toBeGreaterThan(1_000_000);
    expect(busy.frames).toBeGreaterThanOrEqual(Math.min(60, idleFrames * 0.7));
    // And the worker still answers: the loop ends and the shell takes the next command.
    await waitForTerminal(page, (t) => /^spun-20000$/m.test(t.slice(before.length)) && atPrompt(t),
      'the end of the busy loop', 3 * COMMAND_TIMEOUT_MS);
    const answer = await runCommand(page, 'echo $((6*7))');
    expect(answer.split('\n').map((l) => l.trim())).toContain('42');
    await page.close();
  }, BOOT_TIMEOUT_MS + 6 * COMMAND_TIMEOUT_MS);
});

/** A static file server that sends no COOP/COEP headers, like plain static hosting. */
async function bareStaticServer(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const types: Record<string, string> = {
    '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm',
    '.json': 'application/json', '.svg': 'image/svg+xml',
  };
  const server = createHttpServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir) || !existsSync(file)) file = '';
    if (!file) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', types[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('production build', () => {
  let server: PreviewServer;
  let browser: Browser;
  let outDir: string;
  let base: string;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'webx86-dist-'));
    await build({ configFile: CONFIG, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    server = await preview({
      configFile: CONFIG,
      logLevel: 'warn',
      build: { outDir },
      preview: { host: '127.0.0.1', port: 0 },
    });
    base = server.resolvedUrls!.local[0];
    browser = await launch();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.httpServer.close(() => resolve()) : resolve()));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('has the guest images copied into the build and serves them isolated', async () => {
    if (existsSync(MANIFEST)) expect(existsSync(join(outDir, 'images', 'default.json'))).toBe(true);
    const res = await fetch(base);
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });

  it('isolates itself through its service worker on a host that sends no COOP/COEP headers', async () => {
    const bare = await bareStaticServer(outDir);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${bare.url}?autostart=0`);
      // The first load registers the worker and reloads; the hook appears on the isolated load.
      await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
      expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
      expect(await page.evaluate(() => window.__webx86!.errorText())).toBe('');
      expect(await page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
    } finally {
      await context.close();
      await bare.close();
    }
  }, 60_000);

  it.skipIf(!haveGuest)('boots the default guest to a shell prompt on vite preview and runs commands', async () => {
    const page = await openPage(browser, base);
    await guestSession(page);
    await page.close();
  }, BOOT_TIMEOUT_MS + 3 * COMMAND_TIMEOUT_MS);
});
