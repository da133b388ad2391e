// The contract between a network device (virtio-net later) and whatever carries its frames.
// Everything here exchanges raw Ethernet frames: destination MAC, source MAC, EtherType and
// payload, without the FCS (the device strips and adds nothing; IEEE 802.3 clause 3.1.1 minus the
// trailing CRC, which no software peer checks).
//
// A link is seen from the device's side: the device calls `send` to put a frame on the wire, and
// the link calls `onFrame` when a frame arrives for the device. A backend (hub port, user-mode
// NAT, capture tap) implements NetLink; the device owns the `onFrame` slot.

/** One end of an Ethernet wire, as a device holds it. */
export interface NetLink {
  /** The device transmits a frame. The link may keep the array: the sender must not reuse it. */
  send(frame: Uint8Array): void;
  /** Set by the device: called with every frame received from the wire. */
  onFrame: ((frame: Uint8Array) => void) | null;
  /** Detach: no more frames either way, timers and host sockets released. */
  close(): void;
}

/** Shortest and longest frames a link carries (no FCS): 14-byte header, 1500-byte MTU. */
export const ETH_MIN_FRAME = 14;
export const ETH_MAX_FRAME = 1514;

/** Two links joined back to back: a frame sent on one arrives at the other (tests, tools). */
export function linkPair(): [NetLink, NetLink] {
  const a: NetLink = { send: (f) => deliver(b, f), onFrame: null, close: () => { closed = true; } };
  const b: NetLink = { send: (f) => deliver(a, f), onFrame: null, close: () => { closed = true; } };
  let closed = false;
  function deliver(to: NetLink, frame: Uint8Array): void {
    if (!closed) to.onFrame?.(frame);
  }
  return [a, b];
}
