// What browser tests share: a Vite dev server (its /wisp/ relay carries ?net=user) with Chromium
// (the tabs that hand a VM over, migrate*.test.ts, snapshot-net.test.ts), or the production build
// served by vite preview with Chromium (inspector.test.ts, lessons.test.ts); a page opened until
// the app is ready; a wait for an element's text.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, createServer, preview, type ViteDevServer } from 'vite';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './guest-page';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface DevRig {
  /** The dev server's URL. */
  base: string;
  browser: Browser;
  close(): Promise<void>;
}

export async function startDevRig(): Promise<DevRig> {
  const server: ViteDevServer = await createServer({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', server: { host: '127.0.0.1', port: 0, hmr: false } });
  await server.listen();
  const browser = await launchChromium();
  return {
    base: server.resolvedUrls!.local[0]!,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** The site built into a temporary folder (named after `what`) and served by vite preview, with Chromium. */
export async function startBuiltSiteRig(what: string): Promise<DevRig> {
  const configFile = join(ROOT, 'vite.config.ts');
  const outDir = mkdtempSync(join(tmpdir(), `webx86-${what}-dist-`));
  await build({ configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const server = await preview({ configFile, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } });
  const browser = await launchChromium();
  return {
    base: server.resolvedUrls!.local[0]!,
    browser,
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/** A new tab at `url`, once the app says it is ready; the page's errors and its `[migrate]` lines go to `log`. */
export async function openTab(context: BrowserContext, url: string, log: (line: string) => void = (l) => console.info(l)): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  page.on('console', (m) => { if (m.text().startsWith('[migrate]')) log(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
  return page;
}

/** Wait until the text of `selector` matches `pattern`; that text. */
export async function textMatching(page: Page, selector: string, pattern: RegExp, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await page.textContent(selector) ?? '';
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${selector} to match ${pattern}; it says "${text}"`);
    await page.waitForTimeout(200);
  }
}
