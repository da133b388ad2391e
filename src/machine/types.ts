// What a user asks for when building a PC, and what the Machine reports back. Shared by the
// CLI (src/node), the worker (src/worker) and the page (src/ui); nothing here depends on the host.

export type ClockMode = 'realtime' | 'deterministic';

export interface VmConfig {
  /** Guest RAM in MiB. */
  memoryMiB: number;
  /** Linux kernel: a bzImage, or an uncompressed i386 vmlinux ELF (unused when the machine boots from firmware). */
  kernel?: Uint8Array;
  /** Optional: the same kernel decompressed ahead of time (an i386 vmlinux ELF), booted instead of the bzImage's payload. */
  vmlinux?: Uint8Array;
  /** Optional initial RAM disk. */
  initrd?: Uint8Array;
  /** Kernel command line. */
  cmdline: string;
  clock: ClockMode;
  /** When true, a guest reset (triple fault, 0xCF9, 8042 pulse) stops the machine instead of rebooting. */
  noReboot?: boolean;
  /** Translate hot 32-bit code to WebAssembly (default true); false runs the interpreter alone. */
  jit?: boolean;
  /** Runs of a block before the JIT translates it (default: the Machine's measured choice). */
  jitThreshold?: number;
  /**
   * Compile the translations asked for in a run slice together when the run loop yields (the
   * default), or at once, so a block runs translated from the run after it reached the
   * threshold (tests).
   */
  jitBatched?: boolean;
}

/** The JIT's counters since power-on (the core's translator, src/cpu/jit-host.ts). */
export interface JitCounters {
  /** Runs of a block before it is translated; 0 when the JIT is off. */
  threshold: number;
  translations: number;
  bytesEmitted: number;
  /** Time the run loop spent compiling and installing translations. */
  compileMs: number;
  /** Translations asked for and waiting for the run loop to yield, when they are compiled. */
  queued: number;
  failures: number;
  evictions: number;
  /** Translations called from the block loop (cache hits). */
  calls: number;
  /** Translations entered straight from another one (chaining, asm-core/jit/chain.ts). */
  chained: number;
  /** Returns into the frame of a translation that called another and waited (asm-core/jit/calls.ts). */
  returns: number;
  /** Guest instructions executed in translated code. */
  instructions: number;
  /** Bytes of guest code translated. */
  guestBytes: number;
  /** Bytes of the modules in the code cache now, and at most since power-on. */
  cacheBytes: number;
  cachePeakBytes: number;
  /**
   * WebAssembly modules compiled (a batched compile takes several translations as one
   * module, src/cpu/jit-batch.ts), and the bytes of those the function table still holds: a
   * module lives while any of its translations is in the table; now and at most.
   */
  modules: number;
  moduleBytesHeld: number;
  moduleBytesHeldPeak: number;
}

export type RunState = 'stopped' | 'running' | 'paused' | 'halted' | 'poweroff' | 'reset' | 'error';

export interface MachineStatus {
  state: RunState;
  /** Guest instructions retired since power-on. */
  instructions: number;
  /** Guest instructions per second over the last measuring window. */
  ips: number;
  /** Guest time in seconds. */
  guestSeconds: number;
  clock: ClockMode;
  /** The JIT's counters. */
  jit?: JitCounters;
  /** Set when state is 'error'. */
  error?: string;
}

/** Why Machine.run() returned. */
export type ExitReason = 'poweroff' | 'reset' | 'error' | 'stopped';
