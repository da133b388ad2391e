// A live migration between tabs carries the user network's state (src/worker/worker-migrate.ts),
// in headless Chromium on a real Vite dev server whose /wisp/ relay carries ?net=user in both
// tabs: the guest's wget is in the middle of a download from a server of this test (headers and
// a little of the body sent, then nothing), and the VM is sent to the waiting tab. There the
// new user network resets that connection at once (the tab says so), so the wget that only
// reads fails with the reset instead of waiting for ever; the source tab's relay connection,
// and with it the host socket, is closed; and a new download works from the waiting tab.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { CORE, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, guestShell } from './guest-page';
import { openTab, textMatching } from './tabs';
import { startSlowDownloadRig, until, type SlowDownloadRig } from './slow-download';

const COMMAND_TIMEOUT_MS = 120_000;
const STEP_TIMEOUT_MS = 120_000;

const haveGuest = haveBuildOutputs('the browser migration network test (test/browser/migrate-net.test.ts)', [CORE, ...guestFiles()]);
const manifest = haveGuest ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; banner: string } : { prompt: '~ # ', banner: '' };
const { waitForTerminal, booted, runCommand } =
  guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS, failOnPageError: false });

describe('a live migration between tabs of a guest with an open TCP connection', () => {
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

  it.skipIf(!haveGuest)('the migrated guest\'s download is reset at once in the waiting tab, the old host socket closes, and a new download works', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const open = (url: string) => openTab(context, url);
    try {
      const target = await open(`${base}?incoming=net1&net=user`);
      await textMatching(target, '#migrate-note', /Waiting for a VM sent to "net1"/, 30_000);
      const source = await open(`${base}?net=user`);
      const boot = await waitForTerminal(source, booted, 'the shell prompt', BOOT_TIMEOUT_MS);
      expect(boot).toContain('eth0: inet addr:10.0.2.15');
      await runCommand(source, QUIET_CONSOLE);

      // The download, in the background: it writes its exit status when it ends.
      expect(await runCommand(source, `( (wget -O /tmp/w http://10.0.2.2:${filePort}/slow 2>/tmp/w.err; echo "wget-exit-$?" > /tmp/w.done) >/dev/null 2>&1 & )`)).toBe('');
      await until(() => slow.length === 1, 'the guest\'s request at the host');
      await source.waitForTimeout(1000);
      expect(await runCommand(source, 'wc -c < /tmp/w; cat /tmp/w.done 2>/dev/null || echo waiting')).toBe('1000\nwaiting\n');

      await source.click('#btn-migrate');
      await source.fill('#migrate-name', 'net1');
      await source.click('#btn-migrate-send');
      expect(await textMatching(source, '#migrate-note', /moved|failed|confirmed/)).toMatch(/^The VM moved to the tab waiting as "net1": /);
      expect(await textMatching(target, '#migrate-note', /^The VM arrived/, 60_000)).toMatch(/^The VM arrived and runs here: /);
      // The waiting tab says what its network did about the guest's connection.
      await waitForTerminal(target, (t) => /\[webx86\] Network: user network: reset 1 TCP connection the guest had open when it was saved \(10\.0\.2\.15:\d+ - 10\.0\.2\.2:\d+\)/.test(t),
        'the waiting tab\'s note about the reset connection', 30_000);
      // The wget learns at once that its connection is gone (it would wait for ever).
      const done = await runCommand(target, 'for i in $(seq 30); do [ -e /tmp/w.done ] && break; sleep 1; done; cat /tmp/w.done; cat /tmp/w.err');
      expect(done).toMatch(/^wget-exit-1\n/);
      expect(done).toMatch(/reset by peer/i);
      // The source tab's network went with its machine: the old connection's host socket is closed.
      await until(() => slow[0]!.closed, 'the old connection\'s host socket to close');
      // The waiting tab's network works: a new download.
      expect(await runCommand(target, `wget -q -O - http://10.0.2.2:${filePort}/small`)).toBe('small-ok\n');
    } finally {
      await context.close();
    }
  }, BOOT_TIMEOUT_MS + 4 * STEP_TIMEOUT_MS);
});
