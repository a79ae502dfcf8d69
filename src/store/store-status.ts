/**
 * The store's health as the server sees it: each part that writes (history,
 * result cache) reports its failures and successes here; /healthz, `doctor`
 * and the logs read it. A cause is reported once when it starts and once when
 * it ends, not once per failed write.
 */

export type StorePart = 'history' | 'cache' | 'runs';

export interface StoreHealth {
  state: 'ok' | 'degraded';
  /** Per failing part: why, and since when (ISO time). */
  failing: { part: StorePart; cause: string; since: string }[];
  /** History writes kept in memory until the store takes them again. */
  pendingWrites: number;
  /** History writes given up (the pending queue was full, or the write can never succeed). */
  lostWrites: number;
}

/** SQLite's and the OS's error codes said in words. */
const CAUSES: [RegExp, string][] = [
  [/^(SQLITE_FULL|ENOSPC)/, 'no space left on device'],
  [/^(SQLITE_READONLY|EROFS)/, 'the database is read-only'],
  [/^(SQLITE_BUSY|SQLITE_LOCKED)/, 'the database is locked by another process'],
  [/^(SQLITE_CORRUPT|SQLITE_NOTADB)/, 'the database is damaged'],
  [/^(SQLITE_CANTOPEN|ENOENT)/, 'the database file cannot be opened'],
  [/^(SQLITE_IOERR|EIO)/, 'I/O error'],
  [/^(SQLITE_PERM|EACCES|EPERM)/, 'permission denied'],
];

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** A short cause for messages: "no space left on device (SQLITE_FULL)". */
export function describeStoreError(error: unknown): string {
  const code = codeOf(error);
  const known = CAUSES.find(([re]) => re.test(code))?.[1];
  if (known) return `${known} (${code})`;
  // Only codes, never free text: causes reach clients and the unauthenticated /healthz, and a message may hold a path.
  return `unexpected store error (${code || (error instanceof Error ? error.name : typeof error)})`;
}

/** Failures that go away by themselves or by an operator's hand (space, locks, mounts): worth retrying. */
export function isTransientStoreError(error: unknown): boolean {
  const code = codeOf(error);
  return CAUSES.some(([re]) => re.test(code)) && !/^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

export interface StoreStatusOptions {
  /** A part started failing, or failed for a new cause. */
  onDegraded?: (part: StorePart, cause: string) => void;
  /** A part that was failing wrote again. */
  onRecovered?: (part: StorePart, cause: string) => void;
  now?: () => number;
}

export class StoreStatus {
  private readonly failing = new Map<StorePart, { cause: string; since: number }>();
  /** Filled in by the history write queue. */
  pendingWrites = 0;
  lostWrites = 0;

  constructor(private readonly options: StoreStatusOptions = {}) {}

  failed(part: StorePart, error: unknown): string {
    const cause = describeStoreError(error);
    const was = this.failing.get(part);
    if (was?.cause === cause) return cause;
    this.failing.set(part, { cause, since: was?.since ?? (this.options.now ?? Date.now)() });
    try {
      this.options.onDegraded?.(part, cause);
    } catch {
      // a logging hook's failure must not turn a store failure into a crash
    }
    return cause;
  }

  succeeded(part: StorePart): void {
    const was = this.failing.get(part);
    if (!was) return;
    this.failing.delete(part);
    try {
      this.options.onRecovered?.(part, was.cause);
    } catch {
      // as above
    }
  }

  causeOf(part: StorePart): string | null {
    return this.failing.get(part)?.cause ?? null;
  }

  health(): StoreHealth {
    return {
      state: this.failing.size > 0 || this.pendingWrites > 0 ? 'degraded' : 'ok',
      failing: [...this.failing].map(([part, f]) => ({ part, cause: f.cause, since: new Date(f.since).toISOString() })),
      pendingWrites: this.pendingWrites,
      lostWrites: this.lostWrites,
    };
  }
}
