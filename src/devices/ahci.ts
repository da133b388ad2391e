// An AHCI SATA controller (Serial ATA AHCI 1.3.1) as an Intel ICH9 function on PCI: the HBA's
// registers in a 4 KiB memory BAR (ABAR, BAR5), up to six ports with a disk (ata.ts) or an ATAPI
// CD-ROM drive (atapi.ts) each, command lists and command tables in guest RAM, scatter-gather
// DMA through the PRDT, received FISes, and one INTx interrupt. Commands run asynchronously: the
// backend (src/storage) answers later, and the Machine hands the completion back at a point of
// guest execution (host-events.ts), so deterministic runs stay deterministic.
//
// Everything the guest gives (addresses, lengths, slot numbers, FIS contents, packets) is
// checked before it is used; DMA outside RAM is a host bus fatal error (IS.HBFS), a malformed
// command aborts (TFD.ERR with ABRT, IS.TFES), data beyond the PRDT is an overflow (IS.OFS), as
// a controller reports them.

import type { DmaView, IoSize } from '../machine/io.js';
import { type BlockBackend, SECTOR } from '../storage/block.js';
import { ATA_ERROR_ABRT, ATA_READY, ATA_STATUS_ERR, type AtaTaskfile, decodeAta, identifyDevice } from './ata.js';
import {
  type AtapiState, CD_BLOCK, DIAGNOSTIC_PASSED, PACKET_DONE_REASON, SIG_ATAPI, decodePacketAta, freshAtapiState,
  identifyPacketDevice, mediumError, overflowError, packetCommand, packetError, resetAtapi,
} from './atapi.js';
import { FIS_D2H, FIS_PIO_SETUP, FIS_SDB, type Prd, d2hFis, dmaRead, gather, inRam, pioSetupFis, prdBytes, scatter, sdbFis } from './ahci-dma.js';
import { PciFunction } from './pci.js';

export const AHCI_PORTS = 6;
export const AHCI_ABAR_SIZE = 0x1000;
const SLOTS = 32;

// Generic host control (AHCI 1.3.1 §3.1)
const CAP = 0x00, GHC = 0x04, IS = 0x08, PI = 0x0c, VS = 0x10;
const GHC_HR = 1 << 0, GHC_IE = 1 << 1, GHC_AE = 1 << 31;
/** CAP: native command queuing, 32 command slots, AHCI-only (SAM), Gen1 speed, 32-bit DMA. */
const CAP_VALUE = (1 << 30) | ((SLOTS - 1) << 8) | (1 << 18) | (1 << 20) | (AHCI_PORTS - 1);

// Port registers (§3.3), at 0x100 + port * 0x80
const P_CLB = 0x00, P_FB = 0x08, P_IS = 0x10, P_IE = 0x14, P_CMD = 0x18;
const P_TFD = 0x20, P_SIG = 0x24, P_SSTS = 0x28, P_SCTL = 0x2c, P_SERR = 0x30, P_SACT = 0x34, P_CI = 0x38;
const CMD_ST = 1 << 0, CMD_SUD = 1 << 1, CMD_POD = 1 << 2, CMD_CLO = 1 << 3, CMD_FRE = 1 << 4;
const CMD_FR = 1 << 14, CMD_CR = 1 << 15;
const CMD_WRITABLE = CMD_ST | CMD_SUD | CMD_POD | CMD_FRE | (0xf << 28) | (1 << 26) | (1 << 27) | (1 << 24) | (1 << 22);
// Port interrupt status bits
const PIS_DHRS = 1 << 0, PIS_PSS = 1 << 1, PIS_SDBS = 1 << 3, PIS_OFS = 1 << 24, PIS_HBFS = 1 << 29, PIS_TFES = 1 << 30;
const PIS_VALID = 0xfd8000ff;
/** PxSIG of a disk (count 01h, LBA 01h); a packet device's is SIG_ATAPI. */
const SIG_DISK = 0x00000101;
// Command header, dword 0 (AHCI 1.3.1 4.2.2): command FIS length, ATAPI, Write (PRDTL is bits 31:16).
const HDR_CFL = 0x1f, HDR_ATAPI = 1 << 5, HDR_WRITE = 1 << 6;
/** Where the command table holds the ATAPI command (ACMD, AHCI 4.2.3). */
const ACMD = 0x40;
const CDB_LENGTH = 12;
/** SStatus with a device: interface active, Gen1, device present and PHY up. */
const SSTS_UP = 0x113;
const TFD_NO_DEVICE = 0x7f;

export interface AhciPortState {
  clb: number; fb: number; is: number; ie: number; cmd: number; tfd: number; sig: number;
  ssts: number; sctl: number; serr: number; ci: number;
  /** SActive: queued (NCQ) commands the disk has accepted and not completed. */
  sact: number;
  /** The CD-ROM drive's own state, on a port with one (stateVersion 3). */
  atapi?: AtapiState;
}
export interface AhciState { ghc: number; is: number; ports: AhciPortState[] }

type PortDevice = 'disk' | 'cdrom' | null;

function freshPort(device: PortDevice): AhciPortState {
  const present = device !== null;
  return {
    clb: 0, fb: 0, is: 0, ie: 0, cmd: CMD_SUD | CMD_POD, tfd: present ? ATA_READY | (DIAGNOSTIC_PASSED << 8) : TFD_NO_DEVICE,
    sig: device === 'cdrom' ? SIG_ATAPI : present ? SIG_DISK : 0xffffffff, ssts: present ? SSTS_UP : 0, sctl: 0, serr: 0, ci: 0, sact: 0,
    ...(device === 'cdrom' ? { atapi: freshAtapiState(true) } : {}),
  };
}

/** A PRDT entry: a buffer in guest RAM. */

/**
 * How a command ends: the bytes it moved (PRDBC), whether it moved them by PIO, whether it
 * failed and the Error register, and the Count and LBA registers of its D2H FIS (in PxSIG's
 * layout: LBA high, mid, low, count).
 */
interface Ending { bytes: number; pio?: boolean; failed?: boolean; error?: number; registers?: number; overflow?: boolean }

export interface AhciOptions {
  dma: DmaView;
  /**
   * Host work under way for a command: `done` resolves (never rejects) to what completing it
   * does to the controller, which the Machine runs when the guest is to see it (io-completions.ts).
   */
  complete: (done: Promise<() => void>) => void;
  /** The disk on each port (index = port), or none. */
  disks: readonly (BlockBackend | undefined)[];
  /**
   * The CD-ROM drive on each port (index = port), given as its disc (a read-only medium of
   * 2048-byte blocks, an ISO image), or none. A port has a disk or a CD-ROM drive, not both.
   */
  cdroms?: readonly (BlockBackend | undefined)[];
  /** Where the ABAR now decodes (or null), for the Machine's MMIO map. */
  onMap: (base: number | null) => void;
}

/** Counters for the inspector and the tests. */
export interface AhciCounters {
  commands: number; queued: number; aborted: number; hostBusErrors: number; bytesRead: number; bytesWritten: number;
  /** ATAPI packets (SCSI commands) and those of them that ended in CHECK CONDITION. */
  packets: number; checkConditions: number;
}

export class Ahci extends PciFunction {
  ahci: AhciState;
  readonly counters: AhciCounters = { commands: 0, queued: 0, aborted: 0, hostBusErrors: 0, bytesRead: 0, bytesWritten: 0, packets: 0, checkConditions: 0 };
  /** Commands issued to the backend and not completed, per port (slot bits). */
  private readonly busy = new Array<number>(AHCI_PORTS).fill(0);
  /** Bumped by every reset: a completion from before it is dropped. */
  private generation = 0;
  /** The ABAR as an MMIO window. */
  readonly mmio = { name: 'ahci', read: (o: number, s: IoSize) => this.mmioRead(o, s), write: (o: number, s: IoSize, v: number) => this.mmioWrite(o, s, v) };

  constructor(private readonly opts: AhciOptions) {
    super('ahci', {
      vendorId: 0x8086, deviceId: 0x2922, classCode: 0x010601, // ICH9 AHCI, mass storage / SATA / AHCI 1.0
      revision: 2, interruptPin: 1,
    });
    this.defineBar(5, { size: AHCI_ABAR_SIZE, io: false, onMap: (base) => opts.onMap(base) });
    const cdroms = opts.cdroms ?? [];
    if (opts.disks.length > AHCI_PORTS || cdroms.length > AHCI_PORTS) throw new RangeError(`the controller has ${AHCI_PORTS} ports`);
    for (let port = 0; port < AHCI_PORTS; port++) {
      if (opts.disks[port] !== undefined && cdroms[port] !== undefined) throw new RangeError(`port ${port} has both a disk and a CD-ROM drive`);
    }
    this.captureResetState();
    this.ahci = this.freshState();
  }

  private freshState(): AhciState {
    return { ghc: GHC_AE, is: 0, ports: Array.from({ length: AHCI_PORTS }, (_, p) => freshPort(this.device(p))) };
  }

  private device(port: number): PortDevice {
    if (this.opts.disks[port] !== undefined) return 'disk';
    return this.opts.cdroms?.[port] !== undefined ? 'cdrom' : null;
  }

  override reset(): void {
    super.reset();
    this.hbaReset();
  }

  /**
   * The HBA's registers, for the Machine's registry beside the PCI configuration space (this
   * object's own `state`). Commands in flight with the host are not part of it: the Machine
   * drains them before a save (Machine.settleIo), so the registers then hold every completion.
   */
  readonly hba = this.registers();

  private registers() {
    const controller = this;
    return {
      // 3: a CD-ROM drive's state on its port (AhciPortState.atapi).
      stateVersion: 3,
      get state(): AhciState { return controller.ahci; },
      reset(): void { controller.hbaReset(); },
      loadState(state: AhciState): void {
        controller.ahci = structuredClone(state);
        controller.busy.fill(0);
        controller.generation++;
        controller.updateIntx();
      },
    };
  }

  /**
   * Power-on, or with `comreset` software's HBA reset (GHC.HR), which resets the HBA and sends
   * each port a COMRESET (AHCI 1.3.1 10.4.3): the devices stay as they were, but hard-reset.
   */
  private hbaReset(comreset = false): void {
    this.generation++;
    this.busy.fill(0);
    const drives = comreset ? this.ahci.ports.map((p) => p.atapi) : [];
    this.ahci = this.freshState();
    drives.forEach((drive, port) => {
      if (drive === undefined) return;
      resetAtapi(drive);
      this.ahci.ports[port]!.atapi = drive;
    });
    this.updateIntx();
  }

  // ---- registers ----

  private mmioRead(offset: number, size: IoSize): number {
    if (size !== 4 || offset & 3) return 0xffffffff >>> (32 - 8 * size); // the HBA takes dwords only
    const a = this.ahci;
    if (offset < 0x100) {
      switch (offset) {
        case CAP: return CAP_VALUE >>> 0;
        case GHC: return a.ghc >>> 0;
        case IS: return a.is >>> 0;
        case PI: return this.implemented();
        case VS: return 0x00010301;
        default: return 0;
      }
    }
    const port = this.portAt(offset);
    if (port === null) return 0;
    const p = a.ports[port]!;
    switch (offset & 0x7f) {
      case P_CLB: return p.clb;
      case P_FB: return p.fb;
      case P_IS: return p.is >>> 0;
      case P_IE: return p.ie >>> 0;
      case P_CMD: return (p.cmd | (p.cmd & CMD_ST ? CMD_CR : 0) | (p.cmd & CMD_FRE ? CMD_FR : 0)) >>> 0;
      case P_TFD: return p.tfd;
      case P_SIG: return p.sig >>> 0;
      case P_SSTS: return p.ssts;
      case P_SCTL: return p.sctl;
      case P_SERR: return p.serr >>> 0;
      case P_SACT: return p.sact >>> 0;
      case P_CI: return p.ci >>> 0;
      default: return 0; // CLBU, FBU (32-bit HBA), SNTF, FBS, vendor
    }
  }

  private mmioWrite(offset: number, size: IoSize, value: number): void {
    if (size !== 4 || offset & 3) return;
    const a = this.ahci;
    if (offset < 0x100) {
      if (offset === GHC) {
        if (value & GHC_HR) { this.hbaReset(true); return; } // the reset completes at once: HR reads 0
        a.ghc = GHC_AE | (value & GHC_IE);
        this.updateIntx();
      } else if (offset === IS) {
        // IS.IPS follows the ports: a port whose PxIS still holds an enabled bit (a completion
        // that came after the driver read PxIS) sets its bit again at once (AHCI 1.3.1 3.1.2,
        // 10.7.2.1), or that interrupt would be lost.
        a.is &= ~value;
        a.ports.forEach((q, i) => { if (q.is & q.ie) a.is |= 1 << i; });
        this.updateIntx();
      }
      return;
    }
    const port = this.portAt(offset);
    if (port === null) return;
    const p = a.ports[port]!;
    switch (offset & 0x7f) {
      case P_CLB: p.clb = value & ~0x3ff; break; // 1 KiB aligned
      case P_FB: p.fb = value & ~0xff; break; // 256-byte aligned
      case P_IS: p.is &= ~value; this.updatePortIs(port); break;
      case P_IE: p.ie = value & PIS_VALID; this.updatePortIs(port); break;
      case P_CMD: {
        const was = p.cmd;
        p.cmd = (p.cmd & ~CMD_WRITABLE) | (value & CMD_WRITABLE);
        if (value & CMD_CLO) p.tfd &= ~0x88; // command list override: BSY and DRQ clear
        if ((was & CMD_ST) && !(p.cmd & CMD_ST)) { p.ci = 0; p.sact = 0; this.busy[port] = 0; } // stopped: the list is abandoned
        if (p.cmd & CMD_ST) this.issue(port);
        break;
      }
      case P_SCTL: {
        const det = value & 0xf;
        p.sctl = value & 0xfff;
        if (det === 1) { p.ssts = 0; p.tfd = TFD_NO_DEVICE; } // COMRESET asserted: the link is down
        else if (det === 0) this.linkUp(port);
        break;
      }
      case P_SERR: p.serr &= ~value; break;
      case P_SACT: if (p.cmd & CMD_ST) p.sact |= value; break; // software sets bits, the HBA clears them
      case P_CI:
        if (p.cmd & CMD_ST) { p.ci |= value; this.issue(port); }
        break;
      default: break; // CLBU/FBU: a 32-bit HBA ignores them (CAP.S64A = 0)
    }
  }

  private implemented(): number {
    return (1 << AHCI_PORTS) - 1;
  }

  private portAt(offset: number): number | null {
    const port = (offset - 0x100) >> 7;
    return port >= 0 && port < AHCI_PORTS ? port : null;
  }

  /** COMRESET released: a present device comes back with its signature in a D2H register FIS. */
  private linkUp(port: number): void {
    const p = this.ahci.ports[port]!;
    const device = this.device(port);
    if (device === null) { p.ssts = 0; p.tfd = TFD_NO_DEVICE; return; }
    p.ssts = SSTS_UP;
    p.sig = device === 'cdrom' ? SIG_ATAPI : SIG_DISK;
    p.tfd = ATA_READY | (DIAGNOSTIC_PASSED << 8);
    if (p.atapi) resetAtapi(p.atapi);
    this.postD2h(port, p.tfd, false, p.sig);
  }

  private updatePortIs(port: number): void {
    const p = this.ahci.ports[port]!;
    if (p.is & p.ie) this.ahci.is |= 1 << port;
    this.updateIntx();
  }

  private updateIntx(): void {
    this.setIntx((this.ahci.ghc & GHC_IE) !== 0 && this.ahci.is !== 0);
  }

  // ---- commands ----

  /** Start every issued command that is not yet running (in slot order). */
  private issue(port: number): void {
    const p = this.ahci.ports[port]!;
    const waiting = p.ci & ~this.busy[port]!;
    for (let slot = 0; slot < SLOTS; slot++) if (waiting & (1 << slot)) this.start(port, slot);
  }

  private start(port: number, slot: number): void {
    const p = this.ahci.ports[port]!;
    this.busy[port]! |= 1 << slot;
    this.counters.commands++;
    const header = dmaRead(this.opts.dma, p.clb + slot * 32, 32);
    if (!header) return this.hostBusError(port, slot);
    const h = new DataView(header.buffer);
    const flags = h.getUint32(0, true);
    const cfl = flags & HDR_CFL, prdtl = flags >>> 16, write = (flags & HDR_WRITE) !== 0, atapi = (flags & HDR_ATAPI) !== 0;
    const ctba = h.getUint32(8, true) & ~0x7f;
    const table = dmaRead(this.opts.dma, ctba, 0x80 + prdtl * 16);
    if (!table) return this.hostBusError(port, slot);
    const device = this.device(port);
    if (device === null || cfl < 5 || table[0] !== 0x27 || !(table[1]! & 0x80)) return this.fail(port, slot);
    const t = new DataView(table.buffer);
    const tf: AtaTaskfile = {
      command: table[2]!, features: table[3]! | (table[11]! << 8),
      lba: t.getUint16(4, true) + table[6]! * 0x10000 + (t.getUint16(8, true) + table[10]! * 0x10000) * 0x1000000,
      device: table[7]!, count: t.getUint16(12, true),
    };
    // The PRDT: where the data goes, in guest RAM.
    const prd: Prd[] = [];
    for (let i = 0; i < prdtl; i++) prd.push({ addr: t.getUint32(0x80 + i * 16, true), len: (t.getUint32(0x80 + i * 16 + 12, true) & 0x3fffff) + 1 });
    if (device === 'cdrom') return this.startPacketDevice(port, slot, tf, prd, atapi ? table.slice(ACMD, ACMD + CDB_LENGTH) : null);
    if (atapi) return this.fail(port, slot); // a disk takes no packets
    this.startDisk(port, slot, tf, prd, write);
  }

  /** An ATA command to the disk on `port`. */
  private startDisk(port: number, slot: number, tf: AtaTaskfile, prd: Prd[], write: boolean): void {
    const p = this.ahci.ports[port]!;
    const disk = this.opts.disks[port]!;
    const sectors = Math.floor(disk.size / SECTOR);
    const action = decodeAta(tf, sectors);
    // A queued command (NCQ) whose slot software marked in SActive: the disk accepts it at once
    // (a D2H register FIS without an interrupt clears its CI bit) and completes it later with a
    // Set Device Bits FIS that clears its SActive bit (AHCI 1.3.1 5.6.4, SATA 3.x 13.6).
    const queued = (action.kind === 'read' || action.kind === 'write') && action.tag !== undefined && (p.sact & (1 << slot)) !== 0;
    if (queued) { p.ci &= ~(1 << slot); p.tfd = ATA_READY; this.counters.queued++; }
    const later = (work: Promise<() => Ending | null>) => this.later(port, slot, work, () => ({ bytes: 0, failed: true }), queued);
    switch (action.kind) {
      case 'identify': {
        const data = identifyDevice(sectors, `WEBX86-${port}`);
        later(Promise.resolve(() => { const n = scatter(this.opts.dma, prd, data); return n < 0 ? null : { bytes: n, pio: true }; }));
        return;
      }
      case 'read': {
        const bytes = action.sectors * SECTOR;
        if (write || prdBytes(prd) < bytes) return this.fail(port, slot);
        later(disk.read(action.lba * SECTOR, bytes).then((data) => () => {
          const n = scatter(this.opts.dma, prd, data);
          if (n < 0) return null;
          this.counters.bytesRead += n;
          return { bytes: n, pio: !action.dma };
        }));
        return;
      }
      case 'write': {
        const bytes = action.sectors * SECTOR;
        if (!write || prdBytes(prd) < bytes || disk.readOnly) return this.fail(port, slot);
        // The guest's buffer is read now, when the command is issued: it stays put until completion.
        const data = gather(this.opts.dma, prd, bytes);
        if (!data) return this.hostBusError(port, slot);
        later(disk.write(action.lba * SECTOR, data).then(() => () => { this.counters.bytesWritten += bytes; return { bytes, pio: !action.dma }; }));
        return;
      }
      case 'flush': later(disk.flush().then(() => () => ({ bytes: 0 }))); return;
      case 'nodata': later(Promise.resolve(() => ({ bytes: 0 }))); return;
      default: this.fail(port, slot);
    }
  }

  /**
   * An ATA command to the CD-ROM drive on `port`; for PACKET, `cdb` is the ATAPI command the
   * header's A bit had the HBA send (null without it). Every outcome completes asynchronously,
   * like a disk's.
   */
  private startPacketDevice(port: number, slot: number, tf: AtaTaskfile, prd: Prd[], cdb: Uint8Array | null): void {
    const p = this.ahci.ports[port]!;
    const drive = p.atapi!;
    const medium = this.opts.cdroms![port]!;
    const blocks = Math.floor(medium.size / CD_BLOCK);
    const action = decodePacketAta(tf);
    const now = (ending: Ending) => this.later(port, slot, Promise.resolve(() => ending), () => ending);
    const done = { registers: PACKET_DONE_REASON };
    switch (action.kind) {
      case 'identify': {
        const data = identifyPacketDevice(`WEBX86-CD${port}`);
        this.later(port, slot, Promise.resolve(() => { const n = scatter(this.opts.dma, prd, data); return n < 0 ? null : { bytes: n, pio: true }; }), () => ({ bytes: 0, failed: true }));
        return;
      }
      case 'signature':
        now(action.abort
          ? { bytes: 0, failed: true, error: ATA_ERROR_ABRT, registers: SIG_ATAPI }
          : { bytes: 0, error: DIAGNOSTIC_PASSED, registers: SIG_ATAPI });
        return;
      case 'nodata': now({ bytes: 0, registers: action.count }); return;
      case 'abort': now({ bytes: 0, failed: true }); return;
      case 'packet': break;
    }
    // PACKET without the header's A bit: no command packet reached the drive (AHCI 4.2.2).
    if (cdb === null) { now({ bytes: 0, failed: true }); return; }
    this.counters.packets++;
    const r = packetCommand(drive, cdb, blocks > 0 ? blocks : null);
    const pio = !action.dma;
    const checkCondition = (): Ending => { this.counters.checkConditions++; return { bytes: 0, failed: true, error: packetError(drive), ...done }; };
    // Data beyond the PRDT's buffers: the HBA's overflow (PxIS.OFS), and the command aborts.
    const overflow = (): Ending => { overflowError(drive); return { ...checkCondition(), overflow: true }; };
    switch (r.kind) {
      case 'none': now({ bytes: 0, ...done }); return;
      case 'check': now(checkCondition()); return;
      case 'data': {
        if (prdBytes(prd) < r.data.length) { now(overflow()); return; }
        const data = r.data.slice();
        this.later(port, slot, Promise.resolve(() => { const n = scatter(this.opts.dma, prd, data); return n < 0 ? null : { bytes: n, pio, ...done }; }), checkCondition);
        return;
      }
      case 'read': {
        const bytes = r.blocks * CD_BLOCK;
        if (prdBytes(prd) < bytes) { now(overflow()); return; }
        // A disc that cannot be read (the backend failed) is a medium error.
        this.later(port, slot, medium.read(r.lba * CD_BLOCK, bytes).then((data) => () => {
          const n = scatter(this.opts.dma, prd, data);
          if (n < 0) return null;
          this.counters.bytesRead += n;
          return { bytes: n, pio, ...done };
        }), () => { mediumError(drive); return checkCondition(); });
      }
    }
  }

  /**
   * The backend answers whenever it does; what the answer does to the guest (DMA into RAM, the
   * registers, the interrupt) happens when the Machine says the guest sees it. `work` resolves
   * to that (null: the data went outside RAM); `failure` is the ending when the backend refuses.
   */
  private later(port: number, slot: number, work: Promise<() => Ending | null>, failure: () => Ending, queued = false): void {
    const gen = this.generation;
    this.opts.complete(work.then(
      (apply) => () => {
        if (gen !== this.generation) return;
        const r = apply();
        if (r === null) this.hostBusError(port, slot);
        else if (queued) this.finishQueued(port, slot, false);
        else this.finish(port, slot, r);
      },
      () => () => {
        if (gen !== this.generation) return;
        if (queued) this.finishQueued(port, slot, true); else this.finish(port, slot, failure());
      },
    ));
  }

  /** A master abort on the controller's own fetch: the port stops with IS.HBFS (AHCI §6.1.1). */
  private hostBusError(port: number, slot: number): void {
    const p = this.ahci.ports[port]!;
    this.counters.hostBusErrors++;
    this.busy[port]! &= ~(1 << slot);
    p.is |= PIS_HBFS;
    p.tfd = ATA_READY | ATA_STATUS_ERR | (ATA_ERROR_ABRT << 8);
    this.updatePortIs(port);
  }

  /** The command in `slot` aborts at once (ERR, ABRT). */
  private fail(port: number, slot: number): void {
    this.finish(port, slot, { bytes: 0, failed: true });
  }

  /** The command in `slot` is done: its byte count, the task file, the FIS, CI, and the interrupt. */
  private finish(port: number, slot: number, e: Ending): void {
    const p = this.ahci.ports[port]!;
    this.busy[port]! &= ~(1 << slot);
    if (!(p.ci & (1 << slot))) return; // the port was stopped meanwhile
    // PRD byte count (header dword 1).
    const prdbc = new Uint8Array(4);
    new DataView(prdbc.buffer).setUint32(0, e.bytes, true);
    if (inRam(this.opts.dma, p.clb + slot * 32 + 4, 4)) this.opts.dma.write(p.clb + slot * 32 + 4, prdbc);
    const error = e.error ?? (e.failed ? ATA_ERROR_ABRT : 0);
    p.tfd = ATA_READY | (e.failed ? ATA_STATUS_ERR : 0) | (error << 8);
    if (e.failed) {
      this.counters.aborted++;
      p.is |= PIS_TFES;
    }
    if (e.overflow) p.is |= PIS_OFS;
    p.ci &= ~(1 << slot);
    this.postD2h(port, p.tfd, e.pio ?? false, e.registers ?? 0, e.bytes);
    this.updatePortIs(port);
  }

  /** A queued command is done: a Set Device Bits FIS clears its SActive bit (or reports the error). */
  private finishQueued(port: number, slot: number, failed: boolean): void {
    const p = this.ahci.ports[port]!;
    this.busy[port]! &= ~(1 << slot);
    if (!(p.sact & (1 << slot))) return; // the port was stopped meanwhile
    if (failed) {
      this.counters.aborted++;
      p.tfd = ATA_READY | ATA_STATUS_ERR | (ATA_ERROR_ABRT << 8);
      p.is |= PIS_TFES;
    } else {
      p.sact &= ~(1 << slot);
    }
    p.is |= PIS_SDBS;
    if ((p.cmd & CMD_FRE) && inRam(this.opts.dma, p.fb, 0x100)) {
      this.opts.dma.write(p.fb + FIS_SDB, sdbFis(p.tfd, failed ? 0 : 1 << slot));
    }
    this.updatePortIs(port);
  }

  /**
   * Put a D2H register FIS (SATA 3.x 10.3.5) in the port's receive area, and for PIO data a PIO
   * setup FIS (10.3.11) before it; `registers` are the Count and LBA fields in PxSIG's layout.
   */
  private postD2h(port: number, tfd: number, pio: boolean, registers = 0, bytes = 0): void {
    const p = this.ahci.ports[port]!;
    p.is |= PIS_DHRS | (pio ? PIS_PSS : 0);
    if (!(p.cmd & CMD_FRE) || !inRam(this.opts.dma, p.fb, 0x100)) return;
    this.opts.dma.write(p.fb + FIS_D2H, d2hFis(tfd, registers));
    if (pio) this.opts.dma.write(p.fb + FIS_PIO_SETUP, pioSetupFis(tfd, registers, bytes));
  }
}
