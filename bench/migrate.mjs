#!/usr/bin/env node
// Snapshot and live-migration benchmark (webx86 only: v86 has neither live migration nor a CLI
// monitor to compare with).
//
//   node bench/migrate.mjs [--memory MIB] [--snapshot-memory MIB] [--dirty MIB] [--timeout SECONDS]
//
// 1. Snapshots: the default guest (128 MiB) booted to its prompt, then saved: the time the guest
//    is stopped (its state copied), the file's size and the time until the file is ready; then
//    restored into a fresh Machine (decode, build, load) and checked to answer at its prompt.
// 2. Live migration: a 256 MiB guest running a busy workload (a shell loop rewriting a file of
//    --dirty MiB in tmpfs with dd, again and again) moves over TCP on 127.0.0.1 to a
//    `webx86 run --incoming` in another process, as the monitor's `migrate` does it (VmRunner):
//    each pre-copy round, the total time and the downtime (guest stopped here until the target
//    answered that it runs it). The target's guest must answer afterwards.
// Prints the figures and, last, one JSON line.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';
import { manifest } from './v86-host.mjs';

register();
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const load = (p) => import(pathToFileURL(join(ROOT, p)).href);
const { Machine } = await load('src/machine/machine.ts');
const { VmRunner } = await load('src/node/vm-runner.ts');
const snap = await load('src/snapshot/snapshot.ts');
const { DirtyLog } = await load('src/cpu/dirty-log.ts');

function parseArgs(argv) {
  const opts = { memory: 256, snapshotMemory: 128, dirty: 48, timeout: 600 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--memory') opts.memory = Number(argv[++i]);
    else if (a === '--snapshot-memory') opts.snapshotMemory = Number(argv[++i]);
    else if (a === '--dirty') opts.dirty = Number(argv[++i]);
    else if (a === '--timeout') opts.timeout = Number(argv[++i]);
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

/** A serial console: `waitFor(text)` after what was seen so far, `run(cmd)` with an end marker. */
function shell(send, timeoutMs, label) {
  let out = '';
  let n = 0;
  const waiters = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      if (out.indexOf(w.text, w.from) >= 0) { waiters.splice(i, 1); clearTimeout(w.timer); w.done(); }
    }
  };
  const waitFor = (text, from = 0) => new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${label}: no ${JSON.stringify(text)} within ${timeoutMs / 1000} s; last output ${JSON.stringify(out.slice(-300))}`)), timeoutMs);
    waiters.push({ text, from, done, timer });
    check();
  });
  return {
    feed(text) { out += text; check(); },
    get length() { return out.length; },
    waitFor,
    async run(cmd) {
      const id = ++n;
      const from = out.length;
      send(`${cmd}; echo "@@E""ND${id}@@"\n`);
      await waitFor(`@@END${id}@@`, from);
      return out.slice(from, out.indexOf(`@@END${id}@@`, from)).replace(/\r/g, '');
    },
  };
}

function guestOptions(guest, memoryMiB) {
  return {
    memoryMiB,
    kernel: new Uint8Array(readFileSync(guest.kernel)),
    vmlinux: guest.vmlinux ? new Uint8Array(readFileSync(guest.vmlinux)) : undefined,
    initrd: new Uint8Array(readFileSync(guest.initrd)),
    cmdline: guest.cmdline,
    clock: 'realtime',
  };
}

/** A booted guest in this process, at its prompt, behind a VmRunner. */
async function bootGuest(guest, memoryMiB, timeoutMs, label) {
  const options = guestOptions(guest, memoryMiB);
  let sh;
  const machine = await Machine.create(options, { onSerial: (b) => sh.feed(Buffer.from(b).toString('latin1')) });
  sh = shell((s) => machine.sendSerial(new TextEncoder().encode(s)), timeoutMs, label);
  const runner = new VmRunner(machine, options, async () => ({}));
  const running = runner.run();
  await sh.waitFor(guest.prompt);
  await sh.run('dmesg -n 1');
  return { machine, options, sh, runner, running };
}

async function snapshotFigures(guest, opts) {
  const vm = await bootGuest(guest, opts.snapshotMemory, opts.timeout * 1000, 'snapshot guest');
  // Stop it as savevm does, and time the two halves of a save.
  vm.runner.end();
  await vm.running;
  const t0 = performance.now();
  await vm.machine.settleIo();
  const state = vm.machine.saveState();
  const pausedMs = performance.now() - t0;
  const file = await snap.encodeSnapshot(state, await snap.snapshotConfig(vm.options), { skipPage: (pfn) => vm.machine.balloon.isInflated(pfn) });
  const saveMs = performance.now() - t0;
  const r0 = performance.now();
  const decoded = await snap.decodeSnapshot(file);
  const restoredOptions = await snap.machineOptionsFor(decoded.config, guestOptions(guest, opts.snapshotMemory));
  let sh;
  const m2 = await Machine.create(restoredOptions, { onSerial: (b) => sh.feed(Buffer.from(b).toString('latin1')) });
  snap.restoreSnapshot(m2, decoded);
  const restoreMs = performance.now() - r0;
  sh = shell((s) => m2.sendSerial(new TextEncoder().encode(s)), 60_000, 'restored guest');
  const running = m2.run();
  const answer = await sh.run('echo restored-$((40+2))');
  if (!answer.includes('restored-42')) throw new Error(`the restored guest answered ${JSON.stringify(answer)}`);
  m2.stop();
  await running;
  return { memoryMiB: opts.snapshotMemory, fileMiB: file.length / 1048576, pausedMs, saveMs, restoreMs };
}

/** `webx86 run --incoming tcp:127.0.0.1:0` in another process; resolves once it listens. */
function startTarget(timeoutMs) {
  const child = spawn(join(ROOT, 'bin', 'webx86'), ['run', '--incoming', 'tcp:127.0.0.1:0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  const sh = shell((s) => child.stdin.write(s), timeoutMs, 'target');
  child.stdout.on('data', (d) => sh.feed(d.toString('latin1')));
  const port = new Promise((done, fail) => {
    child.stderr.on('data', (d) => {
      err += d.toString();
      const m = /waiting for a migration on tcp:127\.0\.0\.1:(\d+)/.exec(err);
      if (m) done(Number(m[1]));
    });
    child.on('exit', (code) => fail(new Error(`the target exited (${code}): ${err.trim()}`)));
  });
  return { child, sh, port, stderr: () => err };
}

/** Pages per second the guest writes now: the dirty log on for one second of its run. */
async function dirtyRate(vm) {
  const log = new DirtyLog(vm.machine.core);
  // (VmRunner's whileStopped is what the migration itself uses to reach the stopped machine.)
  const stopped = (work) => vm.runner['whileStopped'](work);
  await stopped(async () => log.start());
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 1000));
  const pages = await stopped(async () => { const p = log.harvest(); log.stop(); return p.length; });
  return Math.round(pages / ((performance.now() - t0) / 1000));
}

async function migrationFigures(guest, opts) {
  const vm = await bootGuest(guest, opts.memory, opts.timeout * 1000, 'source');
  // The busy workload: a file of --dirty MiB rewritten in tmpfs, over and over, in the background.
  await vm.sh.run(`(while true; do dd if=/dev/zero of=/tmp/z bs=1M count=${opts.dirty} 2>/dev/null; done) & true`);
  await new Promise((r) => setTimeout(r, 2000));
  // How fast the workload dirties pages, before the migration (the core's dirty log over 1 s).
  const dirtyPerSecond = await dirtyRate(vm);
  console.log(`  the workload dirties ${dirtyPerSecond} pages/s (${(dirtyPerSecond / 256).toFixed(0)} MiB/s) before the migration`);
  const target = startTarget(opts.timeout * 1000);
  const port = await target.port;
  const rounds = [];
  const summary = await vm.runner.migrate(`tcp:127.0.0.1:${port}`, (line) => { rounds.push(line); console.log(`  ${line}`); });
  console.log(`  ${summary}`);
  const reason = await vm.running;
  if (reason !== 'stopped' || vm.runner.migratedTo === null) throw new Error(`the source did not stop after the migration (${reason})`);
  const answer = await target.sh.run('echo moved-$((40+2))');
  if (!answer.includes('moved-42')) throw new Error(`the target's guest answered ${JSON.stringify(answer)}`);
  target.child.stdin.write('poweroff -f\n');
  await new Promise((r) => { target.child.on('exit', r); setTimeout(r, 10_000).unref(); });
  target.child.kill();
  const m = /^migrated: (\d+) rounds, then (\d+) pages and (\d+) KiB of device state with the guest stopped; ([\d.]+) MiB in (\d+) ms, downtime (\d+) ms \(target load (\d+) ms\)$/.exec(summary);
  if (!m) throw new Error(`unexpected summary: ${summary}`);
  return {
    memoryMiB: opts.memory, dirtyMiB: opts.dirty, rounds: Number(m[1]), finalPages: Number(m[2]), stateKiB: Number(m[3]),
    dirtyPagesPerSecond: dirtyPerSecond, sentMiB: Number(m[4]), totalMs: Number(m[5]), downtimeMs: Number(m[6]), targetLoadMs: Number(m[7]), roundLines: rounds,
  };
}

const opts = parseArgs(process.argv.slice(2));
const guest = manifest();
const host = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
console.log(`host: ${host}`);
const s = await snapshotFigures(guest, opts);
console.log(`snapshot of the default guest after boot (${s.memoryMiB} MiB): ${s.fileMiB.toFixed(1)} MiB file, guest stopped ${s.pausedMs.toFixed(0)} ms, `
  + `file ready after ${s.saveMs.toFixed(0)} ms; restore into a fresh machine ${s.restoreMs.toFixed(0)} ms`);
console.log(`live migration of a ${opts.memory} MiB guest rewriting ${opts.dirty} MiB in a loop, over TCP to another process:`);
const mig = await migrationFigures(guest, opts);
console.log(`migration: total ${mig.totalMs} ms, downtime ${mig.downtimeMs} ms (${mig.rounds} pre-copy rounds, ${mig.finalPages} pages with the guest stopped, target load ${mig.targetLoadMs} ms)`);
console.log(JSON.stringify({ bench: 'migrate', host, snapshot: s, migration: mig }));

