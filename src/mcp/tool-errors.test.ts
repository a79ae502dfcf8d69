import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors.js';
import { hideHostPaths, scrubHostPaths, toolErrorPayload, toolErrorResult } from './tool-errors.js';

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

  it('never carries host paths: the state directory and workspaces become "<host path>"', () => {
    const error = new AppError(
      'INVALID_ARGUMENT',
      'the workspace /var/lib/codemode/workspaces/s_1 is not reachable by the sandbox user (uid 65534): /var/lib/codemode does not let it in. Use a directory under /tmp, or run: chmod o+x /var/lib/codemode',
      { argument: 'workspaceDir' },
    );
    const payload = toolErrorPayload(error, ['/var/lib/codemode', '/tmp']);
    assert.doesNotMatch(payload.message, /\/var\/lib|\/tmp/);
    assert.equal(
      payload.message,
      'the workspace <host path> is not reachable by the sandbox user (uid 65534): <host path> does not let it in. Use a directory under <host path>, or run: chmod o+x <host path>',
    );
    hideHostPaths(['/var/lib/codemode']); // as serve does with its state directory and workspaces root
    const text = (toolErrorResult('execute_code', error).content[0] as { text: string }).text;
    assert.doesNotMatch(text, /var\/lib\/codemode/, 'the reply sent to the client shows no host path');
  });

  it('hides only whole path components under the given roots', () => {
    assert.equal(scrubHostPaths('open "/home/me/x.txt": ENOENT', ['/home/me']), 'open "<host path>": ENOENT');
    assert.equal(scrubHostPaths('/tmpfoo and /tmp/a/b, /tmp', ['/tmp']), '/tmpfoo and <host path>, <host path>');
    assert.equal(
      scrubHostPaths('path "data/x.csv" leaves the workspace', ['/tmp', '/']),
      'path "data/x.csv" leaves the workspace',
    );
    assert.equal(scrubHostPaths('/workspace/main.py', ['/tmp']), '/workspace/main.py');
  });
});
