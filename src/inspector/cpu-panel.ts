// The CPU tab: registers, EFLAGS, the mode, CR0-CR4, the segment registers' descriptor caches,
// the instructions at CS:EIP, and the GDT, LDT and IDT decoded (read only while their block is
// open: a 64 KiB GDT ten times a second is not free).

import type { InspectorSample, SegmentSample } from './sample.js';
import type { GateDescriptor, SegmentDescriptor, TableRow } from './descriptors.js';
import { el, fillTable, hex4, hex8, section, setText } from './view.js';

// EFLAGS bits by name (SDM vol. 1, 3.4.3).
const EFLAGS_BITS: [number, string][] = [
  [0, 'CF'], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'], [10, 'DF'], [11, 'OF'],
  [14, 'NT'], [16, 'RF'], [17, 'VM'], [18, 'AC'], [19, 'VIF'], [20, 'VIP'], [21, 'ID'],
];
// CR0 and CR4 bits by name (SDM vol. 3, 2.5).
const CR0_BITS: [number, string][] = [
  [0, 'PE'], [1, 'MP'], [2, 'EM'], [3, 'TS'], [4, 'ET'], [5, 'NE'], [16, 'WP'], [18, 'AM'], [29, 'NW'], [30, 'CD'], [31, 'PG'],
];
const CR4_BITS: [number, string][] = [
  [0, 'VME'], [1, 'PVI'], [2, 'TSD'], [3, 'DE'], [4, 'PSE'], [5, 'PAE'], [6, 'MCE'], [7, 'PGE'], [8, 'PCE'], [9, 'OSFXSR'], [10, 'OSXMMEXCPT'],
];

const bitNames = (v: number, bits: [number, string][]) => bits.filter(([b]) => (v >>> b) & 1).map(([, n]) => n).join(' ') || '-';

const REGISTER_FIELDS = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp', 'eip', 'eflags', 'cpl', 'cr0', 'cr2', 'cr3', 'cr4'] as const;
/** Fields too long for the register grid: a line each. */
const WIDE_FIELDS = ['mode', 'gdtr', 'idtr', 'instructions'] as const;

function descriptorCells(d: SegmentDescriptor): string[] {
  return [hex8(d.base), hex8(d.limit), String(d.dpl), d.present ? 'P' : 'not present', d.kind];
}

/** A segment register's row: a null selector (index 0 of the GDT) holds no descriptor to decode. */
function segmentCells(g: SegmentSample): string[] {
  if ((g.selector & ~3) === 0 && !g.decoded.present) return [g.name, hex4(g.selector), '', '', '', '', 'null selector'];
  return [g.name, hex4(g.selector), ...descriptorCells(g.decoded)];
}

export class CpuPanel {
  readonly root: HTMLElement;
  private readonly fields = new Map<string, HTMLElement>();
  private readonly flags = el('div', 'xi-flags');
  private readonly segments = el('table', 'xi-table');
  private readonly code = el('pre', 'xi-code');
  private readonly gdt = el('table', 'xi-table');
  private readonly ldt = el('table', 'xi-table');
  private readonly idt = el('table', 'xi-table');
  private readonly tablesBlock: HTMLDetailsElement;
  private readonly tablesNote = el('div', 'xi-note');

  constructor() {
    const grid = el('div', 'xi-reg-list');
    const wide = el('div', 'xi-regs');
    for (const f of [...REGISTER_FIELDS, ...WIDE_FIELDS]) {
      const value = el('span', 'xi-value', '-');
      value.dataset.field = f;
      this.fields.set(f, value);
      if ((REGISTER_FIELDS as readonly string[]).includes(f)) grid.append(el('span', 'xi-reg', undefined, el('span', 'xi-label', f.toUpperCase()), value));
      else wide.append(el('span', 'xi-label', f.toUpperCase()), value);
    }
    this.tablesBlock = el('details', 'xi-details', undefined, el('summary', '', 'GDT, LDT and IDT'), this.tablesNote,
      el('h4', '', 'GDT'), this.gdt, el('h4', '', 'LDT'), this.ldt, el('h4', '', 'IDT'), this.idt);
    this.root = el('div', 'xi-panel', undefined,
      section('Registers', grid, wide, this.flags),
      section('Instructions at CS:EIP', this.code),
      section('Segment registers (descriptor caches)', this.segments),
      this.tablesBlock);
  }

  /** Whether the next sample should carry the decoded tables. */
  get wantsTables(): boolean { return this.tablesBlock.open; }

  render(s: InspectorSample): void {
    const c = s.cpu;
    const set = (f: string, text: string) => setText(this.fields.get(f)!, text);
    for (const r of ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp'] as const) set(r, hex8(c.regs[r]));
    set('eip', hex8(c.eip));
    set('eflags', hex8(c.eflags));
    set('cr0', hex8(c.cr0));
    set('cr2', hex8(c.cr2));
    set('cr3', hex8(c.cr3));
    set('cr4', hex8(c.cr4));
    set('cpl', String(c.cpl));
    set('mode', c.mode + (c.halted ? ', halted (HLT)' : ''));
    set('gdtr', `${hex8(c.gdtr.base)} limit ${hex4(c.gdtr.limit)}`);
    set('idtr', `${hex8(c.idtr.base)} limit ${hex4(c.idtr.limit)}`);
    set('instructions', `${c.instructions.toLocaleString('en-US')} retired since power-on`);
    setText(this.flags, `EFLAGS: ${bitNames(c.eflags, EFLAGS_BITS)} IOPL=${(c.eflags >>> 12) & 3}   CR0: ${bitNames(c.cr0, CR0_BITS)}   CR4: ${bitNames(c.cr4, CR4_BITS)}   A20 ${c.a20 ? 'on' : 'off'}`);
    fillTable(this.segments, ['reg', 'selector', 'base', 'limit', 'DPL', 'P', 'kind'],
      c.segments.map((g: SegmentSample) => ({ cells: segmentCells(g), data: { segment: g.name } })));
    this.renderCode(s);
    if (s.tables !== undefined) this.renderTables(s.tables);
  }

  private renderCode(s: InspectorSample): void {
    const d = s.disassembly;
    if (d === undefined) return;
    if ('error' in d) { setText(this.code, d.error); return; }
    const breaks = new Set(s.breakpoints);
    const eip = (s.cpu.segments.find((g) => g.name === 'cs')!.base + s.cpu.eip) >>> 0;
    setText(this.code, d.map((i) => `${breaks.has(i.address) ? '●' : ' '}${i.address === eip ? '→' : ' '} ${hex8(i.address)}  ${i.bytes.padEnd(24)} ${i.text}`).join('\n'));
  }

  private renderTables(t: NonNullable<InspectorSample['tables']>): void {
    const notes: string[] = [];
    const segmentTable = (table: HTMLTableElement, rows: TableRow<SegmentDescriptor>[] | { error: string }, what: string) => {
      if ('error' in rows) { notes.push(rows.error); fillTable(table, [], []); return; }
      fillTable(table, ['selector', 'base', 'limit', 'DPL', 'P', 'kind', 'raw'],
        rows.map((r) => ({ cells: [hex4(r.selector), ...descriptorCells(r.decoded), `${hex8(r.high)} ${hex8(r.low)}`], data: { [what]: hex4(r.selector) } })));
    };
    segmentTable(this.gdt, t.gdt, 'gdt');
    segmentTable(this.ldt, t.ldt, 'ldt');
    if ('error' in t.idt) { notes.push(t.idt.error); fillTable(this.idt, [], []); } else {
      fillTable(this.idt, ['vector', 'selector', 'offset', 'DPL', 'P', 'kind'],
        t.idt.map((r: TableRow<GateDescriptor>) => ({
          cells: [`0x${r.index.toString(16).padStart(2, '0')}`, hex4(r.decoded.selector), hex8(r.decoded.offset), String(r.decoded.dpl), r.decoded.present ? 'P' : 'not present', r.decoded.kind],
          data: { vector: String(r.index) },
        })));
    }
    setText(this.tablesNote, notes.join(' '));
  }
}
