// The bodies of live migration's frames (frames.ts), written and read with the snapshot format's
// pieces (value-codec.ts for plain data, disks.ts for the disks' overlays), and checked as a
// snapshot file is: everything a peer sends is untrusted.
//
//   HELLO   magic 'WX86MIGR'  version:u16  config (value-codec: a SnapshotConfig)
//   READY   (empty)
//   ERROR   reason (UTF-8, one line)
//   PAGES   round:u32  count:u32  entry:u32[count]  page[4096] for each entry without ZERO_PAGE
//           entry: page frame number, | ZERO_PAGE for a page of zeros (no bytes follow for it)
//   ROUND   value-codec: RoundReport
//   STATE   cpu:u32-sized bytes  value-codec {clock, irqLines, devices, a20, running, net}  disks:u32  disk[disks] (disks.ts)
//           running: false when the source's guest was paused; net: each card's backend's state (version 2)
//   DONE    loadMs:f64
import type { MachineState } from '../machine/machine.js';
import type { SavedClock } from '../machine/clock.js';
import type { SavedDevice } from '../machine/registry.js';
import type { SavedOverlay } from '../machine/machine-disks.js';
import { ByteReader, ByteWriter } from '../snapshot/bytes.js';
import { checkConfig, type SnapshotConfig } from '../snapshot/config.js';
import { PAYLOAD_BEYOND_RAM } from '../snapshot/container.js';
import { decodeDisk, encodeDisk } from '../snapshot/disks.js';
import { decodeValue, encodeValue } from '../snapshot/value-codec.js';
import { MigrationError } from './frames.js';

/**
 * This webx86's migration protocol; a peer of another version is refused at HELLO. Version 2:
 * STATE says whether the guest runs and carries the network backends' state, and the right to
 * run the guest passes with STATE (source.ts).
 */
export const PROTOCOL_VERSION = 2;
const MAGIC = Uint8Array.from('WX86MIGR', (c) => c.charCodeAt(0));
export const PAGE_SIZE = 4096;
export const ZERO_PAGE = 0x8000_0000;
const MAX_IRQ_LINES = 256;

/** One pre-copy round, as the source measured it. */
export interface RoundReport {
  round: number;
  /** Pages this round sent (zero pages included, as markers). */
  pages: number;
  /** Of those, pages of zeros (no bytes sent). */
  zeroPages: number;
  /** Pages the guest wrote while this round was being sent: the next round's. */
  dirtied: number;
  /** Bytes of frames this round sent. */
  bytes: number;
  ms: number;
}

/** The machine's state without RAM (Machine.saveState({ ram: false })). */
export type StateWithoutRam = Omit<MachineState, 'ram'>;

/** What a STATE frame carries. */
export interface MigratedState {
  machine: StateWithoutRam;
  /** The guest was running at the stop (false: paused by the monitor's stop; the target keeps it paused). */
  running: boolean;
  /** Each network card's backend's state, eth0 first (NetLink.saveState; null where none). */
  net: unknown[];
}

/** A snapshot-format error (ByteReader, value-codec, checkConfig) in the words of a migration. */
export function asFrameError(e: unknown, what: string): MigrationError {
  if (e instanceof MigrationError) return e;
  const message = String((e as Error)?.message ?? e).replace(/^snapshot is corrupt: /, '').replace(/^snapshot/, 'the source');
  return new MigrationError(`bad ${what} frame: ${message}`);
}

function reader(body: Uint8Array, what: string): ByteReader {
  return new ByteReader(body, 0, body.length, `the ${what} frame`);
}

// -- HELLO --

export function encodeHello(config: SnapshotConfig): Uint8Array {
  const w = new ByteWriter();
  w.bytes(MAGIC);
  w.u16(PROTOCOL_VERSION);
  encodeValue(w, config, 'configuration');
  return w.finish();
}

/** The source's configuration, after checking the magic, the version and every field. */
export function decodeHello(body: Uint8Array): SnapshotConfig {
  if (body.length < MAGIC.length + 2 || MAGIC.some((b, i) => body[i] !== b)) {
    throw new MigrationError('the source is not a webx86 migration (its first frame lacks the magic)');
  }
  const version = body[8]! | (body[9]! << 8);
  if (version !== PROTOCOL_VERSION) {
    throw new MigrationError(`the source speaks migration protocol version ${version}; this webx86 speaks version ${PROTOCOL_VERSION}`);
  }
  try {
    const r = reader(body, 'HELLO');
    r.bytes(MAGIC.length + 2);
    const config = checkConfig(decodeValue(r, { bytes: 1024 * 1024 }));
    r.expectEnd();
    return config;
  } catch (e) {
    throw asFrameError(e, 'HELLO');
  }
}

// -- ERROR --

const utf8 = new TextEncoder();

export function encodeError(reason: string): Uint8Array {
  return utf8.encode(reason.split('\n')[0]!.slice(0, 500));
}

export function decodeError(body: Uint8Array): string {
  // Only printable text reaches a message, whatever the peer sent.
  return new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(0, 500)).replace(/[^\x20-\x7e\u00a0-\uffff]/g, '?');
}

// -- PAGES --

/**
 * A PAGES frame's body for `pfns` of `ram`, as parts (the pages are copied now: the guest may
 * write them again after, and then sends them in a later round). `isZero` tells a page of zeros.
 */
export function encodePages(round: number, pfns: readonly number[], ram: Uint8Array, isZero: (pfn: number) => boolean): { parts: Uint8Array[]; zero: number } {
  const head = new Uint8Array(8 + 4 * pfns.length);
  const v = new DataView(head.buffer);
  v.setUint32(0, round, true);
  v.setUint32(4, pfns.length, true);
  let data = 0;
  const zeros = new Uint8Array(pfns.length);
  pfns.forEach((pfn, i) => { if (isZero(pfn)) zeros[i] = 1; else data++; });
  const pages = new Uint8Array(data * PAGE_SIZE);
  let at = 0;
  pfns.forEach((pfn, i) => {
    v.setUint32(8 + 4 * i, zeros[i] ? (pfn | ZERO_PAGE) >>> 0 : pfn, true);
    if (!zeros[i]) { pages.set(ram.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE), at); at += PAGE_SIZE; }
  });
  return { parts: [head, pages], zero: pfns.length - data };
}

/**
 * Write a PAGES frame's pages into `ram` (the target's, not running); checked whole before any
 * page is written. Returns the round it belongs to and the pages it held.
 */
export function applyPages(body: Uint8Array, ram: Uint8Array): { round: number; pages: number } {
  if (body.length < 8) throw new MigrationError(`bad PAGES frame: ${body.length} bytes, shorter than its header`);
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const round = v.getUint32(0, true);
  const count = v.getUint32(4, true);
  const limit = ram.length / PAGE_SIZE;
  if (count * 4 > body.length - 8) throw new MigrationError(`bad PAGES frame: it says it holds ${count} pages, its ${body.length} bytes cannot`);
  let data = 0;
  for (let i = 0; i < count; i++) {
    const e = v.getUint32(8 + 4 * i, true);
    const pfn = (e & ~ZERO_PAGE) >>> 0;
    if (pfn >= limit) throw new MigrationError(`bad PAGES frame: page ${pfn} is outside the ${limit} pages of RAM`);
    if ((e & ZERO_PAGE) === 0) data++;
  }
  const start = 8 + 4 * count;
  if (body.length - start !== data * PAGE_SIZE) {
    throw new MigrationError(`bad PAGES frame: ${data} pages of data need ${data * PAGE_SIZE} bytes, it has ${body.length - start}`);
  }
  let at = start;
  for (let i = 0; i < count; i++) {
    const e = v.getUint32(8 + 4 * i, true);
    const pfn = (e & ~ZERO_PAGE) >>> 0;
    const off = pfn * PAGE_SIZE;
    if ((e & ZERO_PAGE) !== 0) ram.fill(0, off, off + PAGE_SIZE);
    else { ram.set(body.subarray(at, at + PAGE_SIZE), off); at += PAGE_SIZE; }
  }
  return { round, pages: count };
}

// -- ROUND, DONE --

export function encodeRound(r: RoundReport): Uint8Array {
  const w = new ByteWriter();
  encodeValue(w, { ...r }, 'round');
  return w.finish();
}

const ROUND_FIELDS = ['round', 'pages', 'zeroPages', 'dirtied', 'bytes', 'ms'] as const;

export function decodeRound(body: Uint8Array): RoundReport {
  try {
    const r = reader(body, 'ROUND');
    const v = decodeValue(r, { bytes: 0 }) as Record<string, unknown>;
    r.expectEnd();
    const ok = typeof v === 'object' && v !== null && Object.keys(v).length === ROUND_FIELDS.length
      && ROUND_FIELDS.every((k) => typeof v[k] === 'number' && Number.isFinite(v[k]) && (v[k] as number) >= 0);
    if (!ok) throw new MigrationError('bad ROUND frame: it is not a round\'s figures');
    return v as unknown as RoundReport;
  } catch (e) {
    throw asFrameError(e, 'ROUND');
  }
}

export function encodeDone(loadMs: number): Uint8Array {
  const w = new ByteWriter();
  w.f64(loadMs);
  return w.finish();
}

export function decodeDone(body: Uint8Array): { loadMs: number } {
  if (body.length !== 8) throw new MigrationError(`bad DONE frame: ${body.length} bytes, not 8`);
  const loadMs = new DataView(body.buffer, body.byteOffset, 8).getFloat64(0, true);
  return { loadMs: Number.isFinite(loadMs) ? loadMs : 0 };
}

// -- STATE --

export function encodeState(m: MigratedState): Uint8Array[] {
  const s = m.machine;
  const w = new ByteWriter();
  w.u32(s.cpu.length);
  w.bytes(s.cpu);
  encodeValue(w, { clock: s.clock, irqLines: s.irqLines, devices: s.devices, a20: s.a20, running: m.running, net: m.net }, 'machine state');
  const disks = s.disks ?? [];
  w.u32(disks.length);
  for (const d of disks) encodeDisk(w, d);
  return w.chunks();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/**
 * The state in a STATE frame, its shape checked (the Machine checks the devices' states and the
 * disks against itself when it loads them). `diskBlocks` bounds the overlays' blocks in all.
 */
export function decodeState(body: Uint8Array, diskBlocks: number): MigratedState {
  try {
    const r = reader(body, 'STATE');
    const cpu = r.bytes(r.u32()).slice();
    const v = decodeValue(r, { bytes: PAYLOAD_BEYOND_RAM });
    if (!isRecord(v)) throw new MigrationError('bad STATE frame: it does not hold a machine\'s state');
    const clock = v.clock;
    const clockOk = isRecord(clock) && Number.isFinite(clock.nowNs) && Number.isFinite(clock.rate) && (clock.rate as number) > 0
      && typeof clock.seq === 'number' && Array.isArray(clock.timers) && clock.timers.every((t) => isRecord(t) && typeof t.name === 'string'
        && typeof t.armed === 'boolean' && typeof t.deadline === 'number' && !Number.isNaN(t.deadline) && typeof t.seq === 'number');
    if (!clockOk) throw new MigrationError('bad STATE frame: its clock is not a clock\'s state');
    const irqLines = v.irqLines;
    if (!Array.isArray(irqLines) || irqLines.length > MAX_IRQ_LINES || !irqLines.every((l) => typeof l === 'boolean')) {
      throw new MigrationError('bad STATE frame: its IRQ lines are not a list of levels');
    }
    const a20 = v.a20;
    if (!isRecord(a20) || typeof a20.kbc !== 'boolean' || typeof a20.fast !== 'boolean') throw new MigrationError('bad STATE frame: its A20 latches are not two flags');
    const devices = v.devices;
    if (!Array.isArray(devices) || !devices.every((d) => isRecord(d) && typeof d.name === 'string' && typeof d.version === 'number' && 'state' in d)) {
      throw new MigrationError('bad STATE frame: its devices are not a list of named, versioned states');
    }
    if (typeof v.running !== 'boolean') throw new MigrationError('bad STATE frame: it does not say whether the guest runs');
    if (!Array.isArray(v.net)) throw new MigrationError('bad STATE frame: its network backends\' state is not a list');
    const count = r.u32();
    const budget = { blocks: diskBlocks };
    const disks: SavedOverlay[] = [];
    for (let i = 0; i < count; i++) {
      const d = decodeDisk(r, budget);
      if (disks.some((o) => o.name === d.name)) throw new MigrationError(`bad STATE frame: it holds disk ${d.name} twice`);
      disks.push(d);
    }
    r.expectEnd();
    const machine: StateWithoutRam = {
      cpu, clock: clock as unknown as SavedClock, irqLines: irqLines as boolean[], devices: devices as SavedDevice[],
      a20: { kbc: a20.kbc, fast: a20.fast }, ...(count > 0 ? { disks } : {}),
    };
    return { machine, running: v.running, net: v.net };
  } catch (e) {
    throw asFrameError(e, 'STATE');
  }
}
