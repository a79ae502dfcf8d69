/**
 * An Executor decorator that analyses code before it runs (like
 * CachingExecutor wraps one for its cache). `block` findings return a
 * `blocked` result with the findings and start no sandbox; `warn` findings
 * ride on the inner result. A syntax error found here is returned as the
 * run's `error` result without starting a sandbox. Analysis that could not run
 * never blocks: the code runs, and the sandbox stays the boundary.
 */
import { executorFor, type PrincipalScopedExecutor } from '../sandbox/caching-executor.js';
import type { ExecRequest, ExecResult, Executor } from '../sandbox/executor.js';
import type { Limits } from '../sandbox/limits.js';
import { isBlocked, sharedAnalyzer, type Analyzer } from './analyzer.js';
import { DEFAULT_POLICY, type Policy } from './policy.js';
import type { AnalysisResult, CodeModeToolMark } from './types.js';

export interface AnalyzingExecutorOptions {
  analyzer?: Analyzer;
  /** The policy of this executor's runs (operator or session). */
  policy?: Policy;
  /** The limits a result reports when no sandbox ran. */
  resolveLimits: (request: ExecRequest) => Limits;
  /** Report syntax errors found here without starting a sandbox (default true). */
  syntaxErrorsBeforeRun?: boolean;
  tools?: readonly CodeModeToolMark[];
  now?: () => number;
}

/** The result of a run analysis stopped: nothing ran. */
export function blockedResult(analysis: AnalysisResult, limits: Limits, durationMs = 0): ExecResult {
  const blocking = analysis.findings.filter((f) => f.severity === 'block');
  return {
    status: 'blocked',
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    stdoutDroppedBytes: 0,
    stderrDroppedBytes: 0,
    durationMs,
    limits,
    isolation: { backend: 'bwrap', cgroup: 'none', seccomp: false, uid: null },
    reason: `blocked by policy before running: ${blocking.map((f) => `${f.rule} at line ${f.line}`).join(', ')}`,
    findings: analysis.findings,
  };
}

/** A syntax error as the run would have reported it, without a sandbox. */
export function syntaxErrorResult(analysis: AnalysisResult, limits: Limits, durationMs = 0): ExecResult {
  const e = analysis.syntaxError!;
  return {
    status: 'error',
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: `SyntaxError: ${e.message} (line ${e.line}, column ${e.column})\n`,
    stdoutDroppedBytes: 0,
    stderrDroppedBytes: 0,
    error: { type: 'SyntaxError', message: e.message, line: e.line, column: e.column },
    durationMs,
    limits,
    isolation: { backend: 'bwrap', cgroup: 'none', seccomp: false, uid: null },
    reason: 'syntax error found before running',
  };
}

/**
 * Analyse, then decide: the function a session manager (or any caller that
 * does not hold an Executor) calls before running a cell. Returns the result
 * to answer with instead of running, or the findings to attach to the run's.
 */
export async function preflight(
  request: { language: ExecRequest['language']; code: string },
  options: Omit<AnalyzingExecutorOptions, 'resolveLimits'> & { limits: Limits },
): Promise<{ stop: ExecResult } | { findings: ExecResult['findings'] }> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const analysis = await (options.analyzer ?? sharedAnalyzer()).analyze(
    { language: request.language, code: request.code, ...(options.tools ? { tools: options.tools } : {}) },
    options.policy ?? DEFAULT_POLICY,
  );
  if (isBlocked(analysis)) return { stop: blockedResult(analysis, options.limits, now() - started) };
  if (analysis.syntaxError && options.syntaxErrorsBeforeRun !== false)
    return { stop: syntaxErrorResult(analysis, options.limits, now() - started) };
  return { findings: analysis.findings };
}

export class AnalyzingExecutor implements PrincipalScopedExecutor {
  constructor(
    private readonly inner: Executor,
    private readonly options: AnalyzingExecutorOptions,
  ) {}

  async run(request: ExecRequest): Promise<ExecResult> {
    const decision = await preflight(request, { ...this.options, limits: this.options.resolveLimits(request) });
    if ('stop' in decision) return decision.stop;
    const result = await this.inner.run(request);
    return decision.findings && decision.findings.length ? { ...result, findings: decision.findings } : result;
  }

  /** The same analysis in front of one principal's view of the inner executor (see executorFor). */
  forPrincipal(principal: string): Executor {
    const view = new AnalyzingExecutor(executorFor(this.inner, principal), this.options);
    return { run: (r) => view.run(r), close: async () => {} }; // the owner closes the inner executor
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
