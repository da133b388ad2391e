// The hub (every frame to every other port) and the pcap tap, whose file is read back by
// tcpdump -r: the file format and every frame in it are checked by an independent reader.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Hub } from '../../src/net/hub';
import { linkPair } from '../../src/net/link';
import { PcapTap } from '../../src/net/pcap';
import { pcapToFile } from '../../src/net/pcap-file';
import { UserNet } from '../../src/net/user/stack';
import { BCAST, eth, GUEST_MAC, GW_MAC, ipv4 } from './packets';

const frame = (tag: number) => eth(BCAST, 0x88b5, new Array(46).fill(tag)); // local experimental EtherType

describe('hub', () => {
  it('repeats a frame from one of three ports to the other two, not back', () => {
    const hub = new Hub();
    const ports = [hub.port(), hub.port(), hub.port()];
    const got: number[][] = [[], [], []];
    ports.forEach((p, i) => { p.onFrame = (f) => got[i].push(f[14]); });
    ports[0].send(frame(1));
    ports[2].send(frame(3));
    expect(got).toEqual([[3], [1, 3], [1]]);
    ports[1].close();
    ports[0].send(frame(4));
    expect(got).toEqual([[3], [1, 3], [1, 4]]);
    ports[0].send(new Uint8Array(5));
    expect(hub.dropped).toBe(1);
  });

  it('joins a backend link to the segment', () => {
    const hub = new Hub();
    const [near, far] = linkPair();
    hub.attach(near);
    const a = hub.port();
    const seen: number[] = [];
    far.onFrame = (f) => { seen.push(f[14]); far.send(frame(9)); };
    let back = 0;
    a.onFrame = (f) => { back = f[14]; };
    a.send(frame(2));
    expect(seen).toEqual([2]);
    expect(back).toBe(9);
  });
});

function icmpEcho(seq: number): Uint8Array {
  const m = [8, 0, 0, 0, 0, 1, 0, seq, 1, 2, 3, 4];
  let s = 0;
  for (let i = 0; i < m.length; i += 2) s += (m[i] << 8) | m[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  m[2] = (~s >> 8) & 0xff;
  m[3] = ~s & 0xff;
  return eth(GW_MAC, 0x0800, ipv4('10.0.2.15', '10.0.2.2', 1, m));
}

describe('pcap tap', () => {
  it('writes a capture of both directions that tcpdump -r reads back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webx86-pcap-'));
    try {
      const file = join(dir, 'dump.pcap');
      const net = new UserNet();
      const tap = pcapToFile(net, file);
      const mem = new PcapTap(tap, { now: () => 1_700_000_000_123 }); // taps stack: both record
      const arp = eth(BCAST, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...GUEST_MAC, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2]);
      mem.send(arp);
      mem.send(icmpEcho(1));
      await new Promise((r) => setTimeout(r, 10));
      // Our tap saw the frames coming back through the stack too: 2 out, 2 in.
      expect(mem.count).toBe(4);
      mem.close();

      const out = execFileSync('tcpdump', ['-r', file, '-nn', '-e', '-vv'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const lines = out.trim().split('\n').filter((l) => /^\d/.test(l));
      expect(lines).toHaveLength(4);
      expect(out).toMatch(/52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff, ethertype ARP \(0x0806\).*Request who-has 10\.0\.2\.2 tell 10\.0\.2\.15/);
      expect(out).toMatch(/52:55:0a:00:02:02 > 52:54:00:12:34:56, ethertype ARP.*Reply 10\.0\.2\.2 is-at 52:55:0a:00:02:02/);
      expect(out).toMatch(/10\.0\.2\.15 > 10\.0\.2\.2: ICMP echo request, id 1, seq 1/);
      expect(out).toMatch(/10\.0\.2\.2 > 10\.0\.2\.15: ICMP echo reply, id 1, seq 1/);
      expect(out).not.toMatch(/bad cksum|incorrect|truncated/i);

      // The in-memory copy is the same format with its fixed clock; tcpdump prints that time.
      const memFile = join(dir, 'mem.pcap');
      writeFileSync(memFile, mem.bytes());
      const memOut = execFileSync('tcpdump', ['-r', memFile, '-nn', '-tt'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(memOut.split('\n')[0]).toMatch(/^1700000000\.123000 ARP/);
      expect(readFileSync(file).subarray(0, 4)).toEqual(Buffer.from([0xd4, 0xc3, 0xb2, 0xa1]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
