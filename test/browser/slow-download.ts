// What the browser tests of a guest's open TCP connection share (snapshot-net.test.ts,
// migrate-net.test.ts): a Vite dev server (whose /wisp/ relay carries the page's ?net=user),
// Chromium, and an HTTP server of the test whose /slow sends headers and a little of a body and
// then nothing, so the guest's wget waits in read() on a connection that stays open; any other
// path answers "small-ok".
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Browser } from 'playwright-core';
import { startDevRig } from './tabs';

export interface SlowDownloadRig {
  /** The dev server's URL. */
  base: string;
  browser: Browser;
  /** The HTTP server's port (the guest reaches the host as 10.0.2.2). */
  filePort: number;
  /** The sockets of /slow requests: open until the peer closes them. */
  slow: { socket: Socket; closed: boolean }[];
  close(): Promise<void>;
}

export async function startSlowDownloadRig(): Promise<SlowDownloadRig> {
  const rig = await startDevRig();
  const slow: SlowDownloadRig['slow'] = [];
  const files: Server = createHttpServer((req, res) => {
    if (req.url === '/slow') {
      // A megabyte promised, a little sent, the rest never: the guest's wget waits in read().
      const entry = { socket: req.socket, closed: false };
      slow.push(entry);
      req.socket.on('close', () => { entry.closed = true; });
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(1 << 20) });
      res.write(Buffer.alloc(1000, 0x61));
      return;
    }
    res.setHeader('Content-Type', 'text/plain');
    res.end('small-ok\n');
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  return {
    base: rig.base,
    browser: rig.browser,
    filePort: (files.address() as AddressInfo).port,
    slow,
    async close() {
      files.closeAllConnections();
      await new Promise((r) => files.close(r));
      await rig.close();
    },
  };
}

/** Wait (host time) until `test` holds. */
export async function until(test: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
