/**
 * `run_agent`: the agent loop (../../agent/loop.ts) as an MCP tool. A model
 * writes and runs code in a session owned by the caller's principal until it
 * answers or a budget stops it; each step is reported as progress, and
 * cancelling the request stops the model call and kills the running code.
 *
 * Offered only when the server enables it (settings `agent.enabled`): it
 * spends the host's model keys, which come from the host environment only.
 * The caller picks a model string, so without an allow list (`agent.models`)
 * only the hosted providers with their default key variables are accepted: a
 * caller-chosen URL (`openai-compatible:`) or key variable (`@VAR`) could send
 * a host secret to a server of the caller's choosing.
 *
 * Approval over MCP is `auto` or `deny-network-tools`: `ask` needs someone to
 * answer mid-run, and elicitation on 2026-07-28 is multi-round-trip (the call
 * ends with input_required and is re-sent), which cannot pause a running loop;
 * so it is refused rather than silently approved. Upstream tools under Code
 * Mode's requireApproval are therefore never called here.
 */
import { z } from 'zod';
import type { AgentEvent, AgentResult } from '../../agent/contract.js';
import type { CodeModeTools } from '../../agent/loop.js';
import { parseModelString } from '../../agent/model-string.js';
import type { CodeModeRuntime } from '../../codemode/codemode.js';
import type { CodeModeLimits } from '../../codemode/isolate-executor.js';
import { AppError } from '../../errors.js';
import type { OutputChunk } from '../../sandbox/executor.js';
import { createProgressReporter } from '../progress-reporter.js';
import { formatRunReply } from './code-mode.js';
import { defineTool } from './define-tool.js';
import { text, type ToolEnv } from './env.js';
import { language, sessionId } from './schemas.js';

/** What a server offering run_agent is configured with. */
export interface AgentToolConfig {
  /** Model strings callers may use; empty: hosted providers with their default key variables only. */
  models: readonly string[];
  /** Where provider keys (and *_BASE_URL) come from: the host's environment, never the caller. */
  env: Record<string, string | undefined>;
  /** Code Mode's tools for the agent, when upstream servers are configured. */
  codeMode?: CodeModeTools;
  fetch?: typeof globalThis.fetch;
}

/** Throws FORBIDDEN unless the server allows this model string. Pure. */
export function checkModelAllowed(model: string, allowed: readonly string[]): void {
  const wanted = model.trim();
  if (allowed.length > 0) {
    if (allowed.some((m) => m.trim() === wanted)) return;
    throw new AppError('FORBIDDEN', `model "${wanted}" is not allowed here; allowed: ${allowed.join(', ')}`, {
      argument: 'model',
    });
  }
  const spec = parseModelString(wanted);
  const defaultKey = spec.provider === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY';
  if (spec.provider === 'openai-compatible' || spec.apiKeyEnv !== defaultKey) {
    throw new AppError(
      'FORBIDDEN',
      `model "${wanted}": without an allow list (settings agent.models) only anthropic:MODEL and openai:MODEL are accepted, ` +
        'since a caller-chosen URL or key variable could send a host key elsewhere',
      { argument: 'model' },
    );
  }
}

/** One short line per event worth reporting as progress, or undefined. */
export function stepMessage(e: AgentEvent, lang: string): string | undefined {
  switch (e.type) {
    case 'step_start':
      return `step ${e.step}: asking the model`;
    case 'result': {
      const what =
        e.tool === 'run_code'
          ? `ran ${lang}`
          : e.tool === 'final_answer'
            ? 'final answer'
            : e.tool === 'run_code_mode'
              ? 'ran Code Mode'
              : e.tool;
      return `step ${e.step}: ${what}, ${e.status}`;
    }
    case 'retry':
      return `step ${e.step}: provider error, retry ${e.attempt + 1} in ${Math.round(e.delayMs / 100) / 10} s`;
    case 'approval':
      return e.approved ? undefined : `step ${e.step}: ${e.tool} not approved`;
    default:
      return undefined;
  }
}

const RUN_AGENT_OUTPUT = z.object({
  ok: z.boolean().describe('True when the model gave a final answer (and verification passed, if asked).'),
  stop_reason: z.string().describe('final_answer, max_steps, max_cost, max_wall_time, stuck, cancelled, ...'),
  answer: z.string().optional(),
  message: z.string().describe('Why the run ended, in a sentence.'),
  steps: z.number(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  cost_usd: z.number().nullable().describe('Estimated cost, or null when the model has no known price.'),
  duration_ms: z.number(),
  session_id: z.string().describe('The session the code ran in (kept open: inspect its files and history).'),
  verification: z.record(z.string(), z.unknown()).optional(),
});

export const runAgentTool = defineTool({
  name: 'run_agent',
  title: 'Run the coding agent',
  description:
    'Give a task to a model that writes and runs code in a sandboxed session until it answers: it sees each ' +
    "run's output and errors and fixes its own mistakes. Returns the answer, why it stopped, steps, tokens and cost, " +
    'and the session id (its files stay there). Progress reports each step. Costs the server operator money: keep budgets small.',
  input: z.object({
    task: z.string().min(1).max(100_000).describe('What to do, e.g. "the mean of column b in data.csv".'),
    model: z.string().min(3).max(500).describe('Model string, e.g. "anthropic:claude-sonnet-4-5" or "openai:gpt-4.1".'),
    session_id: sessionId
      .optional()
      .describe('Work in this existing session (its files and variables). Default: a new one.'),
    language: language.optional().describe('Language of a new session (default python).'),
    max_steps: z.number().int().min(1).max(100).optional().describe('Model calls at most (default 20).'),
    budget_usd: z.number().positive().max(100).optional().describe('Stop when the estimated cost reaches this.'),
    verify: z.boolean().optional().describe('Also have the model write tests, run them and report them.'),
    approval: z
      .enum(['auto', 'deny-network-tools'])
      .optional()
      .describe('auto (default), or deny-network-tools to refuse Code Mode calls to upstream servers.'),
  }),
  output: RUN_AGENT_OUTPUT,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  offered: (env: ToolEnv) => env.agent !== undefined,
  async handler(args, call, env: ToolEnv) {
    const config = env.agent;
    if (!config) throw new AppError('FORBIDDEN', 'run_agent is not enabled on this server (settings agent.enabled)');
    checkModelAllowed(args.model, config.models);
    const { runAgent } = await import('../../agent/loop.js');
    let lang: string = args.language ?? 'python';
    if (args.session_id !== undefined) {
      const info = env.sessions.get(args.session_id, env.owner);
      if (args.language !== undefined && args.language !== info.language)
        throw new AppError(
          'INVALID_ARGUMENT',
          `session ${args.session_id} runs ${info.language}, not ${args.language}`,
          {
            argument: 'language',
          },
        );
      lang = info.language;
    }
    const progress = createProgressReporter({
      progressToken: call.progressToken,
      send: (n) => call.notify(n),
      messageChars: 200,
      ...(env.progressIntervalMs === undefined ? {} : { intervalMs: env.progressIntervalMs }),
    });
    const line = (s: string): OutputChunk => ({ stream: 'stdout', text: `${s}\n` });
    let result: AgentResult;
    try {
      result = await runAgent({
        task: args.task,
        model: args.model,
        env: config.env,
        ...(config.fetch ? { fetch: config.fetch } : {}),
        ...(args.session_id !== undefined
          ? { session: { service: env.sessions, id: args.session_id, owner: env.owner } }
          : { sessionService: env.sessions, owner: env.owner, language: args.language ?? 'python', keepSession: true }),
        budgets: {
          ...(args.max_steps !== undefined ? { maxSteps: args.max_steps } : {}),
          ...(args.budget_usd !== undefined ? { maxCostUsd: args.budget_usd } : {}),
        },
        approval: args.approval ?? 'auto',
        ...(config.codeMode ? { codeMode: config.codeMode } : {}),
        verify: args.verify ?? false,
        signal: call.signal,
        onEvent: (e) => {
          const m = stepMessage(e, lang);
          if (m !== undefined) progress.onOutput(line(m));
        },
      });
    } finally {
      progress.stop();
    }
    const structured = {
      ok: result.ok,
      stop_reason: result.stopReason,
      ...(result.answer !== undefined ? { answer: result.answer } : {}),
      message: result.message,
      steps: result.steps,
      input_tokens: result.usage.inputTokens,
      output_tokens: result.usage.outputTokens,
      cost_usd: result.usage.costUsd ?? null,
      duration_ms: result.durationMs,
      session_id: result.sessionId,
      ...(result.verification ? { verification: { ...result.verification } } : {}),
    };
    const cost = result.usage.costUsd === undefined ? 'cost unknown' : `$${result.usage.costUsd.toFixed(4)}`;
    const head = result.answer !== undefined ? result.answer : `stopped (${result.stopReason}): ${result.message}`;
    return {
      content: text(
        `${head}\n\n${result.steps} steps, ${result.usage.inputTokens} tokens in / ${result.usage.outputTokens} out, ${cost}, ` +
          `${(result.durationMs / 1000).toFixed(1)} s, session ${result.sessionId}`,
      ),
      structuredContent: structured,
      ...(result.ok ? {} : { isError: true }),
    };
  },
});

/** The slice of the Code Mode runtime the agent uses (the one the MCP server's run_code_mode uses too). */
export type CodeModeRuntimeLike = Pick<CodeModeRuntime, 'run' | 'searchTools' | 'catalog' | 'callTool' | 'upstream'>;

/**
 * Code Mode's tools for the agent over the same runtime the MCP server's
 * `run_code_mode` uses, with its reply format. A tool under requireApproval is
 * callable only in a run the agent's approver allowed it for.
 */
export function codeModeAgentTools(
  runtime: CodeModeRuntimeLike,
  options: { limits?: Partial<CodeModeLimits>; replyChars?: number } = {},
): CodeModeTools {
  return {
    async runCodeMode(code, signal, approved = []) {
      const r = await runtime.run({
        language: 'typescript',
        code,
        ...(options.limits ? { limits: options.limits } : {}),
        ...(signal ? { signal } : {}),
        ...(approved.length ? { approvedTools: approved } : {}),
      });
      return { ok: r.status === 'ok', text: formatRunReply(r, options.replyChars ?? 8000) };
    },
    searchTools: (query) => runtime.searchTools(query, 'signatures'),
    async toolsNeedingApproval(code) {
      const catalog = await runtime.catalog();
      const esc = (s: string) => s.replace(/[$]/g, '\\$');
      return catalog.entries
        .filter((e) => e.needsApproval)
        .filter((e) =>
          new RegExp(
            `\\bcodemode\\s*\\.\\s*${esc(e.server.identifier)}\\s*\\.\\s*${esc(e.tool.identifier)}(?![\\w$])`,
          ).test(code),
        )
        .map((e) => `${e.server.identifier}.${e.tool.identifier}`);
    },
  };
}
