// The ACPI fixed hardware (ACPI 6.5 §4.8): the PM1 event and control registers and the power
// management timer, in one I/O window the FADT points at. This is what lets Linux switch the
// machine off (SLP_TYP/SLP_EN in PM1 control), count time with the 3.579545 MHz PM timer
// (clocksource acpi_pm, and SeaBIOS's own delays), and hear the power button (an SCI).
//
// Window layout (offsets; machine/acpi.ts writes the same into the FADT):
//   0..1  PM1a_STS   write 1 to clear: TMR_STS, GBL_STS, PWRBTN_STS, WAK_STS
//   2..3  PM1a_EN    the enables for those events
//   4..5  PM1a_CNT   SCI_EN (reads 1: no SMI_CMD, the board is always in ACPI mode), SLP_TYP, SLP_EN
//   8..11 PM_TMR     24-bit free-running counter (FADT flag TMR_VAL_EXT clear)
//
// The SCI is a level interrupt: high while any enabled status bit is set.

import type { Clock, IoDevice, IoSize, IrqLine, Timer } from '../machine/io.js';

export const ACPI_PM_WINDOW = 12;
export const PM1_EVT_OFFSET = 0;
export const PM1_EVT_LENGTH = 4;
export const PM1_CNT_OFFSET = 4;
export const PM1_CNT_LENGTH = 2;
export const PM_TMR_OFFSET = 8;
export const PM_TMR_LENGTH = 4;
/** The SLP_TYP value of the soft-off state S5 (the DSDT's \_S5 package says the same). */
export const SLP_TYP_S5 = 5;
/** The PM timer's rate (ACPI §4.8.3.3). */
export const PM_TIMER_HZ = 3_579_545;

const TMR_STS = 1 << 0;
const GBL_STS = 1 << 5;
const PWRBTN_STS = 1 << 8;
const WAK_STS = 1 << 15;
const STS_BITS = TMR_STS | GBL_STS | PWRBTN_STS | WAK_STS;
const EN_BITS = TMR_STS | GBL_STS | PWRBTN_STS;
const SCI_EN = 1 << 0;
const SLP_TYP_SHIFT = 10;
const SLP_EN = 1 << 13;
/** PM1_CNT bits that hold what was written (SLP_EN reads back 0). */
const CNT_BITS = 0x1c06 | (0x7 << SLP_TYP_SHIFT);
/** TMR_STS is set each time bit 23 of the counter changes. */
const TMR_PERIOD_TICKS = 1 << 23;

export interface AcpiPmState {
  status: number;
  enable: number;
  control: number;
  /** floor(ticks / 2^23) when TMR_STS was last cleared. */
  timerEpoch: number;
}

export class AcpiPm implements IoDevice {
  readonly name = 'acpi-pm';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: AcpiPmState = { status: 0, enable: 0, control: SCI_EN, timerEpoch: 0 };
  private readonly overflow: Timer;

  /** `onSleep(type)` is called when the guest sets SLP_EN (type SLP_TYP_S5: switch off). */
  constructor(private readonly clock: Clock, private readonly sci: IrqLine,
              private readonly onSleep: (slpTyp: number) => void) {
    this.overflow = clock.createTimer('acpi-pm-timer', () => this.update());
  }

  reset(): void {
    this.state = { status: 0, enable: 0, control: SCI_EN, timerEpoch: this.epoch() };
    this.update();
  }

  loadState(state: AcpiPmState): void { this.state = { ...state }; }

  /** The power button was pressed (the host's "ACPI shutdown"). */
  pressPowerButton(): void {
    this.state.status |= PWRBTN_STS;
    this.update();
  }

  /** The PM timer's count now: 3.579545 MHz from guest time zero. */
  ticks(): number { return Math.floor((this.clock.now() / 1e9) * PM_TIMER_HZ); }
  private epoch(): number { return Math.floor(this.ticks() / TMR_PERIOD_TICKS); }

  /** Fold a timer carry into TMR_STS, drive the SCI, and wake at the next carry while TMR_EN is set. */
  private update(): void {
    const s = this.state;
    const epoch = this.epoch();
    if (epoch !== s.timerEpoch) s.status |= TMR_STS;
    this.sci.set((s.control & SCI_EN) !== 0 && (s.status & s.enable & EN_BITS) !== 0);
    if ((s.enable & TMR_STS) && !(s.status & TMR_STS)) {
      this.overflow.arm(((epoch + 1) * TMR_PERIOD_TICKS * 1e9) / PM_TIMER_HZ);
    } else {
      this.overflow.cancel();
    }
  }

  read(offset: number, size: IoSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readByte(offset + i) << (8 * i);
    return v >>> 0;
  }

  private readByte(offset: number): number {
    const s = this.state;
    if (offset < 2 || (offset >= PM_TMR_OFFSET && offset < PM_TMR_OFFSET + 4)) this.update();
    switch (offset) {
      case 0: return s.status & 0xff;
      case 1: return s.status >> 8;
      case 2: return s.enable & 0xff;
      case 3: return s.enable >> 8;
      case 4: return s.control & 0xff;
      case 5: return s.control >> 8;
      case 8: case 9: case 10: return (this.ticks() >>> (8 * (offset - 8))) & 0xff;
      default: return 0; // bits 31:24 of the 24-bit timer, and the reserved bytes
    }
  }

  write(offset: number, size: IoSize, value: number): void {
    const s = this.state;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const b = (value >>> (8 * i)) & 0xff;
      if (at === 0 || at === 1) {
        const clear = (b << (8 * at)) & STS_BITS;
        s.status &= ~clear;
        if (clear & TMR_STS) s.timerEpoch = this.epoch();
      } else if (at === 2 || at === 3) {
        s.enable = ((s.enable & ~(0xff << (8 * (at - 2)))) | (b << (8 * (at - 2)))) & EN_BITS;
      } else if (at === 4 || at === 5) {
        const shift = 8 * (at - 4);
        const written = b << shift;
        s.control = (s.control & ~(0xff << shift)) | (written & CNT_BITS) | SCI_EN;
        // SLP_EN is in the high byte: the sleep happens with the SLP_TYP written beside it.
        if (written & SLP_EN) this.onSleep((s.control >> SLP_TYP_SHIFT) & 7);
      }
    }
    this.update();
  }
}
