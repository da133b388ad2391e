// Disks in a snapshot. The configuration names each drive's base image by identity (size and a
// sampled SHA-256: src/storage/identity.ts says why sampled) and where it came from; the payload
// holds each writable drive's overlay blocks in a 'DISK' section (sections.ts):
//
//   'DISK'  name:string  version:u32  count:u32  { block:u32  bytes[4096] } * count   (blocks ascending)
//
// A loader supplies the base images again (the CLI's --disk files, the page's URLs); one that
// differs from the saved drive's in size or fingerprint is refused in one line.
import type { MachineOptions } from '../machine/machine.js';
import { machineDrives, type DriveOptions, type SavedOverlay } from '../machine/machine-disks.js';
import type { BlockBackend } from '../storage/block.js';
import { imageIdentity } from '../storage/identity.js';
import { OVERLAY_BLOCK, OverlayBackend } from '../storage/overlay.js';
import { ByteReader, ByteWriter, SnapshotError } from './bytes.js';

/** Version of a 'DISK' section's layout. */
export const DISK_SECTION_VERSION = 1;
/** Drives a machine can have: six SATA ports and four virtio disks. */
const MAX_DRIVES = 10;
const DRIVE_NAME = /^(sata[0-5]|vd[0-3]|cdrom)$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;
/** Longest `source` kept (a path or a URL): it is shown in messages, not used to find the image. */
const MAX_SOURCE = 4096;

/** A drive of the saved machine, as its configuration records it. */
export interface DriveIdentity {
  /** sata0..sata5, vd0..vd3, cdrom (machine-disks.ts). */
  name: string;
  /** The base image's size in bytes and its fingerprint. */
  size: number;
  fingerprint: string;
  /** Where the image came from (a path, a URL, a file's name), or null. */
  source: string | null;
  /** A CD-ROM's disc (no overlay). */
  readOnly: boolean;
}

/** The base image under a drive's overlay (or the drive itself when it has none). */
export function baseImage(backend: BlockBackend): BlockBackend {
  return backend instanceof OverlayBackend ? backend.base : backend;
}

/** Each drive of a machine made with `options`, by identity. */
export async function driveIdentities(options: DriveOptions): Promise<DriveIdentity[]> {
  const out: DriveIdentity[] = [];
  for (const d of machineDrives(options)) {
    const base = baseImage(d.backend);
    const id = await imageIdentity(base);
    out.push({ name: d.name, size: id.size, fingerprint: id.fingerprint, source: base.source ?? null, readOnly: d.backend.readOnly });
  }
  return out;
}

/** `value` (from a file's configuration) as a list of drives, or a SnapshotError. */
export function checkDrives(value: unknown, counts: { disks: number; virtioDisks: number; cdrom: boolean }): DriveIdentity[] {
  const bad = (why: string) => new SnapshotError(`snapshot is corrupt: its configuration's drives ${why}`);
  if (!Array.isArray(value) || value.length > MAX_DRIVES) throw bad(`is not a list of at most ${MAX_DRIVES}`);
  const out: DriveIdentity[] = value.map((v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('holds something that is not a drive');
    const d = v as Record<string, unknown>;
    if (Object.keys(d).length !== 5) throw bad('holds a drive with other fields than name, size, fingerprint, source, readOnly');
    if (typeof d.name !== 'string' || !DRIVE_NAME.test(d.name)) throw bad('holds a drive with a name that is not sata0-5, vd0-3 or cdrom');
    if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size <= 0 || d.size % 512 !== 0) throw bad(`gives drive ${d.name} a size that is not whole sectors`);
    if (typeof d.fingerprint !== 'string' || !HEX_SHA256.test(d.fingerprint)) throw bad(`gives drive ${d.name} a fingerprint that is not a SHA-256`);
    if (d.source !== null && (typeof d.source !== 'string' || d.source.length > MAX_SOURCE)) throw bad(`gives drive ${d.name} a source that is not a string of at most ${MAX_SOURCE}`);
    if (typeof d.readOnly !== 'boolean') throw bad(`gives drive ${d.name} a readOnly that is not true or false`);
    return { name: d.name, size: d.size, fingerprint: d.fingerprint, source: d.source as string | null, readOnly: d.readOnly };
  });
  // The names must be exactly those of the counts, in machineDrives' order.
  const want = [...Array.from({ length: counts.disks }, (_, i) => `sata${i}`), ...Array.from({ length: counts.virtioDisks }, (_, i) => `vd${i}`), ...(counts.cdrom ? ['cdrom'] : [])];
  if (want.length !== out.length || want.some((n, i) => out[i]!.name !== n)) throw bad(`are not the configuration's ${counts.disks} disks, ${counts.virtioDisks} virtio disks and ${counts.cdrom ? 'a' : 'no'} CD-ROM`);
  if (out.some((d) => d.readOnly !== (d.name === 'cdrom'))) throw bad('have a read-only disk or a writable CD-ROM');
  return out;
}

/** The base images a loader gives, one list per kind, as MachineOptions has them. */
export interface GivenDrives {
  disks?: BlockBackend[];
  virtioDisks?: BlockBackend[];
  cdrom?: BlockBackend;
}

function given(parts: GivenDrives, name: string): BlockBackend | undefined {
  if (name === 'cdrom') return parts.cdrom;
  const n = Number(name.replace(/^\D+/, ''));
  return name.startsWith('sata') ? parts.disks?.[n] : parts.virtioDisks?.[n];
}

function described(d: DriveIdentity): string {
  return `disk ${d.name} (${d.size} bytes${d.source === null ? '' : `, saved from ${d.source}`})`;
}

/**
 * The drives of a machine that fits `drives`, made from the base images given: each checked
 * against the saved identity (a SnapshotError names the first that differs or is missing), the
 * writable ones under a fresh overlay that the snapshot's blocks will fill (Machine.loadState).
 */
export async function drivesFor(drives: readonly DriveIdentity[], parts: GivenDrives): Promise<Pick<MachineOptions, 'disks' | 'virtioDisks' | 'cdrom'>> {
  const out: { disks: BlockBackend[]; virtioDisks: BlockBackend[]; cdrom?: BlockBackend } = { disks: [], virtioDisks: [] };
  const extra = (parts.disks?.length ?? 0) + (parts.virtioDisks?.length ?? 0) + (parts.cdrom ? 1 : 0) - drives.length;
  for (const d of drives) {
    const image = given(parts, d.name);
    if (image === undefined) throw new SnapshotError(`snapshot needs the image of ${described(d)}, and none was given`);
    const base = baseImage(image);
    if (base.size !== d.size) throw new SnapshotError(`the image given for disk ${d.name}${base.source ? ` (${base.source})` : ''} is ${base.size} bytes; the snapshot's ${described(d)} is another image`);
    const id = await imageIdentity(base);
    if (id.fingerprint !== d.fingerprint) {
      throw new SnapshotError(`the image given for disk ${d.name}${base.source ? ` (${base.source})` : ''} is not the one the snapshot was saved with (fingerprint ${id.fingerprint.slice(0, 12)}…, the snapshot's ${d.fingerprint.slice(0, 12)}…)`);
    }
    const drive = d.readOnly ? base : new OverlayBackend(base);
    if (d.name === 'cdrom') out.cdrom = drive;
    else if (d.name.startsWith('sata')) out.disks.push(drive);
    else out.virtioDisks.push(drive);
  }
  if (extra > 0) throw new SnapshotError(`snapshot has ${drives.length} drives; ${drives.length + extra} images were given`);
  return out;
}

/** Does `own` (the running machine's drives) hold the same images as `saved`? The first difference in words, or null. */
export function driveDifference(own: readonly DriveIdentity[], saved: readonly DriveIdentity[]): string | null {
  if (own.length !== saved.length || own.some((d, i) => d.name !== saved[i]!.name)) return 'set of disks';
  const d = own.findIndex((o, i) => o.size !== saved[i]!.size || o.fingerprint !== saved[i]!.fingerprint);
  return d < 0 ? null : `image on disk ${own[d]!.name}`;
}

// -- the 'DISK' section's body --

export function encodeDisk(w: ByteWriter, o: SavedOverlay): void {
  w.string(o.name);
  w.u32(DISK_SECTION_VERSION);
  const order = [...o.blocks.keys()].sort((a, b) => a - b);
  w.u32(order.length);
  for (const i of order) { w.u32(i); w.bytes(o.blocks.get(i)!); }
}

/** A 'DISK' section's body; `budget.blocks` is what the header allows, counted down. */
export function decodeDisk(r: ByteReader, budget: { blocks: number }): SavedOverlay {
  const name = r.string();
  if (!DRIVE_NAME.test(name) || name === 'cdrom') throw new SnapshotError(`snapshot is corrupt: ${r.where} names a drive '${name.replace(/[^ -~]/g, '?').slice(0, 16)}' that is not sata0-5 or vd0-3`);
  const version = r.u32();
  if (version !== DISK_SECTION_VERSION) throw new SnapshotError(`snapshot's disk ${name} is in disk format version ${version}; this webx86 reads version ${DISK_SECTION_VERSION}`);
  const count = r.u32();
  if (count > budget.blocks) throw new SnapshotError(`snapshot is corrupt: disk ${name} holds ${count} blocks, more than its header says`);
  budget.blocks -= count;
  const blocks = new Map<number, Uint8Array>();
  let last = -1;
  for (let n = 0; n < count; n++) {
    const i = r.u32();
    if (i <= last) throw new SnapshotError(`snapshot is corrupt: disk ${name}'s blocks are not in ascending order`);
    last = i;
    blocks.set(i, r.bytes(OVERLAY_BLOCK).slice());
  }
  return { name, blocks };
}
