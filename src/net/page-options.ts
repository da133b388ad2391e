// The page's network choice, from its address:
//   ?net=none             no network card (the default: a page opens no connections unasked)
//   ?net=user             user-mode networking (10.0.2.0/24, DHCP, DNS) through a Wisp relay;
//                         &wisp=URL names the relay (default: this server's /wisp/, which
//                         `npm start`, `npm run dev` and `vite preview` provide), &dns=HOST[:PORT]
//                         the DNS server the relay is asked to reach (default 1.1.1.1, port 53)
//   ?net=tabs[:NAME]      a switch between the tabs of this site: every VM on the same NAME
//                         (default "default") is on one Ethernet segment
//   &mac=52:54:00:12:34:57  the card's MAC; by default a random locally administered one per
//                         page, so that two tabs on one switch never share an address
// Pure parsing, shared by the page (which shows errors) and the worker (which builds the link).
import { checkSwitchName } from './broadcast';
import { WISP_PATH } from './wisp-path';

export const DEFAULT_DNS = '1.1.1.1';
export const DEFAULT_SWITCH = 'default';

export type PageNet =
  | { backend: 'none' }
  | { backend: 'user'; wisp: string; dns: { host: string; port: number }; mac: Uint8Array }
  | { backend: 'tabs'; name: string; mac: Uint8Array };

/** A random unicast, locally administered MAC (IEEE 802: bit 0 clear, bit 1 set in the first byte). */
export function randomMac(random: (b: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): Uint8Array {
  const mac = random(new Uint8Array(6));
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}

export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  if (!m) throw new Error(`mac=${text} is not a MAC address like 52:54:00:12:34:57`);
  const mac = Uint8Array.from(m.slice(1).map((h) => parseInt(h, 16)));
  if (mac[0]! & 1) throw new Error(`mac=${text} is a multicast address; a card needs a unicast one`);
  return mac;
}

/** `HOST` or `HOST:PORT` (IPv4 address or name; port 53 by default). */
function parseDnsServer(text: string): { host: string; port: number } {
  const m = /^([\w.-]{1,253})(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || port < 1 || port > 65535) throw new Error(`dns=${text} is not a DNS server like 1.1.1.1 or 192.168.1.1:53`);
  return { host: m[1]!, port };
}

export function macText(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * The network the page's address asks for. `pageUrl` resolves a relative wisp= and gives the
 * default relay; `mac` is the page's own (random) address when the address names none. Throws
 * an Error in words for a value it cannot use.
 */
export function parsePageNet(q: URLSearchParams, pageUrl: string, mac: Uint8Array): PageNet {
  const net = q.get('net') ?? 'none';
  const chosenMac = q.has('mac') ? parseMac(q.get('mac') ?? '') : mac;
  if (net === 'none' || net === '') {
    for (const k of ['wisp', 'dns', 'mac']) if (q.has(k)) throw new Error(`${k}= needs a network: add net=user or net=tabs`);
    return { backend: 'none' };
  }
  if (net === 'user') {
    const wisp = checkWispUrl(q.get('wisp') ?? WISP_PATH, pageUrl);
    return { backend: 'user', wisp, dns: parseDnsServer(q.get('dns') ?? DEFAULT_DNS), mac: chosenMac };
  }
  if (net === 'tabs' || net.startsWith('tabs:')) {
    if (q.has('wisp') || q.has('dns')) throw new Error('wisp= and dns= are for net=user; net=tabs joins other tabs only');
    const name = net === 'tabs' ? DEFAULT_SWITCH : net.slice('tabs:'.length);
    try {
      return { backend: 'tabs', name: checkSwitchName(name), mac: chosenMac };
    } catch (e) {
      throw new Error(`net=${net}: ${(e as Error).message}`);
    }
  }
  throw new Error(`net=${net} is not a network this page has (net=user, net=tabs, net=tabs:NAME or net=none)`);
}

/**
 * The Wisp URL a user gave, checked and made absolute against `base` (the page): ws: or wss:
 * (http: and https: are taken to mean the same server's WebSocket), ending in '/' as wisp-js
 * requires. Throws an Error in words.
 */
export function checkWispUrl(text: string, base?: string): string {
  let u: URL;
  try {
    u = new URL(text, base);
  } catch {
    throw new Error(`wisp=${text} is not a URL (give one like wss://relay.example/wisp/)`);
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`wisp=${text}: a Wisp relay is a ws: or wss: URL`);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  u.hash = '';
  return u.href;
}
