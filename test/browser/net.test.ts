// The page's network in a real browser (headless Chromium through playwright-core), served by a
// real Vite dev server:
//  - two tabs on ?net=tabs:NAME are on one Ethernet segment (BroadcastChannel): with static
//    addresses the guests ping each other;
//  - ?net=user through a Wisp relay the test starts itself (wisp-js on loopback): the guest
//    fetches a file from an HTTP server on the host's 127.0.0.1 as 10.0.2.2 with busybox wget,
//    and its sha256sum is the host's, by address and by a name a DNS server of the test's
//    answers (asked as UDP through the relay: &dns=); the Capture button downloads a pcap of the exchange; and a
//    relay that cannot be reached fails the guest's connection and says so in the status bar;
//  - network options the page cannot use are refused in words.
//
// Needs the core and the default guest (test/images.ts skips the guest tests loudly without
// them). Commands are read between markers after QUIET_CONSOLE (test/shell-markers.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, preview, type ViteDevServer } from 'vite';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CORE, guestFiles, haveBuildOutputs, MANIFEST } from '../images';
import { QUIET_CONSOLE } from '../shell-markers';
import { BOOT_TIMEOUT_MS, guestShell, launchChromium } from './guest-page';
import { attachWispServer } from '../../src/net/wisp-server';
import { PCAP_MAGIC } from '../../src/net/pcap';
import { WispRelay } from '../../src/net/user/wisp-relay';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = join(ROOT, 'vite.config.ts');
const COMMAND_TIMEOUT_MS = 120_000;

const haveGuest = haveBuildOutputs('the browser network tests (test/browser/net.test.ts)', [CORE, ...guestFiles()]);
const manifest = haveGuest
  ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string; banner: string }
  : { prompt: '~ # ', banner: '' };
const { waitForTerminal, booted, runCommand } =
  guestShell({ prompt: manifest.prompt, banner: manifest.banner, commandTimeoutMs: COMMAND_TIMEOUT_MS });

async function openPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__webx86?.ready === true, null, { timeout: 30_000 });
  return page;
}

async function bootToShell(page: Page): Promise<string> {
  const log = await waitForTerminal(page, booted, 'the shell prompt', BOOT_TIMEOUT_MS);
  await runCommand(page, QUIET_CONSOLE);
  return log;
}

const netStatus = (page: Page) => page.evaluate(async () => (await window.__webx86!.status())?.net);

/** A loopback port nothing listens on. */
function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createTcpServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Opens a TCP connection through the Wisp relay at `page`'s /wisp/ to a server on loopback; what it said. */
async function helloThroughRelay(page: string): Promise<string> {
  const hello = createTcpServer((sock) => sock.end('hello from the host'));
  await new Promise<void>((r) => hello.listen(0, '127.0.0.1', r));
  const relay = new WispRelay(`${page.replace(/^http/, 'ws')}wisp/`);
  try {
    const stream = relay.tcp.connect('127.0.0.1', (hello.address() as AddressInfo).port);
    const got: Buffer[] = [];
    stream.onData = (d) => { got.push(Buffer.from(d)); };
    const error = await new Promise<Error | undefined>((r) => { stream.onClose = r; });
    if (error) throw error;
    return Buffer.concat(got).toString();
  } finally {
    relay.close();
    await new Promise((r) => hello.close(r));
  }
}

describe('the Wisp relay on vite preview', () => {
  it('answers at /wisp/ too', async () => {
    // Only the preview server's relay is looked at: an empty "build" is enough.
    const outDir = mkdtempSync(join(tmpdir(), 'webx86-preview-'));
    writeFileSync(join(outDir, 'index.html'), '<!doctype html>');
    const server = await preview({ configFile: CONFIG, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } });
    try {
      expect(await helloThroughRelay(server.resolvedUrls!.local[0]!)).toBe('hello from the host');
    } finally {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the page\'s network', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    server = await createServer({ configFile: CONFIG, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, hmr: false } });
    await server.listen();
    base = server.resolvedUrls!.local[0];
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('answers Wisp at /wisp/ on its own origin, and refuses browsers from other sites', async () => {
    // Through the dev server's relay to a TCP server on loopback (allowed: the server is on 127.0.0.1).
    expect(await helloThroughRelay(base)).toBe('hello from the host');
    // A page of another origin may not use it (it would reach this machine's loopback).
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(new URL('/wisp/', base), {
        headers: {
          Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': randomBytes(16).toString('base64'), Origin: 'https://elsewhere.example',
        },
      });
      req.on('upgrade', (_res, socket) => { socket.destroy(); resolve(101); });
      req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  }, 60_000);

  it('says in words which network options it cannot use, and does not boot', async () => {
    const context = await browser.newContext();
    const cases: [string, RegExp][] = [
      ['net=bogus', /net=bogus is not a network this page has/],
      ['net=user&wisp=ftp://relay.example/', /wisp=ftp:\/\/relay\.example\/: a Wisp relay is a ws: or wss: URL/],
      ['net=tabs:no%20spaces', /'no spaces' is not a switch name/],
      ['net=tabs&mac=01:00:5e:00:00:01', /is a multicast address/],
      ['mac=52:54:00:12:34:99', /mac= needs a network/],
    ];
    for (const [query, words] of cases) {
      const page = await openPage(context, `${base}?${query}`);
      const error = await page.waitForFunction(() => window.__webx86!.errorText(), null, { timeout: 30_000 });
      expect(String(await error.jsonValue()), query).toMatch(words);
      expect(await page.evaluate(async () => (await window.__webx86!.status())?.phase), query).toBe('idle');
      await page.close();
    }
    await context.close();
  }, 120_000);

  it.skipIf(!haveGuest)('joins two tabs on ?net=tabs:NAME: the guests ping each other', async () => {
    const context = await browser.newContext();
    try {
      const name = `t${process.pid}`;
      const [a, b] = await Promise.all([openPage(context, `${base}?net=tabs:${name}`), openPage(context, `${base}?net=tabs:${name}`)]);
      await Promise.all([bootToShell(a), bootToShell(b)]);
      const [sa, sb] = [await netStatus(a), await netStatus(b)];
      expect(sa!.summary).toBe(`net: tabs switch "${name}"`);
      expect(sa!.mac).not.toBe(sb!.mac); // each tab its own random address
      // No DHCP server on a bare switch: /init gave up, so the addresses are set by hand.
      expect(await runCommand(a, "ifconfig eth0 10.0.3.1 netmask 255.255.255.0 up; ifconfig eth0 | grep -o 'inet addr:[0-9.]*'")).toBe('inet addr:10.0.3.1\n');
      expect(await runCommand(b, "ifconfig eth0 10.0.3.2 netmask 255.255.255.0 up; ifconfig eth0 | grep -o 'inet addr:[0-9.]*'")).toBe('inet addr:10.0.3.2\n');
      const ping = await runCommand(a, 'ping -c 3 -W 10 10.0.3.2');
      expect(ping).toMatch(/3 packets transmitted, 3 packets received, 0% packet loss/);
      expect(ping.match(/bytes from 10\.0\.3\.2/g)).toHaveLength(3);
      const back = await runCommand(b, 'ping -c 1 -W 10 10.0.3.1');
      expect(back).toMatch(/1 packets transmitted, 1 packets received, 0% packet loss/);
    } finally {
      await context.close();
    }
  }, 2 * BOOT_TIMEOUT_MS);

  describe('?net=user through a Wisp relay', () => {
    let relay: Server;
    let files: Server;
    let dns: UdpSocket;
    let relayUrl: string;
    let filePort: number;
    const blob = randomBytes(1 << 20);

    beforeAll(async () => {
      relay = createHttpServer((_req, res) => { res.statusCode = 426; res.end(); });
      // The guest's 10.0.2.2 is this machine's loopback; the page is of another origin (the dev server's).
      attachWispServer(relay, { path: '/', allowPrivate: true, origins: [new URL(base).origin] });
      await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
      relayUrl = `ws://127.0.0.1:${(relay.address() as AddressInfo).port}/`;
      files = createHttpServer((req, res) => {
        if (req.url !== '/blob') {
          res.statusCode = 404;
          res.end();
          return;
        }
        res.setHeader('Content-Type', 'application/octet-stream');
        res.setHeader('Content-Length', String(blob.length));
        res.end(blob);
      });
      await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
      filePort = (files.address() as AddressInfo).port;
      // A DNS server that knows files.test as 10.0.2.2 (the host, from the guest) and nothing else.
      dns = createSocket('udp4');
      dns.on('message', (q, from) => {
        const nameEnd = q.indexOf(0, 12);
        if (q.length < 17 || nameEnd < 0 || nameEnd + 5 > q.length) return;
        const known = q.subarray(12, nameEnd).toString('latin1') === '\x05files\x04test';
        const a = known && q.readUInt16BE(nameEnd + 1) === 1;
        const answer = a ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 2, 2]) : Buffer.alloc(0);
        const reply = Buffer.concat([q.subarray(0, nameEnd + 5), answer]);
        reply.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // a response, recursion available; NXDOMAIN for other names
        reply.writeUInt16BE(a ? 1 : 0, 6);
        reply.writeUInt32BE(0, 8);
        dns.send(reply, from.port, from.address);
      });
      await new Promise<void>((r) => dns.bind(0, '127.0.0.1', r));
    });

    afterAll(async () => {
      relay?.closeAllConnections();
      await new Promise((r) => relay?.close(r));
      files?.closeAllConnections();
      await new Promise((r) => files?.close(r));
      dns?.close();
    });

    it.skipIf(!haveGuest)('fetches a file from the host with wget, the same bytes; captures it; and says when a relay cannot be reached', async () => {
      const context = await browser.newContext({ acceptDownloads: true });
      try {
        const unreachable = `ws://127.0.0.1:${await deadPort()}/`;
        const [page, lost] = await Promise.all([
          openPage(context, `${base}?net=user&wisp=${encodeURIComponent(relayUrl)}&dns=127.0.0.1:${(dns.address() as AddressInfo).port}`),
          openPage(context, `${base}?net=user&wisp=${encodeURIComponent(unreachable)}`),
        ]);
        const [log, lostLog] = await Promise.all([bootToShell(page), bootToShell(lost)]);
        // DHCP is answered by the stack in the worker, relay or not.
        expect(log).toContain('eth0: inet addr:10.0.2.15');
        expect(lostLog).toContain('eth0: inet addr:10.0.2.15');

        const sum = await runCommand(page, `wget -q -O /tmp/blob http://10.0.2.2:${filePort}/blob && sha256sum /tmp/blob`);
        const blobSum = createHash('sha256').update(blob).digest('hex');
        expect(sum).toBe(`${blobSum}  /tmp/blob\n`);
        // By name: the stack's DNS server (10.0.2.3) asks the test's DNS server through the relay.
        expect(await runCommand(page, 'nslookup files.test 2>/dev/null | grep -c 10.0.2.2')).toBe('1\n');
        expect(await runCommand(page, 'nslookup nothing.test >/dev/null 2>&1; echo "exit $?"')).toBe('exit 1\n');
        expect(await runCommand(page, `wget -q -O - http://files.test:${filePort}/blob | sha256sum`)).toBe(`${blobSum}  -\n`);
        const status = await netStatus(page);
        expect(status!.summary).toMatch(new RegExp(`^net: user via ${relayUrl.replace(/[./]/g, '\\$&')} \\(connected, \\d+ streams?\\)$`));
        expect(status!.trouble).toBeNull();

        // The Capture button: a pcap file holding the transfer (well over 700 full-size frames).
        const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-capture')]);
        expect(download.suggestedFilename()).toMatch(/^webx86-.*\.pcap$/);
        const pcap = readFileSync(await download.path());
        expect(pcap.readUInt32LE(0)).toBe(PCAP_MAGIC);
        let frames = 0;
        for (let at = 24; at + 16 <= pcap.length; at += 16 + pcap.readUInt32LE(at + 8)) frames++;
        expect(frames).toBeGreaterThan(700);

        // A relay nobody answers on: the guest's connection fails (a reset, as from a closed
        // port), the page says why, and the worker lives on.
        const failed = await runCommand(lost, `wget -q -O /tmp/blob http://10.0.2.2:${filePort}/blob; echo "exit $?"`);
        expect(failed).toMatch(/exit 1\n$/);
        const lostStatus = await netStatus(lost);
        expect(lostStatus!.summary).toMatch(/\(unreachable\)$/);
        expect(lostStatus!.trouble).toMatch(/relay ws:\/\/127\.0\.0\.1:\d+\/ cannot be reached/);
        await lost.waitForFunction(() => /cannot be reached/.test(document.getElementById('status-net')!.textContent ?? ''), null, { timeout: 10_000 });
        expect(await runCommand(lost, 'echo $((6*7))')).toBe('42\n');
      } finally {
        await context.close();
      }
    }, 2 * BOOT_TIMEOUT_MS);
  });
});
