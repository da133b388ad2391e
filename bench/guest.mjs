#!/usr/bin/env node
// Guest workload benchmark: the default guest (Debian's i686 kernel + busybox) boots from its
// bzImage in webx86 (the CLI, JIT on, realtime clock) and in v86 (npm `v86`, JIT on, SeaBIOS), in
// one run; then the same shell commands run in both and each is timed on the host, from typing it
// to its end marker. Prints each time, each ratio and the geometric mean, and checks that both
// guests printed the same results. Last line: the numbers as JSON.
//
//   node bench/guest.mjs [--timeout SECONDS] [--memory MIB] [--only webx86|v86] [--no-jit] [--jit-threshold N]
//
// --no-jit runs webx86's interpreter alone (v86 keeps its JIT), for the JIT's own speed-up.

import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifest, startV86 } from './v86-host.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The workloads: an untimed set-up, then timed commands. Outputs must match between the two. */
const SETUP = 'seq 1 100000 > /tmp/lines; seq 100000 -1 1 > /tmp/rev; dd if=/dev/zero of=/tmp/zero bs=1M count=8 2>/dev/null';
const WORKLOADS = [
  { name: 'sha256 of 8 MiB', cmd: 'sha256sum /tmp/zero' },
  { name: 'gzip round trip', cmd: 'gzip -c /tmp/lines | gunzip -c | md5sum' },
  { name: 'x87 loop in awk', cmd: "awk 'BEGIN { s = 0; for (i = 1; i <= 100000; i++) s += 1 / (i * i); printf \"%.9f\\n\", s }'" },
  { name: '300 fork+exec', cmd: 'i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done; echo $i' },
  { name: 'sort 100k lines', cmd: 'sort -n /tmp/rev | md5sum' },
  { name: 'bzip2 round trip', cmd: 'bzip2 -c /tmp/lines | bunzip2 -c | md5sum' },
];

function parseArgs(argv) {
  const opts = { timeout: 1800, memory: 256, only: null, jit: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--timeout') opts.timeout = Number(argv[++i]);
    else if (a === '--memory') opts.memory = Number(argv[++i]);
    else if (a === '--only') opts.only = argv[++i];
    else if (a === '--no-jit') opts.jit = false;
    else if (a === '--jit-threshold') opts.threshold = Number(argv[++i]);
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

/**
 * Drive a serial console: wait for the prompt (boot time), run the set-up, then each workload
 * between markers. `send` types a string; the returned `feed` takes console output.
 */
function session(guest, send, onDone) {
  const t0 = performance.now();
  let out = '';
  let step = -2; // -2: booting, -1: set-up, k: workload k
  let sentAt = 0;
  let from = 0;
  const result = { bootSeconds: 0, seconds: [], outputs: [] };
  // The marker is split in the typed line ("@@E""ND"), whole only in the output.
  const type = (cmd, k) => { from = out.length; sentAt = performance.now(); send(`${cmd}; echo "@@E""ND${k}@@"\n`); };
  const feed = (text) => {
    if (process.env.BENCH_VERBOSE) process.stderr.write(text);
    out += text;
    if (step === -2) {
      if (!out.includes(guest.prompt)) return;
      result.bootSeconds = (performance.now() - t0) / 1000;
      step = -1;
      type(`dmesg -n 1; ${SETUP}`, 'S');
      return;
    }
    const marker = `@@END${step < 0 ? 'S' : step}@@`;
    const at = out.indexOf(marker, from);
    if (at < 0) return;
    const now = performance.now();
    if (step >= 0) {
      result.seconds.push((now - sentAt) / 1000);
      // The output: every workload prints one line, the last before the marker (the terminal
      // echoes and wraps the typed command line before it).
      const lines = out.slice(from, at).replace(/\r/g, '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
      result.outputs.push(lines.at(-1) ?? '');
    }
    step++;
    if (step < WORKLOADS.length) type(WORKLOADS[step].cmd, step);
    else onDone(result);
  };
  return feed;
}

function runWebx86(guest, opts) {
  return new Promise((resolveRun, reject) => {
    const args = ['run', '--kernel', guest.kernel, '--initrd', guest.initrd, '--append', guest.cmdline,
      '--memory', String(opts.memory), '--stats', ...(opts.jit ? [] : ['--no-jit']),
      ...(opts.threshold ? ['--jit-threshold', String(opts.threshold)] : [])];
    const child = spawn(join(ROOT, 'bin', 'webx86'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    let result = null;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`webx86: not done within ${opts.timeout} s`)); }, opts.timeout * 1000);
    const feed = session(guest, (s) => child.stdin.write(s), (r) => {
      result = r;
      child.stdin.write('poweroff -f\n');
      setTimeout(() => child.kill('SIGTERM'), 20_000).unref();
    });
    child.stdout.on('data', (d) => feed(d.toString('latin1')));
    child.stderr.on('data', (d) => { err += d.toString(); });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!result) reject(new Error(`webx86 exited (${code}) early: ${err.trim()}`));
      else resolveRun({ ...result, stats: err.trim() });
    });
  });
}

async function runV86(guest, opts) {
  const emulator = await startV86(guest, opts.memory);
  try {
    return await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`v86: not done within ${opts.timeout} s`)), opts.timeout * 1000);
      const feed = session(guest, (s) => emulator.serial0_send(s), (r) => { clearTimeout(timer); res(r); });
      emulator.add_listener('serial0-output-byte', (byte) => feed(String.fromCharCode(byte)));
    });
  } finally {
    await emulator.destroy?.();
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const guest = manifest();
  const r = {};
  if (opts.only !== 'v86') {
    console.error(`bench: webx86 (${opts.jit ? 'JIT' : 'interpreter alone'}) ...`);
    r.webx86 = await runWebx86(guest, opts);
  }
  if (opts.only !== 'webx86') {
    console.error('bench: v86 (JIT) ...');
    r.v86 = await runV86(guest, opts);
  }
  const rows = [{ name: 'boot from the bzImage to the shell', w: r.webx86?.bootSeconds, v: r.v86?.bootSeconds }];
  WORKLOADS.forEach((wl, i) => rows.push({ name: wl.name, w: r.webx86?.seconds[i], v: r.v86?.seconds[i] }));
  console.log(`guest workloads, ${opts.memory} MiB, seconds on this host (v86 / webx86 > 1: webx86 is faster)`);
  console.log(`  ${'workload'.padEnd(36)} ${'webx86'.padStart(8)} ${'v86'.padStart(8)} ${'v86/webx86'.padStart(11)}`);
  const ratios = [];
  for (const row of rows) {
    const ratio = row.w && row.v ? row.v / row.w : null;
    if (ratio && row !== rows[0]) ratios.push(ratio);
    const f = (x) => (x === undefined ? '-' : x.toFixed(2));
    console.log(`  ${row.name.padEnd(36)} ${f(row.w).padStart(8)} ${f(row.v).padStart(8)} ${(ratio ? ratio.toFixed(2) : '-').padStart(11)}`);
  }
  const geomean = ratios.length ? Math.exp(ratios.reduce((a, x) => a + Math.log(x), 0) / ratios.length) : null;
  if (geomean) console.log(`  geometric mean of the workloads: v86/webx86 = ${geomean.toFixed(2)}`);
  if (r.webx86 && r.v86) {
    const differ = WORKLOADS.filter((_, i) => r.webx86.outputs[i] !== r.v86.outputs[i]);
    console.log(differ.length ? `  RESULTS DIFFER: ${differ.map((w) => w.name).join(', ')}` : '  every workload printed the same result in both');
    for (const [i, wl] of WORKLOADS.entries()) if (r.webx86.outputs[i] !== r.v86.outputs[i]) {
      console.log(`    ${wl.name}: webx86 ${JSON.stringify(r.webx86.outputs[i])} v86 ${JSON.stringify(r.v86.outputs[i])}`);
    }
  }
  if (r.webx86?.stats) console.log(r.webx86.stats.split('\n').map((l) => `  ${l}`).join('\n'));
  console.log(JSON.stringify({ bench: 'guest', jit: opts.jit, rows, geomean, outputs: r.webx86?.outputs ?? r.v86?.outputs }));
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(2);
});
