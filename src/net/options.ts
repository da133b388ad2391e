// The text of a `--net` option, in the spirit of QEMU's `-nic user,hostfwd=...`,
// `-netdev socket,connect=...` and `-netdev hubport,hubid=N`:
//   user[,hostfwd=RULE]...[,mac=MAC][,dump=FILE.pcap]
//   socket,connect=HOST:PORT[,mac=MAC][,dump=FILE.pcap]
//   hub[,name=NAME][,mac=MAC][,dump=FILE.pcap]
//   none
// e.g. "user,hostfwd=tcp::8080-:80,hostfwd=udp::5353-:53,dump=net.pcap". Each option but `none`
// is one network card; `none` says there is none. Parsing is kept apart from building so that
// the page and the CLI read the same syntax.
import { parseHostForward, type HostForward } from './user/hostfwd';

export interface NetSpec {
  backend: 'user' | 'socket' | 'hub' | 'none';
  hostfwd: HostForward[];
  /** socket: the switch to join (bin/webx86 switch). */
  connect?: { host: string; port: number };
  /** hub: the segment's name; this VM's cards that name the same hub share one segment (default "0"). */
  hub?: string;
  /** The card's MAC address, when not the default (VMs on one segment need different ones). */
  mac?: Uint8Array;
  /** Capture file for every frame both ways (pcap), or undefined. */
  dump?: string;
}

const BACKENDS = ['user', 'socket', 'hub', 'none'] as const;
const OPTIONS: Record<NetSpec['backend'], string> = {
  user: 'hostfwd=RULE, mac=MAC, dump=FILE.pcap',
  socket: 'connect=HOST:PORT, mac=MAC, dump=FILE.pcap',
  hub: 'name=NAME, mac=MAC, dump=FILE.pcap',
  none: 'nothing',
};

/** Parses a `--net` value; throws with the offending part named. */
export function parseNetSpec(text: string): NetSpec {
  const [backend, ...parts] = text.split(',');
  if (!(BACKENDS as readonly string[]).includes(backend!)) throw new Error(`--net: unknown backend '${backend}' (supported: ${BACKENDS.join(', ')})`);
  const spec: NetSpec = { backend: backend as NetSpec['backend'], hostfwd: [] };
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (spec.backend === 'none') throw new Error(`--net none takes no options ('${part}')`);
    if (key === 'hostfwd' && backend === 'user') spec.hostfwd.push(parseHostForward(value));
    else if (key === 'dump' && value) spec.dump = value;
    else if (key === 'mac') spec.mac = parseMac(value, '--net: mac=');
    else if (key === 'connect' && backend === 'socket') spec.connect = parseHostPort(value);
    else if (key === 'name' && backend === 'hub' && /^[\w.-]{1,32}$/.test(value)) spec.hub = value;
    else if (key === 'name' && backend === 'hub') throw new Error(`--net: hub name '${value}' is not 1 to 32 letters, digits, '_', '.' or '-'`);
    else throw new Error(`--net: unknown option '${part}' (supported: ${OPTIONS[spec.backend]})`);
  }
  if (backend === 'socket' && spec.connect === undefined) throw new Error('--net socket needs connect=HOST:PORT (a switch: bin/webx86 switch --listen PORT)');
  if (backend === 'hub') spec.hub ??= '0';
  return spec;
}

/**
 * The cards a list of `--net` values asks for, in order (eth0 first); `mac` (the `--mac`
 * option) goes to the first card unless its spec has mac=. Throws on a bad value, on `none`
 * beside a card, and on more cards than `max`.
 */
export function parseNics(texts: readonly string[], mac: string | undefined, max: number): NetSpec[] {
  const specs = texts.map(parseNetSpec);
  const none = specs.some((s) => s.backend === 'none');
  if (none && specs.length > 1) throw new Error('--net none means no network card: it goes with no other --net');
  const nics = specs.filter((s) => s.backend !== 'none');
  if (nics.length > max) throw new Error(`--net: at most ${max} network cards`);
  if (mac !== undefined) {
    const address = parseMac(mac, '--mac ');
    if (nics.length === 0) throw new Error('--mac needs a network card (--net)');
    nics[0]!.mac ??= address;
  }
  const macs = nics.filter((s) => s.mac).map((s) => macText(s.mac!));
  const twice = macs.find((m, i) => macs.indexOf(m) !== i);
  if (twice !== undefined) throw new Error(`--net: two cards have the MAC address ${twice}`);
  return nics;
}

export function macText(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function parseMac(text: string, what: string): Uint8Array {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  if (!m) throw new Error(`${what}${text} is not a MAC address like 52:54:00:12:34:57`);
  const mac = Uint8Array.from(m.slice(1).map((h) => parseInt(h, 16)));
  if (mac[0]! & 1) throw new Error(`${what}${text} is a multicast address`);
  return mac;
}

function parseHostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at < 0 || !/^\d+$/.test(text.slice(at + 1)) || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--net: connect=${text} is not HOST:PORT`);
  return { host: text.slice(0, at) || '127.0.0.1', port };
}
