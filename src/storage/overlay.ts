// Copy-on-write: the guest's writes land in an overlay of 4 KiB blocks, reads take the overlay
// where it has the block and the base image elsewhere, and the base is never written. The
// overlay's blocks can be taken out and put back whole (snapshots: src/snapshot/disks.ts), and
// each block the guest changes can be handed to a store that keeps them (the page's IndexedDB:
// persist.ts); a FLUSH then completes only once the store holds every earlier write.

import { type BlockBackend, BlockError, SECTOR, checkRequest } from './block.js';

/** Overlay granularity: a guest write of part of a block first copies the rest from the base. */
export const OVERLAY_BLOCK = 4096;
const BLOCK = OVERLAY_BLOCK;

/** Where an overlay's changed blocks are kept beyond the VM's life (persist.ts). */
export interface OverlayStore {
  /** The failure that stopped the store (quota, a closed database ...), or null: writes are refused after one. */
  readonly failure: Error | null;
  /** Keep `block` (4 KiB, the store may keep this array: the overlay gives a copy) as block `index`. */
  put(index: number, block: Uint8Array): void;
  /** Resolves once every put before this call is durable; rejects with the store's failure. */
  flush(): Promise<void>;
  /** Replace everything the store holds by `blocks` (a snapshot was loaded into the overlay). */
  replaceAll(blocks: ReadonlyMap<number, Uint8Array>): Promise<void>;
}

export class OverlayBackend implements BlockBackend {
  readonly readOnly = false;
  readonly size: number;
  private readonly blocks = new Map<number, Uint8Array>();
  /** Guest writes being applied, so a read or flush waits for the copy-ups before it. */
  private pending: Promise<void> = Promise.resolve();
  /** Writes not yet applied to `blocks`. */
  private applying = 0;
  private store: OverlayStore | null = null;

  constructor(readonly base: BlockBackend) {
    if (base.size % SECTOR !== 0) throw new BlockError('the base image is not whole sectors');
    this.size = base.size;
  }

  get source(): string | undefined { return this.base.source; }

  /** Blocks the overlay holds (4 KiB each). */
  get blocksWritten(): number { return this.blocks.size; }

  /** Blocks a disk of `size` bytes has (the last one may be short). */
  static blockCount(size: number): number { return Math.ceil(size / BLOCK); }

  /**
   * Keep every block the guest changes from now on in `store` too; `initial` (what the store
   * held) is the overlay's contents to start with. Before the machine runs.
   */
  attachStore(store: OverlayStore, initial: ReadonlyMap<number, Uint8Array>): void {
    this.loadBlocks(initial);
    this.store = store;
  }

  /** A copy of every block the overlay holds, by block number. Only between writes (applying none). */
  saveBlocks(): Map<number, Uint8Array> {
    if (this.applying > 0) throw new BlockError('the overlay is still applying writes');
    return new Map([...this.blocks].map(([i, b]) => [i, b.slice()]));
  }

  /**
   * Make `blocks` the overlay's whole contents (a snapshot's). Each must be a 4 KiB block inside
   * the disk; only between writes. A store attached gets the same contents, in the background
   * (its failure shows at the next write or flush).
   */
  loadBlocks(blocks: ReadonlyMap<number, Uint8Array>): void {
    if (this.applying > 0) throw new BlockError('the overlay is still applying writes');
    const count = OverlayBackend.blockCount(this.size);
    for (const [i, b] of blocks) {
      if (!Number.isInteger(i) || i < 0 || i >= count || b.length !== BLOCK) throw new BlockError(`overlay block ${i} is not a 4 KiB block of this ${this.size}-byte disk`);
    }
    this.blocks.clear();
    for (const [i, b] of blocks) this.blocks.set(i, b.slice());
    if (this.store !== null) {
      // The store orders this before any later put; a failure is its `failure` from then on.
      this.store.replaceAll(new Map([...this.blocks].map(([i, b]) => [i, b.slice()]))).catch(() => {});
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRequest(this.size, offset, length);
    await this.pending;
    const out = new Uint8Array(length);
    let at = offset;
    while (at < offset + length) {
      const index = Math.floor(at / BLOCK);
      const end = Math.min(offset + length, (index + 1) * BLOCK);
      const block = this.blocks.get(index);
      if (block) {
        out.set(block.subarray(at - index * BLOCK, end - index * BLOCK), at - offset);
      } else {
        // A run of blocks the overlay lacks: one read of the base.
        let runEnd = end;
        while (runEnd < offset + length && !this.blocks.has(Math.floor(runEnd / BLOCK))) runEnd = Math.min(offset + length, runEnd + BLOCK);
        out.set(await this.base.read(at, runEnd - at), at - offset);
        at = runEnd;
        continue;
      }
      at = end;
    }
    return out;
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    checkRequest(this.size, offset, data.length);
    // A store that failed takes nothing more: the guest sees a write error, not silent loss.
    const failure = this.store?.failure;
    if (failure) return Promise.reject(new BlockError(`the disk's store failed: ${failure.message}`));
    const copy = data.slice();
    this.applying++;
    const done = this.pending.then(() => this.apply(offset, copy)).finally(() => { this.applying--; });
    this.pending = done.catch(() => {});
    return done;
  }

  private async apply(offset: number, data: Uint8Array): Promise<void> {
    let at = offset;
    while (at < offset + data.length) {
      const index = Math.floor(at / BLOCK);
      const blockStart = index * BLOCK;
      const end = Math.min(offset + data.length, blockStart + BLOCK);
      let block = this.blocks.get(index);
      if (!block) {
        // Copy up the rest of the block from the base (the disk's last block may be short).
        const len = Math.min(BLOCK, this.size - blockStart);
        block = new Uint8Array(BLOCK);
        if (at > blockStart || end < blockStart + len) block.set(await this.base.read(blockStart, len));
        this.blocks.set(index, block);
      }
      block.set(data.subarray(at - offset, end - offset), at - blockStart);
      // Each block whole, as one put: a tab closed mid-write leaves it old or new, never torn.
      this.store?.put(index, block.slice());
      at = end;
    }
  }

  async flush(): Promise<void> {
    await this.pending;
    if (this.store !== null) {
      try {
        await this.store.flush();
      } catch (e) {
        throw new BlockError(`the disk's store failed: ${(e as Error)?.message ?? e}`);
      }
    }
  }
}
