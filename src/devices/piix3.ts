// Intel 82371SB PIIX3 function 0: the PCI-to-ISA bridge (datasheet 290550), vendor 8086
// device 7000. What matters to a PC: the PIRQ route control registers that steer PCI INTA#-INTD#
// onto ISA IRQs (the Machine does the routing and the ELCR interplay through `onPirqRoute`),
// and the reset control register at port 0xCF9.

import type { IoDevice, IoSize } from '../machine/io';
import { PCI_HEADER_TYPE_MULTI_FUNCTION, PciFunction } from './pci';

export const PIIX3_VENDOR_ID = 0x8086;
export const PIIX3_DEVICE_ID = 0x7000;
const CLASS_ISA_BRIDGE = 0x060100;

// Function 0 configuration registers
const IORT = 0x4c;        // ISA I/O recovery timer
const XBCS = 0x4e;        // X-bus chip select (2 bytes)
export const PIRQRC_A = 0x60; // PIRQ route control A..D at 0x60..0x63
const PIRQ_COUNT = 4;
const PIRQRC_DISABLE = 0x80;  // IRQINRCR: routing disabled
const PIRQRC_IRQ = 0x0f;      // IRQ number
const TOM = 0x69;         // top of memory
const MSTAT = 0x6a;       // miscellaneous status (2 bytes)
const MBIRQ0 = 0x70;      // motherboard device IRQ route 0/1
const MBDMA = 0x76;       // motherboard device DMA control 0/1
const PCSC = 0x78;        // programmable chip select control (2 bytes)
const SMICNTL = 0xa0;     // SMI control
const SMIEN = 0xa2;       // SMI enable (2 bytes)
const SEE = 0xa4;         // system event enable (4 bytes)
const FTMR = 0xa8;        // fast off timer
const SMIREQ = 0xaa;      // SMI request (2 bytes)
const CTLTMR = 0xac;      // clock scale STPCLK low timer
const CTHTMR = 0xae;      // clock scale STPCLK high timer
/** IRQs a PIRQ may be steered to (0-2, 8 and 13 are reserved). */
const PIRQ_VALID_IRQS = 0xdef8;

// Reset control register (port 0xCF9)
const RC_SRST = 0x02;     // system reset: 1 = hard reset (whole machine), 0 = soft (CPU INIT)
const RC_RCPU = 0x04;     // a 0->1 transition starts the reset
const RC_WRITABLE = RC_SRST;

export interface Piix3ResetControlState { value: number }

export class Piix3 extends PciFunction {
  readonly resetControl: IoDevice & {
    readonly stateVersion: number;
    state: Piix3ResetControlState;
    reset(): void;
    loadState(state: Piix3ResetControlState): void;
  };

  /**
   * @param onPirqRoute PIRQ n (0 = A .. 3 = D) now goes to ISA `irq`, or nowhere (null); `from`
   *                    is where it went before.
   * @param onReset     the guest asked for a reset through 0xCF9 (`hard`: SRST was set).
   */
  constructor(private readonly onPirqRoute: (pirq: number, irq: number | null, from: number | null) => void = () => {},
              onReset: (hard: boolean) => void = () => {}) {
    super('piix3', {
      vendorId: PIIX3_VENDOR_ID, deviceId: PIIX3_DEVICE_ID, classCode: CLASS_ISA_BRIDGE,
      headerType: PCI_HEADER_TYPE_MULTI_FUNCTION,
    });
    const c = this.state.config;
    this.set16(0x04, 0x0007);       // PCICMD: I/O, memory, master (I/O and memory fixed on)
    this.set16(0x06, 0x0200);       // PCISTS: medium DEVSEL
    this.setWritable(0x04, 2, 0x0008 | 0x0100); // special cycles, SERR#
    c[IORT] = 0x4d; this.wmask[IORT] = 0xff;
    this.set16(XBCS, 0x0003); this.setWritable(XBCS, 2, 0x07ff);
    for (let i = 0; i < PIRQ_COUNT; i++) { c[PIRQRC_A + i] = PIRQRC_DISABLE; this.wmask[PIRQRC_A + i] = PIRQRC_DISABLE | PIRQRC_IRQ; }
    c[TOM] = 0x02; this.wmask[TOM] = 0xff;
    this.setWritable(MSTAT, 2, 0x0080); this.w1cmask[MSTAT + 1] = 0x80;
    c[MBIRQ0] = 0x80; c[MBIRQ0 + 1] = 0x80; this.setWritable(MBIRQ0, 2, 0xcfcf);
    c[MBDMA] = 0x0c; c[MBDMA + 1] = 0x0c; this.setWritable(MBDMA, 2, 0x8f8f);
    this.set16(PCSC, 0x0002); this.setWritable(PCSC, 2, 0xffff);
    c[SMICNTL] = 0x08; this.wmask[SMICNTL] = 0x1f;
    this.setWritable(SMIEN, 2, 0x00ff);
    this.setWritable(SEE, 4, 0xe000fffb);
    c[FTMR] = 0x0f; this.wmask[FTMR] = 0xff;
    this.setWritable(SMIREQ, 2, 0x00ff);
    this.wmask[CTLTMR] = 0xff;
    this.wmask[CTHTMR] = 0xff;
    this.captureResetState();

    const rc: Piix3ResetControlState = { value: 0 };
    this.resetControl = {
      name: 'piix3-rcr',
      stateVersion: 1,
      state: rc,
      reset(): void { rc.value = 0; },
      loadState(state: Piix3ResetControlState): void { rc.value = state.value; },
      read(offset: number, _size: IoSize): number { return offset === 0 ? rc.value : 0xff; },
      write(offset: number, _size: IoSize, value: number): void {
        if (offset !== 0) return;
        const start = !(rc.value & RC_RCPU) && (value & RC_RCPU);
        rc.value = value & (RC_WRITABLE | RC_RCPU);
        if (start) { rc.value &= ~RC_RCPU; onReset((value & RC_SRST) !== 0); }
      },
    };
  }

  /** ISA IRQ PIRQ n is routed to now, or null. */
  pirqRoute(pirq: number): number | null {
    if (pirq < 0 || pirq >= PIRQ_COUNT) return null;
    const v = this.state.config[PIRQRC_A + pirq];
    const irq = v & PIRQRC_IRQ;
    return v & PIRQRC_DISABLE || !((PIRQ_VALID_IRQS >> irq) & 1) ? null : irq;
  }

  override writeConfig(offset: number, size: number, value: number): void {
    const before = [0, 1, 2, 3].map((i) => this.pirqRoute(i));
    super.writeConfig(offset, size, value);
    for (let i = 0; i < PIRQ_COUNT; i++) {
      const now = this.pirqRoute(i);
      if (now !== before[i]) this.onPirqRoute(i, now, before[i]!);
    }
  }

  override reset(): void {
    const before = [0, 1, 2, 3].map((i) => this.pirqRoute(i));
    super.reset();
    this.resetControl.reset();
    for (let i = 0; i < PIRQ_COUNT; i++) this.onPirqRoute(i, null, before[i]!);
  }
}
