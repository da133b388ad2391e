// The user-mode stack (src/net/user) answering a test guest built from hand-made frames
// (packets.ts, a separate implementation): ARP for the gateway (RFC 826), a DHCP exchange as
// busybox udhcpc makes it (RFC 2131/2132), DNS (RFC 1035) through the Node resolver and a fake
// one, ICMP echo (RFC 792). Every frame the stack sends is parsed with its checksums verified.
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { createNodeUserNet, nodeResolver } from '../../src/net/user/node-relay';
import { UserNet } from '../../src/net/user/stack';
import { BCAST, eth, GUEST_MAC, GW_MAC, Inbox, ipv4, udp } from './packets';

function setup(opts: ConstructorParameters<typeof UserNet>[0] = {}) {
  const net = new UserNet(opts);
  const inbox = new Inbox();
  net.onFrame = (f) => inbox.push(f);
  return { net, inbox };
}

function arpRequest(target: string): Uint8Array {
  return eth(BCAST, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...GUEST_MAC, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, ...target.split('.').map(Number)]);
}

/** A DHCP client message as udhcpc sends it: BOOTREQUEST, xid, chaddr, cookie, options. */
function dhcp(type: number, extra: number[] = []): Uint8Array {
  const m = new Array(240).fill(0);
  m[0] = 1; m[1] = 1; m[2] = 6;
  m.splice(4, 4, 0xde, 0xad, 0xbe, 0xef);
  m.splice(28, 6, ...GUEST_MAC);
  m.splice(236, 4, 99, 130, 83, 99);
  m.push(53, 1, type, ...extra, 55, 4, 1, 3, 6, 51, 255);
  return udp('0.0.0.0', '255.255.255.255', 68, 67, m);
}

/** Options of a DHCP reply, code -> bytes. */
function dhcpOptions(data: number[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  expect(data.slice(236, 240)).toEqual([99, 130, 83, 99]);
  for (let i = 240; i < data.length && data[i] !== 255; ) {
    if (data[i] === 0) { i++; continue; }
    out.set(data[i], data.slice(i + 2, i + 2 + data[i + 1]));
    i += 2 + data[i + 1];
  }
  return out;
}

function dnsQuery(id: number, name: string, qtype = 1): number[] {
  const q = [id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of name.split('.')) q.push(l.length, ...[...l].map((c) => c.charCodeAt(0)));
  q.push(0, 0, qtype, 0, 1);
  return q;
}

describe('user-mode stack: ARP, DHCP, DNS, ICMP', () => {
  it('answers ARP who-has 10.0.2.2 and 10.0.2.3 with the gateway MAC, not other addresses', async () => {
    const { net, inbox } = setup();
    net.send(arpRequest('10.0.2.2'));
    const r = await inbox.next();
    expect(r.arp).toEqual({ op: 2, sha: GW_MAC, spa: '10.0.2.2', tha: GUEST_MAC, tpa: '10.0.2.15' });
    expect(r.dstMac).toEqual(GUEST_MAC);
    net.send(arpRequest('10.0.2.3'));
    expect((await inbox.next()).arp?.spa).toBe('10.0.2.3');
    net.send(arpRequest('10.0.2.77'));
    expect(inbox.frames).toHaveLength(0);
    expect(Array.from(net.neighbours.get(0x0a00020f)!)).toEqual(GUEST_MAC);
  });

  it('leases 10.0.2.15 by DISCOVER/OFFER/REQUEST/ACK with mask, router, DNS, lease time and server id', async () => {
    const { net, inbox } = setup();
    net.send(dhcp(1));
    const offer = await inbox.next();
    expect(offer.dstMac).toEqual(BCAST);
    expect(offer.ip).toEqual({ src: '10.0.2.2', dst: '255.255.255.255', proto: 17 });
    expect(offer.udp!.sport).toBe(67);
    expect(offer.udp!.dport).toBe(68);
    const o = offer.udp!.data;
    expect(o[0]).toBe(2); // BOOTREPLY
    expect(o.slice(4, 8)).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(o.slice(16, 20)).toEqual([10, 0, 2, 15]); // yiaddr
    expect(o.slice(28, 34)).toEqual(GUEST_MAC);
    const oo = dhcpOptions(o);
    expect(oo.get(53)).toEqual([2]);
    expect(oo.get(54)).toEqual([10, 0, 2, 2]);
    expect(oo.get(1)).toEqual([255, 255, 255, 0]);
    expect(oo.get(3)).toEqual([10, 0, 2, 2]);
    expect(oo.get(6)).toEqual([10, 0, 2, 3]);
    expect(oo.get(51)).toEqual([0, 1, 0x51, 0x80]); // 86400 s

    net.send(dhcp(3, [50, 4, 10, 0, 2, 15, 54, 4, 10, 0, 2, 2]));
    const ack = await inbox.next();
    expect(ack.udp!.data.slice(16, 20)).toEqual([10, 0, 2, 15]);
    expect(dhcpOptions(ack.udp!.data).get(53)).toEqual([5]);

    net.send(dhcp(3, [50, 4, 10, 0, 2, 99]));
    expect(dhcpOptions((await inbox.next()).udp!.data).get(53)).toEqual([6]); // NAK for a wrong address
  });

  it('resolves localhost to 127.0.0.1 through dns.promises.lookup', async () => {
    const { net, inbox } = setup({ resolve: nodeResolver });
    net.send(udp('10.0.2.15', '10.0.2.3', 40000, 53, dnsQuery(0x1234, 'localhost')));
    const r = await inbox.next();
    expect(r.ip).toMatchObject({ src: '10.0.2.3', dst: '10.0.2.15' });
    expect(r.udp).toMatchObject({ sport: 53, dport: 40000 });
    const d = r.udp!.data;
    expect(d.slice(0, 2)).toEqual([0x12, 0x34]);
    expect(d[2] & 0x80).toBe(0x80); // QR
    expect(d[3] & 0x0f).toBe(0); // NOERROR
    const an = (d[6] << 8) | d[7];
    expect(an).toBeGreaterThanOrEqual(1);
    const q = dnsQuery(0, 'localhost');
    const answer = d.slice(q.length, q.length + 16);
    expect(answer.slice(0, 2)).toEqual([0xc0, 12]);
    expect(answer.slice(2, 4)).toEqual([0, 1]);
    expect(answer.slice(12, 16)).toEqual([127, 0, 0, 1]);
  });

  it('answers NXDOMAIN, SERVFAIL and an empty AAAA answer as the resolver says', async () => {
    const { net, inbox } = setup({
      resolve: async (name) => {
        if (name === 'gone.example') return null;
        if (name === 'broken.example') throw new Error('resolver down');
        return ['192.0.2.7'];
      },
    });
    const rcode = async (name: string, qtype = 1) => {
      net.send(udp('10.0.2.15', '10.0.2.3', 40001, 53, dnsQuery(7, name, qtype)));
      const d = (await inbox.next()).udp!.data;
      return { rcode: d[3] & 0x0f, answers: (d[6] << 8) | d[7] };
    };
    expect(await rcode('gone.example')).toEqual({ rcode: 3, answers: 0 });
    expect(await rcode('broken.example')).toEqual({ rcode: 2, answers: 0 });
    expect(await rcode('ok.example', 28)).toEqual({ rcode: 0, answers: 0 });
    expect(await rcode('OK.Example')).toEqual({ rcode: 0, answers: 1 });
  });

  it('answers an ICMP echo to the gateway with the same id, sequence and data', async () => {
    const { net, inbox } = setup();
    const icmp = [8, 0, 0, 0, 0x42, 0x42, 0, 7, ...Array.from({ length: 56 }, (_, i) => i)];
    // checksum by hand: ones' complement sum of the message
    let s = 0;
    for (let i = 0; i < icmp.length; i += 2) s += (icmp[i] << 8) | icmp[i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    icmp[2] = (~s >> 8) & 0xff;
    icmp[3] = ~s & 0xff;
    net.send(eth(GW_MAC, 0x0800, ipv4('10.0.2.15', '10.0.2.2', 1, icmp)));
    const r = await inbox.next();
    expect(r.ip).toEqual({ src: '10.0.2.2', dst: '10.0.2.15', proto: 1 });
    expect(r.icmp).toEqual({ type: 0, code: 0, id: 0x4242, seq: 7, data: icmp.slice(8) });
  });

  it('relays UDP to a host echo server on the loopback (10.0.2.2) and back', async () => {
    const server = createSocket('udp4');
    server.on('message', (m, from) => server.send(Buffer.concat([Buffer.from('echo:'), m]), from.port, from.address));
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const port = server.address().port;
    const net = createNodeUserNet();
    const inbox = new Inbox();
    net.onFrame = (f) => inbox.push(f);
    try {
      net.send(udp('10.0.2.15', '10.0.2.2', 41000, port, [...Buffer.from('ping')]));
      const r = await inbox.next((x) => !!x.udp);
      expect(r.ip).toMatchObject({ src: '10.0.2.2', dst: '10.0.2.15' });
      expect(r.udp).toEqual({ sport: port, dport: 41000, data: [...Buffer.from('echo:ping')] });
      net.send(udp('10.0.2.15', '10.0.2.2', 41000, port, [...Buffer.from('again')]));
      expect((await inbox.next((x) => !!x.udp)).udp!.data).toEqual([...Buffer.from('echo:again')]);
    } finally {
      net.close();
      server.close();
    }
  });

  it('forwards UDP from a host peer into the guest and the guest\'s answer back (hostfwd=udp:...)', async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const hostPort = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    const net = createNodeUserNet({ hostfwd: [`udp:127.0.0.1:${hostPort}-:5353`] });
    const inbox = new Inbox();
    net.onFrame = (f) => inbox.push(f);
    const client = createSocket('udp4');
    try {
      net.send(eth(BCAST, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...GUEST_MAC, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2]));
      await inbox.next();
      await new Promise((r) => setTimeout(r, 30));
      const answered = new Promise<Buffer>((r) => client.once('message', (m) => r(m)));
      client.send('question', hostPort, '127.0.0.1');
      const q = await inbox.next((x) => !!x.udp);
      expect(q.ip).toMatchObject({ src: '10.0.2.2', dst: '10.0.2.15' });
      expect(q.udp!.dport).toBe(5353);
      expect(q.udp!.data).toEqual([...Buffer.from('question')]);
      net.send(udp('10.0.2.15', '10.0.2.2', 5353, q.udp!.sport, [...Buffer.from('answer')]));
      expect((await answered).toString()).toBe('answer');
    } finally {
      client.close();
      net.close();
    }
  });
});
