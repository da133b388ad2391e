// Motorola MC146818A real-time clock with 128 bytes of CMOS RAM (as in the PC/AT and PIIX).
// Offset 0 is the index port (bit 7 = NMI disable on a PC), offset 1 the data port.
//
// The time is not stored and ticked: it is the start time given at construction plus guest time,
// plus whatever offset the guest set. So deterministic runs see the same date every time.
// Flags in register C are brought up to date lazily (on read) and by one Clock timer while an
// interrupt is enabled.

import type { Clock, IoDevice, IoSize, IrqLine, Timer } from '../machine/io';

// Register indices
export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
// PC CMOS layout (IBM AT, extended by SeaBIOS/QEMU)
export const CMOS_EQUIPMENT = 0x14;
export const CMOS_BASE_MEM_LO = 0x15;
export const CMOS_BASE_MEM_HI = 0x16;
export const CMOS_EXT_MEM_LO = 0x17;
export const CMOS_EXT_MEM_HI = 0x18;
export const CMOS_CHECKSUM_HI = 0x2e;
export const CMOS_CHECKSUM_LO = 0x2f;
export const CMOS_EXT_MEM2_LO = 0x30;
export const CMOS_EXT_MEM2_HI = 0x31;
export const CMOS_CENTURY = 0x32;
export const CMOS_MEM_ABOVE_16M_LO = 0x34;
export const CMOS_MEM_ABOVE_16M_HI = 0x35;
export const CMOS_MEM_ABOVE_4G = 0x5b; // three bytes, 64 KiB units

// Register A
const REGA_UIP = 0x80;          // update in progress
const REGA_DV_MASK = 0x70;      // divider select
const REGA_DV_32K = 0x20;       // 32.768 kHz time base, oscillator running
const REGA_RS_MASK = 0x0f;      // periodic rate select
// Register B
const REGB_SET = 0x80;          // halt updates so the time can be set
const REGB_PIE = 0x40;          // periodic interrupt enable
const REGB_AIE = 0x20;          // alarm interrupt enable
const REGB_UIE = 0x10;          // update-ended interrupt enable
const REGB_DM = 0x04;           // data mode: 1 = binary, 0 = BCD
const REGB_24H = 0x02;          // 1 = 24-hour mode
// Register C
const REGC_IRQF = 0x80;
const REGC_PF = 0x40;
const REGC_AF = 0x20;
const REGC_UF = 0x10;
// Register D
const REGD_VRT = 0x80;          // valid RAM and time (battery good)

const INDEX_NMI_DISABLE = 0x80;
const HOURS_PM = 0x80;          // 12-hour mode PM flag
const ALARM_DONT_CARE = 0xc0;   // an alarm byte with both top bits set matches any value
/** UIP rises this long before each update (datasheet: tBUC = 244 us). */
const UIP_LEAD_NS = 244_000;
const NS_PER_S = 1e9;

export interface Mc146818State {
  cmos: Uint8Array;       // 128 bytes; time registers hold the set value while SET is on
  index: number;
  nmiDisabled: boolean;
  /** RTC seconds since the Unix epoch at guest time 0 (start time + guest adjustments). */
  epochAtZero: number;
  /** Guest time up to which register C's flags were brought up to date. */
  flagsUpTo: number;
  guestErrors: number;
}

export class Mc146818 implements IoDevice {
  readonly name = 'mc146818';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state!: Mc146818State;
  private readonly timer: Timer;

  /**
   * @param startTime RTC time at guest time 0, in milliseconds since the Unix epoch (UTC).
   *                  Deterministic machines pass a fixed value; real-time ones pass Date.now().
   */
  constructor(private readonly clock: Clock, private readonly irq: IrqLine, private readonly startTime: number) {
    this.timer = clock.createTimer('mc146818', (now) => this.onTimer(now));
    this.powerOn();
  }

  private powerOn(): void {
    const cmos = new Uint8Array(128);
    cmos[RTC_REG_A] = REGA_DV_32K | 0x06; // what the BIOS programs: 32 kHz, 1024 Hz periodic rate
    cmos[RTC_REG_B] = REGB_24H;
    cmos[RTC_REG_D] = REGD_VRT;
    cmos[CMOS_BASE_MEM_LO] = 640 & 0xff;
    cmos[CMOS_BASE_MEM_HI] = 640 >> 8;
    this.state = {
      cmos, index: 0, nmiDisabled: false,
      epochAtZero: Math.floor(this.startTime / 1000) - Math.floor(this.clock.now() / NS_PER_S),
      flagsUpTo: this.clock.now(), guestErrors: 0,
    };
    this.updateChecksum();
  }

  /**
   * Reset: the RTC keeps time and RAM across a system reset (it is battery-backed); RESET# clears
   * the interrupt enables and flags (datasheet: PIE, AIE, UIE, and register C).
   */
  reset(): void {
    const c = this.state.cmos;
    c[RTC_REG_B] &= ~(REGB_PIE | REGB_AIE | REGB_UIE);
    c[RTC_REG_C] = 0;
    this.state.nmiDisabled = false;
    this.state.flagsUpTo = this.clock.now();
    this.irq.lower();
    this.armTimer();
  }

  loadState(state: Mc146818State): void {
    this.state = { ...state, cmos: new Uint8Array(state.cmos) };
    this.irq.set((this.state.cmos[RTC_REG_C] & REGC_IRQF) !== 0);
    this.armTimer();
  }

  /** NMI-disable bit last written to the index port (the Machine gates NMI with it). */
  get nmiDisabled(): boolean { return this.state.nmiDisabled; }

  /** RTC time now, in whole seconds since the epoch, and the fraction of the current second in ns. */
  private rtcSeconds(now: number): number { return this.state.epochAtZero + Math.floor(now / NS_PER_S); }

  private get binary(): boolean { return (this.state.cmos[RTC_REG_B] & REGB_DM) !== 0; }
  private encode(v: number): number { return this.binary ? v : ((Math.floor(v / 10) % 10) << 4) | (v % 10); }
  private decode(v: number): number { return this.binary ? v : ((v >> 4) & 15) * 10 + (v & 15); }

  private encodeHours(h: number): number {
    if (this.state.cmos[RTC_REG_B] & REGB_24H) return this.encode(h);
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.encode(h12) | (h >= 12 ? HOURS_PM : 0);
  }

  private decodeHours(v: number): number {
    if (this.state.cmos[RTC_REG_B] & REGB_24H) return this.decode(v);
    const h12 = this.decode(v & ~HOURS_PM) % 12;
    return h12 + (v & HOURS_PM ? 12 : 0);
  }

  /** Write the calendar for `seconds` into the time registers (and the century byte). */
  private storeTime(seconds: number): void {
    const d = new Date(seconds * 1000);
    const c = this.state.cmos;
    c[RTC_SECONDS] = this.encode(d.getUTCSeconds());
    c[RTC_MINUTES] = this.encode(d.getUTCMinutes());
    c[RTC_HOURS] = this.encodeHours(d.getUTCHours());
    c[RTC_DAY_OF_WEEK] = this.encode(d.getUTCDay() + 1);
    c[RTC_DAY_OF_MONTH] = this.encode(d.getUTCDate());
    c[RTC_MONTH] = this.encode(d.getUTCMonth() + 1);
    c[RTC_YEAR] = this.encode(d.getUTCFullYear() % 100);
    c[CMOS_CENTURY] = this.encode(Math.floor(d.getUTCFullYear() / 100) % 100);
  }

  /** Seconds since the epoch that the time registers describe (out-of-range fields are clamped by Date). */
  private loadTime(): number {
    const c = this.state.cmos;
    const year = this.decode(c[CMOS_CENTURY]) * 100 + this.decode(c[RTC_YEAR]);
    const ms = Date.UTC(year, this.decode(c[RTC_MONTH]) - 1, this.decode(c[RTC_DAY_OF_MONTH]),
      this.decodeHours(c[RTC_HOURS]), this.decode(c[RTC_MINUTES]), this.decode(c[RTC_SECONDS]));
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : this.rtcSeconds(this.clock.now());
  }

  private get running(): boolean {
    const c = this.state.cmos;
    return (c[RTC_REG_A] & REGA_DV_MASK) === REGA_DV_32K && !(c[RTC_REG_B] & REGB_SET);
  }

  /** Periodic interrupt period in ns for the rate in register A, or 0 when off. */
  private periodicNs(): number {
    let rs = this.state.cmos[RTC_REG_A] & REGA_RS_MASK;
    if (rs === 0 || (this.state.cmos[RTC_REG_A] & REGA_DV_MASK) !== REGA_DV_32K) return 0;
    if (rs < 3) rs += 7; // rates 1 and 2 repeat rates 8 and 9 on a 32.768 kHz time base
    return ((1 << (rs - 1)) / 32768) * NS_PER_S;
  }

  private alarmMatches(seconds: number): boolean {
    const c = this.state.cmos;
    const d = new Date(seconds * 1000);
    const match = (alarm: number, value: number) => (alarm & ALARM_DONT_CARE) === ALARM_DONT_CARE || alarm === value;
    return match(c[RTC_SECONDS_ALARM], this.encode(d.getUTCSeconds())) &&
           match(c[RTC_MINUTES_ALARM], this.encode(d.getUTCMinutes())) &&
           match(c[RTC_HOURS_ALARM], this.encodeHours(d.getUTCHours()));
  }

  /** Set PF/UF/AF for every event in (flagsUpTo, now], then IRQF and the IRQ line. */
  private updateFlags(now: number): void {
    const s = this.state;
    const c = s.cmos;
    const from = s.flagsUpTo;
    if (now > from) {
      const period = this.periodicNs();
      if (period > 0 && Math.floor(now / period) > Math.floor(from / period)) c[RTC_REG_C] |= REGC_PF;
      if (this.running) {
        const firstSec = Math.floor(from / NS_PER_S) + 1, lastSec = Math.floor(now / NS_PER_S);
        if (lastSec >= firstSec) {
          c[RTC_REG_C] |= REGC_UF;
          // Check the alarm at each update in the interval (at most a day's worth: it repeats daily).
          for (let t = Math.max(firstSec, lastSec - 86400); t <= lastSec; t++) {
            if (this.alarmMatches(s.epochAtZero + t)) { c[RTC_REG_C] |= REGC_AF; break; }
          }
        }
      }
      s.flagsUpTo = now;
    }
    const b = c[RTC_REG_B];
    const pending = ((c[RTC_REG_C] & REGC_PF) && (b & REGB_PIE)) || ((c[RTC_REG_C] & REGC_AF) && (b & REGB_AIE)) ||
                    ((c[RTC_REG_C] & REGC_UF) && (b & REGB_UIE));
    if (pending && !(c[RTC_REG_C] & REGC_IRQF)) {
      c[RTC_REG_C] |= REGC_IRQF;
      this.irq.raise();
    }
  }

  /** Arm the timer at the next event that can raise IRQF, if any interrupt is enabled. */
  private armTimer(): void {
    const b = this.state.cmos[RTC_REG_B];
    const now = this.clock.now();
    let next = Infinity;
    const period = this.periodicNs();
    if ((b & REGB_PIE) && period > 0) next = (Math.floor(now / period) + 1) * period;
    if ((b & (REGB_UIE | REGB_AIE)) && this.running) next = Math.min(next, (Math.floor(now / NS_PER_S) + 1) * NS_PER_S);
    if (next === Infinity) this.timer.cancel(); else this.timer.arm(next);
  }

  private onTimer(now: number): void {
    this.updateFlags(now);
    this.armTimer();
  }

  private readRegister(index: number): number {
    const s = this.state;
    const c = s.cmos;
    const now = this.clock.now();
    if (index <= RTC_YEAR || index === CMOS_CENTURY) {
      if (!(c[RTC_REG_B] & REGB_SET) && index !== RTC_SECONDS_ALARM && index !== RTC_MINUTES_ALARM &&
          index !== RTC_HOURS_ALARM) {
        this.storeTime(this.rtcSeconds(now));
      }
      return c[index];
    }
    switch (index) {
      case RTC_REG_A: {
        const frac = now - Math.floor(now / NS_PER_S) * NS_PER_S;
        const uip = this.running && frac >= NS_PER_S - UIP_LEAD_NS;
        return (c[RTC_REG_A] & ~REGA_UIP) | (uip ? REGA_UIP : 0);
      }
      case RTC_REG_C: {
        this.updateFlags(now);
        const v = c[RTC_REG_C];
        c[RTC_REG_C] = 0;           // reading C clears all flags and releases IRQ8
        if (v & REGC_IRQF) this.irq.lower();
        return v;
      }
      case RTC_REG_D:
        return REGD_VRT;
      default:
        return c[index];
    }
  }

  private writeRegister(index: number, value: number): void {
    const s = this.state;
    const c = s.cmos;
    const now = this.clock.now();
    if (index <= RTC_YEAR || index === CMOS_CENTURY) {
      const isAlarm = index === RTC_SECONDS_ALARM || index === RTC_MINUTES_ALARM || index === RTC_HOURS_ALARM;
      if (isAlarm || (c[RTC_REG_B] & REGB_SET)) { c[index] = value; return; }
      // Writing one time field while the clock runs: set just that field.
      this.storeTime(this.rtcSeconds(now));
      c[index] = value;
      s.epochAtZero = this.loadTime() - Math.floor(now / NS_PER_S);
      return;
    }
    switch (index) {
      case RTC_REG_A:
        this.updateFlags(now);
        c[RTC_REG_A] = value & ~REGA_UIP;
        this.armTimer();
        return;
      case RTC_REG_B: {
        this.updateFlags(now);
        const old = c[RTC_REG_B];
        if ((value & REGB_SET) && !(old & REGB_SET)) this.storeTime(this.rtcSeconds(now)); // freeze
        c[RTC_REG_B] = value;
        if (!(value & REGB_SET) && (old & REGB_SET)) {
          s.epochAtZero = this.loadTime() - Math.floor(now / NS_PER_S); // run from the set time
        }
        this.updateFlags(now);
        this.armTimer();
        return;
      }
      case RTC_REG_C: case RTC_REG_D:
        return; // read-only
      default:
        c[index] = value;
    }
  }

  read(offset: number, _size: IoSize): number {
    if (offset === 0) return 0xff; // the index port is write-only
    if (offset !== 1) { this.state.guestErrors++; return 0xff; }
    return this.readRegister(this.state.index);
  }

  write(offset: number, _size: IoSize, value: number): void {
    value &= 0xff;
    if (offset === 0) {
      this.state.index = value & 0x7f;
      this.state.nmiDisabled = (value & INDEX_NMI_DISABLE) !== 0;
    } else if (offset === 1) {
      this.writeRegister(this.state.index, value);
    } else {
      this.state.guestErrors++;
    }
  }

  /**
   * Fill the BIOS memory-size fields: `belowFourGiB` bytes of RAM under the PCI hole,
   * `aboveFourGiB` bytes relocated above 4 GiB.
   */
  setMemorySize(belowFourGiB: number, aboveFourGiB = 0): void {
    const c = this.state.cmos;
    const MiB = 1024 * 1024;
    const extKiB = Math.min(0xffff, Math.max(0, Math.floor((belowFourGiB - MiB) / 1024)));
    c[CMOS_EXT_MEM_LO] = c[CMOS_EXT_MEM2_LO] = extKiB & 0xff;
    c[CMOS_EXT_MEM_HI] = c[CMOS_EXT_MEM2_HI] = extKiB >> 8;
    const above16 = Math.min(0xffff, Math.max(0, Math.floor((belowFourGiB - 16 * MiB) / 65536)));
    c[CMOS_MEM_ABOVE_16M_LO] = above16 & 0xff;
    c[CMOS_MEM_ABOVE_16M_HI] = above16 >> 8;
    const above4g = Math.min(0xffffff, Math.max(0, Math.floor(aboveFourGiB / 65536)));
    c[CMOS_MEM_ABOVE_4G] = above4g & 0xff;
    c[CMOS_MEM_ABOVE_4G + 1] = (above4g >> 8) & 0xff;
    c[CMOS_MEM_ABOVE_4G + 2] = (above4g >> 16) & 0xff;
    this.updateChecksum();
  }

  /** Equipment byte (0x14): floppy drive count, math coprocessor, and EGA/VGA primary display. */
  setEquipment(floppies: number, fpu = true): void {
    const n = Math.max(0, Math.min(4, floppies));
    this.state.cmos[CMOS_EQUIPMENT] = (n > 0 ? 0x01 | ((n - 1) << 6) : 0) | (fpu ? 0x02 : 0); // bits 5:4 = 00 EGA/VGA
    this.updateChecksum();
  }

  /** Raw CMOS byte store for other BIOS fields (boot order, CPU count ...). */
  setCmosByte(index: number, value: number): void {
    if (index < 0x0e || index > 0x7f) return; // the clock registers are not plain RAM
    this.state.cmos[index] = value & 0xff;
    if (index >= 0x10 && index <= 0x2d) this.updateChecksum();
  }

  /** The AT checksum over 0x10..0x2D, stored big-endian at 0x2E. */
  private updateChecksum(): void {
    const c = this.state.cmos;
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += c[i];
    c[CMOS_CHECKSUM_HI] = (sum >> 8) & 0xff;
    c[CMOS_CHECKSUM_LO] = sum & 0xff;
  }
}
