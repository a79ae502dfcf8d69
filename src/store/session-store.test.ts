import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS } from '../sandbox/limits.js';
import type { ExecResult } from '../sandbox/executor.js';
import { MIGRATIONS, SqliteSessionStore, migrate } from './session-store.js';
import { ResultCache, resultCacheKey } from './result-cache.js';

const session = {
  id: 's1',
  owner: 'alice',
  language: 'python' as const,
  limits: { ...DEFAULT_LIMITS },
  workspaceDir: '/tmp/x',
  createdAt: '2026-01-01T00:00:00.000Z',
  lastUsedAt: '2026-01-01T00:00:00.000Z',
  executionCount: 0,
  closedAt: null,
};

describe('SqliteSessionStore', () => {
  it('saves sessions and executions, including outputs and errors, and lists them in order', () => {
    const store = new SqliteSessionStore(':memory:');
    store.saveSession(session);
    store.saveSession({ ...session, executionCount: 2, lastUsedAt: '2026-01-02T00:00:00.000Z' });
    for (const n of [2, 1]) {
      store.addExecution({
        id: `e${n}`,
        sessionId: 's1',
        executionCount: n,
        language: 'python',
        code: `x = ${n}`,
        status: n === 1 ? 'ok' : 'error',
        stdout: '',
        stderr: '',
        outputs: [{ kind: 'display', data: { 'image/png': 'AAAA' } }],
        ...(n === 2 ? { error: { type: 'ValueError', message: 'bad', line: 1 } } : {}),
        startedAt: '2026-01-01T00:00:00.000Z',
        durationMs: 1.5,
      });
    }
    assert.equal(store.getSession('s1')?.executionCount, 2);
    assert.deepEqual(store.getSession('s1')?.limits, DEFAULT_LIMITS);
    const list = store.listExecutions('s1');
    assert.deepEqual(
      list.map((e) => e.executionCount),
      [1, 2],
    );
    assert.deepEqual(list[1]?.error, { type: 'ValueError', message: 'bad', line: 1 });
    assert.equal(list[0]?.outputs[0]?.data['image/png'], 'AAAA');
    assert.equal(list[0]?.kind, 'execute');
    store.markClosed('s1', '2026-01-03T00:00:00.000Z');
    assert.deepEqual(store.listSessions({ owner: 'alice' }), []);
    assert.equal(store.listSessions({ owner: 'alice', includeClosed: true }).length, 1);
    store.close();
  });

  it('applies migrations once and survives reopening the same file (WAL mode)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-store-test-'));
    try {
      const file = path.join(dir, 'db.sqlite');
      const a = new SqliteSessionStore(file);
      assert.equal(a.db.pragma('journal_mode', { simple: true }), 'wal');
      a.saveSession(session);
      a.close();
      const b = new SqliteSessionStore(file);
      assert.equal(migrate(b.db), MIGRATIONS.length);
      const versions = b.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
      assert.equal(versions.length, MIGRATIONS.length);
      assert.equal(b.getSession('s1')?.owner, 'alice');
      b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ResultCache', () => {
  const input = {
    principal: 'local',
    language: 'python' as const,
    code: 'print(1)',
    files: [
      { path: 'b.txt', content: 'B' },
      { path: 'a.txt', content: new Uint8Array([65]) },
    ],
    limits: { ...DEFAULT_LIMITS },
  };

  it('keys are stable under file order and string/bytes encoding, and change with code or limits', () => {
    const k = resultCacheKey(input);
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.equal(
      resultCacheKey({
        ...input,
        files: [
          { path: 'a.txt', content: 'A' },
          { path: 'b.txt', content: 'B' },
        ],
      }),
      k,
    );
    assert.notEqual(resultCacheKey({ ...input, code: 'print(2)' }), k);
    assert.notEqual(resultCacheKey({ ...input, limits: { ...DEFAULT_LIMITS, wallMs: 1 } }), k);
    assert.notEqual(resultCacheKey({ ...input, args: ['x'] }), k);
  });

  it('stores ok/error results, refuses limit-stopped ones, and expires entries', () => {
    let now = 1000;
    const cache = new ResultCache(':memory:', { ttlMs: 100, now: () => now });
    const result = { status: 'ok', stdout: 'hi' } as unknown as ExecResult;
    assert.equal(cache.put('k', result), true);
    assert.deepEqual(cache.get('k'), result);
    assert.equal(cache.put('t', { ...result, status: 'timeout' }), false);
    assert.equal(cache.get('t'), undefined);
    now += 200;
    assert.equal(cache.get('k'), undefined);
    cache.close();
  });
});
