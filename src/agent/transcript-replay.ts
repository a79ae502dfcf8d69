/**
 * Replay: drive the loop again from a record, offline. The recorded model turns
 * are played back by a small scripted LanguageModelV3 (no provider, no key);
 * the actions run again for real in a fresh session; then the two transcripts
 * are compared action by action. A replay tells whether a run is reproducible
 * (same statuses, same outcome) with today's sandbox and loop.
 */
import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
} from '@ai-sdk/provider';
import type { SessionService } from '../sessions/contract.js';
import type { AgentEvent, Budgets, StopReason } from './contract.js';
import { runAgent } from './loop.js';
import { parseModelString } from './model-string.js';
import { priceOf, type Price } from './pricing.js';
import { TranscriptRecorder, type AgentRunRecord, type TranscriptStep } from './transcript.js';

export interface ReplayOptions {
  sessionService: SessionService;
  owner?: string;
  signal?: AbortSignal;
  onEvent?: (e: AgentEvent) => void;
}

export interface ReplayReport {
  matches: boolean;
  /** One line per difference, e.g. "step 2, run_code: recorded ok, replayed error". */
  differences: string[];
  /** Why some things were not compared (timing-dependent stops). */
  notes: string[];
  replay: AgentRunRecord;
}

/** Stops that depend on the clock or the caller: the replay stops at the same step instead. */
const TIMED: ReadonlySet<StopReason | 'error'> = new Set(['max_wall_time', 'cancelled']);

export async function replayRun(record: AgentRunRecord, o: ReplayOptions): Promise<ReplayReport> {
  const notes: string[] = [];
  const budgets: Budgets = { ...record.budgets };
  delete budgets.maxWallMs;
  const lastCompleted = record.transcript.filter((s) => s.completed).length;
  const ac = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, ac.signal]) : ac.signal;
  if (TIMED.has(record.stopReason)) {
    notes.push(
      `the recorded run stopped on ${record.stopReason}: the replay stops after step ${lastCompleted} instead`,
    );
    budgets.maxSteps = lastCompleted;
  }
  const recorder = new TranscriptRecorder({
    task: record.task,
    owner: o.owner ?? record.owner,
    model: `replay:${record.model}`,
    language: record.language,
    mode: record.mode,
    approval: record.approval,
    verify: record.verify,
    budgets,
  });
  // Approvals are answered as they were recorded, in order.
  const decisions = record.transcript.flatMap((s) =>
    s.actions.filter((a) => a.approved !== undefined).map((a) => a.approved === true),
  );
  const price = priceOfModel(record.model);
  const result = await runAgent({
    task: record.task,
    model: scriptedModel(record.transcript, record.stopReason),
    sessionService: o.sessionService,
    language: record.language,
    ...(o.owner !== undefined ? { owner: o.owner } : {}),
    files: record.files.map((f) => ({
      path: f.path,
      content: f.encoding === 'base64' ? new Uint8Array(Buffer.from(f.content, 'base64')) : f.content,
    })),
    mode: record.mode,
    budgets,
    approval: record.approval,
    approve: () => decisions.shift() ?? false,
    verify: record.verify,
    ...(price ? { price } : {}),
    signal,
    retry: { retries: 0 },
    onEvent: (e) => {
      recorder.onEvent(e);
      o.onEvent?.(e);
    },
  });
  const replay = recorder.finish(result);
  const differences = compareRuns(record, replay, TIMED.has(record.stopReason));
  return { matches: differences.length === 0, differences, notes, replay };
}

/** What differs between two runs: outcome, steps, and each action's tool and status. */
export function compareRuns(a: AgentRunRecord, b: AgentRunRecord, timed = false): string[] {
  const out: string[] = [];
  if (!timed && a.stopReason !== b.stopReason) out.push(`outcome: recorded ${a.stopReason}, replayed ${b.stopReason}`);
  if ((a.answer ?? '') !== (b.answer ?? ''))
    out.push(`answer: recorded ${JSON.stringify(a.answer ?? null)}, replayed ${JSON.stringify(b.answer ?? null)}`);
  // After a timed stop the step that was cut short is not compared.
  const recorded = timed ? a.transcript.filter((s) => s.completed) : a.transcript;
  const steps = Math.max(recorded.length, b.transcript.length);
  for (let i = 0; i < steps; i++) {
    const x = recorded[i];
    const y = b.transcript[i];
    if (!x || !y) {
      out.push(`step ${i + 1}: only in the ${x ? 'recorded' : 'replayed'} run`);
      continue;
    }
    const n = Math.max(x.actions.length, y.actions.length);
    for (let k = 0; k < n; k++) {
      const p = x.actions[k];
      const q = y.actions[k];
      if (!p || !q) {
        out.push(`step ${x.step}: action ${k + 1} (${(p ?? q)?.tool}) only in the ${p ? 'recorded' : 'replayed'} run`);
        continue;
      }
      if (p.tool !== q.tool) out.push(`step ${x.step}: recorded ${p.tool}, replayed ${q.tool}`);
      else if ((p.status ?? 'none') !== (q.status ?? 'none'))
        out.push(`step ${x.step}, ${p.tool}: recorded ${p.status ?? 'no result'}, replayed ${q.status ?? 'no result'}`);
    }
  }
  return out;
}

function priceOfModel(model: string): Price | undefined {
  try {
    const spec = parseModelString(model);
    return priceOf(spec.provider, spec.modelId);
  } catch {
    // A model string this version cannot parse has no known price: cost stays unknown, as it may have been.
    return undefined;
  }
}

/** A model that answers each call with the next recorded turn; a step that had no reply fails as it did. */
export function scriptedModel(steps: TranscriptStep[], stopReason: StopReason | 'error'): LanguageModelV3 {
  let call = 0;
  return {
    specificationVersion: 'v3',
    provider: 'replay',
    modelId: 'recorded',
    supportedUrls: {},
    doGenerate: () => Promise.reject(new Error('replay streams only')),
    doStream: (_options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> => {
      const s = steps[call++];
      if (!s || (!s.completed && stopReason === 'provider_error'))
        // Not retried: a 400-like error ends the replay as provider_error, as the recorded run ended.
        return Promise.reject(
          Object.assign(new Error(s ? 'the recorded model call failed' : `the record has no model turn ${call}`), {
            statusCode: 400,
            responseBody: s ? 'recorded provider error' : 'no recorded turn',
          }),
        );
      const parts: LanguageModelV3StreamPart[] = [{ type: 'stream-start', warnings: [] }];
      if (s.text) {
        parts.push({ type: 'text-start', id: 't' });
        parts.push({ type: 'text-delta', id: 't', delta: s.text });
        parts.push({ type: 'text-end', id: 't' });
      }
      for (const [k, t] of s.toolCalls.entries())
        parts.push({
          type: 'tool-call',
          toolCallId: `replay-${call}-${k}`,
          toolName: t.tool,
          input: typeof t.input === 'string' ? t.input : JSON.stringify(t.input ?? {}),
        });
      parts.push({
        type: 'finish',
        usage: {
          inputTokens: { total: s.inputTokens, noCache: s.inputTokens, cacheRead: 0, cacheWrite: 0 },
          outputTokens: { total: s.outputTokens, text: s.outputTokens, reasoning: 0 },
        },
        finishReason: { unified: s.toolCalls.length ? 'tool-calls' : 'stop', raw: undefined },
      });
      return Promise.resolve({
        stream: new ReadableStream<LanguageModelV3StreamPart>({
          start(controller) {
            for (const p of parts) controller.enqueue(p);
            controller.close();
          },
        }),
      });
    },
  };
}
