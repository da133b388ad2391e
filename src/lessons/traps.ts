// Lesson 2: exits per device. The table is the inspector's port I/O and MMIO counters (the buses'
// own per-window counts, src/worker/worker-inspect.ts) sampled once a second and made rates; a
// Run button makes the guest talk to one device, and the figure above the table is how many exits
// that device saw while the command ran.
import { byId, count, everySample, perSecond, quietWhenReady, runButton, sampleOf, setFigure, vmById } from './lesson.js';
import type { CounterSample } from '../inspector/sample.js';

const vm = vmById('vm');
quietWhenReady(vm);
vm.addEventListener('ready', () => { byId('status').textContent = 'the guest is at its prompt'; });

const body = byId('exits').querySelector('tbody')!;
const rows = new Map<string, HTMLTableRowElement>();

function row(key: string, device: string, kind: string): HTMLTableRowElement {
  let tr = rows.get(key);
  if (tr) return tr;
  tr = document.createElement('tr');
  tr.dataset.device = device;
  tr.innerHTML = '<td></td><td></td><td class="n"></td><td class="n"></td>';
  tr.cells[0]!.textContent = device;
  tr.cells[1]!.textContent = kind;
  rows.set(key, tr);
  body.appendChild(tr);
  return tr;
}

everySample(vm, 1000, (now, before) => {
  const seconds = before ? (now.at - before.at) / 1000 : 0;
  const list = (c: CounterSample) => [...c.ports.map((e) => ({ ...e, kind: 'port I/O' })), ...c.mmio.map((e) => ({ ...e, kind: 'MMIO' }))];
  const old = new Map(before ? list(before.counters).map((e) => [`${e.kind} ${e.name}`, e.count]) : []);
  // Busiest first; a device nobody has touched since power-on is left out.
  for (const e of list(now.counters).filter((e) => e.count > 0).sort((a, b) => b.count - a.count)) {
    const key = `${e.kind} ${e.name}`;
    const tr = row(key, e.name, e.kind);
    const delta = e.count - (old.get(key) ?? e.count);
    tr.dataset.count = String(e.count);
    tr.cells[2]!.textContent = seconds > 0 ? perSecond(delta / seconds) : '–';
    tr.cells[3]!.textContent = count(e.count);
    body.appendChild(tr); // keeps the order of this sample
  }
});

/** Exits of devices whose name starts with `prefix`, summed over port I/O and MMIO. */
async function exits(prefix: string): Promise<number> {
  const s = await sampleOf(vm);
  if (s === null) throw new Error('The VM is not running.');
  return [...s.counters.ports, ...s.counters.mmio].filter((e) => e.name.startsWith(prefix)).reduce((n, e) => n + e.count, 0);
}

async function measure(prefix: string, what: string, command: string): Promise<void> {
  setFigure('last-run', 'running…');
  const before = await exits(prefix);
  const started = performance.now();
  await vm.run(command, 300_000);
  const seconds = (performance.now() - started) / 1000;
  const n = (await exits(prefix)) - before;
  setFigure('last-run', `${count(n)} exits to ${what}`);
  setFigure('last-run-detail', `(${prefix}…, in ${seconds.toFixed(1)} s: ${command})`);
}

// COM1 is an ns16550 at port 0x3f8: the kernel's tty driver writes each byte to its transmit register.
runButton('run-serial', [vm], () => measure('ns16550 @3f8', 'COM1', 'seq 1 400'));
// The MC146818 RTC at ports 0x70/0x71: hwclock reads its time registers through /dev/rtc0.
runButton('run-rtc', [vm], () => measure('mc146818', 'the RTC', 'for i in $(seq 50); do hwclock -r > /dev/null; done; hwclock -r'));
