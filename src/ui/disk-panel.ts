// The disk kept in this browser (src/worker/worker-disk-store.ts): the status bar shows how many
// 4 KiB blocks of the guest's changes IndexedDB holds, or in words why it stopped keeping them
// (a full quota), and "Reset disk" powers the machine off and forgets the changes, so the next
// boot starts from the image.
import type { VmStatus } from '../worker/vm-worker.js';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
}

export interface DiskPanelHost {
  /** Power off and forget the kept changes of the chosen disk; resolves with how many blocks there were. */
  reset(): Promise<number>;
  onError(message: string): void;
  /** The disk was reset (the machine is off now). */
  onReset(blocks: number): void;
}

export class DiskPanel {
  private readonly button = byId<HTMLButtonElement>('btn-reset-disk');
  private readonly status = byId<HTMLElement>('status-disk-store');
  /** The failure already shown, so it is shown once. */
  private shownFailure: string | null = null;

  constructor(private readonly host: DiskPanelHost) {
    this.button.addEventListener('click', () => {
      this.button.disabled = true;
      host.reset().then((n) => host.onReset(n), (e) => host.onError(`The disk could not be reset: ${(e as Error)?.message ?? e}`))
        .finally(() => { this.button.disabled = false; });
    });
  }

  /** Offer the reset when a disk is chosen to boot (`hasDisk`); show the store as the status reports it. */
  show(s: VmStatus | null, hasDisk: boolean): void {
    this.button.hidden = !hasDisk;
    const store = s?.diskStore;
    if (!store) {
      this.status.textContent = '';
      this.status.className = '';
      return;
    }
    if (store.failure !== null) {
      this.status.textContent = 'disk changes: NOT kept';
      this.status.className = 'error';
      this.status.title = store.failure;
      if (this.shownFailure !== store.failure) {
        this.shownFailure = store.failure;
        this.host.onError(store.failure);
      }
      return;
    }
    this.status.className = '';
    this.status.textContent = `disk changes kept in this browser: ${store.blocks} blocks (${(store.blocks * 4096 / 1048576).toFixed(1)} MiB)`;
    this.status.title = `The guest's writes to ${store.name} are kept in IndexedDB and come back after a reload; "Reset disk" forgets them. ?persist=0 runs without keeping them.`;
  }
}
