// The Wisp relays (src/net/user/wisp-relay.ts) and the DNS client (dns-client.ts) against a real
// wisp-js server (src/net/wisp-server.ts) on loopback, in Node (wisp-js's client uses the `ws`
// package there, the browser's WebSocket in a page).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { buildQuery, parseResponse, udpResolver } from '../../src/net/user/dns-client';
import type { RelayStream } from '../../src/net/user/relay';
import { WispRelay } from '../../src/net/user/wisp-relay';
import { attachWispServer } from '../../src/net/wisp-server';
import { server as wispServer } from '@mercuryworkshop/wisp-js/server';

const port = (s: { address(): unknown }) => (s.address() as AddressInfo).port;

/** Collects a stream's events; resolves `closed` with the close error (or null for a clean close). */
function watch(s: RelayStream) {
  const got: Uint8Array[] = [];
  let opened = false;
  const closed = new Promise<Error | null>((resolve) => { s.onClose = (e) => resolve(e ?? null); });
  s.onOpen = () => { opened = true; };
  s.onData = (d) => { got.push(d.slice()); };
  return { closed, text: () => Buffer.concat(got).toString(), opened: () => opened };
}

describe('Wisp relay', () => {
  let http: Server;
  let wispUrl: string;
  let echo: TcpServer;
  let dns: UdpSocket;

  beforeAll(async () => {
    http = createHttpServer((_req, res) => res.end());
    attachWispServer(http, { path: '/', allowPrivate: true });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    wispUrl = `ws://127.0.0.1:${port(http)}/`;
    // Upper-cases what it gets, then closes when the client has sent "bye".
    echo = createTcpServer((sock) => sock.on('data', (d) => {
      sock.write(d.toString().toUpperCase());
      if (d.toString().includes('bye')) sock.end();
    }));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    // A DNS server that knows one name.
    dns = createSocket('udp4');
    dns.on('message', (q, from) => {
      const nameEnd = q.indexOf(0, 12);
      const name = q.subarray(12, nameEnd).toString('latin1');
      const known = name === '\x07example\x04test';
      const reply = Buffer.concat([q.subarray(0, nameEnd + 5), known ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]) : Buffer.alloc(0)]);
      reply.writeUInt16BE(0x8180 | (known ? 0 : 3), 2);
      reply.writeUInt16BE(known ? 1 : 0, 6);
      dns.send(reply, from.port, from.address);
    });
    await new Promise<void>((r) => dns.bind(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
    await new Promise((r) => echo.close(r));
    dns.close();
  });

  it('carries a TCP connection both ways and ends it cleanly when the host closes', async () => {
    const relay = new WispRelay(wispUrl);
    const s = relay.tcp.connect('127.0.0.1', port(echo));
    const w = watch(s);
    s.write(new TextEncoder().encode('hello bye'));
    expect(await w.closed).toBeNull();
    expect(w.opened()).toBe(true);
    expect(w.text()).toBe('HELLO BYE');
    expect(relay.status()).toMatchObject({ state: 'open', problem: null });
    relay.close();
  });

  it('holds data while paused and delivers it, then the close, on resume', async () => {
    const relay = new WispRelay(wispUrl);
    const s = relay.tcp.connect('127.0.0.1', port(echo));
    const w = watch(s);
    s.pause();
    s.write(new TextEncoder().encode('held bye'));
    let closedYet = false;
    void w.closed.then(() => { closedYet = true; });
    await new Promise((r) => setTimeout(r, 300));
    expect(w.text()).toBe('');
    expect(closedYet).toBe(false);
    s.resume();
    expect(await w.closed).toBeNull();
    expect(w.text()).toBe('HELD BYE');
    relay.close();
  });

  it('ends a connection to a closed port with an error (the guest gets a reset)', async () => {
    const closedPort = await new Promise<number>((r) => { const t = createTcpServer(); t.listen(0, '127.0.0.1', () => { const p = port(t); t.close(() => r(p)); }); });
    const relay = new WispRelay(wispUrl);
    const w = watch(relay.tcp.connect('127.0.0.1', closedPort));
    expect(await w.closed).toBeInstanceOf(Error);
    relay.close();
  });

  it('resets a connection the relay does not allow, and says so in its status', async () => {
    wispServer.options.allow_loopback_ips = false; // wisp-js's settings are process-wide
    try {
      const relay = new WispRelay(wispUrl);
      const w = watch(relay.tcp.connect('127.0.0.1', port(echo)));
      expect((await w.closed)?.message).toMatch(/does not allow this destination/);
      expect(relay.status().problem).toMatch(/^127\.0\.0\.1:\d+: the relay does not allow this destination$/);
      relay.close();
    } finally {
      wispServer.options.allow_loopback_ips = true;
    }
  });

  it('says in words that an unreachable relay is unreachable, and fails its streams', async () => {
    const deadPort = await new Promise<number>((r) => { const t = createTcpServer(); t.listen(0, '127.0.0.1', () => { const p = port(t); t.close(() => r(p)); }); });
    const relay = new WispRelay(`ws://127.0.0.1:${deadPort}/`, { retryMs: 60_000 });
    const first = watch(relay.tcp.connect('127.0.0.1', port(echo)));
    expect((await first.closed)?.message).toMatch(/cannot be reached/);
    expect(relay.status()).toMatchObject({ state: 'down', problem: expect.stringMatching(/relay ws:\/\/127\.0\.0\.1:\d+\/ cannot be reached/) });
    // Within the retry interval a new stream fails at once, without another attempt.
    const second = watch(relay.tcp.connect('127.0.0.1', port(echo)));
    expect((await second.closed)?.message).toMatch(/cannot be reached/);
    relay.close();
  });

  it('reports UDP to a closed port as unreachable, and reopens the association for the next datagram', async () => {
    const closed = createSocket('udp4');
    await new Promise<void>((r) => closed.bind(0, '127.0.0.1', r));
    const closedPort = closed.address().port;
    await new Promise<void>((r) => closed.close(() => r()));
    const relay = new WispRelay(wispUrl);
    const flow = relay.udp.connect('127.0.0.1', closedPort);
    const unreachable = new Promise<void>((r) => { flow.onUnreachable = r; });
    // Datagrams until one comes back refused (the first may be sent before the server's socket connects).
    const timer = setInterval(() => flow.send(new Uint8Array([1, 2, 3])), 100);
    await unreachable;
    clearInterval(timer);
    // Something listens there now: the next datagram goes out on a new stream and is answered.
    const echoUdp = createSocket('udp4');
    echoUdp.on('message', (m, from) => echoUdp.send(m, from.port, from.address));
    await new Promise<void>((r) => echoUdp.bind(closedPort, '127.0.0.1', r));
    const answered = new Promise<Uint8Array>((r) => { flow.onMessage = r; });
    const again = setInterval(() => flow.send(new Uint8Array([4, 5, 6])), 100);
    expect(Array.from(await answered)).toEqual([4, 5, 6]);
    clearInterval(again);
    echoUdp.close();
    flow.close();
    relay.close();
  });

  it('looks names up as DNS over the relay\'s UDP: addresses, null for NXDOMAIN, a rejection when nobody answers', async () => {
    const relay = new WispRelay(wispUrl);
    const resolve = udpResolver(relay.udp, { server: '127.0.0.1', port: port(dns), timeoutMs: 500, attempts: 2 });
    expect(await resolve('example.test')).toEqual(['192.0.2.7']);
    expect(await resolve('nothing.test')).toBeNull();
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const nobody = udpResolver(relay.udp, { server: '127.0.0.1', port: port(silent), timeoutMs: 200, attempts: 2 });
    await expect(nobody('example.test')).rejects.toThrow(/no answer/);
    silent.close();
    relay.close();
  });
});

describe('DNS client messages', () => {
  it('builds a query with one A question and refuses names DNS cannot carry', () => {
    const q = buildQuery('a.bc', 0x1234)!;
    expect(Array.from(q)).toEqual([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 2, 98, 99, 0, 0, 1, 0, 1]);
    expect(buildQuery('a..b', 1)).toBeNull();
    expect(buildQuery('x'.repeat(64), 1)).toBeNull();
  });

  it('reads A records past CNAMEs and rejects answers whose lengths run past the end', () => {
    const q = buildQuery('a.bc', 7)!;
    const cname = [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 2, 0xc0, 12];
    const a = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 10, 1, 2, 3];
    const msg = Uint8Array.from([...q, ...cname, ...a]);
    msg[2] = 0x81; msg[3] = 0x80; msg[7] = 2;
    expect(parseResponse(msg, 7)).toEqual({ rcode: 0, addresses: ['10.1.2.3'] });
    expect(parseResponse(msg, 8)).toBeNull(); // another query's answer
    expect(parseResponse(msg.subarray(0, msg.length - 2), 7)).toBeNull(); // rdata cut short
    const loop = Uint8Array.from([...msg.subarray(0, 12), 0x3f]); // a label longer than the message
    expect(parseResponse(loop, 7)).toBeNull();
  });
});
