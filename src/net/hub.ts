// A hub: one Ethernet segment shared by any number of ports, each a NetLink a device (or a
// backend's link) holds. Like a repeater hub (IEEE 802.3 clause 9), every frame goes to every
// port but the one it came from; there is no MAC learning, so guests in one process or one page
// see each other's traffic exactly as on a coaxial segment.
import { ETH_MAX_FRAME, ETH_MIN_FRAME, type NetLink } from './link';

export class Hub {
  private readonly ports = new Set<HubPort>();
  /** Frames dropped because they were shorter than a header or longer than the MTU allows. */
  dropped = 0;

  /** A new port on the segment, for a device to hold. */
  port(): NetLink {
    const p = new HubPort(this);
    this.ports.add(p);
    return p;
  }

  /**
   * Join an existing link (a backend such as the user-mode NAT) to the segment: frames on the
   * segment are sent into it, and what it delivers is repeated to the other ports.
   */
  attach(link: NetLink): NetLink {
    const p = this.port();
    p.onFrame = (f) => link.send(f);
    link.onFrame = (f) => p.send(f);
    const close = p.close.bind(p);
    p.close = () => { close(); link.onFrame = null; link.close(); };
    return p;
  }

  get size(): number {
    return this.ports.size;
  }

  /** @internal */
  repeat(from: HubPort, frame: Uint8Array): void {
    if (frame.length < ETH_MIN_FRAME || frame.length > ETH_MAX_FRAME) {
      this.dropped++;
      return;
    }
    // A copy per receiver: a receiver may keep or modify the array it is given.
    for (const p of [...this.ports]) if (p !== from) p.onFrame?.(frame.slice());
  }

  /** @internal */
  remove(p: HubPort): void {
    this.ports.delete(p);
  }
}

class HubPort implements NetLink {
  onFrame: ((frame: Uint8Array) => void) | null = null;
  private hub: Hub | null;

  constructor(hub: Hub) {
    this.hub = hub;
  }

  send(frame: Uint8Array): void {
    this.hub?.repeat(this, frame);
  }

  close(): void {
    this.hub?.remove(this);
    this.hub = null;
    this.onFrame = null;
  }
}
