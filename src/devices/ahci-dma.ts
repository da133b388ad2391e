// What the AHCI controller reads and writes in guest memory besides its registers: the data
// buffers a command's physical region descriptor table (PRDT) lists, and the FISes it posts in
// a port's received-FIS area (AHCI 1.3.1 §4.2.1; the FIS layouts are SATA 3.x §10.3). Every
// address comes from the guest, so each access is checked against RAM first.

import type { DmaView } from '../machine/io.js';

/** One PRDT entry: a data buffer in guest RAM. */
export interface Prd { addr: number; len: number }

/** Offsets in the received-FIS area. */
export const FIS_PIO_SETUP = 0x20;
export const FIS_D2H = 0x40;
export const FIS_SDB = 0x58;

export function inRam(dma: DmaView, addr: number, len: number): boolean { return addr >= 0 && addr + len <= dma.size; }

/** `len` bytes at `addr`, or null when they are not all RAM. */
export function dmaRead(dma: DmaView, addr: number, len: number): Uint8Array | null {
  return inRam(dma, addr, len) ? dma.read(addr, len) : null;
}

/** Bytes the PRDT describes. */
export function prdBytes(prd: Prd[]): number { return prd.reduce((n, e) => n + e.len, 0); }

/** Write `data` into the PRDT's buffers; the bytes moved, or -1 when an entry lies outside RAM. */
export function scatter(dma: DmaView, prd: Prd[], data: Uint8Array): number {
  let done = 0;
  for (const e of prd) {
    if (done >= data.length) break;
    const n = Math.min(e.len, data.length - done);
    if (!inRam(dma, e.addr, n)) return -1;
    dma.write(e.addr, data.subarray(done, done + n));
    done += n;
  }
  return done;
}

/** Read `bytes` from the PRDT's buffers, or null when one lies outside RAM. */
export function gather(dma: DmaView, prd: Prd[], bytes: number): Uint8Array | null {
  const out = new Uint8Array(bytes);
  let done = 0;
  for (const e of prd) {
    if (done >= bytes) break;
    const n = Math.min(e.len, bytes - done);
    if (!inRam(dma, e.addr, n)) return null;
    out.set(dma.read(e.addr, n), done);
    done += n;
  }
  return out;
}

/** A D2H register FIS (SATA 3.x 10.3.5): status and error from `tfd`; `registers` are the Count and LBA fields in PxSIG's layout. */
export function d2hFis(tfd: number, registers: number): Uint8Array {
  const fis = new Uint8Array(20);
  fis[0] = 0x34; fis[1] = 0x40; fis[2] = tfd & 0xff; fis[3] = (tfd >> 8) & 0xff; // D2H, I bit, status, error
  fis[4] = (registers >>> 8) & 0xff; fis[5] = (registers >>> 16) & 0xff; fis[6] = registers >>> 24; // LBA low, mid, high
  fis[12] = registers & 0xff; // count
  return fis;
}

/** A PIO setup FIS (SATA 3.x 10.3.11) for a transfer of `bytes` to the host. */
export function pioSetupFis(tfd: number, registers: number, bytes: number): Uint8Array {
  const ps = new Uint8Array(20);
  ps[0] = 0x5f; ps[1] = 0x40 | 0x20; ps[2] = tfd & 0xff; ps[3] = (tfd >> 8) & 0xff; // PIO setup, I, D (device to host)
  ps[12] = registers & 0xff;
  ps[15] = tfd & 0xff; // E_Status: the status at the end of the transfer
  const count = Math.min(bytes, 0xffff);
  ps[16] = count & 0xff; ps[17] = count >> 8; // transfer count
  return ps;
}

/** A Set Device Bits FIS (SATA 3.x 10.3.9): the status, and the queued commands (tags) it completes. */
export function sdbFis(tfd: number, completedTags: number): Uint8Array {
  const fis = new Uint8Array(8);
  fis[0] = 0xa1; fis[1] = 0x40; fis[2] = tfd & 0x77; fis[3] = (tfd >> 8) & 0xff; // SDB, I bit, status, error
  new DataView(fis.buffer).setUint32(4, completedTags >>> 0, true);
  return fis;
}
