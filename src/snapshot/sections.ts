// The payload of a snapshot: a MachineState and its SnapshotConfig as sections, each keyed by a
// four-letter tag and sized, so a reader can tell them apart and find the end of each:
//
//   section := tag:4 ASCII  bytes:u32  body[bytes]
//   'CONF'  the SnapshotConfig (value-codec.ts)              first, exactly once
//   'CPU '  the core's state, raw bytes                       exactly once
//   'CLCK'  guest time and every timer (value-codec.ts)       exactly once
//   'BORD'  the board: IRQ lines and the A20 latches          exactly once
//   'DEV '  one device: name:string version:u32 state (value-codec.ts)   once per device
//   'DISK'  one writable drive's overlay blocks (disks.ts)    once per writable drive (format 2)
//   'NET '  each card's network backend's saved state, eth0 first, null where none (value-codec.ts;
//           NetLink.saveState: the user-mode NAT's open connections, reset after a restore)
//                                                              at most once, before RAM (optional)
//   'RAM '  guest RAM in pages (ram-pages.ts)                 exactly once, last
//
// Each device carries its own state version (STYLE.md 7), checked by the Machine that loads it;
// the format version in the file's header changes only when this layout does.
import type { MachineState } from '../machine/machine.js';
import type { SavedClock } from '../machine/clock.js';
import type { SavedDevice } from '../machine/registry.js';
import { ByteReader, ByteWriter, SnapshotError } from './bytes.js';
import { checkConfig, type SnapshotConfig } from './config.js';
import { decodePages, encodePages, type RamCounts, type RamEncodeOptions } from './ram-pages.js';
import { decodeValue, encodeValue, type MemoryBudget } from './value-codec.js';
import { PAYLOAD_BEYOND_RAM } from './container.js';
import { decodeDisk, encodeDisk } from './disks.js';
import type { SavedOverlay } from '../machine/machine-disks.js';

const TAG = { CONF: 'CONF', CPU: 'CPU ', CLOCK: 'CLCK', BOARD: 'BORD', DEVICE: 'DEV ', DISK: 'DISK', NET: 'NET ', RAM: 'RAM ' } as const;
const TAG_TEXT = new Set<string>(Object.values(TAG));
/** More IRQ lines than a board has: bounds a list read from a file. */
const MAX_IRQ_LINES = 256;

/** Write one section: its tag, its size and what `body` writes. */
function section<T>(w: ByteWriter, tag: string, body: (b: ByteWriter) => T): T {
  const b = new ByteWriter();
  const result = body(b);
  for (let i = 0; i < 4; i++) w.u8(tag.charCodeAt(i));
  w.u32(b.length);
  for (const c of b.chunks()) w.bytes(c);
  return result;
}

/** Overlay blocks in `state`'s disks: the header declares them. */
export function diskBlocks(state: MachineState): number {
  return (state.disks ?? []).reduce((n, d) => n + d.blocks.size, 0);
}

/** The payload's parts, in order (RAM pages by reference), and how RAM's pages were counted. */
export function encodePayload(state: MachineState, config: SnapshotConfig, opts: RamEncodeOptions, net?: readonly unknown[]): { chunks: Uint8Array[]; ram: RamCounts } {
  if (state.ram.length !== config.memoryMiB * 1024 * 1024) {
    throw new SnapshotError(`the state's RAM is ${state.ram.length} bytes, its configuration says ${config.memoryMiB} MiB`);
  }
  const w = new ByteWriter();
  section(w, TAG.CONF, (b) => encodeValue(b, config, 'configuration'));
  section(w, TAG.CPU, (b) => b.bytes(state.cpu));
  section(w, TAG.CLOCK, (b) => encodeValue(b, state.clock, 'clock'));
  section(w, TAG.BOARD, (b) => encodeValue(b, { irqLines: state.irqLines, a20: state.a20 }, 'board'));
  for (const d of state.devices) {
    section(w, TAG.DEVICE, (b) => { b.string(d.name); b.u32(d.version); encodeValue(b, d.state, `device ${d.name}`); });
  }
  for (const d of state.disks ?? []) section(w, TAG.DISK, (b) => encodeDisk(b, d));
  if (net !== undefined && net.some((n) => n !== null)) section(w, TAG.NET, (b) => encodeValue(b, [...net], 'network backends'));
  const ram = section(w, TAG.RAM, (b) => encodePages(b, state.ram, opts));
  return { chunks: w.chunks(), ram };
}

/** The MachineState and configuration in `payload`; RAM must be `ramBytes` and the disks at most `diskBlockLimit` blocks (the header's). */
export function decodePayload(payload: Uint8Array, ramBytes: number, diskBlockLimit = 0): { state: MachineState; config: SnapshotConfig; pagesStored: number; net?: unknown[] } {
  const r = new ByteReader(payload, 0, payload.length, 'payload');
  // Devices' memories (typed arrays) in all: what a payload may hold beyond RAM.
  const budget: MemoryBudget = { bytes: PAYLOAD_BEYOND_RAM };
  let config: SnapshotConfig | undefined;
  let cpu: Uint8Array | undefined;
  let clock: SavedClock | undefined;
  let board: Pick<MachineState, 'irqLines' | 'a20'> | undefined;
  let ram: { ram: Uint8Array; stored: number } | undefined;
  const devices: SavedDevice[] = [];
  const disks: SavedOverlay[] = [];
  let net: unknown[] | undefined;
  const blockBudget = { blocks: diskBlockLimit };
  const once = (tag: string, seen: unknown) => {
    if (seen !== undefined) throw new SnapshotError(`snapshot is corrupt: it has two '${tag}' sections`);
    if (ram !== undefined) throw new SnapshotError(`snapshot is corrupt: a '${tag}' section follows RAM`);
  };
  while (r.left > 0) {
    // (Only printable ASCII of a tag reaches a message: it is one line whatever the file holds.)
    const tag = String.fromCharCode(...r.bytes(4)).replace(/[^ -~]/g, '?');
    const where = `section '${tag}'`;
    const s = r.sub(r.u32(), where);
    if (!TAG_TEXT.has(tag)) throw new SnapshotError(`snapshot is corrupt: unknown section '${tag}'`);
    if (config === undefined && tag !== TAG.CONF) throw new SnapshotError('snapshot is corrupt: it does not begin with its configuration');
    switch (tag) {
      case TAG.CONF:
        once(tag, config);
        config = checkConfig(decodeValue(s, budget));
        if (config.memoryMiB * 1024 * 1024 !== ramBytes) throw new SnapshotError(`snapshot is corrupt: its header says ${ramBytes} bytes of RAM, its configuration ${config.memoryMiB} MiB`);
        break;
      case TAG.CPU:
        once(tag, cpu);
        cpu = s.bytes(s.left).slice();
        break;
      case TAG.CLOCK:
        once(tag, clock);
        clock = checkClock(decodeValue(s, budget), s);
        break;
      case TAG.BOARD:
        once(tag, board);
        board = checkBoard(decodeValue(s, budget), s);
        break;
      case TAG.DEVICE: {
        once(tag, undefined);
        const name = s.string();
        const version = s.u32();
        if (devices.some((d) => d.name === name)) throw new SnapshotError(`snapshot is corrupt: it has device ${name} twice`);
        devices.push({ name, version, state: decodeValue(s, budget) });
        break;
      }
      case TAG.DISK: {
        once(tag, undefined);
        const disk = decodeDisk(s, blockBudget);
        if (disks.some((d) => d.name === disk.name)) throw new SnapshotError(`snapshot is corrupt: it has disk ${disk.name} twice`);
        if (!config!.drives.some((d) => d.name === disk.name && !d.readOnly)) throw new SnapshotError(`snapshot is corrupt: it holds blocks of disk ${disk.name}, which its configuration does not have`);
        const size = config!.drives.find((d) => d.name === disk.name)!.size;
        const beyond = [...disk.blocks.keys()].find((i) => i * 4096 >= size);
        if (beyond !== undefined) throw new SnapshotError(`snapshot is corrupt: disk ${disk.name} has block ${beyond}, beyond its ${size} bytes`);
        disks.push(disk);
        break;
      }
      case TAG.NET: {
        once(tag, net);
        const v = decodeValue(s, budget);
        if (!Array.isArray(v) || v.length !== config!.nics.length) throw new SnapshotError(`snapshot is corrupt: its 'NET ' section is not a list of ${config!.nics.length} network backends' states`);
        net = v;
        break;
      }
      case TAG.RAM:
        once(tag, ram);
        ram = decodePages(s, ramBytes);
        if (ram.ram.length !== ramBytes) throw new SnapshotError(`snapshot is corrupt: its RAM section holds ${ram.ram.length} bytes, its header says ${ramBytes}`);
        break;
    }
    s.expectEnd();
  }
  if (config === undefined) throw new SnapshotError('snapshot is corrupt: it holds no sections');
  if (cpu === undefined || clock === undefined || board === undefined || ram === undefined) {
    const missing = [[TAG.CPU, cpu], [TAG.CLOCK, clock], [TAG.BOARD, board], [TAG.RAM, ram]].find(([, v]) => v === undefined)![0];
    throw new SnapshotError(`snapshot is corrupt: it has no '${String(missing)}' section`);
  }
  const missing = config.drives.find((d) => !d.readOnly && !disks.some((o) => o.name === d.name));
  if (missing !== undefined) throw new SnapshotError(`snapshot is corrupt: it has no 'DISK' section for disk ${missing.name}`);
  return { state: { cpu, ram: ram.ram, clock, devices, ...board, ...(disks.length > 0 ? { disks } : {}) }, config, pagesStored: ram.stored, ...(net !== undefined ? { net } : {}) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** The clock's shape, checked here: the Machine trusts it once the timer names match. */
function checkClock(v: unknown, r: ByteReader): SavedClock {
  // Guest time and its rate must be real numbers: NaN would stop every timer for good.
  const ok = isRecord(v) && Number.isFinite(v.nowNs) && Number.isFinite(v.rate) && (v.rate as number) > 0 && typeof v.seq === 'number'
    && Array.isArray(v.timers) && v.timers.every((t) => isRecord(t) && typeof t.name === 'string' && typeof t.armed === 'boolean'
      && typeof t.deadline === 'number' && !Number.isNaN(t.deadline) && typeof t.seq === 'number');
  if (!ok) throw new SnapshotError(`snapshot is corrupt: ${r.where} is not a clock's state`);
  return v as unknown as SavedClock;
}

function checkBoard(v: unknown, r: ByteReader): Pick<MachineState, 'irqLines' | 'a20'> {
  const ok = isRecord(v) && Array.isArray(v.irqLines) && v.irqLines.length <= MAX_IRQ_LINES
    && v.irqLines.every((l) => typeof l === 'boolean')
    && isRecord(v.a20) && typeof v.a20.kbc === 'boolean' && typeof v.a20.fast === 'boolean';
  if (!ok) throw new SnapshotError(`snapshot is corrupt: ${r.where} is not the board's state`);
  const a20 = v.a20 as { kbc: boolean; fast: boolean };
  return { irqLines: v.irqLines as boolean[], a20: { kbc: a20.kbc, fast: a20.fast } };
}
