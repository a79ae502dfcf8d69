/**
 * The execution contract every sandbox backend implements. No runtime imports:
 * this file is types and constants only. An Executor never throws because the
 * user's program failed; it returns an ExecResult whose status says why.
 */
import type { Limits, LimitOverrides } from './limits.js';

export const LANGUAGES = ['python', 'javascript', 'typescript', 'bash'] as const;
export type Language = (typeof LANGUAGES)[number];

/**
 * Why a run ended. `ok` and `error` are the program's own doing (exit code 0 or
 * not); every other status names the limit or event that stopped it, as the
 * supervisor observed it. `protocol_error`: a session kernel broke its control
 * protocol (a malformed, oversized or unexpected frame) and was stopped.
 * `blocked`: static analysis stopped the run by policy before any sandbox started.
 */
export type ExecStatus =
  | 'ok'
  | 'error'
  | 'timeout'
  | 'cpu_time'
  | 'memory'
  | 'process_limit'
  | 'output_limit'
  | 'disk_limit'
  | 'interrupted'
  | 'cancelled'
  | 'killed'
  | 'not_started'
  | 'protocol_error'
  | 'blocked';

export const EXEC_STATUSES: readonly ExecStatus[] = [
  'ok',
  'error',
  'timeout',
  'cpu_time',
  'memory',
  'process_limit',
  'output_limit',
  'disk_limit',
  'interrupted',
  'cancelled',
  'killed',
  'not_started',
  'protocol_error',
  'blocked',
];

/** An exception raised by the user's program, located in the user's source. */
export interface ExecError {
  /** e.g. "ZeroDivisionError", "TypeError", "SyntaxError". */
  type: string;
  message: string;
  /** 1-based line in the user's code, when known. */
  line?: number;
  column?: number;
  /** The traceback/stack with sandbox-internal frames removed. */
  traceback?: string;
}

/** A Jupyter-style rich output: a MIME bundle such as {"text/plain": "...", "image/png": "<base64>"}. */
export interface DisplayOutput {
  /** `result` is the value of the last expression; `display` came from display()/plt.show(). */
  kind: 'result' | 'display';
  data: Record<string, string>;
}

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface InputFile {
  /** Relative path inside the workspace. */
  path: string;
  content: Uint8Array | string;
}

export interface ExecRequest {
  language: Language;
  code: string;
  /** Bytes given to the program's standard input. */
  stdin?: string | Uint8Array;
  /** Command-line arguments (sys.argv[1:], process.argv.slice(2), $1...). */
  args?: string[];
  /** Files written into the workspace before the run. */
  files?: InputFile[];
  /** Tighten (or loosen up to the server maximum) this run's limits. */
  limits?: LimitOverrides;
  /** Run in this host directory as the workspace (kept after the run). Default: a fresh temporary one, deleted after. */
  workspaceDir?: string;
  /** Aborting stops the run; its status becomes `cancelled`. */
  signal?: AbortSignal;
  /** Live output as it arrives (for progress notifications). */
  onOutput?: (chunk: OutputChunk) => void;
  /** Answer from the result cache when this exact run was done before (where the server has one). */
  cache?: boolean;
}

export interface WorkspaceEntry {
  path: string;
  size: number;
}

/** Which isolation layers and limits actually applied to a run. */
export interface IsolationInfo {
  backend: 'bwrap' | 'unsandboxed' | 'isolate';
  /** e.g. "v1", "v2" or "none". */
  cgroup: 'v1' | 'v2' | 'none';
  seccomp: boolean;
  uid: number | null;
}

export interface ExecResult {
  status: ExecStatus;
  /** The process's exit code, or null when it was killed by a signal or never started. */
  exitCode: number | null;
  /** The terminating signal's name, e.g. "SIGKILL". */
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Bytes of stdout/stderr dropped by truncation (0 when nothing was dropped). */
  stdoutDroppedBytes: number;
  stderrDroppedBytes: number;
  error?: ExecError;
  /** Rich outputs (session kernels). */
  outputs?: DisplayOutput[];
  /** Files in the workspace after the run. */
  files?: WorkspaceEntry[];
  durationMs: number;
  limits: Limits;
  isolation: IsolationInfo;
  /** A human-readable one-line reason when status is not ok/error. */
  reason?: string;
  /** True when the result came from the result cache instead of a new run. */
  cached?: boolean;
  /** Static-analysis findings (src/analysis): `warn` ones on a run, `block` ones on a `blocked` result. */
  findings?: AnalysisFinding[];
}

/** A static-analysis finding as results carry it (the same shape as src/analysis's Finding). */
export interface AnalysisFinding {
  rule: string;
  severity: 'warn' | 'block';
  line: number;
  column: number;
  message: string;
  hint: string;
}

export interface Executor {
  run(request: ExecRequest): Promise<ExecResult>;
  close(): Promise<void>;
}
