/**
 * The per-session live event bus: every execution (whoever started it: an
 * MCP tool, the workbench, an agent), its output as it comes, file changes
 * and the session's end, for `SessionService.subscribe`. In memory and
 * synchronous; a listener that throws is dropped, never the run.
 */
import { randomUUID } from 'node:crypto';
import type { SessionEvent, SessionEventListener, SessionExecOptions, SessionExecResult } from './contract.js';

type StartFields = Omit<Extract<SessionEvent, { type: 'execution.started' }>, 'type' | 'executionId'>;

export class SessionEvents {
  readonly #listeners = new Map<string, Set<SessionEventListener>>();

  subscribe(sessionId: string, listener: SessionEventListener): () => void {
    let set = this.#listeners.get(sessionId);
    if (set === undefined) this.#listeners.set(sessionId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(sessionId) === set) this.#listeners.delete(sessionId);
    };
  }

  emit(sessionId: string, event: SessionEvent): void {
    const set = this.#listeners.get(sessionId);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch {
        // A broken subscriber must not fail or slow the execution that feeds it: it is dropped.
        set.delete(listener);
      }
    }
  }

  /** The session is gone: tell its subscribers, then forget them. */
  end(sessionId: string): void {
    this.emit(sessionId, { type: 'session.closed' });
    this.#listeners.delete(sessionId);
  }

  /**
   * Runs one execution with its events: started, each output chunk (also
   * passed on to the caller's own onOutput), and finished with the result or
   * the error it threw. `run` gets the execution id the result must carry.
   */
  async observe(
    sessionId: string,
    start: StartFields,
    options: SessionExecOptions,
    run: (options: SessionExecOptions, executionId: string) => Promise<SessionExecResult>,
  ): Promise<SessionExecResult> {
    const executionId = randomUUID();
    this.emit(sessionId, { type: 'execution.started', executionId, ...start });
    const callerOnOutput = options.onOutput;
    const onOutput: SessionExecOptions['onOutput'] = (chunk) => {
      callerOnOutput?.(chunk);
      this.emit(sessionId, { type: 'output', executionId, stream: chunk.stream, text: chunk.text });
    };
    try {
      const result = await run({ ...options, onOutput }, executionId);
      this.emit(sessionId, { type: 'execution.finished', executionId, result });
      if (result.files !== undefined && result.files.length > 0) {
        this.emit(sessionId, { type: 'files.changed', paths: result.files.map((f) => f.path) });
      }
      return result;
    } catch (error) {
      this.emit(sessionId, { type: 'execution.finished', executionId, error });
      throw error;
    }
  }
}
