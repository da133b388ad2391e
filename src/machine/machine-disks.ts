// The machine's drives in a snapshot: each writable disk's copy-on-write overlay (its 4 KiB
// blocks) is part of the machine's state, beside the devices'; the base images are not (the
// snapshot's configuration names them by identity: src/snapshot/disks.ts). A drive is named by
// where it sits: `sata0`..`sata5` (the AHCI ports), `vd0`.. (the virtio-blk devices), `cdrom`.

import type { BlockBackend } from '../storage/block.js';
import { OverlayBackend } from '../storage/overlay.js';
import { DeviceStateError } from './registry.js';

/** One writable drive's overlay, as saved. */
export interface SavedOverlay {
  name: string;
  /** Block number -> its 4 KiB. */
  blocks: Map<number, Uint8Array>;
}

export interface Drive {
  name: string;
  backend: BlockBackend;
  kind: 'disk' | 'virtio' | 'cdrom';
}

/** What a machine's drives were given as (MachineOptions' fields). */
export interface DriveOptions {
  disks?: readonly BlockBackend[];
  virtioDisks?: readonly BlockBackend[];
  cdrom?: BlockBackend;
}

/** Every drive of a machine made with `options`, SATA ports first, then virtio, then the CD-ROM. */
export function machineDrives(options: DriveOptions): Drive[] {
  const disks = options.disks ?? [];
  const out: Drive[] = disks.map((backend, i) => ({ name: `sata${i}`, backend, kind: 'disk' as const }));
  (options.virtioDisks ?? []).forEach((backend, i) => out.push({ name: `vd${i}`, backend, kind: 'virtio' }));
  if (options.cdrom !== undefined) out.push({ name: 'cdrom', backend: options.cdrom, kind: 'cdrom' });
  return out;
}

/** The drives whose contents the guest can change, each with its overlay (or a DeviceStateError). */
function writableOverlays(options: DriveOptions): { name: string; overlay: OverlayBackend }[] {
  return machineDrives(options).filter((d) => !d.backend.readOnly).map((d) => {
    if (!(d.backend instanceof OverlayBackend)) {
      throw new DeviceStateError(`disk ${d.name} is written in place, not through a copy-on-write overlay, so its contents cannot be saved`);
    }
    return { name: d.name, overlay: d.backend };
  });
}

/** A copy of each writable drive's overlay (disk I/O settled: Machine.settleIo). */
export function captureOverlays(options: DriveOptions): SavedOverlay[] {
  return writableOverlays(options).map(({ name, overlay }) => ({ name, blocks: overlay.saveBlocks() }));
}

/** Do `saved` overlays fit these drives, one for each writable drive, blocks inside each? */
export function checkOverlays(options: DriveOptions, saved: readonly SavedOverlay[] | undefined): void {
  const own = writableOverlays(options);
  const list = saved ?? [];
  for (const { name, overlay } of own) {
    const s = list.find((o) => o.name === name);
    if (s === undefined) throw new DeviceStateError(`saved state has no contents for disk ${name}`);
    const count = OverlayBackend.blockCount(overlay.size);
    for (const [i, b] of s.blocks) {
      if (!Number.isInteger(i) || i < 0 || i >= count || b.length !== 4096) throw new DeviceStateError(`saved disk ${name} has block ${i}, outside its ${overlay.size} bytes`);
    }
  }
  const extra = list.find((s) => !own.some((o) => o.name === s.name));
  if (extra !== undefined) throw new DeviceStateError(`saved state has contents for disk ${extra.name}, which this machine does not have as a writable disk`);
}

/** Put `saved` (checked by checkOverlays) into the drives' overlays. */
export function loadOverlays(options: DriveOptions, saved: readonly SavedOverlay[] | undefined): void {
  for (const { name, overlay } of writableOverlays(options)) overlay.loadBlocks(saved!.find((s) => s.name === name)!.blocks);
}
