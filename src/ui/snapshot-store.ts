// The page's saved snapshots, kept in IndexedDB (idb-keyval) so they outlive a reload or a
// closed tab. Each snapshot is two records in one store: a small description (listed without
// reading any file) and the file itself, written together in one transaction, so a full quota
// leaves neither half behind.
import { createStore, delMany, get, getMany, keys, setMany, type UseStore } from 'idb-keyval';

export interface SavedSnapshot {
  id: string;
  /** What the list shows: the date and time it was saved. */
  name: string;
  savedAt: number;
  bytes: number;
}

/** Saving failed for a reason the user can act on; the message says what to do. */
export class SnapshotStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotStoreError';
  }
}

type Key = ['about' | 'file', string];

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** A date as the list and the file name show it: 2026-12-04 17:30:12 (local time). */
export function snapshotName(at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())} ${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())}`;
}

export class SnapshotStore {
  private readonly store: UseStore = createStore('webx86-snapshots', 'snapshots');

  /** Every saved snapshot, newest first. */
  async list(): Promise<SavedSnapshot[]> {
    const ids = (await keys<Key>(this.store)).filter((k) => Array.isArray(k) && k[0] === 'about');
    const about = await getMany<SavedSnapshot>(ids, this.store);
    return about.filter((a): a is SavedSnapshot => a !== undefined).sort((a, b) => b.savedAt - a.savedAt);
  }

  /** Keep `file`; a full quota or storage the browser withholds is a SnapshotStoreError in words. */
  async put(file: Uint8Array, at = new Date()): Promise<SavedSnapshot> {
    const about: SavedSnapshot = { id: `${at.getTime()}-${Math.random().toString(36).slice(2, 8)}`, name: snapshotName(at), savedAt: at.getTime(), bytes: file.length };
    try {
      await setMany([[['about', about.id], about], [['file', about.id], file]], this.store);
    } catch (e) {
      throw new SnapshotStoreError(await whyNotKept(e, file.length));
    }
    return about;
  }

  async file(id: string): Promise<Uint8Array> {
    const file = await get<Uint8Array>(['file', id], this.store);
    if (!(file instanceof Uint8Array)) throw new SnapshotStoreError('That snapshot is no longer in the browser\'s storage (it was deleted, perhaps in another tab).');
    return file;
  }

  async remove(id: string): Promise<void> {
    await delMany([['about', id], ['file', id]], this.store);
  }
}

/** Why IndexedDB refused a snapshot, in words, with how full the site's storage is when the browser says. */
async function whyNotKept(e: unknown, bytes: number): Promise<string> {
  const name = (e as DOMException)?.name;
  if (name === 'QuotaExceededError') {
    let usage = '';
    try {
      const est = await navigator.storage?.estimate?.();
      if (est?.usage !== undefined && est.quota !== undefined) usage = ` (this site uses ${mib(est.usage)} of the ${mib(est.quota)} the browser allows it)`;
    } catch { /* the estimate only adds detail */ }
    return `The browser's storage for this page is full${usage}: the snapshot (${mib(bytes)}) was not kept. `
      + 'Delete older snapshots under Restore, or Download this one as a file.';
  }
  return `The snapshot (${mib(bytes)}) could not be kept in the browser's storage: ${(e as Error)?.message || String(e)}. Download it as a file instead.`;
}
