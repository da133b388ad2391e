// Lesson 3: a guest process's page walk and page faults. The walk is the inspector's (the same
// walk the core's MMU does, src/machine/inspect.ts pageWalk) of the address a user process is
// executing, taken while that process is on the CPU: a busy loop keeps it there, and a sample at
// CPL 3 with the same CR3 twice running is that process. Page faults are exception 14 as the core
// counts deliveries; TLB fills and flushes are the core's own counters.
import { byId, count, everySample, perSecond, quietWhenReady, runButton, sampleOf, setFigure, vmById } from './lesson.js';
import type { InspectorSample } from '../inspector/sample.js';

const PAGE_FAULT = 14;
const TOUCH_BYTES = 8_000_000;
const vm = vmById('vm');
quietWhenReady(vm);
vm.addEventListener('ready', () => { byId('status').textContent = 'the guest is at its prompt'; });

everySample(vm, 1000, (now, before) => {
  setFigure('faults-total', count(now.counters.exceptions[PAGE_FAULT] ?? 0));
  if (before === null) return;
  const s = (now.at - before.at) / 1000;
  setFigure('faults-rate', perSecond(((now.counters.exceptions[PAGE_FAULT] ?? 0) - (before.counters.exceptions[PAGE_FAULT] ?? 0)) / s));
  setFigure('fills-rate', perSecond((now.counters.tlb.fills - before.counters.tlb.fills) / s));
  setFigure('flushes-rate', perSecond((now.counters.tlb.flushes - before.counters.tlb.flushes) / s));
});

const hex = (v: number) => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/**
 * An entry's low bits in words (Intel SDM vol. 3 4.3): present, writable, user, accessed, dirty
 * (only where it maps a page: a PDE that points at a page table has no dirty bit), 4 MiB.
 */
function entry(v: number | null | undefined, mapsPage: boolean, large = false): string {
  if (v === null || v === undefined) return 'outside RAM';
  const bits = [v & 1 ? 'P' : 'not present', v & 2 ? 'RW' : 'RO', v & 4 ? 'U' : 'S', v & 0x20 ? 'A' : '', mapsPage && v & 0x40 ? 'D' : '', large ? 'PS (4 MiB page)' : ''];
  return `${hex(v)}  ${bits.filter(Boolean).join(' ')}`;
}

/** A sample taken while a user process runs, and the walk of its EIP under the same CR3. */
async function userWalk(timeoutMs: number): Promise<{ at: InspectorSample; walk: NonNullable<InspectorSample['walk']>; eip: number }> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const s = await sampleOf(vm);
    if (s !== null && s.cpu.cpl === 3) {
      const eip = (s.cpu.segments.find((g) => g.name === 'cs')!.base + s.cpu.eip) >>> 0;
      const w = await sampleOf(vm, { walk: eip });
      if (w?.walk && w.cpu.cr3 === s.cpu.cr3 && w.cpu.cpl === 3) return { at: w, walk: w.walk, eip };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('The busy process was never caught on the CPU in user mode.');
}

runButton('run-walk', [vm], async () => {
  // Counts forever, printing nothing: the only runnable process, so the CPU is mostly in it.
  const started = await vm.run("awk 'BEGIN { while (1) n++ }' > /dev/null & echo $!");
  const pid = Number(/(\d+)\s*$/.exec(started)?.[1]);
  if (!Number.isInteger(pid)) throw new Error(`The guest did not say the process id: "${started}"`);
  try {
    const { at, walk, eip } = await userWalk(60_000);
    const maps = await vm.run(`cat /proc/${pid}/maps`);
    // The mapping that holds EIP: /proc/PID/maps lines are "start-end perms offset dev inode path".
    const line = maps.split('\n').find((l) => {
      const m = /^([0-9a-f]+)-([0-9a-f]+)/.exec(l);
      return m !== null && parseInt(m[1]!, 16) <= eip && eip < parseInt(m[2]!, 16);
    });
    byId('maps').textContent = `$ cat /proc/${pid}/maps\n${maps}${line ? `\n\nEIP ${hex(eip)} lies in:\n${line}` : ''}`;
    setFigure('walk-pid', String(pid));
    setFigure('walk-cr3', hex(at.cpu.cr3));
    setFigure('walk-linear', hex(eip));
    setFigure('walk-split', `${eip >>> 22}, ${(eip >>> 12) & 0x3ff}, 0x${(eip & 0xfff).toString(16)}`);
    setFigure('walk-pde-at', walk.pdeAddress !== undefined ? hex(walk.pdeAddress) : '–');
    setFigure('walk-pde', entry(walk.pde, walk.large === true, walk.large));
    setFigure('walk-pte-at', walk.pteAddress !== undefined ? hex(walk.pteAddress) : walk.large ? 'none: a 4 MiB page' : '–');
    setFigure('walk-pte', walk.large ? '–' : entry(walk.pte, true));
    setFigure('walk-physical', walk.physical === null ? 'not mapped (a #PF)' : hex(walk.physical));
  } finally {
    await vm.run(`kill ${pid}; wait ${pid} 2>/dev/null; true`);
  }
});

runButton('run-touch', [vm], async () => {
  const faults = async () => (await sampleOf(vm))?.counters.exceptions[PAGE_FAULT] ?? 0;
  const before = await faults();
  // awk builds one string of TOUCH_BYTES spaces: the memory for it is new to the process.
  await vm.run(`awk 'BEGIN { s = sprintf("%${TOUCH_BYTES}s", ""); print length(s) }'`);
  setFigure('touch-faults', count((await faults()) - before));
  setFigure('touch-pages', count(TOUCH_BYTES / 4096));
});
