// The JIT and Devices tab: the translator's counters (as `run --stats` prints them) with their
// rates, the decoded-block cache, and the paravirtual and storage devices' activity.

import type { InspectorSample } from './sample.js';
import { el, fillTable, rate, section, setText, shortRate } from './view.js';

const KiB = 1024;

export class JitPanel {
  readonly root: HTMLElement;
  private readonly jit = el('table', 'xi-table');
  private readonly note = el('div', 'xi-note');
  private readonly devices = el('table', 'xi-table');
  private readonly balloon = el('div', 'xi-note');
  private readonly rounds = el('table', 'xi-table');

  constructor() {
    this.jit.dataset.field = 'jit';
    this.devices.dataset.field = 'devices';
    this.root = el('div', 'xi-panel', undefined,
      section('JIT (guest code translated to WebAssembly)', this.note, this.jit),
      section('Devices', this.devices, this.balloon),
      section('Live migration: the last one\'s pre-copy rounds', this.rounds));
    this.rounds.dataset.field = 'migration';
  }

  render(s: InspectorSample, prev: InspectorSample | null): void {
    const dt = prev === null ? 0 : s.at - prev.at;
    const j = s.counters.jit;
    const pj = prev?.counters.jit ?? undefined;
    const b = s.counters.blocks;
    const pb = prev?.counters.blocks;
    const rows: { cells: string[]; data: Record<string, string> }[] = [];
    const row = (key: string, what: string, value: number, before: number | undefined, shown = String(Math.round(value))) =>
      rows.push({ cells: [what, shown, shortRate(rate(value, before, dt))], data: { counter: key, value: String(value) } });
    if (j === null) setText(this.note, 'This machine runs without the JIT (interpreter only).');
    else {
      const ran = s.cpu.instructions - (prev?.cpu.instructions ?? 0);
      const translated = j.instructions - (pj?.instructions ?? 0);
      const share = prev !== null && ran > 0 ? Math.min(100, (translated * 100) / ran) : 0;
      setText(this.note, `Threshold ${j.threshold} runs. ${share.toFixed(0)}% of the instructions lately ran translated ` +
        `(${s.cpu.instructions > 0 ? ((j.instructions * 100) / s.cpu.instructions).toFixed(0) : 0}% since power-on); the host's time in translated code is not measured, this share stands for it.`);
      row('translations', 'regions translated', j.translations, pj?.translations);
      row('guestBytes', 'guest code translated (KiB)', j.guestBytes, pj?.guestBytes, (j.guestBytes / KiB).toFixed(1));
      row('cacheBytes', 'code cache now (KiB)', j.cacheBytes, pj?.cacheBytes, (j.cacheBytes / KiB).toFixed(1));
      row('cachePeakBytes', 'code cache peak (KiB)', j.cachePeakBytes, pj?.cachePeakBytes, (j.cachePeakBytes / KiB).toFixed(1));
      row('modules', 'WebAssembly modules compiled (translations batched)', j.modules, pj?.modules);
      row('moduleBytesHeld', 'modules held by the table (KiB)', j.moduleBytesHeld, pj?.moduleBytesHeld, (j.moduleBytesHeld / KiB).toFixed(1));
      row('compileMs', 'compile time (ms)', j.compileMs, pj?.compileMs, j.compileMs.toFixed(0));
      row('instructions', 'instructions run translated', j.instructions, pj?.instructions);
      row('calls', 'entries from the block loop', j.calls, pj?.calls);
      row('chained', 'entries from other translations', j.chained, pj?.chained);
      row('returns', 'returns into a waiting caller', j.returns, pj?.returns);
      row('evictions', 'evictions', j.evictions, pj?.evictions);
      row('failures', 'modules refused by the engine', j.failures, pj?.failures);
    }
    row('decoded', 'blocks decoded', b.decoded, pb?.decoded);
    row('codeWrites', 'invalidations (guest writes to code)', b.codeWrites, pb?.codeWrites);
    row('flushes', 'block cache flushes', b.flushes, pb?.flushes);
    fillTable(this.jit, ['counter', 'value', '/s'], rows);

    const old = new Map((prev?.counters.devices ?? []).map((d) => [d.name, d.values]));
    const devRows: { cells: string[]; data: Record<string, string> }[] = [];
    for (const d of s.counters.devices) {
      for (const [k, v] of Object.entries(d.values)) {
        devRows.push({ cells: [d.name, k, String(v), shortRate(rate(v, old.get(d.name)?.[k], dt))], data: { device: d.name, counter: k, value: String(v) } });
      }
    }
    fillTable(this.devices, ['device', 'counter', 'total', '/s'], devRows);
    const bl = s.counters.balloon;
    setText(this.balloon, `Balloon: the host asks for ${bl.targetMiB} MiB, the guest has given ${bl.actualMiB} MiB.`);
    fillTable(this.rounds, ['round', 'pages sent', 'of them zero', 'dirtied meanwhile', 'KiB', 'ms'], s.counters.migrationRounds.map((r) => ({
      cells: [String(r.round), String(r.pages), String(r.zeroPages), String(r.dirtied), (r.bytes / KiB).toFixed(0), r.ms.toFixed(0)],
    })));
  }
}
