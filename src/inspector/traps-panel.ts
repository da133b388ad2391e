// The Traps tab: trap-and-emulate made visible. Each port I/O or MMIO access the guest makes
// leaves the CPU for a device model; each interrupt is an injection; each exception a delivery
// through the IDT. Shown per device, per vector and per interrupt input, per second over the
// last sample interval and in all since power-on; and the share of guest time the CPU sat in HLT.

import type { InspectorSample } from './sample.js';
import { el, fillTable, rate, section, setText, shortRate } from './view.js';

/** Exception mnemonics by vector (SDM vol. 3, table 6-1). */
const EXCEPTIONS = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'coprocessor overrun', '#TS', '#NP', '#SS', '#GP', '#PF',
  'reserved', '#MF', '#AC', '#MC', '#XM'];

type Named = { name: string; count: number };

function perDevice(now: Named[], before: Named[] | undefined, dt: number): { cells: string[]; data: Record<string, string> }[] {
  const old = new Map((before ?? []).map((d) => [d.name, d.count]));
  return now.filter((d) => d.count > 0)
    .map((d) => ({ d, r: rate(d.count, old.get(d.name), dt) }))
    .sort((a, b) => b.r - a.r || b.d.count - a.d.count)
    .map(({ d, r }) => ({ cells: [d.name, shortRate(r), String(d.count)], data: { device: d.name, count: String(d.count) } }));
}

export class TrapsPanel {
  readonly root: HTMLElement;
  private readonly ports = el('table', 'xi-table');
  private readonly mmio = el('table', 'xi-table');
  private readonly lines = el('table', 'xi-table');
  private readonly vectors = el('table', 'xi-table');
  private readonly exceptions = el('table', 'xi-table');
  private readonly halt = el('div', 'xi-note');

  constructor() {
    this.ports.dataset.field = 'ports';
    this.mmio.dataset.field = 'mmio';
    this.vectors.dataset.field = 'vectors';
    this.lines.dataset.field = 'lines';
    this.exceptions.dataset.field = 'exceptions';
    this.halt.dataset.field = 'halt';
    this.root = el('div', 'xi-panel', undefined,
      section('Idle', this.halt),
      section('Port I/O per device', this.ports),
      section('MMIO per device', this.mmio),
      section('Interrupts per input line (APIC inputs by the vector each is programmed to send)', this.lines),
      section('Interrupts per vector', this.vectors),
      section('Exceptions per vector', this.exceptions));
  }

  render(s: InspectorSample, prev: InspectorSample | null): void {
    const c = s.counters;
    const p = prev?.counters;
    const dt = prev === null ? 0 : s.at - prev.at;
    fillTable(this.ports, ['device', '/s', 'total'], perDevice(c.ports, p?.ports, dt));
    fillTable(this.mmio, ['device', '/s', 'total'], perDevice(c.mmio, p?.mmio, dt));

    fillTable(this.lines, ['input', '/s', 'total'], perDevice(c.lines, p?.lines, dt)
      .map((r) => ({ cells: r.cells, data: { line: r.data.device!, count: r.data.count! } })));
    const oldVec = new Map((p?.vectors ?? []).map((v) => [v.vector, v.count]));
    fillTable(this.vectors, ['vector', 'sent by', '/s', 'total'], c.vectors.map((v) => ({
      cells: [`0x${v.vector.toString(16).padStart(2, '0')}`, v.sources.join(', '), shortRate(rate(v.count, oldVec.get(v.vector), dt)), String(v.count)],
      data: { vector: String(v.vector), count: String(v.count) },
    })));
    const exc: { cells: string[]; data: Record<string, string> }[] = [];
    c.exceptions.forEach((n, v) => {
      if (n > 0) exc.push({ cells: [`${v} ${EXCEPTIONS[v] ?? ''}`.trim(), shortRate(rate(n, p?.exceptions[v], dt)), String(n)], data: { vector: String(v), count: String(n) } });
    });
    fillTable(this.exceptions, ['vector', '/s', 'total'], exc);

    const guest = p === undefined ? 0 : c.guestNs - p.guestNs;
    const idle = p === undefined ? 0 : c.haltedNs - p.haltedNs;
    const share = guest > 0 ? Math.min(100, Math.max(0, (idle * 100) / guest)) : 0;
    setText(this.halt, `In HLT ${share.toFixed(0)}% of guest time lately (${(c.haltedNs / 1e9).toFixed(1)} s of ${(c.guestNs / 1e9).toFixed(1)} s in all); ` +
      `${shortRate(rate(c.hltStops, p?.hltStops, dt))} HLTs/s.`);
  }
}
