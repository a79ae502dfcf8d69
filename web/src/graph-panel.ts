/**
 * The "Graph" tab: the session's dataflow graph (GET .../graph). The picture
 * is drawn by graph-view.ts, loaded on first show so cytoscape stays out of
 * the main bundle; beside it a plain list of the same nodes (keyboard and
 * screen-reader friendly). Selecting a node scrolls to its cell; "Re-run
 * downstream" re-runs what depends on it. Every refresh also marks stale
 * cells in the notebook, whichever tab is shown.
 */
import type { GraphResponse } from '../../src/mcp/http/api-contract.js';
import { Api, ApiError, enc } from './api.js';
import { clear, h } from './dom.js';
import type { GraphView } from './graph-view.js';
import type { Notebook } from './notebook.js';

export class GraphPanel {
  readonly el: HTMLElement;
  #canvas = h('div', { class: 'graph-canvas', 'data-nodes': '0' });
  #list = h('ol', { class: 'graph-nodes' });
  #selectedInfo = h('span', { class: 'graph-selected' }, 'Select a cell.');
  #rerun: HTMLButtonElement;
  #view: GraphView | undefined;
  #loading: Promise<GraphView> | undefined;
  #graph: GraphResponse | undefined;
  #selected: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #seq = 0;

  constructor(
    private readonly api: Api,
    private readonly notebook: Notebook,
  ) {
    this.#rerun = h(
      'button',
      {
        class: 'graph-rerun',
        disabled: true,
        onclick: () => {
          if (this.#selected !== undefined) void this.notebook.rerunDownstream(this.#selected);
        },
      },
      'Re-run downstream',
    );
    this.el = h(
      'section',
      { class: 'panel graph-panel' },
      h(
        'div',
        { class: 'panel-tools' },
        h('button', { class: 'graph-refresh', onclick: () => void this.refresh() }, 'Refresh'),
        this.#rerun,
        this.#selectedInfo,
      ),
      this.#canvas,
      this.#list,
    );
  }

  /** Refreshes soon, once for a burst of runs. */
  schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.refresh(), 150);
  }

  async refresh(): Promise<void> {
    const seq = ++this.#seq;
    let graph: GraphResponse;
    try {
      graph = await this.api.get<GraphResponse>(`/sessions/${enc(this.notebook.session.id)}/graph`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return; // closed meanwhile
      throw e;
    }
    if (seq !== this.#seq) return; // a newer refresh answers
    this.#graph = graph;
    this.notebook.markStale(graph);
    this.#renderList(graph);
    if (this.el.isConnected) await this.#draw(graph);
  }

  async #draw(graph: GraphResponse): Promise<void> {
    this.#loading ??= import('./graph-view.js').then((m) =>
      m.createGraphView(this.#canvas, (count) => this.select(count)),
    );
    this.#view = await this.#loading;
    if (graph === this.#graph) this.#view.update(graph, this.#selected);
  }

  /** Called when the tab is shown: the canvas needs a laid-out container. */
  shown(): void {
    void this.refresh();
  }

  select(count: number, focus = true): void {
    this.#selected = count;
    const node = this.#graph?.nodes.find((n) => n.execution_count === count);
    this.#rerun.disabled = node === undefined;
    this.#selectedInfo.textContent = node
      ? `[${count}] ${node.code_head}${node.stale ? ` — stale: ${node.stale_because.join(', ')}` : ''}`
      : 'Select a cell.';
    for (const li of Array.from(this.#list.children) as HTMLElement[]) {
      li.classList.toggle('selected', li.dataset.count === String(count));
    }
    if (focus) this.notebook.focusExecution(count);
  }

  #renderList(graph: GraphResponse): void {
    clear(this.#list);
    const into = new Map<number, string[]>();
    for (const e of graph.edges) into.set(e.to, [...(into.get(e.to) ?? []), `${e.name} ← [${e.from}]`]);
    for (const n of graph.nodes) {
      const li = h(
        'li',
        {
          class: `graph-node${n.stale ? ' stale' : ''}${n.execution_count === this.#selected ? ' selected' : ''}`,
          'data-count': n.execution_count,
          'data-stale': n.stale,
          tabindex: 0,
          onclick: () => this.select(n.execution_count),
          onkeydown: (e: Event) => {
            if ((e as KeyboardEvent).key === 'Enter') this.select(n.execution_count);
          },
        },
        h('strong', {}, `[${n.execution_count}]`),
        ` ${n.defs.join(', ') || '—'}`,
        into.has(n.execution_count)
          ? h('span', { class: 'graph-in' }, ` (${into.get(n.execution_count)!.join('; ')})`)
          : '',
        n.stale ? h('span', { class: 'stale-badge', title: n.stale_because.join(', ') }, 'stale') : '',
        n.opaque ? h('span', { class: 'graph-opaque', title: 'its names cannot be known' }, 'opaque') : '',
      );
      this.#list.appendChild(li);
    }
    if (this.#selected !== undefined) this.select(this.#selected, false);
  }

  destroy(): void {
    clearTimeout(this.#timer);
    this.#view?.destroy();
  }
}
