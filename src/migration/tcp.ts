// Live migration over TCP (Node): the monitor's `migrate tcp:HOST:PORT` connects, and
// `webx86 run --incoming tcp:[HOST:]PORT` listens for one source. The socket's own flow control
// paces the sender (write() until the kernel's buffer is full, then wait for 'drain').
import { connect, createServer, type Server, type Socket } from 'node:net';
import { FrameNotSent, FrameReader, MigrationError } from './frames.js';
import type { MigrationLink } from './link.js';

export interface TcpAddress {
  host: string;
  port: number;
}

/**
 * `tcp:HOST:PORT` (or, with `listen`, `tcp:PORT` on 127.0.0.1 and `tcp:HOST:PORT`), as QEMU
 * writes them; anything else is a one-line MigrationError.
 */
export function parseTcpAddress(spec: string, listen: boolean): TcpAddress {
  const m = /^tcp:(?:(\[[^\]]*\]|[^:]*):)?(\d{1,5})$/.exec(spec);
  const port = Number(m?.[2]);
  const host = m?.[1]?.replace(/^\[|\]$/g, '');
  const ok = m !== null && port <= 65535 && (listen ? port >= 0 : port > 0 && host !== undefined && host !== '');
  if (!ok) throw new MigrationError(`'${spec}' is not ${listen ? 'tcp:[HOST:]PORT' : 'tcp:HOST:PORT'}`);
  return { host: host || '127.0.0.1', port };
}

/** A connected socket as a migration link; `peer` names the other side in messages. */
export function socketLink(socket: Socket, peer: string): MigrationLink {
  const reader = new FrameReader(peer);
  socket.setNoDelay(true);
  socket.on('data', (d: Buffer) => reader.push(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  socket.on('end', () => reader.end());
  socket.on('error', (e: NodeJS.ErrnoException) => reader.end(e.code ?? e.message));
  socket.on('close', () => reader.end());
  return {
    reader,
    async write(parts) {
      if (socket.destroyed || !socket.writable) throw new FrameNotSent(`the connection to ${peer} is closed`);
      let full = false;
      for (const p of parts) if (p.length > 0) full = !socket.write(p) || full;
      if (full) {
        await new Promise<void>((resolve, reject) => {
          const done = () => { socket.off('drain', done); socket.off('close', closed); resolve(); };
          // Not drained: the frame's last bytes were still in this process's buffer, and went with it.
          const closed = () => { socket.off('drain', done); reject(new FrameNotSent(`the connection to ${peer} closed`)); };
          socket.on('drain', done);
          socket.once('close', closed);
        });
      }
    },
    close() {
      // Let what was written go out, then let go of the socket whatever the peer does.
      socket.end();
      setTimeout(() => socket.destroy(), 5000).unref();
    },
  };
}

/** Connect to a target; a refused or unreachable address is a one-line MigrationError. */
export function connectTcp(addr: TcpAddress, timeoutMs = 10_000): Promise<MigrationLink> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: addr.host, port: addr.port });
    const where = `${addr.host}:${addr.port}`;
    const timer = setTimeout(() => { socket.destroy(); reject(new MigrationError(`cannot connect to ${where}: no answer within ${timeoutMs / 1000} s`)); }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socketLink(socket, 'the target'));
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = e.code === 'ECONNREFUSED' ? 'connection refused (is `webx86 run --incoming` waiting there?)' : e.code ?? e.message;
      reject(new MigrationError(`cannot connect to ${where}: ${why}`));
    });
  });
}

/** Listening for one source: accept() resolves to its link; later connections are turned away. */
export interface TcpListener {
  readonly port: number;
  accept(): Promise<MigrationLink>;
  close(): void;
}

export function listenTcp(addr: TcpAddress): Promise<TcpListener> {
  return new Promise((resolve, reject) => {
    let waiting: ((s: Socket) => void) | null = null;
    const queue: Socket[] = [];
    let taken = false;
    const server: Server = createServer((socket) => {
      if (taken) { socket.destroy(); return; }
      taken = true;
      if (waiting) waiting(socket); else queue.push(socket);
    });
    server.once('error', (e: NodeJS.ErrnoException) => reject(new MigrationError(`cannot listen on ${addr.host}:${addr.port}: ${e.code ?? e.message}`)));
    server.listen(addr.port, addr.host, () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        accept: () => new Promise<MigrationLink>((done) => {
          const take = (s: Socket) => { waiting = null; done(socketLink(s, 'the source')); };
          const first = queue.shift();
          if (first) take(first); else waiting = take;
        }),
        close: () => { server.close(); },
      });
    });
  });
}
