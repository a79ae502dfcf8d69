/**
 * The workbench: sessions in a sidebar, the open session's notebook in the
 * middle, and its history, files and agent on the right. Everything the page
 * shows about a session arrives over its one event stream, so runs from other
 * tabs, MCP clients and the agent appear live.
 */
import type {
  ApiEvent,
  InfoResponse,
  LimitOverridesJson,
  ListSessionsResponse,
  SessionJson,
  SessionResponse,
  HistoryResponse,
} from '../../src/mcp/http/api-contract.js';
import { AgentPanel } from './agent-panel.js';
import { Api, ApiError, enc, type StreamState } from './api.js';
import { clear, h } from './dom.js';
import { FilesPanel } from './files-panel.js';
import { GraphPanel } from './graph-panel.js';
import { HistoryPanel } from './history-panel.js';
import { Notebook } from './notebook.js';
import { forgetToken, saveToken, takeToken } from './token.js';
import './styles.css';

interface Open {
  session: SessionJson;
  notebook: Notebook;
  history: HistoryPanel;
  files: FilesPanel;
  agent: AgentPanel;
  graph: GraphPanel;
  abort: AbortController;
}

type Tab = 'history' | 'files' | 'agent' | 'graph';

class App {
  #open: Open | undefined;
  #tab: Tab = 'files';
  #sidebarSessions = h('ul', { class: 'session-list' });
  #sidebarSaved = h('ul', { class: 'resumable-list' });
  #main = h('main', { class: 'main' });
  #side = h('aside', { class: 'side' });
  #stream = h('div', { class: 'stream-state', 'data-state': 'closed' }, 'not connected');
  #message = h('div', { class: 'app-message', role: 'status' });

  constructor(
    private readonly api: Api,
    private readonly info: InfoResponse,
  ) {}

  mount(root: HTMLElement): void {
    const lang = h('select', { class: 'new-language' });
    for (const l of this.info.languages) lang.appendChild(h('option', { value: l }, l));
    const d = this.info.limits.defaults;
    const wall = h('input', {
      type: 'number',
      class: 'new-wall',
      min: 1,
      value: Math.round(d.wall_ms / 1000),
      title: 'Wall time per run (s)',
    });
    const mem = h('input', {
      type: 'number',
      class: 'new-memory',
      min: 16,
      value: Math.round(d.memory_bytes / 2 ** 20),
      title: 'Memory (MiB)',
    });
    const create = h('button', { class: 'new-session' }, 'New session');
    create.addEventListener('click', () => {
      const limits: LimitOverridesJson = {};
      if (Number(wall.value) * 1000 !== d.wall_ms) limits.wall_ms = Number(wall.value) * 1000;
      if (Number(mem.value) * 2 ** 20 !== d.memory_bytes) limits.memory_bytes = Number(mem.value) * 2 ** 20;
      create.disabled = true;
      this.api
        .post<SessionResponse>('/sessions', { language: lang.value, limits })
        .then(async (r) => {
          await this.refreshSessions();
          await this.openSession(r.session);
        })
        .catch((e: unknown) => this.say(e))
        .finally(() => (create.disabled = false));
    });
    root.replaceChildren(
      h(
        'aside',
        { class: 'sidebar' },
        h('h1', {}, 'codemode'),
        h(
          'div',
          { class: 'new-form' },
          h('label', {}, 'Language ', lang),
          h('label', {}, 'Wall s ', wall),
          h('label', {}, 'Memory MiB ', mem),
          create,
        ),
        h('h2', {}, 'Sessions'),
        this.#sidebarSessions,
        h('h2', {}, 'Saved'),
        this.#sidebarSaved,
        this.#stream,
        this.#message,
      ),
      this.#main,
      this.#side,
    );
    this.#main.appendChild(h('p', { class: 'empty' }, 'Create a session or open one on the left.'));
    setInterval(() => {
      if (document.visibilityState === 'visible') void this.refreshSessions();
    }, 5000);
  }

  say(e: unknown): void {
    this.#message.textContent =
      e instanceof ApiError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    this.#message.dataset.kind = 'error';
  }

  async refreshSessions(): Promise<ListSessionsResponse | undefined> {
    let list: ListSessionsResponse;
    try {
      list = await this.api.get<ListSessionsResponse>('/sessions');
    } catch (e) {
      this.say(e);
      return undefined;
    }
    clear(this.#sidebarSessions);
    for (const s of list.sessions) {
      const active = this.#open?.session.id === s.id;
      this.#sidebarSessions.appendChild(
        h(
          'li',
          { class: `session-item${active ? ' active' : ''}`, 'data-session': s.id, 'data-state': s.state },
          h(
            'a',
            { href: '#', class: 'session-open', onclick: (e: Event) => (e.preventDefault(), void this.openSession(s)) },
            `${s.language} · ${s.id.slice(0, 8)}`,
          ),
          h('span', { class: 'session-meta' }, `${s.state} · ${s.execution_count} runs`),
        ),
      );
    }
    clear(this.#sidebarSaved);
    for (const r of list.resumable) {
      this.#sidebarSaved.appendChild(
        h(
          'li',
          { class: 'resumable-item', 'data-session': r.session_id },
          h(
            'a',
            {
              href: '#',
              class: 'session-resume',
              onclick: (e: Event) => (e.preventDefault(), void this.resume(r.session_id)),
            },
            `${r.language} · ${r.session_id.slice(0, 8)}`,
          ),
          h(
            'span',
            { class: 'session-meta' },
            `${r.execution_count} runs · ${new Date(r.last_used_at).toLocaleString()}`,
          ),
        ),
      );
    }
    return list;
  }

  async resume(id: string): Promise<void> {
    try {
      const r = await this.api.post<SessionResponse>(`/sessions/${enc(id)}/resume`, { replay_history: true });
      await this.refreshSessions();
      await this.openSession(r.session);
    } catch (e) {
      this.say(e);
    }
  }

  async openSession(session: SessionJson): Promise<void> {
    this.#open?.abort.abort();
    this.#open?.graph.destroy();
    const notebook = new Notebook(this.api, session);
    const open: Open = {
      session,
      notebook,
      history: new HistoryPanel(this.api, notebook),
      files: new FilesPanel(this.api, session.id),
      agent: new AgentPanel(this.api, session.id, this.info, () => notebook.ensureDraft().editor.focus()),
      graph: new GraphPanel(this.api, notebook),
      abort: new AbortController(),
    };
    this.#open = open;
    history.replaceState(null, '', `${location.pathname}${location.search}#session=${enc(session.id)}`);
    const state = h('span', { class: 'session-state', 'data-state': session.state }, session.state);
    const act = (label: string, cls: string, fn: () => Promise<unknown>) =>
      h('button', { class: cls, onclick: () => void fn().catch((e: unknown) => this.say(e)) }, label);
    const sid = enc(session.id);
    const reactive = h('input', { type: 'checkbox', class: 'session-reactive' });
    reactive.addEventListener('change', () => (notebook.reactive = reactive.checked));
    this.#main.replaceChildren(
      h(
        'header',
        { class: 'session-head' },
        h('h2', {}, `${session.language} session `, h('code', {}, session.id)),
        state,
        h(
          'label',
          { class: 'reactive-toggle', title: 'After a cell runs here, re-run the cells that depend on it' },
          reactive,
          ' Reactive',
        ),
        act('Interrupt', 'session-interrupt', () => this.api.post(`/sessions/${sid}/interrupt`)),
        act('Restart', 'session-restart', async () => {
          await this.api.post(`/sessions/${sid}/restart`);
          await this.refreshSessions();
        }),
        act('Close', 'session-close', async () => {
          await this.api.json('DELETE', `/sessions/${sid}`);
          this.#open?.abort.abort();
          this.#open?.graph.destroy();
          this.#open = undefined;
          this.#main.replaceChildren(h('p', { class: 'empty' }, 'Session closed.'));
          this.#side.replaceChildren();
          await this.refreshSessions();
        }),
      ),
      notebook.el,
    );
    this.#renderSide();
    try {
      const hist = await this.api.get<HistoryResponse>(`/sessions/${sid}/history`);
      if (this.#open === open) {
        notebook.loadHistory(hist.executions);
        open.graph.schedule();
      }
    } catch (e) {
      this.say(e);
      notebook.ensureDraft();
    }
    void open.files.refresh();
    void open.history.refresh();
    void this.refreshSessions();
    const onEvent = (ev: ApiEvent) => {
      notebook.onEvent(ev);
      open.agent.onEvent(ev);
      if (ev.type === 'session.state') {
        state.textContent = ev.data.session.state;
        state.dataset.state = ev.data.session.state;
      } else if (ev.type === 'files.changed' && this.#tab === 'files') void open.files.refresh();
      else if (ev.type === 'execution.finished' && this.#tab === 'history') void open.history.refresh();
      else if (ev.type === 'execution.started') {
        state.textContent = 'busy';
        state.dataset.state = 'busy';
      } else if (ev.type === 'stream.reset') {
        void this.api.get<HistoryResponse>(`/sessions/${sid}/history`).then((r) => notebook.loadHistory(r.executions));
      } else if (ev.type === 'session.closed') {
        state.textContent = 'closed';
        state.dataset.state = 'closed';
      }
      if (ev.type === 'execution.finished') {
        // Stale marks in the cell list follow every run, whichever tab is shown.
        open.graph.schedule();
        state.textContent = 'idle';
        state.dataset.state = 'idle';
      }
    };
    const onState = (s: StreamState, detail?: string) => {
      if (this.#open !== open) return;
      this.#stream.dataset.state = s;
      this.#stream.textContent = detail ? `${s} (${detail})` : s;
    };
    void this.api.follow(session.id, { onEvent, onState }, open.abort.signal);
  }

  #renderSide(): void {
    const open = this.#open;
    if (!open) return;
    const tabs: [Tab, string][] = [
      ['files', 'Files'],
      ['history', 'History'],
      ['agent', 'Agent'],
      ['graph', 'Graph'],
    ];
    const bar = h('nav', { class: 'tabs' });
    for (const [t, label] of tabs) {
      bar.appendChild(
        h(
          'button',
          {
            class: `tab tab-${t}${t === this.#tab ? ' active' : ''}`,
            onclick: () => {
              this.#tab = t;
              this.#renderSide();
              if (t === 'files') void open.files.refresh();
              if (t === 'history') void open.history.refresh();
              if (t === 'graph') open.graph.shown();
            },
          },
          label,
        ),
      );
    }
    this.#side.replaceChildren(bar, open[this.#tab].el);
  }
}

function tokenForm(root: HTMLElement, reason: string): void {
  const input = h('input', {
    type: 'password',
    class: 'token-input',
    placeholder: 'Bearer token',
    autocomplete: 'off',
  });
  const form = h(
    'form',
    { class: 'token-form' },
    h('h1', {}, 'codemode workbench'),
    h('p', { class: 'token-reason' }, reason),
    input,
    h('button', { type: 'submit' }, 'Connect'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!input.value.trim()) return;
    saveToken(input.value.trim());
    void start(root);
  });
  root.replaceChildren(form);
  input.focus();
}

async function start(root: HTMLElement): Promise<void> {
  const token = takeToken();
  if (!token) return tokenForm(root, 'Paste the token that `codemode ui` printed (or open its link).');
  const api = new Api(token);
  let info: InfoResponse;
  try {
    info = await api.get<InfoResponse>('/info');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      forgetToken();
      return tokenForm(root, 'That token was refused. Enter a valid one.');
    }
    root.replaceChildren(h('p', { class: 'fatal' }, `Cannot reach the server: ${e instanceof Error ? e.message : e}`));
    return;
  }
  const app = new App(api, info);
  app.mount(root);
  const list = await app.refreshSessions();
  // For the bench (src/bench/workbench-bench.ts): the app is usable from here.
  performance.mark('workbench-ready');
  const wanted = new URLSearchParams(location.hash.slice(1)).get('session');
  const found = list?.sessions.find((s) => s.id === wanted);
  if (found) await app.openSession(found);
  else if (wanted && list?.resumable.some((r) => r.session_id === wanted)) await app.resume(wanted);
}

const root = document.getElementById('app');
if (root) void start(root);
