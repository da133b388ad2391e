// The stack's DNS server on 10.0.2.3:53 (RFC 1035): one question per query, answered from the
// host's resolver. A questions get the host's IPv4 addresses; other types get an empty NOERROR
// answer when the name exists (the guest then falls back to A), NXDOMAIN when the resolver says
// the name does not exist, SERVFAIL when the lookup failed. Anything but a standard query gets
// NOTIMP; a message that cannot be parsed gets nothing (RFC 1035 4.1.1 has no safe reply to it).
import { rd16, wr16, wr32 } from './bytes';
import type { HostResolver } from './relay';

export const DNS_PORT = 53;
const DNS_HLEN = 12;
const FLAG_QR = 0x8000;
const FLAG_OPCODE = 0x7800;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const TYPE_A = 1;
const CLASS_IN = 1;
const ANSWER_TTL = 60;
const MAX_NAME = 255;

export interface DnsQuery {
  id: number;
  flags: number;
  qdcount: number;
  name: string;
  qtype: number;
  qclass: number;
  /** The question section's bytes, echoed in the reply. */
  question: Uint8Array;
}

/** The query's header and first question; null when not parseable. Names are read without pointers. */
export function parseDnsQuery(b: Uint8Array): DnsQuery | null {
  if (b.length < DNS_HLEN) return null;
  const flags = rd16(b, 2);
  if (flags & FLAG_QR) return null; // a response, not a query
  const qdcount = rd16(b, 4);
  if (qdcount === 0) return { id: rd16(b, 0), flags, qdcount, name: '', qtype: 0, qclass: 0, question: b.subarray(DNS_HLEN, DNS_HLEN) };
  const labels: string[] = [];
  let i = DNS_HLEN;
  for (;;) {
    if (i >= b.length) return null;
    const len = b[i];
    if (len === 0) { i++; break; }
    if (len > 63 || i + 1 + len > b.length) return null; // 0xc0 pointers never start a question name
    labels.push(String.fromCharCode(...b.subarray(i + 1, i + 1 + len)));
    i += 1 + len;
    if (i - DNS_HLEN > MAX_NAME) return null;
  }
  if (i + 4 > b.length) return null;
  return {
    id: rd16(b, 0), flags, qdcount, name: labels.join('.').toLowerCase(),
    qtype: rd16(b, i), qclass: rd16(b, i + 2), question: b.subarray(DNS_HLEN, i + 4),
  };
}

/** A reply echoing the question, with A records for `addresses` (numbers) under a name pointer. */
export function buildDnsReply(q: DnsQuery, rcode: number, addresses: number[] = []): Uint8Array {
  const hasQ = q.question.length > 0;
  const b = new Uint8Array(DNS_HLEN + q.question.length + addresses.length * 16);
  wr16(b, 0, q.id);
  wr16(b, 2, FLAG_QR | (q.flags & (FLAG_OPCODE | FLAG_RD)) | FLAG_RA | (rcode & 0xf));
  wr16(b, 4, hasQ ? 1 : 0);
  wr16(b, 6, addresses.length);
  b.set(q.question, DNS_HLEN);
  let at = DNS_HLEN + q.question.length;
  for (const a of addresses) {
    wr16(b, at, 0xc000 | DNS_HLEN); // compressed name: pointer to the question (RFC 1035 4.1.4)
    wr16(b, at + 2, TYPE_A);
    wr16(b, at + 4, CLASS_IN);
    wr32(b, at + 6, ANSWER_TTL);
    wr16(b, at + 10, 4);
    wr32(b, at + 12, a);
    at += 16;
  }
  return b;
}

/** Answers one query message: the reply bytes, or null when there is nothing to say. */
export async function answerDns(data: Uint8Array, resolve: HostResolver, parseAddr: (s: string) => number | null): Promise<Uint8Array | null> {
  const q = parseDnsQuery(data);
  if (!q) return null;
  if ((q.flags & FLAG_OPCODE) !== 0) return buildDnsReply(q, RCODE_NOTIMP);
  if (q.qdcount !== 1) return buildDnsReply(q, RCODE_FORMERR);
  if (q.qclass !== CLASS_IN) return buildDnsReply(q, RCODE_NOTIMP);
  let found: string[] | null;
  try {
    found = await resolve(q.name);
  } catch {
    return buildDnsReply(q, RCODE_SERVFAIL);
  }
  if (found === null) return buildDnsReply(q, RCODE_NXDOMAIN);
  if (q.qtype !== TYPE_A) return buildDnsReply(q, RCODE_NOERROR);
  const addrs = found.map(parseAddr).filter((a): a is number => a !== null);
  return buildDnsReply(q, RCODE_NOERROR, [...new Set(addrs)]);
}
