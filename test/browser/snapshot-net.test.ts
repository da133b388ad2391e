// A snapshot in the page keeps the user network's state ('NET ', src/worker/worker-snapshot.ts),
// in headless Chromium on a real Vite dev server whose /wisp/ relay carries ?net=user: the guest's
// wget is in the middle of a download from a server of this test (the server sent the headers
// and a little of the body, then waits), the page saves the machine and restores it. The
// restored guest's wget only reads, so it would wait forever on a connection nobody serves any
// more; instead the page's new user network resets it at once (the page says so), wget fails
// with the reset, the old connection's host socket is closed, and a new download works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { CORE, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, errorText, guestShell } from './guest-page';
import { startSlowDownloadRig, until, type SlowDownloadRig } from './slow-download';

const COMMAND_TIMEOUT_MS = 120_000;
const SNAPSHOT_TIMEOUT_MS = 120_000;

const haveGuest = haveBuildOutputs('the browser snapshot network test (test/browser/snapshot-net.test.ts)', [CORE, ...guestFiles()]);
const manifest = haveGuest ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; banner: string } : { prompt: '~ # ', banner: '' };
const { waitForTerminal, booted, runCommand } =
  guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS, failOnPageError: false });

async function noteMatching(page: Page, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + SNAPSHOT_TIMEOUT_MS;
  for (;;) {
    const note = await page.textContent('#snapshot-note') ?? '';
    if (pattern.test(note)) return note;
    const error = await errorText(page);
    if (error) throw new Error(`the page showed an error instead of ${pattern}: ${error}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; the note says "${note}"`);
    await page.waitForTimeout(100);
  }
}

describe('a snapshot of a guest with an open TCP connection, in the page', () => {
  let rig: SlowDownloadRig;
  let base: string;
  let browser: Browser;
  let filePort: number;
  let slow: SlowDownloadRig['slow'];

  beforeAll(async () => {
    rig = await startSlowDownloadRig();
    ({ base, browser, filePort, slow } = rig);
  }, 60_000);

  afterAll(async () => { await rig?.close(); });

  it.skipIf(!haveGuest)('the restored guest\'s download is reset at once, the old host socket closes, and a new download works', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const log: string[] = [];
    try {
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
      page.on('console', (m) => { if (m.text().startsWith('[snapshot]')) log.push(m.text()); });
      await page.goto(`${base}?net=user`);
      await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
      const boot = await waitForTerminal(page, booted, 'the shell prompt', BOOT_TIMEOUT_MS);
      expect(boot).toContain('eth0: inet addr:10.0.2.15');
      await runCommand(page, QUIET_CONSOLE);

      // The download, in the background: it writes its exit status when it ends.
      expect(await runCommand(page, `( (wget -O /tmp/w http://10.0.2.2:${filePort}/slow 2>/tmp/w.err; echo "wget-exit-$?" > /tmp/w.done) >/dev/null 2>&1 & )`)).toBe('');
      await until(() => slow.length === 1, 'the guest\'s request at the host');
      // The guest has the first bytes, and wget waits for more.
      await page.waitForTimeout(1000);
      expect(await runCommand(page, 'wc -c < /tmp/w; cat /tmp/w.done 2>/dev/null || echo waiting')).toBe('1000\nwaiting\n');

      await page.click('#btn-save');
      await noteMatching(page, /^Saved /);
      expect(await runCommand(page, 'cat /tmp/w.done 2>/dev/null || echo waiting')).toBe('waiting\n');
      expect(slow[0]!.closed).toBe(false);

      await page.click('#btn-restore');
      await noteMatching(page, /^Restored /);
      // The page says what its network did about the saved connection.
      await waitForTerminal(page, (t) => /\[webx86\] Network: user network: reset 1 TCP connection the guest had open when it was saved \(10\.0\.2\.15:\d+ - 10\.0\.2\.2:\d+\)/.test(t),
        'the page\'s note about the reset connection', 30_000);
      expect(log.some((l) => l.startsWith('[snapshot] user network: reset 1 TCP connection'))).toBe(true);
      // The restored wget learns at once that its connection is gone (it would wait for ever).
      const done = await runCommand(page, 'for i in $(seq 30); do [ -e /tmp/w.done ] && break; sleep 1; done; cat /tmp/w.done; cat /tmp/w.err');
      expect(done).toMatch(/^wget-exit-1\n/);
      expect(done).toMatch(/reset by peer/i);
      // The host socket of the old connection is closed (the old network's relay went with the old machine).
      await until(() => slow[0]!.closed, 'the old connection\'s host socket to close');
      // The network works on: a new download.
      expect(await runCommand(page, `wget -q -O - http://10.0.2.2:${filePort}/small`)).toBe('small-ok\n');
    } finally {
      await context.close();
    }
  }, BOOT_TIMEOUT_MS + 4 * COMMAND_TIMEOUT_MS);
});
