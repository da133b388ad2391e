// The page's entry: checks the browser can host the VM, starts the VM worker, connects the
// terminal to COM1 through the shared rings and the canvas to the VGA through the shared screen,
// and boots the default guest (or the one the URL names: ?kernel=&initrd=&cmdline=&mem=&clock=
// &autostart=0, or ?manifest=/images/disk.json for the disk guest booted through SeaBIOS, or
// ?disk=URL). With a bzImage the worker also
// fetches the uncompressed kernel (the manifest's vmlinux, or ?vmlinux=URL; ?vmlinux=0 to skip):
// more bytes to download, but decompressing the bzImage inside the emulated CPU is far slower.
// Without one, the worker decompresses a gzip or XZ bzImage itself, on the host
// (src/boot/payload.ts); other formats are left to the guest.
//
// The network (src/net/page-options.ts has the details): none unless the address asks, since a
// page that opens connections nobody asked for would surprise; ?net=user gives the guest the
// Internet (and 10.0.2.2, the server's own loopback) through a Wisp relay, by default this
// server's /wisp/ (?wisp=wss://host/path/ for another); ?net=tabs or ?net=tabs:NAME joins the
// VMs of other tabs on one Ethernet segment; &mac= sets the card's address (by default a random
// one per tab). The Capture button downloads the network's last 16 MiB as a .pcap file.
//
// Snapshots (snapshot-panel.ts): Save keeps the running machine in the browser, Restore… brings
// one back, from there or from a file. Migrate… (migrate-panel.ts) moves the running VM to another
// tab opened with ?incoming=NAME, which waits for it instead of booting.
// ?snapshot=URL starts from a snapshot instead of booting;
// the images it was saved with are fetched from the URLs the settings name (the manifest's) and
// must be the same files (by SHA-256).
import * as Comlink from 'comlink';
import type { ClockMode, ExitReason } from '../machine/types.js';
import { ByteRing } from '../worker/ring.js';
import type { BootOptions, DownloadProgress, ImageSource, VmStatus, VmWorkerApi } from '../worker/vm-worker.js';
import { Controls, type BootChoice, type ImageChoice, type PanelState } from './controls.js';
import { SerialTerminal } from './terminal.js';
import { ScreenView } from './screen.js';
import { NetPanel, pageNetChoice } from './net-panel.js';
import { BalloonPanel } from './balloon-panel.js';
import { DiskPanel } from './disk-panel.js';
import { SnapshotPanel } from './snapshot-panel.js';
import { MigratePanel } from './migrate-panel.js';
import type { SnapshotImageSources } from '../worker/worker-snapshot.js';
import { isolatePage, missingPlatform } from './isolation.js';
import { clearError, errorBox, hideProgress, showError, showProgress, showStatus } from './status-bar.js';
import { inspectorToggle } from '../inspector/toggle.js';

/** COM1 output ring: enough for a burst of kernel log while the tab is busy. */
const SERIAL_OUT_BYTES = 1 << 20;
/** Key input ring: keys and pastes. */
const SERIAL_IN_BYTES = 64 << 10;
const STATUS_INTERVAL_MS = 500;
const DEFAULT_MANIFEST = '/images/default.json';
/** SeaBIOS and its VGA BIOS, which `npm run build:images` copies from Debian's seabios package. */
const DEFAULT_BIOS = '/images/bios/bios-256k.bin';
const DEFAULT_VGA_BIOS = '/images/bios/vgabios-stdvga.bin';

/** The default guest's manifest, as disk-images/build.mjs writes it. */
interface GuestManifest {
  /** A kernel guest names its kernel; a disk guest its disk image (and the BIOS to boot it with). */
  kernel?: string;
  disk?: string;
  bios?: string;
  vgaBios?: string;
  /** The same kernel uncompressed (an i386 ELF). */
  vmlinux?: string;
  initrd?: string;
  cmdline?: string;
  recommendedMemoryMiB?: number;
  prompt?: string;
}

/** A relative URL means relative to the page, but the worker would resolve it against its own script. */
function absolute(url: string, base: string = location.href): string {
  return new URL(url, base).href;
}

/** A URL as the settings show it: same-origin URLs by their path, which reads better. */
function shown(url: string): string {
  const u = new URL(url, location.href);
  return u.origin === location.origin ? u.pathname + u.search : u.href;
}

async function imageSource(choice: ImageChoice): Promise<ImageSource> {
  if ('file' in choice) return { bytes: new Uint8Array(await choice.file.arrayBuffer()), name: choice.file.name };
  return { url: absolute(choice.url) };
}

function parseClock(v: string | null): ClockMode | undefined {
  return v === 'deterministic' || v === 'realtime' ? v : undefined;
}

async function loadManifest(url: string): Promise<GuestManifest> {
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new Error(`Could not download the default guest's manifest ${url}: ${(e as Error).message}.`);
  }
  if (!res.ok || (res.headers.get('Content-Type') ?? '').startsWith('text/html')) {
    throw new Error(`The default guest image is not on this server (${url}: HTTP ${res.status}). `
      + 'Build it with "npm run build:images", or name a kernel in the address: ?kernel=URL&initrd=URL.');
  }
  const m = (await res.json()) as GuestManifest;
  if (typeof m?.kernel !== 'string' && typeof m?.disk !== 'string') throw new Error(`The guest manifest ${url} names no kernel and no disk.`);
  return m;
}

async function main(): Promise<void> {
  const terminalBox = document.getElementById('terminal')!;
  if (!(await isolatePage())) return; // the page reloads
  const missing = missingPlatform();
  if (missing) {
    showError(missing);
    exposeTestHook(null, null, null, null);
    return;
  }

  const serialOut = ByteRing.create(SERIAL_OUT_BYTES);
  const serialIn = ByteRing.create(SERIAL_IN_BYTES);
  const pendingInput: Uint8Array[] = [];
  let inputFlushing = false;

  /** Keys into the worker's ring; a paste larger than the ring waits for the guest to catch up. */
  const sendInput = (bytes: Uint8Array): void => {
    if (pendingInput.length === 0) {
      const n = serialIn.write(bytes);
      if (n === bytes.length) return;
      bytes = bytes.subarray(n);
    }
    pendingInput.push(bytes.slice());
    if (!inputFlushing) void flushInput();
  };
  const flushInput = async (): Promise<void> => {
    inputFlushing = true;
    while (pendingInput.length > 0) {
      const seen = serialIn.readCount;
      const head = pendingInput[0];
      const n = serialIn.write(head);
      if (n === head.length) pendingInput.shift();
      else {
        pendingInput[0] = head.subarray(n);
        await serialIn.waitForSpaceAsync(seen, 1000);
      }
    }
    inputFlushing = false;
  };

  const terminal = new SerialTerminal(terminalBox, sendInput);
  let screen: ScreenView | null = null;

  const worker = new Worker(new URL('../worker/vm-worker.ts', import.meta.url), { type: 'module', name: 'webx86-vm' });
  worker.addEventListener('error', (ev) => showError(`The VM worker failed: ${ev.message || 'it could not be loaded'}.`));
  const api = Comlink.wrap<VmWorkerApi>(worker);

  let panel: Controls;
  let snapshots: SnapshotPanel;
  let migrate: MigratePanel;
  const setState = (state: PanelState): void => {
    panel.setState(state);
    snapshots.setRunning(state === 'running' || state === 'paused');
    migrate.setRunning(state === 'running' || state === 'paused');
  };
  let booting = false;
  // A network option that cannot be used stops the boot: the user meant to have that network.
  const netChoice = pageNetChoice(new URLSearchParams(location.search));
  const balloon = new BalloonPanel((mib) => api.setBalloon(mib), showError);
  const net = new NetPanel('net' in netChoice ? netChoice.net : { backend: 'none' }, () => api.capture(), showError);
  if ('error' in netChoice) showError(netChoice.error);
  const disk = new DiskPanel({
    reset: async () => {
      const chosen = panel.choice().disk;
      if (!chosen) throw new Error('no disk is chosen');
      return api.resetDisk(await imageSource(chosen));
    },
    onError: showError,
    onReset: (blocks) => {
      setState('off');
      terminal.writeNote(`[webx86] The disk was reset to its image: ${blocks} blocks of changes forgotten. Start boots it afresh.`);
    },
  });
  /** Uncompressed kernel to send along with the bzImage it belongs to (?vmlinux= or the manifest). */
  let vmlinuxPair: { kernel: string; vmlinux: string } | null = null;
  /** The BIOS images for booting from the disk (the manifest may name others). */
  const biosUrls = { bios: DEFAULT_BIOS, vgaBios: DEFAULT_VGA_BIOS };

  const events = {
    onProgress(p: DownloadProgress) {
      showProgress(p);
    },
    onExit(reason: ExitReason, error?: string) {
      const words: Record<ExitReason, string> = {
        poweroff: 'The guest powered off.',
        reset: 'The guest asked for a reset and the machine stopped.',
        stopped: 'Machine powered off.',
        error: `The machine stopped with an error: ${error ?? 'unknown'}`,
      };
      terminal.writeNote(`[webx86] ${words[reason]}`);
      if (reason === 'error') showError(words.error);
      setState('off');
    },
  };
  screen = new ScreenView(document.getElementById('screen') as HTMLCanvasElement, document.getElementById('screen-box')!, {
    key: (code, down) => void api.key(code, down),
    mouse: (dx, dy, dz, buttons) => void api.mouse(dx, dy, dz, buttons),
  });
  await api.attach(serialOut.buffer, serialIn.buffer, Comlink.proxy(events), screen.buffer.buffer);

  // Drain COM1 output into the terminal; Atomics.waitAsync wakes us without polling.
  void (async () => {
    const buf = new Uint8Array(64 << 10);
    for (;;) {
      const seen = serialOut.writeCount;
      const n = serialOut.readInto(buf);
      if (n > 0) {
        terminal.writeBytes(buf.subarray(0, n));
        continue;
      }
      await serialOut.waitForDataAsync(seen, 1000);
    }
  })();

  const boot = async (choice: BootChoice): Promise<void> => {
    if (booting) return;
    if (choice.boot === 'disk' && !choice.disk) {
      showError('No disk chosen: give a disk image URL or open a file under Settings.');
      panel.showSettings(true);
      return;
    }
    if (choice.boot === 'kernel' && !choice.kernel) {
      showError('No kernel chosen: give a kernel URL or open a file under Settings.');
      panel.showSettings(true);
      return;
    }
    if ('error' in netChoice) {
      showError(netChoice.error);
      return;
    }
    booting = true;
    clearError();
    setState('busy');
    try {
      const fromDisk = choice.boot === 'disk';
      const kernel = fromDisk ? null : choice.kernel!;
      const options: BootOptions = {
        memoryMiB: choice.memoryMiB,
        kernel: kernel ? await imageSource(kernel) : undefined,
        initrd: !fromDisk && choice.initrd ? await imageSource(choice.initrd) : undefined,
        // Only with the kernel it was built from: the user may have picked another one since.
        vmlinux: kernel && vmlinuxPair && 'url' in kernel && absolute(kernel.url) === vmlinuxPair.kernel
          ? { url: vmlinuxPair.vmlinux } : undefined,
        cmdline: choice.cmdline,
        clock: choice.clock,
        disk: choice.disk ? await imageSource(choice.disk) : undefined,
        // The disk's changes are kept in this browser unless ?persist=0.
        persist: new URLSearchParams(location.search).get('persist') !== '0',
        firmware: fromDisk ? { bios: { url: absolute(biosUrls.bios) }, vgaBios: { url: absolute(biosUrls.vgaBios) } } : undefined,
        net: netChoice.net,
      };
      const transfer = [options.kernel, options.initrd, options.disk]
        .flatMap((s) => (s && 'bytes' in s ? [s.bytes.buffer] : []));
      // The screen shows what the BIOS and the OS draw; a kernel loaded directly talks on COM1.
      screen?.show(fromDisk);
      terminal.clear();
      await api.boot(Comlink.transfer(options, transfer));
      screen?.useVideoMemory(await api.displayMemory());
      setState('running');
      if (fromDisk) screen?.focus(); else terminal.focus();
    } catch (e) {
      hideProgress();
      showError((e as Error)?.message ?? String(e));
      setState('off');
    } finally {
      booting = false;
    }
  };

  panel = new Controls({
    onStart: (choice) => void boot(choice),
    onPause: () => void api.pause().then(() => setState('paused')),
    onResume: () => void api.resume().then(() => setState('running')),
    onReset: () => void api.reset(),
    onPowerOff: () => void api.powerOff().then(() => setState('off')),
  });

  /** Where the worker can find the images a snapshot was saved with, if it does not hold them: the settings' choice. */
  const snapshotSources = async (): Promise<SnapshotImageSources> => {
    const c = panel.choice();
    const kernel = c.kernel ?? undefined;
    return {
      kernel: kernel ? await imageSource(kernel) : undefined,
      initrd: c.initrd ? await imageSource(c.initrd) : undefined,
      vmlinux: kernel && vmlinuxPair && 'url' in kernel && absolute(kernel.url) === vmlinuxPair.kernel ? { url: vmlinuxPair.vmlinux } : undefined,
      bios: { url: absolute(biosUrls.bios) },
      vgaBios: { url: absolute(biosUrls.vgaBios) },
      disk: c.disk ? await imageSource(c.disk) : undefined,
      persist: new URLSearchParams(location.search).get('persist') !== '0',
    };
  };

  /** Replace the machine by a snapshot's; throws (one line) leaving the running one as it was. */
  const restore = async (file: Uint8Array, name: string): Promise<void> => {
    if (booting) throw new Error('A machine is starting: restore a snapshot once it runs.');
    if ('error' in netChoice) throw new Error(netChoice.error);
    clearError();
    const info = await api.restore(Comlink.transfer(file, [file.buffer]), { images: await snapshotSources(), net: netChoice.net });
    hideProgress();
    screen?.useVideoMemory(await api.displayMemory());
    terminal.writeNote(`[webx86] Restored the snapshot ${name}.`);
    for (const line of info.net) terminal.writeNote(`[webx86] Network: ${line}`);
    if (info.unplugged > 0) {
      terminal.writeNote(`[webx86] Its network card${info.unplugged > 1 ? 's are' : ' is'} not connected: this page has ${'net' in netChoice && netChoice.net.backend !== 'none' ? 'one network only' : 'no network (add ?net=user or ?net=tabs to the address)'}.`);
    }
    setState('running');
    terminal.focus();
  };
  snapshots = new SnapshotPanel({ save: () => api.snapshot(), restore, onError: showError });

  // Live migration (migrate-panel.ts): this tab's VM to another that waits under a name, or
  // ?incoming=NAME: this tab waits for one instead of booting.
  migrate = new MigratePanel({
    send: (name, onRound) => api.migrate(name, Comlink.proxy({ onRound })),
    moved: (summary, name) => {
      setState('off');
      terminal.writeNote(`[webx86] This VM moved to the tab waiting as "${name}" (downtime ${summary.downtimeMs.toFixed(0)} ms); it runs there now.`);
    },
    held: (message) => {
      setState('paused');
      terminal.writeNote(`[webx86] ${message}`);
    },
    receive: async (name, onRound) => {
      if ('error' in netChoice) throw new Error(netChoice.error);
      terminal.writeNote(`[webx86] Waiting for a VM migrated to "${name}": use Migrate… in the tab that runs it.`);
      return api.incoming(name, { images: await snapshotSources(), net: netChoice.net }, Comlink.proxy({ onRound }));
    },
    arrived: async (info) => {
      hideProgress();
      screen?.useVideoMemory(await api.displayMemory());
      terminal.writeNote(info.paused
        ? `[webx86] A ${info.memoryMiB} MiB VM arrived from another tab (${info.text}), paused as it was there; Resume runs it.`
        : `[webx86] A ${info.memoryMiB} MiB VM arrived from another tab (${info.text}); it runs here now.`);
      for (const line of info.net) terminal.writeNote(`[webx86] Network: ${line}`);
      setState(info.paused ? 'paused' : 'running');
      terminal.focus();
    },
    onError: showError,
  });

  /** ?snapshot=URL: the machine in that file instead of a boot. */
  const startFromSnapshot = async (url: string): Promise<void> => {
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
      await restore(new Uint8Array(await res.arrayBuffer()), shown(url));
    } catch (e) {
      hideProgress();
      showError(`Could not start from the snapshot ${shown(url)}: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
    }
  };

  setInterval(() => {
    api.status().then((s) => {
      if (errorBox.hidden || s.state !== 'stopped') showStatus(s);
      net.show(s.net);
      balloon.show(s);
      disk.show(s, panel.choice().disk !== null && panel.choice().disk !== undefined);
    }).catch(() => {});
  }, STATUS_INTERVAL_MS);

  exposeTestHook(terminal, () => api.status(), screen, () => api.textScreen());

  // The inspector beside the terminal (src/inspector/); ?inspector=1 opens it at once.
  // Its pauses, steps and breakpoints show on the bar's Pause/Resume too.
  const inspector = inspectorToggle(document.getElementById('btn-inspector') as HTMLButtonElement, document.getElementById('inspector')!, api.inspector, showError,
    { onRunState: (state) => setState(state) });
  if (new URLSearchParams(location.search).get('inspector') === '1') void inspector.open();
  // Tests compare what the inspector shows with the monitor's words for the same machine.
  if (window.__webx86) window.__webx86.monitorInfo = (subject: string) => api.inspector.monitorInfo(subject);

  // What to boot: the URL's choice, else the default guest's manifest.
  const q = new URLSearchParams(location.search);
  const vmlinuxParam = q.get('vmlinux');
  const mem = Number(q.get('mem'));
  panel.setValues({
    memoryMiB: Number.isInteger(mem) && mem > 0 ? mem : undefined,
    clock: parseClock(q.get('clock')),
  });
  if (q.has('disk')) {
    panel.setValues({ boot: 'disk', diskUrl: q.get('disk') ?? '' });
  } else if (q.has('kernel')) {
    panel.setValues({
      kernelUrl: q.get('kernel') ?? '',
      initrdUrl: q.get('initrd') ?? '',
      cmdline: q.get('cmdline') ?? 'console=ttyS0,115200',
    });
    if (vmlinuxParam && vmlinuxParam !== '0') {
      vmlinuxPair = { kernel: absolute(q.get('kernel') ?? ''), vmlinux: absolute(vmlinuxParam) };
    }
  } else {
    const manifestUrl = absolute(q.get('manifest') ?? DEFAULT_MANIFEST);
    try {
      const m = await loadManifest(manifestUrl);
      if (m.disk !== undefined) {
        if (m.bios) biosUrls.bios = absolute(m.bios, manifestUrl);
        if (m.vgaBios) biosUrls.vgaBios = absolute(m.vgaBios, manifestUrl);
        panel.setValues({
          boot: 'disk',
          diskUrl: shown(absolute(m.disk, manifestUrl)),
          memoryMiB: Number.isInteger(mem) && mem > 0 ? undefined : m.recommendedMemoryMiB,
        });
      } else panel.setValues({
        boot: 'kernel',
        kernelUrl: shown(absolute(m.kernel!, manifestUrl)),
        initrdUrl: m.initrd ? shown(absolute(m.initrd, manifestUrl)) : '',
        cmdline: q.get('cmdline') ?? m.cmdline ?? 'console=ttyS0,115200',
        memoryMiB: Number.isInteger(mem) && mem > 0 ? undefined : m.recommendedMemoryMiB,
      });
      if (vmlinuxParam !== '0' && m.vmlinux && m.kernel) {
        vmlinuxPair = { kernel: absolute(m.kernel, manifestUrl), vmlinux: absolute(m.vmlinux, manifestUrl) };
      }
    } catch (e) {
      showError((e as Error).message);
      panel.showSettings(true);
      return;
    }
  }
  if (q.has('snapshot')) await startFromSnapshot(absolute(q.get('snapshot') ?? ''));
  else if (q.has('incoming')) await migrate.receive(q.get('incoming') ?? '');
  else if (q.get('autostart') !== '0') await boot(panel.choice());
}

/** Test and benchmark hook: what the terminal shows, and typing into the guest as a user would. */
declare global {
  interface Window {
    __webx86?: {
      serialText(): string;
      errorText(): string;
      /** Asks the worker now (not the last polled value). */
      status(): Promise<VmStatus | null>;
      type(text: string): void;
      /** The VGA's text screen as the machine holds it (null in a graphics mode). */
      screenText(): Promise<{ lines: string[]; cursor: { row: number; col: number } | null } | null>;
      /** The canvas as the page shows it, and how many frames it drew. */
      screenPixels(): { width: number; height: number; data: number[]; frames: number; vramFrames: number } | null;
      /** The CLI monitor's `info SUBJECT` lines for the running machine (src/node/monitor-info.ts). */
      monitorInfo?(subject: string): Promise<string[] | null>;
      ready: boolean;
    };
  }
}

function exposeTestHook(terminal: SerialTerminal | null, status: (() => Promise<VmStatus>) | null,
                        screen: ScreenView | null,
                        screenText: (() => Promise<{ lines: string[]; cursor: { row: number; col: number } | null } | null>) | null): void {
  window.__webx86 = {
    serialText: () => terminal?.text() ?? '',
    errorText: () => (errorBox.hidden ? '' : errorBox.textContent ?? ''),
    status: async () => (status ? status() : null),
    screenText: async () => (screenText ? screenText() : null),
    screenPixels: () => {
      if (!screen) return null;
      const p = screen.pixels();
      return { width: p.width, height: p.height, data: Array.from(p.data), frames: screen.counters.frames, vramFrames: screen.counters.vramFrames };
    },
    type: (text: string) => {
      // Through xterm as if typed, so the test exercises the same path as keystrokes.
      terminal?.input(text);
    },
    ready: true,
  };
}

main().catch((e) => showError(`The page failed to start: ${(e as Error)?.message ?? String(e)}`));
