/**
 * Agent run records in SQLite (table agent_runs, migration 3): the columns a
 * listing needs, and the whole record as JSON. Append-only: a run is inserted
 * once when it ends and never changed. Records arrive already redacted
 * (TranscriptRecorder); this module stores what it is given.
 */
import type Database from 'better-sqlite3';
import type { AgentRunRecord, AgentRunStore, AgentRunSummary } from '../agent/transcript.js';
import { AppError } from '../errors.js';
import { migrate, openDatabase } from './session-store.js';
import { isTransientStoreError, type StoreStatus } from './store-status.js';

/** Runs kept in memory while the database refuses them (disk full, locked), at most. */
const MAX_PENDING_RUNS = 100;

interface RunRow {
  id: string;
  session_id: string;
  owner: string;
  model: string;
  task: string;
  language: string;
  ok: number;
  stop_reason: string;
  steps: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  duration_ms: number;
  created_at: string;
  record?: string;
}

function toSummary(r: RunRow): AgentRunSummary {
  return {
    id: r.id,
    sessionId: r.session_id,
    owner: r.owner,
    model: r.model,
    task: r.task,
    language: r.language as AgentRunSummary['language'],
    ok: r.ok === 1,
    stopReason: r.stop_reason as AgentRunSummary['stopReason'],
    steps: r.steps,
    usage: {
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      costUsd: r.cost_usd === null ? undefined : r.cost_usd,
    },
    durationMs: r.duration_ms,
    createdAt: r.created_at,
  };
}

const SUMMARY_COLUMNS =
  'id, session_id, owner, model, task, language, ok, stop_reason, steps, input_tokens, output_tokens, cost_usd, duration_ms, created_at';

export class SqliteAgentRunStore implements AgentRunStore {
  readonly db: Database.Database;
  private readonly ownsDb: boolean;
  private readonly stmts;
  /** Runs the database refused for a passing reason: retried at the next save, get or list. */
  private pending: AgentRunRecord[] = [];

  /**
   * A file path, ':memory:', or an open database to share (e.g. the session
   * store's). `status` hears about failures; a run the database refuses (disk
   * full, locked) is kept in memory and retried, not lost, and not thrown at
   * the agent whose run just ended.
   */
  constructor(
    file: string | Database.Database,
    private readonly status?: StoreStatus,
  ) {
    this.ownsDb = typeof file === 'string';
    this.db = typeof file === 'string' ? openDatabase(file) : file;
    if (!this.ownsDb) migrate(this.db);
    this.stmts = {
      insert: this.db.prepare(
        `INSERT INTO agent_runs (${SUMMARY_COLUMNS}, record)
         VALUES (@id, @sessionId, @owner, @model, @task, @language, @ok, @stopReason, @steps, @inputTokens,
           @outputTokens, @costUsd, @durationMs, @createdAt, @record)`,
      ),
      // An exact id first, then a prefix (LIKE with the prefix's own wildcards escaped).
      get: this.db.prepare(
        `SELECT * FROM agent_runs WHERE (id = @id OR id LIKE @prefix ESCAPE '\\')
           AND (@owner IS NULL OR owner = @owner) ORDER BY id = @id DESC LIMIT 2`,
      ),
    };
  }

  /** Insert a run (append-only: saving an id twice throws). Refused for a passing reason, it waits in memory. */
  save(run: AgentRunRecord): void {
    this.retry();
    if (this.pending.length === 0) {
      try {
        this.insert(run);
        return;
      } catch (e) {
        if (!isTransientStoreError(e)) throw e;
        this.status?.failed('runs', e);
      }
    }
    this.pending.push(run);
    if (this.pending.length > MAX_PENDING_RUNS) {
      this.pending.shift();
      if (this.status) this.status.lostWrites++;
    }
  }

  /** Write the waiting runs, oldest first; stop at the first passing failure. */
  private retry(): void {
    if (this.pending.length === 0) return;
    while (this.pending.length > 0) {
      try {
        this.insert(this.pending[0]!);
      } catch (e) {
        this.status?.failed('runs', e);
        if (isTransientStoreError(e)) return;
        if (this.status) this.status.lostWrites++; // can never be written: given up, counted
      }
      this.pending.shift();
    }
    this.status?.succeeded('runs');
  }

  private insert(run: AgentRunRecord): void {
    this.stmts.insert.run({
      id: run.id,
      sessionId: run.sessionId,
      owner: run.owner,
      model: run.model,
      task: run.task,
      language: run.language,
      ok: run.ok ? 1 : 0,
      stopReason: run.stopReason,
      steps: run.steps,
      inputTokens: run.usage.inputTokens,
      outputTokens: run.usage.outputTokens,
      costUsd: run.usage.costUsd ?? null,
      durationMs: run.durationMs,
      createdAt: run.createdAt,
      record: JSON.stringify(run),
    });
  }

  get(idOrPrefix: string, owner?: string): AgentRunRecord | undefined {
    if (!idOrPrefix) return undefined;
    this.retry();
    const waiting = this.pending.find((r) => r.id === idOrPrefix && (owner === undefined || r.owner === owner));
    if (waiting) return waiting;
    const rows = this.stmts.get.all({
      id: idOrPrefix,
      prefix: `${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
      owner: owner ?? null,
    }) as RunRow[];
    const row = rows[0]?.id === idOrPrefix || rows.length === 1 ? rows[0] : undefined;
    if (!row?.record) return undefined;
    try {
      return JSON.parse(row.record) as AgentRunRecord;
    } catch (e) {
      throw new AppError('INTERNAL', `agent run ${row.id}: the stored record is not valid JSON`, {
        cause: (e as Error).message,
      });
    }
  }

  list(options: { owner?: string; limit?: number } = {}): AgentRunSummary[] {
    this.retry();
    const rows = this.db
      .prepare(
        `SELECT ${SUMMARY_COLUMNS} FROM agent_runs WHERE (@owner IS NULL OR owner = @owner)
         ORDER BY created_at DESC, rowid DESC LIMIT @limit`,
      )
      .all({ owner: options.owner ?? null, limit: options.limit ?? -1 }) as RunRow[];
    return rows.map(toSummary);
  }

  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }
}
