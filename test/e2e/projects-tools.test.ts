/**
 * The project tools through the official SDK client over real Streamable
 * HTTP, in the real sandbox: a file uploaded in chunks with write_file's
 * append mode, run_tests as data, and git checkpoints restored with the
 * variables rebuilt.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectHttpClient, firstText, startTestServer, TEST_TOKEN, type TestServer } from './mcp-harness.js';

type Structured = Record<string, unknown>;

describe('project tools over Streamable HTTP', () => {
  let server: TestServer;
  let client: Client;
  let sessionId: string;
  const call = async (name: string, args: Structured) => {
    const r = await client.callTool({ name, arguments: { session_id: sessionId, ...args } });
    assert.ok(!r.isError, `${name}: ${firstText(r)}`);
    return r.structuredContent as Structured;
  };

  before(async () => {
    server = await startTestServer({ tokens: [TEST_TOKEN] });
    client = await connectHttpClient(server.http.url, TEST_TOKEN);
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'python' } });
    sessionId = ((created.structuredContent as Structured)['session'] as Structured)['id'] as string;
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  it('write_file appends chunks in order: a large file arrives whole', async () => {
    const chunk = (i: number) => `${String(i).padStart(4, '0')}:${'x'.repeat(1018)}\n`.repeat(256); // 256 KiB
    await call('write_file', { path: 'big.txt', content: chunk(0) });
    for (let i = 1; i < 8; i++) {
      const r = await call('write_file', { path: 'big.txt', content: chunk(i), mode: 'append' });
      assert.equal(r['size'], (i + 1) * 256 * 1024);
    }
    const check = await call('execute_code', {
      code: 'lines = open("big.txt").read().splitlines()\nprint(len(lines), lines[0][:4], lines[-1][:4])',
    });
    assert.equal(String(check['stdout']).trim(), '2048 0000 0007');
    // overwrite (the default) replaces the whole file again
    assert.equal((await call('write_file', { path: 'big.txt', content: 'small' }))['size'], 5);
  });

  it('run_tests returns each test as data', async () => {
    await call('write_file', {
      path: 'test_m.py',
      content: 'def test_ok():\n    assert 1\n\ndef test_no():\n    assert 2 + 2 == 5\n',
    });
    const r = await call('run_tests', {});
    assert.equal(r['status'], 'failed');
    const tests = r['tests'] as Structured[];
    assert.deepEqual(
      tests.map((t) => [t['name'], t['outcome']]),
      [
        ['test_m::test_ok', 'passed'],
        ['test_m::test_no', 'failed'],
      ],
    );
    assert.equal(tests[1]?.['line'], 5);
  });

  it('git: commit a checkpoint, change things, restore it with the variables', async () => {
    await call('execute_code', { code: 'total = 10\nopen("state.txt", "w").write("v1")' });
    const c = (await call('git', { action: 'commit', message: 'v1' }))['commit'] as Structured;
    assert.match(String(c['hash']), /^[0-9a-f]{40}$/);
    await call('execute_code', { code: 'total = 99\nopen("state.txt", "w").write("v2")' });
    assert.match(String((await call('git', { action: 'diff' }))['diff']), /-v1.*\n\+v2/s);
    const restored = await call('git', { action: 'restore', rev: c['hash'] });
    assert.match(String(restored['note']), /Replayed \d+ successful executions/);
    const r = await call('execute_code', { code: 'print(total, open("state.txt").read())' });
    assert.equal(String(r['stdout']).trim(), '10 v1');
    const log = (await call('git', { action: 'log' }))['commits'] as Structured[];
    assert.deepEqual(
      log.map((x) => x['subject']),
      ['v1'],
    );
    const bad = await client.callTool({
      name: 'git',
      arguments: { session_id: sessionId, action: 'restore', rev: '--orphan' },
    });
    assert.ok(bad.isError);
    assert.match(firstText(bad), /not a revision/);
  });
});
