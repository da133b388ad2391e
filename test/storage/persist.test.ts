// The persistent overlay (src/storage/persist.ts) on IndexedDB, here fake-indexeddb's in-memory
// implementation of the IndexedDB API (the browser's own is tested in test/browser/disk.test.ts):
// what a guest FLUSH waits for, that each block is stored whole, that a reopened store is the
// overlay's starting contents, and that a failing database (a full quota) reaches the guest as a
// write error through AHCI (TFD.ERR with ABRT) and virtio-blk (VIRTIO_BLK_S_IOERR), never as
// silent loss.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { Ahci } from '../../src/devices/ahci';
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_OUT, VirtioBlk } from '../../src/devices/virtio/virtio-blk';
import type { VirtioPci } from '../../src/devices/virtio/virtio-pci';
import { MemoryBackend } from '../../src/storage/block';
import { OverlayBackend } from '../../src/storage/overlay';
import { IdbBlockStore } from '../../src/storage/persist';
import { DATA, Driver, Ram } from '../devices/virtio-driver';
import { TestRam } from '../devices/test-ram';

const SIZE = 1 << 20;
let keys = 0;
const freshKey = () => `test-image-${++keys}-${Date.now()}`;
const base = () => new MemoryBackend(Uint8Array.from({ length: SIZE }, (_, i) => (i * 31 + (i >> 12)) & 0xff), true, 'base.img');

async function persistent(key: string, failures: Error[] = []) {
  const { store, blocks } = await IdbBlockStore.open(key, (e) => failures.push(e));
  const overlay = new OverlayBackend(base());
  overlay.attachStore(store, blocks);
  return { overlay, store, blocks };
}

/** What a second connection finds in the database (what a reopened page would find). */
async function stored(key: string): Promise<Map<number, Uint8Array>> {
  return (await IdbBlockStore.open(key, () => {})).blocks;
}

/** Make IndexedDB puts fail with QuotaExceededError (as a full origin's do) until `undo()`. */
function fullQuota(): () => void {
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function () { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };
  return () => { IDBObjectStore.prototype.put = put; };
}

describe('the persistent overlay on IndexedDB', () => {
  it('a flush resolves only once every earlier write is committed; each block is stored whole', async () => {
    const key = freshKey();
    const { overlay, store } = await persistent(key);
    // 512 bytes into block 5 (a partial block: the rest is copied up from the base), then block 6 whole.
    await overlay.write(5 * 4096 + 1024, new Uint8Array(512).fill(0xee));
    await overlay.write(6 * 4096, new Uint8Array(4096).fill(0x66));
    const flushed = overlay.flush();
    let done = false;
    void flushed.then(() => { done = true; });
    await flushed;
    expect(done).toBe(true);
    expect(store.blocksStored).toBe(2);
    const db = await stored(key);
    expect([...db.keys()].sort()).toEqual([5, 6]);
    const b5 = db.get(5)!;
    const expected = await base().read(5 * 4096, 4096);
    expected.fill(0xee, 1024, 1536);
    expect(Buffer.from(b5).equals(Buffer.from(expected))).toBe(true);
    expect(db.get(6)!.every((b) => b === 0x66)).toBe(true);
    // A later write replaces the block, in order: the last contents win.
    await overlay.write(6 * 4096, new Uint8Array(512).fill(0x01));
    await overlay.write(6 * 4096, new Uint8Array(512).fill(0x02));
    await overlay.flush();
    expect((await stored(key)).get(6)![0]).toBe(0x02);
  });

  it('writes not yet flushed may be missing after a reload, flushed ones never are', async () => {
    const key = freshKey();
    const { overlay } = await persistent(key);
    await overlay.write(0, new Uint8Array(4096).fill(7));
    await overlay.flush();
    await overlay.write(4096, new Uint8Array(4096).fill(8)); // no flush: it may or may not be stored yet
    const now = await stored(key);
    expect(now.has(0)).toBe(true);
    // Whether the unflushed block is there depends on timing; if it is, it is whole.
    if (now.has(1)) expect(now.get(1)!.every((b) => b === 8)).toBe(true);
  });

  it('a reopened store is the overlay\'s starting contents; a reset forgets it', async () => {
    const key = freshKey();
    const first = await persistent(key);
    await first.overlay.write(3 * 512, new Uint8Array(1024).fill(0xab));
    await first.overlay.flush();
    const again = await persistent(key);
    expect(again.blocks.size).toBe(1);
    expect((await again.overlay.read(3 * 512, 1024)).every((b) => b === 0xab)).toBe(true);
    expect(Buffer.from(await again.overlay.read(0, 1536)).equals(Buffer.from(await base().read(0, 1536)))).toBe(true);
    // A snapshot loaded into the overlay replaces the store's contents too.
    again.overlay.loadBlocks(new Map([[9, new Uint8Array(4096).fill(9)]]));
    await again.overlay.flush();
    expect([...(await stored(key)).keys()]).toEqual([9]);
    expect(await IdbBlockStore.reset(key)).toBe(1);
    expect((await stored(key)).size).toBe(0);
  });

  it('a full quota: the flush fails in words, later writes are refused, the page is told once', async () => {
    const key = freshKey();
    const failures: Error[] = [];
    const { overlay } = await persistent(key, failures);
    await overlay.write(0, new Uint8Array(4096).fill(1));
    await overlay.flush();
    const undo = fullQuota();
    try {
      await overlay.write(4096, new Uint8Array(4096).fill(2)); // into memory: its commit will fail
      await expect(overlay.flush()).rejects.toThrow(/^the disk's store failed: the browser's storage for this site is full \(QuotaExceededError/);
      await expect(overlay.write(8192, new Uint8Array(512))).rejects.toThrow(/storage for this site is full/);
    } finally {
      undo();
    }
    expect(failures.map((e) => e.message)).toEqual([expect.stringMatching(/^the browser's storage for this site is full/)]);
    // What was flushed before stays.
    expect([...(await stored(key)).keys()]).toEqual([0]);
  });

  it('the guest sees the failure: AHCI aborts FLUSH CACHE EXT and later writes (ERR, ABRT); virtio-blk answers IOERR', async () => {
    // AHCI, port 0, driven as in test/devices/ahci.test.ts.
    const { overlay } = await persistent(freshKey());
    const ram = new TestRam(1 << 20);
    const queue: (() => void)[] = [];
    const ahci = new Ahci({ dma: ram, disks: [overlay], complete: (done) => { void done.then((d) => queue.push(d)); }, onMap: () => {} });
    ahci.reset();
    const w = (o: number, v: number) => ahci.mmio.write(o, 4, v >>> 0);
    const r = (o: number) => ahci.mmio.read(o, 4);
    const dv = new DataView(ram.bytes.buffer);
    w(0x04, 0x80000002); w(0x100, 0x10000); w(0x108, 0x11000); w(0x114, 0xffffffff); w(0x118, 0x11);
    const run = async (cmd: number, lba: number, count: number, write: boolean) => {
      dv.setUint32(0x10000, 5 | (write ? 1 << 6 : 0) | ((count > 0 ? 1 : 0) << 16), true);
      dv.setUint32(0x10008, 0x12000, true);
      ram.bytes.fill(0, 0x12000, 0x12090);
      ram.bytes.set([0x27, 0x80, cmd, 0, lba & 0xff, 0, 0, 0x40, 0, 0, 0, 0, count, 0], 0x12000);
      dv.setUint32(0x12080, 0x20000, true);
      dv.setUint32(0x1208c, count * 512 - 1, true);
      w(0x110, 0xffffffff);
      w(0x138, 1);
      for (let i = 0; i < 50 && r(0x138) !== 0; i++) {
        await new Promise((res) => setTimeout(res, 2));
        while (queue.length > 0) queue.shift()!();
      }
      return r(0x120); // PxTFD
    };
    expect((await run(0x35, 8, 2, true)) & 0xff).toBe(0x50);
    expect((await run(0xea, 0, 0, false)) & 0xff).toBe(0x50);
    const undo = fullQuota();
    try {
      expect((await run(0x35, 16, 2, true)) & 0xff).toBe(0x50); // in the overlay; its commit will fail
      const flush = await run(0xea, 0, 0, false);
      expect(flush & 0x01).toBe(0x01); // ERR
      expect((flush >> 8) & 0x04).toBe(0x04); // ABRT
      expect(r(0x110) & (1 << 30)).not.toBe(0); // PxIS.TFES
      const later = await run(0x35, 24, 2, true);
      expect(later & 0x01).toBe(0x01);
    } finally {
      undo();
    }

    // virtio-blk over another store that fails the same way.
    const v = await persistent(freshKey());
    const vram = new Ram();
    const vqueue: (() => void)[] = [];
    const dev = new VirtioBlk({ dma: vram, disk: v.overlay, complete: (done) => { void done.then((d) => vqueue.push(d)); }, onMap: () => {} });
    dev.reset();
    const drv = new Driver(dev as VirtioPci<unknown>, vram);
    const [q] = drv.init();
    const request = async (type: number, at: number): Promise<number> => {
      const vdv = new DataView(vram.bytes.buffer);
      vdv.setUint32(at, type, true); vdv.setUint32(at + 4, 0, true); vdv.setUint32(at + 8, 40, true); vdv.setUint32(at + 12, 0, true);
      vram.bytes[at + 0x800] = 0xff;
      q!.add(type === VIRTIO_BLK_T_OUT ? [[at, 16], [at + 0x100, 512], [at + 0x800, 1, true]] : [[at, 16], [at + 0x800, 1, true]]);
      q!.kick();
      for (let i = 0; i < 50 && vram.bytes[at + 0x800] === 0xff; i++) {
        await new Promise((res) => setTimeout(res, 2));
        while (vqueue.length > 0) vqueue.shift()!();
      }
      return vram.bytes[at + 0x800]!;
    };
    expect(await request(VIRTIO_BLK_T_OUT, DATA)).toBe(VIRTIO_BLK_S_OK);
    expect(await request(VIRTIO_BLK_T_FLUSH, DATA + 0x1000)).toBe(VIRTIO_BLK_S_OK);
    const undo2 = fullQuota();
    try {
      expect(await request(VIRTIO_BLK_T_OUT, DATA + 0x2000)).toBe(VIRTIO_BLK_S_OK); // in the overlay; its commit will fail
      expect(await request(VIRTIO_BLK_T_FLUSH, DATA + 0x3000)).toBe(VIRTIO_BLK_S_IOERR);
      expect(await request(VIRTIO_BLK_T_OUT, DATA + 0x4000)).toBe(VIRTIO_BLK_S_IOERR);
    } finally {
      undo2();
    }
    expect(dev.blk.errors).toBe(2);
  });
});
