// PCI local bus, bus 0: configuration mechanism #1 (PCI Local Bus Specification 2.1, §3.7.4.1)
// and the type-0 configuration header every function shares (§6.1).
//
// The bus is an IoDevice over the 8-byte window 0xCF8..0xCFF: a dword at offset 0 is
// CONFIG_ADDRESS, offsets 4..7 are CONFIG_DATA with byte/word/dword access at any offset.
// A byte at offset 1 (port 0xCF9) belongs to the PIIX reset control register, which the bus
// forwards to the device given at construction.

import type { IoDevice, IoSize } from '../machine/io';

// Configuration header offsets
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
// Command register bits
export const PCI_COMMAND_IO = 0x0001;
export const PCI_COMMAND_MEMORY = 0x0002;
export const PCI_COMMAND_MASTER = 0x0004;
export const PCI_COMMAND_PARITY = 0x0040;
export const PCI_COMMAND_SERR = 0x0100;
export const PCI_COMMAND_INTX_DISABLE = 0x0400;
// Status bits that are write-one-to-clear: parity, SERR, master/target aborts, data parity
const PCI_STATUS_W1C = 0xf900;
/** Status bit 3 (PCI 2.3): the function requests an interrupt, whatever Command.InterruptDisable says. */
export const PCI_STATUS_INTERRUPT = 0x0008;
export const PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80;
// BAR low bits
const PCI_BAR_IO = 0x01;
const PCI_BAR_MEM_PREFETCH = 0x08;

const CONFIG_SPACE_SIZE = 256;
const CONFIG_ADDRESS_ENABLE = 0x80000000;
const CONFIG_ADDRESS_MASK = 0x80fffffc; // bits 30:24 and 1:0 are reserved, read as zero

export interface PciBar {
  /** Size in bytes, a power of two (at least 16 for memory, 4 for I/O). */
  size: number;
  io: boolean;
  prefetchable?: boolean;
  /** Called with the decoded base address when it changes, or null when decoding is off. */
  onMap?: (base: number | null) => void;
}

export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  /** class << 16 | subclass << 8 | programming interface */
  classCode: number;
  revision?: number;
  headerType?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  interruptPin?: number; // 1 = INTA# .. 4 = INTD#, 0 = none
}

export interface PciFunctionState { config: Uint8Array }

/** One PCI function: its 256-byte configuration space and which bits the guest may write. */
export class PciFunction {
  state: PciFunctionState = { config: new Uint8Array(CONFIG_SPACE_SIZE) };
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  /** Bits the guest may change. */
  protected readonly wmask = new Uint8Array(CONFIG_SPACE_SIZE);
  /** Bits the guest clears by writing 1. */
  protected readonly w1cmask = new Uint8Array(CONFIG_SPACE_SIZE);
  private readonly resetConfig = new Uint8Array(CONFIG_SPACE_SIZE);
  private readonly bars: (PciBar | null)[] = [null, null, null, null, null, null];
  private readonly mapped: (number | null)[] = [null, null, null, null, null, null];
  /** The bus's wire from this function's INTx# pin (PciBus.register). */
  private intxWire: () => void = () => {};

  constructor(readonly name: string, id: PciIdentity) {
    const c = this.state.config;
    this.set16(PCI_VENDOR_ID, id.vendorId);
    this.set16(PCI_DEVICE_ID, id.deviceId);
    c[PCI_REVISION_ID] = id.revision ?? 0;
    c[PCI_CLASS_PROG] = id.classCode & 0xff;
    c[PCI_CLASS_PROG + 1] = (id.classCode >> 8) & 0xff;
    c[PCI_CLASS_PROG + 2] = (id.classCode >> 16) & 0xff;
    c[PCI_HEADER_TYPE] = id.headerType ?? 0;
    this.set16(PCI_SUBSYSTEM_VENDOR_ID, id.subsystemVendorId ?? 0);
    this.set16(PCI_SUBSYSTEM_ID, id.subsystemId ?? 0);
    c[PCI_INTERRUPT_PIN] = id.interruptPin ?? 0;
    this.setWritable(PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
      PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    this.w1cmask[PCI_STATUS] = PCI_STATUS_W1C & 0xff;
    this.w1cmask[PCI_STATUS + 1] = PCI_STATUS_W1C >> 8;
    this.wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    this.wmask[PCI_LATENCY_TIMER] = 0xff;
    this.wmask[PCI_INTERRUPT_LINE] = 0xff;
  }

  /** Call at the end of a subclass constructor: what reset() restores. */
  protected captureResetState(): void { this.resetConfig.set(this.state.config); }

  reset(): void {
    this.state.config.set(this.resetConfig);
    this.remapBars();
    this.intxWire();
  }

  loadState(state: PciFunctionState): void {
    this.state = { config: new Uint8Array(state.config) };
    this.remapBars();
    this.intxWire();
  }

  /** BAR `index` as the device defined it (size, I/O or memory), or null: for the monitor's `info pci`. */
  barDefinition(index: number): Readonly<PciBar> | null { return this.bars[index] ?? null; }

  /** The interrupt pin the function uses: 1 = INTA# .. 4 = INTD#, or 0 for none. */
  get interruptPin(): number { return this.state.config[PCI_INTERRUPT_PIN]; }

  /**
   * The device asks for an interrupt (true) or withdraws it (PCI 2.3 §6.2.2-6.2.3): Status bit 3
   * follows the request, and INTx# is asserted while it stands and Command.InterruptDisable is
   * clear. PCI interrupts are level-triggered and may be shared: the bus ORs them.
   */
  setIntx(request: boolean): void {
    const c = this.state.config;
    c[PCI_STATUS] = request ? c[PCI_STATUS] | PCI_STATUS_INTERRUPT : c[PCI_STATUS] & ~PCI_STATUS_INTERRUPT;
    this.intxWire();
  }

  /** Is the INTx# pin asserted now? */
  get intxAsserted(): boolean {
    return this.interruptPin !== 0 && (this.state.config[PCI_STATUS] & PCI_STATUS_INTERRUPT) !== 0
      && (this.get16(PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) === 0;
  }

  /** @internal PciBus.register: tell the bus whenever the pin may have changed. */
  connectIntx(wire: () => void): void { this.intxWire = wire; }

  protected set16(offset: number, v: number): void {
    this.state.config[offset] = v & 0xff;
    this.state.config[offset + 1] = (v >> 8) & 0xff;
  }

  protected get16(offset: number): number {
    return this.state.config[offset] | (this.state.config[offset + 1] << 8);
  }

  /** Make `mask` (little-endian, `size` bytes) writable at `offset`. */
  protected setWritable(offset: number, size: number, mask: number): void {
    for (let i = 0; i < size; i++) this.wmask[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  /** Declare base address register `index` (0..5). */
  defineBar(index: number, bar: PciBar): void {
    if (index < 0 || index > 5 || bar.size & (bar.size - 1)) throw new Error('bad PCI BAR definition');
    this.bars[index] = bar;
    const low = bar.io ? PCI_BAR_IO : bar.prefetchable ? PCI_BAR_MEM_PREFETCH : 0;
    const off = PCI_BASE_ADDRESS_0 + 4 * index;
    const c = this.state.config;
    c[off] = low; c[off + 1] = 0; c[off + 2] = 0; c[off + 3] = 0;
    // Address bits below the size read back as zero: that is how the guest sizes the BAR.
    this.setWritable(off, 4, ~(bar.size - 1) & (bar.io ? 0xfffffffc : 0xfffffff0));
  }

  /** Configuration read of `size` bytes at `offset`; bytes past the space read as ones. */
  readConfig(offset: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      const b = o >= 0 && o < CONFIG_SPACE_SIZE ? this.readConfigByte(o) : 0xff;
      v |= b << (8 * i);
    }
    return v >>> 0;
  }

  /** Override for registers whose value is computed. */
  protected readConfigByte(offset: number): number { return this.state.config[offset]; }

  writeConfig(offset: number, size: number, value: number): void {
    const c = this.state.config;
    let touched = false;
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      if (o < 0 || o >= CONFIG_SPACE_SIZE) continue;
      const b = (value >>> (8 * i)) & 0xff;
      const w = this.wmask[o];
      c[o] = ((c[o] & ~w) | (b & w)) & ~(b & this.w1cmask[o]);
      touched = true;
    }
    if (!touched) return;
    if (offset < PCI_BASE_ADDRESS_0 + 24 && offset + size > PCI_COMMAND) this.remapBars();
    if (offset <= PCI_COMMAND + 1 && offset + size > PCI_COMMAND + 1) this.intxWire(); // InterruptDisable
    this.configWritten(offset, size);
  }

  /** Hook for chip-specific registers: called after a guest write. */
  protected configWritten(_offset: number, _size: number): void {}

  /** Tell each BAR's owner where it decodes now (or that it does not). */
  private remapBars(): void {
    const cmd = this.get16(PCI_COMMAND);
    for (let i = 0; i < 6; i++) {
      const bar = this.bars[i];
      if (!bar) continue;
      const off = PCI_BASE_ADDRESS_0 + 4 * i;
      const raw = this.readConfig(off, 4);
      const base = bar.io ? raw & 0xfffffffc : (raw & 0xfffffff0) >>> 0;
      const enabled = bar.io ? (cmd & PCI_COMMAND_IO) !== 0 : (cmd & PCI_COMMAND_MEMORY) !== 0;
      const at = enabled && base !== 0 ? base : null;
      if (at !== this.mapped[i]) {
        this.mapped[i] = at;
        bar.onMap?.(at);
      }
    }
  }
}

export interface PciBusState { address: number; guestErrors: number }

/** Bus 0 with configuration mechanism #1. */
export class PciBus implements IoDevice {
  readonly name = 'pci-conf1';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: PciBusState = { address: 0, guestErrors: 0 };
  private readonly functions = new Map<number, PciFunction>();
  /** The levels of the board's four interrupt lines (PIRQA..D) as last reported. */
  private readonly pirqs = [false, false, false, false];

  /**
   * `resetControl` receives byte accesses to 0xCF9 (offset 1), at its own offset 0. The board
   * wires each device's INTA#..INTD# to one of its four interrupt lines (`pirqOf`), and hears
   * each line's level (`onPirq`): the wired OR of the pins on it.
   */
  constructor(private readonly resetControl: IoDevice | null = null,
              private readonly pirqOf: (device: number, pin: number) => number = () => 0,
              private readonly onPirq: (pirq: number, level: boolean) => void = () => {}) {}

  /** Attach `fn` as device `device` (0..31), function `func` (0..7). */
  register(device: number, func: number, fn: PciFunction): void {
    if (!(device >= 0 && device < 32 && func >= 0 && func < 8)) throw new Error('bad PCI device/function');
    const devfn = (device << 3) | func;
    if (this.functions.has(devfn)) throw new Error(`PCI ${device}.${func} is taken`);
    this.functions.set(devfn, fn);
    fn.connectIntx(() => this.updatePirqs());
  }

  /** Every function on the bus, by device and function number (for the monitor's `info pci`). */
  list(): { device: number; func: number; fn: PciFunction }[] {
    return [...this.functions].sort((a, b) => a[0] - b[0]).map(([devfn, fn]) => ({ device: devfn >> 3, func: devfn & 7, fn }));
  }

  /** The functions with an interrupt pin: where they are, and the line (0 = PIRQA) it is wired to. */
  interruptSources(): { device: number; func: number; pin: number; pirq: number }[] {
    const out: { device: number; func: number; pin: number; pirq: number }[] = [];
    for (const [devfn, fn] of this.functions) {
      const pin = fn.interruptPin;
      if (pin >= 1 && pin <= 4) out.push({ device: devfn >> 3, func: devfn & 7, pin, pirq: this.pirqOf(devfn >> 3, pin) });
    }
    return out;
  }

  /** The level of interrupt line `pirq` (0 = PIRQA .. 3 = PIRQD): any pin wired to it asserted. */
  pirqLevel(pirq: number): boolean { return this.pirqs[pirq] ?? false; }

  private updatePirqs(): void {
    const levels = [false, false, false, false];
    for (const [devfn, fn] of this.functions) {
      const pin = fn.interruptPin;
      if (pin >= 1 && pin <= 4 && fn.intxAsserted) levels[this.pirqOf(devfn >> 3, pin) & 3] = true;
    }
    for (let i = 0; i < 4; i++) {
      if (levels[i] === this.pirqs[i]) continue;
      this.pirqs[i] = levels[i]!;
      this.onPirq(i, levels[i]!);
    }
  }

  reset(): void {
    this.state = { address: 0, guestErrors: 0 };
    for (const f of this.functions.values()) f.reset();
  }

  loadState(state: PciBusState): void { this.state = { ...state }; }

  /** The function CONFIG_ADDRESS selects, or null (disabled, other bus, nobody there). */
  private selected(): PciFunction | null {
    const a = this.state.address;
    if (!(a & CONFIG_ADDRESS_ENABLE) || ((a >>> 16) & 0xff) !== 0) return null;
    const devfn = (a >>> 8) & 0xff;
    // Functions 1..7 exist only behind a function 0.
    if ((devfn & 7) !== 0 && !this.functions.has(devfn & ~7)) return null;
    return this.functions.get(devfn) ?? null;
  }

  read(offset: number, size: IoSize): number {
    const ones = size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    if (offset === 0 && size === 4) return this.state.address >>> 0;
    if (offset === 1 && size === 1 && this.resetControl) return this.resetControl.read(0, 1);
    if (offset >= 4 && offset < 8) {
      const fn = this.selected();
      if (!fn) return ones; // master abort: all ones
      // An access running past 0xCFF only sees the bytes inside the window; the rest float high.
      const inside = Math.min(size, 8 - offset);
      const v = fn.readConfig((this.state.address & 0xfc) + (offset - 4), inside);
      return inside === size ? v : (v | (ones & ~((1 << (8 * inside)) - 1))) >>> 0;
    }
    this.state.guestErrors++;
    return ones;
  }

  write(offset: number, size: IoSize, value: number): void {
    if (offset === 0 && size === 4) { this.state.address = (value & CONFIG_ADDRESS_MASK) >>> 0; return; }
    if (offset === 1 && size === 1 && this.resetControl) { this.resetControl.write(0, 1, value); return; }
    if (offset >= 4 && offset < 8) {
      const fn = this.selected();
      if (fn) fn.writeConfig((this.state.address & 0xfc) + (offset - 4), Math.min(size, 8 - offset), value);
      return;
    }
    this.state.guestErrors++;
  }
}
