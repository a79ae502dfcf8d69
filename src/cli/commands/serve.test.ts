import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { ExecResult, Executor } from '../../sandbox/executor.js';
import { DEFAULT_LIMITS } from '../../sandbox/limits.js';
import type { SessionService } from '../../sessions/contract.js';
import type { CliIO } from '../io.js';
import { createServeCommand, defaultRuntime, loadOrCreateToken, parseServeArgs, type ServeRuntime } from './serve.js';

describe('parseServeArgs', () => {
  it('defaults to stdio, loopback, port 8765, store on', () => {
    const o = parseServeArgs([], {});
    assert.deepEqual(
      {
        http: o.http,
        host: o.host,
        port: o.port,
        auth: o.auth,
        tokens: o.tokens,
        store: o.store,
        unsandboxed: o.unsandboxed,
      },
      { http: false, host: '127.0.0.1', port: 8765, auth: true, tokens: [], store: true, unsandboxed: false },
    );
  });
  it('takes HTTP flags, repeated tokens and CODEMODE_TOKEN, warning that --token shows in ps', () => {
    const warnings: string[] = [];
    const o = parseServeArgs(
      ['--http', '--host', '0.0.0.0', '--port', '0', '--token', 'a'.repeat(16), '--no-store'],
      { CODEMODE_TOKEN: `${'b'.repeat(16)},${'c'.repeat(16)}` },
      process.cwd(),
      (w) => warnings.push(w),
    );
    assert.equal(o.port, 0);
    assert.deepEqual(o.tokens, ['a'.repeat(16), 'b'.repeat(16), 'c'.repeat(16)]);
    assert.equal(o.store, false);
    assert.match(warnings.join('\n'), /--token puts the token on the command line.*\(ps\); use --token-file/);
  });

  it('takes --no-auth only on loopback and never with a token', () => {
    assert.equal(parseServeArgs(['--http', '--no-auth'], {}).auth, false);
    assert.equal(parseServeArgs(['--http'], { CODEMODE_AUTH: 'off' }).auth, false);
    assert.throws(() => parseServeArgs(['--http', '--no-auth', '--host', '0.0.0.0'], {}), /beyond loopback/);
    assert.throws(() => parseServeArgs(['--http', '--no-auth', '--token-file', '/x'], {}), /choose one/);
    assert.throws(() => parseServeArgs(['--no-auth'], {}), /only apply with --http/);
  });

  it("reads commands, host and tokens from the user's own config directory, which is trusted", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-xdg-'));
    try {
      mkdirSync(path.join(dir, 'codemode'));
      writeFileSync(
        path.join(dir, 'codemode', 'config.json'),
        JSON.stringify({ mcpServersFile: 'mcp.json', http: { host: '::1', tokenFile: 'tokens' } }),
      );
      const o = parseServeArgs(['--http'], { XDG_CONFIG_HOME: dir });
      assert.equal(o.config, path.join(dir, 'codemode', 'mcp.json'));
      assert.equal(o.host, '::1');
      assert.equal(o.tokenFile, path.join(dir, 'codemode', 'tokens'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('reads the settings file, with flags winning, and names a bad key', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-settings-'));
    try {
      const file = path.join(dir, 'codemode.json');
      writeFileSync(file, JSON.stringify({ http: { port: 9999 }, sessions: { maxSessions: 3 } }));
      const o = parseServeArgs(['--http', '--settings', file], {});
      assert.equal(o.port, 9999);
      assert.equal(o.settings.sessions.maxSessions, 3);
      assert.equal(parseServeArgs(['--http', '--port', '1234', '--settings', file], {}).port, 1234);
      writeFileSync(file, JSON.stringify({ sessions: { maxSesions: 3 } }));
      assert.throws(
        () => parseServeArgs(['--settings', file], {}),
        /unknown key "sessions\.maxSesions" \(did you mean "sessions\.maxSessions"\?\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
      assert.deepEqual(loadOrCreateToken(home), { token: first.token, created: false, file: first.file });
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

function fakeRuntime(onClose: () => void): ServeRuntime {
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
  return {
    executor,
    sessions: { list: () => [], shutdown: async () => {} } as unknown as SessionService,
    extensions: [],
    async close() {
      onClose();
    },
  };
}

function captureIO(env: NodeJS.ProcessEnv = {}, cwd: string = process.cwd()) {
  const io: CliIO = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    env,
    cwd,
    stdinIsTTY: false,
  };
  const out = { stdout: '', stderr: '' };
  io.stdout.on('data', (c: Buffer) => (out.stdout += c.toString()));
  io.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
  return { io, out };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('serve startup errors', () => {
  it('exits 2 naming the file when --config cannot be read', async () => {
    const { io, out } = captureIO();
    const code = await createServeCommand(defaultRuntime)(['--config', '/nonexistent/mcp.json'], io);
    assert.equal(code, 2);
    assert.match(out.stderr, /invalid --config \/nonexistent\/mcp\.json: .*cannot read/);
  });

  it('exits 2 with usage on a bad flag', async () => {
    const { io, out } = captureIO();
    assert.equal(await createServeCommand(defaultRuntime)(['--htp'], io), 2);
    assert.match(out.stderr, /usage: codemode serve/);
  });

  it('a codemode.json in a cloned folder that names a command does not run it', async () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), 'codemode-cloned-'));
    const xdg = mkdtempSync(path.join(os.tmpdir(), 'codemode-xdg-'));
    try {
      const marker = path.join(repo, 'PWNED');
      writeFileSync(
        path.join(repo, 'evil.json'),
        JSON.stringify({ mcpServers: { x: { command: 'sh', args: ['-c', `touch ${marker}`] } } }),
      );
      writeFileSync(path.join(repo, 'codemode.json'), JSON.stringify({ mcpServersFile: './evil.json' }));
      let built = false;
      for (const argv of [[], ['--http', '--port', '0']]) {
        const { io, out } = captureIO({ XDG_CONFIG_HOME: xdg, CODEMODE_HOME: path.join(xdg, 'home') }, repo);
        const code = await createServeCommand(async (o, i, l) => {
          built = true;
          return defaultRuntime(o, i, l);
        })(argv, io);
        assert.equal(code, 2, out.stderr);
        assert.match(
          out.stderr,
          /codemode\.json \(found in the working directory, so not trusted\): mcpServersFile names commands to run/,
        );
        assert.match(out.stderr, new RegExp(`Put it in ${xdg}/codemode/config\\.json, or pass --config FILE`));
      }
      assert.equal(built, false, 'nothing was started');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(existsSync(marker), false, 'the command never ran');
    } finally {
      rmSync(repo, { recursive: true, force: true });
      rmSync(xdg, { recursive: true, force: true });
    }
  });

  it('a codemode.json in a cloned folder cannot open the server to the network with its own token', async () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), 'codemode-cloned-'));
    try {
      writeFileSync(
        path.join(repo, 'codemode.json'),
        JSON.stringify({ http: { host: '0.0.0.0', tokens: ['the-author-knows-this-token'] } }),
      );
      const { io, out } = captureIO({ XDG_CONFIG_HOME: repo }, repo);
      const code = await createServeCommand(async () => assert.fail('never built'))(['--http', '--port', '0'], io);
      assert.equal(code, 2);
      assert.match(out.stderr, /http\.host can open the server beyond loopback/);
      assert.match(out.stderr, /http\.tokens sets a token its author knows/);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe('Code Mode never starts codemode itself', () => {
  it('skips an upstream whose command is this codemode, with a message', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-self-'));
    const { io, out } = captureIO({ CODEMODE_HOME: dir });
    try {
      const bin = fileURLToPath(new URL('../../../bin/codemode.js', import.meta.url));
      const config = path.join(dir, 'mcp.json');
      writeFileSync(
        config,
        JSON.stringify({
          mcpServers: {
            me: { command: process.execPath, args: [bin, 'serve'] },
            npx: { command: 'npx', args: ['-y', 'codemode', 'serve'] },
          },
        }),
      );
      const options = parseServeArgs(['--no-store', '--config', config], io.env, dir);
      const lines: string[] = [];
      const runtime = await defaultRuntime(options, io, (m) => lines.push(m));
      await runtime.close();
      assert.match(lines.join('\n'), /mcpServers\.me is skipped: it runs this codemode/);
      assert.match(lines.join('\n'), /mcpServers\.npx is skipped: it runs the codemode package/);
      assert.equal(out.stdout, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a codemode started as an upstream of codemode starts no upstreams of its own', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-self-'));
    const { io } = captureIO({ CODEMODE_HOME: dir, CODEMODE_UPSTREAM_OF: '4242' });
    try {
      const config = path.join(dir, 'mcp.json');
      writeFileSync(
        config,
        JSON.stringify({ mcpServers: { wrapped: { command: 'sh', args: ['-c', 'exec ./run.sh'] } } }),
      );
      const lines: string[] = [];
      const runtime = await defaultRuntime(parseServeArgs(['--no-store', '--config', config], io.env, dir), io, (m) =>
        lines.push(m),
      );
      assert.deepEqual(runtime.extensions, [], 'no Code Mode tools, no upstream processes');
      await runtime.close();
      assert.match(lines.join('\n'), /started as an upstream of codemode \(pid 4242\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('serve over HTTP', () => {
  it('beyond loopback without a token, generates one, prints it once, requires it, and stops on SIGTERM', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'codemode-home-'));
    let closed = false;
    const { io, out } = captureIO({ CODEMODE_HOME: home });
    try {
      const exit = createServeCommand(async () => fakeRuntime(() => (closed = true)))(
        ['--http', '--host', '0.0.0.0', '--port', '0'],
        io,
      );
      await until(() => /serving MCP on (\S+)/.test(out.stderr));
      const url = /serving MCP on (\S+)/.exec(out.stderr)?.[1] ?? '';
      const token = /generated a bearer token \(saved in .*\): (\S+)/.exec(out.stderr)?.[1] ?? '';
      assert.ok(token.length >= 40, out.stderr);
      const anonymous = await fetch(url, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(anonymous.status, 401);

      const client = new Client({ name: 'test', version: '1' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      const r = await client.callTool({ name: 'execute_code', arguments: { language: 'bash', code: 'echo' } });
      assert.equal((r.structuredContent as { stdout: string }).stdout, 'fake\n');
      await client.close();

      process.emit('SIGTERM');
      assert.equal(await exit, 0);
      assert.equal(closed, true);
      assert.equal(out.stdout, '', 'nothing on stdout');
      assert.equal(loadOrCreateToken(home).token, token, 'the token was saved for the next start');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('serve over HTTP on loopback', () => {
  const post = (url: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', ...headers } });

  it('requires a bearer token by default: generated, saved 0600, printed once, then only named', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'codemode-home-'));
    try {
      const start = async () => {
        const { io, out } = captureIO({ CODEMODE_HOME: home });
        const exit = createServeCommand(async () => fakeRuntime(() => {}))(['--http', '--port', '0'], io);
        await until(() => /serving MCP on (\S+)/.test(out.stderr));
        return { exit, out, url: /serving MCP on (\S+)/.exec(out.stderr)?.[1] ?? '' };
      };
      const first = await start();
      assert.match(first.url, /^http:\/\/127\.0\.0\.1:/);
      const token = /generated a bearer token \(saved in .*\): (\S+)/.exec(first.out.stderr)?.[1] ?? '';
      assert.ok(token.length >= 40, first.out.stderr);
      assert.equal(statSync(path.join(home, 'http-token')).mode & 0o777, 0o600);
      assert.equal((await post(first.url)).status, 401, 'a local caller without the token is refused');
      assert.equal((await post(first.url, { authorization: 'Bearer not-the-token-0123456789' })).status, 401);
      assert.notEqual((await post(first.url, { authorization: `Bearer ${token}` })).status, 401);
      process.emit('SIGTERM');
      assert.equal(await first.exit, 0);

      const second = await start();
      assert.doesNotMatch(second.out.stderr, new RegExp(token), 'the token is printed only when generated');
      assert.match(second.out.stderr, /using the bearer token saved in .*http-token/);
      assert.notEqual((await post(second.url, { authorization: `Bearer ${token}` })).status, 401);
      process.emit('SIGTERM');
      assert.equal(await second.exit, 0);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('takes tokens from --token-file', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'codemode-home-'));
    try {
      const file = path.join(home, 'tokens');
      writeFileSync(file, '# clients\nalice-0123456789abcdef\n\nbob-0123456789abcdef\n', { mode: 0o600 });
      const { io, out } = captureIO({ CODEMODE_HOME: home });
      const exit = createServeCommand(async () => fakeRuntime(() => {}))(
        ['--http', '--port', '0', '--token-file', file],
        io,
      );
      await until(() => /serving MCP on (\S+)/.test(out.stderr));
      const url = /serving MCP on (\S+)/.exec(out.stderr)?.[1] ?? '';
      assert.equal((await post(url)).status, 401);
      assert.notEqual((await post(url, { authorization: 'Bearer bob-0123456789abcdef' })).status, 401);
      assert.equal(existsSync(path.join(home, 'http-token')), false, 'no token generated');
      process.emit('SIGTERM');
      assert.equal(await exit, 0);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('--no-auth serves loopback without a token, with a loud notice', async () => {
    const { io, out } = captureIO({ CODEMODE_HOME: os.tmpdir() });
    const exit = createServeCommand(async () => fakeRuntime(() => {}))(['--http', '--port', '0', '--no-auth'], io);
    await until(() => /serving MCP on (\S+)/.test(out.stderr));
    const url = /serving MCP on (\S+)/.exec(out.stderr)?.[1] ?? '';
    assert.match(out.stderr, /WARNING: HTTP authentication is OFF/);
    assert.match(out.stderr, /\(NO authentication\)/);
    assert.notEqual((await post(url)).status, 401);
    process.emit('SIGTERM');
    assert.equal(await exit, 0);
  });
});

describe('serve over stdio', () => {
  it('speaks MCP on stdout only, logs on stderr, and shuts the runtime down when stdin closes', async () => {
    const { io, out } = captureIO();
    let closed = false;
    const exit = createServeCommand(async () => fakeRuntime(() => (closed = true)))([], io);

    const client = new Client({ name: 'test', version: '1' });
    await client.connect(streamTransport(io.stdin as PassThrough, io.stdout as PassThrough));
    const r = await client.callTool({ name: 'execute_code', arguments: { language: 'bash', code: 'echo' } });
    assert.equal((r.structuredContent as { stdout: string }).stdout, 'fake\n');
    await client.close(); // ends stdin
    assert.equal(await exit, 0);
    assert.equal(closed, true, 'runtime closed (kernels killed)');
    for (const line of out.stdout.trim().split('\n')) assert.equal(JSON.parse(line).jsonrpc, '2.0');
    assert.match(out.stderr, /serving MCP on stdio/);
    assert.match(out.stderr, /shutting down \(stdin closed\)/);
  });
});
