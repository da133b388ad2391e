// User-mode networking as QEMU's `-nic user` (slirp) gives it: a whole virtual network behind one
// NetLink, answering the guest from TypeScript. The guest sees a 10.0.2.0/24 network with a
// gateway at 10.0.2.2 (which also stands for the host's loopback), a DNS server at 10.0.2.3, and
// gets 10.0.2.15 by DHCP. ARP, DHCP, DNS and ICMP echo to the virtual hosts are answered here;
// UDP and TCP to anywhere else go out through the host relays (TCP terminated in tcp.ts, relayed
// as byte streams); a UDP port the host finds closed comes back as ICMP port unreachable. The
// guest's fragmented datagrams are reassembled first (ipv4-reassembly.ts), and what goes to the
// guest over the 1500-byte MTU is sent in fragments. ICMP echo to other addresses is not
// answered: Node has no ICMP socket, and a reply made up here would lie. Port forwards
// ("hostfwd") make the relay listen on the host and open connections into the guest.
//
// Every frame from the guest is parsed with its lengths and checksums checked; anything that
// does not add up is dropped and counted in `stats.dropped` by reason, never thrown.
import type { NetLink } from '../link';
import { ipString, parseIp, rd32 } from './bytes';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpServer } from './dhcp';
import { answerDns, DNS_PORT } from './dns';
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, BROADCAST_MAC, buildArp, buildEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4,
  parseArp, parseEthernet,
} from './ethernet';
import { parseHostForward, type HostForward } from './hostfwd';
import {
  buildUdp, fragmentIpv4, icmpEchoReply, icmpUnreachable, ICMP_PORT_UNREACHABLE, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, parseIpv4, parseUdp,
  type Ipv4Packet,
} from './ipv4';
import { Ipv4Reassembly, type ReassemblyLimits } from './ipv4-reassembly';
import type { HostResolver, Listener, RelayDatagrams, TcpRelay, UdpRelay } from './relay';
import { DEFAULT_TCP_TUNING, TcpConnection, type TcpTuning } from './tcp';
import { buildTcp, parseTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from './tcp-segment';
import { keyEnds, macBytes, macText, savedConnections, type SavedTcp, type SavedUserNet } from './restore';

const ip = (s: string): number => parseIp(s)!;

/** The virtual network's addresses, as QEMU's user networking has them. */
export const USER_NET = {
  network: ip('10.0.2.0'),
  netmask: ip('255.255.255.0'),
  gateway: ip('10.0.2.2'),
  dns: ip('10.0.2.3'),
  guest: ip('10.0.2.15'),
};
/** The MAC the gateway and DNS addresses answer from (QEMU's 52:55:0a:00:02:02). */
export const GATEWAY_MAC = new Uint8Array([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
const LIMITED_BROADCAST = 0xffffffff;
/** Where the destination address sits in an IPv4 header (RFC 791 3.1). */
const IPV4_DST_OFFSET = 16;
const LEASE_SECONDS = 86400;
/** A UDP association with no traffic for this long is closed (slirp uses 240 s for UDP). */
const UDP_IDLE_MS = 240_000;
/** Local ports for forwarded connections into the guest (the IANA dynamic range). */
const EPHEMERAL_FIRST = 49152;
/** The largest UDP payload an IPv4 datagram carries (sent to the guest in fragments when over the MTU). */
const MAX_UDP_DATA = 65535 - 20 - 8;

export interface UserNetOptions {
  tcp?: TcpRelay;
  udp?: UdpRelay;
  /** Name lookups for the DNS server; without one every query gets SERVFAIL. */
  resolve?: HostResolver;
  /** Port forwards, QEMU syntax without `hostfwd=` ("tcp::8080-:80") or parsed. */
  hostfwd?: (string | HostForward)[];
  tcpTuning?: Partial<TcpTuning>;
  /** Bounds on fragment reassembly (ipv4-reassembly.ts has the defaults). */
  reassembly?: Partial<ReassemblyLimits>;
}

export interface UserNetStats {
  framesIn: number;
  framesOut: number;
  /** Frames dropped, by reason: malformed headers, bad checksums, unsupported protocols. */
  dropped: Record<string, number>;
}

interface UdpFlow {
  relay: RelayDatagrams;
  timer: ReturnType<typeof setTimeout> | null;
  /** The last datagram sent, as an ICMP error would quote it (header and 8 data bytes). */
  last: Ipv4Packet | null;
}

export class UserNet implements NetLink {
  onFrame: ((frame: Uint8Array) => void) | null = null;
  readonly stats: UserNetStats = { framesIn: 0, framesOut: 0, dropped: {} };
  /**
   * Guests' MACs by IPv4 address, learned from their ARP and IP frames (several guests may share
   * the stack through a hub); a guest not yet heard from is asked by ARP.
   */
  readonly neighbours = new Map<number, Uint8Array>();
  /** Guest connections reset because the machine was restored (restored()). */
  resetAfterRestore = 0;

  private readonly opts: UserNetOptions;
  private readonly tune: TcpTuning;
  private readonly dhcp = new DhcpServer({
    server: USER_NET.gateway, router: USER_NET.gateway, dns: USER_NET.dns, netmask: USER_NET.netmask,
    firstClient: USER_NET.guest, leaseSeconds: LEASE_SECONDS,
  });
  private readonly tcp = new Map<string, TcpConnection>();
  private readonly udp = new Map<string, UdpFlow>();
  private readonly listeners: Listener[] = [];
  /** UDP forwards: gateway port -> send a guest's datagram back to its host peer. */
  private readonly udpForwards = new Map<number, (data: Uint8Array) => void>();
  private nextPort = EPHEMERAL_FIRST;
  private readonly fragments: Ipv4Reassembly;
  private closed = false;
  private readonly outbox: Uint8Array[] = [];
  private flushing = false;

  constructor(opts: UserNetOptions = {}) {
    this.opts = opts;
    this.tune = { ...DEFAULT_TCP_TUNING, ...opts.tcpTuning };
    this.fragments = new Ipv4Reassembly(opts.reassembly);
    for (const rule of opts.hostfwd ?? []) this.forward(typeof rule === 'string' ? parseHostForward(rule) : rule);
  }

  /** TCP connections currently known (for tests and a status display). */
  get connections(): TcpConnection[] {
    return [...this.tcp.values()];
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.stats.framesIn++;
    const eth = parseEthernet(frame);
    if (!eth) return this.drop('ethernet');
    const toUs = eth.dst.every((b, i) => b === GATEWAY_MAC[i]) || eth.dst.every((b) => b === 0xff);
    if (!toUs) return this.drop('not-for-us');
    if (eth.type === ETHERTYPE_ARP) return this.arp(eth.payload);
    if (eth.type !== ETHERTYPE_IPV4) return this.drop('ethertype');
    let pkt = parseIpv4(eth.payload);
    if (pkt === 'fragment') {
      const whole = this.fragments.add(eth.payload);
      if (whole === 'pending' || whole === 'duplicate') return;
      if (typeof whole === 'string') return this.drop(`fragment-${whole}`);
      pkt = parseIpv4(whole);
    }
    if (typeof pkt === 'string') return this.drop(`ipv4-${pkt}`);
    this.learn(pkt.src, eth.src);
    if (pkt.proto === IPPROTO_UDP) return this.udpIn(pkt);
    if (pkt.proto === IPPROTO_TCP) return this.tcpIn(pkt);
    if (pkt.proto === IPPROTO_ICMP) return this.icmpIn(pkt);
    this.drop('ip-protocol');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.tcp.values()]) c.abort();
    for (const f of this.udp.values()) {
      if (f.timer !== null) clearTimeout(f.timer);
      f.relay.close();
    }
    this.udp.clear();
    for (const l of this.listeners) l.close();
    this.onFrame = null;
  }

  /** The guest's connections, for a stack that serves the machine after a restore (restore.ts). */
  saveState(): SavedUserNet {
    const tcp: SavedTcp[] = [];
    for (const [key, c] of this.tcp) {
      const at = c.resumePoint();
      const ends = keyEnds(key);
      const mac = ends === null ? undefined : this.neighbours.get(parseIp(ends.guest)!);
      if (at === null || ends === null || mac === undefined) continue;
      tcp.push({ ...ends, mac: macText(mac), ...at });
    }
    return { tcp };
  }

  /**
   * The machine was restored (restore.ts): what this stack relays now belongs to a guest state
   * that is gone, so its connections and UDP flows are dropped without a word to the guest, and
   * each connection the saved stack relayed is reset to the guest.
   */
  restored(saved: unknown): string | null {
    for (const c of [...this.tcp.values()]) c.drop();
    for (const f of this.udp.values()) {
      if (f.timer !== null) clearTimeout(f.timer);
      f.relay.close();
    }
    this.udp.clear();
    const conns = savedConnections(saved) ?? [];
    for (const t of conns) {
      const guest = parseIp(t.guest)!;
      const mac = macBytes(t.mac);
      this.learn(guest, mac);
      const rst: TcpSegment = { srcPort: t.peerPort, dstPort: t.guestPort, seq: t.seq, ack: t.ack, flags: TCP_RST | TCP_ACK, window: 0, mss: null, data: new Uint8Array(0) };
      this.toGuest(buildTcp(parseIp(t.peer)!, guest, rst), mac);
    }
    this.resetAfterRestore += conns.length;
    if (conns.length === 0) return null;
    const list = conns.slice(0, 3).map((t) => `${t.guest}:${t.guestPort} - ${t.peer}:${t.peerPort}`).join(', ');
    return `user network: reset ${conns.length} TCP connection${conns.length === 1 ? '' : 's'} the guest had open when it was saved (${list}${conns.length > 3 ? ' ...' : ''}): the host sockets behind them are gone`;
  }

  /** Remember a guest's MAC for its address: unicast MACs on our network only. */
  private learn(addr: number, mac: Uint8Array): void {
    if ((mac[0] & 1) !== 0 || !this.inNet(addr) || this.isVirtualHost(addr) || (addr & 0xff) === 0xff) return;
    const known = this.neighbours.get(addr);
    if (!known || known.some((b, i) => b !== mac[i])) this.neighbours.set(addr, mac.slice());
  }

  private drop(reason: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
  }

  private isVirtualHost(addr: number): boolean {
    return addr === USER_NET.gateway || addr === USER_NET.dns;
  }

  // --- output ---

  /**
   * Frames to the guest are delivered from a microtask, never from inside `send`: a device that
   * answers synchronously from onFrame then cannot re-enter a TCP connection in the middle of
   * its own output loop, and a long exchange cannot grow the call stack.
   */
  private emit(frame: Uint8Array): void {
    if (this.closed) return;
    this.outbox.push(frame);
    if (this.outbox.length === 1 && !this.flushing) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushing = true;
    try {
      for (let f = this.outbox.shift(); f && !this.closed; f = this.outbox.shift()) {
        this.stats.framesOut++;
        this.onFrame?.(f);
      }
    } finally {
      this.flushing = false;
      this.outbox.length = 0;
    }
  }

  /** An IPv4 packet to the guest; before its MAC is known an ARP request goes out instead. */
  private toGuest(packet: Uint8Array, mac?: Uint8Array): void {
    const dst = rd32(packet, IPV4_DST_OFFSET);
    const dstMac = mac ?? this.neighbours.get(dst);
    if (!dstMac) {
      // The packet is lost; TCP retransmits it once the guest has answered (RFC 826 reply).
      this.emit(buildEthernet(BROADCAST_MAC, GATEWAY_MAC, ETHERTYPE_ARP, buildArp({
        op: ARP_OP_REQUEST, sha: GATEWAY_MAC, spa: USER_NET.gateway, tha: new Uint8Array(6), tpa: dst,
      })));
      return;
    }
    // Larger than the link's MTU (an answer to a reassembled ping, a big UDP datagram): fragments.
    for (const f of fragmentIpv4(packet)) this.emit(buildEthernet(dstMac, GATEWAY_MAC, ETHERTYPE_IPV4, f));
  }

  // --- ARP (RFC 826): answer for the virtual hosts; the guest's own requests teach us its MAC ---

  private arp(payload: Uint8Array): void {
    const a = parseArp(payload);
    if (!a) return this.drop('arp');
    this.learn(a.spa, a.sha);
    if (a.op !== ARP_OP_REQUEST) return; // a reply (to our request) already taught us the MAC
    if (!this.isVirtualHost(a.tpa)) return;
    const reply = buildArp({ op: ARP_OP_REPLY, sha: GATEWAY_MAC, spa: a.tpa, tha: a.sha, tpa: a.spa });
    this.emit(buildEthernet(a.sha, GATEWAY_MAC, ETHERTYPE_ARP, reply));
  }

  // --- ICMP (RFC 792): echo to the virtual hosts answered here ---

  private icmpIn(pkt: Ipv4Packet): void {
    if (!this.isVirtualHost(pkt.dst)) return this.drop('icmp-outside');
    const reply = icmpEchoReply(pkt);
    if (!reply) return this.drop('icmp');
    this.toGuest(reply);
  }

  // --- UDP (RFC 768): DHCP and DNS here, everything else relayed ---

  private udpIn(pkt: Ipv4Packet): void {
    const u = parseUdp(pkt);
    if (!u) return this.drop('udp');
    if (u.dstPort === DHCP_SERVER_PORT && (pkt.dst === LIMITED_BROADCAST || pkt.dst === USER_NET.gateway)) {
      const reply = this.dhcp.handle(u.data);
      if (!reply) return this.drop('dhcp');
      // Broadcast: the client has no address to receive unicast on yet (RFC 2131 4.1).
      this.toGuest(buildUdp(USER_NET.gateway, LIMITED_BROADCAST, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, reply), BROADCAST_MAC);
      return;
    }
    if (pkt.dst === USER_NET.dns && u.dstPort === DNS_PORT) {
      const resolve = this.opts.resolve ?? (() => Promise.reject(new Error('no resolver')));
      void answerDns(u.data, resolve, parseIp).then((reply) => {
        if (reply) this.toGuest(buildUdp(USER_NET.dns, pkt.src, DNS_PORT, u.srcPort, reply));
        else this.drop('dns');
      });
      return;
    }
    if (pkt.dst === USER_NET.dns || pkt.dst === LIMITED_BROADCAST || ((pkt.dst & 0xff) === 0xff && this.inNet(pkt.dst))) {
      return this.drop('udp-unrouted');
    }
    const back = pkt.dst === USER_NET.gateway ? this.udpForwards.get(u.dstPort) : undefined;
    if (back) return back(u.data.slice());
    if (!this.opts.udp) return this.drop('udp-no-relay');
    const key = `${pkt.src}:${u.srcPort}>${pkt.dst}:${u.dstPort}`;
    let flow = this.udp.get(key);
    if (!flow) {
      const relay = this.opts.udp.connect(this.hostFor(pkt.dst), u.dstPort);
      const src = pkt.src, dst = pkt.dst, sport = u.srcPort, dport = u.dstPort;
      relay.onMessage = (data) => {
        if (data.length > MAX_UDP_DATA) return this.drop('udp-too-big');
        const f = this.udp.get(key);
        if (f) this.touchUdp(key, f);
        this.toGuest(buildUdp(dst, src, dport, sport, data));
      };
      // Nothing listens there: ICMP port unreachable from the destination (RFC 1122 3.2.2.1).
      relay.onUnreachable = () => {
        const last = this.udp.get(key)?.last;
        if (last) this.toGuest(icmpUnreachable(last, ICMP_PORT_UNREACHABLE, dst));
      };
      flow = { relay, timer: null, last: null };
      this.udp.set(key, flow);
    }
    this.touchUdp(key, flow);
    flow.last = { ...pkt, header: pkt.header.slice(), payload: pkt.payload.slice(0, 8) };
    flow.relay.send(u.data.slice());
  }

  private touchUdp(key: string, flow: UdpFlow): void {
    if (flow.timer !== null) clearTimeout(flow.timer);
    flow.timer = setTimeout(() => {
      flow.relay.close();
      this.udp.delete(key);
    }, UDP_IDLE_MS);
  }

  private inNet(addr: number): boolean {
    return ((addr & USER_NET.netmask) >>> 0) === USER_NET.network;
  }

  /** Where the relay connects for a guest destination: the gateway stands for the host's loopback. */
  private hostFor(dst: number): string {
    return dst === USER_NET.gateway ? '127.0.0.1' : ipString(dst);
  }

  // --- TCP (RFC 9293): connections terminated in tcp.ts ---

  private tcpIn(pkt: Ipv4Packet): void {
    const seg = parseTcp(pkt);
    if (!seg) return this.drop('tcp');
    const key = `${pkt.src}:${seg.srcPort}>${pkt.dst}:${seg.dstPort}`;
    const syn = (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
    let conn = this.tcp.get(key);
    if (conn && syn && conn.state === 'TIME_WAIT') {
      conn.abort(); // a new incarnation of the same pair (RFC 9293 3.10.7.4 allows it)
      conn = undefined;
    }
    if (conn) return conn.input(seg);
    if (!syn) return this.reset(pkt, seg);
    const relay = this.opts.tcp;
    if (!relay || pkt.dst === USER_NET.dns || !this.routable(pkt.dst)) return this.reset(pkt, seg);
    const c = TcpConnection.fromGuestSyn(this.tcpOwner(key, pkt.dst, pkt.src), seg, this.tune);
    this.tcp.set(key, c);
    c.attach(relay.connect(this.hostFor(pkt.dst), seg.dstPort));
  }

  /** Other guests' addresses on 10.0.2.0/24 and its broadcast have nothing behind them. */
  private routable(dst: number): boolean {
    return !this.inNet(dst) || dst === USER_NET.gateway;
  }

  /** The reset for a segment no connection wants (RFC 9293 3.10.7.1); a RST is never answered. */
  private reset(pkt: Ipv4Packet, seg: TcpSegment): void {
    if (seg.flags & TCP_RST) return;
    const len = seg.data.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
    const out: TcpSegment = seg.flags & TCP_ACK
      ? { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: TCP_RST, window: 0, mss: null, data: new Uint8Array(0) }
      : { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: 0, ack: (seg.seq + len) >>> 0, flags: TCP_RST | TCP_ACK, window: 0, mss: null, data: new Uint8Array(0) };
    this.toGuest(buildTcp(pkt.dst, pkt.src, out));
  }

  private tcpOwner(key: string, local: number, guest: number) {
    return {
      output: (seg: TcpSegment) => this.toGuest(buildTcp(local, guest, seg)),
      remove: (conn: TcpConnection) => {
        if (this.tcp.get(key) === conn) this.tcp.delete(key);
      },
    };
  }

  // --- port forwarding: the host accepts, the stack connects into the guest ---

  private forward(rule: HostForward): void {
    const guest = parseIp(rule.guestAddr);
    if (guest === null) throw new Error(`hostfwd: guest address '${rule.guestAddr}' is not an IPv4 address`);
    if (rule.proto === 'udp') return this.forwardUdp(rule, guest);
    if (!this.opts.tcp) throw new Error('hostfwd: needs a TCP relay');
    const listener = this.opts.tcp.listen(rule.hostPort, rule.hostAddr, (stream) => {
      if (this.closed) return stream.close();
      const port = this.ephemeral((p) => this.tcp.has(`${guest}:${rule.guestPort}>${USER_NET.gateway}:${p}`));
      if (!port) return stream.close();
      const key = `${guest}:${rule.guestPort}>${USER_NET.gateway}:${port}`;
      const c = new TcpConnection(this.tcpOwner(key, USER_NET.gateway, guest), port, rule.guestPort, this.tune, 'SYN_SENT');
      this.tcp.set(key, c);
      c.attach(stream);
    });
    this.listeners.push(listener);
  }

  /**
   * UDP forward: each host peer gets a gateway port of its own; datagrams from the peer reach the
   * guest from 10.0.2.2:that-port, and the guest's answers to it go back to that peer.
   */
  private forwardUdp(rule: HostForward, guest: number): void {
    if (!this.opts.udp) throw new Error('hostfwd: needs a UDP relay');
    const byPeer = new Map<string, number>();
    const sock = this.opts.udp.bind(rule.hostPort, rule.hostAddr, (data, host, port) => {
      if (this.closed || data.length > MAX_UDP_DATA) return;
      const peer = `${host}:${port}`;
      let local = byPeer.get(peer);
      if (local === undefined) {
        local = this.ephemeral((p) => this.udpForwards.has(p));
        if (!local) return;
        byPeer.set(peer, local);
        this.udpForwards.set(local, (reply) => sock.sendTo(reply, host, port));
      }
      this.toGuest(buildUdp(USER_NET.gateway, guest, local, rule.guestPort, data));
    });
    this.listeners.push(sock);
  }

  /** The next free local port for a forwarded connection or peer, 0 when all are taken. */
  private ephemeral(taken: (port: number) => boolean): number {
    for (let i = 0; i < 65536 - EPHEMERAL_FIRST; i++) {
      const p = this.nextPort;
      this.nextPort = p === 65535 ? EPHEMERAL_FIRST : p + 1;
      if (!taken(p)) return p;
    }
    return 0;
  }
}
