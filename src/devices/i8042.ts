// Intel 8042 keyboard controller as on the PC/AT and PS/2 (and every Super I/O since): a data
// register (offset 0, port 0x60) and a status/command register (offset 4, port 0x64), a command
// byte in its RAM, an output port carrying A20 and the CPU reset line, and two serial ports: the
// keyboard and the auxiliary (mouse) port. Written from the IBM PS/2 Technical Reference
// ("Keyboard/Auxiliary Device Controller").
//
// The aux port is present (Linux's i8042 probe sees a PS/2-style controller: loopback 0xD3,
// test 0xA9 and the aux enable bit all work); with no aux device attached, bytes sent to it are
// answered with 0xFE like an unplugged connector.

import type { IoDevice, IoSize, IrqLine } from '../machine/io';

/** What the controller needs from a device on one of its ports. */
export interface Ps2Port {
  write(byte: number): void;
  hasData(): boolean;
  read(): number;
}

export const I8042_DATA = 0;     // port 0x60
export const I8042_COMMAND = 4;  // port 0x64 (status on read)

// Status register
const STR_OBF = 0x01;        // output buffer full
// bit 1, input buffer full, is never set: writes are consumed at once
const STR_SYSFLAG = 0x04;    // system flag (from the command byte)
const STR_CMDDAT = 0x08;     // last write was to the command port
const STR_KEYLOCK = 0x10;    // 1 = keyboard not inhibited
const STR_AUXDATA = 0x20;    // the output buffer holds aux data
// Command byte (controller RAM 0)
const CTR_KBDINT = 0x01;     // IRQ1 on keyboard data
const CTR_AUXINT = 0x02;     // IRQ12 on aux data
const CTR_SYSFLAG = 0x04;
const CTR_KBDDIS = 0x10;     // keyboard clock disabled
const CTR_AUXDIS = 0x20;     // aux clock disabled
const CTR_XLATE = 0x40;      // translate set 2 to set 1
// Output port
const OUT_RESET = 0x01;      // 0 = hold the CPU in reset
const OUT_A20 = 0x02;        // A20 gate
const OUT_AUX_OBF = 0x20;    // reflects IRQ12 (read through 0xD0)
const OUT_KBD_OBF = 0x10;    // reflects IRQ1
const OUT_POWER_ON = 0xcf;   // all port pins high after reset: A20 on, no reset
// Commands
const CMD_READ_RAM = 0x20;        // 0x20..0x3F
const CMD_WRITE_RAM = 0x60;       // 0x60..0x7F
const CMD_PASSWORD_TEST = 0xa4;
const CMD_AUX_DISABLE = 0xa7;
const CMD_AUX_ENABLE = 0xa8;
const CMD_AUX_TEST = 0xa9;
const CMD_SELF_TEST = 0xaa;
const CMD_KBD_TEST = 0xab;
const CMD_KBD_DISABLE = 0xad;
const CMD_KBD_ENABLE = 0xae;
const CMD_READ_INPUT = 0xc0;
const CMD_READ_OUTPUT = 0xd0;
const CMD_WRITE_OUTPUT = 0xd1;
const CMD_WRITE_KBD_OBUF = 0xd2;
const CMD_WRITE_AUX_OBUF = 0xd3;
const CMD_WRITE_AUX = 0xd4;
const CMD_DISABLE_A20 = 0xdd;
const CMD_ENABLE_A20 = 0xdf;
const CMD_READ_TEST_INPUTS = 0xe0;
const CMD_PULSE_FIRST = 0xf0;     // 0xF0..0xFF pulse output port bits 3:0 low
const SELF_TEST_OK = 0x55;
const INTERFACE_TEST_OK = 0x00;
const PASSWORD_NOT_INSTALLED = 0xf1;
const INPUT_PORT = 0x80;          // keyboard not inhibited (key lock off)
const AUX_NO_DEVICE = 0xfe;
const SET2_BREAK = 0xf0;

/** Set 2 to set 1 translation done by the controller (codes 0x80 and up pass through, except 0x83 = F7). */
const SET2_TO_SET1 = new Uint8Array([
  0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
  0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
  0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
  0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
  0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
  0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
  0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
  0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
]);

export function translateSet2(code: number): number {
  if (code < 0x80) return SET2_TO_SET1[code];
  if (code === 0x83) return 0x41; // F7 is the one set-2 code above 0x7F
  return code;
}

/** Source of the byte in the output buffer. */
const SRC_KBD = 0, SRC_AUX = 1;

export interface I8042State {
  ram: Uint8Array;        // 32 bytes; ram[0] is the command byte
  outputPort: number;
  outByte: number;
  outFull: boolean;
  outSource: number;      // SRC_*
  lastWasCommand: boolean;
  pendingCommand: number; // command awaiting its data byte, or 0
  ctrlQueue: number[];    // controller replies: byte | 0x100 for aux
  xlatBreak: boolean;     // translation saw 0xF0 and waits for the code
  guestErrors: number;
}

export interface I8042Options {
  irq1: IrqLine;
  irq12: IrqLine;
  onA20?: (enabled: boolean) => void;
  onReset?: () => void;
}

export class I8042 implements IoDevice {
  readonly name = 'i8042';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state!: I8042State;
  private readonly irq1: IrqLine;
  private readonly irq12: IrqLine;
  private readonly onA20: (enabled: boolean) => void;
  private readonly onReset: () => void;

  constructor(private readonly keyboard: Ps2Port | null, private readonly aux: Ps2Port | null, options: I8042Options) {
    this.irq1 = options.irq1;
    this.irq12 = options.irq12;
    this.onA20 = options.onA20 ?? (() => {});
    this.onReset = options.onReset ?? (() => {});
    this.state = this.freshState();
  }

  private freshState(): I8042State {
    const ram = new Uint8Array(32);
    ram[0] = CTR_KBDINT | CTR_SYSFLAG | CTR_XLATE; // what a BIOS leaves; SeaBIOS rewrites it
    return {
      ram, outputPort: OUT_POWER_ON, outByte: 0, outFull: false, outSource: SRC_KBD,
      lastWasCommand: false, pendingCommand: 0, ctrlQueue: [], xlatBreak: false, guestErrors: 0,
    };
  }

  reset(): void {
    this.state = this.freshState();
    this.onA20(true);
    this.update();
  }

  loadState(state: I8042State): void {
    this.state = { ...state, ram: new Uint8Array(state.ram), ctrlQueue: [...state.ctrlQueue] };
    this.update();
  }

  get a20(): boolean { return (this.state.outputPort & OUT_A20) !== 0; }

  /** A device on one of the ports has data: called by the keyboard / mouse. */
  portDataAvailable(): void { this.update(); }

  private get ctr(): number { return this.state.ram[0]; }

  /** Fill the output buffer if empty, then drive IRQ1/IRQ12. */
  private update(): void {
    const s = this.state;
    if (!s.outFull) {
      if (s.ctrlQueue.length > 0) {
        const v = s.ctrlQueue.shift()!;
        this.setOutput(v & 0xff, v & 0x100 ? SRC_AUX : SRC_KBD);
      } else if (this.keyboard && !(this.ctr & CTR_KBDDIS) && this.keyboard.hasData()) {
        this.takeKeyboardByte();
      } else if (this.aux && !(this.ctr & CTR_AUXDIS) && this.aux.hasData()) {
        this.setOutput(this.aux.read(), SRC_AUX);
      }
    }
    this.irq1.set(s.outFull && s.outSource === SRC_KBD && (this.ctr & CTR_KBDINT) !== 0);
    this.irq12.set(s.outFull && s.outSource === SRC_AUX && (this.ctr & CTR_AUXINT) !== 0);
  }

  private takeKeyboardByte(): void {
    const s = this.state;
    const kbd = this.keyboard!;
    while (kbd.hasData()) {
      const b = kbd.read();
      if (!(this.ctr & CTR_XLATE)) { this.setOutput(b, SRC_KBD); return; }
      // Translation folds the set-2 break prefix into bit 7 of the following code.
      if (b === SET2_BREAK) { s.xlatBreak = true; continue; }
      const code = translateSet2(b) | (s.xlatBreak ? 0x80 : 0);
      s.xlatBreak = false;
      this.setOutput(code, SRC_KBD);
      return;
    }
  }

  private setOutput(byte: number, source: number): void {
    this.state.outByte = byte & 0xff;
    this.state.outSource = source;
    this.state.outFull = true;
  }

  private reply(byte: number, aux = false): void {
    this.state.ctrlQueue.push((byte & 0xff) | (aux ? 0x100 : 0));
  }

  read(offset: number, _size: IoSize): number {
    const s = this.state;
    if (offset === I8042_DATA) {
      const v = s.outByte;
      s.outFull = false;
      // Reading the buffer drops IRQ1/IRQ12 before the next byte raises it again: on the real
      // chip the next byte arrives a serial frame later, and an edge-triggered interrupt
      // controller needs that falling edge to see the next byte at all.
      this.irq1.set(false);
      this.irq12.set(false);
      this.update();
      return v;
    }
    if (offset === I8042_COMMAND) {
      return (s.outFull ? STR_OBF : 0) | (this.ctr & CTR_SYSFLAG ? STR_SYSFLAG : 0) |
        (s.lastWasCommand ? STR_CMDDAT : 0) | STR_KEYLOCK |
        (s.outFull && s.outSource === SRC_AUX ? STR_AUXDATA : 0);
    }
    s.guestErrors++;
    return 0xff;
  }

  write(offset: number, _size: IoSize, value: number): void {
    value &= 0xff;
    if (offset === I8042_DATA) this.writeData(value);
    else if (offset === I8042_COMMAND) this.writeCommand(value);
    else { this.state.guestErrors++; return; }
    this.update();
  }

  private writeData(value: number): void {
    const s = this.state;
    s.lastWasCommand = false;
    const cmd = s.pendingCommand;
    s.pendingCommand = 0;
    if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
      s.ram[cmd - CMD_WRITE_RAM] = value;
      return;
    }
    switch (cmd) {
      case CMD_WRITE_OUTPUT: this.writeOutputPort(value); return;
      case CMD_WRITE_KBD_OBUF: this.reply(value); return;
      case CMD_WRITE_AUX_OBUF: this.reply(value, true); return;
      case CMD_WRITE_AUX:
        s.ram[0] &= ~CTR_AUXDIS; // sending to the aux device enables its clock
        if (this.aux) this.aux.write(value); else this.reply(AUX_NO_DEVICE, true);
        return;
    }
    // No command pending: the byte goes to the keyboard, which this enables.
    s.ram[0] &= ~CTR_KBDDIS;
    if (this.keyboard) this.keyboard.write(value); else this.reply(0xfe);
  }

  private writeCommand(cmd: number): void {
    const s = this.state;
    s.lastWasCommand = true;
    s.pendingCommand = 0;
    if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + 0x20) { this.reply(s.ram[cmd - CMD_READ_RAM]); return; }
    if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) { s.pendingCommand = cmd; return; }
    if (cmd >= CMD_PULSE_FIRST) {
      if (!(cmd & OUT_RESET)) this.onReset(); // 0xFE: pulse the reset line
      return;
    }
    switch (cmd) {
      case CMD_PASSWORD_TEST: this.reply(PASSWORD_NOT_INSTALLED); break;
      case CMD_AUX_DISABLE: s.ram[0] |= CTR_AUXDIS; break;
      case CMD_AUX_ENABLE: s.ram[0] &= ~CTR_AUXDIS; break;
      case CMD_AUX_TEST: this.reply(INTERFACE_TEST_OK); break;
      case CMD_SELF_TEST:
        s.ram[0] |= CTR_SYSFLAG;
        s.outFull = false;
        s.ctrlQueue = [];
        this.reply(SELF_TEST_OK);
        break;
      case CMD_KBD_TEST: this.reply(INTERFACE_TEST_OK); break;
      case CMD_KBD_DISABLE: s.ram[0] |= CTR_KBDDIS; break;
      case CMD_KBD_ENABLE: s.ram[0] &= ~CTR_KBDDIS; break;
      case CMD_READ_INPUT: this.reply(INPUT_PORT); break;
      case CMD_READ_OUTPUT: {
        const obf = s.outFull ? (s.outSource === SRC_AUX ? OUT_AUX_OBF : OUT_KBD_OBF) : 0;
        this.reply((s.outputPort & ~(OUT_AUX_OBF | OUT_KBD_OBF)) | obf);
        break;
      }
      case CMD_WRITE_OUTPUT: case CMD_WRITE_KBD_OBUF: case CMD_WRITE_AUX_OBUF: case CMD_WRITE_AUX:
        s.pendingCommand = cmd;
        break;
      case CMD_DISABLE_A20: this.writeOutputPort(s.outputPort & ~OUT_A20); break;
      case CMD_ENABLE_A20: this.writeOutputPort(s.outputPort | OUT_A20); break;
      case CMD_READ_TEST_INPUTS: this.reply(0x00); break;
      default:
        s.guestErrors++; // unknown command: the controller ignores it
    }
  }

  private writeOutputPort(value: number): void {
    const s = this.state;
    const old = s.outputPort;
    s.outputPort = value;
    if ((old ^ value) & OUT_A20) this.onA20((value & OUT_A20) !== 0);
    if (!(value & OUT_RESET)) this.onReset();
  }
}
