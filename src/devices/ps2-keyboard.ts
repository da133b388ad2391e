// A PS/2 (MF2) keyboard as the 8042 sees it: it answers the host's commands and sends scan code
// set 2. Translation to set 1 is the controller's job (i8042.ts), as on a real PC.
// Written from the IBM PS/2 Hardware Interface Technical Reference, keyboard chapter.

import type { Clock, Timer } from '../machine/io';

// Host-to-keyboard commands
const KBD_CMD_SET_LEDS = 0xed;
const KBD_CMD_ECHO = 0xee;
const KBD_CMD_SCANCODE_SET = 0xf0;
const KBD_CMD_IDENTIFY = 0xf2;
const KBD_CMD_SET_TYPEMATIC = 0xf3;
const KBD_CMD_ENABLE = 0xf4;
const KBD_CMD_DEFAULT_DISABLE = 0xf5;
const KBD_CMD_SET_DEFAULT = 0xf6;
const KBD_CMD_SET_ALL_TYPEMATIC = 0xf7;  // F7..FD: scan code set 3 key attributes
const KBD_CMD_SET_KEY_MAKE = 0xfd;
const KBD_CMD_RESEND = 0xfe;
const KBD_CMD_RESET = 0xff;
// Keyboard-to-host replies
export const KBD_REPLY_ACK = 0xfa;
export const KBD_REPLY_RESEND = 0xfe;
export const KBD_REPLY_BAT_OK = 0xaa;    // basic assurance test passed
export const KBD_REPLY_ECHO = 0xee;
/** Identification bytes of an MF2 keyboard. */
const KBD_ID = [0xab, 0x83];
const SET2_BREAK_PREFIX = 0xf0;
const SET2_EXTENDED_PREFIX = 0xe0;
/** Default typematic byte: 500 ms delay, 10.9 characters/s. */
const TYPEMATIC_DEFAULT = 0x2b;
/** The keyboard's own buffer is 16 bytes; the host side may queue a paste beyond that. */
const KEY_QUEUE_LIMIT = 1024;

export interface Ps2KeyboardState {
  responses: number[];   // command replies: sent before queued key data
  keys: number[];        // scan code bytes waiting to be sent
  scanning: boolean;
  leds: number;
  typematic: number;
  scancodeSet: number;
  pendingCommand: number; // command waiting for its parameter byte, or 0
  lastSent: number;
  held: number[];          // make code of the key auto-repeating, or empty
  repeatAt: number;        // guest time of the next repeat
  droppedBytes: number;
  guestErrors: number;
}

function freshState(): Ps2KeyboardState {
  return {
    responses: [], keys: [], scanning: true, leds: 0, typematic: TYPEMATIC_DEFAULT, scancodeSet: 2,
    pendingCommand: 0, lastSent: 0, held: [], repeatAt: 0, droppedBytes: 0, guestErrors: 0,
  };
}

export class Ps2Keyboard {
  state: Ps2KeyboardState = freshState();
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  private readonly repeatTimer: Timer;

  /** `onData` tells the controller a byte is ready. */
  constructor(private readonly clock: Clock, private readonly onData: () => void) {
    this.repeatTimer = clock.createTimer('ps2-keyboard-typematic', (now) => this.onRepeat(now));
  }

  reset(): void {
    this.state = freshState();
    this.repeatTimer.cancel();
  }

  loadState(state: Ps2KeyboardState): void {
    this.state = { ...state, responses: [...state.responses], keys: [...state.keys], held: [...state.held] };
    if (this.state.held.length > 0) this.repeatTimer.arm(this.state.repeatAt); else this.repeatTimer.cancel();
  }

  // ---- the port the 8042 talks to ----

  hasData(): boolean { return this.state.responses.length > 0 || this.state.keys.length > 0; }

  read(): number {
    const s = this.state;
    const b = s.responses.length > 0 ? s.responses.shift()! : s.keys.length > 0 ? s.keys.shift()! : 0;
    s.lastSent = b;
    return b;
  }

  /** A byte from the host (command or parameter). */
  write(byte: number): void {
    const s = this.state;
    byte &= 0xff;
    if (s.pendingCommand !== 0 && byte < KBD_CMD_SET_LEDS) {
      const cmd = s.pendingCommand;
      s.pendingCommand = 0;
      if (cmd === KBD_CMD_SET_LEDS) { s.leds = byte & 0x07; this.reply(KBD_REPLY_ACK); }
      else if (cmd === KBD_CMD_SET_TYPEMATIC) { s.typematic = byte & 0x7f; this.reply(KBD_REPLY_ACK); }
      else if (cmd === KBD_CMD_SCANCODE_SET) {
        if (byte === 0) this.reply(KBD_REPLY_ACK, s.scancodeSet);
        else if (byte === 2) { s.scancodeSet = 2; this.reply(KBD_REPLY_ACK); }
        else this.reply(KBD_REPLY_RESEND); // only set 2 is implemented: refuse sets 1 and 3
      } else {
        this.reply(KBD_REPLY_ACK); // parameter of a set-3 attribute command
      }
      return;
    }
    s.pendingCommand = 0; // a command byte aborts a pending parameter
    switch (byte) {
      case KBD_CMD_SET_LEDS: case KBD_CMD_SET_TYPEMATIC: case KBD_CMD_SCANCODE_SET:
        s.pendingCommand = byte;
        this.reply(KBD_REPLY_ACK);
        break;
      case KBD_CMD_ECHO: this.reply(KBD_REPLY_ECHO); break;
      case KBD_CMD_IDENTIFY: this.reply(KBD_REPLY_ACK, ...KBD_ID); break;
      case KBD_CMD_ENABLE:
        s.keys = [];
        s.scanning = true;
        this.reply(KBD_REPLY_ACK);
        break;
      case KBD_CMD_DEFAULT_DISABLE:
        this.setDefaults();
        s.scanning = false;
        this.reply(KBD_REPLY_ACK);
        break;
      case KBD_CMD_SET_DEFAULT:
        this.setDefaults();
        this.reply(KBD_REPLY_ACK);
        break;
      case KBD_CMD_RESEND:
        this.reply(s.lastSent);
        break;
      case KBD_CMD_RESET:
        this.setDefaults();
        s.leds = 0;
        s.scanning = true;
        this.reply(KBD_REPLY_ACK, KBD_REPLY_BAT_OK);
        break;
      default:
        if (byte >= KBD_CMD_SET_ALL_TYPEMATIC && byte <= KBD_CMD_SET_KEY_MAKE) {
          if (byte >= 0xfb) s.pendingCommand = byte; // FB, FC, FD take a key code
          this.reply(KBD_REPLY_ACK);
        } else {
          s.guestErrors++;
          this.reply(KBD_REPLY_RESEND);
        }
    }
  }

  private setDefaults(): void {
    const s = this.state;
    s.keys = [];
    s.typematic = TYPEMATIC_DEFAULT;
    s.scancodeSet = 2;
    s.held = [];
    this.repeatTimer.cancel();
  }

  private reply(...bytes: number[]): void {
    this.state.responses.push(...bytes);
    this.onData();
  }

  // ---- host API ----

  /** Queue raw set-2 scan code bytes (a make, a break, or a whole tap). Ignored while disabled. */
  pressKey(scancodes: ArrayLike<number>): void {
    const s = this.state;
    if (!s.scanning) return;
    for (let i = 0; i < scancodes.length; i++) {
      if (s.keys.length >= KEY_QUEUE_LIMIT) { s.droppedBytes++; continue; }
      s.keys.push(scancodes[i] & 0xff);
    }
    this.onData();
  }

  /** A key goes down: send its make code and start typematic repeat. */
  keyDown(make: ArrayLike<number>): void {
    this.pressKey(make);
    if (!this.state.scanning) return;
    this.state.held = Array.from(make);
    this.state.repeatAt = this.clock.now() + this.typematicDelayNs();
    this.repeatTimer.arm(this.state.repeatAt);
  }

  /** A key comes up: stop repeating and send its break code (F0 before the last byte). */
  keyUp(make: ArrayLike<number>): void {
    const codes = Array.from(make);
    if (codes.length === 0) return;
    if (this.state.held.length === codes.length && this.state.held.every((b, i) => b === codes[i])) {
      this.state.held = [];
      this.repeatTimer.cancel();
    }
    const last = codes.pop()!;
    this.pressKey([...codes.filter((b) => b === SET2_EXTENDED_PREFIX), SET2_BREAK_PREFIX, last]);
  }

  /** Typematic delay: bits 6:5 give 250..1000 ms. */
  private typematicDelayNs(): number { return (((this.state.typematic >> 5) & 3) + 1) * 250e6; }

  /** Typematic period: (8 + A) * 2^B * 4.17 ms, A = bits 2:0, B = bits 4:3. */
  private typematicPeriodNs(): number {
    const t = this.state.typematic;
    return (8 + (t & 7)) * (1 << ((t >> 3) & 3)) * 4.17e6;
  }

  private onRepeat(now: number): void {
    const s = this.state;
    if (s.held.length === 0 || !s.scanning) return;
    this.pressKey(s.held);
    s.repeatAt = now + this.typematicPeriodNs();
    this.repeatTimer.arm(s.repeatAt);
  }
}
