/**
 * The history panel: a session's past executions (searchable on the server),
 * re-run or copy one into a new cell, export as .ipynb or a script, import a
 * notebook (its code cells run in the session and stream in as cells).
 */
import type { HistoryResponse, ImportNotebookResponse } from '../../src/mcp/http/api-contract.js';
import { Api, ApiError, enc } from './api.js';
import { clear, download, formatMs, h } from './dom.js';
import type { Notebook } from './notebook.js';

export class HistoryPanel {
  readonly el: HTMLElement;
  #list: HTMLElement;
  #search: HTMLInputElement;
  #note: HTMLElement;
  #count: HTMLElement;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly api: Api,
    private readonly nb: Notebook,
  ) {
    const sid = enc(nb.session.id);
    this.#search = h('input', { type: 'search', class: 'history-search', placeholder: 'Search code and output' });
    this.#search.addEventListener('input', () => {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.refresh(), 200);
    });
    const importInput = h('input', {
      type: 'file',
      accept: '.ipynb,application/json',
      class: 'import-input',
      hidden: true,
    });
    importInput.addEventListener('change', () => {
      const f = importInput.files?.[0];
      if (f) void this.#import(f);
      importInput.value = '';
    });
    this.#note = h('div', { class: 'panel-note' });
    this.#count = h('div', { class: 'panel-note history-count' });
    this.#list = h('ol', { class: 'history-list' });
    this.el = h(
      'div',
      { class: 'panel history-panel' },
      h(
        'div',
        { class: 'panel-tools' },
        this.#search,
        h(
          'button',
          { class: 'export-ipynb', onclick: () => void this.#export('ipynb', `${sid}.ipynb`) },
          'Export .ipynb',
        ),
        h(
          'button',
          { class: 'export-script', onclick: () => void this.#export('script', `${sid}.script`) },
          'Export script',
        ),
        h('button', { class: 'import-ipynb', onclick: () => importInput.click() }, 'Import .ipynb'),
        importInput,
      ),
      this.#note,
      this.#count,
      this.#list,
    );
  }

  async refresh(): Promise<void> {
    const q = this.#search.value.trim();
    const path = `/sessions/${enc(this.nb.session.id)}/history${q ? `?q=${enc(q)}` : ''}`;
    let res: HistoryResponse;
    try {
      res = await this.api.get<HistoryResponse>(path);
    } catch (e) {
      this.#note.textContent = e instanceof Error ? e.message : String(e);
      return;
    }
    clear(this.#list);
    this.#count.textContent = `${res.executions.length} execution${res.executions.length === 1 ? '' : 's'}`;
    for (const r of [...res.executions].reverse()) {
      this.#list.appendChild(
        h(
          'li',
          { class: `history-item status-${r.status}`, 'data-execution-id': r.execution_id },
          h('div', { class: 'hi-head' }, `[${r.execution_count}] ${r.status} · ${formatMs(r.duration_ms)}`),
          h('pre', { class: 'hi-code' }, r.code.length > 400 ? `${r.code.slice(0, 400)}…` : r.code),
          h(
            'div',
            { class: 'hi-actions' },
            h(
              'button',
              { class: 'hi-rerun', onclick: () => void this.nb.run(this.nb.ensureDraft(), r.code) },
              'Re-run',
            ),
            h(
              'button',
              {
                class: 'hi-copy',
                onclick: () => {
                  const cell = this.nb.ensureDraft();
                  cell.editor.setCode(r.code);
                  cell.editor.focus();
                  cell.el.scrollIntoView({ block: 'center' });
                },
              },
              'Copy to new cell',
            ),
          ),
        ),
      );
    }
  }

  async #export(format: 'ipynb' | 'script', name: string): Promise<void> {
    try {
      const res = await this.api.raw('GET', `/sessions/${enc(this.nb.session.id)}/export?format=${format}`);
      const disposition = res.headers.get('content-disposition') ?? '';
      const m = /filename="?([\w.-]+)"?/.exec(disposition);
      download(m?.[1] ?? name, await res.blob(), res.headers.get('content-type') ?? 'application/octet-stream');
    } catch (e) {
      this.#note.textContent = e instanceof Error ? e.message : String(e);
    }
  }

  async #import(file: File): Promise<void> {
    this.#note.textContent = `Running ${file.name}…`;
    try {
      const res = await this.api.raw(
        'POST',
        `/sessions/${enc(this.nb.session.id)}/import-notebook`,
        await file.text(),
        'application/json',
      );
      const body = (await res.json()) as ImportNotebookResponse;
      const failed = body.results.find((r) => r.status !== 'ok');
      this.#note.textContent =
        `Imported ${file.name}: ${body.results.length} cell(s) run` +
        (failed ? `, stopped at [${failed.execution_count}] (${failed.status}), ${body.skipped} skipped` : '');
    } catch (e) {
      this.#note.textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
    }
    await this.refresh();
  }
}
