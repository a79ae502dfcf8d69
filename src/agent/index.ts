/** Public surface of the agent: runAgent, its contract, and the pure pieces a caller may reuse. */
export { runAgent } from './loop.js';
export type { AgentSession, CodeModeTools, RunAgentOptions } from './loop.js';
export type {
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
export { apiKeyFor, describeModel, parseModelString } from './model-string.js';
export type { ModelSpec, ProviderName } from './model-string.js';
export { resolveModel } from './providers.js';
export type { ResolvedModel } from './providers.js';
export { parseCodeBlocks, parseTextAction } from './fence-parser.js';
export { formatObservation } from './feedback.js';
export { assessStuck, checkBudgets, classifyProviderError } from './control.js';
