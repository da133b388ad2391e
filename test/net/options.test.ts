// The `--net` option and QEMU's hostfwd rule syntax.
import { describe, expect, it } from 'vitest';
import { parseNetSpec } from '../../src/net/options';
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
    expect(() => parseNetSpec('tap,ifname=x')).toThrow(/backend/);
    expect(() => parseNetSpec('user,smb=/tmp')).toThrow(/smb/);
  });
});
