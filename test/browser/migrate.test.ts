// Live migration between two tabs of the page (headless Chromium through playwright-core, on a
// real Vite dev server): one tab waits at ?incoming=NAME, the other boots the default guest,
// starts a checksum loop (each pass writes a fresh file to tmpfs and prints its MD5; at the end,
// the MD5 of all those lines) and is sent with Migrate… in the middle of it. The loop must finish
// in the waiting tab with the MD5s computed here in Node; the sending tab lists the rounds and
// the downtime and says its VM moved; the waiting tab lists the rounds it received. A name no tab
// waits under is refused in one line and the VM runs on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { CORE, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, guestShell, serialText } from './guest-page';
import { openTab, startDevRig, textMatching, type DevRig } from './tabs';

const COMMAND_TIMEOUT_MS = 60_000;
const LOOP_TIMEOUT_MS = 240_000;
const PASSES = 30;
const LINES = 5_000;

const haveGuest = haveBuildOutputs('the browser migration test (test/browser/migrate.test.ts)', [CORE, ...guestFiles()]);
const manifest = haveGuest ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; banner: string } : { prompt: '~ # ', banner: '' };
const { waitForTerminal, booted, runCommand } =
  guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS, failOnPageError: false });

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
function seqText(i: number): string {
  let s = '';
  for (let n = i; n <= i + LINES; n++) s += `${n}\n`;
  return s;
}

describe('live migration between tabs', () => {
  let rig: DevRig;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    rig = await startDevRig();
    ({ base, browser } = rig);
  }, 60_000);

  afterAll(async () => { await rig?.close(); });

  it.skipIf(!haveGuest)('a VM in the middle of a checksum loop moves to the waiting tab and finishes it there with the right sums', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const log: string[] = [];
    const open = (url: string) => openTab(context, url, (line) => log.push(line));
    try {
      const target = await open(`${base}?incoming=tabs1`);
      await textMatching(target, '#migrate-note', /Waiting for a VM sent to "tabs1"/, 30_000);
      const source = await open(base);
      await waitForTerminal(source, booted, 'the guest to boot', BOOT_TIMEOUT_MS);
      await runCommand(source, QUIET_CONSOLE);

      // A name no tab waits under: one line, and the VM runs on.
      await source.click('#btn-migrate');
      await source.fill('#migrate-name', 'nobody-here');
      await source.click('#btn-migrate-send');
      expect(await textMatching(source, '#migrate-note', /no tab/, 30_000)).toBe(
        'Migration failed: no tab is waiting for a migration named nobody-here (open one with ?incoming=nobody-here). The VM runs on here.');
      expect(await runCommand(source, 'echo alive-$((4+5))')).toBe('alive-9\n');

      const loop = `rm -f /tmp/all; i=0; while [ $i -lt ${PASSES} ]; do seq $i $((i+${LINES})) > /tmp/f; dd if=/dev/zero of=/tmp/z bs=64k count=32 2>/dev/null; `
        + 's=$(md5sum /tmp/f | cut -c1-32); echo "sum $i $s" >> /tmp/all; echo "sum $i $s"; i=$((i+1)); done; echo "final $(md5sum /tmp/all | cut -c1-32)"';
      const from = (await serialText(source)).length;
      await source.evaluate((c) => window.__webx86!.type(c + '\r'), loop);
      await waitForTerminal(source, (t) => /sum 2 [0-9a-f]{32}/.test(t.slice(from)), 'the loop\'s third pass', LOOP_TIMEOUT_MS);

      await source.fill('#migrate-name', 'tabs1');
      await source.click('#btn-migrate-send');
      const note = await textMatching(source, '#migrate-note', /moved|failed/, LOOP_TIMEOUT_MS);
      expect(note).toMatch(/^The VM moved to the tab waiting as "tabs1": downtime \d+ ms, \d+ rounds in [\d.]+ s\.$/);
      const rounds = await source.$$eval('#migrate-rounds li', (lis) => lis.map((li) => li.textContent ?? ''));
      expect(rounds.length).toBeGreaterThan(0);
      for (const r of rounds) expect(r).toMatch(/^round \d+: \d+ pages sent \(\d+ zero\), \d+ dirtied meanwhile, [\d.]+ MiB in \d+ ms$/);
      // Round 0 sends every page of the guest's RAM (as data or as a zero marker).
      expect(Number(/^round 0: (\d+) pages/.exec(rounds[0]!)![1])).toBeGreaterThanOrEqual(64 * 256);
      await waitForTerminal(source, (t) => t.includes('This VM moved to the tab waiting as "tabs1"'), 'the source\'s note', 30_000);
      const sourceText = (await serialText(source)).slice(from);

      // The waiting tab runs the loop to its end.
      await textMatching(target, '#migrate-note', /^The VM arrived and runs here: /, 60_000);
      const targetRounds = await target.$$eval('#migrate-rounds li', (lis) => lis.length);
      expect(targetRounds).toBe(rounds.length);
      const text = await waitForTerminal(target, (t) => /final [0-9a-f]{32}/.test(t), 'the loop\'s end in the target tab', LOOP_TIMEOUT_MS);
      let all = '';
      for (let i = 0; i < PASSES; i++) all += `sum ${i} ${md5(seqText(i))}\n`;
      expect(/final ([0-9a-f]{32})/.exec(text)![1]).toBe(md5(all));
      const sums = (t: string) => [...t.matchAll(/sum (\d+) ([0-9a-f]{32})\r?\n/g)].map((x) => `sum ${x[1]} ${x[2]}\n`);
      const before = sums(sourceText);
      const after = sums(text);
      expect(before.length).toBeGreaterThan(2);
      expect(after.length).toBeGreaterThan(0);
      for (const line of [...before, ...after]) expect(all).toContain(line);
      // The source's VM stays stopped: nothing more appears there.
      const sourceNow = await serialText(source);
      await source.waitForTimeout(1000);
      expect(await serialText(source)).toBe(sourceNow);
      // And the target's guest answers.
      expect(await runCommand(target, 'echo target-$((3*3))')).toBe('target-9\n');
      console.info(log.join('\n'));
    } finally {
      await context.close();
    }
  }, BOOT_TIMEOUT_MS + 2 * LOOP_TIMEOUT_MS);
});
