#!/usr/bin/env node
// Boot benchmark: seconds from start to the guest's shell prompt, for webx86 (the CLI, realtime
// clock) and for v86 (npm `v86` with SeaBIOS), same kernel, initramfs and command line, in one
// run, and their ratio.
//
//   node bench/boot.mjs [--timeout SECONDS] [--only webx86|v86] [--memory MIB]
//
// v86 is resolved from the project if installed, else installed once (npm install --no-save)
// into a temporary prefix. It gets SeaBIOS from /usr/share/seabios (Debian's `seabios`).
// Prints a table and, last, one JSON line with the numbers.

import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifest, startV86 } from './v86-host.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { timeout: 900, only: null, memory: 128 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--timeout') opts.timeout = Number(argv[++i]);
    else if (a === '--only') opts.only = argv[++i];
    else if (a === '--memory') opts.memory = Number(argv[++i]);
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

/** webx86: spawn the CLI; time from spawn to the prompt on stdout, then power off. */
function bootWebx86(guest, opts, path) {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    // 'default': the CLI's own boot of the default guest (the kernel decompressed when the image
    // was built). 'bzImage': the same file v86 gets, its payload decompressed by the CLI at start
    // (src/boot/payload.ts). 'guest': the bzImage decompressing itself in the guest, as a disk
    // boot would.
    const args = path === 'default'
      ? ['run', '--memory', String(opts.memory)]
      : ['run', '--kernel', guest.kernel, '--initrd', guest.initrd, '--append', guest.cmdline, '--memory', String(opts.memory),
        ...(path === 'guest' ? ['--guest-decompress'] : [])];
    const child = spawn(join(ROOT, 'bin', 'webx86'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let promptAt = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`webx86: no prompt within ${opts.timeout} s; last output: ${JSON.stringify(out.slice(-500))}`));
    }, opts.timeout * 1000);
    child.stdout.on('data', (d) => {
      out += d.toString('latin1');
      if (!promptAt && out.includes(guest.prompt)) {
        promptAt = performance.now();
        child.stdin.write('poweroff -f\n');
        // If power-off does not end it promptly, the measurement is still valid.
        setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
      }
    });
    child.stderr.on('data', (d) => { err += d.toString(); });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!promptAt) reject(new Error(`webx86 exited (${code}) before the prompt: ${err.trim() || JSON.stringify(out.slice(-500))}`));
      else resolveRun({ seconds: (promptAt - t0) / 1000, poweredOff: code === 0 });
    });
  });
}

/** v86 in this process: BIOS -> Linux boot protocol (its own loader) -> prompt on serial0. */
async function bootV86(guest, opts) {
  const t0 = performance.now();
  const emulator = await startV86(guest, opts.memory);
  let out = '';
  try {
    const seconds = await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`v86: no prompt within ${opts.timeout} s; last output: ${JSON.stringify(out.slice(-500))}`)), opts.timeout * 1000);
      emulator.add_listener('serial0-output-byte', (byte) => {
        out += String.fromCharCode(byte);
        if (out.endsWith(guest.prompt)) {
          clearTimeout(timer);
          res((performance.now() - t0) / 1000);
        }
      });
    });
    return { seconds };
  } finally {
    await emulator.destroy?.();
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const guest = manifest();
  const results = {};
  if (opts.only !== 'v86') {
    console.error('bench: booting webx86 (default guest: kernel decompressed on the host) ...');
    results.webx86 = await bootWebx86(guest, opts, 'default').catch((e) => ({ error: e.message }));
    console.error('bench: booting webx86 (bzImage: decompressed by the CLI) ...');
    results.webx86BzImage = await bootWebx86(guest, opts, 'bzImage').catch((e) => ({ error: e.message }));
    console.error('bench: booting webx86 (bzImage: the guest decompresses its kernel) ...');
    results.webx86Guest = await bootWebx86(guest, opts, 'guest').catch((e) => ({ error: e.message }));
  }
  if (opts.only !== 'webx86') {
    console.error('bench: booting v86 ...');
    results.v86 = await bootV86(guest, opts).catch((e) => ({ error: e.message }));
  }
  const fmt = (r) => (r === undefined ? 'skipped' : r.error ? `error: ${r.error}` : `${r.seconds.toFixed(2)} s`);
  console.log(`boot to shell prompt (${opts.memory} MiB, same kernel, initramfs and cmdline "${guest.cmdline}")`);
  console.log(`  webx86, default guest (kernel decompressed at build) ${fmt(results.webx86)}`);
  console.log(`  webx86, bzImage (decompressed by the CLI)          ${fmt(results.webx86BzImage)}`);
  console.log(`  webx86, bzImage (the guest decompresses)           ${fmt(results.webx86Guest)}`);
  console.log(`  v86, bzImage via SeaBIOS                          ${fmt(results.v86)}`);
  const ratio = results.webx86?.seconds && results.v86?.seconds ? results.webx86.seconds / results.v86.seconds : null;
  const ratioBz = results.webx86BzImage?.seconds && results.v86?.seconds ? results.webx86BzImage.seconds / results.v86.seconds : null;
  if (ratio !== null) console.log(`  webx86 / v86 = ${ratio.toFixed(2)} (default guest; lower is better for webx86)`);
  const ratioGuest = results.webx86Guest?.seconds && results.v86?.seconds ? results.webx86Guest.seconds / results.v86.seconds : null;
  if (ratioBz !== null) console.log(`  webx86 / v86 = ${ratioBz.toFixed(2)} (both given the bzImage)`);
  if (ratioGuest !== null) console.log(`  webx86 / v86 = ${ratioGuest.toFixed(2)} (both decompressing in the guest)`);
  console.log(JSON.stringify({
    bench: 'boot', webx86: results.webx86 ?? null, webx86BzImage: results.webx86BzImage ?? null, webx86Guest: results.webx86Guest ?? null,
    v86: results.v86 ?? null, ratio, ratioBzImage: ratioBz, ratioGuest,
  }));
  process.exit(results.webx86?.error || results.v86?.error ? 1 : 0);
}

// Awaited, so that bench/run.mjs starts the next benchmark only when this one has finished.
await main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(2);
});
