// A scripted serial-console session with a Linux guest, for the guest tests (linux.test.ts,
// disk.test.ts): wait for the prompt, type each command between markers, collect the outputs.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Machine } from '../../src/machine/machine.js';
import { QUIET_CONSOLE, endMarker, marked, markedOutput } from '../shell-markers.js';

/** Host time one boot-use-poweroff session may take with the interpreter (generous). */
export const BOOT_TIMEOUT_MS = Number(process.env.WEBX86_GUEST_TIMEOUT_MIN ?? 25) * 60_000;

/**
 * Host time in ms for the test's own measurements: process.hrtime (monotonic), not the
 * performance.now() that the Machine's realtime clock follows, so the measurement of that clock
 * does not go through the code under test.
 */
export const hostNowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * A scripted serial console session. Each step waits for the prompt and then types the next
 * command from inside onSerial, synchronously: the Machine hands output over when the guest
 * idles, so the command reaches the guest at the same point of its execution in every
 * deterministic run (answering later, from a promise callback, would depend on host timing).
 *
 * The first command is QUIET_CONSOLE, and every command is typed between markers
 * (test/shell-markers.ts): outputs are read between the markers, so kernel messages printed
 * meanwhile cannot be taken for, or cut into, a command's output.
 */
export class Session {
  private chunks: Uint8Array[] = [];
  text = '';
  machine!: Machine;
  /** Output of each command (QUIET_CONSOLE's first): the lines between its markers. */
  private readonly allOutputs: string[] = [];
  /** Host time (hostNowMs) each command was typed, and its end marker first seen. */
  private readonly sentAt: number[] = [];
  private readonly doneAt: number[] = [];
  private readonly script: string[];
  /** 0: waiting for the first prompt; k > 0: waiting for the end of script[k - 1]. */
  private step = 0;
  /** Where in `text` the last command was typed. */
  private searchFrom = 0;

  /**
   * `end`: what follows the last command: 'poweroff -f', or (for a snapshot) stopping the
   * machine at the prompt. `atPrompt`: the machine was saved at its prompt, which it will not
   * print again: type the first command at start().
   */
  constructor(private readonly prompt: string, commands: string[], private readonly end: 'poweroff' | 'stop' = 'poweroff',
              atPrompt = false) {
    this.script = [QUIET_CONSOLE, ...commands].map((c, i) => marked(c, String(i)));
    if (atPrompt) this.text = prompt;
  }

  /** Attach to `machine`; a session at its prompt types its first command now. */
  start(machine: Machine): void {
    this.machine = machine;
    if (this.text !== '') this.onSerial(new Uint8Array(0));
  }

  /** Output of each of the caller's commands. */
  get outputs(): string[] {
    return this.allOutputs.slice(1);
  }

  /** Host milliseconds from typing the caller's command `i` to the appearance of its end marker. */
  hostMs(i: number): number {
    return this.doneAt[i + 1]! - this.sentAt[i + 1]!;
  }

  /** Inside an escape sequence (ESC [ ... final byte) that the text leaves out. */
  private escape = 0;

  onSerial = (bytes: Uint8Array): void => {
    const now = hostNowMs();
    this.chunks.push(bytes.slice());
    // The text the steps look at leaves out terminal escape sequences (busybox's line editor
    // asks for the cursor position, ESC [ 6 n, after each prompt).
    let t = '';
    for (const b of bytes) {
      if (this.escape === 1) this.escape = b === 0x5b ? 2 : 0;
      else if (this.escape === 2) { if (b >= 0x40 && b <= 0x7e) this.escape = 0; }
      else if (b === 0x1b) this.escape = 1;
      else t += String.fromCharCode(b);
    }
    this.text += t;
    // Step 0 waits for the first prompt (kernel messages may follow it, so it need not be the
    // last thing printed); step k > 0 for the end marker of command k-1 and the prompt after it
    // (the console is quiet by then, so nothing else can come between them).
    while (this.step <= this.script.length) {
      if (this.step === 0) {
        if (!this.text.includes(this.prompt)) return;
      } else {
        const id = String(this.step - 1);
        const end = this.text.indexOf(endMarker(id), this.searchFrom);
        if (end < 0) return;
        if (this.doneAt.length < this.step) this.doneAt.push(now);
        if (this.text.indexOf(`\n${this.prompt}`, end) < 0) return;
        this.allOutputs.push(markedOutput(this.text, id, this.searchFrom)!);
      }
      if (this.step === this.script.length && this.end === 'stop') {
        this.step++;
        this.machine.stop();
        return;
      }
      const cmd = this.step < this.script.length ? this.script[this.step] : 'poweroff -f';
      this.step++;
      this.searchFrom = this.text.length;
      this.sentAt.push(hostNowMs());
      this.machine.sendSerial(new TextEncoder().encode(`${cmd}\n`));
    }
  };

  tail(): string {
    return JSON.stringify(this.text.slice(-2000));
  }

  progress(): string {
    const st = this.machine.status();
    return `step ${this.step}/${this.script.length + 1}, machine ${st.state}, ${st.instructions} instructions, ` +
      `${st.guestSeconds.toFixed(2)} guest s${st.error ? `, error: ${st.error}` : ''}; last serial output: ${this.tail()}`;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks.map((b) => Buffer.from(b)));
  }
}

/** Run `machine` (driven by `s`) until it exits; a timeout stops it and fails. */
export async function runSession(machine: Machine, s: Session): Promise<string> {
  s.start(machine);
  const exit = machine.run();
  let timedOut = '';
  const timer = setTimeout(() => {
    timedOut = `timed out (${(BOOT_TIMEOUT_MS / 60_000).toFixed(0)} min): ${s.progress()}`;
    machine.stop();
  }, BOOT_TIMEOUT_MS);
  try {
    const reason = await exit;
    if (timedOut) throw new Error(timedOut);
    return reason;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Run `bin/webx86 ARGS` as a user would: once `when` appears on its output, type `line`; wait for
 * it to exit (killed after BOOT_TIMEOUT_MS). Returns its exit status and what it printed.
 */
export function runCli(args: string[], when: string, line: string): Promise<{ status: number | null; out: string; err: string }> {
  const child = spawn(resolve(__dirname, '../../bin/webx86'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString('latin1'); });
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill(), BOOT_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => {
      const first = !out.includes(when);
      out += d.toString('latin1');
      if (first && out.includes(when)) child.stdin.write(`${line}\n`);
    });
    child.on('exit', (status) => { clearTimeout(timer); done({ status, out, err }); });
  });
}
