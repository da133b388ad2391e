// Copy-on-write: the guest's writes land in an overlay of 4 KiB blocks, reads take the overlay
// where it has the block and the base image elsewhere, and the base is never written. The
// overlay lives as long as the VM (persisting it is the snapshot issue's work).

import { type BlockBackend, BlockError, SECTOR, checkRequest } from './block.js';

/** Overlay granularity: a guest write of part of a block first copies the rest from the base. */
const BLOCK = 4096;

export class OverlayBackend implements BlockBackend {
  readonly readOnly = false;
  readonly size: number;
  private readonly blocks = new Map<number, Uint8Array>();
  /** Guest writes being applied, so a read or flush waits for the copy-ups before it. */
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly base: BlockBackend) {
    if (base.size % SECTOR !== 0) throw new BlockError('the base image is not whole sectors');
    this.size = base.size;
  }

  /** Blocks the overlay holds (4 KiB each). */
  get blocksWritten(): number { return this.blocks.size; }

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
    const copy = data.slice();
    const done = this.pending.then(() => this.apply(offset, copy));
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
      at = end;
    }
  }

  async flush(): Promise<void> { await this.pending; }
}
