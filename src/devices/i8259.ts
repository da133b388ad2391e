// Intel 8259A Programmable Interrupt Controller, and the PC/AT pair: a master at 0x20 whose IR2
// takes the INT output of a slave at 0xA0, plus the PIIX edge/level control registers (ELCR)
// at 0x4D0/0x4D1. Written from the 8259A datasheet (Intel 231468) and the PIIX3 datasheet §2.4.
//
// Each chip has two registers: A0=0 (offset 0) takes ICW1, OCW2, OCW3 and reads IRR/ISR or the
// poll word; A0=1 (offset 1) takes ICW2-4 during initialization, OCW1 (the mask) otherwise.

import type { IoDevice, IoSize } from '../machine/io';

// ICW1 (offset 0, bit 4 set)
const ICW1_IC4 = 0x01;    // ICW4 will follow
const ICW1_SNGL = 0x02;   // single chip, no ICW3
const ICW1_LTIM = 0x08;   // level-triggered mode for all inputs
const ICW1_INIT = 0x10;   // marks the byte as ICW1
// ICW4
const ICW4_UPM = 0x01;    // 8086/8088 mode (the only mode a PC uses)
const ICW4_AEOI = 0x02;   // automatic end of interrupt
const ICW4_SFNM = 0x10;   // special fully nested mode
// OCW2 (offset 0, bits 4:3 = 00): R SL EOI in bits 7:5, level in bits 2:0
const OCW2_EOI = 0x20;
const OCW2_SL = 0x40;
const OCW2_R = 0x80;
const OCW2_LEVEL = 0x07;
// OCW3 (offset 0, bits 4:3 = 01)
const OCW3_IS_OCW3 = 0x08;
const OCW3_RIS = 0x01;    // with RR: read ISR instead of IRR
const OCW3_RR = 0x02;     // read register command
const OCW3_P = 0x04;      // poll command
const OCW3_SMM = 0x20;    // special mask mode value
const OCW3_ESMM = 0x40;   // enable writing SMM

/** Initialization sequence position: which ICW the next offset-1 write is. */
const INIT_NONE = 0, INIT_ICW2 = 1, INIT_ICW3 = 2, INIT_ICW4 = 3;

/** The IR input that carries the slave's INT on a PC/AT. */
export const CASCADE_IR = 2;

export interface Pic8259State {
  irr: number;          // interrupt request register
  isr: number;          // in-service register
  imr: number;          // interrupt mask register (OCW1)
  lines: number;        // current level of each IR input, for edge detection
  elcr: number;         // PIIX edge/level control: 1 = level-triggered input
  lowestPriority: number; // IR with the lowest priority (rotation); highest is lowestPriority+1
  vectorBase: number;   // ICW2 bits 7:3
  icw1: number;
  icw3: number;
  icw4: number;
  initStep: number;
  readIsr: boolean;     // OCW3 RR/RIS: which register offset 0 reads
  pollPending: boolean; // OCW3 P: the next read is a poll
  specialMask: boolean;
  rotateInAeoi: boolean;
  guestErrors: number;
}

function freshPicState(): Pic8259State {
  return {
    irr: 0, isr: 0, imr: 0, lines: 0, elcr: 0, lowestPriority: 7, vectorBase: 0,
    icw1: 0, icw3: 0, icw4: 0, initStep: INIT_NONE, readIsr: false, pollPending: false,
    specialMask: false, rotateInAeoi: false, guestErrors: 0,
  };
}

/** One 8259A. `onChange` is called after anything that may change its INT output. */
export class Pic8259 implements IoDevice {
  state: Pic8259State = freshPicState();

  constructor(readonly name: string, private readonly isMaster: boolean,
              private readonly onChange: () => void) {}

  reset(): void {
    const elcr = this.state.elcr;
    this.state = freshPicState();
    this.state.elcr = elcr; // the ELCR belongs to the PIIX, not to the 8259's reset
  }

  private isLevel(mask: number): boolean {
    return (this.state.icw1 & ICW1_LTIM) !== 0 || (this.state.elcr & mask) !== 0;
  }

  /** Drive IR input `ir` (0..7). Edge inputs latch a rising edge; level inputs follow the level. */
  setInput(ir: number, level: boolean): void {
    const s = this.state;
    const mask = 1 << (ir & 7);
    if (this.isLevel(mask)) {
      if (level) s.irr |= mask; else s.irr &= ~mask;
    } else if (level && !(s.lines & mask)) {
      s.irr |= mask;
    }
    if (level) s.lines |= mask; else s.lines &= ~mask;
    this.onChange();
  }

  /** Priority position (0 = highest) of the best bit in `bits`, or 8 if none. */
  private bestPriority(bits: number): number {
    if (bits === 0) return 8;
    for (let p = 0; p < 8; p++) {
      if (bits & (1 << ((p + this.state.lowestPriority + 1) & 7))) return p;
    }
    return 8;
  }

  /** The IR the chip would present on INTA now, or -1 if INT is low. */
  pendingIr(): number {
    const s = this.state;
    const req = s.irr & ~s.imr;
    const p = this.bestPriority(req);
    if (p === 8) return -1;
    let inService = s.isr;
    // Special mask mode: masked levels do not block lower priorities.
    if (s.specialMask) inService &= ~s.imr;
    // Special fully nested mode: the master lets a higher slave request through while IR2 is in service.
    if (this.isMaster && (s.icw4 & ICW4_SFNM)) inService &= ~(1 << CASCADE_IR);
    const current = this.bestPriority(inService);
    return p < current ? (p + s.lowestPriority + 1) & 7 : -1;
  }

  get intOutput(): boolean { return this.pendingIr() >= 0; }

  /** INTA for IR `ir`: set ISR (or auto-EOI), clear an edge request. */
  acknowledgeIr(ir: number): void {
    const s = this.state;
    const mask = 1 << ir;
    if (s.icw4 & ICW4_AEOI) {
      if (s.rotateInAeoi) s.lowestPriority = ir;
    } else {
      s.isr |= mask;
    }
    // A level input keeps requesting while it is high; an edge request is consumed.
    if (!this.isLevel(mask)) s.irr &= ~mask;
    else if (!(s.lines & mask)) s.irr &= ~mask;
  }

  get vectorBase(): number { return this.state.vectorBase; }

  read(offset: number, _size: IoSize): number {
    const s = this.state;
    if (offset !== 0 && offset !== 1) { s.guestErrors++; return 0xff; }
    if (s.pollPending) {
      // Poll: the read acts as INTA; the word is I (bit 7) and the level in bits 2:0.
      s.pollPending = false;
      const ir = this.pendingIr();
      if (ir < 0) return 0;
      this.acknowledgeIr(ir);
      this.onChange();
      return 0x80 | ir;
    }
    if (offset === 1) return s.imr;
    return s.readIsr ? s.isr : s.irr;
  }

  write(offset: number, _size: IoSize, value: number): void {
    const s = this.state;
    value &= 0xff;
    if (offset === 0) {
      if (value & ICW1_INIT) this.writeIcw1(value);
      else if (value & OCW3_IS_OCW3) this.writeOcw3(value);
      else this.writeOcw2(value);
    } else if (offset === 1) {
      switch (s.initStep) {
        case INIT_ICW2:
          s.vectorBase = value & 0xf8;
          s.initStep = !(s.icw1 & ICW1_SNGL) ? INIT_ICW3 : (s.icw1 & ICW1_IC4) ? INIT_ICW4 : INIT_NONE;
          break;
        case INIT_ICW3:
          s.icw3 = value;
          s.initStep = (s.icw1 & ICW1_IC4) ? INIT_ICW4 : INIT_NONE;
          break;
        case INIT_ICW4:
          s.icw4 = value;
          if (!(value & ICW4_UPM)) s.guestErrors++; // MCS-80 mode makes no sense on a PC; run as 8086
          s.initStep = INIT_NONE;
          break;
        default:
          s.imr = value; // OCW1
      }
    } else {
      s.guestErrors++;
      return;
    }
    this.onChange();
  }

  private writeIcw1(value: number): void {
    const s = this.state;
    s.icw1 = value;
    // ICW1 clears the mask, the in-service bits and the edge-sense latches (an input that is
    // already high must go low and high again), resets priorities and selects IRR for reading.
    s.imr = 0;
    s.isr = 0;
    s.irr = s.lines & ((value & ICW1_LTIM) ? 0xff : s.elcr);
    s.lowestPriority = 7;
    s.readIsr = false;
    s.pollPending = false;
    s.specialMask = false;
    s.rotateInAeoi = false;
    s.icw4 = 0; // "if IC4 = 0, all functions selected in ICW4 are set to zero"
    s.initStep = INIT_ICW2;
  }

  private writeOcw2(value: number): void {
    const s = this.state;
    const level = value & OCW2_LEVEL;
    switch (value & (OCW2_R | OCW2_SL | OCW2_EOI)) {
      case OCW2_EOI:                         // non-specific EOI
      case OCW2_R | OCW2_EOI: {              // rotate on non-specific EOI
        const p = this.bestPriority(s.isr);
        if (p === 8) break;
        const ir = (p + s.lowestPriority + 1) & 7;
        s.isr &= ~(1 << ir);
        if (value & OCW2_R) s.lowestPriority = ir;
        break;
      }
      case OCW2_SL | OCW2_EOI:               // specific EOI
        s.isr &= ~(1 << level);
        break;
      case OCW2_R | OCW2_SL | OCW2_EOI:      // rotate on specific EOI
        s.isr &= ~(1 << level);
        s.lowestPriority = level;
        break;
      case OCW2_R:                           // set rotate in automatic EOI mode
        s.rotateInAeoi = true;
        break;
      case 0:                                // clear rotate in automatic EOI mode
        s.rotateInAeoi = false;
        break;
      case OCW2_R | OCW2_SL:                 // set priority command
        s.lowestPriority = level;
        break;
      default:                               // 010: no operation
        break;
    }
  }

  private writeOcw3(value: number): void {
    const s = this.state;
    if (value & OCW3_ESMM) s.specialMask = (value & OCW3_SMM) !== 0;
    if (value & OCW3_P) s.pollPending = true;
    if (value & OCW3_RR) s.readIsr = (value & OCW3_RIS) !== 0;
  }
}

export interface DualPic8259State {
  master: Pic8259State;
  slave: Pic8259State;
}

// ELCR bits that cannot be level-triggered on PIIX: IRQ0, 1, 2 on the master, IRQ8 and 13 on the slave.
const ELCR1_MASK = 0xf8;
const ELCR2_MASK = 0xde;

/**
 * The PC/AT interrupt controller pair. The Machine maps `master` at 0x20, `slave` at 0xA0 and
 * `elcr` at 0x4D0 (two bytes), drives `setIrq(0..15)` and asks `acknowledge()` on INTA.
 */
export class DualPic8259 {
  readonly master: Pic8259;
  readonly slave: Pic8259;
  readonly elcr: IoDevice;
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  private intr = false;

  constructor(private readonly onIntr: (level: boolean) => void = () => {}) {
    this.master = new Pic8259('i8259-master', true, () => this.update());
    this.slave = new Pic8259('i8259-slave', false, () => this.update());
    const pic = this;
    this.elcr = {
      name: 'elcr',
      read(offset: number, _size: IoSize): number {
        if (offset === 0) return pic.master.state.elcr;
        if (offset === 1) return pic.slave.state.elcr;
        return 0xff;
      },
      write(offset: number, _size: IoSize, value: number): void {
        if (offset === 0) pic.master.state.elcr = value & ELCR1_MASK;
        else if (offset === 1) pic.slave.state.elcr = value & ELCR2_MASK;
        else return;
        pic.update();
      },
    };
  }

  get state(): DualPic8259State { return { master: this.master.state, slave: this.slave.state }; }

  loadState(state: DualPic8259State): void {
    this.master.state = { ...state.master };
    this.slave.state = { ...state.slave };
    this.update();
  }

  reset(): void {
    this.master.reset();
    this.slave.reset();
    this.master.state.elcr = 0;
    this.slave.state.elcr = 0;
    this.update();
  }

  /** Drive ISA IRQ line 0..15. IRQ2 on the master is the cascade; ISA IRQ2 is wired to IRQ9. */
  setIrq(irq: number, level: boolean): void {
    if (!(irq >= 0 && irq < 16)) return;
    if (irq === CASCADE_IR) irq = 9; // the ISA bus's IRQ2 pin arrives at the slave's IR1
    if (irq < 8) this.master.setInput(irq, level);
    else this.slave.setInput(irq - 8, level);
  }

  interruptPending(): boolean { return this.master.intOutput; }

  private updating = false;
  private update(): void {
    if (this.updating) return;
    this.updating = true;
    // The slave's INT is a level on the master's IR2.
    const slaveInt = this.slave.intOutput;
    if (((this.master.state.lines >> CASCADE_IR) & 1) !== (slaveInt ? 1 : 0)) {
      this.master.setInput(CASCADE_IR, slaveInt);
      // The 8259A's request latch is transparent to the input level: a cascade request that
      // goes away before INTA is withdrawn (devices' own pulses are kept latched, see setInput).
      if (!slaveInt) this.master.state.irr &= ~(1 << CASCADE_IR);
    }
    this.updating = false;
    const intr = this.master.intOutput;
    if (intr !== this.intr) {
      this.intr = intr;
      this.onIntr(intr);
    }
  }

  /**
   * The CPU's interrupt acknowledge cycle: returns the vector. With no request left (it went
   * away between INT and INTA) the chip answers IR7 without setting ISR: the spurious IRQ7, or
   * IRQ15 from the slave.
   */
  acknowledge(): number {
    const ir = this.master.pendingIr();
    let vector: number;
    if (ir < 0) {
      vector = this.master.vectorBase | 7;
    } else if (ir === CASCADE_IR && !(this.master.state.icw1 & ICW1_SNGL)) {
      const slaveIr = this.slave.pendingIr();
      this.master.acknowledgeIr(CASCADE_IR);
      if (slaveIr < 0) {
        vector = this.slave.vectorBase | 7;
      } else {
        this.slave.acknowledgeIr(slaveIr);
        vector = this.slave.vectorBase | slaveIr;
      }
    } else {
      this.master.acknowledgeIr(ir);
      vector = this.master.vectorBase | ir;
    }
    this.update();
    return vector;
  }
}
