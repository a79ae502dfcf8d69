/**
 * A virtualised table: only the rows in view (plus a margin) are in the DOM,
 * so 10,000 or 1,000,000 rows cost the same to show and to scroll. Sizes are
 * set through the CSSOM (element.style), which the CSP allows, never through
 * style attributes.
 */
import { h } from './dom.js';

const ROW_PX = 24;
const VIEW_ROWS = 16;
const MARGIN_ROWS = 8;

export interface TableData {
  columns: string[];
  rows: unknown[][];
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function renderTable(data: TableData): HTMLElement {
  const { columns, rows } = data;
  const grid = `4em repeat(${Math.max(columns.length, 1)}, minmax(7em, 1fr))`;
  const header = h('div', { class: 'vt-row vt-head' }, h('div', { class: 'vt-cell vt-index' }, ''));
  for (const c of columns) header.appendChild(h('div', { class: 'vt-cell', title: c }, c));

  const spacer = h('div', { class: 'vt-spacer' });
  spacer.style.height = `${rows.length * ROW_PX}px`;
  const body = h('div', { class: 'vt-body' });
  const viewport = h('div', { class: 'vt-viewport', 'data-rows': rows.length }, spacer, body);
  viewport.style.height = `${Math.min(rows.length, VIEW_ROWS) * ROW_PX + 2}px`;

  let first = -1;
  let last = -1;
  const pool: HTMLElement[] = [];
  const paint = () => {
    const top = viewport.scrollTop;
    const from = Math.max(0, Math.floor(top / ROW_PX) - MARGIN_ROWS);
    const to = Math.min(rows.length, from + VIEW_ROWS + 2 * MARGIN_ROWS);
    if (from === first && to === last) return;
    first = from;
    last = to;
    // Row elements are recycled: a scroll rewrites the text of the rows in view, it builds nothing.
    while (pool.length < to - from) {
      const row = h('div', { class: 'vt-row' }, h('div', { class: 'vt-cell vt-index' }));
      for (let j = 0; j < columns.length; j++) row.appendChild(h('div', { class: 'vt-cell' }));
      pool.push(row);
      body.appendChild(row);
    }
    for (let k = 0; k < pool.length; k++) {
      const row = pool[k]!;
      const i = from + k;
      row.hidden = i >= to;
      if (row.hidden) continue;
      row.dataset.row = String(i);
      const cells = row.children;
      cells[0]!.textContent = String(i);
      const r = rows[i] ?? [];
      for (let j = 0; j < columns.length; j++) {
        const t = cellText(r[j]);
        const cell = cells[j + 1] as HTMLElement;
        cell.textContent = t;
        if (t.length > 40) cell.title = t;
        else cell.removeAttribute('title');
      }
    }
    body.style.transform = `translateY(${from * ROW_PX}px)`;
  };
  viewport.addEventListener('scroll', () => requestAnimationFrame(paint), { passive: true });
  paint();
  const info = h('div', { class: 'vt-info' }, `${rows.length.toLocaleString()} rows × ${columns.length} columns`);
  const table = h('div', { class: 'vtable' }, info, h('div', { class: 'vt-scroll-x' }, header, viewport));
  // One column template for every row, through a custom property (CSSOM, allowed by the CSP).
  table.style.setProperty('--vt-columns', grid);
  table.style.setProperty('--vt-min-width', `${4 + 7 * Math.max(columns.length, 1)}em`);
  return table;
}

/**
 * A Frictionless table-schema bundle (application/vnd.dataresource+json, what
 * pandas emits with display.html.table_schema) as columns and rows; undefined
 * when the value is not one.
 */
export function fromDataResource(value: unknown): TableData | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as { schema?: { fields?: { name?: unknown }[] }; data?: unknown };
  if (!Array.isArray(v.data) || !Array.isArray(v.schema?.fields)) return undefined;
  const columns = v.schema.fields.map((f) => String(f?.name ?? ''));
  const rows = v.data.map((r) =>
    Array.isArray(r) ? r : r && typeof r === 'object' ? columns.map((c) => (r as Record<string, unknown>)[c]) : [r],
  );
  return { columns, rows };
}
