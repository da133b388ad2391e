// bin/webx86 run --screen text: the VGA's text screen on the terminal and typing on the PS/2
// keyboard. The default guest is booted with its console on the first virtual console too
// (console=tty0 last, so the shell runs there): Linux's vgacon draws the boot log and the shell,
// and keys typed on stdin reach the shell through the 8042, the keyboard and Linux's atkbd.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestFiles, haveBuildOutputs, MANIFEST } from '../images';

const BIN = resolve(__dirname, '../../bin/webx86');
const haveGuest = haveBuildOutputs('the --screen text test (test/node)', guestFiles());

describe('webx86 run --screen text', () => {
  it.skipIf(!haveGuest)('shows the VGA text console and types on the PS/2 keyboard', async () => {
    const { cmdline } = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { cmdline: string };
    const child = spawn(BIN, ['run', '--deterministic', '--screen', 'text', '--append', `${cmdline} console=tty0`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let step = 0;
    const screens = () => out.split(`\n${'-'.repeat(80)}\n`).filter((s) => s !== '');
    const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const timer = setTimeout(() => child.kill(), 120_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      const last = screens().at(-1) ?? '';
      if (step === 0 && /^~ #/m.test(last)) { step = 1; child.stdin.write('echo $((6*7)) typed\n'); }
      else if (step === 1 && /^42 typed$/m.test(last)) { step = 2; child.stdin.write('poweroff -f\n'); }
    });
    const code = await exit;
    clearTimeout(timer);
    expect(step, out.slice(-3000)).toBe(2);
    expect(code).toBe(0);
    const all = screens();
    expect(all.some((s) => s.includes('Run /init as init process'))).toBe(true); // the boot log, drawn by vgacon
    expect(all.some((s) => /echo \$\(\(6\*7\)\) typed$/m.test(s))).toBe(true); // the typed line, echoed
    for (const s of all) expect(s.split('\n').length).toBeLessThanOrEqual(25);
  }, 150_000);
});
