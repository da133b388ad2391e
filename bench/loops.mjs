#!/usr/bin/env node
// One guest workload run again and again in one boot of webx86, each run timed and counted:
// how a run's time changes as the JIT translates more of it (the first run pays for finding and
// compiling hot code; later ones show the steady state), and what the JIT and the MMU did in each
// run. With several --core builds or --jit-threshold values it alternates them boot by boot (each
// build with each threshold), which is how two builds or thresholds are compared on a host whose
// speed drifts by up to 2x between minutes (bench/HISTORY.md).
//
// The machine runs in this process (realtime clock, 256 MiB, the default guest from its
// bzImage), as bench/guest.mjs's webx86 does through the CLI. Every run of every build must
// print the same line, or the exit status is 1.
//
//   node bench/loops.mjs [--workload fork|sha256|gzip|awk|sort|bzip2 | --cmd 'SHELL COMMAND']
//     [--loops N] [--boots N] [--core FILE.wasm ...] [--jit-threshold N ...] [--no-jit] [--memory MIB] [--timeout SECONDS]
//
// For steadier figures run it as `node --v8-pool-size=1 bench/loops.mjs`, as bin/webx86 does on
// a 2-core host: one V8 compile thread, and the other core left to the emulator.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { manifest } from './v86-host.mjs';
import { SETUP, WORKLOADS, geomean, markedLine, markedResult, median } from './workloads.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = 'usage: node bench/loops.mjs [--workload NAME | --cmd COMMAND] [--loops N] [--boots N] [--core FILE.wasm ...] '
  + '[--jit-threshold N ...] [--no-jit] [--memory MIB] [--timeout SECONDS]';

function parseArgs(argv) {
  const opts = { workload: 'fork', cmd: null, loops: 5, boots: 1, cores: [], thresholds: [], jit: true, memory: 256, timeout: 1800 };
  const whole = (name, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} wants a whole number of at least ${min}, not ${JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} wants a value`);
      return argv[++i];
    };
    if (a === '--workload') opts.workload = value();
    else if (a === '--cmd') opts.cmd = value();
    else if (a === '--loops') opts.loops = whole(a, value(), 1);
    else if (a === '--boots') opts.boots = whole(a, value(), 1);
    else if (a === '--core') opts.cores.push(value());
    else if (a === '--jit-threshold') opts.thresholds.push(whole(a, value(), 1));
    else if (a === '--no-jit') opts.jit = false;
    else if (a === '--memory') opts.memory = whole(a, value(), 16);
    else if (a === '--timeout') opts.timeout = whole(a, value(), 1);
    else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  if (opts.cmd === null && !WORKLOADS.some((w) => w.key === opts.workload)) {
    throw new Error(`--workload wants one of ${WORKLOADS.map((w) => w.key).join(', ')}, not ${JSON.stringify(opts.workload)}`);
  }
  if (opts.cores.length === 0) opts.cores.push(join(ROOT, 'build/core.wasm'));
  for (const c of opts.cores) if (!existsSync(c)) throw new Error(`--core ${c}: no such file (npm run build:core makes build/core.wasm)`);
  return opts;
}

/** Host milliseconds, monotonic (the Machine's realtime clock follows performance.now()). */
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * Boot once with `wasm` as the core, run the set-up, then `cmd` `loops` times; per run: host
 * seconds, its printed line, and the difference of the counters over it.
 */
async function bootAndLoop(Machine, guest, wasm, threshold, cmd, opts) {
  const images = {
    kernel: new Uint8Array(readFileSync(guest.kernel)),
    vmlinux: guest.vmlinux && existsSync(guest.vmlinux) ? new Uint8Array(readFileSync(guest.vmlinux)) : undefined,
    initrd: new Uint8Array(readFileSync(guest.initrd)),
  };
  let machine = null;
  let out = '';
  let step = -2; // -2: booting, -1: set-up, k: run k
  let from = 0;
  let sentAt = 0;
  let before = null;
  const t0 = nowMs();
  const result = { bootSeconds: 0, runs: [] };
  const counters = () => {
    const st = machine.status();
    const tlb = machine.core.tlbStats;
    return { instructions: st.instructions, jit: st.jit, walks: tlb.walks, faults: tlb.faults };
  };
  const type = (line, k) => {
    from = out.length;
    sentAt = nowMs();
    machine.sendSerial(new TextEncoder().encode(markedLine(line, k)));
  };
  const onSerial = (bytes) => {
    out += Buffer.from(bytes).toString('latin1');
    if (step === -2) {
      if (!out.includes(guest.prompt)) return;
      result.bootSeconds = (nowMs() - t0) / 1000;
      step = -1;
      type(`dmesg -n 1; ${SETUP}`, 'S');
      return;
    }
    if (step >= opts.loops) return;
    const ended = markedResult(out, from, step < 0 ? 'S' : step);
    if (!ended) return;
    const done = nowMs();
    const now = counters();
    if (step >= 0) {
      const d = (f) => (now.jit && before.jit ? now.jit[f] - before.jit[f] : 0);
      result.runs.push({
        seconds: (done - sentAt) / 1000,
        output: ended.line,
        instructions: now.instructions - before.instructions,
        translated: d('instructions'),
        translations: d('translations'),
        compileMs: d('compileMs'),
        walks: now.walks - before.walks,
        faults: now.faults - before.faults,
      });
    }
    step++;
    before = counters();
    if (step < opts.loops) type(cmd, step);
    else machine.sendSerial(new TextEncoder().encode('poweroff -f\n'));
  };
  machine = await Machine.create({
    memoryMiB: opts.memory, ...images, cmdline: guest.cmdline, clock: 'realtime', coreWasm: wasm, jit: opts.jit,
    ...(threshold !== null ? { jitThreshold: threshold } : {}),
  }, { onSerial });
  const timer = setTimeout(() => machine.stop(), opts.timeout * 1000);
  const reason = await machine.run();
  clearTimeout(timer);
  if (result.runs.length < opts.loops) {
    throw new Error(`the machine stopped (${reason}) after ${result.runs.length} of ${opts.loops} runs; its last output: ${JSON.stringify(out.slice(-300))}`);
  }
  return result;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const workload = opts.cmd === null ? WORKLOADS.find((w) => w.key === opts.workload) : { name: opts.cmd, cmd: opts.cmd };
  const guest = manifest();
  const { tsImport } = await import('tsx/esm/api');
  const { Machine } = await tsImport(pathToFileURL(join(ROOT, 'src/machine/machine.ts')).href, import.meta.url);
  // Each build with each threshold (null: the Machine's default), named for the summary.
  const thresholds = opts.thresholds.length ? opts.thresholds : [null];
  const builds = opts.cores.flatMap((file) => {
    const name = relative(process.cwd(), resolve(file)) || file;
    const wasm = new Uint8Array(readFileSync(file));
    return thresholds.map((threshold) => ({ file: threshold === null ? name : `${name} (threshold ${threshold})`, core: name, threshold, wasm, boots: [] }));
  });
  console.log(`${workload.name}: ${opts.loops} run${opts.loops > 1 ? 's' : ''} in each boot, ${opts.memory} MiB, ${opts.jit ? 'JIT' : 'interpreter alone'}; seconds on this host`);
  for (let boot = 0; boot < opts.boots; boot++) {
    // Alternate which build goes first, so that neither always meets the host's state after the other.
    for (const b of boot % 2 ? [...builds].reverse() : builds) {
      const r = await bootAndLoop(Machine, guest, b.wasm, b.threshold, workload.cmd, opts);
      b.boots.push(r);
      console.log(`  ${b.file} boot ${boot + 1}: boot ${r.bootSeconds.toFixed(2)} s`);
      r.runs.forEach((run, k) => {
        const share = run.instructions ? (100 * run.translated / run.instructions).toFixed(1) : '0';
        console.log(`    run ${k + 1}: ${run.seconds.toFixed(2)} s, ${(run.instructions / 1e6).toFixed(1)} M instructions, ${share}% translated, `
          + `${run.translations} new translations, ${run.compileMs.toFixed(0)} ms compiling, ${run.walks} page walks, ${run.faults} page faults`);
      });
    }
  }
  console.log('summary: median seconds of the first runs and of the later runs (lowest-highest)');
  const f = (x) => x.toFixed(2);
  for (const b of builds) {
    const first = b.boots.map((r) => r.runs[0].seconds);
    const later = b.boots.flatMap((r) => r.runs.slice(1).map((run) => run.seconds));
    const laterText = later.length ? `, later ${f(median(later))} (${f(Math.min(...later))}-${f(Math.max(...later))})` : '';
    console.log(`  ${b.file}: first ${f(median(first))} (${f(Math.min(...first))}-${f(Math.max(...first))})${laterText}`);
  }
  // Boot by boot, each build against the first: the host's drift moves both builds of a boot
  // pair together, so the pairs' ratios compare them better than the medians above.
  const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
  const ratios = (b, pick) => b.boots.map((r, k) => pick(r) / pick(builds[0].boots[k]));
  for (const b of builds.slice(1)) {
    const line = (what, rs) => `${what} ${f(geomean(rs))} (${rs.map(f).join(' ')})`;
    const first = ratios(b, (r) => r.runs[0].seconds);
    const later = opts.loops > 1 ? `; ${line('later runs', ratios(b, (r) => mean(r.runs.slice(1).map((run) => run.seconds))))}` : '';
    console.log(`  ${b.file} / ${builds[0].file}, geometric mean of the boot pairs' ratios: ${line('first runs', first)}${later}`);
  }
  const outputs = new Set(builds.flatMap((b) => b.boots.flatMap((r) => r.runs.map((run) => run.output))));
  console.log(outputs.size === 1 ? `  every run printed ${JSON.stringify([...outputs][0])}` : `  RESULTS DIFFER: ${[...outputs].map((o) => JSON.stringify(o)).join(', ')}`);
  console.log(JSON.stringify({
    bench: 'loops', workload: workload.name, loops: opts.loops, jit: opts.jit,
    builds: builds.map((b) => ({ core: b.core, threshold: b.threshold, boots: b.boots })),
  }));
  if (outputs.size !== 1) process.exitCode = 1;
}

// Awaited, so that bench/run.mjs starts the next benchmark only when this one has finished.
await main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(2);
});
