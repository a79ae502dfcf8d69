/**
 * Analysis at the composition root: one call puts the analyser in front of a
 * server's one-shot executor, its session service and Code Mode, with the
 * operator's policy from settings. Off (`analysis.enabled: false`): everything
 * is returned unchanged.
 */
import type { Executor, ExecRequest } from '../sandbox/executor.js';
import type { Limits } from '../sandbox/limits.js';
import type { SessionService } from '../sessions/contract.js';
import { isBlocked, sharedAnalyzer, type Analyzer } from './analyzer.js';
import { AnalyzingExecutor } from './analyzing-executor.js';
import { analyzingSessions } from './analyzing-sessions.js';
import { operatorPolicy, type LevelMap, type OperatorPolicy, type Policy } from './policy.js';
import type { CodeModeToolMark, Finding } from './types.js';

/** The settings' `analysis` section. */
export interface AnalysisSettings {
  enabled: boolean;
  rules: LevelMap;
  sessionMinimum: LevelMap;
}

export function operatorOf(settings: AnalysisSettings): OperatorPolicy {
  return { rules: settings.rules, sessionMinimum: settings.sessionMinimum };
}

/** The active level of every rule (what `codemode doctor` lists); null when analysis is off. */
export function activePolicy(settings: AnalysisSettings): Policy | null {
  return settings.enabled ? operatorPolicy(operatorOf(settings)) : null;
}

export function withAnalysis<E extends Executor>(
  parts: { executor: E; sessions: SessionService; resolveLimits: (request: ExecRequest) => Limits },
  settings: AnalysisSettings,
  analyzer: Analyzer = sharedAnalyzer(),
): { executor: Executor; sessions: SessionService } {
  if (!settings.enabled) return parts;
  const operator = operatorOf(settings);
  return {
    executor: new AnalyzingExecutor(parts.executor, {
      analyzer,
      policy: operatorPolicy(operator),
      resolveLimits: parts.resolveLimits,
    }),
    sessions: analyzingSessions(parts.sessions, { analyzer, operator }),
  };
}

/** What Code Mode needs of its runtime to mark tools: the catalog's entries. */
export interface CodeModeCatalogLike {
  catalog(): Promise<{
    entries: readonly {
      server: { identifier: string };
      tool: { identifier: string };
      needsApproval: boolean;
      info: { annotations?: { destructiveHint?: boolean } | undefined };
    }[];
  }>;
}

export type CodeModePreflight = (request: {
  language: 'javascript' | 'typescript';
  code: string;
  /** `server.tool` identifiers approved for this run only. */
  approvedTools?: readonly string[];
}) => Promise<{ blocked: boolean; findings: Finding[] }>;

/**
 * The Code Mode rule family before a run_code_mode program: calls to tools
 * needing approval (not approved for this run) and to destructive tools.
 */
export function codeModePreflight(
  runtime: CodeModeCatalogLike,
  settings: AnalysisSettings,
  analyzer: Analyzer = sharedAnalyzer(),
): CodeModePreflight | undefined {
  if (!settings.enabled) return undefined;
  const policy = operatorPolicy(operatorOf(settings));
  return async (request) => {
    const approved = new Set(request.approvedTools ?? []);
    const tools: CodeModeToolMark[] = (await runtime.catalog()).entries.map((e) => ({
      server: e.server.identifier,
      tool: e.tool.identifier,
      needsApproval: e.needsApproval && !approved.has(`${e.server.identifier}.${e.tool.identifier}`),
      destructive: e.info.annotations?.destructiveHint === true,
    }));
    // The program is a function body (top-level `return`): parse it as one, and give lines as written.
    const code = `async function codemodeProgram() {\n${request.code}\n}`;
    const r = await analyzer.analyze({ language: request.language, code, tools }, policy);
    const findings = r.findings.map((f) => ({ ...f, line: Math.max(1, f.line - 1) }));
    return { blocked: isBlocked(r), findings };
  };
}
