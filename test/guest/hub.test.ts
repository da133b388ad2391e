// Two VMs in one process on one Ethernet segment (src/net/hub.ts), each with a virtio-net card:
// with addresses set by hand, Linux's own ping reaches the other VM and nc moves a file from one
// to the other over TCP; the bytes arrive intact (the receiver's sha256sum against the sender's).
// Then two VMs in two processes joined through `bin/webx86 switch` (src/net/node-socket.ts) do
// the same: ping, and 300 KiB of the sender's /dev/urandom arrive with the sender's sha256sum.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { Hub } from '../../src/net/hub.js';
import { guestFiles, haveBuildOutputs, IMAGES, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS, Session } from './session.js';

const haveImages = haveBuildOutputs('the two-VM network test (test/guest/hub.test.ts)', guestFiles());

describe.skipIf(!haveImages)('Linux guests: two VMs on a hub', () => {
  it('ping each other, and move a file over TCP with a matching checksum', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { kernel: string; vmlinux?: string; initrd: string; cmdline: string; prompt: string };
    const hub = new Hub();
    const setUp = (ip: string) => `ifconfig eth0 ${ip} netmask 255.255.255.0 up; ifconfig eth0 | grep -o 'inet addr:[0-9.]*'`;
    // A listens and hashes what arrives; B waits for A's listener, pings A, then sends.
    const a = new Session(m.prompt, [setUp('10.0.9.1'), 'nc -l -p 5000 | sha256sum > /tmp/got; cat /tmp/got']);
    const b = new Session(m.prompt, [
      setUp('10.0.9.2'),
      'ping -c 3 -W 5 10.0.9.1 | grep -c "bytes from 10.0.9.1"',
      'sleep 2; seq 1 30000 | sha256sum; seq 1 30000 | nc 10.0.9.1 5000; echo sent',
    ]);
    const machine = (s: Session, mac: number) => Machine.create({
      memoryMiB: 96,
      kernel: new Uint8Array(readFileSync(join(IMAGES, m.kernel))),
      vmlinux: m.vmlinux ? new Uint8Array(readFileSync(join(IMAGES, m.vmlinux))) : undefined,
      initrd: new Uint8Array(readFileSync(join(IMAGES, m.initrd))),
      cmdline: m.cmdline, clock: 'realtime',
      net: hub.port(), mac: Uint8Array.of(0x52, 0x54, 0x00, 0x00, 0x00, mac),
    }, { onSerial: (bytes) => s.onSerial(bytes) });
    const [ma, mb] = await Promise.all([machine(a, 1), machine(b, 2)]);
    a.start(ma);
    b.start(mb);
    const timer = setTimeout(() => { ma.stop(); mb.stop(); }, BOOT_TIMEOUT_MS);
    const [ea, eb] = await Promise.all([ma.run(), mb.run()]);
    clearTimeout(timer);
    expect(ea, a.progress()).toBe('poweroff');
    expect(eb, b.progress()).toBe('poweroff');
    expect(a.outputs[0]).toBe('inet addr:10.0.9.1\n');
    expect(b.outputs[0]).toBe('inet addr:10.0.9.2\n');
    expect(b.outputs[1]).toBe('3\n');
    const [sentSum, sent] = b.outputs[2]!.split('\n');
    expect(sent).toBe('sent');
    expect(a.outputs[1]).toBe(`${sentSum}\n`);
    expect(ma.virtioNet!.net.received).toBeGreaterThan(10);
  }, BOOT_TIMEOUT_MS + 60_000);

  it('two processes on bin/webx86 switch ping each other and move a file over TCP with a matching checksum', async () => {
    const bin = resolve(__dirname, '../../bin/webx86');
    const sw = spawn(bin, ['switch', '--listen', '0']);
    const port = await new Promise<number>((done, fail) => {
      let out = '';
      sw.stdout.on('data', (d: Buffer) => { out += d.toString(); const m = /listening on [^:]+:(\d+)/.exec(out); if (m) done(Number(m[1])); });
      sw.on('exit', () => fail(new Error(`the switch exited: ${out}`)));
    });
    /** A VM process on the switch that types `commands` at its prompts, one by one; resolves with its output at power-off. */
    const vm = (mac: string, commands: string[]) => new Promise<{ out: string; code: number | null }>((done) => {
      const child: ChildProcessWithoutNullStreams = spawn(bin, ['run', '--net', `socket,connect=127.0.0.1:${port},mac=${mac}`]);
      let out = '';
      let typed = 0;
      const timer = setTimeout(() => child.kill(), BOOT_TIMEOUT_MS);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        const prompts = out.split('~ # ').length - 1;
        if (prompts > typed) child.stdin.write(`${typed < commands.length ? commands[typed] : 'poweroff -f'}\n`), typed++;
      });
      child.on('exit', (code) => { clearTimeout(timer); done({ out, code }); });
    });
    try {
      const [a, b] = await Promise.all([
        // A receives one connection into a file, then hashes it and counts its bytes.
        vm('52:54:00:00:01:01', ['ifconfig eth0 10.0.8.1 netmask 255.255.255.0 up', 'nc -l -p 5001 > /tmp/f; sha256sum < /tmp/f; wc -c < /tmp/f']),
        // B pings A, then sends 300 KiB of random bytes (retrying while A's listener is not up yet).
        vm('52:54:00:00:01:02', [
          'ifconfig eth0 10.0.8.2 netmask 255.255.255.0 up',
          'sleep 3; ping -c 3 -W 5 10.0.8.1 | grep -c "bytes from 10.0.8.1"; echo pinged',
          'dd if=/dev/urandom of=/tmp/data bs=1024 count=300 2>/dev/null; sha256sum < /tmp/data; ' +
            'i=0; until nc 10.0.8.1 5001 < /tmp/data || [ $i -ge 20 ]; do sleep 1; i=$((i+1)); done; echo sent',
        ]),
      ]);
      expect(b.out, b.out.slice(-1500)).toMatch(/\n3\r?\npinged/);
      // The hashes are read from the outputs (a typed command line holds no 64-digit hex word).
      const sent = /\n([0-9a-f]{64}) {2}-\r?\n(?:.*\r?\n)*?sent/.exec(b.out);
      const got = /\n([0-9a-f]{64}) {2}-\r?\n\s*(\d+)\r?\n/.exec(a.out);
      expect(sent, b.out.slice(-1500)).not.toBeNull();
      expect(got, a.out.slice(-1500)).not.toBeNull();
      expect(got![2]).toBe(String(300 * 1024));
      expect(got![1]).toBe(sent![1]);
      // Both powered off at their last prompt (exit status 0).
      expect([a.code, b.code]).toEqual([0, 0]);
    } finally {
      sw.kill();
    }
  }, BOOT_TIMEOUT_MS + 60_000);
});
