// The memory balloon from the page (virtio-balloon, src/devices/virtio/virtio-balloon.ts): a
// target in MiB that the guest's driver is asked to give back to the host, and in the status bar
// what it gave and the memory statistics the driver reports (virtio 1.1 §5.5.6.3).
import type { VmStatus } from '../worker/vm-worker.js';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
}

const mib = (bytes: number) => `${Math.round(bytes / 1048576)} MiB`;

export class BalloonPanel {
  private readonly box = byId<HTMLElement>('balloon-box');
  private readonly input = byId<HTMLInputElement>('balloon-mib');
  private readonly status = byId<HTMLElement>('status-balloon');

  constructor(setTarget: (mib: number) => Promise<void>, onError: (message: string) => void) {
    const apply = () => {
      const value = Number(this.input.value);
      if (this.input.value.trim() === '' || !Number.isInteger(value) || value < 0) {
        return onError(`The balloon takes a whole number of MiB, 0 or more (got "${this.input.value}").`);
      }
      setTarget(value).catch((e) => onError((e as Error).message));
    };
    byId<HTMLButtonElement>('btn-balloon').addEventListener('click', apply);
    this.input.addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
  }

  /** Offer the control while a machine runs, and show the balloon as the status reports it. */
  show(s: VmStatus): void {
    const b = s.balloon;
    this.box.hidden = b === undefined;
    if (b === undefined) {
      this.status.textContent = '';
      return;
    }
    const free = b.stats.free_memory, total = b.stats.total_memory;
    this.status.textContent = b.targetMiB === 0 && b.actualMiB === 0 ? ''
      : `balloon: ${b.actualMiB} of ${b.targetMiB} MiB given back` + (free !== undefined && total !== undefined ? ` · guest free ${mib(free)} of ${mib(total)}` : '');
    this.status.title = Object.entries(b.stats).map(([k, v]) => `${k.replace(/_/g, ' ')}: ${v}`).join('\n');
  }
}
