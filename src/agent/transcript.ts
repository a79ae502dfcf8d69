/**
 * Agent transcripts: what a run did, kept with its session. A recorder listens
 * to the loop's events (the loop stays pure and does not know it is recorded)
 * and builds one immutable record per run; stores keep records (SQLite in
 * src/store/agent-runs.ts, process memory here for --no-store).
 *
 * Invariant: a record never carries a key. Events are already redacted by the
 * loop; the recorder redacts the whole record again with the secrets it was
 * given (the resolved key, key-like environment values) before it is stored.
 */
import { AppError } from '../errors.js';
import type { Language } from '../sandbox/executor.js';
import type {
  ActionMode,
  ActionRecord,
  AgentEvent,
  AgentResult,
  ApprovalPolicy,
  Budgets,
  StopReason,
  Usage,
  VerificationReport,
} from './contract.js';

/** One action of a step: a tool call or fenced code, and what running it gave. */
export interface TranscriptAction {
  tool: string;
  /** The tool's input as the model sent it (absent for fenced code). */
  input?: unknown;
  language?: Language;
  code?: string;
  /** stdout and stderr as they streamed (capped). */
  output: string;
  ok?: boolean;
  status?: string;
  /** What the model was told about it. */
  observation?: string;
  approved?: boolean;
}

/** One model call and what followed from it. */
export interface TranscriptStep {
  step: number;
  /** The model's text, as received. */
  text: string;
  /** The model's tool calls, as received. */
  toolCalls: { tool: string; input: unknown }[];
  actions: TranscriptAction[];
  notices: string[];
  retries: number;
  inputTokens: number;
  outputTokens: number;
  durationMs: number;
  /** False when the step never got a reply (provider error, cancel). */
  completed: boolean;
}

/** The conversation, in order: the task, the model's turns, and what it was told back. */
export interface TranscriptMessage {
  role: 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls?: { tool: string; input: unknown }[];
  tool?: string;
}

export interface InputFile {
  path: string;
  /** utf8 text, or base64 when `encoding` says so. */
  content: string;
  encoding?: 'base64';
}

/** What a listing shows. */
export interface AgentRunSummary {
  id: string;
  sessionId: string;
  owner: string;
  /** Display model string (provider, base URL, model id): never a key. */
  model: string;
  task: string;
  language: Language;
  ok: boolean;
  stopReason: StopReason | 'error';
  steps: number;
  usage: Usage;
  durationMs: number;
  createdAt: string;
}

export interface AgentRunRecord extends AgentRunSummary {
  mode: ActionMode;
  approval: ApprovalPolicy;
  verify: boolean;
  budgets: Budgets;
  answer?: string;
  message: string;
  /** Files written into the workspace before the first step (what a replay needs). */
  files: InputFile[];
  messages: TranscriptMessage[];
  transcript: TranscriptStep[];
  actions: ActionRecord[];
  verification?: VerificationReport;
}

/** Where records go: append-only (a record is never changed once saved). */
export interface AgentRunStore {
  save(run: AgentRunRecord): void;
  /** By id, or by a unique id prefix; undefined when none (or another owner's). */
  get(idOrPrefix: string, owner?: string): AgentRunRecord | undefined;
  /** Newest first. */
  list(options?: { owner?: string; limit?: number }): AgentRunSummary[];
  close(): void;
}

export interface RecorderOptions {
  task: string;
  owner: string;
  /** The display model string; the recorder takes run_start's name when this is absent. */
  model?: string;
  language?: Language;
  mode?: ActionMode;
  approval?: ApprovalPolicy;
  verify?: boolean;
  budgets?: Budgets;
  files?: { path: string; content: string | Uint8Array }[];
  /** Values that must not reach the record. */
  secrets?: string[];
  id?: string;
  now?: () => Date;
}

/** Streamed output kept per action; the observation the model saw is kept whole. */
const MAX_OUTPUT_CHARS = 64 * 1024;
/** Input files larger than this are not kept (a replay then says what is missing). */
const MAX_FILE_BYTES = 1024 * 1024;

export function newRunId(): string {
  return `run_${globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`;
}

/** Builds a run's record from its events; `finish` (or `fail`) makes the record and saves it. */
export class TranscriptRecorder {
  readonly id: string;
  private readonly createdAt: string;
  private readonly steps: TranscriptStep[] = [];
  private model: string | undefined;
  private sessionId = '';
  private language: Language;
  private mode: ActionMode;
  private lastUsage: Usage = { inputTokens: 0, outputTokens: 0, costUsd: undefined };
  private readonly secrets: string[];

  constructor(
    private readonly options: RecorderOptions,
    private readonly store?: AgentRunStore,
  ) {
    this.id = options.id ?? newRunId();
    this.createdAt = (options.now?.() ?? new Date()).toISOString();
    this.model = options.model;
    this.language = options.language ?? 'python';
    this.mode = options.mode ?? 'auto';
    this.secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  }

  /** The listener to give runAgent's onEvent (chain it with a printer's). */
  readonly onEvent = (e: AgentEvent): void => {
    switch (e.type) {
      case 'run_start':
        this.model ??= e.model;
        this.sessionId = e.sessionId;
        this.language = e.language;
        this.mode = e.mode;
        break;
      case 'step_start':
        this.steps.push(emptyStep(e.step));
        break;
      case 'text_delta':
        this.step(e.step).text += e.text;
        break;
      case 'retry': {
        // The failed attempt's partial text is not part of the reply that counted.
        const s = this.step(e.step);
        s.text = '';
        s.retries = e.attempt;
        break;
      }
      case 'tool_call': {
        const s = this.step(e.step);
        s.toolCalls.push({ tool: e.tool, input: e.input });
        s.actions.push({ tool: e.tool, input: e.input, output: '' });
        break;
      }
      case 'code': {
        const open = this.openAction(e.step, e.tool);
        if (open && open.code === undefined) Object.assign(open, { language: e.language, code: e.code });
        else this.step(e.step).actions.push({ tool: e.tool, language: e.language, code: e.code, output: '' });
        break;
      }
      case 'output_delta': {
        const a = this.step(e.step).actions.at(-1);
        if (a && a.output.length < MAX_OUTPUT_CHARS) a.output = (a.output + e.text).slice(0, MAX_OUTPUT_CHARS);
        break;
      }
      case 'approval': {
        const a = this.openAction(e.step, e.tool);
        if (a) a.approved = e.approved;
        break;
      }
      case 'result': {
        const a = this.openAction(e.step, e.tool);
        const done = { ok: e.ok, status: e.status, observation: e.observation };
        if (a) Object.assign(a, done);
        else this.step(e.step).actions.push({ tool: e.tool, output: '', ...done });
        break;
      }
      case 'notice':
        this.step(e.step).notices.push(e.message);
        break;
      case 'step_end': {
        const s = this.step(e.step);
        s.inputTokens = e.usage.inputTokens - this.lastUsage.inputTokens;
        s.outputTokens = e.usage.outputTokens - this.lastUsage.outputTokens;
        s.durationMs = e.durationMs;
        s.completed = true;
        this.lastUsage = e.usage;
        break;
      }
      default:
        break;
    }
  };

  /** The record of a run that ended with a result; saved when the recorder has a store. */
  finish(result: AgentResult): AgentRunRecord {
    return this.save({
      ok: result.ok,
      stopReason: result.stopReason,
      ...(result.answer !== undefined ? { answer: result.answer } : {}),
      message: result.message,
      steps: result.steps,
      usage: result.usage,
      durationMs: result.durationMs,
      sessionId: result.sessionId,
      actions: result.actions,
      ...(result.verification ? { verification: result.verification } : {}),
    });
  }

  /** The record of a run that threw before it could end (bad arguments, no session). */
  fail(error: string, durationMs: number): AgentRunRecord {
    return this.save({
      ok: false,
      stopReason: 'error',
      message: error,
      steps: this.steps.length,
      usage: this.lastUsage,
      durationMs,
      sessionId: this.sessionId,
      actions: [],
    });
  }

  private save(
    end: Pick<
      AgentRunRecord,
      | 'ok'
      | 'stopReason'
      | 'answer'
      | 'message'
      | 'steps'
      | 'usage'
      | 'durationMs'
      | 'sessionId'
      | 'actions'
      | 'verification'
    >,
  ): AgentRunRecord {
    const o = this.options;
    const record: AgentRunRecord = {
      id: this.id,
      owner: o.owner,
      model: this.model ?? 'unknown',
      task: o.task,
      language: this.language,
      mode: this.mode,
      approval: o.approval ?? 'auto',
      verify: Boolean(o.verify),
      budgets: o.budgets ?? {},
      createdAt: this.createdAt,
      files: (o.files ?? []).map(inputFile).filter((f): f is InputFile => f !== undefined),
      messages: messagesOf(o.task, this.steps),
      transcript: this.steps,
      ...end,
    };
    const clean = redactRecord(record, this.secrets);
    this.store?.save(clean);
    return clean;
  }

  private step(n: number): TranscriptStep {
    let s = this.steps.find((x) => x.step === n);
    if (!s) {
      s = emptyStep(n);
      this.steps.push(s);
    }
    return s;
  }

  /** The latest action of this tool in the step that has no result yet. */
  private openAction(step: number, tool: string): TranscriptAction | undefined {
    const a = this.step(step).actions.at(-1);
    return a && a.tool === tool && a.status === undefined ? a : undefined;
  }
}

function emptyStep(step: number): TranscriptStep {
  return {
    step,
    text: '',
    toolCalls: [],
    actions: [],
    notices: [],
    retries: 0,
    inputTokens: 0,
    outputTokens: 0,
    durationMs: 0,
    completed: false,
  };
}

function inputFile(f: { path: string; content: string | Uint8Array }): InputFile | undefined {
  if (typeof f.content === 'string')
    return f.content.length <= MAX_FILE_BYTES ? { path: f.path, content: f.content } : undefined;
  if (f.content.byteLength > MAX_FILE_BYTES) return undefined;
  try {
    return { path: f.path, content: new TextDecoder('utf-8', { fatal: true }).decode(f.content) };
  } catch {
    // Not UTF-8 text: kept as base64.
    return { path: f.path, content: Buffer.from(f.content).toString('base64'), encoding: 'base64' };
  }
}

/** The conversation as the model saw it, rebuilt from the steps. */
function messagesOf(task: string, steps: TranscriptStep[]): TranscriptMessage[] {
  const out: TranscriptMessage[] = [{ role: 'user', content: task }];
  for (const s of steps) {
    if (!s.completed && !s.text && !s.toolCalls.length) continue;
    out.push({ role: 'assistant', content: s.text, ...(s.toolCalls.length ? { toolCalls: s.toolCalls } : {}) });
    for (const a of s.actions)
      if (a.observation !== undefined)
        out.push(
          s.toolCalls.length
            ? { role: 'tool', tool: a.tool, content: a.observation }
            : { role: 'user', content: `Observation:\n${a.observation}` },
        );
  }
  return out;
}

/** Every string in the record with each secret replaced; the record's shape is unchanged. */
export function redactRecord<T>(record: T, secrets: readonly string[]): T {
  const usable = secrets.filter((s) => s.length >= 4);
  if (!usable.length) return record;
  // Replace on the JSON text with each secret JSON-escaped, so a key with quotes or backslashes is found too.
  let text = JSON.stringify(record);
  for (const s of usable) text = text.split(JSON.stringify(s).slice(1, -1)).join('[redacted]');
  return JSON.parse(text) as T;
}

/** Values of key-like environment variables (…KEY, …TOKEN, …SECRET, …PASSWORD), to redact besides the model's key. */
export function secretsFromEnv(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(([k, v]) => v && v.length >= 8 && /(KEY|TOKEN|SECRET|PASSWORD)/i.test(k))
    .map(([, v]) => v as string);
}

/** Records in process memory (--no-store): same contract, gone when the process ends. */
export class MemoryAgentRunStore implements AgentRunStore {
  private readonly runs = new Map<string, AgentRunRecord>();

  save(run: AgentRunRecord): void {
    if (this.runs.has(run.id)) throw new AppError('ALREADY_EXISTS', `agent run ${run.id} is already recorded`);
    this.runs.set(run.id, structuredClone(run));
  }

  get(idOrPrefix: string, owner?: string): AgentRunRecord | undefined {
    const hits = [...this.runs.values()].filter(
      (r) => (r.id === idOrPrefix || r.id.startsWith(idOrPrefix)) && (owner === undefined || r.owner === owner),
    );
    const exact = hits.find((r) => r.id === idOrPrefix);
    const one = exact ?? (hits.length === 1 ? hits[0] : undefined);
    return one ? structuredClone(one) : undefined;
  }

  list(options: { owner?: string; limit?: number } = {}): AgentRunSummary[] {
    return [...this.runs.values()]
      .filter((r) => options.owner === undefined || r.owner === options.owner)
      .reverse()
      .slice(0, options.limit ?? Infinity)
      .map(summaryOf);
  }

  close(): void {
    this.runs.clear();
  }
}

export function summaryOf(r: AgentRunRecord): AgentRunSummary {
  return {
    id: r.id,
    sessionId: r.sessionId,
    owner: r.owner,
    model: r.model,
    task: r.task,
    language: r.language,
    ok: r.ok,
    stopReason: r.stopReason,
    steps: r.steps,
    usage: r.usage,
    durationMs: r.durationMs,
    createdAt: r.createdAt,
  };
}
