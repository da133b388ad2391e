// Snapshot files of a real Machine (built from the default guest's images, not run): what a file
// holds comes back exactly, and every kind of bad file (wrong magic, other version, truncated,
// corrupt, a decompression bomb, another machine's) is a one-line SnapshotError that leaves the
// machine it was loaded into as it was.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { deflateRawSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { Machine, type MachineOptions, type MachineState } from '../../src/machine/machine.js';
import { MemoryBackend } from '../../src/storage/block.js';
import { crc32 } from '../../src/snapshot/crc32.js';
import {
  decodeSnapshot, encodeSnapshot, machineOptionsFor, restoreSnapshot, saveSnapshot, snapshotConfig, SnapshotError,
  type DecodedSnapshot, type SnapshotConfig,
} from '../../src/snapshot/snapshot.js';
import { seal, HEADER_BYTES, PAYLOAD_BEYOND_RAM } from '../../src/snapshot/container.js';
import { encodePayload } from '../../src/snapshot/sections.js';
import { guestFiles, haveBuildOutputs, IMAGES, MANIFEST } from '../images.js';

const haveImages = haveBuildOutputs('the snapshot file tests (test/snapshot)', guestFiles());
const MIB = 1024 * 1024;

function guestOptions(overrides: Partial<MachineOptions> = {}): MachineOptions {
  const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { kernel: string; initrd: string; cmdline: string };
  return {
    memoryMiB: 128,
    kernel: new Uint8Array(readFileSync(join(IMAGES, m.kernel))),
    initrd: new Uint8Array(readFileSync(join(IMAGES, m.initrd))),
    cmdline: m.cmdline,
    clock: 'deterministic',
    ...overrides,
  };
}

const make = (overrides: Partial<MachineOptions> = {}) => Machine.create(guestOptions(overrides), { onSerial: () => {} });

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/** Two states are the same: RAM by bytes (fast), the rest field for field. */
function sameState(a: MachineState, b: MachineState): boolean {
  return sameBytes(a.ram, b.ram) && isDeepStrictEqual({ ...a, ram: null }, { ...b, ram: null });
}

/** The error `p` fails with (the test fails if it does not). */
async function failure(p: Promise<unknown> | (() => unknown), what = ''): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error;
  }
  throw new Error(`expected a failure, got success ${what}`);
}

/** A SnapshotError with a one-line message matching `message`. */
function expectSnapshotError(e: Error, message: RegExp): void {
  expect(e, String(e?.stack)).toBeInstanceOf(SnapshotError);
  expect(e.message).toMatch(message);
  expect(e.message).not.toContain('\n');
}

/** `file` with a header field rewritten and the header's checksum made right again. */
function withHeaderField(file: Uint8Array, offset: number, value: number, size: 2 | 4 = 4): Uint8Array {
  const out = file.slice();
  const v = new DataView(out.buffer);
  if (size === 2) v.setUint16(offset, value, true); else v.setUint32(offset, value, true);
  v.setUint32(40, crc32(out.subarray(0, 40)), true);
  return out;
}

/** A deterministic byte generator for the damage tests (xorshift32). */
function prng(seed: number): () => number {
  let x = seed;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 2 ** 32; };
}

describe.skipIf(!haveImages)('snapshot files of a Machine', () => {
  let options: MachineOptions;
  let source: Machine;
  let state: MachineState;
  let file: Uint8Array;

  beforeAll(async () => {
    options = guestOptions();
    source = await Machine.create(options, { onSerial: () => {} });
    state = source.saveState();
    // A mark in RAM that a fresh machine does not have, so a load can be seen to change one.
    state.ram[0x7123] = 0x5a;
    file = await encodeSnapshot(state, await snapshotConfig(options));
  }, 60_000);

  it('give back the state and configuration exactly, and load into a machine built from that configuration', async () => {
    const snap = await decodeSnapshot(file);
    expect(sameState(snap.state, state)).toBe(true);
    expect(snap.config).toStrictEqual(await snapshotConfig(options));
    expect(snap.config.images.kernel).toMatch(/^[0-9a-f]{64}$/);
    expect(snap.config.images.vmlinux).toBeNull();
    expect(snap.info).toMatchObject({ formatVersion: 2, ramBytes: 128 * MIB, fileBytes: file.length });
    // A file read into part of a larger buffer (Node's readFile of a small file, a slice of a download) reads the same.
    const inside = Buffer.concat([Buffer.alloc(3, 0xee), file, Buffer.alloc(5, 0xee)]).subarray(3, 3 + file.length);
    expect(sameState((await decodeSnapshot(inside)).state, state)).toBe(true);
    // A fresh machine of the default guest is mostly zero pages: the file holds a fraction.
    expect(snap.info.pagesStored).toBeLessThan((128 * MIB) / 4096 / 4);

    const built = await Machine.create(await machineOptionsFor(snap.config, { kernel: options.kernel, initrd: options.initrd }), { onSerial: () => {} });
    expect(built.core.ram[0x7123]).toBe(0);
    restoreSnapshot(built, snap);
    expect(sameState(built.saveState(), state)).toBe(true);
  }, 60_000);

  it('saveSnapshot holds what the machine\'s saveState gives, without the balloon\'s pages; a disk written in place cannot be saved', async () => {
    const again = await saveSnapshot(source, options);
    const decoded = await decodeSnapshot(again);
    expect(sameState(decoded.state, source.saveState())).toBe(true);
    // The balloon's pages are left out (the guest gave them up: they load as zeros).
    const balloonPfn = 5000;
    source.core.ram.fill(0x33, balloonPfn * 4096, (balloonPfn + 1) * 4096);
    const isInflated = source.balloon.isInflated.bind(source.balloon);
    source.balloon.isInflated = (pfn) => pfn === balloonPfn || isInflated(pfn);
    try {
      let skipped = -1;
      const ballooned = await decodeSnapshot(await saveSnapshot(source, options, { onRamCounts: (c) => { skipped = c.skipped; } }));
      expect(skipped).toBe(1);
      expect(ballooned.state.ram.subarray(balloonPfn * 4096, (balloonPfn + 1) * 4096).every((b) => b === 0)).toBe(true);
      expect(ballooned.state.ram[balloonPfn * 4096 - 1]).toBe(source.core.ram[balloonPfn * 4096 - 1]);
      // A caller's skipPage is asked instead.
      const kept = await decodeSnapshot(await saveSnapshot(source, options, { skipPage: () => false }));
      expect(kept.state.ram[balloonPfn * 4096]).toBe(0x33);
    } finally {
      source.balloon.isInflated = isInflated;
      source.core.ram.fill(0, balloonPfn * 4096, (balloonPfn + 1) * 4096);
    }
    // A disk the guest writes in place (no overlay): its contents cannot be saved.
    const withDisk = guestOptions({ disks: [new MemoryBackend(new Uint8Array(1 * MIB))] });
    const diskMachine = await Machine.create(withDisk, { onSerial: () => {} });
    expectSnapshotError(await failure(saveSnapshot(diskMachine, withDisk)), /^cannot save this machine: disk sata0 is written in place, not through a copy-on-write overlay/);
  }, 60_000);

  it('refuse other files, other versions, truncation and damage with one line each', async () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['a PNG', Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13), /^not a webx86 snapshot/],
      ['text', new TextEncoder().encode('hello'), /^not a webx86 snapshot/],
      ['empty', new Uint8Array(0), /^snapshot is truncated: 0 bytes, shorter than its header/],
      ['version 1 (before disks)', withHeaderField(file, 8, 1, 2), /^snapshot is format version 1; this webx86 reads version 2$/],
      ['version 3', withHeaderField(file, 8, 3, 2), /^snapshot is format version 3; this webx86 reads version 2$/],
      // The version is read before the header's checksum: a later format may lay its header out otherwise.
      ['version 0, header checksum not fixed', (() => { const f = file.slice(); f[8] = 0; return f; })(), /format version 0/],
      ['half a header', file.subarray(0, 20), /^snapshot is truncated: 20 bytes, shorter than its header/],
      ['cut in the middle', file.subarray(0, file.length >> 1), new RegExp(`^snapshot is truncated: ${file.length >> 1} of its ${file.length} bytes$`)],
      ['cut by a byte', file.subarray(0, file.length - 1), /^snapshot is truncated/],
      ['a byte too many', concat(file, Uint8Array.of(0)), /^snapshot is corrupt: 1 bytes after its end$/],
      ['a byte flipped in the middle', flip(file, file.length >> 1), /^snapshot is corrupt: its contents fail their checksum$/],
      ['a byte flipped in the header', flip(file, 21), /^snapshot is corrupt: its header fails its checksum$/],
      ['another compression', withHeaderField(file, 12, 2), /unknown compression 2/],
      ['a RAM size no machine has', withHeaderField(file, 16, 5 * MIB), /RAM size 5242880 is not 8\.\.3072 MiB/],
      ['a payload larger than any state', withHeaderField(file, 20, 128 * MIB + PAYLOAD_BEYOND_RAM + 1), /more than a 128 MiB machine's state can be/],
      ['a payload size that is wrong', withHeaderField(file, 20, new DataView(file.buffer).getUint32(20, true) + 1), /decompresses to \d+ bytes, its header says/],
      ['a payload checksum that is wrong', withHeaderField(file, 24, new DataView(file.buffer).getUint32(24, true) ^ 1), /decompressed contents fail their checksum/],
    ];
    for (const [what, bytes, message] of cases) {
      const e = await failure(decodeSnapshot(bytes));
      expect(e, what).toBeInstanceOf(SnapshotError);
      expect(e.message, what).toMatch(message);
      expect(e.message, what).not.toContain('\n');
    }
  }, 120_000);

  it('stop decompressing at the size the header gives: a small file cannot fill memory', async () => {
    // 64 MiB of zeros deflate to ~64 KiB; the header says the payload is 1 MiB, for an 8 MiB machine.
    const bomb = deflateRawSync(Buffer.alloc(64 * MIB));
    const f = new Uint8Array(HEADER_BYTES + bomb.length);
    f.set(file.subarray(0, HEADER_BYTES));
    f.set(bomb, HEADER_BYTES);
    const v = new DataView(f.buffer);
    v.setUint32(16, 8 * MIB, true);
    v.setUint32(20, MIB, true);
    v.setUint32(28, bomb.length, true);
    v.setUint32(32, crc32(bomb), true);
    v.setUint32(40, crc32(f.subarray(0, 40)), true);
    expectSnapshotError(await failure(decodeSnapshot(f)), /^snapshot is corrupt: it decompresses to more than the 1048576 bytes its header says$/);
    // Not DEFLATE at all, with correct checksums.
    const junk = await seal([Uint8Array.of(1, 2, 3)], 8 * MIB);
    junk.fill(0xff, HEADER_BYTES);
    const jv = new DataView(junk.buffer);
    jv.setUint32(32, crc32(junk.subarray(HEADER_BYTES)), true);
    jv.setUint32(40, crc32(junk.subarray(0, 40)), true);
    expectSnapshotError(await failure(decodeSnapshot(junk)), /^snapshot is corrupt: its contents do not decompress/);
  }, 60_000);

  it('give only SnapshotErrors for damaged or cut contents whose checksums are right (the parsers\' own checks)', async () => {
    // A small machine's payload, damaged and then sealed with correct checksums, so that the
    // section, value and page parsers meet the damage themselves.
    const small = { ...state, ram: new Uint8Array(8 * MIB) };
    small.ram.set(state.ram.subarray(0x100000, 0x110000), 0x100000);
    const config: SnapshotConfig = { ...(await snapshotConfig(options)), memoryMiB: 8 };
    const payload = Buffer.concat(encodePayload(small, config, {}).chunks);
    const random = prng(12345);
    const outcomes = { failed: 0, loaded: 0 };
    const attempt = async (bytes: Uint8Array, what: string) => {
      try {
        await decodeSnapshot(await seal([bytes], 8 * MIB));
        outcomes.loaded++;
      } catch (e) {
        expect(e, `${what}: ${(e as Error).stack}`).toBeInstanceOf(SnapshotError);
        expect((e as Error).message).not.toContain('\n');
        // decodeSnapshot turns anything else that escapes into "cannot be read: ...": a parser
        // that let a host exception (a RangeError, a TypeError) through shows up here.
        expect((e as Error).message, what).toMatch(/^snapshot is corrupt: /);
        outcomes.failed++;
      }
    };
    for (let i = 0; i < 300; i++) {
      // Mostly the structure at the start (configuration, CPU, clock, board, the first devices).
      const at = Math.floor(random() * (i < 200 ? 6000 : payload.length));
      const damaged = Uint8Array.from(payload);
      damaged[at] = Math.floor(random() * 256);
      await attempt(damaged, `byte ${at} set to ${damaged[at]}`);
    }
    for (let i = 0; i < 100; i++) {
      const cut = Math.floor(random() * payload.length);
      const before = outcomes.failed;
      await attempt(payload.subarray(0, cut), `cut at ${cut}`);
      expect(outcomes.failed, `cut at ${cut} loaded`).toBe(before + 1);
    }
    console.log(`damaged payloads: ${JSON.stringify(outcomes)}`);
    expect(outcomes.failed).toBeGreaterThan(150);
  }, 300_000);

  it('check the clock, the board and the configuration they hold before any machine sees them', async () => {
    const config = { ...(await snapshotConfig(options)), memoryMiB: 8 };
    const small = { ...state, ram: new Uint8Array(8 * MIB) };
    const sealed = async (s: MachineState, c: SnapshotConfig = config) => seal(encodePayload(s, c, {}).chunks, 8 * MIB);
    const bad: [string, Promise<Uint8Array>, RegExp][] = [
      ['a clock without timers', sealed({ ...small, clock: { ...small.clock, timers: 'none' as never } }), /section 'CLCK' is not a clock's state/],
      ['a clock rate of 0', sealed({ ...small, clock: { ...small.clock, rate: 0 } }), /section 'CLCK' is not a clock's state/],
      ['guest time NaN', sealed({ ...small, clock: { ...small.clock, nowNs: NaN } }), /section 'CLCK' is not a clock's state/],
      ['a timer deadline of NaN', sealed({ ...small, clock: { ...small.clock, timers: [{ ...small.clock.timers[0]!, deadline: NaN }] } }), /section 'CLCK' is not a clock's state/],
      ['an IRQ line that is a number', sealed({ ...small, irqLines: [true, 1 as never] }), /section 'BORD' is not the board's state/],
      ['no A20 latches', sealed({ ...small, a20: null as never }), /section 'BORD' is not the board's state/],
      ['a clock mode that does not exist', sealed(small, { ...config, clock: 'fast' as never }), /configuration's clock is not realtime or deterministic/],
      ['a kernel hash that is not one', sealed(small, { ...config, images: { ...config.images, kernel: 'abc' } }), /configuration's images\.kernel is not a SHA-256/],
      ['a field this format does not have', sealed(small, { ...config, extra: 1 } as never), /configuration's extra is not a field this format has/],
      ['RAM that is not the header\'s', sealed(small, { ...config, memoryMiB: 16 }).catch(() => seal(encodePayload({ ...small, ram: new Uint8Array(16 * MIB) }, { ...config, memoryMiB: 16 }, {}).chunks, 8 * MIB)),
        /its header says 8388608 bytes of RAM, its configuration 16 MiB/],
      ['a device twice', sealed({ ...small, devices: [...small.devices, small.devices[0]!] }), /it has device lapic twice/],
    ];
    for (const [what, f, message] of bad) {
      const e = await failure(decodeSnapshot(await f), what);
      expect(e, what).toBeInstanceOf(SnapshotError);
      expect(e.message, what).toMatch(message);
    }
    // The sections themselves: each present once, the configuration first, RAM last, no others.
    const parts = sectionsOf(Buffer.concat(encodePayload(small, config, {}).chunks));
    const tags = parts.map((p) => p.tag);
    expect(tags.slice(0, 4)).toEqual(['CONF', 'CPU ', 'CLCK', 'BORD']);
    expect(tags.at(-1)).toBe('RAM ');
    const rebuilt = (list: typeof parts) => seal([Buffer.concat(list.map((p) => p.bytes))], 8 * MIB);
    const layouts: [string, typeof parts, RegExp][] = [
      ['nothing', [], /it holds no sections/],
      ['a tag with a newline', [parts[0]!, { tag: 'x', bytes: Uint8Array.of(0x0a, 0x41, 0x42, 0x43, 0, 0, 0, 0) }, ...parts.slice(1)], /^snapshot is corrupt: unknown section '\?ABC'$/],
      ['no CPU', parts.filter((p) => p.tag !== 'CPU '), /no 'CPU ' section/],
      ['no RAM', parts.filter((p) => p.tag !== 'RAM '), /no 'RAM ' section/],
      ['two clocks', [...parts.slice(0, 3), ...parts.slice(2)], /two 'CLCK' sections/],
      ['the configuration not first', [parts[1]!, parts[0]!, ...parts.slice(2)], /does not begin with its configuration/],
      ['a device after RAM', [...parts, parts[4]!], /a 'DEV ' section follows RAM/],
      ['a section of another kind', [...parts.slice(0, 4), { tag: 'ZZZZ', bytes: Uint8Array.of(0x5a, 0x5a, 0x5a, 0x5a, 0, 0, 0, 0) }, ...parts.slice(4)], /unknown section 'ZZZZ'/],
      ['a longer clock section', [parts[0]!, parts[1]!, grown(parts[2]!), ...parts.slice(3)], /1 unread bytes at the end of section 'CLCK'/],
      ['a section longer than the payload', [...parts.slice(0, -1), { tag: 'RAM ', bytes: parts.at(-1)!.bytes.subarray(0, parts.at(-1)!.bytes.length - 1) }], /^snapshot is corrupt: payload ends early$/],
    ];
    for (const [what, list, message] of layouts) {
      const e = await failure(decodeSnapshot(await rebuilt(list)), what);
      expect(e, what).toBeInstanceOf(SnapshotError);
      expect(e.message, what).toMatch(message);
    }
    // The parts put back together are a good file (the cases above differ only as they say).
    expect((await decodeSnapshot(await rebuilt(parts))).state.devices).toHaveLength(small.devices.length);
  }, 60_000);

  it('check the disks\' sections and identities: each bad one is a one-line error', async () => {
    const config = { ...(await snapshotConfig(options)), memoryMiB: 8, disks: 1 };
    const drive = { name: 'sata0', size: MIB, fingerprint: 'ab'.repeat(32), source: 'disk.img', readOnly: false };
    const block = (fill: number) => new Uint8Array(4096).fill(fill);
    const small: MachineState = { ...state, ram: new Uint8Array(8 * MIB), disks: [{ name: 'sata0', blocks: new Map([[3, block(1)], [7, block(2)]]) }] };
    const sealed = (s: MachineState, c: SnapshotConfig, blocks = 2) => seal(encodePayload(s, c, {}).chunks, 8 * MIB, undefined, blocks);
    // A good one first: the blocks come back.
    const good = await decodeSnapshot(await sealed(small, { ...config, drives: [drive] }));
    expect([...good.state.disks![0]!.blocks.keys()]).toEqual([3, 7]);
    expect(good.state.disks![0]!.blocks.get(7)![100]).toBe(2);
    const bad: [string, Promise<Uint8Array>, RegExp][] = [
      ['more blocks than the header says', sealed(small, { ...config, drives: [drive] }, 1), /^snapshot is corrupt: disk sata0 holds 2 blocks, more than its header says$/],
      ['blocks of a drive the configuration lacks', sealed({ ...small, disks: [...small.disks!, { name: 'sata1', blocks: new Map() }] }, { ...config, drives: [drive] }),
        /^snapshot is corrupt: it holds blocks of disk sata1, which its configuration does not have$/],
      ['no blocks section for a writable drive', sealed({ ...small, disks: [] }, { ...config, drives: [drive] }), /^snapshot is corrupt: it has no 'DISK' section for disk sata0$/],
      ['a block beyond the disk', sealed({ ...small, disks: [{ name: 'sata0', blocks: new Map([[256, block(1)]]) }] }, { ...config, drives: [drive] }),
        /^snapshot is corrupt: disk sata0 has block 256, beyond its 1048576 bytes$/],
      ['a fingerprint that is not one', sealed(small, { ...config, drives: [{ ...drive, fingerprint: 'xyz' }] }), /configuration's drives gives drive sata0 a fingerprint that is not a SHA-256$/],
      ['drives that are not the counts', sealed(small, { ...config, disks: 2, drives: [drive] }), /configuration's drives are not the configuration's 2 disks, 0 virtio disks and no CD-ROM$/],
      ['a size that is not sectors', sealed(small, { ...config, drives: [{ ...drive, size: 1000 }] }), /gives drive sata0 a size that is not whole sectors$/],
      ['a drive name no machine has', sealed(small, { ...config, drives: [{ ...drive, name: 'hda' }] }), /holds a drive with a name that is not sata0-5, vd0-3 or cdrom$/],
    ];
    for (const [what, f, message] of bad) {
      const e = await failure(decodeSnapshot(await f), what);
      expect(e, what).toBeInstanceOf(SnapshotError);
      expect(e.message, what).toMatch(message);
    }
    // A disk section of another layout version, and blocks out of order: patched in the payload.
    const payload = Buffer.concat(encodePayload(small, { ...config, drives: [drive] }, {}).chunks);
    const disk = payload.indexOf(Buffer.from('DISK'));
    const nameEnd = disk + 8 + 4 + 'sata0'.length; // tag, size, the string's length and bytes
    const versioned = Buffer.from(payload); versioned.writeUInt32LE(9, nameEnd);
    const reordered = Buffer.from(payload); reordered.writeUInt32LE(9, nameEnd + 8);
    for (const [what, bytes, message] of [
      ['disk format version 9', versioned, /^snapshot's disk sata0 is in disk format version 9; this webx86 reads version 1$/],
      ['blocks out of order', reordered, /^snapshot is corrupt: disk sata0's blocks are not in ascending order$/],
    ] as const) {
      const e = await failure(decodeSnapshot(await seal([bytes], 8 * MIB, undefined, 2)), what);
      expect(e, what).toBeInstanceOf(SnapshotError);
      expect(e.message, what).toMatch(message);
    }
  }, 60_000);

  it('refuse a machine the snapshot does not fit, and leave that machine as it was', async () => {
    const snap = await decodeSnapshot(file);
    const check = async (target: Machine, s: DecodedSnapshot, message: RegExp) => {
      const before = target.saveState();
      expectSnapshotError(await failure(() => restoreSnapshot(target, s)), message);
      expect(sameState(target.saveState(), before)).toBe(true);
    };
    await check(await make({ memoryMiB: 64 }), snap, /^snapshot is of a 128 MiB machine; this one has 64 MiB$/);
    await check(await make({ apic: false }), snap, /^snapshot is of a machine with APICs; this one is without$/);
    await check(await make({ clock: 'realtime' }), snap, /^snapshot is of a machine with a deterministic clock; this one's is realtime$/);
    const target = await make();
    const otherVersion = structuredClone(snap);
    otherVersion.state.devices.find((d) => d.name === 'pit')!.version = 99;
    await check(target, otherVersion, /^snapshot does not fit this machine: saved pit state is version 99, this machine's is 1$/);
    const noRng = structuredClone(snap);
    noRng.state.devices = noRng.state.devices.filter((d) => !d.name.startsWith('virtio-rng'));
    await check(target, noRng, /^snapshot does not fit this machine: saved state has no device virtio-rng$/);
    // And every bad file loaded through the same path changes nothing either.
    const before = target.saveState();
    for (const bad of [file.subarray(0, 1000), flip(file, 5000), withHeaderField(file, 8, 7, 2)]) {
      expect(await failure(async () => restoreSnapshot(target, await decodeSnapshot(bad)))).toBeInstanceOf(SnapshotError);
    }
    expect(sameState(target.saveState(), before)).toBe(true);
    // The good one does change it (the checks above are not vacuous).
    restoreSnapshot(target, snap);
    expect(target.core.ram[0x7123]).toBe(0x5a);
  }, 120_000);

  it('build the machine again only from the images it was saved with', async () => {
    const { config } = await decodeSnapshot(file);
    const opts = await machineOptionsFor(config, { kernel: options.kernel, initrd: options.initrd });
    expect(opts).toMatchObject({ memoryMiB: 128, clock: 'deterministic', apic: true, cmdline: options.cmdline, rng: true, nics: [] });
    // What the CLI's --balloon gives comes back too.
    const ballooned = await snapshotConfig(guestOptions({ balloonMiB: 32 }));
    expect(ballooned.balloonMiB).toBe(32);
    expect((await machineOptionsFor(ballooned, { kernel: options.kernel, initrd: options.initrd })).balloonMiB).toBe(32);
    expect(opts.kernel).toBe(options.kernel);
    const otherKernel = options.kernel!.slice();
    otherKernel[1000] ^= 1;
    expectSnapshotError(await failure(machineOptionsFor(config, { kernel: otherKernel, initrd: options.initrd })),
      /^the kernel given \(SHA-256 [0-9a-f]{16}…\) is not the one the snapshot was saved with \([0-9a-f]{16}…\)$/);
    expectSnapshotError(await failure(machineOptionsFor(config, { kernel: options.kernel })), /^snapshot needs the initrd it was saved with/);
    expectSnapshotError(await failure(machineOptionsFor(config, { kernel: options.kernel, initrd: options.initrd, links: [{ send: () => {}, onFrame: null, close: () => {} }] })),
      /^snapshot has 0 network cards; 1 links were given$/);
    // The card's MAC comes back as it was given.
    const mac = Uint8Array.of(0x52, 0x54, 0, 1, 2, 3);
    const withNic = await snapshotConfig(guestOptions({ nics: [{ link: { send: () => {}, onFrame: null, close: () => {} }, mac }, { link: { send: () => {}, onFrame: null, close: () => {} } }] }));
    expect(withNic.nics).toEqual(['52:54:00:01:02:03', null]);
    const link = { send: () => {}, onFrame: null, close: () => {} };
    const nicOpts = await machineOptionsFor(withNic, { kernel: options.kernel, initrd: options.initrd, links: [link, link] });
    expect(nicOpts.nics![0]!.mac).toStrictEqual(mac);
    expect(nicOpts.nics![1]!.mac).toBeUndefined();
  }, 60_000);
});

function flip(b: Uint8Array, at: number): Uint8Array {
  const out = b.slice();
  out[at] ^= 0x40;
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The sections of a payload: tag, and the whole section's bytes (tag and size included). */
function sectionsOf(payload: Uint8Array): { tag: string; bytes: Uint8Array }[] {
  const out = [];
  const v = new DataView(payload.buffer, payload.byteOffset, payload.length);
  for (let at = 0; at < payload.length;) {
    const end = at + 8 + v.getUint32(at + 4, true);
    out.push({ tag: String.fromCharCode(...payload.subarray(at, at + 4)), bytes: payload.subarray(at, end) });
    at = end;
  }
  return out;
}

/** A section with one byte more in its body (and its size saying so). */
function grown(p: { tag: string; bytes: Uint8Array }): { tag: string; bytes: Uint8Array } {
  const bytes = concat(p.bytes, Uint8Array.of(0));
  new DataView(bytes.buffer).setUint32(4, bytes.length - 8, true);
  return { tag: p.tag, bytes };
}
