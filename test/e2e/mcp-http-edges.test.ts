/**
 * The Streamable HTTP server at the edges of HTTP and JSON-RPC, on raw
 * sockets: malformed request lines and headers get 400 (never 500), errors
 * are short and carry one "MCP error" prefix, a remote Host's 403 says which
 * header and which flag, one principal cannot fill the session table, and a
 * dropped SSE stream resumes with Last-Event-ID.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { isAppError } from '../../src/errors.js';
import { createBareServer } from '../../src/mcp/server.js';
import { startHttpServer, type RunningHttpServer } from '../../src/mcp/http-server.js';
import { connectHttpClient, startTestServer, type TestServer } from './mcp-harness.js';

const TOKEN_A = 'token-a-0123456789abcdef';
const TOKEN_B = 'token-b-0123456789abcdef';
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

interface Raw {
  status: number;
  headers: string;
  body: string;
}

function unchunk(text: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', i);
    const size = parseInt(text.slice(i, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

/** One request written byte for byte (request line and headers as given), read to the end. */
function send(port: number, head: string, body = '', extraHeaders: string[] = []): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      const headers = [
        ...extraHeaders,
        'Content-Type: application/json',
        'Accept: application/json, text/event-stream',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
      ];
      sock.write(`${head}\r\n${headers.join('\r\n')}\r\n\r\n${body}`);
    });
    let out = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sock.destroy();
      const cut = out.indexOf('\r\n\r\n');
      const headers = out.slice(0, cut);
      let body = out.slice(cut + 4);
      if (/transfer-encoding: chunked/i.test(headers)) body = unchunk(body);
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(headers)?.[1] ?? 0), headers, body });
    };
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      out += c;
      // A response is complete at its last chunk or its Content-Length, whether or not the socket closes.
      const cut = out.indexOf('\r\n\r\n');
      if (cut === -1) return;
      const length = /content-length: (\d+)/i.exec(out.slice(0, cut))?.[1];
      if (
        length !== undefined ? Buffer.byteLength(out.slice(cut + 4)) >= Number(length) : out.endsWith('\r\n0\r\n\r\n')
      )
        finish();
    });
    sock.on('error', (e) => (done ? undefined : reject(e)));
    sock.on('close', finish);
  });
}

/** POST /mcp with our Host and a bearer token. */
function post(port: number, token: string, body: string, extra: string[] = []): Promise<Raw> {
  return send(port, 'POST /mcp HTTP/1.1', body, [
    `Host: 127.0.0.1:${port}`,
    `Authorization: Bearer ${token}`,
    ...extra,
  ]);
}

async function initialize(port: number, token: string): Promise<string> {
  const r = await post(port, token, INITIALIZE);
  const id = /mcp-session-id: (\S+)/i.exec(r.headers)?.[1];
  assert.ok(id !== undefined, `${r.status} ${r.body}`);
  return id;
}

/** The JSON-RPC messages of a response, JSON or SSE. */
function messages(r: Raw): { id?: unknown; error?: { code: number; message: string }; method?: string }[] {
  const text = r.body;
  const sse = [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1] ?? '');
  return (sse.length > 0 ? sse : [text.trim()]).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as never);
}

describe('HTTP request edges', () => {
  let server: TestServer;
  let port: number;

  before(async () => {
    server = await startTestServer();
    port = server.http.port;
  });
  after(async () => server.close());

  it('answers an absolute-form request target with 400, not 500', async () => {
    const r = await send(port, `POST http://127.0.0.1:${port}/mcp HTTP/1.1`, INITIALIZE, [
      `Host: 127.0.0.1:${port}`,
      `Authorization: Bearer ${server.token}`,
    ]);
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /origin-form/);
  });

  it('refuses duplicate Host headers with 400', async () => {
    const r = await send(port, 'POST /mcp HTTP/1.1', INITIALIZE, [
      `Host: 127.0.0.1:${port}`,
      'Host: evil.example',
      `Authorization: Bearer ${server.token ?? ''}`,
    ]);
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /more than one Host header/);
  });

  it('answers 100k-deep JSON with 400, not 500', async () => {
    for (const deep of [
      '['.repeat(100_000) + ']'.repeat(100_000),
      '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000),
    ]) {
      const r = await post(port, server.token ?? '', deep);
      assert.equal(r.status, 400, r.body.slice(0, 200));
      assert.match(r.body, /nested deeper than/);
    }
  });

  it('answers tools/call without params with -32602 and a short message, not a schema dump', async () => {
    const session = await initialize(port, server.token ?? '');
    const r = await post(port, server.token ?? '', JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call' }), [
      `Mcp-Session-Id: ${session}`,
      `Mcp-Protocol-Version: ${LATEST_PROTOCOL_VERSION}`,
    ]);
    const [reply] = messages(r);
    assert.equal(reply?.error?.code, -32602);
    assert.equal(reply?.id, 2);
    assert.equal(
      reply?.error?.message,
      'Invalid params: tools/call needs params {"name": "<tool>", "arguments": {...}}',
    );
  });

  it('errors on the 2025 stack carry one "MCP error" prefix, not two', async () => {
    const client = await connectHttpClient(server.http.url, server.token);
    try {
      const failures = [
        client.readResource({ uri: 'codemode://sessions/nope/history' }),
        client.callTool({ name: 'no_such_tool', arguments: {} }),
      ];
      for (const f of failures) {
        const message = await f.then(
          () => 'resolved',
          (e: unknown) => (e as Error).message,
        );
        assert.match(message, /^MCP error -32602: /);
        assert.doesNotMatch(message, /MCP error -?\d+: MCP error/);
      }
    } finally {
      await client.close();
    }
  });

  it('resumes a dropped SSE stream with Last-Event-ID (event ids on every event)', async () => {
    const token = server.token ?? '';
    const session = await initialize(port, token);
    const headers = [`Mcp-Session-Id: ${session}`, `Mcp-Protocol-Version: ${LATEST_PROTOCOL_VERSION}`];
    await post(port, token, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
    const call = await post(
      port,
      token,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: {
          name: 'execute_code',
          arguments: { language: 'bash', code: 'for i in 1 2 3; do echo tick $i; sleep 0.3; done' },
          _meta: { progressToken: 'p' },
        },
      }),
      headers,
    );
    const ids = [...call.body.matchAll(/^id: (\S+)$/gm)].map((m) => m[1] ?? '');
    assert.ok(ids.length >= 2, `events carry ids: ${call.headers}\n${call.body.slice(0, 1000)}`);
    // As if the stream dropped after the first event: the rest is replayed, ending with the result.
    const resumed = await send(port, 'GET /mcp HTTP/1.1', '', [
      `Host: 127.0.0.1:${port}`,
      `Authorization: Bearer ${token}`,
      ...headers,
      `Last-Event-ID: ${ids[0] ?? ''}`,
    ]);
    assert.equal(resumed.status, 200, resumed.body);
    const replayedIds = [...resumed.body.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(replayedIds, ids.slice(1));
    assert.equal(messages(resumed).at(-1)?.id, 3, 'the replay ends with the result');
  });
});

describe('remote Host refusal', () => {
  let http: RunningHttpServer;
  before(async () => {
    http = await startHttpServer({
      host: '0.0.0.0',
      port: 0,
      tokens: [TOKEN_A],
      createServer: () => createBareServer(),
    });
  });
  after(async () => http.close());

  it('says which header was refused and the flag that allows it', async () => {
    const r = await send(http.port, 'POST /mcp HTTP/1.1', INITIALIZE, [
      `Host: build-box:${http.port}`,
      `Authorization: Bearer ${TOKEN_A}`,
    ]);
    assert.equal(r.status, 403);
    const message = (JSON.parse(r.body) as { message: string }).message;
    assert.match(message, /^Host header "build-box:\d+" refused/);
    assert.match(message, /--allow-host build-box/);
  });
});

describe('--allow-host NAME:PORT: behind a proxy that listens on another port', () => {
  let http: RunningHttpServer;
  before(async () => {
    http = await startHttpServer({
      host: '0.0.0.0',
      port: 0,
      tokens: [TOKEN_A],
      allowedHosts: ['codemode.example.com:443'],
      createServer: () => createBareServer(),
    });
  });
  after(async () => http.close());

  const status = async (hostHeader: string, origin?: string) => {
    const r = await send(http.port, 'POST /mcp HTTP/1.1', INITIALIZE, [
      `Host: ${hostHeader}`,
      `Authorization: Bearer ${TOKEN_A}`,
      ...(origin === undefined ? [] : [`Origin: ${origin}`]),
    ]);
    return { status: r.status, body: r.body };
  };

  it("accepts the proxy's name with its port, or with none (443 is the default clients leave out)", async () => {
    assert.equal((await status('codemode.example.com:443')).status, 200);
    assert.equal((await status('codemode.example.com')).status, 200);
    assert.equal((await status('codemode.example.com', 'https://codemode.example.com')).status, 200);
  });

  it('refuses that name on any other port, and names the flag that would allow it', async () => {
    const r = await status('codemode.example.com:8443');
    assert.equal(r.status, 403);
    assert.match((JSON.parse(r.body) as { message: string }).message, /--allow-host codemode\.example\.com:8443/);
    assert.equal((await status(`codemode.example.com:${http.port}`)).status, 403);
    assert.equal((await status('codemode.example.com', 'https://codemode.example.com:8443')).status, 403);
    assert.equal((await status('other.example.com:443')).status, 403);
  });

  it('refuses an entry that is not NAME or NAME:PORT at start', async () => {
    for (const entry of ['http://x', 'a b', 'x:0', 'x:99999', 'x:']) {
      await assert.rejects(
        startHttpServer({ port: 0, tokens: [TOKEN_A], allowedHosts: [entry], createServer: () => createBareServer() }),
        (e: unknown) => isAppError(e, 'INVALID_ARGUMENT'),
        entry,
      );
    }
  });
});

describe('per-principal MCP session cap', () => {
  let http: RunningHttpServer;
  let lenient: RunningHttpServer;
  before(async () => {
    const common = {
      port: 0,
      tokens: [TOKEN_A, TOKEN_B],
      createServer: () => createBareServer(),
      maxSessionsPerPrincipal: 2,
    };
    http = await startHttpServer({ ...common, atCapIdleMs: 3_600_000 });
    lenient = await startHttpServer({ ...common, atCapIdleMs: 0 });
  });
  after(async () => {
    await http.close();
    await lenient.close();
  });

  it('gives a principal at its cap 429 with a clear message, and only that principal', async () => {
    await initialize(http.port, TOKEN_A);
    await initialize(http.port, TOKEN_A);
    const third = await post(http.port, TOKEN_A, INITIALIZE);
    assert.equal(third.status, 429, third.body);
    assert.match(third.body, /Too many open MCP sessions for this token \(2, settings http\.maxSessionsPerPrincipal\)/);
    assert.match(third.headers, /retry-after: \d+/i);
    await initialize(http.port, TOKEN_B); // another principal is not locked out
    assert.equal(http.sessionCount(), 3);
  });

  it("evicts the principal's own oldest idle session first", async () => {
    const first = await initialize(lenient.port, TOKEN_A);
    const second = await initialize(lenient.port, TOKEN_A);
    const other = await initialize(lenient.port, TOKEN_B);
    await initialize(lenient.port, TOKEN_A); // at the cap: the oldest idle one goes
    assert.equal(lenient.sessionCount(), 3);
    const ping = (token: string, id: string) =>
      post(lenient.port, token, JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' }), [
        `Mcp-Session-Id: ${id}`,
        `Mcp-Protocol-Version: ${LATEST_PROTOCOL_VERSION}`,
      ]);
    assert.equal((await ping(TOKEN_A, first)).status, 404, 'the oldest was closed');
    assert.equal((await ping(TOKEN_A, second)).status, 200);
    assert.equal((await ping(TOKEN_B, other)).status, 200, "another principal's session is untouched");
  });
});
