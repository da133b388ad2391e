// The <x86-vm> element (src/embed/) in a real browser (headless Chromium through playwright-core)
// against a real production build (vite build), served two ways: by `vite preview`, which sends
// COOP/COEP, and by a plain node:http static server that sends neither, as static hosting does.
//
// What it proves:
//  - the demo page (embed.html) boots two VMs, each in its own worker; run('echo $((6*7))')
//    resolves to 42 in each, and a snippet's Run button shows its output under it; waitFor()
//    finds what a typed command printed;
//  - an element scrolled out of view pauses (its state event says so, and its instruction
//    counter stands still while a guest loop spins), and goes on when scrolled back; one with
//    keep-running runs on out of view;
//  - snapshot() gives a snapshot file, restore(blob) turns the other VM into the saved one, and
//    reset() reboots a VM into a fresh guest; the inspector attribute shows the inspector panel
//    with the guest's CR0 (protected mode, paging), and its Pause and Continue move the
//    element's state;
//  - on the host without COOP/COEP the page isolates itself through public/coi-sw.js (one
//    reload), and an element with snapshot= starts from the demo VM's snapshot: its shell answers
//    with the saved machine's files, and the kernel's boot log is never printed (no boot);
//  - a missing manifest, a wrong attribute and a missing kernel each give an error event and a
//    message in the element, and nothing is thrown into the page.
//
// Commands go through the element's own run(), which reads output between marker lines
// (src/embed/shell-command.ts); the demo page turns kernel console messages off first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { build, preview, type PreviewServer } from 'vite';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CORE, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { BOOT_TIMEOUT_MS, launchChromium } from './guest-page';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = join(ROOT, 'vite.config.ts');
const COMMAND_TIMEOUT_MS = 60_000;
/** A snapshot file downloaded, decoded and its images fetched, on a loaded machine. */
const RESTORE_TIMEOUT_MS = 180_000;
const SNAPSHOT_FILE = 'embed-test-shell.wx86snap';
const MARK = 'embed-snap-mark';

const haveGuest = haveBuildOutputs('the <x86-vm> browser tests (test/browser/embed.test.ts)', [CORE, ...guestFiles()]);
const manifest = haveGuest
  ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; banner: string }
  : { prompt: '~ # ', banner: '' };

/**
 * Installed before any page script: records every <x86-vm> event with its time, and each
 * element's console text since its last restore, with when the prompt first showed in it.
 * Capture listeners on document, since `error` does not bubble.
 */
function recordEvents(prompt: string): void {
  type Log = { id: string; type: string; detail: unknown; at: number }[];
  const w = window as unknown as { __embedLog: Log; __console: Record<string, { text: string; restoreAt?: number; promptAt?: number }>; __thrown: string[] };
  w.__embedLog = [];
  w.__console = {};
  w.__thrown = [];
  window.addEventListener('error', (e) => { if (e instanceof ErrorEvent) w.__thrown.push(String(e.message)); });
  window.addEventListener('unhandledrejection', (e) => w.__thrown.push(String((e.reason as Error)?.message ?? e.reason)));
  const atLineStart = new RegExp(`(^|\\n)${prompt.trimEnd().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
  for (const type of ['state', 'ready', 'error', 'serial']) {
    document.addEventListener(type, (e) => {
      const el = e.target as HTMLElement;
      if (el.tagName !== 'X86-VM') return;
      const at = performance.now();
      const detail = (e as CustomEvent).detail as { state?: string; text?: string };
      const con = (w.__console[el.id] ??= { text: '' });
      if (type === 'serial') {
        con.text += detail.text;
        if (con.promptAt === undefined && atLineStart.test(con.text)) con.promptAt = at;
        return;
      }
      if (type === 'state' && detail.state === 'restoring') w.__console[el.id] = { text: '', restoreAt: at };
      w.__embedLog.push({ id: el.id, type, detail, at });
    }, true);
  }
}

type LoggedEvent = { id: string; type: string; detail: Record<string, unknown>; at: number };
const events = (page: Page) => page.evaluate(() => (window as unknown as { __embedLog: LoggedEvent[] }).__embedLog);
const thrown = (page: Page) => page.evaluate(() => (window as unknown as { __thrown: string[] }).__thrown);

async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.addInitScript(recordEvents, manifest.prompt);
  return page;
}

/** An event of `type` from element `id` matching `detail` (and later than `after`, a page time), waited for. */
async function eventFrom(page: Page, id: string, type: string, timeoutMs: number, detail: Record<string, unknown> = {}, after = -1): Promise<LoggedEvent> {
  const handle = await page.waitForFunction(({ id, type, detail, after }) => (window as unknown as { __embedLog: LoggedEvent[] }).__embedLog
    .find((e) => e.id === id && e.type === type && e.at > after && Object.entries(detail).every(([k, v]) => e.detail?.[k] === v)) ?? null,
  { id, type, detail, after }, { timeout: timeoutMs, polling: 100 });
  return (await handle.jsonValue()) as LoggedEvent;
}

const pageTime = (page: Page) => page.evaluate(() => performance.now());

/** vm.run(command) in the page, for the element with this id. */
function run(page: Page, id: string, command: string): Promise<string> {
  return page.evaluate(({ id, command, timeout }) => document.querySelector<HTMLElementTagNameMap['x86-vm']>(`#${id}`)!.run(command, timeout),
    { id, command, timeout: COMMAND_TIMEOUT_MS });
}

const instructions = (page: Page, id: string) => page.evaluate(async (id) => (await document.querySelector<HTMLElementTagNameMap['x86-vm']>(`#${id}`)!.status())!.instructions, id);

/** A page with `body` and the recorder, loading webx86.js as a docs page would. */
function testPage(body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>x86-vm test</title></head><body>${body}
<script type="module" src="/webx86.js"></script></body></html>`;
}

/** A static file server that sends no COOP/COEP headers, like plain static hosting. */
async function bareStaticServer(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const types: Record<string, string> = {
    '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  };
  const server = createHttpServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = resolve(dir, `.${path === '/' ? '/index.html' : path}`);
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', types[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('<x86-vm> in the production build', () => {
  let server: PreviewServer;
  let browser: Browser;
  let outDir: string;
  let base: string;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'webx86-embed-'));
    await build({ configFile: CONFIG, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    // Test pages beside the demo, written before the preview server lists the build's files.
    writeFileSync(join(outDir, 'embed-test-errors.html'), testPage(`
<x86-vm id="no-manifest" src="/images/no-such-manifest.json" autostart></x86-vm>
<x86-vm id="bad-memory" src="/images/default.json" memory="lots" autostart></x86-vm>
<x86-vm id="no-kernel" src="/images/default.json" kernel="/images/no-such-kernel" memory="32" autostart></x86-vm>`));
    writeFileSync(join(outDir, 'embed-test-snapshot.html'), testPage(`
<x86-vm id="snap" src="/images/default.json" snapshot="/${SNAPSHOT_FILE}" autostart></x86-vm>`));
    server = await preview({ configFile: CONFIG, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } });
    base = server.resolvedUrls!.local[0]!;
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.httpServer.close(() => r()) : r()));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('builds webx86.js at the root of the site, an npm package with its types', () => {
    // The project's package.json points at the default build; the build's own makes the folder a package.
    const project = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; import: string }> };
    expect(project.exports['.']).toEqual({ types: './dist/types/index.d.ts', import: './dist/webx86.js' });
    const pkg = JSON.parse(readFileSync(join(outDir, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; import: string }> };
    expect(pkg.exports['.']).toEqual({ types: './types/index.d.ts', import: './webx86.js' });
    const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: outDir, encoding: 'utf8' })) as { files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['webx86.js', 'coi-sw.js', 'types/index.d.ts', 'types/x86-vm.d.ts', 'package.json']));
    expect(files.some((f) => /^assets\/vm-worker-[\w-]+\.js$/.test(f))).toBe(true);
    expect(files.some((f) => /^assets\/core-[\w-]+\.wasm$/.test(f))).toBe(true);
    expect(files.some((f) => f.startsWith('images/'))).toBe(false);
    const types = readFileSync(join(outDir, 'types', 'index.d.ts'), 'utf8');
    expect(types).toContain('X86VmElement');
    // A docs page's script, type-checked against the declarations alone: they stand on their own.
    writeFileSync(join(outDir, 'types', 'consumer.ts'), `
import { X86VmElement, type X86VmReadyDetail } from './index.js';
const vm: X86VmElement = document.querySelector('x86-vm')!;
vm.addEventListener('ready', (e) => { const ms: number = (e as CustomEvent<X86VmReadyDetail>).detail.ms; void ms; });
export const answer: Promise<string> = vm.start().then(() => vm.run('echo $((6*7))'));
export const saved: Promise<Blob> = vm.snapshot();
`);
    const program = ts.createProgram([join(outDir, 'types', 'consumer.ts')], {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [],
    });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '))).toEqual([]);
  }, 60_000);

  it('says in words, in the element and as an error event, that a manifest is missing, an attribute wrong, a kernel not there', async () => {
    const context = await browser.newContext();
    const page = await newPage(context);
    try {
      await page.goto(`${base}embed-test-errors.html`);
      const missing = await eventFrom(page, 'no-manifest', 'error', 60_000);
      expect(missing.detail.message).toMatch(/guest manifest was not found: .*\/images\/no-such-manifest\.json \(HTTP 404\)/);
      const memory = await eventFrom(page, 'bad-memory', 'error', 60_000);
      expect(memory.detail.message).toMatch(/^memory="lots": give a whole number of MiB/);
      const kernel = await eventFrom(page, 'no-kernel', 'error', 60_000);
      expect(kernel.detail.message).toMatch(/kernel image was not found: .*\/images\/no-such-kernel/);
      for (const [id, e] of [['no-manifest', missing], ['bad-memory', memory], ['no-kernel', kernel]] as const) {
        // Shown in the element, and the element says it is in error.
        const shown = await page.evaluate((id) => {
          const el = document.getElementById(id)!;
          const box = el.shadowRoot!.querySelector<HTMLElement>('[part="message"]')!;
          return { text: box.hidden ? '' : box.textContent, state: (el as HTMLElementTagNameMap['x86-vm']).state, visible: box.offsetHeight > 0 };
        }, id);
        expect(shown).toEqual({ text: e.detail.message, state: 'error', visible: true });
      }
      // A script's call on an element that never ran is a rejected promise, not a throw into the page.
      const refused = await page.evaluate(() => document.querySelector<HTMLElementTagNameMap['x86-vm']>('#no-manifest')!.run('true').then(() => 'ran', (e: Error) => e.message));
      expect(refused).toMatch(/not been started|not running/);
      await page.waitForTimeout(500);
      expect(await thrown(page)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it.skipIf(!haveGuest)('demo page: two VMs each answer run(), a Run button shows its output, a VM scrolled away pauses and comes back (unless keep-running), restore(blob), reset() and the inspector attribute work', async () => {
    // Wide enough for the demo's two VMs side by side, both in view.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await newPage(context);
    try {
      await page.goto(`${base}embed.html`);
      expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
      await eventFrom(page, 'vm-a', 'ready', BOOT_TIMEOUT_MS, { from: 'boot' });
      await eventFrom(page, 'vm-b', 'ready', BOOT_TIMEOUT_MS, { from: 'boot' });
      for (const id of ['vm-a', 'vm-b']) expect(await run(page, id, 'echo $((6*7))')).toBe('42');
      // Two machines, not one seen twice: each has its own files.
      expect(await run(page, 'vm-a', 'echo a > /tmp/who; cat /tmp/who')).toBe('a');
      expect(await run(page, 'vm-b', 'cat /tmp/who 2>/dev/null || echo none')).toBe('none');
      // Commands typed at a prompt on the top row of a cleared screen. The shell asks the terminal
      // where its cursor is (ESC [ 6 n), and busybox does not recognise the answer for row 1,
      // column 5 (it starts like Ctrl-Right's ESC [ 1 ; 5 C) and drops the bytes typed after it.
      for (let i = 0; i < 4; i++) {
        await run(page, 'vm-a', 'clear');
        expect(await run(page, 'vm-a', `echo top-${i}`)).toBe(`top-${i}`);
      }

      // The demo's first snippet under VM B is echo $((6*7)): Run shows its output under it.
      const snippet = page.locator('.snippet[data-vm="vm-b"]').first();
      await snippet.locator('button').click();
      await page.waitForFunction(() => document.querySelector('.snippet[data-vm="vm-b"] output')?.textContent === '42', null, { timeout: COMMAND_TIMEOUT_MS });

      // The element's own button pauses and resumes its VM.
      const clicked = await pageTime(page);
      await page.locator('#vm-a [part="button"]').click();
      const byButton = await eventFrom(page, 'vm-a', 'state', 30_000, { state: 'paused', reason: 'script' }, clicked);
      expect(await page.locator('#vm-a [part="button"]').textContent()).toBe('Resume');
      await page.locator('#vm-a [part="button"]').click();
      await eventFrom(page, 'vm-a', 'state', 30_000, { state: 'running' }, byButton.at);

      // waitFor: what the guest prints, after typing as a user would (the echoed line is not it).
      await page.evaluate(() => document.querySelector<HTMLElementTagNameMap['x86-vm']>('#vm-a')!.type('echo wait-$((1+2))\r'));
      expect(await page.evaluate(() => document.querySelector<HTMLElementTagNameMap['x86-vm']>('#vm-a')!.waitFor(/wait-\d+/, 60_000))).toBe('wait-3');

      // Both guests spin (until told to stop) and leave the view: VM B pauses and its counter
      // stands still; VM A, told to keep running, runs on.
      const spin = "rm -f /tmp/stop; { (while [ ! -e /tmp/stop ]; do :; done) & }";
      for (const id of ['vm-a', 'vm-b']) expect(await run(page, id, spin)).toBe('');
      await page.evaluate(() => document.getElementById('vm-a')!.setAttribute('keep-running', ''));
      const scrolled = await pageTime(page);
      await page.evaluate(() => {
        const spacer = document.createElement('div');
        spacer.id = 'spacer';
        spacer.style.height = '5000px';
        document.body.append(spacer);
        window.scrollTo(0, document.body.scrollHeight);
      });
      const hidden = await eventFrom(page, 'vm-b', 'state', 30_000, { state: 'paused', reason: 'hidden' });
      const before = { a: await instructions(page, 'vm-a'), b: await instructions(page, 'vm-b') };
      await page.waitForTimeout(2000);
      expect(await instructions(page, 'vm-b')).toBe(before.b);
      expect(await instructions(page, 'vm-a')).toBeGreaterThan(before.a);
      const states = await page.evaluate(() => ['vm-a', 'vm-b'].map((id) => document.querySelector<HTMLElementTagNameMap['x86-vm']>(`#${id}`)!.state));
      expect(states).toEqual(['running', 'paused']);

      // Back in view: VM B runs on, the loop with it.
      await page.evaluate(() => window.scrollTo(0, 0));
      await eventFrom(page, 'vm-b', 'state', 30_000, { state: 'running' }, hidden.at);
      const resumed = await instructions(page, 'vm-b');
      await page.waitForTimeout(1000);
      expect(await instructions(page, 'vm-b')).toBeGreaterThan(resumed);
      for (const id of ['vm-a', 'vm-b']) expect(await run(page, id, 'touch /tmp/stop; wait; echo $((6*7))')).toBe('42');
      expect((await events(page)).some((e) => e.id === 'vm-a' && e.type === 'state' && e.detail.state === 'paused' && e.at > scrolled)).toBe(false);

      // VM A saved, with a file to know it by, for the snapshot test below.
      expect(await run(page, 'vm-a', `echo ${MARK} > /tmp/mark`)).toBe('');
      const base64 = await page.evaluate(async () => {
        const blob = await document.querySelector<HTMLElementTagNameMap['x86-vm']>('#vm-a')!.snapshot();
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
      });
      const file = Buffer.from(base64, 'base64');
      expect(file.subarray(0, 8).toString('latin1')).toBe('WX86SNAP');
      writeFileSync(join(outDir, SNAPSHOT_FILE), file);

      // restore(blob): VM B becomes VM A as it was saved.
      const restoring = await pageTime(page);
      await page.evaluate(async () => {
        const a = document.querySelector<HTMLElementTagNameMap['x86-vm']>('#vm-a')!;
        await document.querySelector<HTMLElementTagNameMap['x86-vm']>('#vm-b')!.restore(await a.snapshot());
      });
      await eventFrom(page, 'vm-b', 'ready', RESTORE_TIMEOUT_MS, { from: 'snapshot' }, restoring);
      expect(await run(page, 'vm-b', 'cat /tmp/mark')).toBe(MARK);

      // The inspector attribute mounts the inspector panel (src/inspector/) in the element: it
      // samples this VM's CPU, in protected mode with paging under Linux; removed, it goes.
      const flags = () => page.evaluate(() => document.getElementById('vm-b')!.shadowRoot!.querySelector('.x86-inspector .xi-flags')?.textContent ?? null);
      await page.evaluate(() => document.getElementById('vm-b')!.setAttribute('inspector', ''));
      await page.waitForFunction(() => /CR0: .*\bPE\b.*\bPG\b/.test(document.getElementById('vm-b')!.shadowRoot!.querySelector('.x86-inspector .xi-flags')?.textContent ?? ''),
        null, { timeout: 30_000 });
      // Its Pause and Continue move the element's own state along (and its button with it).
      const inspecting = await pageTime(page);
      await page.locator('#vm-b .x86-inspector button[data-action="pause"]').click();
      const stopped = await eventFrom(page, 'vm-b', 'state', 30_000, { state: 'paused', reason: 'inspector' }, inspecting);
      expect(await page.locator('#vm-b [part="button"]').textContent()).toBe('Resume');
      await page.locator('#vm-b .x86-inspector button[data-action="continue"]').click();
      await eventFrom(page, 'vm-b', 'state', 30_000, { state: 'running' }, stopped.at);
      expect(await run(page, 'vm-b', 'echo $((6*7))')).toBe('42');
      await page.evaluate(() => document.getElementById('vm-b')!.removeAttribute('inspector'));
      expect(await flags()).toBeNull();

      // reset(): VM A boots again, a fresh machine (the initramfs's /tmp is new).
      const resetting = await pageTime(page);
      await page.evaluate(() => document.querySelector<HTMLElementTagNameMap['x86-vm']>('#vm-a')!.reset());
      await eventFrom(page, 'vm-a', 'ready', BOOT_TIMEOUT_MS, { from: 'boot' }, resetting);
      expect(await run(page, 'vm-a', 'dmesg -n 1; cat /tmp/mark 2>/dev/null || echo none')).toBe('none');
      expect(await thrown(page)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 3 * BOOT_TIMEOUT_MS + RESTORE_TIMEOUT_MS + 16 * COMMAND_TIMEOUT_MS);

  it.skipIf(!haveGuest)('on a host without COOP/COEP: isolated through the service worker, a snapshot= element shows a shell without booting', async () => {
    expect(existsSync(join(outDir, SNAPSHOT_FILE)), 'the demo test saved the snapshot').toBe(true);
    const bare = await bareStaticServer(outDir);
    const context = await browser.newContext();
    try {
      const headers = (await fetch(new URL('embed-test-snapshot.html', bare.url))).headers;
      expect(headers.get('cross-origin-embedder-policy')).toBeNull();
      const page = await newPage(context);
      const workerLog: string[] = [];
      page.on('console', (m) => { if (m.text().startsWith('[snapshot]')) workerLog.push(m.text()); });
      await page.goto(`${bare.url}embed-test-snapshot.html`);
      // The first load registers public/coi-sw.js and reloads; the reloaded page is isolated.
      const ready = await eventFrom(page, 'snap', 'ready', RESTORE_TIMEOUT_MS);
      expect(ready.detail.from).toBe('snapshot');
      expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
      expect(await page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
      // The prompt showed, and nothing of a boot ever did: no kernel log, no init banner.
      const con = await page.evaluate(() => (window as unknown as { __console: Record<string, { text: string; restoreAt: number; promptAt?: number }> }).__console.snap!);
      expect(con.promptAt).toBeDefined();
      expect(con.text).not.toContain('Linux version');
      expect(con.text).not.toContain(manifest.banner);
      // Figures, not assertions (a loaded CI machine is slower): the restore's start to the
      // prompt, and the (reloaded) page's start to the prompt, the snapshot's download included.
      console.log(`snapshot= element: restore start to prompt ${(con.promptAt! - con.restoreAt).toFixed(0)} ms `
        + `(the element's ready event: ${Number(ready.detail.ms).toFixed(0)} ms); page start to prompt ${con.promptAt!.toFixed(0)} ms\n  `
        + workerLog.join('\n  '));
      // The saved machine: VM A's file is there, and it computes.
      expect(await run(page, 'snap', 'cat /tmp/mark; echo $((6*7))')).toBe(`${MARK}\n42`);
      expect(await thrown(page)).toEqual([]);
    } finally {
      await context.close();
      await bare.close();
    }
  }, RESTORE_TIMEOUT_MS + 3 * COMMAND_TIMEOUT_MS);
});
