// What is typed on the terminal goes to the guest's console or to the monitor, with Ctrl-A
// escape keys as in QEMU's -nographic mux: Ctrl-A c switches between the console and the
// monitor, Ctrl-A x quits, Ctrl-A h prints the keys, Ctrl-A b the balloon's statistics (QEMU's
// monitor has `info balloon`), Ctrl-A Ctrl-A sends one Ctrl-A; any other key after Ctrl-A is
// dropped. The keys work the same in both places.

const CTRL_A = 0x01;

export const ESCAPE_KEYS_HELP =
  'C-a h    print this help\r\nC-a x    exit emulator\r\nC-a c    switch between console and monitor\r\n' +
  'C-a b    the guest\'s balloon statistics\r\nC-a C-a  send C-a\r\n';

export interface EscapeKeys {
  quit(): void;
  help(): void;
  balloon(): void;
  /** Ctrl-A c: the monitor is shown (true) or the console again (false). */
  monitor(shown: boolean): void;
}

export class ConsoleMux {
  private armed = false;
  private monitorShown = false;

  /** `toGuest` and `toMonitor` receive the typed bytes meant for each, in order. */
  constructor(private readonly keys: EscapeKeys,
              private readonly toGuest: (bytes: Uint8Array) => void,
              private readonly toMonitor: (bytes: Uint8Array) => void) {}

  get inMonitor(): boolean {
    return this.monitorShown;
  }

  /** Bytes typed on the terminal. */
  input(bytes: Uint8Array): void {
    let out: number[] = [];
    // What was typed before a switch goes where it was typed.
    const deliver = (): void => {
      if (out.length === 0) return;
      (this.monitorShown ? this.toMonitor : this.toGuest)(Uint8Array.from(out));
      out = [];
    };
    for (const b of bytes) {
      if (this.armed) {
        this.armed = false;
        const key = b | 0x20; // the letter keys in either case
        if (b === CTRL_A) out.push(CTRL_A);
        else if (key === 0x78 /* x */) { deliver(); this.keys.quit(); }
        else if (key === 0x68 /* h */) this.keys.help();
        else if (key === 0x62 /* b */) this.keys.balloon();
        else if (key === 0x63 /* c */) {
          deliver();
          this.monitorShown = !this.monitorShown;
          this.keys.monitor(this.monitorShown);
        }
      } else if (b === CTRL_A) {
        this.armed = true;
      } else {
        out.push(b);
      }
    }
    deliver();
  }
}
