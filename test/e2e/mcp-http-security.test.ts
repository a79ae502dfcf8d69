/**
 * Security properties of the Streamable HTTP server, each named in its test:
 * bearer auth, principal isolation of MCP sessions and code sessions, DNS
 * rebinding protection (Host and Origin), request body limits.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { startHttpServer } from '../../src/mcp/http-server.js';
import { connectHttpClient, firstText, startTestServer, type TestServer } from './mcp-harness.js';

const TOKEN_A = 'token-a-0123456789abcdef';
const TOKEN_B = 'token-b-0123456789abcdef';

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request with full control over Host and the other headers. */
function raw(
  port: number,
  options: { path?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer },
) {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/mcp',
        method: options.method ?? 'POST',
        headers: {
          host: `127.0.0.1:${port}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...options.headers,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e),
    );
    req.end(options.body ?? JSON.stringify(INITIALIZE));
  });
}

describe('HTTP server security', () => {
  let server: TestServer;
  let port: number;

  before(async () => {
    server = await startTestServer({ tokens: [TOKEN_A, TOKEN_B], maxBodyBytes: 64 * 1024 });
    port = server.http.port;
  });
  after(async () => {
    await server.close();
  });

  it('serves /healthz without a token', async () => {
    const res = await raw(port, { path: '/healthz', method: 'GET', body: '' });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).status, 'ok');
  });

  it('refuses a request without a bearer token (401 with WWW-Authenticate)', async () => {
    const res = await raw(port, {});
    assert.equal(res.status, 401);
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    await assert.rejects(connectHttpClient(server.http.url));
  });

  it('refuses a wrong bearer token (401)', async () => {
    const res = await raw(port, { headers: { authorization: 'Bearer not-the-token-0123456789' } });
    assert.equal(res.status, 401);
    await assert.rejects(connectHttpClient(server.http.url, 'wrong-token-0123456789abcdef'));
  });

  it('accepts a configured token', async () => {
    const res = await raw(port, { headers: { authorization: `Bearer ${TOKEN_A}` } });
    assert.equal(res.status, 200);
    assert.ok(res.headers['mcp-session-id']);
  });

  it("another principal cannot use a client's MCP session id (404, as if it did not exist)", async () => {
    const init = await raw(port, { headers: { authorization: `Bearer ${TOKEN_A}` } });
    const sessionId = String(init.headers['mcp-session-id']);
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
    const stolen = await raw(port, {
      headers: {
        authorization: `Bearer ${TOKEN_B}`,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
      },
      body: list,
    });
    assert.equal(stolen.status, 404);
    const own = await raw(port, {
      headers: {
        authorization: `Bearer ${TOKEN_A}`,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
      },
      body: list,
    });
    assert.equal(own.status, 200, 'the owner still can');
  });

  it("another principal cannot see, run in, read or close a client's code session", async () => {
    const a = await connectHttpClient(server.http.url, TOKEN_A);
    const b = await connectHttpClient(server.http.url, TOKEN_B);
    try {
      const created = await a.callTool({ name: 'create_session', arguments: { language: 'bash' } });
      const id = (created.structuredContent as { session: { id: string } }).session.id;
      await a.callTool({ name: 'write_file', arguments: { session_id: id, path: 'secret.txt', content: 's3cret' } });

      const listed = await b.callTool({ name: 'list_sessions', arguments: {} });
      assert.deepEqual((listed.structuredContent as { sessions: unknown[] }).sessions, []);
      for (const [name, args] of [
        ['execute_code', { language: 'bash', code: 'cat secret.txt', session_id: id }],
        ['read_file', { session_id: id, path: 'secret.txt' }],
        ['close_session', { session_id: id }],
      ] as const) {
        const res = await b.callTool({ name, arguments: args });
        assert.equal(res.isError, true, `${name} is refused`);
        assert.match(firstText(res), /NOT_FOUND/);
        assert.doesNotMatch(firstText(res), /s3cret/);
      }
      await assert.rejects(b.readResource({ uri: `codemode://sessions/${id}/files/secret.txt` }), /not found/i);
      const { resources } = await b.listResources();
      assert.ok(!resources.some((r) => r.uri.includes(id)), 'not listed as a resource either');

      const still = await a.callTool({ name: 'read_file', arguments: { session_id: id, path: 'secret.txt' } });
      assert.equal((still.structuredContent as { content: string }).content, 's3cret');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rejects a foreign Origin (DNS rebinding) with 403', async () => {
    const res = await raw(port, { headers: { authorization: `Bearer ${TOKEN_A}`, origin: 'http://evil.example' } });
    assert.equal(res.status, 403);
    const otherPort = await raw(port, {
      headers: { authorization: `Bearer ${TOKEN_A}`, origin: 'http://localhost:1' },
    });
    assert.equal(otherPort.status, 403, 'a loopback origin on another port is foreign too');
    const ok = await raw(port, { headers: { authorization: `Bearer ${TOKEN_A}`, origin: `http://localhost:${port}` } });
    assert.equal(ok.status, 200);
  });

  it('rejects a foreign Host header (DNS rebinding) with 403', async () => {
    const res = await raw(port, { headers: { authorization: `Bearer ${TOKEN_A}`, host: `evil.example:${port}` } });
    assert.equal(res.status, 403);
    const ipv6 = await raw(port, { headers: { authorization: `Bearer ${TOKEN_A}`, host: `[::1]:${port}` } });
    assert.equal(ipv6.status, 200);
  });

  it('rejects an oversized request body with 413', async () => {
    const big = JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, pad: 'x'.repeat(100 * 1024) } });
    const res = await raw(port, { headers: { authorization: `Bearer ${TOKEN_A}` }, body: big });
    assert.equal(res.status, 413);
  });

  it('refuses to listen beyond loopback without a token', async () => {
    await assert.rejects(
      startHttpServer({ host: '0.0.0.0', port: 0, createServer: () => assert.fail('never built') }),
      /without a bearer token/,
    );
    await assert.rejects(
      startHttpServer({ host: '0.0.0.0', port: 0, allowAnonymous: true, createServer: () => assert.fail('never') }),
      /anonymous access is for loopback only/,
    );
    await assert.rejects(
      startHttpServer({
        host: '127.evil.com',
        port: 0,
        allowAnonymous: true,
        createServer: () => assert.fail('never'),
      }),
      /anonymous access is for loopback only/,
      'a host name that merely starts with 127. is not loopback',
    );
  });

  it('requires a bearer token on loopback too: without one it does not even start', async () => {
    await assert.rejects(
      startHttpServer({ host: '127.0.0.1', port: 0, createServer: () => assert.fail('never built') }),
      /without a bearer token/,
    );
  });

  it("one principal never gets another principal's cached result", async () => {
    const a = await connectHttpClient(server.http.url, TOKEN_A);
    const b = await connectHttpClient(server.http.url, TOKEN_B);
    try {
      const code = `echo "run $(date +%s%N) $RANDOM"`;
      const run = async (c: typeof a) => {
        const r = await c.callTool({ name: 'execute_code', arguments: { language: 'bash', code, cache: true } });
        return r.structuredContent as { stdout: string; cached?: boolean };
      };
      const first = await run(a);
      const again = await run(a);
      assert.equal(again.stdout, first.stdout, "A's repeat is answered from the cache");
      const other = await run(b);
      assert.notEqual(other.stdout, first.stdout, "B ran its own program, not A's cached one");
    } finally {
      await a.close();
      await b.close();
    }
  });
});
