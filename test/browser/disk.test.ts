// The disk kept in the browser (src/storage/persist.ts through the worker's disk store), in
// headless Chromium on a real Vite dev server, with the disk guest (disk-images/disk.mjs) booted
// through SeaBIOS from its image read by HTTP ranges:
//  - a file the guest writes and syncs is there after the page is reloaded (a new boot from the
//    same image URL), and "Reset disk" makes it disappear;
//  - a page closed while the guest writes (a loop of dd and sync): reopened, the guest boots
//    (its ext4 journal replayed at mount), remounts its root read-only, and its own e2fsck -fn
//    (Debian's e2fsck-static on the disk) finds the file system clean; the blocks the browser
//    then holds, laid over the image, are also clean to the host's e2fsck -fn (the same check
//    of exactly what IndexedDB kept, with no guest page cache between); every block IndexedDB
//    holds is a whole 4 KiB block;
//  - ?persist=0 keeps nothing;
//  - a quota too small for what the guest writes: the page says so in words, and the guest's
//    flush fails (a write error, not silent loss).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type ViteDevServer } from 'vite';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CORE, DISK_MANIFEST, diskGuestFiles, haveBuildOutputs, IMAGES } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, guestShell, launchChromium } from './guest-page';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMAND_TIMEOUT_MS = 120_000;
const ready = haveBuildOutputs('the browser persistent disk test (test/browser/disk.test.ts)', [CORE, ...diskGuestFiles()]);
interface DiskManifest { disk: string; prompt: string; banner: string; partition: { firstLba: number; sectors: number } }
const manifest = ready ? JSON.parse(readFileSync(DISK_MANIFEST, 'utf8')) as DiskManifest : { disk: '', prompt: '~ # ', banner: '', partition: { firstLba: 0, sectors: 0 } };
const { waitForTerminal, booted, runCommand, typeCommand } = guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS });

async function openPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  page.on('console', (m) => { if (m.text().startsWith('[disk]')) console.error(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
  return page;
}

const storeStatus = (page: Page) => page.evaluate(() => window.__webx86!.status().then((s) => s?.diskStore ?? null));

/** Every block the page's disk databases hold, read with the browser's own IndexedDB: [block number, base64 of its bytes]. */
function storedBlocks(page: Page): Promise<{ databases: number; blocks: [number, string][]; wrongSize: number }> {
  return page.evaluate(async () => {
    const names = (await indexedDB.databases()).map((d) => d.name!).filter((n) => n.startsWith('webx86-disk '));
    const blocks: [number, string][] = [];
    let wrongSize = 0;
    for (const name of names) {
      const db = await new Promise<IDBDatabase>((ok, fail) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
      const store = db.transaction('blocks', 'readonly').objectStore('blocks');
      const keys = await new Promise<IDBValidKey[]>((ok) => { const r = store.getAllKeys(); r.onsuccess = () => ok(r.result); });
      const values = await new Promise<Uint8Array[]>((ok) => { const r = store.getAll(); r.onsuccess = () => ok(r.result as Uint8Array[]); });
      keys.forEach((k, i) => {
        const v = values[i]!;
        if (v.length !== 4096) wrongSize++;
        let bin = '';
        for (let j = 0; j < v.length; j++) bin += String.fromCharCode(v[j]!);
        blocks.push([k as number, btoa(bin)]);
      });
      db.close();
    }
    return { databases: names.length, blocks, wrongSize };
  });
}

describe.skipIf(!ready)('a disk kept in the browser', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    server = await createServer({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', server: { host: '127.0.0.1', port: 0, hmr: false } });
    await server.listen();
    url = `${server.resolvedUrls!.local[0]!}?manifest=/images/disk.json`;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('keeps a synced file across a reload; Reset disk forgets it', async () => {
    const context = await browser.newContext();
    try {
      const page = await openPage(context, url);
      await waitForTerminal(page, booted, 'the disk guest\'s prompt', BOOT_TIMEOUT_MS);
      await runCommand(page, QUIET_CONSOLE);
      expect(await runCommand(page, 'cat /root/kept 2>&1 || true')).toMatch(/No such file/);
      expect(await runCommand(page, 'echo kept-$((6*7)) > /root/kept; sync; cat /root/kept')).toBe('kept-42\n');
      const status = await storeStatus(page);
      expect(status?.failure).toBeNull();
      expect(status!.blocks).toBeGreaterThan(0);
      expect(await page.textContent('#status-disk-store')).toMatch(/^disk changes kept in this browser: \d+ blocks/);

      // A reload boots the image again, with the kept blocks over it.
      await page.reload();
      await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
      await waitForTerminal(page, booted, 'the prompt after the reload', BOOT_TIMEOUT_MS);
      await runCommand(page, QUIET_CONSOLE);
      expect(await runCommand(page, 'cat /root/kept')).toBe('kept-42\n');

      // Reset disk: the machine goes off, the changes are forgotten; Start boots the image as built.
      await page.click('#btn-reset-disk');
      await page.waitForFunction(() => /The disk was reset to its image: \d+ blocks of changes forgotten/.test(window.__webx86!.serialText()), null, { timeout: COMMAND_TIMEOUT_MS });
      expect((await storedBlocks(page)).blocks).toHaveLength(0);
      await page.click('#btn-start');
      // A boot clears the terminal (the note goes), then the guest's banner and prompt come.
      await waitForTerminal(page, (t) => !t.includes('The disk was reset') && booted(t), 'the prompt after the reset', BOOT_TIMEOUT_MS);
      await runCommand(page, QUIET_CONSOLE);
      expect(await runCommand(page, 'cat /root/kept 2>&1 || true')).toMatch(/No such file/);
    } finally {
      await context.close();
    }
  }, 3 * BOOT_TIMEOUT_MS);

  it('?persist=0 keeps nothing: the file is gone after a reload, and IndexedDB holds no disk', async () => {
    const context = await browser.newContext();
    try {
      const page = await openPage(context, `${url}&persist=0`);
      await waitForTerminal(page, booted, 'the disk guest\'s prompt', BOOT_TIMEOUT_MS);
      await runCommand(page, QUIET_CONSOLE);
      expect(await runCommand(page, 'echo not-kept > /root/gone; sync; cat /root/gone')).toBe('not-kept\n');
      expect(await storeStatus(page)).toBeNull();
      expect(await page.textContent('#status-disk-store')).toBe('');
      await page.reload();
      await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
      await waitForTerminal(page, booted, 'the prompt after the reload', BOOT_TIMEOUT_MS);
      await runCommand(page, QUIET_CONSOLE);
      expect(await runCommand(page, 'cat /root/gone 2>&1 || true')).toMatch(/No such file/);
      expect((await storedBlocks(page)).databases).toBe(0);
    } finally {
      await context.close();
    }
  }, 3 * BOOT_TIMEOUT_MS);

  it('a full quota: the page says so in words and the guest sees write errors', async () => {
    const context = await browser.newContext();
    try {
      // Chromium applies a quota to the storage opened after it is set: before the page opens its store.
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(url).origin, quotaSize: 2 * 1024 * 1024 });
      await page.goto(url);
      await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
      const quiet = guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS, failOnPageError: false });
      await quiet.waitForTerminal(page, quiet.booted, 'the disk guest\'s prompt', BOOT_TIMEOUT_MS);
      await quiet.runCommand(page, QUIET_CONSOLE);
      // 8 MiB written and flushed (fsync: a FLUSH CACHE), more than the quota takes.
      const out = await quiet.runCommand(page, 'dd if=/dev/urandom of=/root/big bs=1M count=8 conv=fsync 2>&1 | tail -1; echo rc=$?; sync; echo more > /root/more; sync');
      expect(out).toMatch(/error/i);
      const error = await page.waitForFunction(() => window.__webx86!.errorText(), null, { timeout: COMMAND_TIMEOUT_MS });
      expect(String(await error.jsonValue())).toMatch(/^The disk's changes can no longer be kept in this browser: the browser's storage for this site is full \(QuotaExceededError[^\n]*\)\. The guest now sees write errors\.$/);
      expect(await page.textContent('#status-disk-store')).toBe('disk changes: NOT kept');
      expect((await storeStatus(page))!.failure).toMatch(/QuotaExceededError/);
    } finally {
      await context.close();
    }
  }, 2 * BOOT_TIMEOUT_MS);

  it('a page closed in the middle of writes leaves a file system that fsck finds clean', async () => {
    const context = await browser.newContext();
    try {
      let page = await openPage(context, url);
      await waitForTerminal(page, booted, 'the disk guest\'s prompt', BOOT_TIMEOUT_MS);
      await runCommand(page, QUIET_CONSOLE);
      // Writes without end: files of random bytes, each synced, overwritten round after round.
      await typeCommand(page, 'i=0; while true; do i=$((i+1)); dd if=/dev/urandom of=/root/f$((i % 6)) bs=4k count=64 2>/dev/null; sync; echo w$i; done');
      await waitForTerminal(page, (t) => /\bw5\n/.test(t), 'five rounds of writes', COMMAND_TIMEOUT_MS);
      // Close while it writes (no power-off, no flush from the page).
      await page.close();

      page = await openPage(context, url);
      await waitForTerminal(page, booted, 'the prompt after reopening', BOOT_TIMEOUT_MS);
      await runCommand(page, QUIET_CONSOLE);
      expect(await runCommand(page, 'ls /root | grep -c "^f[0-5]$"')).toMatch(/^[1-6]\n$/);
      // Everything on the disk, the root read-only: the kept blocks are the whole file system.
      expect(await runCommand(page, 'sync; mount -o remount,ro / && echo ro')).toBe('ro\n');
      // The guest's own fsck of its root (read-only, forced: mounted read-only it is allowed,
      // e2fsck only warns that it is mounted). Exit status 0: nothing to fix.
      const guestFsck = await runCommand(page, 'e2fsck -fn /dev/sda1 2>&1; echo fsck-exit-$?');
      expect(guestFsck, guestFsck).toMatch(/\nfsck-exit-0\n$/);
      expect(guestFsck).toMatch(/webx86-root: \d+\/\d+ files/);
      expect(guestFsck).not.toMatch(/\bFIX\b|UNEXPECTED INCONSISTENCY|skipping journal recovery/i);
      await page.waitForFunction(() => window.__webx86!.status().then((s) => s?.diskStore?.failure === null), null, { timeout: 10_000 });
      await page.waitForTimeout(500); // the remount's last writes: committed well within this
      const kept = await storedBlocks(page);
      expect(kept.databases).toBe(1);
      expect(kept.wrongSize).toBe(0);
      expect(kept.blocks.length).toBeGreaterThan(64);

      // The image with the kept blocks over it; its ext4 partition checked by the host's e2fsck too.
      const image = readFileSync(join(IMAGES, manifest.disk));
      for (const [n, b64] of kept.blocks) Buffer.from(b64, 'base64').copy(image, n * 4096);
      const start = manifest.partition.firstLba * 512;
      const dir = mkdtempSync(join(tmpdir(), 'webx86-disk-fsck-'));
      const part = join(dir, 'root.ext4');
      writeFileSync(part, image.subarray(start, start + manifest.partition.sectors * 512));
      let out = '';
      let status = 0;
      try {
        out = execFileSync('e2fsck', ['-fn', part], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        const err = e as { status: number; stdout: string; stderr: string };
        status = err.status;
        out = `${err.stdout}${err.stderr}`;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect(status, out).toBe(0);
      expect(out).toMatch(/webx86-root: \d+\/\d+ files/);
    } finally {
      await context.close();
    }
  }, 3 * BOOT_TIMEOUT_MS);
});
