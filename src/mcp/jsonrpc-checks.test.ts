import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDepthExceeds, missingParamsMessage } from './jsonrpc-checks.js';

describe('jsonDepthExceeds', () => {
  it('counts nesting of objects and arrays, not brackets inside strings', () => {
    assert.equal(jsonDepthExceeds('[[[]]]', 3), false);
    assert.equal(jsonDepthExceeds('[[[[]]]]', 3), true);
    assert.equal(jsonDepthExceeds('{"a":{"b":{"c":1}}}', 3), false);
    assert.equal(jsonDepthExceeds(`{"s":"${'['.repeat(1000)}"}`, 3), false);
    assert.equal(
      jsonDepthExceeds(`{"s":"\\"${'{'.repeat(10)}"}`, 3),
      false,
      'an escaped quote does not end the string',
    );
    assert.equal(jsonDepthExceeds('['.repeat(100_000)), true);
  });
});

describe('missingParamsMessage', () => {
  it('names what tools/call and resources/read need; other messages pass', () => {
    assert.match(missingParamsMessage({ jsonrpc: '2.0', id: 1, method: 'tools/call' }) ?? '', /needs params \{"name"/);
    assert.match(
      missingParamsMessage({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 3 } }) ?? '',
      /tools\/call/,
    );
    assert.match(missingParamsMessage({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: {} }) ?? '', /"uri"/);
    assert.equal(
      missingParamsMessage({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } }),
      undefined,
    );
    assert.equal(missingParamsMessage({ jsonrpc: '2.0', id: 1, method: 'ping' }), undefined);
    assert.equal(
      missingParamsMessage({ jsonrpc: '2.0', method: 'tools/call' }),
      undefined,
      'a notification gets no reply',
    );
  });
});
