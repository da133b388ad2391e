// Live migration's framing and message bodies (src/migration/frames.ts, messages.ts): a stream cut
// anywhere gives the same frames; a truncated, corrupt, unknown or oversized frame, a peer of
// another version and bodies that lie about their sizes give one-line MigrationErrors.
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader, FrameType, joinParts, MAX_FRAME_BODY, MigrationError, type Frame } from '../../src/migration/frames.js';
import { applyPages, decodeHello, decodeRound, decodeState, encodeHello, encodePages, encodeRound, encodeState, PROTOCOL_VERSION, ZERO_PAGE } from '../../src/migration/messages.js';
import type { SnapshotConfig } from '../../src/snapshot/config.js';
import { crc32 } from '../../src/snapshot/crc32.js';

const config: SnapshotConfig = {
  memoryMiB: 16, clock: 'deterministic', apic: true, cmdline: 'console=ttyS0', noReboot: false, rng: true, jit: true,
  jitThreshold: null, nics: [], disks: 0, virtioDisks: 0, cdrom: false, drives: [], firmwareBoot: null, balloonMiB: 0,
  images: { kernel: 'a'.repeat(64), vmlinux: null, initrd: null, bios: null, vgaBios: null },
};

function bytesOf(type: FrameType, body: Uint8Array): Uint8Array {
  return joinParts(encodeFrame(type, body));
}

async function collect(reader: FrameReader, n: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for (let i = 0; i < n; i++) out.push(await reader.next());
  return out;
}

async function failure(reader: FrameReader): Promise<string> {
  try {
    await reader.next();
  } catch (e) {
    expect(e).toBeInstanceOf(MigrationError);
    const message = (e as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('the reader gave a frame where it should have failed');
}

describe('migration frames', () => {
  const a = bytesOf(FrameType.HELLO, encodeHello(config));
  const b = bytesOf(FrameType.PAGES, Uint8Array.from({ length: 5000 }, (_, i) => i * 7));
  const c = bytesOf(FrameType.READY, new Uint8Array(0));
  const stream = joinParts([a, b, c]);

  it('cuts the same three frames from a stream split at any byte, or byte by byte', async () => {
    for (const cut of [1, 15, 16, 17, a.length, a.length + 5, stream.length - 1]) {
      const r = new FrameReader('the source');
      r.push(stream.subarray(0, cut));
      r.push(stream.subarray(cut));
      const frames = await collect(r, 3);
      expect(frames.map((f) => f.type)).toEqual([FrameType.HELLO, FrameType.PAGES, FrameType.READY]);
      expect(frames[1]!.body).toEqual(b.subarray(16));
    }
    const r = new FrameReader('the source');
    for (let i = 0; i < stream.length; i++) r.push(stream.subarray(i, i + 1));
    r.end();
    expect((await collect(r, 3)).map((f) => f.body.length)).toEqual([a.length - 16, 5000, 0]);
    expect(await failure(r)).toBe('the source closed the connection');
  });

  it('a stream that ends inside a frame: named with how much of it came', async () => {
    const r = new FrameReader('the source');
    r.push(stream.subarray(0, a.length + 100));
    r.end();
    expect((await r.next()).type).toBe(FrameType.HELLO);
    expect(await failure(r)).toBe(`bad frame from the source: the stream ended inside a frame (100 of ${b.length} bytes)`);
    const h = new FrameReader('the target');
    h.push(stream.subarray(0, 5));
    h.end('ECONNRESET');
    expect(await failure(h)).toBe('bad frame from the target: the stream ended inside a frame (5 of 16 bytes) (ECONNRESET)');
  });

  it('a flipped bit in a body or a header fails the checksum; an unknown type or a huge length is refused at once', async () => {
    for (const at of [a.length + 16 + 2500, a.length + 4]) {
      const bad = stream.slice();
      bad[at] ^= 0x10;
      const r = new FrameReader('the source');
      r.push(bad);
      expect((await r.next()).type).toBe(FrameType.HELLO);
      expect(await failure(r)).toBe(at === a.length + 4
        ? 'bad frame from the source: a frame header fails its checksum (not a webx86 migration stream, or a damaged one)'
        : 'bad frame from the source: a PAGES frame of 5000 bytes fails its checksum');
    }
    const unknown = joinParts(encodeFrame(99 as FrameType, new Uint8Array(0)));
    const r = new FrameReader('the source');
    r.push(unknown);
    expect(await failure(r)).toBe('bad frame from the source: unknown frame type 99');
    const huge = c.slice();
    new DataView(huge.buffer).setUint32(4, MAX_FRAME_BODY + 1, true);
    new DataView(huge.buffer).setUint32(12, crc32(huge.subarray(0, 12)), true);
    const h = new FrameReader('the source');
    h.push(huge.subarray(0, 16)); // only the header: refused before the body could ever come
    expect(await failure(h)).toBe(`bad frame from the source: a READY frame says it holds ${MAX_FRAME_BODY + 1} bytes, more than ${MAX_FRAME_BODY}`);
    // Not webx86 at all (an HTTP request): one line.
    const http = new FrameReader('the source');
    http.push(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await failure(http)).toBe('bad frame from the source: a frame header fails its checksum (not a webx86 migration stream, or a damaged one)');
  });
});

describe('migration messages', () => {
  it('HELLO: the configuration comes back; another version or no magic is refused by name', () => {
    expect(decodeHello(encodeHello(config))).toEqual(config);
    const other = encodeHello(config);
    other[8] = PROTOCOL_VERSION + 1;
    expect(() => decodeHello(other)).toThrow(`the source speaks migration protocol version ${PROTOCOL_VERSION + 1}; this webx86 speaks version ${PROTOCOL_VERSION}`);
    const nomagic = encodeHello(config);
    nomagic[0] = 0x58;
    expect(() => decodeHello(nomagic)).toThrow('the source is not a webx86 migration (its first frame lacks the magic)');
    expect(() => decodeHello(encodeHello({ ...config, memoryMiB: -3 }))).toThrow(/^bad HELLO frame: its configuration's memoryMiB is not a whole number/);
    expect(() => decodeHello(encodeHello(config).subarray(0, 40))).toThrow(/^bad HELLO frame: the HELLO frame ends early$/);
  });

  it('PAGES: zero pages are markers; pages land where they belong; lies about counts or places are refused before anything is written', () => {
    const src = new Uint8Array(16 * 4096);
    src.fill(7, 3 * 4096, 4 * 4096);
    src.fill(9, 10 * 4096, 11 * 4096);
    const { parts, zero } = encodePages(2, [1, 3, 10], src, (pfn) => src.subarray(pfn * 4096, pfn * 4096 + 4096).every((x) => x === 0));
    expect(zero).toBe(1);
    const body = joinParts(parts);
    expect(body.length).toBe(8 + 12 + 2 * 4096);
    const dst = new Uint8Array(16 * 4096).fill(0xee);
    expect(applyPages(body, dst)).toEqual({ round: 2, pages: 3 });
    expect(dst.subarray(4096, 8192).every((x) => x === 0)).toBe(true);
    expect(dst.subarray(3 * 4096, 4 * 4096).every((x) => x === 7)).toBe(true);
    expect(dst.subarray(10 * 4096, 11 * 4096).every((x) => x === 9)).toBe(true);
    expect(dst[0]).toBe(0xee);

    const outside = body.slice();
    new DataView(outside.buffer).setUint32(8 + 4, 16, true);
    const untouched = new Uint8Array(16 * 4096);
    expect(() => applyPages(outside, untouched)).toThrow('bad PAGES frame: page 16 is outside the 16 pages of RAM');
    expect(untouched.every((x) => x === 0)).toBe(true);
    expect(() => applyPages(body.subarray(0, body.length - 1), untouched)).toThrow('bad PAGES frame: 2 pages of data need 8192 bytes, it has 8191');
    const many = body.slice();
    new DataView(many.buffer).setUint32(4, 0x4000_0000, true);
    expect(() => applyPages(many, untouched)).toThrow(/^bad PAGES frame: it says it holds 1073741824 pages/);
    const zeroMarked = body.slice();
    new DataView(zeroMarked.buffer).setUint32(8 + 8, (10 | ZERO_PAGE) >>> 0, true); // a data page now says zero: the bytes no longer add up
    expect(() => applyPages(zeroMarked, untouched)).toThrow('bad PAGES frame: 1 pages of data need 4096 bytes, it has 8192');
    expect(() => applyPages(new Uint8Array(3), untouched)).toThrow('bad PAGES frame: 3 bytes, shorter than its header');
  });

  it('ROUND and STATE: what is sent comes back; a damaged or misshapen one is refused in one line', () => {
    const round = { round: 3, pages: 100, zeroPages: 4, dirtied: 20, bytes: 409_600, ms: 12.5 };
    expect(decodeRound(encodeRound(round))).toEqual(round);
    expect(() => decodeRound(encodeRound({ ...round, ms: -1 }))).toThrow('bad ROUND frame: it is not a round\'s figures');
    const state = {
      cpu: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff),
      clock: { nowNs: 5e9, rate: 1, seq: 3, timers: [{ name: 'pit', armed: true, deadline: 6e9, seq: 2 }] },
      irqLines: [false, true, false],
      devices: [{ name: 'uart0', version: 1, state: { lsr: 0x60, fifo: new Uint8Array(16) } }],
      a20: { kbc: true, fast: false },
      disks: [{ name: 'sata0', blocks: new Map([[5, new Uint8Array(4096).fill(3)]]) }],
    };
    // A paused guest and a user network's saved connection travel with it (protocol version 2).
    const net = [{ tcp: [{ guest: '10.0.2.15', guestPort: 40000, peer: '10.0.2.2', peerPort: 8080, mac: '52:54:00:12:34:56', seq: 7, ack: 9 }] }];
    const migrated = { machine: state, running: false, net };
    const body = joinParts(encodeState(migrated as never));
    expect(decodeState(body, 10)).toEqual(migrated);
    expect(() => decodeState(body, 0)).toThrow(/^bad STATE frame: the source's disk sata0 holds 1 blocks, more than its header says|^bad STATE frame: .*disk sata0 holds 1 blocks/);
    expect(() => decodeState(body.subarray(0, body.length - 10), 10)).toThrow(/^bad STATE frame: .* ends early$/);
    const noClock = joinParts(encodeState({ ...migrated, machine: { ...state, clock: { nowNs: NaN } } } as never));
    expect(() => decodeState(noClock, 10)).toThrow('bad STATE frame: its clock is not a clock\'s state');
    const noRunState = joinParts(encodeState({ ...migrated, running: 1 } as never));
    expect(() => decodeState(noRunState, 10)).toThrow('bad STATE frame: it does not say whether the guest runs');
  });
});
