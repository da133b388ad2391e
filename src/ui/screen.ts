// The VGA screen in the page: a canvas that shows, once per animation frame, what the worker
// published in the shared screen buffer (src/worker/screen-buffer.ts): the rows it rendered that
// changed, or in a VBE mode the picture read here straight from the core's video memory;
// and the PS/2 keyboard and mouse, fed from this canvas's key and pointer events. The mouse is
// captured with pointer lock on a click (Esc releases it, as browsers do).
import { ScreenBuffer, SOURCE_VRAM, takeFrame } from '../worker/screen-buffer.js';
import { renderVbe } from '../devices/bochs-vbe-render.js';

export interface ScreenInput {
  key(code: string, down: boolean): void;
  mouse(dx: number, dy: number, dz: number, buttons: number): void;
}

/** Keys the page keeps for itself even while the screen has focus. */
const BROWSER_KEYS = new Set(['F5', 'F11', 'F12']);

export class ScreenView {
  readonly buffer = ScreenBuffer.create();
  private readonly ctx: CanvasRenderingContext2D;
  private image: ImageData | null = null;
  private readonly held = new Set<string>();
  private buttons = 0;
  /** Frames drawn, how many rows they drew, and how many were read from video memory (for the tests and the inspector). */
  readonly counters = { frames: 0, rows: 0, vramFrames: 0 };

  constructor(private readonly canvas: HTMLCanvasElement, private readonly box: HTMLElement, private readonly input: ScreenInput) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error('This browser cannot draw on a canvas.');
    this.ctx = ctx;
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, canvas.width, canvas.height);
    new ResizeObserver(() => this.fit()).observe(box);
    this.listen();
    const tick = () => { this.draw(); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  }

  show(visible: boolean): void {
    this.box.hidden = !visible;
    if (visible) this.fit();
  }

  focus(): void { this.canvas.focus(); }

  /** The picture as the page shows it: width, height and RGBA pixels (for tests). */
  pixels(): { width: number; height: number; data: Uint8ClampedArray } {
    const { width, height } = this.canvas;
    return { width, height, data: this.ctx.getImageData(0, 0, width, height).data };
  }

  /**
   * The video memory in the core's shared memory (vm-worker.ts displayMemory), so VBE pictures
   * are read where the guest wrote them; null until a machine runs.
   */
  useVideoMemory(memory: { buffer: SharedArrayBuffer; offset: number; length: number } | null): void {
    this.vram = memory ? new Uint8Array(memory.buffer, memory.offset, memory.length) : null;
  }
  private vram: Uint8Array | null = null;

  /** Draw what the worker published since the last frame: its changed rows, or a VBE picture from video memory. */
  private draw(): void {
    takeFrame(this.buffer, (f) => {
      if (f.width === 0 || f.height === 0 || (f.source === SOURCE_VRAM && this.vram === null)) {
        this.ctx.fillStyle = '#000';
        this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
        return;
      }
      let { width, height, top, bottom } = f;
      if (this.canvas.width !== width || this.canvas.height !== height || this.image === null) {
        this.canvas.width = width;
        this.canvas.height = height;
        this.image = new ImageData(width, height);
        top = 0;
        bottom = height;
        this.fit();
      }
      if (f.source === SOURCE_VRAM) {
        // The whole picture, converted straight from video memory (lines outside it stay black).
        const drawn = renderVbe(this.vram!, f.scanout, f.palette, this.image.data, width, height);
        if (drawn.height < height) this.image.data.fill(0, drawn.height * width * 4);
        this.counters.vramFrames++;
      } else {
        const rowBytes = width * 4;
        this.image.data.set(f.pixels.subarray(top * rowBytes, bottom * rowBytes), top * rowBytes);
      }
      this.ctx.putImageData(this.image, 0, 0, 0, top, width, bottom - top);
      this.counters.frames++;
      this.counters.rows += bottom - top;
    });
  }

  /** Scale the canvas to the box at a 4:3 monitor's aspect, as a VGA's picture fills one. */
  private fit(): void {
    const w = this.box.clientWidth, h = this.box.clientHeight;
    if (w === 0 || h === 0) return;
    const scale = Math.min(w / 4, h / 3);
    this.canvas.style.width = `${Math.floor(scale * 4)}px`;
    this.canvas.style.height = `${Math.floor(scale * 3)}px`;
  }

  private listen(): void {
    const c = this.canvas;
    c.addEventListener('keydown', (e) => {
      if (BROWSER_KEYS.has(e.code)) return;
      e.preventDefault();
      if (e.repeat && this.held.has(e.code)) return; // the keyboard repeats by itself (typematic)
      this.held.add(e.code);
      this.input.key(e.code, true);
    });
    c.addEventListener('keyup', (e) => {
      if (BROWSER_KEYS.has(e.code)) return;
      e.preventDefault();
      this.held.delete(e.code);
      this.input.key(e.code, false);
    });
    // Keys held when the canvas loses focus would stay down in the guest: let them go.
    c.addEventListener('blur', () => {
      for (const code of this.held) this.input.key(code, false);
      this.held.clear();
    });
    c.addEventListener('click', () => {
      c.focus();
      if (document.pointerLockElement !== c) void c.requestPointerLock?.();
    });
    const locked = () => document.pointerLockElement === c;
    c.addEventListener('mousemove', (e) => {
      if (locked() && (e.movementX !== 0 || e.movementY !== 0)) this.input.mouse(e.movementX, -e.movementY, 0, this.buttons);
    });
    const button = (e: MouseEvent, down: boolean) => {
      if (!locked()) return;
      // DOM buttons 0 left, 1 middle, 2 right; PS/2 bits 0 left, 1 right, 2 middle.
      const bit = e.button === 0 ? 1 : e.button === 2 ? 2 : e.button === 1 ? 4 : 0;
      this.buttons = down ? this.buttons | bit : this.buttons & ~bit;
      this.input.mouse(0, 0, 0, this.buttons);
    };
    c.addEventListener('mousedown', (e) => button(e, true));
    c.addEventListener('mouseup', (e) => button(e, false));
    c.addEventListener('contextmenu', (e) => e.preventDefault());
    c.addEventListener('wheel', (e) => {
      if (!locked()) return;
      e.preventDefault();
      this.input.mouse(0, 0, Math.sign(e.deltaY), this.buttons);
    }, { passive: false });
  }
}
