/**
 * The agent loop: ask the model, run what it wrote in a session, feed back
 * what happened, until it gives a final answer or a budget stops it. One model
 * call per step, driven here (not by the SDK's own loop) so budgets, the stuck
 * detector, approval, retries and cancellation apply between every call.
 *
 * Invariants: a user's code failing is an observation, never an exception;
 * every run ends with exactly one `final` event; secrets are redacted from
 * every event and observation; cancelling stops the model request and the
 * running code.
 */
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { jsonSchema, tool, type LanguageModel, type ModelMessage, type ToolSet } from 'ai';
import { convertToLanguageModelPrompt, prepareToolsAndToolChoice } from 'ai/internal';
import { AppError, errorMessage } from '../errors.js';
import type { Language } from '../sandbox/executor.js';
import type { SessionExecResult, SessionService } from '../sessions/contract.js';
import type {
  ActionMode,
  ActionRecord,
  AgentEvent,
  AgentResult,
  AnswerValidator,
  ApprovalPolicy,
  ApprovalRequest,
  Budgets,
  StopReason,
  Usage,
  VerificationReport,
} from './contract.js';
import {
  DEFAULT_RETRY,
  actionSignature,
  assessStuck,
  checkBudgets,
  classifyProviderError,
  isWaitingAction,
  retryDelay,
  type RetryPolicy,
  type Stop,
} from './control.js';
import { formatObservation, missingModule, type Observation } from './feedback.js';
import { parseTextAction } from './fence-parser.js';
import { addUsage, type Price } from './pricing.js';
import { SessionGit } from '../projects/git.js';
import { runTests } from '../projects/run-tests.js';
import { checkTestSource, judgeTestFile, testKindOf, testRunnerCode, VERIFY_RUNS } from './verify.js';

/** Code Mode's tools, when upstream servers are configured (a structural view of the Code Mode service). */
export interface CodeModeTools {
  /** Runs a program; `approved` names tools needing approval that the approver allowed for this run only. */
  runCodeMode(code: string, signal?: AbortSignal, approved?: string[]): Promise<{ ok: boolean; text: string }>;
  searchTools(query: string): Promise<string>;
  /** Upstream tools named in the code that need approval (Code Mode's requireApproval), as `server.tool`. */
  toolsNeedingApproval?(code: string): Promise<string[]>;
}

export interface AgentSession {
  service: SessionService;
  id: string;
  owner?: string;
}

export interface RunAgentOptions {
  task: string;
  /** A resolved AI SDK model, or a model string resolved with `env` (see model-string.ts). */
  model: Exclude<LanguageModel, string> | string;
  /** Where keys come from when `model` is a string. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** HTTP client for the provider when `model` is a string. */
  fetch?: typeof globalThis.fetch;
  /** An existing session, or a service to create one in (closed at the end unless keepSession). */
  session?: AgentSession;
  sessionService?: SessionService;
  language?: Language;
  owner?: string;
  keepSession?: boolean;
  /** Files written into the workspace before the first step. */
  files?: { path: string; content: string | Uint8Array }[];
  mode?: ActionMode;
  budgets?: Budgets;
  approval?: ApprovalPolicy;
  /** Called for each approval under the `ask` policy (and for Code Mode's requireApproval). */
  approve?: (request: ApprovalRequest) => boolean | Promise<boolean>;
  validators?: AnswerValidator[];
  /**
   * Also write tests, run them, and report them; tests that cannot fail do not
   * count. On a session service with run_tests (runProgram), a test file counts
   * only when it passes VERIFY_RUNS times in a row and raises line coverage.
   */
  verify?: boolean;
  /**
   * Commit the workspace (git, in the sandbox) after each step whose actions all
   * succeeded, with the principal as author and an `Agent: codemode-agent <model>`
   * trailer, so each step can be undone with the git tool's restore. Default true
   * where the session service can run git (runProgram).
   */
  checkpoints?: boolean;
  codeMode?: CodeModeTools;
  /** Extra instructions appended to the system prompt. */
  instructions?: string;
  signal?: AbortSignal;
  onEvent?: (event: AgentEvent) => void;
  retry?: Partial<RetryPolicy>;
  /** One model request at most (default 120 s). */
  requestTimeoutMs?: number;
  maxOutputTokensPerStep?: number;
  /** Price per million tokens; default from the model string, else unknown. */
  price?: Price;
  /** Whether tool results may carry images (default: true for Anthropic). */
  supportsImages?: boolean;
  /** Values to redact from events and observations (resolved keys are added). */
  secrets?: string[];
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const FINAL_TOOL = 'final_answer';

export async function runAgent(options: RunAgentOptions): Promise<AgentResult> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const signal = options.signal ?? new AbortController().signal;
  let model: Exclude<LanguageModel, string>;
  let modelName: string;
  const secrets = [...(options.secrets ?? [])];
  let price = options.price;
  let supportsImages = options.supportsImages ?? false;
  if (typeof options.model === 'string') {
    const { resolveModel } = await import('./providers.js');
    const resolved = resolveModel(options.model, {
      ...(options.env ? { env: options.env } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    model = resolved.model;
    modelName = resolved.name;
    secrets.push(...resolved.secrets);
    price ??= resolved.price;
    supportsImages = options.supportsImages ?? resolved.supportsImages;
  } else {
    model = options.model;
    modelName = `${model.provider}:${model.modelId}`;
  }
  const approval = options.approval ?? 'auto';
  if (approval === 'ask' && !options.approve)
    throw new AppError('INVALID_ARGUMENT', 'approval "ask" needs an approve callback');

  const redact = (s: string): string => {
    let out = s;
    for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
    return out;
  };
  const emit = (e: AgentEvent) => {
    if (!options.onEvent) return;
    try {
      options.onEvent(JSON.parse(redact(JSON.stringify(e))) as AgentEvent);
    } catch {
      // A listener's failure must not break the run; the final result still carries everything.
    }
  };

  // ---- the session ----
  let session: AgentSession;
  let createdSession = false;
  if (options.session) session = options.session;
  else if (options.sessionService) {
    const info = await options.sessionService.create({
      language: options.language ?? 'python',
      ...(options.owner ? { owner: options.owner } : {}),
    });
    session = { service: options.sessionService, id: info.id, ...(options.owner ? { owner: options.owner } : {}) };
    createdSession = true;
  } else throw new AppError('INVALID_ARGUMENT', 'runAgent needs a session or a sessionService');
  const language = session.service.get(session.id, session.owner).language;
  for (const f of options.files ?? [])
    await session.service.writeFile(
      session.id,
      f.path,
      typeof f.content === 'string' ? new TextEncoder().encode(f.content) : f.content,
      session.owner,
    );

  let mode: ActionMode = options.mode ?? 'auto';
  const budgets = options.budgets ?? {};
  const retryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const sleep = options.sleep ?? abortableSleep;
  let usage: Usage = { inputTokens: 0, outputTokens: 0, costUsd: price ? 0 : undefined };
  const actions: ActionRecord[] = [];
  let replanAt: number | undefined;
  let steps = 0;
  let noActionStreak = 0;
  let verification: VerificationReport | undefined;
  let availablePackages: string[] | undefined;

  emit({ type: 'run_start', model: modelName, mode, sessionId: session.id, language });

  const messages: ModelMessage[] = [{ role: 'user', content: await taskMessage(options, session, language) }];

  // ---- checkpoints: one commit per step that changed something and failed nowhere ----
  let git: SessionGit | null =
    options.checkpoints !== false && typeof session.service.runProgram === 'function'
      ? new SessionGit(session.service, session.id, { owner: session.owner ?? 'local', signal })
      : null;
  /**
   * The last step's checkpoint runs while the model thinks about the next one:
   * every session action (and the end of the run) waits for it first, so the
   * commit holds exactly that step's workspace.
   */
  let pendingCheckpoint: Promise<void> = Promise.resolve();
  const checkpoint = async (step: number): Promise<void> => {
    const done = actions.filter((a) => a.step === step);
    if (!git || signal.aborted || done.length === 0 || done.some((a) => a.failed)) return;
    try {
      const c = await git.commit(`agent step ${step}: ${[...new Set(done.map((a) => a.tool))].join(', ')}`, {
        Agent: `codemode-agent ${modelName}`,
      });
      if (c) emit({ type: 'notice', step, message: `checkpoint ${c.hash.slice(0, 12)}: step ${step} committed` });
    } catch (e) {
      git = null; // one failure (no git, a broken repository) turns them off for the run, said once
      emit({ type: 'notice', step, message: `checkpoints are off for this run: ${errorMessage(e)}` });
    }
  };

  const finish = async (reason: StopReason, message: string, answer?: string): Promise<AgentResult> => {
    await pendingCheckpoint; // the last step's commit lands before the session may close
    const result: AgentResult = {
      ok: reason === 'final_answer',
      stopReason: reason,
      ...(answer !== undefined ? { answer: redact(answer) } : {}),
      message: redact(message),
      steps,
      usage,
      durationMs: now() - startedAt,
      sessionId: session.id,
      actions,
      ...(verification ? { verification } : {}),
    };
    if (createdSession && !options.keepSession)
      await session.service.close(session.id, session.owner).catch(() => {
        // Closing a session that already died changes nothing for the result.
      });
    emit({ type: 'final', result });
    return result;
  };

  // ---- actions ----
  /** Tools needing approval that the approver allowed for the current run_code_mode call. */
  let approvedTools: string[] = [];
  const askApproval = async (step: number, toolName: string, input: unknown, summary: string): Promise<boolean> => {
    let reason: ApprovalRequest['reason'] | null = null;
    const network = toolName === 'run_code_mode';
    approvedTools = [];
    if (network && approval === 'deny-network-tools') {
      emit({ type: 'approval', step, tool: toolName, approved: false });
      return false;
    }
    const needing = network ? ((await options.codeMode?.toolsNeedingApproval?.(summary)) ?? []) : [];
    if (needing.length) {
      reason = 'require-approval';
      summary = `${summary}\n(needs approval: ${needing.join(', ')})`;
    } else if (approval === 'ask' && toolName !== FINAL_TOOL && toolName !== 'read_file' && toolName !== 'list_files')
      reason = 'policy';
    if (!reason) return true;
    if (!options.approve) {
      emit({ type: 'approval', step, tool: toolName, approved: false });
      return false;
    }
    const request: ApprovalRequest = { step, tool: toolName, summary: redact(summary), input, reason };
    emit({ type: 'approval_request', request });
    const approved = await options.approve(request);
    emit({ type: 'approval', step, tool: toolName, approved });
    if (approved) approvedTools = needing;
    return approved;
  };

  const runCode = async (step: number, toolName: string, code: string): Promise<Observation & { status: string }> => {
    emit({ type: 'code', step, tool: toolName, language, code });
    let r: SessionExecResult;
    try {
      r = await session.service.execute(session.id, code, {
        ...(session.owner ? { owner: session.owner } : {}),
        signal,
        onOutput: (c) => emit({ type: 'output_delta', step, stream: c.stream, text: c.text }),
      });
    } catch (e) {
      // The session itself failed (busy, closed, sandbox gone): tell the model, in its words.
      const text = `Status: not_started\nThe session could not run the code: ${errorMessage(e)}`;
      return { text, images: [], ok: false, status: 'not_started' };
    }
    if (missingModule(r) && availablePackages === undefined && language === 'python' && !signal.aborted)
      availablePackages = await listPythonPackages(session);
    const obs = formatObservation(r, code, language, availablePackages ? { availablePackages } : {});
    record(step, toolName, code, r.status === 'ok' ? `ok:${hash(obs.text)}` : fingerprint(r), r.status !== 'ok');
    return { ...obs, text: redact(obs.text), status: r.status };
  };

  const record = (step: number, toolName: string, input: string, outcome: string, failed: boolean) => {
    actions.push({
      step,
      tool: toolName,
      signature: actionSignature(toolName, input),
      outcome,
      failed,
      waiting: isWaitingAction(input),
    });
  };

  const checkAnswer = async (step: number, answer: string): Promise<string | undefined> => {
    for (const v of options.validators ?? []) {
      const problem = await v(answer);
      if (problem) return problem;
    }
    if (options.verify) {
      verification = await verifyTests(session, language, signal, (obs) =>
        emit({
          type: 'result',
          step,
          tool: 'verify',
          ok: obs.ok,
          status: obs.ok ? 'ok' : 'error',
          observation: redact(obs.text),
        }),
      );
      if (!verification.ok) {
        const lines = verification.tests.map(
          (t) => `- ${t.path}: ${t.counted ? `${t.assertions} assertions` : `not counted: ${t.reason}`}`,
        );
        return `Verification failed: ${verification.status ?? 'tests missing'}.\n${lines.join('\n') || '- no test files found (write test_*.py or *.test.mjs)'}${verification.output ? `\n${verification.output}` : ''}\nFix the tests or the code, then call final_answer again.`;
      }
    }
    return undefined;
  };

  // Built once per run (per mode for the prompt): a step re-sends them, it does not rebuild them.
  const tools = buildTools(language, options.codeMode);
  const prompts = new Map<ActionMode, string>();
  const systemFor = (m: ActionMode): string => {
    let p = prompts.get(m);
    if (p === undefined) prompts.set(m, (p = systemPrompt(language, m, options)));
    return p;
  };

  // ---- the loop ----
  for (;;) {
    if (signal.aborted) return finish('cancelled', 'cancelled by the caller');
    const stop: Stop | null = checkBudgets({ steps, usage, startedAt, now: now() }, budgets);
    if (stop) return finish(stop.reason, stop.message);
    steps++;
    const step = steps;
    const stepStart = now();
    emit({ type: 'step_start', step });

    // One model call, retried on provider errors.
    let reply: ModelReply;
    for (let attempt = 0; ; attempt++) {
      try {
        reply = await callModel(model, {
          system: systemFor(mode),
          messages,
          tools: mode === 'codeact' ? undefined : tools,
          signal,
          timeoutMs: options.requestTimeoutMs ?? 120_000,
          ...(options.maxOutputTokensPerStep ? { maxOutputTokens: options.maxOutputTokensPerStep } : {}),
          onText: (text) => emit({ type: 'text_delta', step, text }),
        });
        break;
      } catch (e) {
        if (signal.aborted) return finish('cancelled', 'cancelled by the caller');
        const info = classifyProviderError(e);
        if (info.toolsUnsupported && mode === 'auto') {
          mode = 'codeact';
          emit({
            type: 'notice',
            step,
            message: 'the model server rejected tool definitions: switching to text (CodeAct) mode',
          });
          attempt = -1;
          continue;
        }
        if (!info.retryable || attempt >= retryPolicy.retries)
          return finish('provider_error', `${info.message}${attempt > 0 ? ` (after ${attempt + 1} attempts)` : ''}`);
        const delayMs = retryDelay(attempt + 1, info, retryPolicy);
        emit({ type: 'retry', step, attempt: attempt + 1, delayMs, error: redact(info.message) });
        await sleep(delayMs, signal);
        if (signal.aborted) return finish('cancelled', 'cancelled by the caller');
      }
    }
    usage = addUsage(usage, reply.inputTokens, reply.outputTokens, price);
    messages.push(...reply.messages);
    await pendingCheckpoint;

    let final: string | undefined;
    if (reply.toolCalls.length) {
      noActionStreak = 0;
      const results: ToolResultPart[] = [];
      for (const call of reply.toolCalls) {
        const out = await handleToolCall(step, call);
        results.push(out.part);
        if (out.final !== undefined) final = out.final;
        if (signal.aborted) break;
      }
      pendingCheckpoint = checkpoint(step);
      const verdict = assessStuck(actions, replanAt);
      if (verdict.kind === 'replan') {
        replanAt = actions.length;
        appendNote(results, verdict.message);
        emit({ type: 'notice', step, message: verdict.message });
      }
      messages.push({ role: 'tool', content: results });
      emit({ type: 'step_end', step, usage, durationMs: now() - stepStart });
      if (final !== undefined) return finish('final_answer', 'the agent gave its final answer', final);
      if (signal.aborted) return finish('cancelled', 'cancelled by the caller');
      if (verdict.kind === 'stop') return finish('stuck', verdict.message);
      continue;
    }

    // No tool call: code in fenced blocks (CodeAct), or an answer in plain text.
    const action = parseTextAction(reply.text, language);
    let feedback: string;
    const images: Observation['images'] = [];
    if (action.code !== null) {
      noActionStreak = 0;
      const obs = await runCode(step, 'code', action.code);
      emit({ type: 'result', step, tool: 'code', ok: obs.ok, status: obs.status, observation: obs.text });
      pendingCheckpoint = checkpoint(step);
      feedback = `Observation:\n${obs.text}`;
      if (action.skipped.length)
        feedback += `\nNote: ${action.skipped.length} block(s) in ${[...new Set(action.skipped.map((b) => b.language))].join(', ')} were not run: this session runs ${language}.`;
      if (supportsImages) images.push(...obs.images);
    } else {
      const answer = action.finalAnswer ?? reply.text.trim();
      if (answer) {
        noActionStreak = 0;
        const problem = await checkAnswer(step, answer);
        if (!problem) {
          emit({ type: 'step_end', step, usage, durationMs: now() - stepStart });
          return finish('final_answer', 'the agent gave its final answer', answer);
        }
        feedback = `Your answer was not accepted: ${problem}`;
        record(step, FINAL_TOOL, answer, `rejected:${hash(problem)}`, true);
      } else {
        noActionStreak++;
        if (noActionStreak >= 3) {
          emit({ type: 'step_end', step, usage, durationMs: now() - stepStart });
          return finish('no_action', 'the model replied three times without code or an answer');
        }
        feedback =
          mode === 'codeact'
            ? `No code found. Write ${language} code in a fenced block (\`\`\`${language} ... \`\`\`), or reply "Final answer: ..." when done.`
            : `Call a tool (run_code to run ${language}) or ${FINAL_TOOL} when done.`;
      }
    }
    const verdict = assessStuck(actions, replanAt);
    if (verdict.kind === 'replan') {
      replanAt = actions.length;
      feedback += `\n\n${verdict.message}`;
      emit({ type: 'notice', step, message: verdict.message });
    }
    messages.push({
      role: 'user',
      content: images.length
        ? [
            { type: 'text', text: feedback },
            ...images.map((i) => ({ type: 'image' as const, image: i.data, mediaType: i.mediaType })),
          ]
        : feedback,
    });
    emit({ type: 'step_end', step, usage, durationMs: now() - stepStart });
    if (signal.aborted) return finish('cancelled', 'cancelled by the caller');
    if (verdict.kind === 'stop') return finish('stuck', verdict.message);
  }

  async function handleToolCall(step: number, call: ToolCallInfo): Promise<{ part: ToolResultPart; final?: string }> {
    const text = (value: string, error = false): ToolResultPart => ({
      type: 'tool-result',
      toolCallId: call.toolCallId,
      toolName: call.toolName,
      output: error ? { type: 'error-text', value } : { type: 'text', value },
    });
    emit({ type: 'tool_call', step, tool: call.toolName, input: call.input });
    if (call.invalid) {
      const msg = `Invalid call to ${call.toolName}: ${call.error ?? 'the input does not match the schema'}`;
      record(step, call.toolName, JSON.stringify(call.input ?? null), `invalid:${hash(msg)}`, true);
      emit({ type: 'result', step, tool: call.toolName, ok: false, status: 'invalid', observation: msg });
      return { part: text(msg, true) };
    }
    const input = (call.input ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof input[k] === 'string' ? (input[k] as string) : '');
    const summary =
      call.toolName === 'run_code' || call.toolName === 'run_code_mode' ? str('code') : JSON.stringify(input);
    if (!(await askApproval(step, call.toolName, input, summary))) {
      const msg = `The user did not approve this ${call.toolName} call. Do something else, or explain in your final answer what you needed.`;
      record(step, call.toolName, summary, 'denied', true);
      emit({ type: 'result', step, tool: call.toolName, ok: false, status: 'denied', observation: msg });
      return {
        part: {
          type: 'tool-result',
          toolCallId: call.toolCallId,
          toolName: call.toolName,
          output: { type: 'error-text', value: msg },
        },
      };
    }
    try {
      switch (call.toolName) {
        case 'run_code': {
          const obs = await runCode(step, 'run_code', str('code'));
          emit({ type: 'result', step, tool: 'run_code', ok: obs.ok, status: obs.status, observation: obs.text });
          if (supportsImages && obs.images.length)
            return {
              part: {
                type: 'tool-result',
                toolCallId: call.toolCallId,
                toolName: call.toolName,
                output: {
                  type: 'content',
                  value: [
                    { type: 'text', text: obs.text },
                    ...obs.images.map((i) => ({ type: 'image-data' as const, data: i.data, mediaType: i.mediaType })),
                  ],
                },
              },
            };
          return { part: text(obs.text) };
        }
        case 'write_file': {
          const entry = await session.service.writeFile(
            session.id,
            str('path'),
            new TextEncoder().encode(str('content')),
            session.owner,
          );
          const msg = `Wrote ${entry.path} (${entry.size} bytes).`;
          record(step, 'write_file', `${str('path')}\n${str('content')}`, 'ok', false);
          emit({ type: 'result', step, tool: 'write_file', ok: true, status: 'ok', observation: msg });
          return { part: text(msg) };
        }
        case 'read_file': {
          const bytes = await session.service.readFile(session.id, str('path'), session.owner);
          const body = new TextDecoder().decode(bytes.subarray(0, 20_000));
          const msg = redact(bytes.length > 20_000 ? `${body}\n... [${bytes.length - 20_000} bytes cut]` : body);
          record(step, 'read_file', str('path'), `ok:${hash(msg)}`, false);
          emit({ type: 'result', step, tool: 'read_file', ok: true, status: 'ok', observation: msg });
          return { part: text(msg) };
        }
        case 'list_files': {
          const entries = await session.service.listFiles(session.id, str('path') || undefined, session.owner);
          const msg = entries.length ? entries.map((e) => `${e.path}\t${e.size}`).join('\n') : '(no files)';
          record(step, 'list_files', str('path'), `ok:${hash(msg)}`, false);
          emit({ type: 'result', step, tool: 'list_files', ok: true, status: 'ok', observation: msg });
          return { part: text(msg) };
        }
        case 'run_code_mode': {
          if (!options.codeMode) throw new AppError('NOT_FOUND', 'Code Mode is not configured');
          emit({ type: 'code', step, tool: 'run_code_mode', language: 'typescript', code: str('code') });
          const r = await options.codeMode.runCodeMode(str('code'), signal, approvedTools);
          const msg = redact(r.text);
          record(step, 'run_code_mode', str('code'), r.ok ? `ok:${hash(msg)}` : `error:${hash(msg)}`, !r.ok);
          emit({
            type: 'result',
            step,
            tool: 'run_code_mode',
            ok: r.ok,
            status: r.ok ? 'ok' : 'error',
            observation: msg,
          });
          return { part: text(msg, !r.ok) };
        }
        case 'search_tools': {
          if (!options.codeMode) throw new AppError('NOT_FOUND', 'Code Mode is not configured');
          const msg = await options.codeMode.searchTools(str('query'));
          emit({ type: 'result', step, tool: 'search_tools', ok: true, status: 'ok', observation: msg });
          return { part: text(msg) };
        }
        case FINAL_TOOL: {
          const answer = str('answer');
          const problem = await checkAnswer(step, answer);
          if (problem) {
            record(step, FINAL_TOOL, answer, `rejected:${hash(problem)}`, true);
            emit({ type: 'result', step, tool: FINAL_TOOL, ok: false, status: 'rejected', observation: problem });
            return { part: text(`Not accepted: ${problem}`, true) };
          }
          emit({ type: 'result', step, tool: FINAL_TOOL, ok: true, status: 'accepted', observation: answer });
          return { part: text('Accepted.'), final: answer };
        }
        default: {
          const msg = `There is no tool named "${call.toolName}". Tools: ${Object.keys(tools).join(', ')}.`;
          record(step, call.toolName, JSON.stringify(input), `unknown:${call.toolName}`, true);
          return { part: text(msg, true) };
        }
      }
    } catch (e) {
      // A tool failing (a path outside the workspace, a missing file) is feedback for the model.
      const msg = redact(`${call.toolName} failed: ${errorMessage(e)}`);
      record(step, call.toolName, JSON.stringify(input), `error:${hash(msg)}`, true);
      emit({ type: 'result', step, tool: call.toolName, ok: false, status: 'error', observation: msg });
      return { part: text(msg, true) };
    }
  }
}

// ---- the model call ------------------------------------------------------------------------

type ToolResultPart = {
  type: 'tool-result';
  toolCallId: string;
  toolName: string;
  output:
    | { type: 'text'; value: string }
    | { type: 'error-text'; value: string }
    | {
        type: 'content';
        value: ({ type: 'text'; text: string } | { type: 'image-data'; data: string; mediaType: string })[];
      };
};

interface ToolCallInfo {
  toolCallId: string;
  toolName: string;
  input: unknown;
  invalid?: boolean;
  error?: string;
}

interface ModelReply {
  text: string;
  toolCalls: ToolCallInfo[];
  messages: ModelMessage[];
  inputTokens: number;
  outputTokens: number;
}

interface CallOptions {
  system: string;
  messages: ModelMessage[];
  tools: ToolSet | undefined;
  signal: AbortSignal;
  timeoutMs: number;
  maxOutputTokens?: number;
  onText: (text: string) => void;
}

class RequestTimeout extends Error {
  constructor() {
    super('the model request timed out');
    this.name = 'TimeoutError';
  }
}

/**
 * One model call on the provider's own stream (`doStream`), not `streamText`:
 * streamText re-validates the whole history against the ModelMessage zod union
 * and pipes every part through several web streams and telemetry spans on
 * each call, which made most of a step's loop overhead. The prompt conversion
 * and tool preparation are the SDK's own (`ai/internal`).
 */
async function callModel(model: Exclude<LanguageModel, string>, o: CallOptions): Promise<ModelReply> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), o.timeoutMs);
  const abortSignal = AbortSignal.any([o.signal, timeout.signal]);
  const m = model as LanguageModelV3;
  try {
    const prompt = await convertToLanguageModelPrompt({
      prompt: { system: o.system, messages: o.messages },
      supportedUrls: await m.supportedUrls,
      download: undefined,
      abortSignal,
    });
    const prepared = o.tools
      ? await prepareToolsAndToolChoice({ tools: o.tools, toolChoice: undefined, activeTools: undefined })
      : undefined;
    const { stream } = await m.doStream({
      prompt,
      ...(prepared?.tools ? { tools: prepared.tools } : {}),
      ...(prepared?.toolChoice ? { toolChoice: prepared.toolChoice } : {}),
      ...(o.maxOutputTokens ? { maxOutputTokens: o.maxOutputTokens } : {}),
      abortSignal,
    });
    let text = '';
    const toolCalls: ToolCallInfo[] = [];
    let inputTokens = 0;
    let outputTokens = 0;
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value: part } = await reader.read();
        if (done) break;
        switch (part.type) {
          case 'text-delta':
            text += part.delta;
            o.onText(part.delta);
            break;
          case 'tool-call': {
            let input: unknown;
            let error: string | undefined;
            try {
              input = part.input.trim() === '' ? {} : (JSON.parse(part.input) as unknown);
            } catch (e) {
              input = part.input;
              error = `the arguments are not valid JSON (${errorMessage(e)})`;
            }
            toolCalls.push({
              toolCallId: part.toolCallId,
              toolName: part.toolName,
              input,
              ...(error !== undefined ? { invalid: true, error } : {}),
            });
            break;
          }
          case 'finish':
            inputTokens += part.usage.inputTokens.total ?? 0;
            outputTokens += part.usage.outputTokens.total ?? 0;
            break;
          case 'error':
            throw part.error;
          default:
            break;
        }
      }
    } finally {
      reader.releaseLock();
    }
    if (abortSignal.aborted) throw o.signal.aborted ? new AppError('CANCELLED', 'cancelled') : new RequestTimeout();
    const content: Exclude<Extract<ModelMessage, { role: 'assistant' }>['content'], string> = [];
    if (text) content.push({ type: 'text', text });
    for (const c of toolCalls)
      content.push({ type: 'tool-call', toolCallId: c.toolCallId, toolName: c.toolName, input: c.input });
    const messages: ModelMessage[] = content.length ? [{ role: 'assistant', content }] : [];
    return { text, toolCalls, messages, inputTokens, outputTokens };
  } catch (e) {
    if (timeout.signal.aborted && !o.signal.aborted) throw new RequestTimeout();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** A plain JSON Schema object (no conversion per model call, unlike a zod schema). */
function schema(properties: Record<string, { type: 'string'; description?: string }>, required: string[]) {
  return jsonSchema<Record<string, string>>({ type: 'object', properties, required, additionalProperties: false });
}

function buildTools(language: Language, codeMode: CodeModeTools | undefined): ToolSet {
  const tools: ToolSet = {
    run_code: tool({
      description: `Run ${language} code in your persistent session (variables and files persist between calls). Returns status, output, errors and rich outputs.`,
      inputSchema: schema({ code: { type: 'string', description: `${language} source to run` } }, ['code']),
    }),
    write_file: tool({
      description: 'Write a text file in the session workspace (relative path).',
      inputSchema: schema({ path: { type: 'string' }, content: { type: 'string' } }, ['path', 'content']),
    }),
    read_file: tool({
      description: 'Read a text file from the session workspace.',
      inputSchema: schema({ path: { type: 'string' } }, ['path']),
    }),
    list_files: tool({
      description: 'List files in the session workspace.',
      inputSchema: schema({ path: { type: 'string' } }, []),
    }),
    [FINAL_TOOL]: tool({
      description: 'Give the final answer to the task. Call this once, when the task is done.',
      inputSchema: schema({ answer: { type: 'string', description: 'the answer, or a summary of what was done' } }, [
        'answer',
      ]),
    }),
  };
  if (codeMode) {
    tools.run_code_mode = tool({
      description:
        'Run TypeScript against the configured upstream MCP servers as a typed API (codemode.<server>.<tool>()).',
      inputSchema: schema({ code: { type: 'string' } }, ['code']),
    });
    tools.search_tools = tool({
      description: 'Search the upstream API: tool names and signatures.',
      inputSchema: schema({ query: { type: 'string' } }, ['query']),
    });
  }
  return tools;
}

function systemPrompt(language: Language, mode: ActionMode, o: RunAgentOptions): string {
  const lines = [
    `You solve tasks by writing and running ${language} code in a sandboxed, persistent session. The sandbox has no network access.`,
    'Work in small steps: run code, read the observation, fix errors, continue. Print what you need to see.',
  ];
  if (mode === 'codeact')
    lines.push(
      `To run code, write it in one fenced block: \`\`\`${language}\n...\n\`\`\`. You will get the output back.`,
      'When the task is done, reply without code, starting with "Final answer:" followed by the answer.',
    );
  else
    lines.push(
      `Use the run_code tool to run ${language}; write_file/read_file/list_files for the workspace; ${FINAL_TOOL} to finish.`,
    );
  if (o.codeMode && mode !== 'codeact')
    lines.push(
      'Upstream MCP tools are reachable only through run_code_mode: TypeScript run as an async function body, calling `await codemode.<server>.<tool>(args)` and returning the result; search_tools gives tool names and signatures.',
    );
  if (o.verify)
    lines.push(
      'Verification is on: besides the solution, write tests for it in the workspace (test_*.py for pytest, or *.test.mjs for node:test), each with real assertions that would fail if the solution were wrong. They are run when you give the final answer; a test without an assertion does not count.',
    );
  if (o.instructions) lines.push(o.instructions);
  return lines.join('\n');
}

async function taskMessage(o: RunAgentOptions, s: AgentSession, language: Language): Promise<string> {
  const files = o.files?.length ? `\n\nFiles in the workspace: ${o.files.map((f) => f.path).join(', ')}` : '';
  void s;
  return `Task (${language}): ${o.task}${files}`;
}

function appendNote(results: ToolResultPart[], note: string): void {
  const last = results[results.length - 1];
  if (!last) return;
  if (last.output.type === 'content') last.output.value.push({ type: 'text', text: `\n\n${note}` });
  else last.output = { ...last.output, value: `${last.output.value}\n\n${note}` };
}

async function verifyTests(
  s: AgentSession,
  language: Language,
  signal: AbortSignal,
  onRun: (obs: Observation) => void,
): Promise<VerificationReport> {
  const entries = await s.service.listFiles(s.id, undefined, s.owner);
  const tests: VerificationReport['tests'] = [];
  const byKind = new Map<'pytest' | 'node', string[]>();
  for (const e of entries) {
    const kind = testKindOf(e.path);
    if (!kind) continue;
    const src = new TextDecoder().decode(await s.service.readFile(s.id, e.path, s.owner));
    const check = checkTestSource(src, kind);
    tests.push({
      path: e.path,
      assertions: check.assertions,
      counted: check.counted,
      ...(check.reason ? { reason: check.reason } : {}),
    });
    if (check.counted) byKind.set(kind, [...(byKind.get(kind) ?? []), e.path]);
  }
  if (!tests.length) return { ok: false, tests, status: 'no test files' };
  if (tests.some((t) => !t.counted)) return { ok: false, tests, status: 'a test cannot fail' };
  if (typeof s.service.runProgram === 'function') return verifyWithRunTests(s, tests, byKind, signal, onRun);
  const commands: string[] = [];
  const outputs: string[] = [];
  let ok = true;
  for (const [kind, paths] of byKind) {
    const { code, command } = testRunnerCode(language, kind, paths);
    commands.push(command);
    const r = await s.service.execute(s.id, code, { ...(s.owner ? { owner: s.owner } : {}), signal });
    const obs = formatObservation(r, code, language, { headChars: 1500, tailChars: 1500 });
    onRun(obs);
    outputs.push(obs.text);
    if (r.status !== 'ok') ok = false;
  }
  return {
    ok,
    tests,
    command: commands.join(' && '),
    status: ok ? 'tests passed' : 'tests failed',
    ...(ok ? {} : { output: outputs.join('\n') }),
  };
}

/**
 * run_tests as the judge: every test file passes VERIFY_RUNS runs in a row
 * (a flaky test proves nothing), and raises line coverage: the suite's
 * coverage with the file is above its coverage without it.
 */
async function verifyWithRunTests(
  s: AgentSession,
  tests: VerificationReport['tests'],
  byKind: Map<'pytest' | 'node', string[]>,
  signal: AbortSignal,
  onRun: (obs: Observation) => void,
): Promise<VerificationReport> {
  const owner = s.owner ? { owner: s.owner } : {};
  const outputs: string[] = [];
  const commands: string[] = [];
  let ok = true;
  for (const [framework, paths] of byKind) {
    commands.push(`run_tests ${framework} ${paths.join(' ')} x${VERIFY_RUNS} (coverage)`);
    const runs = [];
    for (let i = 0; i < VERIFY_RUNS && !signal.aborted; i++) {
      const r = await runTests(s.service, s.id, { framework, paths, coverage: true, signal, ...owner });
      runs.push(r);
      if (r.status !== 'passed') break;
    }
    const last = runs[runs.length - 1]!;
    const summary = `${framework}: ${runs.filter((r) => r.status === 'passed').length}/${VERIFY_RUNS} runs passed; ${last.passed} passed, ${last.failed} failed, ${last.errors} errors${last.coverage ? `; coverage ${last.coverage.percent}%` : ''}${last.reason ? ` (${last.reason})` : ''}`;
    const failures = last.tests
      .filter((t) => t.outcome === 'failed' || t.outcome === 'error')
      .map((t) => `- ${t.name}: ${t.message ?? t.outcome}`)
      .slice(0, 20);
    const text = [summary, ...failures].join('\n');
    onRun({ text, images: [], ok: last.status === 'passed' });
    outputs.push(text);
    for (const path of paths) {
      // Coverage without this file: the rest of the suite, or nothing at all when it is alone.
      const others = paths.filter((p) => p !== path);
      const without = others.length
        ? (await runTests(s.service, s.id, { framework, paths: others, coverage: true, signal, ...owner })).coverage
            ?.percent
        : 0;
      const verdict = judgeTestFile(
        runs.map((r) => r.status),
        last.coverage?.percent,
        without,
      );
      const entry = tests.find((t) => t.path === path)!;
      if (!verdict.counted) {
        entry.counted = false;
        entry.reason = verdict.reason!;
        ok = false;
      }
    }
  }
  return {
    ok,
    tests,
    command: commands.join(' && '),
    status: ok ? 'tests passed' : tests.some((t) => !t.counted) ? 'a test did not hold' : 'tests failed',
    ...(ok ? {} : { output: outputs.join('\n') }),
  };
}

async function listPythonPackages(s: AgentSession): Promise<string[]> {
  try {
    const r = await s.service.execute(
      s.id,
      "import importlib.metadata as _m\nprint('\\n'.join(sorted({(_d.metadata['Name'] or '').lower() for _d in _m.distributions()} - {''})))",
      s.owner ? { owner: s.owner } : {},
    );
    return r.status === 'ok' ? r.stdout.split('\n').filter(Boolean) : [];
  } catch {
    // The hint is a nicety: without the list it still says the module is missing.
    return [];
  }
}

function fingerprint(r: SessionExecResult): string {
  return `${r.status}:${r.error?.type ?? ''}:${(r.error?.message ?? r.reason ?? '').slice(0, 200)}`;
}

/** A short stable hash (FNV-1a) for comparing outputs. */
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
