// The <x86-vm> element's parts that need no browser, in Node: what its attributes and guest
// manifest choose (src/embed/guest-choice.ts, the manifest served by a real HTTP server), and how
// run() finds a command's output among the console's other text (src/embed/shell-command.ts),
// the guest's text written as a real busybox shell and kernel print it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chooseGuest, type GuestAttributes } from '../../src/embed/guest-choice';
import { commandMarkers, commandOutput, markedCommandLine } from '../../src/embed/shell-command';

const none: GuestAttributes = { src: null, kernel: null, initrd: null, disk: null, cmdline: null, memory: null, clock: null };

describe('<x86-vm> attributes and guest manifest', () => {
  let server: Server;
  let base: string;
  const served: Record<string, { type: string; body: string }> = {
    '/images/default.json': { type: 'application/json', body: JSON.stringify({
      kernel: 'bzImage', vmlinux: 'vmlinux', initrd: 'initramfs.cpio', cmdline: 'console=ttyS0,115200 quiet', recommendedMemoryMiB: 128, prompt: '~ # ',
    }) },
    '/images/disk.json': { type: 'application/json', body: JSON.stringify({ disk: 'disk.img', bios: 'bios/bios-256k.bin', vgaBios: 'bios/vgabios-stdvga.bin', prompt: '~ # ' }) },
    '/images/empty.json': { type: 'application/json', body: JSON.stringify({ name: 'nothing' }) },
    '/images/broken.json': { type: 'application/json', body: '{"kernel": ' },
    '/spa/default.json': { type: 'text/html', body: '<!doctype html><title>app</title>' },
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const file = served[req.url ?? ''];
      res.statusCode = file ? 200 : 404;
      res.setHeader('Content-Type', file?.type ?? 'text/plain');
      res.end(file?.body ?? 'not found');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('takes the manifest\'s kernel, vmlinux, initrd and command line, its URLs relative to it', async () => {
    const g = await chooseGuest({ ...none, src: '../images/default.json', memory: '64' }, `${base}/docs/page.html`);
    expect(g).toEqual({
      kernel: `${base}/images/bzImage`,
      vmlinux: `${base}/images/vmlinux`,
      initrd: `${base}/images/initramfs.cpio`,
      cmdline: 'console=ttyS0,115200 quiet',
      memoryMiB: 64,
      clock: 'realtime',
      prompt: '~ # ',
    });
  });

  it('fails in words for a manifest that is missing, an HTML page, not JSON, or names nothing to boot', async () => {
    await expect(chooseGuest({ ...none, src: '/images/nope.json' }, `${base}/`)).rejects.toThrow(`The guest manifest was not found: ${base}/images/nope.json (HTTP 404).`);
    await expect(chooseGuest({ ...none, src: '/spa/default.json' }, `${base}/`)).rejects.toThrow(/was not found: .*\/spa\/default\.json \(HTTP 200\)/);
    await expect(chooseGuest({ ...none, src: '/images/broken.json' }, `${base}/`)).rejects.toThrow(/is not JSON/);
    await expect(chooseGuest({ ...none, src: '/images/empty.json' }, `${base}/`)).rejects.toThrow(/names no kernel and no disk/);
    await expect(chooseGuest({ ...none, src: 'http://127.0.0.1:9/m.json' }, `${base}/`)).rejects.toThrow(/^Could not download the guest manifest http:\/\/127\.0\.0\.1:9\/m\.json/);
    await expect(chooseGuest(none, `${base}/`)).rejects.toThrow(/^Nothing to run/);
  });

  it('checks memory and clock before downloading anything', async () => {
    for (const memory of ['lots', '2', '3073', '64.5', '-8']) {
      await expect(chooseGuest({ ...none, src: 'http://127.0.0.1:9/never.json', memory }, `${base}/`)).rejects.toThrow(`memory="${memory}": give a whole number of MiB between 4 and 3072.`);
    }
    await expect(chooseGuest({ ...none, src: 'http://127.0.0.1:9/never.json', clock: 'fast' }, `${base}/`)).rejects.toThrow('clock="fast": use "realtime" or "deterministic".');
    const g = await chooseGuest({ ...none, src: '/images/default.json', clock: 'deterministic' }, `${base}/`);
    expect([g.clock, g.memoryMiB]).toEqual(['deterministic', 128]);
  });

  it('lets attributes override the manifest: a kernel named on the element goes without the manifest\'s vmlinux', async () => {
    const g = await chooseGuest({ ...none, src: '/images/default.json', kernel: 'my/bzImage', cmdline: 'console=ttyS0 init=/bin/sh' }, `${base}/docs/`);
    expect(g.kernel).toBe(`${base}/docs/my/bzImage`);
    expect(g.vmlinux).toBeUndefined();
    expect(g.initrd).toBe(`${base}/images/initramfs.cpio`);
    expect(g.cmdline).toBe('console=ttyS0 init=/bin/sh');
    // No manifest at all: the attributes alone.
    const bare = await chooseGuest({ ...none, kernel: '/k', initrd: '/i' }, `${base}/`);
    expect(bare).toMatchObject({ kernel: `${base}/k`, initrd: `${base}/i`, cmdline: 'console=ttyS0,115200', memoryMiB: 128, prompt: null });
  });

  it('boots a disk manifest through its BIOS', async () => {
    const g = await chooseGuest({ ...none, src: '/images/disk.json' }, `${base}/`);
    expect(g).toMatchObject({ disk: `${base}/images/disk.img`, bios: `${base}/images/bios/bios-256k.bin`, vgaBios: `${base}/images/bios/vgabios-stdvga.bin` });
    expect(g.kernel).toBeUndefined();
  });
});

describe('run()\'s output between markers', () => {
  const { begin, end } = commandMarkers('t1-7');

  it('types one line whose echo never holds a marker', () => {
    const line = markedCommandLine('echo $((6*7))', 't1-7');
    // Blanks first (shell-command.ts says why), then the command between the markers' printfs.
    expect(line).toBe(`${' '.repeat(16)}printf '\\033]7001;%s\\007' x86vm-t1-7-begin; echo $((6*7)); printf '\\033]7001;%s\\007' x86vm-t1-7-end`);
    expect(line).not.toContain(begin);
    expect(line).not.toContain(end);
    expect(() => markedCommandLine('echo a\necho b', 't1-7')).toThrow(/line break/);
    expect(() => markedCommandLine('true', 'no spaces')).toThrow(/marker id/);
  });

  it('finds the output among the echo, the prompt and kernel messages around it', () => {
    const echo = `~ # ${markedCommandLine('echo $((6*7))', 't1-7')}\r\n`;
    const console = `[    2.345678] clocksource: Switched to clocksource tsc\r\n${echo}${begin}42\r\n${end}~ # `;
    expect(commandOutput(console, 't1-7')).toBe('42');
    // Output without a final newline, several lines, and none at all.
    expect(commandOutput(`${echo}${begin}a\r\nb${end}~ # `, 't1-7')).toBe('a\nb');
    expect(commandOutput(`${echo}${begin}${end}~ # `, 't1-7')).toBe('');
    // Not yet finished, and an end without its beginning (a mangled line): not an output.
    expect(commandOutput(`${echo}${begin}4`, 't1-7')).toBeNull();
    expect(commandOutput(`${echo}${end}`, 't1-7')).toBeNull();
    // Another command's markers are not this one's.
    expect(commandOutput(`${commandMarkers('t1-8').begin}x${commandMarkers('t1-8').end}`, 't1-7')).toBeNull();
  });
});
