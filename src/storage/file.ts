// A disk image in a file (Node). Opened read-only unless asked: the CLI puts an overlay
// (overlay.ts) over it, so the image itself is never modified.

import { open, type FileHandle } from 'node:fs/promises';
import { type BlockBackend, BlockError, checkImageSize, checkRequest } from './block.js';

export class FileBackend implements BlockBackend {
  private constructor(private readonly file: FileHandle, readonly size: number, readonly readOnly: boolean, readonly source: string) {}

  static async open(path: string, opts: { writable?: boolean } = {}): Promise<FileBackend> {
    let file: FileHandle;
    try {
      file = await open(path, opts.writable ? 'r+' : 'r');
    } catch (e) {
      throw new BlockError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      const size = (await file.stat()).size;
      checkImageSize(path, size);
      return new FileBackend(file, size, !opts.writable, path);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRequest(this.size, offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.file.read(out, done, length - done, offset + done);
      if (bytesRead === 0) throw new BlockError(`the image file ended at ${offset + done} bytes while being read`);
      done += bytesRead;
    }
    return out;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (this.readOnly) throw new BlockError('the disk is read-only');
    checkRequest(this.size, offset, data.length);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.file.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.file.datasync();
  }

  close(): Promise<void> { return this.file.close(); }
}
