// What the VM worker needs from the Machine (src/machine/machine.ts), written down as a type so
// the worker compiles against the contract rather than against one implementation. The real
// class satisfies it structurally; a test can hand the worker anything else that does.
import type { ExitReason, MachineStatus, VmConfig } from '../machine/types.js';

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
  status(): MachineStatus;
}

export interface MachineClass {
  create(config: MachineConfig, host: MachineHost): Promise<MachineInstance>;
}
