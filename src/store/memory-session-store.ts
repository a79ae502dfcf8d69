/**
 * SessionStore in process memory, for `--no-store` (and `store: null`): the
 * same contract as the SQLite store, no database and no file. History lives
 * as long as the process and is lost on exit.
 */
import type { ExecutionRecord } from '../sessions/contract.js';
import type { SessionStore, StoredSession } from './session-store.js';

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, StoredSession>();
  private readonly executions = new Map<string, ExecutionRecord[]>();

  saveSession(session: StoredSession): void {
    this.sessions.set(session.id, { ...session });
  }

  getSession(id: string): StoredSession | undefined {
    const s = this.sessions.get(id);
    return s ? { ...s } : undefined;
  }

  listSessions(options: { owner?: string; includeClosed?: boolean } = {}): StoredSession[] {
    return [...this.sessions.values()]
      .filter(
        (s) => (options.owner === undefined || s.owner === options.owner) && (options.includeClosed || !s.closedAt),
      )
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))
      .map((s) => ({ ...s }));
  }

  markClosed(id: string, at: string): void {
    const s = this.sessions.get(id);
    if (s) s.closedAt = at;
  }

  addExecution(record: ExecutionRecord): void {
    let list = this.executions.get(record.sessionId);
    if (!list) this.executions.set(record.sessionId, (list = []));
    list.push(record);
  }

  listExecutions(sessionId: string): ExecutionRecord[] {
    // Stable: equal counts keep insertion order, as SQLite's rowid does.
    return [...(this.executions.get(sessionId) ?? [])].sort((a, b) => a.executionCount - b.executionCount);
  }

  close(): void {
    this.sessions.clear();
    this.executions.clear();
  }
}
