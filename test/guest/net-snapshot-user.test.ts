// The user-mode network (`--net user`, src/net/user/) across a save and restore in a fresh
// process and across a live migration. Its host sockets belong to the process that saved the
// machine, as QEMU's slirp's do, so they cannot come along; what is defined instead
// (src/net/user/restore.ts): every TCP connection the guest had open through it is reset to the
// guest, whose program gets an error at once instead of waiting forever on a connection nobody
// serves, and new connections work.
//
// The guest's busybox wget downloads from a real node:http server on the host (10.0.2.2) that
// sends a line every 100 ms and never ends: the guest only reads, so without the reset it would
// send nothing that could ever meet the fresh stack, and would hang. Saved (or migrated) in the
// middle, the restored guest's wget fails with ECONNRESET ("Connection reset by peer") at once,
// its kernel counts a connection reset by a RST in an established state (Tcp EstabResets in
// /proc/net/snmp), and a new wget to the same server works. The monitor's loadvm in the same
// process does the same: the stack drops the connection it relays for the guest state that is
// replaced (the host's side sees it close) and resets the one the saved guest had.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestFiles, haveBuildOutputs, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS } from './session.js';
import { CTRL_A_C, TerminalCli } from './terminal-cli.js';

const haveImages = haveBuildOutputs('the user network snapshot guest test (test/guest/net-snapshot-user.test.ts)', guestFiles());

/** Tcp EstabResets from the two `Tcp:` lines of /proc/net/snmp (names, then values). */
function estabResets(snmp: string): number {
  const [names, values] = snmp.trim().split('\n').map((l) => l.trim().split(/\s+/));
  const at = names!.indexOf('EstabResets');
  if (at < 0 || values === undefined) throw new Error(`no EstabResets in ${JSON.stringify(snmp)}`);
  return Number(values[at]);
}

describe.skipIf(!haveImages)('Linux guest on the user network: connections through the saved process are reset after a restore or a migration, new ones work', () => {
  const m = haveImages ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string } : { prompt: '' };
  let server: Server;
  let port = 0;
  /** Streams under way: each answered /slow request, and how many lines it got out. */
  const streams: { res: ServerResponse; lines: number }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/hello') { res.end('hello-from-host\n'); return; }
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      const s = { res, lines: 0 };
      streams.push(s);
      const timer = setInterval(() => { s.lines++; res.write(`tick-${s.lines}\n`); }, 100);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => {
    for (const s of streams) s.res.destroy();
    server.close();
  });

  /** A guest on the user network with a wget streaming from the host; resolves once it got a few lines, with the EstabResets count before. */
  async function startStreaming(): Promise<{ vm: TerminalCli; resetsBefore: number }> {
    const vm = new TerminalCli(['run', '--net', 'user']);
    await vm.waitFor(m.prompt, 0);
    await vm.quiet();
    const resetsBefore = estabResets(await vm.shell('grep Tcp: /proc/net/snmp', 'U1'));
    const from = vm.text.length;
    const count = streams.length;
    vm.type(`wget -q -O /tmp/got http://10.0.2.2:${port}/slow; echo "wget-exit-$?"\r`);
    while (streams.length === count || streams[count]!.lines < 10) await new Promise((r) => setTimeout(r, 200));
    expect(vm.text.slice(from)).not.toMatch(/wget-exit-\d/);
    return { vm, resetsBefore };
  }

  /** The restored guest: wget failed at once, by a reset; a new connection works. */
  async function checkAfter(vm: TerminalCli, from: number, resetsBefore: number): Promise<void> {
    const end = await vm.waitFor(/wget-exit-\d+\n/, from, 120_000);
    const after = vm.text.slice(from, end);
    expect(after).toMatch(/\nwget: [^\n]*: Connection reset by peer\n/); // ECONNRESET, in the guest's words
    expect(after).toMatch(/wget-exit-1\n$/);
    const got = await vm.shell('head -n 2 /tmp/got; grep Tcp: /proc/net/snmp', 'U2');
    expect(got.startsWith('tick-1\ntick-2\n')).toBe(true);
    expect(estabResets(got.split('\n').slice(2).join('\n'))).toBe(resetsBefore + 1);
    expect(await vm.shell(`wget -q -O - http://10.0.2.2:${port}/hello`, 'U3')).toBe('hello-from-host\n');
  }

  it('saved mid-download, restored in a fresh process: the download fails with a reset, a new one works', async () => {
    const { vm, resetsBefore } = await startStreaming();
    const dir = mkdtempSync(join(tmpdir(), 'webx86-user-snap-'));
    const snap = join(dir, 'u.wx86snap');
    let restored: TerminalCli | null = null;
    try {
      await vm.monitor('stop');
      expect(await vm.monitor(`savevm ${snap}`)).toMatch(/^saved .*u\.wx86snap /m);
      vm.type(`${CTRL_A_C}quit\r`);
      expect(await vm.exited).toBe(0);

      restored = new TerminalCli(['run', '--loadvm', snap, '--net', 'user'], false);
      const from = await restored.waitFor(`restored ${snap}`, 0);
      await restored.waitFor(new RegExp(`webx86: user network: reset 1 TCP connection the guest had open when it was saved \\(10\\.0\\.2\\.15:\\d+ - 10\\.0\\.2\\.2:${port}\\): the host sockets behind them are gone\\n`), from);
      await checkAfter(restored, from, resetsBefore);
      restored.type('poweroff -f\n');
      expect(await restored.exited).toBe(0);
    } finally {
      vm.kill();
      restored?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 3 * BOOT_TIMEOUT_MS);

  it('the monitor\'s loadvm in the same process: the stack drops what it relays now and resets the saved connection; a new one works', async () => {
    const { vm, resetsBefore } = await startStreaming();
    const dir = mkdtempSync(join(tmpdir(), 'webx86-user-loadvm-'));
    const snap = join(dir, 'l.wx86snap');
    try {
      expect(await vm.monitor(`savevm ${snap}`)).toMatch(/^saved .*l\.wx86snap /m);
      // The download goes on past the save: the host has sent what the saved guest never saw.
      const stream = streams[streams.length - 1]!;
      const at = stream.lines;
      while (stream.lines < at + 10) await new Promise((r) => setTimeout(r, 200));
      const from = vm.text.length;
      const loaded = await vm.monitor(`loadvm ${snap}`);
      // (The restored guest may print its wget's failure before the monitor prints this line.)
      expect(loaded).toMatch(new RegExp(`loaded .*l\\.wx86snap; user network: reset 1 TCP connection the guest had open when it was saved \\(10\\.0\\.2\\.15:\\d+ - 10\\.0\\.2\\.2:${port}\\): the host sockets behind them are gone\n`));
      // The host's side of the connection the stack relayed until the load is closed.
      while (!stream.res.destroyed && !stream.res.writableEnded) await new Promise((r) => setTimeout(r, 100));
      await checkAfter(vm, from, resetsBefore);
      vm.type('poweroff -f\r');
      expect(await vm.exited).toBe(0);
    } finally {
      vm.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 3 * BOOT_TIMEOUT_MS);

  it('migrated mid-download to another process on its own user network: the download fails with a reset, a new one works', async () => {
    const target = new TerminalCli(['run', '--incoming', 'tcp:127.0.0.1:0', '--net', 'user'], false);
    let vm: TerminalCli | null = null;
    try {
      const at = await target.waitFor(/waiting for a migration on tcp:127\.0\.0\.1:\d+\n/, 0);
      const targetPort = Number(/tcp:127\.0\.0\.1:(\d+)\n$/.exec(target.text.slice(0, at))![1]);
      const started = await startStreaming();
      vm = started.vm;
      await vm.monitor(`migrate tcp:127.0.0.1:${targetPort}`, 'it runs there now');
      expect(await vm.exited).toBe(0);
      const from = await target.waitFor(/migration complete: [^\n]*; the guest runs here\n/, 0);
      await target.waitFor(new RegExp(`webx86: user network: reset 1 TCP connection the guest had open when it was saved \\(10\\.0\\.2\\.15:\\d+ - 10\\.0\\.2\\.2:${port}\\)`), 0);
      await checkAfter(target, from, started.resetsBefore);
      target.type('poweroff -f\n');
      expect(await target.exited).toBe(0);
    } finally {
      vm?.kill();
      target.kill();
    }
  }, 3 * BOOT_TIMEOUT_MS);
});
