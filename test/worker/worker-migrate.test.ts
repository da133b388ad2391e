// The page worker's snapshot and migration code (src/worker/worker-snapshot.ts, worker-migrate.ts)
// in Node, with real Machines and a host that stops, runs and swaps them as the worker's VmHost
// does; tabs are stood in for by Node's own BroadcastChannel, which the migration uses between
// tabs. The guest is a tiny kernel that adds its pass number into every word of 1 MiB and prints
// the checksum after each pass; the expected lines are computed here, so a pass run on both
// sides, lost or run twice changes the output. The guest ends after the pass in which a byte
// arrives on its serial line, which the test sends to the machine that should finish.
//   - A guest paused in the source arrives paused: the target prints nothing until Resume, then
//     finishes right; the network backend's state went along, and the target's user network
//     resets the connection it held.
//   - The target cannot send its DONE: it runs the guest all the same; the source tab's machine
//     is held paused (not ended, the page not told it moved) and the error says so in words.
//   - A snapshot carries the network backend's state ('NET ', through the worker's capture tap),
//     and a restore hands it to the new backend, which resets the guest's saved connection.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Machine, type MachineOptions } from '../../src/machine/machine.js';
import type { ExitReason } from '../../src/machine/types.js';
import { awaitMigration } from '../../src/migration/broadcast.js';
import { FrameType } from '../../src/migration/frames.js';
import type { MigrationLink } from '../../src/migration/link.js';
import { migrateIn } from '../../src/migration/target.js';
import type { NetLink } from '../../src/net/link.js';
import type { PageNet } from '../../src/net/page-options.js';
import type { SavedUserNet } from '../../src/net/user/restore.js';
import { decodeSnapshot, machineOptionsFor } from '../../src/snapshot/snapshot.js';
import type { MachineInstance } from '../../src/worker/machine-api.js';
import { UNCONFIRMED, WorkerMigration, type MigrationHost } from '../../src/worker/worker-migrate.js';
import { WorkerNet } from '../../src/worker/worker-net.js';
import { WorkerSnapshots } from '../../src/worker/worker-snapshot.js';
import { CORE, haveBuildOutputs } from '../images.js';
import { assembleTinyKernel } from '../machine/tiny-kernel.js';
import { CHECKSUM_PROGRAM, LAST_PASS, wholeRun } from '../migration/checksum-guest.js';

const ready = haveBuildOutputs('the worker migration test (build/core.wasm)', [CORE]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A user network whose relay is never reached: the restored stack only talks to the guest here. */
const USER_NET: Extract<PageNet, { backend: 'user' }> = { backend: 'user', wisp: 'ws://127.0.0.1:9/wisp/', dns: { host: '1.1.1.1', port: 53 }, mac: Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56) };

/** A connection the saved machine's user network relayed for the guest. */
const SAVED_NET: SavedUserNet = { tcp: [{ guest: '10.0.2.15', guestPort: 40000, peer: '10.0.2.2', peerPort: 8080, mac: '52:54:00:12:34:56', seq: 1000, ack: 2000 }] };

/** A card's link whose backend has `state` to save (as a user network with one open connection has). */
function savingLink(state: unknown): NetLink {
  return { send() {}, onFrame: null, close() {}, saveState: () => state };
}

/** What VmHost lends the worker's snapshot and migration code, over real Machines. */
class TestHost implements MigrationHost {
  machine: MachineInstance | null = null;
  options: MachineOptions | null = null;
  running: Promise<ExitReason> | null = null;
  net: WorkerNet | null = null;
  retired = false;
  readonly out = { text: '' };
  readonly machineHost = { onSerial: (b: Uint8Array) => { this.out.text += Buffer.from(b).toString('latin1'); } };

  current() { return this.machine && this.options ? { machine: this.machine, options: this.options } : null; }
  lastOptions() { return this.options; }
  async suspend(m: MachineInstance): Promise<boolean> {
    m.stop();
    return (await this.running) === 'stopped';
  }
  resume(m: MachineInstance): void {
    if (this.machine === m) this.running = m.run();
  }
  async replace(m: MachineInstance, options: MachineOptions, net: WorkerNet | null): Promise<void> {
    await this.stop();
    this.net = net;
    this.start(m, options);
  }
  async retire(m: MachineInstance): Promise<void> {
    if (this.machine !== m) return;
    await this.stop();
    this.retired = true;
  }
  async coreWasm(): Promise<ArrayBuffer | undefined> { return undefined; }
  obtain(): Promise<Uint8Array> { return Promise.reject(new Error('this test gives the worker no image sources')); }

  start(m: MachineInstance, options: MachineOptions): void {
    this.machine = m;
    this.options = options;
    this.running = m.run();
  }

  async stop(): Promise<void> {
    const m = this.machine;
    this.machine = null;
    this.net?.close();
    if (m) { m.stop(); await this.running; }
  }

  async lines(n: number): Promise<void> {
    while (this.out.text.split('\n').length <= n) await sleep(5);
  }
}

describe.skipIf(!ready)('the page worker\'s snapshots and migrations', () => {
  let kernel: Uint8Array;
  let names = 0;
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'webx86-worker-migrate-'));
    try {
      kernel = assembleTinyKernel(dir, 'wmigrate', '', CHECKSUM_PROGRAM);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  async function sourceHost(link: NetLink): Promise<TestHost> {
    const host = new TestHost();
    const options: MachineOptions = { memoryMiB: 16, kernel, cmdline: '', clock: 'deterministic', nics: [{ link, mac: USER_NET.mac }] };
    host.start(await Machine.create(options, host.machineHost), options);
    return host;
  }

  const name = () => `worker-test-${process.pid}-${++names}`;

  it('a guest paused in the source tab arrives paused, with its network state, and runs only on Resume', async () => {
    const src = await sourceHost(savingLink(SAVED_NET));
    await src.lines(3);
    src.machine!.pause();
    await sleep(200);
    const before = src.out.text;
    // The target tab holds the same kernel (as a page that booted the same guest does).
    const dst = new TestHost();
    dst.options = { memoryMiB: 16, kernel, cmdline: '', clock: 'deterministic' };
    const to = name();
    const arrival = new WorkerMigration(dst, new WorkerSnapshots(dst)).receive(to, { images: {}, net: USER_NET });
    arrival.catch(() => {});
    await sleep(100); // the target listens before the offer
    const summary = await new WorkerMigration(src, new WorkerSnapshots(src)).send(to);
    expect(summary.text).toMatch(/^migrated: /);
    expect(src.retired).toBe(true);
    expect(src.out.text).toBe(before); // paused all along

    const info = await arrival;
    expect(info.paused).toBe(true);
    expect(info.confirmed).toBe(true);
    expect(info.net).toEqual([expect.stringMatching(/^user network: reset 1 TCP connection the guest had open when it was saved \(10\.0\.2\.15:40000 - 10\.0\.2\.2:8080\)/)]);
    // The reset went to the guest's card through the page's network (the capture tap counts it).
    expect(dst.net!.status().framesIn).toBe(1);
    expect(dst.machine!.status().state).toBe('paused');
    await sleep(1500);
    expect(dst.out.text).toBe(''); // not a single pass while paused
    dst.machine!.resume(); // the page's Resume
    dst.machine!.sendSerial(LAST_PASS);
    expect(await dst.running).toBe('poweroff');
    expect(before + dst.out.text).toBe(wholeRun(before + dst.out.text));
  }, 120_000);

  it('the target cannot send its DONE: it runs the guest, and the source tab\'s machine is held paused and says so', async () => {
    const src = await sourceHost(savingLink(SAVED_NET));
    await src.lines(3);
    const to = name();
    // The target tab, its transport breaking as it sends DONE (the write fails, the channel closes).
    const out = { text: '' };
    const target = awaitMigration(to).then((link) => {
      const broken: MigrationLink = {
        reader: link.reader,
        close: () => link.close(),
        write: async (parts) => {
          if (parts[0]![0] !== FrameType.DONE) return link.write(parts);
          link.close();
          throw new Error('the channel broke');
        },
      };
      return migrateIn(broken, {
        build: async (config) => Machine.create(await machineOptionsFor(config, { kernel, links: [savingLink(null)] }), { onSerial: (b) => { out.text += Buffer.from(b).toString('latin1'); } }),
      });
    });
    target.catch(() => {});
    await sleep(100);
    const sent = new WorkerMigration(src, new WorkerSnapshots(src)).send(to);
    const error = await sent.then(() => null, (e: Error) => e);
    expect(error?.name).toBe(UNCONFIRMED);
    expect(error?.message).toMatch(/^Migration not confirmed: the state went to the other tab, which did not confirm that it runs the guest \([^)]+\); it may be running it, so this VM stays stopped\. This VM is paused here; Resume runs it here, but only do that if the other tab does not run it\.$/);
    // Held, not retired: the machine is still this tab's, its run loop alive and paused.
    expect(src.retired).toBe(false);
    expect(src.machine).not.toBeNull();
    expect(src.machine!.status().state).toBe('paused');
    let settled = false;
    void src.running!.then(() => { settled = true; });
    const before = src.out.text;

    const r = await target;
    expect(r.confirmed).toBe(false);
    expect(r.running).toBe(true);
    expect(r.net).toEqual([SAVED_NET]); // the worker's saveNet went out with STATE
    const run = r.machine.run();
    r.machine.sendSerial(LAST_PASS);
    expect(await run).toBe('poweroff');
    expect(src.out.text).toBe(before); // the source never ran a pass more
    expect(settled).toBe(false);
    expect(before + out.text).toBe(wholeRun(before + out.text));
    await src.stop();
  }, 120_000);

  it('a snapshot carries the network backend\'s state, and a restore hands it to the new backend', async () => {
    // The page's own user network behind the card: its state passes through the capture tap.
    const own = new WorkerNet(USER_NET);
    const src = await sourceHost(own.link);
    await src.lines(2);
    const file = await new WorkerSnapshots(src).save();
    expect((await decodeSnapshot(file)).net).toEqual([{ tcp: [] }]);
    await src.stop();
    own.close();

    // A machine whose user network had a connection open: saved, then restored in its place.
    const busy = await sourceHost(savingLink(SAVED_NET));
    await busy.lines(2);
    const snapshots = new WorkerSnapshots(busy);
    const saved = await snapshots.save();
    expect((await decodeSnapshot(saved)).net).toEqual([SAVED_NET]);
    const info = await snapshots.restore(saved, { images: {}, net: USER_NET });
    expect(info.unplugged).toBe(0);
    expect(info.net).toEqual([expect.stringMatching(/^user network: reset 1 TCP connection the guest had open when it was saved/)]);
    expect(busy.net!.status().framesIn).toBe(1);
    await busy.stop();
  }, 120_000);
});
