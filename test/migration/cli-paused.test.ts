// A guest paused with the monitor's stop and then migrated between two `bin/webx86` processes
// arrives paused, as QEMU's target resumes only a guest that was running: the target says so,
// prints nothing, its monitor's `info status` says paused, and `cont` runs the guest on from the
// very line where the source stopped it. The default Linux guest counts aloud, five a second.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { guestFiles, haveBuildOutputs, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS } from '../guest/session.js';
import { TerminalCli } from '../guest/terminal-cli.js';

const haveImages = haveBuildOutputs('the paused migration CLI test (test/migration/cli-paused.test.ts)', guestFiles());

const ticks = (text: string) => [...text.matchAll(/tick-(\d+)\n/g)].map((x) => Number(x[1]));

describe.skipIf(!haveImages)('bin/webx86: a paused guest migrates paused', () => {
  it('the target keeps it paused until cont, then it goes on from where it stopped', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string };
    const target = new TerminalCli(['run', '--incoming', 'tcp:127.0.0.1:0']);
    let src: TerminalCli | null = null;
    try {
      const waiting = await target.waitFor(/waiting for a migration on tcp:127\.0\.0\.1:\d+\n/, 0);
      const port = Number(/tcp:127\.0\.0\.1:(\d+)\n$/.exec(target.text.slice(0, waiting))![1]);
      src = new TerminalCli(['run']);
      await src.waitFor(m.prompt, 0);
      await src.quiet();
      expect(await src.shell('echo ready', 'P1')).toBe('ready\n');
      const from = src.text.length;
      src.type('i=0; while :; do echo "tick-$i"; i=$((i+1)); usleep 200000; done\r');
      await src.waitFor('tick-5\n', from);
      await src.monitor('stop');
      expect(await src.monitor('info status')).toMatch(/^VM status: paused$/m);
      const last = Math.max(...ticks(src.text.slice(from)));
      const moved = await src.monitor(`migrate tcp:127.0.0.1:${port}`, 'it runs there now');
      expect(moved).toMatch(/\nmigrated: \d+ rounds/);
      expect(await src.exited).toBe(0);
      expect(Math.max(...ticks(src.text.slice(from)))).toBe(last); // nothing more while paused

      const arrived = await target.waitFor(/migration complete: [^\n]*; the guest is paused \(as it was at the source: the monitor's cont runs it\) here\n/, 0);
      await new Promise((r) => setTimeout(r, 2000));
      expect(ticks(target.text.slice(arrived))).toEqual([]);
      expect(await target.monitor('info status')).toMatch(/^VM status: paused$/m);
      await target.monitor('cont');
      await target.waitFor(`tick-${last + 3}\n`, arrived);
      const after = ticks(target.text.slice(arrived));
      expect(after.slice(0, 3)).toEqual([last + 1, last + 2, last + 3]);
      target.type('\x03');
      await target.waitFor(m.prompt, target.text.lastIndexOf(`tick-${last + 3}\n`));
      target.type('poweroff -f\r');
      expect(await target.exited).toBe(0);
    } finally {
      src?.kill();
      target.kill();
    }
  }, 3 * BOOT_TIMEOUT_MS);
});
