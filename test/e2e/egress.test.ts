import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAppError } from '../../src/errors.js';
import { KitHost } from '../../src/projects/kits-host.js';
import { KitsSessionProvider } from '../../src/projects/kits-session.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import { MemorySessionStore } from '../../src/store/memory-session-store.js';

const owner = 'net-user';
let root: string;
let envDir: string;
let manager: SessionManager;
let sandbox: Sandbox;
let allowedPort: number;
let deniedPort: number;
const servers: http.Server[] = [];
const hits = { allowed: 0, denied: 0 };

async function origin(name: 'allowed' | 'denied'): Promise<number> {
  const server = http.createServer((req, res) => {
    hits[name]++;
    const body = req.url === '/big' ? 'x'.repeat(64 * 1024) : `hello from the ${name} origin`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

const py = (url: string) =>
  [
    'import urllib.request, urllib.error',
    'try:',
    `    print(urllib.request.urlopen(${JSON.stringify(url)}, timeout=10).read().decode())`,
    'except urllib.error.HTTPError as e:',
    '    print("HTTP", e.code, e.read().decode().strip())',
    'except Exception as e:',
    '    print("FAILED", type(e).__name__, e)',
  ].join('\n');

function egressLog(sessionId: string): { decision: string; host: string; port: number }[] {
  return readFileSync(path.join(envDir, `${sessionId}.egress.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { decision: string; host: string; port: number });
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-egress-'));
  chmodSync(root, 0o755);
  envDir = path.join(root, 'session-env');
  allowedPort = await origin('allowed');
  deniedPort = await origin('denied');
  sandbox = await createProcessSandbox();
  manager = new SessionManager({
    sandbox,
    store: new MemorySessionStore(),
    workspaceRoot: path.join(root, 'ws'),
    pool: false,
    environments: new KitsSessionProvider({
      kits: new KitHost({ stateDir: root }),
      policies: {
        web: { allow: [`localhost:${allowedPort}`], maxBytes: 1024 * 1024, maxRequests: 4 },
        tiny: { allow: [`localhost:${allowedPort}`], maxBytes: 4096, maxRequests: 100 },
      },
      dir: envDir,
    }),
  });
});

after(async () => {
  await manager.shutdown();
  for (const s of servers) s.close();
  rmSync(root, { recursive: true, force: true });
});

describe('egress proxy (sessions with a network policy)', () => {
  it('reaches an allowed host through the proxy; a denied host gets 403 from the proxy and is logged; the request cap holds', async () => {
    const s = await manager.create({ language: 'python', owner, network: 'web' });
    assert.equal(s.network, 'web');
    const ok = await manager.execute(s.id, py(`http://localhost:${allowedPort}/`), { owner });
    assert.equal(ok.stdout.trim(), 'hello from the allowed origin', ok.stderr);

    const denied = await manager.execute(s.id, py(`http://127.0.0.1:${deniedPort}/`), { owner });
    assert.match(denied.stdout, /^HTTP 403 codemode egress: 127\.0\.0\.1:\d+ is not allowed by network policy "web"/);
    assert.equal(hits.denied, 0, 'the denied origin never saw a request');

    // CONNECT (what HTTPS clients send) goes through the same allow-list.
    const tunnel = await manager.execute(
      s.id,
      [
        'import socket',
        's = socket.create_connection(("127.0.0.1", 3128))',
        `s.sendall(b"CONNECT localhost:${allowedPort} HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n")`,
        'print(s.recv(100).split(b"\\r\\n")[0].decode())',
        `s.sendall(b"GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n")`,
        'data = b""',
        'while True:',
        '    c = s.recv(4096)',
        '    if not c: break',
        '    data += c',
        'print(data.split(b"\\r\\n\\r\\n", 1)[1].decode())',
        's.close()',
      ].join('\n'),
      { owner },
    );
    assert.equal(
      tunnel.stdout.trim(),
      'HTTP/1.1 200 Connection Established\nhello from the allowed origin',
      tunnel.stderr,
    );

    // Two connections of four used (plain and CONNECT); the denied one does not count.
    await manager.execute(s.id, py(`http://localhost:${allowedPort}/`), { owner });
    await manager.execute(s.id, py(`http://localhost:${allowedPort}/`), { owner });
    const capped = await manager.execute(s.id, py(`http://localhost:${allowedPort}/`), { owner });
    assert.match(capped.stdout, /^HTTP 429 codemode egress: network policy "web" allows 4 connections per session/);

    const log = egressLog(s.id);
    assert.deepEqual(
      log.map((e) => e.decision),
      ['allowed', 'denied', 'allowed', 'allowed', 'allowed', 'request_cap'],
    );
    assert.equal(log[1]!.port, deniedPort);
    await manager.close(s.id, owner);
  });

  it('a JavaScript session reaches an allowed host by sending its request to the proxy', async () => {
    const s = await manager.create({ language: 'javascript', owner, network: 'web' });
    const r = await manager.execute(
      s.id,
      [
        "const http = require('node:http');",
        'const body = await new Promise((resolve, reject) =>',
        `  http.get({ host: '127.0.0.1', port: 3128, path: 'http://localhost:${allowedPort}/' }, (res) => {`,
        "    let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(b));",
        "  }).on('error', reject));",
        'console.log(body);',
      ].join('\n'),
      { owner },
    );
    assert.equal(r.stdout.trim(), 'hello from the allowed origin', r.stderr + JSON.stringify(r.error));
    await manager.close(s.id, owner);
  });

  it('the byte cap cuts a connection off', async () => {
    const s = await manager.create({ language: 'python', owner, network: 'tiny' });
    const r = await manager.execute(s.id, py(`http://localhost:${allowedPort}/big`), { owner });
    assert.doesNotMatch(r.stdout, /^x{65536}/, 'the 64 KiB body did not come through');
    assert.match(r.stdout, /FAILED|HTTP 429/);
    assert.ok(egressLog(s.id).some((e) => e.decision === 'byte_cap'));
    await manager.close(s.id, owner);
  });

  it('the caps hold over the whole session: a resumed session keeps counting', async () => {
    const store = new MemorySessionStore();
    const make = () =>
      new SessionManager({
        sandbox,
        store,
        workspaceRoot: path.join(root, 'ws-resume'),
        pool: false,
        environments: new KitsSessionProvider({
          kits: new KitHost({ stateDir: root }),
          policies: { once: { allow: [`localhost:${allowedPort}`], maxBytes: 1024 * 1024, maxRequests: 1 } },
          dir: envDir,
        }),
      });
    const first = make();
    const s = await first.create({ language: 'python', owner, network: 'once' });
    const ok = await first.execute(s.id, py(`http://localhost:${allowedPort}/`), { owner });
    assert.equal(ok.stdout.trim(), 'hello from the allowed origin');
    await first.shutdown(); // suspended, resumable
    const second = make();
    try {
      const resumed = await second.create({ language: 'python', owner, resumeId: s.id });
      assert.equal(resumed.network, 'once');
      const again = await second.execute(s.id, py(`http://localhost:${allowedPort}/`), { owner });
      assert.match(again.stdout, /^HTTP 429 codemode egress: network policy "once" allows 1 connections per session/);
    } finally {
      await second.shutdown();
    }
  });

  it('blocks outbound connections without a policy, and refuses an unknown policy', async () => {
    const s = await manager.create({ language: 'python', owner });
    const r = await manager.execute(s.id, py(`http://localhost:${allowedPort}/`), { owner });
    assert.match(r.stdout, /^FAILED/);
    await assert.rejects(
      manager.create({ language: 'python', owner, network: 'nope' }),
      (e) =>
        isAppError(e, 'INVALID_ARGUMENT') &&
        /no network policy named "nope"; the operator defined: tiny, web|web, tiny/.test(e.message),
    );
    await manager.close(s.id, owner);
  });
});
