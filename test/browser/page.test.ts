// The web page in a real browser (headless Chromium through playwright-core), served by a real
// Vite dev server and by `vite preview` of a real production build.
//
// What it proves: the page is cross-origin isolated and says so in words when it is not; a
// missing image ends in an error message, not a hang; the default guest boots to a shell prompt
// and runs commands typed into the terminal; and the page's main thread keeps painting frames
// while the guest spins the CPU in the worker.
//
// The guest tests need the core (build/core.wasm, `npm run build:core`) and the default guest
// (build/images/, `npm run build:images`). Without them they fail under CI; elsewhere they are
// skipped with a loud warning (test/images.ts), and the error-path tests still run.
//
// Commands typed into the terminal are read back between markers after the kernel's console
// messages are turned off (test/shell-markers.ts), so a kernel message printed meanwhile cannot
// be mistaken for, or cut into, a command's output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, createServer, preview, type PreviewServer, type ViteDevServer } from 'vite';
import type { Browser, Page } from 'playwright-core';
import { CORE, DISK_MANIFEST, diskGuestFiles, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, guestShell, launchChromium as launch, serialText } from './guest-page';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = join(ROOT, 'vite.config.ts');

const COMMAND_TIMEOUT_MS = 60_000;

const haveGuest = haveBuildOutputs('the browser tests with the default guest (test/browser)', [CORE, ...guestFiles()]);
const haveDiskGuest = haveBuildOutputs('the browser test with the disk guest (test/browser)', [CORE, ...diskGuestFiles()]);
const manifest = haveGuest
  ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; kernelRelease: string; banner: string }
  : { prompt: '~ # ', kernelRelease: '', banner: '' };
const { waitForTerminal, booted, runCommand } =
  guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS });

async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
  return page;
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

/**
 * The canvas against the VGA text the machine reports: in each 9x16 character cell, a blank
 * (space or NUL) is one colour, and a printable character other than a space draws at least two.
 * Returns the cells that disagree (none when the canvas shows the text).
 */
function cellsDisagreeing(screen: { lines: string[]; cursor: { row: number; col: number } | null },
                          px: { width: number; height: number; data: number[] }): string[] {
  const lines = screen.lines;
  const bad: string[] = [];
  const cols = lines[0]!.length, rows = lines.length;
  const cw = px.width / cols, ch = px.height / rows;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const code = lines[r]!.charCodeAt(c);
      const colours = new Set<number>();
      for (let y = 0; y < ch; y++) {
        for (let x = 0; x < cw - 1; x++) { // the 9th column is blank for most glyphs
          const i = ((r * ch + y) * px.width + c * cw + x) * 4;
          colours.add((px.data[i]! << 16) | (px.data[i + 1]! << 8) | px.data[i + 2]!);
        }
      }
      // The cursor's cell shows its underline too.
      const cursor = screen.cursor !== null && screen.cursor.row === r && screen.cursor.col === c;
      const blank = (code === 0x20 || code === 0) && !cursor;
      const ink = code > 0x20 && code < 0x7f && code !== 0x5f; // '_' may be only a cursor-like line
      if ((blank && colours.size !== 1) || (ink && colours.size < 2)) bad.push(`row ${r} col ${c} '${lines[r]![c]}': ${colours.size} colours`);
    }
  }
  return bad;
}

/** Boot to a prompt, then check commands and the page's frame rate under a busy guest. */
async function guestSession(page: Page): Promise<void> {
  await waitForTerminal(page, booted, 'the shell prompt', BOOT_TIMEOUT_MS);
  await runCommand(page, QUIET_CONSOLE);

  // Outputs are compared whole, so stray console text would fail them.
  const uname = await runCommand(page, 'uname -a');
  expect(uname).toMatch(/^Linux [^\n]*\bi[3-6]86\b[^\n]*\n$/);
  expect(uname).toContain(` ${manifest.kernelRelease} `);

  expect(await runCommand(page, 'echo $((6*7))')).toBe('42\n');
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

  it('serves the page cross-origin isolated, and a 404 for a missing image', async () => {
    const res = await fetch(base);
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const missing = await fetch(new URL('/images/nope', base));
    expect(missing.status).toBe(404);
    const page = await openPage(browser, `${base}?autostart=0`);
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    await page.close();
  }, 60_000);

  it.skipIf(!haveGuest)('serves the guest images under /images/', async () => {
    const m = await fetch(new URL('/images/default.json', base));
    expect(m.status).toBe(200);
    expect(m.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await m.json()).toEqual(JSON.parse(readFileSync(MANIFEST, 'utf8')));
  });

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

    // The guest spins in the worker (a fork-free shell loop in the background that runs until
    // told to stop, however fast the emulator is); the page must keep drawing frames at its idle
    // rate meanwhile.
    const idleFrames = await countFrames(page, 2000);
    // (printf assembles "spin-ended": the echoed command line never contains it)
    expect(await runCommand(page, "{ (while [ ! -e /tmp/stop ]; do :; done; printf '%s-%s\\n' spin ended) & }")).toBe('');
    await page.waitForTimeout(500);
    const statusNow = () => page.evaluate(() => window.__webx86!.status());
    const a = await statusNow();
    const frames = await countFrames(page, 2000);
    const b = await statusNow();
    const busy = { frames, instructions: b!.instructions - a!.instructions, state: b!.state };
    // Still spinning when the counting ended, so the frames were counted under load.
    expect(await serialText(page)).not.toContain('spin-ended');
    expect(busy.state).toBe('running');
    expect(busy.instructions).toBeGreaterThan(1_000_000);
    expect(busy.frames).toBeGreaterThanOrEqual(Math.min(60, idleFrames * 0.7));
    // And the worker still answers: the shell takes the next command, and the loop stops.
    expect(await runCommand(page, 'touch /tmp/stop; wait; echo $((6*7))')).toBe('spin-ended\n42\n');

    // The balloon from the page's control: Linux's virtio_balloon gives 16 MiB back (its
    // MemTotal shrinks by exactly that as the pages go), and the driver's statistics reach the
    // status bar; 0 takes it all back.
    const memTotalKiB = async () => Number(/MemTotal:\s+(\d+) kB/.exec(await runCommand(page, 'grep MemTotal /proc/meminfo'))?.[1]);
    const memTotalBecomes = async (kib: number) => {
      let now = await memTotalKiB();
      for (let i = 0; i < 60 && now !== kib; i++) { await page.waitForTimeout(500); now = await memTotalKiB(); }
      return now;
    };
    const before = await memTotalKiB();
    await page.fill('#balloon-mib', '16');
    await page.click('#btn-balloon');
    expect(await memTotalBecomes(before - 16 * 1024)).toBe(before - 16 * 1024);
    await page.waitForFunction(async () => (await window.__webx86!.status())?.balloon?.actualMiB === 16, null, { timeout: COMMAND_TIMEOUT_MS });
    await page.waitForFunction(() => /16 of 16 MiB given back · guest free \d+ MiB of \d+ MiB/.test(document.getElementById('status-balloon')?.textContent ?? ''),
      null, { timeout: COMMAND_TIMEOUT_MS });
    await page.fill('#balloon-mib', '0');
    await page.click('#btn-balloon');
    expect(await memTotalBecomes(before)).toBe(before);
    await page.close();
  }, BOOT_TIMEOUT_MS + 9 * COMMAND_TIMEOUT_MS);
});

describe('web page: the disk guest through SeaBIOS', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let base: string;
  beforeAll(async () => {
    server = await createServer({ configFile: CONFIG, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, hmr: false } });
    await server.listen();
    base = server.resolvedUrls!.local[0];
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('says in words why a disk image cannot be used: unreachable, no range requests, not whole sectors', async () => {
    const diskError = async (url: string, route?: (body: Buffer, ranged: boolean) => void) => {
      const page = await browser.newPage();
      if (route) {
        // Answers for the worker's requests, as two kinds of server would give them.
        await page.route('**/test-disk-*.img', async (r) => {
          const odd = r.request().url().includes('odd');
          const body = Buffer.alloc(odd ? 1000 : 1 << 20);
          const range = r.request().headers()['range'];
          if (odd && range) {
            await r.fulfill({ status: 206, body: body.subarray(0, 512), headers: { 'Content-Range': `bytes 0-511/${body.length}`, 'Cross-Origin-Resource-Policy': 'same-origin' } });
          } else {
            await r.fulfill({ status: 200, body, headers: { 'Cross-Origin-Resource-Policy': 'same-origin' } });
          }
        });
      }
      await page.goto(`${base}?disk=${encodeURIComponent(url)}`);
      await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
      const error = await page.waitForFunction(() => window.__webx86!.errorText(), null, { timeout: 30_000 });
      const text = String(await error.jsonValue());
      await page.close();
      return text;
    };
    expect(await diskError('http://127.0.0.1:9/disk.img')).toMatch(/^The disk image at http:\/\/127\.0\.0\.1:9\/disk\.img cannot be used: cannot reach the server/);
    expect(await diskError(`${base}test-disk-norange.img`, () => {})).toMatch(/cannot be used: the server does not support range requests/);
    expect(await diskError(`${base}test-disk-odd.img`, () => {})).toMatch(/cannot be used: .*not a whole number of 512-byte sectors/);
  }, 120_000);

  it.skipIf(!haveDiskGuest)('boots the disk read by range requests; the canvas shows the VGA text, keys on the canvas reach Linux, and a framebuffer mode shows its pixels', async () => {
    const disk = JSON.parse(readFileSync(DISK_MANIFEST, 'utf8')) as { banner: string; prompt: string; size: number };
    const page = await openPage(browser, `${base}?manifest=/images/disk.json`);
    const prompt = disk.prompt.trimEnd();
    await waitForTerminal(page, (t) => t.includes(disk.banner) && t.slice(t.lastIndexOf(disk.banner)).split('\n').slice(1).some((l) => l.startsWith(prompt)),
      'the disk guest\'s shell prompt', BOOT_TIMEOUT_MS);
    await runCommand(page, QUIET_CONSOLE);
    // A reader on the VGA console's tty; then keys typed on the canvas, as a user would.
    expect(await runCommand(page, '{ cat /dev/tty1 > /tmp/keys & }')).toBe('');
    await page.click('#screen');
    // Keys by position, as a keyboard sends them: Shift held for the capitals and the '_'.
    await page.keyboard.type('webx86 keys ');
    await page.keyboard.down('Shift');
    for (const k of ['KeyA', 'Minus', 'KeyZ']) await page.keyboard.press(k);
    await page.keyboard.up('Shift');
    await page.keyboard.press('Semicolon');
    await page.keyboard.press('Enter');
    let keys = '';
    for (let i = 0; i < 40 && keys === ''; i++) {
      await page.waitForTimeout(250);
      keys = await runCommand(page, 'cat /tmp/keys');
    }
    expect(keys).toBe('webx86 keys A_Z;\n');
    // The canvas shows what the VGA holds: the same text, cell by cell (taken when both are still).
    let text: { lines: string[]; cursor: { row: number; col: number } | null } | null = null;
    let px: { width: number; height: number; data: number[] } | null = null;
    for (let i = 0; i < 20; i++) {
      const before = await page.evaluate(() => window.__webx86!.screenText());
      await page.waitForTimeout(300);
      px = await page.evaluate(() => window.__webx86!.screenPixels());
      text = await page.evaluate(() => window.__webx86!.screenText());
      if (JSON.stringify(before) === JSON.stringify(text)) break;
    }
    expect(text).not.toBeNull();
    expect(text!.lines.some((l) => l.includes('webx86 keys A_Z;'))).toBe(true); // tty1 echoed the typing on the VGA
    expect(px!.width).toBe(720);
    expect(px!.height).toBe(400);
    expect(cellsDisagreeing(text!, px!)).toEqual([]);
    // A framebuffer mode: bochs-drm sets 1024x768x32 on the VBE display; pixels written to
    // /dev/fb0 (near the end of the last line, away from the console's text) reach the canvas.
    expect(await runCommand(page, 'modprobe bochs; i=0; while [ ! -e /dev/fb0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat /sys/class/graphics/fb0/virtual_size')).toBe('1024,768\n');
    expect(await runCommand(page, "for i in 0 1 2 3 4 5 6 7 8 9 a b c d e f; do printf '\\126\\064\\022\\000'; done | dd of=/dev/fb0 bs=4 seek=$((1024 * 768 - 32)) conv=notrunc 2>/dev/null; sleep 1")).toBe('');
    let fb: { width: number; height: number; data: number[]; vramFrames: number } | null = null;
    for (let i = 0; i < 40; i++) {
      fb = await page.evaluate(() => window.__webx86!.screenPixels());
      const at = (1024 * 768 - 32) * 4;
      if (fb!.width === 1024 && fb!.height === 768 && fb!.data[at] === 0x12) break;
      await page.waitForTimeout(250);
    }
    expect([fb!.width, fb!.height]).toEqual([1024, 768]);
    // Read by the page from the core's shared video memory, not rendered and copied by the worker.
    expect(fb!.vramFrames).toBeGreaterThan(0);
    for (let i = 0; i < 16; i++) {
      const at = (1024 * 768 - 32 + i) * 4;
      expect(fb!.data.slice(at, at + 3)).toEqual([0x12, 0x34, 0x56]);
    }
    // The disk came over HTTP range requests: some of it, not all.
    const status = await page.evaluate(() => window.__webx86!.status());
    expect(status!.disk!.size).toBe(disk.size);
    expect(status!.disk!.fetched).toBeGreaterThan(0);
    expect(status!.disk!.fetched).toBeLessThan(disk.size);
    await page.close();
  }, BOOT_TIMEOUT_MS + 8 * COMMAND_TIMEOUT_MS);
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

  it('serves the page isolated', async () => {
    const res = await fetch(base);
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });

  it.skipIf(!haveGuest)('has the guest images copied into the build and serves them', async () => {
    for (const f of guestFiles()) {
      const name = basename(f);
      expect(readFileSync(join(outDir, 'images', name)).equals(readFileSync(f)), name).toBe(true);
    }
    const m = await fetch(new URL('/images/default.json', base));
    expect(m.status).toBe(200);
    expect(m.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await m.json()).toEqual(JSON.parse(readFileSync(MANIFEST, 'utf8')));
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
      // No error; only, when the guest was not built (a skip outside CI), the page's own words for that.
      const error = await page.evaluate(() => window.__webx86!.errorText());
      if (haveGuest) expect(error).toBe('');
      else expect(error).toMatch(/^The default guest image is not on this server .*npm run build:images/);
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
