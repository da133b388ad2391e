// National Semiconductor NS16550A UART (datasheet: "PC16550D Universal Asynchronous
// Receiver/Transmitter with FIFOs"). Offsets 0..7 are the eight registers; DLAB (LCR bit 7)
// turns offsets 0 and 1 into the divisor latch.
//
// Transmission is instantaneous: a byte written to THR goes straight to `onTransmit` and THR is
// empty again at once, so the THRE interrupt re-arms immediately (which is what Linux's 8250
// driver checks for at startup: enabling THRI with THR empty must raise IIR=THRE every time).
// Reception goes through a host-side queue that feeds the RX FIFO as the guest makes room, so
// no byte given to receive() is ever dropped by a slow guest.

import type { Clock, IoDevice, IoSize, IrqLine, Timer } from '../machine/io';

// Register offsets
const UART_RBR = 0; // receiver buffer (read, DLAB=0); divisor latch LSB when DLAB=1
const UART_THR = 0; // transmitter holding (write, DLAB=0)
const UART_IER = 1; // interrupt enable (DLAB=0); divisor latch MSB when DLAB=1
const UART_IIR = 2; // interrupt identification (read)
const UART_FCR = 2; // FIFO control (write)
const UART_LCR = 3; // line control
const UART_MCR = 4; // modem control
const UART_LSR = 5; // line status
const UART_MSR = 6; // modem status
const UART_SCR = 7; // scratch
// IER
const IER_RDI = 0x01;   // received data available (and character timeout)
const IER_THRI = 0x02;  // THR empty
const IER_RLSI = 0x04;  // receiver line status
const IER_MSI = 0x08;   // modem status
const IER_MASK = 0x0f;  // bits 7:4 are always zero on a 16550A
// IIR
const IIR_NO_INT = 0x01;
const IIR_MSI = 0x00;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_TIMEOUT = 0x0c;
const IIR_FIFOS_ENABLED = 0xc0;
// FCR
const FCR_ENABLE_FIFO = 0x01;
const FCR_CLEAR_RCVR = 0x02;
// bit 2 resets the transmit FIFO, which is always empty here
const FCR_DMA_SELECT = 0x08;
const FCR_TRIGGER_SHIFT = 6;
const RX_TRIGGER_LEVELS = [1, 4, 8, 14];
// LCR
const LCR_DLAB = 0x80;
const LCR_WLEN_MASK = 0x03; // word length - 5
const LCR_STOP = 0x04;      // 1.5/2 stop bits
const LCR_PARITY = 0x08;
// MCR
const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;      // on a PC, gates the UART's interrupt onto the ISA IRQ line
const MCR_LOOP = 0x10;
const MCR_MASK = 0x1f;
// LSR
const LSR_DR = 0x01;        // data ready
const LSR_OE = 0x02;        // overrun error
const LSR_PE = 0x04;        // parity error
const LSR_FE = 0x08;        // framing error
const LSR_BI = 0x10;        // break interrupt
const LSR_THRE = 0x20;      // THR empty
const LSR_TEMT = 0x40;      // transmitter empty
const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;
// MSR
const MSR_DCTS = 0x01;
const MSR_DDSR = 0x02;
const MSR_TERI = 0x04;
const MSR_DDCD = 0x08;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
const MSR_DELTAS = 0x0f;

const FIFO_SIZE = 16;
/** The PC's UART clock (1.8432 MHz) divided by 16: the baud rate for divisor 1. */
const BAUD_BASE = 115200;

export interface Ns16550State {
  ier: number; lcr: number; mcr: number; scr: number; dll: number; dlm: number; fcr: number;
  lsrErrors: number;     // OE/PE/FE/BI pending until LSR is read
  msr: number;
  rxFifo: Uint8Array;    // ring of FIFO_SIZE bytes
  rxHead: number;
  rxCount: number;
  hostQueue: number[];   // bytes given to receive() that do not fit in the FIFO yet
  threPending: boolean;  // THRE interrupt condition (cleared by reading IIR when it is the source)
  timeoutPending: boolean;
  guestErrors: number;
}

function freshState(): Ns16550State {
  return {
    ier: 0, lcr: 0, mcr: 0, scr: 0, dll: 0x0c, dlm: 0, fcr: 0, lsrErrors: 0,
    msr: MSR_CTS | MSR_DSR | MSR_DCD, // the host side is always there
    rxFifo: new Uint8Array(FIFO_SIZE), rxHead: 0, rxCount: 0, hostQueue: [],
    threPending: false, timeoutPending: false, guestErrors: 0,
  };
}

export class Ns16550 implements IoDevice {
  readonly name = 'ns16550';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: Ns16550State = freshState();
  private readonly timeoutTimer: Timer;

  constructor(private readonly clock: Clock, private readonly irq: IrqLine,
              private readonly onTransmit: (byte: number) => void) {
    this.timeoutTimer = clock.createTimer('ns16550-timeout', () => this.onCharTimeout());
  }

  /** Master reset. Bytes still waiting on the host side survive it. */
  reset(): void {
    const queue = this.state.hostQueue;
    this.state = freshState();
    this.state.hostQueue = queue;
    this.timeoutTimer.cancel();
    this.pump();
    this.updateIrq();
  }

  loadState(state: Ns16550State): void {
    this.state = { ...state, rxFifo: new Uint8Array(state.rxFifo), hostQueue: [...state.hostQueue] };
    this.armTimeout();
    this.updateIrq();
  }

  /** Bytes from the host (terminal, stdin) for the guest to read. */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) this.state.hostQueue.push(b);
    this.pump();
    this.updateIrq();
  }

  /** Bytes waiting on the host side (not yet in the RX FIFO). */
  get pendingInput(): number { return this.state.hostQueue.length; }

  private get fifoEnabled(): boolean { return (this.state.fcr & FCR_ENABLE_FIFO) !== 0; }
  private get rxCapacity(): number { return this.fifoEnabled ? FIFO_SIZE : 1; }
  private get loopback(): boolean { return (this.state.mcr & MCR_LOOP) !== 0; }

  /** Put one received byte into the FIFO; returns false (overrun) if there is no room. */
  private pushRx(byte: number): boolean {
    const s = this.state;
    if (s.rxCount >= this.rxCapacity) { s.lsrErrors |= LSR_OE; return false; }
    s.rxFifo[(s.rxHead + s.rxCount) % FIFO_SIZE] = byte;
    s.rxCount++;
    return true;
  }

  /** Move host bytes into the FIFO while there is room (not in loopback: the line is cut). */
  private pump(): void {
    const s = this.state;
    if (this.loopback) return;
    let moved = false;
    while (s.hostQueue.length > 0 && s.rxCount < this.rxCapacity) {
      this.pushRx(s.hostQueue.shift()!);
      moved = true;
    }
    if (moved) this.armTimeout();
  }

  private charTimeNs(): number {
    const s = this.state;
    const divisor = ((s.dlm << 8) | s.dll) || 0x10000;
    const bits = 1 + 5 + (s.lcr & LCR_WLEN_MASK) + (s.lcr & LCR_PARITY ? 1 : 0) + (s.lcr & LCR_STOP ? 2 : 1);
    return (bits * divisor * 1e9) / BAUD_BASE;
  }

  /** Character timeout: data sits in the FIFO for four character times with no read or arrival. */
  private armTimeout(): void {
    if (this.fifoEnabled && this.state.rxCount > 0 && !this.state.timeoutPending) {
      this.timeoutTimer.arm(this.clock.now() + 4 * this.charTimeNs());
    } else {
      this.timeoutTimer.cancel();
    }
  }

  private onCharTimeout(): void {
    if (this.fifoEnabled && this.state.rxCount > 0) this.state.timeoutPending = true;
    this.updateIrq();
  }

  /** The highest-priority pending interrupt, as IIR bits 3:0. */
  private interruptId(): number {
    const s = this.state;
    if ((s.ier & IER_RLSI) && (s.lsrErrors & LSR_ERRORS)) return IIR_RLSI;
    if (s.ier & IER_RDI) {
      const trigger = this.fifoEnabled ? RX_TRIGGER_LEVELS[s.fcr >> FCR_TRIGGER_SHIFT] : 1;
      if (s.rxCount >= trigger) return IIR_RDI;
      if (s.timeoutPending && s.rxCount > 0) return IIR_TIMEOUT;
    }
    if ((s.ier & IER_THRI) && s.threPending) return IIR_THRI;
    if ((s.ier & IER_MSI) && (s.msr & MSR_DELTAS)) return IIR_MSI;
    return IIR_NO_INT;
  }

  private updateIrq(): void {
    const s = this.state;
    // OUT2 drives the PC's IRQ buffer enable; in loopback the UART's outputs are disconnected.
    const gate = (s.mcr & MCR_OUT2) !== 0 && !this.loopback;
    this.irq.set(gate && this.interruptId() !== IIR_NO_INT);
  }

  read(offset: number, _size: IoSize): number {
    const s = this.state;
    let v: number;
    switch (offset) {
      case UART_RBR:
        if (s.lcr & LCR_DLAB) { v = s.dll; break; }
        v = 0;
        if (s.rxCount > 0) {
          v = s.rxFifo[s.rxHead];
          s.rxHead = (s.rxHead + 1) % FIFO_SIZE;
          s.rxCount--;
        }
        s.timeoutPending = false;
        this.pump();
        this.armTimeout();
        break;
      case UART_IER:
        v = s.lcr & LCR_DLAB ? s.dlm : s.ier;
        break;
      case UART_IIR: {
        const id = this.interruptId();
        if (id === IIR_THRI) s.threPending = false; // reading IIR clears a THRE indication
        v = id | (this.fifoEnabled ? IIR_FIFOS_ENABLED : 0);
        break;
      }
      case UART_LCR: v = s.lcr; break;
      case UART_MCR: v = s.mcr; break;
      case UART_LSR:
        v = (s.rxCount > 0 ? LSR_DR : 0) | s.lsrErrors | LSR_THRE | LSR_TEMT;
        s.lsrErrors = 0;
        break;
      case UART_MSR:
        v = s.msr;
        s.msr &= ~MSR_DELTAS;
        break;
      case UART_SCR: v = s.scr; break;
      default:
        s.guestErrors++;
        return 0xff;
    }
    this.updateIrq();
    return v;
  }

  write(offset: number, _size: IoSize, value: number): void {
    const s = this.state;
    value &= 0xff;
    switch (offset) {
      case UART_THR:
        if (s.lcr & LCR_DLAB) { s.dll = value; break; }
        if (this.loopback) { this.pushRx(value); this.armTimeout(); } else this.onTransmit(value);
        s.threPending = true; // sent at once: THR is empty again
        break;
      case UART_IER:
        if (s.lcr & LCR_DLAB) { s.dlm = value; break; }
        // Enabling THRI while THR is empty raises the THRE interrupt (8250 UART_BUG_THRE test).
        if ((value & IER_THRI) && !(s.ier & IER_THRI)) s.threPending = true;
        s.ier = value & IER_MASK;
        break;
      case UART_FCR: {
        const enable = value & FCR_ENABLE_FIFO;
        if (enable !== (s.fcr & FCR_ENABLE_FIFO) || (value & FCR_CLEAR_RCVR)) {
          s.rxCount = 0; s.rxHead = 0; s.timeoutPending = false; // FIFO contents are discarded
        }
        s.fcr = value & (FCR_ENABLE_FIFO | FCR_DMA_SELECT | (3 << FCR_TRIGGER_SHIFT));
        if (!enable) s.fcr = 0;
        this.pump();
        this.armTimeout();
        break;
      }
      case UART_LCR: s.lcr = value; break;
      case UART_MCR: {
        const old = s.mcr;
        s.mcr = value & MCR_MASK;
        if ((old ^ s.mcr) & MCR_LOOP) { this.pump(); }
        this.updateModemStatus();
        break;
      }
      case UART_LSR: case UART_MSR:
        break; // factory test registers: writes ignored
      case UART_SCR: s.scr = value; break;
      default:
        s.guestErrors++;
        return;
    }
    this.updateIrq();
  }

  /** In loopback the modem inputs are wired to the modem outputs: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2. */
  private updateModemStatus(): void {
    const s = this.state;
    const loop = this.loopback;
    const inputs = (mcr: number, looped: boolean) => looped
      ? ((mcr & MCR_RTS) ? MSR_CTS : 0) | ((mcr & MCR_DTR) ? MSR_DSR : 0) |
        ((mcr & MCR_OUT1) ? MSR_RI : 0) | ((mcr & MCR_OUT2) ? MSR_DCD : 0)
      : MSR_CTS | MSR_DSR | MSR_DCD;
    const before = s.msr & ~MSR_DELTAS;
    const after = inputs(s.mcr, loop);
    let deltas = s.msr & MSR_DELTAS;
    const changed = before ^ after;
    if (changed & MSR_CTS) deltas |= MSR_DCTS;
    if (changed & MSR_DSR) deltas |= MSR_DDSR;
    if (changed & MSR_DCD) deltas |= MSR_DDCD;
    if ((before & MSR_RI) && !(after & MSR_RI)) deltas |= MSR_TERI; // trailing edge of RI
    s.msr = after | deltas;
  }
}
