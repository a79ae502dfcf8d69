/**
 * The notebook column of one session: cells with editors, runs, and every
 * execution the session's event stream reports, whoever started it (this tab,
 * another browser, an MCP client, the agent). A cell is bound to its
 * execution by id; a run started here is matched to its `execution.started`
 * event by code, in the order the runs were sent.
 */
import type {
  ApiEvent,
  ExecResultJson,
  ExecutionRecordJson,
  ExecutionSource,
  GraphResponse,
  Language,
  RerunDownstreamResponse,
  SessionJson,
} from '../../src/mcp/http/api-contract.js';
import { Api, ApiError, enc } from './api.js';
import { clear, download, formatMs, h } from './dom.js';
import { createEditor, type CellEditor } from './editor.js';
import { renderBundle, renderError, renderText, TEXT_CAP } from './outputs.js';

type CellState = 'draft' | 'queued' | 'running' | 'done';

export class Cell {
  readonly el: HTMLElement;
  readonly editor: CellEditor;
  executionId: string | undefined;
  /** The execution count of the run shown (In [n]). */
  count: number | undefined;
  state: CellState = 'draft';
  #count: HTMLElement;
  #stale: HTMLElement;
  #downBtn: HTMLButtonElement;
  #status: HTMLElement;
  #source: HTMLElement;
  #outputs: HTMLElement;
  #live: { stream: 'stdout' | 'stderr'; pre: HTMLElement; chars: number } | undefined;
  #runBtn: HTMLButtonElement;
  #stopBtn: HTMLButtonElement;

  constructor(
    private readonly nb: Notebook,
    code: string,
  ) {
    this.#count = h('span', { class: 'cell-count' }, '[ ]');
    this.#status = h('span', { class: 'cell-status' });
    this.#source = h('span', { class: 'cell-source' });
    this.#runBtn = h('button', { class: 'cell-run', title: 'Run (Shift+Enter)', onclick: () => nb.run(this) }, '▶ Run');
    this.#stopBtn = h('button', { class: 'cell-stop', title: 'Interrupt', onclick: () => nb.interrupt() }, '■ Stop');
    this.#stopBtn.hidden = true;
    this.#downBtn = h(
      'button',
      {
        class: 'cell-rerun-downstream',
        title: 'Re-run the cells that depend on this one',
        onclick: () => {
          if (this.count !== undefined) void nb.rerunDownstream(this.count);
        },
      },
      '↻ Downstream',
    );
    this.#downBtn.hidden = true;
    this.#stale = h('span', { class: 'stale-badge cell-stale' }, 'stale');
    this.#stale.hidden = true;
    const editorHost = h('div', { class: 'cell-editor' });
    this.#outputs = h('div', { class: 'cell-outputs' });
    this.el = h(
      'section',
      { class: 'cell', 'data-state': 'draft' },
      h(
        'div',
        { class: 'cell-bar' },
        this.#count,
        this.#runBtn,
        this.#stopBtn,
        this.#downBtn,
        this.#status,
        this.#stale,
        this.#source,
      ),
      editorHost,
      this.#outputs,
    );
    this.editor = createEditor(editorHost, nb.language, code, () => nb.run(this));
  }

  #setState(state: CellState, status?: string): void {
    this.state = state;
    this.el.dataset.state = state;
    this.#stopBtn.hidden = state !== 'running' && state !== 'queued';
    this.#runBtn.disabled = state === 'running' || state === 'queued';
    this.#downBtn.hidden = state !== 'done' || this.count === undefined;
    if (status !== undefined) this.#status.textContent = status;
  }

  queued(): void {
    this.executionId = undefined;
    this.editor.markErrorLine(null);
    clear(this.#outputs);
    this.#live = undefined;
    this.#setState('queued', 'queued');
  }

  /** `label` overrides where the run came from (e.g. a re-run this tab asked for). */
  begin(executionId: string, count: number, source: ExecutionSource, mine: boolean, label?: string): void {
    this.executionId = executionId;
    this.el.dataset.executionId = executionId;
    this.count = count;
    this.#count.textContent = `[${count}]`;
    this.#source.textContent = label ?? (mine ? '' : source === 'web' ? 'other tab' : source);
    this.#source.className = `cell-source src-${source}`;
    clear(this.#outputs);
    this.#live = undefined;
    this.#setState('running', 'running…');
  }

  /** Streams output while the run goes on; the result replaces it at the end. */
  output(stream: 'stdout' | 'stderr', text: string): void {
    if (!this.#live || this.#live.stream !== stream) {
      const pre = h('pre', { class: `out-${stream} out-live` });
      this.#outputs.appendChild(pre);
      this.#live = { stream, pre, chars: 0 };
    }
    const live = this.#live;
    if (live.chars >= TEXT_CAP) return;
    const room = TEXT_CAP - live.chars;
    live.pre.appendChild(document.createTextNode(text.length > room ? text.slice(0, room) + '\n…' : text));
    live.chars += text.length;
  }

  finish(r: ExecResultJson): void {
    if (this.state === 'done' && this.executionId === r.execution_id) return;
    this.executionId = r.execution_id;
    this.el.dataset.executionId = r.execution_id;
    this.count = r.execution_count;
    this.#count.textContent = `[${r.execution_count}]`;
    this.#renderOutputs({
      stdout: r.stdout,
      stderr: r.stderr,
      displays: r.displays,
      error: r.error,
      stdoutOmitted: r.stdout_omitted_chars,
      stderrOmitted: r.stderr_omitted_chars,
      stdoutDropped: r.stdout_dropped_bytes,
      stderrDropped: r.stderr_dropped_bytes,
      full: r.full_output,
      reason: r.reason,
      status: r.status,
    });
    this.#setState('done', `${r.status} · ${formatMs(r.duration_ms)}`);
    this.el.dataset.status = r.status;
  }

  fromRecord(r: ExecutionRecordJson, source?: string): void {
    this.executionId = r.execution_id;
    this.el.dataset.executionId = r.execution_id;
    this.count = r.execution_count;
    this.#count.textContent = `[${r.execution_count}]`;
    if (source) this.#source.textContent = source;
    this.#renderOutputs({
      stdout: r.stdout,
      stderr: r.stderr,
      displays: r.displays,
      error: r.error,
      reason: r.reason,
      status: r.status,
    });
    this.#setState('done', `${r.status} · ${formatMs(r.duration_ms)}`);
    this.el.dataset.status = r.status;
  }

  /** Marks the cell stale (a name it read was redefined after it ran), or not. */
  setStale(stale: boolean, because: string[] = []): void {
    this.el.classList.toggle('stale', stale);
    this.#stale.hidden = !stale;
    this.#stale.title = because.join(', ');
  }

  highlight(): void {
    this.el.scrollIntoView({ block: 'center' });
    this.el.classList.remove('highlight');
    void this.el.offsetWidth; // restart the highlight animation
    this.el.classList.add('highlight');
  }

  failed(message: string): void {
    this.#outputs.appendChild(h('div', { class: 'out-error' }, message));
    this.#setState('done', 'failed');
    this.el.dataset.status = 'failed';
  }

  #renderOutputs(o: {
    stdout: string;
    stderr: string;
    displays: ExecResultJson['displays'];
    error?: ExecResultJson['error'];
    stdoutOmitted?: number;
    stderrOmitted?: number;
    stdoutDropped?: number;
    stderrDropped?: number;
    full?: ExecResultJson['full_output'];
    reason?: string;
    status: string;
  }): void {
    clear(this.#outputs);
    this.#live = undefined;
    const full = (path: string | undefined, name: string) =>
      path ? () => void this.nb.saveFull(path, name) : undefined;
    if (o.stdout || o.stdoutOmitted) {
      this.#outputs.appendChild(
        renderText(o.stdout, 'stdout', {
          omittedChars: o.stdoutOmitted,
          droppedBytes: o.stdoutDropped,
          full: full(o.full?.stdout, 'stdout.txt'),
        }),
      );
    }
    // The kernel prints the traceback to stderr too: show it once, in the error block.
    const tb = o.error?.traceback?.trim();
    const stderr = tb && o.stderr.includes(tb) ? o.stderr.replace(tb, '').trim() : o.stderr;
    if (stderr || o.stderrOmitted) {
      this.#outputs.appendChild(
        renderText(stderr, 'stderr', {
          omittedChars: o.stderrOmitted,
          droppedBytes: o.stderrDropped,
          full: full(o.full?.stderr, 'stderr.txt'),
        }),
      );
    }
    for (const d of o.displays ?? []) {
      this.#outputs.appendChild(h('div', { class: `out-display out-${d.kind}` }, renderBundle(d.data)));
    }
    if (o.error) {
      this.#outputs.appendChild(renderError(o.error));
      this.editor.markErrorLine(o.error.line ?? null);
    } else {
      this.editor.markErrorLine(null);
    }
    if (o.reason && o.status !== 'ok' && o.status !== 'error') {
      this.#outputs.appendChild(h('div', { class: 'out-reason' }, `${o.status}: ${o.reason}`));
    }
  }
}

export class Notebook {
  readonly el: HTMLElement;
  readonly language: Language;
  #cells: Cell[] = [];
  #byExec = new Map<string, Cell>();
  /** Runs sent from this tab, waiting for their execution.started event. */
  #pending: Cell[] = [];
  #list: HTMLElement;
  #notice = h('div', { class: 'nb-notice', role: 'status' });
  /** Opt-in: after a cell run here succeeds, its dependents are re-run (rerun-downstream). */
  reactive = false;
  /** Re-run requests from this tab in flight: their runs are labelled as re-runs, not as another tab's. */
  #rerunning = 0;

  constructor(
    private readonly api: Api,
    readonly session: SessionJson,
  ) {
    this.language = session.language;
    this.#list = h('div', { class: 'cells' });
    this.el = h(
      'div',
      { class: 'notebook', 'data-session': session.id },
      this.#notice,
      this.#list,
      h('button', { class: 'add-cell', onclick: () => this.addCell('').editor.focus() }, '+ Cell'),
    );
  }

  get cells(): readonly Cell[] {
    return this.#cells;
  }

  addCell(code: string): Cell {
    const cell = new Cell(this, code);
    this.#cells.push(cell);
    this.#list.appendChild(cell.el);
    return cell;
  }

  /** An empty draft cell at the end (Jupyter's habit), reused when one is already there. */
  ensureDraft(): Cell {
    const last = this.#cells[this.#cells.length - 1];
    if (last && last.state === 'draft' && last.editor.code() === '') return last;
    return this.addCell('');
  }

  /** A cell for an execution this tab did not start, placed before the trailing empty draft. */
  #foreignCell(code: string): Cell {
    const last = this.#cells[this.#cells.length - 1];
    const cell = new Cell(this, code);
    if (last && last.state === 'draft' && last.editor.code() === '') {
      this.#cells.splice(this.#cells.length - 1, 0, cell);
      this.#list.insertBefore(cell.el, last.el);
    } else {
      this.#cells.push(cell);
      this.#list.appendChild(cell.el);
    }
    return cell;
  }

  loadHistory(records: ExecutionRecordJson[]): void {
    this.#cells = [];
    this.#byExec.clear();
    clear(this.#list);
    for (const r of records) {
      const cell = this.addCell(r.code);
      cell.fromRecord(r);
      this.#byExec.set(r.execution_id, cell);
    }
    this.ensureDraft();
  }

  async run(cell: Cell, code = cell.editor.code()): Promise<void> {
    if (cell.state === 'running' || cell.state === 'queued') return;
    if (!code.trim()) return;
    if (cell.editor.code() !== code) cell.editor.setCode(code);
    cell.queued();
    this.#pending.push(cell);
    if (cell === this.#cells[this.#cells.length - 1]) this.addCell('').editor.focus();
    try {
      const r = await this.api.post<ExecResultJson>(`/sessions/${enc(this.session.id)}/executions`, { code });
      this.#unpend(cell);
      this.#byExec.set(r.execution_id, cell);
      cell.finish(r);
      if (this.reactive && r.status === 'ok') await this.rerunDownstream(r.execution_count);
    } catch (e) {
      this.#unpend(cell);
      cell.failed(e instanceof ApiError ? `${e.code}: ${e.message}${e.hint ? ` (${e.hint})` : ''}` : String(e));
    }
  }

  #unpend(cell: Cell): void {
    const i = this.#pending.indexOf(cell);
    if (i !== -1) this.#pending.splice(i, 1);
  }

  /** The cell showing execution `count`, if this notebook has it. */
  cellOf(count: number): Cell | undefined {
    return this.#cells.find((c) => c.count === count);
  }

  focusExecution(count: number): void {
    this.cellOf(count)?.highlight();
  }

  /** Marks the cells the graph calls stale (by execution id) and clears the others. */
  markStale(graph: GraphResponse): void {
    const stale = new Map(graph.nodes.filter((n) => n.stale).map((n) => [n.execution_id, n.stale_because]));
    for (const c of this.#cells) {
      const because = c.executionId === undefined ? undefined : stale.get(c.executionId);
      c.setStale(because !== undefined, because);
    }
  }

  /** Re-runs the cells that depend on execution `count`; the runs arrive as cells through the event stream. */
  async rerunDownstream(count: number): Promise<RerunDownstreamResponse | undefined> {
    this.#say(`re-running what depends on [${count}]…`);
    this.#rerunning++;
    try {
      const r = await this.api.post<RerunDownstreamResponse>(`/sessions/${enc(this.session.id)}/rerun-downstream`, {
        execution_count: count,
      });
      const ran = r.runs.map((x) => `[${x.cell}] → [${x.result.execution_count}] ${x.result.status}`);
      this.#say(
        r.refused
          ? `nothing re-ran: ${r.refused}`
          : `from [${count}]: ${ran.length ? ran.join(', ') : 'no cell depends on it'}` +
              (r.unknown.length ? `; not re-run: ${r.unknown.map((u) => `[${u.cell}] ${u.reason}`).join(', ')}` : ''),
        r.refused !== undefined || r.runs.some((x) => x.result.status !== 'ok'),
      );
      return r;
    } catch (e) {
      this.#say(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e), true);
      return undefined;
    } finally {
      this.#rerunning--;
    }
  }

  #say(text: string, error = false): void {
    this.#notice.textContent = text;
    this.#notice.dataset.kind = error ? 'error' : 'info';
  }

  async interrupt(): Promise<void> {
    await this.api.post(`/sessions/${enc(this.session.id)}/interrupt`);
  }

  async saveFull(path: string, name: string): Promise<void> {
    const rel = path.startsWith('/api/v1') ? path.slice('/api/v1'.length) : path;
    const res = await this.api.raw('GET', rel);
    download(name, await res.blob(), 'text/plain');
  }

  onEvent(ev: ApiEvent): void {
    switch (ev.type) {
      case 'execution.started': {
        const d = ev.data;
        if (this.#byExec.has(d.execution_id)) return;
        const i = d.source === 'web' ? this.#pending.findIndex((c) => c.editor.code() === d.code) : -1;
        const mine = i !== -1;
        const cell = mine ? this.#pending.splice(i, 1)[0]! : this.#foreignCell(d.code);
        this.#byExec.set(d.execution_id, cell);
        const rerun = !mine && d.source === 'web' && this.#rerunning > 0;
        cell.begin(d.execution_id, d.execution_count, d.source, mine, rerun ? 're-run' : undefined);
        break;
      }
      case 'output':
        this.#byExec.get(ev.data.execution_id)?.output(ev.data.stream, ev.data.text);
        break;
      case 'execution.finished': {
        const cell = this.#byExec.get(ev.data.execution_id);
        if (!cell) return;
        if (ev.data.result) cell.finish(ev.data.result);
        else if (ev.data.error && cell.state !== 'done') cell.failed(`${ev.data.error.code}: ${ev.data.error.message}`);
        break;
      }
    }
  }
}
