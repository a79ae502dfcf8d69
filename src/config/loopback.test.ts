import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopback } from './loopback.js';

describe('isLoopback', () => {
  it('accepts 127.0.0.0/8 literals, ::1 and localhost', () => {
    for (const h of [
      '127.0.0.1',
      '127.1.2.3',
      '127.255.255.255',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      'localhost',
      'LOCALHOST',
    ]) {
      assert.equal(isLoopback(h), true, h);
    }
  });

  it('refuses host names that only look like loopback, and every other address', () => {
    for (const h of [
      '127.evil.com',
      '127.0.0.1.evil.com',
      '127.0.0.256',
      '127.0.0.01',
      '127.1',
      'localhost.evil.com',
      'localhost.',
      '0.0.0.0',
      '::',
      '::2',
      '::ffff:127.0.0.1',
      '10.0.0.1',
      '128.0.0.1',
      '',
    ]) {
      assert.equal(isLoopback(h), false, h);
    }
  });
});
