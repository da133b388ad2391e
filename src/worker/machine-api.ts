// What the VM worker needs from the Machine (src/machine/machine.ts), written down as a type so
// the worker compiles against the contract rather than against one implementation. The real
// class satisfies it structurally; a test can hand the worker anything else that does.
import type { ExitReason, MachineStatus, VmConfig } from '../machine/types.js';
import type { BlockBackend } from '../storage/block.js';
import type { NetLink } from '../net/link.js';
import type { VbeScanout } from '../devices/bochs-vbe-render.js';

/** Callbacks from the Machine to whoever hosts it (the worker here, the CLI in Node). */
export interface MachineHost {
  /** Bytes the guest wrote to COM1, in order; called from inside the run loop. */
  onSerial(bytes: Uint8Array): void;
  /** One line of machine diagnostics (device errors, resets). */
  onLog?(line: string): void;
}

/** VmConfig plus the optional inputs the worker can supply. */
export interface MachineConfig extends VmConfig {
  /** The same kernel as an uncompressed i386 ELF, next to a bzImage kernel: skips guest decompression. */
  vmlinux?: Uint8Array;
  /** core.wasm bytes, fetched by the worker from the URL the bundler gave it. */
  coreWasm?: Uint8Array | ArrayBuffer;
  /** Disks on the SATA ports. */
  disks?: BlockBackend[];
  /** Disks on virtio-blk devices. */
  virtioDisks?: BlockBackend[];
  /** A virtio-rng entropy device (default true). */
  rng?: boolean;
  /** A virtio-net card on this link, with this MAC (worker-net.ts builds both). */
  net?: NetLink;
  mac?: Uint8Array;
  /** Start from this BIOS (and VGA BIOS) instead of loading the kernel. */
  firmware?: { bios: Uint8Array; vgaBios?: Uint8Array; boot?: 'disk' | 'cdrom' };
}

/** The display as the worker draws it for the page (src/devices/vga.ts). */
export interface Display {
  /** Bumped whenever what the screen shows may have changed. */
  readonly changes: number;
  displaySize(): { width: number; height: number } | null;
  render(target: Uint8ClampedArray, maxWidth: number, maxHeight: number): { width: number; height: number } | null;
  /** The video memory, for a host that reads a VBE picture from it (see directScanout). */
  readonly vram?: Uint8Array;
  /** A VBE packed-pixel picture as it lies in `vram`, or null when render() draws the screen. */
  directScanout?(): { scanout: VbeScanout; palette: Uint32Array | null } | null;
  /** In a text mode, the characters on the screen. */
  textScreen(): { lines: string[]; cursor: { row: number; col: number } | null } | null;
}

export interface MachineInstance {
  /** Runs until poweroff/reset/stop, yielding to the event loop between slices. */
  run(): Promise<ExitReason>;
  pause(): void;
  resume(): void;
  stop(): void;
  reset(): void;
  /** COM1 input. */
  sendSerial(bytes: Uint8Array): void;
  /** A key (KeyboardEvent.code) down or up on the PS/2 keyboard; false for a key it lacks. */
  keyEvent(code: string, down: boolean): boolean;
  /** The PS/2 mouse: movement (y up), wheel, buttons held (bit 0 left, 1 right, 2 middle). */
  moveMouse(dx: number, dy: number, dz?: number, buttons?: number): void;
  /** What the screen shows: the VGA, or the VBE framebuffer in a VBE mode. */
  readonly display: Display;
  status(): MachineStatus;
  /** Ask the guest's balloon driver to give up `mib` MiB (0: take it all back); RangeError outside the RAM. */
  setBalloonTarget(mib: number): void;
  /** Ask the balloon driver for fresh memory statistics (they land in `balloon.stats`). */
  requestBalloonStats(): void;
  /** The memory balloon, in 4 KiB pages: what the host asked for, what the guest gave; the guest's statistics. */
  readonly balloon: { readonly target: number; readonly actual: number; readonly stats: Readonly<Record<string, number>> };
}

export interface MachineClass {
  create(config: MachineConfig, host: MachineHost): Promise<MachineInstance>;
}
