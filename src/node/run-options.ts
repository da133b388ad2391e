// The options of `webx86 run`: the usage text, and parsing the arguments into RunOptions
// (checked here, before anything is loaded, so that a bad value is one line and exit status 2).

import { MAX_MEMORY_MIB, MAX_NICS, MIN_MEMORY_MIB } from '../machine/board.js';
import { JIT_THRESHOLD_MAX } from '../machine/machine-options.js';
import { parseNics, type NetSpec } from '../net/options.js';
import { parseGdbAddress, type GdbAddress } from './gdb-stub.js';

/** Debian's seabios package installs these (npm run setup). */
export const DEFAULT_BIOS = '/usr/share/seabios/bios-256k.bin';
export const DEFAULT_VGA_BIOS = '/usr/share/seabios/vgabios-stdvga.bin';

export const USAGE = `Usage: webx86 run [options]
       webx86 switch --listen [HOST:]PORT
Boot a Linux guest with its serial console (COM1) on this terminal.

Options:
  --kernel FILE     Linux kernel: a bzImage (default: the built default guest)
  --vmlinux FILE    the same kernel as an uncompressed i386 ELF (optional; without it a gzip
                    or XZ bzImage is decompressed on the host, which also boots faster)
  --guest-decompress
                    boot a bzImage through its own decompressor, as a real boot loader
                    does: no host decompression, no default vmlinux
  --initrd FILE     initial RAM disk (cpio, optionally compressed)
  --append STRING   kernel command line
  --memory MIB      guest RAM in MiB (default 128, ${MIN_MEMORY_MIB}..${MAX_MEMORY_MIB})
  --screenshot FILE.png
                    on exit, save what the screen shows (VGA text or graphics, or the VBE framebuffer) as a PNG
  --screen text     show the VGA's text screen on the terminal instead of COM1 (redrawn when
                    it changes), and type on the PS/2 keyboard
  --disk FILE       a raw disk image on the next SATA port (repeatable, up to 6); the guest's
                    writes go to an overlay in memory, the file is never modified
  --virtio-blk FILE a raw disk image on a paravirtual virtio-blk device (repeatable, up to 4;
                    Linux: /dev/vda ...); writes go to an overlay, as for --disk
                    (--virtio-disk is the same option)
  --net user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]...[,mac=MAC][,dump=FILE.pcap]
                    a virtio-net card on user-mode NAT (QEMU's -nic user): DHCP gives the guest
                    10.0.2.15, 10.0.2.2 is this host's loopback, 10.0.2.3 answers DNS; hostfwd
                    forwards a host port to the guest; dump captures every frame (pcap)
  --net socket,connect=HOST:PORT[,mac=MAC][,dump=FILE.pcap]
                    the card on a switch other VMs join too (webx86 switch --listen PORT);
                    give each VM its own mac=
  --net hub[,name=NAME][,mac=MAC][,dump=FILE.pcap]
                    the card on a segment inside this VM, shared by its cards that name the
                    same hub (QEMU's hubport; default name 0)
  --net none        no network card (the default without --net)
                    --net is repeatable, up to ${MAX_NICS} cards: eth0, eth1 ... in order
  --mac MAC         the first card's MAC address, unless its --net has mac= (default
                    52:54:00:12:34:56, the next cards :57, :58 ...)
  --balloon MIB     ask the guest's virtio-balloon driver to give up MIB MiB of its RAM from the
                    start (Linux: MemTotal drops by as much once virtio_balloon is loaded)
  --rng on|off      the virtio-rng entropy device (default on; off: no /dev/hwrng)
  --cdrom FILE      an ISO image in a CD-ROM drive on the SATA port after the disks (read-only)
  --boot WHAT       kernel: load the kernel directly (the default); disk: start from the BIOS,
                    which boots the first disk; cdrom: start from the BIOS, which boots the
                    CD-ROM (El Torito)
  --bios FILE       the system BIOS for --boot disk or cdrom (default: SeaBIOS, ${DEFAULT_BIOS})
  --vga-bios FILE   the VGA BIOS for --boot disk or cdrom (default: ${DEFAULT_VGA_BIOS})
  --deterministic   guest time from instruction counts: same input, same output
  --no-reboot       exit when the guest resets instead of rebooting it
  --no-apic         no local APIC / IO-APIC / MP table: the 8259 PIC drives the CPU
  --no-jit          run the interpreter alone (no translation of hot code to WebAssembly)
  --jit-threshold N translate a block once it runs N times within about 2^28 instructions
                    (1 to 4194303; default: see README)
  --loadvm FILE     start from a snapshot (saved with the monitor's savevm) instead of booting;
                    the kernel, initrd and BIOS are found as for a boot and must be the ones it
                    was saved with; the machine's settings (--memory, --deterministic ...) are
                    the snapshot's. Its disks' images: the --disk, --virtio-blk and --cdrom
                    files given (the same as when it was saved), else the paths it recorded;
                    the guest's writes come from the snapshot. Its network cards (and MACs)
                    come along: give one --net per card, without mac= (on a switch the
                    guest's connections go on; on user, those it had open are reset)
  --incoming tcp:[HOST:]PORT
                    wait for a live migration from another webx86 (the monitor's migrate;
                    HOST defaults to 127.0.0.1), then run the guest it sends (paused if it
                    was paused there); the images, --disk files and --net cards as for
                    --loadvm, the settings are the source's
  --gdb tcp:[HOST]:PORT
                    wait for gdb there (target remote :PORT; HOST defaults to 127.0.0.1),
                    as QEMU's -gdb: registers, memory, breakpoints, single steps; the guest
                    stops while gdb has it stopped
  --gdb-wait        with --gdb: the guest does not start until gdb continues it (QEMU's -S)
  --stats           on exit, print the JIT's and the run's counters, and the guest's balloon
                    statistics, to stderr
  -h, --help        show this help

In the terminal: Ctrl-A x quits, Ctrl-A c switches to the monitor (savevm FILE, loadvm FILE,
info status, stop, cont, system_reset, info balloon, balloon MIB, migrate tcp:HOST:PORT,
info migrate, info registers|tlb|mem|pic|irq|pci|mtree, x/NFS ADDR, xp/NFS ADDR, quit, help)
and back,
Ctrl-A b prints the guest's balloon statistics, Ctrl-A Ctrl-A sends Ctrl-A, Ctrl-A h shows these keys.
The default guest comes from build/images/default.json (npm run build:images).
Exit status: 0 when the guest powers off, 2 on errors.`;

/** A user-facing failure: printed as one line, exit status 2. */
export class CliError extends Error {}

export interface RunOptions {
  kernel?: string;
  vmlinux?: string;
  initrd?: string;
  append?: string;
  memoryMiB: number;
  deterministic: boolean;
  noReboot: boolean;
  apic: boolean;
  guestDecompress: boolean;
  jit: boolean;
  jitThreshold?: number;
  stats: boolean;
  disks: string[];
  virtioDisks: string[];
  /** The network cards, eth0 first (none: no card). */
  nics: NetSpec[];
  /** --balloon: the balloon's target from power-on, in MiB. */
  balloonMiB?: number;
  /** --rng off: no virtio-rng device. */
  rng: boolean;
  cdrom?: string;
  screen: boolean;
  boot: 'kernel' | 'disk' | 'cdrom';
  screenshot?: string;
  bios?: string;
  vgaBios?: string;
  /** --loadvm: start from this snapshot file instead of booting. */
  loadvm?: string;
  /** --incoming: wait for a live migration at this address (tcp:[HOST:]PORT) instead of booting. */
  incoming?: string;
  /** --gdb: the gdb stub's address (src/node/gdb-stub.ts). */
  gdb?: GdbAddress;
  /** --gdb-wait: start paused until gdb continues the guest. */
  gdbWait?: boolean;
}

/**
 * Options that set up the machine itself, which a snapshot brings along (its configuration):
 * given with --loadvm, they would be ignored, so they are refused.
 */
const SNAPSHOT_SETTINGS = ['--memory', '--deterministic', '--no-apic', '--no-reboot', '--append', '--balloon', '--rng',
  '--no-jit', '--jit-threshold', '--mac', '--boot'];

export function parseRunArgs(args: string[]): RunOptions {
  const opts: RunOptions = { memoryMiB: 128, deterministic: false, noReboot: false, apic: true, guestDecompress: false, jit: true, stats: false, disks: [], virtioDisks: [], nics: [], rng: true, screen: false, boot: 'kernel' };
  let memorySet = false;
  const nets: string[] = [];
  let mac: string | undefined;
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    given.add(name);
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = args[++i];
      if (v === undefined) throw new CliError(`option ${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--kernel': opts.kernel = value(); break;
      case '--vmlinux': opts.vmlinux = value(); break;
      case '--initrd': opts.initrd = value(); break;
      case '--screen': {
        const v = value();
        if (v !== 'text') throw new CliError(`--screen ${v}: only 'text' is supported`);
        opts.screen = true;
        break;
      }
      case '--disk':
        if (opts.disks.length === 6) throw new CliError('--disk: at most 6 disks (the SATA controller has 6 ports)');
        opts.disks.push(value());
        break;
      case '--net': nets.push(value()); break;
      case '--mac':
        if (mac !== undefined) throw new CliError('--mac: given twice (the other cards take mac= in their --net)');
        mac = value();
        break;
      case '--balloon': {
        const v = value();
        if (!/^\d+$/.test(v)) throw new CliError(`--balloon wants a whole number of MiB, not '${v}'`);
        opts.balloonMiB = Number(v);
        break;
      }
      case '--rng': {
        const v = value();
        if (v !== 'on' && v !== 'off') throw new CliError(`--rng ${v}: expected 'on' or 'off'`);
        opts.rng = v === 'on';
        break;
      }
      case '--virtio-blk':
      case '--virtio-disk':
        if (opts.virtioDisks.length === 4) throw new CliError(`${name}: at most 4 virtio disks`);
        opts.virtioDisks.push(value());
        break;
      case '--cdrom':
        if (opts.cdrom !== undefined) throw new CliError('--cdrom: one CD-ROM drive only');
        opts.cdrom = value();
        break;
      case '--boot': {
        const v = value();
        if (v !== 'kernel' && v !== 'disk' && v !== 'cdrom') throw new CliError(`--boot ${v}: expected 'kernel' or 'disk' or 'cdrom'`);
        opts.boot = v;
        break;
      }
      case '--bios': opts.bios = value(); break;
      case '--screenshot': {
        const v = value();
        if (!/\.png$/i.test(v)) throw new CliError(`--screenshot ${v}: the file name must end in .png`);
        opts.screenshot = v;
        break;
      }
      case '--vga-bios': opts.vgaBios = value(); break;
      case '--append': opts.append = value(); break;
      case '--memory': {
        const v = value();
        if (!/^\d+$/.test(v)) throw new CliError(`--memory wants a whole number of MiB, not '${v}'`);
        opts.memoryMiB = Number(v);
        memorySet = true;
        break;
      }
      case '--deterministic': opts.deterministic = true; break;
      case '--no-reboot': opts.noReboot = true; break;
      case '--no-apic': opts.apic = false; break;
      case '--guest-decompress': opts.guestDecompress = true; break;
      case '--no-jit': opts.jit = false; break;
      case '--jit-threshold': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > JIT_THRESHOLD_MAX) throw new CliError(`--jit-threshold wants a whole number of runs from 1 to ${JIT_THRESHOLD_MAX}, not '${v}'`);
        opts.jitThreshold = Number(v);
        break;
      }
      case '--stats': opts.stats = true; break;
      case '--gdb': {
        const spec = value();
        const addr = parseGdbAddress(spec);
        if (addr === null) throw new CliError(`--gdb ${spec} is not tcp:[HOST]:PORT (as tcp::1234)`);
        opts.gdb = addr;
        break;
      }
      case '--gdb-wait': opts.gdbWait = true; break;
      case '--loadvm': opts.loadvm = value(); break;
      case '--incoming': {
        const spec = value();
        if (!/^tcp:(?:(\[[^\]]*\]|[^:]*):)?\d{1,5}$/.test(spec) || Number(spec.slice(spec.lastIndexOf(':') + 1)) > 65535) {
          throw new CliError(`--incoming ${spec} is not tcp:[HOST:]PORT`);
        }
        opts.incoming = spec;
        break;
      }
      default:
        if (name.startsWith('-')) throw new CliError(`unknown option '${name}' (try webx86 --help)`);
        throw new CliError(`unexpected argument '${arg}' (try webx86 --help)`);
    }
    if (inline !== undefined && ['--deterministic', '--no-reboot', '--no-apic', '--guest-decompress', '--no-jit', '--stats', '--gdb-wait'].includes(name)) {
      throw new CliError(`option ${name} takes no value`);
    }
  }
  if (opts.loadvm !== undefined) {
    const setting = SNAPSHOT_SETTINGS.find((o) => given.has(o));
    if (setting !== undefined) {
      throw new CliError(`${setting} does not go with --loadvm: the snapshot brings the machine's settings (memory, clock, APICs, command line, balloon, cards' MACs); leave it out`);
    }
  }
  if (opts.incoming !== undefined) {
    if (opts.loadvm !== undefined) throw new CliError('--incoming does not go with --loadvm: the guest comes from the source');
    const setting = SNAPSHOT_SETTINGS.find((o) => given.has(o));
    if (setting !== undefined) {
      throw new CliError(`${setting} does not go with --incoming: the source brings the machine's settings (memory, clock, APICs, command line, balloon, cards' MACs); leave it out`);
    }
  }
  if (opts.boot === 'disk' || opts.boot === 'cdrom') {
    const kernelOnly = (['kernel', 'vmlinux', 'initrd', 'append'] as const).find((k) => opts[k] !== undefined);
    if (kernelOnly !== undefined) throw new CliError(`--${kernelOnly} loads a kernel directly; it does not go with --boot ${opts.boot}`);
    if (opts.boot === 'disk' && opts.disks.length === 0) throw new CliError('--boot disk needs a --disk to boot from');
    if (opts.boot === 'cdrom' && opts.cdrom === undefined) throw new CliError('--boot cdrom needs a --cdrom to boot from');
  } else if (opts.bios !== undefined || opts.vgaBios !== undefined) {
    throw new CliError(`${opts.bios !== undefined ? '--bios' : '--vga-bios'} is for --boot disk or --boot cdrom (a kernel loaded directly runs without firmware)`);
  }
  if (opts.cdrom !== undefined && opts.disks.length === 6) throw new CliError('--cdrom: no SATA port left after 6 disks');
  if (opts.guestDecompress && opts.vmlinux !== undefined) {
    throw new CliError('--guest-decompress and --vmlinux exclude each other');
  }
  try {
    opts.nics = parseNics(nets, mac, MAX_NICS);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  // The snapshot's cards keep their MACs (the guest's drivers already know them).
  if ((opts.loadvm !== undefined || opts.incoming !== undefined) && opts.nics.some((n) => n.mac !== undefined)) {
    throw new CliError(opts.incoming !== undefined
      ? '--net ...,mac= does not go with --incoming: the source brings its cards\' MACs; leave it out'
      : '--net ...,mac= does not go with --loadvm: the snapshot brings its cards\' MACs; leave it out');
  }
  if (memorySet && (opts.memoryMiB < MIN_MEMORY_MIB || opts.memoryMiB > MAX_MEMORY_MIB)) {
    throw new CliError(
      `--memory ${opts.memoryMiB} is out of range: ${opts.memoryMiB < MIN_MEMORY_MIB ? 'too small' : 'too large'} ` +
      `(${MIN_MEMORY_MIB}..${MAX_MEMORY_MIB} MiB)`,
    );
  }
  // The balloon can take at most the whole RAM (Machine.setBalloonTarget's limit); more is a typo.
  if (opts.balloonMiB !== undefined && opts.balloonMiB >= opts.memoryMiB) {
    throw new CliError(`--balloon ${opts.balloonMiB} leaves the guest no memory (it has --memory ${opts.memoryMiB} MiB)`);
  }
  if (opts.gdbWait === true && opts.gdb === undefined) throw new CliError('--gdb-wait waits for gdb: give --gdb tcp::PORT too');
  return opts;
}
