// What the user-mode network keeps across a snapshot or a migration, and why so little. Like
// QEMU's slirp, the stack terminates the guest's TCP connections and relays them through host
// sockets; those sockets belong to the process that saved the machine and cannot follow it into
// another one (the peer would see a new connection, not the old one). So a restored stack does
// not pretend: it resets each connection the guest had open, and the guest's program gets
// ECONNRESET at once instead of waiting forever on a connection nobody serves any more (a guest
// that only reads never sends a segment that could meet the fresh stack's ordinary reset).
//
// Saved per synchronized connection: both ends, the guest's MAC (the fresh stack has not heard
// it yet and would ARP first, losing the reset) and the sequence numbers. The reset carries our
// next sequence number; when the guest expects less (frames still on their way at the save were
// lost), it is inside the window but not exact, and Linux answers with a challenge ACK (RFC 5961
// 3.2), which the fresh stack answers with a reset at exactly the guest's number (RFC 9293
// 3.10.7.1), as it answers any segment of a connection it does not know.
import { ipString, parseIp } from './bytes';

/** One guest connection the saved stack relayed. */
export interface SavedTcp {
  guest: string;
  guestPort: number;
  peer: string;
  peerPort: number;
  /** The guest's MAC, aa:bb:cc:dd:ee:ff. */
  mac: string;
  /** Our next sequence number, and the next one we expected from the guest. */
  seq: number;
  ack: number;
}

export interface SavedUserNet {
  tcp: SavedTcp[];
}

/** More connections than a stack could have had open: bounds what a file may ask for. */
const MAX_SAVED = 65536;
const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function macText(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function macBytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(':'), (h) => parseInt(h, 16));
}

/** A key of UserNet's TCP table (`guest:port>peer:port`, addresses as numbers) as its two ends. */
export function keyEnds(key: string): { guest: string; guestPort: number; peer: string; peerPort: number } | null {
  const m = /^(\d+):(\d+)>(\d+):(\d+)$/.exec(key);
  if (m === null) return null;
  return { guest: ipString(Number(m[1])), guestPort: Number(m[2]), peer: ipString(Number(m[3])), peerPort: Number(m[4]) };
}

const port = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0 && (v as number) <= 65535;
const u32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

/**
 * The connections in a saved stack's state; anything that is not one (another version, a
 * damaged file that passed its checksum) is left out. Null when `saved` is not a stack's state.
 */
export function savedConnections(saved: unknown): SavedTcp[] | null {
  if (typeof saved !== 'object' || saved === null || !Array.isArray((saved as SavedUserNet).tcp)) return null;
  const out: SavedTcp[] = [];
  for (const t of (saved as SavedUserNet).tcp.slice(0, MAX_SAVED)) {
    if (typeof t !== 'object' || t === null) continue;
    const ok = typeof t.guest === 'string' && parseIp(t.guest) !== null && typeof t.peer === 'string' && parseIp(t.peer) !== null
      && port(t.guestPort) && port(t.peerPort) && typeof t.mac === 'string' && MAC_TEXT.test(t.mac) && u32(t.seq) && u32(t.ack);
    if (ok) out.push({ guest: t.guest, guestPort: t.guestPort, peer: t.peer, peerPort: t.peerPort, mac: t.mac, seq: t.seq, ack: t.ack });
  }
  return out;
}
