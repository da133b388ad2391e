#!/usr/bin/env node
// Guest workload benchmark: the default guest (Debian's i686 kernel + busybox) boots from its
// bzImage in webx86 (the CLI, JIT on, realtime clock) and in v86 (npm `v86`, JIT on, SeaBIOS), in
// one run; then the same shell commands run in both and each is timed on the host, from typing it
// to its end marker. Prints each time, each ratio and the geometric mean, and checks that both
// guests printed the same results. Last line: the numbers as JSON.
//
// The host these run on drifts in speed by up to 2x between minutes, so one run of each decides
// little. The bench runs both --rounds times (default 3), each round a fresh boot of each,
// alternating which goes first, and reports each emulator's median time per workload, the ratio
// of the medians, and the lowest and highest of the rounds' own ratios (both emulators timed
// within the same minute or two).
//
//   node bench/guest.mjs [--rounds N] [--timeout SECONDS] [--memory MIB] [--only webx86|v86] [--no-jit] [--jit-threshold N]
//
// --no-jit runs webx86's interpreter alone (v86 keeps its JIT), for the JIT's own speed-up.

import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifest, startV86 } from './v86-host.mjs';
import { SETUP, WORKLOADS, markedLine, markedResult, median, geomean } from './workloads.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { timeout: 1800, memory: 256, only: null, jit: true, rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--timeout') opts.timeout = Number(argv[++i]);
    else if (a === '--memory') opts.memory = Number(argv[++i]);
    else if (a === '--only') opts.only = argv[++i];
    else if (a === '--no-jit') opts.jit = false;
    else if (a === '--jit-threshold') opts.threshold = Number(argv[++i]);
    else if (a === '--rounds') opts.rounds = Number(argv[++i]);
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(opts.rounds) || opts.rounds < 1) throw new Error('--rounds wants a whole number of at least 1');
  if (opts.only !== null && opts.only !== 'webx86' && opts.only !== 'v86') throw new Error('--only wants webx86 or v86');
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
  const type = (cmd, k) => { from = out.length; sentAt = performance.now(); send(markedLine(cmd, k)); };
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
    const done = markedResult(out, from, step < 0 ? 'S' : step);
    if (!done) return;
    const now = performance.now();
    if (step >= 0) {
      result.seconds.push((now - sentAt) / 1000);
      result.outputs.push(done.line);
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
  const runs = { webx86: [], v86: [] };
  const runners = [];
  if (opts.only !== 'v86') runners.push(['webx86', () => runWebx86(guest, opts)]);
  if (opts.only !== 'webx86') runners.push(['v86', () => runV86(guest, opts)]);
  for (let round = 0; round < opts.rounds; round++) {
    // Alternate which goes first, so that neither always meets the host's state after the other.
    for (const [name, run] of round % 2 ? [...runners].reverse() : runners) {
      console.error(`bench: round ${round + 1} of ${opts.rounds}: ${name}${name === 'webx86' ? (opts.jit ? ' (JIT)' : ' (interpreter alone)') : ' (JIT)'} ...`);
      runs[name].push(await run());
    }
  }
  // Per row: each round's seconds in each emulator (null when that emulator did not run).
  const names = ['boot from the bzImage to the shell', ...WORKLOADS.map((wl) => wl.name)];
  const pick = (r, i) => (i === 0 ? r.bootSeconds : r.seconds[i - 1]);
  const rows = names.map((name, i) => {
    const w = runs.webx86.map((r) => pick(r, i));
    const v = runs.v86.map((r) => pick(r, i));
    const both = w.length && v.length;
    return {
      name, webx86: w, v86: v,
      w: w.length ? median(w) : null, v: v.length ? median(v) : null,
      ratio: both ? median(v) / median(w) : null,
      roundRatios: both ? w.map((x, k) => v[k] / x) : [],
    };
  });
  console.log(`guest workloads, ${opts.memory} MiB, seconds on this host, median of ${opts.rounds} round${opts.rounds > 1 ? 's' : ''} (v86 / webx86 > 1: webx86 is faster)`);
  console.log(`  ${'workload'.padEnd(36)} ${'webx86'.padStart(8)} ${'v86'.padStart(8)} ${'v86/webx86'.padStart(11)}  rounds' own ratios`);
  const f = (x) => (x === null ? '-' : x.toFixed(2));
  for (const row of rows) {
    const spread = row.roundRatios.length > 1 ? `${f(Math.min(...row.roundRatios))}-${f(Math.max(...row.roundRatios))}` : '';
    console.log(`  ${row.name.padEnd(36)} ${f(row.w).padStart(8)} ${f(row.v).padStart(8)} ${f(row.ratio).padStart(11)}  ${spread}`);
  }
  const workloads = rows.slice(1);
  const mean = workloads.every((row) => row.ratio) ? geomean(workloads.map((row) => row.ratio)) : null;
  const roundMeans = mean ? runs.webx86.map((_, k) => geomean(workloads.map((row) => row.roundRatios[k]))) : [];
  if (mean) {
    console.log(`  geometric mean of the workloads: v86/webx86 = ${mean.toFixed(2)} (of the medians); each round's: ${roundMeans.map(f).join(', ')}`);
  }
  // Every run of either emulator must have printed the same result for each workload.
  const all = [...runs.webx86.map((r) => ['webx86', r]), ...runs.v86.map((r) => ['v86', r])];
  const differ = WORKLOADS.filter((_, i) => all.some(([, r]) => r.outputs[i] !== all[0][1].outputs[i]));
  console.log(differ.length ? `  RESULTS DIFFER: ${differ.map((w) => w.name).join(', ')}` : `  every workload printed the same result in all ${all.length} runs`);
  for (const [i, wl] of WORKLOADS.entries()) if (differ.includes(wl)) {
    console.log(`    ${wl.name}: ${all.map(([name, r]) => `${name} ${JSON.stringify(r.outputs[i])}`).join(', ')}`);
  }
  runs.webx86.forEach((r, k) => { if (r.stats) console.log(r.stats.split('\n').map((l) => `  round ${k + 1}: ${l}`).join('\n')); });
  console.log(JSON.stringify({
    bench: 'guest', jit: opts.jit, rounds: opts.rounds,
    rows: rows.map(({ name, webx86, v86, w, v, ratio, roundRatios }) => ({ name, webx86, v86, w, v, ratio, roundRatios })),
    geomean: mean, roundGeomeans: roundMeans,
    outputs: all[0]?.[1].outputs,
  }));
  if (differ.length) process.exitCode = 1;
}

// Awaited, so that bench/run.mjs starts the next benchmark only when this one has finished.
await main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(2);
});
