import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { TranscriptRecorder, secretsFromEnv, type AgentRunRecord } from '../agent/transcript.js';
import { SqliteAgentRunStore } from './agent-runs.js';
import { SqliteSessionStore } from './session-store.js';
import { StoreStatus } from './store-status.js';

function run(id: string, owner: string, createdAt: string): AgentRunRecord {
  return {
    id,
    sessionId: 's',
    owner,
    model: 'openai:gpt-4.1',
    task: `task ${id}`,
    language: 'python',
    ok: true,
    stopReason: 'final_answer',
    steps: 1,
    usage: { inputTokens: 10, outputTokens: 2, costUsd: undefined },
    durationMs: 5,
    createdAt,
    mode: 'auto',
    approval: 'auto',
    verify: false,
    budgets: { maxSteps: 3 },
    answer: 'a',
    message: 'm',
    files: [],
    messages: [{ role: 'user', content: `task ${id}` }],
    transcript: [],
    actions: [],
  };
}

describe('SqliteAgentRunStore', () => {
  it('saves a record whole and lists summaries newest first, per owner', () => {
    const store = new SqliteAgentRunStore(':memory:');
    store.save(run('run_aaa1', 'alice', '2026-01-01T00:00:00.000Z'));
    store.save(run('run_aaa2', 'alice', '2026-01-02T00:00:00.000Z'));
    store.save(run('run_bbb1', 'bob', '2026-01-03T00:00:00.000Z'));
    assert.deepEqual(
      store.get('run_aaa1'),
      JSON.parse(JSON.stringify(run('run_aaa1', 'alice', '2026-01-01T00:00:00.000Z'))),
    );
    assert.deepEqual(
      store.list({ owner: 'alice' }).map((r) => r.id),
      ['run_aaa2', 'run_aaa1'],
    );
    assert.deepEqual(
      store.list().map((r) => r.id),
      ['run_bbb1', 'run_aaa2', 'run_aaa1'],
    );
    assert.equal(store.list({ limit: 1 }).length, 1);
    const s = store.list({ owner: 'bob' })[0];
    assert.deepEqual(s?.usage, { inputTokens: 10, outputTokens: 2, costUsd: undefined });
    assert.throws(() => store.save(run('run_aaa1', 'alice', 'x')), /UNIQUE/, 'append-only: no overwrite');
    store.close();
  });

  it('finds a run by a unique prefix, not by an ambiguous one or a wildcard, and hides other owners', () => {
    const store = new SqliteAgentRunStore(':memory:');
    store.save(run('run_aaa1', 'alice', '2026-01-01T00:00:00.000Z'));
    store.save(run('run_aaa2', 'alice', '2026-01-02T00:00:00.000Z'));
    store.save(run('run_b_c', 'bob', '2026-01-02T00:00:00.000Z'));
    assert.equal(store.get('run_aaa2')?.id, 'run_aaa2');
    assert.equal(store.get('run_aa'), undefined, 'ambiguous');
    assert.equal(store.get('run_%'), undefined, 'a % is a character, not a wildcard');
    assert.equal(store.get('run_b_')?.id, 'run_b_c');
    assert.equal(store.get('run_b_c', 'alice'), undefined);
    assert.equal(store.get('run_b_c', 'bob')?.owner, 'bob');
    assert.equal(store.get(''), undefined);
  });

  it('shares the session store database (one file, migrations applied once)', () => {
    const sessions = new SqliteSessionStore(':memory:');
    const runs = new SqliteAgentRunStore(sessions.db);
    runs.save(run('run_x', 'local', '2026-01-01T00:00:00.000Z'));
    assert.equal(runs.list().length, 1);
    runs.close();
    assert.ok(sessions.db.open, 'closing the run store leaves a shared database open');
    sessions.close();
  });

  it('a key planted in the environment never reaches the database file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-runs-'));
    const key = 'sk-planted-store-9f8e7d6c5b4a';
    try {
      const file = path.join(dir, 'codemode.db');
      const store = new SqliteAgentRunStore(file);
      const env = { OPENAI_API_KEY: key, PATH: '/usr/bin' };
      const rec = new TranscriptRecorder(
        { task: `call with ${key}`, owner: 'local', secrets: secretsFromEnv(env) },
        store,
      );
      rec.onEvent({ type: 'run_start', model: 'openai:gpt-4.1', mode: 'auto', sessionId: 's', language: 'python' });
      rec.onEvent({ type: 'step_start', step: 1 });
      rec.onEvent({ type: 'text_delta', step: 1, text: `my key is ${key}` });
      rec.onEvent({ type: 'tool_call', step: 1, tool: 'run_code', input: { code: `print("${key}")` } });
      rec.onEvent({ type: 'output_delta', step: 1, stream: 'stdout', text: key });
      rec.onEvent({ type: 'result', step: 1, tool: 'run_code', ok: true, status: 'ok', observation: key });
      const saved = rec.finish({
        ok: true,
        stopReason: 'final_answer',
        answer: key,
        message: 'm',
        steps: 1,
        usage: { inputTokens: 1, outputTokens: 1, costUsd: 0 },
        durationMs: 1,
        sessionId: 's',
        actions: [],
      });
      assert.equal(store.get(rec.id)?.transcript[0]?.actions[0]?.output, '[redacted]');
      assert.equal(saved.task, 'call with [redacted]');
      store.close();
      for (const f of readdirSync(dir)) {
        const bytes = readFileSync(path.join(dir, f));
        assert.equal(bytes.indexOf(key), -1, `${f} holds the key`);
        assert.equal(bytes.indexOf('sk-planted'), -1, `${f} holds part of the key`);
      }
      assert.ok(readFileSync(file).indexOf('my key is [redacted]') >= 0, 'the record itself is there');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteAgentRunStore on a full database', () => {
  it('a run the full database refuses waits in memory, is readable, and lands when space returns', () => {
    const causes: string[] = [];
    const status = new StoreStatus({ onDegraded: (part, cause) => causes.push(`${part}: ${cause}`) });
    const store = new SqliteAgentRunStore(':memory:', status);
    store.save(run('run_fill', 'alice', '2026-01-01T00:00:00.000Z'));
    // SQLite's own page cap: past it every write fails with SQLITE_FULL, as on a full disk.
    const pages = store.db.pragma('page_count', { simple: true }) as number;
    store.db.pragma(`max_page_count = ${pages}`);
    const big = { ...run('run_big', 'alice', '2026-01-02T00:00:00.000Z'), task: 'x'.repeat(200_000) };
    store.save(big); // does not throw at the agent whose run just ended
    assert.deepEqual(causes, ['runs: no space left on device (SQLITE_FULL)']);
    assert.equal(status.health().state, 'degraded');
    assert.equal(store.get('run_big', 'alice')?.task.length, 200_000, 'readable while it waits');
    store.db.pragma('max_page_count = 1073741823');
    assert.deepEqual(
      store.list({ owner: 'alice' }).map((r) => r.id),
      ['run_big', 'run_fill'],
      'written once space returned',
    );
    assert.equal(status.health().state, 'ok');
    store.close();
  });
});
