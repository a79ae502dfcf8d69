import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS } from '../sandbox/limits.js';
import { resultCacheKey } from './result-cache.js';
import { openDatabase } from './session-store.js';

describe('result cache keys', () => {
  it('differ by principal, so one principal is never answered with another principal’s run', () => {
    const input = { language: 'python' as const, code: 'print(1)', limits: { ...DEFAULT_LIMITS } };
    const a = resultCacheKey({ ...input, principal: 'token:aaaa' });
    assert.equal(resultCacheKey({ ...input, principal: 'token:aaaa' }), a);
    assert.notEqual(resultCacheKey({ ...input, principal: 'token:bbbb' }), a);
    assert.notEqual(resultCacheKey({ ...input, principal: 'local' }), a);
  });
});

describe('the database file', () => {
  it('is created 0600, with its -wal and -shm files, in a 0700 directory', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'codemode-db-'));
    const old = process.umask(0o022);
    try {
      const file = path.join(root, 'state', 'codemode.db');
      const db = openDatabase(file);
      db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        assert.equal(statSync(f).mode & 0o777, 0o600, `${path.basename(f)} is private`);
      }
      assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
      db.close();
    } finally {
      process.umask(old);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
