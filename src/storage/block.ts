// A disk's bytes, wherever they live: the contract between the disk controllers (AHCI, later
// virtio-blk) and the backends of this folder. Requests are asynchronous, so a slow backend (the
// network) never blocks the worker; the controller completes the guest's command when the
// promise settles.

/** The unit of every request: a sector of 512 bytes. */
export const SECTOR = 512;

export interface BlockBackend {
  /** Size in bytes: a whole number of sectors. */
  readonly size: number;
  /** Writes are refused (a CD-ROM, or a base image without an overlay). */
  readonly readOnly: boolean;
  /** Where the bytes come from (a file's path, a URL, a local file's name), for messages and snapshots. */
  readonly source?: string;
  /** Read `length` bytes at `offset`; both whole sectors, inside the disk. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Write whole sectors at `offset`, inside the disk. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Every write that completed before this call is as durable as the backend makes it. */
  flush(): Promise<void>;
}

/** A disk that cannot be used, or a request it refuses: the message is one line, in words. */
export class BlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlockError';
  }
}

/** Refuse a request that is not whole sectors inside a disk of `size` bytes. */
export function checkRequest(size: number, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0
    || offset % SECTOR !== 0 || length % SECTOR !== 0 || offset + length > size) {
    throw new BlockError(`request of ${length} bytes at ${offset} is not whole sectors inside the ${size}-byte disk`);
  }
}

/** Refuse an image whose size is not a whole number of sectors. */
export function checkImageSize(name: string, size: number): void {
  if (!Number.isInteger(size) || size <= 0 || size % SECTOR !== 0) {
    throw new BlockError(`${name}: ${size} bytes is not a whole number of 512-byte sectors`);
  }
}

/** A whole image in memory (a buffer the page was given, or a test's). */
export class MemoryBackend implements BlockBackend {
  readonly size: number;
  readonly source: string;
  constructor(private readonly bytes: Uint8Array, readonly readOnly = false, name = 'disk image') {
    checkImageSize(name, bytes.length);
    this.size = bytes.length;
    this.source = name;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRequest(this.size, offset, length);
    return this.bytes.slice(offset, offset + length);
  }
  async write(offset: number, data: Uint8Array): Promise<void> {
    if (this.readOnly) throw new BlockError('the disk is read-only');
    checkRequest(this.size, offset, data.length);
    this.bytes.set(data, offset);
  }
  async flush(): Promise<void> {}
}
