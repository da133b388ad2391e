// Node only: the link a `--net` option asks for, ready for a network device to hold.
import type { NetLink } from './link';
import type { NetSpec } from './options';
import { pcapToFile } from './pcap-file';
import { connectSocketLink } from './node-socket';
import { createNodeUserNet } from './user/node-relay';

/** The user-mode stack on the host's sockets, or a switch's port, in a capture tap when `dump` is given. */
export async function openNodeNetLink(spec: NetSpec): Promise<NetLink> {
  const link = spec.backend === 'socket'
    ? await connectSocketLink(spec.connect!.host, spec.connect!.port)
    : createNodeUserNet({ hostfwd: spec.hostfwd });
  return spec.dump ? pcapToFile(link, spec.dump) : link;
}
