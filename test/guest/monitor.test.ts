// The CLI's monitor and --loadvm, driven as a user would on a terminal: `bin/webx86 run` runs
// under a pseudo-terminal (util-linux `script`), since the Ctrl-A keys work only on a terminal
// in raw mode (piped input goes to the guest byte for byte). The guest marks a file, the monitor
// saves the machine, the guest removes the file, the monitor loads the machine back and the file
// is there again; a second process started with --loadvm finds it too. A damaged file, and a
// loadvm of a diskless machine's snapshot into a machine with a disk, are refused in one line,
// and the guest runs on. The balloon and system_reset are checked on that machine too.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { guestFiles, haveBuildOutputs, IMAGES, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS } from './session.js';
import { BIN, CTRL_A_C, TerminalCli } from './terminal-cli.js';

/** The default guest's initrd compressed: another file than the one a snapshot is saved with. */
const OTHER_INITRD = join(IMAGES, 'initramfs.cpio.gz');
const haveImages = haveBuildOutputs('the CLI monitor guest test (test/guest/monitor.test.ts)', [...guestFiles(), OTHER_INITRD]);
describe.skipIf(!haveImages)('Linux guest: the monitor\'s savevm and loadvm, and run --loadvm', () => {
  const m = haveImages ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string } : { prompt: '' };
  const dir = mkdtempSync(join(tmpdir(), 'webx86-monitor-'));
  const snapFile = join(dir, 'x.wx86snap');
  const damaged = join(dir, 'damaged.wx86snap');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('savevm, a change, loadvm: the change is undone; a new process started with --loadvm has the file', async () => {
    const vm = new TerminalCli(['run', '--deterministic']);
    try {
      await vm.waitFor(m.prompt, 0);
      await vm.quiet();
      expect(await vm.shell('echo webx86-mon-$((6*7)) > /tmp/mark; cat /tmp/mark', 'A')).toBe('webx86-mon-42\n');
      const saved = await vm.monitor(`savevm ${snapFile}`);
      expect(saved).toMatch(new RegExp(`^saved ${snapFile} \\([\\d.]+ MiB; the guest paused \\d+ ms\\)\\n$`));
      expect(await vm.monitor('info status')).toBe('VM status: running\n');
      expect(await vm.shell('rm /tmp/mark; cat /tmp/mark 2>&1', 'B')).toMatch(/No such file/);
      // A damaged file (a byte flipped in the middle): one line, and the guest runs on as it was.
      const bytes = readFileSync(snapFile);
      bytes[bytes.length >> 1] ^= 0x40;
      writeFileSync(damaged, bytes);
      expect(await vm.monitor(`loadvm ${damaged}`)).toMatch(/^snapshot [^\n]+\n$/);
      expect(await vm.shell('cat /tmp/mark 2>&1', 'B2')).toMatch(/No such file/);
      expect(await vm.monitor(`loadvm ${snapFile}`)).toBe(`loaded ${snapFile}\n`);
      // The guest is back at the prompt it had when saved.
      expect(await vm.shell('cat /tmp/mark', 'C')).toBe('webx86-mon-42\n');
      // stop / cont: paused, the guest does not answer; after cont it does.
      expect(await vm.monitor('stop')).toBe('');
      expect(await vm.monitor('info status')).toBe('VM status: paused\n');
      const from = vm.text.length;
      vm.type('echo resumed-$((2+3))\r');
      await new Promise((r) => setTimeout(r, 2000));
      expect(vm.text.slice(from)).not.toContain('resumed-5');
      await vm.monitor('cont');
      await vm.waitFor('resumed-5\n', from);
      // quit from the monitor: exit status 0.
      vm.type(`${CTRL_A_C}quit\r`);
      expect(await vm.exited).toBe(0);
    } finally {
      vm.kill();
    }

    const restored = new TerminalCli(['run', '--loadvm', snapFile]);
    try {
      await restored.waitFor(`restored ${snapFile}`, 0);
      expect(await restored.shell('cat /tmp/mark', 'D')).toBe('webx86-mon-42\n');
      restored.type('poweroff -f\r');
      expect(await restored.exited).toBe(0);
    } finally {
      restored.kill();
    }

    // The damaged file at start: one line, exit status 2.
    const r = spawnSync(BIN, ['run', '--loadvm', damaged], { encoding: 'utf8', timeout: 120_000, input: '' });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^webx86: --loadvm ${damaged}: snapshot[^\\n]+\\n$`));
    // Another initrd than the one it was saved with (the compressed twin of the same files): named, exit status 2.
    const other = spawnSync(BIN, ['run', '--loadvm', snapFile, '--initrd', OTHER_INITRD], { encoding: 'utf8', timeout: 120_000, input: '' });
    expect(other.status, other.stderr).toBe(2);
    expect(other.stderr).toMatch(/^webx86: --loadvm .*: the initrd given \(SHA-256 [0-9a-f]{16}…\) is not the one the snapshot was saved with[^\n]*\n$/);
  }, 3 * BOOT_TIMEOUT_MS);

  // Uses the first test's snapshot for the loadvm that must be refused.
  it('a machine with a disk: savevm works, a loadvm of a diskless machine is refused in one line; balloon, system_reset', async () => {
    expect(existsSync(snapFile), 'the first test saves the snapshot this one needs').toBe(true);
    const disk = join(dir, 'blank.img');
    writeFileSync(disk, Buffer.alloc(1024 * 1024));
    const vm = new TerminalCli(['run', '--deterministic', '--disk', disk]);
    try {
      await vm.waitFor(m.prompt, 0);
      await vm.quiet();
      expect(await vm.shell('echo webx86-disk > /tmp/mark', 'E')).toBe('');
      // A machine with a disk saves (its overlay goes into the file: test/guest/disk-snapshot.test.ts).
      expect(await vm.monitor(`savevm ${join(dir, 'disk.wx86snap')}`)).toMatch(/^saved [^\n]+disk\.wx86snap \([\d.]+ MiB; the guest paused \d+ ms\)\n$/);
      expect(existsSync(join(dir, 'disk.wx86snap'))).toBe(true);
      expect(await vm.monitor(`loadvm ${snapFile}`)).toBe(
        `loadvm: ${snapFile} was saved from a machine with another set of disks; start it with webx86 run --loadvm ${snapFile}\n`);
      expect(await vm.monitor('info status')).toBe('VM status: running\n');
      expect(await vm.shell('cat /tmp/mark; echo alive-$((1+1))', 'F')).toBe('webx86-disk\nalive-2\n');
      // balloon MIB is the guest's memory (QEMU's meaning): the driver gives up the rest.
      expect(await vm.monitor('balloon 100')).toBe('');
      let info = '';
      for (let i = 0; i < 20 && !info.startsWith('balloon: actual=100\n'); i++) info = await vm.monitor('info balloon');
      expect(info).toMatch(/^balloon: actual=100\nballoon target 28\.0 MiB, holding 28\.0 MiB; guest: .*total memory [\d.]+ MiB/);
      // system_reset boots the guest again (the file in its RAM disk is gone), with an empty balloon.
      const from = vm.text.length;
      await vm.monitor('system_reset');
      await vm.waitFor(m.prompt, await vm.waitFor('Linux version', from));
      await vm.quiet();
      expect(await vm.shell('cat /tmp/mark 2>&1', 'G')).toMatch(/No such file/);
      expect(await vm.monitor('info balloon')).toMatch(/^balloon: actual=128\n/);
      vm.type('poweroff -f\r');
      expect(await vm.exited).toBe(0);
    } finally {
      vm.kill();
    }
  }, BOOT_TIMEOUT_MS + 60_000);
});
