/**
 * Durable session history in embedded SQLite (better-sqlite3, WAL mode,
 * versioned migrations). `SessionStore` is the small interface the session
 * manager depends on; tests pass `new SqliteSessionStore(':memory:')`.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { defaultStateDir } from '../config/state-dir.js';
import { backupBeforeMigration, inspectDatabaseFile } from './db-guard.js';
import type { ExecutionRecord } from '../sessions/contract.js';
import type { Language } from '../sandbox/executor.js';
import type { Limits } from '../sandbox/limits.js';

export interface StoredSession {
  id: string;
  owner: string;
  language: Language;
  limits: Limits;
  workspaceDir: string;
  createdAt: string;
  lastUsedAt: string;
  executionCount: number;
  /** Set when the session was closed on purpose (its workspace is gone); null while resumable. */
  closedAt: string | null;
}

export interface SessionStore {
  /** Insert or update a session. */
  saveSession(session: StoredSession): void;
  getSession(id: string): StoredSession | undefined;
  listSessions(options?: { owner?: string; includeClosed?: boolean }): StoredSession[];
  markClosed(id: string, at: string): void;
  addExecution(record: ExecutionRecord): void;
  /** Executions of a session, oldest first. */
  listExecutions(sessionId: string): ExecutionRecord[];
  close(): void;
}

/** The directory for codemode's state; one definition, in src/config/state-dir.ts. */
export { defaultStateDir };

export function defaultDatabasePath(): string {
  return path.join(defaultStateDir(), 'codemode.db');
}

/** Ordered schema migrations; the index + 1 is the version recorded in schema_migrations. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     language TEXT NOT NULL,
     limits TEXT NOT NULL,
     workspace_dir TEXT NOT NULL,
     created_at TEXT NOT NULL,
     last_used_at TEXT NOT NULL,
     execution_count INTEGER NOT NULL DEFAULT 0,
     closed_at TEXT
   );
   CREATE INDEX sessions_owner ON sessions(owner);
   CREATE TABLE executions (
     id TEXT PRIMARY KEY,
     session_id TEXT NOT NULL REFERENCES sessions(id),
     execution_count INTEGER NOT NULL,
     kind TEXT NOT NULL DEFAULT 'execute',
     language TEXT NOT NULL,
     code TEXT NOT NULL,
     status TEXT NOT NULL,
     stdout TEXT NOT NULL,
     stderr TEXT NOT NULL,
     outputs TEXT NOT NULL,
     error TEXT,
     reason TEXT,
     started_at TEXT NOT NULL,
     duration_ms REAL NOT NULL
   );
   CREATE INDEX executions_session ON executions(session_id, execution_count);`,
  `CREATE TABLE result_cache (
     key TEXT PRIMARY KEY,
     result TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER
   );`,
  // Agent runs (src/store/agent-runs.ts): one immutable row per run, the transcript as JSON.
  `CREATE TABLE agent_runs (
     id TEXT PRIMARY KEY,
     session_id TEXT NOT NULL,
     owner TEXT NOT NULL,
     model TEXT NOT NULL,
     task TEXT NOT NULL,
     language TEXT NOT NULL,
     ok INTEGER NOT NULL,
     stop_reason TEXT NOT NULL,
     steps INTEGER NOT NULL,
     input_tokens INTEGER NOT NULL,
     output_tokens INTEGER NOT NULL,
     cost_usd REAL,
     duration_ms REAL NOT NULL,
     created_at TEXT NOT NULL,
     record TEXT NOT NULL
   );
   CREATE INDEX agent_runs_owner ON agent_runs(owner, created_at);`,
];

/** Backups made before a migration, by database (for the caller to log). */
const migrationBackups = new WeakMap<Database.Database, string>();

/** The backup openDatabase made before migrating this database, if it migrated one with data. */
export function migrationBackupOf(db: Database.Database): string | undefined {
  return migrationBackups.get(db);
}

/**
 * Open a database file (creating its directory), in WAL mode, with all
 * migrations applied. An existing file is checked first and refused, untouched,
 * when it is not codemode's (db-guard.ts); one of an older schema is backed up
 * before it is migrated.
 */
export function openDatabase(file: string): Database.Database {
  let version = 0;
  if (file !== ':memory:') {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (existsSync(file)) ({ version } = inspectDatabaseFile(file, MIGRATIONS.length));
    // Private from the start (SQLite gives the -wal and -shm files the database file's mode).
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
  }
  const db = new Database(file);
  try {
    if (file !== ':memory:') {
      db.pragma('journal_mode = WAL');
      for (const extra of [`${file}-wal`, `${file}-shm`]) if (existsSync(extra)) chmodSync(extra, 0o600);
    }
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    if (version > 0 && version < MIGRATIONS.length) migrationBackups.set(db, backupBeforeMigration(db, file, version));
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

export function migrate(db: Database.Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  let version = row.v ?? 0;
  for (let i = version; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[i]!);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(
        i + 1,
        new Date().toISOString(),
      );
    })();
    version = i + 1;
  }
  return version;
}

interface SessionRow {
  id: string;
  owner: string;
  language: string;
  limits: string;
  workspace_dir: string;
  created_at: string;
  last_used_at: string;
  execution_count: number;
  closed_at: string | null;
}

interface ExecutionRow {
  id: string;
  session_id: string;
  execution_count: number;
  kind: string;
  language: string;
  code: string;
  status: string;
  stdout: string;
  stderr: string;
  outputs: string;
  error: string | null;
  reason: string | null;
  started_at: string;
  duration_ms: number;
}

function toSession(r: SessionRow): StoredSession {
  return {
    id: r.id,
    owner: r.owner,
    language: r.language as Language,
    limits: JSON.parse(r.limits) as Limits,
    workspaceDir: r.workspace_dir,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    executionCount: r.execution_count,
    closedAt: r.closed_at,
  };
}

function toExecution(r: ExecutionRow): ExecutionRecord {
  const rec: ExecutionRecord = {
    id: r.id,
    sessionId: r.session_id,
    executionCount: r.execution_count,
    kind: r.kind === 'script' || r.kind === 'restart' ? r.kind : 'execute',
    language: r.language as Language,
    code: r.code,
    status: r.status as ExecutionRecord['status'],
    stdout: r.stdout,
    stderr: r.stderr,
    outputs: JSON.parse(r.outputs) as ExecutionRecord['outputs'],
    startedAt: r.started_at,
    durationMs: r.duration_ms,
  };
  if (r.error) rec.error = JSON.parse(r.error) as NonNullable<ExecutionRecord['error']>;
  if (r.reason) rec.reason = r.reason;
  return rec;
}

export class SqliteSessionStore implements SessionStore {
  readonly db: Database.Database;
  private readonly ownsDb: boolean;
  private readonly stmts;

  /** A file path (default: the state dir's codemode.db), ':memory:', or an open database to share. */
  constructor(file: string | Database.Database = defaultDatabasePath()) {
    this.ownsDb = typeof file === 'string';
    this.db = typeof file === 'string' ? openDatabase(file) : file;
    if (!this.ownsDb) migrate(this.db);
    this.stmts = {
      upsert: this.db.prepare(
        `INSERT INTO sessions (id, owner, language, limits, workspace_dir, created_at, last_used_at, execution_count, closed_at)
         VALUES (@id, @owner, @language, @limits, @workspaceDir, @createdAt, @lastUsedAt, @executionCount, @closedAt)
         ON CONFLICT(id) DO UPDATE SET owner = excluded.owner, language = excluded.language, limits = excluded.limits,
           workspace_dir = excluded.workspace_dir, last_used_at = excluded.last_used_at,
           execution_count = excluded.execution_count, closed_at = excluded.closed_at`,
      ),
      get: this.db.prepare('SELECT * FROM sessions WHERE id = ?'),
      close: this.db.prepare('UPDATE sessions SET closed_at = ? WHERE id = ?'),
      addExec: this.db.prepare(
        `INSERT INTO executions (id, session_id, execution_count, kind, language, code, status, stdout, stderr, outputs,
           error, reason, started_at, duration_ms)
         VALUES (@id, @sessionId, @executionCount, @kind, @language, @code, @status, @stdout, @stderr, @outputs, @error,
           @reason, @startedAt, @durationMs)`,
      ),
      listExec: this.db.prepare('SELECT * FROM executions WHERE session_id = ? ORDER BY execution_count, rowid'),
    };
  }

  saveSession(s: StoredSession): void {
    this.stmts.upsert.run({ ...s, limits: JSON.stringify(s.limits) });
  }

  getSession(id: string): StoredSession | undefined {
    const row = this.stmts.get.get(id) as SessionRow | undefined;
    return row ? toSession(row) : undefined;
  }

  listSessions(options: { owner?: string; includeClosed?: boolean } = {}): StoredSession[] {
    const where: string[] = [];
    const params: string[] = [];
    if (options.owner !== undefined) {
      where.push('owner = ?');
      params.push(options.owner);
    }
    if (!options.includeClosed) where.push('closed_at IS NULL');
    const sql = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at`;
    return (this.db.prepare(sql).all(...params) as SessionRow[]).map(toSession);
  }

  markClosed(id: string, at: string): void {
    this.stmts.close.run(at, id);
  }

  addExecution(r: ExecutionRecord): void {
    this.stmts.addExec.run({
      id: r.id,
      sessionId: r.sessionId,
      executionCount: r.executionCount,
      kind: r.kind ?? 'execute',
      language: r.language,
      code: r.code,
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      outputs: JSON.stringify(r.outputs),
      error: r.error ? JSON.stringify(r.error) : null,
      reason: r.reason ?? null,
      startedAt: r.startedAt,
      durationMs: r.durationMs,
    });
  }

  listExecutions(sessionId: string): ExecutionRecord[] {
    return (this.stmts.listExec.all(sessionId) as ExecutionRow[]).map(toExecution);
  }

  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }
}
