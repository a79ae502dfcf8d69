import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { BoundedEventStore } from './event-store.js';

const note = (n: number): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'notifications/progress', params: { n } });

async function replay(store: BoundedEventStore, after: string) {
  const sent: [string, unknown][] = [];
  const stream = await store.replayEventsAfter(after, {
    send: async (id, m) => void sent.push([id, (m as { params?: { n?: number } }).params?.n]),
  });
  return { stream, sent };
}

describe('BoundedEventStore', () => {
  it("replays the events after an id, of that id's stream only", async () => {
    const store = new BoundedEventStore();
    const a1 = await store.storeEvent('a', note(1));
    await store.storeEvent('_GET_stream', note(2));
    const a3 = await store.storeEvent('a', note(3));
    assert.equal(await store.getStreamIdForEventId(a1), 'a');
    assert.equal(await store.getStreamIdForEventId('_GET_stream_2'), '_GET_stream');
    assert.deepEqual(await replay(store, a1), { stream: 'a', sent: [[a3, 3]] });
  });

  it('keeps at most maxEvents (and maxBytes), dropping the oldest', async () => {
    const store = new BoundedEventStore(3, 1_000_000);
    const first = await store.storeEvent('s', note(0));
    for (let i = 1; i < 10; i++) await store.storeEvent('s', note(i));
    assert.equal(store.size, 3);
    assert.deepEqual(
      (await replay(store, first)).sent.map(([, n]) => n),
      [7, 8, 9],
    );
    const small = new BoundedEventStore(1000, 200);
    for (let i = 0; i < 50; i++) await small.storeEvent('s', note(i));
    assert.ok(small.size < 10, `held ${small.size}`);
  });

  it('refuses an id that names no stream', async () => {
    const store = new BoundedEventStore();
    assert.equal(await store.getStreamIdForEventId('nounderscore'), undefined);
    await assert.rejects(replay(store, 'nounderscore'));
  });
});
