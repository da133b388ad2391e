// The inspector: a panel that shows the machine at work while it runs (CPU, memory, traps, JIT
// and devices) with a debugger's controls. mountInspector() puts it in any element and drives
// it from an InspectorLink (the VM worker's `inspector`, through comlink), so the page and the
// <x86-vm> element mount the same thing.
//
// Sampling: one request at a time, about ten a second, asking only for what the open tab shows;
// while the page is hidden or a request is outstanding, no new one is sent. The worker answers
// between two slices of the guest's run, from counters the machine keeps anyway.

import './inspector.css';
import type { InspectorRequest, InspectorSample } from './sample.js';
import { el, type InspectorLink } from './view.js';
import { CpuPanel } from './cpu-panel.js';
import { MemoryPanel } from './memory-panel.js';
import { TrapsPanel } from './traps-panel.js';
import { JitPanel } from './jit-panel.js';
import { ControlBar } from './control-bar.js';

export type { InspectorLink } from './view.js';

/** Between samples, ms (about ten a second). */
const SAMPLE_INTERVAL_MS = 100;
/** Instructions disassembled at CS:EIP. */
const DISASSEMBLY_LENGTH = 12;

export interface InspectorHandle {
  /** Stop sampling and take the panel out of its container. */
  destroy(): void;
  /** The last sample shown (null before the first, or without a machine). */
  readonly last: InspectorSample | null;
}

type TabName = 'cpu' | 'memory' | 'traps' | 'jit';

export interface InspectorOptions {
  /** The machine went from running to paused or back (the inspector's controls, a breakpoint, anyone's): the host's own controls can follow. */
  onRunState?(state: 'running' | 'paused'): void;
}

export function mountInspector(container: HTMLElement, link: InspectorLink, options: InspectorOptions = {}): InspectorHandle {
  const cpu = new CpuPanel();
  const memory = new MemoryPanel();
  const traps = new TrapsPanel();
  const jit = new JitPanel();
  const panels: Record<TabName, { root: HTMLElement }> = { cpu, memory, traps, jit };
  const titles: Record<TabName, string> = { cpu: 'CPU', memory: 'Memory', traps: 'Traps', jit: 'JIT & devices' };
  let tab: TabName = 'cpu';
  let last: InspectorSample | null = null;
  let destroyed = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let inFlight = false;
  const error = el('div', 'xi-error');
  error.hidden = true;

  const tabs = el('nav', 'xi-tabs');
  const buttons = new Map<TabName, HTMLButtonElement>();
  for (const name of Object.keys(panels) as TabName[]) {
    const b = el('button', '', titles[name]);
    b.type = 'button';
    b.dataset.tab = name;
    b.addEventListener('click', () => select(name));
    buttons.set(name, b);
    tabs.appendChild(b);
  }
  const body = el('div', 'xi-body');
  const controls = new ControlBar(link, () => schedule(0));
  const root = el('div', 'x86-inspector', undefined, controls.root, tabs, error, body);
  container.appendChild(root);

  function select(name: TabName): void {
    tab = name;
    for (const [n, b] of buttons) b.classList.toggle('xi-active', n === name);
    body.replaceChildren(panels[name].root);
    schedule(0);
  }

  function request(): InspectorRequest {
    switch (tab) {
      case 'cpu': return { disassemble: DISASSEMBLY_LENGTH, tables: cpu.wantsTables };
      case 'memory': return memory.request();
      default: return {};
    }
  }

  async function sampleOnce(): Promise<void> {
    if (destroyed || inFlight) return;
    if (typeof document !== 'undefined' && document.hidden) { schedule(SAMPLE_INTERVAL_MS * 5); return; }
    inFlight = true;
    const started = performance.now();
    try {
      const s = await link.sample(request());
      if (destroyed) return;
      error.hidden = true;
      controls.render(s);
      // Rates are between this sample and the last: any tab's sample carries all the counters.
      const prev = last;
      if (s !== null) {
        if (tab === 'cpu') cpu.render(s);
        else if (tab === 'memory') memory.render(s, prev);
        else if (tab === 'traps') traps.render(s, prev);
        else jit.render(s, prev);
      }
      if (s !== null && (s.state === 'running' || s.state === 'paused') && s.state !== prev?.state && prev !== null) options.onRunState?.(s.state);
      last = s;
    } catch (e) {
      error.textContent = `The inspector could not sample the machine: ${String((e as Error)?.message ?? e).split('\n')[0]}`;
      error.hidden = false;
    } finally {
      inFlight = false;
      schedule(Math.max(0, SAMPLE_INTERVAL_MS - (performance.now() - started)));
    }
  }

  function schedule(ms: number): void {
    if (destroyed) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; void sampleOnce(); }, ms);
  }

  select('cpu');
  return {
    destroy() {
      destroyed = true;
      if (timer !== null) clearTimeout(timer);
      root.remove();
    },
    get last() { return last; },
  };
}
