/**
 * Static analysis before execution: the public surface. Rules are data
 * (rules.ts), facts come from real parsers (extract/), the policy is pure
 * (policy.ts), and AnalyzingExecutor puts it in front of any Executor.
 */
export { Analyzer, cacheKey, isBlocked, sharedAnalyzer, type AnalyzerOptions } from './analyzer.js';
export {
  AnalyzingExecutor,
  blockedResult,
  preflight,
  syntaxErrorResult,
  type AnalyzingExecutorOptions,
} from './analyzing-executor.js';
export { analyzingSessions, type AnalyzingSessionsOptions } from './analyzing-sessions.js';
export {
  activePolicy,
  codeModePreflight,
  operatorOf,
  withAnalysis,
  type AnalysisSettings,
  type CodeModePreflight,
} from './compose.js';
export { CORPUS, type CorpusCase } from './corpus.js';
export {
  DEFAULT_POLICY,
  operatorPolicy,
  sessionPolicy,
  validateLevels,
  type LevelMap,
  type OperatorPolicy,
  type Policy,
  type SessionPolicyResult,
} from './policy.js';
export { RULES } from './rules.js';
export {
  RULE_FAMILIES,
  RULE_LEVELS,
  type AnalysisRequest,
  type AnalysisResult,
  type CodeModeToolMark,
  type Finding,
  type Rule,
  type RuleFamily,
  type RuleLevel,
  type RulePattern,
} from './types.js';
