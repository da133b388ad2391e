// Intel 8254 Programmable Interval Timer (datasheet 231164), clocked at 1.193182 MHz on a PC,
// and Port B (System Control Port B, 0x61 on PIIX3) which carries counter 2's gate and OUT.
//
// Counters are never ticked: each one remembers when it started counting, and its count and OUT
// are computed from guest time on demand. Counter 0 (the system timer, IRQ0) keeps a Clock timer
// armed at its next OUT transition.
//
// Offsets: 0..2 counters 0..2, 3 control word.

import type { Clock, IoDevice, IoSize, IrqLine, Timer } from '../machine/io';

/** Input clock of the PC's 8254. */
export const PIT_FREQUENCY_HZ = 1_193_182;

// Control word (offset 3)
const CW_BCD = 0x01;          // binary coded decimal counting
const CW_MODE_SHIFT = 1;      // M2..M0
const CW_RW_SHIFT = 4;        // RW1..RW0: 0 latch, 1 LSB, 2 MSB, 3 LSB then MSB
const CW_SC_SHIFT = 6;        // SC1..SC0: counter select, 3 = read-back
const SC_READ_BACK = 3;
const RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_LSB_MSB = 3;
// Read-back command
const RB_NOT_COUNT = 0x20;    // 0 = latch count of selected counters
const RB_NOT_STATUS = 0x10;   // 0 = latch status of selected counters
const RB_CNT0 = 0x02;         // selects counter 0; counter n is bit n+1
// Status byte
const STATUS_OUTPUT = 0x80;
const STATUS_NULL_COUNT = 0x40;

export interface PitCounterState {
  mode: number;         // 0..5
  bcd: boolean;
  rw: number;           // RW_*
  reload: number;       // the count in binary, 1..65536 (or 1..10000 in BCD); 0 = never written
  loaded: boolean;      // a count was written since the control word
  triggered: boolean;   // modes 1 and 5: a gate rising edge started counting
  gate: boolean;
  startNs: number;      // guest time (integer ns) counting last (re)started
  ticksBefore: number;  // ticks counted before the last pause
  paused: boolean;      // gate low in a mode where that stops counting
  nullCount: boolean;
  writeMsbNext: boolean;
  writeLsb: number;
  readMsbNext: boolean;
  countLatched: boolean;
  latchValue: number;
  latchMsbNext: boolean;
  statusLatched: boolean;
  statusValue: number;
}

export interface Pit8254State {
  counters: PitCounterState[];
  guestErrors: number;
}

function freshCounter(index: number): PitCounterState {
  return {
    mode: 0, bcd: false, rw: RW_LSB_MSB, reload: 0, loaded: false, triggered: false,
    // Counters 0 and 1 have their gates tied high on a PC; counter 2's comes from Port B.
    gate: index !== 2, startNs: 0, ticksBefore: 0, paused: false, nullCount: true,
    writeMsbNext: false, writeLsb: 0, readMsbNext: false, countLatched: false, latchValue: 0,
    latchMsbNext: false, statusLatched: false, statusValue: 0,
  };
}

/** Whole PIT ticks in the guest interval [from, to) ns, computed exactly for integer ns. */
function ticksBetween(fromNs: number, toNs: number): number {
  const ns = Math.max(0, Math.floor(toNs) - Math.floor(fromNs));
  const sec = Math.floor(ns / 1e9);
  const rem = ns - sec * 1e9;
  return sec * PIT_FREQUENCY_HZ + Math.floor((rem * PIT_FREQUENCY_HZ) / 1e9);
}

/** Nanoseconds until `ticks` PIT ticks have elapsed (rounded up, so ticksBetween agrees). */
function ticksToNs(ticks: number): number {
  const sec = Math.floor(ticks / PIT_FREQUENCY_HZ);
  const rem = ticks - sec * PIT_FREQUENCY_HZ;
  return sec * 1e9 + Math.ceil((rem * 1e9) / PIT_FREQUENCY_HZ);
}

function toBcd(v: number): number {
  return ((Math.floor(v / 1000) % 10) << 12) | ((Math.floor(v / 100) % 10) << 8) |
         ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

function fromBcd(v: number): number {
  return (((v >> 12) & 15) * 1000 + ((v >> 8) & 15) * 100 + ((v >> 4) & 15) * 10 + (v & 15)) % 10000;
}

export class Pit8254 implements IoDevice {
  readonly name = 'i8254';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: Pit8254State = { counters: [freshCounter(0), freshCounter(1), freshCounter(2)], guestErrors: 0 };
  private readonly timer0: Timer;

  /** `irq0` follows counter 0's OUT. */
  constructor(private readonly clock: Clock, private readonly irq0: IrqLine) {
    // The callback evaluates OUT at its own deadline, not at clock.now(): a callback that runs
    // late (the run loop fires timers between CPU runs) must still see the one-clock low strobe
    // of modes 2 and 4, or the edge that IRQ0 latches would be lost.
    this.timer0 = clock.createTimer('i8254-counter0', (now) => this.updateCounter0(Math.floor(now)));
  }

  reset(): void {
    const gates = this.state.counters.map((c) => c.gate);
    this.state = { counters: [freshCounter(0), freshCounter(1), freshCounter(2)], guestErrors: 0 };
    this.state.counters.forEach((c, i) => { c.gate = gates[i]; });
    this.updateCounter0();
  }

  loadState(state: Pit8254State): void {
    this.state = { counters: state.counters.map((c) => ({ ...c })), guestErrors: state.guestErrors };
    this.updateCounter0();
  }

  private now(): number { return Math.floor(this.clock.now()); }

  /** Ticks counted since the count was loaded / triggered, or -1 if the counter is not counting. */
  private elapsed(c: PitCounterState, now: number): number {
    if (!c.loaded) return -1;
    if ((c.mode === 1 || c.mode === 5) && !c.triggered) return -1;
    return c.ticksBefore + (c.paused ? 0 : ticksBetween(c.startNs, now));
  }

  private modulus(c: PitCounterState): number { return c.bcd ? 10000 : 65536; }

  /** The counting element's value (binary), as a read would see it. */
  private countValue(c: PitCounterState, now: number): number {
    const d = this.elapsed(c, now);
    const n = c.reload;
    const m = this.modulus(c);
    if (d < 0) return n % m;
    switch (c.mode) {
      case 2: return (n - (d % n)) % m;
      case 3: return (n - ((2 * d) % n)) % m; // decrements by two (odd counts approximated)
      default: return (((n - d) % m) + m) % m;  // modes 0,1,4,5 wrap after terminal count
    }
  }

  private outLevel(c: PitCounterState, now: number): boolean {
    const d = this.elapsed(c, now);
    if (d < 0) return c.mode !== 0;
    if ((c.mode === 2 || c.mode === 3) && !c.gate) return true; // gate low forces OUT high
    const n = c.reload;
    switch (c.mode) {
      case 0: case 1: return d >= n;
      case 2: return (d % n) !== n - 1;          // low for the one clock where the count is 1
      case 3: return (d % n) < Math.ceil(n / 2); // high for the first half of each period
      default: return d !== n;                    // modes 4,5: a one-clock strobe after TC
    }
  }

  /** Guest time of the next OUT transition, or -1. */
  private nextTransition(c: PitCounterState, now: number): number {
    const d = this.elapsed(c, now);
    if (d < 0 || c.paused) return -1;
    const n = c.reload;
    let at = -1;
    switch (c.mode) {
      case 0: case 1: at = d < n ? n : -1; break;
      case 2: { if (n < 2) return -1; const ph = d % n; at = ph < n - 1 ? d - ph + n - 1 : d - ph + n; break; }
      case 3: { if (n < 2) return -1; const h = Math.ceil(n / 2), ph = d % n; at = ph < h ? d - ph + h : d - ph + n; break; }
      default: at = d < n ? n : d === n ? n + 1 : -1;
    }
    if (at < 0) return -1;
    return Math.floor(c.startNs) + ticksToNs(at - c.ticksBefore);
  }

  /**
   * Drive IRQ0 from counter 0's OUT at guest time `now` and arm the timer at the transition
   * after it. A late callback passes its deadline, so the next transition may already be past:
   * the timer then fires again at once, with that transition's time, and each edge is seen.
   */
  private updateCounter0(now = this.now()): void {
    const c = this.state.counters[0];
    this.irq0.set(this.outLevel(c, now));
    const next = this.nextTransition(c, now);
    if (next >= 0) this.timer0.arm(Math.max(next, now + 1)); else this.timer0.cancel();
  }

  private changed(index: number): void { if (index === 0) this.updateCounter0(); }

  /** OUT of counter `index` (0..2) now: Port B reads counter 2's. */
  out(index: number): boolean {
    const c = this.state.counters[index];
    return c ? this.outLevel(c, this.now()) : false;
  }

  /** Current count of counter `index` (binary), for the inspector and tests. */
  count(index: number): number {
    const c = this.state.counters[index];
    return c ? this.countValue(c, this.now()) : 0;
  }

  /** Drive the GATE input of counter `index`. */
  setGate(index: number, level: boolean): void {
    const c = this.state.counters[index];
    if (!c || c.gate === level) return;
    const now = this.now();
    if (level) {
      if (c.mode === 1 || c.mode === 5 || c.mode === 2 || c.mode === 3) {
        // A rising edge (re)loads the count and starts a new cycle.
        c.startNs = now; c.ticksBefore = 0; c.paused = false;
        if (c.loaded) { c.triggered = true; c.nullCount = false; }
      } else if (c.paused) {
        c.startNs = now; c.paused = false; // modes 0,4 resume where they stopped
      }
    } else if (c.mode !== 1 && c.mode !== 5 && !c.paused) {
      c.ticksBefore = this.elapsed(c, now) < 0 ? 0 : this.elapsed(c, now);
      c.paused = true;
    }
    c.gate = level;
    this.changed(index);
  }

  read(offset: number, _size: IoSize): number {
    const c = this.state.counters[offset];
    if (offset > 2 || !c) { this.state.guestErrors++; return 0xff; } // the control word is write-only
    if (c.statusLatched) { c.statusLatched = false; return c.statusValue; }
    if (c.countLatched) {
      const v = c.latchValue;
      if (c.rw === RW_LSB_MSB && !c.latchMsbNext) { c.latchMsbNext = true; return v & 0xff; }
      c.countLatched = false; c.latchMsbNext = false;
      return c.rw === RW_LSB ? v & 0xff : (v >> 8) & 0xff;
    }
    const v = this.readableCount(c);
    switch (c.rw) {
      case RW_LSB: return v & 0xff;
      case RW_MSB: return (v >> 8) & 0xff;
      default:
        c.readMsbNext = !c.readMsbNext;
        return c.readMsbNext ? v & 0xff : (v >> 8) & 0xff;
    }
  }

  private readableCount(c: PitCounterState): number {
    const v = this.countValue(c, this.now());
    return c.bcd ? toBcd(v) : v;
  }

  write(offset: number, _size: IoSize, value: number): void {
    value &= 0xff;
    if (offset === 3) { this.writeControl(value); return; }
    const c = this.state.counters[offset];
    if (!c) { this.state.guestErrors++; return; }
    switch (c.rw) {
      case RW_LSB: this.loadCount(offset, value); break;
      case RW_MSB: this.loadCount(offset, value << 8); break;
      default:
        if (!c.writeMsbNext) { c.writeLsb = value; c.writeMsbNext = true; }
        else { c.writeMsbNext = false; this.loadCount(offset, c.writeLsb | (value << 8)); }
    }
  }

  private loadCount(index: number, raw: number): void {
    const c = this.state.counters[index];
    let n = c.bcd ? fromBcd(raw) : raw;
    if (n === 0) n = this.modulus(c); // a count of 0 means 2^16 (10^4 in BCD)
    const now = this.now();
    c.reload = n;
    c.loaded = true;
    if (c.mode === 1 || c.mode === 5) {
      c.nullCount = !c.triggered; // taken into the counting element on the next trigger
    } else {
      // Modes 0, 2, 3, 4 start counting from the new count (a real chip waits one CLK).
      c.nullCount = false;
      c.startNs = now; c.ticksBefore = 0;
      c.paused = !c.gate;
    }
    this.changed(index);
  }

  private writeControl(value: number): void {
    const sc = value >> CW_SC_SHIFT;
    if (sc === SC_READ_BACK) { this.readBack(value); return; }
    const c = this.state.counters[sc];
    const rw = (value >> CW_RW_SHIFT) & 3;
    if (rw === RW_LATCH) {
      if (!c.countLatched) { c.countLatched = true; c.latchValue = this.readableCount(c); c.latchMsbNext = false; }
      return;
    }
    let mode = (value >> CW_MODE_SHIFT) & 7;
    if (mode > 5) mode -= 4; // 110 and 111 are modes 2 and 3
    c.mode = mode;
    c.rw = rw;
    c.bcd = (value & CW_BCD) !== 0;
    c.loaded = false; c.triggered = false; c.paused = false;
    c.nullCount = true;
    c.writeMsbNext = false; c.readMsbNext = false;
    c.countLatched = false; c.statusLatched = false;
    this.changed(sc);
  }

  private readBack(value: number): void {
    const now = this.now();
    for (let i = 0; i < 3; i++) {
      if (!(value & (RB_CNT0 << i))) continue;
      const c = this.state.counters[i];
      if (!(value & RB_NOT_COUNT) && !c.countLatched) {
        c.countLatched = true; c.latchValue = this.readableCount(c); c.latchMsbNext = false;
      }
      if (!(value & RB_NOT_STATUS) && !c.statusLatched) {
        c.statusLatched = true;
        c.statusValue = (this.outLevel(c, now) ? STATUS_OUTPUT : 0) | (c.nullCount ? STATUS_NULL_COUNT : 0) |
          (c.rw << CW_RW_SHIFT) | (c.mode << CW_MODE_SHIFT) | (c.bcd ? CW_BCD : 0);
      }
    }
  }
}

// Port B (0x61)
export const PORTB_GATE2 = 0x01;        // timer 2 gate (read/write)
export const PORTB_SPEAKER_DATA = 0x02; // speaker data enable (read/write)
const PORTB_PARITY_DISABLE = 0x04;      // PCI SERR# check enable, active low (read/write)
const PORTB_IOCHK_DISABLE = 0x08;       // IOCHK# check enable, active low (read/write)
export const PORTB_REFRESH = 0x10;      // toggles every refresh cycle (read-only)
export const PORTB_OUT2 = 0x20;         // timer 2 OUT (read-only)
const PORTB_WRITABLE = PORTB_GATE2 | PORTB_SPEAKER_DATA | PORTB_PARITY_DISABLE | PORTB_IOCHK_DISABLE;
/** The DRAM refresh request toggles every 15.085 us (counter 1 programmed by old BIOSes; fixed in PIIX). */
const REFRESH_PERIOD_NS = 15_085;

export interface PitPortBState { value: number }

/** System Control Port B. `onSpeaker(gate2, data)` reports the speaker inputs when they change. */
export class PitPortB implements IoDevice {
  readonly name = 'port-b';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: PitPortBState = { value: 0 };

  constructor(private readonly pit: Pit8254, private readonly clock: Clock,
              private readonly onSpeaker: (gate2: boolean, data: boolean) => void = () => {}) {}

  reset(): void { this.state = { value: 0 }; this.pit.setGate(2, false); }

  loadState(state: PitPortBState): void { this.state = { ...state }; }

  read(offset: number, _size: IoSize): number {
    if (offset !== 0) return 0xff;
    const refresh = Math.floor(this.clock.now() / REFRESH_PERIOD_NS) & 1;
    return (this.state.value & PORTB_WRITABLE) | (refresh ? PORTB_REFRESH : 0) | (this.pit.out(2) ? PORTB_OUT2 : 0);
  }

  write(offset: number, _size: IoSize, value: number): void {
    if (offset !== 0) return;
    const old = this.state.value;
    this.state.value = value & PORTB_WRITABLE;
    this.pit.setGate(2, (value & PORTB_GATE2) !== 0);
    if ((old ^ this.state.value) & (PORTB_GATE2 | PORTB_SPEAKER_DATA)) {
      this.onSpeaker((value & PORTB_GATE2) !== 0, (value & PORTB_SPEAKER_DATA) !== 0);
    }
  }
}
