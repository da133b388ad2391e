#!/usr/bin/env node
// Disk benchmark: the disk guest (build/images/disk.img: MBR, extlinux, Debian's kernel, ext4
// root) booted as a PC boots, through SeaBIOS, in webx86 (the CLI, `--boot disk`: AHCI SATA,
// JIT on, realtime clock) and in v86 (npm `v86`, JIT on, the same image on its IDE disk; the
// initramfs carries ata_piix for it), in one run. Times, on the host:
//   - power-on to the shell prompt on the disk's root;
//   - a sequential read of the disk inside the guest (dd from /dev/sda, O_DIRECT so the page
//     cache does not serve it), as MiB/s;
//   - webx86 only: the same read from the same image on a virtio-blk disk (/dev/vda), the
//     paravirtual path against the emulated AHCI one.
// Prints each figure and the ratios; last line: the numbers as JSON.
//
//   node bench/disk.mjs [--timeout SECONDS] [--memory MIB] [--only webx86|v86]

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { newV86 } from './v86-host.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMAGES = join(ROOT, 'build', 'images');
const READ_MIB = 48;
const dd = (dev) => `dd if=/dev/${dev} of=/dev/null bs=1M count=${READ_MIB} iflag=direct 2>&1 | tail -n 1`;
const VIRTIO_READY = 'modprobe virtio_pci; modprobe virtio_blk; i=0; while [ ! -e /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done';

function parseArgs(argv) {
  const opts = { timeout: 900, memory: 128, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--timeout') opts.timeout = Number(argv[++i]);
    else if (a === '--memory') opts.memory = Number(argv[++i]);
    else if (a === '--only') opts.only = argv[++i];
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

function diskGuest() {
  const path = join(IMAGES, 'disk.json');
  if (!existsSync(path)) throw new Error(`${path} missing: run npm run build:images`);
  const m = JSON.parse(readFileSync(path, 'utf8'));
  return { image: join(IMAGES, m.disk), banner: m.banner, prompt: m.prompt ?? '~ # ' };
}

/** Wait for the banner and the prompt (boot time), then time the dd (and, with `virtio`, the one from /dev/vda). */
function session(guest, send, onDone, virtio = false) {
  const t0 = performance.now();
  let out = '';
  let step = 0;
  let sentAt = 0;
  let from = 0;
  const result = { bootSeconds: 0, readSeconds: 0, ddLine: '' };
  const feed = (text) => {
    if (process.env.BENCH_VERBOSE) process.stderr.write(text);
    out += text;
    if (step === 0) {
      const at = out.indexOf(guest.banner);
      if (at < 0 || !out.slice(at).includes(guest.prompt)) return;
      result.bootSeconds = (performance.now() - t0) / 1000;
      step = 1;
      from = out.length;
      sentAt = performance.now();
      // The marker is split in the typed line ("@@E""ND"), whole only in the output.
      send(`dmesg -n 1; ${virtio ? `${VIRTIO_READY}; ` : ''}${dd('sda')}; echo "@@E""ND@@"\n`);
      // (Loading the virtio modules is timed with the AHCI read: the AHCI figure comes from the run without them.)
      return;
    }
    const at = out.indexOf('@@END@@', from);
    if (at < 0) return;
    const lines = out.slice(from, at).replace(/\r/g, '').split('\n').map((l) => l.trim()).filter(Boolean);
    if (step === 1) {
      result.readSeconds = (performance.now() - sentAt) / 1000;
      result.ddLine = lines.at(-1) ?? '';
      if (!virtio) { step = 3; onDone(result); return; }
      step = 2;
      from = at + 7;
      sentAt = performance.now();
      send(`${dd('vda')}; echo "@@E""ND@@"\n`);
      return;
    }
    if (step === 2) {
      step = 3;
      result.virtioSeconds = (performance.now() - sentAt) / 1000;
      result.virtioLine = lines.at(-1) ?? '';
      onDone(result);
    }
  };
  return feed;
}

function runWebx86(guest, opts, virtio = false) {
  return new Promise((done, fail) => {
    const args = ['run', '--boot', 'disk', '--disk', guest.image, '--memory', String(opts.memory), ...(virtio ? ['--virtio-disk', guest.image] : [])];
    const child = spawn(join(ROOT, 'bin', 'webx86'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    let result = null;
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`webx86: not done within ${opts.timeout} s`)); }, opts.timeout * 1000);
    const feed = session(guest, (s) => child.stdin.write(s), (r) => {
      result = r;
      child.stdin.write('poweroff -f\n');
      setTimeout(() => child.kill('SIGTERM'), 20_000).unref();
    }, virtio);
    child.stdout.on('data', (d) => feed(d.toString('latin1')));
    child.stderr.on('data', (d) => { err += d.toString(); });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!result) fail(new Error(`webx86 exited (${code}) early: ${err.trim()}`));
      else done(result);
    });
  });
}

async function runV86(guest, opts) {
  const emulator = await newV86(opts.memory, { hda: guest.image });
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
  const guest = diskGuest();
  const r = {};
  if (opts.only !== 'v86') {
    console.error('bench: webx86, the disk guest through SeaBIOS over AHCI ...');
    r.webx86 = await runWebx86(guest, opts);
    console.error('bench: webx86 again, the same image also on a virtio-blk disk ...');
    r.virtio = await runWebx86(guest, opts, true);
  }
  if (opts.only !== 'webx86') {
    console.error('bench: v86, the same disk image on its IDE controller ...');
    r.v86 = await runV86(guest, opts);
  }
  const mibs = (x) => (x ? READ_MIB / x.readSeconds : undefined);
  const rows = [
    { name: 'power-on to the disk root\'s prompt (s)', w: r.webx86?.bootSeconds, v: r.v86?.bootSeconds, lowerIsBetter: true },
    { name: `dd ${READ_MIB} MiB from /dev/sda (MiB/s)`, w: mibs(r.webx86), v: mibs(r.v86), lowerIsBetter: false },
  ];
  console.log(`disk guest, ${opts.memory} MiB, on this host (ratio > 1: webx86 is better)`);
  console.log(`  ${'measure'.padEnd(40)} ${'webx86'.padStart(8)} ${'v86'.padStart(8)} ${'ratio'.padStart(7)}`);
  for (const row of rows) {
    const ratio = row.w && row.v ? (row.lowerIsBetter ? row.v / row.w : row.w / row.v) : null;
    const f = (x) => (x === undefined ? '-' : x.toFixed(2));
    console.log(`  ${row.name.padEnd(40)} ${f(row.w).padStart(8)} ${f(row.v).padStart(8)} ${(ratio ? ratio.toFixed(2) : '-').padStart(7)}`);
  }
  if (r.virtio) {
    const ahci = READ_MIB / r.virtio.readSeconds, vio = READ_MIB / r.virtio.virtioSeconds;
    console.log(`  webx86, same boot: dd ${READ_MIB} MiB from /dev/sda (AHCI) ${ahci.toFixed(2)} MiB/s, from /dev/vda (virtio-blk) ${vio.toFixed(2)} MiB/s (the first includes loading the virtio modules)`);
    rows.push({ name: `webx86 dd ${READ_MIB} MiB from /dev/vda, virtio-blk (MiB/s)`, w: vio, v: undefined, lowerIsBetter: false });
  }
  for (const [who, x] of Object.entries(r)) console.log(`  ${who} dd: ${x.ddLine}${x.virtioLine ? `; /dev/vda: ${x.virtioLine}` : ''}`);
  console.log(JSON.stringify({ bench: 'disk', rows, dd: Object.fromEntries(Object.entries(r).map(([k, x]) => [k, x.ddLine])) }));
}

// Awaited, so that bench/run.mjs starts the next benchmark only when this one has finished.
await main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(2);
});
