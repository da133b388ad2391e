// Snapshots from the page: Save keeps the running machine in the browser (snapshot-store.ts)
// under its date and offers it as a .wx86snap file; Restore… opens the list of saved ones, each
// of which can be restored, downloaded or deleted, and takes an uploaded file too. The worker
// does the saving and restoring (src/worker/worker-snapshot.ts); this only moves files and shows
// what happened. A failure is one line in the page's error box, and the VM runs on.
import { SnapshotStore, SnapshotStoreError, snapshotName, type SavedSnapshot } from './snapshot-store.js';

export interface SnapshotActions {
  /** The running machine as a snapshot file. */
  save(): Promise<Uint8Array>;
  /** Replace the machine by the one in `file` (which may be handed to the worker, so not kept). */
  restore(file: Uint8Array, name: string): Promise<void>;
  onError(message: string): void;
}

/** Snapshots saved in this page's life that the browser's storage refused: still downloadable. */
interface HeldSnapshot extends SavedSnapshot { file: Uint8Array }

const FILE_EXTENSION = '.wx86snap';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export class SnapshotPanel {
  private readonly store = new SnapshotStore();
  private readonly held = new Map<string, HeldSnapshot>();
  /** What the list shows, by id: the stored ones and the held ones. */
  private entries = new Map<string, SavedSnapshot>();
  private readonly panel = byId<HTMLElement>('snapshots');
  private readonly toggle = byId<HTMLButtonElement>('btn-snapshots');
  private readonly saveButton = byId<HTMLButtonElement>('btn-save');
  private readonly list = byId<HTMLSelectElement>('snapshot-list');
  private readonly restoreButton = byId<HTMLButtonElement>('btn-restore');
  private readonly downloadButton = byId<HTMLButtonElement>('btn-download');
  private readonly deleteButton = byId<HTMLButtonElement>('btn-delete');
  private readonly upload = byId<HTMLInputElement>('snapshot-file');
  private readonly note = byId<HTMLElement>('snapshot-note');
  private running = false;
  private working = false;

  constructor(private readonly actions: SnapshotActions) {
    this.saveButton.addEventListener('click', () => void this.save());
    this.toggle.addEventListener('click', () => this.show(this.panel.hidden));
    this.list.addEventListener('change', () => this.enable());
    this.restoreButton.addEventListener('click', () => void this.restoreSelected());
    this.downloadButton.addEventListener('click', () => void this.downloadSelected());
    this.deleteButton.addEventListener('click', () => void this.deleteSelected());
    this.upload.addEventListener('change', () => {
      const f = this.upload.files?.[0];
      this.upload.value = ''; // the same file may be chosen again
      if (f) void this.restoreUpload(f);
    });
    void this.refresh();
    this.enable();
  }

  /** Whether a machine runs (Save needs one). */
  setRunning(running: boolean): void {
    this.running = running;
    this.enable();
  }

  show(open: boolean): void {
    this.panel.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    if (open) void this.refresh();
  }

  private async save(): Promise<void> {
    await this.work(async () => {
      const started = performance.now();
      this.note.textContent = 'Saving…';
      const file = await this.actions.save();
      const savedMs = performance.now() - started;
      let entry: SavedSnapshot;
      let kept = true;
      try {
        entry = await this.store.put(file);
      } catch (e) {
        // Not kept, but not lost: it stays downloadable for as long as the page is open.
        const at = new Date();
        entry = { id: `held-${at.getTime()}`, name: snapshotName(at), savedAt: at.getTime(), bytes: file.length };
        this.held.set(entry.id, { ...entry, file });
        kept = false;
        this.actions.onError(e instanceof SnapshotStoreError ? e.message : String((e as Error)?.message ?? e));
      }
      await this.refresh(entry.id);
      this.show(true);
      this.note.textContent = `Saved ${entry.name} (${mib(file.length)}) in ${seconds(savedMs)}${kept ? '' : ', not kept in this browser'}: Download keeps it as a file.`;
    });
  }

  private async restoreSelected(): Promise<void> {
    const entry = this.selected();
    if (!entry) return;
    await this.work(async () => {
      const held = this.held.get(entry.id);
      // A held file is handed over as a copy: the worker takes what it is given.
      const file = held ? held.file.slice() : await this.store.file(entry.id);
      await this.restore(file, entry.name);
    });
  }

  private async restoreUpload(f: File): Promise<void> {
    await this.work(async () => this.restore(new Uint8Array(await f.arrayBuffer()), f.name));
  }

  private async restore(file: Uint8Array, name: string): Promise<void> {
    const started = performance.now();
    this.note.textContent = `Restoring ${name}…`;
    await this.actions.restore(file, name);
    this.note.textContent = `Restored ${name} in ${seconds(performance.now() - started)}.`;
  }

  private async downloadSelected(): Promise<void> {
    const entry = this.selected();
    if (!entry) return;
    await this.work(async () => {
      const file = this.held.get(entry.id)?.file ?? await this.store.file(entry.id);
      const url = URL.createObjectURL(new Blob([file as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `webx86-${entry.name.replace(/[: ]/g, '-')}${FILE_EXTENSION}`;
      document.body.append(a);
      a.click();
      a.remove();
      // The download has its own copy once it started; a minute is ample for that.
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    });
  }

  private async deleteSelected(): Promise<void> {
    const entry = this.selected();
    if (!entry) return;
    await this.work(async () => {
      if (!this.held.delete(entry.id)) await this.store.remove(entry.id);
      this.note.textContent = `Deleted ${entry.name}.`;
      await this.refresh();
    });
  }

  /** One thing at a time; a failure is shown in the error box, not thrown. */
  private async work(task: () => Promise<void>): Promise<void> {
    if (this.working) return;
    this.working = true;
    this.enable();
    try {
      await task();
    } catch (e) {
      this.note.textContent = '';
      this.actions.onError(String((e as Error)?.message ?? e).split('\n')[0]!);
    } finally {
      this.working = false;
      this.enable();
    }
  }

  private selected(): SavedSnapshot | undefined {
    return this.entries.get(this.list.value);
  }

  /** Fill the list from the store and the held ones, keeping (or moving to) a selection. */
  private async refresh(select?: string): Promise<void> {
    let stored: SavedSnapshot[] = [];
    try {
      stored = await this.store.list();
    } catch (e) {
      this.note.textContent = `The browser's storage cannot be read: ${(e as Error)?.message ?? e}`;
    }
    const all = [...this.held.values(), ...stored].sort((a, b) => b.savedAt - a.savedAt);
    const keep = select ?? this.list.value;
    this.entries = new Map(all.map((e) => [e.id, e]));
    this.list.replaceChildren(...all.map((e) => {
      const o = document.createElement('option');
      o.value = e.id;
      o.textContent = `${e.name} · ${mib(e.bytes)}${this.held.has(e.id) ? ' (not kept)' : ''}`;
      return o;
    }));
    this.list.value = this.entries.has(keep) ? keep : all[0]?.id ?? '';
    this.enable();
  }

  private enable(): void {
    const some = this.selected() !== undefined;
    this.saveButton.disabled = this.working || !this.running;
    this.restoreButton.disabled = this.working || !some;
    this.downloadButton.disabled = this.working || !some;
    this.deleteButton.disabled = this.working || !some;
    this.upload.disabled = this.working;
  }
}
