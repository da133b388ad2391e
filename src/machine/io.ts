// The contract between devices and the Machine.
//
// A device sees offsets inside its own register window, never absolute port numbers or
// physical addresses: the Machine's wiring table (machine.ts) is the only place that knows
// where each device lives. Interrupts are lines a device is handed; it never imports the
// interrupt controller or the CPU.

/** Access width in bytes. */
export type IoSize = 1 | 2 | 4;

/** A device's register window on the port-I/O bus or in the MMIO map. */
export interface IoDevice {
  /** Short name for the inspector and error messages, e.g. "i8254". */
  readonly name: string;
  /** Read `size` bytes at `offset` inside the window. Returns an unsigned value. */
  read(offset: number, size: IoSize): number;
  /** Write `size` bytes at `offset` inside the window. `value` is unsigned, already masked to `size`. */
  write(offset: number, size: IoSize, value: number): void;
}

/**
 * An interrupt request line from a device to an interrupt controller input.
 * Edge-triggered consumers latch a low-to-high transition; level-triggered ones follow the level.
 */
export interface IrqLine {
  raise(): void;
  lower(): void;
  set(level: boolean): void;
  /** A rising edge followed by lowering: how ISA devices signal one event. */
  pulse(): void;
}

/** The machine's one virtual clock. Times are nanoseconds of guest time, as doubles. */
export interface Clock {
  /** Current guest time in nanoseconds. */
  now(): number;
  /** A one-shot timer; re-arm it from its own callback for periodic behaviour. */
  createTimer(name: string, callback: (now: number) => void): Timer;
}

export interface Timer {
  /** Fire once at guest time `deadline` (ns). Re-arming replaces the previous deadline. */
  arm(deadline: number): void;
  cancel(): void;
  readonly armed: boolean;
  readonly deadline: number;
}

/** Guest physical memory as devices see it for DMA: bounds-checked, and it tells the JIT what changed. */
export interface DmaView {
  readonly size: number;
  read(phys: number, length: number): Uint8Array;
  write(phys: number, data: Uint8Array): void;
}

/** A simple IrqLine implementation that forwards level changes to a callback. */
export class CallbackIrqLine implements IrqLine {
  private level = false;
  constructor(private readonly onChange: (level: boolean) => void) {}
  raise(): void { this.set(true); }
  lower(): void { this.set(false); }
  pulse(): void { this.set(true); this.set(false); }
  set(level: boolean): void {
    if (level === this.level) return;
    this.level = level;
    this.onChange(level);
  }
  get isHigh(): boolean { return this.level; }
  /** A snapshot's restore: take the level without telling the consumer, which restores its own state. */
  restoreLevel(level: boolean): void { this.level = level; }
}
