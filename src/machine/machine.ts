// The Machine: builds a PC from a VmConfig and runs it. The interrupt controllers
// (interrupts.ts), then the chips and PCI functions where the board (board.ts) says they live
// (board-devices.ts); devices see offsets and IrqLines; the core sees
// ioRead/ioWrite/mmioRead/mmioWrite and two pins. It starts from firmware (bios.ts: SeaBIOS at
// the reset vector), or, without, firmware.ts leaves what a BIOS would (the MP table, the CPU in
// Linux's entry state) and the kernel is loaded directly. run-loop.ts runs it.

import { loadCore, type Core } from '../cpu/core.js';
import type { DualPic8259 } from '../devices/i8259.js';
import type { Pit8254, PitPortB } from '../devices/i8254.js';
import type { Mc146818 } from '../devices/mc146818.js';
import type { Ns16550 } from '../devices/ns16550.js';
import type { I8042 } from '../devices/i8042.js';
import type { Ps2Keyboard } from '../devices/ps2-keyboard.js';
import type { Ps2Mouse } from '../devices/ps2-mouse.js';
import type { Port92 } from '../devices/port92.js';
import type { DebugConsolePort, PostCodePort } from '../devices/debug-port.js';
import type { PciBus } from '../devices/pci.js';
import type { IrqStats } from './irq-stats.js';
import type { Lapic } from '../devices/lapic.js';
import type { Ioapic } from '../devices/ioapic.js';
import { InterruptWiring } from './interrupts.js';
import type { I440fx } from '../devices/i440fx.js';
import type { Piix3 } from '../devices/piix3.js';
import type { Vga } from '../devices/vga.js';
import { type BochsVbe, VBE_DEFAULT_VRAM_SIZE } from '../devices/bochs-vbe.js';
import type { BochsVbePci } from '../devices/bochs-vbe-pci.js';
import { scancodesFor } from '../devices/ps2-keymap.js';
import { set2MakeCode } from '../devices/ps2-keycodes.js';
import type { Ahci } from '../devices/ahci.js';
import type { FwCfg } from '../devices/fw-cfg.js';
import type { VirtioBlk } from '../devices/virtio/virtio-blk.js';
import type { VirtioRng } from '../devices/virtio/virtio-rng.js';
import type { VirtioConsole } from '../devices/virtio/virtio-console.js';
import type { VirtioNet } from '../devices/virtio/virtio-net.js';
import type { VirtioBalloon } from '../devices/virtio/virtio-balloon.js';
import { buildBoard } from './board-devices.js';
import type { AcpiPm } from '../devices/acpi-pm.js';
import { IRQ, MEMORY } from './board.js';
import { MmioMap, PortBus } from './bus.js';
import { RamDma } from './dma.js';
import { cpuidLeaf1, type CpuidLeaf1 } from './firmware.js';
import { bootGuest } from './guest-boot.js';
import { GuestOutput, InstructionRate } from './guest-output.js';
import { HostEvents } from './host-events.js';
import { IoCompletions } from './io-completions.js';
import { RunLoop } from './run-loop.js';
import { DeviceRegistry, DeviceStateError } from './registry.js';
import { captureOverlays, checkOverlays, loadOverlays } from './machine-disks.js';
import { VirtualClock } from './clock.js';
import type { DmaView, IoDevice, IrqLine } from './io.js';
import type { ClockMode, ExitReason, MachineStatus } from './types.js';
import { checkMachineOptions, JIT_THRESHOLD, type MachineHost, type MachineOptions, type MachineState } from './machine-options.js';
import { fillBytes } from '../cpu/fill.js';
import { defaultCoreWasm } from './core-wasm.js';

/** Deterministic mode: guest time a save may run on for, waiting for the disks to be idle (Machine.settleIo). */
const QUIESCE_LIMIT_NS = 50_000_000;

export { MAX_VIRTIO_DISKS } from './virtio-devices.js';
export type { FirmwareOptions, MachineHost, MachineOptions, MachineState, NicOptions } from './machine-options.js';

export class Machine {
  readonly core: Core;
  readonly clock: VirtualClock;
  readonly ports = new PortBus();
  readonly mmio = new MmioMap();
  readonly dma: DmaView;
  /** Every device, once: reset walks this list, and snapshots save and load through it. */
  readonly devices = new DeviceRegistry();

  // Devices, by their PC role.
  readonly pic: DualPic8259;
  readonly pit: Pit8254;
  readonly portB: PitPortB;
  readonly rtc: Mc146818;
  readonly com1: Ns16550;
  readonly com2: Ns16550;
  readonly kbc: I8042;
  readonly keyboard: Ps2Keyboard;
  readonly mouse: Ps2Mouse;
  readonly port92: Port92;
  readonly post: PostCodePort;
  readonly debugcon: DebugConsolePort;
  readonly pci: PciBus;
  readonly hostBridge: I440fx;
  readonly isaBridge: Piix3;
  /** The VGA: its registers, planes and modes. */
  readonly vga: Vga;
  /** The display: the VGA with the Bochs VBE extension (DISPI registers, linear framebuffer); what a host draws. */
  readonly display: BochsVbe;
  /** The display's PCI function (QEMU's stdvga, 1234:1111): the framebuffer and register BARs, the VGA BIOS as its ROM. */
  readonly stdvga: BochsVbePci;
  /** The SATA controller (AHCI) and its disks. */
  readonly ahci: Ahci;
  /** QEMU's firmware configuration interface, through which SeaBIOS learns this board. */
  readonly fwCfg: FwCfg;
  /** The ACPI fixed hardware: power-off, the PM timer, the power button. */
  readonly acpiPm: AcpiPm;
  /** Paravirtual devices (virtio 1.x over PCI). The entropy source, or null in a machine built with `rng: false`. */
  readonly virtioRng: VirtioRng | null;
  /** The memory balloon: the host sets a target (setBalloonTarget), the guest's driver gives pages up or takes them back. */
  readonly balloon: VirtioBalloon;
  readonly virtioConsole: VirtioConsole;
  readonly virtioBlks: VirtioBlk[];
  /** The first network card (eth0), or null without a network. */
  readonly virtioNet: VirtioNet | null;
  /** Every network card, eth0 first. */
  readonly virtioNets: VirtioNet[];
  /** The APICs, or null in a machine built with `apic: false`. */
  readonly lapic: Lapic | null;
  readonly ioapic: Ioapic | null;

  private readonly config: MachineOptions;
  private readonly host: MachineHost;
  /** The 8259s, the APICs and the ISA IRQ lines between them and the devices (interrupts.ts). */
  private readonly interrupts: InterruptWiring;

  /** When the chips run: slices, idling, resets and power-off (run-loop.ts). */
  private readonly loop: RunLoop;
  /** Called when the CPU stops before an instruction at a debugger's breakpoint (core.setBreakpoint); the machine is then paused. */
  onBreakpoint: (() => void) | null = null;
  /** Interrupts taken per vector (`info irq`). */
  readonly irqStats: IrqStats;

  /** A20 as the keyboard controller and port 0x92 drive it (the chipset ORs them). */
  private a20Kbc = true;
  private a20Fast = false;

  /** What the chips print, for the host (guest-output.ts). */
  private readonly output: GuestOutput;
  /** Host input for the devices, delivered at points of guest execution (host-events.ts). */
  private readonly events = new HostEvents();
  /** Device work the host finishes asynchronously (disk I/O), and when the guest sees it. */
  private readonly io: IoCompletions;

  /** Instructions per second, for status(). */
  private readonly rate = new InstructionRate();

  /** CPUID leaf 1 EAX/EDX, asked of the core once (for the MP table, as a BIOS does). */
  private cpuid1: CpuidLeaf1 | null = null;
  /** Guest RAM is still as the core's init() left it, all zero: the first power-on need not clear it (touching every page). */
  private ramFresh = true;

  /** Counters for the inspector. */
  readonly counters = {
    resets: 0, hltStops: 0, slices: 0, deviceErrors: 0,
    /** Guest time in HLT, ns (run-loop.ts). */
    haltedNs: 0,
    /** IO-APIC messages no local APIC took (other destinations, SMI/INIT/ExtINT modes). */
    apicUndelivered: 0,
    /** Guest moves of the local APIC onto another device's window (not mapped there). */
    apicBaseConflicts: 0,
  };

  private constructor(core: Core, config: MachineOptions, host: MachineHost) {
    this.core = core;
    this.config = config;
    this.host = host;
    this.output = new GuestOutput(host);
    this.dma = new RamDma(core);
    this.clock = new VirtualClock(config.clock, { instructions: () => core.instructions });
    // RDTSC reads the clock in the core (the readTsc import stays for a core that has no clock).
    core.beforeRun = () => core.setClock(this.clock.terms());
    // A device that arms a timer during a CPU run, due before that run's budget ends (the PIT
    // programmed for a short one-shot), cuts the run short so the event is not passed over.
    this.clock.onPreempt = () => core.requestStop();
    this.io = new IoCompletions(this.clock, config.clock === 'deterministic', this.events, () => this.loop.wake());
    this.loop = new RunLoop({
      core, clock: this.clock, events: this.events, io: this.io, noReboot: config.noReboot === true, counters: this.counters,
      afterRun: () => this.interrupts.syncApicBase(),
      interruptPending: () => this.interrupts.pending(),
      flushOutput: () => this.output.flush(),
      powerOn: () => this.powerOn(),
      log: (line) => this.log(line),
      onBreakpoint: () => this.onBreakpoint?.(),
    });

    const logDeviceError = (dev: IoDevice, e: unknown) => {
      this.counters.deviceErrors++;
      this.log(`device ${dev.name} threw: ${(e as Error)?.message ?? e}`);
    };
    this.ports.onDeviceError = logDeviceError;
    this.mmio.onDeviceError = logDeviceError;

    // -- interrupts (interrupts.ts) --
    this.interrupts = new InterruptWiring({
      apic: config.apic ?? true, core, clock: this.clock, mmio: this.mmio, counters: this.counters, log: (line) => this.log(line),
      pciLevelOn: (n) => {
        // (The PCI bus exists once the board is built; lines may move while it is being built.)
        for (let pirq = 0; pirq < 4 && this.pci !== undefined; pirq++) if (this.isaBridge.pirqRoute(pirq) === n && this.pci.pirqLevel(pirq)) return true;
        return false;
      },
    });
    this.pic = this.interrupts.pic;
    this.lapic = this.interrupts.lapic;
    this.ioapic = this.interrupts.ioapic;
    this.irqStats = this.interrupts.stats;
    // The registry: reset walks it in this order, and snapshots save and load through it.
    const d = this.devices;
    if (this.lapic !== null) d.add('lapic', this.lapic);
    if (this.ioapic !== null) d.add('ioapic', this.ioapic);
    d.add('pic', this.pic);

    // -- the chips and PCI functions (board-devices.ts) --
    ({
      pit: this.pit, portB: this.portB, rtc: this.rtc, com1: this.com1, com2: this.com2, keyboard: this.keyboard,
      mouse: this.mouse, kbc: this.kbc, port92: this.port92, post: this.post, debugcon: this.debugcon, vga: this.vga,
      display: this.display, fwCfg: this.fwCfg, acpiPm: this.acpiPm, hostBridge: this.hostBridge, isaBridge: this.isaBridge,
      pci: this.pci, ahci: this.ahci, stdvga: this.stdvga,
      virtio: { rng: this.virtioRng, balloon: this.balloon, console: this.virtioConsole, nets: this.virtioNets, blks: this.virtioBlks },
    } = buildBoard({
      core, config, clock: this.clock, dma: this.dma, devices: d, ports: this.ports, mmio: this.mmio, interrupts: this.interrupts,
      serialOut: (byte) => this.output.serialByte(byte),
      debugOut: (byte) => this.output.debugByte(byte),
      consoleOut: (bytes) => this.output.consoleBytes(bytes),
      setA20: (source, on) => {
        if (source === 'kbc') this.a20Kbc = on;
        else this.a20Fast = on;
        this.updateA20();
      },
      guestReset: (why) => this.requestGuestReset(why),
      powerOff: () => this.loop.requestPowerOff(),
      log: (line) => this.log(line),
      ioComplete: (done) => this.io.add(done),
      deliver: (receive) => this.input(receive),
      onBalloonStats: (stats) => this.host.onBalloonStats?.(stats),
    }));
    this.virtioNet = this.virtioNets[0] ?? null;
  }

  /** Build a PC and load Linux into it; it starts when run() is called. */
  static async create(config: MachineOptions, host: MachineHost): Promise<Machine> {
    checkMachineOptions(config);
    const mib = config.memoryMiB;
    const wasm = config.coreWasm ?? (await defaultCoreWasm());
    let machine: Machine | undefined;
    const core = await loadCore(wasm, {
      ioRead: (port, size) => machine!.ports.read(port, size),
      ioWrite: (port, size, value) => machine!.ports.write(port, size, value),
      mmioRead: (addr, size) => { machine!.interrupts.syncApicBase(); return machine!.mmio.read(addr, size); },
      mmioWrite: (addr, size, value) => { machine!.interrupts.syncApicBase(); machine!.mmio.write(addr, size, value); },
      intAck: () => machine!.interrupts.acknowledge(),
      readTsc: () => machine!.clock.tsc(),
      // FERR# drives IRQ13 (the core only signals it when CR0.NE is clear).
      ferr: (level) => machine!.irq(IRQ.FPU).set(level !== 0),
    });
    core.init(mib * 1024 * 1024);
    core.initVram(VBE_DEFAULT_VRAM_SIZE);
    // The legacy VGA window is never RAM: its accesses go to the MMIO map.
    core.setMemoryKind(MEMORY.VGA_HOLE_START, MEMORY.VGA_HOLE_END - MEMORY.VGA_HOLE_START, 'mmio');
    // CPUID advertises the APIC only when the machine has one.
    core.setApicPresent(config.apic ?? true);
    core.jit.batched = config.jitBatched ?? true;
    if (core.jit.available) core.setJitThreshold(config.jit === false ? 0 : config.jitThreshold ?? JIT_THRESHOLD);
    machine = new Machine(core, config, host);
    machine.powerOn();
    return machine;
  }

  /** The IrqLine of ISA IRQ `n`. */
  irq(n: number): IrqLine { return this.interrupts.irq(n); }

  // -------------------------------------------------------------------------------------------
  // Power-on and reset: devices are built once, then given their reset state; Linux is loaded
  // as a BIOS would have loaded it. A guest reset is a full power cycle of the same kind,
  // because without firmware there is nothing at F000:FFF0 to run.
  // -------------------------------------------------------------------------------------------

  private powerOn(): void {
    const core = this.core;
    core.reset();
    // Guest time keeps running across a reboot (devices hold timestamps on it); each device's
    // reset() re-arms or cancels its own timers.
    for (const line of this.interrupts.isaLines) line.lower();
    this.devices.resetAll();
    if (this.config.balloonMiB) this.balloon.setTarget(this.config.balloonMiB * 256);
    // What the chips already sent before the reset has left the machine: hand it over.
    this.output.flush();

    // What the BIOS leaves behind: A20 on.
    this.a20Kbc = true;
    this.a20Fast = false;
    this.updateA20();
    bootGuest({
      core, config: this.config, rtc: this.rtc, lapic: this.lapic, pci: this.pci, interrupts: this.interrupts,
      clearRam: () => this.clearRam(),
      cpuid1: () => (this.cpuid1 ??= cpuidLeaf1(core)),
    });
  }

  /** RAM to zero, as at a real power-on: written only after the first (see ramFresh). */
  private clearRam(): void {
    if (!this.ramFresh) fillBytes(this.core.ram, 0);
    this.ramFresh = false;
  }

  private updateA20(): void {
    this.core.setA20(this.a20Kbc || this.a20Fast);
  }

  private requestGuestReset(why: string): void {
    this.log(`guest reset: ${why}`);
    this.loop.requestGuestReset();
  }

  private log(line: string): void {
    this.host.onLog?.(line);
  }

  // -------------------------------------------------------------------------------------------
  // Host controls
  // -------------------------------------------------------------------------------------------

  /** Paused by pause() and not resumed: true also while stopped, so a migration can carry it (src/worker/worker-migrate.ts). */
  get pausePending(): boolean { return this.loop.pausePending; }

  /** Run until the guest powers off, resets under noReboot, stop() is called, or an error. */
  run(): Promise<ExitReason> {
    this.rate.start(this.core.instructions);
    return this.loop.run();
  }

  /** Pause guest execution (guest time stops in realtime mode). */
  pause(): void { this.loop.pause(); }

  resume(): void { this.loop.resume(); }

  /** Make run() return 'stopped' at the end of the current slice. */
  stop(): void { this.loop.stop(); }

  /** Reset the whole machine and boot again (the reset button). */
  reset(): void {
    if (this.loop.running) {
      this.loop.requestHostReset();
    } else {
      this.counters.resets++;
      this.powerOn();
      if (this.loop.state !== 'error') this.loop.state = 'stopped';
    }
  }

  /** Deliver host input to the devices at the next point of guest execution (host-events.ts), and wake the run loop. */
  private input(deliver: () => void): void {
    this.events.push(deliver);
    this.loop.wake();
  }

  /** Type ASCII text on the PS/2 keyboard (a US layout: src/devices/ps2-keymap.ts). */
  sendKeys(bytes: Uint8Array): void {
    const codes = scancodesFor(bytes);
    if (codes.length === 0) return;
    this.input(() => this.keyboard.pressKey(codes));
  }

  /**
   * A key at `code` (a KeyboardEvent.code: the key's position) went down or up on the PS/2
   * keyboard. False when this keyboard has no such key.
   */
  keyEvent(code: string, down: boolean): boolean {
    const make = set2MakeCode(code);
    if (make === null) return false;
    this.input(() => (down ? this.keyboard.keyDown(make) : this.keyboard.keyUp(make)));
    return true;
  }

  /** The PS/2 mouse moved by (dx, dy) (y up), the wheel by dz, with `buttons` held (bit 0 left, 1 right, 2 middle). */
  moveMouse(dx: number, dy: number, dz = 0, buttons = 0): void {
    this.input(() => this.mouse.move(dx, dy, dz, buttons));
  }

  /** Ask the guest's balloon driver to give up `mib` MiB (0: take everything back). */
  setBalloonTarget(mib: number): void {
    if (!Number.isInteger(mib) || mib < 0 || mib * 1024 * 1024 > this.core.ramSize) {
      throw new RangeError(`balloon target ${mib} MiB is outside 0..${this.core.ramSize / 1048576} MiB`);
    }
    this.input(() => this.balloon.setTarget(mib * 256));
  }

  /**
   * Ask the guest's balloon driver for fresh memory statistics; they arrive through
   * MachineHost.onBalloonStats (and in `balloon.stats`). Nothing comes while the driver holds no
   * stats buffer (not loaded yet, or still answering the last request).
   */
  requestBalloonStats(): void {
    this.input(() => { this.balloon.requestStats(); });
  }

  /** Send bytes to the guest's virtio console (hvc0); they wait until the guest's driver takes them. */
  sendConsole(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const copy = bytes.slice();
    this.input(() => this.virtioConsole.send(copy));
  }

  /** Type bytes into COM1. */
  sendSerial(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const copy = bytes.slice();
    this.input(() => this.com1.receive(copy));
  }

  status(): MachineStatus {
    const instructions = this.core.instructions;
    const s: MachineStatus = {
      state: this.loop.state,
      instructions,
      ips: Math.round(this.rate.measure(instructions)),
      guestSeconds: this.clock.now() / 1e9,
      clock: this.config.clock as ClockMode,
      jit: this.core.jit.available ? this.core.jitStats : undefined,
    };
    if (this.loop.errorMessage !== undefined) s.error = this.loop.errorMessage;
    return s;
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots
  // -------------------------------------------------------------------------------------------

  /**
   * The whole machine, while run() is not running: the CPU, RAM, guest time with every timer,
   * the IRQ lines, each device of the registry and the board's A20 latches. Loaded into a
   * machine made with the same options, it goes on exactly as this one would
   * (test/guest/linux.test.ts compares the two against a Linux guest in deterministic mode).
   * `{ ram: false }` leaves RAM out (`ram` is then empty): live migration (src/migration/) has
   * sent it page by page already, and copying 256 MiB of shared memory takes ~0.2 s of downtime.
   */
  saveState(opts: { ram?: boolean } = {}): MachineState {
    if (this.loop.running) throw new Error('saveState() needs a machine that is not running: stop() it and wait for run() to return');
    // Host work for the disks must be settled first (settleIo): a promise cannot be saved.
    if (this.io.inFlight > 0 || this.io.undelivered > 0) throw new DeviceStateError('disk requests are in flight: settleIo() must drain them before saveState()');
    const disks = captureOverlays(this.config);
    this.output.flush();
    return {
      cpu: this.core.saveState(),
      ram: opts.ram === false ? new Uint8Array(0) : this.core.ram.slice(),
      clock: this.clock.save(),
      irqLines: this.interrupts.isaLines.map((l) => l.isHigh),
      devices: this.devices.save(),
      a20: { kbc: this.a20Kbc, fast: this.a20Fast },
      ...(disks.length > 0 ? { disks } : {}),
    };
  }

  /**
   * Drain the disks (io-completions.ts settle): wait for every host request the devices made,
   * then complete each at once. Before saveState() or loadState(), with the machine stopped.
   * For a save in deterministic mode (`runOn`, the default) the guest first runs on to an
   * instant with no request outstanding, so the saved run repeats the one never saved; before a
   * loadState() that replaces the machine, pass `runOn: false`.
   */
  async settleIo(opts: { runOn?: boolean } = {}): Promise<void> {
    if (this.loop.running) throw new Error('settleIo() needs a machine that is not running');
    if ((opts.runOn ?? true) && this.clock.mode === 'deterministic' && this.diskRequestsPending > 0 && this.loop.state !== 'poweroff' && this.loop.state !== 'error') {
      // Completing the requests now, before their fixed latency, would make this run differ
      // from one never saved: let the guest run on to its next instant with none outstanding
      // (each completes 100 us of guest time after it was made). A guest that always has one
      // outstanding is drained after QUIESCE_LIMIT_NS, and then repeats only from the save on.
      await this.loop.runUntilIoIdle(QUIESCE_LIMIT_NS);
    }
    await this.io.settle();
  }

  /** Disk requests the host is working on or the guest has not yet been given. */
  get diskRequestsPending(): number { return this.io.inFlight + this.io.undelivered; }

  /** Take a saveState() of a machine made with the same options. Everything is checked before anything changes. */
  loadState(s: MachineState): void {
    if (this.loop.running) throw new Error('loadState() needs a machine that is not running');
    const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;
    if (s.ram.length !== this.core.ramSize) throw new DeviceStateError(`saved RAM is ${mib(s.ram.length)}, this machine has ${mib(this.core.ramSize)}`);
    if (s.cpu.length !== this.core.saveState().length) throw new DeviceStateError('saved CPU state is from another core');
    if (s.irqLines.length !== this.interrupts.isaLines.length) throw new DeviceStateError('saved IRQ lines are not this machine\'s');
    if (this.io.inFlight > 0 || this.io.undelivered > 0) throw new DeviceStateError('disk requests are in flight: settleIo() must drain them before loadState()');
    this.devices.check(s.devices);
    checkOverlays(this.config, s.disks);
    try { this.clock.checkTimers(s.clock); } catch (e) { throw new DeviceStateError((e as Error).message); }

    this.core.ram.set(s.ram);
    this.core.loadState(s.cpu);
    this.clock.loadTime(s.clock);
    // The lines first, quietly: each device's own state already holds what its inputs saw.
    s.irqLines.forEach((level, i) => this.interrupts.isaLines[i]!.restoreLevel(level));
    this.devices.load(s.devices);
    loadOverlays(this.config, s.disks);
    this.clock.loadTimers(s.clock);
    this.a20Kbc = s.a20.kbc;
    this.a20Fast = s.a20.fast;
    // Map the local APIC where the loaded IA32_APIC_BASE says.
    this.interrupts.remapApic();
    this.loop.forgetGuestRequests();
    if (this.loop.state !== 'error') this.loop.state = 'stopped';
  }
}
