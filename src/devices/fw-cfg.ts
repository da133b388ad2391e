// QEMU's firmware configuration device (fw_cfg), the channel through which a virtual board tells
// its firmware what it is: RAM layout, CPU count, boot order, ACPI tables, option ROMs. SeaBIOS's
// QEMU build reads everything it needs to know about this machine from here. The interface is
// QEMU's docs/specs/fw_cfg.rst:
//
//   0x510 (16-bit write)  selector: which item the data port reads, from its first byte
//   0x511 (8-bit read)    data: the next byte of the selected item (0 past its end)
//   0x514, 0x518          DMA address, big-endian, high dword then low; writing the low dword
//                         runs the FWCfgDmaAccess structure at that guest address
//
// Items are numbered; named files are listed in the directory item (FW_CFG.FILE_DIR) and get
// numbers from FW_CFG.FILE_FIRST on. Everything here is read-only for the guest.

import type { DmaView, IoDevice, IoSize } from '../machine/io.js';

/** Item numbers (QEMU's FW_CFG_* keys) this board answers. */
export const FW_CFG = {
  SIGNATURE: 0x00,
  ID: 0x01,
  NOGRAPHIC: 0x04,
  NB_CPUS: 0x05,
  BOOT_MENU: 0x0e,
  MAX_CPUS: 0x0f,
  FILE_DIR: 0x19,
  FILE_FIRST: 0x20,
  /** x86-specific: whether IRQ0 reaches IO-APIC input 2 (an override in the tables). */
  IRQ0_OVERRIDE: 0x8002,
} as const;

/** ID item bits: the byte interface is always there; DMA when bit 1 is set. */
const ID_TRADITIONAL = 1 << 0;
const ID_DMA = 1 << 1;
/** Reading the DMA address register returns this ("QEMU CFG" big-endian), so firmware can probe it. */
const DMA_SIGNATURE_HI = 0x51454d55; // "QEMU"
const DMA_SIGNATURE_LO = 0x20434647; // " CFG"

/** FWCfgDmaAccess.control bits. */
const DMA_ERROR = 1 << 0;
const DMA_READ = 1 << 1;
const DMA_SKIP = 1 << 2;
const DMA_SELECT = 1 << 3;
const DMA_WRITE = 1 << 4;
const DMA_ACCESS_SIZE = 16; // be32 control, be32 length, be64 address

/** A file name fills 56 bytes (NUL-terminated) in the directory. */
const FILE_NAME_BYTES = 56;
const DIR_ENTRY_BYTES = 64;

/** Port offsets in the 12-byte window at 0x510. */
const SELECTOR = 0;
const DATA = 1;
const DMA_HIGH = 4;
const DMA_LOW = 8;

export interface FwCfgState {
  selector: number;
  /** Read position in the selected item. */
  offset: number;
  /** The DMA address register's high dword, waiting for the low one. */
  dmaHigh: number;
}

export class FwCfg implements IoDevice {
  readonly name = 'fw-cfg';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: FwCfgState = { selector: 0, offset: 0, dmaHigh: 0 };
  /** Guest mistakes (DMA structures outside RAM, writes to read-only items), counted. */
  guestErrors = 0;

  private readonly items = new Map<number, Uint8Array>();
  private readonly files: { name: string; key: number; size: number }[] = [];

  constructor(private readonly dma: DmaView) {
    this.items.set(FW_CFG.SIGNATURE, new TextEncoder().encode('QEMU'));
    this.items.set(FW_CFG.ID, le(4, ID_TRADITIONAL | ID_DMA));
    this.updateDirectory();
  }

  /** Set numbered item `key` (integers are little-endian, as QEMU stores them). */
  setItem(key: number, bytes: Uint8Array): void {
    if (key >= FW_CFG.FILE_FIRST && key < 0x8000) throw new RangeError(`fw_cfg key 0x${key.toString(16)} is in the file range`);
    this.items.set(key, bytes);
  }

  /** Add (or replace) the named file `name`. */
  setFile(name: string, bytes: Uint8Array): void {
    if (name.length === 0 || name.length >= FILE_NAME_BYTES) throw new RangeError(`fw_cfg file name '${name}' must be 1..${FILE_NAME_BYTES - 1} characters`);
    let file = this.files.find((f) => f.name === name);
    if (file === undefined) {
      file = { name, key: FW_CFG.FILE_FIRST + this.files.length, size: 0 };
      this.files.push(file);
    }
    file.size = bytes.length;
    this.items.set(file.key, bytes);
    this.updateDirectory();
  }

  /** The directory: be32 count, then per file be32 size, be16 key, be16 reserved, name[56]. */
  private updateDirectory(): void {
    const sorted = [...this.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const dir = new Uint8Array(4 + sorted.length * DIR_ENTRY_BYTES);
    const view = new DataView(dir.buffer);
    view.setUint32(0, sorted.length);
    sorted.forEach((f, i) => {
      const at = 4 + i * DIR_ENTRY_BYTES;
      view.setUint32(at, f.size);
      view.setUint16(at + 4, f.key);
      dir.set(new TextEncoder().encode(f.name), at + 8);
    });
    this.items.set(FW_CFG.FILE_DIR, dir);
  }

  reset(): void { this.state = { selector: 0, offset: 0, dmaHigh: 0 }; }
  loadState(state: FwCfgState): void { this.state = { ...state }; }

  read(offset: number, size: IoSize): number {
    if (offset === DATA && size === 1) return this.nextByte();
    // The DMA address register reads back the interface's signature.
    if (offset === DMA_HIGH && size === 4) return DMA_SIGNATURE_HI;
    if (offset === DMA_LOW && size === 4) return DMA_SIGNATURE_LO;
    return 0;
  }

  write(offset: number, size: IoSize, value: number): void {
    if (offset === SELECTOR && size === 2) {
      this.state.selector = value & 0xffff;
      this.state.offset = 0;
    } else if (offset === DMA_HIGH && size === 4) {
      this.state.dmaHigh = bswap32(value);
    } else if (offset === DMA_LOW && size === 4) {
      const high = this.state.dmaHigh;
      this.state.dmaHigh = 0;
      this.runDma(high, bswap32(value));
    } else {
      this.guestErrors++;
    }
  }

  private nextByte(): number {
    const item = this.items.get(this.state.selector);
    if (item === undefined || this.state.offset >= item.length) return 0;
    return item[this.state.offset++]!;
  }

  /** Run the FWCfgDmaAccess at guest physical (high:low), then write its control word back. */
  private runDma(high: number, low: number): void {
    if (high !== 0 || low + DMA_ACCESS_SIZE > this.dma.size) { this.guestErrors++; return; }
    const access = new DataView(this.dma.read(low, DMA_ACCESS_SIZE).buffer);
    const control = access.getUint32(0);
    const length = access.getUint32(4);
    const addrHigh = access.getUint32(8);
    const addr = access.getUint32(12);
    if (control & DMA_SELECT) {
      this.state.selector = control >>> 16;
      this.state.offset = 0;
    }
    let error = false;
    if (control & DMA_WRITE) {
      error = true; // no item here is writable
    } else if (control & (DMA_READ | DMA_SKIP)) {
      const item = this.items.get(this.state.selector) ?? new Uint8Array(0);
      const available = Math.max(0, item.length - this.state.offset);
      const n = Math.min(length, available);
      if (control & DMA_READ) {
        if (addrHigh !== 0 || addr + length > this.dma.size) {
          error = true;
        } else {
          // Bytes past the item's end read as zero, as through the data port.
          const out = new Uint8Array(length);
          out.set(item.subarray(this.state.offset, this.state.offset + n));
          this.dma.write(addr, out);
        }
      }
      this.state.offset += n;
    }
    if (error) this.guestErrors++;
    const done = new Uint8Array(4);
    new DataView(done.buffer).setUint32(0, error ? DMA_ERROR : 0);
    this.dma.write(low, done);
  }
}

/** `n` bytes little-endian. */
export function le(n: number, value: number | bigint): Uint8Array {
  const out = new Uint8Array(n);
  let v = BigInt(value);
  for (let i = 0; i < n; i++) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
