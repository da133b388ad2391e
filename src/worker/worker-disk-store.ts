// The page's disk kept across reloads: the worker attaches an IndexedDB store (src/storage/
// persist.ts) to the disk's overlay, named by the image's identity: a URL's image by its URL,
// size and sampled fingerprint (src/storage/identity.ts), so a changed image on the server starts
// a new store instead of meeting blocks written on the old one; a local file by its name and
// size (reading it all to hash it would double the memory it takes, and its contents cannot
// change under the page the way a server's can).
import type { BlockBackend } from '../storage/block.js';
import { HttpBackend } from '../storage/http.js';
import { imageIdentity } from '../storage/identity.js';
import { OverlayBackend } from '../storage/overlay.js';
import { IdbBlockStore } from '../storage/persist.js';
import { ImageError, type ImageSource } from './worker-images.js';

/** What the status bar shows of the disk's store. */
export interface DiskStoreStatus {
  /** The image, as the page names it. */
  name: string;
  /** 4 KiB blocks the store holds (committed). */
  blocks: number;
  /** Why the store stopped taking writes, in words; null while it works. */
  failure: string | null;
}

/** The store's name for the image `src` opened as `base`. */
export async function diskStoreKey(src: ImageSource, base: BlockBackend): Promise<string> {
  if ('bytes' in src) return `file:${src.name} ${base.size}`;
  const id = await imageIdentity(base);
  return `${src.url} ${id.size} ${id.fingerprint}`;
}

/** A store's failure as the page says it. */
function failureWords(e: Error): string {
  return `The disk's changes can no longer be kept in this browser: ${e.message}. The guest now sees write errors.`;
}

export class WorkerDiskStore {
  private constructor(private readonly store: IdbBlockStore, private readonly name: string) {}

  /**
   * Attach the store of `src`'s image to `overlay` (before the machine runs): what it holds is
   * the overlay's starting contents. `onFailure` hears the first failure, in words.
   */
  static async attach(src: ImageSource, overlay: OverlayBackend, onFailure: (message: string) => void): Promise<WorkerDiskStore> {
    const name = 'bytes' in src ? src.name : src.url;
    let opened;
    try {
      opened = await IdbBlockStore.open(await diskStoreKey(src, overlay.base), (e) => onFailure(failureWords(e)));
    } catch (e) {
      throw new ImageError(`The disk's saved changes could not be opened: ${(e as Error).message}. Add ?persist=0 to the address to run without keeping them.`);
    }
    overlay.attachStore(opened.store, opened.blocks);
    return new WorkerDiskStore(opened.store, name);
  }

  /** The same store on another overlay of the same image (a restored machine's). */
  attachTo(overlay: OverlayBackend): void {
    overlay.attachStore(this.store, new Map());
  }

  /** Wait until what the guest wrote is committed (or the store failed): nothing of it lands later. */
  async settle(): Promise<void> {
    await this.store.flush().catch(() => {});
  }

  status(): DiskStoreStatus {
    const failure = this.store.failure;
    return { name: this.name, blocks: this.store.blocksStored, failure: failure === null ? null : failureWords(failure) };
  }
}

/** Forget what the store of `src`'s image holds ("Reset disk to its image"); resolves with how many blocks it held. */
export async function resetDiskStore(src: ImageSource): Promise<number> {
  let base: BlockBackend;
  try {
    base = 'bytes' in src ? { size: src.bytes.length } as BlockBackend : await HttpBackend.open(src.url);
  } catch (e) {
    throw new ImageError(`The disk image could not be opened to reset it: ${(e as Error).message}.`);
  }
  return IdbBlockStore.reset(await diskStoreKey(src, base));
}
