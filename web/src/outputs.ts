/**
 * Rich output rendering. Everything that came out of the sandbox is hostile:
 * text is escaped (ansi_up, then scrubbed of style attributes and links), images
 * are shown only through <img> with a data: URL (an SVG never enters the DOM,
 * so its scripts and external references are inert), and HTML only inside an
 * <iframe sandbox> without allow-scripts or allow-same-origin.
 */
import { AnsiUp } from 'ansi_up';
import { download, formatBytes, h } from './dom.js';
import { renderJsonTree } from './json-tree.js';
import { fromDataResource, renderTable } from './table.js';

/** Characters of one stream shown inline; the rest is behind a link to the full copy. */
export const TEXT_CAP = 100_000;
/** Larger images or HTML documents than this are not rendered inline. */
const BUNDLE_CAP = 20 * 1024 * 1024;

const ansi = new AnsiUp();
ansi.use_classes = true;
ansi.url_allowlist = {};

/** ANSI-coloured text as DOM nodes: colours become classes; inline styles (blocked by the CSP) are dropped. */
export function ansiToFragment(text: string): DocumentFragment {
  const tpl = document.createElement('template');
  // ansi_up escapes &, <, >, " and ' in the text; its own markup is spans only.
  tpl.innerHTML = ansi.ansi_to_html(text);
  for (const el of Array.from(tpl.content.querySelectorAll('*'))) {
    if (el.tagName !== 'SPAN') {
      el.replaceWith(document.createTextNode(el.textContent ?? ''));
      continue;
    }
    const style = el.getAttribute('style');
    if (style !== null) {
      if (/font-weight:\s*bold/.test(style)) el.classList.add('ansi-bold');
      if (/font-style:\s*italic/.test(style)) el.classList.add('ansi-italic');
      if (/underline/.test(style)) el.classList.add('ansi-underline');
      if (/opacity/.test(style)) el.classList.add('ansi-faint');
      el.removeAttribute('style');
    }
  }
  return tpl.content;
}

export interface TextOptions {
  /** Bytes the server's output limit dropped. */
  droppedBytes?: number;
  /** Characters the server left out of the reply; `full` fetches them. */
  omittedChars?: number;
  full?: () => void;
}

/** A stream's text, capped: past TEXT_CAP characters a link saves the full copy. */
export function renderText(text: string, stream: 'stdout' | 'stderr', opts: TextOptions = {}): HTMLElement {
  const pre = h('pre', { class: `out-${stream}` });
  pre.appendChild(ansiToFragment(text.length > TEXT_CAP ? text.slice(0, TEXT_CAP) : text));
  const box = h('div', { class: 'out-text' }, pre);
  const more = (text.length > TEXT_CAP ? text.length - TEXT_CAP : 0) + (opts.omittedChars ?? 0);
  if (more > 0) {
    const save = opts.full ?? (() => download(`${stream}.txt`, text, 'text/plain'));
    box.appendChild(
      h(
        'div',
        { class: 'out-capped' },
        `… ${more.toLocaleString()} more characters. `,
        h('a', { href: '#', class: 'full-output', onclick: (e: Event) => (e.preventDefault(), save()) }, 'Full output'),
      ),
    );
  }
  if (opts.droppedBytes) {
    box.appendChild(
      h('div', { class: 'out-capped' }, `[${formatBytes(opts.droppedBytes)} dropped by the output limit]`),
    );
  }
  return box;
}

function utf8ToBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function image(mime: string, base64: string): HTMLElement {
  if (!BASE64.test(base64)) return h('pre', { class: 'out-stderr' }, `[${mime} output is not base64]`);
  return h('img', { class: 'out-image', src: `data:${mime};base64,${base64.replace(/\s/g, '')}`, alt: mime });
}

/** HTML output in an iframe that can run nothing and reach nothing of this page. */
export function sandboxedHtml(html: string): HTMLIFrameElement {
  const frame = h('iframe', { class: 'out-html', sandbox: '', referrerpolicy: 'no-referrer', title: 'HTML output' });
  frame.srcdoc = html;
  return frame;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false }; // not JSON after all: the caller falls back to text
  }
}

/** One MIME bundle: the richest representation we can show safely. */
export function renderBundle(data: Record<string, string>): HTMLElement {
  const size = Object.values(data).reduce((n, v) => n + (typeof v === 'string' ? v.length : 0), 0);
  const plain = data['text/plain'];
  if (size > BUNDLE_CAP) {
    return renderText(plain ?? `[output of ${formatBytes(size)} not shown]`, 'stdout');
  }
  const resource = data['application/vnd.dataresource+json'];
  if (resource !== undefined) {
    const parsed = parseJson(resource);
    const table = parsed.ok ? fromDataResource(parsed.value) : undefined;
    if (table) {
      const el = renderTable(table);
      // The kernel caps a DataFrame's rows and bytes and says so (python-kernel.py _table_resource).
      const note = (parsed.ok ? (parsed.value as { truncated?: { note?: unknown } }).truncated?.note : undefined) ?? '';
      if (typeof note === 'string' && note !== '') el.appendChild(h('div', { class: 'out-table-note' }, note));
      return el;
    }
  }
  const json = data['application/json'];
  if (json !== undefined) {
    const parsed = parseJson(json);
    if (parsed.ok) return renderJsonTree(parsed.value);
  }
  for (const mime of ['image/png', 'image/jpeg', 'image/gif']) {
    const v = data[mime];
    if (v !== undefined) return image(mime, v);
  }
  const svg = data['image/svg+xml'];
  if (svg !== undefined) return image('image/svg+xml', utf8ToBase64(svg));
  const html = data['text/html'];
  if (html !== undefined) return sandboxedHtml(html);
  if (data['text/markdown'] !== undefined) return renderText(data['text/markdown'], 'stdout');
  if (plain !== undefined) return renderText(plain, 'stdout');
  return h('pre', { class: 'out-stdout' }, `[${Object.keys(data).join(', ')}]`);
}

export interface ErrorInfo {
  type: string;
  message: string;
  line?: number;
  traceback?: string;
}

export function renderError(err: ErrorInfo): HTMLElement {
  return h(
    'div',
    { class: 'out-error' },
    h(
      'div',
      { class: 'err-head' },
      h('strong', {}, err.type),
      `: ${err.message}`,
      err.line ? ` (line ${err.line})` : '',
    ),
    err.traceback ? h('pre', { class: 'err-tb' }, ansiToFragment(err.traceback)) : null,
  );
}
