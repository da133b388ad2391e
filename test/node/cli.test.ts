// bin/webx86 refuses bad input with exactly one line `webx86: <message>` and exit status 2.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CORE, haveBuildOutputs, IMAGES } from '../images';

const BIN = resolve(__dirname, '../../bin/webx86');
const tmp = mkdtempSync(join(tmpdir(), 'webx86-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const IMAGE = join(IMAGES, 'bzImage');
const INITRD = join(IMAGES, 'initramfs.cpio.gz');
const haveGuest = haveBuildOutputs('the CLI test with the default guest (test/node)', [IMAGE, INITRD, CORE]);

function webx86(...args: string[]) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 60_000, input: '' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One line, prefixed, no stack trace. */
function expectOneLineError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^webx86: [^\n]+\n$/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).toMatch(pattern);
}

describe('webx86 CLI errors', () => {
  it('missing kernel file', () => {
    expectOneLineError(webx86('run', '--kernel', join(tmp, 'no-such-bzImage')), /no-such-bzImage' not found/);
  });

  it('missing initrd file', () => {
    const k = join(tmp, 'k');
    writeFileSync(k, 'x');
    expectOneLineError(webx86('run', '--kernel', k, '--initrd', join(tmp, 'nope.cpio')), /initrd '.*nope\.cpio' not found/);
  });

  it('a file that is not a bzImage', () => {
    const junk = join(tmp, 'junk.bin');
    const bytes = Buffer.alloc(64 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    writeFileSync(junk, bytes);
    expectOneLineError(webx86('run', '--kernel', junk), /junk\.bin: kernel: not a Linux bzImage/);
  });

  it('gzip data given as a kernel', () => {
    const gz = join(tmp, 'initrd.gz');
    writeFileSync(gz, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
    expectOneLineError(webx86('run', '--kernel', gz), /not a Linux bzImage \(gzip data/);
  });

  it.skipIf(!haveGuest)('--disk: a missing image, one that is not whole sectors, a seventh disk', () => {
    expectOneLineError(webx86('run', '--kernel', IMAGE, '--initrd', INITRD, '--disk', join(tmp, 'none.img')), /none\.img: cannot open \(ENOENT\)/);
    const odd = join(tmp, 'odd.img');
    writeFileSync(odd, Buffer.alloc(1000));
    expectOneLineError(webx86('run', '--kernel', IMAGE, '--initrd', INITRD, '--disk', odd), /odd\.img: 1000 bytes is not a whole number of 512-byte sectors/);
    const seven = Array.from({ length: 7 }, () => ['--disk', odd]).flat();
    expectOneLineError(webx86('run', ...seven), /--disk: at most 6 disks/);
  });

  it('--loadvm: a missing file, a file that is not a snapshot, a setting the snapshot brings', () => {
    expectOneLineError(webx86('run', '--loadvm', join(tmp, 'none.wx86snap')), /--loadvm .*none\.wx86snap: snapshot '.*none\.wx86snap' not found/);
    const junk = join(tmp, 'junk.wx86snap');
    writeFileSync(junk, 'not a snapshot at all');
    expectOneLineError(webx86('run', '--loadvm', junk), /--loadvm .*junk\.wx86snap: .*snapshot/);
    expectOneLineError(webx86('run', '--loadvm', junk, '--memory', '64'), /--memory does not go with --loadvm/);
  });

  it('--memory too small', () => {
    expectOneLineError(webx86('run', '--memory', '1'), /--memory 1 is out of range: too small/);
  });

  it.skipIf(!haveGuest)('--memory too small for the kernel and initrd', () => {
    const r = webx86('run', '--kernel', IMAGE, '--initrd', INITRD, '--memory', '8');
    expectOneLineError(r, /8 MiB of RAM is too small for this kernel and initrd/);
  });

  it('--memory that is not a number', () => {
    expectOneLineError(webx86('run', '--memory', '64M'), /whole number of MiB/);
  });

  it('unknown option', () => {
    expectOneLineError(webx86('run', '--frobnicate'), /unknown option '--frobnicate'/);
    expectOneLineError(webx86('--frobnicate'), /unknown option '--frobnicate'/);
  });

  it('unknown command and option without value', () => {
    expectOneLineError(webx86('fly'), /unknown command 'fly'/);
    expectOneLineError(webx86('run', '--kernel'), /--kernel needs a value/);
  });

  it('--boot disk without a disk, and firmware options without --boot disk', () => {
    expectOneLineError(webx86('run', '--boot', 'disk'), /--boot disk needs a --disk/);
    expectOneLineError(webx86('run', '--bios', join(tmp, 'x.bin')), /--bios is for --boot disk/);
    expectOneLineError(webx86('run', '--boot', 'floppy'), /--boot floppy: expected 'kernel' or 'disk'/);
    expectOneLineError(webx86('run', '--boot', 'disk', '--disk', 'd.img', '--kernel', 'k'), /--kernel loads a kernel directly/);
  });

  it('a BIOS or VGA BIOS file that is not one, and a disk that is not whole sectors', () => {
    const disk = join(tmp, 'disk.img');
    writeFileSync(disk, new Uint8Array(1 << 20));
    const oddDisk = join(tmp, 'odd.img');
    writeFileSync(oddDisk, new Uint8Array(1000));
    const shortBios = join(tmp, 'short-bios.bin');
    writeFileSync(shortBios, new Uint8Array(5000));
    expectOneLineError(webx86('run', '--boot', 'disk', '--disk', disk, '--bios', shortBios), /BIOS image is 5000 bytes; a BIOS ROM is 64, 128, 192 or 256 KiB/);
    const noVector = join(tmp, 'zero-bios.bin');
    writeFileSync(noVector, new Uint8Array(128 * 1024));
    expectOneLineError(webx86('run', '--boot', 'disk', '--disk', disk, '--bios', noVector), /no far jump at its reset vector/);
    const vga = join(tmp, 'vga.bin');
    writeFileSync(vga, Uint8Array.of(0x55, 0xaa, 80, 0, 0));
    expectOneLineError(webx86('run', '--boot', 'disk', '--disk', disk, '--vga-bios', vga), /VGA BIOS image is truncated: its header says 40960 bytes, the file has 5/);
    expectOneLineError(webx86('run', '--boot', 'disk', '--disk', oddDisk), /not a whole number of 512-byte sectors/);
    expectOneLineError(webx86('run', '--screenshot', join(tmp, 'shot.jpg')), /the file name must end in \.png/);
  });

  it('--net with an unknown backend or option, and --virtio-disk that is not whole sectors', () => {
    expectOneLineError(webx86('run', '--net', 'bogus'), /--net: unknown backend 'bogus' \(supported: user, socket, hub, none\)/);
    expectOneLineError(webx86('run', '--net', 'user', '--balloon', 'x'), /--balloon wants a whole number of MiB, not 'x'/);
    expectOneLineError(webx86('run', '--rng', 'maybe'), /--rng maybe: expected 'on' or 'off'/);
    expectOneLineError(webx86('run', '--net', 'user,speed=9'), /--net: unknown option 'speed=9'/);
    const odd = join(tmp, 'odd-virtio.img');
    writeFileSync(odd, new Uint8Array(1000));
    expectOneLineError(webx86('run', '--virtio-disk', odd), /not a whole number of 512-byte sectors/);
  });

  it('--help prints usage and exits 0', () => {
    const r = webx86('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: webx86 run/);
    expect(r.stdout).toContain('--no-reboot');
    expect(r.stderr).toBe('');
  });
});
