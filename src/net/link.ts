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
  /**
   * What a backend that terminates connections itself (the user-mode NAT) must hand the backend
   * of a restored or migrated machine, as plain data; saved with the machine stopped. Backends
   * that only carry frames (a hub port, a switch) have nothing to save and leave it out.
   */
  saveState?(): unknown;
  /**
   * The machine this link serves was just loaded from a snapshot or a migration: `saved` is what
   * the saved machine's backend returned from saveState() (null when it had nothing). What the
   * guest believes it has open through the old backend is gone; the backend tells the guest so.
   * Returns a line for the user saying what it did, or null when there was nothing to do.
   */
  restored?(saved: unknown): string | null;
}

/** Each link's saveState(), null where it has none (a snapshot's or a migration's 'net' list). */
export function saveLinks(links: readonly NetLink[]): unknown[] {
  return links.map((l) => l.saveState?.() ?? null);
}

/**
 * Hand each link what the saved machine's backend of the same card saved (null where nothing);
 * returns the backends' lines for the user, eth0 first.
 */
export function restoreLinks(links: readonly NetLink[], saved: readonly unknown[] | undefined): string[] {
  const lines: string[] = [];
  links.forEach((l, i) => {
    const line = l.restored?.(saved?.[i] ?? null) ?? null;
    if (line !== null) lines.push(links.length > 1 ? `eth${i}: ${line}` : line);
  });
  return lines;
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

/**
 * A link whose incoming frames are dropped until open(): a migration's target joins the network
 * while the source's guest still runs there, and the frames meant for that guest must not reach
 * this copy of it late. Sending, closing and the backend's state pass through.
 */
export class GatedLink implements NetLink {
  onFrame: ((frame: Uint8Array) => void) | null = null;
  private opened = false;

  constructor(private readonly inner: NetLink) {
    inner.onFrame = (frame) => { if (this.opened) this.onFrame?.(frame); };
  }

  open(): void { this.opened = true; }
  send(frame: Uint8Array): void { this.inner.send(frame); }
  close(): void { this.inner.onFrame = null; this.inner.close(); }
  saveState(): unknown { return this.inner.saveState?.() ?? null; }
  restored(saved: unknown): string | null { return this.inner.restored?.(saved) ?? null; }
}
