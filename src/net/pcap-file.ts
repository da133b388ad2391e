// Node only: a capture tap that writes its pcap file as it goes (the CLI's `dump=FILE.pcap`).
// Writes are synchronous so the file is complete up to the last frame even if the process dies.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { NetLink } from './link';
import { PcapTap } from './pcap';

/** Wraps `inner` in a tap writing `path` (truncated first); closing the tap closes the file. */
export function pcapToFile(inner: NetLink, path: string): PcapTap {
  const fd = openSync(path, 'w');
  let open = true;
  const tap = new PcapTap(inner, { keep: false, sink: (bytes) => { if (open) writeSync(fd, bytes); } });
  const close = tap.close.bind(tap);
  tap.close = () => {
    close();
    if (open) closeSync(fd);
    open = false;
  };
  return tap;
}
