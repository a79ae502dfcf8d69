import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { isAppError } from '../../errors.js';
import { runClusterStatus } from './cluster.js';

const io = {
  stdin: new PassThrough(),
  stdout: new PassThrough(),
  stderr: new PassThrough(),
  env: {},
  cwd: process.cwd(),
  stdinIsTTY: false,
};

describe('codemode cluster status flags', () => {
  it('refuses a --liveness-ms that is not a positive number before connecting anywhere', async () => {
    for (const bad of ['abc', '0', '-5']) {
      await assert.rejects(
        runClusterStatus(['--nats', 'nats://127.0.0.1:1', `--liveness-ms=${bad}`], io),
        (e: unknown) => isAppError(e, 'INVALID_ARGUMENT') && /--liveness-ms must be a positive number/.test(e.message),
        bad,
      );
    }
  });
});
