// What the browser tests share: Debian's chromium through playwright-core, and a shell in the
// page's terminal driven the way a user types. Commands go between markers, and their output is
// read back between them (test/shell-markers.ts), so kernel messages printed meanwhile cannot be
// mistaken for, or cut into, a command's output.
import { chromium, type Browser, type Page } from 'playwright-core';
import { endMarker, marked, markedOutput } from '../shell-markers';

const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A Linux boot in an interpreter can take minutes on a loaded CI machine. */
export const BOOT_TIMEOUT_MS = 600_000;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

export const serialText = (page: Page) => page.evaluate(() => window.__webx86!.serialText());
export const errorText = (page: Page) => page.evaluate(() => window.__webx86!.errorText());

/** Marker ids, unique in a test process, so a terminal's text never holds two commands with one id. */
let lastId = 0;

export interface ShellOptions {
  /** The shell's prompt (trailing blanks are trimmed in the terminal's text). */
  prompt: string;
  /** What the guest's init prints before its first prompt. */
  banner: string;
  commandTimeoutMs: number;
  /** Fail at once when the page shows an error (default); false where a test expects errors while the VM runs on. */
  failOnPageError?: boolean;
}

/** The page's terminal as a shell: waiting for text, typing commands, reading their output. */
export function guestShell(o: ShellOptions) {
  const prompt = o.prompt.trimEnd();
  const failOnPageError = o.failOnPageError ?? true;

  /** Wait until the terminal text passes `test`; on timeout (or a page error) say what the terminal showed. */
  async function waitForTerminal(page: Page, test: (text: string) => boolean, what: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    while (Date.now() < deadline) {
      text = await serialText(page);
      if (test(text)) return text;
      const error = failOnPageError ? await errorText(page) : '';
      if (error) throw new Error(`page showed an error while waiting for ${what}: ${error}\n--- terminal ---\n${text.slice(-3000)}`);
      await page.waitForTimeout(250);
    }
    throw new Error(`timed out waiting for ${what}\n--- error box ---\n${await errorText(page)}\n--- terminal ---\n${text.slice(-3000)}`);
  }

  /** A line after `from` starts with the prompt. */
  const promptAfter = (text: string, from: number) => from >= 0 && text.slice(from).split('\n').slice(1).some((l) => l.startsWith(prompt));

  /**
   * The guest's init printed its banner and the shell its prompt after it. Not "the last line is
   * the prompt": kernel messages may still follow the prompt until QUIET_CONSOLE.
   */
  const booted = (text: string) => promptAfter(text, text.lastIndexOf(o.banner));

  /** Type a command between markers; returns its marker id. */
  async function typeCommand(page: Page, command: string): Promise<string> {
    const id = String(++lastId);
    await page.evaluate((c) => window.__webx86!.type(c + '\r'), marked(command, id));
    return id;
  }

  /** Wait for the end of command `id` and the prompt after it; return its output. */
  async function commandOutput(page: Page, id: string, timeoutMs = o.commandTimeoutMs): Promise<string> {
    const text = await waitForTerminal(page, (t) => promptAfter(t, t.indexOf(endMarker(id))),
      `the end of command ${id} and the prompt after it`, timeoutMs);
    return markedOutput(text, id)!;
  }

  /** Type a command, wait for the next prompt, return its output. */
  async function runCommand(page: Page, command: string, timeoutMs = o.commandTimeoutMs): Promise<string> {
    return commandOutput(page, await typeCommand(page, command), timeoutMs);
  }

  return { waitForTerminal, promptAfter, booted, typeCommand, commandOutput, runCommand };
}
