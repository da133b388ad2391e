// Lesson 4: one disk image on AHCI and on virtio-blk in the same guest; the same dd on each. The
// exits are the MMIO accesses to each controller's window (the inspector's counters); requests
// are the AHCI commands and the virtio-blk request chains the devices count themselves.
import { byId, count, everySample, exitsOf, perSecond, quietWhenReady, runButton, sampleOf, setFigure, vmById } from './lesson.js';
import type { CounterSample } from '../inspector/sample.js';

const MIB = 16;
const vm = vmById('vm');
quietWhenReady(vm);
vm.addEventListener('ready', () => { byId('status').textContent = 'the guest is at its prompt'; });

const SIDES = {
  ahci: { device: '/dev/sda', exits: 'ahci @', requests: (c: CounterSample) => c.devices.find((d) => d.name === 'ahci')?.values.commands ?? 0 },
  virtio: { device: '/dev/vda', exits: 'virtio-blk @', requests: (c: CounterSample) => c.devices.find((d) => d.name === 'virtio-blk')?.values.chains ?? 0 },
};
const dd = (device: string) => `dd if=${device} of=/dev/null bs=64k count=${(MIB * 16)}`;
byId('command').textContent = dd('DISK');

everySample(vm, 1000, (now, before) => {
  if (before === null) return;
  const s = (now.at - before.at) / 1000;
  for (const [side, d] of Object.entries(SIDES)) setFigure(`rate-${side}`, perSecond((exitsOf(now.counters, d.exits) - exitsOf(before.counters, d.exits)) / s));
});

async function counters(): Promise<CounterSample> {
  const s = await sampleOf(vm);
  if (s === null) throw new Error('The VM is not running.');
  return s.counters;
}

let ahciLoaded = false;

runButton('run', [vm], async () => {
  if (!ahciLoaded) {
    // The guest's init loads virtio drivers for the devices it finds; the SATA driver is ours to load.
    byId('status').textContent = 'loading the AHCI driver…';
    await vm.run('modprobe ahci; modprobe sd_mod; for i in $(seq 50); do [ -b /dev/sda ] && break; sleep 0.2; done; ls /dev/sda /dev/vda', 120_000);
    ahciLoaded = true;
  }
  for (const [side, d] of Object.entries(SIDES)) {
    byId('status').textContent = `reading ${d.device}…`;
    const before = await counters();
    // Dropping the page cache first, so each run reads the disk again (and a second press repeats the first).
    await vm.run('sync; echo 3 > /proc/sys/vm/drop_caches');
    const started = performance.now();
    const out = await vm.run(`${dd(d.device)} 2>&1 | tail -n 1`, 300_000);
    const seconds = (performance.now() - started) / 1000;
    const after = await counters();
    const exits = exitsOf(after, d.exits) - exitsOf(before, d.exits);
    setFigure(`exits-${side}`, count(exits));
    setFigure(`per-mib-${side}`, count(exits / MIB));
    setFigure(`requests-${side}`, count(d.requests(after) - d.requests(before)));
    // busybox dd ends with "256+0 records out" when it read every block.
    if (!out.startsWith(`${MIB * 16}+0 records out`)) throw new Error(`dd on ${d.device} did not read it all: ${out}`);
    setFigure(`speed-${side}`, `${(MIB / seconds).toFixed(1)} MiB/s`);
  }
  byId('status').textContent = 'done';
});
