// A VM paused in one tab and migrated to another stays paused there (headless Chromium through
// playwright-core, on a real Vite dev server): the guest prints a tick a second; the source tab
// pauses it (Pause), then sends it with Migrate…. The waiting tab says the VM arrived paused, its
// bar shows Resume and its status "paused", and no tick comes while it waits; the user's Resume
// runs it, and the ticks go on from the number they stopped at to the loop's end, then the shell
// answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type ViteDevServer } from 'vite';
import type { Browser, Page } from 'playwright-core';
import { CORE, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, guestShell, launchChromium, serialText } from './guest-page';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMAND_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 120_000;
/** Ticks the guest's loop prints, one a second: it is paused after the second. */
const TICKS = 15;

const haveGuest = haveBuildOutputs('the browser paused-migration test (test/browser/migrate-paused.test.ts)', [CORE, ...guestFiles()]);
const manifest = haveGuest ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; banner: string } : { prompt: '~ # ', banner: '' };
const { waitForTerminal, booted, runCommand } =
  guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS, failOnPageError: false });

async function textMatching(page: Page, selector: string, pattern: RegExp, timeoutMs = STEP_TIMEOUT_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await page.textContent(selector) ?? '';
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${selector} to match ${pattern}; it says "${text}"`);
    await page.waitForTimeout(200);
  }
}

/** The highest tick number in the terminal's text (0 before the first). */
function lastTick(text: string): number {
  return Math.max(0, ...[...text.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1])));
}

describe('live migration of a paused VM between tabs', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    server = await createServer({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', server: { host: '127.0.0.1', port: 0, hmr: false } });
    await server.listen();
    base = server.resolvedUrls!.local[0]!;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it.skipIf(!haveGuest)('a VM paused in tab A arrives paused in tab B, prints nothing there until Resume, then runs on', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const open = async (url: string) => {
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
      page.on('console', (m) => { if (m.text().startsWith('[migrate]')) console.info(m.text()); });
      await page.goto(url);
      await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
      return page;
    };
    try {
      const target = await open(`${base}?incoming=paused1`);
      await textMatching(target, '#migrate-note', /Waiting for a VM sent to "paused1"/, 30_000);
      const source = await open(base);
      await waitForTerminal(source, booted, 'the guest to boot', BOOT_TIMEOUT_MS);
      await runCommand(source, QUIET_CONSOLE);

      // A tick a second of guest time, TICKS of them, in the foreground.
      await source.evaluate((n) => window.__webx86!.type(`i=0; while [ $i -lt ${n} ]; do i=$((i+1)); echo tick-$i; sleep 1; done\r`), TICKS);
      await waitForTerminal(source, (t) => lastTick(t) >= 2, 'two ticks in the source tab', STEP_TIMEOUT_MS);

      // Pause in the source tab: the ticks stop there.
      await source.click('#btn-pause');
      await textMatching(source, '#btn-pause', /^Resume$/, 10_000);
      await textMatching(source, '#status-state', /^paused$/, 10_000);
      const pausedAt = lastTick(await serialText(source));
      expect(pausedAt).toBeLessThan(TICKS - 2);
      await source.waitForTimeout(2500);
      expect(lastTick(await serialText(source))).toBe(pausedAt);

      await source.click('#btn-migrate');
      await source.fill('#migrate-name', 'paused1');
      await source.click('#btn-migrate-send');
      expect(await textMatching(source, '#migrate-note', /moved|failed|confirmed/)).toMatch(/^The VM moved to the tab waiting as "paused1": /);

      // The target tab: arrived paused, and says so in words, on its button and in its status.
      expect(await textMatching(target, '#migrate-note', /^The VM arrived/, 60_000)).toMatch(/^The VM arrived paused, as it was in the other tab: .*\. Resume runs it\.$/);
      await waitForTerminal(target, (t) => t.includes('paused as it was there; Resume runs it.'), 'the target\'s note', 10_000);
      expect(await target.textContent('#btn-pause')).toBe('Resume');
      expect(await target.isDisabled('#btn-pause')).toBe(false);
      await textMatching(target, '#status-state', /^paused$/, 10_000);
      // Paused: for several seconds of wall time (ticks would come once a second) nothing is printed.
      const waiting = await serialText(target);
      await target.waitForTimeout(4000);
      expect(await serialText(target)).toBe(waiting);
      expect(lastTick(waiting)).toBe(0);
      expect(await target.textContent('#status-state')).toBe('paused');

      // The user's Resume: the loop goes on from where it stopped in the source tab.
      await target.click('#btn-pause');
      await textMatching(target, '#btn-pause', /^Pause$/, 10_000);
      await textMatching(target, '#status-state', /^running$/, 10_000);
      const ticking = await waitForTerminal(target, (t) => lastTick(t) >= TICKS, 'the last tick in the target tab', STEP_TIMEOUT_MS);
      const numbers = [...ticking.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1]));
      expect(numbers).toEqual(Array.from({ length: TICKS - pausedAt }, (_, i) => pausedAt + 1 + i));

      // The loop is over: the shell answers in the target tab, and the source tab stays silent.
      expect(await runCommand(target, 'echo target-$((3*3))')).toBe('target-9\n');
      const sourceNow = await serialText(source);
      await source.waitForTimeout(1000);
      expect(await serialText(source)).toBe(sourceNow);
    } finally {
      await context.close();
    }
  }, BOOT_TIMEOUT_MS + 4 * STEP_TIMEOUT_MS);
});
