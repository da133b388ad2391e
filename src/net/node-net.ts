// Node only: the links `--net` options ask for, ready for network devices to hold.
import { Hub } from './hub';
import type { NetLink } from './link';
import type { NetSpec } from './options';
import { pcapToFile } from './pcap-file';
import { connectSocketLink } from './node-socket';
import { createNodeUserNet } from './user/node-relay';

/**
 * The user-mode stack on the host's sockets, or a switch's port, or a port of one of `hubs`
 * (this VM's in-process segments by name, created on first use), in a capture tap when `dump`
 * is given.
 */
export async function openNodeNetLink(spec: NetSpec, hubs = new Map<string, Hub>()): Promise<NetLink> {
  let link: NetLink;
  if (spec.backend === 'socket') link = await connectSocketLink(spec.connect!.host, spec.connect!.port);
  else if (spec.backend === 'user') link = createNodeUserNet({ hostfwd: spec.hostfwd });
  else if (spec.backend === 'hub') {
    const name = spec.hub ?? '0';
    let hub = hubs.get(name);
    if (hub === undefined) hubs.set(name, hub = new Hub());
    link = hub.port();
  } else throw new Error('--net none has no link');
  return spec.dump ? pcapToFile(link, spec.dump) : link;
}

/** The links of several cards (parseNics), the `hub` ones of one name joined; on failure the opened ones are closed. */
export async function openNodeNics(specs: readonly NetSpec[]): Promise<NetLink[]> {
  const hubs = new Map<string, Hub>();
  const links: NetLink[] = [];
  try {
    for (const spec of specs) links.push(await openNodeNetLink(spec, hubs));
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  return links;
}
