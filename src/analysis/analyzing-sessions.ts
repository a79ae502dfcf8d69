/**
 * A SessionService decorator that analyses every cell and script before it
 * runs (the session-side twin of AnalyzingExecutor). `block` findings answer
 * with a `blocked` result and nothing runs (no execution count, no history);
 * `warn` findings ride on the result. Syntax errors are left to the kernel, so
 * they are recorded like any failed cell. Each session may tighten the
 * operator's policy (create's `analysis` option), and loosen it only down to
 * the operator's `sessionMinimum`.
 */
import { randomUUID } from 'node:crypto';
import { AppError, isAppError } from '../errors.js';
import { languageOfFile } from '../cli/file-language.js';
import type {
  CreateSessionOptions,
  SessionExecOptions,
  SessionExecResult,
  SessionInfo,
  SessionService,
} from '../sessions/contract.js';
import type { Language } from '../sandbox/executor.js';
import { sharedAnalyzer, type Analyzer } from './analyzer.js';
import { preflight } from './analyzing-executor.js';
import { operatorPolicy, sessionPolicy, type LevelMap, type OperatorPolicy, type Policy } from './policy.js';

export interface AnalyzingSessionsOptions {
  analyzer?: Analyzer;
  /** The operator's levels and the lowest levels sessions may choose (settings `analysis`). */
  operator?: OperatorPolicy;
}

/** `create` options with the session's own analysis levels. */
export type AnalyzedCreateOptions = CreateSessionOptions & { analysis?: { rules?: LevelMap } };

/**
 * Wraps `inner` (every other method is passed through unchanged). Returns a
 * plain SessionService, so callers cannot tell it from the inner one.
 */
export function analyzingSessions(inner: SessionService, options: AnalyzingSessionsOptions = {}): SessionService {
  const analyzer = options.analyzer ?? sharedAnalyzer();
  const operator = options.operator ?? {};
  const base = operatorPolicy(operator);
  const policies = new Map<string, Policy>();

  async function guard(
    id: string,
    language: Language,
    code: string,
    owner: string | undefined,
    run: () => Promise<SessionExecResult>,
  ): Promise<SessionExecResult> {
    const info = inner.get(id, owner);
    const decision = await preflight(
      { language, code },
      { analyzer, policy: policies.get(id) ?? base, limits: info.limits, syntaxErrorsBeforeRun: false },
    );
    if ('stop' in decision) {
      return {
        ...decision.stop,
        executionId: `blocked-${randomUUID()}`,
        sessionId: id,
        executionCount: info.executionCount,
      };
    }
    const result = await run();
    return decision.findings?.length ? { ...result, findings: decision.findings } : result;
  }

  // Every method forwards to inner (bound: inner's own `this`), except the ones below.
  const forward = <K extends keyof SessionService>(k: K): SessionService[K] =>
    (inner[k] as (...a: unknown[]) => unknown).bind(inner) as SessionService[K];
  const service: SessionService = {
    create: forward('create'),
    list: forward('list'),
    get: forward('get'),
    execute: forward('execute'),
    runScript: forward('runScript'),
    runProgram: forward('runProgram'),
    interrupt: forward('interrupt'),
    restart: forward('restart'),
    close: forward('close'),
    writeFile: forward('writeFile'),
    readFile: forward('readFile'),
    listFiles: forward('listFiles'),
    deleteFile: forward('deleteFile'),
    importArchive: forward('importArchive'),
    exportArchive: forward('exportArchive'),
    history: forward('history'),
    listResumable: forward('listResumable'),
    exportNotebook: forward('exportNotebook'),
    subscribe: forward('subscribe'),
    shutdown: forward('shutdown'),
    ...(inner.kits ? { kits: forward('kits') } : {}),
  };
  return Object.assign(service, {
    async create(createOptions: AnalyzedCreateOptions): Promise<SessionInfo> {
      const { analysis, ...rest } = createOptions;
      let policy: Policy | undefined;
      let clampedNote: string | undefined;
      if (analysis?.rules && Object.keys(analysis.rules).length) {
        try {
          const r = sessionPolicy(operator, analysis.rules);
          policy = r.policy;
          if (r.clamped.length)
            clampedNote = `analysis: the operator does not allow ${r.clamped
              .map((c) => `${c.key} at "${c.asked}" (kept at "${c.applied}")`)
              .join(', ')}`;
        } catch (e) {
          if (!isAppError(e, 'INVALID_CONFIG')) throw e;
          throw new AppError('INVALID_ARGUMENT', e.message.replace(/^analysis\./, 'analysis.rules.'), {
            argument: 'analysis.rules',
          });
        }
      }
      const info = await inner.create(rest);
      if (policy) policies.set(info.id, policy);
      else policies.delete(info.id);
      if (!clampedNote) return info;
      return { ...info, note: info.note === undefined ? clampedNote : `${info.note}\n${clampedNote}` };
    },
    execute(id: string, code: string, execOptions: SessionExecOptions = {}): Promise<SessionExecResult> {
      const language = inner.get(id, execOptions.owner).language;
      return guard(id, language, code, execOptions.owner, () => inner.execute(id, code, execOptions));
    },
    async runScript(
      id: string,
      path: string,
      args: string[],
      execOptions: SessionExecOptions = {},
    ): Promise<SessionExecResult> {
      const language = languageOfFile(path, true);
      let code: string | undefined;
      if (language) {
        try {
          code = Buffer.from(await inner.readFile(id, path, execOptions.owner)).toString('utf8');
        } catch (e) {
          // Unreadable (missing, a directory, refused): runScript itself reports that, in its own words.
          if (!isAppError(e)) throw e;
        }
      }
      const run = () => inner.runScript(id, path, args, execOptions);
      return language && code !== undefined ? guard(id, language, code, execOptions.owner, run) : run();
    },
    async close(id: string, owner?: string): Promise<void> {
      await inner.close(id, owner);
      policies.delete(id);
    },
  });
}
