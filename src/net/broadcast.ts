// A switch between browser tabs: every VM of one origin that joins the channel of the same name
// is on one Ethernet segment, a hub (hub.ts) spread over tabs. BroadcastChannel delivers each
// message to every other channel object of that name in the origin (windows and workers alike),
// never back to the sender, so a VM never hears its own frames
// (https://html.spec.whatwg.org/multipage/web-messaging.html#broadcasting-to-other-browsing-contexts).
//
// Frames are structured-cloned on the way, so the receiver gets its own copy. Messages from the
// channel are untrusted (any page of the origin may post): anything that is not a Uint8Array of
// Ethernet frame size is dropped and counted.
import { ETH_MAX_FRAME, ETH_MIN_FRAME, type NetLink } from './link';

export const CHANNEL_PREFIX = 'webx86-net-';
/** A switch name: short, and safe to show and to put in a URL. */
const NAME = /^[\w.-]{1,64}$/;

export function checkSwitchName(name: string): string {
  if (!NAME.test(name)) throw new Error(`'${name}' is not a switch name: use up to 64 letters, digits, '.', '-' or '_'`);
  return name;
}

export class BroadcastLink implements NetLink {
  onFrame: ((frame: Uint8Array) => void) | null = null;
  readonly name: string;
  sent = 0;
  received = 0;
  /** Messages that were not frames (wrong type or size). */
  dropped = 0;
  private channel: BroadcastChannel | null;

  constructor(name: string) {
    this.name = checkSwitchName(name);
    this.channel = new BroadcastChannel(CHANNEL_PREFIX + name);
    this.channel.onmessage = (ev: MessageEvent) => {
      const f: unknown = ev.data;
      if (!(f instanceof Uint8Array) || f.length < ETH_MIN_FRAME || f.length > ETH_MAX_FRAME) {
        this.dropped++;
        return;
      }
      this.received++;
      this.onFrame?.(f);
    };
  }

  send(frame: Uint8Array): void {
    if (!this.channel || frame.length < ETH_MIN_FRAME || frame.length > ETH_MAX_FRAME) return;
    this.sent++;
    // A copy of just the frame: postMessage would clone the whole buffer under a subarray.
    this.channel.postMessage(frame.slice());
  }

  close(): void {
    this.channel?.close();
    this.channel = null;
    this.onFrame = null;
  }
}
