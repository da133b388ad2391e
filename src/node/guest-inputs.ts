// What a run is built from, read from the host's files: the default guest's manifest, the
// kernel, initrd and firmware, and for a machine that was saved (--loadvm) or migrated
// (--incoming) the images its configuration names. Every failure is a one-line CliError.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { REPO_ROOT } from '../cpu/core-file.js';
import type { NetLink } from '../net/link.js';
import type { SnapshotConfig, SnapshotHostParts } from '../snapshot/snapshot.js';
import { CliError, DEFAULT_BIOS, DEFAULT_VGA_BIOS, type RunOptions } from './run-options.js';

/** A file the run needs (`what` names it in errors), or a one-line CliError. */
export async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new CliError(`${what} '${path}' not found`);
    if (err.code === 'EISDIR') throw new CliError(`${what} '${path}' is a directory`);
    throw new CliError(`cannot read ${what} '${path}': ${err.message}`);
  }
}

/** The default guest's manifest, written by disk-images/build.mjs. */
interface ImageManifest {
  kernel: string;
  vmlinux?: string;
  initrd?: string;
  cmdline?: string;
  recommendedMemoryMiB?: number;
}

export const DEFAULT_MANIFEST = join(REPO_ROOT, 'build', 'images', 'default.json');

/** Files and command line of the default guest. */
export async function defaultGuest(manifestPath = DEFAULT_MANIFEST): Promise<{
  kernel: string; vmlinux?: string; initrd?: string; cmdline: string; memoryMiB?: number;
}> {
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as ImageManifest;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(`no default guest at ${manifestPath}: run \`npm run build:images\` or pass --kernel`);
    }
    throw new CliError(`bad manifest ${manifestPath}: ${(e as Error).message}`);
  }
  if (typeof manifest.kernel !== 'string') throw new CliError(`bad manifest ${manifestPath}: no "kernel"`);
  const dir = dirname(manifestPath);
  const vmlinux = manifest.vmlinux ? resolve(dir, manifest.vmlinux) : undefined;
  return {
    kernel: resolve(dir, manifest.kernel),
    vmlinux: vmlinux && existsSync(vmlinux) ? vmlinux : undefined,
    initrd: manifest.initrd ? resolve(dir, manifest.initrd) : undefined,
    cmdline: manifest.cmdline ?? 'console=ttyS0',
    memoryMiB: manifest.recommendedMemoryMiB,
  };
}

/** The kernel, its decompressed twin, the initrd and the command line for --boot kernel. */
export async function kernelGuest(opts: RunOptions): Promise<{
  kernelPath: string; kernel: Uint8Array; vmlinux?: Uint8Array; initrd?: Uint8Array; cmdline: string;
}> {
  let kernelPath = opts.kernel;
  let vmlinuxPath = opts.vmlinux;
  let initrdPath = opts.initrd;
  let cmdline = opts.append;
  if (kernelPath === undefined) {
    const guest = await defaultGuest();
    kernelPath = guest.kernel;
    if (!opts.guestDecompress) vmlinuxPath ??= guest.vmlinux;
    initrdPath ??= guest.initrd;
    cmdline ??= guest.cmdline;
  }
  const kernel = await readInput(kernelPath, 'kernel');
  let vmlinux = vmlinuxPath !== undefined ? await readInput(vmlinuxPath, 'vmlinux') : undefined;
  const initrd = initrdPath !== undefined ? await readInput(initrdPath, 'initrd') : undefined;
  if (vmlinux === undefined && !opts.guestDecompress) {
    // Unpack a bzImage's kernel here when its format allows, sparing the guest its own
    // decompression; null (an ELF kernel, bzip2, zstd ...) leaves it to the guest.
    const { decompressPayload } = await import('../boot/payload.js');
    try {
      vmlinux = (await decompressPayload(kernel))?.vmlinux;
    } catch (e) {
      if ((e as Error).name === 'BootError') throw new CliError(`${kernelPath}: ${(e as Error).message}`);
      throw e;
    }
  }
  return { kernelPath, kernel, vmlinux, initrd, cmdline: cmdline ?? 'console=ttyS0' };
}

/**
 * The base images of a snapshot's drives, opened read-only: the --disk, --virtio-blk and --cdrom
 * files when any is given (then all must be), else the paths the snapshot recorded.
 * machineOptionsFor checks each against the saved identity.
 */
async function snapshotDrives(opts: RunOptions, drives: import('../snapshot/disks.js').DriveIdentity[], option = '--loadvm') {
  const { FileBackend } = await import('../storage/file.js');
  const givenAny = opts.disks.length > 0 || opts.virtioDisks.length > 0 || opts.cdrom !== undefined;
  const open = async (name: string, path: string | undefined | null) => {
    if (path === undefined || path === null) throw new CliError(`${option}: the ${option === '--loadvm' ? 'snapshot' : 'source'} has drive ${name}; give its image with ${name === 'cdrom' ? '--cdrom' : name.startsWith('vd') ? '--virtio-blk' : '--disk'}`);
    try {
      return await FileBackend.open(path);
    } catch (e) {
      if ((e as Error).name === 'BlockError') throw new CliError(`${option}: ${(e as Error).message}`);
      throw e;
    }
  };
  const disks = [];
  const virtioDisks = [];
  let cdrom;
  if (givenAny) {
    for (const p of opts.disks) disks.push(await open('disk', p));
    for (const p of opts.virtioDisks) virtioDisks.push(await open('virtio disk', p));
    if (opts.cdrom !== undefined) cdrom = await open('cdrom', opts.cdrom);
  } else {
    for (const d of drives) {
      const file = await open(d.name, d.source);
      if (d.name === 'cdrom') cdrom = file;
      else if (d.name.startsWith('sata')) disks.push(file);
      else virtioDisks.push(file);
    }
  }
  return { disks, virtioDisks, cdrom };
}


/**
 * The host's parts of a saved or migrated machine described by `config`: its kernel (as a boot
 * finds it), firmware and drives from this process's files, and the network links given.
 * machineOptionsFor checks each against what the configuration recorded.
 */
export async function savedMachineParts(opts: RunOptions, config: SnapshotConfig, links: NetLink[], option: '--loadvm' | '--incoming'): Promise<SnapshotHostParts> {
  // The cards come with the machine (their MACs too); each needs this process's network behind it.
  const cards = config.nics.length;
  if (links.length !== cards) {
    const what = option === '--loadvm' ? 'snapshot' : 'source';
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    throw new CliError(`${option}: the ${what}'s machine has ${plural(cards, 'network card')} and ${plural(links.length, '--net option')} ${links.length === 1 ? 'was' : 'were'} given; `
      + (cards === 0 ? 'leave --net out' : `give one --net per card (user, socket,connect=HOST:PORT or hub; the MACs are the ${what}'s)`));
  }
  const guest = config.images.kernel !== null ? await kernelGuest(opts) : undefined;
  const bios = config.images.bios !== null ? await readInput(opts.bios ?? DEFAULT_BIOS, 'BIOS') : undefined;
  const vgaBios = config.images.vgaBios !== null ? await readInput(opts.vgaBios ?? DEFAULT_VGA_BIOS, 'VGA BIOS') : undefined;
  const drives = await snapshotDrives(opts, config.drives, option);
  return { kernel: guest?.kernel, vmlinux: guest?.vmlinux, initrd: guest?.initrd, bios, vgaBios, links, ...drives };
}
