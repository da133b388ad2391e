// Live migration between two `bin/webx86` processes over TCP on 127.0.0.1, with the default
// Linux guest in the middle of a checksum loop: each pass writes a fresh file to tmpfs
// (`seq i i+20000`) and 4 MiB more (so the rounds have pages to chase), prints the file's MD5 and
// appends the line to /tmp/all; at the end the guest prints the MD5 of /tmp/all. Every MD5 is computed here
// in Node, independently. The source is driven through its monitor (Ctrl-A c, `migrate`), the
// target is `webx86 run --incoming`. Before the real move: a port where nothing listens and a
// target with another initrd are refused in one line and the source's guest runs on; a target
// fed a damaged frame says so in one line and exits with status 2.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { guestFiles, haveBuildOutputs, IMAGES, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS } from './session.js';
import { BIN, TerminalCli } from './terminal-cli.js';

/** The default guest's initrd compressed: another file than the source's. */
const OTHER_INITRD = join(IMAGES, 'initramfs.cpio.gz');
const haveImages = haveBuildOutputs('the live migration guest test (test/guest/migrate.test.ts)', [...guestFiles(), OTHER_INITRD]);
const PASSES = 40;
const LINES = 20_000;

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
/** What `seq i i+LINES` prints. */
function seqText(i: number): string {
  let s = '';
  for (let n = i; n <= i + LINES; n++) s += `${n}\n`;
  return s;
}

/** `webx86 run --incoming tcp:127.0.0.1:0` with pipes: the guest's console on stdout, the CLI's lines on stderr. */
class Target {
  out = '';
  err = '';
  readonly exited: Promise<number | null>;
  private readonly child;

  constructor(args: string[] = []) {
    this.child = spawn(BIN, ['run', '--incoming', 'tcp:127.0.0.1:0', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d: Buffer) => { this.out += d.toString('latin1').replace(/\r/g, ''); });
    this.child.stderr.on('data', (d: Buffer) => { this.err += d.toString('latin1'); });
    this.exited = new Promise((done) => this.child.on('exit', (status) => done(status)));
  }

  async until(pick: () => string, what: RegExp, timeoutMs = BOOT_TIMEOUT_MS): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = what.exec(pick());
      if (m) return m;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no ${what} (exit ${this.child.exitCode}); stderr: ${JSON.stringify(this.err.slice(-800))}; stdout: ${JSON.stringify(this.out.slice(-800))}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The port it listens on, once it says so. */
  async port(): Promise<number> {
    return Number((await this.until(() => this.err, /waiting for a migration on tcp:127\.0\.0\.1:(\d+)\n/))[1]);
  }

  type(text: string): void { this.child.stdin.write(text); }
  kill(): void { this.child.kill(); }
}

describe.skipIf(!haveImages)('Linux guest: live migration between two webx86 processes over TCP', () => {
  const m = haveImages ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string } : { prompt: '' };

  it('a target fed a damaged frame says so in one line and exits with status 2', async () => {
    const t = new Target();
    try {
      const port = await t.port();
      const sock = connect({ host: '127.0.0.1', port });
      await new Promise((r) => sock.once('connect', r));
      sock.write(Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      expect(await t.exited).toBe(2);
      expect(t.err).toMatch(/\nwebx86: --incoming tcp:127\.0\.0\.1:0: bad frame from the source: a frame header fails its checksum \(not a webx86 migration stream, or a damaged one\)\n$/);
      sock.destroy();
    } finally {
      t.kill();
    }
  }, 120_000);

  it('the guest moves in the middle of its checksum loop and finishes it on the target with the right sums; the source stops', async () => {
    const vm = new TerminalCli(['run', '--memory', '128']);
    let target: Target | null = null;
    try {
      await vm.waitFor(m.prompt, 0);
      await vm.quiet();
      expect(await vm.shell('echo ready-$((6*7))', 'A')).toBe('ready-42\n');

      // Nothing listens there: one line, and the guest runs on.
      const free = createServer();
      await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
      const closedPort = (free.address() as { port: number }).port;
      await new Promise((r) => free.close(r));
      expect(await vm.monitor(`migrate tcp:127.0.0.1:${closedPort}`)).toBe(
        `migrate: cannot connect to 127.0.0.1:${closedPort}: connection refused (is \`webx86 run --incoming\` waiting there?); the VM runs on here\n`);
      // A target started with another initrd: it refuses by name, both sides say so, the guest runs on.
      const wrong = new Target(['--initrd', OTHER_INITRD]);
      try {
        const refused = await vm.monitor(`migrate tcp:127.0.0.1:${await wrong.port()}`);
        expect(refused).toMatch(/^migrate: the target gave up: the target cannot build the source's machine: the initrd given \(SHA-256 [0-9a-f]{16}[^)]*\) is not the one the source runs \([0-9a-f]{16}[^)]*\); the VM runs on here\n$/);
        expect(await wrong.exited).toBe(2);
        expect(wrong.err).toMatch(/\nwebx86: --incoming tcp:127\.0\.0\.1:0: the target cannot build the source's machine: the initrd given [^\n]*\n$/);
      } finally {
        wrong.kill();
      }
      expect(await vm.monitor('info migrate')).toMatch(/^migration to tcp:127\.0\.0\.1:\d+: failed\nmigrate: the target gave up: [^\n]+\n$/);
      expect(await vm.shell('echo alive-$((2+3))', 'B')).toBe('alive-5\n');

      // The real move, mid-loop.
      target = new Target();
      const port = await target.port();
      const loop = `rm -f /tmp/all; i=0; while [ $i -lt ${PASSES} ]; do seq $i $((i+${LINES})) > /tmp/f; dd if=/dev/zero of=/tmp/z bs=64k count=64 2>/dev/null; s=$(md5sum /tmp/f | cut -c1-32); `
        + 'echo "sum $i $s" >> /tmp/all; echo "sum $i $s"; i=$((i+1)); done; echo "final $(md5sum /tmp/all | cut -c1-32)"';
      const from = vm.text.length;
      vm.type(`${loop}\r`);
      await vm.waitFor(/sum 2 [0-9a-f]{32}\n/, from);
      // The guest runs on while the monitor works: its loop may print before or between the monitor's lines.
      const moved = await vm.monitor(`migrate tcp:127.0.0.1:${port}`, 'it runs there now');
      expect(moved).toMatch(/round 0: \d+ pages sent \(\d+ zero\), \d+ dirtied meanwhile, [\d.]+ MiB in \d+ ms\n/);
      expect(moved).toMatch(/\nmigrated: \d+ rounds, then \d+ pages and \d+ KiB of device state with the guest stopped; [\d.]+ MiB in \d+ ms, downtime \d+ ms \(target load \d+ ms\)\n/);
      expect(moved).toContain(`webx86: the VM moved to tcp:127.0.0.1:${port}; it runs there now`);
      expect(await vm.exited).toBe(0);

      // Round 0 sent all 128 MiB as pages or zero markers (minus what the balloon holds: nothing here).
      expect(Number(/round 0: (\d+) pages/.exec(moved)![1])).toBe(128 * 256);
      await target.until(() => target!.err, /migration complete: \d+ pages in \d+ rounds, state loaded in \d+ ms; the guest runs here\n/);
      const final = await target.until(() => target!.out, /final ([0-9a-f]{32})\n/);

      // Every sum, wherever it was printed, is the one computed here; both sides printed some.
      let all = '';
      for (let i = 0; i < PASSES; i++) all += `sum ${i} ${md5(seqText(i))}\n`;
      expect(final[1]).toBe(md5(all));
      const sums = (text: string) => [...text.matchAll(/sum (\d+) ([0-9a-f]{32})\n/g)].map((x) => `sum ${x[1]} ${x[2]}\n`);
      const before = sums(vm.text.slice(from));
      const after = sums(target.out);
      expect(before.length).toBeGreaterThan(2);
      expect(after.length).toBeGreaterThan(0);
      for (const line of [...before, ...after]) expect(all).toContain(line);
      expect(after[after.length - 1]).toBe(`sum ${PASSES - 1} ${md5(seqText(PASSES - 1))}\n`);

      // The target's guest answers on its console.
      target.type('echo target-$((3*3))\n');
      await target.until(() => target!.out, /target-9\n/, 60_000);
      target.type('poweroff -f\n');
      expect(await target.exited).toBe(0);
    } finally {
      vm.kill();
      target?.kill();
    }
  }, 3 * BOOT_TIMEOUT_MS);
});
