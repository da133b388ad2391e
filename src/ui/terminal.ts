// The serial console on the page: an xterm.js terminal wired to COM1.
//
// Guest output arrives as raw bytes (a UART knows nothing of characters), so it is decoded as
// UTF-8 in streaming mode: a multi-byte character split across two ring reads still comes out
// whole. Keys go the other way as UTF-8 bytes. Copy and paste use Ctrl+Shift+C / Ctrl+Shift+V
// (plain Ctrl+C must stay the guest's interrupt), plus the browser's own paste event.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';

/** Lines kept above the screen; also what the test hook can read back. */
const SCROLLBACK_LINES = 5000;

export class SerialTerminal {
  private readonly term: Terminal;
  private readonly fitAddon = new FitAddon();
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private readonly encoder = new TextEncoder();
  private readonly resizeObserver: ResizeObserver;

  constructor(container: HTMLElement, private readonly onInput: (bytes: Uint8Array) => void) {
    this.term = new Terminal({
      scrollback: SCROLLBACK_LINES,
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      theme: { background: '#0b0d10', foreground: '#d8dee9', cursor: '#d8dee9', selectionBackground: '#3b4252' },
      // The guest's tty already turns "\n" into "\r\n"; converting again would double it.
      convertEol: false,
      allowProposedApi: false,
    });
    this.term.loadAddon(this.fitAddon);
    this.term.open(container);
    this.term.onData((text) => this.onInput(this.encoder.encode(text)));
    // onBinary carries raw 0..255 values (some mouse reports): one byte per char, no UTF-8.
    this.term.onBinary((text) => {
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
      this.onInput(bytes);
    });
    this.term.attachCustomKeyEventHandler((ev) => this.clipboardKeys(ev));
    this.resizeObserver = new ResizeObserver(() => this.fit());
    this.resizeObserver.observe(container);
    this.fit();
  }

  /** Ctrl+Shift+C copies the selection, Ctrl+Shift+V pastes; returns false to keep xterm from seeing them. */
  private clipboardKeys(ev: KeyboardEvent): boolean {
    if (ev.type !== 'keydown' || !ev.ctrlKey || !ev.shiftKey) return true;
    const key = ev.key.toLowerCase();
    if (key === 'c') {
      if (this.term.hasSelection()) void navigator.clipboard?.writeText(this.term.getSelection()).catch(() => {});
      ev.preventDefault();
      return false;
    }
    if (key === 'v') {
      void navigator.clipboard?.readText().then((text) => this.term.paste(text)).catch(() => {});
      ev.preventDefault();
      return false;
    }
    return true;
  }

  /** Show bytes the guest wrote to COM1. */
  writeBytes(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const text = this.decoder.decode(bytes, { stream: true });
    if (text) this.term.write(text);
  }

  /** A line from the page itself (not the guest), dimmed so the two are not confused. */
  writeNote(text: string): void {
    this.term.write(`\r\n\x1b[2m${text}\x1b[0m\r\n`);
  }

  /** Feed text in as if the user had typed it (goes out through onData like keystrokes). */
  input(text: string): void {
    this.term.input(text, true);
  }

  /** Size the terminal to its container. */
  fit(): void {
    try {
      this.fitAddon.fit();
    } catch {
      // Not laid out yet (display: none); the ResizeObserver calls again when it is.
    }
  }

  focus(): void {
    this.term.focus();
  }

  clear(): void {
    this.term.reset();
  }

  /** Everything in the scrollback and on screen as plain text, soft-wrapped lines joined. */
  text(): string {
    const buf = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i++) {
      const line = buf.getLine(i);
      if (!line) continue;
      const s = line.translateToString(true);
      if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += s;
      else lines.push(s);
    }
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.join('\n');
  }

  get size(): { cols: number; rows: number } {
    return { cols: this.term.cols, rows: this.term.rows };
  }
}
