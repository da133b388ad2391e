// The text of a `--net` option, in the spirit of QEMU's `-nic user,hostfwd=...`:
//   user[,hostfwd=RULE]...[,dump=FILE.pcap]
// e.g. "user,hostfwd=tcp::8080-:80,hostfwd=udp::5353-:53,dump=net.pcap". Parsing is kept apart
// from building so that the page and the CLI read the same syntax.
import { parseHostForward, type HostForward } from './user/hostfwd';

export interface NetSpec {
  backend: 'user';
  hostfwd: HostForward[];
  /** Capture file for every frame both ways (pcap), or undefined. */
  dump?: string;
}

/** Parses a `--net` value; throws with the offending part named. */
export function parseNetSpec(text: string): NetSpec {
  const [backend, ...parts] = text.split(',');
  if (backend !== 'user') throw new Error(`--net: unknown backend '${backend}' (supported: user)`);
  const spec: NetSpec = { backend, hostfwd: [] };
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (key === 'hostfwd') spec.hostfwd.push(parseHostForward(value));
    else if (key === 'dump' && value) spec.dump = value;
    else throw new Error(`--net: unknown option '${part}' (supported: hostfwd=RULE, dump=FILE.pcap)`);
  }
  return spec;
}
