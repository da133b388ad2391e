// The machine's front panel: power/pause/reset buttons and the settings a boot uses (what to
// boot: a kernel, or a disk through the BIOS; memory; kernel, initrd and disk from a URL or a
// local file; command line; clock mode). It only reads and
// shows choices; main.ts turns them into worker calls.
import type { ClockMode } from '../machine/types.js';

/** An image the user picked: a URL to download, or a local file (file picker or drag-and-drop). */
export type ImageChoice = { url: string } | { file: File };

/** Load a kernel directly, or start the PC from its BIOS, which boots the disk. */
export type BootMode = 'kernel' | 'disk';

export interface BootChoice {
  boot: BootMode;
  memoryMiB: number;
  kernel: ImageChoice | null;
  disk: ImageChoice | null;
  initrd: ImageChoice | null;
  cmdline: string;
  clock: ClockMode;
}

export interface ControlHandlers {
  onStart(choice: BootChoice): void;
  onPause(): void;
  onResume(): void;
  onReset(): void;
  onPowerOff(): void;
}

/** What the buttons should offer. */
export type PanelState = 'off' | 'busy' | 'running' | 'paused';

export const MEMORY_CHOICES_MIB = [32, 64, 128, 256, 512, 1024];

/** A dropped or picked file that looks like an initial RAM disk rather than a kernel. */
function looksLikeInitrd(name: string): boolean {
  return /initr|cpio|rootfs/i.test(name);
}

/** A dropped file that looks like a disk image: a raw image's usual names, whole sectors. */
function looksLikeDisk(f: File): boolean {
  return /\.(img|raw|hdd|bin)$/i.test(f.name) && f.size >= 1 << 20 && f.size % 512 === 0;
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
}

/** One image slot (kernel or initrd): a URL field, a file picker, and the chosen file's name. */
class ImageSlot {
  private file: File | null = null;
  private readonly url: HTMLInputElement;
  private readonly picker: HTMLInputElement;
  private readonly fileLabel: HTMLElement;
  private readonly clear: HTMLButtonElement;

  constructor(prefix: string) {
    this.url = byId(`${prefix}-url`);
    this.picker = byId(`${prefix}-file`);
    this.fileLabel = byId(`${prefix}-file-name`);
    this.clear = byId(`${prefix}-file-clear`);
    this.picker.addEventListener('change', () => {
      const f = this.picker.files?.[0];
      if (f) this.setFile(f);
    });
    this.clear.addEventListener('click', () => this.setFile(null));
    this.show();
  }

  setFile(file: File | null): void {
    this.file = file;
    if (!file) this.picker.value = '';
    this.show();
  }

  setUrl(url: string): void {
    this.url.value = url;
    this.setFile(null);
  }

  choice(): ImageChoice | null {
    if (this.file) return { file: this.file };
    const url = this.url.value.trim();
    return url ? { url } : null;
  }

  private show(): void {
    this.fileLabel.textContent = this.file ? `${this.file.name} (${Math.round(this.file.size / 1024)} KiB)` : '';
    this.clear.hidden = !this.file;
    this.url.disabled = !!this.file;
  }
}

export class Controls {
  private readonly kernel = new ImageSlot('kernel');
  private readonly initrd = new ImageSlot('initrd');
  private readonly disk = new ImageSlot('disk');
  private readonly boot = byId<HTMLSelectElement>('boot');
  private readonly cmdline = byId<HTMLInputElement>('cmdline');
  private readonly memory = byId<HTMLSelectElement>('memory');
  private readonly clock = byId<HTMLSelectElement>('clock');
  private readonly start = byId<HTMLButtonElement>('btn-start');
  private readonly pause = byId<HTMLButtonElement>('btn-pause');
  private readonly reset = byId<HTMLButtonElement>('btn-reset');
  private readonly power = byId<HTMLButtonElement>('btn-power');
  private readonly settingsToggle = byId<HTMLButtonElement>('btn-settings');
  private readonly settings = byId<HTMLElement>('settings');
  private state: PanelState = 'off';

  constructor(private readonly handlers: ControlHandlers) {
    for (const mib of MEMORY_CHOICES_MIB) {
      const opt = document.createElement('option');
      opt.value = String(mib);
      opt.textContent = mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`;
      this.memory.append(opt);
    }
    this.memory.value = '128';
    this.start.addEventListener('click', () => this.handlers.onStart(this.choice()));
    this.pause.addEventListener('click', () => (this.state === 'paused' ? this.handlers.onResume() : this.handlers.onPause()));
    this.reset.addEventListener('click', () => this.handlers.onReset());
    this.power.addEventListener('click', () => this.handlers.onPowerOff());
    this.settingsToggle.addEventListener('click', () => this.toggleSettings());
    this.installDropZone();
    this.setState('off');
  }

  /** Fill the settings (from the URL query or the default guest's manifest). */
  setValues(v: { boot?: BootMode; kernelUrl?: string; initrdUrl?: string; diskUrl?: string; cmdline?: string; memoryMiB?: number; clock?: ClockMode }): void {
    if (v.boot !== undefined) this.boot.value = v.boot;
    if (v.diskUrl !== undefined) this.disk.setUrl(v.diskUrl);
    if (v.kernelUrl !== undefined) this.kernel.setUrl(v.kernelUrl);
    if (v.initrdUrl !== undefined) this.initrd.setUrl(v.initrdUrl);
    if (v.cmdline !== undefined) this.cmdline.value = v.cmdline;
    if (v.memoryMiB !== undefined) {
      const value = String(v.memoryMiB);
      if (![...this.memory.options].some((o) => o.value === value)) {
        const opt = document.createElement('option');
        opt.value = value;
        opt.textContent = `${value} MiB`;
        this.memory.append(opt);
      }
      this.memory.value = value;
    }
    if (v.clock !== undefined) this.clock.value = v.clock;
  }

  choice(): BootChoice {
    return {
      boot: this.boot.value === 'disk' ? 'disk' : 'kernel',
      memoryMiB: Number(this.memory.value),
      kernel: this.kernel.choice(),
      disk: this.disk.choice(),
      initrd: this.initrd.choice(),
      cmdline: this.cmdline.value,
      clock: this.clock.value === 'deterministic' ? 'deterministic' : 'realtime',
    };
  }

  setState(state: PanelState): void {
    this.state = state;
    this.start.disabled = state === 'busy';
    this.start.textContent = state === 'off' || state === 'busy' ? 'Start' : 'Restart';
    this.pause.disabled = state !== 'running' && state !== 'paused';
    this.pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
    this.reset.disabled = state !== 'running' && state !== 'paused';
    this.power.disabled = state === 'off';
  }

  showSettings(show: boolean): void {
    this.settings.hidden = !show;
    this.settingsToggle.setAttribute('aria-expanded', String(show));
  }

  private toggleSettings(): void {
    this.showSettings(this.settings.hidden);
  }

  /** Dropping files anywhere on the page puts them in the kernel or initrd slot. */
  private installDropZone(): void {
    const body = document.body;
    body.addEventListener('dragover', (ev) => {
      if (!ev.dataTransfer?.types.includes('Files')) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'copy';
      body.classList.add('dragging');
    });
    body.addEventListener('dragleave', (ev) => {
      if (ev.relatedTarget === null) body.classList.remove('dragging');
    });
    body.addEventListener('drop', (ev) => {
      body.classList.remove('dragging');
      const files = [...(ev.dataTransfer?.files ?? [])];
      if (files.length === 0) return;
      ev.preventDefault();
      for (const f of files) {
        if (looksLikeInitrd(f.name)) this.initrd.setFile(f);
        else if (looksLikeDisk(f)) { this.disk.setFile(f); this.boot.value = 'disk'; }
        else this.kernel.setFile(f);
      }
      this.showSettings(true);
    });
  }
}
