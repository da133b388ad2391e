// The Memory tab: the page-table walk of a linear address the user types (the PDE and the PTE
// with their bits, and the physical address), page faults per second, a hex viewer of linear or
// physical memory, and the physical memory map (the monitor's `info mtree`).

import type { InspectorRequest, InspectorSample } from './sample.js';
import type { PageWalk } from '../machine/inspect.js';
import { el, fillTable, hex2, hex8, parseAddress, rate, section, setText, shortRate } from './view.js';

/** Page-table entry bits by name (SDM vol. 3, 4.3, tables 4-5 and 4-6). */
const ENTRY_BITS: [number, string][] = [
  [0, 'P'], [1, 'R/W'], [2, 'U/S'], [3, 'PWT'], [4, 'PCD'], [5, 'A'], [6, 'D'], [7, 'PS'], [8, 'G'],
];
const VIEW_BYTES = 256;
const EXC_PF = 14;

function entryText(address: number | undefined, entry: number | null | undefined, large: boolean): string {
  if (address === undefined) return '-';
  if (entry === null || entry === undefined) return `at ${hex8(address)}: outside RAM`;
  // Bit 7 is PS in a PDE; in a PTE (where `large` is false) it is PAT.
  const names = ENTRY_BITS.filter(([b]) => (entry >>> b) & 1).map(([, n]) => (n === 'PS' && !large ? 'PAT' : n));
  return `at ${hex8(address)}: ${hex8(entry)}  frame ${hex8(entry & (large ? 0xffc00000 : 0xfffff000))}  ${names.join(' ') || 'not present'}`;
}

function walkLines(w: PageWalk): { pde: string; pte: string; physical: string } {
  if (!w.paging) return { pde: 'paging is off (CR0.PG = 0)', pte: '-', physical: hex8(w.physical!) };
  const large = w.large === true;
  return {
    pde: entryText(w.pdeAddress, w.pde, large) + (large ? '  (4 MiB page)' : ''),
    pte: large ? 'none: a 4 MiB page' : entryText(w.pteAddress, w.pte, false),
    physical: w.physical === null ? 'not mapped (an access would be a page fault)' : hex8(w.physical),
  };
}

function hexDump(address: number, bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = [...row].map(hex2).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${hex8(address + off)}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}

export class MemoryPanel {
  readonly root: HTMLElement;
  private readonly walkInput = el('input', 'xi-address');
  private readonly walkOut = { pde: el('span', 'xi-value'), pte: el('span', 'xi-value'), physical: el('span', 'xi-value') };
  private readonly faults = el('div', 'xi-note');
  private readonly viewInput = el('input', 'xi-address');
  private readonly viewKind = el('select');
  private readonly dump = el('pre', 'xi-dump');
  private readonly back = el('button', '', `−${VIEW_BYTES}`);
  private readonly forward = el('button', '', `+${VIEW_BYTES}`);
  private readonly mtree = el('table', 'xi-table');
  private walkAt: number | null = null;
  private viewAt: number | null = null;

  constructor() {
    this.faults.dataset.field = 'mmu';
    this.walkInput.placeholder = 'linear address, hex';
    this.walkInput.setAttribute('aria-label', 'Linear address to walk');
    this.walkInput.spellcheck = false;
    this.walkInput.addEventListener('change', () => { this.walkAt = parseAddress(this.walkInput.value); this.walkInput.classList.toggle('xi-bad', this.walkAt === null && this.walkInput.value.trim() !== ''); });
    this.viewInput.placeholder = 'address, hex';
    this.viewInput.setAttribute('aria-label', 'Address to show');
    this.viewInput.spellcheck = false;
    this.viewInput.addEventListener('change', () => { this.viewAt = parseAddress(this.viewInput.value); this.viewInput.classList.toggle('xi-bad', this.viewAt === null && this.viewInput.value.trim() !== ''); });
    for (const [v, t] of [['linear', 'linear (through the page tables)'], ['physical', 'physical']]) this.viewKind.appendChild(Object.assign(el('option', '', t), { value: v }));
    // Page through memory: the address box follows, so what it says is what is shown.
    const move = (by: number) => {
      if (this.viewAt === null) return;
      this.viewAt = (this.viewAt + by) >>> 0;
      this.viewInput.value = hex8(this.viewAt);
    };
    for (const [b, by, what] of [[this.back, -VIEW_BYTES, 'before'], [this.forward, VIEW_BYTES, 'after']] as const) {
      b.type = 'button';
      b.title = `The ${VIEW_BYTES} bytes ${what}`;
      b.addEventListener('click', () => move(by));
    }
    this.walkOut.pde.dataset.field = 'walk-pde';
    this.walkOut.pte.dataset.field = 'walk-pte';
    this.walkOut.physical.dataset.field = 'walk-physical';
    this.dump.dataset.field = 'memory';
    const walkGrid = el('div', 'xi-regs', undefined,
      el('span', 'xi-label', 'PDE'), this.walkOut.pde, el('span', 'xi-label', 'PTE'), this.walkOut.pte,
      el('span', 'xi-label', 'physical'), this.walkOut.physical);
    this.root = el('div', 'xi-panel', undefined,
      section('Page walk', el('div', 'xi-row', undefined, this.walkInput), walkGrid, this.faults),
      section('Memory', el('div', 'xi-row', undefined, this.viewInput, this.viewKind, this.back, this.forward), this.dump),
      section('Physical memory map', this.mtree));
  }

  /** The parts of the next sample this tab shows. */
  request(): InspectorRequest {
    const r: InspectorRequest = { mtree: true };
    if (this.walkAt !== null) r.walk = this.walkAt;
    if (this.viewAt !== null) r.memory = { address: this.viewAt, physical: this.viewKind.value === 'physical', length: VIEW_BYTES };
    return r;
  }

  render(s: InspectorSample, prev: InspectorSample | null): void {
    if (s.walk !== undefined) {
      const w = walkLines(s.walk);
      setText(this.walkOut.pde, w.pde);
      setText(this.walkOut.pte, w.pte);
      setText(this.walkOut.physical, w.physical);
    }
    const pf = s.counters.exceptions[EXC_PF]!;
    const dt = prev === null ? 0 : s.at - prev.at;
    const t = s.counters.tlb, pt = prev?.counters.tlb;
    // A fill is a TLB miss that walked the page tables; hits are not counted (every access would pay).
    setText(this.faults, `Page faults (#PF): ${pf} since power-on, ${shortRate(rate(pf, prev?.counters.exceptions[EXC_PF], dt))}/s. ` +
      `TLB: ${shortRate(rate(t.fills, pt?.fills, dt))} fills (misses)/s, ${shortRate(rate(t.flushes, pt?.flushes, dt))} flushes/s, ` +
      `${shortRate(rate(t.invalidations, pt?.invalidations, dt))} INVLPG/s; ${t.fills} fills and ${t.flushes} flushes since power-on.`);
    if (s.memory !== undefined) setText(this.dump, s.memory.bytes === null ? `${hex8(s.memory.address)}: ${s.memory.error}` : hexDump(s.memory.address, s.memory.bytes));
    if (s.mtree !== undefined) {
      fillTable(this.mtree, ['start', 'end', 'kind', 'what'],
        s.mtree.map((r) => ({ cells: [hex8(r.base), hex8(r.end - 1), r.kind, r.name] })));
    }
  }
}
