// What a loader needs to build a Machine that a snapshot fits: the options the saved machine was
// made with, as plain data. The images themselves (kernel, initrd, BIOS) are not in a snapshot,
// only their SHA-256, so a loader given other files can say so instead of running a guest whose
// RAM holds one kernel under a machine that would reboot into another.
import { MAX_MEMORY_MIB, MAX_NICS, MIN_MEMORY_MIB } from '../machine/board.js';
import { JIT_THRESHOLD_MAX } from '../machine/machine-options.js';
import type { Machine, MachineOptions } from '../machine/machine.js';
import type { NetLink } from '../net/link.js';
import type { ClockMode } from '../machine/types.js';
import { SnapshotError, unshared } from './bytes.js';
import { checkDrives, driveIdentities, drivesFor, type DriveIdentity, type GivenDrives } from './disks.js';

/** The saved machine's options (MachineOptions without host objects or image bytes). */
export interface SnapshotConfig {
  memoryMiB: number;
  clock: ClockMode;
  apic: boolean;
  cmdline: string;
  noReboot: boolean;
  rng: boolean;
  jit: boolean;
  /** null: the Machine's own choice. */
  jitThreshold: number | null;
  /** Each network card, eth0 first: its MAC (aa:bb:cc:dd:ee:ff), or null for the Machine's default for that card. */
  nics: (string | null)[];
  /** SATA disks, virtio disks and a CD-ROM drive. */
  disks: number;
  virtioDisks: number;
  cdrom: boolean;
  /** Each of those drives' base image by identity, in machine-disks.ts's order (format 2). */
  drives: DriveIdentity[];
  /** What the firmware boots first, or null when the machine loaded the kernel itself. */
  firmwareBoot: 'disk' | 'cdrom' | null;
  /** The balloon's target from power-on and after each reboot (MiB; 0: none). */
  balloonMiB: number;
  /** SHA-256 (lower-case hex) of each image the machine was made from; null when it had none. */
  images: ImageHashes;
}

export interface ImageHashes {
  kernel: string | null;
  vmlinux: string | null;
  initrd: string | null;
  bios: string | null;
  vgaBios: string | null;
}

/** The image files a loader has at hand, to build the machine again. */
export interface SnapshotImages {
  kernel?: Uint8Array;
  vmlinux?: Uint8Array;
  initrd?: Uint8Array;
  bios?: Uint8Array;
  vgaBios?: Uint8Array;
}

const IMAGE_NAMES = ['kernel', 'vmlinux', 'initrd', 'bios', 'vgaBios'] as const;

async function sha256Hex(b: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', unshared(b)));
  return Array.from(digest, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function hashImages(images: SnapshotImages): Promise<ImageHashes> {
  const out: ImageHashes = { kernel: null, vmlinux: null, initrd: null, bios: null, vgaBios: null };
  for (const name of IMAGE_NAMES) {
    const b = images[name];
    if (b !== undefined) out[name] = await sha256Hex(b);
  }
  return out;
}

function macText(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The configuration of a machine made with `options` (the object given to Machine.create). */
export async function snapshotConfig(options: MachineOptions): Promise<SnapshotConfig> {
  const nics = options.nics ?? (options.net !== undefined ? [{ link: options.net, mac: options.mac }] : []);
  const fw = options.firmware;
  const images = fw !== undefined
    ? { bios: fw.bios, vgaBios: fw.vgaBios }
    : { kernel: options.kernel, vmlinux: options.vmlinux, initrd: options.initrd };
  return {
    memoryMiB: options.memoryMiB,
    clock: options.clock,
    apic: options.apic ?? true,
    cmdline: options.cmdline,
    noReboot: options.noReboot === true,
    rng: options.rng !== false,
    jit: options.jit !== false,
    jitThreshold: options.jitThreshold ?? null,
    nics: nics.map((n) => (n.mac === undefined ? null : macText(n.mac))),
    disks: options.disks?.length ?? 0,
    virtioDisks: options.virtioDisks?.length ?? 0,
    cdrom: options.cdrom !== undefined,
    drives: await driveIdentities(options),
    firmwareBoot: fw === undefined ? null : fw.boot ?? 'disk',
    balloonMiB: options.balloonMiB ?? 0,
    images: await hashImages(images),
  };
}

// -- checking a configuration read from a file: every field, its type and its range --

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function bad(field: string, why: string): SnapshotError {
  return new SnapshotError(`snapshot is corrupt: its configuration's ${field} ${why}`);
}

function count(v: unknown, field: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad(field, `is not a whole number 0..${max}`);
  return v;
}

function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw bad(field, 'is not true or false');
  return v;
}

/** `value` (decoded from a file) as a SnapshotConfig, or a SnapshotError naming the first bad field. */
export function checkConfig(value: unknown): SnapshotConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('', 'is not an object');
  const c = value as Record<string, unknown>;
  const known = new Set(['memoryMiB', 'clock', 'apic', 'cmdline', 'noReboot', 'rng', 'jit', 'jitThreshold', 'nics',
    'disks', 'virtioDisks', 'cdrom', 'drives', 'firmwareBoot', 'balloonMiB', 'images']);
  const unknown = Object.keys(c).find((k) => !known.has(k));
  if (unknown !== undefined) throw bad(unknown, 'is not a field this format has');
  const memoryMiB = count(c.memoryMiB, 'memoryMiB', MAX_MEMORY_MIB);
  if (memoryMiB < MIN_MEMORY_MIB) throw bad('memoryMiB', `is below ${MIN_MEMORY_MIB}`);
  if (c.clock !== 'realtime' && c.clock !== 'deterministic') throw bad('clock', 'is not realtime or deterministic');
  if (typeof c.cmdline !== 'string') throw bad('cmdline', 'is not a string');
  if (c.jitThreshold !== null && count(c.jitThreshold, 'jitThreshold', JIT_THRESHOLD_MAX) < 1) throw bad('jitThreshold', 'is 0 (a block runs at least once before it is translated)');
  if (!Array.isArray(c.nics) || c.nics.length > MAX_NICS) throw bad('nics', `is not a list of at most ${MAX_NICS}`);
  for (const mac of c.nics) if (mac !== null && (typeof mac !== 'string' || !MAC.test(mac))) throw bad('nics', 'holds something that is not a MAC address');
  if (c.firmwareBoot !== null && c.firmwareBoot !== 'disk' && c.firmwareBoot !== 'cdrom') throw bad('firmwareBoot', 'is not disk, cdrom or null');
  const images = c.images;
  if (typeof images !== 'object' || images === null || Array.isArray(images)) throw bad('images', 'is not an object');
  const hashes = images as Record<string, unknown>;
  if (Object.keys(hashes).length !== IMAGE_NAMES.length) throw bad('images', `does not name exactly ${IMAGE_NAMES.join(', ')}`);
  for (const name of IMAGE_NAMES) {
    const h = hashes[name];
    if (h !== null && (typeof h !== 'string' || !HEX_SHA256.test(h))) throw bad(`images.${name}`, 'is not a SHA-256');
  }
  const disks = count(c.disks, 'disks', 6);
  const virtioDisks = count(c.virtioDisks, 'virtioDisks', 4);
  const cdrom = bool(c.cdrom, 'cdrom');
  return {
    memoryMiB, clock: c.clock, apic: bool(c.apic, 'apic'), cmdline: c.cmdline, noReboot: bool(c.noReboot, 'noReboot'),
    rng: bool(c.rng, 'rng'), jit: bool(c.jit, 'jit'), jitThreshold: c.jitThreshold as number | null,
    nics: c.nics as (string | null)[], disks, virtioDisks, cdrom, drives: checkDrives(c.drives, { disks, virtioDisks, cdrom }), firmwareBoot: c.firmwareBoot, balloonMiB: count(c.balloonMiB, 'balloonMiB', memoryMiB - 1),
    images: Object.fromEntries(IMAGE_NAMES.map((n) => [n, hashes[n]])) as unknown as ImageHashes,
  };
}

// -- building the machine again --

/** What the host supplies besides the images: a link for each network card, the disks' base images. */
export interface SnapshotHostParts extends SnapshotImages, GivenDrives {
  /** One link per network card of the configuration, eth0 first. */
  links?: NetLink[];
}

/**
 * Options for Machine.create that build the machine `config` describes, from the host's image
 * files. Each file must be the one the snapshot was saved with (by SHA-256); otherwise a
 * SnapshotError names the first that differs or is missing.
 */
export async function machineOptionsFor(config: SnapshotConfig, parts: SnapshotHostParts): Promise<MachineOptions> {
  const given = await hashImages(parts);
  for (const name of IMAGE_NAMES) {
    const want = config.images[name];
    const have = given[name];
    if (want === null) continue; // not part of that machine; an extra file given is ignored
    if (have === null) throw new SnapshotError(`snapshot needs the ${name} it was saved with (SHA-256 ${want.slice(0, 16)}…), and none was given`);
    if (have !== want) throw new SnapshotError(`the ${name} given (SHA-256 ${have.slice(0, 16)}…) is not the one the snapshot was saved with (${want.slice(0, 16)}…)`);
  }
  const links = parts.links ?? [];
  if (links.length !== config.nics.length) throw new SnapshotError(`snapshot has ${config.nics.length} network cards; ${links.length} links were given`);
  const firmware = config.firmwareBoot === null ? undefined
    : { bios: parts.bios!, vgaBios: config.images.vgaBios === null ? undefined : parts.vgaBios, boot: config.firmwareBoot };
  const pick = (name: 'kernel' | 'vmlinux' | 'initrd') => (config.images[name] === null ? undefined : parts[name]);
  const drives = await drivesFor(config.drives, parts);
  return {
    ...drives,
    memoryMiB: config.memoryMiB,
    clock: config.clock,
    apic: config.apic,
    cmdline: config.cmdline,
    noReboot: config.noReboot,
    rng: config.rng,
    jit: config.jit,
    jitThreshold: config.jitThreshold ?? undefined,
    balloonMiB: config.balloonMiB,
    nics: links.map((link, i) => {
      const mac = config.nics[i];
      return { link, mac: mac === null || mac === undefined ? undefined : Uint8Array.from(mac.split(':'), (h) => parseInt(h, 16)) };
    }),
    firmware,
    kernel: pick('kernel'),
    vmlinux: pick('vmlinux'),
    initrd: pick('initrd'),
  };
}

/**
 * Does `machine` (an existing one) look like the machine `config` describes, in what it shows?
 * Memory, the APICs and the clock mode; Machine.loadState then checks the devices one by one.
 */
export function checkMachineFits(machine: Machine, config: SnapshotConfig): void {
  const mib = machine.core.ramSize / (1024 * 1024);
  if (mib !== config.memoryMiB) throw new SnapshotError(`snapshot is of a ${config.memoryMiB} MiB machine; this one has ${mib} MiB`);
  if ((machine.lapic !== null) !== config.apic) throw new SnapshotError(`snapshot is of a machine ${config.apic ? 'with' : 'without'} APICs; this one is ${config.apic ? 'without' : 'with'}`);
  const clock = machine.status().clock;
  if (clock !== config.clock) throw new SnapshotError(`snapshot is of a machine with a ${config.clock} clock; this one's is ${clock}`);
  if (machine.virtioNets.length !== config.nics.length) throw new SnapshotError(`snapshot is of a machine with ${config.nics.length} network cards; this one has ${machine.virtioNets.length}`);
}
