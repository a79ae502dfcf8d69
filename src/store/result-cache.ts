/**
 * Opt-in cache of one-shot run results, keyed by the sha256 of everything that
 * determines a run (language, code, stdin, args, input files, limits) and of
 * the principal that asked: one principal is never answered with another's
 * run. Only the one-shot executor uses it; session executions are stateful and
 * never cached.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ExecResult, InputFile, Language } from '../sandbox/executor.js';
import type { Limits } from '../sandbox/limits.js';
import { migrate, openDatabase } from './session-store.js';
import type { StoreStatus } from './store-status.js';

export interface CacheKeyInput {
  /** Who asked; part of the key, so principals never share entries. */
  principal: string;
  language: Language;
  code: string;
  stdin?: string | Uint8Array;
  args?: string[];
  files?: InputFile[];
  limits: Limits;
}

/** A stable key: field order, file order and string/bytes encodings do not change it. */
export function resultCacheKey(input: CacheKeyInput): string {
  const h = createHash('sha256');
  const part = (label: string, data: string | Uint8Array) => {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    h.update(`${label}:${bytes.length}:`);
    h.update(bytes);
  };
  part('v', '2'); // 2: keyed per principal (entries of version 1 were shared, and are never hit again)
  part('principal', input.principal);
  part('language', input.language);
  part('code', input.code);
  part('stdin', input.stdin ?? '');
  part('args', JSON.stringify(input.args ?? []));
  const files = [...(input.files ?? [])].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const f of files) {
    part('file', f.path);
    part('content', f.content);
  }
  const limits = Object.keys(input.limits)
    .sort()
    .map((k) => [k, input.limits[k as keyof Limits]]);
  part('limits', JSON.stringify(limits));
  return h.digest('hex');
}

export interface ResultCacheOptions {
  /** Entries older than this are ignored and pruned. Default: no expiry. */
  ttlMs?: number;
  /** Keep at most this many entries (oldest pruned). Default 10,000. */
  maxEntries?: number;
  now?: () => number;
  /** Where failures are reported. A cache that cannot read or write misses; the run's result is never lost to it. */
  status?: StoreStatus;
}

export class ResultCache {
  readonly db: Database.Database;
  private readonly ownsDb: boolean;
  private readonly now: () => number;
  private readonly ttlMs: number | undefined;
  private readonly maxEntries: number;
  private readonly status: StoreStatus | undefined;

  /** A database file path, ':memory:', or an open database (e.g. SqliteSessionStore.db) to share. */
  constructor(db: string | Database.Database, options: ResultCacheOptions = {}) {
    this.ownsDb = typeof db === 'string';
    this.db = typeof db === 'string' ? openDatabase(db) : db;
    if (!this.ownsDb) migrate(this.db);
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.status = options.status;
  }

  /** Only results that are the program's own doing (ok/error) are worth caching. */
  static cacheable(result: ExecResult): boolean {
    return result.status === 'ok' || result.status === 'error';
  }

  /** The cached result, or undefined (a miss, also when the database cannot be read). */
  get(key: string): ExecResult | undefined {
    try {
      return this.read(key);
    } catch (e) {
      this.status?.failed('cache', e);
      return undefined;
    }
  }

  private read(key: string): ExecResult | undefined {
    const row = this.db.prepare('SELECT result, expires_at FROM result_cache WHERE key = ?').get(key) as
      { result: string; expires_at: number | null } | undefined;
    if (!row) return undefined;
    if (row.expires_at !== null && row.expires_at <= this.now()) {
      this.db.prepare('DELETE FROM result_cache WHERE key = ?').run(key);
      return undefined;
    }
    return JSON.parse(row.result) as ExecResult;
  }

  /** Store a result; returns false when it is not cacheable (a limit or event stopped it). */
  put(key: string, result: ExecResult): boolean {
    if (!ResultCache.cacheable(result)) return false;
    try {
      this.write(key, result);
    } catch (e) {
      this.status?.failed('cache', e); // not cached: the caller still has its result
      return false;
    }
    this.status?.succeeded('cache');
    return true;
  }

  private write(key: string, result: ExecResult): void {
    const now = this.now();
    this.db
      .prepare('INSERT OR REPLACE INTO result_cache (key, result, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(key, JSON.stringify(result), now, this.ttlMs === undefined ? null : now + this.ttlMs);
    this.db
      .prepare(
        'DELETE FROM result_cache WHERE key NOT IN (SELECT key FROM result_cache ORDER BY created_at DESC LIMIT ?)',
      )
      .run(this.maxEntries);
  }

  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }
}
