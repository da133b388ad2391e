// What a Machine is built from (Machine.create's options, and the host's callbacks) and what it
// saves (Machine.saveState), with the checks an option gets before anything is built: a wrong
// option is a one-line error, never a half-built machine.

import { parseBzImage } from '../boot/bzimage.js';
import { isElf, parseElf32 } from '../boot/elf.js';
import type { BlockBackend } from '../storage/block.js';
import type { NetLink } from '../net/link.js';
import { MAX_MEMORY_MIB, MIN_MEMORY_MIB } from './board.js';
import { checkBiosImage, checkOptionRom } from './bios.js';
import type { SavedClock } from './clock.js';
import type { SavedOverlay } from './machine-disks.js';
import type { SavedDevice } from './registry.js';
import type { VmConfig } from './types.js';

/** A whole machine between runs (Machine.saveState), as plain data. */
export interface MachineState {
  cpu: Uint8Array;
  ram: Uint8Array;
  clock: SavedClock;
  irqLines: boolean[];
  devices: SavedDevice[];
  a20: { kbc: boolean; fast: boolean };
  /** Each writable disk's overlay (machine-disks.ts); absent for a machine without one. */
  disks?: SavedOverlay[];
}

/** Extra inputs beyond VmConfig (the page and CLI may give them; all optional). */
export interface MachineOptions extends VmConfig {
  /** The same kernel as an uncompressed i386 ELF; boots faster (no guest decompression). */
  vmlinux?: Uint8Array;
  /** core.wasm bytes; by default read from build/ (Node) or fetched next to the bundle (browser). */
  coreWasm?: Uint8Array | ArrayBuffer;
  /** RTC wall-clock time at power-on; default: now (realtime) or 2024-01-01 (deterministic). */
  rtcStart?: Date;
  /**
   * Local APIC + IO-APIC with an MP table (default true). False builds the older PC: the 8259
   * pair straight to the CPU's INTR pin, and CPUID without the APIC bit.
   */
  apic?: boolean;
  /** Disks on the SATA controller's ports 0, 1, ... (src/storage backends; at most AHCI_PORTS). */
  disks?: BlockBackend[];
  /** Paravirtual disks: a virtio-blk device for each (at most MAX_VIRTIO_DISKS). */
  virtioDisks?: BlockBackend[];
  /** A network card (virtio-net) on this link (src/net: user-mode NAT, a hub port ...); the same as `nics: [{ link: net, mac }]`. */
  net?: NetLink;
  /** The card's MAC address (default 52:54:00:12:34:56, as QEMU's first NIC). */
  mac?: Uint8Array;
  /** Network cards (virtio-net), eth0 first (at most MAX_NICS); not together with `net`. */
  nics?: NicOptions[];
  /** A virtio-rng entropy device (default true). */
  rng?: boolean;
  /** The balloon's target from power-on and after every reset, in MiB (default 0; setBalloonTarget changes it until the next reset). */
  balloonMiB?: number;
  /** A CD-ROM drive on the SATA port after the disks' ports, with this disc in it (an ISO image, read-only). */
  cdrom?: BlockBackend;
  /**
   * Start from firmware instead of loading a kernel: the CPU begins at the reset vector of this
   * BIOS image (SeaBIOS), which finds the disks and boots from them. `kernel` is then unused.
   */
  firmware?: FirmwareOptions;
}

/** One network card: its link, and its MAC address (default: 52:54:00:12:34:56 plus the card's index). */
export interface NicOptions {
  link: NetLink;
  mac?: Uint8Array;
}

export interface FirmwareOptions {
  /** The system BIOS ROM (SeaBIOS's bios-256k.bin or bios.bin). */
  bios: Uint8Array;
  /**
   * The VGA's BIOS, an option ROM: SeaBIOS's vgabios-stdvga.bin becomes the display's PCI
   * expansion ROM; another (vgabios-isavga.bin, a plain VGA's) is handed to SeaBIOS through
   * fw_cfg. Without one the screen stays blank until the OS sets a mode.
   */
  vgaBios?: Uint8Array;
  /** What the BIOS tries first: the first hard disk (default) or the CD-ROM. */
  boot?: 'disk' | 'cdrom';
}

export interface MachineHost {
  /** COM1 output, batched once per slice. */
  onSerial(bytes: Uint8Array): void;
  /** Bytes the guest writes to the 0xE9 debug console (optional). */
  onDebugConsole?(bytes: Uint8Array): void;
  /** One line of machine diagnostics (device errors, resets). */
  onLog?(line: string): void;
  /** Bytes the guest wrote to the virtio console (hvc0), batched like COM1's. */
  onConsole?(bytes: Uint8Array): void;
  /** The guest's balloon driver sent fresh memory statistics (after requestBalloonStats, or on its own). */
  onBalloonStats?(stats: Readonly<Record<string, number>>): void;
}

/**
 * Runs of a decoded block before the JIT translates it, unless the options say otherwise.
 * Measured with `npm run bench` (the README; `bench/HISTORY.md` for each threshold tried): lower
 * translates more code that runs too rarely to repay its compile; higher leaves hot code
 * interpreted for longer.
 */
export const JIT_THRESHOLD = 10_000;
/**
 * The highest threshold: the core counts a block's runs in 22 bits (asm-core/cpu/blocks.ts
 * RUN_COUNT).
 */
export const JIT_THRESHOLD_MAX = 0x3f_ffff;

/** Refuse options no machine can be built from, and a kernel or firmware that is not one. */
export function checkMachineOptions(config: MachineOptions): void {
  const mib = config.memoryMiB;
  if (!Number.isInteger(mib) || mib < MIN_MEMORY_MIB || mib > MAX_MEMORY_MIB) {
    throw new RangeError(`memory ${mib} MiB is out of range (${MIN_MEMORY_MIB}..${MAX_MEMORY_MIB} MiB)`);
  }
  if (config.clock !== 'realtime' && config.clock !== 'deterministic') {
    throw new RangeError(`unknown clock mode '${String(config.clock)}'`);
  }
  // Refuse a kernel or firmware that is not one before anything else (a one-line error).
  if (config.firmware !== undefined) {
    checkBiosImage(config.firmware.bios);
    if (config.firmware.vgaBios !== undefined) checkOptionRom(config.firmware.vgaBios);
  } else {
    if (config.kernel === undefined) throw new RangeError('no kernel and no firmware: nothing to boot');
    if (isElf(config.kernel)) parseElf32(config.kernel, 'kernel');
    else parseBzImage(config.kernel);
    if (config.vmlinux !== undefined) parseElf32(config.vmlinux, 'vmlinux');
  }
  if (config.jitThreshold !== undefined && !(Number.isInteger(config.jitThreshold) && config.jitThreshold >= 1 && config.jitThreshold <= JIT_THRESHOLD_MAX)) {
    throw new RangeError(`JIT threshold ${config.jitThreshold} is not a whole number of runs from 1 to ${JIT_THRESHOLD_MAX}`);
  }
}
