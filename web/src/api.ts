/**
 * The /api/v1 client: JSON requests with the bearer token, typed errors, and
 * a session's live event stream read with fetch + ReadableStream (EventSource
 * cannot send Authorization), reconnecting with Last-Event-ID.
 */
import type { ApiErrorBody, ApiEvent } from '../../src/mcp/http/api-contract.js';
import { API_BASE } from '../../src/mcp/http/api-contract.js';
import { SseParser } from './sse.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface EventStreamHandlers {
  onEvent: (event: ApiEvent) => void;
  onState?: (state: StreamState, detail?: string) => void;
}

export class Api {
  constructor(
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch.bind(globalThis),
  ) {}

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  async raw(method: string, path: string, body?: BodyInit, contentType?: string): Promise<Response> {
    const res = await this.fetchImpl(API_BASE + path, {
      method,
      headers: this.#headers(contentType ? { 'content-type': contentType } : {}),
      body,
    });
    if (!res.ok) {
      let err: ApiErrorBody['error'] | undefined;
      try {
        err = ((await res.json()) as ApiErrorBody).error;
      } catch {
        // Not our JSON error body (a proxy?): the status line is all we have.
      }
      throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? res.statusText, err?.hint);
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? undefined : 'application/json',
    );
    return (await res.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.json<T>('POST', path, body);
  }

  /**
   * Follows a session's events until `signal` aborts or the session closes.
   * Reconnects after a dropped connection, sending the last id seen.
   */
  async follow(sessionId: string, handlers: EventStreamHandlers, signal: AbortSignal): Promise<void> {
    let lastId: string | undefined;
    let delay = 500;
    const path = `${API_BASE}/sessions/${encodeURIComponent(sessionId)}/events`;
    while (!signal.aborted) {
      handlers.onState?.(lastId === undefined ? 'connecting' : 'reconnecting');
      let ended: 'closed' | 'dropped' = 'dropped';
      try {
        const headers = this.#headers({ accept: 'text/event-stream' });
        if (lastId !== undefined) headers['last-event-id'] = lastId;
        const res = await this.fetchImpl(path, { headers, signal, cache: 'no-store' });
        if (res.status === 401 || res.status === 404 || res.status === 403) {
          handlers.onState?.('closed', `HTTP ${res.status}`);
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        delay = 500;
        const parser = new SseParser();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const ev of parser.push(value)) {
            if (ev.id !== undefined) lastId = ev.id;
            let parsed: ApiEvent;
            try {
              parsed = JSON.parse(ev.data) as ApiEvent;
            } catch {
              continue; // a frame that is not JSON is not ours to act on
            }
            if (parsed.type === 'stream.open') handlers.onState?.('live');
            handlers.onEvent(parsed);
            if (parsed.type === 'session.closed') ended = 'closed';
          }
        }
        if (parser.retryMs !== undefined) delay = parser.retryMs;
      } catch (e) {
        if (signal.aborted) return;
        handlers.onState?.('reconnecting', e instanceof Error ? e.message : String(e));
      }
      if (ended === 'closed') {
        handlers.onState?.('closed', 'session closed');
        return;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

export function enc(s: string): string {
  return encodeURIComponent(s);
}
