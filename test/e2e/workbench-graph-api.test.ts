/**
 * The workbench's dataflow-graph endpoints end to end: GET .../graph and
 * POST .../rerun-downstream over the real HTTP server and the real sandbox
 * (the same code path as the rerun_downstream MCP tool), plus a pandas
 * DataFrame's bounded table-schema display.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type {
  ApiEvent,
  ExecResultJson,
  GraphResponse,
  RerunDownstreamResponse,
} from '../../src/mcp/http/api-contract.js';
import { startWorkbenchApi, type WorkbenchApi } from './workbench-api-harness.js';

const TOKEN_A = 'graph-a-0123456789abcdef0123';
const TOKEN_B = 'graph-b-0123456789abcdef0123';
const MAX_BODY = 256 * 1024;

let root: string;
let server: WorkbenchApi;
let base: string;

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-graph-api-'));
  chmodSync(root, 0o711);
  server = await startWorkbenchApi({
    root,
    tokens: [TOKEN_A, TOKEN_B],
    maxBodyBytes: MAX_BODY,
    workbench: { webRoot: null },
  });
  base = server.base;
});

after(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

async function api<T = any>( // eslint-disable-line @typescript-eslint/no-explicit-any
  method: string,
  p: string,
  body?: unknown,
  token = TOKEN_A,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}/api/v1${p}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as T };
}

/** Collects `execution.started` events of a session's stream until `n` arrived. */
async function startedEvents(id: string, n: number): Promise<{ done: Promise<ApiEvent[]>; close: () => void }> {
  const ac = new AbortController();
  const res = await fetch(`${base}/api/v1/sessions/${id}/events`, {
    headers: { authorization: `Bearer ${TOKEN_A}` },
    signal: ac.signal,
  });
  const done = (async () => {
    const got: ApiEvent[] = [];
    let buffer = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const data = buffer
            .slice(0, cut)
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          buffer = buffer.slice(cut + 2);
          const ev = data === '' ? undefined : (JSON.parse(data) as ApiEvent);
          if (ev?.type === 'execution.started') got.push(ev);
        }
        if (got.length >= n) break;
      }
    } finally {
      ac.abort();
    }
    return got;
  })();
  return { done, close: () => ac.abort() };
}

describe('workbench API: the dataflow graph', () => {
  let sid: string;
  const run = async (code: string) => {
    const r = await api<ExecResultJson>('POST', `/sessions/${sid}/executions`, { code });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok', r.json.stderr);
    return r.json;
  };

  it('GET .../graph: nodes with defs/uses and code head, edges with names, stale after a redefinition', async () => {
    const created = await api('POST', '/sessions', { language: 'python' });
    assert.equal(created.status, 201);
    sid = created.json.session.id;
    await run('x = 1');
    await run('y = x + 1\nprint(y)');
    await run('z = y * 2');
    await run('w = 10');
    let g = await api<GraphResponse>('GET', `/sessions/${sid}/graph`);
    assert.equal(g.status, 200);
    assert.deepEqual(
      g.json.nodes.map((n) => n.execution_count),
      [1, 2, 3, 4],
    );
    assert.deepEqual(g.json.nodes[1]!.defs, ['y']);
    assert.deepEqual(g.json.nodes[1]!.uses, ['x']);
    assert.equal(g.json.nodes[1]!.code_head, 'y = x + 1');
    assert.match(g.json.nodes[1]!.execution_id, /\S/);
    assert.deepEqual(
      g.json.edges.map((e) => [e.from, e.to, e.name]),
      [
        [1, 2, 'x'],
        [2, 3, 'y'],
      ],
    );
    assert.deepEqual(g.json.stale, []);
    await run('x = 5');
    g = await api<GraphResponse>('GET', `/sessions/${sid}/graph`);
    assert.deepEqual(g.json.stale, [2, 3]);
    assert.ok(g.json.nodes[1]!.stale_because.some((s) => s.includes('x')));
  });

  it('POST .../rerun-downstream: a dry run plans; the run re-runs exactly the dependents, streamed as events', async () => {
    const dry = await api<RerunDownstreamResponse>('POST', `/sessions/${sid}/rerun-downstream`, {
      execution_count: 5,
      dry_run: true,
    });
    assert.equal(dry.status, 200);
    assert.deepEqual(dry.json.planned, [2, 3]);
    assert.deepEqual(dry.json.runs, []);
    const events = await startedEvents(sid, 2);
    const r = await api<RerunDownstreamResponse>('POST', `/sessions/${sid}/rerun-downstream`, { execution_count: 5 });
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.json.runs.map((x) => [x.cell, x.result.execution_count, x.result.status]),
      [
        [2, 6, 'ok'],
        [3, 7, 'ok'],
      ],
    );
    assert.equal(r.json.runs[0]!.result.stdout, '6\n');
    const started = await events.done;
    assert.deepEqual(
      started.map((e) => (e.type === 'execution.started' ? [e.data.execution_count, e.data.source] : [])),
      [
        [6, 'web'],
        [7, 'web'],
      ],
    );
    const g = await api<GraphResponse>('GET', `/sessions/${sid}/graph`);
    assert.deepEqual(g.json.stale, [2, 3], 'the old cells stay stale; their re-runs are fresh');
    assert.equal(g.json.nodes.length, 7);
    // The re-runs (6, 7) have the same code as 2 and 3: the next plan runs each code once.
    const again = await api<RerunDownstreamResponse>('POST', `/sessions/${sid}/rerun-downstream`, {
      execution_count: 5,
      dry_run: true,
    });
    assert.deepEqual(again.json.planned, [2, 3]);
    const hist = await api('GET', `/sessions/${sid}/history`);
    assert.ok(
      !hist.json.executions.some(
        (e: { code: string; execution_count: number }) => e.execution_count > 5 && e.code === 'w = 10',
      ),
    );
  });

  it('an opaque cell is refused with the reason and nothing runs', async () => {
    await run("exec('q = 1')");
    const r = await api<RerunDownstreamResponse>('POST', `/sessions/${sid}/rerun-downstream`, { execution_count: 8 });
    assert.equal(r.status, 200);
    assert.match(r.json.refused ?? '', /cannot be known/);
    assert.deepEqual(r.json.runs, []);
  });

  it('bad bodies are 400, another principal gets 404, wrong methods 405', async () => {
    assert.equal((await api('POST', `/sessions/${sid}/rerun-downstream`, { execution_count: 0 })).status, 400);
    assert.equal((await api('POST', `/sessions/${sid}/rerun-downstream`, { execution_count: 1, x: 1 })).status, 400);
    assert.equal((await api('GET', `/sessions/${sid}/graph`, undefined, TOKEN_B)).status, 404);
    const other = await api('POST', `/sessions/${sid}/rerun-downstream`, { execution_count: 1 }, TOKEN_B);
    assert.equal(other.status, 404);
    assert.equal((await api('POST', `/sessions/${sid}/graph`, {})).status, 405);
    assert.equal((await api('GET', `/sessions/${sid}/rerun-downstream`)).status, 405);
  });

  it('a pandas DataFrame is sent as bounded table-schema JSON beside its HTML', async () => {
    const r = await run(
      "import pandas as pd\npd.DataFrame({'i': range(12000), 'name': ['row%d' % i for i in range(12000)]})",
    );
    const bundle = r.displays.find((d) => d.data['application/vnd.dataresource+json'] !== undefined);
    assert.ok(bundle, `displays: ${JSON.stringify(r.displays.map((d) => Object.keys(d.data)))}`);
    assert.match(bundle.data['text/html'] ?? '', /<table/);
    const table = JSON.parse(bundle.data['application/vnd.dataresource+json']!);
    assert.deepEqual(
      table.schema.fields.map((f: { name: string }) => f.name),
      ['index', 'i', 'name'],
    );
    assert.equal(table.data.length, 10000);
    assert.deepEqual(table.data[9999], { index: 9999, i: 9999, name: 'row9999' });
    assert.deepEqual([table.truncated.rows_shown, table.truncated.rows_total], [10000, 12000]);
    const small = await run("pd.DataFrame({'a': [1, 2]})");
    const t2 = JSON.parse(small.displays[0]!.data['application/vnd.dataresource+json']!);
    assert.equal(t2.truncated, undefined);
    assert.equal(t2.data.length, 2);
  });
});
