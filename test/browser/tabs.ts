// What the browser tests of tabs that hand a VM over share (migrate*.test.ts, snapshot-net.test.ts):
// a Vite dev server (its /wisp/ relay carries ?net=user) with Chromium, a page opened until the
// app is ready, and a wait for an element's text.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type ViteDevServer } from 'vite';
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
