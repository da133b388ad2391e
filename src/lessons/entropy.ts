// Lesson 7: a guest with virtio-rng beside one without. What each guest says (its hardware RNG,
// when its CRNG was seeded, its pool, a read of /dev/hwrng) comes from commands run in it; the
// buffers the host filled are the virtio-rng device's own count of request chains.
import { byId, count, everySample, perSecond, quietWhenReady, runButton, setFigure, vmById, type X86VmElement } from './lesson.js';

const sides = { on: vmById('vm-on'), off: vmById('vm-off') };
for (const [side, vm] of Object.entries(sides)) {
  quietWhenReady(vm);
  everySample(vm, 1000, (now, before) => {
    const rng = (s: typeof now) => s.counters.devices.find((d) => d.name === 'virtio-rng')?.values.chains;
    if (rng(now) === undefined) return setFigure(`chains-${side}`, 'no device');
    if (before !== null) setFigure(`chains-${side}`, `${perSecond((rng(now)! - (rng(before) ?? 0)) / ((now.at - before.at) / 1000))} (${count(rng(now)!)} in all)`);
  });
  vm.addEventListener('ready', () => {
    if (Object.values(sides).every((v) => v.ready)) byId('status').textContent = 'both guests at their prompt';
  });
}

async function ask(side: string, vm: X86VmElement): Promise<void> {
  setFigure(`current-${side}`, await vm.run('cat /sys/class/misc/hw_random/rng_current 2>/dev/null || echo none'));
  const seeded = await vm.run("dmesg | grep -m1 'crng init done'");
  // A dmesg line: "[    1.234567] random: crng init done".
  const at = /^\[\s*([\d.]+)\]/.exec(seeded);
  setFigure(`seeded-${side}`, at ? `${Number(at[1]).toFixed(2)} s after boot` : 'not yet');
  setFigure(`avail-${side}`, await vm.run('cat /proc/sys/kernel/random/entropy_avail'));
  const started = performance.now();
  const bytes = await vm.run('dd if=/dev/hwrng bs=1024 count=64 2>/dev/null | wc -c');
  const seconds = (performance.now() - started) / 1000;
  setFigure(`hwrng-${side}`, Number(bytes) > 0 ? `${count(Number(bytes))} bytes in ${seconds.toFixed(2)} s` : 'no /dev/hwrng data (no device)');
}

runButton('run', Object.values(sides), async () => {
  for (const [side, vm] of Object.entries(sides)) await ask(side, vm);
});
