/**
 * Store writes run after the reply that caused them, in order. A write that
 * fails for a reason that passes (disk full, read-only, locked) stays queued
 * and is retried, with backoff, until the store takes it: nothing is dropped
 * while it can still be saved. The queue is bounded (writes and bytes); past
 * the bound the oldest writes are given up, and every give-up is reported.
 * A write that can never succeed (a bug, a constraint) is given up at once.
 */
import { isTransientStoreError, type StoreStatus } from './store-status.js';

export interface StoreWrite {
  operation: string;
  sessionId: string;
  run: () => void;
  /** About how much memory the write holds while it waits (its record's text). */
  bytes: number;
  /** What it writes, for readers while it waits (history, resumable sessions). */
  payload?: unknown;
}

export interface WriteQueueOptions {
  status: StoreStatus;
  /** A write failed (every failure; the status says when a cause starts and ends). */
  onFailure?: (write: StoreWrite, cause: string, error: unknown) => void;
  /** A write was given up: it will never be saved. */
  onLost?: (write: StoreWrite, why: string) => void;
  /** Queued writes saved after a failure (the store came back). */
  onResumed?: (saved: StoreWrite[]) => void;
  maxPendingWrites?: number;
  maxPendingBytes?: number;
  /** First retry delay; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

export const DEFAULT_MAX_PENDING_WRITES = 10_000;
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

export class StoreWriteQueue {
  private queue: StoreWrite[] = [];
  private bytes = 0;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  /** Writes that ran after an earlier failure, reported together when the queue drains. */
  private resumed: StoreWrite[] = [];
  private degraded = false;
  private closed = false;

  constructor(private readonly options: WriteQueueOptions) {
    this.retryDelay = options.retryMs ?? 500;
  }

  push(write: StoreWrite): void {
    if (this.closed) return;
    this.queue.push(write);
    this.bytes += write.bytes;
    this.trim();
    this.sync();
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Run the queued writes now, in order; stops at the first that fails for a passing reason. */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const w = this.queue[0]!;
      try {
        w.run();
      } catch (error) {
        const cause = this.options.status.failed('history', error);
        this.degraded = true;
        this.options.onFailure?.(w, cause, error);
        if (isTransientStoreError(error)) {
          this.scheduleRetry();
          break;
        }
        this.drop(w, `it cannot be saved: ${cause}`); // never succeeds: retrying would block the writes behind it
        continue;
      }
      this.queue.shift();
      this.bytes -= w.bytes;
      if (this.degraded) this.resumed.push(w);
    }
    this.sync();
    if (this.queue.length === 0 && this.degraded) {
      this.degraded = false;
      this.retryDelay = this.options.retryMs ?? 500;
      this.options.status.succeeded('history');
      const saved = this.resumed;
      this.resumed = [];
      if (saved.length > 0) this.options.onResumed?.(saved);
    }
  }

  /** Writes still waiting for a session (oldest first). */
  pendingFor(sessionId: string): readonly StoreWrite[] {
    return this.queue.filter((w) => w.sessionId === sessionId);
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Last flush; what is still queued is given up (and reported). Returns how many. */
  close(): number {
    this.flush();
    this.closed = true;
    clearTimeout(this.retryTimer);
    const left = this.queue.splice(0);
    for (const w of left) this.drop(w, 'the server stopped before the store took it', false);
    this.bytes = 0;
    this.sync();
    return left.length;
  }

  private trim(): void {
    const maxWrites = this.options.maxPendingWrites ?? DEFAULT_MAX_PENDING_WRITES;
    const maxBytes = this.options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    while (this.queue.length > 1 && (this.queue.length > maxWrites || this.bytes > maxBytes)) {
      this.drop(this.queue[0]!, `too many writes were waiting for the store (at most ${maxWrites}, ${maxBytes} bytes)`);
    }
  }

  private drop(w: StoreWrite, why: string, fromQueue = true): void {
    if (fromQueue) {
      const i = this.queue.indexOf(w);
      if (i >= 0) {
        this.queue.splice(i, 1);
        this.bytes -= w.bytes;
      }
    }
    this.options.status.lostWrites++;
    this.options.onLost?.(w, why);
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.closed) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.options.maxRetryMs ?? 30_000, delay * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, delay);
    this.retryTimer.unref();
  }

  private sync(): void {
    this.options.status.pendingWrites = this.queue.length;
  }
}
