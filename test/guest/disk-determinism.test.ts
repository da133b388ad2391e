// Deterministic mode with a disk, saved while the guest waits for a read. A disk request
// completes a fixed 100 us of guest time after it was made; Machine.settleIo lets the guest run
// on to its next instant with no request outstanding and saves there, so no completion is ever
// delivered before its time. Three runs of the default guest reading a disk in a loop:
//   C: never saved;
//   A: stopped at the instruction that starts one of the loop's reads, settled, saved, run on;
//   B: a new machine loaded with A's saved state.
// A prints exactly what C prints and ends at the same instruction count and guest time; B
// prints exactly what A printed after the save. The loop's MD5s are checked against the disk's
// bytes hashed here. (Completing the read at once instead, settleIo's runOn: false, also
// repeated C at every stop point tried, 1 to 20: this guest takes its disk interrupts where that
// does not show. The test holds the property, not the need for running on.)
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { MemoryBackend } from '../../src/storage/block.js';
import { OverlayBackend } from '../../src/storage/overlay.js';
import { guestFiles, guestImages, haveBuildOutputs, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS, Session, runSession } from './session.js';

const haveImages = haveBuildOutputs('the deterministic disk snapshot test (test/guest/disk-determinism.test.ts)', guestFiles());

interface Manifest { kernel: string; vmlinux?: string; initrd: string; cmdline: string; prompt: string }

const CHUNK = 64 * 1024;
const CHUNKS = 24;
/** 2 MiB of seeded bytes: each 64 KiB chunk differs. */
const DISK = (() => {
  const b = new Uint8Array(2 * 1024 * 1024);
  let s = 0x12345678;
  for (let i = 0; i < b.length; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; b[i] = s & 0xff; }
  return b;
})();
const SETUP = 'modprobe ahci; modprobe sd_mod; i=0; while [ ! -e /sys/block/sda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat /sys/block/sda/size';
/** Each read is of a chunk not read before, so it goes to the disk, not the page cache. */
const LOOP = `for i in $(seq 0 ${CHUNKS - 1}); do dd if=/dev/sda bs=${CHUNK} count=1 skip=$i 2>/dev/null | md5sum; done; cat /proc/uptime; poweroff -f\n`;
/** A stops at this read of the loop (counted from the loop's first: a point of the guest's run, not of the host's). */
const STOP_AT_READ = Number(process.env.STOP_AT_READ ?? 12);

/** The disk image; `onRead` hears of each read as the guest's command starts it. */
class WatchedImage extends MemoryBackend {
  onRead: (() => void) | null = null;
  override read(offset: number, length: number): Promise<Uint8Array> {
    this.onRead?.();
    return super.read(offset, length);
  }
}

function makeMachine(m: Manifest, onSerial: (bytes: Uint8Array) => void, image = new WatchedImage(DISK.slice(), true)): Promise<Machine> {
  return Machine.create({
    memoryMiB: 128,
    ...guestImages(m),
    cmdline: m.cmdline,
    clock: 'deterministic',
    disks: [new OverlayBackend(image)],
  }, { onSerial });
}

/** Boot to the prompt with the disk's drivers loaded, and type the loop; the machine is stopped. */
async function bootToLoop(m: Manifest, out: Uint8Array[], image?: WatchedImage): Promise<Machine> {
  let session: Session | null = new Session(m.prompt, [SETUP], 'stop');
  const machine = await makeMachine(m, (bytes) => { if (session) session.onSerial(bytes); else out.push(bytes.slice()); }, image);
  expect(await runSession(machine, session)).toBe('stopped');
  expect(session.outputs).toEqual([`${DISK.length / 512}\n`]);
  session = null;
  machine.sendSerial(new TextEncoder().encode(LOOP));
  return machine;
}

const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString('latin1');
const md5Lines = (s: string) => s.split(/\r?\n/).filter((l) => /^[0-9a-f]{32}  -$/.test(l)).map((l) => l.slice(0, 32));

describe.skipIf(!haveImages)('deterministic mode: a disk machine saved in the middle of a read', () => {
  it('repeats the run that was never saved, and a machine loaded from the save goes on the same', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const expected = Array.from({ length: CHUNKS }, (_, i) => createHash('md5').update(DISK.subarray(i * CHUNK, (i + 1) * CHUNK)).digest('hex'));

    // C: never saved.
    const outC: Uint8Array[] = [];
    const c = await bootToLoop(m, outC);
    expect(await c.run()).toBe('poweroff');
    expect(md5Lines(text(outC))).toEqual(expected);

    // A: stopped at the instruction that started the loop's STOP_AT_READth read, 100 us of
    // guest time before it completes.
    const outA: Uint8Array[] = [];
    const image = new WatchedImage(DISK.slice(), true);
    const a = await bootToLoop(m, outA, image);
    let reads = 0;
    image.onRead = () => {
      if (++reads < STOP_AT_READ) return;
      image.onRead = null;
      a.stop();
      a.core.requestStop(); // right after the instruction that started the read, before the guest idles
    };
    expect(await a.run()).toBe('stopped');
    expect(md5Lines(text(outA)).length).toBeLessThan(CHUNKS);
    expect(a.diskRequestsPending).toBeGreaterThan(0);
    await a.settleIo();
    expect(a.diskRequestsPending).toBe(0);
    const saved = a.saveState();
    const savedAt = outA.length;
    expect(await a.run()).toBe('poweroff');
    // The same bytes (the guest's uptime among them), the same instructions, the same guest time:
    // a read completed early would leave the same bytes and instructions, the guest idling less.
    expect(text(outA)).toBe(text(outC));
    expect(a.status().instructions).toBe(c.status().instructions);
    expect(a.status().guestSeconds).toBe(c.status().guestSeconds);

    // B: loaded from A's save.
    const outB: Uint8Array[] = [];
    const b = await makeMachine(m, (bytes) => outB.push(bytes.slice()));
    b.loadState(saved);
    expect(await b.run()).toBe('poweroff');
    expect(text(outB)).toBe(text(outA.slice(savedAt)));
    expect(b.status().instructions).toBe(a.status().instructions);
    expect(b.status().guestSeconds).toBe(a.status().guestSeconds);
  }, 3 * BOOT_TIMEOUT_MS);
});
