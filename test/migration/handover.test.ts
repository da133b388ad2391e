// Who runs the guest at the end of a live migration (src/migration/source.ts, "Who runs the
// guest"): a real Machine moves between two Machines in this process over TCP, through a proxy
// that can lose or damage frames on the way. The guest is a tiny kernel that adds its pass number
// into every word of 1 MiB and prints the checksum after each pass; the expected lines are
// computed here in JavaScript, so a page lost, a pass run twice (both sides running) or a pass
// skipped changes the output. The guest ends after the pass in which a byte arrives on its serial
// line, which each test sends to the machine that should finish (checksum-guest.ts).
//   - A source paused with the monitor's stop arrives paused: the target's guest prints nothing
//     until it is continued, then finishes right.
//   - The target's DONE is lost after it loaded the state: the target runs the guest to the end;
//     the source stays paused (not running, not ended), says why in one line, and prints nothing
//     more.
//   - The target's DONE cannot even be sent: it runs the guest all the same; the source holds.
//   - The connection is cut while STATE is on its way: the source cannot know whether the target
//     has it, so neither runs the guest; the source's cont (a person's decision) runs it there.
//   - A STATE frame damaged on the way: the target refuses it with ERROR, and only then does the
//     source run the guest on, to the right result.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Machine, type MachineOptions } from '../../src/machine/machine.js';
import { VmRunner } from '../../src/node/vm-runner.js';
import { listenTcp } from '../../src/migration/tcp.js';
import { migrateIn, type IncomingResult } from '../../src/migration/target.js';
import { FRAME_HEADER, FrameType } from '../../src/migration/frames.js';
import type { MigrationLink } from '../../src/migration/link.js';
import { machineOptionsFor } from '../../src/snapshot/config.js';
import { CORE, haveBuildOutputs } from '../images.js';
import { assembleTinyKernel } from '../machine/tiny-kernel.js';
import { CHECKSUM_PROGRAM, LAST_PASS, wholeRun } from './checksum-guest.js';

const ready = haveBuildOutputs('the migration hand-over test (build/core.wasm)', [CORE]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP proxy between the source and the target listening at `targetPort`. `toTarget` and
 * `toSource` see each whole frame (header and body) going that way and return what to pass on:
 * the frame, a changed copy, or 'cut' to close both connections instead.
 */
async function frameProxy(targetPort: number, hooks: {
  toTarget?(frame: Buffer): Buffer | 'cut';
  toSource?(frame: Buffer): Buffer | 'cut';
}): Promise<{ port: number; server: Server }> {
  const server = createServer((fromSource) => {
    const toTargetSock = connect({ host: '127.0.0.1', port: targetPort });
    const pipe = (from: Socket, to: Socket, hook?: (f: Buffer) => Buffer | 'cut') => {
      let pending = Buffer.alloc(0);
      from.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= FRAME_HEADER) {
          const length = pending.readUInt32LE(4);
          if (pending.length < FRAME_HEADER + length) break;
          const frame = pending.subarray(0, FRAME_HEADER + length);
          pending = pending.subarray(FRAME_HEADER + length);
          const out = hook ? hook(Buffer.from(frame)) : frame;
          if (out === 'cut') { fromSource.destroy(); toTargetSock.destroy(); return; }
          to.write(out);
        }
      });
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    };
    pipe(fromSource, toTargetSock, hooks.toTarget);
    pipe(toTargetSock, fromSource, hooks.toSource);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, server };
}

describe.skipIf(!ready)('live migration: the guest runs on exactly one side', () => {
  let kernel: Uint8Array;
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'webx86-handover-'));
    try {
      kernel = assembleTinyKernel(dir, 'handover', '', CHECKSUM_PROGRAM);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  async function source() {
    const options: MachineOptions = { memoryMiB: 16, kernel, cmdline: '', clock: 'deterministic' };
    const out = { text: '' };
    const machine = await Machine.create(options, { onSerial: (b) => { out.text += Buffer.from(b).toString('latin1'); } });
    const runner = new VmRunner(machine, options, async () => ({}));
    const running = runner.run();
    const lines = async (n: number) => { while (out.text.split('\n').length <= n) await sleep(5); };
    return { machine, out, runner, running, lines };
  }

  /**
   * A target behind a listener: its machine's serial output, and the migration's result.
   * `failDone`: its transport breaks as it sends DONE (the write fails, the connection closes).
   */
  async function target(failDone = false) {
    const listener = await listenTcp({ host: '127.0.0.1', port: 0 });
    const out = { text: '' };
    const breakAtDone = (link: MigrationLink): MigrationLink => ({
      reader: link.reader,
      close: () => link.close(),
      write: async (parts) => {
        if (parts[0]![0] !== FrameType.DONE) return link.write(parts);
        link.close();
        throw new Error('the connection broke');
      },
    });
    const result: Promise<IncomingResult> = listener.accept().then((link) => migrateIn(failDone ? breakAtDone(link) : link, {
      build: async (config) => Machine.create(await machineOptionsFor(config, { kernel }), { onSerial: (b) => { out.text += Buffer.from(b).toString('latin1'); } }),
    }));
    result.catch(() => {});
    return { listener, out, result };
  }

  /** Run a migrated machine as the CLI's session does: paused when the source's guest was. */
  function runTarget(r: IncomingResult) {
    const runner = new VmRunner(r.machine, {} as MachineOptions, async () => ({}));
    if (!r.running) runner.stop();
    return { runner, running: runner.run() };
  }

  it('a source paused with stop arrives paused, prints nothing until cont, then finishes right', async () => {
    const src = await source();
    await src.lines(3);
    src.runner.stop();
    await sleep(200);
    const before = src.out.text;
    const t = await target();
    const summary = await src.runner.migrate(`tcp:127.0.0.1:${t.listener.port}`, () => {});
    t.listener.close();
    expect(summary).toMatch(/^migrated: /);
    expect(await src.running).toBe('stopped');
    expect(src.out.text).toBe(before); // paused all along
    const r = await t.result;
    expect(r.running).toBe(false);
    expect(r.confirmed).toBe(true);
    const run = runTarget(r);
    expect(run.runner.status).toBe('paused');
    await sleep(1500);
    expect(t.out.text).toBe(''); // still paused: not a single pass printed
    run.runner.cont();
    r.machine.sendSerial(LAST_PASS);
    expect(await run.running).toBe('poweroff');
    expect(before + t.out.text).toBe(wholeRun(before + t.out.text));
  }, 120_000);

  it('the DONE is lost after the target loaded the state: the target runs the guest to the end, the source stays paused and says so', async () => {
    const src = await source();
    await src.lines(3);
    const t = await target();
    // Everything reaches the target; its DONE never reaches the source, whose connection is cut.
    const proxy = await frameProxy(t.listener.port, { toSource: (f) => (f[0] === FrameType.DONE ? 'cut' : f) });
    await expect(src.runner.migrate(`tcp:127.0.0.1:${proxy.port}`, () => {})).rejects.toThrow(
      /^migrate: the state went to the target, which did not confirm that it runs the guest \([^)]+\); it may be running it, so this VM stays stopped \(`cont` runs it here: only if the target does not\)$/);
    proxy.server.close();
    t.listener.close();
    expect(src.runner.status).toBe('paused');
    expect(src.runner.migratedTo).toBeNull();
    expect(src.runner.migrationInfo()[0]).toBe(`migration to tcp:127.0.0.1:${proxy.port}: not confirmed`);
    const before = src.out.text;
    const r = await t.result;
    expect(r.running).toBe(true);
    const run = runTarget(r);
    r.machine.sendSerial(LAST_PASS);
    expect(await run.running).toBe('poweroff');
    // The source never ran a pass more, paused but not ended; the two halves make the whole once.
    expect(src.out.text).toBe(before);
    expect(before + t.out.text).toBe(wholeRun(before + t.out.text));
    let settled = false;
    void src.running.then(() => { settled = true; });
    await sleep(50);
    expect(settled).toBe(false);
    src.runner.end();
    expect(await src.running).toBe('stopped');
    expect(src.out.text).toBe(before);
  }, 120_000);

  it('the target cannot send its DONE: it runs the guest all the same (unconfirmed), and the source stays paused', async () => {
    const src = await source();
    await src.lines(3);
    const t = await target(true);
    await expect(src.runner.migrate(`tcp:127.0.0.1:${t.listener.port}`, () => {})).rejects.toThrow(
      /^migrate: the state went to the target, which did not confirm that it runs the guest \([^)]+\); it may be running it, so this VM stays stopped/);
    t.listener.close();
    expect(src.runner.status).toBe('paused');
    const before = src.out.text;
    const r = await t.result;
    expect(r.confirmed).toBe(false);
    expect(r.running).toBe(true);
    const run = runTarget(r);
    r.machine.sendSerial(LAST_PASS);
    expect(await run.running).toBe('poweroff');
    expect(src.out.text).toBe(before);
    expect(before + t.out.text).toBe(wholeRun(before + t.out.text));
    src.runner.end();
    expect(await src.running).toBe('stopped');
  }, 120_000);

  it('the connection is cut while STATE is on its way: neither side runs the guest until a person says cont at the source', async () => {
    const src = await source();
    await src.lines(3);
    const t = await target();
    // The STATE frame left the source whole (its kernel took it) but never reaches the target.
    const proxy = await frameProxy(t.listener.port, { toTarget: (f) => (f[0] === FrameType.STATE ? 'cut' : f) });
    await expect(src.runner.migrate(`tcp:127.0.0.1:${proxy.port}`, () => {})).rejects.toThrow(
      /^migrate: the state went to the target, which did not confirm that it runs the guest \([^)]+\); it may be running it, so this VM stays stopped/);
    await expect(t.result).rejects.toThrow(/^(the source closed the connection|the connection to the source broke: \w+)$/);
    proxy.server.close();
    t.listener.close();
    expect(src.runner.status).toBe('paused');
    const before = src.out.text;
    await sleep(1000);
    expect(src.out.text).toBe(before);
    // The person who knows the target has nothing lets it run here: it finishes right.
    src.runner.cont();
    src.machine.sendSerial(LAST_PASS);
    expect(await src.running).toBe('poweroff');
    expect(src.out.text).toBe(wholeRun(src.out.text));
  }, 120_000);

  it('a STATE frame damaged on the way is refused by the target, and only then does the source run on, to the right result', async () => {
    const src = await source();
    await src.lines(3);
    const t = await target();
    const proxy = await frameProxy(t.listener.port, {
      toTarget: (f) => {
        if (f[0] === FrameType.STATE) f[FRAME_HEADER + 40] ^= 0x20;
        return f;
      },
    });
    await expect(src.runner.migrate(`tcp:127.0.0.1:${proxy.port}`, () => {})).rejects.toThrow(
      /^migrate: the target gave up: bad frame from the source: a STATE frame of \d+ bytes fails its checksum; the VM runs on here$/);
    await expect(t.result).rejects.toThrow(/^bad frame from the source: a STATE frame of \d+ bytes fails its checksum$/);
    proxy.server.close();
    t.listener.close();
    expect(src.runner.status).toBe('running');
    src.machine.sendSerial(LAST_PASS);
    expect(await src.running).toBe('poweroff');
    expect(src.out.text).toBe(wholeRun(src.out.text));
  }, 120_000);
});
