// The page's network pieces that need no browser: the cross-tab switch (BroadcastChannel exists
// in Node too), the bounded capture, and the ?net= options.
import { describe, expect, it } from 'vitest';
import { BroadcastLink, CHANNEL_PREFIX } from '../../src/net/broadcast';
import { CaptureRing } from '../../src/net/capture-ring';
import { linkPair } from '../../src/net/link';
import { macText, parsePageNet, randomMac } from '../../src/net/page-options';
import { PCAP_GLOBAL_HEADER, PCAP_MAGIC, PCAP_RECORD_HEADER } from '../../src/net/pcap';

const frame = (n: number, fill = 0xab) => new Uint8Array(n).fill(fill);
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('BroadcastLink', () => {
  it('delivers a copy to every other link of the name, never back to the sender or to another name', async () => {
    const name = `test-${process.pid}`;
    const [a, b, c] = [new BroadcastLink(name), new BroadcastLink(name), new BroadcastLink(`${name}-other`)];
    const got: Record<string, Uint8Array[]> = { a: [], b: [], c: [] };
    a.onFrame = (f) => got.a.push(f);
    b.onFrame = (f) => got.b.push(f);
    c.onFrame = (f) => got.c.push(f);
    const sent = frame(60);
    a.send(sent);
    sent.fill(0); // the sender reuses its buffer: the receiver's copy is its own
    await settle();
    expect(got.a).toEqual([]);
    expect(got.c).toEqual([]);
    expect(got.b).toHaveLength(1);
    expect(got.b[0]).toEqual(frame(60));
    // Messages that are not frames (any page of the origin may post) are dropped and counted.
    const stranger = new BroadcastChannel(CHANNEL_PREFIX + name);
    stranger.postMessage('hello');
    stranger.postMessage(new Uint8Array(3));
    stranger.postMessage(new Uint8Array(2000));
    await settle();
    expect(got.b).toHaveLength(1);
    expect(b.dropped).toBe(3);
    // Closed: nothing more either way.
    b.close();
    a.send(frame(60));
    b.send(frame(60));
    await settle();
    expect(got.b).toHaveLength(1);
    expect(got.a).toEqual([]);
    for (const l of [a, c]) l.close();
    stranger.close();
  });

  it('refuses switch names it could not show or put in an address', () => {
    expect(() => new BroadcastLink('a b')).toThrow(/not a switch name/);
    expect(() => new BroadcastLink('x'.repeat(65))).toThrow(/not a switch name/);
  });
});

describe('CaptureRing', () => {
  it('keeps the newest records within its limit and is always a whole pcap file', () => {
    const ring = new CaptureRing(1000);
    const [dev, far] = linkPair();
    const tap = ring.tap(dev);
    far.onFrame = () => {};
    for (let i = 0; i < 20; i++) tap.send(frame(100, i)); // 116 bytes a record
    expect(ring.count).toBe(8);
    expect(ring.dropped).toBe(12);
    const file = ring.bytes();
    const v = new DataView(file.buffer);
    expect(v.getUint32(0, true)).toBe(PCAP_MAGIC);
    expect(file.length).toBe(PCAP_GLOBAL_HEADER + 8 * (PCAP_RECORD_HEADER + 100));
    // The first record held is frame 12, the last frame 19.
    expect(file[PCAP_GLOBAL_HEADER + PCAP_RECORD_HEADER]).toBe(12);
    expect(file[file.length - 1]).toBe(19);
  });
});

describe('page network options', () => {
  const page = 'http://127.0.0.1:5173/?x';
  const mac = Uint8Array.of(0x02, 1, 2, 3, 4, 5);
  const parse = (q: string) => parsePageNet(new URLSearchParams(q), page, mac);

  it('defaults to no network, the same-origin relay for net=user and the "default" switch for net=tabs', () => {
    expect(parse('')).toEqual({ backend: 'none' });
    expect(parse('net=user')).toEqual({ backend: 'user', wisp: 'ws://127.0.0.1:5173/wisp/', dns: { host: '1.1.1.1', port: 53 }, mac });
    expect(parse('net=tabs')).toEqual({ backend: 'tabs', name: 'default', mac });
    expect(parse('net=tabs:lab&mac=52:54:00:00:00:09')).toEqual({ backend: 'tabs', name: 'lab', mac: Uint8Array.of(0x52, 0x54, 0, 0, 0, 9) });
  });

  it('takes a relay as ws:, wss:, http(s): or a path, always ending in a slash', () => {
    expect(parse('net=user&wisp=wss://relay.example/w')).toMatchObject({ wisp: 'wss://relay.example/w/' });
    expect(parse('net=user&wisp=https://relay.example/')).toMatchObject({ wisp: 'wss://relay.example/' });
    expect(parse('net=user&wisp=/other/')).toMatchObject({ wisp: 'ws://127.0.0.1:5173/other/' });
  });

  it('says what is wrong with a value it cannot use', () => {
    expect(() => parse('net=socket')).toThrow(/net=socket is not a network this page has/);
    expect(() => parse('net=user&wisp=ftp://x/')).toThrow(/a Wisp relay is a ws: or wss: URL/);
    expect(() => parse('net=user&wisp=ws://[bad')).toThrow(/is not a URL/);
    expect(() => parse('net=user&mac=zz')).toThrow(/not a MAC address/);
    expect(() => parse('net=user&dns=a b')).toThrow(/is not a DNS server/);
    expect(() => parse('net=user&dns=1.1.1.1:0')).toThrow(/is not a DNS server/);
    expect(parse('net=user&dns=192.168.1.1:5353')).toMatchObject({ dns: { host: '192.168.1.1', port: 5353 } });
    expect(() => parse('net=tabs&wisp=ws://x/')).toThrow(/for net=user/);
    expect(() => parse('wisp=ws://x/')).toThrow(/needs a network/);
  });

  it('makes random MACs that are unicast and locally administered', () => {
    for (let i = 0; i < 50; i++) {
      const m = randomMac();
      expect(m[0]! & 0x03).toBe(0x02);
    }
    expect(macText(randomMac(() => new Uint8Array([0xff, 1, 2, 3, 4, 5])))).toBe('fe:01:02:03:04:05');
  });
});
