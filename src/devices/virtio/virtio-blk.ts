// virtio-blk (virtio 1.1 §5.2): a disk on a BlockBackend through one request queue. A request is
// a chain: a 16-byte header (type, reserved, sector) the device reads, the data, and a status
// byte the device writes last. Reads, writes, flushes and the ID string are done; the backend
// answers asynchronously and the Machine decides when the guest sees the answer (`complete`).

import type { BlockBackend } from '../../storage/block.js';
import { SECTOR } from '../../storage/block.js';
import type { Chain } from './virtqueue.js';
import { VirtqueueError } from './virtqueue.js';
import { VirtioPci, type VirtioPciOptions } from './virtio-pci.js';

export const VIRTIO_ID_BLOCK = 2;
// Feature bits (§5.2.3)
export const VIRTIO_BLK_F_SEG_MAX = 2;   // seg_max is valid
export const VIRTIO_BLK_F_RO = 5;        // the disk is read-only
export const VIRTIO_BLK_F_BLK_SIZE = 6;  // blk_size is valid
export const VIRTIO_BLK_F_FLUSH = 9;     // VIRTIO_BLK_T_FLUSH works
// Request types (§5.2.6)
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
// Status byte
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;
/** GET_ID answers with up to 20 bytes, no terminating zero if it is 20 long (§5.2.6). */
export const VIRTIO_BLK_ID_BYTES = 20;
// struct virtio_blk_config offsets (§5.2.4)
const CFG_CAPACITY = 0;   // le64, 512-byte sectors
const CFG_SEG_MAX = 12;   // le32
const CFG_BLK_SIZE = 20;  // le32
const CONFIG_SIZE = 0x24; // up to and including `writeback` and its padding
const HEADER = 16;
export const VIRTIO_BLK_QUEUE_SIZE = 256;
/** The largest data transfer the device takes in one request; larger ones fail with IOERR. */
export const VIRTIO_BLK_MAX_REQUEST = 4 << 20;
const CLASS_STORAGE_SCSI = 0x010000; // what QEMU's virtio-blk-pci says

export interface VirtioBlkOptions extends VirtioPciOptions {
  disk: BlockBackend;
  /** Host work under way: `done` resolves (never rejects) to what completing it does, run when the Machine chooses. */
  complete: (done: Promise<() => void>) => void;
  /** The ID string GET_ID returns (ASCII, at most 20 bytes kept). */
  serial?: string;
}

export interface VirtioBlkCounters { requests: number; reads: number; writes: number; flushes: number; errors: number; unsupported: number; bytesRead: number; bytesWritten: number }

/** No state of its own: requests in flight are host work, dropped by a reset or a restore. */
type BlkState = Record<string, never>;

export class VirtioBlk extends VirtioPci<BlkState> {
  readonly blk: VirtioBlkCounters = { requests: 0, reads: 0, writes: 0, flushes: 0, errors: 0, unsupported: 0, bytesRead: 0, bytesWritten: 0 };
  private readonly disk: BlockBackend;
  private readonly complete: (done: Promise<() => void>) => void;
  private readonly serial: Uint8Array;

  constructor(opts: VirtioBlkOptions) {
    super('virtio-blk', {
      virtioId: VIRTIO_ID_BLOCK, classCode: CLASS_STORAGE_SCSI, queueMax: [VIRTIO_BLK_QUEUE_SIZE], configSize: CONFIG_SIZE,
      features: (1 << VIRTIO_BLK_F_SEG_MAX) | (1 << VIRTIO_BLK_F_BLK_SIZE) | (1 << VIRTIO_BLK_F_FLUSH) | (opts.disk.readOnly ? 1 << VIRTIO_BLK_F_RO : 0),
    }, opts);
    this.disk = opts.disk;
    this.complete = opts.complete;
    this.serial = new TextEncoder().encode(opts.serial ?? 'webx86-virtio-blk').subarray(0, VIRTIO_BLK_ID_BYTES);
  }

  protected freshDeviceState(): BlkState { return {}; }

  protected deviceConfigRead(offset: number, size: number): number {
    const b = new Uint8Array(CONFIG_SIZE);
    const v = new DataView(b.buffer);
    const sectors = Math.floor(this.disk.size / SECTOR);
    v.setUint32(CFG_CAPACITY, sectors >>> 0, true);
    v.setUint32(CFG_CAPACITY + 4, Math.floor(sectors / 2 ** 32), true);
    v.setUint32(CFG_SEG_MAX, VIRTIO_BLK_QUEUE_SIZE - 2, true); // the header and the status take two
    v.setUint32(CFG_BLK_SIZE, SECTOR, true);
    let r = 0;
    for (let i = 0; i < size; i++) r |= (b[offset + i] ?? 0) << (8 * i);
    return r >>> 0;
  }

  protected queueNotified(q: number): void {
    for (let chain = this.pop(q); chain !== null; chain = this.pop(q)) this.request(q, chain);
  }

  private request(q: number, chain: Chain): void {
    this.blk.requests++;
    // §5.2.6.1 (driver): the header is device-readable, the status byte the last device-writable byte.
    if (chain.readable < HEADER || chain.writable < 1) throw new VirtqueueError('a block request without its header or status byte');
    const h = new DataView(this.gather(chain, 0, HEADER).buffer);
    const type = h.getUint32(0, true);
    const sector = h.getUint32(8, true) + h.getUint32(12, true) * 2 ** 32;
    const finish = (status: number, data?: Uint8Array) => {
      const n = data ? this.scatter(chain, 0, data) : 0;
      this.scatter(chain, chain.writable - 1, new Uint8Array([status]));
      if (status === VIRTIO_BLK_S_IOERR) this.blk.errors++;
      if (status === VIRTIO_BLK_S_UNSUPP) this.blk.unsupported++;
      this.used(q, chain, n + 1);
      this.notifyUsed(q);
    };
    const inside = (length: number) => length % SECTOR === 0 && length <= VIRTIO_BLK_MAX_REQUEST && sector * SECTOR + length <= this.disk.size;
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        const length = chain.writable - 1;
        this.blk.reads++;
        if (!inside(length)) { finish(VIRTIO_BLK_S_IOERR); return; }
        this.later(this.complete, () => this.disk.read(sector * SECTOR, length), (r) => {
          if (!r.ok) { finish(VIRTIO_BLK_S_IOERR); return; }
          this.blk.bytesRead += r.value.length;
          finish(VIRTIO_BLK_S_OK, r.value);
        });
        return;
      }
      case VIRTIO_BLK_T_OUT: {
        const length = chain.readable - HEADER;
        this.blk.writes++;
        // §5.2.6.2: with VIRTIO_BLK_F_RO a write fails with IOERR and writes nothing.
        if (this.disk.readOnly || !inside(length)) { finish(VIRTIO_BLK_S_IOERR); return; }
        const data = this.gather(chain, HEADER, length);
        this.later(this.complete, () => this.disk.write(sector * SECTOR, data), (r) => {
          if (r.ok) this.blk.bytesWritten += length;
          finish(r.ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
        });
        return;
      }
      case VIRTIO_BLK_T_FLUSH:
        this.blk.flushes++;
        this.later(this.complete, () => this.disk.flush(), (r) => finish(r.ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR));
        return;
      case VIRTIO_BLK_T_GET_ID: {
        const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
        id.set(this.serial);
        const room = chain.writable - 1;
        finish(VIRTIO_BLK_S_OK, id.subarray(0, Math.min(room, VIRTIO_BLK_ID_BYTES)));
        return;
      }
      default:
        finish(VIRTIO_BLK_S_UNSUPP); // §5.2.6: a request the device does not support is answered UNSUPP
    }
  }
}
