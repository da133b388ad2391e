// The worker's side of the page's screen (screen-buffer.ts): at the display's refresh rate it
// looks whether the picture changed, and publishes it: a VGA picture rendered here, or for a VBE
// picture only where it lies in video memory, which the page reads itself from the core's
// shared memory (displayMemory()).
import type { MachineInstance } from './machine-api.js';
import { ScreenBuffer, ScreenPublisher, MAX_HEIGHT, MAX_WIDTH } from './screen-buffer.js';

/** How often the worker looks whether the screen changed: the page's refresh rate. */
const SCREEN_INTERVAL_MS = 16;

/** Where the video memory is in the core's shared memory. */
export interface DisplayMemory { buffer: SharedArrayBuffer; offset: number; length: number }

/** The machine's video memory as the page can view it, or null when it is not in shared memory. */
export function displayMemory(machine: MachineInstance | null): DisplayMemory | null {
  const vram = machine?.display.vram;
  if (!vram || !(vram.buffer instanceof SharedArrayBuffer)) return null;
  return { buffer: vram.buffer, offset: vram.byteOffset, length: vram.length };
}

export class WorkerScreen {
  private readonly publisher: ScreenPublisher;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly frame = new Uint8ClampedArray(MAX_WIDTH * MAX_HEIGHT * 4);

  constructor(buffer: SharedArrayBuffer) {
    this.publisher = new ScreenPublisher(new ScreenBuffer(buffer));
  }

  /** Publish `machine`'s display whenever it changes, until stop() or the next start(). */
  start(machine: MachineInstance): void {
    this.stop();
    const direct = displayMemory(machine) !== null;
    let seen = -1;
    const draw = () => {
      if (machine.display.changes === seen) return;
      seen = machine.display.changes;
      const scanout = direct ? machine.display.directScanout?.() ?? null : null;
      if (scanout !== null) return this.publisher.publishScanout(scanout.scanout, scanout.palette);
      const size = machine.display.render(this.frame, MAX_WIDTH, MAX_HEIGHT);
      this.publisher.publish(this.frame, size?.width ?? 0, size?.height ?? 0);
    };
    draw();
    this.timer = setInterval(draw, SCREEN_INTERVAL_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
