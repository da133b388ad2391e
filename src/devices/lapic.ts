// Local APIC in xAPIC mode (Intel SDM Vol. 3A, chapter 10 / 11 "Advanced Programmable Interrupt
// Controller"). The 4 KiB register page is an IoDevice seen at offsets 0x000-0xFFF; the Machine
// maps it at the APIC base (0xFEE00000).
//
// The CPU side: `onIntr(level)` follows "an interrupt is deliverable"; on INTA the CPU calls
// `acknowledge()`, which returns the vector (moved from IRR to ISR), the spurious vector, or
// LAPIC_EXTINT to say "take the vector from the 8259" (LINT0 in ExtINT mode, virtual wire).

import type { Clock, IoDevice, IoSize, Timer } from '../machine/io';

/** The APIC timer's input clock (the processor bus clock), chosen for this machine: 100 MHz. */
export const APIC_BUS_FREQUENCY_HZ = 100_000_000;
/** acknowledge() result: the interrupt is an ExtINT, the vector comes from the 8259. */
export const LAPIC_EXTINT = -1;

// Register offsets
const APIC_ID = 0x020;
const APIC_VERSION = 0x030;
const APIC_TPR = 0x080;       // task priority
const APIC_APR = 0x090;       // arbitration priority
const APIC_PPR = 0x0a0;       // processor priority
const APIC_EOI = 0x0b0;
const APIC_RRD = 0x0c0;       // remote read
const APIC_LDR = 0x0d0;       // logical destination
const APIC_DFR = 0x0e0;       // destination format
const APIC_SVR = 0x0f0;       // spurious interrupt vector
const APIC_ISR = 0x100;       // 0x100..0x170
const APIC_TMR = 0x180;       // 0x180..0x1F0
const APIC_IRR = 0x200;       // 0x200..0x270
const APIC_ESR = 0x280;       // error status
const APIC_ICR_LOW = 0x300;
const APIC_ICR_HIGH = 0x310;
const APIC_LVT_TIMER = 0x320;
const APIC_LVT_THERMAL = 0x330;
const APIC_LVT_PERF = 0x340;
const APIC_LVT_LINT0 = 0x350;
const APIC_LVT_LINT1 = 0x360;
const APIC_LVT_ERROR = 0x370;
const APIC_TMICT = 0x380;     // timer initial count
const APIC_TMCCT = 0x390;     // timer current count
const APIC_TDCR = 0x3e0;      // timer divide configuration

/** Version register bits 0-7: 0x14, an integrated (xAPIC) local APIC. */
export const LAPIC_VERSION = 0x14;
/** Version 0x14 (integrated APIC), six LVT entries (max LVT index 5). */
const APIC_VERSION_VALUE = (5 << 16) | LAPIC_VERSION;
// SVR
const SVR_APIC_ENABLED = 0x100;
const SVR_FOCUS_DISABLED = 0x200;
// LVT bits
const LVT_VECTOR = 0xff;
const LVT_DELIVERY_MODE_SHIFT = 8;
// bit 12 delivery status and bit 14 remote IRR are read-only and stay 0: delivery is immediate
const LVT_POLARITY_LOW = 1 << 13;
const LVT_LEVEL_TRIGGER = 1 << 15;
const LVT_MASKED = 1 << 16;
const LVT_TIMER_PERIODIC = 1 << 17;
const LVT_TIMER_MODE_MASK = 3 << 17;
const DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_STARTUP = 6, DM_EXTINT = 7;
// LVT writable bits per entry
const LVT_TIMER_WMASK = LVT_VECTOR | LVT_MASKED | LVT_TIMER_MODE_MASK;
const LVT_THERMAL_WMASK = LVT_VECTOR | (7 << LVT_DELIVERY_MODE_SHIFT) | LVT_MASKED;
const LVT_LINT_WMASK = LVT_VECTOR | (7 << LVT_DELIVERY_MODE_SHIFT) | LVT_POLARITY_LOW | LVT_LEVEL_TRIGGER | LVT_MASKED;
const LVT_ERROR_WMASK = LVT_VECTOR | LVT_MASKED;
const LVT_OFFSETS = [APIC_LVT_TIMER, APIC_LVT_THERMAL, APIC_LVT_PERF, APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_ERROR];
const LVT_WMASKS = [LVT_TIMER_WMASK, LVT_THERMAL_WMASK, LVT_THERMAL_WMASK, LVT_LINT_WMASK, LVT_LINT_WMASK, LVT_ERROR_WMASK];
const LVT_TIMER = 0, LVT_LINT0 = 3, LVT_ERROR = 5; // LINT1 is LVT_LINT0 + 1
// ICR
const ICR_DEST_LOGICAL = 1 << 11;
const ICR_LEVEL_TRIGGER = 1 << 15;
const ICR_SHORTHAND_SHIFT = 18;
const SH_NONE = 0, SH_SELF = 1, SH_ALL_INCL_SELF = 2, SH_ALL_EXCL_SELF = 3;
const ICR_LOW_WMASK = 0x000ccfff; // vector, mode, dest mode, level, trigger, shorthand
// ESR bits
const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
const ESR_ILLEGAL_REGISTER = 1 << 7;
// DFR models
const DFR_FLAT = 0xf;

export interface LapicState {
  id: number;
  tpr: number;
  ldr: number;
  dfr: number;
  svr: number;
  esr: number;          // value the guest reads (latched by an ESR write)
  esrPending: number;   // errors collected since the last latch
  isr: Uint32Array;     // 8 x 32 bits
  tmr: Uint32Array;
  irr: Uint32Array;
  icrLow: number;
  icrHigh: number;
  lvt: Uint32Array;     // timer, thermal, perf, LINT0, LINT1, error
  timerInitial: number;
  timerDivide: number;  // TDCR as written
  timerStartNs: number;
  lintLevel: number;    // bit n = LINTn input level
  globalEnabled: boolean; // IA32_APIC_BASE.EN
  guestErrors: number;
}

/** An inter-processor interrupt that is not for this CPU (INIT, SIPI, other destinations). */
export interface LapicIpi { vector: number; deliveryMode: number; logical: boolean; destination: number; shorthand: number }

export interface LapicOptions {
  apicId?: number;
  busFrequencyHz?: number;
  onIntr?: (level: boolean) => void;
  onNmi?: () => void;
  /** EOI of a level-triggered vector: the Machine forwards it to the IO-APIC(s). */
  onEoi?: (vector: number) => void;
  onIpi?: (ipi: LapicIpi) => void;
}

function highestBit(bits: Uint32Array): number {
  for (let i = 7; i >= 0; i--) if (bits[i] !== 0) return i * 32 + 31 - Math.clz32(bits[i]);
  return -1;
}

export class Lapic implements IoDevice {
  readonly name = 'lapic';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state!: LapicState;
  readonly busFrequencyHz: number;
  private readonly timer: Timer;
  private readonly apicId: number;
  private readonly onIntr: (level: boolean) => void;
  private readonly onNmi: () => void;
  private readonly onEoi: (vector: number) => void;
  private readonly onIpi: (ipi: LapicIpi) => void;
  private intr = false;

  constructor(private readonly clock: Clock, options: LapicOptions = {}) {
    this.apicId = options.apicId ?? 0;
    this.busFrequencyHz = options.busFrequencyHz ?? APIC_BUS_FREQUENCY_HZ;
    this.onIntr = options.onIntr ?? (() => {});
    this.onNmi = options.onNmi ?? (() => {});
    this.onEoi = options.onEoi ?? (() => {});
    this.onIpi = options.onIpi ?? (() => {});
    this.timer = clock.createTimer('lapic-timer', (now) => this.onTimer(now));
    this.state = this.freshState();
  }

  private freshState(): LapicState {
    const lvt = new Uint32Array(6).fill(LVT_MASKED);
    return {
      id: this.apicId, tpr: 0, ldr: 0, dfr: 0xffffffff, svr: 0xff, esr: 0, esrPending: 0,
      isr: new Uint32Array(8), tmr: new Uint32Array(8), irr: new Uint32Array(8),
      icrLow: 0, icrHigh: 0, lvt, timerInitial: 0, timerDivide: 0, timerStartNs: 0, lintLevel: 0,
      globalEnabled: true, guestErrors: 0,
    };
  }

  reset(): void {
    const lint = this.state?.lintLevel ?? 0;
    this.state = this.freshState();
    this.state.lintLevel = lint;
    this.timer.cancel();
    this.updateIntr();
  }

  loadState(state: LapicState): void {
    this.state = {
      ...state, isr: new Uint32Array(state.isr), tmr: new Uint32Array(state.tmr),
      irr: new Uint32Array(state.irr), lvt: new Uint32Array(state.lvt),
    };
    this.armTimer(this.clock.now());
    this.updateIntr();
  }

  /**
   * What a PC BIOS leaves behind (MP specification 1.4, section 3.6.2.2, virtual wire mode; as
   * SeaBIOS does): the APIC software-enabled, LINT0 taking the 8259's INTR as ExtINT and LINT1
   * as NMI, so the 8259 keeps working until the OS sets up the APIC its own way.
   */
  enterVirtualWireMode(): void {
    const s = this.state;
    s.svr = (s.svr & 0xff) | SVR_APIC_ENABLED;
    s.lvt[LVT_LINT0] = DM_EXTINT << LVT_DELIVERY_MODE_SHIFT;
    s.lvt[LVT_LINT0 + 1] = DM_NMI << LVT_DELIVERY_MODE_SHIFT;
    this.updateIntr();
  }

  /** IA32_APIC_BASE bit 11. Disabled, the APIC passes LINT0 straight through as INTR. */
  setGlobalEnable(enabled: boolean): void {
    if (!enabled && this.state.globalEnabled) { this.reset(); }
    this.state.globalEnabled = enabled;
    this.updateIntr();
  }

  private get softwareEnabled(): boolean { return (this.state.svr & SVR_APIC_ENABLED) !== 0; }

  private ppr(): number {
    const isrv = highestBit(this.state.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.state.tpr & 0xf0) >= isrClass ? this.state.tpr & 0xff : isrClass;
  }

  private extIntAsserted(): boolean {
    const s = this.state;
    if (!(s.lintLevel & 1)) return false;
    if (!s.globalEnabled) return true; // INTR pin behaviour
    const lvt = s.lvt[LVT_LINT0];
    return this.softwareEnabled && !(lvt & LVT_MASKED) && ((lvt >> LVT_DELIVERY_MODE_SHIFT) & 7) === DM_EXTINT;
  }

  /** True when the CPU should take an interrupt (checked with EFLAGS.IF by the CPU). */
  interruptPending(): boolean {
    if (this.extIntAsserted()) return true;
    if (!this.state.globalEnabled || !this.softwareEnabled) return false;
    const v = highestBit(this.state.irr);
    return v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0);
  }

  private updateIntr(): void {
    const level = this.interruptPending();
    if (level !== this.intr) { this.intr = level; this.onIntr(level); }
  }

  /** INTA: the vector to deliver. */
  acknowledge(): number {
    const s = this.state;
    let vector: number;
    if (this.extIntAsserted()) {
      vector = LAPIC_EXTINT;
    } else {
      const v = highestBit(s.irr);
      if (v < 0 || (v & 0xf0) <= (this.ppr() & 0xf0) || !this.softwareEnabled) {
        vector = s.svr & 0xff; // spurious: nothing left above the processor priority
      } else {
        s.irr[v >> 5] &= ~(1 << (v & 31));
        s.isr[v >> 5] |= 1 << (v & 31);
        vector = v;
      }
    }
    this.updateIntr();
    return vector;
  }

  /** A fixed interrupt arrives (from the IO-APIC, an LVT entry or an IPI). */
  acceptInterrupt(vector: number, levelTriggered: boolean): void {
    const s = this.state;
    vector &= 0xff;
    if (vector < 16) { this.signalError(ESR_RECEIVE_ILLEGAL_VECTOR); return; }
    const w = vector >> 5, bit = 1 << (vector & 31);
    s.irr[w] |= bit;
    if (levelTriggered) s.tmr[w] |= bit; else s.tmr[w] &= ~bit;
    this.updateIntr();
  }

  /** Does a message for `destination` (physical or logical) address this APIC? */
  matchesDestination(destination: number, logical: boolean): boolean {
    const s = this.state;
    destination &= 0xff;
    if (destination === 0xff) return true;
    if (!logical) return destination === (s.id & 0xff);
    const ldr = s.ldr >>> 24;
    if ((s.dfr >>> 28) === DFR_FLAT) return (ldr & destination) !== 0;
    return (ldr >> 4) === (destination >> 4) && (ldr & destination & 0x0f) !== 0; // cluster model
  }

  /** Drive the LINT0 / LINT1 input pins. */
  setLint(pin: number, level: boolean): void {
    if (pin !== 0 && pin !== 1) return;
    const s = this.state;
    const bit = 1 << pin;
    const rising = level && !(s.lintLevel & bit);
    if (level) s.lintLevel |= bit; else s.lintLevel &= ~bit;
    if (!s.globalEnabled) {
      if (pin === 1 && rising) this.onNmi(); // LINT1 is the NMI pin when the APIC is off
      this.updateIntr();
      return;
    }
    const lvt = s.lvt[LVT_LINT0 + pin];
    if (!(lvt & LVT_MASKED) && this.softwareEnabled) {
      const mode = (lvt >> LVT_DELIVERY_MODE_SHIFT) & 7;
      if (mode === DM_NMI && rising) this.onNmi();
      else if (mode === DM_FIXED) {
        if (lvt & LVT_LEVEL_TRIGGER) { if (level) this.acceptInterrupt(lvt & LVT_VECTOR, true); }
        else if (rising) this.acceptInterrupt(lvt & LVT_VECTOR, false);
      }
    }
    this.updateIntr();
  }

  private signalError(bits: number): void {
    const s = this.state;
    const newBits = bits & ~s.esrPending;
    s.esrPending |= bits;
    const lvt = s.lvt[LVT_ERROR];
    if (newBits && !(lvt & LVT_MASKED) && (lvt & LVT_VECTOR) >= 16) this.acceptInterrupt(lvt & LVT_VECTOR, false);
  }

  private eoi(): void {
    const s = this.state;
    const v = highestBit(s.isr);
    if (v < 0) return;
    const w = v >> 5, bit = 1 << (v & 31);
    s.isr[w] &= ~bit;
    if (s.tmr[w] & bit) this.onEoi(v);
    this.updateIntr();
  }

  private sendIpi(): void {
    const s = this.state;
    const low = s.icrLow;
    const vector = low & 0xff;
    const mode = (low >> LVT_DELIVERY_MODE_SHIFT) & 7;
    const logical = (low & ICR_DEST_LOGICAL) !== 0;
    const shorthand = (low >> ICR_SHORTHAND_SHIFT) & 3;
    const destination = s.icrHigh >>> 24;
    const toSelf = shorthand === SH_SELF || shorthand === SH_ALL_INCL_SELF ||
      (shorthand === SH_NONE && this.matchesDestination(destination, logical));
    if ((mode === DM_FIXED || mode === DM_LOWEST) && vector < 16) { this.signalError(ESR_SEND_ILLEGAL_VECTOR); return; }
    // Another CPU may be addressed too (broadcasts, logical or other IDs): the Machine decides.
    const othersMayMatch = shorthand === SH_ALL_INCL_SELF || shorthand === SH_ALL_EXCL_SELF ||
      (shorthand === SH_NONE && (logical || destination !== (s.id & 0xff)));
    if (othersMayMatch) this.onIpi({ vector, deliveryMode: mode, logical, destination, shorthand });
    if (!toSelf) return;
    if (mode === DM_FIXED || mode === DM_LOWEST) this.acceptInterrupt(vector, (low & ICR_LEVEL_TRIGGER) !== 0);
    else if (mode === DM_NMI) this.onNmi();
    else if (mode !== DM_INIT && mode !== DM_STARTUP && mode !== DM_SMI) this.state.guestErrors++;
  }

  // ---- timer ----

  private divisor(): number {
    const d = this.state.timerDivide;
    const v = ((d >> 1) & 4) | (d & 3);
    return v === 7 ? 1 : 2 << v;
  }

  private nsPerCount(): number { return (this.divisor() * 1e9) / this.busFrequencyHz; }

  private get periodic(): boolean { return (this.state.lvt[LVT_TIMER] & LVT_TIMER_MODE_MASK) === LVT_TIMER_PERIODIC; }

  /** Whole counts elapsed since the timer was started. */
  private countsElapsed(now: number): number {
    return Math.floor((now - this.state.timerStartNs) / this.nsPerCount() + 1e-9);
  }

  private currentCount(now: number): number {
    const s = this.state;
    if (s.timerInitial === 0) return 0;
    const n = this.countsElapsed(now);
    if (this.periodic) return s.timerInitial - (n % s.timerInitial);
    return Math.max(0, s.timerInitial - n);
  }

  private armTimer(now: number): void {
    const s = this.state;
    if (s.timerInitial === 0) { this.timer.cancel(); return; }
    const n = this.countsElapsed(now);
    const periodNs = s.timerInitial * this.nsPerCount();
    let k: number;
    // Periods are counted in floating point with a tolerance: called at a period's exact end
    // (the scheduler passes the deadline as `now`), rounding must not make the next deadline
    // equal this one, or the timer would fire again and again at the same instant.
    if (this.periodic) k = Math.floor((now - s.timerStartNs) / periodNs + 1e-6) + 1;
    else if (n < s.timerInitial) k = 1;
    else { this.timer.cancel(); return; }
    let deadline = s.timerStartNs + k * periodNs;
    if (this.periodic && deadline <= now) deadline = s.timerStartNs + (k + 1) * periodNs;
    this.timer.arm(deadline);
  }

  private onTimer(now: number): void {
    const s = this.state;
    const lvt = s.lvt[LVT_TIMER];
    if (!(lvt & LVT_MASKED) && this.softwareEnabled) this.acceptInterrupt(lvt & LVT_VECTOR, false);
    if (this.periodic) this.armTimer(now);
  }

  // ---- register access ----

  private readRegister(reg: number): number {
    const s = this.state;
    const now = this.clock.now();
    if (reg >= APIC_ISR && reg < APIC_ISR + 0x80) return s.isr[(reg - APIC_ISR) >> 4];
    if (reg >= APIC_TMR && reg < APIC_TMR + 0x80) return s.tmr[(reg - APIC_TMR) >> 4];
    if (reg >= APIC_IRR && reg < APIC_IRR + 0x80) return s.irr[(reg - APIC_IRR) >> 4];
    const lvtIndex = LVT_OFFSETS.indexOf(reg);
    if (lvtIndex >= 0) return s.lvt[lvtIndex];
    switch (reg) {
      case APIC_ID: return (s.id & 0xff) << 24;
      case APIC_VERSION: return APIC_VERSION_VALUE;
      case APIC_TPR: return s.tpr;
      case APIC_APR: return 0;
      case APIC_PPR: return this.ppr();
      case APIC_RRD: return 0;
      case APIC_LDR: return s.ldr;
      case APIC_DFR: return s.dfr;
      case APIC_SVR: return s.svr;
      case APIC_ESR: return s.esr;
      case APIC_ICR_LOW: return s.icrLow; // delivery status always idle: IPIs are delivered at once
      case APIC_ICR_HIGH: return s.icrHigh;
      case APIC_TMICT: return s.timerInitial;
      case APIC_TMCCT: return this.currentCount(now) >>> 0;
      case APIC_TDCR: return s.timerDivide;
      case APIC_EOI: return 0;
      default:
        this.signalError(ESR_ILLEGAL_REGISTER);
        return 0;
    }
  }

  private writeRegister(reg: number, value: number): void {
    const s = this.state;
    const now = this.clock.now();
    value >>>= 0;
    const lvtIndex = LVT_OFFSETS.indexOf(reg);
    if (lvtIndex >= 0) {
      let v = (s.lvt[lvtIndex] & ~LVT_WMASKS[lvtIndex]) | (value & LVT_WMASKS[lvtIndex]);
      if (!this.softwareEnabled) v |= LVT_MASKED; // LVT masks cannot be cleared while software-disabled
      const wasPeriodic = this.periodic;
      s.lvt[lvtIndex] = v >>> 0;
      if (lvtIndex === LVT_TIMER && wasPeriodic !== this.periodic) this.armTimer(now);
      this.updateIntr();
      return;
    }
    switch (reg) {
      case APIC_ID: s.id = value >>> 24; break;
      case APIC_TPR: s.tpr = value & 0xff; break;
      case APIC_EOI: this.eoi(); break;
      case APIC_LDR: s.ldr = value & 0xff000000; break;
      case APIC_DFR: s.dfr = (value | 0x0fffffff) >>> 0; break;
      case APIC_SVR:
        s.svr = value & (0xff | SVR_APIC_ENABLED | SVR_FOCUS_DISABLED);
        if (!this.softwareEnabled) for (let i = 0; i < 6; i++) s.lvt[i] |= LVT_MASKED;
        break;
      case APIC_ESR:
        s.esr = s.esrPending; // a write latches the errors collected so far
        s.esrPending = 0;
        break;
      case APIC_ICR_HIGH: s.icrHigh = value & 0xff000000; break;
      case APIC_ICR_LOW:
        s.icrLow = value & ICR_LOW_WMASK;
        this.sendIpi();
        break;
      case APIC_TMICT:
        s.timerInitial = value;
        s.timerStartNs = now;
        this.armTimer(now);
        break;
      case APIC_TDCR: {
        // Keep the current count, continue at the new rate.
        const remaining = this.currentCount(now);
        s.timerDivide = value & 0x0b;
        if (s.timerInitial !== 0) {
          const done = this.periodic || remaining > 0 ? s.timerInitial - remaining : s.timerInitial;
          s.timerStartNs = now - done * this.nsPerCount();
          this.armTimer(now);
        }
        break;
      }
      case APIC_VERSION: case APIC_APR: case APIC_PPR: case APIC_RRD: case APIC_TMCCT:
        break; // read-only
      default:
        if (!(reg >= APIC_ISR && reg < APIC_IRR + 0x80)) this.signalError(ESR_ILLEGAL_REGISTER);
    }
    this.updateIntr();
  }

  read(offset: number, size: IoSize): number {
    if (!(offset >= 0 && offset < 0x1000)) { this.state.guestErrors++; return 0; }
    const inSlot = offset & 0xf;
    if (inSlot + size > 4) { this.state.guestErrors++; return 0; } // only the low dword of a slot exists
    const v = this.readRegister(offset & 0xff0);
    const shifted = v >>> (8 * inSlot);
    return size === 4 ? shifted >>> 0 : shifted & ((1 << (8 * size)) - 1);
  }

  write(offset: number, size: IoSize, value: number): void {
    // Registers take aligned 32-bit stores only; anything else is dropped and counted.
    if (!(offset >= 0 && offset < 0x1000) || size !== 4 || (offset & 0xf) !== 0) { this.state.guestErrors++; return; }
    this.writeRegister(offset, value);
  }
}
