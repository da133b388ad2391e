// IPv4 fragments from the guest (src/net/user/ipv4-reassembly.ts) and to it, and ICMP port
// unreachable: fragmented UDP datagrams reach a real host UDP server intact whatever the order of
// their fragments; overlapping, oversized, misaligned, stale and random fragments are dropped
// without an exception and within the memory bounds; what the stack sends over the MTU (a big
// echo reply, a big datagram from a host server) comes in fragments that put together give it;
// a datagram to a closed host port comes back as ICMP port unreachable quoting it. Frames are
// built and put together by the test's own packet code (packets.ts and here).
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { Ipv4Reassembly } from '../../src/net/user/ipv4-reassembly';
import { NodeUdpRelay } from '../../src/net/user/node-relay';
import type { UdpRelay } from '../../src/net/user/relay';
import { UserNet } from '../../src/net/user/stack';
import { csum, eth, GW_MAC, Inbox, udp } from './packets';

const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];

/** One fragment: an IPv4 header with identification `id`, MF and the offset in bytes (a multiple of 8), then `data`. */
function fragment(src: number[], dst: number[], id: number, offset: number, more: boolean, data: number[], proto = 17): number[] {
  const h = [0x45, 0, ...be16(20 + data.length), ...be16(id), ...be16((more ? 0x2000 : 0) | (offset / 8)), 64, proto, 0, 0, ...src, ...dst];
  const c = csum(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return [...h, ...data];
}

/** The UDP datagram (header and data) the test's own builder makes, split into 1480-byte fragments. */
function fragments(dst: string, dport: number, id: number, data: number[], piece = 1480): number[][] {
  const whole = Array.from(udp('10.0.2.15', dst, 40000, dport, data).subarray(14 + 20));
  const out: number[][] = [];
  for (let at = 0; at < whole.length; at += piece) {
    out.push(fragment([10, 0, 2, 15], dst.split('.').map(Number), id, at, at + piece < whole.length, whole.slice(at, at + piece)));
  }
  return out;
}

const frame = (ip: number[]) => eth(GW_MAC, 0x0800, ip);
const pattern = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);

function hostServer(): Promise<{ sock: Socket; port: number; got: Buffer[] }> {
  const sock = createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  return new Promise((r) => sock.bind(0, '127.0.0.1', () => r({ sock, port: sock.address().port, got })));
}

/**
 * The test's own reassembly of the stack's fragments (all of one datagram, any order): each
 * fragment's header is checked (checksum, total length, at most 1500 bytes, 8-byte alignment),
 * and the datagram's payload is returned.
 */
function joinFragments(frames: Uint8Array[]): { proto: number; src: string; dst: string; payload: number[] } {
  const parts = frames.map((f) => {
    const ip = [...f.subarray(14)];
    expect(csum(ip.slice(0, 20))).toBe(0);
    expect(ip[2]! << 8 | ip[3]!).toBe(ip.length);
    expect(ip.length).toBeLessThanOrEqual(1500);
    const word = ip[6]! << 8 | ip[7]!;
    return { more: (word & 0x2000) !== 0, at: (word & 0x1fff) * 8, data: ip.slice(20), ip };
  }).sort((a, b) => a.at - b.at);
  const payload: number[] = [];
  for (const p of parts) {
    expect(p.at).toBe(payload.length); // no hole, no overlap
    if (p.more) expect(p.data.length % 8).toBe(0);
    payload.push(...p.data);
  }
  expect(parts.at(-1)!.more).toBe(false);
  const h = parts[0]!.ip;
  return { proto: h[9]!, src: h.slice(12, 16).join('.'), dst: h.slice(16, 20).join('.'), payload };
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('user-mode stack: IPv4 fragments and ICMP port unreachable', () => {
  it('a 4000-byte UDP datagram sent in fragments reaches a host UDP server intact, in any fragment order', async () => {
    const server = await hostServer();
    const net = new UserNet({ udp: new NodeUdpRelay() });
    const inbox = new Inbox();
    net.onFrame = (f) => inbox.push(f);
    try {
      const sent = [pattern(4000, 1), pattern(4000, 2), pattern(4000, 3), pattern(3000, 4)];
      const orders = [(f: number[][]) => f, (f: number[][]) => [...f].reverse(), (f: number[][]) => [f[1]!, f[2]!, f[0]!], (f: number[][]) => [f[2]!, f[0]!, f[1]!, f[0]!]];
      sent.forEach((data, i) => { for (const f of orders[i]!(fragments('10.0.2.2', server.port, 0x100 + i, data))) net.send(frame(f)); });
      await until(() => server.got.length === sent.length);
      expect(server.got.map((m) => [...m])).toEqual(sent);
      expect(net.stats.dropped).toEqual({});
      // The server's port is open: nothing came back unreachable.
      await new Promise((r) => setTimeout(r, 100));
      expect(inbox.all.filter((r) => r.icmp)).toEqual([]);
    } finally {
      net.close();
      server.sock.close();
    }
  });

  it('overlapping fragments discard the datagram, and its later fragments too (RFC 5722)', () => {
    const sends: number[][] = [];
    const udpRelay: UdpRelay = { connect: () => ({ send: (d) => sends.push([...d]), onMessage: null, close() {} }), bind: () => ({ sendTo() {}, close() {} }) };
    const net = new UserNet({ udp: udpRelay });
    const [f0, f1, f2] = fragments('192.0.2.1', 9, 7, pattern(4000, 5));
    // A second fragment at offset 1480 - 8, one 8-byte unit into the first.
    const whole = [...f0!.slice(20), ...f1!.slice(20)];
    const overlapping = fragment([10, 0, 2, 15], [192, 0, 2, 1], 7, 1472, true, whole.slice(1472, 1472 + 800).map((b) => b ^ 0xff));
    net.send(frame(f0!));
    net.send(frame(overlapping));
    net.send(frame(f1!));
    net.send(frame(f2!));
    expect(sends).toEqual([]);
    expect(net.stats.dropped['fragment-overlap']).toBe(1);
    expect(net.stats.dropped['fragment-discarded']).toBe(2);
    // An exact repeat is a duplicate, not an overlap: the next datagram still arrives once.
    const g = fragments('192.0.2.1', 9, 8, pattern(2000, 6));
    for (const f of [g[0]!, g[0]!, g[1]!]) net.send(frame(f));
    expect(sends).toEqual([pattern(2000, 6)]);
    net.close();
  });

  it('drops misaligned, oversized, stale and conflicting fragments', () => {
    let now = 0;
    const r = new Ipv4Reassembly({ timeoutMs: 30_000 }, () => now);
    const add = (ip: number[]) => r.add(Uint8Array.from(ip));
    const src = [10, 0, 2, 15], dst = [192, 0, 2, 1];
    // A middle fragment of 100 bytes: not a multiple of 8.
    expect(add(fragment(src, dst, 1, 0, true, pattern(100, 1)))).toBe('bad-length');
    // Ending past 65,535 bytes (offset 65,528 + 16 bytes + 20 of header): the "ping of death".
    expect(add(fragment(src, dst, 2, 65528, false, pattern(16, 1)))).toBe('too-long');
    // Two different ends for one datagram.
    expect(add(fragment(src, dst, 3, 0, true, pattern(8, 1)))).toBe('pending');
    expect(add(fragment(src, dst, 3, 16, false, pattern(8, 1)))).toBe('pending');
    expect(add(fragment(src, dst, 3, 32, false, pattern(8, 1)))).toBe('overlap');
    // Data past a known end.
    expect(add(fragment(src, dst, 4, 16, false, pattern(8, 1)))).toBe('pending');
    expect(add(fragment(src, dst, 4, 16, true, pattern(16, 1)))).toBe('overlap');
    // A datagram that does not complete in time is forgotten; its last piece then starts anew.
    expect(add(fragment(src, dst, 5, 0, true, pattern(8, 2)))).toBe('pending');
    now = 30_001;
    expect(add(fragment(src, dst, 5, 8, false, pattern(8, 2)))).toBe('pending');
    expect(r.counters.timedOut).toBeGreaterThanOrEqual(1);
    expect(r.inProgress).toBe(1);
    // A whole one comes out as one packet with a good header and no fragment bits.
    const out = add(fragment(src, dst, 5, 0, true, pattern(8, 2)));
    expect(out).toBeInstanceOf(Uint8Array);
    const p = out as Uint8Array;
    expect(p.length).toBe(36);
    expect(csum([...p.subarray(0, 20)])).toBe(0);
    expect((p[6]! << 8 | p[7]!) & 0x3fff).toBe(0);
    expect([...p.subarray(20)]).toEqual([...pattern(8, 2), ...pattern(8, 2)]);
  });

  it('holds no more than its limits, evicting the oldest datagrams', () => {
    const r = new Ipv4Reassembly({ maxQueues: 4, maxBytes: 8192 });
    for (let id = 0; id < 50; id++) {
      expect(r.add(Uint8Array.from(fragment([10, 0, 2, 15], [192, 0, 2, 1], id, 0, true, pattern(1480, id))))).toBe('pending');
      expect(r.inProgress).toBeLessThanOrEqual(4);
      expect(r.bytesHeld).toBeLessThanOrEqual(8192);
    }
    expect(r.counters.evicted).toBe(50 - 4);
    // One datagram larger than the whole budget cannot be held at all.
    const small = new Ipv4Reassembly({ maxBytes: 2000 });
    expect(small.add(Uint8Array.from(fragment([10, 0, 2, 15], [192, 0, 2, 1], 1, 0, true, pattern(1480, 1))))).toBe('pending');
    expect(small.add(Uint8Array.from(fragment([10, 0, 2, 15], [192, 0, 2, 1], 1, 1480, true, pattern(1480, 1))))).toBe('no-room');
    expect(small.bytesHeld).toBe(0);
  });

  it.each([1, 2, 3])('random fragments (seed %i): no exception, bounds kept, every datagram put out well formed', (seed) => {
    let x = seed * 2654435761;
    const rnd = (n: number) => { x = (x * 1103515245 + 12345) >>> 0; return (x >>> 8) % n; };
    const r = new Ipv4Reassembly({ maxQueues: 8, maxBytes: 64 * 1024 });
    const net = new UserNet({ udp: { connect: () => ({ send() {}, onMessage: null, close() {} }), bind: () => ({ sendTo() {}, close() {} }) } });
    for (let i = 0; i < 3000; i++) {
      const len = rnd(4) === 0 ? rnd(3000) : 8 * (1 + rnd(185));
      const ip = fragment([10, 0, 2, 15], [192, 0, 2, rnd(3)], rnd(6), 8 * rnd(rnd(2) ? 16 : 8192), rnd(3) !== 0, pattern(len, i), rnd(2) ? 17 : 6);
      const out = r.add(Uint8Array.from(ip));
      expect(r.inProgress).toBeLessThanOrEqual(8);
      expect(r.bytesHeld).toBeLessThanOrEqual(64 * 1024);
      if (out instanceof Uint8Array) {
        expect(csum([...out.subarray(0, 20)])).toBe(0);
        expect(out[2]! << 8 | out[3]!).toBe(out.length);
      }
      expect(() => net.send(frame(ip))).not.toThrow();
    }
    net.close();
  });

  it('a 4000-byte ping of the gateway, sent in fragments, is answered in fragments', async () => {
    const net = new UserNet({});
    const out: Uint8Array[] = [];
    net.onFrame = (f) => out.push(f);
    const data = pattern(4000, 11);
    const echo = [8, 0, 0, 0, 0x12, 0x34, 0, 1, ...data];
    const c = csum(echo);
    echo[2] = c >> 8;
    echo[3] = c & 0xff;
    for (let at = 0; at < echo.length; at += 1480) net.send(frame(fragment([10, 0, 2, 15], [10, 0, 2, 2], 99, at, at + 1480 < echo.length, echo.slice(at, at + 1480), 1)));
    await until(() => out.length >= 3);
    const reply = joinFragments(out);
    expect([reply.proto, reply.src, reply.dst]).toEqual([1, '10.0.2.2', '10.0.2.15']);
    expect(csum(reply.payload)).toBe(0);
    expect(reply.payload.slice(0, 2)).toEqual([0, 0]); // echo reply
    expect(reply.payload.slice(4)).toEqual(echo.slice(4)); // identifier, sequence, data
    net.close();
  });

  it('a 4000-byte datagram from a host UDP server reaches the guest in fragments', async () => {
    const server = await hostServer();
    const big = Buffer.from(pattern(4000, 12));
    server.sock.on('message', (_m, from) => server.sock.send(big, from.port, from.address));
    const net = new UserNet({ udp: new NodeUdpRelay() });
    const out: Uint8Array[] = [];
    net.onFrame = (f) => out.push(f);
    try {
      net.send(udp('10.0.2.15', '10.0.2.2', 40002, server.port, [1, 2, 3]));
      await until(() => out.length >= 3);
      const d = joinFragments(out);
      expect([d.proto, d.src, d.dst]).toEqual([17, '10.0.2.2', '10.0.2.15']);
      const u = d.payload;
      expect([u[0]! << 8 | u[1]!, u[2]! << 8 | u[3]!, u[4]! << 8 | u[5]!]).toEqual([server.port, 40002, 4008]);
      expect(csum([10, 0, 2, 2, 10, 0, 2, 15, 0, 17, ...be16(u.length), ...u])).toBe(0);
      expect(u.slice(8)).toEqual([...big]);
    } finally {
      net.close();
      server.sock.close();
    }
  });

  it('UDP to a host port where nothing listens comes back as ICMP port unreachable, quoting the datagram', async () => {
    // A port the OS just gave out and took back: nothing listens there.
    const probe = await hostServer();
    const port = probe.port;
    await new Promise<void>((r) => probe.sock.close(() => r()));
    const net = new UserNet({ udp: new NodeUdpRelay() });
    const inbox = new Inbox();
    net.onFrame = (f) => inbox.push(f);
    try {
      const f = udp('10.0.2.15', '10.0.2.2', 40001, port, pattern(50, 9));
      net.send(f);
      const icmp = await inbox.next((r) => r.icmp !== undefined);
      expect(icmp.ip).toEqual({ src: '10.0.2.2', dst: '10.0.2.15', proto: 1 });
      expect([icmp.icmp!.type, icmp.icmp!.code]).toEqual([3, 3]);
      // The quote: the datagram's IP header and the first 8 bytes after it (its UDP header).
      expect(icmp.icmp!.data).toEqual([...f.subarray(14, 14 + 28)]);
    } finally {
      net.close();
    }
  });
});
