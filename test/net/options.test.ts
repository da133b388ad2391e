// The `--net` option, several of them (parseNics), and QEMU's hostfwd rule syntax.
import { describe, expect, it } from 'vitest';
import { macText, parseNetSpec, parseNics } from '../../src/net/options';
import { parseHostForward } from '../../src/net/user/hostfwd';

describe('--net user,hostfwd=...,dump=...', () => {
  it('reads QEMU hostfwd rules', () => {
    expect(parseHostForward('tcp::8080-:80')).toEqual({ proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestAddr: '10.0.2.15', guestPort: 80 });
    expect(parseHostForward('udp:0.0.0.0:5353-10.0.2.16:53')).toEqual({ proto: 'udp', hostAddr: '0.0.0.0', hostPort: 5353, guestAddr: '10.0.2.16', guestPort: 53 });
    expect(parseHostForward('::2222-:22').proto).toBe('tcp');
    for (const bad of ['tcp:8080-:80', 'sctp::1-:2', 'tcp::70000-:80', 'tcp::80-:0', ':2222-:22', '']) expect(() => parseHostForward(bad), bad).toThrow(/hostfwd/);
  });

  it('reads the whole option', () => {
    const s = parseNetSpec('user,hostfwd=tcp::8080-:80,hostfwd=udp::5353-:53,dump=net.pcap');
    expect(s.hostfwd.map((h) => `${h.proto}:${h.hostPort}-${h.guestPort}`)).toEqual(['tcp:8080-80', 'udp:5353-53']);
    expect(s.dump).toBe('net.pcap');
    expect(parseNetSpec('user')).toEqual({ backend: 'user', hostfwd: [] });
    expect(() => parseNetSpec('tap,ifname=x')).toThrow(/unknown backend 'tap' \(supported: user, socket, hub, none\)/);
    expect(() => parseNetSpec('user,smb=/tmp')).toThrow(/smb/);
  });

  it('reads socket, hub and none', () => {
    expect(parseNetSpec('socket,connect=10.1.2.3:4000').connect).toEqual({ host: '10.1.2.3', port: 4000 });
    expect(parseNetSpec('socket,connect=:4000').connect).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(parseNetSpec('hub')).toEqual({ backend: 'hub', hostfwd: [], hub: '0' });
    expect(parseNetSpec('hub,name=lan-2,mac=52:54:00:aa:bb:cc,dump=h.pcap')).toEqual({
      backend: 'hub', hostfwd: [], hub: 'lan-2', mac: Uint8Array.of(0x52, 0x54, 0, 0xaa, 0xbb, 0xcc), dump: 'h.pcap',
    });
    expect(parseNetSpec('none')).toEqual({ backend: 'none', hostfwd: [] });
    const bad: [string, RegExp][] = [
      ['socket', /needs connect=HOST:PORT/],
      ['socket,connect=host:0', /connect=host:0 is not HOST:PORT/],
      ['socket,connect=host:12x', /is not HOST:PORT/],
      ['socket,hostfwd=tcp::1-:2', /unknown option 'hostfwd=tcp::1-:2' \(supported: connect=HOST:PORT/],
      ['hub,name=', /hub name '' is not/],
      ['hub,name=a/b', /hub name 'a\/b' is not/],
      ['hub,connect=x:1', /unknown option 'connect=x:1' \(supported: name=NAME/],
      ['none,mac=52:54:00:00:00:01', /--net none takes no options/],
      ['user,mac=52:54:00:00:00', /mac=52:54:00:00:00 is not a MAC address/],
      ['user,mac=01:00:5e:00:00:01', /is a multicast address/],
    ];
    for (const [text, pattern] of bad) expect(() => parseNetSpec(text), text).toThrow(pattern);
  });
});

describe('several --net options and --mac', () => {
  it('makes one card per option, in order, with --mac on the first', () => {
    const nics = parseNics(['user,hostfwd=tcp::2222-:22', 'hub,name=x', 'hub,name=x,mac=52:54:00:00:00:09'], '52:54:00:00:00:01', 4);
    expect(nics.map((n) => n.backend)).toEqual(['user', 'hub', 'hub']);
    expect(nics.map((n) => (n.mac ? macText(n.mac) : null))).toEqual(['52:54:00:00:00:01', null, '52:54:00:00:00:09']);
    // mac= in the first card's own option wins over --mac.
    expect(macText(parseNics(['user,mac=52:54:00:00:00:07'], '52:54:00:00:00:01', 4)[0]!.mac!)).toBe('52:54:00:00:00:07');
    expect(parseNics(['none'], undefined, 4)).toEqual([]);
    expect(parseNics([], undefined, 4)).toEqual([]);
  });

  it('refuses none beside a card, too many cards, --mac without a card, a bad --mac and a MAC twice', () => {
    expect(() => parseNics(['none', 'user'], undefined, 4)).toThrow(/--net none means no network card/);
    expect(() => parseNics(['hub', 'hub', 'hub', 'hub', 'hub'], undefined, 4)).toThrow(/at most 4 network cards/);
    expect(() => parseNics([], '52:54:00:00:00:01', 4)).toThrow(/--mac needs a network card/);
    expect(() => parseNics(['none'], '52:54:00:00:00:01', 4)).toThrow(/--mac needs a network card/);
    expect(() => parseNics(['user'], 'nonsense', 4)).toThrow(/--mac nonsense is not a MAC address/);
    expect(() => parseNics(['user', 'hub,mac=52:54:00:00:00:01'], '52:54:00:00:00:01', 4)).toThrow(/two cards have the MAC address 52:54:00:00:00:01/);
  });
});
