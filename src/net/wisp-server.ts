// Node only: a Wisp relay (@mercuryworkshop/wisp-js's server) on an existing HTTP server's
// WebSocket upgrades, at one path. vite.config.ts puts it on the dev and preview servers at
// /wisp/, so the page's `?net=user` reaches it same-origin with no port of its own; tests put it
// on a server of their own.
//
// Whether guests may reach the host's loopback and private networks (10.0.2.2 is the host's
// 127.0.0.1, as in QEMU and the CLI) is the caller's choice. Note that wisp-js keeps its settings
// in one module-global object: every relay in a process shares them, the last set wins.
//
// A WebSocket is not bound by the same-origin policy: any site the user visits could open one
// to ws://localhost:5173/wisp/ and, through it, reach the user's own loopback services. So a
// browser's upgrade is accepted only when its Origin is the server's own host; clients that send
// no Origin (command-line tools, tests) are not browsers visiting other sites.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { logging, server as wisp } from '@mercuryworkshop/wisp-js/server';

export interface WispServerOptions {
  /** The URL path that speaks Wisp; must end in '/' (wisp-js's rule for a Wisp endpoint). */
  path: string;
  /** Let guests reach loopback and private addresses (the host's own services, the LAN). */
  allowPrivate: boolean;
  /** Accept browsers from these origins besides the server's own (e.g. another dev server). */
  origins?: string[];
}

/** What a Node HTTP(S) server offers that the relay needs: its upgrade requests. */
export interface UpgradeSource {
  on(event: 'upgrade', listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  off(event: 'upgrade', listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
}

/** Starts answering Wisp on `http`'s upgrades at `opts.path`; returns a function that stops it. */
export function attachWispServer(http: UpgradeSource, opts: WispServerOptions): () => void {
  if (!opts.path.startsWith('/') || !opts.path.endsWith('/')) throw new Error(`a Wisp path starts and ends with '/' (got ${opts.path})`);
  wisp.options.allow_loopback_ips = opts.allowPrivate;
  wisp.options.allow_private_ips = opts.allowPrivate;
  wisp.options.allow_udp_streams = true;
  logging.set_level(logging.WARN); // not a line per connection in the dev server's console
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== opts.path) return; // Vite's HMR socket and others
    const origin = req.headers.origin;
    if (origin !== undefined && !sameHost(origin, req.headers.host) && !(opts.origins ?? []).includes(origin)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nThis Wisp relay serves its own pages only.\n');
      return;
    }
    wisp.routeRequest(req, socket, head);
  };
  http.on('upgrade', onUpgrade);
  return () => { http.off('upgrade', onUpgrade); };
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Addresses a server listening only on them is reachable from this machine alone. */
export function isLoopbackHost(host: string | boolean | undefined): boolean {
  return host === undefined || host === 'localhost' || host === '::1' || (typeof host === 'string' && host.startsWith('127.'));
}
