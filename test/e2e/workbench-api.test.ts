/**
 * The workbench API end to end: the real HTTP server (Host/Origin, bearer
 * tokens), the real session manager on the real sandbox, the MCP endpoint on
 * the same server, and the agent against the scripted model server. Each
 * security property is named in its test.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startScriptedServer, type ScriptedServer } from '../../src/agent/scripted-server.js';
import type { RunningHttpServer } from '../../src/mcp/http-server.js';
import type { ApiEvent, ApiEventType, ExecResultJson } from '../../src/mcp/http/api-contract.js';
import { connectHttpClient } from './mcp-harness.js';
import { startWorkbenchApi, type WorkbenchApi } from './workbench-api-harness.js';

const TOKEN_A = 'workbench-a-0123456789abcdef';
const TOKEN_B = 'workbench-b-0123456789abcdef';
const KEY = 'sk-planted-workbench-0123456789';
const MODEL = 'openai:gpt-4.1';
const MAX_BODY = 256 * 1024;

let root: string;
let webRoot: string;
let server: WorkbenchApi;
let http: RunningHttpServer;
let model: ScriptedServer;
let base: string;

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-workbench-e2e-'));
  chmodSync(root, 0o711);
  // A fake build: the page, a hashed asset, a symlink out of the build, and a secret beside the build.
  webRoot = path.join(root, 'web');
  mkdirSync(path.join(webRoot, 'assets'), { recursive: true });
  writeFileSync(
    path.join(webRoot, 'index.html'),
    '<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>',
  );
  writeFileSync(path.join(webRoot, 'assets', 'app-1a2b.js'), 'console.log("workbench");');
  writeFileSync(path.join(root, 'secret.txt'), 'TOP-SECRET-OUTSIDE-THE-BUILD');
  symlinkSync(path.join(root, 'secret.txt'), path.join(webRoot, 'assets', 'link.txt'));
  model = await startScriptedServer();
  server = await startWorkbenchApi({
    root,
    tokens: [TOKEN_A, TOKEN_B],
    maxBodyBytes: MAX_BODY,
    workbench: {
      agentModels: [MODEL],
      env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: model.openaiBaseURL },
      webRoot,
      replyChars: 1000,
    },
  });
  http = server.http;
  base = server.base;
});

after(async () => {
  await server?.close();
  await model?.close();
  rmSync(root, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function api(
  method: string,
  p: string,
  options: { token?: string | null; body?: unknown; raw?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const token = options.token === undefined ? TOKEN_A : options.token;
  const headers: Record<string, string> = { ...options.headers };
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  let body: string | Uint8Array | undefined = options.raw;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const res = await fetch(`${base}/api/v1${p}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A raw request whose path is sent exactly as written (no client-side normalization). */
function rawGet(p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: http.port,
        path: p,
        method: 'GET',
        headers: { host: `127.0.0.1:${http.port}`, ...headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface Stream {
  status: number;
  events: ApiEvent[];
  ended: Promise<void>;
  until<K extends ApiEventType>(
    type: K,
    pred?: (e: Extract<ApiEvent, { type: K }>) => boolean,
  ): Promise<Extract<ApiEvent, { type: K }>>;
  close(): void;
}

/** Reads a session's event stream with fetch, as the workbench does. */
async function openEvents(sessionId: string, options: { token?: string; lastEventId?: number } = {}): Promise<Stream> {
  const ac = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? TOKEN_A}` };
  if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
  const res = await fetch(`${base}/api/v1/sessions/${sessionId}/events`, { headers, signal: ac.signal });
  const events: ApiEvent[] = [];
  const waiters = new Set<() => void>();
  const ended = (async () => {
    if (res.body === null) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (data !== '') events.push(JSON.parse(data) as ApiEvent);
        }
        for (const w of waiters) w();
      }
    } catch {
      // aborted by close(): the stream simply ends
    }
    for (const w of waiters) w();
  })();
  let done = false;
  void ended.then(() => (done = true));
  return {
    status: res.status,
    events,
    ended,
    until(type, pred = () => true) {
      type E = Extract<ApiEvent, { type: typeof type }>;
      const find = () => events.find((e) => e.type === type && pred(e as E)) as E | undefined;
      return new Promise((resolve, reject) => {
        const guard = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${type} event; got ${events.map((e) => e.type).join(', ')}`));
        }, 30_000);
        const check = () => {
          const hit = find();
          if (hit !== undefined || done) {
            clearTimeout(guard);
            waiters.delete(check);
            if (hit !== undefined) resolve(hit);
            else reject(new Error(`stream ended without ${type}; got ${events.map((e) => e.type).join(', ')}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    close: () => ac.abort(),
  };
}

async function newSession(token = TOKEN_A): Promise<string> {
  const r = await api('POST', '/sessions', { token, body: { language: 'python' } });
  assert.equal(r.status, 201, r.text);
  return r.json.session.id as string;
}

describe('workbench API: auth and principals', () => {
  it('refuses /api without a bearer token or with a wrong one (401, WWW-Authenticate)', async () => {
    for (const token of [null, 'not-a-valid-token-000000000']) {
      const r = await api('GET', '/info', { token });
      assert.equal(r.status, 401);
      assert.equal(r.json.error.code, 'UNAUTHORIZED');
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  });

  it('refuses a foreign Host or Origin (DNS rebinding), token or not (403)', async () => {
    const evil = await rawGet('/api/v1/info', { host: 'evil.example', authorization: `Bearer ${TOKEN_A}` });
    assert.equal(evil.status, 403);
    const origin = await api('GET', '/info', { headers: { origin: 'http://evil.example' } });
    assert.equal(origin.status, 403);
  });

  it('info: languages, snake_case limits, caps and the configured agent model', async () => {
    const r = await api('GET', '/info');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.languages, ['python', 'javascript', 'typescript', 'bash']);
    assert.equal(typeof r.json.limits.defaults.wall_ms, 'number');
    assert.equal(r.json.max_body_bytes, MAX_BODY);
    assert.deepEqual(r.json.agent, { available: true, models: [MODEL], default_model: MODEL });
    assert.ok(!r.text.includes(KEY), 'no key in info');
  });

  it("another principal's session does not exist for it (404 on every route)", async () => {
    const id = await newSession(TOKEN_A);
    for (const [method, p] of [
      ['GET', `/sessions/${id}`],
      ['GET', `/sessions/${id}/events`],
      ['GET', `/sessions/${id}/history`],
      ['GET', `/sessions/${id}/files`],
      ['GET', `/sessions/${id}/files/content?path=a.txt`],
      ['DELETE', `/sessions/${id}`],
      ['GET', `/sessions/${id}/export?format=ipynb`],
    ] as const) {
      const r = await api(method, p, { token: TOKEN_B });
      assert.equal(r.status, 404, `${method} ${p}`);
      assert.equal(r.json.error.code, 'NOT_FOUND');
    }
    const exec = await api('POST', `/sessions/${id}/executions`, { token: TOKEN_B, body: { code: 'print(1)' } });
    assert.equal(exec.status, 404);
    const put = await api('PUT', `/sessions/${id}/files/content?path=x.txt`, { token: TOKEN_B, raw: 'planted' });
    assert.equal(put.status, 404);
    const list = await api('GET', '/sessions', { token: TOKEN_B });
    assert.ok(!list.text.includes(id));
    await api('DELETE', `/sessions/${id}`);
  });

  it('refuses bodies over the cap (413), non-JSON bodies (415) and unknown fields (400 naming the field)', async () => {
    const id = await newSession();
    const big = await api('POST', `/sessions/${id}/executions`, { body: { code: `#${'x'.repeat(MAX_BODY)}` } });
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'TOO_LARGE');
    const form = await api('POST', `/sessions/${id}/executions`, {
      raw: 'code=print(1)',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 415);
    const unknown = await api('POST', `/sessions/${id}/executions`, { body: { code: 'print(1)', sudo: true } });
    assert.equal(unknown.status, 400);
    const over = await api('POST', `/sessions/${id}/executions`, {
      body: { code: '1', limits: { wall_ms: 10 ** 12 } },
    });
    assert.equal(over.status, 400);
    assert.equal(over.json.error.argument, 'limits.wall_ms');
    await api('DELETE', `/sessions/${id}`);
  });
});

describe('workbench API: sessions, executions and live events', () => {
  it('an execution streams to two subscribers, and the POST answers the result', async () => {
    const id = await newSession();
    const [one, two] = await Promise.all([openEvents(id), openEvents(id)]);
    assert.equal(one.status, 200);
    await Promise.all([one.until('stream.open'), two.until('stream.open')]);
    const code = 'import time\nprint("first", flush=True)\ntime.sleep(0.3)\nprint("second")';
    const r = await api('POST', `/sessions/${id}/executions`, { body: { code } });
    assert.equal(r.status, 200, r.text);
    const result = r.json as ExecResultJson;
    assert.equal(result.status, 'ok');
    assert.equal(result.stdout, 'first\nsecond\n');
    for (const s of [one, two]) {
      const started = await s.until('execution.started');
      assert.equal(started.data.source, 'web');
      assert.equal(started.data.code, code);
      assert.equal(started.data.execution_id, result.execution_id);
      const finished = await s.until('execution.finished');
      assert.equal(finished.data.result?.stdout, 'first\nsecond\n');
      const printed = s.events
        .filter((e): e is Extract<ApiEvent, { type: 'output' }> => e.type === 'output')
        .map((e) => e.data.text)
        .join('');
      assert.equal(printed, 'first\nsecond\n', 'the output came as events, in order');
      const ids = s.events.filter((e) => e.type !== 'stream.open').map((e) => e.id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        'event ids increase',
      );
      s.close();
    }
    await api('DELETE', `/sessions/${id}`);
  });

  it("an MCP client's execute_code on the same session shows on the web stream (source mcp)", async () => {
    const id = await newSession();
    const stream = await openEvents(id);
    await stream.until('stream.open');
    const client = await connectHttpClient(http.url, TOKEN_A);
    try {
      const res = await client.callTool({
        name: 'execute_code',
        arguments: { language: 'python', session_id: id, code: 'print(6 * 7)' },
      });
      assert.notEqual(res.isError, true, JSON.stringify(res.content));
    } finally {
      await client.close();
    }
    const started = await stream.until('execution.started');
    assert.equal(started.data.source, 'mcp');
    const finished = await stream.until('execution.finished');
    assert.equal(finished.data.result?.stdout, '42\n');
    stream.close();
    const history = await api('GET', `/sessions/${id}/history?q=6 * 7`);
    assert.equal(history.json.executions.length, 1);
    assert.equal((await api('GET', `/sessions/${id}/history?q=nothing-like-this`)).json.executions.length, 0);
    await api('DELETE', `/sessions/${id}`);
  });

  it('Last-Event-ID resumes after the given event; an id from another life of the server resets', async () => {
    const id = await newSession();
    const first = await openEvents(id);
    await first.until('stream.open');
    await api('POST', `/sessions/${id}/executions`, { body: { code: 'print("one")' } });
    const done = await first.until('execution.finished');
    first.close();
    await api('POST', `/sessions/${id}/executions`, { body: { code: 'print("two")' } });
    const resumed = await openEvents(id, { lastEventId: done.id });
    const next = await resumed.until('execution.started');
    assert.equal(next.id, done.id + 1, 'the first event after the one seen');
    assert.equal(next.data.code, 'print("two")');
    assert.ok(!resumed.events.some((e) => e.type === 'execution.started' && e.data.code === 'print("one")'));
    resumed.close();
    const stale = await openEvents(id, { lastEventId: 10_000 });
    await stale.until('stream.reset');
    stale.close();
    await api('DELETE', `/sessions/${id}`);
  });

  it('interrupt stops the running cell and keeps the session; restart announces itself and drops variables', async () => {
    const id = await newSession();
    const stream = await openEvents(id);
    await stream.until('stream.open');
    await api('POST', `/sessions/${id}/executions`, { body: { code: 'kept = 1' } });
    const running = api('POST', `/sessions/${id}/executions`, { body: { code: 'import time\ntime.sleep(60)' } });
    await stream.until('execution.started', (e) => e.data.code.includes('sleep'));
    assert.equal((await api('POST', `/sessions/${id}/interrupt`)).status, 200);
    const stopped = await running;
    assert.equal(stopped.json.status, 'interrupted', stopped.text);
    assert.equal(
      (await api('POST', `/sessions/${id}/executions`, { body: { code: 'print(kept)' } })).json.stdout,
      '1\n',
    );
    const restarted = await api('POST', `/sessions/${id}/restart`);
    assert.equal(restarted.status, 200);
    await stream.until('session.state', (e) => e.data.session.state === 'idle');
    const gone = await api('POST', `/sessions/${id}/executions`, { body: { code: 'print(kept)' } });
    assert.equal(gone.json.error.type, 'NameError');
    stream.close();
    await api('DELETE', `/sessions/${id}`);
  });

  it('closing a session ends its stream with session.closed', async () => {
    const id = await newSession();
    const stream = await openEvents(id);
    await stream.until('stream.open');
    assert.equal((await api('DELETE', `/sessions/${id}`)).status, 200);
    const closed = await stream.until('session.closed');
    assert.equal(closed.data.session_id, id);
    await stream.ended;
    assert.equal((await api('GET', `/sessions/${id}`)).status, 404);
  });

  it('clipped output links its full text at /outputs/:id, for its owner only', async () => {
    const id = await newSession();
    const r = await api('POST', `/sessions/${id}/executions`, { body: { code: 'print("z" * 5000)' } });
    const link = (r.json as ExecResultJson).full_output?.stdout;
    assert.ok(link !== undefined && link.startsWith('/api/v1/outputs/'), r.text);
    const full = await fetch(`${base}${link}`, { headers: { authorization: `Bearer ${TOKEN_A}` } });
    assert.equal(await full.text(), `${'z'.repeat(5000)}\n`);
    const other = await fetch(`${base}${link}`, { headers: { authorization: `Bearer ${TOKEN_B}` } });
    assert.equal(other.status, 404);
    await api('DELETE', `/sessions/${id}`);
  });
});

describe('workbench API: files and notebooks', () => {
  it('uploads and downloads bytes exactly, lists and deletes them, and announces changes', async () => {
    const id = await newSession();
    const stream = await openEvents(id);
    await stream.until('stream.open');
    const bytes = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
    const put = await api('PUT', `/sessions/${id}/files/content?path=data/blob.bin`, { raw: bytes });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.json, { session_id: id, path: 'data/blob.bin', size: 512 });
    await stream.until('files.changed', (e) => e.data.paths.includes('data/blob.bin'));
    const got = await fetch(`${base}/api/v1/sessions/${id}/files/content?path=data/blob.bin`, {
      headers: { authorization: `Bearer ${TOKEN_A}` },
    });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.match(got.headers.get('content-disposition') ?? '', /^attachment; filename="blob.bin"$/);
    assert.deepEqual(new Uint8Array(await got.arrayBuffer()), bytes);
    const list = await api('GET', `/sessions/${id}/files?path=data`);
    assert.ok(
      list.json.files.some((f: { path: string; size: number }) => f.path.endsWith('blob.bin') && f.size === 512),
    );
    // The sandboxed code sees the upload.
    const seen = await api('POST', `/sessions/${id}/executions`, {
      body: { code: 'print(len(open("data/blob.bin","rb").read()))' },
    });
    assert.equal(seen.json.stdout, '512\n');
    assert.equal((await api('DELETE', `/sessions/${id}/files/content?path=data/blob.bin`)).status, 200);
    assert.equal((await api('GET', `/sessions/${id}/files/content?path=data/blob.bin`)).status, 404);
    stream.close();
    await api('DELETE', `/sessions/${id}`);
  });

  it('refuses file paths that leave the workspace (400 PATH_ESCAPE)', async () => {
    const id = await newSession();
    for (const p of ['../../etc/passwd', '/etc/passwd']) {
      const r = await api('GET', `/sessions/${id}/files/content?path=${encodeURIComponent(p)}`);
      assert.equal(r.status, 400, p);
      assert.equal(r.json.error.code, 'PATH_ESCAPE');
      assert.ok(!r.text.includes('root:'), 'nothing of the host file');
    }
    const put = await api('PUT', `/sessions/${id}/files/content?path=${encodeURIComponent('../escape.txt')}`, {
      raw: 'x',
    });
    assert.equal(put.status, 400);
    await api('DELETE', `/sessions/${id}`);
  });

  it('exports the history as a valid notebook, and importing it replays the cells into a new session', async () => {
    const id = await newSession();
    await api('POST', `/sessions/${id}/executions`, { body: { code: 'x = 20' } });
    await api('POST', `/sessions/${id}/executions`, { body: { code: 'y = x + 1\nprint(y)' } });
    const nb = await api('GET', `/sessions/${id}/export?format=ipynb`);
    assert.equal(nb.status, 200);
    assert.equal(nb.json.nbformat, 4);
    const cells = (nb.json.cells as { cell_type: string; source: string[] }[]).filter((c) => c.cell_type === 'code');
    assert.deepEqual(
      cells.map((c) => c.source.join('')),
      ['x = 20', 'y = x + 1\nprint(y)'],
    );
    const script = await api('GET', `/sessions/${id}/export?format=script`);
    assert.match(script.text, /# In \[1\]:\nx = 20\n/);

    const target = await newSession();
    const stream = await openEvents(target);
    await stream.until('stream.open');
    const imported = await api('POST', `/sessions/${target}/import-notebook`, { body: nb.json });
    assert.equal(imported.status, 200, imported.text);
    assert.equal(imported.json.results.length, 2);
    assert.equal(imported.json.skipped, 0);
    assert.equal(imported.json.results[1].stdout, '21\n');
    await stream.until('execution.finished', (e) => e.data.result?.stdout === '21\n');
    const check = await api('POST', `/sessions/${target}/executions`, { body: { code: 'print(x * y)' } });
    assert.equal(check.json.stdout, '420\n');
    stream.close();

    // A failing cell stops the replay; the rest are counted as skipped.
    const failing = await newSession();
    const r = await api('POST', `/sessions/${failing}/import-notebook`, {
      body: {
        nbformat: 4,
        cells: [
          { cell_type: 'code', source: 'raise ValueError("stop")' },
          { cell_type: 'markdown', source: '# note' },
          { cell_type: 'code', source: ['print(', '"never")'] },
        ],
      },
    });
    assert.equal(r.json.results[0].status, 'error');
    assert.equal(r.json.skipped, 1);
    for (const s of [id, target, failing]) await api('DELETE', `/sessions/${s}`);
  });
});

describe('workbench API: agent runs', () => {
  const call = (name: string, input: unknown) => ({ tools: [{ name, input }] });

  it('an agent run streams its events and its executions (source agent) on the session stream', async () => {
    model.script([call('run_code', { code: 'print(6 * 7)' }), call('final_answer', { answer: '42' })]);
    const id = await newSession();
    const stream = await openEvents(id);
    await stream.until('stream.open');
    const r = await api('POST', `/sessions/${id}/agent`, { body: { task: 'compute 6*7' } });
    assert.equal(r.status, 202, r.text);
    const runId = r.json.run_id as string;
    await stream.until('agent.started', (e) => e.data.run_id === runId);
    const started = await stream.until('execution.started');
    assert.equal(started.data.source, 'agent');
    const finished = await stream.until('agent.finished');
    assert.equal(finished.data.result.ok, true, finished.data.result.message);
    assert.equal(finished.data.result.answer, '42');
    assert.ok(stream.events.some((e) => e.type === 'agent.code' && e.data.code === 'print(6 * 7)'));
    assert.ok(!JSON.stringify(stream.events).includes(KEY), 'the key never reaches an event');
    const run = await api('GET', `/agent-runs/${runId}`);
    assert.equal(run.json.state, 'finished');
    assert.equal((await api('GET', `/agent-runs/${runId}`, { token: TOKEN_B })).status, 404);
    stream.close();
    await api('DELETE', `/sessions/${id}`);
  });

  it('under approval "ask" the run waits for the API, and runs once approved', async () => {
    model.script([call('run_code', { code: 'print("approved run")' }), call('final_answer', { answer: 'done' })]);
    const id = await newSession();
    const stream = await openEvents(id);
    await stream.until('stream.open');
    const r = await api('POST', `/sessions/${id}/agent`, { body: { task: 't', approval: 'ask', model: MODEL } });
    const runId = r.json.run_id as string;
    const asked = await stream.until('agent.approval_request');
    assert.equal(asked.data.request.summary.includes('approved run'), true);
    const pending = await api('GET', `/agent-runs/${runId}`);
    assert.equal(pending.json.pending_approval.tool, 'run_code');
    assert.equal(stream.events.filter((e) => e.type === 'execution.started').length, 0, 'nothing ran before approval');
    const foreign = await api('POST', `/agent-runs/${runId}/approval`, { token: TOKEN_B, body: { approve: true } });
    assert.equal(foreign.status, 404, 'another principal cannot approve');
    const ok = await api('POST', `/agent-runs/${runId}/approval`, { body: { approve: true } });
    assert.equal(ok.status, 200, ok.text);
    const approval = await stream.until('agent.approval');
    assert.equal(approval.data.approved, true);
    const ran = await stream.until('execution.finished');
    assert.equal(ran.data.result?.stdout, 'approved run\n');
    const finished = await stream.until('agent.finished');
    assert.equal(finished.data.result.answer, 'done');
    stream.close();
    await api('DELETE', `/sessions/${id}`);
  });

  it('a run can be cancelled mid-execution, and a model outside the configured list is refused', async () => {
    model.script([call('run_code', { code: 'import time\ntime.sleep(60)' })]);
    const id = await newSession();
    const stream = await openEvents(id);
    await stream.until('stream.open');
    const refused = await api('POST', `/sessions/${id}/agent`, {
      body: { task: 't', model: `openai-compatible:http://evil.example/v1#m@OPENAI_API_KEY` },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.argument, 'model');
    const r = await api('POST', `/sessions/${id}/agent`, { body: { task: 'sleep' } });
    const runId = r.json.run_id as string;
    await stream.until('execution.started', (e) => e.data.source === 'agent');
    const cancel = await api('POST', `/agent-runs/${runId}/cancel`);
    assert.equal(cancel.status, 200);
    const finished = await stream.until('agent.finished');
    assert.equal(finished.data.result.stop_reason, 'cancelled');
    const exec = await stream.until('execution.finished');
    assert.equal(exec.data.result?.status, 'cancelled');
    stream.close();
    await api('DELETE', `/sessions/${id}`);
  });
});

describe('workbench static files', () => {
  it('serves the page and its assets with the strict CSP, nosniff and right content types', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "object-src 'none'",
      "frame-ancestors 'none'",
    ]) {
      assert.ok(csp.includes(directive), directive);
    }
    assert.ok(!/script-src[^;]*'unsafe-inline'/.test(csp), 'no inline scripts');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const asset = await fetch(`${base}/assets/app-1a2b.js`);
    assert.match(asset.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    assert.equal(await asset.text(), 'console.log("workbench");');
  });

  it('refuses directory traversal and symlinks out of the build (only built files are served)', async () => {
    for (const p of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/link.txt',
      '//secret.txt',
      '/assets/',
    ]) {
      const r = await rawGet(p);
      assert.equal(r.status, 404, p);
      assert.ok(!r.body.includes('TOP-SECRET'), p);
    }
  });
});

describe('codemode ui', () => {
  it('serves on loopback with a fresh token carried in the URL fragment, and stops on SIGTERM', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'codemode-ui-e2e-'));
    const repo = path.resolve(import.meta.dirname, '..', '..');
    const child = spawn(
      process.execPath,
      ['--no-node-snapshot', '--import', 'tsx', path.join(repo, 'src', 'cli', 'main.ts'), 'ui', '--no-store'],
      {
        cwd: repo,
        env: { ...process.env, CODEMODE_HOME: home, HOME: home, CODEMODE_TOKEN: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
        });
        void exited.then(() => reject(new Error(`codemode ui exited early: ${stderr}`)));
      });
      const m = /^http:\/\/127\.0\.0\.1:(\d+)\/#token=([\w-]{43})$/.exec(line);
      assert.ok(m !== null, `printed ${line}`);
      const [, port, token] = m;
      const info = await fetch(`http://127.0.0.1:${port}/api/v1/info`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(info.status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/v1/info`)).status, 401);
      const mcp = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', body: '{}' });
      assert.equal(mcp.status, 401, 'the MCP endpoint takes the same fresh token');
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.ok(page.status === 200 || page.status === 503, `page status ${page.status}`);
      assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assert.ok(!stderr.includes(token ?? '-'), 'the token is printed once, on stdout only');
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      rmSync(home, { recursive: true, force: true });
    }
  });
});
