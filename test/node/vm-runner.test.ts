// VmRunner: what the monitor's savevm, loadvm, stop and cont do to a real Machine (the default
// guest's kernel, booting), without a terminal: the machine stops only for the moment of a save
// or a restore and runs again after, a failure leaves it running as it was, and a quit during a
// save ends the run.
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Machine, type MachineOptions } from '../../src/machine/machine.js';
import { MemoryBackend } from '../../src/storage/block.js';
import { snapshotConfig } from '../../src/snapshot/snapshot.js';
import { configDifferences, VmRunner } from '../../src/node/vm-runner.js';
import { guestFiles, haveBuildOutputs, IMAGES, MANIFEST } from '../images.js';

const haveImages = haveBuildOutputs('the VmRunner test (test/node/vm-runner.test.ts)', guestFiles());
const dir = mkdtempSync(join(tmpdir(), 'webx86-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function guestOptions(overrides: Partial<MachineOptions> = {}): MachineOptions {
  const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { kernel: string; initrd: string; cmdline: string };
  return {
    memoryMiB: 64,
    kernel: new Uint8Array(readFileSync(join(IMAGES, m.kernel))),
    initrd: new Uint8Array(readFileSync(join(IMAGES, m.initrd))),
    cmdline: m.cmdline,
    clock: 'deterministic',
    ...overrides,
  };
}

async function started(overrides: Partial<MachineOptions> = {}) {
  const options = guestOptions(overrides);
  const machine = await Machine.create(options, { onSerial: () => {} });
  const runner = new VmRunner(machine, options, async () => ({}));
  const exit = runner.run();
  return { machine, runner, options, exit };
}

const failure = async (p: Promise<unknown>): Promise<Error> => p.then(() => { throw new Error('expected a failure'); }, (e: Error) => e);

describe.skipIf(!haveImages)('VmRunner: savevm and loadvm on a live machine', () => {
  it('savevm writes a file (a paused machine stays paused); loadvm of it goes back; bad files change nothing; cont resumes', async () => {
    const { machine, runner, exit } = await started();
    // Paused first: a busy guest (this one is booting) shares the event loop with the file's
    // compression, which then takes seconds. test/guest/monitor.test.ts saves a running guest.
    await new Promise((r) => setTimeout(r, 200));
    runner.stop();
    expect(runner.status).toBe('paused');
    const file = join(dir, 'a.wx86snap');
    expect(await runner.savevm(file)).toMatch(/^saved .*a\.wx86snap \([\d.]+ MiB; the guest paused \d+ ms\)$/);
    await new Promise((r) => setTimeout(r, 50));
    expect(machine.status().state).toBe('paused');
    const savedAt = readFileSync(file);
    // The guest goes on past the save.
    runner.cont();
    await new Promise((r) => setTimeout(r, 200));
    expect(machine.status().state).toBe('running');
    runner.stop();
    await new Promise((r) => setTimeout(r, 50));
    const later = machine.status().instructions;
    // A damaged file or none is refused before the machine is touched...
    const damaged = Buffer.from(savedAt);
    damaged[damaged.length >> 1]! ^= 1;
    writeFileSync(join(dir, 'damaged.wx86snap'), damaged);
    const e = await failure(runner.loadvm(join(dir, 'damaged.wx86snap')));
    expect(e.message).toMatch(/^snapshot [^\n]+$/);
    expect((await failure(runner.loadvm(join(dir, 'none.wx86snap')))).message).toMatch(/^snapshot '.*none\.wx86snap' not found$/);
    expect(machine.status().instructions).toBe(later);
    // ...the saved one takes it back to the instruction it was saved at, still paused (as QEMU)...
    expect(await runner.loadvm(file)).toBe(`loaded ${file}`);
    const loadedAt = machine.status().instructions;
    expect(loadedAt).toBeLessThan(later);
    await new Promise((r) => setTimeout(r, 50));
    expect(machine.status().state).toBe('paused');
    expect(machine.status().instructions).toBe(loadedAt);
    // ...and cont resumes it.
    runner.cont();
    await new Promise((r) => setTimeout(r, 50));
    expect(machine.status().state).toBe('running');
    expect(machine.status().instructions).toBeGreaterThan(loadedAt);
    runner.quit();
    expect(await exit).toBe('stopped');
  }, 120_000);

  it('a machine with a disk written in place: savevm is refused in one line and it runs on; a quit during a save ends the run', async () => {
    const { machine, runner, exit } = await started({ disks: [new MemoryBackend(new Uint8Array(1024 * 1024))] });
    const e = await failure(runner.savevm(join(dir, 'disk.wx86snap')));
    expect(e.message).toMatch(/^cannot save this machine: disk sata0 is written in place[^\n]+$/);
    await new Promise((r) => setTimeout(r, 50));
    expect(machine.status().state).toBe('running');
    const save = failure(runner.savevm(join(dir, 'disk2.wx86snap')));
    runner.quit();
    expect(await exit).toBe('stopped');
    expect((await save).message).toMatch(/the session is ending|cannot save/);
  }, 120_000);

  it('configDifferences names what would make a reboot differ', async () => {
    const a = await snapshotConfig(guestOptions());
    expect(configDifferences(a, a)).toEqual([]);
    const b = await snapshotConfig(guestOptions({ cmdline: 'console=ttyS0 quiet', disks: [new MemoryBackend(new Uint8Array(512))], initrd: undefined }));
    expect(configDifferences(a, b)).toEqual(['initrd', 'command line', 'set of disks']);
  });
});
