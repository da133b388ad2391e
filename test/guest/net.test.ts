// The network card (virtio-net) on user-mode NAT (src/net/user), under Linux's virtio_net and
// busybox's own tools: the default guest's /init gets 10.0.2.15 by DHCP (udhcpc) by itself; wget fetches a file from a real node:http
// server on the host through 10.0.2.2, and its SHA-256 matches; nc uploads bytes to a host TCP
// server, which receives them intact; nslookup resolves a name through 10.0.2.3; a forwarded host
// port reaches busybox httpd in the guest.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, request, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { createNodeUserNet } from '../../src/net/user/node-relay.js';
import { parseNetSpec } from '../../src/net/options.js';
import { guestFiles, haveBuildOutputs, IMAGES, MANIFEST } from '../images.js';
import { marked, markedOutput } from '../shell-markers.js';
import { BOOT_TIMEOUT_MS, Session, runCli, runSession } from './session.js';

const haveImages = haveBuildOutputs('the network guest test (test/guest/net.test.ts)', guestFiles());
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const listen = (s: Server | ReturnType<typeof createTcpServer>) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));


describe.skipIf(!haveImages)('Linux guest: the network', () => {
  it('DHCP, wget and nc to the host, DNS, and a forwarded port into the guest, over virtio-net and user-mode NAT', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { kernel: string; vmlinux?: string; initrd: string; cmdline: string; prompt: string };
    const body = new Uint8Array(randomBytes(200_000));
    const http = createServer((_req, res) => { res.writeHead(200, { 'Content-Type': 'application/octet-stream' }); res.end(body); });
    const httpPort = await listen(http);
    let uploaded = Buffer.alloc(0);
    const uploadDone = new Promise<void>((done) => {
      const tcp = createTcpServer((sock) => { sock.on('data', (d) => { uploaded = Buffer.concat([uploaded, d]); }); sock.on('end', () => { tcp.close(); done(); }); });
      void listen(tcp).then((p) => { uploadPort = p; });
    });
    let uploadPort = 0;
    await new Promise((r) => setTimeout(r, 50));
    // A free host port for the forward: the OS picks one, then it is handed to the stack.
    const probe = createTcpServer();
    const fwdPort = await listen(probe);
    await new Promise<void>((r) => probe.close(() => r()));
    const net = createNodeUserNet({ hostfwd: parseNetSpec(`user,hostfwd=tcp:127.0.0.1:${fwdPort}-:80`).hostfwd });
    // 108,894 bytes the guest makes itself (a typed line is limited to the tty's 4 KiB).
    const upload = `${Array.from({ length: 20000 }, (_, i) => i + 1).join('\n')}\n`;
    const session = new Session(m.prompt, [
      // The guest configured eth0 by DHCP as it booted (its /init does when it finds the card).
      "ifconfig eth0 | grep -o 'inet addr:[0-9.]*'; cat /etc/resolv.conf",
      `wget -q -O - http://10.0.2.2:${httpPort}/file | sha256sum`,
      `seq 1 20000 | nc 10.0.2.2 ${uploadPort}; echo sent`,
      'nslookup localhost 2>/dev/null | grep -c 127.0.0.1',
      // busybox httpd in the guest, serving a file the host then fetches through the forward.
      'mkdir -p /www; echo webx86-guest-httpd > /www/index.html; httpd -p 80 -h /www; echo up',
      'sleep 5',
    ], 'poweroff');
    let fromGuest = '';
    const machine = await Machine.create({
      memoryMiB: 128,
      kernel: new Uint8Array(readFileSync(join(IMAGES, m.kernel))),
      vmlinux: m.vmlinux ? new Uint8Array(readFileSync(join(IMAGES, m.vmlinux))) : undefined,
      initrd: new Uint8Array(readFileSync(join(IMAGES, m.initrd))),
      cmdline: m.cmdline, clock: 'realtime', net,
    }, {
      onSerial: (b) => {
        session.onSerial(b);
        // Once httpd runs (the fifth command's output is in), the host fetches through the forward.
        if (fromGuest === '' && session.outputs.length >= 5) {
          fromGuest = 'pending';
          request({ host: '127.0.0.1', port: fwdPort, path: '/' }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => { text += d.toString(); });
            res.on('end', () => { fromGuest = text; });
          }).on('error', (e) => { fromGuest = `error: ${e.message}`; }).end();
        }
      },
    });
    try {
      expect(await runSession(machine, session)).toBe('poweroff');
      const [addr, wgetSum, sent, dns] = session.outputs;
      expect(addr).toBe('inet addr:10.0.2.15\nnameserver 10.0.2.3\n');
      expect(session.text).toContain('eth0: inet addr:10.0.2.15');
      expect(wgetSum).toBe(`${sha(body)}  -\n`);
      expect(sent).toBe('sent\n');
      await uploadDone;
      expect(uploaded.toString()).toBe(upload);
      expect(dns).toBe('1\n');
      expect(fromGuest).toBe('webx86-guest-httpd\n');
      expect(machine.virtioNet!.net.checksums).toBeGreaterThan(0); // the guest left TCP checksums to the card
    } finally {
      net.close();
      http.close();
    }
  }, BOOT_TIMEOUT_MS + 60_000);

  it('bin/webx86 run --net user,dump=FILE.pcap: the guest configures itself by DHCP, and tcpdump reads the capture', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webx86-pcap-'));
    try {
      const pcap = join(dir, 'net.pcap');
      const { status, out } = await runCli(['run', '--net', `user,dump=${pcap}`], '~ # ', 'poweroff -f');
      expect(status, out.slice(-2000)).toBe(0);
      expect(out).toContain('eth0: inet addr:10.0.2.15');
      // tcpdump, an independent reader of the pcap format and of DHCP, sees the exchange.
      const dump = execFileSync('tcpdump', ['-nn', '-r', pcap], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      expect(dump).toMatch(/0\.0\.0\.0\.68 > 255\.255\.255\.255\.67: BOOTP\/DHCP, Request/);
      // (udhcpc asks for broadcast replies, RFC 2131 4.1, having no address yet.)
      expect(dump).toMatch(/10\.0\.2\.2\.67 > (10\.0\.2\.15|255\.255\.255\.255)\.68: BOOTP\/DHCP, Reply/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BOOT_TIMEOUT_MS + 60_000);

  it('fragments both ways (a 4000-byte ping of the gateway) and ICMP port unreachable for UDP to a closed host port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webx86-frag-'));
    // A UDP port the OS just gave out and took back: nothing listens there.
    const probe = createSocket('udp4');
    const closedPort = await new Promise<number>((r) => probe.bind(0, '127.0.0.1', () => r(probe.address().port)));
    await new Promise<void>((r) => probe.close(() => r()));
    try {
      const pcap = join(dir, 'net.pcap');
      const unreachs = "awk '/^Icmp:/ { getline; print $5; exit }' /proc/net/snmp"; // InDestUnreachs
      const line = `dmesg -n 1; ${marked(`ping -c 3 -s 4000 10.0.2.2 | grep -c "bytes from"; ${unreachs}; tftp -g -r x -l /tmp/x 10.0.2.2 ${closedPort} 2>/dev/null & sleep 2; kill $! 2>/dev/null; ${unreachs}`, 'F')}; poweroff -f`;
      const { status, out } = await runCli(['run', '--net', `user,dump=${pcap}`], '~ # ', line);
      expect(status, out.slice(-2000)).toBe(0);
      // The guest's Linux fragmented its requests, the stack put them together and fragmented its
      // answers, and Linux put those together: three replies.
      const output = markedOutput(out, 'F')!;
      const [replies, before, after] = output.trim().split('\n').map(Number);
      expect(replies, output).toBe(3);
      // Linux counted the port unreachable its tftp request met (InDestUnreachs went up).
      expect(after! - before!).toBeGreaterThanOrEqual(1);
      // tcpdump, reading the capture, decodes the fragments and the ICMP error's quote.
      const dump = execFileSync('tcpdump', ['-nn', '-v', '-r', pcap], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      // (4008 bytes of ICMP: 1480 + 1480 + 1048, each fragment in its own IPv4 header.)
      expect(dump).toMatch(/flags \[\+\], proto ICMP \(1\), length 1500\)\s+10\.0\.2\.2 > 10\.0\.2\.15: ICMP echo reply, id \d+, seq 0, length 1480/);
      expect(dump).toMatch(/offset 2960, flags \[none\], proto ICMP \(1\), length 1068\)\s+10\.0\.2\.2 > 10\.0\.2\.15/);
      expect(dump).toContain(`10.0.2.2 > 10.0.2.15: ICMP 10.0.2.2 udp port ${closedPort} unreachable`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BOOT_TIMEOUT_MS + 60_000);
});
