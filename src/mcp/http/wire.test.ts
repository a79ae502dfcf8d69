import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { AppError } from '../../errors.js';
import { ApiError, errorResponse } from './wire.js';

describe('errorResponse', () => {
  it('maps AppError codes to HTTP statuses with the MCP layer hint', () => {
    const cases: [AppError, number][] = [
      [new AppError('INVALID_ARGUMENT', 'bad', { argument: 'code' }), 400],
      [new AppError('PATH_ESCAPE', 'no'), 400],
      [new AppError('NOT_FOUND', 'gone'), 404],
      [new AppError('SESSION_BUSY', 'busy'), 409],
      [new AppError('TOO_LARGE', 'big'), 413],
      [new AppError('SANDBOX_UNAVAILABLE', 'no bwrap'), 503],
    ];
    for (const [error, status] of cases) {
      const r = errorResponse(error);
      assert.equal(r.status, status, error.code);
      assert.equal(r.body.error.code, error.code);
      assert.ok((r.body.error.hint ?? '').length > 0);
    }
    assert.equal(errorResponse(cases[0]![0]).body.error.argument, 'code');
  });

  it('API errors keep their own code and status', () => {
    assert.equal(errorResponse(new ApiError('RATE_LIMITED', 'slow down')).status, 429);
    assert.equal(errorResponse(new ApiError('UNAUTHORIZED', 'token')).status, 401);
    assert.equal(errorResponse(new ApiError('UNSUPPORTED_MEDIA_TYPE', 'json')).status, 415);
  });

  it('an unknown error is a 500 that says nothing about the server', () => {
    const r = errorResponse(new Error(`EACCES: open ${os.homedir()}/.ssh/id_rsa`));
    assert.equal(r.status, 500);
    assert.equal(r.body.error.code, 'INTERNAL');
    assert.ok(!r.body.error.message.includes('.ssh'));
  });

  it('host paths in an AppError message are hidden', () => {
    const r = errorResponse(new AppError('NOT_FOUND', `no file ${os.tmpdir()}/codemode-ws/abc/data.csv`));
    assert.ok(!r.body.error.message.includes(os.tmpdir()), r.body.error.message);
    assert.match(r.body.error.message, /<host path>/);
  });
});
