// The PC's chips and PCI functions: built once for a Machine, each put in the device registry
// (reset walks it, snapshots save and load through it) and decoded where the board puts it
// (board.ts): the ISA chips at their ports, the PCI functions on bus 0, the VGA's legacy window,
// the IO-APIC and the firmware ROM in the memory map. What the devices ask of the machine (its
// output, A20, reset, power-off, disk completions) goes through BoardHost.

import type { Core } from '../cpu/core.js';
import { Pit8254, PitPortB } from '../devices/i8254.js';
import { Mc146818 } from '../devices/mc146818.js';
import { Ns16550 } from '../devices/ns16550.js';
import { I8042, I8042_COMMAND, I8042_DATA } from '../devices/i8042.js';
import { Ps2Keyboard } from '../devices/ps2-keyboard.js';
import { Ps2Mouse } from '../devices/ps2-mouse.js';
import { Port92 } from '../devices/port92.js';
import { DebugConsolePort, PostCodePort } from '../devices/debug-port.js';
import { PciBus } from '../devices/pci.js';
import { I440fx } from '../devices/i440fx.js';
import { Piix3 } from '../devices/piix3.js';
import { Vga } from '../devices/vga.js';
import { BochsVbe } from '../devices/bochs-vbe.js';
import { BochsVbePci, STDVGA_DEVICE_ID, STDVGA_MMIO_SIZE, STDVGA_VENDOR_ID, optionRomPciIds } from '../devices/bochs-vbe-pci.js';
import { AHCI_ABAR_SIZE, AHCI_PORTS, Ahci } from '../devices/ahci.js';
import { FwCfg } from '../devices/fw-cfg.js';
import { AcpiPm, SLP_TYP_S5 } from '../devices/acpi-pm.js';
import { addVirtioDevices, type VirtioDevices } from './virtio-devices.js';
import { APIC, IRQ, MEMORY, PCI_SLOT, PIRQ_IOAPIC_PIN, PORTS, pirqOfPciPin } from './board.js';
import { type MmioMap, OffsetWindow, type PortBus } from './bus.js';
import { BiosRom, configureFirmware, pamSegments } from './bios.js';
import { SCI_IRQ } from './acpi.js';
import type { InterruptWiring } from './interrupts.js';
import type { DeviceRegistry } from './registry.js';
import type { VirtualClock } from './clock.js';
import type { DmaView, IoDevice, IoSize } from './io.js';
import type { MachineOptions } from './machine-options.js';

/** Fixed RTC start for deterministic runs: same date every run. */
const DETERMINISTIC_RTC_START = new Date('2024-01-01T00:00:00Z');

/** What the board is built into, and what its devices ask of the machine. */
export interface BoardHost {
  core: Core;
  config: MachineOptions;
  clock: VirtualClock;
  dma: DmaView;
  devices: DeviceRegistry;
  ports: PortBus;
  mmio: MmioMap;
  interrupts: InterruptWiring;
  /** A byte COM1, or the 0xE9 debug console, sent. */
  serialOut(byte: number): void;
  debugOut(byte: number): void;
  /** Bytes the virtio console sent. */
  consoleOut(bytes: Uint8Array): void;
  /** The keyboard controller's or port 0x92's A20 gate changed. */
  setA20(source: 'kbc' | 'fast', on: boolean): void;
  guestReset(why: string): void;
  powerOff(): void;
  log(line: string): void;
  /** A device's host work (a disk request) and what the guest sees when it ends (io-completions.ts). */
  ioComplete(done: Promise<() => void>): void;
  /** Network input for a card, delivered at the run loop's delivery points (host-events.ts). */
  deliver(receive: () => void): void;
  onBalloonStats(stats: Readonly<Record<string, number>>): void;
}

/** The board's devices, by their PC role. */
export interface BoardDevices {
  pit: Pit8254;
  portB: PitPortB;
  rtc: Mc146818;
  com1: Ns16550;
  com2: Ns16550;
  keyboard: Ps2Keyboard;
  mouse: Ps2Mouse;
  kbc: I8042;
  port92: Port92;
  post: PostCodePort;
  debugcon: DebugConsolePort;
  vga: Vga;
  display: BochsVbe;
  fwCfg: FwCfg;
  acpiPm: AcpiPm;
  hostBridge: I440fx;
  isaBridge: Piix3;
  pci: PciBus;
  ahci: Ahci;
  stdvga: BochsVbePci;
  virtio: VirtioDevices;
}

/** Build the board's devices into `w`'s registry and maps (the interrupt controllers are built already). */
export function buildBoard(w: BoardHost): BoardDevices {
  const { core, config, clock, dma, ports, mmio, interrupts, log } = w;
  const d = w.devices;
  const irq = (n: number) => interrupts.irq(n);
  const barMapper = (what: string, size: () => number, device: () => IoDevice, inCore?: (base: number | null) => void) =>
    mapBar(mmio, log, what, size, device, inCore);

  const pit = d.add('pit', new Pit8254(clock, irq(IRQ.PIT)));
  const portB = d.add('port-b', new PitPortB(pit, clock));
  const rtcStart = config.rtcStart ?? (config.clock === 'deterministic' ? DETERMINISTIC_RTC_START : new Date());
  const rtc = d.add('rtc', new Mc146818(clock, irq(IRQ.RTC), rtcStart.getTime()));
  const com1 = d.add('com1', new Ns16550(clock, irq(IRQ.COM1), w.serialOut));
  // COM2 exists so the kernel finds the usual two ports; its output goes nowhere yet.
  const com2 = d.add('com2', new Ns16550(clock, irq(IRQ.COM2), () => {}));
  const keyboard = d.add('keyboard', new Ps2Keyboard(clock, () => kbc.portDataAvailable()));
  const mouse = d.add('mouse', new Ps2Mouse(() => kbc.portDataAvailable()));
  const kbc = d.add('kbc', new I8042(keyboard, mouse, {
    irq1: irq(IRQ.KEYBOARD),
    irq12: irq(IRQ.MOUSE),
    onA20: (on: boolean) => w.setA20('kbc', on),
    onReset: () => w.guestReset('i8042 reset line'),
  }));
  const port92 = d.add('port92', new Port92(
    (on) => w.setA20('fast', on),
    () => w.guestReset('port 0x92 fast reset'),
  ));
  const post = d.add('post', new PostCodePort());
  const vga = d.add('vga', new Vga());
  // The display's video memory lives in the core (Machine.create placed it), so the guest
  // writes the framebuffer as RAM; the core tells the display when it did.
  const display = d.add('bochs-vbe', new BochsVbe(vga, { memory: core.vram ?? undefined, takeGuestWrites: () => core.takeVramWrites() }));
  // The VGA BIOS is the PCI function's expansion ROM when it is the stdvga's own (its PCI data
  // structure names 1234:1111); any other (an ISA VGA's BIOS) goes to SeaBIOS through fw_cfg.
  const vgaBios = config.firmware?.vgaBios;
  const ids = vgaBios === undefined ? null : optionRomPciIds(vgaBios);
  const romIsOurs = ids !== null && ids.vendorId === STDVGA_VENDOR_ID && ids.deviceId === STDVGA_DEVICE_ID;
  const debugcon = d.add('debugcon', new DebugConsolePort(w.debugOut));
  const fwCfg = d.add('fw-cfg', new FwCfg(dma));
  const acpiPm = d.add('acpi-pm', new AcpiPm(clock, irq(SCI_IRQ), (slpTyp) => {
    if (slpTyp !== SLP_TYP_S5) { log(`ACPI sleep type ${slpTyp} is not supported (only S5, soft-off)`); return; }
    w.powerOff();
  }));
  // PCI bus 0: the i440FX host bridge at 00.0, the PIIX3 ISA bridge at 01.0 (as on QEMU's pc).
  // With firmware, PAM decides whether writes to 0xC0000-0xFFFFF reach RAM; without it the
  // area is plain RAM and PAM changes are ignored.
  const firmware = config.firmware;
  const hostBridge = d.add('i440fx', new I440fx((register, value) => {
    if (firmware === undefined) return;
    for (const seg of pamSegments(register, value)) core.setMemoryKind(seg.base, seg.length, seg.writable ? 'ram' : 'rom');
  }));
  const isaBridge = d.add('piix3', new Piix3(
    // A PIRQ moved: the 8259 inputs it left and joined follow (driveIsaIrq).
    (_pirq, to, from) => {
      if (from !== null) interrupts.driveIsaIrq(from);
      if (to !== null) interrupts.driveIsaIrq(to);
    },
    (hard) => w.guestReset(`reset control register 0xCF9 (${hard ? 'hard' : 'soft'})`),
  ));
  d.add('piix3-rcr', isaBridge.resetControl);
  // PCI interrupts (level, shared): each device's INTx# rotates onto PIRQA..D (board.ts);
  // the PIIX3 routes each PIRQ to an 8259 input (PIRQRC), and the IO-APIC has them on 16..19.
  const pci = d.add('pci', new PciBus(isaBridge.resetControl, pirqOfPciPin, (pirq, level) => {
    const isa = isaBridge.pirqRoute(pirq);
    if (isa !== null) interrupts.driveIsaIrq(isa);
    interrupts.ioapic?.setIrq(PIRQ_IOAPIC_PIN + pirq, level);
  }));
  pci.register(PCI_SLOT.HOST_BRIDGE, 0, hostBridge);
  pci.register(PCI_SLOT.ISA_BRIDGE, 0, isaBridge);
  // The SATA controller, with the disks given on its first ports and the CD-ROM drive after them.
  const disks = config.disks ?? [];
  if (disks.length + (config.cdrom ? 1 : 0) > AHCI_PORTS) throw new RangeError(`at most ${AHCI_PORTS} drives (disks and the CD-ROM)`);
  let abar: number | null = null;
  const ahci = d.add('ahci', new Ahci({
    dma,
    disks,
    cdroms: config.cdrom ? [...new Array<undefined>(disks.length), config.cdrom] : [],
    complete: w.ioComplete,
    onMap: (base) => {
      if (abar !== null) mmio.unmap(abar);
      abar = null;
      if (base === null) return;
      try {
        mmio.map(base, AHCI_ABAR_SIZE, ahci.mmio, [4]);
        abar = base;
      } catch (e) {
        log(`AHCI registers not mapped at 0x${base.toString(16)}: ${(e as Error).message}`);
      }
    },
  }));
  d.add('ahci-hba', ahci.hba);
  // The display's PCI function; its BARs move where the guest puts them.
  const stdvga: BochsVbePci = d.add('stdvga', new BochsVbePci({
    display,
    rom: romIsOurs ? vgaBios : undefined,
    onMapFramebuffer: barMapper('framebuffer', () => display.vram.length, () => display.lfb, (base) => core.mapVram(base)),
    onMapMmio: barMapper('stdvga registers', () => STDVGA_MMIO_SIZE, () => stdvga.mmio),
    onMapRom: barMapper('VGA BIOS ROM', () => stdvga.romSize, () => stdvga.rom),
  }));
  pci.register(PCI_SLOT.VGA, 0, stdvga);

  // -- paravirtual devices (virtio-devices.ts) --
  const virtio = addVirtioDevices(config, {
    dma, devices: d, pci, barMapper,
    onBalloonStats: w.onBalloonStats,
    consoleOut: w.consoleOut,
    // Frames from the network reach the card at the run loop's delivery points (host-events.ts).
    deliver: w.deliver,
    complete: w.ioComplete,
  });
  pci.register(PCI_SLOT.AHCI, 0, ahci);

  // -- the port map --
  const at = (window: { base: number; length: number; widths: readonly IoSize[] }, dev: IoDevice) =>
    ports.map(window.base, window.length, dev, window.widths);
  at(PORTS.PIC_MASTER, interrupts.pic.master);
  at(PORTS.PIC_SLAVE, interrupts.pic.slave);
  at(PORTS.ELCR, interrupts.pic.elcr);
  at(PORTS.PIT, pit);
  at(PORTS.PORT_B, portB);
  at(PORTS.RTC, rtc);
  at(PORTS.COM1, com1);
  at(PORTS.COM2, com2);
  // The 8042 decodes A2 only: data at offset 0 (0x60), status/command at offset 4 (0x64),
  // with port B at 0x61 in between, so it gets two one-port windows.
  at(PORTS.KBC_DATA, new OffsetWindow(kbc, I8042_DATA));
  at(PORTS.KBC_STATUS, new OffsetWindow(kbc, I8042_COMMAND));
  at(PORTS.PORT_92, port92);
  at(PORTS.POST, post);
  at(PORTS.DEBUGCON, debugcon);
  at(PORTS.QEMU_DEBUGCON, debugcon);
  at(PORTS.FW_CFG, fwCfg);
  at(PORTS.ACPI_PM, acpiPm);
  at(PORTS.PCI_CONF1, pci);
  at(PORTS.VGA, vga.ports);
  at(PORTS.VBE_DISPI, display.dispiPorts);
  // The legacy window: the VGA's planes, or a 64 KiB bank of video memory in a VBE mode.
  mmio.map(MEMORY.VGA_HOLE_START, MEMORY.VGA_HOLE_END - MEMORY.VGA_HOLE_START, display.window, [1, 2, 4]);

  // -- the memory map: RAM lives in the core; the VGA hole and everything above RAM reach
  // the MMIO map. The local APIC is mapped where IA32_APIC_BASE says (syncApicBase). --
  if (interrupts.ioapic !== null) mmio.map(APIC.IOAPIC.base, APIC.IOAPIC.length, interrupts.ioapic, [1, 2, 4]);

  // -- firmware: the ROM at the top of 4 GiB, and what fw_cfg tells it about this board --
  if (firmware !== undefined) {
    const rom = new BiosRom(firmware.bios);
    mmio.map(rom.base, firmware.bios.length, rom, [1, 2, 4]);
    configureFirmware(fwCfg, {
      ramBytes: config.memoryMiB * 1024 * 1024, pmBase: PORTS.ACPI_PM.base, apic: interrupts.ioapic !== null, vgaBios: romIsOurs ? undefined : firmware.vgaBios,
    });
  }

  return {
    pit, portB, rtc, com1, com2, keyboard, mouse, kbc, port92, post, debugcon, vga, display, fwCfg, acpiPm,
    hostBridge, isaBridge, pci, ahci, stdvga, virtio,
  };
}

/**
 * The onMap callback of a memory BAR: map `device` (its size asked when mapped) where the guest
 * put the BAR, unmapping the old place. A BAR moved onto another window is not mapped (logged).
 */
function mapBar(mmio: MmioMap, log: (line: string) => void, what: string, size: () => number, device: () => IoDevice,
                inCore?: (base: number | null) => void): (base: number | null) => void {
  let at: number | null = null;
  return (base) => {
    if (at !== null) { mmio.unmap(at); inCore?.(null); }
    at = null;
    if (base === null) return;
    try {
      // In the MMIO map too when the core serves it (the framebuffer): the map refuses a
      // window that overlaps another device's.
      mmio.map(base, size(), device(), [1, 2, 4]);
      at = base;
      inCore?.(base);
    } catch (e) {
      if (at !== null) mmio.unmap(at);
      at = null;
      log(`${what} not mapped at 0x${base.toString(16)}: ${(e as Error).message}`);
    }
  };
}
