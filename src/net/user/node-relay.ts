// The host side of user-mode networking in Node: TCP over node:net, UDP over node:dgram, names
// through dns.promises.lookup (the same resolver the host's own programs use, /etc/hosts
// included, so `localhost` is 127.0.0.1). Not for the browser, which gets a Wisp relay.
import { createSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { connect, createServer, type Socket } from 'node:net';
import type { BoundDatagrams, HostResolver, Listener, RelayDatagrams, RelayStream, TcpRelay, UdpRelay } from './relay';
import { UserNet, type UserNetOptions } from './stack';

/** Lookup errors that mean "no such name" (NXDOMAIN) rather than "the lookup failed". */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME']);

export const nodeResolver: HostResolver = async (name) => {
  try {
    const found = await dns.lookup(name, { family: 4, all: true });
    return found.map((a) => a.address);
  } catch (e) {
    if (NO_SUCH_NAME.has((e as NodeJS.ErrnoException).code ?? '')) return null;
    throw e;
  }
};

function wrapSocket(sock: Socket, open: boolean): RelayStream {
  let done = false;
  const s: RelayStream = {
    write: (d) => { if (!done) sock.write(d); },
    end: () => { if (!done) sock.end(); },
    close: () => {
      if (done) return;
      done = true;
      sock.destroy();
    },
    pause: () => sock.pause(),
    resume: () => sock.resume(),
    get buffered() { return sock.writableLength; },
    onDrain: null,
    onOpen: null,
    onData: null,
    onEnd: null,
    onClose: null,
  };
  if (!open) sock.once('connect', () => s.onOpen?.());
  sock.on('data', (d: Buffer) => s.onData?.(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  sock.on('end', () => s.onEnd?.());
  sock.on('drain', () => s.onDrain?.());
  let error: Error | undefined;
  sock.on('error', (e) => { error = e; });
  sock.on('close', () => {
    if (done) return;
    done = true;
    s.onClose?.(error);
  });
  return s;
}

export class NodeTcpRelay implements TcpRelay {
  connect(host: string, port: number): RelayStream {
    // allowHalfOpen: the guest may keep sending after the host has closed its side (RFC 9293 3.6).
    return wrapSocket(connect({ host, port, allowHalfOpen: true, noDelay: true }), false);
  }

  listen(port: number, host: string, onAccept: (stream: RelayStream) => void): Listener {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (sock) => onAccept(wrapSocket(sock, true)));
    server.on('error', (e) => console.error(`hostfwd: cannot listen on ${host}:${port}: ${e.message}`));
    server.listen(port, host);
    return { close: () => server.close() };
  }
}

export class NodeUdpRelay implements UdpRelay {
  connect(host: string, port: number): RelayDatagrams {
    const sock = createSocket('udp4');
    let ready = false;
    let closed = false;
    const queue: Uint8Array[] = [];
    const d: RelayDatagrams = {
      send: (data) => {
        if (closed) return;
        if (ready) sock.send(data);
        else queue.push(data);
      },
      onMessage: null,
      onUnreachable: null,
      close: () => {
        if (closed) return;
        closed = true;
        sock.close();
      },
    };
    sock.on('message', (m) => d.onMessage?.(new Uint8Array(m.buffer, m.byteOffset, m.length)));
    // Port unreachable (Linux reports the ICMP error on the connected socket's next receive):
    // the socket stays open, as the port may open later. Other errors: silence, as on a lossy path.
    sock.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNREFUSED' && !closed) d.onUnreachable?.(); else d.close(); });
    sock.connect(port, host, () => {
      ready = true;
      for (const q of queue.splice(0)) if (!closed) sock.send(q);
    });
    return d;
  }

  bind(port: number, host: string, onMessage: (data: Uint8Array, host: string, port: number) => void): BoundDatagrams {
    const sock = createSocket('udp4');
    let closed = false;
    sock.on('message', (m, from) => onMessage(new Uint8Array(m.buffer, m.byteOffset, m.length), from.address, from.port));
    sock.on('error', (e) => console.error(`hostfwd: udp ${host}:${port}: ${e.message}`));
    sock.bind(port, host);
    return {
      sendTo: (data, h, p) => { if (!closed) sock.send(data, p, h); },
      close: () => {
        if (closed) return;
        closed = true;
        sock.close();
      },
    };
  }
}

/** The CLI's `--net user`: a UserNet on Node's sockets and resolver. */
export function createNodeUserNet(opts: Omit<UserNetOptions, 'tcp' | 'udp' | 'resolve'> = {}): UserNet {
  return new UserNet({ ...opts, tcp: new NodeTcpRelay(), udp: new NodeUdpRelay(), resolve: nodeResolver });
}
