#!/usr/bin/env node
// Network benchmark: the default guest (Debian's kernel, busybox) with a virtio-net card, in
// webx86 and in v86 (npm `v86`, its own virtio-net), in one run, all in this process. Measured on
// the host:
//   - TCP guest to host: the guest runs `dd if=/dev/zero bs=64k count=N | nc 10.0.2.2 PORT` into
//     a node:net server here that counts the bytes; MiB/s from its first byte to the guest's FIN;
//   - TCP guest to guest: two VMs of the same emulator on one hub (src/net/hub.ts), 10.0.9.1 and
//     10.0.9.2 set by hand; the second sends the same stream to `nc -l` on the first, which
//     counts it (`wc -c`); MiB/s over the sender's command;
//   - ping round trip to the gateway: `ping -c 20 10.0.2.2`, busybox's average.
// Both emulators' cards are joined to the same network code, webx86's user-mode stack
// (src/net/user: 10.0.2.0/24, DHCP, the gateway 10.0.2.2 = this host's loopback) or its hub, so
// what differs is the emulator: its CPU, its virtio-net and how frames cross into JS. (v86's own
// backends cannot do this in Node: "fetch" carries only HTTP on port 80 through fetch(), the
// others need a WebSocket relay; v86 hands its frames to the page on its bus, net0-send and
// net0-receive, which is where the stack is joined.)
// Prints each figure and the ratios; last line: the numbers as JSON.
//
//   node bench/net.mjs [--mib N] [--timeout SECONDS] [--memory MIB] [--only webx86|v86]

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';
import { manifest, newV86 } from './v86-host.mjs';

register();
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { Machine } = await import(pathToFileURL(join(ROOT, 'src/machine/machine.ts')).href);
const { Hub } = await import(pathToFileURL(join(ROOT, 'src/net/hub.ts')).href);
const { createNodeUserNet } = await import(pathToFileURL(join(ROOT, 'src/net/user/node-relay.ts')).href);

const PING_COUNT = 20;

function parseArgs(argv) {
  const opts = { mib: 8, timeout: 900, memory: 128, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--mib') opts.mib = Number(argv[++i]);
    else if (a === '--timeout') opts.timeout = Number(argv[++i]);
    else if (a === '--memory') opts.memory = Number(argv[++i]);
    else if (a === '--only') opts.only = argv[++i];
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(opts.mib) || opts.mib < 1) throw new Error('--mib wants a whole number of MiB');
  return opts;
}

/**
 * A serial console driven by commands: `ready` resolves at the prompt (boot), `run(cmd)` types
 * the command with an end marker and resolves with its output and host seconds.
 */
function shell(prompt, send, label) {
  let out = '';
  let n = 0;
  let waiting = null;
  const check = () => {
    if (waiting && out.indexOf(waiting.text, waiting.from) >= 0) { const w = waiting; waiting = null; w.done(); }
  };
  const waitFor = (text, from = 0) => new Promise((done) => { waiting = { text, from, done }; check(); });
  const t0 = performance.now();
  return {
    feed(text) {
      if (process.env.BENCH_VERBOSE) process.stderr.write(`${label}: ${text}`);
      out += text;
      check();
    },
    ready: waitFor(prompt).then(() => (performance.now() - t0) / 1000),
    async run(cmd) {
      const id = ++n;
      const from = out.length;
      const start = performance.now();
      // The marker is split in the typed line ("@@E""ND"), whole only in the output.
      send(`${cmd}; echo "@@E""ND${id}@@"\n`);
      await waitFor(`@@END${id}@@`, from);
      const text = out.slice(from, out.indexOf(`@@END${id}@@`, from)).replace(/\r/g, '');
      return { text, seconds: (performance.now() - start) / 1000 };
    },
  };
}

/** A host TCP server counting what arrives: `done` resolves at the peer's FIN with the bytes and the seconds from the first one. */
function countingServer() {
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const server = createServer((sock) => {
    let bytes = 0, first = 0;
    sock.on('data', (d) => { if (bytes === 0) first = performance.now(); bytes += d.length; });
    sock.on('end', () => { resolveDone({ bytes, seconds: (performance.now() - first) / 1000 }); sock.end(); });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ port: server.address().port, done, close: () => server.close() })));
}


/** A webx86 VM in this process on `link`; returns its shell and a stop function. */
async function webx86Vm(guest, opts, link, mac, label) {
  let sh;
  const machine = await Machine.create({
    memoryMiB: opts.memory,
    kernel: new Uint8Array(readFileSync(guest.kernel)),
    vmlinux: guest.vmlinux ? new Uint8Array(readFileSync(guest.vmlinux)) : undefined,
    initrd: new Uint8Array(readFileSync(guest.initrd)),
    cmdline: guest.cmdline, clock: 'realtime', net: link, mac,
  }, { onSerial: (bytes) => sh.feed(Buffer.from(bytes).toString('latin1')) });
  sh = shell(guest.prompt, (s) => machine.sendSerial(new TextEncoder().encode(s)), label);
  const running = machine.run();
  return { sh, stop: async () => { machine.stop(); await running; link.close(); } };
}

/** A v86 VM in this process with its virtio-net card joined to `link` through v86's bus. */
async function v86Vm(guest, opts, link, _mac, label) {
  const emulator = await newV86(opts.memory, { bzimage: guest.kernel, initrd: guest.initrd }, { cmdline: guest.cmdline, net_device: { type: 'virtio' } });
  // v86's card puts frames on its bus (net0-send) and takes them from it (net0-receive).
  emulator.bus.register('net0-send', (frame) => link.send(new Uint8Array(frame)));
  link.onFrame = (frame) => emulator.bus.send('net0-receive', new Uint8Array(frame));
  const sh = shell(guest.prompt, (s) => emulator.serial0_send(s), label);
  emulator.add_listener('serial0-output-byte', (byte) => sh.feed(String.fromCharCode(byte)));
  return { sh, stop: async () => { link.close(); await emulator.destroy?.(); } };
}

const withTimeout = (p, seconds, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what}: not done within ${seconds} s`)), seconds * 1000).unref())]);

/** One VM on user-mode networking: boot, TCP to the host, ping the gateway. */
async function userNetRun(name, makeVm, guest, opts) {
  const server = await countingServer();
  const vm = await makeVm(guest, opts, createNodeUserNet(), undefined, name);
  try {
    const bootSeconds = await withTimeout(vm.sh.ready, opts.timeout, `${name} boot`);
    // The default guest's /init configured eth0 by DHCP before the prompt.
    const addr = await vm.sh.run("dmesg -n 1; ifconfig eth0 | grep -o 'inet addr:[0-9.]*'");
    if (!addr.text.includes('inet addr:10.0.2.15')) throw new Error(`${name}: eth0 has no address from DHCP: ${JSON.stringify(addr.text.slice(-300))}`);
    const count = opts.mib * 16;
    const send = await withTimeout(vm.sh.run(`dd if=/dev/zero bs=64k count=${count} 2>/dev/null | nc 10.0.2.2 ${server.port}`), opts.timeout, `${name} TCP to the host`);
    const got = await server.done;
    if (got.bytes !== count * 65536) throw new Error(`${name}: the host got ${got.bytes} bytes, not ${count * 65536}`);
    const ping = await withTimeout(vm.sh.run(`ping -c ${PING_COUNT} 10.0.2.2 | tail -n 2`), opts.timeout, `${name} ping`);
    const rtt = /min\/avg\/max = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(ping.text);
    const lost = /(\d+) packets received/.exec(ping.text);
    if (!rtt || Number(lost?.[1]) !== PING_COUNT) throw new Error(`${name}: ping: ${JSON.stringify(ping.text.slice(-300))}`);
    return { bootSeconds, toHostMiBs: opts.mib / got.seconds, toHostCommandSeconds: send.seconds, pingAvgMs: Number(rtt[2]), pingLine: rtt[0] };
  } finally {
    await vm.stop();
    server.close();
  }
}

/** Two VMs on one hub: the second sends to the first. */
async function hubRun(name, makeVm, guest, opts) {
  const hub = new Hub();
  const [a, b] = await Promise.all([
    makeVm(guest, opts, hub.port(), Uint8Array.of(0x52, 0x54, 0, 0, 9, 1), `${name} A`),
    makeVm(guest, opts, hub.port(), Uint8Array.of(0x52, 0x54, 0, 0, 9, 2), `${name} B`),
  ]);
  try {
    await withTimeout(Promise.all([a.sh.ready, b.sh.ready]), opts.timeout, `${name} boot of two VMs`);
    await a.sh.run('dmesg -n 1; ifconfig eth0 10.0.9.1 netmask 255.255.255.0 up; { nc -l -p 5000 | wc -c > /tmp/n; } & sleep 1');
    const up = await b.sh.run('dmesg -n 1; ifconfig eth0 10.0.9.2 netmask 255.255.255.0 up; ping -c 2 -W 5 10.0.9.1 | grep -c "bytes from"');
    if (!/\n2\n/.test(up.text)) throw new Error(`${name}: the VMs do not reach each other: ${JSON.stringify(up.text.slice(-300))}`);
    const count = opts.mib * 16;
    const send = await withTimeout(b.sh.run(`dd if=/dev/zero bs=64k count=${count} 2>/dev/null | nc 10.0.9.1 5000`), opts.timeout, `${name} TCP between VMs`);
    const n = await a.sh.run('i=0; while [ ! -s /tmp/n ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; cat /tmp/n');
    if (!n.text.includes(`\n${count * 65536}\n`)) throw new Error(`${name}: the receiving VM counted ${JSON.stringify(n.text.slice(-100))}, not ${count * 65536} bytes`);
    return { betweenMiBs: opts.mib / send.seconds };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const guest = manifest();
  const r = { webx86: {}, v86: {} };
  for (const [name, makeVm] of [['webx86', webx86Vm], ['v86', v86Vm]]) {
    if (opts.only && opts.only !== name) continue;
    console.error(`bench: ${name}, one VM on user-mode networking: TCP to the host (${opts.mib} MiB), ping the gateway ...`);
    Object.assign(r[name], await userNetRun(name, makeVm, guest, opts));
    console.error(`bench: ${name}, two VMs on a hub: TCP from one to the other (${opts.mib} MiB) ...`);
    Object.assign(r[name], await hubRun(name, makeVm, guest, opts));
  }
  const rows = [
    { name: `TCP guest -> host, ${opts.mib} MiB (MiB/s)`, w: r.webx86.toHostMiBs, v: r.v86.toHostMiBs, lowerIsBetter: false },
    { name: `TCP guest -> guest on a hub, ${opts.mib} MiB (MiB/s)`, w: r.webx86.betweenMiBs, v: r.v86.betweenMiBs, lowerIsBetter: false },
    { name: `ping 10.0.2.2, average of ${PING_COUNT} (ms)`, w: r.webx86.pingAvgMs, v: r.v86.pingAvgMs, lowerIsBetter: true },
  ];
  // The figures follow round trips through the host's event loop, so a busy host lowers them a
  // lot (on a shared 2-core host, 0.8 MiB/s at load 5 against 1.9 at load 1.5): say what it was.
  console.log(`network, ${opts.memory} MiB guests, virtio-net in both, on ${cpus()[0]?.model ?? 'this host'} ` +
    `(${cpus().length} CPUs, load ${loadavg()[0].toFixed(1)} at the end) (ratio > 1: webx86 is better)`);
  console.log(`  ${'measure'.padEnd(46)} ${'webx86'.padStart(8)} ${'v86'.padStart(8)} ${'ratio'.padStart(7)}`);
  for (const row of rows) {
    const ratio = row.w && row.v ? (row.lowerIsBetter ? row.v / row.w : row.w / row.v) : null;
    const f = (x) => (x === undefined ? '-' : x.toFixed(2));
    console.log(`  ${row.name.padEnd(46)} ${f(row.w).padStart(8)} ${f(row.v).padStart(8)} ${(ratio ? ratio.toFixed(2) : '-').padStart(7)}`);
  }
  for (const [name, x] of Object.entries(r)) if (x.pingLine) console.log(`  ${name}: ping ${x.pingLine} ms; boot ${x.bootSeconds.toFixed(1)} s`);
  console.log('  (both cards on webx86\'s user-mode stack and hub: v86\'s own network backends need a relay or carry HTTP only)');
  console.log(JSON.stringify({ bench: 'net', mib: opts.mib, rows, webx86: r.webx86, v86: r.v86 }));
}

// Awaited, so that bench/run.mjs starts the next benchmark only after this one.
try {
  await main();
} catch (e) {
  console.error(`bench: ${e.message}`);
  process.exitCode = 2;
}
