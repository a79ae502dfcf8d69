/**
 * SessionManager implements SessionService: stateful kernels with private
 * workspaces, per-owner visibility, ordered execution per session (sessions run
 * concurrently), idle expiry, a live-session cap, a warm pool, and durable
 * history. User code failing is a result; only misuse throws an AppError.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { AppError } from '../errors.js';
import type { ToolHost } from '../codemode/contract.js';
import {
  LANGUAGES,
  type ExecStatus,
  type Language,
  type OutputChunk,
  type WorkspaceEntry,
} from '../sandbox/executor.js';
import { DEFAULT_LIMITS, MAX_LIMITS, resolveLimits, type LimitOverrides, type Limits } from '../sandbox/limits.js';
import type { Sandbox, SandboxProcess } from '../sandbox/sandbox.js';
import { Supervision } from '../sandbox/supervisor.js';
import { OutputBuffer } from '../sandbox/output-buffer.js';
import { safeRelativePath } from '../sandbox/workspace/paths.js';
import { Workspaces, type Workspace } from '../sandbox/workspace/workspaces.js';
import { MemorySessionStore } from '../store/memory-session-store.js';
import { defaultStateDir, SqliteSessionStore, type SessionStore, type StoredSession } from '../store/session-store.js';
import { StoreStatus } from '../store/store-status.js';
import { StoreWriteQueue, type StoreWrite } from '../store/write-queue.js';
import { SessionEvents } from './session-events.js';
import type {
  CreateSessionOptions,
  ExecutionRecord,
  SessionEventListener,
  SandboxProgram,
  KitStatus,
  SessionEnvironment,
  SessionEnvironmentProvider,
  SessionExecOptions,
  SessionExecResult,
  SessionInfo,
  SessionService,
  SessionState,
} from './contract.js';
import {
  blankKernelResult,
  DEFAULT_INTERPRETERS,
  Kernel,
  type Interpreters,
  type KernelFamily,
  type KernelRunResult,
} from './kernel.js';
import { toNotebook } from './notebook.js';
import { transpileCell, type TranspiledCell } from './ts-cells.js';
import { WarmPool } from './warm-pool.js';

/** The owner of calls that name none (local CLI use). */
export const DEFAULT_OWNER = 'local';

export interface SessionManagerOptions {
  sandbox: Sandbox;
  /** Durable history. Default: SQLite at <state dir>/codemode.db. `null`: process memory only (no SQLite; lost on exit). */
  store?: SessionStore | null;
  /**
   * A history or session write failed. Writes run after the reply that caused
   * them; a failed one stays queued and is retried (src/store/write-queue.ts),
   * and the session's next results say so in their warnings.
   */
  onStoreError?: (error: unknown, write: { operation: string; sessionId: string }) => void;
  /** The store's health, shared with the result cache, /healthz and the logs. Default: the manager's own. */
  storeStatus?: StoreStatus;
  /** History writes kept in memory while the store fails, at most (count, bytes). Defaults in write-queue.ts. */
  maxPendingWrites?: number;
  maxPendingBytes?: number;
  /** Parent directory of session workspaces. Default: <state dir>/workspaces. */
  workspaceRoot?: string;
  /** Defaults for new sessions (merged over DEFAULT_LIMITS). */
  limits?: LimitOverrides;
  /** What a session or call may ask for at most. Default MAX_LIMITS. */
  ceiling?: Limits;
  /** Upstream tools for codemode.<server>.<tool>() inside kernels. */
  toolHost?: ToolHost;
  /** Upstream tools per session (a cluster worker forwards each session's calls with its id); wins over toolHost. */
  toolHostFor?: (session: { id: string; owner: string }) => ToolHost | undefined;
  /** Warm kernels per family, e.g. { python: 2 }. Default { python: 1 }. `false` disables the pool. */
  pool?: Partial<Record<KernelFamily, number>> | false;
  /** Suspend sessions unused for this long (kernel stopped; files and history kept, resumable). Default 30 minutes. */
  idleTimeoutMs?: number;
  /** Live sessions at most, for the whole server. Default 32. */
  maxSessions?: number;
  /**
   * Live sessions at most per principal; at the cap, creating one more suspends
   * that principal's own longest-idle session (resumable). Default 16.
   */
  maxSessionsPerOwner?: number;
  /** Largest file written or read through the API. Default: limits.diskBytes. */
  maxFileBytes?: number;
  /** After SIGINT, how long before the kernel is killed. Default 2000 ms. */
  interruptGraceMs?: number;
  interpreters?: Interpreters;
  now?: () => number;
  /** Kits and network policies (src/projects/kits-session.ts); without it, create refuses both. */
  environments?: SessionEnvironmentProvider;
}

interface Session {
  id: string;
  owner: string;
  language: Language;
  limits: Limits;
  /** The session's volume, uid and file agent; `ws.dir` is bound at /workspace. */
  ws: Workspace;
  kernel: Kernel | undefined;
  starting: Promise<Kernel> | undefined;
  createdAt: number;
  lastUsedAt: number;
  executionCount: number;
  pooled: boolean;
  queue: Promise<unknown>;
  pending: number;
  running: boolean;
  closed: boolean;
  /** The kernel died since the last execution: the next result says variables were lost. */
  lostState: boolean;
  /** The running execution's id, as its live events announced it. */
  executionId?: string;
  /** Kits and network policy, when the session asked for either. */
  env?: SessionEnvironment;
}

/** A live session record with no kernel attached and nothing run yet. */
function newSession(
  fields: Pick<Session, 'id' | 'owner' | 'language' | 'limits' | 'ws' | 'createdAt' | 'lastUsedAt'>,
): Session {
  return {
    ...fields,
    kernel: undefined,
    starting: undefined,
    executionCount: 0,
    pooled: false,
    queue: Promise.resolve(),
    pending: 0,
    running: false,
    closed: false,
    lostState: false,
  };
}

const LOST_STATE_NOTE =
  'The kernel was restarted: variables from earlier executions are gone. Workspace files are kept.';

const SCRIPT_INTERPRETERS: Record<string, (i: Interpreters) => string[]> = {
  '.py': (i) => [i.python],
  '.js': (i) => [i.node],
  '.mjs': (i) => [i.node],
  '.cjs': (i) => [i.node],
  '.sh': (i) => [i.bash],
  '.bash': (i) => [i.bash],
};

export class SessionManager implements SessionService {
  private readonly sandbox: Sandbox;
  private readonly store: SessionStore;
  private readonly ownsStore: boolean;
  private readonly workspaces: Workspaces;
  private readonly baseLimits: Limits;
  private readonly ceiling: Limits;
  private readonly toolHost: ToolHost | undefined;
  private readonly toolHostFor: SessionManagerOptions['toolHostFor'];
  private readonly pool: WarmPool | null;
  private readonly idleTimeoutMs: number;
  private readonly maxSessions: number;
  private readonly maxSessionsPerOwner: number;
  private readonly interpreters: Interpreters;
  private readonly graceMs: number;
  private readonly now: () => number;
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;
  private shuttingDown = false;
  /** Store writes waiting to run after the current reply, or for the store to come back (in order). */
  private readonly writeQueue: StoreWriteQueue;
  readonly storeStatus: StoreStatus;
  /** Sessions told in this outage that their history is not saved (told once, and told when it is saved again). */
  private readonly toldUnsaved = new Set<string>();
  /** After shutdown: a late write (an execution settling after it) is dropped, not run on a closed store. */
  private storeClosed = false;
  private readonly onStoreError: SessionManagerOptions['onStoreError'];
  /** Store failures not yet reported, per session (at most MAX_STORE_WARNINGS each). */
  private readonly storeWarnings = new Map<string, string[]>();
  /** Live events for subscribers (the workbench), fed by every execution. */
  private readonly events = new SessionEvents();
  private readonly environments: SessionEnvironmentProvider | undefined;

  constructor(options: SessionManagerOptions) {
    this.sandbox = options.sandbox;
    this.ceiling = options.ceiling ?? MAX_LIMITS;
    this.baseLimits = resolveLimits(options.limits, DEFAULT_LIMITS, this.ceiling);
    this.ownsStore = options.store === undefined || options.store === null;
    this.store =
      options.store === undefined
        ? new SqliteSessionStore()
        : options.store === null
          ? new MemorySessionStore()
          : options.store;
    this.onStoreError = options.onStoreError;
    this.storeStatus = options.storeStatus ?? new StoreStatus();
    this.writeQueue = new StoreWriteQueue({
      status: this.storeStatus,
      ...(options.maxPendingWrites === undefined ? {} : { maxPendingWrites: options.maxPendingWrites }),
      ...(options.maxPendingBytes === undefined ? {} : { maxPendingBytes: options.maxPendingBytes }),
      onFailure: (w, cause, error) => this.storeFailed(error, cause, w),
      onLost: (w, why) => this.addStoreWarning(w.sessionId, `history lost (${w.operation}): ${why}`),
      onResumed: (saved) => {
        for (const id of new Set(saved.map((w) => w.sessionId))) {
          if (this.toldUnsaved.delete(id)) {
            this.addStoreWarning(id, 'history saved again: the store recovered and the delayed writes were saved');
          }
        }
      },
    });
    this.workspaces = new Workspaces({
      sandbox: this.sandbox,
      root: options.workspaceRoot ?? path.join(defaultStateDir(), 'workspaces'),
      maxFileBytes: options.maxFileBytes ?? this.baseLimits.diskBytes,
      python: (options.interpreters ?? DEFAULT_INTERPRETERS).python,
    });
    // Volumes a hard stop left mounted: their images stay for resume.
    this.workspaces.cleanupStale();
    this.toolHost = options.toolHost;
    this.toolHostFor = options.toolHostFor;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30 * 60_000;
    this.maxSessions = options.maxSessions ?? 32;
    this.maxSessionsPerOwner = Math.min(this.maxSessions, options.maxSessionsPerOwner ?? 16);
    this.interpreters = options.interpreters ?? DEFAULT_INTERPRETERS;
    this.graceMs = options.interruptGraceMs ?? 2000;
    this.now = options.now ?? Date.now;
    this.environments = options.environments;
    const poolSize = options.pool === undefined ? { python: 1 } : options.pool;
    this.pool =
      poolSize === false
        ? null
        : new WarmPool({
            sandbox: this.sandbox,
            workspaces: this.workspaces,
            size: poolSize,
            limits: this.baseLimits,
            toolHost: this.toolHost,
            interpreters: this.interpreters,
          });
    this.pool?.start();
    this.sweeper = setInterval(() => void this.closeIdle(), Math.min(60_000, Math.max(1000, this.idleTimeoutMs / 4)));
    this.sweeper.unref();
  }

  /** The warm pool, for readiness checks and benchmarks (null when disabled). */
  get warmPool(): WarmPool | null {
    return this.pool;
  }

  // ------------------------------------------------------------ lifecycle

  async create(options: CreateSessionOptions): Promise<SessionInfo> {
    this.assertOpen();
    const owner = options.owner ?? DEFAULT_OWNER;
    if (!(LANGUAGES as readonly string[]).includes(options.language)) {
      throw new AppError('INVALID_ARGUMENT', `language must be one of ${LANGUAGES.join(', ')}`, {
        argument: 'language',
      });
    }
    if (options.resumeId !== undefined) return this.resume(options.resumeId, owner, options);
    const limits = resolveLimits(options.limits, this.baseLimits, this.ceiling);
    const extras = Boolean(options.kits?.length) || options.network !== undefined;
    if (extras && !this.environments) {
      throw new AppError('INVALID_ARGUMENT', 'this server offers no kits or network policies', {
        argument: options.network !== undefined ? 'network' : 'kits',
      });
    }
    await this.makeRoom(owner);
    // A warm kernel has no kit binds and no network: sessions that ask for either start their own.
    const pooled = extras ? undefined : this.pool?.take(options.language, limits);
    let id: string;
    let ws: Workspace;
    let kernel: Kernel;
    let env: SessionEnvironment | undefined;
    if (pooled) {
      ({ id, workspace: ws, kernel } = pooled);
    } else {
      id = randomUUID();
      ws = await this.workspaces.create(id, limits);
      try {
        if (extras) env = await this.applyEnvironment(id, options.language, ws, options);
        kernel = await this.startKernel(options.language, ws, limits, env);
      } catch (e) {
        await env?.close();
        this.environments?.forget(id);
        await ws.destroy();
        throw e;
      }
    }
    const now = this.now();
    const s = newSession({ id, owner, language: options.language, limits, ws, createdAt: now, lastUsedAt: now });
    s.pooled = pooled !== undefined;
    if (env) s.env = env;
    this.attach(s, kernel);
    this.sessions.set(id, s);
    this.persist(s);
    return this.info(s);
  }

  private async resume(id: string, owner: string, options: CreateSessionOptions): Promise<SessionInfo> {
    const live = this.sessions.get(id);
    if (live) {
      if (live.owner !== owner) throw notFound(id);
      return this.info(live);
    }
    this.flushWrites();
    const stored = this.store.getSession(id);
    if (!stored || stored.owner !== owner) throw notFound(id);
    if (stored.closedAt !== null) {
      throw new AppError('SESSION_CLOSED', `session ${id} was closed; its workspace is gone and it cannot be resumed`);
    }
    await this.makeRoom(owner);
    // Limits saved under an older, looser configuration are held to today's ceiling.
    const limits = clampLimits(stored.limits, this.ceiling);
    const reopened = await this.workspaces.open(id, limits);
    const ws = reopened ?? (await this.workspaces.create(id, limits));
    let kernel: Kernel;
    let env: SessionEnvironment | undefined;
    try {
      const recalled = this.environments?.recall(id);
      if (recalled) env = await this.applyEnvironment(id, stored.language, ws, recalled);
      kernel = await this.startKernel(stored.language, ws, limits, env);
    } catch (e) {
      await env?.close();
      await ws.close();
      throw e;
    }
    const s = newSession({
      id,
      owner,
      language: stored.language,
      limits,
      ws,
      createdAt: Date.parse(stored.createdAt),
      lastUsedAt: this.now(),
    });
    s.executionCount = stored.executionCount;
    if (env) s.env = env;
    this.attach(s, kernel);
    this.sessions.set(id, s);
    this.persist(s);
    const info = this.info(s);
    if (options.replayHistory) {
      info.note = await this.replay(s, kernel);
    } else {
      info.note =
        'Resumed: workspace files and history are kept; variables start empty (resume with replay_history: true to rebuild them).';
    }
    return info;
  }

  list(owner?: string): SessionInfo[] {
    const who = owner ?? DEFAULT_OWNER;
    return [...this.sessions.values()].filter((s) => s.owner === who).map((s) => this.info(s));
  }

  get(id: string, owner?: string): SessionInfo {
    return this.info(this.lookup(id, owner));
  }

  async interrupt(id: string, owner?: string): Promise<void> {
    const s = this.lookup(id, owner);
    s.kernel?.interrupt();
  }

  /**
   * A fresh kernel; workspace files are kept. With `replayUpTo`, the successful
   * executions up to that execution count run again to rebuild the variables
   * (restoring a checkpoint), and the returned note says how that went.
   */
  async restart(
    id: string,
    owner?: string,
    options: { replayUpTo?: number; replayOnly?: readonly number[] } = {},
  ): Promise<SessionInfo> {
    const s = this.lookup(id, owner);
    const old = s.kernel;
    s.kernel = undefined;
    if (old) await old.close(); // a running execution settles as killed
    s.lostState = false; // the caller asked for it
    // A plain restart empties the kernel. A replaying one (restoring a checkpoint) rebuilds the state of
    // that point from the history itself, so it leaves no marker that would hide those cells from a later replay.
    const replaying = options.replayUpTo !== undefined || options.replayOnly !== undefined;
    if (!replaying) this.recordRestart(s);
    let note: string | undefined;
    await this.enqueue(s, async () => {
      const kernel = await this.ensureKernel(s);
      if (replaying) note = await this.replay(s, kernel, options.replayUpTo, options.replayOnly);
    });
    this.events.emit(s.id, { type: 'session.state', session: this.info(s) });
    return { ...this.info(s), ...(note === undefined ? {} : { note }) };
  }

  /** Re-runs the session's successful executions (up to `upTo`) in `kernel`, unrecorded; returns a note. */
  private async replay(s: Session, kernel: Kernel, upTo = Infinity, only?: readonly number[]): Promise<string> {
    this.flushWrites(); // the latest executions may still be queued for the store
    const upToThen = this.store.listExecutions(s.id).filter((r) => r.executionCount <= upTo);
    // Only what ran in the kernel of that moment: nothing before the last restart up to there.
    const fresh = upToThen.slice(upToThen.map((r) => r.kind).lastIndexOf('restart') + 1);
    const wanted = only === undefined ? null : new Set(only);
    const history = fresh.filter(
      (r) =>
        r.status === 'ok' && (r.kind ?? 'execute') === 'execute' && (wanted === null || wanted.has(r.executionCount)),
    );
    let replayed = 0;
    let failed: string | null = null;
    for (const r of history) {
      const code = await this.prepareCode(s.language, r.code, r.executionCount);
      if (!code.ok) continue;
      const res = await kernel.run({ code: code.code, cell: r.executionCount, limits: s.limits });
      if (res.status !== 'ok') {
        failed = `execution ${r.executionCount} ended with status ${res.status}${res.error ? ` (${res.error.type}: ${res.error.message})` : ''}`;
        if (res.kernelDied) break;
      } else replayed++;
    }
    return failed
      ? `Replayed ${replayed} of ${history.length} successful executions; ${failed}.`
      : `Replayed ${replayed} successful executions; variables are rebuilt.`;
  }

  async close(id: string, owner?: string): Promise<void> {
    const s = this.lookup(id, owner);
    await this.closeSession(s, true);
  }

  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    clearInterval(this.sweeper);
    await this.pool?.close();
    // Running executions are interrupted (SIGINT, then killed after the grace) and recorded as
    // `interrupted` before the kernels stop; queued ones do not start (enqueue checks shuttingDown).
    const busy = [...this.sessions.values()].filter((s) => s.running || s.pending > 0);
    for (const s of busy) {
      s.kernel?.interrupt();
      this.scriptKills.get(s)?.();
    }
    if (busy.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(busy.map((s) => s.queue)),
        new Promise((resolve) => (timer = setTimeout(resolve, this.graceMs + 1000))),
      ]);
      clearTimeout(timer);
    }
    // Kernels stop; workspaces and history stay so sessions can be resumed after a restart.
    await Promise.allSettled([...this.sessions.values()].map((s) => this.closeSession(s, false)));
    const lost = this.writeQueue.close(); // a last try; what the store still refuses is lost, and said so
    if (lost > 0) {
      this.onStoreError?.(new Error(`${lost} history writes could not be saved before the stop`), {
        operation: 'shutdown',
        sessionId: '',
      });
    }
    this.storeClosed = true;
    if (this.ownsStore) this.store.close();
  }

  kits(): { kits: KitStatus[]; networks: string[] } {
    return this.environments?.catalogue() ?? { kits: [], networks: [] };
  }

  subscribe(id: string, owner: string | undefined, listener: SessionEventListener): () => void {
    return this.events.subscribe(this.lookup(id, owner).id, listener);
  }

  // ------------------------------------------------------------ execution

  /** One execution with its live events; `run` is the execution itself. */
  private observed(
    s: Session,
    kind: 'execute' | 'script',
    code: string,
    options: SessionExecOptions,
    run: (o: SessionExecOptions) => Promise<SessionExecResult>,
  ): Promise<SessionExecResult> {
    const start = { executionCount: s.executionCount + 1, kind, code, source: options.source ?? 'mcp' } as const;
    return this.events.observe(s.id, start, options, async (o, executionId) => {
      s.executionId = executionId;
      try {
        return await run(o);
      } finally {
        s.executionId = undefined;
      }
    });
  }

  async execute(id: string, code: string, options: SessionExecOptions = {}): Promise<SessionExecResult> {
    const s = this.lookup(id, options.owner);
    if (typeof code !== 'string') throw new AppError('INVALID_ARGUMENT', 'code must be a string', { argument: 'code' });
    const limits = this.execLimits(s, options.limits);
    return this.enqueue(s, () => this.runExecution(s, code, limits, options));
  }

  async runScript(
    id: string,
    file: string,
    args: string[],
    options: SessionExecOptions = {},
  ): Promise<SessionExecResult> {
    const s = this.lookup(id, options.owner);
    const rel = safeRelativePath(file);
    const ext = path.extname(rel).toLowerCase();
    const interp = SCRIPT_INTERPRETERS[ext];
    if (!interp) {
      throw new AppError('INVALID_ARGUMENT', `cannot tell how to run ${rel}: use a .py, .js, .mjs, .cjs or .sh file`, {
        argument: 'path',
      });
    }
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
      throw new AppError('INVALID_ARGUMENT', 'args must be an array of strings', { argument: 'args' });
    }
    if (!(await s.ws.isFile(rel))) {
      throw new AppError('INVALID_ARGUMENT', `${rel} is not a regular file`, { argument: 'path' });
    }
    const limits = this.execLimits(s, options.limits);
    const argv = [...interp(this.interpreters), `/workspace/${rel}`, ...args];
    return this.enqueue(s, () => this.runScriptNow(s, argv, limits, options));
  }

  async runProgram(
    id: string,
    program: SandboxProgram,
    args: string[],
    options: SessionExecOptions & { record?: boolean } = {},
  ): Promise<SessionExecResult> {
    const s = this.lookup(id, options.owner);
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
      throw new AppError('INVALID_ARGUMENT', 'args must be an array of strings', { argument: 'args' });
    }
    const argv = [program === 'git' ? GIT_PATH : this.interpreters[program], ...args];
    const limits = this.execLimits(s, options.limits);
    // Unrecorded runs (git's bookkeeping) take no execution count and leave no history.
    return this.enqueue(s, () =>
      options.record === false
        ? this.runScriptBody(s, argv, limits, options, true)
        : this.runScriptNow(s, argv, limits, options),
    );
  }

  // ---------------------------------------------------------------- files

  async writeFile(
    id: string,
    file: string,
    content: Uint8Array,
    owner?: string,
    options: { append?: boolean } = {},
  ): Promise<WorkspaceEntry> {
    const s = this.lookup(id, owner);
    this.touch(s);
    const entry = await s.ws.write(file, content, options.append ? 'append' : 'truncate');
    this.events.emit(s.id, { type: 'files.changed', paths: [entry.path] });
    return entry;
  }

  async readFile(id: string, file: string, owner?: string): Promise<Uint8Array> {
    const s = this.lookup(id, owner);
    this.touch(s);
    return s.ws.read(file);
  }

  async listFiles(id: string, dir?: string, owner?: string): Promise<WorkspaceEntry[]> {
    const s = this.lookup(id, owner);
    return s.ws.list(dir);
  }

  async deleteFile(id: string, file: string, owner?: string): Promise<void> {
    const s = this.lookup(id, owner);
    this.touch(s);
    await s.ws.delete(file);
    this.events.emit(s.id, { type: 'files.changed', paths: [file] });
  }

  async importArchive(
    id: string,
    dir: string,
    archive: Uint8Array,
    owner?: string,
  ): Promise<{ entries: number; bytes: number }> {
    const s = this.lookup(id, owner);
    this.touch(s);
    return s.ws.importArchive(dir, archive);
  }

  async exportArchive(id: string, dir: string, owner?: string): Promise<Uint8Array> {
    const s = this.lookup(id, owner);
    this.touch(s);
    return s.ws.exportArchive(dir);
  }

  // -------------------------------------------------------------- history

  /** The saved executions, then those still waiting for the store (marked `unsaved`): none is hidden by a failing store. */
  history(id: string, owner?: string): ExecutionRecord[] {
    const stored = this.storedFor(id, owner); // flushes queued writes
    const saved = this.store.listExecutions(stored.id);
    const cause = this.storeStatus.causeOf('history') ?? 'waiting for the store';
    const waiting = this.writeQueue
      .pendingFor(stored.id)
      .filter((w) => w.operation === 'addExecution')
      .map((w) => ({ ...(w.payload as ExecutionRecord), unsaved: cause }));
    return waiting.length === 0 ? saved : [...saved, ...waiting];
  }

  exportNotebook(id: string, owner?: string): string {
    const stored = this.storedFor(id, owner);
    return JSON.stringify(toNotebook(this.store.listExecutions(id), stored.language, id), null, 1);
  }

  /** Sessions saved in the store for this owner that are not live (resumable after a restart). */
  listResumable(owner?: string): StoredSession[] {
    this.flushWrites();
    const who = owner ?? DEFAULT_OWNER;
    return this.store.listSessions({ owner: who }).filter((s) => !this.sessions.has(s.id));
  }

  /** Resident memory of a session's kernel tree in bytes (0 when no kernel runs). For monitoring and benchmarks. */
  kernelRssBytes(id: string, owner?: string): number {
    return this.lookup(id, owner).kernel?.rssBytes() ?? 0;
  }

  // ------------------------------------------------------------- internals

  private assertOpen(): void {
    if (this.shuttingDown) throw new AppError('SESSION_CLOSED', 'the session manager is shutting down');
  }

  private lookup(id: string, owner?: string): Session {
    this.assertOpen();
    const s = typeof id === 'string' ? this.sessions.get(id) : undefined;
    if (!s || s.owner !== (owner ?? DEFAULT_OWNER)) {
      const stored = typeof id === 'string' && !s ? this.storedOrNull(id) : null;
      if (stored && stored.owner === (owner ?? DEFAULT_OWNER) && stored.closedAt === null) {
        throw new AppError(
          'SESSION_CLOSED',
          `session ${id} is not running (it was stopped when idle, to make room for another of your sessions, or by a server restart); ` +
            `its files and history are kept: resume it with create_session and resume_session_id "${id}"`,
          { sessionId: id, resumable: true },
        );
      }
      throw notFound(String(id));
    }
    if (s.closed) throw new AppError('SESSION_CLOSED', `session ${id} is closed`);
    return s;
  }

  private storedOrNull(id: string): StoredSession | null {
    this.flushWrites();
    try {
      return this.store.getSession(id) ?? null;
    } catch {
      return null; // an unreadable store only loses the hint, not the answer
    }
  }

  private storedFor(id: string, owner?: string): StoredSession {
    this.flushWrites();
    const stored = typeof id === 'string' ? (this.store.getSession(id) ?? this.pendingSession(id)) : undefined;
    if (!stored || stored.owner !== (owner ?? DEFAULT_OWNER)) throw notFound(String(id));
    return stored;
  }

  private execLimits(s: Session, overrides: LimitOverrides | undefined): Limits {
    const asked = resolveLimits(overrides, s.limits, this.ceiling);
    // Memory, processes, tmp, files and disk are the kernel's own and fixed while it lives.
    return {
      ...asked,
      memoryBytes: s.limits.memoryBytes,
      processes: s.limits.processes,
      tmpBytes: s.limits.tmpBytes,
      openFiles: s.limits.openFiles,
      diskBytes: s.limits.diskBytes,
    };
  }

  private enqueue<T>(s: Session, job: () => Promise<T>): Promise<T> {
    s.pending++;
    const run = s.queue.then(() => {
      if (this.shuttingDown) throw new AppError('SESSION_CLOSED', 'the server is stopping: this did not start');
      return job();
    });
    s.queue = run.catch(() => {}).finally(() => s.pending--);
    return run;
  }

  private touch(s: Session): void {
    s.lastUsedAt = this.now();
  }

  private applyEnvironment(
    id: string,
    language: Language,
    ws: Workspace,
    o: { kits?: string[]; network?: string },
  ): Promise<SessionEnvironment> {
    return this.environments!.apply({
      sessionId: id,
      language,
      uid: ws.uid,
      ...(o.kits?.length ? { kits: o.kits } : {}),
      ...(o.network === undefined ? {} : { network: o.network }),
    });
  }

  private async startKernel(
    language: Language,
    ws: Workspace,
    limits: Limits,
    env?: SessionEnvironment,
  ): Promise<Kernel> {
    const kernel = await this.startBareKernel(language, ws, limits, env);
    if (env?.startup) {
      // The kits' start-up code, unrecorded; a failure is the operator's kit, so it stops the start.
      const r = await kernel.run({ code: env.startup, cell: 0, limits });
      if (r.status !== 'ok') {
        await kernel.close();
        throw new AppError(
          'SANDBOX_UNAVAILABLE',
          `a kit's start-up code failed (${r.status}${r.error ? `: ${r.error.type}: ${r.error.message}` : ''})`,
        );
      }
    }
    return kernel;
  }

  private startBareKernel(
    language: Language,
    ws: Workspace,
    limits: Limits,
    env?: SessionEnvironment,
  ): Promise<Kernel> {
    return Kernel.start({
      sandbox: env ? env.sandbox(this.sandbox) : this.sandbox,
      language,
      workspaceDir: ws.dir,
      uid: ws.uid,
      diskFull: () => ws.full(),
      limits,
      toolHost: this.toolHost,
      interpreters: this.interpreters,
      interruptGraceMs: this.graceMs,
    });
  }

  private attach(s: Session, kernel: Kernel): void {
    s.kernel = kernel;
    kernel.setToolHost(this.toolHostFor?.({ id: s.id, owner: s.owner }) ?? this.toolHost);
    kernel.setDiskFull(() => workspaceFull(s)); // statfs of the session's capped volume
    kernel.onExit(() => {
      if (s.kernel === kernel) {
        s.kernel = undefined;
        if (!s.closed) s.lostState = true;
      }
    });
  }

  private async ensureKernel(s: Session): Promise<Kernel> {
    if (s.kernel?.alive) return s.kernel;
    if (!s.starting) {
      s.starting = this.startKernel(s.language, s.ws, s.limits, s.env).finally(() => (s.starting = undefined));
    }
    const kernel = await s.starting;
    if (s.closed) {
      await kernel.close();
      throw new AppError('SESSION_CLOSED', `session ${s.id} was closed`);
    }
    this.attach(s, kernel);
    return kernel;
  }

  private async prepareCode(language: Language, code: string, cell: number): Promise<TranspiledCell> {
    if (language !== 'typescript') return { ok: true, code, remap: (e) => e };
    return transpileCell(code, `<cell ${cell}>`);
  }

  private runExecution(s: Session, code: string, limits: Limits, options: SessionExecOptions) {
    return this.observed(s, 'execute', code, options, (o) => this.runExecutionNow(s, code, limits, o));
  }

  private async runExecutionNow(
    s: Session,
    code: string,
    limits: Limits,
    options: SessionExecOptions,
  ): Promise<SessionExecResult> {
    if (s.closed) throw new AppError('SESSION_CLOSED', `session ${s.id} was closed`);
    const cell = ++s.executionCount;
    const startedAt = new Date(this.now()).toISOString();
    s.running = true;
    this.touch(s);
    try {
      let restarted = s.lostState;
      let kernel: Kernel;
      try {
        kernel = await this.ensureKernel(s);
      } catch (e) {
        if (e instanceof AppError && e.code === 'SESSION_CLOSED') throw e;
        const r = this.emptyResult(s, cell, limits, 'not_started');
        r.reason = `the kernel could not start: ${(e as Error).message}`;
        this.record(s, r, code, startedAt, 'execute');
        return r;
      }
      s.lostState = false;
      const prepared = await this.prepareCode(s.language, code, cell);
      let kr: KernelRunResult;
      if (!prepared.ok) {
        kr = {
          ...blankKernelResult('error'),
          exitCode: 1,
          error: prepared.error,
          stderr: prepared.error.traceback ?? '',
        };
      } else {
        kr = await kernel.run({
          code: prepared.code,
          cell,
          limits,
          signal: options.signal,
          onOutput: options.onOutput,
        });
        if (kr.error) {
          const original = kr.error.traceback;
          kr.error = prepared.remap(kr.error);
          if (original && kr.error.traceback !== original)
            kr.stderr = kr.stderr.split(original).join(kr.error.traceback);
        }
      }
      const result = this.toResult(s, cell, limits, kr);
      result.files = await s.ws.filesAfterRun();
      if (kr.kernelDied) {
        restarted = true;
        s.lostState = false; // reported now; the next execution starts a fresh kernel silently
        if (s.kernel === kernel) s.kernel = undefined;
        result.note = `The kernel stopped (${kr.status}); its variables are lost. Workspace files are kept; the next execution starts a fresh kernel.`;
      } else if (restarted) {
        result.note = LOST_STATE_NOTE;
      }
      if (restarted) result.kernelRestarted = true;
      this.record(s, result, code, startedAt, 'execute');
      this.takeStoreWarnings(result);
      return result;
    } finally {
      s.running = false;
      this.touch(s);
      this.persist(s);
    }
  }

  /** How to stop each session's running run_script tree at once (close_session uses it). */
  private readonly scriptKills = new WeakMap<Session, () => void>();

  private runScriptNow(s: Session, argv: string[], limits: Limits, options: SessionExecOptions) {
    const commandLine = argv.slice(1).map(shellQuote).join(' ');
    return this.observed(s, 'script', commandLine, options, (o) => this.runScriptBody(s, argv, limits, o));
  }

  private async runScriptBody(
    s: Session,
    argv: string[],
    limits: Limits,
    options: SessionExecOptions,
    unrecorded = false,
  ): Promise<SessionExecResult> {
    if (s.closed) throw new AppError('SESSION_CLOSED', `session ${s.id} was closed`);
    const cell = unrecorded ? s.executionCount : ++s.executionCount;
    const startedAt = new Date(this.now()).toISOString();
    const commandLine = argv.slice(1).map(shellQuote).join(' ');
    s.running = true;
    this.touch(s);
    const started = performance.now();
    try {
      const r = this.emptyResult(s, cell, limits, 'not_started');
      let proc: SandboxProcess;
      try {
        // The script waits for a go on fd 3, sent once bwrap's setup is done (the /tmp probe needs it).
        const gate = [this.interpreters.bash, '--noprofile', '--norc', '-c', SCRIPT_GATE, 'codemode-run', ...argv];
        proc = await (s.env ? s.env.sandbox(this.sandbox) : this.sandbox).spawn({
          argv: gate,
          workspaceDir: s.ws.dir,
          uid: s.ws.uid,
          limits,
          cpuRlimit: true,
          extraPipes: 1,
        });
      } catch (e) {
        if (e instanceof AppError && e.code === 'INVALID_ARGUMENT') throw e;
        r.reason = `the script could not start: ${(e as Error).message}`;
        if (!unrecorded) this.record(s, r, commandLine, startedAt, 'script');
        return r;
      }
      // The one supervisor, as for one-shot runs: wall, CPU (cgroup counter and RLIMIT_CPU), output, cancel.
      const watch = new Supervision(proc, {
        kind: 'process',
        limits,
        signal: options.signal,
        cpuBaselineMs: 0,
        diskFull: () => workspaceFull(s),
      });
      this.scriptKills.set(s, () =>
        watch.kill({ status: 'cancelled', reason: 'the session was closed while the script ran' }),
      );
      const out = new OutputBuffer(limits.outputBytes);
      const err = new OutputBuffer(limits.outputBytes);
      const feed = (buf: OutputBuffer, stream: OutputChunk['stream']) => (c: Buffer) => {
        buf.push(c);
        watch.count(c.length);
        try {
          options.onOutput?.({ stream, text: c.toString('utf8') });
        } catch {
          // listener failures are ignored
        }
      };
      proc.stdout.on('data', feed(out, 'stdout'));
      proc.stderr.on('data', feed(err, 'stderr'));
      proc.stdin.on('error', () => {}); // the script may exit before its stdin closes
      proc.stdin.end();
      const go = proc.extra[0];
      go?.on('error', () => {}); // the script may be gone already; exited says so
      let exitedEarly = false;
      void proc.exited.then(() => (exitedEarly = true));
      const deadline = performance.now() + 2000;
      while (!exitedEarly && !proc.tmpReady() && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 2));
      go?.end('go\n');
      const exit = await proc.exited;
      this.scriptKills.delete(s);
      const end = watch.finish({
        ended: true,
        started: exit.started,
        exitCode: exit.exitCode,
        signal: exit.signal,
        nodeHeapLimit: false,
      });
      await proc.dispose();
      r.status = end.status;
      r.stdout = out.text();
      r.stderr = err.text();
      r.stdoutDroppedBytes = out.droppedBytes;
      r.stderrDroppedBytes = err.droppedBytes;
      r.exitCode = exit.exitCode;
      r.signal = end.signal;
      r.durationMs = Math.round((performance.now() - started) * 100) / 100;
      if (end.cpuMs !== null) r.cpuMs = Math.round(end.cpuMs * 100) / 100;
      if (end.reason) r.reason = end.reason;
      else delete r.reason;
      if (end.status === 'error') {
        r.error = { type: 'ExitStatus', message: `exited with status ${exit.exitCode ?? end.signal}` };
      }
      r.files = await s.ws.filesAfterRun();
      if (!unrecorded) this.record(s, r, commandLine, startedAt, 'script');
      this.takeStoreWarnings(r);
      return r;
    } finally {
      s.running = false;
      this.touch(s);
      this.persist(s);
    }
  }

  private emptyResult(s: Session, cell: number, limits: Limits, status: ExecStatus): SessionExecResult {
    return this.toResult(s, cell, limits, { ...blankKernelResult('ok'), status });
  }

  private toResult(s: Session, cell: number, limits: Limits, kr: KernelRunResult): SessionExecResult {
    const r: SessionExecResult = {
      executionId: s.executionId ?? randomUUID(),
      sessionId: s.id,
      executionCount: cell,
      status: kr.status,
      exitCode: kr.exitCode,
      signal: kr.signal,
      stdout: kr.stdout,
      stderr: kr.stderr,
      stdoutDroppedBytes: kr.stdoutDroppedBytes,
      stderrDroppedBytes: kr.stderrDroppedBytes,
      outputs: kr.outputs,
      files: [],
      durationMs: kr.durationMs,
      limits,
      isolation: this.sandbox.info,
    };
    if (kr.error) r.error = kr.error;
    if (kr.reason) r.reason = kr.reason;
    const hint = kr.error ? this.environments?.hint(kr.error, s.env?.kits.map((k) => k.name) ?? []) : null;
    if (hint) r.note = hint;
    if (kr.cpuMs !== null) r.cpuMs = Math.round(kr.cpuMs * 100) / 100;
    if (kr.idleCpuMs !== undefined) r.idleCpuMs = kr.idleCpuMs;
    if (kr.toolCalls !== undefined) r.toolCalls = kr.toolCalls;
    return r;
  }

  /** A restart in the history, so replay and the dataflow graph know the variables before it are gone. */
  private recordRestart(s: Session): void {
    const rec: ExecutionRecord = {
      id: `restart-${randomUUID()}`,
      sessionId: s.id,
      executionCount: s.executionCount,
      kind: 'restart',
      language: s.language,
      code: '',
      status: 'ok',
      stdout: '',
      stderr: '',
      outputs: [],
      startedAt: new Date(this.now()).toISOString(),
      durationMs: 0,
    };
    this.queueWrite('addExecution', s.id, () => this.store.addExecution(rec));
  }

  private record(s: Session, r: SessionExecResult, code: string, startedAt: string, kind: 'execute' | 'script'): void {
    const rec: ExecutionRecord = {
      id: r.executionId,
      sessionId: s.id,
      executionCount: r.executionCount,
      kind,
      language: s.language,
      code,
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      outputs: r.outputs ?? [],
      startedAt,
      durationMs: r.durationMs,
    };
    if (r.error) rec.error = r.error;
    if (r.reason) rec.reason = r.reason;
    // History is written after the reply: a full disk must not turn a finished run into a failure.
    const bytes = rec.code.length + rec.stdout.length + rec.stderr.length + JSON.stringify(rec.outputs).length;
    this.queueWrite('addExecution', s.id, () => this.store.addExecution(rec), bytes, rec);
  }

  private persist(s: Session): void {
    if (s.closed) return; // closeSession already recorded the end; a late finish must not reopen it
    const stored: StoredSession = {
      id: s.id,
      owner: s.owner,
      language: s.language,
      limits: s.limits,
      workspaceDir: s.ws.dir,
      createdAt: new Date(s.createdAt).toISOString(),
      lastUsedAt: new Date(s.lastUsedAt).toISOString(),
      executionCount: s.executionCount,
      closedAt: null,
    };
    this.queueWrite('saveSession', s.id, () => this.store.saveSession(stored), 512, stored);
  }

  /** Queue a store write to run after the current reply is on its way (setImmediate), in order. */
  private queueWrite(operation: string, sessionId: string, run: () => void, bytes = 64, payload?: unknown): void {
    if (this.storeClosed) return;
    this.writeQueue.push({ operation, sessionId, run, bytes, payload });
  }

  /** Run every queued store write now (before any read of the store, and at shutdown). */
  flushWrites(): void {
    this.writeQueue.flush();
  }

  /** A session record still waiting for the store (its first save failed). */
  private pendingSession(id: string): StoredSession | undefined {
    const w = this.writeQueue.pendingFor(id).findLast((x) => x.operation === 'saveSession');
    return w?.payload as StoredSession | undefined;
  }

  private storeFailed(error: unknown, cause: string, write: StoreWrite): void {
    if (!this.toldUnsaved.has(write.sessionId)) {
      this.toldUnsaved.add(write.sessionId);
      this.addStoreWarning(write.sessionId, `history not saved: ${cause}; it is kept in memory and retried`);
    }
    try {
      this.onStoreError?.(error, { operation: write.operation, sessionId: write.sessionId });
    } catch {
      // a hook's failure must not stop the other writes
    }
  }

  private addStoreWarning(sessionId: string, warning: string): void {
    const list = this.storeWarnings.get(sessionId) ?? [];
    if (list.length < MAX_STORE_WARNINGS && !list.includes(warning)) list.push(warning);
    this.storeWarnings.set(sessionId, list);
  }

  /**
   * Store news for this result's warnings: failures and recoveries since the
   * session's last result, and, while the store fails, that this very result
   * is not saved yet (its write runs after the reply, so its own failure can
   * only show on the next one).
   */
  private takeStoreWarnings(r: SessionExecResult): void {
    const list = this.storeWarnings.get(r.sessionId) ?? [];
    this.storeWarnings.delete(r.sessionId);
    const cause = this.storeStatus.causeOf('history');
    if (cause !== null && this.writeQueue.pending > 0) {
      this.toldUnsaved.add(r.sessionId);
      const now = `history not saved yet: ${cause}; this result is kept in memory and retried`;
      if (!list.some((w) => w.startsWith('history not saved'))) list.push(now);
    }
    if (list.length > 0) r.warnings = [...(r.warnings ?? []), ...list];
  }

  private info(s: Session): SessionInfo {
    let state: SessionState;
    if (s.closed) state = 'closed';
    else if (s.running) state = 'busy';
    else if (s.starting) state = 'starting';
    else if (!s.kernel?.alive) state = 'dead';
    else state = 'idle';
    return {
      id: s.id,
      language: s.language,
      owner: s.owner,
      state,
      createdAt: new Date(s.createdAt).toISOString(),
      lastUsedAt: new Date(s.lastUsedAt).toISOString(),
      executionCount: s.executionCount,
      limits: s.limits,
      pooled: s.pooled,
      ...(s.env?.kits.length ? { kits: s.env.kits } : {}),
      ...(s.env?.network === undefined ? {} : { network: s.env.network }),
    };
  }

  private async closeSession(s: Session, discard: boolean): Promise<void> {
    if (s.closed) return;
    s.closed = true;
    this.scriptKills.get(s)?.(); // a running run_script tree goes at once, not at its wall limit
    this.sessions.delete(s.id);
    this.events.end(s.id);
    const kernel = s.kernel;
    s.kernel = undefined;
    await kernel?.close();
    if (s.starting) await s.starting.then((k) => k.close()).catch(() => {});
    await s.env?.close();
    if (discard) {
      this.environments?.forget(s.id);
      await s.ws.destroy();
      const at = new Date(this.now()).toISOString();
      this.queueWrite('markClosed', s.id, () => this.store.markClosed(s.id, at));
      this.storeWarnings.delete(s.id);
    } else {
      // Suspended: files and history stay, and the session can be resumed.
      await s.ws.close();
    }
  }

  /**
   * Make room for one more session of `owner`. Only the owner's own idle
   * sessions are ever suspended for it (saved and resumable, files kept): one
   * principal's load never stops, let alone deletes, another's sessions.
   */
  private async makeRoom(owner: string): Promise<void> {
    for (;;) {
      const mine = [...this.sessions.values()].filter((s) => s.owner === owner);
      const ownerFull = mine.length >= this.maxSessionsPerOwner;
      const serverFull = this.sessions.size >= this.maxSessions;
      if (!ownerFull && !serverFull) return;
      const idle = mine.filter((s) => !s.running && s.pending === 0).sort((a, b) => a.lastUsedAt - b.lastUsedAt)[0];
      if (!idle) {
        throw new AppError(
          'LIMIT_EXCEEDED',
          ownerFull
            ? `you have ${mine.length} live sessions (the most one principal may have) and all are busy; close one or wait for one to finish`
            : `the server runs its maximum of ${this.maxSessions} sessions and none of yours is idle; close one of yours or try again later`,
          { maximum: ownerFull ? this.maxSessionsPerOwner : this.maxSessions },
        );
      }
      await this.closeSession(idle, false);
    }
  }

  /** Suspend sessions idle for longer than idleTimeoutMs (saved, resumable, files kept). Returns how many. */
  async closeIdle(): Promise<number> {
    const cutoff = this.now() - this.idleTimeoutMs;
    const stale = [...this.sessions.values()].filter((s) => !s.running && s.pending === 0 && s.lastUsedAt < cutoff);
    await Promise.allSettled(stale.map((s) => this.closeSession(s, false)));
    return stale.length;
  }
}

/** Stored limits held to today's ceiling, key by key. */
function clampLimits(stored: Limits, ceiling: Limits): Limits {
  const out = { ...stored };
  for (const k of Object.keys(ceiling) as (keyof Limits)[]) {
    if (typeof out[k] !== 'number' || out[k] > ceiling[k]) out[k] = ceiling[k];
  }
  return out;
}

/** Store failures kept per session until its next result reports them. */
const MAX_STORE_WARNINGS = 5;

function notFound(id: string): AppError {
  return new AppError('NOT_FOUND', `no session ${id}`, { sessionId: id });
}

/** Debian's git, visible read-only inside the sandbox. */
const GIT_PATH = '/usr/bin/git';

/** run_script's gate: wait for the host's go on fd 3, close it, then exec the script's command. */
const SCRIPT_GATE = 'read -r -u 3 _; exec 3<&-; exec "$@"';

/** The workspace volume is full, or holds limits.diskBytes (the volume itself is a little larger). */
function workspaceFull(s: Session): boolean {
  if (s.ws.full()) return true;
  const u = s.ws.usage();
  return u !== null && u.bytesUsed >= s.limits.diskBytes;
}

function shellQuote(s: string): string {
  return /^[\w./=:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
