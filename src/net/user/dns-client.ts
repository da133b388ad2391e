// A HostResolver that asks a DNS server over a UdpRelay (RFC 1035 over UDP): what the stack's
// DNS server (10.0.2.3) uses where the host has no resolver of its own to call, as in a browser,
// whose only way out is a Wisp relay. Wisp carries TCP and UDP streams, not name lookups, so the
// lookup is an ordinary A query sent as UDP through the relay to a resolver (1.1.1.1 unless the
// page names another), and the guest gets the addresses it answers.
//
// Every answer is from the network, so every length and pointer is checked; an answer that does
// not parse is ignored like a stray datagram, and the query is retried until the attempts run out.
import { ipString, rd16, rd32, wr16 } from './bytes';
import type { HostResolver, RelayDatagrams, UdpRelay } from './relay';

const DNS_HLEN = 12;
const FLAG_QR = 0x8000;
const FLAG_RD = 0x0100;
const FLAG_TC = 0x0200;
const RCODE_MASK = 0x000f;
const RCODE_NOERROR = 0;
const RCODE_NXDOMAIN = 3;
const TYPE_A = 1;
const CLASS_IN = 1;
/** Compression pointer marker: the two top bits of a label length (RFC 1035 4.1.4). */
const POINTER = 0xc0;
const MAX_LABEL = 63;
const MAX_NAME = 253;

export interface UdpResolverOptions {
  /** The DNS server to ask: an IPv4 address or a name the relay resolves itself. */
  server: string;
  port?: number;
  /** How long to wait for each attempt's answer, in ms (default 2000). */
  timeoutMs?: number;
  /** Attempts before giving up (SERVFAIL for the guest; default 3). */
  attempts?: number;
}

/** An A query for `name` with message id `id`; null for a name DNS cannot carry. */
export function buildQuery(name: string, id: number): Uint8Array | null {
  const labels = name.replace(/\.$/, '').split('.');
  if (name.length === 0 || name.length > MAX_NAME) return null;
  const bytes: number[] = [];
  for (const l of labels) {
    if (l.length === 0 || l.length > MAX_LABEL || !/^[\x21-\x7e]+$/.test(l)) return null;
    bytes.push(l.length, ...Array.from(l, (c) => c.charCodeAt(0)));
  }
  const q = new Uint8Array(DNS_HLEN + bytes.length + 1 + 4);
  wr16(q, 0, id);
  wr16(q, 2, FLAG_RD);
  wr16(q, 4, 1); // one question
  q.set(bytes, DNS_HLEN);
  const at = DNS_HLEN + bytes.length + 1; // the root label's zero is already there
  wr16(q, at, TYPE_A);
  wr16(q, at + 2, CLASS_IN);
  return q;
}

/** Where the name starting at `at` ends (pointers are followed by length, not by content). */
function skipName(b: Uint8Array, at: number): number | null {
  for (let guard = 0; guard < 128; guard++) {
    if (at >= b.length) return null;
    const len = b[at]!;
    if (len === 0) return at + 1;
    if ((len & POINTER) === POINTER) return at + 2 <= b.length ? at + 2 : null;
    if (len > MAX_LABEL) return null; // 0x40 and 0x80 prefixes are not in use
    at += 1 + len;
  }
  return null;
}

export type DnsAnswer = { rcode: number; addresses: string[] };

/** The rcode and A records of a response to query `id`; null when it is not one. */
export function parseResponse(b: Uint8Array, id: number): DnsAnswer | null {
  if (b.length < DNS_HLEN || rd16(b, 0) !== id) return null;
  const flags = rd16(b, 2);
  if (!(flags & FLAG_QR)) return null;
  const rcode = flags & RCODE_MASK;
  const qd = rd16(b, 4), an = rd16(b, 6);
  let at = DNS_HLEN;
  for (let i = 0; i < qd; i++) {
    const end = skipName(b, at);
    if (end === null || end + 4 > b.length) return null;
    at = end + 4;
  }
  const addresses: string[] = [];
  for (let i = 0; i < an; i++) {
    const end = skipName(b, at);
    if (end === null || end + 10 > b.length) return null;
    const type = rd16(b, end), cls = rd16(b, end + 2), rdlen = rd16(b, end + 8);
    const data = end + 10;
    if (data + rdlen > b.length) return null;
    // CNAME records lead to the A records after them, which are the ones the guest needs.
    if (type === TYPE_A && cls === CLASS_IN && rdlen === 4) addresses.push(ipString(rd32(b, data)));
    at = data + rdlen;
  }
  // A truncated answer still holds the records that fit; with none, say the lookup failed.
  if ((flags & FLAG_TC) && addresses.length === 0) return { rcode: -1, addresses };
  return { rcode, addresses };
}

/** Names looked up through `udp` at `opts.server`: addresses, null for NXDOMAIN, rejection on failure. */
export function udpResolver(udp: UdpRelay, opts: UdpResolverOptions): HostResolver {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const attempts = Math.max(1, opts.attempts ?? 3);
  return (name) => new Promise((resolve, reject) => {
    const id = (Math.random() * 0x10000) & 0xffff;
    const query = buildQuery(name, id);
    if (!query) return resolve(null); // not a name any server has
    let flow: RelayDatagrams;
    try {
      flow = udp.connect(opts.server, opts.port ?? 53);
    } catch (e) {
      return reject(e as Error);
    }
    let tries = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const done = (settle: () => void): void => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      flow.onMessage = null;
      flow.close();
      settle();
    };
    const ask = (): void => {
      if (tries++ >= attempts) return done(() => reject(new Error(`no answer from the DNS server ${opts.server} for ${name}`)));
      flow.send(query);
      timer = setTimeout(ask, timeoutMs);
    };
    flow.onMessage = (data) => {
      const answer = parseResponse(data, id);
      if (!answer) return; // not ours, or garbled: keep waiting
      if (answer.rcode === RCODE_NXDOMAIN) return done(() => resolve(null));
      if (answer.rcode !== RCODE_NOERROR) return done(() => reject(new Error(`DNS server ${opts.server}: rcode ${answer.rcode} for ${name}`)));
      done(() => resolve(answer.addresses));
    };
    ask();
  });
}
