// The user-mode stack across a restore (src/net/user/restore.ts), with the guest played from
// hand-made segments (packets.ts) and a real host TCP server: a connection is established and
// carries bytes; the stack's saved state names it; a fresh stack given that state resets it to
// the guest at once, at our next sequence number, from the guest's MAC learnt from the state
// (no ARP first); a guest that expected less answers with a challenge ACK (RFC 5961), which the
// fresh stack answers with a reset at exactly its number. The old stack, told its guest was
// replaced (a monitor loadvm), drops its own connections without a word to the guest.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeUserNet } from '../../src/net/user/node-relay';
import { savedConnections } from '../../src/net/user/restore';
import type { UserNet } from '../../src/net/user/stack';
import { ACK, GUEST_MAC, Inbox, PSH, RST, SYN, tcp } from './packets';

const GUEST = '10.0.2.15';
const GW = '10.0.2.2';
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function startNet(): { net: UserNet; inbox: Inbox } {
  const net = createNodeUserNet({ tcpTuning: { rtoMs: 150 } });
  const inbox = new Inbox();
  net.onFrame = (f) => inbox.push(f);
  cleanups.push(() => net.close());
  return { net, inbox };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('user-mode stack: a restore resets the guest\'s saved connections', () => {
  it('saves an established connection and a fresh stack resets it to the guest; a challenge ACK gets the exact reset', async () => {
    const host: { side: Socket | null } = { side: null };
    const server: Server = createServer((s) => { host.side = s; s.on('error', () => {}); s.resume(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const port = (server.address() as { port: number }).port;

    const { net, inbox } = startNet();
    const sport = 41000;
    let seq = 5000;
    net.send(tcp(GUEST, GW, { sport, dport: port, seq, ack: 0, flags: SYN, mss: 1460 }));
    const synAck = await inbox.next((r) => !!r.tcp);
    seq++;
    let rcvNxt = (synAck.tcp!.seq + 1) >>> 0;
    net.send(tcp(GUEST, GW, { sport, dport: port, seq, ack: rcvNxt, flags: ACK }));
    // The guest says something; the host answers 7 bytes, which the guest takes.
    net.send(tcp(GUEST, GW, { sport, dport: port, seq, ack: rcvNxt, flags: ACK | PSH, data: [...Buffer.from('hi\n')] }));
    seq += 3;
    while (host.side === null) await wait(10);
    host.side.write('answer\n');
    const data = await inbox.next((r) => !!r.tcp && r.tcp.data.length > 0);
    expect(Buffer.from(data.tcp!.data).toString()).toBe('answer\n');
    rcvNxt = (rcvNxt + 7) >>> 0;
    net.send(tcp(GUEST, GW, { sport, dport: port, seq, ack: rcvNxt, flags: ACK }));
    await wait(20);

    const saved = net.saveState();
    expect(savedConnections(saved)).toEqual([{
      guest: GUEST, guestPort: sport, peer: GW, peerPort: port,
      mac: GUEST_MAC.map((b) => b.toString(16).padStart(2, '0')).join(':'), seq: rcvNxt, ack: seq,
    }]);

    // A fresh stack (another process), which has never heard the guest.
    const fresh = startNet();
    expect(fresh.net.restored(saved)).toBe(`user network: reset 1 TCP connection the guest had open when it was saved (${GUEST}:${sport} - ${GW}:${port}): the host sockets behind them are gone`);
    const rst = await fresh.inbox.next((r) => !!r.tcp);
    expect(rst.dstMac).toEqual(GUEST_MAC); // no ARP first
    expect(rst.ip).toMatchObject({ src: GW, dst: GUEST });
    expect(rst.tcp).toMatchObject({ sport: port, dport: sport, seq: rcvNxt, ack: seq, flags: RST | ACK });
    expect(fresh.net.resetAfterRestore).toBe(1);

    // A guest that had received less (frames lost at the save) answers with a challenge ACK at
    // its own number: the fresh stack resets there exactly.
    const behind = (rcvNxt - 4) >>> 0;
    fresh.net.send(tcp(GUEST, GW, { sport, dport: port, seq, ack: behind, flags: ACK }));
    const exact = await fresh.inbox.next((r) => !!r.tcp);
    expect(exact.tcp).toMatchObject({ sport: port, dport: sport, seq: behind, flags: RST });

    // Nothing saved, or something that is not a stack's state: nothing to do, nothing sent.
    const other = startNet();
    expect(other.net.restored(null)).toBeNull();
    expect(other.net.restored({ tcp: [{ guest: 'x' }] })).toBeNull();
    await wait(20);
    expect(other.inbox.all.length).toBe(0);

    // The old stack told its guest state was replaced: its connection goes, the host socket closes, the guest hears nothing.
    const closed = new Promise<void>((r) => host.side!.on('close', () => r()));
    const before = inbox.all.length;
    expect(net.restored(null)).toBeNull();
    await closed;
    await wait(20);
    expect(net.connections.length).toBe(0);
    expect(inbox.all.length).toBe(before);
  });
});
