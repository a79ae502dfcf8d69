/**
 * The agent panel: give a task to a model the server offers, watch its steps
 * live (text, code, results; the code also runs as cells in this session's
 * notebook), approve or deny actions when asked, stop it, then carry on by
 * hand in the same session. Runs started elsewhere show up too.
 */
import type { AgentRunJson, ApiEvent, InfoResponse, StartAgentResponse } from '../../src/mcp/http/api-contract.js';
import { Api, ApiError, enc } from './api.js';
import { formatMs, h } from './dom.js';

interface RunView {
  el: HTMLElement;
  steps: Map<number, HTMLElement>;
  text: Map<number, HTMLElement>;
  approval: HTMLElement;
  stop: HTMLButtonElement;
  status: HTMLElement;
}

export class AgentPanel {
  readonly el: HTMLElement;
  #runs = new Map<string, RunView>();
  #log: HTMLElement;
  #note: HTMLElement;

  constructor(
    private readonly api: Api,
    private readonly sessionId: string,
    info: InfoResponse,
    private readonly onHandOver: () => void,
  ) {
    this.#note = h('div', { class: 'panel-note' });
    this.#log = h('div', { class: 'agent-runs' });
    if (!info.agent.available) {
      this.el = h(
        'div',
        { class: 'panel agent-panel' },
        h('p', { class: 'panel-note' }, 'No agent model is configured on this server (CODEMODE_AGENT_MODELS).'),
        this.#log,
      );
      return;
    }
    const task = h('textarea', {
      class: 'agent-task',
      rows: 3,
      placeholder: 'What should the agent do in this session?',
    });
    const model = h('select', { class: 'agent-model' });
    for (const m of info.agent.models) {
      model.appendChild(h('option', { value: m, selected: m === info.agent.default_model }, m));
    }
    const approval = h(
      'select',
      { class: 'agent-approval' },
      h('option', { value: 'auto' }, 'run actions automatically'),
      h('option', { value: 'ask' }, 'ask before each action'),
    );
    const steps = h('input', { type: 'number', class: 'agent-steps', min: 1, max: 100, value: 12, title: 'Max steps' });
    const start = h('button', { class: 'agent-start' }, 'Start');
    start.addEventListener('click', () => {
      if (!task.value.trim()) return;
      start.disabled = true;
      this.#note.textContent = '';
      this.api
        .post<StartAgentResponse>(`/sessions/${enc(sessionId)}/agent`, {
          task: task.value,
          model: model.value,
          approval: approval.value,
          max_steps: Number(steps.value) || undefined,
        })
        .then((r) => this.#view(r.run_id, model.value, task.value))
        .catch((e: unknown) => (this.#note.textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e)))
        .finally(() => (start.disabled = false));
    });
    this.el = h(
      'div',
      { class: 'panel agent-panel' },
      task,
      h('div', { class: 'panel-tools' }, model, approval, steps, start),
      this.#note,
      this.#log,
    );
  }

  #view(runId: string, model: string, task: string): RunView {
    const existing = this.#runs.get(runId);
    if (existing) return existing;
    const status = h('span', { class: 'run-status' }, 'running');
    const stop = h('button', { class: 'agent-stop', onclick: () => void this.#act(runId, 'cancel') }, 'Stop');
    const approval = h('div', { class: 'agent-approval-box' });
    approval.hidden = true;
    const el = h(
      'section',
      { class: 'agent-run', 'data-run-id': runId, 'data-state': 'running' },
      h('div', { class: 'run-head' }, h('strong', {}, model), ' ', status, ' ', stop),
      h('div', { class: 'run-task' }, task),
      approval,
    );
    this.#log.prepend(el);
    const view: RunView = { el, steps: new Map(), text: new Map(), approval, stop, status };
    this.#runs.set(runId, view);
    return view;
  }

  #step(v: RunView, step: number): HTMLElement {
    let s = v.steps.get(step);
    if (!s) {
      s = h('div', { class: 'agent-step', 'data-step': step }, h('div', { class: 'step-head' }, `Step ${step}`));
      v.steps.set(step, s);
      v.el.insertBefore(s, v.approval);
    }
    return s;
  }

  async #act(runId: string, what: 'cancel' | 'approve' | 'deny'): Promise<void> {
    const path = `/agent-runs/${enc(runId)}/${what === 'cancel' ? 'cancel' : 'approval'}`;
    try {
      const r = await this.api.post<AgentRunJson>(path, what === 'cancel' ? {} : { approve: what === 'approve' });
      const v = this.#runs.get(runId);
      if (v && !r.pending_approval) v.approval.hidden = true;
    } catch (e) {
      this.#note.textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
    }
  }

  onEvent(ev: ApiEvent): void {
    if (!ev.type.startsWith('agent.')) return;
    const d = ev.data as { run_id: string };
    const v =
      ev.type === 'agent.started' ? this.#view(d.run_id, ev.data.model, ev.data.task) : this.#runs.get(d.run_id);
    if (!v) return;
    switch (ev.type) {
      case 'agent.step':
        this.#step(v, ev.data.step);
        break;
      case 'agent.text': {
        let t = v.text.get(ev.data.step);
        if (!t) {
          t = h('div', { class: 'step-text' });
          v.text.set(ev.data.step, t);
          this.#step(v, ev.data.step).appendChild(t);
        }
        t.appendChild(document.createTextNode(ev.data.text));
        break;
      }
      case 'agent.code':
        this.#step(v, ev.data.step).appendChild(h('pre', { class: 'step-code' }, ev.data.code));
        break;
      case 'agent.tool_call':
        this.#step(v, ev.data.step).appendChild(
          h('div', { class: 'step-tool' }, `${ev.data.tool}(${JSON.stringify(ev.data.input).slice(0, 300)})`),
        );
        break;
      case 'agent.result':
        this.#step(v, ev.data.step).appendChild(
          h(
            'div',
            { class: `step-result ${ev.data.ok ? 'ok' : 'failed'}` },
            h('span', { class: 'step-status' }, `${ev.data.tool}: ${ev.data.status}`),
            h(
              'pre',
              {},
              ev.data.observation.length > 4000 ? `${ev.data.observation.slice(0, 4000)}…` : ev.data.observation,
            ),
          ),
        );
        break;
      case 'agent.approval_request': {
        const r = ev.data.request;
        v.approval.hidden = false;
        v.approval.replaceChildren(
          h('div', {}, `Step ${r.step} wants to run ${r.tool} (${r.reason}):`),
          h('pre', { class: 'approval-summary' }, r.summary),
          h('button', { class: 'agent-approve', onclick: () => void this.#act(d.run_id, 'approve') }, 'Approve'),
          h('button', { class: 'agent-deny', onclick: () => void this.#act(d.run_id, 'deny') }, 'Deny'),
        );
        break;
      }
      case 'agent.approval':
        v.approval.hidden = true;
        this.#step(v, ev.data.step).appendChild(
          h('div', { class: 'step-approval' }, `${ev.data.tool} ${ev.data.approved ? 'approved' : 'denied'}`),
        );
        break;
      case 'agent.notice':
        this.#step(v, ev.data.step).appendChild(h('div', { class: 'step-notice' }, ev.data.message));
        break;
      case 'agent.usage':
        this.#step(v, ev.data.step).appendChild(
          h(
            'div',
            { class: 'step-usage' },
            `${ev.data.usage.input_tokens} in / ${ev.data.usage.output_tokens} out tokens · ${formatMs(ev.data.duration_ms)}`,
          ),
        );
        break;
      case 'agent.finished': {
        const r = ev.data.result;
        v.el.dataset.state = 'finished';
        v.status.textContent = r.stop_reason;
        v.stop.hidden = true;
        v.approval.hidden = true;
        v.el.appendChild(
          h(
            'div',
            { class: `agent-final ${r.ok ? 'ok' : 'failed'}` },
            r.answer !== undefined ? h('div', { class: 'agent-answer' }, r.answer) : null,
            h('div', { class: 'agent-message' }, r.message),
            h('button', { class: 'agent-continue', onclick: this.onHandOver }, 'Continue by hand'),
          ),
        );
        break;
      }
    }
  }
}
