// The text of a `--net` option, in the spirit of QEMU's `-nic user,hostfwd=...` and
// `-netdev socket,connect=...`:
//   user[,hostfwd=RULE]...[,mac=MAC][,dump=FILE.pcap]
//   socket,connect=HOST:PORT[,mac=MAC][,dump=FILE.pcap]
// e.g. "user,hostfwd=tcp::8080-:80,hostfwd=udp::5353-:53,dump=net.pcap". Parsing is kept apart
// from building so that the page and the CLI read the same syntax.
import { parseHostForward, type HostForward } from './user/hostfwd';

export interface NetSpec {
  backend: 'user' | 'socket';
  hostfwd: HostForward[];
  /** socket: the switch to join (bin/webx86 switch). */
  connect?: { host: string; port: number };
  /** The card's MAC address, when not the default (VMs on one segment need different ones). */
  mac?: Uint8Array;
  /** Capture file for every frame both ways (pcap), or undefined. */
  dump?: string;
}

/** Parses a `--net` value; throws with the offending part named. */
export function parseNetSpec(text: string): NetSpec {
  const [backend, ...parts] = text.split(',');
  if (backend !== 'user' && backend !== 'socket') throw new Error(`--net: unknown backend '${backend}' (supported: user, socket)`);
  const spec: NetSpec = { backend, hostfwd: [] };
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (key === 'hostfwd' && backend === 'user') spec.hostfwd.push(parseHostForward(value));
    else if (key === 'dump' && value) spec.dump = value;
    else if (key === 'mac') spec.mac = parseMac(value);
    else if (key === 'connect' && backend === 'socket') spec.connect = parseHostPort(value);
    else throw new Error(`--net: unknown option '${part}' (supported: ${backend === 'user' ? 'hostfwd=RULE' : 'connect=HOST:PORT'}, mac=MAC, dump=FILE.pcap)`);
  }
  if (backend === 'socket' && spec.connect === undefined) throw new Error('--net socket needs connect=HOST:PORT (a switch: bin/webx86 switch --listen PORT)');
  return spec;
}

function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  if (!m) throw new Error(`--net: mac=${text} is not a MAC address like 52:54:00:12:34:57`);
  const mac = Uint8Array.from(m.slice(1).map((h) => parseInt(h, 16)));
  if (mac[0]! & 1) throw new Error(`--net: mac=${text} is a multicast address`);
  return mac;
}

function parseHostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--net: connect=${text} is not HOST:PORT`);
  return { host: text.slice(0, at) || '127.0.0.1', port };
}
