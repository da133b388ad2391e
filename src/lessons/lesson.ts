// What every lesson page shares: the <x86-vm> element, figures written into the page, a Run
// button that cannot be pressed twice at once, and failures shown in words on the page (never
// thrown into it). Each figure is read from the running VM: its status (instructions retired)
// or an inspector sample (src/inspector/sample.ts: counters since power-on, made rates here).
import '../embed/index.js';
import './lesson.css';
import type { X86VmElement } from '../embed/x86-vm.js';
import type { CounterSample, InspectorRequest, InspectorSample } from '../inspector/sample.js';

export type { X86VmElement };

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the lesson page has no #${id}`);
  return el as T;
}

export function vmById(id: string): X86VmElement {
  return byId<X86VmElement>(id);
}

/** Show a figure (its element's text) and mark when it last changed, for tests and readers. */
export function setFigure(id: string, text: string): void {
  const el = byId(id);
  if (el.textContent !== text) el.textContent = text;
}

/** A count with thin spaces between thousands. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US').replace(/,/g, '\u2009');
}

export function perSecond(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k/s`;
  return `${Math.round(n)}/s`;
}

/** The error line of the page: failures in words. */
export function showError(message: string): void {
  const box = document.querySelector<HTMLElement>('.lesson-error');
  if (box) box.textContent = message;
}

export function words(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

/**
 * A button that runs `action` once the VMs are ready; disabled while it runs, so a second press
 * cannot start the work twice. Its failures go to the error line.
 */
export function runButton(id: string, vms: X86VmElement[], action: () => Promise<void>): void {
  const button = byId<HTMLButtonElement>(id);
  const enable = () => { button.disabled = !vms.every((vm) => vm.ready); };
  for (const vm of vms) vm.addEventListener('ready', enable);
  enable();
  button.addEventListener('click', () => {
    button.disabled = true;
    showError('');
    action().catch((e) => showError(words(e))).finally(() => { button.disabled = false; enable(); });
  });
}

/** Quiet kernel console messages, so they do not land in run()'s output, once each VM is ready. */
export function quietWhenReady(vm: X86VmElement): void {
  vm.addEventListener('ready', () => { vm.run('dmesg -n 1').catch(() => {}); });
}

/** The element's sample() as the inspector's own type (the package declares it loosely). */
export async function sampleOf(vm: X86VmElement, request?: InspectorRequest): Promise<InspectorSample | null> {
  return (await vm.sample(request)) as InspectorSample | null;
}

/**
 * run() a command that may safely run twice, once more if its end never showed: a restored or
 * migrated shell's first line can be cut into by the terminal's answer to the shell's cursor query.
 */
export async function runAgainOnce(vm: X86VmElement, command: string, timeoutMs: number): Promise<string> {
  try {
    return await vm.run(command, timeoutMs);
  } catch {
    return vm.run(command, timeoutMs);
  }
}

/** Count per name in a list of {name, count}. */
export function byName(list: { name: string; count: number }[]): Map<string, number> {
  return new Map(list.map((e) => [e.name, e.count]));
}

/**
 * Sample `vm` every `intervalMs` and hand each sample, with the one before it, to `show`; stops
 * when the element leaves the page. Sampling failures (no machine yet) are simply skipped.
 */
export function everySample(vm: X86VmElement, intervalMs: number, show: (now: InspectorSample, before: InspectorSample | null) => void): void {
  let before: InspectorSample | null = null;
  const tick = async () => {
    if (!vm.isConnected) return;
    try {
      const now = await sampleOf(vm);
      if (now !== null) {
        show(now, before);
        before = now;
      }
    } catch {
      // No machine (yet): the next tick tries again.
    }
    setTimeout(tick, intervalMs);
  };
  void tick();
}

/** The exits (port I/O plus MMIO accesses) of devices whose name starts with `prefix`. */
export function exitsOf(c: CounterSample, prefix: string): number {
  let n = 0;
  for (const e of [...c.ports, ...c.mmio]) if (e.name.startsWith(prefix)) n += e.count;
  return n;
}

/** Seconds between two samples (the worker's clock). */
export function secondsBetween(now: InspectorSample, before: InspectorSample): number {
  return Math.max(1e-3, (now.at - before.at) / 1000);
}
