import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors.js';
import { toolErrorResult } from './tool-errors.js';

describe('toolErrorResult', () => {
  it('keeps an AppError code and names the argument with a hint', () => {
    const r = toolErrorResult(
      'execute_code',
      new AppError('LIMIT_EXCEEDED', 'limits.wallMs = 9 is above the maximum', { argument: 'limits.wallMs' }),
    );
    assert.equal(r.isError, true);
    assert.equal(
      (r.content[0] as { text: string }).text,
      "execute_code failed: LIMIT_EXCEEDED: limits.wallMs = 9 is above the maximum\nargument: limits.wallMs\nhint: Ask for a value at or below the server's maximum, or omit the limit to use the default.",
    );
  });

  it('maps an unknown error to a generic internal error that neither leaks its message nor blames the client', () => {
    const r = toolErrorResult('read_file', new Error('EACCES /var/lib/secret/path'));
    const text = (r.content[0] as { text: string }).text;
    assert.match(text, /^read_file failed: INTERNAL: /);
    assert.doesNotMatch(text, /secret/);
    assert.match(text, /not caused by your arguments/);
  });
});
