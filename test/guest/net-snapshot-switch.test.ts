// A TCP connection open across a save and restore in a fresh process, and across a live migration
// between two processes, as real hypervisors keep one: the connection's state lives in the guest's
// kernel, the network between the VM and its peer is outside the VMM process (`bin/webx86 switch`,
// a hub), and the moved VM comes back on the same segment with the same MAC and address.
//
// B, a default guest on the switch, serves an echo (busybox `nc -l -e cat`) at 10.0.7.2. A, a
// default guest at 10.0.7.1, writes numbered lines, ten a second, through one nc connection and
// keeps the echoes in a file; at the end it prints the file's MD5 and line count, checked here
// against the lines computed in Node. Mid-transfer:
//   - save: A is stopped, saved with the monitor's savevm, and its process quits; a fresh
//     `bin/webx86 run --loadvm FILE --net socket,connect=...` goes on with the same connection;
//   - migrate: A's process sends the machine to a `bin/webx86 run --incoming ... --net
//     socket,connect=...` on the same switch, and ends.
// Both times every line comes back once, in order, over the connection opened before the move.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestFiles, haveBuildOutputs, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS } from './session.js';
import { BIN, CTRL_A_C, TerminalCli } from './terminal-cli.js';

const haveImages = haveBuildOutputs('the network snapshot guest test (test/guest/net-snapshot-switch.test.ts)', guestFiles());
const LINES = 150;
const A_MAC = '52:54:00:00:07:01';
const B_MAC = '52:54:00:00:07:02';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sent = Array.from({ length: LINES }, (_, i) => `line-${i}\n`).join('');

/** A's loop: lines to B through nc (a mark on the console for each), the echoes into /tmp/echo, then their MD5 and count. */
const ECHO_LOOP = `i=0; while [ $i -lt ${LINES} ]; do echo "line-$i"; echo "at-$i" >&2; i=$((i+1)); usleep 100000; done | nc 10.0.7.2 5000 > /tmp/echo; `
  + 'echo "echo-md5 $(md5sum < /tmp/echo | cut -c1-32) $(wc -l < /tmp/echo)"';
const RESULT = /echo-md5 ([0-9a-f]{32}) (\d+)\n/;

describe.skipIf(!haveImages)('Linux guests on bin/webx86 switch: a TCP connection open across save/restore and live migration', () => {
  const m = haveImages ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string } : { prompt: '' };
  let sw: ChildProcess | null = null;
  let port = 0;
  let b: TerminalCli | null = null;

  beforeAll(async () => {
    sw = spawn(BIN, ['switch', '--listen', '0']);
    port = await new Promise<number>((done, fail) => {
      let out = '';
      sw!.stdout!.on('data', (d: Buffer) => { out += d.toString(); const x = /listening on [^:]+:(\d+)/.exec(out); if (x) done(Number(x[1])); });
      sw!.on('exit', () => fail(new Error(`the switch exited: ${out}`)));
    });
    // B: the echo server, serving one connection after another.
    b = new TerminalCli(['run', '--net', `socket,connect=127.0.0.1:${port},mac=${B_MAC}`], false);
    await b.waitFor(m.prompt, 0);
    await b.quiet();
    expect(await b.shell('ifconfig eth0 10.0.7.2 netmask 255.255.255.0 up; (while :; do nc -l -p 5000 -e cat; done) & echo b-up', 'B1')).toBe('b-up\n');
  }, BOOT_TIMEOUT_MS);

  afterAll(() => {
    b?.kill();
    sw?.kill();
  });

  /** A on the switch, at its prompt with its address set, then the echo loop started; resolves once `lines` lines went out. */
  async function startA(lines: number): Promise<TerminalCli> {
    const a = new TerminalCli(['run', '--net', `socket,connect=127.0.0.1:${port},mac=${A_MAC}`]);
    await a.waitFor(m.prompt, 0);
    await a.quiet();
    expect(await a.shell('ifconfig eth0 10.0.7.1 netmask 255.255.255.0 up; ping -c 1 -W 10 10.0.7.2 >/dev/null && echo a-up', 'A1')).toBe('a-up\n');
    const from = a.text.length;
    a.type(`${ECHO_LOOP}\r`);
    await a.waitFor(`at-${lines}\n`, from);
    return a;
  }

  /** The lines A marked as sent in `text` (the typed command's `at-$i` does not match). */
  const marks = (text: string) => [...text.matchAll(/at-(\d+)\n/g)].map((x) => Number(x[1]));

  it('A saved mid-transfer, its process gone, a fresh --loadvm process finishes the transfer over the same connection', async () => {
    const a = await startA(40);
    const dir = mkdtempSync(join(tmpdir(), 'webx86-net-snap-'));
    const snap = join(dir, 'a.wx86snap');
    let restored: TerminalCli | null = null;
    try {
      // Stopped first, so nothing more leaves A between the save and the end of its process.
      await a.monitor('stop');
      expect(await a.monitor('info status')).toMatch(/^VM status: paused$/m);
      expect(await a.monitor(`savevm ${snap}`)).toMatch(/^saved .*a\.wx86snap \([\d.]+ MiB; the guest paused \d+ ms\)$/m);
      const last = Math.max(...marks(a.text));
      expect(last).toBeLessThan(LINES - 1);
      a.type(`${CTRL_A_C}quit\r`);
      expect(await a.exited).toBe(0);

      // The switch's other end (B) has heard nothing from A for a while; the connection is still open.
      restored = new TerminalCli(['run', '--loadvm', snap, '--net', `socket,connect=127.0.0.1:${port}`], false);
      const from = await restored.waitFor(`restored ${snap}`, 0);
      const done = await restored.waitFor(RESULT, from);
      const after = restored.text.slice(from, done);
      const result = RESULT.exec(after)!;
      expect(result[2]).toBe(String(LINES));
      expect(result[1]).toBe(md5(sent));
      // It went on from where it was saved: the marks after the restore follow the last one before.
      const next = marks(after);
      expect(next[0]).toBe(last + 1);
      expect(next[next.length - 1]).toBe(LINES - 1);
      expect(await restored.shell('cat /tmp/echo | head -n 3; tail -n 1 /tmp/echo', 'A2')).toBe(`line-0\nline-1\nline-2\nline-${LINES - 1}\n`);
      restored.type('poweroff -f\n');
      expect(await restored.exited).toBe(0);
    } finally {
      a.kill();
      restored?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 3 * BOOT_TIMEOUT_MS);

  it('A migrated mid-transfer to a process on the same switch finishes the transfer there over the same connection', async () => {
    const target = new TerminalCli(['run', '--incoming', 'tcp:127.0.0.1:0', '--net', `socket,connect=127.0.0.1:${port}`], false);
    let a: TerminalCli | null = null;
    try {
      const waiting = await target.waitFor(/waiting for a migration on tcp:127\.0\.0\.1:\d+\n/, 0);
      const targetPort = Number(/tcp:127\.0\.0\.1:(\d+)\n$/.exec(target.text.slice(0, waiting))![1]);
      a = await startA(40);
      const moved = await a.monitor(`migrate tcp:127.0.0.1:${targetPort}`, 'it runs there now');
      expect(moved).toMatch(/\nmigrated: \d+ rounds, then \d+ pages/);
      expect(await a.exited).toBe(0);
      const last = Math.max(...marks(a.text));
      const from = await target.waitFor(/migration complete: [^\n]*; the guest runs here\n/, 0);
      const done = await target.waitFor(RESULT, from);
      const after = target.text.slice(from, done);
      const result = RESULT.exec(after)!;
      expect(result[2]).toBe(String(LINES));
      expect(result[1]).toBe(md5(sent));
      const next = marks(after);
      expect(next[0]).toBeLessThanOrEqual(last + 1);
      expect(next[next.length - 1]).toBe(LINES - 1);
      target.type('poweroff -f\n');
      expect(await target.exited).toBe(0);
    } finally {
      a?.kill();
      target.kill();
    }
  }, 3 * BOOT_TIMEOUT_MS);
});
