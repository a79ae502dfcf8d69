/**
 * JSON as a collapsible tree built from <details>/<summary> (no script needed
 * to fold), text only. Large arrays/objects show their first entries and a
 * count of the rest, so a hostile 10 MB value cannot freeze the page.
 */
import { h } from './dom.js';

const MAX_CHILDREN = 200;
const MAX_DEPTH = 40;

function leaf(v: unknown): HTMLElement {
  const kind = v === null ? 'null' : typeof v;
  return h('span', { class: `jt-${kind}` }, kind === 'string' ? JSON.stringify(v) : String(v));
}

function node(key: string | null, v: unknown, depth: number): HTMLElement {
  const label = key === null ? null : h('span', { class: 'jt-key' }, `${key}: `);
  if (v === null || typeof v !== 'object' || depth >= MAX_DEPTH) {
    return h('div', { class: 'jt-leaf' }, label, depth >= MAX_DEPTH && v ? h('span', {}, '…') : leaf(v));
  }
  const entries: [string, unknown][] = Array.isArray(v)
    ? v.map((x, i) => [String(i), x] as [string, unknown])
    : Object.entries(v as Record<string, unknown>);
  const brackets = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  const details = h(
    'details',
    { class: 'jt-node', open: depth < 2 },
    h('summary', {}, label, `${brackets[0]} ${entries.length} ${Array.isArray(v) ? 'items' : 'keys'} ${brackets[1]}`),
  );
  for (const [k, x] of entries.slice(0, MAX_CHILDREN)) details.appendChild(node(k, x, depth + 1));
  if (entries.length > MAX_CHILDREN) {
    details.appendChild(h('div', { class: 'jt-more' }, `… ${entries.length - MAX_CHILDREN} more`));
  }
  return details;
}

export function renderJsonTree(value: unknown): HTMLElement {
  return h('div', { class: 'json-tree' }, node(null, value, 0));
}
