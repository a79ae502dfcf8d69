/**
 * The worker side: a thin adapter that answers the cluster protocol from a
 * local SessionService and Executor. It heartbeats its capacity, answers only
 * its own subject (and the one-shot queue group), and after every execution
 * saves the session's workspace to the object store and its history record to
 * the stream, so another worker can resume the session if this one dies.
 * Ownership is checked here again: the gateway's word is not enough.
 */
import { freemem } from 'node:os';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { Svcm, type Service } from '@nats-io/services';
import { AppError, errorMessage, isAppError } from '../errors.js';
import type { Executor, Language, OutputChunk } from '../sandbox/executor.js';
import type {
  ExecutionRecord,
  KitStatus,
  SessionEvent,
  SessionExecResult,
  SessionInfo,
  SessionService,
} from '../sessions/contract.js';
import { decodeFrame, okFrame, reply, type Link } from './link.js';
import {
  errorToFrame,
  executionRecordSchema,
  fromWire,
  HISTORY_STREAM,
  INLINE_FRAME_BYTES,
  kitStatusSchema,
  MAX_OUTPUT_CHUNK_CHARS,
  parseFrame,
  PROTOCOL_VERSION,
  requestFrameSchema,
  runRequestSchema,
  sessionRecordSchema,
  sessionRequestSchema,
  SUBJECTS,
  toWire,
  type Heartbeat,
  type SessionRecord,
  type SessionRequest,
  WORKER_SERVICE,
} from './protocol.js';

export interface ClusterWorkerOptions {
  id: string;
  link: Link;
  sessions: SessionService;
  executor: Executor;
  maxSessions: number;
  /** The local SessionManager's per-owner cap: above it, it would suspend the owner's idle sessions. */
  maxSessionsPerOwner: number;
  languages: Language[];
  heartbeatMs?: number;
  /** When to checkpoint workspaces after executions (default: at once below 8 MiB, else at most every 10 s). */
  checkpoints?: CheckpointSchedule;
  version: string;
  log?: (m: string) => void;
  /** The kits and network policies sessions here may ask for (heartbeated, so gateways list and place by them). */
  kits?: () => { kits: KitStatus[]; networks: string[] };
}

/** Kits are re-read this often (a dpkg query): an operator's `codemode kits install` shows within a minute. */
const KITS_REFRESH_MS = 60_000;

interface Hosted {
  localId: string;
  owner: string;
  language: Language;
  /** Cluster execution count minus the local one (history replayed on resume, or none). */
  offset: number;
  unsubscribe: () => void;
  /** Set while this worker closes or hands over the session on purpose. */
  closing: boolean;
  /** How the session came here (a resume), shown in its info. */
  note?: string;
  /** The last workspace checkpoint: its size and when it was saved (for the large-workspace schedule). */
  archive?: { bytes: number; at: number };
  /** A deferred checkpoint of a large workspace, due at the end of its interval. */
  archiveTimer?: NodeJS.Timeout;
  /** The checkpoint being saved: the next one waits for it, so they land in order. */
  archiving?: Promise<void>;
}

/** When a workspace is checkpointed after an execution: at once while small, at most every `everyMs` once large. */
export interface CheckpointSchedule {
  largeBytes: number;
  everyMs: number;
}

export const DEFAULT_CHECKPOINT_SCHEDULE: CheckpointSchedule = { largeBytes: 8 * 2 ** 20, everyMs: 10_000 };

/**
 * After an execution: save the workspace now (0), or in `ms`. A large workspace saved less than `everyMs` ago
 * waits for the rest of the interval; its history record is saved at once either way, and a resume replays it.
 */
export function checkpointDelay(
  last: { bytes: number; at: number } | undefined,
  now: number,
  schedule: CheckpointSchedule,
): number {
  if (last === undefined || last.bytes < schedule.largeBytes) return 0;
  return Math.max(0, last.at + schedule.everyMs - now);
}

/** The services framework wants semver; a development version string becomes 0.0.0-dev. */
const serviceVersion = (v: string) => (/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(v) ? v : '0.0.0-dev');

/** History records keep this much of each stream: replay needs the code, not the output. */
const HISTORY_TEXT_CHARS = 16 * 1024;

export class ClusterWorker {
  readonly #o: ClusterWorkerOptions;
  readonly #log: (m: string) => void;
  readonly #hosted = new Map<string, Hosted>();
  /** The record this worker last wrote for each hosted session: a compare-and-set on its revision needs no read first. */
  readonly #written = new Map<string, { record: SessionRecord; revision: number }>();
  readonly #runs = new Map<string, AbortController>();
  readonly #subs: Subscription[] = [];
  #timer: NodeJS.Timeout | undefined;
  #service: Service | undefined;
  #stopping = false;
  #failed!: (reason: string) => void;
  /** Resolves with the reason when this worker stops answering without being asked to (its NATS service died). */
  readonly failed = new Promise<string>((resolve) => (this.#failed = resolve));
  readonly #startedAt = new Date().toISOString();
  /** Sessions being started: counted in the heartbeat so gateways placing meanwhile see them. */
  #opening = 0;

  constructor(options: ClusterWorkerOptions) {
    this.#o = options;
    this.#log = options.log ?? (() => {});
  }

  get id(): string {
    return this.#o.id;
  }

  async start(): Promise<void> {
    const { nc } = this.#o.link;
    // A NATS service: `$SRV.PING|INFO|STATS.codemode-worker` find every worker and count its requests.
    const service = await new Svcm(nc).add({
      name: WORKER_SERVICE,
      version: serviceVersion(this.#o.version),
      description: 'codemode worker: session kernels and one-shot runs',
      metadata: { worker: this.#o.id },
      queue: '', // the session subject is this worker's alone; the run endpoint names its queue group
    });
    this.#service = service;
    service.addEndpoint('session', {
      subject: SUBJECTS.worker(this.#o.id),
      handler: (e, m) => void (e === null && this.#onSession(m)),
    });
    service.addEndpoint('run', {
      subject: SUBJECTS.run,
      queue: SUBJECTS.runQueue,
      handler: (e, m) => void (e === null && this.#onRun(m)),
    });
    void service.stopped.then((why) => {
      if (this.#stopping) return;
      const reason = `the NATS service stopped: ${why instanceof Error ? why.message : 'closed'}`;
      this.#log(`cluster: ${reason}; this worker no longer answers`);
      this.#failed(reason);
    });
    this.#subs.push(
      nc.subscribe(SUBJECTS.cancel('*'), {
        callback: (_e, m) => this.#runs.get(m.subject.slice(SUBJECTS.cancel('').length))?.abort(),
      }),
    );
    await nc.flush();
    await this.#heartbeat();
    this.#timer = setInterval(() => void this.#heartbeat(), this.#o.heartbeatMs ?? 1000);
  }

  /** Stop answering, drop the heartbeat, close the local sessions (they stay resumable elsewhere). */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    await this.#service?.stop().catch(() => undefined);
    for (const s of this.#subs) s.unsubscribe();
    await this.#o.link.workers.delete(this.#o.id).catch(() => undefined); // it expires anyway
    for (const [id, h] of this.#hosted) {
      // A deferred checkpoint is saved now, so the session resumes elsewhere without replaying into an old one.
      if (h.archiveTimer !== undefined) await this.#saveWorkspace(id, h).catch(() => undefined);
      h.closing = true;
      await this.#updateRecord(id, (r) => ({ ...r, state: 'lost' })).catch(() => undefined);
    }
  }

  /** The cluster session behind a local one, while hosted here (its kernel's tool calls carry it to a gateway). */
  sessionOf(localId: string): { sessionId: string; owner: string } | undefined {
    for (const [sessionId, h] of this.#hosted) if (h.localId === localId) return { sessionId, owner: h.owner };
    return undefined;
  }

  #kits: { kits: KitStatus[]; networks: string[]; at: number } | undefined;

  /** This worker's kits as the heartbeat carries them: each checked against the wire schema (one that is not is left out, said once). */
  #offeredKits(): { kits?: KitStatus[]; networks?: string[] } {
    if (this.#o.kits === undefined) return {};
    if (this.#kits === undefined || Date.now() - this.#kits.at > KITS_REFRESH_MS) {
      const known = this.#kits;
      try {
        const { kits, networks } = this.#o.kits();
        const fit = kits.filter((k) => kitStatusSchema.safeParse(k).success);
        if (fit.length < kits.length && known === undefined)
          this.#log(`cluster: ${kits.length - fit.length} kit(s) too large for the heartbeat are not offered`);
        this.#kits = { kits: fit, networks: networks.filter((n) => n.length <= 64).slice(0, 256), at: Date.now() };
      } catch (e) {
        this.#log(`cluster: cannot read the kits: ${errorMessage(e)}`);
        this.#kits = { kits: known?.kits ?? [], networks: known?.networks ?? [], at: Date.now() };
      }
    }
    return { kits: this.#kits.kits.slice(0, 256), networks: this.#kits.networks };
  }

  heartbeat(): Heartbeat {
    return {
      v: PROTOCOL_VERSION,
      id: this.#o.id,
      sessions: this.#hosted.size + this.#opening,
      maxSessions: this.#o.maxSessions,
      runsInFlight: this.#runs.size,
      freeMemoryBytes: freemem(),
      languages: this.#o.languages,
      startedAt: this.#startedAt,
      version: this.#o.version,
      ...this.#offeredKits(),
    };
  }

  async #heartbeat(): Promise<void> {
    try {
      await this.#o.link.workers.put(this.#o.id, JSON.stringify(this.heartbeat()));
    } catch (e) {
      this.#log(`cluster: heartbeat failed: ${errorMessage(e)}`);
    }
  }

  async #onRun(msg: Msg): Promise<void> {
    let runId: string | undefined;
    try {
      const frame = parseFrame(requestFrameSchema, await decodeFrame(this.#o.link, msg.data), 'run request');
      const body = parseFrame(runRequestSchema, frame.body, 'run request');
      runId = body.runId;
      const abort = new AbortController();
      this.#runs.set(runId, abort);
      const result = await this.#o.executor.run({
        language: body.language,
        code: body.code,
        ...(body.stdin === undefined ? {} : { stdin: fromWire(body.stdin) }),
        ...(body.args === undefined ? {} : { args: body.args }),
        ...(body.files === undefined
          ? {}
          : { files: body.files.map((f) => ({ path: f.path, content: fromWire(f.content) })) }),
        ...(body.limits === undefined ? {} : { limits: body.limits }),
        signal: abort.signal,
        ...(frame.outputSubject === undefined ? {} : { onOutput: this.#streamTo(frame.outputSubject) }),
      });
      await reply(this.#o.link, msg, okFrame(result), this.#log);
    } catch (e) {
      await reply(this.#o.link, msg, errorToFrame(e), this.#log);
    } finally {
      if (runId !== undefined) this.#runs.delete(runId);
    }
  }

  #streamTo(subject: string): (chunk: OutputChunk) => void {
    return (chunk) => {
      for (let i = 0; i < chunk.text.length; i += MAX_OUTPUT_CHUNK_CHARS) {
        const text = chunk.text.slice(i, i + MAX_OUTPUT_CHUNK_CHARS);
        this.#o.link.nc.publish(subject, JSON.stringify({ v: PROTOCOL_VERSION, stream: chunk.stream, text }));
      }
    };
  }

  async #onSession(msg: Msg): Promise<void> {
    try {
      const frame = parseFrame(requestFrameSchema, await decodeFrame(this.#o.link, msg.data), 'session request');
      const body = parseFrame(sessionRequestSchema, frame.body, 'session request');
      const result = await this.#handle(body, frame.outputSubject);
      await reply(this.#o.link, msg, okFrame(result), this.#log);
    } catch (e) {
      if (!isAppError(e)) this.#log(`cluster: a session request failed: ${errorMessage(e)}`);
      await reply(this.#o.link, msg, errorToFrame(e), this.#log);
    }
  }

  /** The hosted session, or NOT_FOUND for an unknown id and for another owner's (ids cannot be probed). */
  #own(sessionId: string, owner: string): Hosted {
    const h = this.#hosted.get(sessionId);
    if (h === undefined || h.owner !== owner) throw new AppError('NOT_FOUND', `no session ${sessionId}`);
    return h;
  }

  async #handle(req: SessionRequest, outputSubject: string | undefined): Promise<unknown> {
    const s = this.#o.sessions;
    switch (req.op) {
      case 'ping':
        return { id: this.#o.id };
      case 'create':
      case 'resume':
        return this.#open(req.record, req.op === 'resume');
      case 'execute':
      case 'runScript':
      case 'runProgram': {
        const h = this.#own(req.sessionId, req.owner);
        const opts = {
          owner: h.owner,
          ...(req.limits === undefined ? {} : { limits: req.limits }),
          ...(outputSubject === undefined ? {} : { onOutput: this.#streamTo(outputSubject) }),
        };
        const local =
          req.op === 'execute'
            ? await s.execute(h.localId, req.code, opts)
            : req.op === 'runScript'
              ? await s.runScript(h.localId, req.path, req.args, opts)
              : await s.runProgram(h.localId, req.program, req.args, { ...opts, record: req.record ?? true });
        const result: SessionExecResult = {
          ...local,
          sessionId: req.sessionId,
          executionCount: local.executionCount + h.offset,
        };
        const recorded = req.op !== 'runProgram' || req.record !== false;
        const code =
          req.op === 'execute'
            ? req.code
            : req.op === 'runScript'
              ? [req.path, ...req.args].join(' ')
              : [req.program, ...req.args].join(' ');
        const record = recorded
          ? this.#record(req.sessionId, h, result, req.op === 'execute' ? 'execute' : 'script', code)
          : undefined;
        try {
          await this.#checkpoint(req.sessionId, h, record, { afterExecution: true });
        } catch (e) {
          // The run happened: report it, and say that a failover now would lose it.
          result.warnings = [
            ...(result.warnings ?? []),
            `the cluster checkpoint after this execution was not saved (${errorMessage(e)}): if worker ${this.#o.id} is lost before the next one, this execution is not restored`,
          ];
        }
        return { result, ...(record === undefined ? {} : { record }) };
      }
      case 'interrupt':
        return s.interrupt(this.#own(req.sessionId, req.owner).localId, req.owner);
      case 'restart': {
        const h = this.#own(req.sessionId, req.owner);
        // Cluster counts to this kernel's counts (cells before a resume were replayed under other numbers).
        const local = (n: number) => n - h.offset;
        await s.restart(h.localId, h.owner, {
          ...(req.replayUpTo === undefined ? {} : { replayUpTo: Math.max(0, local(req.replayUpTo)) }),
          ...(req.replayOnly === undefined ? {} : { replayOnly: req.replayOnly.map(local).filter((n) => n > 0) }),
        });
        return this.#publishInfo(req.sessionId, h);
      }
      case 'close': {
        const h = this.#own(req.sessionId, req.owner);
        h.closing = true;
        await s.close(h.localId, h.owner);
        this.#drop(req.sessionId);
        await this.#updateRecord(req.sessionId, (r) => ({
          ...r,
          state: 'closed',
          info: { ...r.info, state: 'closed' },
        }));
        // The checkpoint of a closed session is of no more use. Its history stays until the stream's max_age:
        // the history stream refuses purges, so that no node can wipe other sessions' history.
        await this.#o.link.workspaces.delete(req.sessionId).catch(() => undefined);
        return null;
      }
      case 'writeFile': {
        const h = this.#own(req.sessionId, req.owner);
        const entry = await s.writeFile(h.localId, req.path, fromWire(req.content), h.owner, {
          ...(req.append === undefined ? {} : { append: req.append }),
        });
        await this.#checkpoint(req.sessionId, h);
        return entry;
      }
      case 'readFile': {
        const h = this.#own(req.sessionId, req.owner);
        return toWire(await s.readFile(h.localId, req.path, h.owner));
      }
      case 'listFiles': {
        const h = this.#own(req.sessionId, req.owner);
        return s.listFiles(h.localId, req.path, h.owner);
      }
      case 'deleteFile': {
        const h = this.#own(req.sessionId, req.owner);
        await s.deleteFile(h.localId, req.path, h.owner);
        await this.#checkpoint(req.sessionId, h);
        return null;
      }
      case 'importArchive': {
        const h = this.#own(req.sessionId, req.owner);
        const out = await s.importArchive(h.localId, req.path, fromWire(req.archive), h.owner);
        await this.#checkpoint(req.sessionId, h);
        return out;
      }
      case 'exportArchive': {
        const h = this.#own(req.sessionId, req.owner);
        return toWire(await s.exportArchive(h.localId, req.path, h.owner));
      }
    }
  }

  /** Start a session for a record the gateway placed here; on resume, rebuild it from checkpoint and history. */
  async #open(record: SessionRecord, resume: boolean): Promise<SessionInfo> {
    if (record.worker !== this.#o.id)
      throw new AppError('INVALID_ARGUMENT', 'that session is placed on another worker');
    if (this.#hosted.has(record.id)) throw new AppError('ALREADY_EXISTS', `session ${record.id} is already here`);
    // Above its caps the local manager would suspend this owner's idle sessions: refuse instead, the gateway tries another worker.
    const mine = [...this.#hosted.values()].filter((h) => h.owner === record.owner).length;
    if (this.#hosted.size >= this.#o.maxSessions || mine >= this.#o.maxSessionsPerOwner) {
      throw new AppError('LIMIT_EXCEEDED', `worker ${this.#o.id} is full`, { retryable: true, full: true });
    }
    this.#opening++;
    const local = await this.#o.sessions
      .create({
        language: record.language,
        owner: record.owner,
        ...(record.limits === undefined ? {} : { limits: record.limits }),
        ...(record.kits === undefined ? {} : { kits: record.kits }),
        ...(record.network === undefined ? {} : { network: record.network }),
      })
      .finally(() => this.#opening--);
    const h: Hosted = {
      localId: local.id,
      owner: record.owner,
      language: record.language,
      offset: 0,
      unsubscribe: () => {},
      closing: false,
    };
    this.#hosted.set(record.id, h);
    try {
      if (resume) h.note = await this.#restore(record, h);
      h.unsubscribe = this.#o.sessions.subscribe(local.id, record.owner, (e) => this.#onEvent(record.id, h, e));
      return await this.#publishInfo(record.id, h);
    } catch (e) {
      this.#drop(record.id);
      await this.#o.sessions.close(local.id, record.owner).catch(() => undefined); // failed start: nothing to keep
      throw e;
    }
  }

  /** Files from the last checkpoint, then variables by re-running the successful cells in order. */
  async #restore(record: SessionRecord, h: Hosted): Promise<string> {
    const s = this.#o.sessions;
    const archive = await this.#o.link.workspaces.getBlob(record.id);
    if (archive !== null) {
      await s.importArchive(h.localId, '', archive, h.owner);
      h.archive = { bytes: archive.byteLength, at: Date.now() };
    }
    const history = await readHistory(this.#o.link, record.id);
    let replayed = 0;
    let failed = 0;
    for (const r of history) {
      if ((r.kind ?? 'execute') !== 'execute' || r.status !== 'ok') continue;
      const out = await s.execute(h.localId, r.code, { owner: h.owner });
      if (out.status === 'ok') replayed++;
      else failed++;
    }
    const last = history.at(-1)?.executionCount ?? record.info.executionCount;
    const localCount = s.get(h.localId, h.owner).executionCount;
    h.offset = Math.max(last, record.info.executionCount) - localCount;
    const from = record.previousWorkers.at(-1) ?? 'another worker';
    return (
      `resumed on worker ${this.#o.id} after worker ${from} was lost: files from the last checkpoint` +
      `${archive === null ? ' (none was saved: empty workspace)' : ''}, variables by replaying ${replayed} execution(s)` +
      `${failed > 0 ? ` (${failed} failed on replay)` : ''}`
    );
  }

  #abandon(sessionId: string): void {
    const h = this.#hosted.get(sessionId);
    if (h === undefined) return;
    h.closing = true;
    this.#drop(sessionId);
    this.#log(`cluster: session ${sessionId} moved to another worker; closing the copy here`);
    void this.#o.sessions.close(h.localId, h.owner).catch(() => undefined); // already gone: nothing to stop
  }

  #drop(sessionId: string): void {
    const h = this.#hosted.get(sessionId);
    h?.unsubscribe();
    clearTimeout(h?.archiveTimer);
    this.#hosted.delete(sessionId);
    this.#written.delete(sessionId);
  }

  /** The local session's info as the cluster sees it, written to the record. */
  async #publishInfo(sessionId: string, h: Hosted): Promise<SessionInfo> {
    const local = this.#o.sessions.get(h.localId, h.owner);
    const info: SessionInfo = {
      ...local,
      id: sessionId,
      executionCount: local.executionCount + h.offset,
      ...(h.note === undefined ? {} : { note: h.note }),
    };
    await this.#updateRecord(sessionId, (r) => ({ ...r, state: 'live', info: info as SessionRecord['info'] }));
    return info;
  }

  #record(
    sessionId: string,
    h: Hosted,
    result: SessionExecResult,
    kind: 'execute' | 'script',
    code: string,
  ): ExecutionRecord {
    return {
      id: result.executionId,
      sessionId,
      executionCount: result.executionCount,
      kind,
      language: h.language,
      code,
      status: result.status,
      stdout: result.stdout.slice(0, HISTORY_TEXT_CHARS),
      stderr: result.stderr.slice(0, HISTORY_TEXT_CHARS),
      outputs: JSON.stringify(result.outputs ?? []).length < HISTORY_TEXT_CHARS ? (result.outputs ?? []) : [],
      ...(result.error === undefined ? {} : { error: result.error }),
      startedAt: new Date(Date.now() - result.durationMs).toISOString(),
      durationMs: result.durationMs,
      ...(result.reason === undefined ? {} : { reason: result.reason }),
    };
  }

  /** After a change: the history record to the stream, the workspace to the object store, the info to the record. */
  async #checkpoint(
    sessionId: string,
    h: Hosted,
    record?: ExecutionRecord,
    options: { afterExecution?: boolean } = {},
  ): Promise<void> {
    const { link } = this.#o;
    if (record !== undefined) {
      let data = JSON.stringify(record);
      if (data.length > INLINE_FRAME_BYTES) data = JSON.stringify({ ...record, stdout: '', stderr: '', outputs: [] });
      await link.js.publish(SUBJECTS.history(sessionId), data);
    }
    // File writes, deletes and imports are saved at once (replay cannot bring them back); an execution's
    // effects on a large workspace wait for its interval, since replaying the history redoes them.
    const delay = options.afterExecution
      ? checkpointDelay(h.archive, Date.now(), this.#o.checkpoints ?? DEFAULT_CHECKPOINT_SCHEDULE)
      : 0;
    if (delay === 0) await this.#saveWorkspace(sessionId, h);
    else
      h.archiveTimer ??= setTimeout(() => {
        h.archiveTimer = undefined;
        if (this.#hosted.get(sessionId) !== h) return;
        void this.#saveWorkspace(sessionId, h).catch((e: unknown) =>
          this.#log(`cluster: the deferred checkpoint of ${sessionId} failed: ${errorMessage(e)}`),
        );
      }, delay);
    await this.#publishInfo(sessionId, h);
  }

  /** The workspace archive into the object store, one at a time per session (a newer one never lands first). */
  async #saveWorkspace(sessionId: string, h: Hosted): Promise<void> {
    clearTimeout(h.archiveTimer);
    h.archiveTimer = undefined;
    const previous = h.archiving ?? Promise.resolve();
    const save = previous
      .catch(() => undefined)
      .then(async () => {
        const at = Date.now();
        const archive = await this.#o.sessions.exportArchive(h.localId, '', h.owner);
        await this.#o.link.workspaces.putBlob({ name: sessionId }, archive);
        h.archive = { bytes: archive.byteLength, at };
      });
    h.archiving = save;
    await save;
  }

  /** Local events, re-addressed with the cluster id, for any gateway's subscribers. */
  #onEvent(sessionId: string, h: Hosted, e: SessionEvent): void {
    let event: SessionEvent = e;
    if (e.type === 'session.state') {
      event = { ...e, session: { ...e.session, id: sessionId, executionCount: e.session.executionCount + h.offset } };
    } else if (e.type === 'execution.finished' && e.result !== undefined) {
      event = { ...e, result: { ...e.result, sessionId, executionCount: e.result.executionCount + h.offset } };
    } else if (e.type === 'execution.started') {
      event = { ...e, executionCount: e.executionCount + h.offset };
    } else if (e.type === 'session.closed' && !h.closing) {
      // Closed under us (idle timeout, kernel limits): the record says lost, so the next use resumes it.
      this.#drop(sessionId);
      void this.#updateRecord(sessionId, (r) => ({ ...r, state: 'lost' })).catch(() => undefined);
    }
    let data = JSON.stringify(event);
    if (data.length > INLINE_FRAME_BYTES && event.type === 'execution.finished' && event.result !== undefined) {
      data = JSON.stringify({ ...event, result: { ...event.result, stdout: '', stderr: '', outputs: [] } });
    }
    if (data.length <= INLINE_FRAME_BYTES) this.#o.link.nc.publish(SUBJECTS.events(sessionId), data);
  }

  /**
   * Compare-and-set on the record; a record that names another worker is not ours to change any more.
   * The first try builds on the record this worker last wrote: if anyone wrote since (a gateway moving the
   * session), its revision is stale, the set fails, and the record is read again.
   */
  async #updateRecord(sessionId: string, change: (r: SessionRecord) => SessionRecord): Promise<void> {
    const kv = this.#o.link.sessions;
    for (let attempt = 0; attempt < 5; attempt++) {
      let known = attempt === 0 ? this.#written.get(sessionId) : undefined;
      if (known === undefined) {
        const entry = await kv.get(sessionId);
        if (entry === null || entry.operation !== 'PUT')
          throw new AppError('NOT_FOUND', `no record of session ${sessionId}`);
        known = { record: parseFrame(sessionRecordSchema, entry.json(), 'session record'), revision: entry.revision };
      }
      if (known.record.worker !== this.#o.id) {
        // Another worker took it over (we were thought lost): stop our copy, the record's worker serves it now.
        this.#abandon(sessionId);
        throw new AppError('SESSION_CLOSED', `session ${sessionId} moved to worker ${known.record.worker}`);
      }
      const next = change(known.record);
      try {
        const revision = await kv.update(sessionId, JSON.stringify(next), known.revision);
        if (this.#hosted.has(sessionId)) this.#written.set(sessionId, { record: next, revision });
        return;
      } catch (e) {
        this.#written.delete(sessionId);
        if (!/wrong last sequence/i.test(errorMessage(e))) throw e;
      }
    }
    throw new AppError('SESSION_BUSY', `session ${sessionId}'s record keeps changing`);
  }
}

/** A session's history records from the stream, in order (validated: the stream is written by workers). */
export async function readHistory(link: Link, sessionId: string): Promise<ExecutionRecord[]> {
  const consumer = await link.js.consumers.get(HISTORY_STREAM, { filter_subjects: SUBJECTS.history(sessionId) });
  const out: ExecutionRecord[] = [];
  for (;;) {
    const m = await consumer.next({ expires: 1000 });
    if (m === null) break;
    const parsed = executionRecordSchema.safeParse(m.json());
    if (parsed.success) out.push(parsed.data as unknown as ExecutionRecord);
    if (m.info.pending === 0) break;
  }
  return out.sort((a, b) => a.executionCount - b.executionCount);
}
