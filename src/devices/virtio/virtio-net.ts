// virtio-net (virtio 1.1 §5.1) with one receive and one transmit queue: a MAC address, link
// status, and checksum offload for what the guest sends (VIRTIO_NET_F_CSUM: the guest may leave a
// TCP/UDP checksum for the device to finish, §5.1.6.2). No segmentation offload is offered, so
// every frame is at most an Ethernet frame (1514 bytes without FCS). Frames go to and come from a
// NetLink (src/net/link.ts) the Machine gives; frames that arrive before the guest has posted
// receive buffers wait in a bounded backlog.

import { ETH_MAX_FRAME, ETH_MIN_FRAME } from '../../net/link.js';
import { VirtioPci, type VirtioPciOptions } from './virtio-pci.js';

export const VIRTIO_ID_NET = 1;
const F_CSUM = 0;
const F_MAC = 5;
const F_STATUS = 16;
const RXQ = 0, TXQ = 1;
export const VIRTIO_NET_QUEUE_SIZE = 256;
/** struct virtio_net_hdr with num_buffers, which VIRTIO_F_VERSION_1 always has (§5.1.6). */
const HDR_BYTES = 12;
const HDR_F_NEEDS_CSUM = 1;
/** Config: mac[6], status (le16) (§5.1.4). */
const CONFIG_SIZE = 8;
const STATUS_LINK_UP = 1;
/** Frames kept for the guest while it has no receive buffer; older ones are dropped first. */
const BACKLOG_FRAMES = 256;
const CLASS_NETWORK_ETHERNET = 0x020000;

export interface VirtioNetOptions extends VirtioPciOptions {
  /** The NIC's MAC address (6 bytes). */
  mac: Uint8Array;
  /** A frame the guest sent (no virtio header, no FCS). */
  send: (frame: Uint8Array) => void;
}

export interface NetState { linkUp: boolean; backlog: number[][] }

export class VirtioNet extends VirtioPci<NetState> {
  readonly net = { sent: 0, received: 0, dropped: 0, badFrames: 0, checksums: 0, bytesSent: 0, bytesReceived: 0 };
  private readonly mac: Uint8Array;
  private readonly sendFrame: (frame: Uint8Array) => void;

  constructor(opts: VirtioNetOptions) {
    super('virtio-net', {
      virtioId: VIRTIO_ID_NET, classCode: CLASS_NETWORK_ETHERNET, queueMax: [VIRTIO_NET_QUEUE_SIZE, VIRTIO_NET_QUEUE_SIZE],
      configSize: CONFIG_SIZE, features: (1 << F_CSUM) | (1 << F_MAC) | (1 << F_STATUS),
    }, opts);
    if (opts.mac.length !== 6) throw new RangeError('a MAC address is 6 bytes');
    this.mac = opts.mac.slice();
    this.sendFrame = opts.send;
  }

  protected freshDeviceState(): NetState { return { linkUp: true, backlog: [] }; }
  /** The cable stays plugged in across a driver's reset. */
  protected override keptOverReset(previous: NetState): NetState { return { linkUp: previous.linkUp, backlog: [] }; }

  protected deviceConfigRead(offset: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const b = at < 6 ? this.mac[at]! : at === 6 ? (this.vio.device.linkUp ? STATUS_LINK_UP : 0) : 0;
      v |= b << (8 * i);
    }
    return v >>> 0;
  }

  /** Plug the cable in or pull it out: the guest hears of it through a config interrupt (§5.1.4). */
  setLink(up: boolean): void {
    if (this.vio.device.linkUp === up) return;
    this.vio.device.linkUp = up;
    this.configChanged();
  }

  /** A frame from the network for the guest: given now if it has a receive buffer, else kept for a while. */
  receive(frame: Uint8Array): void {
    if (frame.length < ETH_MIN_FRAME || frame.length > ETH_MAX_FRAME) { this.net.badFrames++; return; }
    if (!this.vio.device.linkUp) { this.net.dropped++; return; }
    const backlog = this.vio.device.backlog;
    if (backlog.length >= BACKLOG_FRAMES) { backlog.shift(); this.net.dropped++; }
    backlog.push(Array.from(frame));
    this.guarded(() => this.deliver());
  }

  protected queueNotified(q: number): void {
    if (q === RXQ) { this.deliver(); return; }
    if (q !== TXQ) return;
    for (let chain = this.pop(q); chain !== null; chain = this.pop(q)) {
      const bytes = this.gather(chain, 0, HDR_BYTES + ETH_MAX_FRAME);
      this.used(q, chain, 0);
      if (chain.readable > HDR_BYTES + ETH_MAX_FRAME || bytes.length < HDR_BYTES + ETH_MIN_FRAME) { this.net.badFrames++; continue; }
      const frame = bytes.slice(HDR_BYTES);
      if ((bytes[0]! & HDR_F_NEEDS_CSUM) && this.negotiated(F_CSUM) && !this.finishChecksum(bytes, frame)) { this.net.badFrames++; continue; }
      this.net.sent++;
      this.net.bytesSent += frame.length;
      if (this.vio.device.linkUp) this.sendFrame(frame);
    }
    this.notifyUsed(q);
  }

  protected override driverReady(): void { this.guarded(() => this.deliver()); }

  /**
   * VIRTIO_NET_HDR_F_NEEDS_CSUM (§5.1.6.2): the one's-complement sum of the frame from
   * csum_start to its end (the guest put the pseudo-header's sum in the checksum field) goes, as
   * its complement, at csum_start + csum_offset. False for offsets outside the frame.
   */
  private finishChecksum(hdr: Uint8Array, frame: Uint8Array): boolean {
    const start = hdr[6]! | (hdr[7]! << 8);
    const offset = hdr[8]! | (hdr[9]! << 8);
    if (start >= frame.length || start + offset + 2 > frame.length) return false;
    let sum = 0;
    for (let i = start; i < frame.length; i += 2) sum += (frame[i]! << 8) | (frame[i + 1] ?? 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    frame[start + offset] = c >> 8;
    frame[start + offset + 1] = c & 0xff;
    this.net.checksums++;
    return true;
  }

  /** Give waiting frames to the guest's receive buffers: the header (num_buffers 1), then the frame. */
  private deliver(): void {
    const backlog = this.vio.device.backlog;
    let given = false;
    while (backlog.length > 0 && this.live(RXQ)) {
      const chain = this.pop(RXQ);
      if (chain === null) break;
      const frame = backlog.shift()!;
      const packet = new Uint8Array(HDR_BYTES + frame.length);
      packet[10] = 1; // num_buffers
      packet.set(frame, HDR_BYTES);
      if (chain.writable < packet.length) {
        this.net.dropped++;
        this.used(RXQ, chain, 0);
      } else {
        this.used(RXQ, chain, this.scatter(chain, 0, packet));
        this.net.received++;
        this.net.bytesReceived += frame.length;
      }
      given = true;
    }
    if (given) this.notifyUsed(RXQ);
  }
}
