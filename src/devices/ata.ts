// An ATA disk as the AHCI controller (ahci.ts) presents it: the commands it takes (ACS-3 /
// ATA8-ACS numbering), what each transfers, and its IDENTIFY DEVICE data. The controller moves
// the data; this file only says what a command means.

import { SECTOR } from '../storage/block.js';

// Status and error register bits (ATA8-ACS 6.1, 6.2).
export const ATA_STATUS_ERR = 0x01;
export const ATA_STATUS_DRQ = 0x08;
export const ATA_STATUS_DSC = 0x10; // "device seek complete" / reserved: 0x50 is the classic ready status
export const ATA_STATUS_DRDY = 0x40;
export const ATA_STATUS_BSY = 0x80;
export const ATA_ERROR_ABRT = 0x04;
/** Ready, no error: what a disk shows between commands. */
export const ATA_READY = ATA_STATUS_DRDY | ATA_STATUS_DSC;

/** A command as the H2D register FIS carries it (SATA 3.x 10.3.4). */
export interface AtaTaskfile {
  command: number;
  /** Features field (16 bits for the 48-bit commands; the sector count of the queued ones). */
  features: number;
  /** 48 bits of LBA (the low 28 for the 28-bit commands). */
  lba: number;
  /** Sector count field (16 bits for the 48-bit commands). */
  count: number;
  device: number;
}

/** What a command does: move sectors (in or out), flush, set a feature, identify, or nothing known. */
export type AtaAction =
  | { kind: 'read' | 'write'; lba: number; sectors: number; dma: boolean; tag?: number }
  | { kind: 'identify' }
  | { kind: 'flush' }
  | { kind: 'nodata' }
  | { kind: 'abort' };

/** Decode `tf` for a disk of `sectors` sectors; a request past the end is aborted (ACS-3: IDNF or ABRT). */
export function decodeAta(tf: AtaTaskfile, sectors: number): AtaAction {
  const lba28 = tf.lba & 0x0fffffff;
  const count28 = (tf.count & 0xff) || 256;
  const count48 = tf.count || 65536;
  const rw = (kind: 'read' | 'write', lba: number, n: number, dma: boolean): AtaAction =>
    lba + n <= sectors ? { kind, lba, sectors: n, dma } : { kind: 'abort' };
  switch (tf.command) {
    // READ/WRITE FPDMA QUEUED (native command queuing): the count is in the features field and
    // the tag in bits 7:3 of the count field.
    case 0x60: case 0x61: {
      const n = tf.features || 65536;
      if (tf.lba + n > sectors) return { kind: 'abort' };
      return { kind: tf.command === 0x60 ? 'read' : 'write', lba: tf.lba, sectors: n, dma: true, tag: (tf.count >> 3) & 0x1f };
    }
    case 0x25: return rw('read', tf.lba, count48, true); // READ DMA EXT
    case 0xc8: return rw('read', lba28, count28, true); // READ DMA
    case 0x24: return rw('read', tf.lba, count48, false); // READ SECTOR(S) EXT
    case 0x20: return rw('read', lba28, count28, false); // READ SECTOR(S)
    case 0x35: return rw('write', tf.lba, count48, true); // WRITE DMA EXT
    case 0xca: return rw('write', lba28, count28, true); // WRITE DMA
    case 0x34: return rw('write', tf.lba, count48, false); // WRITE SECTOR(S) EXT
    case 0x30: return rw('write', lba28, count28, false); // WRITE SECTOR(S)
    case 0xec: return { kind: 'identify' }; // IDENTIFY DEVICE
    case 0xe7: case 0xea: return { kind: 'flush' }; // FLUSH CACHE (EXT)
    // SET FEATURES (transfer mode, write cache ...), IDLE IMMEDIATE, CHECK POWER MODE, STANDBY
    // IMMEDIATE, SET MULTIPLE MODE, INITIALIZE DEVICE PARAMETERS, RECALIBRATE: nothing to do for an
    // image, and each completes without data.
    case 0xef: case 0xe1: case 0xe5: case 0xe0: case 0xc6: case 0x91: case 0x10: return { kind: 'nodata' };
    default: return { kind: 'abort' };
  }
}

/** ATA strings are space-padded and stored with the two bytes of each word swapped. */
export function putString(words: Uint16Array, first: number, count: number, s: string): void {
  const padded = s.padEnd(count * 2, ' ').slice(0, count * 2);
  for (let i = 0; i < count; i++) words[first + i] = (padded.charCodeAt(2 * i) << 8) | padded.charCodeAt(2 * i + 1);
}

/** The deepest command queue the disk takes (NCQ tags 0..31). */
export const NCQ_DEPTH = 32;

/** IDENTIFY DEVICE data (ACS-3 7.12.7) of a disk of `sectors` 512-byte sectors: LBA48, DMA, NCQ. */
export function identifyDevice(sectors: number, serial: string): Uint8Array {
  const w = new Uint16Array(256);
  w[0] = 0x0040; // ATA device, fixed
  w[1] = Math.min(16383, Math.floor(sectors / (16 * 63))); // legacy CHS geometry
  w[3] = 16;
  w[6] = 63;
  putString(w, 10, 10, serial);
  putString(w, 23, 4, '1.0');
  putString(w, 27, 20, 'webx86 disk');
  w[47] = 0x8000 | 16; // READ/WRITE MULTIPLE: up to 16 sectors
  w[49] = (1 << 9) | (1 << 8); // LBA, DMA
  w[53] = (1 << 2) | (1 << 1); // words 88 and 64-70 valid
  w[54] = w[1]; w[55] = 16; w[56] = 63;
  const lba28 = Math.min(sectors, 0x0fffffff);
  w[60] = lba28 & 0xffff; w[61] = lba28 >>> 16;
  w[63] = 0x0007; // multiword DMA 0-2
  w[64] = 0x0003; // PIO 3-4
  w[65] = 120; w[66] = 120; w[67] = 120; w[68] = 120;
  w[75] = NCQ_DEPTH - 1; // queue depth - 1
  w[76] = (1 << 8) | (1 << 1); // native command queuing; SATA Gen1 (1.5 Gb/s)
  w[80] = 0x01f0; // ATA/ATAPI-4 to ATA8-ACS
  w[82] = (1 << 14) | (1 << 5); // NOP, volatile write cache
  w[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10); // FLUSH CACHE EXT, FLUSH CACHE, 48-bit
  w[84] = 1 << 14;
  w[85] = w[82];
  w[86] = (1 << 13) | (1 << 12) | (1 << 10);
  w[87] = 1 << 14;
  w[88] = 0x007f | (1 << 14); // UDMA 0-6, mode 6 selected
  for (let i = 0; i < 4; i++) w[100 + i] = Math.floor(sectors / 2 ** (16 * i)) & 0xffff;
  w[106] = 1 << 14; // sector size information valid: one 512-byte logical sector per physical
  return identifyBytes(w);
}

/** 256 IDENTIFY words as the 512 bytes the host reads (ATA words are little-endian). */
export function identifyBytes(w: Uint16Array): Uint8Array {
  const bytes = new Uint8Array(SECTOR);
  const dv = new DataView(bytes.buffer);
  w.forEach((v, i) => dv.setUint16(i * 2, v, true));
  return bytes;
}
