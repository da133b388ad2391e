// A DHCP server for the one virtual network (RFC 2131 message flow, RFC 2132 options): DISCOVER
// gets an OFFER, REQUEST for the offered address an ACK, anything else a NAK. Leases are kept per
// client MAC, the first client getting 10.0.2.15 as in QEMU. Replies are broadcast (to
// 255.255.255.255 and ff:ff:ff:ff:ff:ff), which every client accepts before it has an address
// (RFC 2131 4.1); busybox udhcpc reads them from a raw socket.
import { rd16, rd32, wr16, wr32 } from './bytes';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const BOOTREQUEST = 1;
const BOOTREPLY = 2;
const HTYPE_ETHERNET = 1;
/** Fixed BOOTP part (op..file) and the magic cookie 99.130.83.99 that starts the options. */
const BOOTP_FIXED = 236;
const DHCP_MAGIC = 0x63825363;
const OPTIONS_AT = 240;
/** Replies are padded to the 300-byte BOOTP minimum, which some old clients insist on (RFC 1542 2.1). */
const BOOTP_MIN = 300;

// RFC 2132 option codes.
const OPT_PAD = 0;
const OPT_SUBNET_MASK = 1;
const OPT_ROUTER = 3;
const OPT_DNS = 6;
const OPT_REQUESTED_IP = 50;
const OPT_LEASE_TIME = 51;
const OPT_MSG_TYPE = 53;
const OPT_SERVER_ID = 54;
const OPT_END = 255;

// RFC 2132 9.6 message types.
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

export interface DhcpConfig {
  server: number;
  router: number;
  dns: number;
  netmask: number;
  /** First address handed out; each new MAC gets the next one. */
  firstClient: number;
  leaseSeconds: number;
}

interface DhcpRequest {
  xid: number;
  flags: number;
  ciaddr: number;
  chaddr: Uint8Array;
  type: number;
  requested: number | null;
  serverId: number | null;
}

function parseRequest(b: Uint8Array): DhcpRequest | null {
  if (b.length < OPTIONS_AT || b[0] !== BOOTREQUEST || b[1] !== HTYPE_ETHERNET || b[2] !== 6) return null;
  if (rd32(b, BOOTP_FIXED) !== DHCP_MAGIC) return null;
  let type = 0;
  let requested: number | null = null;
  let serverId: number | null = null;
  for (let i = OPTIONS_AT; i < b.length; ) {
    const code = b[i];
    if (code === OPT_END) break;
    if (code === OPT_PAD) { i++; continue; }
    if (i + 1 >= b.length || i + 2 + b[i + 1] > b.length) return null;
    const len = b[i + 1];
    const at = i + 2;
    if (code === OPT_MSG_TYPE && len === 1) type = b[at];
    else if (code === OPT_REQUESTED_IP && len === 4) requested = rd32(b, at);
    else if (code === OPT_SERVER_ID && len === 4) serverId = rd32(b, at);
    i = at + len;
  }
  if (type === 0) return null; // plain BOOTP is not served
  return { xid: rd32(b, 4), flags: rd16(b, 10), ciaddr: rd32(b, 12), chaddr: b.slice(28, 34), type, requested, serverId };
}

function buildReply(cfg: DhcpConfig, req: DhcpRequest, type: number, yiaddr: number): Uint8Array {
  const opts: number[] = [OPT_MSG_TYPE, 1, type];
  const addr = (code: number, v: number) => opts.push(code, 4, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  addr(OPT_SERVER_ID, cfg.server);
  if (type !== DHCPNAK) {
    addr(OPT_LEASE_TIME, cfg.leaseSeconds);
    addr(OPT_SUBNET_MASK, cfg.netmask);
    addr(OPT_ROUTER, cfg.router);
    addr(OPT_DNS, cfg.dns);
  }
  opts.push(OPT_END);
  const b = new Uint8Array(Math.max(BOOTP_MIN, OPTIONS_AT + opts.length));
  b[0] = BOOTREPLY;
  b[1] = HTYPE_ETHERNET;
  b[2] = 6;
  wr32(b, 4, req.xid);
  wr16(b, 10, req.flags);
  wr32(b, 12, type === DHCPNAK ? 0 : req.ciaddr);
  wr32(b, 16, yiaddr);
  wr32(b, 20, type === DHCPNAK ? 0 : cfg.server); // siaddr: next server
  b.set(req.chaddr, 28);
  wr32(b, BOOTP_FIXED, DHCP_MAGIC);
  b.set(opts, OPTIONS_AT);
  return b;
}

export class DhcpServer {
  private readonly leases = new Map<string, number>();
  private readonly cfg: DhcpConfig;

  constructor(cfg: DhcpConfig) {
    this.cfg = cfg;
  }

  /** The address leased to `mac`, allocating the next free one on first sight. */
  addressFor(mac: Uint8Array): number {
    const key = mac.join(',');
    let ip = this.leases.get(key);
    if (ip === undefined) {
      ip = (this.cfg.firstClient + this.leases.size) >>> 0;
      this.leases.set(key, ip);
    }
    return ip;
  }

  /** The reply payload (BOOTP message) to one client message, or null for none / malformed. */
  handle(data: Uint8Array): Uint8Array | null {
    const req = parseRequest(data);
    if (!req) return null;
    switch (req.type) {
      case DHCPDISCOVER:
        return buildReply(this.cfg, req, DHCPOFFER, this.addressFor(req.chaddr));
      case DHCPREQUEST: {
        // SELECTING names a server; a request for another server's offer is not ours to answer.
        if (req.serverId !== null && req.serverId !== this.cfg.server) return null;
        const want = req.requested ?? req.ciaddr; // INIT-REBOOT/SELECTING vs RENEWING (RFC 2131 4.3.2)
        const lease = this.addressFor(req.chaddr);
        return want === lease ? buildReply(this.cfg, req, DHCPACK, lease) : buildReply(this.cfg, req, DHCPNAK, 0);
      }
      case DHCPINFORM:
        return buildReply(this.cfg, req, DHCPACK, 0);
      default: // DECLINE, RELEASE: the lease stays reserved for the MAC, nothing to send
        return null;
    }
  }
}
