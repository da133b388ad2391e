// Small DOM and number helpers the inspector's panels share. Every text the guest controls goes
// into the page as textContent, never as markup.

import type { InspectorApi } from './sample.js';

/** The inspector as the page reaches it: every call of InspectorApi, answered asynchronously (a comlink Remote fits). */
export type InspectorLink = {
  [K in keyof InspectorApi]: (...args: Parameters<InspectorApi[K]>) => Promise<Awaited<ReturnType<InspectorApi[K]>>>;
};

export const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
export const hex4 = (v: number): string => (v & 0xffff).toString(16).padStart(4, '0');
export const hex2 = (v: number): string => (v & 0xff).toString(16).padStart(2, '0');

/** An element with a class, optional text and children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text?: string, ...children: Node[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  for (const c of children) e.appendChild(c);
  return e;
}

/** Set text only when it changed: ten samples a second should not relayout what stayed. */
export function setText(e: Element, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

/** A titled block of the panel. */
export function section(title: string, ...children: Node[]): HTMLElement {
  return el('section', 'xi-section', undefined, el('h3', '', title), ...children);
}

/** Parse an address the user typed: hex (with or without 0x) as the inspector shows them; null if it is none. */
export function parseAddress(text: string): number | null {
  const t = text.trim().replace(/^0x/i, '').replace(/[_\s]/g, '');
  if (!/^[0-9a-f]{1,8}$/i.test(t)) return null;
  return parseInt(t, 16) >>> 0;
}

/** Events per second between two cumulative counts `dtMs` apart (a count that went back, a window remapped, is 0). */
export function rate(now: number, before: number | undefined, dtMs: number): number {
  if (before === undefined || dtMs <= 0 || now < before) return 0;
  return ((now - before) * 1000) / dtMs;
}

/** A rate in few characters: 0, 12, 3.4k, 1.2M. */
export function shortRate(r: number): string {
  if (r < 0.05) return '0';
  if (r < 10) return r.toFixed(1);
  if (r < 1e4) return Math.round(r).toString();
  if (r < 1e7) return `${(r / 1e3).toFixed(1)}k`;
  return `${(r / 1e6).toFixed(1)}M`;
}

/** A table of rows of cells, replaced whole (rows come and go with the guest). Each row may carry data-* attributes. */
export function fillTable(table: HTMLTableElement, head: string[], rows: { cells: string[]; data?: Record<string, string> }[]): void {
  const key = JSON.stringify([head, rows]);
  if (table.dataset.key === key) return;
  table.dataset.key = key;
  table.replaceChildren();
  const thead = el('thead');
  const hr = el('tr');
  for (const h of head) hr.appendChild(el('th', '', h));
  thead.appendChild(hr);
  const tbody = el('tbody');
  for (const r of rows) {
    const tr = el('tr');
    for (const [k, v] of Object.entries(r.data ?? {})) tr.dataset[k] = v;
    for (const c of r.cells) tr.appendChild(el('td', '', c));
    tbody.appendChild(tr);
  }
  table.append(thead, tbody);
}
