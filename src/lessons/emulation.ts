// Lesson 1: the same work (SHA-256 of 8 MiB) on a PC with the interpreter only (jit="off") and on one with the
// JIT, both at once: each runs in its own worker, and measured over the same moments they meet the
// same load on the host (one after the other, a busy host can favour either). The figures:
// guest instructions retired (the VM's own count) per second of host time, live and over the work.
import { byId, count, everySample, perSecond, quietWhenReady, runButton, setFigure, vmById, type X86VmElement } from './lesson.js';

/** CPU work: SHA-256 of 8 MiB of zeros (busybox's sha256sum), a tight loop of arithmetic on registers. */
const LOOP = 'dd if=/dev/zero bs=1M count=8 2>/dev/null | sha256sum';

const sides = { interp: vmById('vm-interp'), jit: vmById('vm-jit') };
byId('loop').textContent = LOOP;

for (const [side, vm] of Object.entries(sides)) {
  quietWhenReady(vm);
  everySample(vm, 1000, (now, before) => {
    if (before !== null) {
      const seconds = (now.at - before.at) / 1000;
      setFigure(`ips-${side}`, perSecond((now.cpu.instructions - before.cpu.instructions) / Math.max(seconds, 1e-3)));
    }
    const jit = now.counters.jit;
    setFigure(`translations-${side}`, jit && jit.threshold > 0 ? count(jit.translations) : 'JIT off');
    setFigure(`share-${side}`, jit && now.cpu.instructions > 0 ? `${((100 * jit.instructions) / now.cpu.instructions).toFixed(1)} %` : '0 %');
  });
}

async function measure(side: string, vm: X86VmElement): Promise<void> {
  setFigure(`time-${side}`, 'running…');
  const before = (await vm.status())!.instructions;
  const started = performance.now();
  await vm.run(LOOP, 600_000);
  const seconds = (performance.now() - started) / 1000;
  const retired = (await vm.status())!.instructions - before;
  setFigure(`time-${side}`, `${seconds.toFixed(2)} s`);
  setFigure(`count-${side}`, count(retired));
  setFigure(`rate-${side}`, perSecond(retired / seconds));
}

runButton('run', Object.values(sides), async () => {
  byId('status').textContent = 'running on both…';
  await Promise.all([measure('interp', sides.interp), measure('jit', sides.jit)]);
  byId('status').textContent = 'done: press Run again to repeat (the JIT side keeps its translations)';
});
for (const vm of Object.values(sides)) vm.addEventListener('ready', () => {
  if (Object.values(sides).every((v) => v.ready)) byId('status').textContent = 'both guests at their prompt';
});
