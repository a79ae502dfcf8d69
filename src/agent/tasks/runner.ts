/**
 * Runs the task suite with the agent loop against any model: a model string
 * (a real provider when its key is in the environment) or a resolved model,
 * and, for the bench and the tests, the scripted model server replaying each
 * task's known-good solution, so the loop and the checkers are measured
 * without a provider. Each task runs in a fresh session, checked, then closed.
 *
 *   node --no-node-snapshot --import tsx src/agent/tasks/runner.ts --model anthropic:claude-sonnet-4-5 [--only id,id]
 */
import type { LanguageModel } from 'ai';
import type { SessionService } from '../../sessions/contract.js';
import type { AgentResult, Budgets } from '../contract.js';
import { runAgent } from '../loop.js';
import type { ScriptedTurn } from '../scripted-server.js';
import type { AgentTask, TaskWorkspace } from './contract.js';
import { AGENT_TASKS } from './tasks.js';

export interface TaskOutcome {
  id: string;
  passed: boolean;
  /** Why the checker (or the run) failed. */
  reason?: string;
  stopReason: AgentResult['stopReason'];
  steps: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | undefined;
  durationMs: number;
}

export interface SuiteOptions {
  model: Exclude<LanguageModel, string> | string;
  sessions: SessionService;
  env?: Record<string, string | undefined>;
  fetch?: typeof globalThis.fetch;
  tasks?: readonly AgentTask[];
  budgets?: Budgets;
  /** Called before each task (e.g. to script the model server for it). */
  beforeTask?: (task: AgentTask) => void;
  onOutcome?: (outcome: TaskOutcome) => void;
}

/** The turns a correct model would send for a task: each solution step as run_code, then final_answer. */
export function scriptedSolution(task: AgentTask): ScriptedTurn[] {
  return [
    ...task.solution.code.map((code) => ({ tools: [{ name: 'run_code', input: { code } }] })),
    { tools: [{ name: 'final_answer', input: { answer: task.solution.answer } }] },
  ];
}

/** A session's workspace as a checker sees it: text files, undefined when missing. */
export function sessionWorkspace(sessions: SessionService, id: string, owner?: string): TaskWorkspace {
  return {
    async read(path) {
      try {
        return new TextDecoder().decode(await sessions.readFile(id, path, owner));
      } catch {
        // A missing or unreadable file is what the checker reports ("was not written").
        return undefined;
      }
    },
  };
}

export async function runTaskSuite(
  options: SuiteOptions,
): Promise<{ passed: number; total: number; outcomes: TaskOutcome[] }> {
  const outcomes: TaskOutcome[] = [];
  for (const task of options.tasks ?? AGENT_TASKS) {
    options.beforeTask?.(task);
    const result = await runAgent({
      task: task.task,
      model: options.model,
      ...(options.env ? { env: options.env } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      sessionService: options.sessions,
      language: 'python',
      keepSession: true,
      files: task.files,
      budgets: { maxSteps: 12, ...options.budgets },
    });
    let reason: string | undefined;
    try {
      reason = result.ok
        ? await task.check(result.answer ?? '', sessionWorkspace(options.sessions, result.sessionId))
        : `no answer: ${result.message}`;
    } finally {
      await options.sessions.close(result.sessionId).catch(() => {
        // Already gone (idle timeout, shutdown): nothing left to free.
      });
    }
    const outcome: TaskOutcome = {
      id: task.id,
      passed: reason === undefined,
      ...(reason !== undefined ? { reason } : {}),
      stopReason: result.stopReason,
      steps: result.steps,
      inputTokens: result.usage.inputTokens,
      outputTokens: result.usage.outputTokens,
      costUsd: result.usage.costUsd,
      durationMs: result.durationMs,
    };
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  }
  return { passed: outcomes.filter((o) => o.passed).length, total: outcomes.length, outcomes };
}

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { model: { type: 'string' }, only: { type: 'string' } } });
  const model = values.model ?? process.env['CODEMODE_AGENT_MODEL'];
  if (!model) {
    console.error('give --model (e.g. anthropic:claude-sonnet-4-5) with its key in the environment');
    process.exit(2);
  }
  const only = values.only?.split(',');
  const { openSessionRuntime } = await import('../../cli/session-runtime.js');
  const runtime = await openSessionRuntime({ env: { ...process.env, CODEMODE_STORE: 'off' }, cwd: process.cwd() });
  try {
    const r = await runTaskSuite({
      model,
      sessions: runtime.sessions,
      ...(only ? { tasks: AGENT_TASKS.filter((t) => only.includes(t.id)) } : {}),
      onOutcome: (o) =>
        console.log(
          `${o.passed ? 'PASS' : 'FAIL'} ${o.id}: ${o.steps} steps, ${o.inputTokens}/${o.outputTokens} tokens` +
            `${o.costUsd !== undefined ? `, $${o.costUsd.toFixed(4)}` : ''}${o.reason ? ` (${o.reason})` : ''}`,
        ),
    });
    console.log(`${r.passed}/${r.total} tasks passed`);
    process.exitCode = r.passed === r.total ? 0 : 1;
  } finally {
    await runtime.close();
  }
}
