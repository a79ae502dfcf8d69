/**
 * `codemode serve --http --tls-cert --tls-key`: HTTPS with a self-signed
 * certificate made at test time (openssl when present, else node's own
 * X509 support is not enough to sign, so the test is skipped without it).
 * A client that trusts the certificate as its CA gets MCP over TLS; one that
 * does not is refused by TLS itself.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnServe } from './serve-process.js';

const TOKEN = 'https-token-0123456789abcdef';
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

function post(url: URL, body: unknown, ca: Buffer | undefined, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ...(ca === undefined ? {} : { ca }),
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The JSON-RPC result of an SSE or JSON reply. */
function result(body: string): Record<string, unknown> {
  // SSE: the last data line (the first is the empty priming event that carries an event id).
  const data = [...body.matchAll(/^data: (.+)$/gm)].map((m) => m[1] ?? '');
  const line = data.at(-1) ?? body;
  return (JSON.parse(line) as { result: Record<string, unknown> }).result;
}

describe('serve over HTTPS', { skip: hasOpenssl ? false : 'openssl is not installed' }, () => {
  let dir: string;
  let child: ChildProcess;
  let url: URL;
  let ca: Buffer;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-https-'));
    chmodSync(dir, 0o711);
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(made.status, 0, made.stderr);
    ca = readFileSync(path.join(dir, 'cert.pem'));
    writeFileSync(path.join(dir, 'tokens'), `${TOKEN}\n`, { mode: 0o600 });
    ({ child, url } = await spawnServe(
      [
        '--no-store',
        '--http',
        '--port',
        '0',
        '--token-file',
        path.join(dir, 'tokens'),
        '--tls-cert',
        path.join(dir, 'cert.pem'),
        '--tls-key',
        path.join(dir, 'key.pem'),
      ],
      { CODEMODE_HOME: dir },
    ));
  });
  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves MCP over TLS to a client that trusts the certificate', async () => {
    assert.equal(url.protocol, 'https:');
    const init = await post(
      url,
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'tls', version: '1' } },
      },
      ca,
    );
    assert.equal(init.status, 200, init.body);
    assert.equal((result(init.body)['serverInfo'] as { name: string }).name, 'codemode');
    const session = init.headers['mcp-session-id'] as string;
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, ca, headers);
    const run = await post(
      url,
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'execute_code', arguments: { language: 'bash', code: 'echo over tls' } },
      },
      ca,
      headers,
    );
    assert.equal((result(run.body)['structuredContent'] as { stdout: string }).stdout, 'over tls\n');
  });

  it('is refused by TLS when the client does not trust the certificate', async () => {
    await assert.rejects(
      post(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, undefined),
      /self-signed certificate|DEPTH_ZERO_SELF_SIGNED_CERT/,
    );
  });
});
