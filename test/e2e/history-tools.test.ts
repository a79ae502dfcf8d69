/**
 * get_history and export_notebook through the official SDK client over real
 * Streamable HTTP, on sessions run in the real sandbox: paging, search,
 * clipping, both export formats, and another principal's session staying
 * invisible.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectHttpClient, firstText, startTestServer, type TestServer } from './mcp-harness.js';

type Structured = Record<string, unknown>;
const OTHER_TOKEN = 'other-principal-token-0123456789';

describe('get_history and export_notebook over Streamable HTTP', () => {
  let server: TestServer;
  let client: Client;
  let other: Client;
  let sessionId: string;

  before(async () => {
    server = await startTestServer({ tokens: ['test-token-0123456789abcdef', OTHER_TOKEN] });
    client = await connectHttpClient(server.http.url, 'test-token-0123456789abcdef');
    other = await connectHttpClient(server.http.url, OTHER_TOKEN);
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'python' } });
    sessionId = ((created.structuredContent as Structured)['session'] as Structured)['id'] as string;
    for (const code of [
      'def double(x):\n    return x * 2\n',
      'print(double(21))',
      'print(missing_name)',
      'print("x" * 5000)',
    ]) {
      await client.callTool({ name: 'execute_code', arguments: { language: 'python', session_id: sessionId, code } });
    }
  });
  after(async () => {
    await client.close();
    await other.close();
    await server.close();
  });

  it('get_history lists executions oldest first with status, output and error', async () => {
    const r = await client.callTool({ name: 'get_history', arguments: { session_id: sessionId } });
    assert.notEqual(r.isError, true, firstText(r));
    const s = r.structuredContent as { total: number; executions: Structured[] };
    assert.equal(s.total, 4);
    assert.deepEqual(
      s.executions.map((e) => [e['execution_count'], e['status']]),
      [
        [1, 'ok'],
        [2, 'ok'],
        [3, 'error'],
        [4, 'ok'],
      ],
    );
    assert.equal(s.executions[1]!['stdout'], '42\n');
    assert.equal((s.executions[2]!['error'] as Structured)['type'], 'NameError');
    assert.match(s.executions[3]!['stdout'] as string, /more characters clipped\]$/, 'long output is clipped');
    assert.ok((s.executions[3]!['stdout'] as string).length < 2200);
    assert.match(firstText(r), /^executions 1-4 of 4 in session /);
  });

  it('get_history pages with offset/limit and searches code, output and errors', async () => {
    const page = await client.callTool({
      name: 'get_history',
      arguments: { session_id: sessionId, offset: 1, limit: 2 },
    });
    const p = page.structuredContent as { total: number; offset: number; executions: Structured[] };
    assert.deepEqual([p.total, p.offset], [4, 1]);
    assert.deepEqual(
      p.executions.map((e) => e['execution_count']),
      [2, 3],
    );
    const found = await client.callTool({ name: 'get_history', arguments: { session_id: sessionId, query: 'DOUBLE' } });
    const f = found.structuredContent as { total: number; executions: Structured[] };
    assert.deepEqual(
      f.executions.map((e) => e['execution_count']),
      [1, 2],
    );
    const byError = await client.callTool({
      name: 'get_history',
      arguments: { session_id: sessionId, query: 'nameerror' },
    });
    assert.equal((byError.structuredContent as { total: number }).total, 1);
  });

  it('export_notebook returns a valid nbformat 4 notebook with the outputs', async () => {
    const r = await client.callTool({ name: 'export_notebook', arguments: { session_id: sessionId } });
    assert.notEqual(r.isError, true, firstText(r));
    const s = r.structuredContent as Structured;
    assert.equal(s['format'], 'ipynb');
    assert.equal(s['file_name'], `session-${sessionId}.ipynb`);
    const nb = JSON.parse(s['content'] as string) as { nbformat: number; cells: { outputs: Structured[] }[] };
    assert.equal(nb.nbformat, 4);
    assert.equal(nb.cells.length, 4);
    assert.deepEqual(nb.cells[1]!.outputs[0], { output_type: 'stream', name: 'stdout', text: ['42\n'] });
    assert.equal(firstText(r), s['content']);
  });

  it('export_notebook format script is a python file that runs what succeeded', async () => {
    const r = await client.callTool({
      name: 'export_notebook',
      arguments: { session_id: sessionId, format: 'script' },
    });
    const s = r.structuredContent as Structured;
    assert.equal(s['file_name'], `session-${sessionId}.py`);
    const script = s['content'] as string;
    assert.match(script, /^# %% In\[1\]\ndef double/m);
    assert.match(script, /^# print\(missing_name\)$/m, 'the failed cell is commented out');
    const out = execFileSync('python3', ['-c', script], { encoding: 'utf8' });
    assert.equal(out, `42\n${'x'.repeat(5000)}\n`);
  });

  it("another principal's session does not exist for get_history or export_notebook", async () => {
    for (const name of ['get_history', 'export_notebook']) {
      const r = await other.callTool({ name, arguments: { session_id: sessionId } });
      assert.equal(r.isError, true, name);
      assert.match(firstText(r), /NOT_FOUND/, name);
      assert.doesNotMatch(firstText(r), /double/, name);
    }
  });

  it('rejects a limit above 200 as an invalid argument', async () => {
    const r = await client
      .callTool({ name: 'get_history', arguments: { session_id: sessionId, limit: 1000 } })
      .catch((e: Error) => ({ isError: true, content: [{ type: 'text', text: e.message }] }));
    assert.equal(r.isError, true);
    assert.match(firstText(r), /limit/);
  });
});
