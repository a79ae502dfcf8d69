/**
 * The session as a dataflow graph over real Streamable HTTP and the real
 * sandbox: a notebook where changing an early cell re-runs exactly its two
 * dependents, not the independent third; stale marking; DOT and Mermaid.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectHttpClient, firstText, startTestServer, type TestServer } from './mcp-harness.js';

type Structured = Record<string, unknown>;

describe('session_graph and rerun_downstream', () => {
  let server: TestServer;
  let client: Client;
  let id: string;
  const run = async (code: string) => {
    const r = await client.callTool({ name: 'execute_code', arguments: { session_id: id, code } });
    return r.structuredContent as Structured;
  };

  before(async () => {
    server = await startTestServer();
    client = await connectHttpClient(server.http.url, server.token);
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'python' } });
    id = ((created.structuredContent as Structured)['session'] as Structured)['id'] as string;
    for (const code of ['x = 1', 'y = x + 1', 'z = y * 2', 'w = 10\nprint("independent")', 'x = 5'])
      assert.equal((await run(code))['status'], 'ok');
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  it('session_graph links each read to the latest earlier definition and marks stale cells', async () => {
    const r = await client.callTool({ name: 'session_graph', arguments: { session_id: id, format: 'mermaid' } });
    assert.notEqual(r.isError, true, firstText(r));
    const s = r.structuredContent as { edges: Structured[]; stale: number[]; mermaid: string };
    assert.deepEqual(
      s.edges.map((e) => `${e['from']}->${e['to']}:${e['name']}`),
      ['1->2:x', '2->3:y'],
    );
    assert.deepEqual(s.stale, [2, 3], 'x was redefined by [5] after [2] read it; [3] read from stale [2]');
    assert.match(s.mermaid, /^flowchart TD\n/);
    assert.match(s.mermaid, /c1 -->\|x\| c2/);
    const dot = await client.callTool({ name: 'session_graph', arguments: { session_id: id, format: 'dot' } });
    assert.match((dot.structuredContent as Structured)['dot'] as string, /c2 -> c3 \[label="y"\]/);
  });

  it('changing an early cell re-runs exactly its two dependents, in order, and not the independent cell', async () => {
    const r = await client.callTool({ name: 'rerun_downstream', arguments: { session_id: id, execution_count: 5 } });
    assert.notEqual(r.isError, true, firstText(r));
    const s = r.structuredContent as { planned: number[]; runs: Structured[] };
    assert.deepEqual(s.planned, [2, 3]);
    assert.deepEqual(
      s.runs.map((x) => [x['cell'], x['execution_count'], x['status']]),
      [
        [2, 6, 'ok'],
        [3, 7, 'ok'],
      ],
    );
    assert.equal((await run('print(x, y, z)'))['stdout'], '5 6 12\n');
    const history = await client.callTool({ name: 'get_history', arguments: { session_id: id } });
    const executions = (history.structuredContent as { executions: Structured[] }).executions;
    assert.equal(executions.filter((e) => String(e['code']).startsWith('w = 10')).length, 1, 'cell [4] ran once only');
  });

  it('a cell whose names cannot be known is explained, and nothing runs', async () => {
    assert.equal((await run("exec('q = 1')"))['status'], 'ok');
    const count = 9;
    const r = await client.callTool({
      name: 'rerun_downstream',
      arguments: { session_id: id, execution_count: count },
    });
    const s = r.structuredContent as { refused?: string; runs: unknown[] };
    assert.match(String(s.refused), /exec at line 1/);
    assert.deepEqual(s.runs, []);
  });
});
