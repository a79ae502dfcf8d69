import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { ExecResult, Executor } from '../../sandbox/executor.js';
import { DEFAULT_LIMITS } from '../../sandbox/limits.js';
import type { SessionService } from '../../sessions/contract.js';
import type { CliIO } from '../io.js';
import { createServeCommand, loadOrCreateToken, parseServeArgs, type ServeRuntime } from './serve.js';

describe('parseServeArgs', () => {
  it('defaults to stdio, loopback, port 8765, store on', () => {
    const o = parseServeArgs([], {});
    assert.deepEqual(
      { http: o.http, host: o.host, port: o.port, tokens: o.tokens, store: o.store, unsandboxed: o.unsandboxed },
      { http: false, host: '127.0.0.1', port: 8765, tokens: [], store: true, unsandboxed: false },
    );
  });
  it('takes HTTP flags, repeated tokens and CODEMODE_TOKEN', () => {
    const o = parseServeArgs(['--http', '--host', '0.0.0.0', '--port', '0', '--token', 'a'.repeat(16), '--no-store'], {
      CODEMODE_TOKEN: `${'b'.repeat(16)},${'c'.repeat(16)}`,
    });
    assert.equal(o.port, 0);
    assert.deepEqual(o.tokens, ['a'.repeat(16), 'b'.repeat(16), 'c'.repeat(16)]);
    assert.equal(o.store, false);
  });
  it('names the bad flag', () => {
    assert.throws(() => parseServeArgs(['--http', '--port', 'x'], {}), /--port must be an integer/);
    assert.throws(() => parseServeArgs(['--port', '1'], {}), /only apply with --http/);
    assert.throws(() => parseServeArgs(['--http', '--token', 'short'], {}), /at least 16 characters/);
    assert.throws(() => parseServeArgs(['--bogus'], {}), /bogus/);
  });
});

describe('loadOrCreateToken', () => {
  it('creates a random token once with mode 0600, then reuses it', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'codemode-home-'));
    try {
      const first = loadOrCreateToken(home);
      assert.equal(first.created, true);
      assert.ok(first.token.length >= 40);
      assert.equal(statSync(path.join(home, 'http-token')).mode & 0o777, 0o600);
      assert.deepEqual(loadOrCreateToken(home), { token: first.token, created: false });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

/** A client transport over the serve command's injected stdin/stdout streams. */
function streamTransport(toServer: PassThrough, fromServer: PassThrough): Transport {
  const buffer = new ReadBuffer();
  const t: Transport = {
    async start() {
      fromServer.on('data', (chunk: Buffer) => {
        buffer.append(chunk);
        for (let m = buffer.readMessage(); m !== null; m = buffer.readMessage()) t.onmessage?.(m);
      });
    },
    async send(message: JSONRPCMessage) {
      toServer.write(serializeMessage(message));
    },
    async close() {
      toServer.end();
      t.onclose?.();
    },
  };
  return t;
}

describe('serve over stdio', () => {
  it('speaks MCP on stdout only, logs on stderr, and shuts the runtime down when stdin closes', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let stdoutText = '';
    let stderrText = '';
    stdout.on('data', (c: Buffer) => (stdoutText += c.toString()));
    stderr.on('data', (c: Buffer) => (stderrText += c.toString()));
    const io: CliIO = { stdin, stdout, stderr, env: {}, cwd: process.cwd(), stdinIsTTY: false };
    let closed = false;
    const executor: Executor = {
      async run(): Promise<ExecResult> {
        return {
          status: 'ok',
          exitCode: 0,
          signal: null,
          stdout: 'fake\n',
          stderr: '',
          stdoutDroppedBytes: 0,
          stderrDroppedBytes: 0,
          durationMs: 1,
          limits: { ...DEFAULT_LIMITS },
          isolation: { backend: 'unsandboxed', cgroup: 'none', seccomp: false, uid: null },
        };
      },
      async close() {},
    };
    const runtime: ServeRuntime = {
      executor,
      sessions: { list: () => [] } as unknown as SessionService,
      extensions: [],
      async close() {
        closed = true;
      },
    };
    const serve = createServeCommand(async () => runtime);
    const exit = serve([], io);

    const client = new Client({ name: 'test', version: '1' });
    await client.connect(streamTransport(stdin, stdout));
    const r = await client.callTool({ name: 'execute_code', arguments: { language: 'bash', code: 'echo' } });
    assert.equal((r.structuredContent as { stdout: string }).stdout, 'fake\n');
    await client.close(); // ends stdin
    assert.equal(await exit, 0);
    assert.equal(closed, true, 'runtime closed (kernels killed)');
    for (const line of stdoutText.trim().split('\n')) assert.equal(JSON.parse(line).jsonrpc, '2.0');
    assert.match(stderrText, /serving MCP on stdio/);
    assert.match(stderrText, /shutting down \(stdin closed\)/);
  });
});
