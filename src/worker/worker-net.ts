// The VM worker's network: builds the link the page's choice (src/net/page-options.ts) asks for,
// wraps it in a bounded capture, and describes its state in words for the page's status line.
//   user: UserNet (src/net/user/stack.ts) on a Wisp relay's TCP and UDP, names looked up by
//         DNS over the relay's UDP (src/net/user/dns-client.ts)
//   tabs: a BroadcastChannel switch shared with other tabs of the site (src/net/broadcast.ts)
// The link lives as long as one machine; the capture outlives it so it can still be downloaded
// after the machine stopped.
import { BroadcastLink } from '../net/broadcast.js';
import { CaptureRing } from '../net/capture-ring.js';
import type { NetLink } from '../net/link.js';
import { macText, type PageNet } from '../net/page-options.js';
import type { PcapTap } from '../net/pcap.js';
import { udpResolver } from '../net/user/dns-client.js';
import { UserNet } from '../net/user/stack.js';
import { WispRelay } from '../net/user/wisp-relay.js';

export interface WorkerNetStatus {
  backend: 'user' | 'tabs';
  mac: string;
  /** One line for the status bar, e.g. "net: user via ws://host/wisp/ (connected)". */
  summary: string;
  /** Set when something is wrong that the user should know (relay unreachable, refused ...). */
  trouble: string | null;
  /** Frames from and to the guest's card. */
  framesOut: number;
  framesIn: number;
  capture: { frames: number; bytes: number; dropped: number };
}

export class WorkerNet {
  readonly mac: Uint8Array;
  readonly capture = new CaptureRing();
  readonly link: NetLink;
  private readonly tap: PcapTap;
  private readonly relay: WispRelay | null = null;
  private readonly tabs: BroadcastLink | null = null;
  private framesOut = 0;
  private framesIn = 0;
  private closed = false;

  constructor(private readonly choice: Exclude<PageNet, { backend: 'none' }>) {
    this.mac = choice.mac.slice();
    let inner: NetLink;
    if (choice.backend === 'user') {
      this.relay = new WispRelay(choice.wisp);
      inner = new UserNet({
        tcp: this.relay.tcp,
        udp: this.relay.udp,
        resolve: udpResolver(this.relay.udp, { server: choice.dns.host, port: choice.dns.port }),
      });
    } else {
      this.tabs = new BroadcastLink(choice.name);
      inner = this.tabs;
    }
    this.tap = this.capture.tap(inner);
    // The link for the Machine's virtio-net card, counting frames as they pass.
    const link: NetLink = {
      send: (frame) => {
        this.framesOut++;
        this.tap.send(frame);
      },
      onFrame: null,
      close: () => this.close(),
      // The backend's state (the user network's open connections) goes with a snapshot or a
      // migration, and a restored backend tells the guest what did not come along (NetLink).
      saveState: () => this.tap.saveState?.() ?? null,
      restored: (saved) => this.tap.restored?.(saved) ?? null,
    };
    this.tap.onFrame = (frame) => {
      this.framesIn++;
      link.onFrame?.(frame);
    };
    this.link = link;
  }

  /** Detach from the relay or the switch; the capture stays for download. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tap.close();
    this.relay?.close();
  }

  status(): WorkerNetStatus {
    let summary: string;
    let trouble: string | null = null;
    if (this.relay) {
      const r = this.relay.status();
      const state = this.closed ? 'closed'
        : r.state === 'idle' ? 'not used yet'
        : r.state === 'connecting' ? 'connecting'
        : r.state === 'open' ? `connected, ${r.streams} stream${r.streams === 1 ? '' : 's'}`
        : 'unreachable';
      summary = `net: user via ${r.url} (${state})`;
      trouble = r.problem;
    } else {
      summary = `net: tabs switch "${this.choice.backend === 'tabs' ? this.choice.name : ''}"${this.closed ? ' (closed)' : ''}`;
    }
    return {
      backend: this.choice.backend,
      mac: macText(this.mac),
      summary,
      trouble,
      framesOut: this.framesOut,
      framesIn: this.framesIn,
      capture: { frames: this.capture.count, bytes: this.capture.size, dropped: this.capture.dropped },
    };
  }
}
