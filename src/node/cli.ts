// webx86 command line: boots Linux headless with COM1 on stdin/stdout.
//
//   webx86 run [--kernel FILE] [--initrd FILE] [--append STRING] [--memory MIB]
//              [--disk FILE]... [--virtio-blk FILE]... [--cdrom FILE] [--boot kernel|disk|cdrom]
//              [--net user|hub|socket|none ...]... [--mac MAC] [--balloon MIB] [--rng on|off]
//              [--bios FILE] [--vga-bios FILE] [--deterministic] [--no-reboot] [--no-apic]
//              [--loadvm FILE]
//
// The options and their checks are in run-options.ts. On a terminal, Ctrl-A c opens QEMU's
// monitor (monitor.ts: savevm, loadvm, info status, stop, cont ...), which VmRunner
// (vm-runner.ts) carries out on the machine; console-mux.ts routes the keys. --loadvm starts
// from a snapshot instead of booting.
//
// --boot disk starts the PC from its BIOS (SeaBIOS), which boots the first disk (--boot cdrom:
// the CD-ROM, an El Torito ISO image). With no --kernel (and --boot kernel, the default) it
// boots the default guest described by build/images/default.json (built by
// `npm run build:images`), preferring the host-decompressed vmlinux, which skips the guest's own
// decompression; for the same reason, a bzImage given without --vmlinux has its gzip or XZ
// payload decompressed on the host (src/boot/payload.ts). Exit status: 0 when the guest powers
// off (or resets under --no-reboot, or the user quits with Ctrl-A x); 2 after any error,
// reported as one line `webx86: <message>`.

import type { ExitReason } from '../machine/types.js';
import { BalloonStatsPrinter, describeBalloonStats } from './balloon-stats.js';
import { ConsoleMux, ESCAPE_KEYS_HELP } from './console-mux.js';
import { Monitor, MonitorConsole } from './monitor.js';
import { VmRunner } from './vm-runner.js';
import { CliError, DEFAULT_BIOS, DEFAULT_VGA_BIOS, USAGE, parseRunArgs, type RunOptions } from './run-options.js';
import type { GdbAddress, GdbServer } from './gdb-stub.js';
import { kernelGuest, readInput, savedMachineParts } from './guest-inputs.js';

export { DEFAULT_MANIFEST, defaultGuest } from './guest-inputs.js';

// The machine (core wrapper, devices, boot loader) loads lazily, so that usage errors are
// reported even when some part of it cannot load, and --help stays instant.
type MachineModule = typeof import('../machine/machine.js');
async function loadMachineModule(): Promise<MachineModule> {
  try {
    return await import('../machine/machine.js');
  } catch (e) {
    throw new CliError(`cannot load the machine: ${(e as Error).message}`);
  }
}

/** How often --stats asks the balloon driver for fresh statistics. */
const BALLOON_STATS_INTERVAL_MS = 5000;

/** The links of the --net cards (none without --net); a bad spec or an unreachable switch: one line. */
async function openNics(opts: RunOptions): Promise<import('../net/link.js').NetLink[]> {
  if (opts.nics.length === 0) return [];
  const { openNodeNics } = await import('../net/node-net.js');
  try {
    return await openNodeNics(opts.nics);
  } catch (e) {
    throw new CliError(`--net: ${(e as Error).message}`);
  }
}

async function run(opts: RunOptions): Promise<number> {
  if (opts.loadvm !== undefined) return restore(opts, opts.loadvm);
  if (opts.incoming !== undefined) return incoming(opts, opts.incoming);
  const firmware = opts.boot !== 'kernel'
    ? { bios: await readInput(opts.bios ?? DEFAULT_BIOS, 'BIOS'), vgaBios: await readInput(opts.vgaBios ?? DEFAULT_VGA_BIOS, 'VGA BIOS'), boot: opts.boot }
    : undefined;
  const guest = firmware === undefined ? await kernelGuest(opts) : undefined;
  const kernelPath = guest?.kernelPath ?? '';

  // Disks: each file read-only under an overlay that takes the guest's writes.
  const { FileBackend } = await import('../storage/file.js');
  const { OverlayBackend } = await import('../storage/overlay.js');
  const overlays = async (paths: string[]) => {
    const out = [];
    for (const path of paths) {
      try {
        out.push(new OverlayBackend(await FileBackend.open(path)));
      } catch (e) {
        if ((e as Error).name === 'BlockError') throw new CliError((e as Error).message);
        throw e;
      }
    }
    return out;
  };
  const disks = await overlays(opts.disks);
  const virtioDisks = await overlays(opts.virtioDisks);
  const links = await openNics(opts);
  // The CD-ROM's disc: the file itself, read-only (no overlay: a CD-ROM drive does not write).
  let cdrom;
  if (opts.cdrom !== undefined) {
    try {
      cdrom = await FileBackend.open(opts.cdrom);
    } catch (e) {
      if ((e as Error).name === 'BlockError') throw new CliError((e as Error).message);
      throw e;
    }
  }

  const mod = await loadMachineModule();
  const balloonStats = new BalloonStatsPrinter(process.stderr);
  // Kept for savevm: a snapshot records the machine from the options it was made with.
  const options: MachineOptions = {
    memoryMiB: opts.memoryMiB,
    kernel: guest?.kernel,
    vmlinux: guest?.vmlinux,
    initrd: guest?.initrd,
    cmdline: guest?.cmdline ?? '',
    firmware,
    clock: opts.deterministic ? 'deterministic' : 'realtime',
    noReboot: opts.noReboot,
    apic: opts.apic,
    jit: opts.jit,
    jitThreshold: opts.jitThreshold,
    disks,
    virtioDisks,
    nics: links.map((link, i) => ({ link, mac: opts.nics[i]!.mac })),
    rng: opts.rng,
    balloonMiB: opts.balloonMiB,
    cdrom,
  };
  let machine: Machine;
  try {
    machine = await mod.Machine.create(options, machineHost(opts, balloonStats));
  } catch (e) {
    // Name the file the boot loader or the firmware check refused (they only see bytes).
    const msg = (e as Error).message;
    if ((e as Error).name === 'BootError' && !msg.includes(kernelPath)) throw new CliError(`${kernelPath}: ${msg}`);
    if ((e as Error).name === 'BiosImageError') throw new CliError(msg);
    throw e;
  }
  return session(machine, options, opts, balloonStats);
}

type Machine = import('../machine/machine.js').Machine;
type MachineOptions = import('../machine/machine.js').MachineOptions;

/** Where the machine's output goes: COM1 to stdout (unless --screen), the balloon's statistics to their printer. */
function machineHost(opts: RunOptions, balloonStats: BalloonStatsPrinter): import('../machine/machine.js').MachineHost {
  const stdout = process.stdout;
  return {
    onSerial: (bytes) => { if (!opts.screen) stdout.write(bytes); },
    onBalloonStats: (stats) => balloonStats.arrived(stats),
  };
}

/**
 * --loadvm FILE: the machine the snapshot describes, from the images the options name (those of
 * a boot: the default guest unless --kernel ...), which must be the ones it was saved with, and
 * in the state it was saved in. A bad file or other images: one line, nothing runs.
 */
async function restore(opts: RunOptions, path: string): Promise<number> {
  const snap = await import('../snapshot/snapshot.js');
  const { readSnapshotFile } = await import('./vm-runner.js');
  const inFile = (e: unknown): CliError => new CliError(`--loadvm ${path}: ${(e as Error).message}`);
  let decoded;
  try {
    decoded = await snap.decodeSnapshot(await readSnapshotFile(path));
  } catch (e) {
    throw inFile(e);
  }
  const config = decoded.config;
  const links = await openNics(opts);
  const parts = await savedMachineParts(opts, config, links, '--loadvm');
  let options: MachineOptions;
  try {
    options = await snap.machineOptionsFor(config, parts);
  } catch (e) {
    throw inFile(e);
  }
  const mod = await loadMachineModule();
  const balloonStats = new BalloonStatsPrinter(process.stderr);
  const machine = await mod.Machine.create(options, machineHost(opts, balloonStats));
  try {
    snap.restoreSnapshot(machine, decoded);
  } catch (e) {
    throw inFile(e);
  }
  process.stderr.write(`webx86: restored ${path} (${config.memoryMiB} MiB, ${config.clock} clock)\n`);
  // The network backends are this process's: they tell the guest what did not come along.
  const { restoreLinks } = await import('../net/link.js');
  for (const line of restoreLinks(links, decoded.net)) process.stderr.write(`webx86: ${line}\n`);
  return session(machine, options, opts, balloonStats);
}

/**
 * --incoming tcp:[HOST:]PORT (incoming.ts): the machine a migration's source describes, built
 * from this process's images and disks as --loadvm builds a snapshot's, then run here.
 */
async function incoming(opts: RunOptions, uri: string): Promise<number> {
  const { runIncoming } = await import('./incoming.js');
  const snap = await import('../snapshot/snapshot.js');
  const mod = await loadMachineModule();
  const balloonStats = new BalloonStatsPrinter(process.stderr);
  return runIncoming(opts, uri, {
    optionsFor: async (config) => snap.machineOptionsFor(config, await savedMachineParts(opts, config, await openNics(opts), '--incoming')),
    create: (options) => mod.Machine.create(options, machineHost(opts, balloonStats)),
    session: (machine, options, paused) => session(machine, options, opts, balloonStats, paused),
    error: (message) => new CliError(message),
  });
}

/** The gdb stub of --gdb, listening; a port it cannot have is a one-line CliError. */
async function startGdb(runner: VmRunner, quit: () => void, addr: GdbAddress, wait: boolean): Promise<GdbServer> {
  const { GdbServer } = await import('./gdb-stub.js');
  if (wait) runner.stop();
  try {
    const server = await GdbServer.listen({ machine: runner.machine, stop: () => runner.stop(), cont: () => runner.cont(), quit }, addr);
    process.stderr.write(`webx86: gdb stub on tcp:${server.address.host}:${server.address.port}${wait ? ' (the guest waits for gdb)' : ''}\r\n`);
    return server;
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** Connect a created machine to this terminal and run it until it stops; returns the exit status. */
async function session(machine: Machine, options: MachineOptions, opts: RunOptions, balloonStats: BalloonStatsPrinter, paused = false): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  let quitByUser = false;
  const tty = stdin.isTTY === true;
  const balloon = () => ({ targetPages: machine.balloon.target, actualPages: machine.balloon.actual });
  balloonStats.attach(balloon);
  const latestStats = () => machine.balloon.stats;
  const runner = new VmRunner(machine, options, () => balloonStats.fresh(() => machine.requestBalloonStats(), latestStats));
  const quit = (): void => { quitByUser = true; runner.end(); };
  // --gdb: the stub listens before the guest runs (--gdb-wait: the guest waits for gdb's continue).
  const gdb = opts.gdb === undefined ? null : await startGdb(runner, quit, opts.gdb, opts.gdbWait === true);
  // A migrated guest that was paused at the source stays paused until the monitor's cont.
  if (paused) runner.stop();

  // The monitor: QEMU's words, on this terminal (stderr, beside Ctrl-A h's help).
  const monitor = new MonitorConsole(new Monitor({
    get status() { return runner.status; },
    get ramMiB() { return runner.ramMiB; },
    stop: () => runner.stop(),
    cont: () => runner.cont(),
    reset: () => runner.reset(),
    quit,
    savevm: (path) => runner.savevm(path),
    loadvm: (path) => runner.loadvm(path),
    migrate: (uri, progress) => runner.migrate(uri, progress),
    migrationInfo: () => runner.migrationInfo(),
    balloon: () => runner.balloon(),
    setBalloonTarget: (mib) => runner.setBalloonTarget(mib),
    machine,
  }, describeBalloonStats), process.stderr);
  const toGuest = (bytes: Uint8Array): void => {
    if (opts.screen) machine.sendKeys(bytes); else machine.sendSerial(bytes);
  };
  const mux = new ConsoleMux({
    quit,
    help: () => { process.stderr.write(`\r\n${ESCAPE_KEYS_HELP}`); },
    balloon: () => balloonStats.ask(() => machine.requestBalloonStats(), latestStats),
    monitor: (shown) => (shown ? monitor.enter() : monitor.leave()),
  }, toGuest, (bytes) => monitor.input(bytes));
  // --stats: keep the balloon's statistics fresh for the report at exit (the driver answers a
  // request by refilling its buffer; this costs the guest a few microseconds every few seconds).
  const statsTimer = opts.stats ? setInterval(() => machine.requestBalloonStats(), BALLOON_STATS_INTERVAL_MS) : null;
  // The escape keys need a terminal: piped input reaches the guest byte for byte.
  const onData = (chunk: Buffer): void => {
    if (tty) mux.input(new Uint8Array(chunk)); else toGuest(new Uint8Array(chunk));
  };
  // --screen text: the VGA's text screen, redrawn at most 10 times a second when it changed.
  const screen = opts.screen ? new TextScreenPrinter(machine.display, stdout, stdout.isTTY === true) : null;
  const screenTimer = screen ? setInterval(() => screen.update(), 100) : null;
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  // A closed stdout (`webx86 run | head`) ends the session quietly, as for any filter.
  stdout.on('error', quit);
  process.on('SIGTERM', quit);
  if (!tty) process.on('SIGINT', quit);

  let reason: ExitReason;
  try {
    reason = await runner.run();
  } finally {
    gdb?.close();
    if (screenTimer) clearInterval(screenTimer);
    if (statsTimer) clearInterval(statsTimer);
    balloonStats.close();
    screen?.update();
    stdin.off('data', onData);
    if (tty) stdin.setRawMode(false);
    stdin.pause();
    process.off('SIGTERM', quit);
    process.off('SIGINT', quit);
    if (opts.stats) {
      process.stderr.write(formatStats(machine.status()));
      const report = balloonStats.lastReport();
      if (report !== null) process.stderr.write(`${report}\n`);
    }
  }
  if (opts.screenshot !== undefined) await saveScreenshot(machine, opts.screenshot);
  switch (reason) {
    case 'poweroff':
    case 'reset': // only returned under --no-reboot
      return 0;
    case 'stopped':
      if (runner.migratedTo !== null) {
        // The monitor's migrate prints its summary once the target has answered: let it.
        await monitor.idle();
        process.stderr.write(`\r\nwebx86: the VM moved to ${runner.migratedTo}; it runs there now\r\n`);
        return 0;
      }
      return quitByUser ? 0 : 2;
    case 'error':
      throw new CliError(machine.status().error ?? 'the machine stopped with an error');
  }
}

/**
 * Draws the VGA's text screen on a terminal: on a TTY over the previous one (cursor home), else
 * (a pipe, a test) as its lines followed by a separator line, each time it changed. Characters
 * outside printable ASCII show as '.'.
 */
class TextScreenPrinter {
  private seen = -1;
  private last = '';
  constructor(private readonly vga: { changes: number; textScreen(): { lines: string[] } | null },
              private readonly out: NodeJS.WriteStream, private readonly tty: boolean) {}
  update(): void {
    if (this.vga.changes === this.seen) return;
    this.seen = this.vga.changes;
    const t = this.vga.textScreen();
    const text = t === null ? '(graphics mode)' : t.lines.map((l) => l.replace(/[^\x20-\x7e]/g, (c) => (c === '\0' ? ' ' : '.')).trimEnd()).join('\n');
    if (text === this.last) return;
    this.last = text;
    if (this.tty) this.out.write(`\x1b[H\x1b[2J${text.replace(/\n/g, '\r\n')}`);
    else this.out.write(`${text}\n${'-'.repeat(80)}\n`);
  }
}

/** --screenshot: the VGA's picture as a PNG (a blank screen is an error, in one line). */
async function saveScreenshot(machine: import('../machine/machine.js').Machine, path: string): Promise<void> {
  const size = machine.display.displaySize();
  const MAX = 4096;
  const pixels = size === null ? null : new Uint8ClampedArray(Math.min(size.width, MAX) * Math.min(size.height, MAX) * 4);
  const drawn = pixels === null ? null : machine.display.render(pixels, MAX, MAX);
  if (pixels === null || drawn === null) throw new CliError(`--screenshot: the screen is blank (the VGA shows nothing), ${path} not written`);
  const { encodePng } = await import('./png.js');
  const { writeFile } = await import('node:fs/promises');
  try {
    await writeFile(path, encodePng(drawn.width, drawn.height, new Uint8Array(pixels.buffer, 0, drawn.width * drawn.height * 4)));
  } catch (e) {
    throw new CliError(`--screenshot: cannot write ${path}: ${(e as Error).message}`);
  }
}

/** The --stats report: one line for the run, one for the JIT. */
export function formatStats(s: { instructions: number; guestSeconds: number; jit?: import('../machine/types.js').JitCounters }): string {
  const lines = [`webx86: ${s.instructions} instructions, ${s.guestSeconds.toFixed(3)} s of guest time`];
  const j = s.jit;
  if (!j || j.threshold === 0) lines.push('webx86: JIT off');
  else {
    const share = s.instructions > 0 ? (100 * j.instructions) / s.instructions : 0;
    lines.push(
      `webx86: JIT (threshold ${j.threshold} runs): ${j.translations} regions translated from ${(j.guestBytes / 1024).toFixed(0)} KiB ` +
      `of guest code into ${(j.bytesEmitted / 1024).toFixed(0)} KiB of WebAssembly, ${j.compileMs.toFixed(0)} ms compiling in the run loop ` +
      `(${(j.compileMs / Math.max(1, j.guestBytes / 1024)).toFixed(2)} ms per KiB of guest code), code cache peak ` +
      `${(j.cachePeakBytes / 1024).toFixed(0)} KiB, compiled as ${j.modules} modules (at most ${(j.moduleBytesHeldPeak / 1024).toFixed(0)} KiB of them held); ${j.calls} calls from the block loop and ${j.chained} from other translations, ${j.returns} returns into a waiting caller, ${share.toFixed(1)}% of instructions in translated code, ` +
      `${j.evictions} evictions, ${j.failures} failures`,
    );
  }
  return lines.join('\n') + '\n';
}

/** `webx86 switch --listen [HOST:]PORT`: an Ethernet switch for VMs in other processes, until Ctrl-C. */
async function runSwitch(args: string[]): Promise<number> {
  if (args.length !== 2 || args[0] !== '--listen') throw new CliError('usage: webx86 switch --listen [HOST:]PORT');
  const m = /^(?:(.*):)?(\d+)$/.exec(args[1]!);
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port > 65535) throw new CliError(`switch: --listen ${args[1]} is not [HOST:]PORT`);
  const { startSwitch } = await import('../net/node-socket.js');
  let sw;
  try {
    sw = await startSwitch(port, m[1] || '127.0.0.1');
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  process.stdout.write(`webx86 switch: listening on ${m[1] || '127.0.0.1'}:${sw.port}\n`);
  await new Promise<void>((done) => { process.once('SIGINT', done); process.once('SIGTERM', done); });
  await sw.close();
  return 0;
}

/** Run the CLI; returns the exit status. Never throws. */
export async function main(argv: string[]): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      if (command === undefined) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
      }
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (command === 'switch') return await runSwitch(rest);
    if (command !== 'run') {
      throw new CliError(command.startsWith('-') ? `unknown option '${command}' (try webx86 --help)` : `unknown command '${command}' (try webx86 --help)`);
    }
    if (rest.includes('-h') || rest.includes('--help')) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    return await run(parseRunArgs(rest));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // Exactly one line, whatever the error carried.
    process.stderr.write(`webx86: ${msg.split('\n')[0]!.trim() || 'unknown error'}\n`);
    return 2;
  }
}

// Run when executed (bin/webx86 imports this module as the program).
if (process.env.WEBX86_CLI_NO_MAIN !== '1') {
  const code = await main(process.argv.slice(2));
  // Flush stdout before exiting; stdin may still hold the event loop open.
  if (process.stdout.writableNeedDrain) await new Promise((r) => process.stdout.once('drain', r));
  process.exit(code);
}
