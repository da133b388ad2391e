// A snapshot of the disk guest (disk-images/disk.mjs: SeaBIOS, extlinux, Linux on an AHCI disk's
// ext4 root) in the middle of a workload on its disk, restored in a fresh process. The guest
// writes a file of random bytes and its MD5 before the save, then runs a loop that drops the page
// cache, copies the file, syncs, drops the cache again and checks copy and MD5, so every round
// reads and writes the disk: commands are in flight whenever the monitor's savevm stops it. The
// monitor's loadvm takes the same machine back to it a few rounds later, and the loop ends right. A
// second `bin/webx86 run --loadvm F --disk IMAGE` process finishes the loop with every round
// right, and reads the file written before the save back from the disk (cache dropped after a
// read-only remount). A third process given another image is refused in one line; a fourth,
// given no image, takes the path the snapshot recorded.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprintRanges } from '../../src/storage/identity.js';
import { diskGuestFiles, haveBuildOutputs, IMAGES, DISK_MANIFEST } from '../images.js';
import { endMarker, marked, markedOutput } from '../shell-markers.js';
import { BOOT_TIMEOUT_MS } from './session.js';

const BIN = resolve(__dirname, '../../bin/webx86');
const SEABIOS = '/usr/share/seabios/bios-256k.bin';
const ready = haveBuildOutputs('the disk guest snapshot test (test/guest/disk-snapshot.test.ts)', [SEABIOS, ...diskGuestFiles()]);
const CTRL_A_C = '\x01c';
const MONITOR_PROMPT = '(webx86) ';
const ROUNDS = 30;

/** `bin/webx86 ARGS`, on a pseudo-terminal (`script`) when the monitor's Ctrl-A keys are needed. */
class Cli {
  text = '';
  readonly exited: Promise<number | null>;
  private readonly child;
  private readonly waiters: (() => void)[] = [];
  constructor(args: string[], terminal: boolean) {
    const quoted = [BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    this.child = terminal
      ? spawn('script', ['-qefc', quoted, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const take = (d: Buffer): void => {
      // eslint-disable-next-line no-control-regex
      this.text += d.toString('latin1').replace(/\x1b\[[0-9;?]*[@-~]/g, '').replace(/\r/g, '');
      for (const w of this.waiters.splice(0)) w();
    };
    this.child.stdout.on('data', take);
    this.child.stderr.on('data', take);
    this.exited = new Promise((done) => this.child.on('exit', (status) => { done(status); for (const w of this.waiters.splice(0)) w(); }));
  }
  type(text: string): void { this.child.stdin.write(text); }
  async waitFor(what: string | RegExp, from: number): Promise<number> {
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    for (;;) {
      const rest = this.text.slice(from);
      const m = typeof what === 'string' ? (rest.includes(what) ? { index: rest.indexOf(what), 0: what } : null) : rest.match(what);
      if (m) return from + m.index! + m[0].length;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no ${String(what)} (exit ${this.child.exitCode}); last output: ${JSON.stringify(this.text.slice(-1500))}`);
      }
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 1000); });
    }
  }
  async shell(command: string, id: string): Promise<string> {
    const from = this.text.length;
    this.type(`${marked(command, id)}\n`);
    await this.waitFor(endMarker(id), from);
    return markedOutput(this.text, id, from)!;
  }
  async monitor(command: string): Promise<string> {
    let from = this.text.length;
    this.type(CTRL_A_C);
    from = await this.waitFor(MONITOR_PROMPT, from);
    this.type(`${command}\r`);
    const start = await this.waitFor(`${command}\n`, from);
    const end = await this.waitFor(MONITOR_PROMPT, start);
    this.type(CTRL_A_C);
    return this.text.slice(start, end - MONITOR_PROMPT.length);
  }
  kill(): void { this.child.kill(); }
}

describe.skipIf(!ready)('the disk guest saved in the middle of a checksum loop over a file on its disk', () => {
  it('is restored in a fresh process, finishes the loop right, and still has what it wrote before the save', async () => {
    const m = JSON.parse(readFileSync(DISK_MANIFEST, 'utf8')) as { disk: string; prompt: string; size: number };
    const image = join(IMAGES, m.disk);
    const dir = mkdtempSync(join(tmpdir(), 'webx86-disk-snap-'));
    const snap = join(dir, 'disk.wx86snap');
    const boot = ['run', '--boot', 'disk', '--memory', '128'];

    const vm = new Cli([...boot, '--disk', image], true);
    let md5 = '';
    try {
      await vm.waitFor(m.prompt, 0);
      const write = await vm.shell('dmesg -n 1; dd if=/dev/urandom of=/root/data bs=1k count=1024 2>/dev/null; md5sum /root/data > /root/data.md5; '
        + 'echo written-before-save > /root/note; sync; cat /root/data.md5', 'A');
      md5 = write.split(' ')[0]!;
      expect(md5).toMatch(/^[0-9a-f]{32}$/);
      // The loop: every round goes to the disk (the cache dropped before each read).
      vm.type(`i=0; while [ $i -lt ${ROUNDS} ]; do echo 3 > /proc/sys/vm/drop_caches; cp /root/data /root/copy; sync; echo 3 > /proc/sys/vm/drop_caches; `
        + 'if cmp -s /root/data /root/copy && md5sum -c /root/data.md5 >/dev/null 2>&1; then i=$((i+1)); echo "round-$i"; else echo "BAD-$i"; break; fi; done; echo "loop-end-$i"\n');
      await vm.waitFor('round-3\n', 0);
      // (The guest's rounds go on printing around the monitor's answer.)
      const saved = await vm.monitor(`savevm ${snap}`);
      expect(saved).toMatch(/^saved .*disk\.wx86snap \([\d.]+ MiB; the guest paused \d+ ms\)$/m);
      const roundAtSave = Number(/round-(\d+)\n(?![\s\S]*round-)/.exec(vm.text)![1]);
      expect(roundAtSave).toBeLessThan(ROUNDS);
      // The monitor's loadvm into this running machine: its disk goes back to the saved overlay
      // while the guest is a few rounds further, and the loop still ends right.
      await vm.waitFor(`round-${Math.min(ROUNDS, roundAtSave + 3)}\n`, 0);
      const loaded = await vm.monitor(`loadvm ${snap}`);
      expect(loaded).toMatch(/^loaded .*disk\.wx86snap$/m);
      const from = vm.text.lastIndexOf('loaded ');
      const end = await vm.waitFor(/loop-end-\d+\n/, from);
      expect(vm.text.slice(from, end)).not.toContain('BAD-');
      expect(vm.text.slice(from, end)).toContain(`loop-end-${ROUNDS}\n`);
      vm.type(`${CTRL_A_C}quit\r`);
      expect(await vm.exited).toBe(0);
    } finally {
      vm.kill();
    }

    // A fresh process from the file and the same image: the loop goes on to the end, every round right.
    const restored = new Cli(['run', '--loadvm', snap, '--disk', image], false);
    try {
      const from = await restored.waitFor(`restored ${snap}`, 0);
      const end = await restored.waitFor(/loop-end-\d+\n/, from);
      const after = restored.text.slice(from, end);
      expect(after).not.toContain('BAD-');
      expect(after).toContain(`round-${ROUNDS}\n`);
      expect(after).toContain(`loop-end-${ROUNDS}\n`);
      expect(after).not.toMatch(/\bround-1\n/); // it went on, it did not start again
      // What was written before the save, read from the disk (everything written back by the
      // read-only remount, then the cache dropped).
      const back = await restored.shell('mount -o remount,ro / && echo 3 > /proc/sys/vm/drop_caches && cat /root/note && md5sum /root/data /root/copy', 'B');
      expect(back).toBe(`written-before-save\n${md5}  /root/data\n${md5}  /root/copy\n`);
      restored.type('poweroff -f\n');
      expect(await restored.exited).toBe(0);
    } finally {
      restored.kill();
    }

    // Another image (one sampled byte changed): refused in one line, exit status 2.
    const other = join(dir, 'other.img');
    copyFileSync(image, other);
    const bytes = readFileSync(other);
    const at = fingerprintRanges(bytes.length)[20]![0] + 77;
    bytes[at] ^= 0xff;
    writeFileSync(other, bytes);
    const r = spawnSync(BIN, ['run', '--loadvm', snap, '--disk', other], { encoding: 'utf8', timeout: 120_000, input: '' });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^webx86: --loadvm ${snap}: the image given for disk sata0 \\(${other}\\) is not the one the snapshot was saved with \\(fingerprint [0-9a-f]{12}…, the snapshot's [0-9a-f]{12}…\\)\\n$`));

    // No image given: the path the snapshot recorded.
    const recorded = new Cli(['run', '--loadvm', snap], false);
    try {
      const from = await recorded.waitFor(`restored ${snap}`, 0);
      await recorded.waitFor(/round-\d+\n/, from);
    } finally {
      recorded.kill();
    }
  }, BOOT_TIMEOUT_MS * 3);
});
