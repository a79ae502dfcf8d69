/**
 * Protocol revision 2026-07-28 (stateless: server/discover, per-request
 * `_meta` envelope, no Mcp-Session-Id) next to the 2025 revisions, with the
 * v2 SDK client over real Streamable HTTP (in process) and over stdio (a
 * spawned `codemode serve`): negotiation, execution, code sessions that
 * outlive the request, progress, cancellation, auth and principal isolation,
 * and 2025 clients served in the same run.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHttpTransport,
  type Transport as ModernTransport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport as ModernStdioTransport } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/server';
import { connectModernHttpClient, firstText, startTestServer, type TestServer } from './mcp-harness.js';

type Structured = Record<string, unknown>;
const MODERN = '2026-07-28';
const TOKEN_A = 'token-a-0123456789abcdef';
const TOKEN_B = 'token-b-0123456789abcdef';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVE = ['--no-node-snapshot', '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve', '--no-store'];

/** Anything with callTool: the v1 and v2 clients alike. */
interface ToolCaller {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
}

async function call(client: ToolCaller, name: string, args: Record<string, unknown>) {
  return (await client.callTool({ name, arguments: args })) as {
    structuredContent?: Structured;
    isError?: boolean;
    content?: unknown;
  };
}

async function createSession(client: ToolCaller, language: string): Promise<string> {
  const created = await call(client, 'create_session', { language });
  return (created.structuredContent as { session: { id: string } }).session.id;
}

const DISCOVER_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': MODERN,
  'mcp-method': 'server/discover',
};

/** A 2026-07-28 server/discover body, envelope as the spec wants it; `pad` makes it larger. */
function discoverBody(pad = ''): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'server/discover',
    params: {
      _meta: {
        [PROTOCOL_VERSION_META_KEY]: MODERN,
        [CLIENT_INFO_META_KEY]: { name: 'raw', version: '1' },
        [CLIENT_CAPABILITIES_META_KEY]: {},
        ...(pad === '' ? {} : { pad }),
      },
    },
  });
}

function discover(url: string, token?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { ...DISCOVER_HEADERS, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: discoverBody(),
  });
}

/** A raw discover over node:http, with full control over Host and Origin. */
function rawDiscover(port: number, headers: Record<string, string>, body = discoverBody()): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        headers: { host: `127.0.0.1:${port}`, ...DISCOVER_HEADERS, ...headers },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e),
    );
    req.end(body);
  });
}

/** A v1 stdio transport that records the revision the v1 client agreed on. */
class RecordingStdioTransport extends StdioClientTransport {
  protocolVersion: string | undefined;
  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function processAlive(marker: string): boolean {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === marker) return true;
    } catch {
      // exited meanwhile
    }
  }
  return false;
}

describe('protocol revision 2026-07-28 over Streamable HTTP', () => {
  let server: TestServer;
  let a: ModernClient;

  before(async () => {
    server = await startTestServer({ tokens: [TOKEN_A, TOKEN_B], maxBodyBytes: 256 * 1024 });
    a = await connectModernHttpClient(server.http.url, { token: TOKEN_A });
  });
  after(async () => {
    await a.close();
    await server.close();
  });

  it('a v2 client negotiates 2026-07-28 through server/discover, holding no MCP session', async () => {
    assert.equal(a.getNegotiatedProtocolVersion(), MODERN);
    assert.equal(a.getProtocolEra(), 'modern');
    const pinned = await connectModernHttpClient(server.http.url, { token: TOKEN_A, mode: { pin: MODERN } });
    try {
      assert.equal(pinned.getNegotiatedProtocolVersion(), MODERN);
      const names = (await pinned.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('execute_code') && names.includes('create_session'), names.join(','));
    } finally {
      await pinned.close();
    }
    const raw = await discover(server.http.url, TOKEN_A);
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('mcp-session-id'), null, 'stateless: no Mcp-Session-Id');
    const body = (await raw.json()) as { result: { supportedVersions: string[] } };
    assert.ok(body.result.supportedVersions.includes(MODERN));
    assert.equal(server.http.sessionCount(), 0, 'the modern path keeps no MCP sessions');
  });

  it('execute_code runs python and javascript one-shot', async () => {
    const py = await call(a, 'execute_code', { language: 'python', code: 'print(2**10)' });
    assert.equal(py.structuredContent?.['status'], 'ok', firstText(py));
    assert.equal(py.structuredContent?.['stdout'], '1024\n');
    const js = await call(a, 'execute_code', {
      language: 'javascript',
      code: 'console.log([1, 2, 3].map((x) => x * 2).join(","))',
    });
    assert.equal(js.structuredContent?.['status'], 'ok', firstText(js));
    assert.equal(js.structuredContent?.['stdout'], '2,4,6\n');
    const failed = await call(a, 'execute_code', { language: 'python', code: 'x = 1\nraise ValueError("boom")' });
    assert.equal(failed.isError, true);
    assert.equal((failed.structuredContent?.['error'] as Structured)['type'], 'ValueError');
  });

  it('a code session created in one request is used by later requests, new connections and the 2025 stack', async () => {
    const id = await createSession(a, 'python');
    await call(a, 'execute_code', { language: 'python', code: 'n = 41', session_id: id });
    const next = await call(a, 'execute_code', { language: 'python', code: 'print(n + 1)', session_id: id });
    assert.equal(next.structuredContent?.['stdout'], '42\n');

    const again = await connectModernHttpClient(server.http.url, { token: TOKEN_A });
    const v1 = new Client({ name: 'codemode-e2e-v1', version: '1' });
    await v1.connect(
      new StreamableHTTPClientTransport(new URL(server.http.url), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN_A}` } },
      }),
    );
    try {
      const fresh = await call(again, 'execute_code', { language: 'python', code: 'n += 1; print(n)', session_id: id });
      assert.equal(fresh.structuredContent?.['stdout'], '42\n', 'a new 2026-07-28 connection sees the session');
      const listed = await call(v1, 'list_sessions', {});
      const ids = (listed.structuredContent?.['sessions'] as { id: string }[]).map((s) => s.id);
      assert.ok(ids.includes(id), 'the same principal on a 2025 revision sees it too');
      const history = await again.readResource({ uri: `codemode://sessions/${id}/history` });
      const runs = JSON.parse((history.contents[0] as { text: string }).text) as Structured[];
      assert.equal(runs.length, 3);
    } finally {
      await call(again, 'close_session', { session_id: id });
      await again.close();
      await v1.close();
    }
  });

  it('sends progress notifications carrying the output so far', async () => {
    const messages: string[] = [];
    const result = (await a.callTool(
      {
        name: 'execute_code',
        arguments: {
          language: 'python',
          code: 'import time\nfor i in range(4):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.25)',
        },
      },
      { onprogress: (p) => messages.push(p.message ?? '') },
    )) as { structuredContent?: Structured };
    assert.equal(result.structuredContent?.['status'], 'ok');
    assert.ok(messages.length >= 2, `expected several progress notifications, got ${messages.length}`);
    assert.ok(messages.some((m) => m.includes('tick 0')));
    assert.ok(messages.some((m) => m.includes('tick 3')));
  });

  it('cancelling the request stops the run: status cancelled in the history and the process is gone', async () => {
    const id = await createSession(a, 'bash');
    const controller = new AbortController();
    const marker = `cancel-modern-${Date.now()}`;
    let started = false;
    const pending = a.callTool(
      {
        name: 'execute_code',
        arguments: { language: 'bash', code: `echo started; exec -a ${marker} sleep 30`, session_id: id },
      },
      { signal: controller.signal, onprogress: () => (started = true), resetTimeoutOnProgress: true },
    );
    pending.catch(() => {});
    assert.ok(await waitFor(async () => started && processAlive(marker), 10_000), 'the run is going');
    controller.abort('user cancelled');
    await assert.rejects(pending);
    // Stateless HTTP: the client drops the request's connection and the server aborts the run.
    assert.ok(await waitFor(async () => !processAlive(marker), 5000), 'the cancelled run left no process behind');
    const statuses = async () => {
      const read = await a.readResource({ uri: `codemode://sessions/${id}/history` });
      return (JSON.parse((read.contents[0] as { text: string }).text) as Structured[]).map((r) => r['status']);
    };
    assert.ok(await waitFor(async () => (await statuses()).length === 1, 5000));
    assert.deepEqual(await statuses(), ['cancelled']);
    await call(a, 'close_session', { session_id: id });
  });

  it('refuses a 2026-07-28 request without a bearer token or with a wrong one (401)', async () => {
    const none = await discover(server.http.url);
    assert.equal(none.status, 401);
    assert.match(String(none.headers.get('www-authenticate')), /^Bearer/);
    const wrong = await discover(server.http.url, 'wrong-token-0123456789abcdef');
    assert.equal(wrong.status, 401);
    await assert.rejects(connectModernHttpClient(server.http.url));
    await assert.rejects(connectModernHttpClient(server.http.url, { token: 'wrong-token-0123456789abcdef' }));
  });

  it('guards 2026-07-28 requests like 2025 ones: foreign Host/Origin 403, oversized body 413, not JSON 415', async () => {
    const port = server.http.port;
    const auth = { authorization: `Bearer ${TOKEN_A}` };
    assert.equal(await rawDiscover(port, auth), 200);
    assert.equal(await rawDiscover(port, { ...auth, origin: 'http://evil.example' }), 403);
    assert.equal(await rawDiscover(port, { ...auth, host: `evil.example:${port}` }), 403);
    assert.equal(await rawDiscover(port, auth, discoverBody('x'.repeat(300 * 1024))), 413);
    assert.equal(await rawDiscover(port, { ...auth, 'content-type': 'text/plain' }), 415);
  });

  it("another principal cannot see, run in, read or close a client's code session", async () => {
    const b = await connectModernHttpClient(server.http.url, { token: TOKEN_B });
    try {
      const id = await createSession(a, 'bash');
      await call(a, 'write_file', { session_id: id, path: 'secret.txt', content: 's3cret' });

      const listed = await call(b, 'list_sessions', {});
      assert.deepEqual(listed.structuredContent?.['sessions'], []);
      for (const [name, args] of [
        ['execute_code', { language: 'bash', code: 'cat secret.txt', session_id: id }],
        ['read_file', { session_id: id, path: 'secret.txt' }],
        ['close_session', { session_id: id }],
      ] as const) {
        const res = await call(b, name, args);
        assert.equal(res.isError, true, `${name} is refused`);
        assert.match(firstText(res), /NOT_FOUND/);
        assert.doesNotMatch(firstText(res), /s3cret/);
      }
      await assert.rejects(b.readResource({ uri: `codemode://sessions/${id}/files/secret.txt` }), /not found/i);
      const { resources } = await b.listResources();
      assert.ok(!resources.some((r) => r.uri.includes(id)), 'not listed as a resource either');

      const still = await call(a, 'read_file', { session_id: id, path: 'secret.txt' });
      assert.equal(still.structuredContent?.['content'], 's3cret');
      await call(a, 'close_session', { session_id: id });
    } finally {
      await b.close();
    }
  });

  it('2025 clients on the same endpoint: v1 and v2 negotiate 2025-11-25 with a session, a pinned client 2025-06-18', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(server.http.url), {
      requestInit: { headers: { authorization: `Bearer ${TOKEN_A}` } },
    });
    const v1 = new Client({ name: 'codemode-e2e-v1', version: '1' });
    await v1.connect(transport);
    const pinned = new ModernClient(
      { name: 'codemode-e2e-2025-06-18', version: '1' },
      { versionNegotiation: { mode: 'legacy' }, supportedProtocolVersions: ['2025-06-18'] },
    );
    await pinned.connect(
      new ModernHttpTransport(new URL(server.http.url), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN_A}` } },
      }) as ModernTransport,
    );
    const v2Transport = new ModernHttpTransport(new URL(server.http.url), {
      requestInit: { headers: { authorization: `Bearer ${TOKEN_A}` } },
    });
    const v2 = new ModernClient(
      { name: 'codemode-e2e-2025-11-25', version: '1' },
      { versionNegotiation: { mode: 'legacy' } },
    );
    await v2.connect(v2Transport as ModernTransport);
    try {
      assert.equal(transport.protocolVersion, '2025-11-25');
      assert.ok(transport.sessionId, '2025 traffic keeps its sessionful Mcp-Session-Id');
      assert.equal(v2.getNegotiatedProtocolVersion(), '2025-11-25');
      assert.ok(v2Transport.sessionId, 'the v2 client holds an MCP session on 2025-11-25');
      assert.equal(pinned.getNegotiatedProtocolVersion(), '2025-06-18');
      assert.equal(pinned.getProtocolEra(), 'legacy');
      for (const client of [v1, v2, pinned] as ToolCaller[]) {
        const r = await call(client, 'execute_code', { language: 'python', code: 'print("old")' });
        assert.equal(r.structuredContent?.['stdout'], 'old\n');
      }
    } finally {
      await v1.close();
      await v2.close();
      await pinned.close();
    }
  });
});

describe('protocol revision 2026-07-28 over stdio (spawned codemode serve)', () => {
  let client: ModernClient;

  before(async () => {
    client = new ModernClient({ name: 'codemode-stdio-v2', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(
      new ModernStdioTransport({ command: process.execPath, args: SERVE, cwd: ROOT, stderr: 'pipe' }),
    );
  });
  after(async () => {
    await client.close();
  });

  it('a v2 client negotiates 2026-07-28 and runs python and javascript one-shot', async () => {
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    assert.equal(client.getProtocolEra(), 'modern');
    const py = await call(client, 'execute_code', { language: 'python', code: 'print(sum(range(10)))' });
    assert.equal(py.structuredContent?.['stdout'], '45\n', firstText(py));
    const js = await call(client, 'execute_code', { language: 'javascript', code: 'console.log(6 * 7)' });
    assert.equal(js.structuredContent?.['stdout'], '42\n', firstText(js));
  });

  it('a code session created in one call is used in a later call', async () => {
    const id = await createSession(client, 'python');
    await call(client, 'execute_code', { language: 'python', code: 'words = ["a", "b"]', session_id: id });
    const next = await call(client, 'execute_code', { language: 'python', code: 'print(len(words))', session_id: id });
    assert.equal(next.structuredContent?.['stdout'], '2\n');
    const closed = await call(client, 'close_session', { session_id: id });
    assert.deepEqual(closed.structuredContent, { session_id: id, done: true });
  });

  it('progress reaches the client and cancelling the request stops the run', async () => {
    const id = await createSession(client, 'bash');
    const controller = new AbortController();
    const marker = `cancel-stdio-modern-${Date.now()}`;
    let started = false;
    const pending = client.callTool(
      {
        name: 'execute_code',
        arguments: { language: 'bash', code: `echo started; exec -a ${marker} sleep 30`, session_id: id },
      },
      { signal: controller.signal, onprogress: () => (started = true), resetTimeoutOnProgress: true },
    );
    pending.catch(() => {});
    assert.ok(await waitFor(async () => started && processAlive(marker), 10_000), 'progress arrived, the run is going');
    controller.abort('user cancelled');
    await assert.rejects(pending);
    assert.ok(await waitFor(async () => !processAlive(marker), 5000), 'the cancelled run left no process behind');
    const statuses = async () => {
      const read = await client.readResource({ uri: `codemode://sessions/${id}/history` });
      return (JSON.parse((read.contents[0] as { text: string }).text) as Structured[]).map((r) => r['status']);
    };
    assert.ok(await waitFor(async () => (await statuses()).length === 1, 5000), 'the run is recorded');
    assert.deepEqual(await statuses(), ['cancelled']);
    await call(client, 'close_session', { session_id: id });
  });

  it('2025 clients: v1 and v2 negotiate 2025-11-25, a client pinned to 2025-06-18 gets 2025-06-18', async () => {
    const transport = new RecordingStdioTransport({
      command: process.execPath,
      args: SERVE,
      cwd: ROOT,
      stderr: 'pipe',
    });
    const v1 = new Client({ name: 'codemode-stdio-v1', version: '1' });
    const pinned = new ModernClient(
      { name: 'codemode-stdio-2025-06-18', version: '1' },
      { versionNegotiation: { mode: 'legacy' }, supportedProtocolVersions: ['2025-06-18'] },
    );
    const v2 = new ModernClient(
      { name: 'codemode-stdio-2025-11-25', version: '1' },
      { versionNegotiation: { mode: 'legacy' } },
    );
    try {
      await v1.connect(transport);
      assert.equal(transport.protocolVersion, '2025-11-25');
      const r = await call(v1, 'execute_code', { language: 'bash', code: 'echo v1' });
      assert.equal(r.structuredContent?.['stdout'], 'v1\n');
      await pinned.connect(
        new ModernStdioTransport({ command: process.execPath, args: SERVE, cwd: ROOT, stderr: 'pipe' }),
      );
      assert.equal(pinned.getNegotiatedProtocolVersion(), '2025-06-18');
      const p = await call(pinned, 'execute_code', { language: 'bash', code: 'echo pinned' });
      assert.equal(p.structuredContent?.['stdout'], 'pinned\n');
      await v2.connect(new ModernStdioTransport({ command: process.execPath, args: SERVE, cwd: ROOT, stderr: 'pipe' }));
      assert.equal(v2.getNegotiatedProtocolVersion(), '2025-11-25');
      const q = await call(v2, 'execute_code', { language: 'bash', code: 'echo v2' });
      assert.equal(q.structuredContent?.['stdout'], 'v2\n');
    } finally {
      await v1.close();
      await pinned.close();
      await v2.close();
    }
  });
});
