// Node only: the link a `--net` option asks for, ready for a network device to hold.
import type { NetLink } from './link';
import type { NetSpec } from './options';
import { pcapToFile } from './pcap-file';
import { createNodeUserNet } from './user/node-relay';

/** The user-mode stack on the host's sockets, wrapped in a capture tap when `dump` is given. */
export function openNodeNetLink(spec: NetSpec): NetLink {
  const net = createNodeUserNet({ hostfwd: spec.hostfwd });
  return spec.dump ? pcapToFile(net, spec.dump) : net;
}
