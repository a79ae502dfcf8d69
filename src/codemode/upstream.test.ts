// Unit tests for UpstreamManager with an injected fake connector (no processes).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '../errors.js';
import type { UpstreamServerConfig } from './config.js';
import { UpstreamManager, type ConnectHooks, type McpClientLike, type UpstreamToolInfo } from './upstream.js';

function server(name: string, extra: Partial<UpstreamServerConfig> = {}): UpstreamServerConfig {
  return {
    name,
    transport: { kind: 'stdio', command: name, args: [], env: {} },
    timeoutMs: 1000,
    requireApproval: [],
    approved: [],
    disabled: false,
    ...extra,
  };
}

interface FakeServer {
  tools: UpstreamToolInfo[];
  call?: (name: string, args: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>;
  fail?: { stderr: string; message: string };
}

/** A connector over in-memory fake servers that records what happened. */
function fakeConnector(servers: Record<string, FakeServer>) {
  const log: string[] = [];
  const hooks = new Map<string, ConnectHooks>();
  const signals: AbortSignal[] = [];
  const connector = async (config: UpstreamServerConfig, h: ConnectHooks): Promise<McpClientLike> => {
    log.push(`connect ${config.name}`);
    hooks.set(config.name, h);
    await new Promise((r) => setTimeout(r, 5));
    const s = servers[config.name];
    if (!s) throw new Error('no such fake');
    if (s.fail) {
      h.onStderr(s.fail.stderr);
      throw new Error(s.fail.message);
    }
    return {
      pid: 1234,
      listTools: async () => {
        log.push(`list ${config.name}`);
        return s.tools;
      },
      callTool: async (name, args, options) => {
        log.push(`call ${config.name}.${name}`);
        signals.push(options.signal);
        const value = s.call ? await s.call(name, args, options.signal) : { echoed: args };
        return { content: [{ type: 'text', text: JSON.stringify(value) }] };
      },
      close: async () => {
        log.push(`close ${config.name}`);
      },
    };
  };
  return { connector, log, hooks, signals };
}

const waitForAbort = (signal: AbortSignal) =>
  new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(new Error('aborted upstream')), { once: true }),
  );

describe('UpstreamManager', () => {
  it('connects lazily, once, and keeps the connection warm', async () => {
    const f = fakeConnector({ a: { tools: [{ name: 't' }] } });
    const m = new UpstreamManager([server('a')], { connector: f.connector });
    assert.equal(f.log.length, 0);
    assert.equal(m.status()[0]?.state, 'idle');
    await Promise.all([m.callTool('a', 't', { x: 1 }), m.callTool('a', 't', { x: 2 }), m.listTools('a')]);
    await m.callTool('a', 't', {});
    assert.equal(f.log.filter((l) => l === 'connect a').length, 1);
    assert.equal(m.status()[0]?.state, 'connected');
    assert.equal(m.pid('a'), 1234);
    await m.close();
    assert.ok(f.log.includes('close a'));
  });

  it('caches tools and refreshes them after tools/list_changed', async () => {
    const f = fakeConnector({ a: { tools: [{ name: 'one' }] } });
    const changed: string[] = [];
    const m = new UpstreamManager([server('a')], { connector: f.connector, onToolsChanged: (s) => changed.push(s) });
    assert.deepEqual(await m.listTools('a'), [{ name: 'one' }]);
    await m.listTools('a');
    assert.equal(f.log.filter((l) => l === 'list a').length, 1);
    f.hooks.get('a')?.onToolsChanged();
    assert.deepEqual(changed, ['a']);
    await m.listTools('a');
    assert.equal(f.log.filter((l) => l === 'list a').length, 2);
    await m.close();
  });

  it('reconnects a server that died on its next use, and re-lists its tools', async () => {
    const f = fakeConnector({ a: { tools: [{ name: 't' }] } });
    const m = new UpstreamManager([server('a')], { connector: f.connector });
    await m.listTools('a');
    f.hooks.get('a')?.onClose();
    assert.equal(m.status()[0]?.state, 'failed');
    await m.callTool('a', 't', {});
    await m.listTools('a');
    assert.deepEqual(
      f.log.filter((l) => l.startsWith('connect') || l.startsWith('list')),
      ['connect a', 'list a', 'connect a', 'list a'],
    );
    assert.equal(m.status()[0]?.connects, 2);
    await m.close();
  });

  it('times out a call and aborts it upstream', async () => {
    const f = fakeConnector({ slow: { tools: [], call: (_n, _a, signal) => waitForAbort(signal) } });
    const m = new UpstreamManager([server('slow', { timeoutMs: 50 })], { connector: f.connector });
    const started = Date.now();
    await assert.rejects(m.callTool('slow', 'wait', {}), (e) => {
      assert.ok(isAppError(e, 'TIMEOUT'));
      assert.match(e.message, /slow\.wait timed out after 50 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 1000);
    assert.equal(f.signals[0]?.aborted, true);
    await m.close();
  });

  it('passes the caller cancellation upstream', async () => {
    const f = fakeConnector({ a: { tools: [], call: (_n, _a, signal) => waitForAbort(signal) } });
    const m = new UpstreamManager([server('a', { timeoutMs: 10_000 })], { connector: f.connector });
    const ac = new AbortController();
    const p = m.callTool('a', 'wait', {}, { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(p, (e) => isAppError(e, 'CANCELLED'));
    assert.equal(f.signals[0]?.aborted, true);
    await m.close();
  });

  it('reports a server that fails to start with its stderr, while the others work', async () => {
    const f = fakeConnector({
      good: { tools: [{ name: 'ok' }] },
      bad: { tools: [], fail: { stderr: 'Error: missing API key GITHUB_TOKEN\n', message: 'Connection closed' } },
    });
    const retries: { fn: () => void; delayMs: number }[] = [];
    const m = new UpstreamManager([server('good'), server('bad')], {
      connector: f.connector,
      retryFailedAfterMs: 1000,
      maxRetryMs: 3000,
      schedule: (fn, delayMs) => {
        retries.push({ fn, delayMs });
        return { cancel: () => undefined };
      },
    });
    const all = await m.listAllTools();
    assert.deepEqual(all[0], { server: 'good', tools: [{ name: 'ok' }] });
    assert.ok(isAppError(all[1]?.error, 'UPSTREAM_UNAVAILABLE'));
    assert.match(
      all[1]?.error?.message ?? '',
      /upstream server "bad" failed to start: Connection closed\nstderr:\nError: missing API key[^]*retrying in the background in 1 s/,
    );
    assert.equal(m.stderr('bad'), 'Error: missing API key GITHUB_TOKEN\n');
    assert.equal(m.status()[1]?.state, 'failed');
    await m.callTool('good', 'ok', {});
    // Callers get the failure at once and never start the server themselves: only the background retry does.
    await assert.rejects(
      m.callTool('bad', 'x', {}),
      (e) => isAppError(e, 'UPSTREAM_UNAVAILABLE') && /stderr/.test(e.message),
    );
    await m.listAllTools();
    assert.equal(f.log.filter((l) => l === 'connect bad').length, 1);
    // Exponential backoff, capped: 1 s, 2 s, 3 s (the cap), 3 s.
    for (let i = 0; i < 3; i++) {
      retries[i]?.fn();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(
      retries.map((r) => r.delayMs),
      [1000, 2000, 3000, 3000],
    );
    assert.equal(f.log.filter((l) => l === 'connect bad').length, 4);
    await m.close();
  });

  it('lists healthy servers while one never answers, and a background retry brings the sick one back', async () => {
    let hang = true;
    const changed: string[] = [];
    const retries: (() => void)[] = [];
    const m = new UpstreamManager([server('good'), server('slow')], {
      startWaitMs: 50,
      onToolsChanged: (s) => changed.push(s),
      schedule: (fn) => {
        retries.push(fn);
        return { cancel: () => undefined };
      },
      connector: async (config) => {
        if (config.name === 'slow' && hang) {
          hang = false;
          throw new Error('initialize timed out');
        }
        return {
          listTools: async () => [{ name: `${config.name}_tool` }],
          callTool: async () => ({ content: [] }),
          close: async () => undefined,
        };
      },
    });
    const all = await m.listAllTools();
    assert.deepEqual(all[0], { server: 'good', tools: [{ name: 'good_tool' }] });
    assert.ok(isAppError(all[1]?.error, 'UPSTREAM_UNAVAILABLE'));
    retries[0]?.();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(changed, ['slow'], 'told that the recovered server has tools now');
    assert.deepEqual((await m.listAllTools())[1], { server: 'slow', tools: [{ name: 'slow_tool' }] });
    await m.close();
  });

  it('reports a server still starting after startWaitMs without waiting for it', async () => {
    let release: () => void = () => undefined;
    const m = new UpstreamManager([server('good'), server('stuck')], {
      startWaitMs: 30,
      connector: async (config) => {
        if (config.name === 'stuck') await new Promise<void>((r) => (release = r));
        return {
          listTools: async () => [{ name: 't' }],
          callTool: async () => ({ content: [] }),
          close: async () => undefined,
        };
      },
    });
    const all = await m.listAllTools();
    assert.deepEqual(all[0], { server: 'good', tools: [{ name: 't' }] });
    assert.match(all[1]?.error?.message ?? '', /"stuck" is still starting/);
    assert.equal(m.isStarting('stuck'), true);
    release();
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual((await m.listAllTools())[1], { server: 'stuck', tools: [{ name: 't' }] });
    await m.close();
  });

  it('keeps only the last bytes of stderr', async () => {
    const f = fakeConnector({ bad: { tools: [], fail: { stderr: `${'x'.repeat(100)}END`, message: 'exit 1' } } });
    const m = new UpstreamManager([server('bad')], { connector: f.connector, stderrBytes: 10 });
    await assert.rejects(m.listTools('bad'));
    assert.equal(m.stderr('bad'), 'xxxxxxxEND');
  });

  it('maps a connection lost mid-call to UPSTREAM_UNAVAILABLE, and other errors to UPSTREAM_ERROR', async () => {
    const f = fakeConnector({
      a: {
        tools: [],
        call: async (name) => {
          if (name === 'crash') {
            f.hooks.get('a')?.onClose();
            throw Object.assign(new Error('Connection closed'), { code: -32000 });
          }
          if (name === 'v1')
            throw Object.assign(new Error('MCP error -32002: MCP error -32002: gone'), { code: -32002 });
          throw Object.assign(new Error('Invalid params'), { code: -32602 });
        },
      },
    });
    const m = new UpstreamManager([server('a')], { connector: f.connector });
    await m.listTools('a');
    await assert.rejects(
      m.callTool('a', 'bad', {}),
      (e) => isAppError(e, 'UPSTREAM_ERROR') && /Invalid params/.test(e.message),
    );
    await assert.rejects(
      m.callTool('a', 'v1', {}),
      (e) => isAppError(e, 'UPSTREAM_ERROR') && e.message === 'a tool "v1" failed: MCP error -32002: gone',
      'one "MCP error" prefix, not two',
    );
    await assert.rejects(
      m.callTool('a', 'crash', {}),
      (e) => isAppError(e, 'UPSTREAM_UNAVAILABLE') && /disconnected during tool "crash"/.test(e.message),
    );
    await m.close();
  });

  it('refuses disabled and unknown servers, and everything after close', async () => {
    const f = fakeConnector({ a: { tools: [] } });
    const m = new UpstreamManager([server('a'), server('off', { disabled: true })], { connector: f.connector });
    await assert.rejects(
      m.callTool('off', 't', {}),
      (e) => isAppError(e, 'UPSTREAM_UNAVAILABLE') && /disabled/.test(e.message),
    );
    assert.throws(
      () => m.stderr('nope'),
      (e) => isAppError(e, 'NOT_FOUND'),
    );
    await assert.rejects(m.callTool('nope', 't', {}), (e) => isAppError(e, 'NOT_FOUND'));
    assert.deepEqual(
      (await m.listAllTools()).map((r) => r.server),
      ['a'],
    );
    assert.equal(m.status()[1]?.state, 'disabled');
    await m.close();
    await assert.rejects(m.callTool('a', 't', {}), (e) => isAppError(e, 'UPSTREAM_UNAVAILABLE'));
    assert.ok(!f.log.includes('connect off'));
  });
});
