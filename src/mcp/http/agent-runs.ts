/**
 * Agent runs started from the workbench: each runs the agent loop
 * (src/agent) in an existing session, publishes its events on the
 * session's live channel, waits on the API for approvals under `ask`, and
 * can be cancelled. Runs belong to the principal that started them; the
 * model is one of the server's configured model strings, never the caller's
 * (a model string names where the server's key is sent).
 */
import { randomUUID } from 'node:crypto';
import type { AgentEvent, AgentResult, ApprovalRequest } from '../../agent/contract.js';
import { AppError } from '../../errors.js';
import type { SessionService } from '../../sessions/contract.js';
import type { AgentResultJson, AgentRunJson, PendingApprovalJson, StartAgentRequest } from './api-contract.js';
import type { LiveChannel, LiveHub } from './live.js';
import { ApiError, errorResponse } from './wire.js';

export interface AgentRunsOptions {
  sessions: SessionService;
  hub: LiveHub;
  /** Model strings callers may pick; the first is the default. */
  models: string[];
  /** Where the providers' keys and base URLs come from. */
  env: Record<string, string | undefined>;
  /** Runs one principal may have going at once (default 2). */
  maxRunning?: number;
  /** Finished runs kept for GET (default 100). */
  keepFinished?: number;
}

interface Run {
  id: string;
  owner: string;
  sessionId: string;
  model: string;
  task: string;
  abort: AbortController;
  pending: { request: PendingApprovalJson; answer: (approved: boolean) => void } | null;
  result: AgentResultJson | null;
}

function resultJson(r: AgentResult): AgentResultJson {
  return {
    ok: r.ok,
    stop_reason: r.stopReason,
    ...(r.answer === undefined ? {} : { answer: r.answer }),
    message: r.message,
    steps: r.steps,
    usage: {
      input_tokens: r.usage.inputTokens,
      output_tokens: r.usage.outputTokens,
      cost_usd: r.usage.costUsd ?? null,
    },
    duration_ms: Math.round(r.durationMs),
  };
}

/** The session service as the agent sees it: its runs are reported with source "agent". */
function asAgent(sessions: SessionService): SessionService {
  return new Proxy(sessions, {
    get(target, prop) {
      if (prop === 'execute') {
        return ((id, code, o) => target.execute(id, code, { ...o, source: 'agent' })) as SessionService['execute'];
      }
      if (prop === 'runScript') {
        return ((id, p, args, o) =>
          target.runScript(id, p, args, { ...o, source: 'agent' })) as SessionService['runScript'];
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export class AgentRuns {
  readonly #runs = new Map<string, Run>();
  readonly #maxRunning: number;
  readonly #keepFinished: number;

  constructor(private readonly options: AgentRunsOptions) {
    this.#maxRunning = options.maxRunning ?? 2;
    this.#keepFinished = options.keepFinished ?? 100;
  }

  get models(): string[] {
    return [...this.options.models];
  }

  start(sessionId: string, owner: string, body: StartAgentRequest): AgentRunJson {
    const channel = this.options.hub.channel(sessionId, owner);
    if (this.options.models.length === 0) {
      throw new AppError(
        'INVALID_CONFIG',
        'no agent model is configured on this server: start it with CODEMODE_AGENT_MODEL (or CODEMODE_AGENT_MODELS) set',
      );
    }
    const model = body.model ?? this.options.models[0] ?? '';
    if (!this.options.models.includes(model)) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `model must be one of the server's models: ${this.options.models.join(', ')}`,
        {
          argument: 'model',
        },
      );
    }
    const running = [...this.#runs.values()].filter((r) => r.owner === owner && r.result === null).length;
    if (running >= this.#maxRunning) {
      throw new ApiError(
        'RATE_LIMITED',
        `${running} agent runs are already going; at most ${this.#maxRunning} at once`,
        'Wait for one to finish, or cancel one.',
      );
    }
    const run: Run = {
      id: randomUUID(),
      owner,
      sessionId: channel.sessionId,
      model,
      task: body.task,
      abort: new AbortController(),
      pending: null,
      result: null,
    };
    this.#runs.set(run.id, run);
    channel.publish('agent.started', { run_id: run.id, model, task: body.task });
    void this.#drive(run, channel, body);
    return this.json(run);
  }

  get(runId: string, owner: string): AgentRunJson {
    return this.json(this.#lookup(runId, owner));
  }

  approve(runId: string, owner: string, approved: boolean): AgentRunJson {
    const run = this.#lookup(runId, owner);
    if (run.pending === null) {
      throw new AppError('INVALID_ARGUMENT', 'this run is not waiting for an approval', { argument: 'approve' });
    }
    run.pending.answer(approved);
    return this.json(run);
  }

  cancel(runId: string, owner: string): AgentRunJson {
    const run = this.#lookup(runId, owner);
    run.abort.abort();
    run.pending?.answer(false);
    return this.json(run);
  }

  close(): void {
    for (const run of this.#runs.values()) {
      run.abort.abort();
      run.pending?.answer(false);
    }
  }

  json(run: Run): AgentRunJson {
    return {
      run_id: run.id,
      session_id: run.sessionId,
      model: run.model,
      task: run.task,
      state: run.result === null ? 'running' : 'finished',
      pending_approval: run.pending?.request ?? null,
      result: run.result,
    };
  }

  #lookup(runId: string, owner: string): Run {
    const run = this.#runs.get(runId);
    if (run === undefined || run.owner !== owner) throw new AppError('NOT_FOUND', `agent run ${runId} not found`);
    return run;
  }

  async #drive(run: Run, channel: LiveChannel, body: StartAgentRequest): Promise<void> {
    const { runAgent } = await import('../../agent/loop.js');
    const approve = (request: ApprovalRequest): Promise<boolean> =>
      new Promise<boolean>((resolve) => {
        if (run.abort.signal.aborted) return resolve(false);
        const pending: PendingApprovalJson = {
          step: request.step,
          tool: request.tool,
          summary: request.summary,
          reason: request.reason,
        };
        run.pending = {
          request: pending,
          answer: (approved) => {
            run.pending = null;
            resolve(approved);
          },
        };
        channel.publish('agent.approval_request', { run_id: run.id, request: pending });
      });
    let result: AgentResultJson;
    try {
      const r = await runAgent({
        task: body.task,
        model: run.model,
        env: this.options.env,
        session: { service: asAgent(this.options.sessions), id: run.sessionId, owner: run.owner },
        keepSession: true,
        approval: body.approval ?? 'auto',
        approve,
        signal: run.abort.signal,
        ...(body.max_steps === undefined ? {} : { budgets: { maxSteps: body.max_steps } }),
        onEvent: (e) => this.#publish(run, channel, e),
      });
      result = resultJson(r);
    } catch (error) {
      const message = errorResponse(error).body.error.message;
      result = {
        ok: false,
        stop_reason: 'provider_error',
        message,
        steps: 0,
        usage: { input_tokens: 0, output_tokens: 0, cost_usd: null },
        duration_ms: 0,
      };
    }
    run.result = result;
    run.pending = null;
    if (!channel.closed) channel.publish('agent.finished', { run_id: run.id, result });
    this.#prune();
  }

  #publish(run: Run, channel: LiveChannel, e: AgentEvent): void {
    if (channel.closed) return;
    const run_id = run.id;
    switch (e.type) {
      case 'step_start':
        channel.publish('agent.step', { run_id, step: e.step });
        return;
      case 'text_delta':
        channel.publish('agent.text', { run_id, step: e.step, text: e.text });
        return;
      case 'code':
        channel.publish('agent.code', { run_id, step: e.step, tool: e.tool, language: e.language, code: e.code });
        return;
      case 'tool_call':
        channel.publish('agent.tool_call', { run_id, step: e.step, tool: e.tool, input: e.input });
        return;
      case 'result':
        channel.publish('agent.result', {
          run_id,
          step: e.step,
          tool: e.tool,
          ok: e.ok,
          status: e.status,
          observation: e.observation,
        });
        return;
      case 'approval':
        channel.publish('agent.approval', { run_id, step: e.step, tool: e.tool, approved: e.approved });
        return;
      case 'notice':
        channel.publish('agent.notice', { run_id, step: e.step, message: e.message });
        return;
      case 'retry':
        channel.publish('agent.notice', {
          run_id,
          step: e.step,
          message: `retrying the model call (attempt ${e.attempt}) in ${e.delayMs} ms: ${e.error}`,
        });
        return;
      case 'step_end':
        channel.publish('agent.usage', {
          run_id,
          step: e.step,
          usage: {
            input_tokens: e.usage.inputTokens,
            output_tokens: e.usage.outputTokens,
            cost_usd: e.usage.costUsd ?? null,
          },
          duration_ms: Math.round(e.durationMs),
        });
        return;
      // run_start is agent.started (published at once); approval_request is published by `approve`;
      // output_delta repeats the session's own output events; final is agent.finished.
      default:
        return;
    }
  }

  #prune(): void {
    const finished = [...this.#runs.values()].filter((r) => r.result !== null);
    for (const r of finished.slice(0, Math.max(0, finished.length - this.#keepFinished))) this.#runs.delete(r.id);
  }
}
