// Intel 82441FX PCI and Memory Controller (PMC), the host bridge of the 440FX chipset
// (datasheet 290549): PCI 00:00.0, vendor 8086 device 1237. What the firmware uses: the PAM
// registers that route the BIOS areas 0xC0000-0xFFFFF to ROM or RAM (SeaBIOS shadows itself
// through them), SMRAM control, and the DRAM row boundaries.

import { PciFunction } from './pci';

export const I440FX_VENDOR_ID = 0x8086;
export const I440FX_DEVICE_ID = 0x1237;
const I440FX_REVISION = 0x02;
const CLASS_HOST_BRIDGE = 0x060000;
/** Red Hat's PCI vendor ID, and the subsystem ID QEMU's boards use for "QEMU virtual machine". */
const QEMU_SUBSYSTEM_VENDOR_ID = 0x1af4;
const QEMU_SUBSYSTEM_ID = 0x1100;

// Device-specific registers
const PMCCFG = 0x50;      // PMC configuration (2 bytes)
const DETURBO = 0x52;     // deturbo counter control
const DBC = 0x53;         // DRAM buffer control
const DRT = 0x55;         // DRAM row type (2 bytes)
const DRAMC = 0x57;       // DRAM control
const DRAMT = 0x58;       // DRAM timing
export const I440FX_PAM0 = 0x59; // PAM0..PAM6 at 0x59..0x5F
const PAM_COUNT = 7;
const DRB0 = 0x60;        // DRAM row boundaries DRB0..DRB7
const FDHC = 0x68;        // fixed DRAM hole control
const SMRAM = 0x72;       // system management RAM control
const SMRAM_WRITABLE = 0x78; // D_OPEN, D_CLS, D_LCK, G_SMRAME (C_BASE_SEG is fixed 010)
const SMRAM_DEFAULT = 0x02;
const SMRAM_D_LCK = 0x10;

/**
 * PAM register n covers: PAM0 bits 5:4 = 0xF0000-0xFFFFF; PAMn (n=1..6) bits 1:0 the lower
 * and bits 5:4 the upper 16 KiB of 0xC0000 + (n-1)*32 KiB. Each 2-bit field: bit 0 = reads go to
 * DRAM, bit 1 = writes go to DRAM.
 */
export type PamListener = (register: number, value: number) => void;

export class I440fx extends PciFunction {
  /** `onPamChange(n, value)` is called when PAMn (0..6) changes; `onSmramChange(value)` likewise. */
  constructor(private readonly onPamChange: PamListener = () => {},
              private readonly onSmramChange: (value: number) => void = () => {}) {
    super('i440fx', {
      vendorId: I440FX_VENDOR_ID, deviceId: I440FX_DEVICE_ID, classCode: CLASS_HOST_BRIDGE,
      revision: I440FX_REVISION,
      // The board identifies itself as a QEMU virtual machine, so that SeaBIOS's QEMU build
      // (src/fw/paravirt.c, qemu_detect) looks for fw_cfg, through which this board describes itself.
      subsystemVendorId: QEMU_SUBSYSTEM_VENDOR_ID, subsystemId: QEMU_SUBSYSTEM_ID,
    });
    const c = this.state.config;
    this.set16(0x04, 0x0006);       // PCICMD: memory and master enabled, hard-wired
    this.set16(0x06, 0x0280);       // PCISTS: fast back-to-back, medium DEVSEL
    this.wmask[0x04] = 0;            // host bridge command bits are fixed
    this.wmask[0x05] = 0;
    this.setWritable(PMCCFG, 2, 0xffff);
    c[DETURBO] = 0x80;
    this.setWritable(DETURBO, 1, 0xff);
    this.setWritable(DBC, 1, 0xff);
    this.setWritable(DRT, 2, 0xffff);
    this.setWritable(DRAMC, 1, 0xff);
    this.setWritable(DRAMT, 1, 0xff);
    this.wmask[I440FX_PAM0] = 0x30;
    for (let i = 1; i < PAM_COUNT; i++) this.wmask[I440FX_PAM0 + i] = 0x33;
    for (let i = 0; i < 8; i++) { c[DRB0 + i] = 0x01; this.wmask[DRB0 + i] = 0xff; }
    this.setWritable(FDHC, 1, 0xc0);
    c[SMRAM] = SMRAM_DEFAULT;
    this.wmask[SMRAM] = SMRAM_WRITABLE;
    this.captureResetState();
  }

  /** Current PAMn value (0..6). */
  pam(n: number): number { return n >= 0 && n < PAM_COUNT ? this.state.config[I440FX_PAM0 + n] : 0; }

  override writeConfig(offset: number, size: number, value: number): void {
    const before = this.state.config.slice(I440FX_PAM0, I440FX_PAM0 + PAM_COUNT);
    const smramBefore = this.state.config[SMRAM];
    // Once D_LCK is set, D_OPEN, D_LCK and G_SMRAME are read-only until reset; D_CLS stays writable.
    if (smramBefore & SMRAM_D_LCK) this.wmask[SMRAM] = 0x20; else this.wmask[SMRAM] = SMRAM_WRITABLE;
    super.writeConfig(offset, size, value);
    for (let i = 0; i < PAM_COUNT; i++) {
      const v = this.state.config[I440FX_PAM0 + i];
      if (v !== before[i]) this.onPamChange(i, v);
    }
    if (this.state.config[SMRAM] !== smramBefore) this.onSmramChange(this.state.config[SMRAM]);
  }

  override reset(): void {
    super.reset();
    this.wmask[SMRAM] = SMRAM_WRITABLE;
    for (let i = 0; i < PAM_COUNT; i++) this.onPamChange(i, this.state.config[I440FX_PAM0 + i]);
  }
}
