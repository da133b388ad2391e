// The Machine's paravirtual devices (virtio 1.x over PCI, devices/virtio/): the entropy source
// (from the host's, or a seeded generator so that a deterministic run repeats), the memory
// balloon, a console, the network cards and the disks. Each is a PCI function in the slot the
// board gives it (board.ts PCI_SLOT), in the device registry under its name, and its BAR maps
// where the guest puts it.

import type { PciBus } from '../devices/pci.js';
import { VIRTIO_PCI_BAR_SIZE } from '../devices/virtio/virtio-pci.js';
import { VirtioBlk } from '../devices/virtio/virtio-blk.js';
import { VirtioRng } from '../devices/virtio/virtio-rng.js';
import { VirtioConsole } from '../devices/virtio/virtio-console.js';
import { VirtioNet } from '../devices/virtio/virtio-net.js';
import { VirtioBalloon } from '../devices/virtio/virtio-balloon.js';
import { MAX_NICS, PCI_SLOT } from './board.js';
import { SeededRandom } from './entropy.js';
import type { DeviceRegistry } from './registry.js';
import type { DmaView, IoDevice } from './io.js';
import type { MachineOptions } from './machine.js';

/** virtio-blk devices a machine can have (PCI slots from PCI_SLOT.VIRTIO_BLK_FIRST). */
export const MAX_VIRTIO_DISKS = 4;

/** QEMU's first NIC's MAC address (locally administered, QEMU's OUI 52:54:00); card i adds i to the last byte, as QEMU does. */
const DEFAULT_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
/** The entropy source's seed in deterministic runs: the same "random" bytes every run. */
const DETERMINISTIC_RNG_SEED = 0x77656278; // "webx"
const ZERO_PAGE = new Uint8Array(4096);

export interface VirtioDevices {
  /** Null in a machine built with `rng: false`. */
  rng: VirtioRng | null;
  balloon: VirtioBalloon;
  console: VirtioConsole;
  /** eth0 first. */
  nets: VirtioNet[];
  blks: VirtioBlk[];
}

/** What the devices are wired to in the Machine. */
export interface VirtioWiring {
  dma: DmaView;
  devices: DeviceRegistry;
  pci: PciBus;
  /** The onMap callback of a memory BAR (Machine.barMapper). */
  barMapper: (what: string, size: () => number, device: () => IoDevice) => (base: number | null) => void;
  onBalloonStats: (stats: Readonly<Record<string, number>>) => void;
  consoleOut: (bytes: Uint8Array) => void;
  /** Run `receive` at the run loop's next delivery point (a frame from the network). */
  deliver: (receive: () => void) => void;
  /** A disk request the host finishes asynchronously (io-completions.ts decides when the guest sees it). */
  complete: (done: Promise<() => void>) => void;
}

/** Build the virtio devices `config` asks for; throws a RangeError for a configuration no board has. */
export function addVirtioDevices(config: MachineOptions, w: VirtioWiring): VirtioDevices {
  const d = w.devices;
  let rng: VirtioRng | null = null;
  if (config.rng !== false) {
    const seeded = config.clock === 'deterministic' ? new SeededRandom(DETERMINISTIC_RNG_SEED) : null;
    const random = seeded?.fill ?? ((b: Uint8Array): void => { crypto.getRandomValues(b); });
    const dev: VirtioRng = new VirtioRng({
      dma: w.dma, random, onMap: w.barMapper('virtio-rng', () => VIRTIO_PCI_BAR_SIZE, () => dev.mmio),
    });
    rng = d.add('virtio-rng', dev);
    d.add('virtio-rng-transport', dev.transport);
    if (seeded) d.add('virtio-rng-source', seeded); // where its stream is: machine state (entropy.ts)
    w.pci.register(PCI_SLOT.VIRTIO_RNG, 0, dev);
  }
  // A page the guest gives the balloon is the host's again: it reads as zeros from then on (and
  // will be left out of snapshots); one it takes back starts as zeros.
  const balloon: VirtioBalloon = d.add('virtio-balloon', new VirtioBalloon({
    dma: w.dma,
    onRelease: (pfn) => { w.dma.write(pfn * 4096, ZERO_PAGE); },
    onStats: w.onBalloonStats,
    onMap: w.barMapper('virtio-balloon', () => VIRTIO_PCI_BAR_SIZE, () => balloon.mmio),
  }));
  d.add('virtio-balloon-transport', balloon.transport);
  w.pci.register(PCI_SLOT.VIRTIO_BALLOON, 0, balloon);
  const balloonMiB = config.balloonMiB ?? 0;
  if (!Number.isInteger(balloonMiB) || balloonMiB < 0 || balloonMiB >= config.memoryMiB) {
    throw new RangeError(`balloon target ${balloonMiB} MiB is outside 0..${config.memoryMiB - 1} MiB`);
  }
  const virtioConsole: VirtioConsole = d.add('virtio-console', new VirtioConsole({
    dma: w.dma, output: w.consoleOut,
    onMap: w.barMapper('virtio-console', () => VIRTIO_PCI_BAR_SIZE, () => virtioConsole.mmio),
  }));
  d.add('virtio-console-transport', virtioConsole.transport);
  w.pci.register(PCI_SLOT.VIRTIO_CONSOLE, 0, virtioConsole);
  // The network cards: eth0 on its own slot, further ones after the virtio disks' slots (Linux
  // names them in PCI order, so the order of `nics` is the order of eth0, eth1 ...).
  if (config.net !== undefined && config.nics !== undefined) throw new RangeError('give a machine `net` or `nics`, not both');
  const nics = config.nics ?? (config.net !== undefined ? [{ link: config.net, mac: config.mac }] : []);
  if (nics.length > MAX_NICS) throw new RangeError(`at most ${MAX_NICS} network cards`);
  const macs = nics.map((nic, i) => nic.mac ?? Uint8Array.from(DEFAULT_MAC, (b, j) => (j === 5 ? b + i : b)));
  macs.forEach((mac, i) => {
    if (macs.findIndex((m) => m.every((b, j) => b === mac[j])) !== i) throw new RangeError(`two network cards have the MAC address ${[...mac].map((b) => b.toString(16).padStart(2, '0')).join(':')}`);
  });
  const nets = nics.map(({ link }, i) => {
    const name = i === 0 ? 'virtio-net' : `virtio-net-${i}`;
    const net: VirtioNet = new VirtioNet({
      dma: w.dma, mac: macs[i]!, send: (frame) => link.send(frame),
      onMap: w.barMapper(name, () => VIRTIO_PCI_BAR_SIZE, () => net.mmio),
    });
    d.add(name, net);
    d.add(`${name}-transport`, net.transport);
    w.pci.register(i === 0 ? PCI_SLOT.VIRTIO_NET : PCI_SLOT.VIRTIO_NET_MORE + i - 1, 0, net);
    link.onFrame = (frame) => { const copy = frame.slice(); w.deliver(() => net.receive(copy)); };
    return net;
  });
  const virtioDisks = config.virtioDisks ?? [];
  if (virtioDisks.length > MAX_VIRTIO_DISKS) throw new RangeError(`at most ${MAX_VIRTIO_DISKS} virtio disks`);
  const blks = virtioDisks.map((disk, i) => {
    const blk: VirtioBlk = new VirtioBlk({
      dma: w.dma, disk, complete: w.complete, serial: `WEBX86-VD${i}`,
      onMap: w.barMapper(`virtio-blk ${i}`, () => VIRTIO_PCI_BAR_SIZE, () => blk.mmio),
    });
    d.add(`virtio-blk-${i}`, blk);
    d.add(`virtio-blk-${i}-transport`, blk.transport);
    w.pci.register(PCI_SLOT.VIRTIO_BLK_FIRST + i, 0, blk);
    return blk;
  });
  return { rng, balloon, console: virtioConsole, nets, blks };
}
