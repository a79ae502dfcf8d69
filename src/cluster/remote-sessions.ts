/**
 * The gateway's SessionService: every call goes to the worker that holds the
 * session, over the cluster protocol; the MCP server and the workbench use it
 * unchanged. The gateway holds no kernels. Reads that the contract makes
 * synchronous (get, list, history) come from the watched records and the
 * history stream. Ownership is checked here and again at the worker.
 *
 * Failover: a session whose worker stopped heartbeating is moved (a
 * compare-and-set on its record, so one gateway wins) to a live worker, which
 * restores the last checkpoint and replays the history. A request that was in
 * flight when its worker died fails with a retryable error; it is not re-sent
 * (it may have run).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ConsumerMessages } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/transport-node';
import { AppError, errorMessage, isAppError } from '../errors.js';
import type { OutputChunk, WorkspaceEntry } from '../sandbox/executor.js';
import type { Limits } from '../sandbox/limits.js';
import type {
  CreateSessionOptions,
  ExecutionRecord,
  ResumableSession,
  SandboxProgram,
  SessionEvent,
  SessionEventListener,
  SessionExecOptions,
  SessionExecResult,
  SessionInfo,
  SessionService,
} from '../sessions/contract.js';
import { toNotebook } from '../sessions/notebook.js';
import { clusterKits, lackingKits, workersWith, type ClusterKitStatus } from './cluster-kits.js';
import { ClusterView, placeSession } from './cluster-view.js';
import { natsFailure, request, type Link } from './link.js';
import {
  bytesSchema,
  executionRecordSchema,
  fromWire,
  HISTORY_STREAM,
  outputFrameSchema,
  parseFrame,
  PROTOCOL_VERSION,
  sessionExecResultSchema,
  sessionInfoSchema,
  sessionRecordSchema,
  SUBJECTS,
  toWire,
  unavailable,
  workspaceEntrySchema,
  type SessionRecord,
  type SessionRequest,
} from './protocol.js';

export interface RemoteSessionsOptions {
  link: Link;
  /** A worker is dead once its last heartbeat is older than this. */
  livenessMs?: number;
  /** The ceiling's wall time: executions may take this long (plus a margin for checkpoints). */
  maxWallMs: number;
  /** Calls that run no code. */
  requestTimeoutMs?: number;
  log?: (m: string) => void;
}

const execReplySchema = z.object({ result: sessionExecResultSchema, record: executionRecordSchema.optional() });
const fileListSchema = z.array(workspaceEntrySchema);
const eventSchema = z.looseObject({
  type: z.enum([
    'execution.started',
    'output',
    'execution.finished',
    'session.state',
    'files.changed',
    'session.closed',
  ]),
});
/** History kept per session at the gateway (the stream keeps all of it). */
const MAX_CACHED_RECORDS = 1000;

export class RemoteSessionService implements SessionService {
  readonly view: ClusterView;
  readonly #link: Link;
  readonly #o: Required<Omit<RemoteSessionsOptions, 'log'>> & { log: (m: string) => void };
  readonly #history = new Map<string, Map<string, ExecutionRecord>>();
  readonly #failovers = new Map<string, Promise<SessionRecord>>();
  readonly #subs = new Set<Subscription>();
  #historyFeed: ConsumerMessages | undefined;

  private constructor(options: RemoteSessionsOptions) {
    this.#link = options.link;
    this.#o = {
      link: options.link,
      livenessMs: options.livenessMs ?? 5000,
      maxWallMs: options.maxWallMs,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      log: options.log ?? (() => {}),
    };
    this.view = new ClusterView(options.link, this.#o.livenessMs);
  }

  static async open(options: RemoteSessionsOptions): Promise<RemoteSessionService> {
    const service = new RemoteSessionService(options);
    await service.view.start();
    await service.#followHistory();
    return service;
  }

  async #followHistory(): Promise<void> {
    const consumer = await this.#link.js.consumers.get(HISTORY_STREAM, { filter_subjects: 'codemode.history.>' });
    const feed = await consumer.consume();
    this.#historyFeed = feed;
    void (async () => {
      for await (const m of feed) {
        const parsed = executionRecordSchema.safeParse(safeJson(() => m.json()));
        if (parsed.success) this.#remember(parsed.data as unknown as ExecutionRecord);
      }
    })();
  }

  #remember(r: ExecutionRecord): void {
    let records = this.#history.get(r.sessionId);
    if (records === undefined) this.#history.set(r.sessionId, (records = new Map()));
    records.set(r.id, r);
    if (records.size > MAX_CACHED_RECORDS) records.delete(records.keys().next().value as string);
  }

  /** The caller's record, or NOT_FOUND: another owner's session does not exist for them. */
  #mine(id: string, owner: string | undefined): { record: SessionRecord; revision: number } {
    const s = this.view.session(id);
    if (s === undefined || s.record.owner !== (owner ?? 'local') || s.record.state === 'closed') {
      throw new AppError('NOT_FOUND', `no session ${id}`);
    }
    return s;
  }

  /** Like #mine, but a record this gateway has not seen yet (made through another gateway a moment ago) is read from the bucket. */
  async #mineFresh(id: string, owner: string | undefined): Promise<{ record: SessionRecord; revision: number }> {
    if (this.view.session(id) === undefined) {
      const entry = await this.#link.sessions.get(id).catch(() => null); // unreadable now: NOT_FOUND below, as before
      const parsed =
        entry?.operation === 'PUT' ? sessionRecordSchema.safeParse(safeJson(() => entry.json())) : undefined;
      if (entry && parsed?.success && parsed.data.id === id) this.view.noteRecord(parsed.data, entry.revision);
    }
    return this.#mine(id, owner);
  }

  async create(options: CreateSessionOptions): Promise<SessionInfo> {
    if (options.resumeId !== undefined) {
      throw new AppError('INVALID_ARGUMENT', 'in a cluster, sessions resume by themselves when their worker is lost');
    }
    const owner = options.owner ?? 'local';
    const id = `c${randomBytes(12).toString('hex')}`;
    const now = new Date().toISOString();
    const tried = new Set<string>();
    let revision = 0;
    for (;;) {
      // Only workers with the session's kits and network policy installed (none anywhere: say which is missing).
      const needs = { kits: options.kits, network: options.network };
      const worker = placeSession(workersWith(this.view.workers(), needs), options.language, tried);
      if (worker === null) {
        if (revision > 0) await this.#link.sessions.delete(id).catch(() => undefined); // nothing was placed
        // Missing kits are the caller's mistake only while some worker is live to say so: with none (a NATS
        // server failing over, heartbeats lapsed) it is the retryable no_capacity below.
        const asked = (needs.kits?.length ?? 0) > 0 || needs.network !== undefined;
        const lacking =
          asked && this.view.workers().some((w) => w.alive) ? lackingKits(this.view.workers(), needs) : null;
        if (lacking !== null) throw lacking;
        throw unavailable(`no live worker has room for a ${options.language} session`, { reason: 'no_capacity' });
      }
      const record: SessionRecord = {
        v: PROTOCOL_VERSION,
        id,
        owner,
        language: options.language,
        worker: worker.heartbeat.id,
        state: 'live',
        ...(options.limits === undefined ? {} : { limits: options.limits }),
        ...(options.kits === undefined ? {} : { kits: options.kits }),
        ...(options.network === undefined ? {} : { network: options.network }),
        info: placeholderInfo(id, options, owner, now) as SessionRecord['info'],
        previousWorkers: [],
      };
      const json = JSON.stringify(record);
      try {
        revision =
          revision === 0
            ? await this.#link.sessions.create(id, json)
            : await this.#link.sessions.update(id, json, revision);
      } catch (e) {
        await this.#link.sessions.delete(id).catch(() => undefined); // the write may have landed: no half-made record
        throw natsFailure(e, 'the sessions bucket');
      }
      this.view.noteRecord(record, revision);
      this.view.notePlaced(worker.heartbeat.id);
      try {
        const info = await request(
          this.#link,
          SUBJECTS.worker(worker.heartbeat.id),
          { op: 'create', record },
          { timeoutMs: this.#o.requestTimeoutMs },
        );
        return parseFrame(sessionInfoSchema, info, 'session info') as SessionInfo;
      } catch (e) {
        const full = isAppError(e, 'LIMIT_EXCEEDED') && e.data?.['full'] === true;
        const gone = isAppError(e, 'UPSTREAM_UNAVAILABLE') && e.data?.['reason'] === 'no_responders';
        if (!full && !gone) {
          await this.#link.sessions.delete(id).catch(() => undefined); // the record of a session that never started
          throw e;
        }
        tried.add(worker.heartbeat.id);
        const entry = await this.#link.sessions.get(id);
        revision = entry?.revision ?? revision;
      }
    }
  }

  /** list_kits on a gateway: the live workers' kits and network policies, each kit with the workers that have it. */
  kits(): { kits: ClusterKitStatus[]; networks: string[] } {
    return clusterKits(this.view.workers());
  }

  list(owner?: string): SessionInfo[] {
    return this.view
      .sessions()
      .filter((r) => r.owner === (owner ?? 'local') && r.state !== 'closed')
      .map((r) => this.#info(r));
  }

  get(id: string, owner?: string): SessionInfo {
    return this.#info(this.#mine(id, owner).record);
  }

  #info(r: SessionRecord): SessionInfo {
    const info = r.info as SessionInfo;
    if (r.state === 'live' && this.view.isAlive(r.worker)) return info;
    return { ...info, note: `its worker ${r.worker} is lost: the session resumes on another worker at its next use` };
  }

  /**
   * Send one request to the session's worker, moving the session first when that worker is dead.
   * `idempotent` requests are re-sent after a failover when the first try found no worker listening.
   */
  async #call(
    id: string,
    owner: string | undefined,
    body: SessionRequest,
    timeoutMs: number,
    outputSubject?: string,
  ): Promise<unknown> {
    let { record } = await this.#mineFresh(id, owner);
    const deadline = Date.now() + this.#o.livenessMs + 2000;
    for (;;) {
      if (record.state !== 'live' || !this.view.isAlive(record.worker)) record = await this.#failover(id);
      try {
        return await this.#watched(
          request(this.#link, SUBJECTS.worker(record.worker), body, {
            timeoutMs,
            ...(outputSubject === undefined ? {} : { outputSubject }),
          }),
          record.worker,
        );
      } catch (e) {
        // Nothing listens: the worker is dead or reconnecting to another NATS server. The request never ran, so
        // wait until its heartbeat says which, then resend (to it, or to where the session moved).
        if (isAppError(e, 'UPSTREAM_UNAVAILABLE') && e.data?.['reason'] === 'no_responders' && Date.now() < deadline) {
          await sleep(250);
          record = this.#mine(id, owner).record;
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * Fail the request once its worker is gone: its heartbeat lapsed and it does not answer a ping
   * (a worker that is only slow to heartbeat, under load, keeps its requests).
   */
  async #watched<T>(work: Promise<T>, workerId: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let probing = false;
    const lost = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        if (probing || this.view.isAlive(workerId)) return;
        probing = true;
        void this.#gone(workerId).then((gone) => {
          probing = false;
          if (gone) {
            reject(
              unavailable(`worker ${workerId} was lost during the request; it may or may not have run`, {
                reason: 'worker_lost',
                worker: workerId,
              }),
            );
          }
        });
      }, 500);
    });
    try {
      return await Promise.race([work, lost]);
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Whether a worker is gone: nothing subscribes to its subject (its connection closed), or it has
   * neither heartbeated for three liveness periods nor answered a ping. A worker that is only busy
   * (its event loop held up by a burst of sessions) keeps its sessions.
   */
  async #gone(workerId: string): Promise<boolean> {
    try {
      await request(this.#link, SUBJECTS.worker(workerId), { op: 'ping' }, { timeoutMs: 2000 });
      return false;
    } catch (e) {
      if (isAppError(e) && e.data?.['reason'] === 'no_responders') return true;
      return this.view.silentFor(workerId) > 3 * this.#o.livenessMs;
    }
  }

  /** Move a session off a dead worker (one gateway wins the compare-and-set; the others wait for its record). */
  async #failover(id: string): Promise<SessionRecord> {
    const running = this.#failovers.get(id);
    if (running !== undefined) return running;
    const attempt = this.#doFailover(id).finally(() => this.#failovers.delete(id));
    this.#failovers.set(id, attempt);
    return attempt;
  }

  async #doFailover(id: string): Promise<SessionRecord> {
    for (let tries = 0; tries < 20; tries++) {
      const entry = await this.#link.sessions.get(id).catch((e: unknown) => {
        throw natsFailure(e, 'the sessions bucket');
      });
      if (entry === null || entry.operation !== 'PUT') throw new AppError('NOT_FOUND', `no session ${id}`);
      const current = parseFrame(sessionRecordSchema, entry.json(), 'session record');
      if (current.state === 'closed') throw new AppError('NOT_FOUND', `no session ${id}`);
      // Someone already moved it, or its worker is only slow to heartbeat: nothing to move.
      if (current.state === 'live' && (this.view.isAlive(current.worker) || !(await this.#gone(current.worker))))
        return current;
      const able = workersWith(this.view.workers(), { kits: current.kits, network: current.network });
      const target = placeSession(able, current.language, new Set([current.worker]));
      if (target === null)
        throw unavailable(`session ${id}'s worker is lost and no live worker has room to resume it`, {
          reason: 'no_capacity',
        });
      const moved: SessionRecord = {
        ...current,
        state: 'live',
        worker: target.heartbeat.id,
        previousWorkers: [...current.previousWorkers, current.worker].slice(-64),
      };
      let revision: number;
      try {
        revision = await this.#link.sessions.update(id, JSON.stringify(moved), entry.revision);
      } catch (e) {
        if (!/wrong last sequence/i.test(errorMessage(e))) throw natsFailure(e, 'the sessions bucket');
        await sleep(200); // another gateway is moving it: read its record again
        continue;
      }
      this.view.noteRecord(moved, revision);
      this.view.notePlaced(target.heartbeat.id);
      this.#o.log(`cluster: session ${id} moves from lost worker ${current.worker} to ${target.heartbeat.id}`);
      const info = await request(
        this.#link,
        SUBJECTS.worker(target.heartbeat.id),
        { op: 'resume', record: moved },
        {
          timeoutMs: this.#o.maxWallMs + 60_000,
        },
      );
      parseFrame(sessionInfoSchema, info, 'session info');
      return moved;
    }
    throw unavailable(`session ${id} could not be moved off its lost worker`, { reason: 'failover' });
  }

  #execTimeout(limits: Partial<Limits> | undefined): number {
    return Math.min(limits?.wallMs ?? this.#o.maxWallMs, this.#o.maxWallMs) + 60_000;
  }

  async #exec(id: string, body: SessionRequest, options: SessionExecOptions): Promise<SessionExecResult> {
    let sub: Subscription | undefined;
    let outputSubject: string | undefined;
    if (options.onOutput !== undefined) {
      outputSubject = this.#link.inbox();
      sub = this.#link.nc.subscribe(outputSubject, { callback: (_e, m) => forwardOutput(m.data, options.onOutput) });
    }
    const onAbort = () => void this.interrupt(id, options.owner).catch(() => undefined); // nothing left to stop
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const raw = await this.#call(id, options.owner, body, this.#execTimeout(options.limits), outputSubject);
      const reply = parseFrame(execReplySchema, raw, 'execution reply');
      if (reply.result.sessionId !== id) throw new AppError('INTERNAL', 'cluster: a reply for another session');
      if (reply.record !== undefined) this.#remember(reply.record as unknown as ExecutionRecord);
      return reply.result as unknown as SessionExecResult;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      sub?.unsubscribe();
    }
  }

  execute(id: string, code: string, options: SessionExecOptions = {}): Promise<SessionExecResult> {
    const owner = options.owner ?? 'local';
    return this.#exec(id, { op: 'execute', sessionId: id, owner, code, ...limitsOf(options) }, options);
  }

  runScript(id: string, path: string, args: string[], options: SessionExecOptions = {}): Promise<SessionExecResult> {
    const owner = options.owner ?? 'local';
    return this.#exec(id, { op: 'runScript', sessionId: id, owner, path, args, ...limitsOf(options) }, options);
  }

  runProgram(
    id: string,
    program: SandboxProgram,
    args: string[],
    options: SessionExecOptions & { record?: boolean } = {},
  ): Promise<SessionExecResult> {
    const owner = options.owner ?? 'local';
    const body: SessionRequest = {
      op: 'runProgram',
      sessionId: id,
      owner,
      program,
      args,
      ...(options.record === undefined ? {} : { record: options.record }),
      ...limitsOf(options),
    };
    return this.#exec(id, body, options);
  }

  async interrupt(id: string, owner?: string): Promise<void> {
    await this.#call(id, owner, { op: 'interrupt', sessionId: id, owner: owner ?? 'local' }, this.#o.requestTimeoutMs);
  }

  async restart(
    id: string,
    owner?: string,
    options: { replayUpTo?: number; replayOnly?: readonly number[] } = {},
  ): Promise<SessionInfo> {
    const body: SessionRequest = {
      op: 'restart',
      sessionId: id,
      owner: owner ?? 'local',
      ...(options.replayUpTo === undefined ? {} : { replayUpTo: options.replayUpTo }),
      ...(options.replayOnly === undefined ? {} : { replayOnly: [...options.replayOnly] }),
    };
    return parseFrame(
      sessionInfoSchema,
      await this.#call(id, owner, body, this.#o.maxWallMs + 60_000),
      'session info',
    ) as SessionInfo;
  }

  async close(id: string, owner?: string): Promise<void> {
    await this.#call(id, owner, { op: 'close', sessionId: id, owner: owner ?? 'local' }, this.#o.requestTimeoutMs);
    this.#history.delete(id);
  }

  async writeFile(
    id: string,
    path: string,
    content: Uint8Array,
    owner?: string,
    options: { append?: boolean } = {},
  ): Promise<WorkspaceEntry> {
    const body: SessionRequest = {
      op: 'writeFile',
      sessionId: id,
      owner: owner ?? 'local',
      path,
      content: toWire(content),
      ...options,
    };
    return parseFrame(workspaceEntrySchema, await this.#call(id, owner, body, this.#o.requestTimeoutMs), 'file entry');
  }

  async readFile(id: string, path: string, owner?: string): Promise<Uint8Array> {
    const raw = await this.#call(
      id,
      owner,
      { op: 'readFile', sessionId: id, owner: owner ?? 'local', path },
      this.#o.requestTimeoutMs,
    );
    return fromWire(parseFrame(bytesSchema, raw, 'file content'));
  }

  async listFiles(id: string, path?: string, owner?: string): Promise<WorkspaceEntry[]> {
    const body: SessionRequest = {
      op: 'listFiles',
      sessionId: id,
      owner: owner ?? 'local',
      ...(path === undefined ? {} : { path }),
    };
    return parseFrame(fileListSchema, await this.#call(id, owner, body, this.#o.requestTimeoutMs), 'file list');
  }

  async deleteFile(id: string, path: string, owner?: string): Promise<void> {
    await this.#call(
      id,
      owner,
      { op: 'deleteFile', sessionId: id, owner: owner ?? 'local', path },
      this.#o.requestTimeoutMs,
    );
  }

  async importArchive(
    id: string,
    path: string,
    archive: Uint8Array,
    owner?: string,
  ): Promise<{ entries: number; bytes: number }> {
    const body: SessionRequest = {
      op: 'importArchive',
      sessionId: id,
      owner: owner ?? 'local',
      path,
      archive: toWire(archive),
    };
    const raw = await this.#call(id, owner, body, this.#o.requestTimeoutMs);
    return parseFrame(z.object({ entries: z.number(), bytes: z.number() }), raw, 'import result');
  }

  async exportArchive(id: string, path: string, owner?: string): Promise<Uint8Array> {
    const raw = await this.#call(
      id,
      owner,
      { op: 'exportArchive', sessionId: id, owner: owner ?? 'local', path },
      this.#o.requestTimeoutMs,
    );
    return fromWire(parseFrame(bytesSchema, raw, 'archive'));
  }

  history(id: string, owner?: string): ExecutionRecord[] {
    this.#mine(id, owner);
    return [...(this.#history.get(id)?.values() ?? [])].sort((a, b) => a.executionCount - b.executionCount);
  }

  /** Nothing to resume by hand: a lost session resumes by itself at its next use. */
  listResumable(): ResumableSession[] {
    return [];
  }

  exportNotebook(id: string, owner?: string): string {
    const { record } = this.#mine(id, owner);
    return JSON.stringify(toNotebook(this.history(id, owner), record.language, id), null, 1);
  }

  subscribe(id: string, owner: string | undefined, listener: SessionEventListener): () => void {
    this.#mine(id, owner);
    const sub = this.#link.nc.subscribe(SUBJECTS.events(id), {
      callback: (_e, m) => {
        const parsed = eventSchema.safeParse(safeJson(() => m.json()));
        if (parsed.success) listener(parsed.data as unknown as SessionEvent);
      },
    });
    this.#subs.add(sub);
    return () => {
      sub.unsubscribe();
      this.#subs.delete(sub);
    };
  }

  /** The gateway holds no kernels: stop watching; the sessions live on in their workers. */
  async shutdown(): Promise<void> {
    this.view.stop();
    await this.#historyFeed?.close();
    for (const s of this.#subs) s.unsubscribe();
    this.#subs.clear();
  }
}

function limitsOf(options: SessionExecOptions): { limits?: SessionExecOptions['limits'] } {
  return options.limits === undefined ? {} : { limits: options.limits };
}

function forwardOutput(data: Uint8Array, onOutput: ((c: OutputChunk) => void) | undefined): void {
  const parsed = outputFrameSchema.safeParse(safeJson(() => JSON.parse(new TextDecoder().decode(data)) as unknown));
  if (parsed.success) onOutput?.({ stream: parsed.data.stream, text: parsed.data.text });
}

function placeholderInfo(id: string, options: CreateSessionOptions, owner: string, now: string): SessionInfo {
  return {
    id,
    language: options.language,
    owner,
    state: 'starting',
    createdAt: now,
    lastUsedAt: now,
    executionCount: 0,
    limits: {
      wallMs: 0,
      cpuMs: 0,
      memoryBytes: 0,
      processes: 0,
      outputBytes: 0,
      outputTotalBytes: 0,
      diskBytes: 0,
      tmpBytes: 0,
      openFiles: 0,
    },
    pooled: false,
  };
}

function safeJson(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined; // not JSON: the schema check rejects it
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
