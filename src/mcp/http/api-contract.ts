/**
 * The workbench's HTTP API contract (`/api/v1`): request and response bodies,
 * the error body and the live event stream. Types and constants only, no
 * imports, so the front-end (web/) imports this file as is (api-contract-sync.ts
 * fails the build if its copies of server types drift). docs/api.md is
 * the prose version; api-router.ts implements it.
 *
 * Wire rules: JSON bodies, snake_case fields everywhere, `limits` included
 * (`wall_ms`, `cpu_ms`, ...), exactly as the MCP tools take and give them.
 * Every failure is an `ApiErrorBody`
 * with an HTTP status (400/401/403/404/409/413/415/429/503, 500 for our bugs).
 *
 * Auth: `Authorization: Bearer <token>` on every /api request, exactly as
 * /mcp; no cookies. The token decides the principal, and a session belongs to
 * the principal that created it (on /mcp or here): anyone else gets 404.
 *
 * Changes from the first design, and why:
 * - `POST /sessions/:id/agent` takes `model` only from `info.agent.models`
 *   (the server's configured model strings), never an arbitrary string: a
 *   model string names a base URL and the environment variable whose key is
 *   sent there, so a free string would let a web caller send the server's
 *   API keys anywhere.
 * - `GET /agent-runs/:id` added, so a page opened mid-run learns its state
 *   and any pending approval without replaying the stream.
 * - `execution.finished` carries `error` instead of `result` when the run
 *   failed as a call (e.g. the session was closed under it).
 */

export const API_BASE = '/api/v1';

export type Language = 'python' | 'javascript' | 'typescript' | 'bash';

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
  | 'blocked'
  | 'protocol_error';

/** Resource limits, as in the MCP tools' `limits`. */
export interface LimitsJson {
  wall_ms: number;
  cpu_ms: number;
  memory_bytes: number;
  processes: number;
  output_bytes: number;
  output_total_bytes: number;
  disk_bytes: number;
  tmp_bytes: number;
  open_files: number;
}

export type LimitOverridesJson = Partial<LimitsJson>;

// ------------------------------------------------------------------ errors

export type ApiErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FORBIDDEN'
  | 'PATH_ESCAPE'
  | 'TOO_LARGE'
  | 'LIMIT_EXCEEDED'
  | 'SANDBOX_UNAVAILABLE'
  | 'SESSION_BUSY'
  | 'SESSION_CLOSED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_ERROR'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'APPROVAL_REQUIRED'
  | 'UNAUTHORIZED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'METHOD_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'INTERNAL';

export interface ApiErrorBody {
  error: {
    code: ApiErrorCode;
    message: string;
    /** What to do about it. */
    hint?: string;
    /** The request field at fault, e.g. "limits.wall_ms" or "path". */
    argument?: string;
  };
}

// -------------------------------------------------------------------- info

/** GET /api/v1/info */
export interface InfoResponse {
  name: 'codemode';
  version: string;
  api_version: 1;
  languages: Language[];
  limits: { defaults: LimitsJson; max: LimitsJson };
  /** Largest request body in bytes (413 above it). */
  max_body_bytes: number;
  /** Largest file PUT or GET through /files/content, in bytes. */
  max_file_bytes: number;
  /** Events kept per session for Last-Event-ID resume. */
  event_buffer: number;
  agent: {
    /** True when at least one model is configured. */
    available: boolean;
    /** Model strings the caller may pass as `model` (without secrets). */
    models: string[];
    default_model: string | null;
  };
}

// ---------------------------------------------------------------- sessions

export type SessionState = 'starting' | 'idle' | 'busy' | 'dead' | 'closed';

export interface SessionJson {
  id: string;
  language: Language;
  state: SessionState;
  created_at: string;
  last_used_at: string;
  execution_count: number;
  limits: LimitsJson;
  pooled: boolean;
  note?: string;
}

export interface ResumableSessionJson {
  session_id: string;
  language: Language;
  created_at: string;
  last_used_at: string;
  execution_count: number;
}

/** GET /sessions */
export interface ListSessionsResponse {
  sessions: SessionJson[];
  /** Saved sessions that are not running; POST /sessions/:id/resume brings one back. */
  resumable: ResumableSessionJson[];
}

/** POST /sessions (201) */
export interface CreateSessionRequest {
  language: Language;
  limits?: LimitOverridesJson;
}

/** POST /sessions/:id/resume */
export interface ResumeSessionRequest {
  /** Re-run the successful history to rebuild variables (default true). */
  replay_history?: boolean;
}

/** POST /sessions, GET /sessions/:id, POST .../resume, POST .../restart */
export interface SessionResponse {
  session: SessionJson;
}

/** POST .../interrupt, DELETE /sessions/:id */
export interface AckResponse {
  session_id: string;
  done: true;
}

// -------------------------------------------------------------- executions

export interface ExecErrorJson {
  type: string;
  message: string;
  line?: number;
  column?: number;
  traceback?: string;
}

export interface FindingJson {
  rule: string;
  severity: 'warn' | 'block';
  line: number;
  column: number;
  message: string;
  hint: string;
}

export interface OutputSummaryJson {
  kind: 'result' | 'display';
  mime_types: string[];
  text?: string;
}

/** A rich output in full (images as base64, HTML as text), keyed by MIME type. */
export interface DisplayOutputJson {
  kind: 'result' | 'display';
  data: Record<string, string>;
}

/**
 * An execution's result: the MCP execute_code structured result, plus the
 * rich outputs in full (`displays`), which the workbench renders (HTML only
 * in a sandboxed iframe).
 */
export interface ExecResultJson {
  status: ExecStatus;
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdout_omitted_chars: number;
  stderr_omitted_chars: number;
  stdout_dropped_bytes: number;
  stderr_dropped_bytes: number;
  duration_ms: number;
  error?: ExecErrorJson;
  outputs: OutputSummaryJson[];
  displays: DisplayOutputJson[];
  files?: { path: string; size: number }[];
  reason?: string;
  hint?: string;
  /** Where the full text of a clipped stream is: an API path, `/api/v1/outputs/:id`. */
  full_output?: { stdout?: string; stderr?: string };
  session_id: string;
  execution_id: string;
  execution_count: number;
  kernel_restarted?: boolean;
  cpu_ms?: number;
  idle_cpu_ms?: number;
  tool_calls?: number;
  findings?: FindingJson[];
  note?: string;
  warnings?: string[];
  limits: LimitsJson;
  isolation: { backend: string; cgroup: string; seccomp: boolean; uid: number | null };
}

/** POST /sessions/:id/executions: runs to the end and answers the result (output also streams as events). */
export interface ExecuteRequest {
  code: string;
  limits?: LimitOverridesJson;
}

/** One past execution of a session. */
export interface ExecutionRecordJson {
  execution_id: string;
  execution_count: number;
  kind: 'execute' | 'script' | 'restart';
  language: Language;
  code: string;
  status: ExecStatus;
  stdout: string;
  stderr: string;
  displays: DisplayOutputJson[];
  error?: ExecErrorJson;
  started_at: string;
  duration_ms: number;
  reason?: string;
}

/** GET /sessions/:id/history?q=TEXT (q: case-insensitive substring of code or output) */
export interface HistoryResponse {
  session_id: string;
  executions: ExecutionRecordJson[];
}

// ------------------------------------------------------------------- files

export interface FileEntryJson {
  path: string;
  size: number;
}

/** GET /sessions/:id/files?path=DIR */
export interface ListFilesResponse {
  session_id: string;
  files: FileEntryJson[];
}

/** PUT /sessions/:id/files/content?path=FILE (raw body) */
export interface WriteFileResponse {
  session_id: string;
  path: string;
  size: number;
}

// ----------------------------------------------------- export and import

/** GET /sessions/:id/export?format=ipynb|script answers the file itself (attachment). */
export type ExportFormat = 'ipynb' | 'script';

/** POST /sessions/:id/import-notebook: body is nbformat 4 JSON; code cells run in order, stopping at the first that fails. */
export interface ImportNotebookResponse {
  session_id: string;
  results: ExecResultJson[];
  /** Code cells not run because an earlier one failed. */
  skipped: number;
}

// ------------------------------------------------------------------- dataflow graph (docs/graph.md)

/** One execution as a graph node. */
export interface GraphNodeJson {
  /** The execution count (In [n]). */
  execution_count: number;
  execution_id: string;
  kind: 'execute' | 'script';
  status: string;
  /** The first line of the code (at most 120 characters). */
  code_head: string;
  defs: string[];
  uses: string[];
  /** Objects the cell changed in place. */
  mutates: string[];
  /** What the analysis cannot know (exec, star import, globals(), mutation). */
  unknown: { reason: string; line: number; name?: string }[];
  /** The cell may read or define names nobody can list. */
  opaque: boolean;
  /** A name it read was defined again after it ran (or it read from a stale cell). */
  stale: boolean;
  stale_because: string[];
}

/** `from` last defined `name` before `to` read it; `uncertain`: `from` only changed it in place. */
export interface GraphEdgeJson {
  from: number;
  to: number;
  name: string;
  uncertain?: boolean;
}

/** GET /sessions/:id/graph */
export interface GraphResponse {
  session_id: string;
  nodes: GraphNodeJson[];
  edges: GraphEdgeJson[];
  /** Execution counts of the stale nodes. */
  stale: number[];
}

/** POST /sessions/:id/rerun-downstream */
export interface RerunDownstreamRequest {
  execution_count: number;
  /** Only plan: say which cells would run. */
  dry_run?: boolean;
}

/**
 * The cells that depend on `execution_count` ran again in order (as new
 * executions, which also stream as events), stopping at the first failure.
 * `refused` says why nothing ran (a cycle, an opaque cell); `unknown` lists
 * cells that may depend on it but were not run.
 */
export interface RerunDownstreamResponse {
  session_id: string;
  planned: number[];
  unknown: { cell: number; reason: string }[];
  refused?: string;
  runs: { cell: number; result: ExecResultJson }[];
}

// ------------------------------------------------------------------- agent

export type AgentApproval = 'auto' | 'ask';

/** POST /sessions/:id/agent (202) */
export interface StartAgentRequest {
  task: string;
  /** One of info.agent.models; default info.agent.default_model. */
  model?: string;
  /** `ask`: every action waits for POST /agent-runs/:id/approval. Default `auto`. */
  approval?: AgentApproval;
  max_steps?: number;
}

export interface StartAgentResponse {
  run_id: string;
  session_id: string;
}

/** POST /agent-runs/:id/approval */
export interface ApprovalRequestBody {
  approve: boolean;
}

export interface PendingApprovalJson {
  step: number;
  tool: string;
  summary: string;
  reason: 'policy' | 'network-tool' | 'require-approval';
}

export interface AgentUsageJson {
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
}

export interface AgentResultJson {
  ok: boolean;
  stop_reason: string;
  answer?: string;
  message: string;
  steps: number;
  usage: AgentUsageJson;
  duration_ms: number;
}

/** GET /agent-runs/:id, POST /agent-runs/:id/approval, POST /agent-runs/:id/cancel */
export interface AgentRunJson {
  run_id: string;
  session_id: string;
  model: string;
  task: string;
  state: 'running' | 'finished';
  pending_approval: PendingApprovalJson | null;
  result: AgentResultJson | null;
}

// ------------------------------------------------------------------ events

/** Who started an execution. Runs through MCP tools (execute_code, run_script, ...) are `mcp`. */
export type ExecutionSource = 'web' | 'mcp' | 'agent';

/**
 * The payload of each event type. On the wire (text/event-stream) an event is
 *   id: <n>\nevent: <type>\ndata: <JSON of ApiEvent>\n\n
 * ids are increasing integers per session; reconnect with `Last-Event-ID: <n>`
 * (or `?last_event_id=<n>`) to get the events after n that the ring buffer
 * still holds. When some were already dropped, the first event is
 * `stream.reset`: reload the session and its history. Comment lines
 * (`: ping`) keep the connection alive; ignore them.
 */
export interface ApiEventData {
  /** The subscription is live; `last_event_id` is the newest id so far (0 when none). */
  'stream.open': { session: SessionJson; last_event_id: number };
  /** Events between Last-Event-ID and the oldest held were dropped. */
  'stream.reset': { reason: string };
  'execution.started': {
    execution_id: string;
    execution_count: number;
    kind: 'execute' | 'script' | 'restart';
    /** The code, or the command line for a script. */
    code: string;
    source: ExecutionSource;
  };
  output: { execution_id: string; stream: 'stdout' | 'stderr'; text: string };
  'execution.finished': { execution_id: string; result?: ExecResultJson; error?: ApiErrorBody['error'] };
  'session.state': { session: SessionJson };
  /** The session was closed; the stream ends after this event. */
  'session.closed': { session_id: string };
  /** Workspace files changed (by a run, an upload or a delete); `paths` are those known to have changed. */
  'files.changed': { paths: string[] };
  'agent.started': { run_id: string; model: string; task: string };
  'agent.step': { run_id: string; step: number };
  'agent.text': { run_id: string; step: number; text: string };
  'agent.code': { run_id: string; step: number; tool: string; language: Language; code: string };
  'agent.tool_call': { run_id: string; step: number; tool: string; input: unknown };
  'agent.result': { run_id: string; step: number; tool: string; ok: boolean; status: string; observation: string };
  'agent.approval_request': { run_id: string; request: PendingApprovalJson };
  'agent.approval': { run_id: string; step: number; tool: string; approved: boolean };
  'agent.notice': { run_id: string; step: number; message: string };
  'agent.usage': { run_id: string; step: number; usage: AgentUsageJson; duration_ms: number };
  'agent.finished': { run_id: string; result: AgentResultJson };
}

export type ApiEventType = keyof ApiEventData;

export type ApiEvent = {
  [K in ApiEventType]: { id: number; type: K; session_id: string; at: string; data: ApiEventData[K] };
}[ApiEventType];
