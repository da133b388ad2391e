// What the Machine reports to the host as it runs: the bytes COM1, the virtio console and the
// debug console port print during a run slice, handed over together when it ends (one host
// call per stream per slice, not per byte), and the guest's instructions per second.

import type { MachineHost } from './machine-options.js';

export class GuestOutput {
  private serial: number[] = [];
  private console: number[] = [];
  private debug: number[] = [];

  constructor(private readonly host: MachineHost) {}

  /** A byte from COM1. */
  serialByte(byte: number): void { this.serial.push(byte); }
  /** A byte from the debug console port (0x402). */
  debugByte(byte: number): void { this.debug.push(byte); }
  /** Bytes from the virtio console (hvc0). */
  consoleBytes(bytes: Iterable<number>): void { for (const b of bytes) this.console.push(b); }

  /** Hand the host what was printed since the last time. */
  flush(): void {
    if (this.serial.length > 0) this.host.onSerial(GuestOutput.take(this.serial));
    if (this.debug.length > 0) this.host.onDebugConsole?.(GuestOutput.take(this.debug));
    if (this.console.length > 0) this.host.onConsole?.(GuestOutput.take(this.console));
  }

  private static take(queue: number[]): Uint8Array {
    const bytes = Uint8Array.from(queue);
    queue.length = 0;
    return bytes;
  }
}

/** Instructions per second over windows of at least a second of host time. */
export class InstructionRate {
  private windowStart = 0;
  private windowInstructions = 0;
  private last = 0;

  /** Start a window now, at `instructions` retired (a run starts). */
  start(instructions: number): void {
    this.windowStart = performance.now();
    this.windowInstructions = instructions;
  }

  /** The rate of the last whole window, given the instructions retired so far. */
  measure(instructions: number): number {
    const now = performance.now();
    const dt = now - this.windowStart;
    if (dt >= 1000) {
      this.last = ((instructions - this.windowInstructions) * 1000) / dt;
      this.windowStart = now;
      this.windowInstructions = instructions;
    }
    return this.last;
  }
}
