// A Linux guest saved to a snapshot file at its prompt and restored from that file into a new
// Machine, built only from the file's configuration and the same images: in deterministic mode
// the restored machine prints exactly what the uninterrupted one prints, at the same instruction
// counts. And the file is a fraction of the guest's RAM (its zero pages are left out).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine, type MachineOptions } from '../../src/machine/machine.js';
import { decodeSnapshot, machineOptionsFor, restoreSnapshot, saveSnapshot, type RamCounts } from '../../src/snapshot/snapshot.js';
import { guestFiles, guestImages, haveBuildOutputs, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS, Session, hostNowMs, runSession } from '../guest/session.js';

const haveImages = haveBuildOutputs('the snapshot guest test (test/snapshot)', guestFiles());

interface Manifest { kernel: string; vmlinux?: string; initrd: string; cmdline: string; prompt: string }

const MIB = 1024 * 1024;

describe.skipIf(!haveImages)('Linux guest: a snapshot file', () => {
  it('restored into a new machine built from the file, goes on byte for byte as the machine it was saved from', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const images = guestImages(m);
    const options: MachineOptions = { memoryMiB: 128, ...images, cmdline: m.cmdline, clock: 'deterministic' };

    // Boot, run a command, stop at the prompt, and save there.
    let session = new Session(m.prompt, ['echo $((6*7))'], 'stop');
    const a = await Machine.create(options, { onSerial: (bytes) => session.onSerial(bytes) });
    expect(await runSession(a, session)).toBe('stopped');
    expect(session.outputs).toEqual(['42\n']);
    let counts: RamCounts | undefined;
    let t = hostNowMs();
    const file = await saveSnapshot(a, options, { onRamCounts: (c) => { counts = c; } });
    const encodeMs = hostNowMs() - t;

    // Restore first (the file alone, and the images), then let the original go on.
    t = hostNowMs();
    const snap = await decodeSnapshot(file);
    const decodeMs = hostNowMs() - t;
    const after = [
      'cat /proc/uptime; cat /proc/interrupts',
      'sleep 1; cat /proc/uptime; cat /proc/interrupts',
      'seq 1 5000 | sha256sum',
      'echo $((6*7))',
    ];
    const restoredSession = new Session(m.prompt, after, 'poweroff', true);
    t = hostNowMs();
    const b = await Machine.create(await machineOptionsFor(snap.config, images), { onSerial: (bytes) => restoredSession.onSerial(bytes) });
    restoreSnapshot(b, snap);
    const restoreMs = hostNowMs() - t + decodeMs;
    expect(b.status().instructions).toBe(a.status().instructions);

    const original = new Session(m.prompt, after, 'poweroff', true);
    session = original;
    expect(await runSession(a, original)).toBe('poweroff');
    expect(await runSession(b, restoredSession)).toBe('poweroff');

    expect(restoredSession.outputs).toHaveLength(after.length);
    expect(restoredSession.outputs[3]).toBe('42\n');
    const data = Array.from({ length: 5000 }, (_, i) => `${i + 1}\n`).join('');
    expect(restoredSession.outputs[2]).toBe(`${createHash('sha256').update(data).digest('hex')}  -\n`);
    expect(restoredSession.bytes().toString('latin1')).toBe(original.bytes().toString('latin1'));
    expect(b.status().instructions).toBe(a.status().instructions);

    // The size: zero pages are left out, and what is left is compressed.
    const pages = (128 * MIB) / 4096;
    expect(counts!.stored + counts!.zero + counts!.skipped).toBe(pages);
    expect(counts!.stored).toBe(snap.info.pagesStored);
    expect(counts!.zero).toBeGreaterThan(pages / 2);
    expect(file.length).toBeLessThan((counts!.stored * 4096) + MIB);
    expect(file.length).toBeLessThan(32 * MIB);
    console.log(`snapshot of a 128 MiB guest at its prompt: ${counts!.stored} of ${pages} pages stored ` +
      `(${(counts!.stored * 4096 / MIB).toFixed(1)} MiB), payload ${(snap.info.payloadBytes / MIB).toFixed(1)} MiB, ` +
      `file ${(file.length / MIB).toFixed(2)} MiB; save ${encodeMs.toFixed(0)} ms, decode ${decodeMs.toFixed(0)} ms, ` +
      `decode + build + restore ${restoreMs.toFixed(0)} ms`);
  }, 3 * BOOT_TIMEOUT_MS);
});
