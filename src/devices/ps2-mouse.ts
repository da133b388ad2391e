// A PS/2 mouse on the 8042's auxiliary port, with the IntelliMouse wheel extension: it answers
// the host's commands and, in stream mode with reporting on, sends a packet per movement.
// Written from the IBM PS/2 Hardware Interface Technical Reference (pointing device chapter) and
// Microsoft's IntelliMouse extension (the sample-rate sequence 200, 100, 80 turns on ID 3 and a
// fourth packet byte for the wheel).

const ACK = 0xfa, RESEND = 0xfe, BAT_OK = 0xaa;
const CMD_SET_SCALING_1_1 = 0xe6, CMD_SET_SCALING_2_1 = 0xe7, CMD_SET_RESOLUTION = 0xe8, CMD_STATUS = 0xe9;
const CMD_STREAM_MODE = 0xea, CMD_READ_DATA = 0xeb, CMD_RESET_WRAP = 0xec, CMD_WRAP = 0xee, CMD_REMOTE_MODE = 0xf0;
const CMD_GET_ID = 0xf2, CMD_SET_RATE = 0xf3, CMD_ENABLE = 0xf4, CMD_DISABLE = 0xf5, CMD_DEFAULTS = 0xf6;
const CMD_RESEND = 0xfe, CMD_RESET = 0xff;
/** The mouse's own buffer; a host that floods it loses the oldest movement (counted). */
const QUEUE_LIMIT = 256;

export interface Ps2MouseState {
  out: number[];
  reporting: boolean;
  remote: boolean;
  wrap: boolean;
  scaling2to1: boolean;
  resolution: number;
  rate: number;
  /** 0: a standard mouse; 3: IntelliMouse (wheel). */
  id: number;
  /** The last three sample rates set: the IntelliMouse knock is 200, 100, 80. */
  rates: number[];
  pendingCommand: number;
  buttons: number;
  lastSent: number;
  dropped: number;
  guestErrors: number;
}

function freshState(): Ps2MouseState {
  return {
    out: [], reporting: false, remote: false, wrap: false, scaling2to1: false, resolution: 2, rate: 100, id: 0,
    rates: [], pendingCommand: 0, buttons: 0, lastSent: 0, dropped: 0, guestErrors: 0,
  };
}

export class Ps2Mouse {
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: Ps2MouseState = freshState();

  /** `onData` tells the controller a byte is ready. */
  constructor(private readonly onData: () => void) {}

  reset(): void { this.state = freshState(); }
  loadState(state: Ps2MouseState): void { this.state = structuredClone(state); }

  // ---- the port the 8042 talks to ----

  hasData(): boolean { return this.state.out.length > 0; }

  read(): number {
    const b = this.state.out.shift() ?? 0;
    this.state.lastSent = b;
    return b;
  }

  write(byte: number): void {
    const s = this.state;
    const b = byte & 0xff;
    if (s.pendingCommand !== 0) {
      const cmd = s.pendingCommand;
      s.pendingCommand = 0;
      if (cmd === CMD_SET_RATE) {
        s.rate = b;
        s.rates = [...s.rates, b].slice(-3);
        if (s.rates.join(',') === '200,100,80') s.id = 3;
      } else if (cmd === CMD_SET_RESOLUTION) s.resolution = b & 3;
      this.reply(ACK);
      return;
    }
    if (s.wrap && b !== CMD_RESET_WRAP && b !== CMD_RESET) { this.reply(b); return; } // wrap mode echoes
    switch (b) {
      case CMD_SET_SCALING_1_1: s.scaling2to1 = false; this.reply(ACK); break;
      case CMD_SET_SCALING_2_1: s.scaling2to1 = true; this.reply(ACK); break;
      case CMD_SET_RESOLUTION: case CMD_SET_RATE: s.pendingCommand = b; this.reply(ACK); break;
      case CMD_STATUS:
        this.reply(ACK, (s.remote ? 0x40 : 0) | (s.reporting ? 0x20 : 0) | (s.scaling2to1 ? 0x10 : 0) | (s.buttons & 7), s.resolution, s.rate);
        break;
      case CMD_STREAM_MODE: s.remote = false; this.reply(ACK); break;
      case CMD_READ_DATA: this.reply(ACK); this.packet(0, 0, 0); break;
      case CMD_RESET_WRAP: s.wrap = false; this.reply(ACK); break;
      case CMD_WRAP: s.wrap = true; this.reply(ACK); break;
      case CMD_REMOTE_MODE: s.remote = true; this.reply(ACK); break;
      case CMD_GET_ID: this.reply(ACK, s.id); break;
      case CMD_ENABLE: s.reporting = true; this.reply(ACK); break;
      case CMD_DISABLE: s.reporting = false; s.out.length = 0; this.reply(ACK); break;
      case CMD_DEFAULTS: this.setDefaults(); this.reply(ACK); break;
      case CMD_RESEND: this.reply(s.lastSent); break;
      case CMD_RESET:
        this.setDefaults();
        s.id = 0; s.rates = []; s.wrap = false;
        this.reply(ACK, BAT_OK, 0x00);
        break;
      default: s.guestErrors++; this.reply(RESEND);
    }
  }

  private setDefaults(): void {
    const s = this.state;
    s.reporting = false; s.remote = false; s.scaling2to1 = false; s.resolution = 2; s.rate = 100;
    s.out.length = 0;
  }

  private reply(...bytes: number[]): void {
    // A command clears movement data not yet read (the host is talking to the mouse).
    this.state.out = bytes.map((b) => b & 0xff);
    this.onData();
  }

  // ---- the host's side: movement and buttons ----

  /**
   * The mouse moved by (dx, dy) counts (y up, as the PS/2 protocol counts it), the wheel by dz,
   * with `buttons` held (bit 0 left, 1 right, 2 middle). Sent when reporting in stream mode.
   */
  move(dx: number, dy: number, dz: number, buttons: number): void {
    const s = this.state;
    s.buttons = buttons & 7;
    if (!s.reporting || s.remote) return;
    this.packet(dx, dy, dz);
    this.onData();
  }

  private packet(dx: number, dy: number, dz: number): void {
    const s = this.state;
    const clamp = (v: number) => Math.max(-255, Math.min(255, Math.trunc(v)));
    const x = clamp(dx), y = clamp(dy);
    const overflowX = Math.abs(dx) > 255, overflowY = Math.abs(dy) > 255;
    const first = 0x08 | (s.buttons & 7) | (x < 0 ? 0x10 : 0) | (y < 0 ? 0x20 : 0) | (overflowX ? 0x40 : 0) | (overflowY ? 0x80 : 0);
    const bytes = [first, x & 0xff, y & 0xff];
    if (s.id === 3) bytes.push(Math.max(-8, Math.min(7, Math.trunc(dz))) & 0xff);
    if (s.out.length + bytes.length > QUEUE_LIMIT) { s.dropped++; return; }
    s.out.push(...bytes);
  }
}
