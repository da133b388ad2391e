// The lines <x86-vm> types (src/embed/shell-command.ts) reach the guest's real busybox shell
// whole even when a terminal's answer to the shell's cursor query arrives just before them.
//
// After each prompt busybox's line editor asks where the cursor is (ESC [ 6 n), and a terminal
// answers with a cursor position report, ESC [ row ; column R (ECMA-48 CPR, what xterm.js
// sends). A prompt on the top row of a cleared screen, as after a restore, gets ESC [ 1 ; 5 R,
// and busybox's key reader swallows up to 10 bytes typed right behind that one. The test types
// the answer and the line in one burst, in deterministic mode, where the shell reads them as
// one burst in every run: a run() line must still run, and the empty line a restored machine
// gets must still bring a fresh prompt.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { EMPTY_LINE, commandMarkers, commandOutput, markedCommandLine } from '../../src/embed/shell-command.js';
import { guestFiles, guestImages, haveBuildOutputs, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS } from './session.js';

const haveImages = haveBuildOutputs('the typed-lines guest test (test/guest/typed-lines.test.ts)', guestFiles());

/** What a terminal answers to ESC [ 6 n with its cursor on row 1, column 5 (after "~ # "). */
const TOP_ROW_ANSWER = '\x1b[1;5R';

describe.skipIf(!haveImages)('Linux guest: lines typed right behind a terminal\'s cursor report', () => {
  it('run()\'s line runs, and the empty line after a restore brings a fresh prompt', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { kernel: string; vmlinux?: string; initrd: string; cmdline: string; prompt: string };
    let text = '';
    let step = 0;
    let from = 0;
    let emptyLineAt = -1;
    const outputs: Record<string, string> = {};
    const promptSince = (at: number) => at >= 0 && text.slice(at).includes(m.prompt);
    /** Command `id` has ended and the shell has printed its prompt again. */
    const done = (id: string) => commandOutput(text.slice(from), id) !== null && promptSince(text.indexOf(commandMarkers(id).end, from));
    let machine: Machine | null = null;
    const type = (s: string) => machine!.sendSerial(new TextEncoder().encode(s));
    // Each step types from inside onSerial, so the guest gets it at the same point in every run.
    const onSerial = (bytes: Uint8Array) => {
      for (const b of bytes) text += String.fromCharCode(b);
      if (step === 0 && text.includes(m.prompt)) {
        step = 1;
        from = text.length;
        type(`${markedCommandLine('dmesg -n 1', 'quiet')}\r`);
      } else if (step === 1 && done('quiet')) {
        step = 2;
        from = text.length;
        type(`${TOP_ROW_ANSWER}${markedCommandLine('echo top-row', 'top')}\r`);
      } else if (step === 2 && done('top')) {
        outputs.top = commandOutput(text.slice(from), 'top')!;
        step = 3;
        emptyLineAt = text.length;
        type(`${TOP_ROW_ANSWER}${EMPTY_LINE}`);
      } else if (step === 3 && promptSince(emptyLineAt)) {
        step = 4;
        type('poweroff -f\r');
      }
    };
    machine = await Machine.create({
      memoryMiB: 64, cmdline: m.cmdline, clock: 'deterministic',
      ...guestImages(m),
    }, { onSerial });
    const timer = setTimeout(() => machine!.stop(), BOOT_TIMEOUT_MS);
    const reason = await machine.run().finally(() => clearTimeout(timer));
    const tail = JSON.stringify(text.slice(-600));
    expect(step, `the session stopped at step ${step}; the console ended with ${tail}`).toBe(4);
    expect(reason).toBe('poweroff');
    expect(outputs.top).toBe('top-row');
  }, BOOT_TIMEOUT_MS + 60_000);
});
