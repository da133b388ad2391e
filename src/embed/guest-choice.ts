// What an <x86-vm> element runs, from its attributes and the guest manifest its `src` names.
//
// The manifest is the JSON file disk-images/build.mjs writes beside the images (the page reads
// the same one, build/images/default.json). The element uses these fields; every URL in it is
// relative to the manifest itself:
//   kernel    a bzImage or vmlinux to load directly        (or)
//   disk      a raw disk image booted through the BIOS (bios, vgaBios: its firmware)
//   vmlinux   the kernel uncompressed, which spares the guest its own decompression
//   initrd, cmdline, recommendedMemoryMiB
//   prompt    the shell's prompt: the element is `ready` once it shows after a boot
// The attributes kernel, initrd, disk, cmdline and memory override the manifest's; relative
// attribute URLs are relative to the page, as an <img src> is.

/** The machine's clock (src/machine/types.ts ClockMode), spelled out: the package's types stand alone. */
export type GuestClock = 'realtime' | 'deterministic';

/** The guest manifest's fields the element reads (others, such as packages, are ignored). */
export interface GuestManifest {
  kernel?: string;
  vmlinux?: string;
  initrd?: string;
  cmdline?: string;
  disk?: string;
  bios?: string;
  vgaBios?: string;
  recommendedMemoryMiB?: number;
  prompt?: string;
}

/** The attributes that say what to run, as the element has them (null when absent). */
export interface GuestAttributes {
  src: string | null;
  kernel: string | null;
  initrd: string | null;
  disk: string | null;
  cmdline: string | null;
  memory: string | null;
  clock: string | null;
  /** "off" runs the interpreter alone (the JIT is on by default). */
  jit?: string | null;
  /** "off" builds the machine without its virtio-rng entropy device. */
  rng?: string | null;
  /** A raw disk image on a virtio-blk device, besides (or instead of) `disk` on the SATA controller. */
  virtioDisk?: string | null;
}

/** A guest ready to hand to the worker: absolute URLs, checked numbers. */
export interface GuestChoice {
  /** Absent for a guest booted from its disk through the BIOS. */
  kernel?: string;
  vmlinux?: string;
  initrd?: string;
  disk?: string;
  bios?: string;
  vgaBios?: string;
  cmdline: string;
  memoryMiB: number;
  clock: GuestClock;
  /** The shell prompt that marks the guest ready; null when nobody said. */
  prompt: string | null;
  /** Present (false) only when the JIT is turned off. */
  jit?: false;
  /** Present (false) only without the entropy device. */
  rng?: false;
  virtioDisk?: string;
}

/** A wrong attribute or manifest, worded for the docs author who wrote it. */
export class GuestChoiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GuestChoiceError';
  }
}

const DEFAULT_MEMORY_MIB = 128;
const MIN_MEMORY_MIB = 4;
const MAX_MEMORY_MIB = 3072;
const DEFAULT_CMDLINE = 'console=ttyS0,115200';
/** SeaBIOS and its VGA BIOS beside a disk guest's manifest, where `npm run build:images` puts them. */
const DEFAULT_BIOS = 'bios/bios-256k.bin';
const DEFAULT_VGA_BIOS = 'bios/vgabios-stdvga.bin';

function absolute(url: string, base: string): string {
  try {
    return new URL(url, base).href;
  } catch {
    throw new GuestChoiceError(`"${url}" is not a URL.`);
  }
}

/** Download and check the manifest at `url` (absolute). */
export async function loadManifest(url: string): Promise<GuestManifest> {
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new GuestChoiceError(`Could not download the guest manifest ${url}: ${(e as Error).message || 'network error'}.`);
  }
  // A host with a single-page-app fallback answers any path with its index.html.
  if (!res.ok || (res.headers.get('Content-Type') ?? '').startsWith('text/html')) {
    throw new GuestChoiceError(`The guest manifest was not found: ${url} (HTTP ${res.status}).`);
  }
  let m: unknown;
  try {
    m = await res.json();
  } catch {
    throw new GuestChoiceError(`The guest manifest ${url} is not JSON.`);
  }
  if (typeof m !== 'object' || m === null) throw new GuestChoiceError(`The guest manifest ${url} is not a JSON object.`);
  const manifest = m as GuestManifest;
  for (const key of ['kernel', 'vmlinux', 'initrd', 'cmdline', 'disk', 'bios', 'vgaBios', 'prompt'] as const) {
    if (manifest[key] !== undefined && typeof manifest[key] !== 'string') {
      throw new GuestChoiceError(`The guest manifest ${url} has a "${key}" that is not text.`);
    }
  }
  if (manifest.kernel === undefined && manifest.disk === undefined) throw new GuestChoiceError(`The guest manifest ${url} names no kernel and no disk.`);
  return manifest;
}

function parseMemory(text: string | null, fallback: number | undefined): number {
  if (text === null || text.trim() === '') {
    return Number.isInteger(fallback) && fallback! >= MIN_MEMORY_MIB && fallback! <= MAX_MEMORY_MIB ? fallback! : DEFAULT_MEMORY_MIB;
  }
  const mib = Number(text.trim());
  if (!Number.isInteger(mib) || mib < MIN_MEMORY_MIB || mib > MAX_MEMORY_MIB) {
    throw new GuestChoiceError(`memory="${text}": give a whole number of MiB between ${MIN_MEMORY_MIB} and ${MAX_MEMORY_MIB}.`);
  }
  return mib;
}

/** An on/off attribute: absent or "on" is the default (true). */
function parseSwitch(name: string, text: string | null | undefined): boolean {
  if (text === null || text === undefined || text === '' || text === 'on') return true;
  if (text === 'off') return false;
  throw new GuestChoiceError(`${name}="${text}": use "on" or "off".`);
}

function parseClock(text: string | null): GuestClock {
  if (text === null || text === '' || text === 'realtime') return 'realtime';
  if (text === 'deterministic') return 'deterministic';
  throw new GuestChoiceError(`clock="${text}": use "realtime" or "deterministic".`);
}

/**
 * The guest the attributes describe, downloading the manifest when `src` names one. `page` is
 * the page's address (relative attribute URLs are relative to it). Throws GuestChoiceError.
 */
export async function chooseGuest(attrs: GuestAttributes, page: string): Promise<GuestChoice> {
  // Checked before any download, so a typo is reported at once.
  const clock = parseClock(attrs.clock);
  const jit = parseSwitch('jit', attrs.jit);
  const rng = parseSwitch('rng', attrs.rng);
  parseMemory(attrs.memory, undefined);
  let manifest: GuestManifest = {};
  let manifestUrl = page;
  if (attrs.src !== null && attrs.src.trim() !== '') {
    manifestUrl = absolute(attrs.src.trim(), page);
    manifest = await loadManifest(manifestUrl);
  }
  const fromManifest = (v: string | undefined) => (v === undefined ? undefined : absolute(v, manifestUrl));
  const fromAttribute = (v: string | null) => (v === null || v.trim() === '' ? undefined : absolute(v.trim(), page));
  const kernelAttr = fromAttribute(attrs.kernel);
  const diskAttr = fromAttribute(attrs.disk);
  const choice: GuestChoice = {
    cmdline: attrs.cmdline ?? manifest.cmdline ?? DEFAULT_CMDLINE,
    memoryMiB: parseMemory(attrs.memory, manifest.recommendedMemoryMiB),
    clock,
    prompt: manifest.prompt ?? null,
  };
  if (!jit) choice.jit = false;
  if (!rng) choice.rng = false;
  const virtioDisk = fromAttribute(attrs.virtioDisk ?? null);
  if (virtioDisk !== undefined) choice.virtioDisk = virtioDisk;
  if (kernelAttr !== undefined) {
    // A kernel named on the element: the manifest's vmlinux belongs to the manifest's kernel only.
    choice.kernel = kernelAttr;
    choice.initrd = fromAttribute(attrs.initrd) ?? fromManifest(manifest.initrd);
    if (diskAttr !== undefined) choice.disk = diskAttr;
  } else if (diskAttr !== undefined || manifest.disk !== undefined) {
    choice.disk = diskAttr ?? fromManifest(manifest.disk);
    choice.bios = absolute(manifest.bios ?? DEFAULT_BIOS, manifestUrl);
    choice.vgaBios = absolute(manifest.vgaBios ?? DEFAULT_VGA_BIOS, manifestUrl);
  } else if (manifest.kernel !== undefined) {
    choice.kernel = fromManifest(manifest.kernel);
    choice.vmlinux = fromManifest(manifest.vmlinux);
    choice.initrd = fromAttribute(attrs.initrd) ?? fromManifest(manifest.initrd);
  } else {
    throw new GuestChoiceError('Nothing to run: give the element src="manifest.json", or kernel="…" (and initrd="…"), or disk="…".');
  }
  return choice;
}
