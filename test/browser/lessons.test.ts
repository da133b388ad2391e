// The lessons (lessons/*.html, src/lessons/) in a real browser against the production build,
// with the default guest. Each lesson's page loads, its VMs reach their shell prompt (or restore,
// or arrive by migration), its buttons make the guest do the lesson's work, and its figures
// change in a way checked against that work: the JIT side retires more instructions per second
// than the interpreter over the same count of instructions; printing N bytes to COM1 costs at
// least N exits of the ns16550; the walked physical address is the PTE's frame plus the offset,
// in a mapping of the process's /proc/PID/maps; touching 8 MB costs a page fault per 4 KiB; the
// same reads cost more AHCI exits than virtio-blk ones; a 32 MiB balloon takes 32 MiB off the
// guest's total; the restored guest has the saved one's file; a process runs on after its
// machine migrated; only the guest with virtio-rng has /dev/hwrng. Nothing is thrown into a page.
// Counts are compared, never wall-clock thresholds: the machine is shared and slow under load.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { CORE, guestFiles, haveBuildOutputs } from '../images';
import { BOOT_TIMEOUT_MS } from './guest-page';
import { startBuiltSiteRig, type DevRig } from './tabs';

const WORK_TIMEOUT_MS = 600_000;

const haveGuest = haveBuildOutputs('the lessons\' browser test (test/browser/lessons.test.ts)', [CORE, ...guestFiles()]);

/** A figure's text on the page. */
const figure = (page: Page, id: string): Promise<string> =>
  page.evaluate((id) => (document.getElementById(id)?.textContent ?? '').trim(), id);

/** A figure as a number: its digits (thin spaces between thousands dropped), NaN when it shows none. */
const number = async (page: Page, id: string): Promise<number> => {
  const m = /-?[\d\u2009.]+/.exec(await figure(page, id));
  return m ? Number(m[0].replace(/\u2009/g, '')) : NaN;
};

/** A rate figure ("12.3 M/s", "4.5 k/s", "17/s") in events per second. */
const rate = async (page: Page, id: string): Promise<number> => {
  const m = /([\d.]+)\s*([kM]?)\/s/.exec(await figure(page, id));
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'M' ? 1e6 : m[2] === 'k' ? 1e3 : 1);
};

/** Wait until `test` passes on the figure's text; its text then. */
async function figureBecomes(page: Page, id: string, test: (text: string) => boolean, timeoutMs = WORK_TIMEOUT_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await figure(page, id);
    if (test(text)) return text;
    const error = await figure(page, 'lesson-error');
    if (error) throw new Error(`the lesson showed an error while waiting for #${id}: ${error}`);
    await page.waitForTimeout(250);
  }
  throw new Error(`timed out waiting for #${id} (it shows "${text}")`);
}

describe.skipIf(!haveGuest)('the lessons on the built site', () => {
  let rig: DevRig;
  let browser: Browser;
  let base: string;
  const thrown: string[] = [];

  beforeAll(async () => {
    rig = await startBuiltSiteRig('lessons');
    ({ base, browser } = rig);
  }, 180_000);

  afterAll(async () => { await rig?.close(); });

  /** A lesson page, its VMs booted to their prompts. */
  async function openLesson(name: string, vms: string[]): Promise<Page> {
    const page = await browser.newPage();
    page.on('pageerror', (e) => thrown.push(`${name}: ${e.message}`));
    await page.goto(`${base}lessons/${name}.html`);
    await page.waitForFunction((ids) => ids.every((id) => document.querySelector<HTMLElementTagNameMap['x86-vm']>(`#${id}`)?.ready === true),
      vms, { timeout: BOOT_TIMEOUT_MS, polling: 250 });
    return page;
  }

  it('the index lists every lesson, and the main page links to it', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}lessons/index.html`);
    const links = await page.$$eval('main a[href]', (as) => as.map((a) => (a as HTMLAnchorElement).getAttribute('href')));
    for (const link of links) {
      const res = await page.request.get(new URL(link!, `${base}lessons/`).href);
      expect(res.status(), link!).toBe(200);
    }
    expect(links.length).toBeGreaterThanOrEqual(1);
    await page.goto(base);
    expect(await page.$('a[href$="lessons/index.html"], a[href$="lessons/"]')).not.toBeNull();
    await page.close();
  });

  it('1. emulation: running the same work at the same time, the JIT side retires more instructions per second than the interpreter', async () => {
    const page = await openLesson('emulation', ['vm-interp', 'vm-jit']);
    await page.click('#run:not([disabled])', { timeout: 60_000 });
    await figureBecomes(page, 'rate-jit', (t) => /\/s/.test(t));
    await figureBecomes(page, 'rate-interp', (t) => /\/s/.test(t));
    const counts = { interp: await number(page, 'count-interp'), jit: await number(page, 'count-jit') };
    const rates = { interp: await rate(page, 'rate-interp'), jit: await rate(page, 'rate-jit') };
    console.info(`[lessons] emulation: ${JSON.stringify({ counts, rates, time: [await figure(page, 'time-interp'), await figure(page, 'time-jit')], share: await figure(page, 'share-jit') })}`);
    // The same work: instruction counts of one order (the shell's own steps around the loop differ a little).
    expect(counts.interp).toBeGreaterThan(1e7);
    expect(counts.jit / counts.interp).toBeGreaterThan(0.5);
    expect(counts.jit / counts.interp).toBeLessThan(2);
    expect(rates.jit).toBeGreaterThan(rates.interp);
    expect(await number(page, 'translations-jit')).toBeGreaterThan(0);
    expect(await figure(page, 'translations-interp')).toBe('JIT off');
    await page.close();
  }, WORK_TIMEOUT_MS * 2);

  it('2. trap-and-emulate: printing to COM1 and reading the RTC are exits of those devices, shown per device', async () => {
    const page = await openLesson('traps', ['vm']);
    // The table fills from the samples: COM1 has been busy since the boot log.
    await page.waitForSelector('#exits tr[data-device^="ns16550 @3f8"]', { timeout: 60_000 });
    const rowCount = (device: string) => page.$eval(`#exits tr[data-device^="${device}"]`, (r) => Number((r as HTMLElement).dataset.count));
    const com1Before = await rowCount('ns16550 @3f8');
    await page.click('#run-serial:not([disabled])', { timeout: 60_000 });
    const serial = await figureBecomes(page, 'last-run', (t) => /exits to COM1/.test(t));
    // seq 1 400 prints 1492 bytes: at least one exit (a write to the transmit register) per byte.
    expect(await number(page, 'last-run')).toBeGreaterThanOrEqual(1492);
    await page.waitForFunction((before) => Number(document.querySelector<HTMLElement>('#exits tr[data-device^="ns16550 @3f8"]')?.dataset.count) >= before + 1492,
      com1Before, { timeout: 30_000, polling: 250 });
    await page.click('#run-rtc:not([disabled])', { timeout: 60_000 });
    const rtc = await figureBecomes(page, 'last-run', (t) => /exits to the RTC/.test(t));
    // Each read of the time selects a register (port 0x70) and reads it (port 0x71), several times.
    expect(await number(page, 'last-run')).toBeGreaterThanOrEqual(51 * 2);
    await page.waitForSelector('#exits tr[data-device^="mc146818"]', { timeout: 30_000 });
    console.info(`[lessons] traps: ${serial} / ${rtc}`);
    await page.close();
  }, WORK_TIMEOUT_MS);

  it('3. the MMU: a user process\'s EIP walks to a present page, and touching new memory counts page faults', async () => {
    const page = await openLesson('mmu', ['vm']);
    await page.click('#run-walk:not([disabled])', { timeout: 60_000 });
    const physical = await figureBecomes(page, 'walk-physical', (t) => t !== '–');
    expect(physical).toMatch(/^0x[0-9a-f]{8}$/);
    expect(await figure(page, 'walk-pde')).toMatch(/^0x[0-9a-f]{8} {2}P RW U|^0x[0-9a-f]{8} {2}P R[OW] U/);
    expect(await figure(page, 'walk-pte')).toMatch(/^0x[0-9a-f]{8} {2}P .*U/);
    // The physical page is the PTE's frame, and the offset the address's low 12 bits.
    const pte = parseInt((await figure(page, 'walk-pte')).slice(2, 10), 16);
    const linear = parseInt((await figure(page, 'walk-linear')).slice(2), 16);
    expect(parseInt(physical.slice(2), 16)).toBe(((pte & 0xfffff000) | (linear & 0xfff)) >>> 0);
    // The address lies in one of the process's mappings, as its /proc/PID/maps lists them.
    expect(await figure(page, 'maps')).toMatch(/lies in:\n[0-9a-f]+-[0-9a-f]+ r.x/);
    await page.waitForSelector('#run-touch:not([disabled])', { timeout: 120_000 });
    await page.click('#run-touch');
    await figureBecomes(page, 'touch-faults', (t) => t !== '–');
    // 8 MB touched for the first time: at least one fault per 4 KiB page of it.
    expect(await number(page, 'touch-faults')).toBeGreaterThanOrEqual(Math.floor(8_000_000 / 4096));
    expect(await number(page, 'faults-total')).toBeGreaterThan(0);
    console.info(`[lessons] mmu: ${physical}, ${await figure(page, 'touch-faults')} faults`);
    await page.close();
  }, WORK_TIMEOUT_MS);

  it('4. AHCI against virtio-blk: 16 MiB read from each, the AHCI side with more exits per MiB', async () => {
    const page = await openLesson('disks', ['vm']);
    await page.click('#run:not([disabled])', { timeout: 60_000 });
    await figureBecomes(page, 'per-mib-virtio', (t) => t !== '–');
    const exits = { ahci: await number(page, 'exits-ahci'), virtio: await number(page, 'exits-virtio') };
    const requests = { ahci: await number(page, 'requests-ahci'), virtio: await number(page, 'requests-virtio') };
    console.info(`[lessons] disks: ${JSON.stringify({ exits, requests, speed: [await figure(page, 'speed-ahci'), await figure(page, 'speed-virtio')] })}`);
    // Both disks were read (dd says so, and each device handled requests), each request costing exits.
    expect(await figure(page, 'speed-ahci')).toMatch(/MiB\/s$/);
    expect(await figure(page, 'speed-virtio')).toMatch(/MiB\/s$/);
    expect(requests.ahci).toBeGreaterThan(0);
    expect(requests.virtio).toBeGreaterThan(0);
    expect(exits.virtio).toBeGreaterThan(0);
    expect(exits.ahci).toBeGreaterThan(exits.virtio);
    await page.close();
  }, WORK_TIMEOUT_MS);

  it('5. ballooning: inflating to 32 MiB has the guest give 32 MiB, and its total memory shrinks by it', async () => {
    const page = await openLesson('balloon', ['vm']);
    const mib = async (id: string) => number(page, id);
    await figureBecomes(page, 'guest-total', (t) => /MiB/.test(t), 60_000);
    const totalBefore = await mib('guest-total');
    await page.click('#inflate-32:not([disabled])', { timeout: 60_000 });
    await figureBecomes(page, 'actual', (t) => t === '32 MiB');
    expect(await figure(page, 'host-kept')).toBe('96 MiB');
    // The driver's statistics refresh every two seconds: the guest's total falls by the balloon's 32 MiB.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await mib('guest-total')) > totalBefore - 31) await page.waitForTimeout(500);
    const totalAfter = await mib('guest-total');
    console.info(`[lessons] balloon: total ${totalBefore} -> ${totalAfter} MiB`);
    expect(totalAfter).toBeLessThanOrEqual(totalBefore - 31);
    await page.click('#deflate:not([disabled])', { timeout: 60_000 });
    await figureBecomes(page, 'actual', (t) => t === '0 MiB');
    await page.close();
  }, WORK_TIMEOUT_MS);

  it('6. snapshots and live migration: the restored PC has the saved one\'s file, and a migrated PC runs on with its process', async () => {
    const page = await openLesson('snapshots', ['vm-a']);
    await page.click('#save:not([disabled])', { timeout: 60_000 });
    await figureBecomes(page, 'snap-size', (t) => /MiB/.test(t));
    // The right PC's console, to show when its restored guest does not answer.
    await page.evaluate(() => {
      const w = window as unknown as { consoleB: string };
      w.consoleB = '';
      document.getElementById('vm-b')!.addEventListener('serial', (e) => { w.consoleB += (e as CustomEvent<{ text: string }>).detail.text; });
    });
    await page.click('#restore:not([disabled])', { timeout: 60_000 });
    const mark = await figureBecomes(page, 'restore-mark', (t) => t !== '–').catch(async (e: Error) => {
      const b = await page.evaluate(async () => {
        const vm = document.getElementById('vm-b') as HTMLElementTagNameMap['x86-vm'];
        const before = (await vm.status())?.instructions;
        await new Promise((r) => setTimeout(r, 1000));
        return { console: (window as unknown as { consoleB: string }).consoleB.slice(-2000), instructions: [before, (await vm.status())?.instructions] };
      });
      throw new Error(`${e.message}; the restored PC: ${JSON.stringify(b)}`);
    });
    // The mark the left guest wrote just before the save, read from the right one's RAM disk.
    expect(mark).toMatch(/^saved-at-[\d.]+$/);
    await page.click('#migrate:not([disabled])', { timeout: 60_000 });
    const process = await figureBecomes(page, 'mig-process', (t) => t !== '–');
    expect(process).toMatch(/^pid \d+ runs on$/);
    const rounds = await page.$$eval('#rounds tbody tr', (rows) => rows.map((r) => [...(r as HTMLTableRowElement).cells].map((c) => Number(c.textContent!.replace(/\u2009/g, '')))));
    console.info(`[lessons] snapshots: ${await figure(page, 'snap-size')}, restore ${await figure(page, 'restore-ms')}, rounds ${JSON.stringify(rounds)}, downtime ${await figure(page, 'mig-downtime')}`);
    // Round 1 sent every page of the 64 MiB guest (16384 of 4 KiB, zero pages as markers).
    expect(rounds.length).toBeGreaterThanOrEqual(1);
    expect(rounds[0]![1]).toBe(16384);
    expect(await number(page, 'mig-downtime')).toBeGreaterThanOrEqual(0);
    // The left PC's machine left it; the right one runs it.
    expect(await page.$eval('#vm-a', (e) => e.getAttribute('state'))).toBe('off');
    expect(await page.$eval('#vm-b', (e) => e.getAttribute('state'))).toBe('running');
    // And back: the right PC's machine moves to the left element again.
    await page.click('#migrate:not([disabled])', { timeout: 60_000 });
    expect(await figureBecomes(page, 'mig-process', (t) => t !== process)).toMatch(/^pid \d+ runs on$/);
    expect(await page.$eval('#vm-a', (e) => e.getAttribute('state'))).toBe('running');
    expect(await page.$eval('#vm-b', (e) => e.getAttribute('state'))).toBe('off');
    await page.close();
  }, WORK_TIMEOUT_MS);

  it('7. entropy: the guest with virtio-rng reads /dev/hwrng through it, the one without has no hardware RNG', async () => {
    const page = await openLesson('entropy', ['vm-on', 'vm-off']);
    const chainsBefore = await number(page, 'chains-on');
    await page.click('#run:not([disabled])', { timeout: 60_000 });
    await figureBecomes(page, 'hwrng-off', (t) => t !== '–');
    console.info(`[lessons] entropy: ${JSON.stringify(await Promise.all(['current', 'seeded', 'avail', 'hwrng'].flatMap((f) => [figure(page, `${f}-on`), figure(page, `${f}-off`)])))}`);
    expect(await figure(page, 'current-on')).toMatch(/virtio_rng/);
    expect(await figure(page, 'current-off')).toBe('none');
    expect(await figure(page, 'hwrng-on')).toMatch(/^65\u2009536 bytes/);
    expect(await figure(page, 'hwrng-off')).toMatch(/no device/);
    expect(await figure(page, 'chains-off')).toBe('no device');
    // The 64 KiB came through the device: its count of filled buffers grew.
    await page.waitForFunction((before) => {
      const m = /\(([\d\u2009]+) in all\)/.exec(document.getElementById('chains-on')?.textContent ?? '');
      return m !== null && Number(m[1]!.replace(/\u2009/g, '')) > before;
    }, Number.isNaN(chainsBefore) ? 0 : chainsBefore, { timeout: 30_000, polling: 250 });
    await page.close();
  }, WORK_TIMEOUT_MS);

  it('nothing was thrown into any lesson page', () => {
    expect(thrown).toEqual([]);
  });
});
