import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser } from './sse.js';

describe('SseParser', () => {
  it('splits events across arbitrary chunk boundaries and CRLF', () => {
    const p = new SseParser();
    const text = 'id: 1\r\nevent: output\r\ndata: {"a":1}\r\n\r\n: keepalive\n\nid: 2\ndata: x\ndata: y\n\n';
    const events = [];
    for (const ch of text) events.push(...p.push(ch));
    assert.deepEqual(events, [
      { id: '1', event: 'output', data: '{"a":1}' },
      { id: '2', event: 'message', data: 'x\ny' },
    ]);
    assert.equal(p.lastId, '2');
  });

  it('keeps the last id for events without one, reads retry, ignores ids with NUL', () => {
    const p = new SseParser();
    const events = p.push('id: 7\ndata: a\n\nretry: 250\ndata: b\n\nid: bad\0id\ndata: c\n\n');
    assert.deepEqual(
      events.map((e) => e.id),
      ['7', '7', '7'],
    );
    assert.equal(p.retryMs, 250);
  });

  it('holds an incomplete event until its blank line arrives', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('data: part'), []);
    assert.deepEqual(p.push('ial\n'), []);
    assert.deepEqual(p.push('\n'), [{ event: 'message', data: 'partial' }]);
  });
});
