/**
 * Loop control as pure functions over what happened so far: budgets, the
 * stuck detector, and the provider-error retry policy. No clock, no I/O: the
 * loop passes the time and the records in.
 */
import type { ActionRecord, Budgets, StopReason, Usage } from './contract.js';

export const DEFAULT_MAX_STEPS = 20;

export interface LoopState {
  steps: number;
  usage: Usage;
  startedAt: number;
  now: number;
}

export interface Stop {
  reason: StopReason;
  message: string;
}

/** The budget the run has used up before its next step, or null to go on. */
export function checkBudgets(state: LoopState, budgets: Budgets): Stop | null {
  const maxSteps = budgets.maxSteps ?? DEFAULT_MAX_STEPS;
  if (state.steps >= maxSteps)
    return { reason: 'max_steps', message: `stopped after ${state.steps} steps: the step budget is ${maxSteps}` };
  if (budgets.maxInputTokens !== undefined && state.usage.inputTokens >= budgets.maxInputTokens)
    return {
      reason: 'max_input_tokens',
      message: `stopped: ${state.usage.inputTokens} input tokens used, the budget is ${budgets.maxInputTokens}`,
    };
  if (budgets.maxOutputTokens !== undefined && state.usage.outputTokens >= budgets.maxOutputTokens)
    return {
      reason: 'max_output_tokens',
      message: `stopped: ${state.usage.outputTokens} output tokens used, the budget is ${budgets.maxOutputTokens}`,
    };
  if (budgets.maxCostUsd !== undefined && (state.usage.costUsd ?? 0) >= budgets.maxCostUsd)
    return {
      reason: 'max_cost',
      message: `stopped: $${(state.usage.costUsd ?? 0).toFixed(4)} spent, the budget is $${budgets.maxCostUsd}`,
    };
  if (budgets.maxWallMs !== undefined && state.now - state.startedAt >= budgets.maxWallMs)
    return {
      reason: 'max_wall_time',
      message: `stopped after ${((state.now - state.startedAt) / 1000).toFixed(1)} s: the time budget is ${(budgets.maxWallMs / 1000).toFixed(1)} s`,
    };
  return null;
}

/** Code that deliberately waits (sleeps, polls): repeating it is patience, not being stuck. */
export function isWaitingAction(code: string): boolean {
  return /\b(time\.sleep|asyncio\.sleep|sleep\s+\d|sleep\(|setTimeout\s*\(|wait_for|waitFor|poll(ing)?\b|\.wait\(\))/.test(
    code,
  );
}

/** Normalised action text for comparison: whitespace and comments do not make an action new. */
export function actionSignature(tool: string, input: string): string {
  const body = input
    .split('\n')
    .map((l) => l.replace(/\s+#.*$|^\s*#.*$|\s+\/\/.*$|^\s*\/\/.*$/, '').trim())
    .filter(Boolean)
    .join('\n');
  return `${tool}\n${body}`;
}

export interface StuckThresholds {
  /** The same failing action this many times in a row: ask to re-plan (default 2). */
  sameFailure: number;
  /** The same error from different code this many times in a row (default 4). */
  sameError: number;
  /** The same successful action with the same output this many times in a row (default 4). */
  sameSuccess: number;
}

const DEFAULT_STUCK: StuckThresholds = { sameFailure: 2, sameError: 4, sameSuccess: 4 };

export type StuckVerdict = { kind: 'ok' } | { kind: 'replan'; message: string } | { kind: 'stop'; message: string };

/**
 * Is the agent going round in circles? `replanAt` is the number of actions
 * there were when the loop last asked for a re-plan. The first time a streak
 * crosses a threshold the verdict is `replan`; if the same streak grows after
 * that, `stop`. Waiting actions are skipped: they neither count nor break a streak.
 */
export function assessStuck(
  actions: readonly ActionRecord[],
  replanAt: number | undefined,
  thresholds: StuckThresholds = DEFAULT_STUCK,
): StuckVerdict {
  const idx: number[] = [];
  for (let i = 0; i < actions.length; i++) if (!actions[i]?.waiting) idx.push(i);
  if (!idx.length) return { kind: 'ok' };
  const last = actions[idx[idx.length - 1] ?? 0];
  if (!last) return { kind: 'ok' };
  // Streak of identical actions with identical outcomes, and of the same failure whatever the code.
  let same = 0;
  let sameStart = idx.length;
  for (let k = idx.length - 1; k >= 0; k--) {
    const a = actions[idx[k] ?? 0];
    if (!a || a.signature !== last.signature || a.outcome !== last.outcome) break;
    same++;
    sameStart = idx[k] ?? 0;
  }
  let err = 0;
  let errStart = idx.length;
  if (last.failed)
    for (let k = idx.length - 1; k >= 0; k--) {
      const a = actions[idx[k] ?? 0];
      if (!a || !a.failed || a.outcome !== last.outcome) break;
      err++;
      errStart = idx[k] ?? 0;
    }
  let hit: { start: number; what: string } | null = null;
  if (last.failed && same >= thresholds.sameFailure)
    hit = { start: sameStart, what: `the same action failed ${same} times in a row with ${last.outcome}` };
  else if (last.failed && err >= thresholds.sameError)
    hit = { start: errStart, what: `${err} actions in a row failed with the same error (${last.outcome})` };
  else if (!last.failed && same >= thresholds.sameSuccess)
    hit = { start: sameStart, what: `the same action ran ${same} times in a row with the same output` };
  if (!hit) return { kind: 'ok' };
  if (replanAt !== undefined && replanAt > hit.start && actions.length > replanAt)
    return { kind: 'stop', message: `stuck: ${hit.what}, even after being asked to change approach` };
  return {
    kind: 'replan',
    message: `You seem stuck: ${hit.what}. Stop repeating it. Re-read the error, say what you now believe the cause is, and try a different approach (or give your final answer if the task cannot be done).`,
  };
}

// ---- provider errors ------------------------------------------------------------------------

export interface ProviderErrorInfo {
  retryable: boolean;
  /** What the server asked for (retry-after), in ms. */
  retryAfterMs?: number;
  /** One readable line. */
  message: string;
  /** Whether the server rejected the tool definitions (then text mode may work). */
  toolsUnsupported: boolean;
}

interface ErrorShape {
  name?: string;
  message?: string;
  statusCode?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  isRetryable?: boolean;
  cause?: unknown;
  code?: string;
}

const MALFORMED = new Set([
  'AI_JSONParseError',
  'AI_TypeValidationError',
  'AI_InvalidResponseDataError',
  'AI_NoContentGeneratedError',
  'AI_InvalidToolInputError',
  'AI_NoSuchToolError',
  'AI_EmptyResponseBodyError',
]);

/** What a provider failure means for the loop: retry or not, after how long, and how to say it. */
export function classifyProviderError(error: unknown): ProviderErrorInfo {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as ErrorShape;
  const cause = (typeof e.cause === 'object' && e.cause !== null ? e.cause : {}) as ErrorShape;
  const body = (e.responseBody ?? '').slice(0, 300).replace(/\s+/g, ' ');
  const toolsUnsupported =
    e.statusCode !== undefined &&
    e.statusCode >= 400 &&
    e.statusCode < 500 &&
    /tool|function/i.test(body) &&
    /support|not allowed|unknown|unrecognized|invalid/i.test(body);
  if (e.statusCode !== undefined) {
    const status = e.statusCode;
    const retryAfterMs = parseRetryAfter(e.responseHeaders ?? {});
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
    const what =
      status === 429
        ? 'rate limited (429)'
        : status >= 500
          ? `server error (${status})`
          : `request rejected (${status})`;
    return {
      retryable,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      message: `the model provider answered: ${what}${body ? `: ${body}` : ''}`,
      toolsUnsupported,
    };
  }
  if (e.name === 'TimeoutError' || cause.name === 'TimeoutError')
    return { retryable: true, message: 'the model request timed out', toolsUnsupported: false };
  if (e.name && MALFORMED.has(e.name))
    return {
      retryable: true,
      message: `the model sent a malformed response (${e.name.replace(/^AI_/, '')}): ${(e.message ?? '').slice(0, 200)}`,
      toolsUnsupported: false,
    };
  const netCode = cause.code ?? e.code;
  if (
    (netCode && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|UND_ERR_\w+)$/.test(netCode)) ||
    /fetch failed|socket hang up|terminated/i.test(e.message ?? '')
  )
    return {
      retryable: true,
      message: `the model provider could not be reached (${netCode ?? e.message})`,
      toolsUnsupported: false,
    };
  return { retryable: false, message: `the model call failed: ${e.message ?? String(error)}`, toolsUnsupported: false };
}

/** retry-after-ms, or retry-after as seconds or an HTTP date. */
export function parseRetryAfter(headers: Record<string, string>, now = Date.now()): number | undefined {
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const ms = Number(lower['retry-after-ms']);
  if (lower['retry-after-ms'] && Number.isFinite(ms) && ms >= 0) return ms;
  const ra = lower['retry-after'];
  if (!ra) return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

export interface RetryPolicy {
  /** Attempts after the first (default 4). */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 500, maxDelayMs: 30_000 };

/** Delay before retry `attempt` (1-based): the server's retry-after when given, else exponential with jitter. */
export function retryDelay(
  attempt: number,
  info: ProviderErrorInfo,
  policy: RetryPolicy,
  random = Math.random,
): number {
  if (info.retryAfterMs !== undefined) return Math.min(info.retryAfterMs, policy.maxDelayMs);
  const exp = policy.baseDelayMs * 2 ** (attempt - 1);
  return Math.min(policy.maxDelayMs, Math.round(exp * (0.75 + random() * 0.5)));
}
