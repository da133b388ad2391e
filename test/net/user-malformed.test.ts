// Malformed guest frames (RFC 791/768/9293 length and checksum rules, RFC 826 sizes): each is
// dropped and counted, none throws, and the stack still answers a good frame afterwards.
// A seeded fuzz run mutates good frames of every protocol the same way.
import { describe, expect, it } from 'vitest';
import type { RelayStream, TcpRelay, UdpRelay } from '../../src/net/user/relay';
import { UserNet } from '../../src/net/user/stack';
import { ACK, BCAST, eth, GUEST_MAC, GW_MAC, ipv4, SYN, tcp, udp } from './packets';

/** Relays that never touch the host: connections open at once and swallow data. */
const fakeTcp: TcpRelay = {
  connect() {
    const s: RelayStream = {
      write() {}, end() {}, close() {}, pause() {}, resume() {}, buffered: 0, onDrain: null,
      onOpen: null, onData: null, onEnd: null, onClose: null,
    };
    queueMicrotask(() => s.onOpen?.());
    return s;
  },
  listen: () => ({ close() {} }),
};
const fakeUdp: UdpRelay = { connect: () => ({ send() {}, onMessage: null, close() {} }), bind: () => ({ sendTo() {}, close() {} }) };

const arp = (target: number[]) => eth(BCAST, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...GUEST_MAC, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, ...target]);

function good(): Uint8Array[] {
  const dhcp = new Array(240).fill(0);
  dhcp.splice(0, 3, 1, 1, 6);
  dhcp.splice(236, 4, 99, 130, 83, 99);
  dhcp.push(53, 1, 1, 255);
  const dns = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 102, 111, 111, 0, 0, 1, 0, 1];
  return [
    arp([10, 0, 2, 2]),
    udp('0.0.0.0', '255.255.255.255', 68, 67, dhcp),
    udp('10.0.2.15', '10.0.2.3', 1000, 53, dns),
    udp('10.0.2.15', '192.0.2.1', 1000, 9, [1, 2, 3]),
    tcp('10.0.2.15', '10.0.2.2', { sport: 1234, dport: 80, seq: 1, ack: 0, flags: SYN, mss: 1460 }),
    tcp('10.0.2.15', '10.0.2.2', { sport: 1235, dport: 80, seq: 1, ack: 9, flags: ACK, data: [1, 2] }),
    eth(GW_MAC, 0x0800, ipv4('10.0.2.15', '10.0.2.2', 1, [8, 0, 0xf7, 0xfe, 0, 1, 0, 0])),
  ];
}

function makeNet(): { net: UserNet; out: Uint8Array[] } {
  const net = new UserNet({ tcp: fakeTcp, udp: fakeUdp, resolve: async () => ['192.0.2.9'], tcpTuning: { rtoMs: 10_000 } });
  const out: Uint8Array[] = [];
  net.onFrame = (f) => out.push(f);
  return { net, out };
}

const total = (n: UserNet) => Object.values(n.stats.dropped).reduce((a, b) => a + b, 0);

describe('user-mode stack: malformed input', () => {
  it('drops and counts truncated headers, bad lengths and bad checksums', async () => {
    const { net, out } = makeNet();
    const ipFrame = good()[3]; // UDP to 192.0.2.1
    const tcpFrame = good()[4];
    const cases: [string, Uint8Array][] = [
      ['ethernet', new Uint8Array(10)],
      ['arp', arp([10, 0, 2, 2]).subarray(0, 30)],
      ['ipv4-malformed', ipFrame.subarray(0, 14 + 19)],
      ['ipv4-malformed', (() => { const f = ipFrame.slice(); f[14] = 0x44; return f; })()], // IHL 4
      ['ipv4-malformed', (() => { const f = ipFrame.slice(); f[16] = 0xff; return f; })()], // total > frame
      ['ipv4-checksum', (() => { const f = ipFrame.slice(); f[22] ^= 1; return f; })()], // TTL changed
      ['ipv4-malformed', (() => { const f = ipFrame.slice(); f[14] = 0x65; return f; })()], // version 6
      ['udp', (() => { const f = ipFrame.slice(); f[f.length - 1] ^= 0x40; return f; })()], // payload vs UDP checksum
      ['tcp', (() => { const f = tcpFrame.slice(); f[14 + 20 + 13] = SYN | ACK; return f; })()], // flags vs checksum
      ['tcp', (() => { const f = tcpFrame.slice(); f[14 + 20 + 12] = 0xf0; return f; })()], // data offset 60 > segment
      ['ethertype', eth(GW_MAC, 0x86dd, new Array(40).fill(0))],
    ];
    for (const [reason, f] of cases) {
      const before = net.stats.dropped[reason] ?? 0;
      expect(() => net.send(f), reason).not.toThrow();
      expect(net.stats.dropped[reason], reason).toBe(before + 1);
    }
    await new Promise((r) => setTimeout(r, 0));
    expect(out).toHaveLength(0);
    net.send(arp([10, 0, 2, 2]));
    await new Promise((r) => setTimeout(r, 0));
    expect(out).toHaveLength(1);
    net.close();
  });

  it('survives a seeded fuzz run of mutated and random frames', async () => {
    const { net, out } = makeNet();
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const base = good();
    for (let i = 0; i < 20000; i++) {
      let f: Uint8Array;
      if (rand(10) === 0) {
        f = Uint8Array.from({ length: rand(120) }, () => rand(256));
      } else {
        f = base[rand(base.length)].slice();
        for (let k = rand(4) + 1; k > 0; k--) f[rand(f.length)] = rand(256);
        if (rand(4) === 0) f = f.subarray(0, rand(f.length + 1));
      }
      expect(() => net.send(f)).not.toThrow();
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(total(net)).toBeGreaterThan(15000);
    expect(out.every((f) => f.length >= 14 && f.length <= 1514)).toBe(true);
    net.close();
  });
});
