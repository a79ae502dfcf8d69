/**
 * `codemode agent "TASK" --model ...`: drive a model that writes and runs code
 * in a session until the task is done. Streams each step live (the model's
 * text, the code, its output) and ends with a summary; --json prints the run's
 * result instead. Ctrl-C cancels (the model request and the running code).
 *
 * Every run is recorded (transcript, tokens, cost, outcome) in the store and
 * its run id printed, for `codemode runs`; --no-store keeps it in memory only.
 *
 * Exit codes: 0 final answer, 1 stopped before an answer (budget, stuck),
 * 69 the model provider failed, 130 cancelled.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { AgentEvent, AgentResult, ApprovalPolicy, ApprovalRequest, ActionMode } from '../../agent/contract.js';
import { runAgent, type RunAgentOptions } from '../../agent/loop.js';
import { apiKeyFor, parseModelString } from '../../agent/model-string.js';
import {
  MemoryAgentRunStore,
  secretsFromEnv,
  TranscriptRecorder,
  type AgentRunStore,
  type RecorderOptions,
} from '../../agent/transcript.js';
import { AppError, errorMessage } from '../../errors.js';
import { LANGUAGES, type Language } from '../../sandbox/executor.js';
import type { SessionService } from '../../sessions/contract.js';
import { numberFlag, parse } from '../args.js';
import type { CliIO, Command } from '../io.js';
import { openSessionRuntime } from '../session-runtime.js';

const HELP = `usage: codemode agent "TASK" --model MODEL [options]

A model writes code, codemode runs it in a sandboxed session and feeds back
what happened, until the task is done.

  -m, --model MODEL        anthropic:claude-sonnet-4-5 | openai:gpt-4.1 |
                           openai-compatible:http://127.0.0.1:11434/v1#qwen2.5-coder[@KEY_VAR]
                           (default: $CODEMODE_AGENT_MODEL). Keys come from the environment:
                           ANTHROPIC_API_KEY, OPENAI_API_KEY, or the variable named after "@".
  -l, --lang LANG          python (default), javascript, typescript or bash
      --session ID         continue in a saved session (variables rebuilt from its history)
      --files PATHS        host files copied into the workspace: a,b or NAME=HOSTPATH (repeatable)
      --max-steps N        model calls at most (default 20)
      --budget-usd X       stop when the estimated cost reaches X dollars
      --max-time SEC       stop after SEC seconds
      --approve POLICY     auto (default), ask (confirm each run here), deny-network-tools
      --mode MODE          auto (default: tools, fenced code also runs), tools, codeact (text only)
      --verify             also write tests, run them, report them (a test without an assertion does not count)
      --mcp-config FILE    upstream MCP servers ({"mcpServers": {...}}): the model also gets run_code_mode
                           and search_tools (Code Mode); tools under requireApproval follow --approve
      --no-store           keep the sessions and the run's transcript in memory only
      --json               print the result (and its runId) as JSON instead of the live transcript

Each run is recorded with its session: see \`codemode runs list\`.
`;

export interface AgentCommandDeps {
  /** A session service to use instead of starting one (tests). */
  sessions?: SessionService;
  fetch?: typeof globalThis.fetch;
  /** Where runs are recorded instead of the configured store. */
  runs?: AgentRunStore;
}

/** The flags of every command that runs the agent (agent, fix). */
export const AGENT_RUN_OPTIONS = {
  model: { type: 'string', short: 'm' },
  'max-steps': { type: 'string' },
  'no-store': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const agentCommand: Command = (argv, io) => agentCommandWith(argv, io);

export async function agentCommandWith(argv: string[], io: CliIO, deps: AgentCommandDeps = {}): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...AGENT_RUN_OPTIONS,
    lang: { type: 'string', short: 'l' },
    session: { type: 'string' },
    files: { type: 'string', multiple: true },
    'budget-usd': { type: 'string' },
    'max-time': { type: 'string' },
    approve: { type: 'string' },
    mode: { type: 'string' },
    verify: { type: 'boolean' },
    'mcp-config': { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const task = positionals.join(' ').trim();
  if (!task) throw new AppError('INVALID_ARGUMENT', `give the task as an argument\n\n${HELP}`);
  const model = values.model ?? io.env.CODEMODE_AGENT_MODEL;
  if (!model)
    throw new AppError(
      'INVALID_ARGUMENT',
      'give --model (or set CODEMODE_AGENT_MODEL), e.g. --model anthropic:claude-sonnet-4-5',
    );
  const language = (values.lang ?? 'python') as Language;
  if (!LANGUAGES.includes(language))
    throw new AppError('INVALID_ARGUMENT', `--lang must be one of ${LANGUAGES.join(', ')}, got "${values.lang}"`);
  const approval = (values.approve ?? 'auto') as ApprovalPolicy;
  if (!['auto', 'ask', 'deny-network-tools'].includes(approval))
    throw new AppError(
      'INVALID_ARGUMENT',
      `--approve must be auto, ask or deny-network-tools, got "${values.approve}"`,
    );
  const mode = (values.mode ?? 'auto') as ActionMode;
  if (!['auto', 'tools', 'codeact'].includes(mode))
    throw new AppError('INVALID_ARGUMENT', `--mode must be auto, tools or codeact, got "${values.mode}"`);
  const maxSteps = numberFlag(values['max-steps'], 'max-steps');
  const maxWallMs = numberFlag(values['max-time'], 'max-time', 1000);
  let maxCostUsd: number | undefined;
  if (values['budget-usd'] !== undefined) {
    maxCostUsd = Number(values['budget-usd']);
    if (!Number.isFinite(maxCostUsd) || maxCostUsd <= 0)
      throw new AppError('INVALID_ARGUMENT', `--budget-usd must be a positive number, got "${values['budget-usd']}"`);
  }
  const files = (values.files ?? [])
    .flatMap((v) => v.split(','))
    .filter(Boolean)
    .map((spec) => {
      const eq = spec.indexOf('=');
      const name = eq > 0 ? spec.slice(0, eq) : path.basename(spec);
      const host = path.resolve(io.cwd, eq > 0 ? spec.slice(eq + 1) : spec);
      try {
        return { path: name, content: readFileSync(host) as Uint8Array };
      } catch (e) {
        throw new AppError('NOT_FOUND', `--files: cannot read ${host}: ${(e as Error).message}`);
      }
    });

  const { sessions, runs, close } = await openAgentRuntime(io, deps, Boolean(values['no-store']));
  let shutdown = close;

  // Code Mode: the runtime `serve --config` builds, its tools given to the model (mcp/tools/agent.ts).
  let codeMode: import('../../agent/loop.js').CodeModeTools | undefined;
  if (values['mcp-config'] !== undefined) {
    const { openCodeModeRuntime } = await import('../../codemode/open-runtime.js');
    const { codeModeAgentTools } = await import('../../mcp/tools/agent.js');
    const file = path.resolve(io.cwd, values['mcp-config']);
    const runtime = await openCodeModeRuntime(file, io.env, (m) => void io.stderr.write(`codemode: ${m}\n`), {
      flag: '--mcp-config',
    });
    if (runtime) {
      codeMode = codeModeAgentTools(runtime);
      const closeSessions = shutdown;
      shutdown = async () => {
        await closeSessions();
        await runtime.close();
      };
    }
  }

  const ac = new AbortController();
  const onSigint = () => {
    if (!values.json) io.stderr.write('\ncancelling (Ctrl-C again to force)...\n');
    ac.abort();
    process.removeListener('SIGINT', onSigint);
  };
  process.on('SIGINT', onSigint);
  const budgets = {
    ...(maxSteps !== undefined ? { maxSteps } : {}),
    ...(maxWallMs !== undefined ? { maxWallMs } : {}),
    ...(maxCostUsd !== undefined ? { maxCostUsd } : {}),
  };
  const recorder = cliRecorder(io, runs, {
    task,
    model,
    language,
    mode,
    approval,
    verify: Boolean(values.verify),
    budgets,
    files,
  });
  const printer = values.json ? null : new LivePrinter(io, recorder.id);
  try {
    let sessionOption = {};
    if (values.session) {
      const info = await sessions.create({ language, resumeId: values.session, replayHistory: true });
      sessionOption = { session: { service: sessions, id: info.id } };
    }
    const result = await runRecorded(recorder, io, {
      task,
      model,
      env: io.env,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(values.session ? sessionOption : { sessionService: sessions, language }),
      keepSession: true,
      files,
      mode,
      budgets,
      approval,
      ...(approval === 'ask' ? { approve: (r: ApprovalRequest) => askInTerminal(io, r) } : {}),
      verify: Boolean(values.verify),
      ...(codeMode ? { codeMode } : {}),
      signal: ac.signal,
      ...(printer ? { onEvent: (e: AgentEvent) => printer.event(e) } : {}),
    });
    if (values.json) io.stdout.write(JSON.stringify({ runId: recorder.id, ...result }, null, 2) + '\n');
    return exitCodeOf(result);
  } finally {
    printer?.stop();
    process.removeListener('SIGINT', onSigint);
    await shutdown();
  }
}

/** The run store the settings name: SQLite at settings.store.path, or memory when the store is off. */
export async function openRunStore(io: Pick<CliIO, 'env' | 'cwd'>, noStore = false): Promise<AgentRunStore> {
  const { loadSettings, ensureStateDirs } = await import('../../config/load-settings.js');
  const { settings, stateDir } = loadSettings({ env: io.env, cwd: io.cwd });
  if (noStore || !settings.store.enabled) return new MemoryAgentRunStore();
  ensureStateDirs(settings, stateDir);
  const { SqliteAgentRunStore } = await import('../../store/agent-runs.js');
  return new SqliteAgentRunStore(settings.store.path);
}

/**
 * The sessions and run store of a command that runs the agent (agent, fix): the injected ones (tests) or
 * this process's own on the real sandbox; close() ends only what was opened here.
 */
export async function openAgentRuntime(
  io: CliIO,
  deps: AgentCommandDeps,
  noStore: boolean,
): Promise<{ sessions: SessionService; runs: AgentRunStore; close: () => Promise<void> }> {
  let sessions = deps.sessions;
  let shutdown = async () => {};
  if (!sessions) {
    const runtime = await openSessionRuntime(noStore ? { ...io, env: { ...io.env, CODEMODE_STORE: 'off' } } : io);
    sessions = runtime.sessions;
    shutdown = () => runtime.close();
  }
  const runs = deps.runs ?? (await openRunStore(io, noStore));
  return {
    sessions,
    runs,
    close: async () => {
      if (!deps.runs) runs.close();
      await shutdown();
    },
  };
}

/** A CLI run's recorder; the secrets are the model's key and every key-like variable. */
export function cliRecorder(
  io: Pick<CliIO, 'env'>,
  runs: AgentRunStore,
  o: {
    task: string;
    model: string;
    language: Language;
    mode: ActionMode;
    approval: ApprovalPolicy;
    verify: boolean;
    budgets: RecorderOptions['budgets'];
    files: RecorderOptions['files'];
  },
): TranscriptRecorder {
  const secrets = secretsFromEnv(io.env);
  try {
    const key = apiKeyFor(parseModelString(o.model, io.env), io.env);
    if (key) secrets.push(key);
  } catch {
    // A bad model string or a missing key fails the run itself, with its own message.
  }
  const options: RecorderOptions = {
    task: o.task,
    owner: CLI_OWNER,
    language: o.language,
    mode: o.mode,
    approval: o.approval,
    verify: o.verify,
    ...(o.budgets ? { budgets: o.budgets } : {}),
    ...(o.files ? { files: o.files } : {}),
    secrets,
  };
  return new TranscriptRecorder(options, runs);
}

/** The owner of local CLI runs (the session manager's default owner). */
export const CLI_OWNER = 'local';

/** runAgent with the recorder listening; the record is saved when the run ends, or fails. */
export async function runRecorded(recorder: TranscriptRecorder, io: CliIO, options: RunAgentOptions) {
  const started = Date.now();
  const listener = options.onEvent;
  let result;
  try {
    result = await runAgent({
      ...options,
      onEvent: (e) => {
        recorder.onEvent(e);
        listener?.(e);
      },
    });
  } catch (e) {
    saveQuietly(io, () => recorder.fail(errorMessage(e), Date.now() - started));
    throw e;
  }
  saveQuietly(io, () => recorder.finish(result));
  return result;
}

function saveQuietly(io: CliIO, save: () => unknown): void {
  try {
    save();
  } catch (e) {
    // The run's result matters more than its record: say so and carry on.
    io.stderr.write(`codemode: the run's transcript was not saved: ${errorMessage(e)}\n`);
  }
}

export function exitCodeOf(r: AgentResult): number {
  switch (r.stopReason) {
    case 'final_answer':
      return 0;
    case 'provider_error':
      return 69;
    case 'cancelled':
      return 130;
    default:
      return 1;
  }
}

async function askInTerminal(io: CliIO, r: ApprovalRequest): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false });
  try {
    const why = r.reason === 'require-approval' ? ' (the upstream tool requires approval)' : '';
    const answer = await rl.question(`\nApprove ${r.tool}${why}? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** The live transcript: model text as it streams, code, output, results; a spinner while the model thinks. */
export class LivePrinter {
  private spinner: ReturnType<typeof setInterval> | null = null;
  private readonly tty: boolean;
  private atLineStart = true;

  constructor(
    private readonly io: CliIO,
    private readonly runId?: string,
  ) {
    this.tty = Boolean((io.stderr as { isTTY?: boolean }).isTTY);
  }

  private out(s: string): void {
    if (!s) return;
    this.stopSpinner();
    this.io.stdout.write(s);
    this.atLineStart = s.endsWith('\n');
  }

  private line(s: string): void {
    this.out(`${this.atLineStart ? '' : '\n'}${s}\n`);
  }

  event(e: AgentEvent): void {
    switch (e.type) {
      case 'run_start':
        this.line(`codemode agent · ${e.model} · ${e.language} · session ${e.sessionId}`);
        break;
      case 'step_start':
        this.line(`\n── step ${e.step} ──`);
        this.startSpinner();
        break;
      case 'text_delta':
        this.out(e.text);
        break;
      case 'code':
        this.line(`▶ ${e.tool} (${e.language})`);
        this.line(e.code.replace(/\n$/, '').replace(/^/gm, '  │ '));
        break;
      case 'tool_call':
        if (e.tool !== 'run_code' && e.tool !== 'run_code_mode')
          this.line(`▶ ${e.tool} ${JSON.stringify(e.input).slice(0, 200)}`);
        break;
      case 'output_delta':
        this.out(e.text);
        break;
      case 'result': {
        const first = e.observation.split('\n')[0] ?? '';
        const err = /^Error: .*$/m.exec(e.observation)?.[0];
        this.line(`${e.ok ? '✔' : '✖'} ${e.tool}: ${e.status}${e.ok ? '' : ` ${err ?? first}`}`);
        break;
      }
      case 'retry':
        this.line(`… ${e.error}; retrying in ${(e.delayMs / 1000).toFixed(1)} s (attempt ${e.attempt + 1})`);
        break;
      case 'notice':
        this.line(`! ${e.message}`);
        break;
      case 'approval':
        if (!e.approved) this.line(`✖ ${e.tool} not approved`);
        break;
      case 'final': {
        const r = e.result;
        if (r.answer !== undefined) this.line(`\n== final answer ==\n${r.answer}`);
        else this.line(`\n== stopped: ${r.message} ==`);
        if (r.verification)
          this.line(
            `verification: ${r.verification.ok ? 'passed' : 'failed'} (${r.verification.tests.map((t) => `${t.path}${t.counted ? '' : ' not counted'}`).join(', ') || 'no tests'})`,
          );
        const cost = r.usage.costUsd === undefined ? 'cost unknown' : `$${r.usage.costUsd.toFixed(4)}`;
        this.line(
          `${r.steps} steps · ${r.usage.inputTokens} tokens in / ${r.usage.outputTokens} out · ${cost} · ${(r.durationMs / 1000).toFixed(1)} s · session ${r.sessionId}${this.runId ? ` · run ${this.runId}` : ''}`,
        );
        break;
      }
      default:
        break;
    }
  }

  private startSpinner(): void {
    if (!this.tty || this.spinner) return;
    const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
    let i = 0;
    this.spinner = setInterval(() => this.io.stderr.write(`\r${frames[i++ % frames.length]} thinking`), 100);
  }

  private stopSpinner(): void {
    if (!this.spinner) return;
    clearInterval(this.spinner);
    this.spinner = null;
    this.io.stderr.write('\r           \r');
  }

  stop(): void {
    this.stopSpinner();
  }
}
