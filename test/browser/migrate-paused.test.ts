// A VM paused in one tab and migrated to another stays paused there (headless Chromium through
// playwright-core, on a real Vite dev server): the guest prints a tick a second; the source tab
// pauses it (Pause), then sends it with Migrate…. The waiting tab says the VM arrived paused, its
// bar shows Resume and its status "paused", and no tick comes while it waits; the user's Resume
// runs it, and the ticks go on from the number they stopped at to the loop's end, then the shell
// answers.
// And a source held paused: the waiting tab's worker drops its DONE (the frame is lost on its
// way, which a BroadcastChannel's sender cannot see), so the source tab cannot know whether the
// other runs the guest. The other tab runs it; the source tab keeps its VM paused, not gone, and
// says in words that Resume runs it there only if the other tab does not; its guest prints
// nothing more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { CORE, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, guestShell, serialText } from './guest-page';
import { openTab, startDevRig, textMatching, type DevRig } from './tabs';

const COMMAND_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 120_000;
/** Ticks the guest's loop prints, one a second: it is paused after the second. */
const TICKS = 15;

const haveGuest = haveBuildOutputs('the browser paused-migration test (test/browser/migrate-paused.test.ts)', [CORE, ...guestFiles()]);
const manifest = haveGuest ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; banner: string } : { prompt: '~ # ', banner: '' };
const { waitForTerminal, booted, runCommand } =
  guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS, failOnPageError: false });

/** The highest tick number in the terminal's text (0 before the first). */
function lastTick(text: string): number {
  return Math.max(0, ...[...text.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1])));
}

describe('live migration of a paused VM between tabs', () => {
  let rig: DevRig;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    rig = await startDevRig();
    ({ base, browser } = rig);
  }, 60_000);

  afterAll(async () => { await rig?.close(); });

  it.skipIf(!haveGuest)('a VM paused in tab A arrives paused in tab B, prints nothing there until Resume, then runs on', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const open = (url: string) => openTab(context, url);
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

  it.skipIf(!haveGuest)('a target whose DONE never leaves runs the VM; the source tab holds its VM paused and says why', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const open = (url: string) => openTab(context, url);
    try {
      const target = await open(`${base}?incoming=held1`);
      await textMatching(target, '#migrate-note', /Waiting for a VM sent to "held1"/, 30_000);
      // In the waiting tab's worker, the migration's DONE frame (type 7) is lost: never posted to the source.
      const worker = target.workers()[0]!;
      await worker.evaluate(() => {
        const post = BroadcastChannel.prototype.postMessage;
        BroadcastChannel.prototype.postMessage = function (this: BroadcastChannel, m: unknown) {
          const d = m as { t?: string; dir?: string; bytes?: Uint8Array };
          if (d?.t === 'data' && d.dir === 'to-source' && d.bytes instanceof Uint8Array && d.bytes[0] === 7) return;
          post.call(this, m);
        };
      });
      const source = await open(base);
      await waitForTerminal(source, booted, 'the guest to boot', BOOT_TIMEOUT_MS);
      await runCommand(source, QUIET_CONSOLE);
      const ticks = 60;
      await source.evaluate((n) => window.__webx86!.type(`i=0; while [ $i -lt ${n} ]; do i=$((i+1)); echo tick-$i; sleep 1; done\r`), ticks);
      await waitForTerminal(source, (t) => lastTick(t) >= 2, 'two ticks in the source tab', STEP_TIMEOUT_MS);

      await source.click('#btn-migrate');
      await source.fill('#migrate-name', 'held1');
      await source.click('#btn-migrate-send');
      expect(await textMatching(source, '#migrate-note', /moved|failed|confirmed/)).toMatch(
        /^Migration not confirmed: the state went to the other tab, which did not confirm that it runs the guest \(.+\); it may be running it, so this VM stays stopped\. This VM is paused here; Resume runs it here, but only do that if the other tab does not run it\.$/);
      await textMatching(source, '#btn-pause', /^Resume$/, 10_000);
      await textMatching(source, '#status-state', /^paused$/, 10_000);
      const sourceText = await waitForTerminal(source, (t) => t.includes('[webx86] Migration not confirmed: '), 'the source\'s note', 10_000);
      const stoppedAt = lastTick(sourceText);

      // The other tab runs the guest: the ticks go on there from the next one.
      // (It posted its DONE as far as it can tell: the loss is invisible to it.)
      expect(await textMatching(target, '#migrate-note', /^The VM arrived/, 60_000)).toMatch(/^The VM arrived and runs here: [^.]*\.$/);
      const there = await waitForTerminal(target, (t) => lastTick(t) >= stoppedAt + 3, 'ticks in the target tab', STEP_TIMEOUT_MS);
      expect([...there.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1]))[0]).toBe(stoppedAt + 1);
      // The source tab's guest, held, prints nothing meanwhile.
      expect(lastTick(await serialText(source))).toBe(stoppedAt);
      expect(await source.textContent('#status-state')).toBe('paused');
    } finally {
      await context.close();
    }
  }, BOOT_TIMEOUT_MS + 4 * STEP_TIMEOUT_MS);
});
