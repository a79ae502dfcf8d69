/**
 * Live channels of the workbench: one per session the API has touched,
 * subscribed to the session layer's event bus (so runs from MCP and agents
 * show too), numbering events per session and keeping the newest ones in a
 * bounded ring (count and bytes) for Last-Event-ID resume. A channel belongs
 * to the session's owner; another principal cannot open it (NOT_FOUND from
 * the session layer).
 */
import type { SessionEvent, SessionService } from '../../sessions/contract.js';
import type { ApiEvent, ApiEventData, ApiEventType } from './api-contract.js';
import { errorResponse, sessionJson, type ResultWire } from './wire.js';

export type EventSink = (event: ApiEvent) => void;

interface Held {
  event: ApiEvent;
  bytes: number;
}

export class LiveChannel {
  #nextId = 1;
  readonly #ring: Held[] = [];
  #bytes = 0;
  readonly #sinks = new Set<EventSink>();
  closed = false;

  constructor(
    readonly sessionId: string,
    readonly owner: string,
    private readonly maxEvents: number,
    private readonly maxBytes: number,
  ) {}

  get lastId(): number {
    return this.#nextId - 1;
  }

  publish<K extends ApiEventType>(type: K, data: ApiEventData[K]): ApiEvent {
    const event = {
      id: this.#nextId++,
      type,
      session_id: this.sessionId,
      at: new Date().toISOString(),
      data,
    } as ApiEvent;
    const bytes = JSON.stringify(event.data).length;
    this.#ring.push({ event, bytes });
    this.#bytes += bytes;
    while (this.#ring.length > this.maxEvents || (this.#bytes > this.maxBytes && this.#ring.length > 1)) {
      this.#bytes -= this.#ring.shift()?.bytes ?? 0;
    }
    for (const sink of [...this.#sinks]) sink(event);
    return event;
  }

  /**
   * Attach a sink: first the held events after `lastEventId` (or none without
   * one), then every new event. `gap` is true when some events after
   * `lastEventId` are no longer held (or the id is from another life of the
   * server), so the client must reload.
   */
  attach(sink: EventSink, lastEventId: number | undefined): { backlog: ApiEvent[]; gap: boolean; detach: () => void } {
    let backlog: ApiEvent[] = [];
    let gap = false;
    if (lastEventId !== undefined) {
      backlog = this.#ring.filter((h) => h.event.id > lastEventId).map((h) => h.event);
      const oldest = this.#ring[0]?.event.id ?? this.#nextId;
      gap = lastEventId > this.lastId || oldest > lastEventId + 1;
    }
    this.#sinks.add(sink);
    return { backlog, gap, detach: () => this.#sinks.delete(sink) };
  }
}

export interface LiveHubOptions {
  sessions: SessionService;
  wire: ResultWire;
  /** Events held per session (default 1000). */
  maxEvents?: number;
  /** Bytes of event data held per session (default 4 MiB). */
  maxBytes?: number;
}

export class LiveHub {
  readonly #channels = new Map<string, { channel: LiveChannel; unsubscribe: () => void }>();
  readonly maxEvents: number;
  readonly #maxBytes: number;

  constructor(private readonly options: LiveHubOptions) {
    this.maxEvents = options.maxEvents ?? 1000;
    this.#maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  }

  /** The session's channel, subscribing on first use. Throws NOT_FOUND for a session `owner` cannot see. */
  channel(sessionId: string, owner: string): LiveChannel {
    const existing = this.#channels.get(sessionId);
    if (existing !== undefined && existing.channel.owner === owner && !existing.channel.closed) return existing.channel;
    // The session layer decides visibility: this throws NOT_FOUND for anyone but the owner.
    const info = this.options.sessions.get(sessionId, owner);
    if (existing !== undefined) return existing.channel; // same id, other owner: get() above already refused
    const channel = new LiveChannel(info.id, owner, this.maxEvents, this.#maxBytes);
    const unsubscribe = this.options.sessions.subscribe(info.id, owner, (event) => this.#forward(channel, event));
    this.#channels.set(info.id, { channel, unsubscribe });
    return channel;
  }

  /** The channel when one is open, without subscribing. */
  peek(sessionId: string): LiveChannel | undefined {
    return this.#channels.get(sessionId)?.channel;
  }

  close(): void {
    for (const { unsubscribe } of this.#channels.values()) unsubscribe();
    this.#channels.clear();
  }

  #forward(channel: LiveChannel, event: SessionEvent): void {
    const owner = channel.owner;
    switch (event.type) {
      case 'execution.started':
        channel.publish('execution.started', {
          execution_id: event.executionId,
          execution_count: event.executionCount,
          kind: event.kind,
          code: event.code,
          source: event.source,
        });
        return;
      case 'output':
        channel.publish('output', { execution_id: event.executionId, stream: event.stream, text: event.text });
        return;
      case 'execution.finished':
        channel.publish(
          'execution.finished',
          event.result !== undefined
            ? { execution_id: event.executionId, result: this.options.wire.toJson(event.result, owner) }
            : { execution_id: event.executionId, error: errorResponse(event.error).body.error },
        );
        return;
      case 'session.state':
        channel.publish('session.state', { session: sessionJson(event.session) });
        return;
      case 'files.changed':
        channel.publish('files.changed', { paths: event.paths });
        return;
      case 'session.closed':
        channel.closed = true;
        channel.publish('session.closed', { session_id: channel.sessionId });
        this.#channels.get(channel.sessionId)?.unsubscribe();
        this.#channels.delete(channel.sessionId);
        return;
    }
  }
}
