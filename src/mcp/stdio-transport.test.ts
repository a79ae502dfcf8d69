import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { classifyLine, leadingId, ValidatingStdioTransport } from './stdio-transport.js';

describe('stdio line classification (JSON-RPC 2.0)', () => {
  it('passes a valid request through', () => {
    assert.deepEqual(classifyLine('{"jsonrpc":"2.0","id":1,"method":"ping"}'), {
      message: { jsonrpc: '2.0', id: 1, method: 'ping' },
    });
  });
  it('bad JSON is -32700 with id null; batches, scalars and object ids are -32600', () => {
    const codeAndId = (line: string) => {
      const r = classifyLine(line);
      return 'error' in r ? [r.error.code, r.error.id] : 'delivered';
    };
    assert.deepEqual(codeAndId('{"jsonrpc":'), [-32700, null]);
    assert.deepEqual(codeAndId('[]'), [-32600, null]);
    assert.deepEqual(codeAndId('[{"jsonrpc":"2.0","id":1,"method":"ping"}]'), [-32600, null]);
    assert.deepEqual(codeAndId('"ping"'), [-32600, null]);
    assert.deepEqual(codeAndId('{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}'), [-32600, null]);
    assert.deepEqual(codeAndId('{"id":"a","method":"ping"}'), [-32600, 'a']);
    assert.deepEqual(codeAndId('{"jsonrpc":"2.0","id":5,"method":7}'), [-32600, 5]);
    assert.deepEqual(
      codeAndId(`{"jsonrpc":"2.0","id":6,"params":${'['.repeat(100_000)}${']'.repeat(100_000)}}`),
      [-32600, 6],
    );
  });
  it('a tools/call without params is -32602 with a short message, not a schema dump', () => {
    const r = classifyLine('{"jsonrpc":"2.0","id":8,"method":"tools/call"}');
    assert.deepEqual(r, {
      error: {
        code: -32602,
        message: 'Invalid params: tools/call needs params {"name": "<tool>", "arguments": {...}}',
        id: 8,
      },
    });
  });
});

describe('leadingId: the id of a line too large to parse', () => {
  it('finds the top-level id before the params, and only a top-level one', () => {
    assert.equal(leadingId('{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"argu'), 42);
    assert.equal(leadingId('{"id" : "req-\\"7\\"", "method":"x"'), 'req-"7"');
    assert.equal(leadingId('{"method":"tools/call","params":{"id":9,"content":"xxxx'), null);
    assert.equal(leadingId('{"method":"id","params":{"a":"'), null);
    assert.equal(leadingId('{"jsonrpc":"2.0","method":"x","params":{"content":"yyyy'), null);
  });
});

describe('ValidatingStdioTransport', () => {
  it('answers a bad line, delivers a good one split across chunks, skips an over-size line, and closes on end', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const t = new ValidatingStdioTransport(stdin, stdout, { maxMessageBytes: 64 });
    const delivered: unknown[] = [];
    t.onmessage = (m) => delivered.push(m);
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    await t.start();
    stdin.write('not json\n{"jsonrpc":"2.0",');
    stdin.write('"id":1,"method":"ping"}\n');
    stdin.write(`{"jsonrpc":"2.0","id":2,"method":"x","params":{"p":"${'z'.repeat(100)}`);
    stdin.write('"}}\n{"jsonrpc":"2.0","id":3,"method":"ping"}\n');
    stdin.end();
    await t.closed;
    const replies = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: unknown; error: { code: number } });
    assert.deepEqual(
      replies.map((r) => [r.id, r.error.code]),
      [
        [null, -32700],
        [2, -32600],
      ],
    );
    assert.deepEqual(delivered, [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 3, method: 'ping' },
    ]);
  });
});
