/**
 * The agent's contract: options, typed events and the result of a run. Types
 * only (no runtime imports), so the web client and the MCP layer can depend on
 * it without pulling in a provider.
 *
 * Invariant: nothing here ever carries an API key; keys stay inside the
 * provider adapter (providers.ts) and are redacted from every event text.
 */
import type { Language } from '../sandbox/executor.js';

/** How the model acts: native tool calls, fenced code in plain text (CodeAct), or tools with a text fallback. */
export type ActionMode = 'tools' | 'codeact' | 'auto';

export type ApprovalPolicy = 'auto' | 'ask' | 'deny-network-tools';

export interface Budgets {
  /** Model calls at most (default 20). */
  maxSteps?: number;
  /** Input (prompt) tokens summed over the run. */
  maxInputTokens?: number;
  /** Output (completion) tokens summed over the run. */
  maxOutputTokens?: number;
  /** Estimated cost in US dollars (needs a known price; see pricing.ts). */
  maxCostUsd?: number;
  /** Wall-clock time for the whole run, in milliseconds. */
  maxWallMs?: number;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** undefined when the model's price is not known. */
  costUsd: number | undefined;
}

/** What the agent asks a human (or an API caller) to approve before it runs. */
export interface ApprovalRequest {
  step: number;
  tool: string;
  /** The code, or a one-line summary of the tool's input. */
  summary: string;
  input: unknown;
  /** Why approval is needed: the policy, or Code Mode's requireApproval. */
  reason: 'policy' | 'network-tool' | 'require-approval';
}

export type StopReason =
  | 'final_answer'
  | 'max_steps'
  | 'max_input_tokens'
  | 'max_output_tokens'
  | 'max_cost'
  | 'max_wall_time'
  | 'stuck'
  | 'cancelled'
  | 'provider_error'
  | 'no_action';

/** One executed action, as the loop saw it (for the stuck detector and the transcript). */
export interface ActionRecord {
  step: number;
  tool: string;
  /** Stable text of the action (code, or the tool's input as JSON). */
  signature: string;
  /** 'ok' or the failure's fingerprint (status + error type + message). */
  outcome: string;
  failed: boolean;
  /** True when the action deliberately waits (sleep, polling): never counted as stuck. */
  waiting: boolean;
}

export interface VerificationReport {
  ok: boolean;
  tests: { path: string; assertions: number; counted: boolean; reason?: string }[];
  command?: string;
  status?: string;
  output?: string;
}

export type AgentEvent =
  | { type: 'run_start'; model: string; mode: ActionMode; sessionId: string; language: Language }
  | { type: 'step_start'; step: number }
  | { type: 'text_delta'; step: number; text: string }
  | { type: 'code'; step: number; tool: string; language: Language; code: string }
  | { type: 'tool_call'; step: number; tool: string; input: unknown }
  | { type: 'output_delta'; step: number; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'result'; step: number; tool: string; ok: boolean; status: string; observation: string }
  | { type: 'approval_request'; request: ApprovalRequest }
  | { type: 'approval'; step: number; tool: string; approved: boolean }
  | { type: 'retry'; step: number; attempt: number; delayMs: number; error: string }
  | { type: 'notice'; step: number; message: string }
  | { type: 'step_end'; step: number; usage: Usage; durationMs: number }
  | { type: 'final'; result: AgentResult };

export interface AgentResult {
  ok: boolean;
  stopReason: StopReason;
  /** The model's final answer (when stopReason is final_answer). */
  answer?: string;
  /** A readable sentence saying why the run ended. */
  message: string;
  steps: number;
  usage: Usage;
  durationMs: number;
  sessionId: string;
  actions: ActionRecord[];
  verification?: VerificationReport;
}

/** Checks a final answer; returns a message for the model when it is rejected. */
export type AnswerValidator = (answer: string) => string | undefined | Promise<string | undefined>;
