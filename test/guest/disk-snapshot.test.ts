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
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprintRanges } from '../../src/storage/identity.js';
import { diskGuestFiles, haveBuildOutputs, IMAGES, DISK_MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS } from './session.js';
import { BIN, CTRL_A_C, TerminalCli } from './terminal-cli.js';

const SEABIOS = '/usr/share/seabios/bios-256k.bin';
const ready = haveBuildOutputs('the disk guest snapshot test (test/guest/disk-snapshot.test.ts)', [SEABIOS, ...diskGuestFiles()]);
const ROUNDS = 30;


describe.skipIf(!ready)('the disk guest saved in the middle of a checksum loop over a file on its disk', () => {
  it('is restored in a fresh process, finishes the loop right, and still has what it wrote before the save', async () => {
    const m = JSON.parse(readFileSync(DISK_MANIFEST, 'utf8')) as { disk: string; prompt: string; size: number };
    const image = join(IMAGES, m.disk);
    const dir = mkdtempSync(join(tmpdir(), 'webx86-disk-snap-'));
    try {
      const snap = join(dir, 'disk.wx86snap');
      const boot = ['run', '--boot', 'disk', '--memory', '128'];

      const vm = new TerminalCli([...boot, '--disk', image], true);
      let md5 = '';
      try {
        await vm.waitFor(m.prompt, 0);
        await vm.quiet();
        const write = await vm.shell('dd if=/dev/urandom of=/root/data bs=1k count=1024 2>/dev/null; md5sum /root/data > /root/data.md5; '
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
      const restored = new TerminalCli(['run', '--loadvm', snap, '--disk', image], false);
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
      const recorded = new TerminalCli(['run', '--loadvm', snap], false);
      try {
        const from = await recorded.waitFor(`restored ${snap}`, 0);
        await recorded.waitFor(/round-\d+\n/, from);
      } finally {
        recorded.kill();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BOOT_TIMEOUT_MS * 3);
});
