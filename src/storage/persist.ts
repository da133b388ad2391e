// A disk's copy-on-write overlay kept in the browser's IndexedDB (through idb-keyval), so the
// guest's writes outlive the tab: one database per base image, named by the image's identity
// (its URL or file name, size and fingerprint: identity.ts), holding each 4 KiB block the guest
// changed under its block number.
//
// Order and atomicity: the overlay hands over each changed block whole (overlay.ts); the blocks
// changed since the last commit go into one readwrite transaction, one put per block, and
// transactions follow one another in order. A guest FLUSH (AHCI FLUSH CACHE, virtio-blk FLUSH)
// completes only when the transaction holding every write before it has committed (its
// `complete` event), so after a closed tab each block is either its old or its new contents,
// never a mix, and everything the guest flushed is there. (IndexedDB's commit is the browser's:
// Chromium's default durability writes it to the OS, which a closed or crashed tab does not undo.)
//
// A failed transaction (a full quota's QuotaExceededError, a database the browser closed) stops
// the store: its failure is kept, every later write and flush of the overlay is refused (the
// guest sees a write error), and `onFailure` tells the page in words.
import { clear, createStore, entries, promisifyRequest, setMany, type UseStore } from 'idb-keyval';
import { OVERLAY_BLOCK, type OverlayStore } from './overlay.js';

const DB_PREFIX = 'webx86-disk ';
const STORE = 'blocks';

/** Words for an IndexedDB failure, with the quota's in plain terms. */
export function storageFailure(e: unknown): Error {
  const name = (e as { name?: string })?.name ?? '';
  const message = String((e as Error)?.message ?? e).split('\n')[0];
  if (name === 'QuotaExceededError') return new Error(`the browser's storage for this site is full (QuotaExceededError${message ? `: ${message}` : ''})`);
  return new Error(`IndexedDB failed (${name || 'error'}${message ? `: ${message}` : ''})`);
}

export class IdbBlockStore implements OverlayStore {
  failure: Error | null = null;
  /** Blocks changed since the last commit began, by number (the latest contents). */
  private dirty = new Map<number, Uint8Array>();
  /** The commits, one after another. */
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;
  /** Block numbers the database holds (committed). */
  private readonly held = new Set<number>();

  private constructor(private readonly store: UseStore, readonly key: string, private readonly onFailure: (e: Error) => void) {}

  /** The database's name for an image of this identity. */
  static databaseName(key: string): string {
    return DB_PREFIX + key;
  }

  /** Open (or create) the store of the image `key`; resolves with the blocks it holds. */
  static async open(key: string, onFailure: (e: Error) => void): Promise<{ store: IdbBlockStore; blocks: Map<number, Uint8Array> }> {
    const store = new IdbBlockStore(createStore(IdbBlockStore.databaseName(key), STORE), key, onFailure);
    let held: [IDBValidKey, unknown][];
    try {
      held = await entries(store.store);
    } catch (e) {
      throw storageFailure(e);
    }
    const blocks = new Map<number, Uint8Array>();
    for (const [k, v] of held) {
      // Only what this code writes is taken: a block number and 4 KiB.
      if (typeof k === 'number' && Number.isInteger(k) && k >= 0 && v instanceof Uint8Array && v.length === OVERLAY_BLOCK) {
        blocks.set(k, v);
        store.held.add(k);
      }
    }
    return { store, blocks };
  }

  /** Forget every block kept for the image `key` (the page's "Reset disk to its image"); resolves with how many there were. */
  static async reset(key: string): Promise<number> {
    const store = createStore(IdbBlockStore.databaseName(key), STORE);
    try {
      const n = (await entries(store)).length;
      await clear(store);
      return n;
    } catch (e) {
      throw storageFailure(e);
    }
  }

  /** Blocks the database holds, committed. */
  get blocksStored(): number {
    return this.held.size;
  }

  put(index: number, block: Uint8Array): void {
    this.dirty.set(index, block);
    if (!this.scheduled) {
      this.scheduled = true;
      // Writes that arrive together (a burst of guest commands) share a transaction.
      setTimeout(() => { this.scheduled = false; this.commit(); }, 0);
    }
  }

  flush(): Promise<void> {
    this.commit();
    return this.chain.then(() => { if (this.failure) throw this.failure; });
  }

  replaceAll(blocks: ReadonlyMap<number, Uint8Array>): Promise<void> {
    this.dirty.clear();
    const all = [...blocks];
    return this.enqueue(() => this.store('readwrite', (s) => {
      s.clear();
      for (const [i, b] of all) s.put(b, i);
      return promisifyRequest(s.transaction);
    }), () => { this.held.clear(); for (const [i] of all) this.held.add(i); });
  }

  /** Start a transaction with the blocks changed since the last one (after the ones before it). */
  private commit(): void {
    if (this.dirty.size === 0) return;
    const batch = [...this.dirty];
    this.dirty = new Map();
    void this.enqueue(() => setMany(batch, this.store), () => { for (const [i] of batch) this.held.add(i); }).catch(() => {});
  }

  private enqueue(work: () => Promise<unknown>, done: () => void): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.failure) throw this.failure;
      try {
        await work();
      } catch (e) {
        if (!this.failure) {
          this.failure = storageFailure(e);
          this.onFailure(this.failure);
        }
        throw this.failure;
      }
      done();
    });
    this.chain = next.catch(() => {});
    return next;
  }
}
