// Lesson 5: the balloon from the host's side (the target and the pages the guest gave: the device's
// own counts) and from the guest's (the statistics its driver reports on the stats queue, which
// the worker asks it to refresh every two seconds while the status is read).
import { byId, quietWhenReady, runButton, setFigure, vmById } from './lesson.js';

const RAM_MIB = 128;
const vm = vmById('vm');
quietWhenReady(vm);
vm.addEventListener('ready', () => { byId('status').textContent = 'the guest is at its prompt'; });

const mib = (bytes: number | undefined) => (bytes === undefined ? '–' : `${(bytes / 1048576).toFixed(1)} MiB`);

async function show(): Promise<void> {
  if (vm.isConnected) setTimeout(() => void show(), 1000);
  const s = await vm.status().catch(() => null);
  const b = s?.balloon;
  if (!b) return;
  setFigure('ram', `${RAM_MIB} MiB`);
  setFigure('target', `${b.targetMiB} MiB`);
  setFigure('actual', `${b.actualMiB} MiB`);
  setFigure('host-kept', `${RAM_MIB - b.actualMiB} MiB`);
  setFigure('guest-total', mib(b.stats.total_memory));
  setFigure('guest-free', mib(b.stats.free_memory));
  setFigure('guest-available', mib(b.stats.available_memory));
}
void show();

async function balloon(target: number): Promise<void> {
  await vm.setBalloon(target);
  byId('status').textContent = `asked the guest's driver for ${target} MiB…`;
  const deadline = performance.now() + 120_000;
  while ((await vm.status())?.balloon?.actualMiB !== target) {
    if (performance.now() > deadline) throw new Error(`The guest's balloon did not reach ${target} MiB within two minutes.`);
    await new Promise((r) => setTimeout(r, 250));
  }
  byId('status').textContent = `the balloon holds ${target} MiB`;
}

runButton('inflate-32', [vm], () => balloon(32));
runButton('inflate-64', [vm], () => balloon(64));
runButton('deflate', [vm], () => balloon(0));
