/**
 * The session service contract: stateful kernels (one sandboxed process per
 * session) with private workspaces. The MCP server and the CLI depend on this
 * interface, not on the implementation. Types only.
 *
 * Ownership: every call takes the caller's `owner` (the MCP principal). A
 * session is visible only to the owner that created it; to anyone else it does
 * not exist (NOT_FOUND), so ids cannot be probed.
 */
import type { DisplayOutput, ExecResult, Language, OutputChunk, WorkspaceEntry } from '../sandbox/executor.js';
import type { LimitOverrides, Limits } from '../sandbox/limits.js';
import type { Sandbox } from '../sandbox/sandbox.js';

export type SessionState = 'starting' | 'idle' | 'busy' | 'dead' | 'closed';

export interface SessionInfo {
  id: string;
  language: Language;
  owner: string;
  state: SessionState;
  createdAt: string; // ISO time
  lastUsedAt: string; // ISO time
  executionCount: number;
  limits: Limits;
  /** True when the session's kernel came from the warm pool. */
  pooled: boolean;
  /** Something the caller should know, e.g. the outcome of a history replay on resume. */
  note?: string;
  /** The kits the session uses, with the package versions installed when it started. */
  kits?: KitRecord[];
  /** The operator's network policy the session reaches the outside through (settings network.policies). */
  network?: string;
}

/** A kit as a session records it, so its environment can be reproduced. */
export interface KitRecord {
  name: string;
  version: string;
  packages: { manager: 'debian' | 'npm'; name: string; version: string }[];
}

export interface SessionEnvironmentRequest {
  sessionId: string;
  language: Language;
  /** The host uid the session's sandbox runs as. */
  uid: number;
  kits?: string[];
  network?: string;
}

/** What kits and a network policy add to one session (src/projects/kits-session.ts). */
export interface SessionEnvironment {
  kits: KitRecord[];
  network?: string;
  /** Code to run in a fresh kernel before the first cell (the kits' start-up code). */
  startup: string | null;
  /** The sandbox every process of this session starts in (extra binds and environment). */
  sandbox(base: Sandbox): Sandbox;
  /** The egress proxy's connections so far (empty without a network policy). */
  egressLog(): unknown[];
  close(): Promise<void>;
}

/** One kit as list_kits shows it. */
export interface KitStatus {
  name: string;
  version: string;
  description: string;
  languages: ('python' | 'javascript')[];
  installed: boolean;
  /** Packages not installed (Debian), or the kit folder (npm). */
  missing: string[];
  /** The command that installs it (the operator's, never the sandbox's). */
  install: string;
  packages: { manager: 'debian' | 'npm'; name: string; version: string | null }[];
  /** On a cluster gateway: the live workers that have it installed (src/cluster/cluster-kits.ts). */
  workers?: string[];
}

export interface SessionEnvironmentProvider {
  /** Every kit with its install status, and the network policy names sessions may ask for. */
  catalogue(): { kits: KitStatus[]; networks: string[] };
  apply(request: SessionEnvironmentRequest): Promise<SessionEnvironment>;
  /** A hint naming the kits that provide a module an execution failed to import. */
  hint(error: { type?: string; message?: string } | undefined, sessionKits: readonly string[]): string | null;
  /** The kits and network a saved session used (for resume). */
  recall(sessionId: string): { kits: string[]; network?: string } | null;
  forget(sessionId: string): void;
}

export interface SessionExecResult extends ExecResult {
  executionId: string;
  sessionId: string;
  /** Problems that did not change the result, e.g. an earlier execution's history write failed. */
  warnings?: string[];
  /** 1-based execution counter within the session (like Jupyter's In [n]). */
  executionCount: number;
  /** Set when the kernel died during or before this run: its variables are gone, files are kept. */
  kernelRestarted?: boolean;
  note?: string;
  /** CPU time the kernel tree used during this execution (cgroup accounting), when known. */
  cpuMs?: number;
  /**
   * CPU the session's background processes used between the previous execution
   * and this one (capped by the idle CPU quota), when known.
   */
  idleCpuMs?: number;
  /** Code Mode tool calls the execution made (kernel rpc frames). */
  toolCalls?: number;
}

export interface ExecutionRecord {
  id: string;
  sessionId: string;
  executionCount: number;
  /**
   * `execute` ran code in the kernel; `script` ran a workspace file (code is the command line); `restart`
   * marks a fresh kernel (variables before it are gone; it shares the count of the execution before it).
   */
  kind?: 'execute' | 'script' | 'restart';
  language: Language;
  code: string;
  status: ExecResult['status'];
  stdout: string;
  stderr: string;
  outputs: DisplayOutput[];
  error?: ExecResult['error'];
  startedAt: string;
  durationMs: number;
  /** Why the run stopped, when status is not ok/error. */
  reason?: string;
  /** Set while the store cannot take this record (why): it is real, kept in memory and retried, not saved yet. */
  unsaved?: string;
}

export interface CreateSessionOptions {
  language: Language;
  owner?: string;
  limits?: LimitOverrides;
  /** Resume a session saved in the store (after a server restart). */
  resumeId?: string;
  /** With resumeId: re-run the successful history to rebuild variables. */
  replayHistory?: boolean;
  /** This session's static-analysis levels by rule or family, within the operator's (read by src/analysis's decorator). */
  analysis?: { rules?: Readonly<Record<string, 'off' | 'warn' | 'block'>> };
  /** Kits (list_kits) whose packages and start-up code the session gets; each must be installed on the host. */
  kits?: string[];
  /** A network policy named in the operator's settings: outbound HTTP(S) through the host's allow-list proxy. */
  network?: string;
}

export interface SessionExecOptions {
  owner?: string;
  /** Who started the run, as subscribers see it (default `mcp`: the MCP tools do not say). */
  source?: ExecutionSource;
  limits?: LimitOverrides;
  signal?: AbortSignal;
  onOutput?: (chunk: OutputChunk) => void;
}

/** A session saved in the store that is not live: resumable with create({ resumeId }). */
export interface ResumableSession {
  id: string;
  language: Language;
  createdAt: string;
  lastUsedAt: string;
  executionCount: number;
}

/** Programs a session may run directly: its interpreters, and git for version control. */
export type SandboxProgram = 'python' | 'node' | 'bash' | 'git';

/** Who started an execution. */
export type ExecutionSource = 'web' | 'mcp' | 'agent';

/** What a session's subscribers see (SessionService.subscribe), in order. */
export type SessionEvent =
  | {
      type: 'execution.started';
      executionId: string;
      executionCount: number;
      kind: 'execute' | 'script';
      /** The code, or the command line of a script. */
      code: string;
      source: ExecutionSource;
    }
  | { type: 'output'; executionId: string; stream: 'stdout' | 'stderr'; text: string }
  /** `result`, or `error` when the call itself failed (e.g. the session was closed under it). */
  | { type: 'execution.finished'; executionId: string; result?: SessionExecResult; error?: unknown }
  | { type: 'session.state'; session: SessionInfo }
  | { type: 'files.changed'; paths: string[] }
  /** The last event: the session was closed (by its owner, when idle, or at shutdown). */
  | { type: 'session.closed' };

export type SessionEventListener = (event: SessionEvent) => void;

export interface SessionService {
  create(options: CreateSessionOptions): Promise<SessionInfo>;
  list(owner?: string): SessionInfo[];
  get(id: string, owner?: string): SessionInfo;
  execute(id: string, code: string, options?: SessionExecOptions): Promise<SessionExecResult>;
  /** Run a workspace file with arguments, in the session's sandbox. */
  runScript(id: string, path: string, args: string[], options?: SessionExecOptions): Promise<SessionExecResult>;
  /**
   * Run a sandbox program (an interpreter or git) with arguments in the session's sandbox, recorded like
   * run_script unless `record` is false (bookkeeping such as git's: no execution count, no history).
   */
  runProgram(
    id: string,
    program: SandboxProgram,
    args: string[],
    options?: SessionExecOptions & { record?: boolean },
  ): Promise<SessionExecResult>;
  /** Stop the running execution and keep state where the language allows. */
  interrupt(id: string, owner?: string): Promise<void>;
  /**
   * Fresh kernel; workspace files are kept. `replayUpTo` re-runs the successful executions up to that count,
   * `replayOnly` just the executions with these counts (what chosen cells need, from the dataflow graph).
   */
  restart(
    id: string,
    owner?: string,
    options?: { replayUpTo?: number; replayOnly?: readonly number[] },
  ): Promise<SessionInfo>;
  close(id: string, owner?: string): Promise<void>;

  /** Create or overwrite a file; `append` adds to its end instead (chunked upload of large files). */
  writeFile(
    id: string,
    path: string,
    content: Uint8Array,
    owner?: string,
    options?: { append?: boolean },
  ): Promise<WorkspaceEntry>;
  readFile(id: string, path: string, owner?: string): Promise<Uint8Array>;
  listFiles(id: string, path?: string, owner?: string): Promise<WorkspaceEntry[]>;
  deleteFile(id: string, path: string, owner?: string): Promise<void>;
  /** Unpack a tar or zip archive into folder `path` ('' = the workspace); hostile entries are refused before anything is written. */
  importArchive(
    id: string,
    path: string,
    archive: Uint8Array,
    owner?: string,
  ): Promise<{ entries: number; bytes: number }>;
  /** Folder `path` ('' = the workspace) as a .tar.gz. */
  exportArchive(id: string, path: string, owner?: string): Promise<Uint8Array>;

  history(id: string, owner?: string): ExecutionRecord[];
  /** Saved sessions of this owner that are not live (after a server restart). */
  listResumable(owner?: string): ResumableSession[];
  /** Export as a Jupyter notebook (nbformat 4) JSON string. */
  exportNotebook(id: string, owner?: string): string;
  /**
   * Live events of one session, whoever runs code in it (MCP, workbench,
   * agent). NOT_FOUND for another owner's session. Returns the unsubscribe.
   */
  subscribe(id: string, owner: string | undefined, listener: SessionEventListener): () => void;
  /** The kits and network policies sessions may ask for (absent: this service offers none). */
  kits?(): { kits: KitStatus[]; networks: string[] };

  shutdown(): Promise<void>;
}
