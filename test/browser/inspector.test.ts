// The page's inspector (src/inspector/, src/worker/worker-inspect.ts) in a real browser against
// the production build, with the default Linux guest running. What it proves, each time
// against something other than the inspector's own sample:
//  - CR0, CR3 and EIP as the panel shows them equal the CLI monitor's `info registers` for the
//    same paused machine (src/node/monitor-info.ts formats the core's state on its own path);
//  - the page walk of a kernel function's address from the guest's /proc/kallsyms lands where
//    Linux's direct map puts it (physical = virtual - PAGE_OFFSET, 0xc0000000 on i386) and where
//    the monitor's `info tlb` maps that page, and the hex viewer shows the same bytes there
//    read physically and through the page tables;
//  - port I/O to COM1 grows by at least one access per byte the guest prints, COM1's interrupt
//    input and the page faults grow as a command runs;
//  - the JIT's counters move while the guest loops;
//  - a breakpoint at a kernel function's address (kallsyms) stops the VM there with EIP equal to
//    it when the guest calls it, Step runs one instruction on, and Continue lets the command end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { CORE, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, guestShell } from './guest-page';
import { startBuiltSiteRig, type DevRig } from './tabs';

const COMMAND_TIMEOUT_MS = 120_000;
/** Linux i386's PAGE_OFFSET (the default 3G/1G split): lowmem is mapped at physical + this. */
const PAGE_OFFSET = 0xc0000000;

const haveGuest = haveBuildOutputs('the inspector\'s browser test (test/browser)', [CORE, ...guestFiles()]);
const manifest = haveGuest
  ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; kernelRelease: string; banner: string }
  : { prompt: '~ # ', kernelRelease: '', banner: '' };
const { waitForTerminal, booted, runCommand, typeCommand, commandOutput } =
  guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS });

const hex8 = (v: number) => (v >>> 0).toString(16).padStart(8, '0');

/** A field of the inspector as the page shows it. */
const field = async (page: Page, name: string): Promise<string> =>
  (await page.textContent(`#inspector [data-field="${name}"]`))?.trim() ?? '';

/** Wait until a field of the inspector passes `test`; its text. */
async function fieldBecomes(page: Page, name: string, test: (text: string) => boolean, what: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await field(page, name);
    if (test(text)) return text;
    await page.waitForTimeout(100);
  }
  throw new Error(`timed out waiting for the inspector's ${name} to show ${what} (it shows "${text}"; note: "${await field(page, 'note')}")`);
}

/** The total in a counter table's rows whose `attr` matches (0 when none). */
const rowTotal = (page: Page, table: string, attr: string, match: RegExp, valueAttr = 'count'): Promise<number> =>
  page.$$eval(`#inspector [data-field="${table}"] tr`, (rows, [a, source, flags, v]) => {
    const re = new RegExp(source!, flags);
    return rows.filter((r) => re.test((r as HTMLElement).dataset[a!] ?? '')).reduce((n, r) => n + Number((r as HTMLElement).dataset[v!] ?? 0), 0);
  }, [attr, match.source, match.flags, valueAttr]);

/** Two samples later (the panel samples about ten times a second). */
const nextSamples = (page: Page) => page.waitForTimeout(400);

describe.skipIf(!haveGuest)('the inspector on the built page, with the default guest', () => {
  let rig: DevRig;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    rig = await startBuiltSiteRig('inspector');
    ({ base, browser } = rig);
  }, 180_000);

  afterAll(async () => { await rig?.close(); });

  it('agrees with the monitor and the guest, counts traps and JIT work, and stops at a breakpoint', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    await page.goto(`${base}?inspector=1`);
    await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 60_000 });
    await waitForTerminal(page, booted, 'the shell prompt', BOOT_TIMEOUT_MS);
    await runCommand(page, QUIET_CONSOLE);

    // A kernel function's address (this kernel's kallsyms lists text symbols).
    const kallsyms = (await runCommand(page, "grep ' T __ia32_sys_newuname$' /proc/kallsyms")).trim();
    const newuname = parseInt(kallsyms.split(/\s+/)[0]!, 16);
    expect(newuname, `__ia32_sys_newuname in /proc/kallsyms (${kallsyms})`).toBeGreaterThan(PAGE_OFFSET);

    // --- CPU: paused, the panel's CR0, CR3 and EIP are the monitor's ---
    await page.click('#inspector [data-action="pause"]');
    await fieldBecomes(page, 'state', (t) => t === 'paused', 'paused');
    await nextSamples(page);
    const cr0 = await field(page, 'cr0');
    const cr3 = await field(page, 'cr3');
    const eip = await field(page, 'eip');
    const registers = (await page.evaluate(() => window.__webx86!.monitorInfo!('registers')))!.join('\n');
    expect(registers).toContain(`CR0=${cr0} `);
    expect(registers).toContain(` CR3=${cr3} `);
    expect(registers).toContain(`EIP=${eip} `);
    // Linux runs protected, with paging: CR0.PE and CR0.PG.
    expect((parseInt(cr0, 16) & 0x80000001) >>> 0).toBe(0x80000001);
    expect(await field(page, 'mode')).toMatch(/^protected paging/);
    // One instruction on from wherever it paused: at the idle loop's HLT that means until an
    // interrupt's handler returns there, as with gdb. Either way it stops, and the monitor agrees.
    await page.click('#inspector [data-action="step"]');
    const stoppedAt = await fieldBecomes(page, 'state', (t) => /^stopped at [0-9a-f]{8}$/.test(t), 'stopped after a step');
    const afterStep = await fieldBecomes(page, 'eip', (t) => t.length === 8 && stoppedAt.endsWith(t), stoppedAt);
    expect((await page.evaluate(() => window.__webx86!.monitorInfo!('registers')))!.join('\n')).toContain(`EIP=${afterStep} `);
    await page.click('#inspector [data-action="continue"]');
    await fieldBecomes(page, 'state', (t) => t === 'running', 'running');

    // --- Memory: the walk of the function's address, and its bytes there ---
    await page.click('#inspector [data-tab="memory"]');
    await page.fill('#inspector input[aria-label="Linear address to walk"]', hex8(newuname));
    await page.press('#inspector input[aria-label="Linear address to walk"]', 'Enter');
    const physical = newuname - PAGE_OFFSET;
    await fieldBecomes(page, 'walk-physical', (t) => t === hex8(physical), hex8(physical));
    const pde = await field(page, 'walk-pde');
    // The MMU's counters: a booted Linux has filled TLB entries and flushed the TLB (CR3 loads).
    const mmu = await fieldBecomes(page, 'mmu', (t) => /\d+ fills and \d+ flushes since power-on/.test(t), 'the TLB counters');
    const [, fills, flushes] = mmu.match(/(\d+) fills and (\d+) flushes since power-on/)!;
    expect(Number(fills)).toBeGreaterThan(1000);
    expect(Number(flushes)).toBeGreaterThan(10);
    expect(pde).toMatch(/^at [0-9a-f]{8}: [0-9a-f]{8} .* P /);
    // The monitor's `info tlb` (its own walk of the whole directory) maps the same page there.
    const large = pde.includes('(4 MiB page)');
    const pageMask = large ? 0xffc00000 : 0xfffff000;
    const tlb = (await page.evaluate(() => window.__webx86!.monitorInfo!('tlb')))!;
    expect(tlb).toContainEqual(expect.stringMatching(new RegExp(`^${hex8(newuname & pageMask)}: ${hex8(physical & pageMask)} `)));
    const dumpBytes = async (): Promise<number[]> => {
      const dump = await fieldBecomes(page, 'memory', (t) => /^[0-9a-f]{8}  [0-9a-f]{2} /.test(t), 'a hex dump');
      return dump.split('\n').flatMap((l) => l.slice(10, 10 + 47).trim().split(' ').map((h) => parseInt(h, 16)));
    };
    await page.selectOption('#inspector select', 'physical');
    await page.fill('#inspector input[aria-label="Address to show"]', hex8(physical));
    await page.press('#inspector input[aria-label="Address to show"]', 'Enter');
    await fieldBecomes(page, 'memory', (t) => t.startsWith(hex8(physical)), `memory at ${hex8(physical)}`);
    const physicalBytes = await dumpBytes();
    await page.selectOption('#inspector select', 'linear');
    await page.fill('#inspector input[aria-label="Address to show"]', hex8(newuname));
    await page.press('#inspector input[aria-label="Address to show"]', 'Enter');
    await fieldBecomes(page, 'memory', (t) => t.startsWith(hex8(newuname)), `memory at ${hex8(newuname)}`);
    const linearBytes = await dumpBytes();
    expect(physicalBytes.length).toBe(256);
    expect(linearBytes).toEqual(physicalBytes);
    expect(physicalBytes.some((b) => b !== 0)).toBe(true);

    // --- Traps: COM1's port accesses, its interrupt input, page faults ---
    await page.click('#inspector [data-tab="traps"]');
    const com1 = /^ns16550 @3f8$/;
    const com1Line = /^(IO-APIC pin|8259 IRQ) 4$/;
    await fieldBecomes(page, 'ports', (t) => t.includes('ns16550 @3f8'), 'COM1');
    const portsBefore = await rowTotal(page, 'ports', 'device', com1);
    const irqBefore = await rowTotal(page, 'lines', 'line', com1Line);
    const faultsBefore = await rowTotal(page, 'exceptions', 'vector', /^14$/);
    const printed = await runCommand(page, 'seq 1 3000');
    expect(printed.split('\n').length).toBe(3001);
    await nextSamples(page);
    const portsAfter = await rowTotal(page, 'ports', 'device', com1);
    // At least one OUT to the transmit register per byte printed (the terminal's CR/LF adds more).
    expect(portsAfter - portsBefore).toBeGreaterThanOrEqual(printed.length);
    expect(await rowTotal(page, 'lines', 'line', com1Line)).toBeGreaterThan(irqBefore);
    // seq ran in a new process: its pages fault in.
    expect(await rowTotal(page, 'exceptions', 'vector', /^14$/)).toBeGreaterThan(faultsBefore);

    // --- JIT: instructions run translated, regions translated ---
    await page.click('#inspector [data-tab="jit"]');
    await fieldBecomes(page, 'jit', (t) => t.includes('regions translated'), 'the JIT counters');
    const jitBefore = await rowTotal(page, 'jit', 'counter', /^instructions$/, 'value');
    expect(await runCommand(page, 'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; echo $i')).toBe('30000\n');
    await nextSamples(page);
    expect(await rowTotal(page, 'jit', 'counter', /^instructions$/, 'value')).toBeGreaterThan(jitBefore);
    expect(await rowTotal(page, 'jit', 'counter', /^translations$/, 'value')).toBeGreaterThan(0);

    // --- Control: a breakpoint at __ia32_sys_newuname stops `uname` there ---
    await page.click('#inspector [data-tab="cpu"]');
    await page.fill('#inspector input[aria-label="Breakpoint address"]', hex8(newuname));
    await page.click('#inspector [data-action="break"]');
    await page.waitForSelector(`#inspector [data-breakpoint="${hex8(newuname)}"]`, { timeout: 30_000 });
    const id = await typeCommand(page, 'uname -r');
    await fieldBecomes(page, 'state', (t) => t === `stopped at ${hex8(newuname)}`, `stopped at ${hex8(newuname)}`);
    expect(await fieldBecomes(page, 'eip', (t) => t === hex8(newuname), hex8(newuname))).toBe(hex8(newuname));
    const atBreak = (await page.evaluate(() => window.__webx86!.monitorInfo!('registers')))!.join('\n');
    expect(atBreak).toContain(`EIP=${hex8(newuname)} `);
    // The disassembly starts at the breakpoint, marked.
    expect(await page.textContent('#inspector pre.xi-code')).toMatch(new RegExp(`^●→ ${hex8(newuname)} `));

    // One instruction on: EIP moves, the machine stays paused, the monitor agrees.
    await page.click('#inspector [data-action="step"]');
    const stepped = await fieldBecomes(page, 'eip', (t) => /^[0-9a-f]{8}$/.test(t) && t !== hex8(newuname), 'the next instruction');
    expect(await field(page, 'state')).toBe(`stopped at ${stepped}`);
    expect((await page.evaluate(() => window.__webx86!.monitorInfo!('registers')))!.join('\n')).toContain(`EIP=${stepped} `);

    // Cleared and continued: the command finishes.
    await page.click(`#inspector [data-breakpoint="${hex8(newuname)}"]`);
    await page.waitForSelector(`#inspector [data-breakpoint="${hex8(newuname)}"]`, { state: 'detached', timeout: 30_000 });
    await page.click('#inspector [data-action="continue"]');
    expect(await commandOutput(page, id)).toBe(`${manifest.kernelRelease}\n`);
    // The panel shows the state of its latest sample, which may come after the command's output.
    await fieldBecomes(page, 'state', (t) => t === 'running', 'running');
    await page.close();
  }, BOOT_TIMEOUT_MS + 12 * COMMAND_TIMEOUT_MS);
});
