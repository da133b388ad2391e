// Host-side decompression of a bzImage's kernel payload (src/boot/payload.ts).
//
// Independent reference for the Debian kernel: build/images/vmlinux, which disk-images/build.mjs
// (extractVmlinux) makes from the same bzImage by piping its payload through XZ Utils'
// `xz -dc --single-stream` (liblzma, in C) and checking the length against the size the kernel
// build appended. The code under test shares nothing with that path: its own XZ container parser
// and x86 BCJ filter, and the xz-decompress package (xz-embedded in WebAssembly) for LZMA2.
// The gzip cases compress with node:zlib; the extra XZ cases (several blocks, a BCJ start
// offset, a CRC64 check) are made with the xz command when it is installed (it is wherever the
// images are built). Broken images must give a BootError (or null, for the fuzz cases that may
// land on an unsupported-but-intact option), never another exception.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { haveBuildOutputs, IMAGES } from '../images';
import { BootError } from '../../src/boot/boot-error';
import { parseBzImage } from '../../src/boot/bzimage';
import { decompressPayload, payloadFormat, unfilterX86 } from '../../src/boot/payload';

const BZIMAGE = join(IMAGES, 'bzImage');
const VMLINUX = join(IMAGES, 'vmlinux');
const have = haveBuildOutputs('host decompression of the Debian bzImage (test/boot/payload.test.ts)', [BZIMAGE, VMLINUX]);
const haveXz = spawnSync('xz', ['--version']).status === 0;

const put16 = (b: Uint8Array, o: number, v: number) => { b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; };
const put32 = (b: Uint8Array, o: number, v: number) => { put16(b, o, v); put16(b, o + 2, v >>> 16); };
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** A deterministic byte source. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A small i386 ELF executable: one PT_LOAD at 16 MiB holding code-like bytes (CALL/JMP rel32
 * with near displacements among filler, so the x86 BCJ filter has work to do).
 */
function tinyElf(bodySize = 48 * 1024): Uint8Array {
  const f = new Uint8Array(0x1000 + bodySize);
  f.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0); // ELF, 32-bit, little-endian, version 1
  put16(f, 16, 2); // ET_EXEC
  put16(f, 18, 3); // EM_386
  put32(f, 20, 1);
  put32(f, 24, 0x1000000); // entry
  put32(f, 28, 52); // phoff
  put16(f, 40, 52); // ehsize
  put16(f, 42, 32); // phentsize
  put16(f, 44, 1); // phnum
  const ph = 52;
  put32(f, ph, 1); // PT_LOAD
  put32(f, ph + 4, 0x1000);
  put32(f, ph + 8, 0xc1000000);
  put32(f, ph + 12, 0x1000000);
  put32(f, ph + 16, bodySize);
  put32(f, ph + 20, bodySize + 0x2000);
  put32(f, ph + 24, 5);
  put32(f, ph + 28, 0x1000);
  const rnd = prng(7);
  for (let i = 0x1000; i < f.length;) {
    const r = rnd();
    if (r < 0.15 && i + 5 <= f.length) {
      f[i] = r < 0.1 ? 0xe8 : 0xe9;
      put32(f, i + 1, (Math.floor(rnd() * 0x4000) - 0x2000) >>> 0);
      i += 5;
    } else {
      f[i++] = [0x55, 0x89, 0xe5, 0x8b, 0x45, 0x08, 0x5d, 0xc3, 0x90, 0x00][Math.floor(rnd() * 10)];
    }
  }
  return f;
}

/** A minimal bzImage (protocol `version`) whose protected-mode part holds `payload`. */
function makeBzImage(payload: Uint8Array, version = 0x020f): Uint8Array {
  const setupSects = 1;
  const pmOffset = (setupSects + 1) * 512;
  const payloadOffset = 0x100; // a stand-in for the decompressor before the payload
  const pmLength = payloadOffset + payload.length + 0x40;
  const f = new Uint8Array(pmOffset + pmLength);
  f[0x1f1] = setupSects;
  put32(f, 0x1f4, Math.ceil(pmLength / 16)); // syssize
  put16(f, 0x1fe, 0xaa55);
  f[0x200] = 0xeb;
  f[0x201] = 0x66; // header ends at 0x268
  f.set([0x48, 0x64, 0x72, 0x53], 0x202); // HdrS
  put16(f, 0x206, version);
  f[0x211] = 0x01; // LOADED_HIGH
  put32(f, 0x214, 0x100000);
  put32(f, 0x22c, 0x7fffffff);
  put32(f, 0x230, 0x1000000);
  f[0x234] = 1;
  put32(f, 0x238, 2047);
  put32(f, 0x248, payloadOffset);
  put32(f, 0x24c, payload.length);
  put32(f, 0x258, 0x1000000);
  put32(f, 0x260, 0x800000);
  f.set(payload, pmOffset + payloadOffset);
  return f;
}

/** `bz` with its payload replaced by `payload` (payload_length and syssize updated). */
function withPayload(bz: Uint8Array, payload: Uint8Array): Uint8Array {
  const { protectedModeOffset: pm, header } = parseBzImage(bz);
  const start = pm + header.payloadOffset;
  const tail = bz.subarray(start + header.payloadLength);
  const f = new Uint8Array(start + payload.length + tail.length);
  f.set(bz.subarray(0, start), 0);
  f.set(payload, start);
  f.set(tail, start + payload.length);
  put32(f, 0x24c, payload.length);
  put32(f, 0x1f4, Math.ceil((f.length - pm) / 16));
  return f;
}

function payloadOf(bz: Uint8Array): Uint8Array {
  return parseBzImage(bz).payload;
}

/** A kernel-style XZ payload made by the xz command: the stream, then the size as le32. */
function xzPayload(data: Uint8Array, args: string[]): Uint8Array {
  const r = spawnSync('xz', ['--format=xz', '--stdout', ...args], { input: data, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`xz ${args.join(' ')}: ${r.stderr}`);
  const size = new Uint8Array(4);
  put32(size, 0, data.length);
  return new Uint8Array(Buffer.concat([r.stdout, size]));
}

/** The outcome of decompressPayload as data: never lets an unexpected exception through unnoticed. */
async function outcome(bz: Uint8Array): Promise<{ kind: 'ok'; vmlinux: Uint8Array; format: string } | { kind: 'null' } | { kind: 'BootError'; message: string } | { kind: 'other'; error: unknown }> {
  try {
    const r = await decompressPayload(bz);
    return r ? { kind: 'ok', ...r } : { kind: 'null' };
  } catch (e) {
    if (e instanceof BootError) return { kind: 'BootError', message: e.message };
    return { kind: 'other', error: e };
  }
}

async function expectBootError(bz: Uint8Array, re: RegExp): Promise<void> {
  const r = await outcome(bz);
  expect(r).toMatchObject({ kind: 'BootError' });
  const msg = (r as { message: string }).message;
  expect(msg).not.toContain('\n');
  expect(msg).toMatch(re);
}

describe('host decompression of synthetic bzImages', () => {
  const elf = tinyElf();

  it('decompresses a gzip payload to the ELF it was made from', async () => {
    const r = await decompressPayload(makeBzImage(gzipSync(elf, { level: 9 })));
    expect(r?.format).toBe('gzip');
    expect(same(r!.vmlinux, elf)).toBe(true);
  });

  it('gives a BootError for a truncated gzip payload', async () => {
    const gz = gzipSync(elf);
    await expectBootError(makeBzImage(gz.subarray(0, gz.length >> 1)), /gzip payload/);
    await expectBootError(makeBzImage(gz.subarray(0, gz.length - 4)), /gzip payload/);
    await expectBootError(makeBzImage(gz.subarray(0, 3)), /compressed kernel is only 3 bytes/);
  });

  it('gives a BootError for a corrupt gzip payload', async () => {
    const gz = new Uint8Array(gzipSync(elf));
    gz[gz.length >> 1] ^= 0x55;
    await expectBootError(makeBzImage(gz), /gzip payload is corrupt/);
    const badSize = new Uint8Array(gzipSync(elf));
    put32(badSize, badSize.length - 4, elf.length + 1);
    await expectBootError(makeBzImage(badSize), /gzip payload is corrupt/);
    const huge = new Uint8Array(gzipSync(elf));
    put32(huge, huge.length - 4, 0xfffffff0);
    await expectBootError(makeBzImage(huge), /more than the .* accepted/);
  });

  it('gives a BootError when the payload is not an i386 kernel', async () => {
    await expectBootError(makeBzImage(gzipSync(new Uint8Array(5000).fill(0x41))), /not an i386 kernel \(not an ELF file\)/);
    const elf64 = elf.slice();
    elf64[4] = 2;
    put16(elf64, 18, 62);
    await expectBootError(makeBzImage(gzipSync(elf64)), /not an i386 kernel \(ELF for x86-64/);
  });

  it('returns null for formats it leaves to the guest', async () => {
    const junk = (magic: number[]) => {
      const p = new Uint8Array(4096);
      const rnd = prng(magic[0]);
      for (let i = 0; i < p.length; i++) p[i] = rnd() * 256;
      p.set(magic, 0);
      return p;
    };
    const cases: [string, number[]][] = [
      ['bzip2', [0x42, 0x5a, 0x68, 0x39]], ['lzma', [0x5d, 0x00, 0x00, 0x80]], ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
      ['lz4', [0x02, 0x21, 0x4c, 0x18]], ['zstd', [0x28, 0xb5, 0x2f, 0xfd]], ['unknown', [0x12, 0x34]],
      ['gzip', [0x1f, 0x9e]], // the old gzip magic, which the kernel accepts and we do not
    ];
    for (const [format, magic] of cases) {
      const p = junk(magic);
      expect(payloadFormat(p), format).toBe(format);
      expect(await decompressPayload(makeBzImage(p)), format).toBeNull();
    }
  });

  it('returns null for an ELF kernel and for boot protocols without payload fields', async () => {
    expect(await decompressPayload(elf)).toBeNull();
    expect(await decompressPayload(makeBzImage(gzipSync(elf), 0x0207))).toBeNull();
  });

  it('gives a BootError for anything that is not a bzImage', async () => {
    await expectBootError(new Uint8Array(0), /not a Linux bzImage \(an empty file/);
    await expectBootError(gzipSync(elf), /not a Linux bzImage \(gzip data/);
  });

  it('never throws anything but BootError on truncated or bit-flipped gzip images', async () => {
    const bz = makeBzImage(gzipSync(elf));
    const rnd = prng(1);
    const seen = new Set<string>();
    for (let n = 0; n < 150; n++) {
      let f: Uint8Array;
      if (n % 3 === 0) {
        f = bz.subarray(0, Math.floor(rnd() * bz.length));
      } else {
        f = bz.slice();
        f[0x300 + Math.floor(rnd() * (bz.length - 0x300))] ^= 1 << Math.floor(rnd() * 8);
      }
      const r = await outcome(f);
      expect(r.kind, String((r as { error?: unknown }).error)).not.toBe('other');
      if (r.kind === 'ok') expect(same(r.vmlinux, elf)).toBe(true); // a flip outside the payload
      seen.add(r.kind);
    }
    expect(seen.has('BootError')).toBe(true);
  });
});

describe.skipIf(!haveXz)('host decompression of XZ payloads made by the xz command', () => {
  const elf = tinyElf(200 * 1024);

  it('decodes x86 BCJ + LZMA2 with CRC32, as the kernel build writes it', async () => {
    const r = await decompressPayload(makeBzImage(xzPayload(elf, ['--check=crc32', '--x86', '--lzma2=dict=1MiB'])));
    expect(r?.format).toBe('xz+x86');
    expect(same(r!.vmlinux, elf)).toBe(true);
  });

  it('decodes several blocks (sizes in the block headers), a BCJ start offset and no check', async () => {
    for (const args of [
      ['--check=crc32', '--x86=start=4096', '--lzma2=dict=64KiB', '--block-size=65536'],
      ['--check=none', '--x86', '--lzma2', '--block-size=30000'],
      ['--check=crc32', '--lzma2=preset=6', '--block-size=100000'],
    ]) {
      const r = await decompressPayload(makeBzImage(xzPayload(elf, args)));
      expect(r?.format, args.join(' ')).toBe(args.some((a) => a.startsWith('--x86')) ? 'xz+x86' : 'xz');
      expect(same(r!.vmlinux, elf), args.join(' ')).toBe(true);
    }
  });

  it('returns null for an intact stream with a check it does not verify (CRC64, SHA-256)', async () => {
    expect(await decompressPayload(makeBzImage(xzPayload(elf, ['--check=crc64', '--x86', '--lzma2'])))).toBeNull();
    expect(await decompressPayload(makeBzImage(xzPayload(elf, ['--check=sha256'])))).toBeNull();
  });

  it('returns null for filters a kernel build never uses', async () => {
    expect(await decompressPayload(makeBzImage(xzPayload(elf, ['--delta=dist=4', '--lzma2'])))).toBeNull();
    expect(await decompressPayload(makeBzImage(xzPayload(elf, ['--arm', '--lzma2'])))).toBeNull();
  });

  it('never throws anything but BootError on truncated or bit-flipped XZ images', async () => {
    const payload = xzPayload(elf, ['--check=crc32', '--x86', '--lzma2', '--block-size=50000']);
    const bz = makeBzImage(payload);
    const start = bz.length - 0x40 - payload.length;
    const rnd = prng(2);
    const kinds: Record<string, number> = {};
    for (let n = 0; n < 200; n++) {
      let f: Uint8Array;
      if (n % 4 === 0) {
        // payload_length cut short: the stream loses its end
        f = bz.slice();
        put32(f, 0x24c, Math.floor(rnd() * payload.length));
      } else {
        f = bz.slice();
        f[start + Math.floor(rnd() * payload.length)] ^= 1 << Math.floor(rnd() * 8);
      }
      const r = await outcome(f);
      expect(r.kind, String((r as { error?: unknown }).error)).not.toBe('other');
      expect(r.kind).not.toBe('ok'); // every byte of the stream is covered by a CRC or a size
      kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
    }
    expect(kinds.BootError).toBeGreaterThan(150);
  });
});

describe.skipIf(!have)('host decompression of the Debian bzImage', () => {
  const bz = have ? new Uint8Array(readFileSync(BZIMAGE)) : new Uint8Array();
  const vmlinux = have ? new Uint8Array(readFileSync(VMLINUX)) : new Uint8Array();

  it('decompresses its XZ payload to exactly the vmlinux xz -dc made', async () => {
    const t0 = performance.now();
    const r = await decompressPayload(bz);
    const ms = performance.now() - t0;
    expect(r?.format).toBe('xz+x86');
    expect(r!.vmlinux.length).toBe(vmlinux.length);
    expect(same(r!.vmlinux, vmlinux)).toBe(true);
    console.info(`Debian bzImage: ${bz.length} bytes -> ${r!.vmlinux.length} bytes of vmlinux in ${ms.toFixed(0)} ms`);
  }, 60_000);

  it('decompresses the same kernel as a gzip payload (CONFIG_KERNEL_GZIP)', async () => {
    const r = await decompressPayload(withPayload(bz, gzipSync(vmlinux, { level: 6 })));
    expect(r?.format).toBe('gzip');
    expect(same(r!.vmlinux, vmlinux)).toBe(true);
  }, 60_000);

  it('gives a BootError for a truncated image or payload', async () => {
    await expectBootError(bz.subarray(0, bz.length >> 1), /bzImage truncated/);
    const payload = payloadOf(bz);
    for (const cut of [1, 4, 5, 16, 100, payload.length >> 1, payload.length - 20]) {
      const f = bz.slice();
      put32(f, 0x24c, payload.length - cut);
      // Cutting exactly the appended size leaves an intact XZ stream, but no size for mkpiggy.
      const why = cut === 4 ? /the decompressed size after the stream is missing/ : /no stream footer|only 20 bytes/;
      await expectBootError(f, why);
    }
  }, 60_000);

  it('gives a BootError for corruption anywhere in the XZ stream', async () => {
    const payload = payloadOf(bz);
    const n = payload.length;
    const footer = n - 4 - 12;
    const indexSize = (u32(payload, footer + 4) + 1) * 4;
    const cases: [string, number, RegExp][] = [
      ['stream header flags', 7, /stream header checksum/],
      ['block header', 14, /block 0 header checksum/],
      ['LZMA2 data, early', 4096, /LZMA2 data error|CRC32 mismatch/],
      ['LZMA2 data, middle', n >> 1, /LZMA2 data error|CRC32 mismatch/],
      // before the check (4 bytes) and the block padding (at most 3)
      ['LZMA2 data, near its end', footer - indexSize - 4 - 3 - 8, /LZMA2 data error|CRC32 mismatch/],
      ['block check (CRC32)', footer - indexSize - 2, /block 0 CRC32 mismatch/],
      ['index', footer - indexSize + 2, /index checksum/],
      ['stream footer', footer + 5, /no stream footer/],
      ['appended size', n - 2, /appended size/],
    ];
    for (const [what, at, re] of cases) {
      const p = payload.slice();
      p[at] ^= 0x10;
      const r = await outcome(withPayload(bz, p));
      expect(r.kind, what).toBe('BootError');
      expect((r as { message: string }).message, what).toMatch(re);
    }
  }, 120_000);
});

describe('x86 BCJ filter', () => {
  it('turns absolute CALL targets back into displacements and leaves other bytes alone', () => {
    // E8 with absolute target 0x1234 + (position of the next instruction): at offset 3, next = 8.
    const b = new Uint8Array([0x90, 0x90, 0x90, 0xe8, 0x3c, 0x12, 0x00, 0x00, 0x90, 0xe9, 0x00, 0x00, 0x00, 0x80]);
    unfilterX86(b, 0);
    expect([...b.subarray(3, 8)]).toEqual([0xe8, 0x34, 0x12, 0x00, 0x00]);
    // The E9 at 9 has a far (top byte 0x80) operand: unchanged.
    expect([...b.subarray(9)]).toEqual([0xe9, 0x00, 0x00, 0x00, 0x80]);
  });

  it('counts positions from the start offset, and sign-extends a backward target', () => {
    const b = new Uint8Array([0xe8, 0x00, 0x00, 0x00, 0x00]);
    unfilterX86(b, 0x100); // absolute 0 from next instruction at 0x105: displacement -0x105
    expect(u32(b, 1)).toBe((-0x105 >>> 0));
  });

  it('leaves buffers shorter than an instruction alone', () => {
    const b = new Uint8Array([0xe8, 1, 2, 3]);
    unfilterX86(b);
    expect([...b]).toEqual([0xe8, 1, 2, 3]);
  });
});
