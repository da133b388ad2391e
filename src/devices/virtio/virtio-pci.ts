// The virtio PCI transport, modern (virtio 1.1 §4.1; non-transitional): vendor 1AF4, device
// 1040h + the virtio device ID, revision 1, and a capability list that places the common
// configuration, notification, ISR and device-specific structures in one memory BAR (BAR4).
// Device status and feature negotiation (§2.1, §2.2, §3.1), queue configuration, notifications
// and INTx interrupts through the ISR (read-to-clear, §4.1.4.5) are written here once; a
// device (virtio-blk.ts, virtio-rng.ts, virtio-console.ts) supplies its features, its
// configuration space and what it does with a chain.
//
// Driver errors: a malformed queue layout or chain sets DEVICE_NEEDS_RESET and, once
// DRIVER_OK is set, sends a configuration change notification (§2.1.2); the device then stops
// using its queues until the driver resets it. Features without VIRTIO_F_VERSION_1, or beyond
// what the device offers, leave FEATURES_OK clear (§2.2.2, §6.2). The BAR is also reachable
// through the configuration space (VIRTIO_PCI_CAP_PCI_CFG, §4.1.4.7). Not done: MSI-X (the
// driver falls back to INTx), the legacy I/O BAR, packed virtqueues.

import type { DmaView, IoDevice, IoSize } from '../../machine/io.js';
import { PCI_CAPABILITY_LIST, PCI_STATUS, PciFunction } from '../pci.js';
import {
  type Chain, type VirtqueueState, VirtqueueError, freshQueue, gather, layoutError, needsNotification, popChain,
  pushUsed, scatter, setAvailEvent,
} from './virtqueue.js';

export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
/** Modern device IDs are 1040h + the virtio device ID (§4.1.2). */
export const VIRTIO_PCI_DEVICE_ID_BASE = 0x1040;
const VIRTIO_PCI_REVISION = 1;               // §4.1.2.1: non-transitional devices have revision 1 or more
const VIRTIO_PCI_SUBSYSTEM_ID = 0x1100;      // §4.1.2.1: 40h or more; QEMU's value

// Device status bits (§2.1)
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
export const VIRTIO_STATUS_DRIVER = 2;
export const VIRTIO_STATUS_DRIVER_OK = 4;
export const VIRTIO_STATUS_FEATURES_OK = 8;
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64;
export const VIRTIO_STATUS_FAILED = 128;

// Reserved feature bits (§6), as bit numbers
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

// ISR status bits (§4.1.4.5)
export const VIRTIO_ISR_QUEUE = 1;
export const VIRTIO_ISR_CONFIG = 2;

// Capability structure (struct virtio_pci_cap, §4.1.4)
const PCI_CAP_ID_VNDR = 0x09;
const PCI_STATUS_CAP_LIST = 0x10;            // Status bit 4: the capability list exists
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;
const CAP_FIRST = 0x40;
/** Where the VIRTIO_PCI_CAP_PCI_CFG capability sits (after the four BAR ones), and its fields. */
export const PCI_CFG_CAP = 0x84;
const CAP_BAR = 4, CAP_OFFSET = 8, CAP_LENGTH = 12, PCI_CFG_DATA = 16;

/** The memory BAR holding every structure, and its layout. */
export const VIRTIO_PCI_BAR = 4;
export const VIRTIO_PCI_BAR_SIZE = 0x4000;
export const VIRTIO_COMMON_CFG = 0x0000;
export const VIRTIO_ISR_CFG = 0x1000;
export const VIRTIO_DEVICE_CFG = 0x2000;
export const VIRTIO_NOTIFY_CFG = 0x3000;
const COMMON_CFG_SIZE = 0x38;
const DEVICE_CFG_MAX = 0x1000;
/** notify_off_multiplier: queue n's notification address is NOTIFY_CFG + n * 4. */
export const VIRTIO_NOTIFY_MULTIPLIER = 4;

// struct virtio_pci_common_cfg (§4.1.4.3)
export const COMMON_DFSELECT = 0x00;   // le32 device_feature_select
export const COMMON_DF = 0x04;         // le32 device_feature (RO)
export const COMMON_GFSELECT = 0x08;   // le32 driver_feature_select
export const COMMON_GF = 0x0c;         // le32 driver_feature
export const COMMON_MSIX = 0x10;       // le16 msix_config
export const COMMON_NUMQ = 0x12;       // le16 num_queues (RO)
export const COMMON_STATUS = 0x14;     // u8 device_status
export const COMMON_CFGGEN = 0x15;     // u8 config_generation (RO)
export const COMMON_Q_SELECT = 0x16;   // le16 queue_select
export const COMMON_Q_SIZE = 0x18;     // le16 queue_size
export const COMMON_Q_MSIX = 0x1a;     // le16 queue_msix_vector
export const COMMON_Q_ENABLE = 0x1c;   // le16 queue_enable
export const COMMON_Q_NOFF = 0x1e;     // le16 queue_notify_off (RO)
export const COMMON_Q_DESCLO = 0x20;   // le64 queue_desc
export const COMMON_Q_DESCHI = 0x24;
export const COMMON_Q_AVAILLO = 0x28;  // le64 queue_driver
export const COMMON_Q_AVAILHI = 0x2c;
export const COMMON_Q_USEDLO = 0x30;   // le64 queue_device
export const COMMON_Q_USEDHI = 0x34;
/** What the MSI-X vector registers read without MSI-X. */
const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** The transport's registers and queues, and the device's own part: plain data. */
export interface VirtioState<D> {
  deviceFeatureSelect: number;
  driverFeatureSelect: number;
  /** The features the driver wrote, as two 32-bit words (bits 0-31, 32-63). */
  driverFeatures: number[];
  status: number;
  configGeneration: number;
  queueSelect: number;
  isr: number;
  queues: VirtqueueState[];
  device: D;
}

/** Counters for the inspector and the tests. */
export interface VirtioCounters {
  notifications: number; chains: number; interrupts: number; configInterrupts: number;
  /** Times the device set DEVICE_NEEDS_RESET, and why the last time. */
  needsReset: number; lastError: string;
  /** Register accesses that do not fit the layout (width, offset, read-only field). */
  guestErrors: number;
}

export interface VirtioPciOptions {
  /** Guest RAM, for the rings and buffers. */
  dma: DmaView;
  /** Where BAR4 (`mmio`) now decodes, or null: the Machine maps `mmio` there, widths 1, 2 and 4. */
  onMap?: (base: number | null) => void;
}

/** What a device tells the transport about itself. */
export interface VirtioDeviceInfo {
  /** The virtio device ID (§5): 2 block, 3 console, 4 entropy. */
  virtioId: number;
  /** PCI class code (class << 16 | subclass << 8 | interface). */
  classCode: number;
  /** Each queue's maximum size (a power of two). */
  queueMax: readonly number[];
  /** Device-specific feature bits 0-23 offered (the transport adds INDIRECT_DESC, EVENT_IDX, VERSION_1). */
  features: number;
  /** Bytes of device-specific configuration. */
  configSize: number;
}

function isPowerOfTwo(n: number): boolean { return n > 0 && (n & (n - 1)) === 0; }

export abstract class VirtioPci<D> extends PciFunction {
  vio: VirtioState<D>;
  readonly counters: VirtioCounters = { notifications: 0, chains: 0, interrupts: 0, configInterrupts: 0, needsReset: 0, lastError: '', guestErrors: 0 };
  /** BAR4 as an MMIO window (offsets 0..VIRTIO_PCI_BAR_SIZE-1; 1-, 2- and 4-byte accesses). */
  readonly mmio: IoDevice;
  /** Bumped by every device reset and state load: host work started before it is dropped. */
  private generation = 0;
  /**
   * Host work started and not yet applied (or dropped). It is not part of the state: the Machine
   * drains it before a save (Machine.settleIo), so the used ring then holds every completion.
   */
  inFlight = 0;
  private readonly offered: [number, number];
  protected readonly dma: DmaView;

  constructor(name: string, private readonly info: VirtioDeviceInfo, opts: VirtioPciOptions) {
    super(name, {
      vendorId: VIRTIO_PCI_VENDOR_ID, deviceId: VIRTIO_PCI_DEVICE_ID_BASE + info.virtioId, classCode: info.classCode,
      revision: VIRTIO_PCI_REVISION, subsystemVendorId: VIRTIO_PCI_VENDOR_ID, subsystemId: VIRTIO_PCI_SUBSYSTEM_ID, interruptPin: 1,
    });
    if (!info.queueMax.every((m) => isPowerOfTwo(m) && m <= 32768) || info.configSize > DEVICE_CFG_MAX) throw new RangeError('bad virtio device definition');
    this.dma = opts.dma;
    this.offered = [((info.features & 0xffffff) | (1 << VIRTIO_F_INDIRECT_DESC) | (1 << VIRTIO_F_EVENT_IDX)) >>> 0, 1 << (VIRTIO_F_VERSION_1 - 32)];
    this.defineBar(VIRTIO_PCI_BAR, { size: VIRTIO_PCI_BAR_SIZE, io: false, onMap: (base) => opts.onMap?.(base) });
    this.buildCapabilities();
    this.captureResetState();
    this.mmio = { name, read: (o: number, s: IoSize) => this.barRead(o, s), write: (o: number, s: IoSize, v: number) => this.barWrite(o, s, v) };
    this.vio = this.freshState();
  }

  /** The vendor capabilities (struct virtio_pci_cap, §4.1.4) from 40h: four for BAR4, read-only, then the configuration-space window. */
  private buildCapabilities(): void {
    const c = this.state.config;
    const caps: [number, number, number][] = [
      [VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_COMMON_CFG, COMMON_CFG_SIZE],
      [VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_ISR_CFG, 4],
      [VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_DEVICE_CFG, Math.max(4, this.info.configSize)],
      [VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_NOTIFY_CFG, VIRTIO_NOTIFY_MULTIPLIER * this.info.queueMax.length],
      [VIRTIO_PCI_CAP_PCI_CFG, 0, 0],
    ];
    let at = CAP_FIRST;
    c[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    c[PCI_CAPABILITY_LIST] = at;
    caps.forEach(([type, offset, length], i) => {
      const len = type === VIRTIO_PCI_CAP_NOTIFY_CFG || type === VIRTIO_PCI_CAP_PCI_CFG ? 20 : 16;
      const v = new DataView(c.buffer, c.byteOffset + at, len);
      v.setUint8(0, PCI_CAP_ID_VNDR);
      v.setUint8(1, i === caps.length - 1 ? 0 : at + len); // cap_next
      v.setUint8(2, len);
      v.setUint8(3, type);
      v.setUint8(4, type === VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_BAR);
      v.setUint32(8, offset, true);
      v.setUint32(12, length, true);
      if (type === VIRTIO_PCI_CAP_NOTIFY_CFG) v.setUint32(16, VIRTIO_NOTIFY_MULTIPLIER, true);
      at += len;
    });
    if (at !== PCI_CFG_CAP + 20) throw new Error('virtio capability layout');
    // The driver chooses bar, offset and length of the window, and reads or writes its data.
    this.wmask[PCI_CFG_CAP + CAP_BAR] = 0xff;
    this.setWritable(PCI_CFG_CAP + CAP_OFFSET, 4, 0xffffffff);
    this.setWritable(PCI_CFG_CAP + CAP_LENGTH, 4, 0xffffffff);
    this.setWritable(PCI_CFG_CAP + PCI_CFG_DATA, 4, 0xffffffff);
  }

  /**
   * The VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.7.2): an access to pci_cfg_data is an access of
   * cap.length bytes (1, 2 or 4, aligned) at cap.offset of the BAR cap.bar names; anything else
   * does nothing.
   */
  private windowAccess(): { offset: number; size: IoSize } | null {
    const c = this.state.config, v = new DataView(c.buffer, c.byteOffset + PCI_CFG_CAP);
    const bar = v.getUint8(CAP_BAR), offset = v.getUint32(CAP_OFFSET, true), size = v.getUint32(CAP_LENGTH, true);
    if (bar !== VIRTIO_PCI_BAR || !(size === 1 || size === 2 || size === 4) || offset % size !== 0 || offset + size > VIRTIO_PCI_BAR_SIZE) return null;
    return { offset, size };
  }

  override readConfig(offset: number, size: number): number {
    if (offset === PCI_CFG_CAP + PCI_CFG_DATA) {
      const w = this.windowAccess();
      if (w) new DataView(this.state.config.buffer, this.state.config.byteOffset).setUint32(offset, this.barRead(w.offset, w.size), true);
    }
    return super.readConfig(offset, size);
  }

  protected override configWritten(offset: number, _size: number): void {
    if (offset !== PCI_CFG_CAP + PCI_CFG_DATA) return;
    const w = this.windowAccess();
    if (!w) return;
    const value = new DataView(this.state.config.buffer, this.state.config.byteOffset).getUint32(offset, true);
    this.barWrite(w.offset, w.size, w.size === 4 ? value >>> 0 : value & ((1 << (8 * w.size)) - 1));
  }

  private freshState(previous?: D): VirtioState<D> {
    return {
      deviceFeatureSelect: 0, driverFeatureSelect: 0, driverFeatures: [0, 0], status: 0, configGeneration: 0, queueSelect: 0, isr: 0,
      queues: this.info.queueMax.map((m) => freshQueue(m)),
      device: previous === undefined ? this.freshDeviceState() : this.keptOverReset(previous),
    };
  }

  // ---- what a device supplies ----

  /** The device's own part of the state after a reset. */
  protected abstract freshDeviceState(): D;
  /** Read `size` bytes at `offset` of the device-specific configuration (inside configSize). */
  protected abstract deviceConfigRead(offset: number, size: number): number;
  /** The driver wrote device-specific configuration. */
  protected deviceConfigWrite(_offset: number, _size: number, _value: number): void {}
  /** The device's part after a reset the driver asks for (status 0): fresh, unless it holds host-side data. */
  protected keptOverReset(_previous: D): D { return this.freshDeviceState(); }
  /** The driver notified queue `q` (enabled, DRIVER_OK): take its chains. May throw VirtqueueError. */
  protected abstract queueNotified(q: number): void;
  /** After a device reset or a state load: drop host-side work (the transport's own is dropped already). */
  protected deviceResetHook(): void {}

  // ---- snapshot ----

  override reset(): void {
    super.reset();
    this.deviceReset();
  }

  /** The transport and device state, for the Machine's registry beside the configuration space (`state`). */
  readonly transport = this.registers();

  private registers() {
    const self = this;
    return {
      stateVersion: 1,
      get state(): VirtioState<D> { return self.vio; },
      reset(): void { self.deviceReset(); },
      loadState(state: VirtioState<D>): void {
        self.vio = structuredClone(state);
        self.generation++;
        self.deviceResetHook();
        self.setIntx(self.vio.isr !== 0);
      },
    };
  }

  /** §2.1, §4.1.4.3: power-on, or (`byDriver`) the driver writing 0 to device_status. */
  private deviceReset(byDriver = false): void {
    this.generation++;
    this.vio = this.freshState(byDriver ? this.vio.device : undefined);
    this.deviceResetHook();
    this.setIntx(false);
  }

  // ---- what the transport gives a device ----

  /** Was feature `bit` negotiated (FEATURES_OK)? */
  protected negotiated(bit: number): boolean {
    if (!(this.vio.status & VIRTIO_STATUS_FEATURES_OK)) return false;
    return ((this.vio.driverFeatures[bit >> 5]! >>> (bit & 31)) & 1) === 1;
  }

  /** May the device use queue `q` now: DRIVER_OK, not needing a reset, the queue enabled? */
  protected live(q: number): boolean {
    const s = this.vio.status;
    return (s & VIRTIO_STATUS_DRIVER_OK) !== 0 && (s & VIRTIO_STATUS_DEVICE_NEEDS_RESET) === 0 && (this.vio.queues[q]?.enabled ?? false);
  }

  /** The next chain on queue `q`, or null. Throws VirtqueueError for a malformed one. */
  protected pop(q: number): Chain | null {
    if (!this.live(q)) return null;
    const chain = popChain(this.dma, this.vio.queues[q]!, this.negotiated(VIRTIO_F_INDIRECT_DESC));
    if (chain) this.counters.chains++;
    return chain;
  }

  protected gather(chain: Chain, offset: number, max: number): Uint8Array { return gather(this.dma, chain, offset, max); }
  protected scatter(chain: Chain, offset: number, data: Uint8Array): number { return scatter(this.dma, chain, offset, data); }

  /** Give `chain` back on queue `q` with `written` bytes written to it. Call notifyUsed(q) after a batch. */
  protected used(q: number, chain: Chain, written: number): void {
    if (!this.live(q)) return;
    pushUsed(this.dma, this.vio.queues[q]!, chain.head, written);
  }

  /** After returning chains on queue `q`: interrupt the driver if it wants to hear (§2.6.7.2). */
  protected notifyUsed(q: number): void {
    if (!this.live(q)) return;
    const queue = this.vio.queues[q]!;
    const eventIdx = this.negotiated(VIRTIO_F_EVENT_IDX);
    if (eventIdx) setAvailEvent(this.dma, queue);
    if (needsNotification(this.dma, queue, eventIdx)) this.interrupt(VIRTIO_ISR_QUEUE);
  }

  /** The device configuration changed (§4.1.4.3: config_generation; §4.1.5.4: the ISR bit 1). */
  protected configChanged(): void {
    this.vio.configGeneration = (this.vio.configGeneration + 1) & 0xff;
    if (this.vio.status & VIRTIO_STATUS_DRIVER_OK) this.interrupt(VIRTIO_ISR_CONFIG);
  }

  /**
   * Host work for the device: `work` runs now; when it settles, `apply` (with its result, or
   * the error) changes the device, at the moment the Machine chooses (`complete`). Dropped if
   * the device was reset in between; a VirtqueueError in `apply` sets DEVICE_NEEDS_RESET.
   */
  protected later<T>(complete: (done: Promise<() => void>) => void, work: () => Promise<T>,
                     apply: (result: { ok: true; value: T } | { ok: false; error: unknown }) => void): void {
    const generation = this.generation;
    this.inFlight++;
    let started: Promise<T>;
    try { started = work(); } catch (error) { started = Promise.reject(error); }
    complete(started.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))
      .then((result) => () => {
        this.inFlight--;
        if (generation !== this.generation) return;
        this.guarded(() => apply(result));
      }));
  }

  /** DEVICE_NEEDS_RESET (§2.1.2): the device stops using its queues and tells a running driver. */
  protected fail(reason: string): void {
    this.counters.needsReset++;
    this.counters.lastError = reason;
    if (this.vio.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    this.vio.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (this.vio.status & VIRTIO_STATUS_DRIVER_OK) {
      this.counters.configInterrupts++;
      this.interrupt(VIRTIO_ISR_CONFIG);
    }
  }

  /** Run `f`; a VirtqueueError from it sets DEVICE_NEEDS_RESET. */
  protected guarded(f: () => void): void {
    try { f(); } catch (e) {
      if (!(e instanceof VirtqueueError)) throw e;
      this.fail(e.message);
    }
  }

  private interrupt(bits: number): void {
    this.counters.interrupts++;
    this.vio.isr |= bits;
    this.setIntx(true);
  }

  // ---- the BAR ----

  private barRead(offset: number, size: IoSize): number {
    if (offset >= VIRTIO_COMMON_CFG && offset < VIRTIO_COMMON_CFG + COMMON_CFG_SIZE) return this.commonRead(offset - VIRTIO_COMMON_CFG, size);
    if (offset >= VIRTIO_ISR_CFG && offset < VIRTIO_ISR_CFG + 4) {
      // §4.1.4.5: reading the ISR clears it, and with it the interrupt.
      const v = offset === VIRTIO_ISR_CFG ? this.vio.isr : 0;
      this.vio.isr = 0;
      this.setIntx(false);
      return v;
    }
    if (offset >= VIRTIO_DEVICE_CFG && offset + size <= VIRTIO_DEVICE_CFG + this.info.configSize) return this.deviceConfigRead(offset - VIRTIO_DEVICE_CFG, size) >>> 0;
    if (!(offset >= VIRTIO_NOTIFY_CFG && offset < VIRTIO_NOTIFY_CFG + VIRTIO_NOTIFY_MULTIPLIER * this.info.queueMax.length)) this.counters.guestErrors++;
    return 0;
  }

  private barWrite(offset: number, size: IoSize, value: number): void {
    if (offset >= VIRTIO_COMMON_CFG && offset < VIRTIO_COMMON_CFG + COMMON_CFG_SIZE) { this.commonWrite(offset - VIRTIO_COMMON_CFG, size, value); return; }
    if (offset >= VIRTIO_DEVICE_CFG && offset + size <= VIRTIO_DEVICE_CFG + this.info.configSize) { this.deviceConfigWrite(offset - VIRTIO_DEVICE_CFG, size, value); return; }
    const n = offset - VIRTIO_NOTIFY_CFG;
    if (n >= 0 && n < VIRTIO_NOTIFY_MULTIPLIER * this.info.queueMax.length && n % VIRTIO_NOTIFY_MULTIPLIER === 0) { this.notify(n / VIRTIO_NOTIFY_MULTIPLIER); return; }
    this.counters.guestErrors++;
  }

  /** §4.1.4.4: the driver wrote queue `q`'s notification address. */
  private notify(q: number): void {
    this.counters.notifications++;
    if (!this.live(q)) return;
    this.guarded(() => this.queueNotified(q));
    // §2.6.10: with EVENT_IDX, ask for a notification when the next entry is made available,
    // also while the chains taken are still with the host (virtio-blk), or the driver would stay quiet.
    if (this.live(q) && this.negotiated(VIRTIO_F_EVENT_IDX)) setAvailEvent(this.dma, this.vio.queues[q]!);
  }

  private selected(): VirtqueueState | undefined { return this.vio.queues[this.vio.queueSelect]; }

  private commonRead(offset: number, size: IoSize): number {
    const b = new Uint8Array(COMMON_CFG_SIZE);
    const v = new DataView(b.buffer);
    const s = this.vio, q = this.selected();
    v.setUint32(COMMON_DFSELECT, s.deviceFeatureSelect, true);
    v.setUint32(COMMON_DF, this.offered[s.deviceFeatureSelect] ?? 0, true);
    v.setUint32(COMMON_GFSELECT, s.driverFeatureSelect, true);
    v.setUint32(COMMON_GF, s.driverFeatures[s.driverFeatureSelect] ?? 0, true);
    v.setUint16(COMMON_MSIX, VIRTIO_MSI_NO_VECTOR, true);
    v.setUint16(COMMON_NUMQ, s.queues.length, true);
    v.setUint8(COMMON_STATUS, s.status);
    v.setUint8(COMMON_CFGGEN, s.configGeneration);
    v.setUint16(COMMON_Q_SELECT, s.queueSelect, true);
    if (q) {
      v.setUint16(COMMON_Q_SIZE, q.size, true);
      v.setUint16(COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR, true);
      v.setUint16(COMMON_Q_ENABLE, q.enabled ? 1 : 0, true);
      v.setUint16(COMMON_Q_NOFF, s.queueSelect, true);
      v.setUint32(COMMON_Q_DESCLO, q.desc, true); v.setUint32(COMMON_Q_DESCHI, q.descHi, true);
      v.setUint32(COMMON_Q_AVAILLO, q.driver, true); v.setUint32(COMMON_Q_AVAILHI, q.driverHi, true);
      v.setUint32(COMMON_Q_USEDLO, q.device, true); v.setUint32(COMMON_Q_USEDHI, q.deviceHi, true);
    }
    let r = 0;
    for (let i = 0; i < size; i++) r |= (b[offset + i] ?? 0) << (8 * i);
    return r >>> 0;
  }

  private commonWrite(offset: number, size: IoSize, value: number): void {
    const s = this.vio, q = this.selected();
    const width = (w: number) => { if (size !== w) this.counters.guestErrors++; return size === w; };
    // §4.1.4.3.2 (driver): queue fields are set before queue_enable; driver features before FEATURES_OK.
    const queueWritable = () => {
      if (q && !q.enabled) return true;
      this.counters.guestErrors++;
      return false;
    };
    switch (offset) {
      case COMMON_DFSELECT: if (width(4)) s.deviceFeatureSelect = value >>> 0; return;
      case COMMON_GFSELECT: if (width(4)) s.driverFeatureSelect = value >>> 0; return;
      case COMMON_GF:
        if (!width(4)) return;
        if (s.status & VIRTIO_STATUS_FEATURES_OK || s.driverFeatureSelect > 1) { this.counters.guestErrors++; return; }
        s.driverFeatures[s.driverFeatureSelect] = value >>> 0;
        return;
      case COMMON_MSIX: case COMMON_Q_MSIX: width(2); return; // no MSI-X: the vectors stay NO_VECTOR
      case COMMON_STATUS: if (width(1)) this.writeStatus(value & 0xff); return;
      case COMMON_Q_SELECT: if (width(2)) s.queueSelect = value & 0xffff; return;
      case COMMON_Q_SIZE: if (width(2) && queueWritable()) q!.size = value & 0xffff; return;
      case COMMON_Q_ENABLE:
        if (!width(2) || !queueWritable()) return;
        if ((value & 1) === 0) { this.counters.guestErrors++; return; } // §4.1.4.3.2: the driver MUST NOT write 0
        this.enableQueue(s.queueSelect);
        return;
      case COMMON_Q_DESCLO: if (width(4) && queueWritable()) q!.desc = value >>> 0; return;
      case COMMON_Q_DESCHI: if (width(4) && queueWritable()) q!.descHi = value >>> 0; return;
      case COMMON_Q_AVAILLO: if (width(4) && queueWritable()) q!.driver = value >>> 0; return;
      case COMMON_Q_AVAILHI: if (width(4) && queueWritable()) q!.driverHi = value >>> 0; return;
      case COMMON_Q_USEDLO: if (width(4) && queueWritable()) q!.device = value >>> 0; return;
      case COMMON_Q_USEDHI: if (width(4) && queueWritable()) q!.deviceHi = value >>> 0; return;
      default: this.counters.guestErrors++; // a read-only field or no field
    }
  }

  /**
   * queue_enable: a size that is not a power of two up to the maximum (§2.6, §4.1.4.3), or
   * rings misaligned or outside RAM (§2.6, its alignment table), are errors the device cannot work with: it sets
   * DEVICE_NEEDS_RESET and leaves the queue disabled.
   */
  private enableQueue(index: number): void {
    const q = this.vio.queues[index]!;
    const error = layoutError(this.dma, q, this.info.queueMax[index]!);
    if (error !== null) { this.fail(`queue ${index}: ${error}`); return; }
    q.enabled = true;
    q.lastAvail = 0; q.usedIdx = 0; q.signalledUsed = 0;
  }

  /** §2.1, §3.1.1: the status the driver writes; FEATURES_OK only for features the device can take. */
  private writeStatus(value: number): void {
    const s = this.vio;
    if (value === 0) { this.deviceReset(true); return; }
    const old = s.status;
    let next = (value & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    if ((value & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) && !this.featuresAcceptable()) {
      next &= ~VIRTIO_STATUS_FEATURES_OK;
      this.counters.guestErrors++;
    }
    // DRIVER_OK without FEATURES_OK is a driver that skipped the handshake: the device does not start.
    if ((next & VIRTIO_STATUS_DRIVER_OK) && !(next & VIRTIO_STATUS_FEATURES_OK)) { next &= ~VIRTIO_STATUS_DRIVER_OK; this.counters.guestErrors++; }
    s.status = next;
    if ((next & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) this.driverReady();
  }

  /** Called when DRIVER_OK is set: a device with work waiting (console output) may start it. */
  protected driverReady(): void {}

  /** §2.2.2, §6.2: a subset of what is offered, and VIRTIO_F_VERSION_1 among it. */
  private featuresAcceptable(): boolean {
    const [lo, hi] = this.vio.driverFeatures as [number, number];
    if ((lo & ~this.offered[0]) !== 0 || (hi & ~this.offered[1]) !== 0) return false;
    return ((hi >>> (VIRTIO_F_VERSION_1 - 32)) & 1) === 1;
  }
}
