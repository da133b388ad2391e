// Node only: Ethernet frames over TCP, between VMs in separate processes (QEMU's -netdev
// socket/stream idea). Each frame travels as a 4-byte big-endian length, then the frame. A switch
// (`bin/webx86 switch --listen PORT`) joins every connection to one hub (hub.ts); a VM joins
// with `--net socket,connect=HOST:PORT`.
import { createConnection, createServer, type Socket } from 'node:net';
import { Hub } from './hub';
import { ETH_MAX_FRAME, type NetLink } from './link';

/** A NetLink over a connected socket, with the length-prefixed framing above. */
export function socketLink(sock: Socket): NetLink {
  let pending = Buffer.alloc(0);
  const link: NetLink = {
    send: (frame) => {
      if (sock.destroyed) return;
      const head = Buffer.alloc(4);
      head.writeUInt32BE(frame.length);
      sock.write(Buffer.concat([head, Buffer.from(frame)]));
    },
    onFrame: null,
    close: () => sock.destroy(),
  };
  sock.on('data', (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 4) {
      const n = pending.readUInt32BE(0);
      // A peer that sends a length no Ethernet frame has is not speaking this protocol: hang up.
      if (n > ETH_MAX_FRAME) { sock.destroy(); return; }
      if (pending.length < 4 + n) break;
      const frame = new Uint8Array(pending.subarray(4, 4 + n));
      pending = pending.subarray(4 + n);
      link.onFrame?.(frame);
    }
  });
  sock.on('error', () => {});
  return link;
}

/** Connect to a switch; resolves once connected, rejects with a one-line reason. */
export function connectSocketLink(host: string, port: number): Promise<NetLink> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host, port });
    sock.once('connect', () => { sock.off('error', reject); sock.setNoDelay(true); resolve(socketLink(sock)); });
    sock.once('error', (e) => reject(new Error(`cannot reach the switch at ${host}:${port}: ${e.message}`)));
  });
}

export interface Switch { port: number; hub: Hub; close(): Promise<void> }

/** A switch on `port` (0: any free one) of `host`: every connection is a port of one hub. */
export function startSwitch(port: number, host = '127.0.0.1'): Promise<Switch> {
  const hub = new Hub();
  const server = createServer((sock) => {
    sock.setNoDelay(true);
    const p = hub.attach(socketLink(sock));
    sock.on('close', () => p.close());
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`switch: cannot listen on ${host}:${port}: ${e.message}`)));
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : port,
        hub,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}
