// Snapshots in the web page (headless Chromium through playwright-core, on a real Vite dev
// server): the default guest is saved with Save, changed, and brought back with Restore from the
// browser's storage; the snapshot is downloaded as a file, the page reloaded without booting, and
// the file uploaded into it (the images fetched again from the manifest's URLs), and served at
// ?snapshot=URL; a damaged or truncated file is refused in one line while the VM runs on. The
// disk guest is saved and restored too: a file it changed on its disk after the save reads, from
// the disk, as it was before, also in a fresh profile's page that restores the downloaded file.
//
// What proves a restore: a file the guest wrote before the save, and removed after it, is there
// again. Commands are read between markers (test/shell-markers.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type ViteDevServer } from 'vite';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CORE, DISK_MANIFEST, diskGuestFiles, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, errorText, guestShell, launchChromium } from './guest-page';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMAND_TIMEOUT_MS = 60_000;
/** Saving compresses the guest's RAM, restoring may download the images first. */
const SNAPSHOT_TIMEOUT_MS = 120_000;

const haveGuest = haveBuildOutputs('the browser snapshot test (test/browser/snapshot.test.ts)', [CORE, ...guestFiles()]);
const haveDiskGuest = haveBuildOutputs('the browser snapshot test with the disk guest', [CORE, ...diskGuestFiles()]);
const manifest = haveGuest ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; banner: string } : { prompt: '~ # ', banner: '' };
// The error box shows errors the VM runs on after (a damaged file): they do not end a wait.
const { waitForTerminal, booted, runCommand } =
  guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS, failOnPageError: false });
const MARK = 'webx86-snap-42\n';

/** The snapshot panel's note once it matches `pattern` (the page's error box failing it sooner). */
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

async function errorShown(page: Page): Promise<string> {
  const handle = await page.waitForFunction(() => window.__webx86!.errorText(), null, { timeout: SNAPSHOT_TIMEOUT_MS });
  return String(await handle.jsonValue());
}

async function openPage(context: BrowserContext, url: string, log: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  page.on('console', (m) => { if (m.text().startsWith('[snapshot]')) log.push(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
  return page;
}

describe('snapshots in the web page', () => {
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

  it.skipIf(!haveGuest)('saves the running guest, restores it from the browser and from a downloaded file, and refuses a damaged file', async () => {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 700 } });
    const workerLog: string[] = [];
    const figures: string[] = [];
    try {
      let page = await openPage(context, base, workerLog);
      await waitForTerminal(page, booted, 'the shell prompt', BOOT_TIMEOUT_MS);
      await runCommand(page, QUIET_CONSOLE);
      expect(await runCommand(page, 'echo webx86-snap-$((6*7)) > /tmp/mark')).toBe('');

      // Save: kept in the browser, listed under its date, selected.
      await page.click('#btn-save');
      figures.push(await noteMatching(page, /^Saved \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \([\d.]+ MiB\) in [\d.]+ s: Download/));
      expect(await page.$$eval('#snapshot-list option', (os) => os.length)).toBe(1);

      // The guest goes on and loses the file; Restore brings the machine back from before.
      expect(await runCommand(page, 'rm /tmp/mark; cat /tmp/mark 2>/dev/null || echo gone')).toBe('gone\n');
      await page.click('#btn-restore');
      figures.push(await noteMatching(page, /^Restored .* in [\d.]+ s\.$/));
      expect(await runCommand(page, 'cat /tmp/mark')).toBe(MARK);

      // Download it as a file.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
      expect(download.suggestedFilename()).toMatch(/^webx86-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.wx86snap$/);
      const file = readFileSync((await download.path())!);
      expect(file.subarray(0, 8).toString('latin1')).toBe('WX86SNAP');

      // A damaged file, a truncated one and one of another format version: one line each in the error box, and the VM runs on as it was.
      const damaged = Buffer.from(file);
      damaged[damaged.length >> 1] ^= 0x40;
      await page.setInputFiles('#snapshot-file', { name: 'damaged.wx86snap', mimeType: 'application/octet-stream', buffer: damaged });
      const corrupt = await errorShown(page);
      expect(corrupt).toMatch(/corrupt/);
      expect(corrupt).not.toContain('\n');
      await page.setInputFiles('#snapshot-file', { name: 'short.wx86snap', mimeType: 'application/octet-stream', buffer: file.subarray(0, file.length - 1000) });
      await page.waitForFunction(() => /truncated/.test(window.__webx86!.errorText()), null, { timeout: SNAPSHOT_TIMEOUT_MS });
      expect(await errorText(page)).not.toContain('\n');
      const otherVersion = Buffer.from(file);
      otherVersion.writeUInt16LE(otherVersion.readUInt16LE(8) + 1, 8);
      await page.setInputFiles('#snapshot-file', { name: 'newer.wx86snap', mimeType: 'application/octet-stream', buffer: otherVersion });
      await page.waitForFunction(() => /format version \d+; this webx86 reads version \d+$/.test(window.__webx86!.errorText()), null, { timeout: SNAPSHOT_TIMEOUT_MS });
      expect((await page.evaluate(() => window.__webx86!.status()))!.state).toBe('running');
      expect(await runCommand(page, 'cat /tmp/mark; echo $((6*7))')).toBe(`${MARK}42\n`);

      await page.close();

      // A fresh page that boots nothing: the uploaded file brings the VM back, its images fetched
      // from the manifest's URLs (the worker holds none).
      page = await openPage(context, `${base}?autostart=0`, workerLog);
      await page.setInputFiles('#snapshot-file', { name: 'saved.wx86snap', mimeType: 'application/octet-stream', buffer: file });
      figures.push(await noteMatching(page, /^Restored saved\.wx86snap in [\d.]+ s\.$/));
      expect(await runCommand(page, 'cat /tmp/mark')).toBe(MARK);
      await page.close();

      // ?snapshot=URL: started from the file instead of a boot.
      page = await context.newPage();
      page.on('console', (m) => { if (m.text().startsWith('[snapshot]')) workerLog.push(m.text()); });
      await page.route((url) => url.pathname === '/saved.wx86snap', (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body: file }));
      await page.goto(`${base}?snapshot=/saved.wx86snap`);
      await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
      await waitForTerminal(page, (t) => t.includes('Restored the snapshot /saved.wx86snap'), 'the restore note', SNAPSHOT_TIMEOUT_MS);
      expect(await runCommand(page, 'cat /tmp/mark')).toBe(MARK);
      expect(await page.$eval('#btn-start', (b) => b.textContent)).toBe('Restart');
      await page.close();
    } finally {
      console.log(`snapshot figures:\n  ${[...figures, ...workerLog].join('\n  ')}`);
      await context.close();
    }
  }, BOOT_TIMEOUT_MS + 20 * COMMAND_TIMEOUT_MS);

  it.skipIf(!haveGuest)('says in words that the browser\'s storage is full, and the snapshot can still be downloaded', async () => {
    const context = await browser.newContext({ acceptDownloads: true });
    try {
      // Chromium applies a quota to the storage opened after it is set: before the page opens its store.
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(base).origin, quotaSize: 1024 });
      await page.goto(base);
      await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
      await page.waitForSelector('#btn-save:not([disabled])', { timeout: BOOT_TIMEOUT_MS });
      await page.click('#btn-save');
      const error = await errorShown(page);
      expect(error).toMatch(/^The browser's storage for this page is full.*: the snapshot \([\d.]+ MiB\) was not kept\. .*Download/);
      expect(error).not.toContain('\n');
      expect(await page.$eval('#snapshot-list', (l) => (l as HTMLSelectElement).selectedOptions[0]?.textContent)).toMatch(/\(not kept\)$/);
      const [held] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
      expect(readFileSync((await held.path())!).subarray(0, 8).toString('latin1')).toBe('WX86SNAP');
    } finally {
      await context.close();
    }
  }, BOOT_TIMEOUT_MS);

  it.skipIf(!haveGuest)('plugs the restored network card into the page\'s network, with the MAC it was saved with', async () => {
    const context = await browser.newContext();
    try {
      const page = await openPage(context, `${base}?net=tabs:snapshot-test&mac=52:54:00:aa:bb:cc`, []);
      await waitForTerminal(page, booted, 'the shell prompt', BOOT_TIMEOUT_MS);
      await runCommand(page, QUIET_CONSOLE);
      await page.click('#btn-save');
      await noteMatching(page, /^Saved /);
      // The address asks for another MAC now: the restored card keeps the one it was saved with.
      const page2 = await openPage(context, `${base}?net=tabs:snapshot-test&mac=52:54:00:11:22:33&autostart=0`, []);
      await page2.click('#btn-snapshots');
      await page2.waitForSelector('#btn-restore:not([disabled])');
      await page2.click('#btn-restore');
      await noteMatching(page2, /^Restored /);
      const net = (await page2.evaluate(() => window.__webx86!.status()))!.net;
      expect(net?.backend).toBe('tabs');
      expect(net?.mac).toBe('52:54:00:aa:bb:cc');
      expect(await runCommand(page2, 'cat /sys/class/net/eth0/address')).toBe('52:54:00:aa:bb:cc\n');
    } finally {
      await context.close();
    }
  }, BOOT_TIMEOUT_MS + 4 * COMMAND_TIMEOUT_MS);

  it.skipIf(!haveDiskGuest)('saves and restores a machine with a disk: what the guest wrote after the save is undone on the disk', async () => {
    const context = await browser.newContext({ acceptDownloads: true });
    let file = Buffer.alloc(0);
    const disk = JSON.parse(readFileSync(DISK_MANIFEST, 'utf8')) as { prompt: string; banner: string };
    const shell = guestShell({ prompt: disk.prompt, banner: disk.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    try {
      const page = await openPage(context, `${base}?manifest=/images/disk.json`, []);
      await shell.waitForTerminal(page, shell.booted, 'the disk guest\'s prompt', BOOT_TIMEOUT_MS);
      await shell.runCommand(page, QUIET_CONSOLE);
      expect(await shell.runCommand(page, 'echo before-save > /root/snapmark; sync; cat /root/snapmark')).toBe('before-save\n');
      await page.click('#btn-save');
      await noteMatching(page, /^Saved \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \([\d.]+ MiB\) in [\d.]+ s: Download/);
      expect(await shell.runCommand(page, 'echo after-save > /root/snapmark; sync; echo 3 > /proc/sys/vm/drop_caches; cat /root/snapmark')).toBe('after-save\n');
      await page.click('#btn-restore');
      await noteMatching(page, /^Restored .* in [\d.]+ s\.$/);
      // Read from the disk (the cache dropped): the overlay is the saved one again.
      expect(await shell.runCommand(page, 'echo 3 > /proc/sys/vm/drop_caches; cat /root/snapmark')).toBe('before-save\n');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
      file = readFileSync((await download.path())!);
    } finally {
      await context.close();
    }
    // A fresh browser profile (nothing kept) and a page that boots nothing: the file brings the
    // machine, the disk image comes from the manifest's URL, and its blocks are kept from then on.
    const fresh = await browser.newContext();
    try {
      const page = await openPage(fresh, `${base}?manifest=/images/disk.json&autostart=0`, []);
      await page.setInputFiles('#snapshot-file', { name: 'disk.wx86snap', mimeType: 'application/octet-stream', buffer: file });
      await noteMatching(page, /^Restored .* in [\d.]+ s\.$/);
      expect(await shell.runCommand(page, 'echo 3 > /proc/sys/vm/drop_caches; cat /root/snapmark')).toBe('before-save\n');
      const kept = await page.evaluate(() => window.__webx86!.status().then((s) => s?.diskStore ?? null));
      expect(kept?.failure).toBeNull();
      expect(kept!.blocks).toBeGreaterThan(0);
    } finally {
      await fresh.close();
    }
  }, BOOT_TIMEOUT_MS);
});
