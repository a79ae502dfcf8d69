/**
 * A bounded in-memory EventStore for one Streamable HTTP session (2025
 * revisions): the SDK numbers every SSE event with the id we return, and a
 * client whose stream dropped sends `Last-Event-ID` to have the events after
 * it replayed on the same stream. Only the newest `maxEvents` are kept (and at
 * most `maxBytes` of them), so a session that is never resumed costs a fixed
 * amount of memory; a resume from an evicted id replays nothing.
 */
import type { EventId, EventStore, JSONRPCMessage, StreamId } from '@modelcontextprotocol/server';

interface StoredEvent {
  id: EventId;
  streamId: StreamId;
  message: JSONRPCMessage;
  bytes: number;
}

export class BoundedEventStore implements EventStore {
  private readonly events: StoredEvent[] = [];
  private bytes = 0;
  private seq = 0;

  constructor(
    private readonly maxEvents = 1000,
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  /** Events held now (for tests and health). */
  get size(): number {
    return this.events.length;
  }

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    // The id names its stream, so a resume finds the stream even after eviction.
    const id = `${streamId}_${++this.seq}`;
    const bytes = JSON.stringify(message).length;
    this.events.push({ id, streamId, message, bytes });
    this.bytes += bytes;
    while (this.events.length > this.maxEvents || (this.bytes > this.maxBytes && this.events.length > 1)) {
      this.bytes -= this.events.shift()?.bytes ?? 0;
    }
    return id;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    const cut = eventId.lastIndexOf('_');
    return cut > 0 ? eventId.slice(0, cut) : undefined;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const streamId = await this.getStreamIdForEventId(lastEventId);
    if (streamId === undefined) throw new Error(`unknown event id ${lastEventId}`);
    const after = Number(lastEventId.slice(streamId.length + 1));
    for (const e of this.events) {
      if (e.streamId !== streamId) continue;
      if (Number(e.id.slice(streamId.length + 1)) > after) await send(e.id, e.message);
    }
    return streamId;
  }
}
