// `bin/webx86 ARGS` on a pseudo-terminal (util-linux `script`), as a user runs it: the Ctrl-A
// keys (the monitor) work only on a terminal in raw mode, piped input goes to the guest byte for
// byte. What it shows (stdout and stderr, CRs and escape sequences removed) collects in `text`.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { QUIET_CONSOLE, endMarker, marked, markedOutput } from '../shell-markers.js';
import { BOOT_TIMEOUT_MS } from './session.js';

export const BIN = resolve(import.meta.dirname ?? __dirname, '../../bin/webx86');
export const CTRL_A_C = '\x01c';
export const MONITOR_PROMPT = '(webx86) ';

export class TerminalCli {
  text = '';
  readonly exited: Promise<number | null>;
  private readonly child;
  private readonly waiters: (() => void)[] = [];

  /** `terminal` false: piped, as a script runs it (no monitor keys then). */
  constructor(args: string[], terminal = true) {
    const quoted = [BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    // -e: script exits with the program's status; -f: its output is not held back.
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

  type(text: string): void {
    this.child.stdin.write(text);
  }

  /** Wait until `what` (a string, or a pattern) appears after `from`; returns where it ends. */
  async waitFor(what: string | RegExp, from: number, timeoutMs = BOOT_TIMEOUT_MS): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (typeof what === 'string') {
        const at = this.text.indexOf(what, from);
        if (at >= 0) return at + what.length;
      } else {
        const m = new RegExp(what.source, what.flags.replace('g', '') + 'g');
        m.lastIndex = from;
        const found = m.exec(this.text);
        if (found) return found.index + found[0].length;
      }
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no ${String(what)} (exit ${this.child.exitCode}); last output: ${JSON.stringify(this.text.slice(-1500))}`);
      }
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 1000); });
    }
  }

  /** Type a shell command between markers at the guest's prompt; resolves to its output. */
  async shell(command: string, id: string): Promise<string> {
    const from = this.text.length;
    this.type(`${marked(command, id)}\r`);
    await this.waitFor(endMarker(id), from);
    return markedOutput(this.text, id, from)!;
  }

  /**
   * QUIET_CONSOLE as a command of its own, at the first prompt. Kernel messages printed before it
   * takes effect (the TSC clocksource switch comes a second or two after the prompt) land in its
   * output, which is dropped, and not in the next command's.
   */
  async quiet(): Promise<void> {
    await this.shell(QUIET_CONSOLE, 'Q');
  }

  /** Ctrl-A c, a monitor command, then (unless the session ends) Ctrl-A c back; resolves to what the command printed. */
  async monitor(command: string, ends?: string): Promise<string> {
    let from = this.text.length;
    this.type(CTRL_A_C);
    from = await this.waitFor(MONITOR_PROMPT, from);
    this.type(`${command}\r`);
    const start = await this.waitFor(`${command}\n`, from);
    if (ends !== undefined) {
      const end = await this.waitFor(ends, start);
      return this.text.slice(start, end);
    }
    const end = await this.waitFor(MONITOR_PROMPT, start);
    this.type(CTRL_A_C);
    return this.text.slice(start, end - MONITOR_PROMPT.length);
  }

  kill(): void {
    this.child.kill();
  }
}
