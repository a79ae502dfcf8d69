import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiEvent } from './api-contract.js';
import { LiveChannel } from './live.js';

function filled(n: number, maxEvents = 3, maxBytes = 1 << 20): LiveChannel {
  const channel = new LiveChannel('s1', 'owner', maxEvents, maxBytes);
  for (let i = 1; i <= n; i++) channel.publish('files.changed', { paths: [`f${i}`] });
  return channel;
}

describe('LiveChannel', () => {
  it('numbers events 1, 2, 3, ... and delivers new ones to every attached sink in order', () => {
    const channel = new LiveChannel('s1', 'owner', 10, 1 << 20);
    const a: ApiEvent[] = [];
    const b: ApiEvent[] = [];
    channel.attach((e) => a.push(e), undefined);
    const { detach } = channel.attach((e) => b.push(e), undefined);
    channel.publish('files.changed', { paths: ['x'] });
    detach();
    channel.publish('files.changed', { paths: ['y'] });
    assert.deepEqual(
      a.map((e) => e.id),
      [1, 2],
    );
    assert.deepEqual(
      b.map((e) => e.id),
      [1],
    );
    assert.equal(channel.lastId, 2);
    assert.equal(a[0]?.session_id, 's1');
  });

  it('resumes after Last-Event-ID from the ring, without a gap when every later event is held', () => {
    const channel = filled(5);
    const r = channel.attach(() => {}, 3);
    assert.equal(r.gap, false);
    assert.deepEqual(
      r.backlog.map((e) => e.id),
      [4, 5],
    );
  });

  it('reports a gap when events after Last-Event-ID were dropped from the bounded ring', () => {
    const channel = filled(5); // holds 3, 4, 5
    const r = channel.attach(() => {}, 1);
    assert.equal(r.gap, true);
    assert.deepEqual(
      r.backlog.map((e) => e.id),
      [3, 4, 5],
    );
  });

  it('reports a gap for an id it never gave (another life of the server)', () => {
    assert.equal(filled(2).attach(() => {}, 40).gap, true);
  });

  it('sends no backlog without Last-Event-ID, and an up-to-date id gets nothing old', () => {
    assert.deepEqual(filled(3).attach(() => {}, undefined).backlog, []);
    const r = filled(3).attach(() => {}, 3);
    assert.deepEqual(r, { ...r, backlog: [], gap: false });
  });

  it('bounds the ring by bytes too, keeping at least the newest event', () => {
    const channel = new LiveChannel('s1', 'owner', 100, 10);
    channel.publish('output', { execution_id: 'e', stream: 'stdout', text: 'x'.repeat(100) });
    channel.publish('output', { execution_id: 'e', stream: 'stdout', text: 'y'.repeat(100) });
    const r = channel.attach(() => {}, 0);
    assert.deepEqual(
      r.backlog.map((e) => e.id),
      [2],
    );
    assert.equal(r.gap, true);
  });
});
