// Unit tests for the isolate executor with a scripted ToolHost (no upstream servers).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors.js';
import type { ToolHost } from './contract.js';
import { runInIsolate, type CodeModeRequest } from './isolate-executor.js';

interface HostCall {
  server: string;
  tool: string;
  args: unknown;
  signal: AbortSignal | undefined;
}

function scriptedHost(): ToolHost & { calls: HostCall[] } {
  const calls: HostCall[] = [];
  return {
    calls,
    async callTool(server, tool, args, signal) {
      calls.push({ server, tool, args, signal });
      if (tool === 'fail') throw new AppError('UPSTREAM_ERROR', `codemode.${server}.fail failed: no such record`);
      if (tool === 'hang') return new Promise(() => undefined);
      if (tool === 'slow') await new Promise((r) => setTimeout(r, 30));
      return { server, tool, args };
    },
    async searchTools(query, detail) {
      return `search:${query}:${detail}`;
    },
    async declarations() {
      return '';
    },
  };
}

const api = { servers: [{ identifier: 'db', tools: ['get', 'fail', 'hang', 'slow'] }] };

function run(code: string, extra: Partial<CodeModeRequest> = {}) {
  const host = scriptedHost();
  return runInIsolate({ language: 'javascript', code, host, api, ...extra }).then((r) => ({ r, host }));
}

describe('runInIsolate', () => {
  it('returns the value of `return`, with top-level await, logs and tool-call records', async () => {
    const { r, host } = await run(`
      const a = await codemode.db.get({ id: 1 });
      const [b, c] = await Promise.all([codemode.db.get({ id: 2 }), codemode.db.slow({})]);
      console.log("got", a.args.id, { n: b.args.id });
      console.warn("careful");
      return { ids: [a.args.id, b.args.id], slow: c.tool };
    `);
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.value, { ids: [1, 2], slow: 'slow' });
    assert.deepEqual(r.logs, ['got 1 {"n":2}', '[warn] careful']);
    assert.deepEqual(
      r.toolCalls.map((c) => [c.name, c.ok]),
      [
        ['db.get', true],
        ['db.get', true],
        ['db.slow', true],
      ],
    );
    assert.equal(r.toolCallsMade, true);
    assert.deepEqual(host.calls[0]?.args, { id: 1 });
    assert.equal(r.error, undefined);
    assert.equal(r.limits.memoryMb, 64);
  });

  it('returns null for no return value and reports no tool calls', async () => {
    const { r } = await run('const x = 1;');
    assert.equal(r.status, 'ok');
    assert.equal(r.value, null);
    assert.equal(r.toolCallsMade, false);
  });

  it('surfaces a tool error as a catchable exception naming the tool', async () => {
    const { r } = await run(`
      try { await codemode.db.fail({}); } catch (e) { return [e.name, e.message, e.code, e.tool]; }
    `);
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.value, [
      'ToolError',
      'codemode.db.fail failed: no such record',
      'UPSTREAM_ERROR',
      'codemode.db.fail',
    ]);
    assert.deepEqual(r.toolCalls[0], {
      name: 'db.fail',
      durationMs: r.toolCalls[0]?.durationMs,
      ok: false,
      error: 'codemode.db.fail failed: no such record',
    });
  });

  it('reports an uncaught error with the user line, and that tool calls already ran', async () => {
    const { r } = await run('await codemode.db.get({});\n\nconst rows = null;\nrows.map((x) => x);');
    assert.equal(r.status, 'error');
    assert.equal(r.error?.type, 'TypeError');
    assert.equal(r.error?.line, 4);
    assert.match(r.error?.traceback ?? '', /line 4/);
    assert.equal(r.toolCallsMade, true);
  });

  it('maps TypeScript errors back to the original line', async () => {
    const code =
      'interface Row {\n  id: number;\n}\nconst rows: Row[] = [];\n\nthrow new RangeError(`empty: ${rows.length}`);';
    const { r } = await run(code, { language: 'typescript' });
    assert.equal(r.status, 'error');
    assert.deepEqual([r.error?.type, r.error?.message, r.error?.line], ['RangeError', 'empty: 0', 6]);
  });

  it('reports syntax errors with their line in JavaScript and TypeScript', async () => {
    const js = await run('const a = 1;\nconst b = ;');
    assert.deepEqual([js.r.status, js.r.error?.type, js.r.error?.line], ['error', 'SyntaxError', 2]);
    const tsRun = await run('const a: number = 1;\nconst b = ;', { language: 'typescript' });
    assert.deepEqual([tsRun.r.status, tsRun.r.error?.type, tsRun.r.error?.line], ['error', 'SyntaxError', 2]);
  });

  it('reports non-Error throws and non-JSON return values as errors', async () => {
    assert.equal((await run('throw "plain string"')).r.error?.message, 'Uncaught plain string');
    const big = await run('return 10n;');
    assert.equal(big.r.status, 'error');
    assert.match(big.r.error?.message ?? '', /return value cannot be sent as JSON/);
  });

  it('caps the return value and the logs', async () => {
    const { r } = await run('return "x".repeat(5000);', { limits: { maxResultBytes: 1000 } });
    assert.equal(r.status, 'error');
    assert.match(r.error?.message ?? '', /over the 1000 limit; return a smaller summary/);
    const logs = await run('for (let i = 0; i < 100; i++) console.log("line " + i); return 1;', {
      limits: { maxLogBytes: 50 },
    });
    assert.equal(logs.r.status, 'ok');
    assert.ok(logs.r.logs.length < 10);
    assert.match(logs.r.logs.at(-1) ?? '', /bytes of log output dropped \(limit 50\)/);
  });

  it('offers codemode.search_tools without counting it as a tool call', async () => {
    const { r } = await run('return await codemode.search_tools("rows", "names");');
    assert.equal(r.value, 'search:rows:names');
    assert.equal(r.toolCallsMade, false);
  });

  it('rejects non-object arguments with a clear message', async () => {
    const { r, host } = await run('try { await codemode.db.get([1]); } catch (e) { return e.message; }');
    assert.equal(r.value, 'codemode.db.get: arguments must be an object, e.g. codemode.db.get({ ... })');
    assert.equal(host.calls.length, 0);
  });

  it('cancels a run and the tool call it is waiting for', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const { r, host } = await run('await codemode.db.hang({}); return 1;', { signal: ac.signal });
    assert.equal(r.status, 'cancelled');
    assert.equal(r.toolCallsMade, true);
    assert.equal(r.toolCalls[0]?.ok, false);
    assert.equal(host.calls[0]?.signal?.aborted, true);
  });

  it('does not start when already cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    const { r } = await run('return 1;', { signal: ac.signal });
    assert.equal(r.status, 'not_started');
  });

  it('marks tool calls still running when the program returns as cancelled', async () => {
    const { r, host } = await run('codemode.db.hang({}); return "done";');
    assert.equal(r.status, 'ok');
    assert.deepEqual(
      r.toolCalls.map((c) => [c.name, c.ok]),
      [['db.hang', false]],
    );
    assert.equal(host.calls[0]?.signal?.aborted, true);
  });

  it('stops a never-settling program at the wall-clock limit', async () => {
    const { r } = await run('await new Promise(() => {});', { limits: { timeoutMs: 100 } });
    assert.equal(r.status, 'timeout');
    assert.match(r.reason ?? '', /wall-clock limit of 100 ms/);
  });
});
