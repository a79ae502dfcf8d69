// Unit tests for the isolate executor with a scripted ToolHost (no upstream servers).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../errors.js';
import type { ToolHost } from './contract.js';
import {
  DEFAULT_CODEMODE_LIMITS,
  IsolateExecutor,
  readOutcome,
  runInIsolate,
  type CodeModeRequest,
} from './isolate-executor.js';

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

  it('counts CPU spent after an awaited tool call against the CPU limit', async () => {
    // The isolate's own timeout bounds every entry, not only the program's synchronous start.
    const { r } = await run('await codemode.db.get({}); await codemode.db.get({}); while (true) {}', {
      limits: { cpuMs: 200, timeoutMs: 20_000 },
    });
    assert.equal(r.status, 'timeout');
    assert.match(r.reason ?? '', /CPU limit of 200 ms/);
    assert.equal(r.toolCalls.length, 2);
  });

  it('stops a never-settling program at the wall-clock limit', async () => {
    const { r } = await run('await new Promise(() => {});', { limits: { timeoutMs: 100 } });
    assert.equal(r.status, 'timeout');
    assert.match(r.reason ?? '', /wall-clock limit of 100 ms/);
  });
});

/** A host whose `gate` tool waits until released; counts calls in flight. */
function gatedHost() {
  const gates: (() => void)[] = [];
  let inFlight = 0;
  let peak = 0;
  let calls = 0;
  const host: ToolHost = {
    async callTool(_server, tool) {
      calls++;
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        if (tool === 'gate') await new Promise<void>((r) => gates.push(r));
        if (tool === 'slow') await new Promise((r) => setTimeout(r, 20));
        return tool;
      } finally {
        inFlight--;
      }
    },
    async searchTools() {
      return '';
    },
    async declarations() {
      return '';
    },
  };
  return {
    host,
    get calls() {
      return calls;
    },
    get peak() {
      return peak;
    },
    open(): void {
      for (const g of gates.splice(0)) g();
    },
  };
}

const gatedApi = { servers: [{ identifier: 'db', tools: ['gate', 'slow'] }] };

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A worker script that answers `ready`, then behaves as `onRun` says (for protocol tests). */
function fakeWorker(dir: string, name: string, onRun: string): { execArgv: string[]; script: string } {
  const script = path.join(dir, `${name}.mjs`);
  writeFileSync(
    script,
    `import { Socket } from 'node:net';
const channel = new Socket({ fd: 3, readable: true, writable: true });
const frame = (m) => { const b = Buffer.from(JSON.stringify(m)); const h = Buffer.alloc(4); h.writeUInt32BE(b.length); return Buffer.concat([h, b]); };
channel.write(frame({ t: 'ready', pid: process.pid }));
let buf = Buffer.alloc(0);
channel.on('data', (c) => {
  buf = Buffer.concat([buf, c]);
  while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
    const m = JSON.parse(buf.subarray(4, 4 + buf.readUInt32BE(0)).toString());
    buf = buf.subarray(4 + buf.readUInt32BE(0));
    if (m.t === 'run') { ${onRun} }
  }
});
channel.on('end', () => process.exit(0));
`,
  );
  return { execArgv: [], script };
}

describe('isolate executor: the trust boundary (issue 8, finding 5)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'codemode-isolate-test-'));
    chmodSync(dir, 0o755); // workers run as nobody when the tests run as root
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('result size is checked after the copy even when Promise.prototype.then is replaced', async () => {
    // The reproduction: 30 MB under the default 4 MiB limit, with `then` replaced so the
    // isolate's own check is skipped.
    const { r } = await run(`
      const big = "x".repeat(30 * 1024 * 1024);
      const forged = '{"ok":true,"value":"' + big + '"}';
      Promise.prototype.then = function () { return forged; };
      Object.defineProperty(Object.prototype, "toJSON", { get() { return undefined; }, configurable: true });
      return big;
    `);
    assert.equal(r.status, 'error');
    assert.equal(r.value, null);
    assert.equal(r.error?.type, 'RangeError');
    assert.match(r.error?.message ?? '', /over the 4194304 limit/);

    // Whatever text comes out of an isolate, the host measures its own copy.
    const forged = `{"ok":true,"value":"${'x'.repeat(30 * 1024 * 1024)}"}`;
    const read = readOutcome(forged, DEFAULT_CODEMODE_LIMITS);
    assert.equal(read.status, 'error');
    assert.match(read.error?.message ?? '', /\d+ characters of JSON, over the 4194304 limit/);
    const justOver = readOutcome(`{"ok":true,"value":"${'x'.repeat(4 * 1024 * 1024)}"}`, DEFAULT_CODEMODE_LIMITS);
    assert.equal(justOver.status, 'error');
    assert.deepEqual(readOutcome('{"ok":true,"value":[1]}', DEFAULT_CODEMODE_LIMITS), { status: 'ok', value: [1] });
    assert.equal(readOutcome('{"ok":"yes"}', DEFAULT_CODEMODE_LIMITS).error?.type, 'InternalError');

    // A worker that forges an oversized outcome (as an escaped isolate could) is refused too.
    const executor = new IsolateExecutor({
      warm: false,
      workerEntry: fakeWorker(
        dir,
        'forge',
        `channel.write(frame({ t: 'done', run: m.run, kind: 'outcome', outcome: '{"ok":true,"value":"' + 'x'.repeat(5 * 1024 * 1024) + '"}' }));`,
      ),
    });
    try {
      const forgedRun = await executor.run({ language: 'javascript', code: 'return 1', host: scriptedHost(), api });
      assert.equal(forgedRun.status, 'error');
      assert.equal(forgedRun.value, null);
      assert.match(forgedRun.error?.message ?? '', /over the 4194304 limit/);
    } finally {
      await executor.close();
    }
  });

  it('tool-call arguments are measured after the copy', async () => {
    const executor = new IsolateExecutor({
      warm: false,
      workerEntry: fakeWorker(
        dir,
        'big-args',
        `channel.write(frame({ t: 'call', run: m.run, call: 1, server: 'db', tool: 'get', args: JSON.stringify({ a: 'x'.repeat(2 * 1024 * 1024) }) }));`,
      ),
    });
    const host = scriptedHost();
    try {
      const r = await executor.run({ language: 'javascript', code: 'return 1', host, api });
      assert.equal(r.status, 'killed');
      assert.match(r.reason ?? '', /broke the protocol: .*over the 1048576 limit/);
      assert.equal(host.calls.length, 0);
    } finally {
      await executor.close();
    }
  });

  it('a malformed message from a worker kills that worker only', async () => {
    const cases = {
      'a null line': `channel.write('null\\n');`,
      'a bad message': `channel.write(frame({ t: 'done', run: m.run, kind: 'outcome', outcome: ['not', 'a', 'string'] }));`,
      'an oversized frame': `const h = Buffer.alloc(4); h.writeUInt32BE(2 ** 31); channel.write(h);`,
      'a message for another run': `channel.write(frame({ t: 'log', run: m.run + 1, lines: ['x'], dropped: 0 }));`,
    };
    for (const [name, onRun] of Object.entries(cases)) {
      const executor = new IsolateExecutor({
        warm: false,
        workerEntry: fakeWorker(dir, name.replace(/ /g, '-'), onRun),
      });
      try {
        const r = await executor.run({ language: 'javascript', code: 'return 1', host: scriptedHost(), api });
        assert.equal(r.status, 'killed', name);
        assert.match(r.reason ?? '', /broke the protocol/, name);
      } finally {
        await executor.close();
      }
    }
    // The server (this process) is still here and the real executor still works.
    assert.equal((await run('return 40 + 2;')).r.value, 42);
  });

  it('the host watchdog kills a worker that does not stop the program', async () => {
    const executor = new IsolateExecutor({
      warm: false,
      stopGraceMs: 100,
      workerEntry: fakeWorker(dir, 'deaf', '/* never answers */'),
    });
    try {
      const started = Date.now();
      const running = executor.run({
        language: 'javascript',
        code: 'return 1',
        host: scriptedHost(),
        api,
        limits: { timeoutMs: 200 },
      });
      await until(() => executor.stats().workers.some((w) => w.busy));
      const deaf = executor.stats().workers.find((w) => w.busy)?.pid;
      const r = await running;
      assert.equal(r.status, 'timeout');
      assert.match(r.reason ?? '', /wall-clock limit of 200 ms/);
      assert.ok(Date.now() - started < 3000);
      assert.ok(!executor.stats().workers.some((w) => w.pid === deaf));
    } finally {
      await executor.close();
    }
  });

  it('an isolate that allocates past the memory limit does not grow the server', async () => {
    const executor = new IsolateExecutor({ warm: false });
    let peak = process.memoryUsage.rss();
    const baseline = peak;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
    try {
      const heap = await executor.run({
        language: 'javascript',
        code: 'const hoard = []; while (true) hoard.push(new Array(1e5).fill(Math.random()));',
        host: scriptedHost(),
        api,
        limits: { memoryMb: 256 },
      });
      assert.equal(heap.status, 'memory');
      const buffers = await executor.run({
        language: 'javascript',
        code: 'const hoard = []; while (true) hoard.push(new Uint8Array(16 * 1024 * 1024).fill(7));',
        host: scriptedHost(),
        api,
        limits: { memoryMb: 256 },
      });
      // Array buffers past the limit are refused inside the isolate (a RangeError) or stop it.
      assert.ok(
        buffers.status === 'memory' || /allocation failed/i.test(buffers.error?.message ?? ''),
        JSON.stringify(buffers),
      );
    } finally {
      clearInterval(sampler);
      await executor.close();
    }
    // In-process isolates grew this process by the isolate's 256 MiB; now they cannot.
    const grown = (peak - baseline) / 2 ** 20;
    assert.ok(grown < 64, `the server grew by ${grown.toFixed(0)} MiB`);
  });

  it('a worker over its cgroup memory cap is killed and the run reports memory', async (t) => {
    const executor = new IsolateExecutor({ warm: false, workerMemoryMb: 160 });
    try {
      if (executor.isolation.cgroup === 'none' || executor.isolation.memoryCap === null) {
        t.skip(`no memory cgroup here: ${executor.isolation.problems.join('; ')}`);
        return;
      }
      // The isolate's own heap limit (1 GiB) is far above the worker's cap: the cgroup stops it.
      const r = await executor.run({
        language: 'javascript',
        code: 'const hoard = []; while (true) hoard.push(new Uint8Array(16 * 1024 * 1024).fill(7));',
        host: scriptedHost(),
        api,
        limits: { memoryMb: 1024 },
      });
      assert.equal(r.status, 'memory', JSON.stringify(r));
      assert.match(r.reason ?? '', /memory cap \(160 MiB, enforced by its cgroup\)/);
      const next = await executor.run({ language: 'javascript', code: 'return 2', host: scriptedHost(), api });
      assert.equal(next.value, 2);
    } finally {
      await executor.close();
    }
  });

  it('concurrent isolate runs are capped', async () => {
    const gated = gatedHost();
    const executor = new IsolateExecutor({ maxConcurrentRuns: 2, maxQueuedRuns: 1 });
    try {
      const request = {
        language: 'javascript' as const,
        code: 'return await codemode.db.gate({});',
        host: gated.host,
        api: gatedApi,
      };
      const first = [executor.run(request), executor.run(request), executor.run(request)];
      await until(() => gated.calls === 2);
      assert.deepEqual([executor.stats().running, executor.stats().queued], [2, 1]);
      const refused = await executor.run(request);
      assert.equal(refused.status, 'not_started');
      assert.equal(refused.error?.type, 'LIMIT_EXCEEDED');
      assert.match(refused.reason ?? '', /2 programs are running and 1 are waiting/);
      assert.ok(executor.stats().workers.length <= 2);
      gated.open();
      await until(() => gated.calls === 3);
      gated.open();
      const results = await Promise.all(first);
      assert.deepEqual(
        results.map((r) => [r.status, r.value]),
        [
          ['ok', 'gate'],
          ['ok', 'gate'],
          ['ok', 'gate'],
        ],
      );
      assert.equal(gated.peak, 2);
    } finally {
      await executor.close();
    }
  });

  it('starts the replacement of a worker before its last run, and retires it after', async () => {
    const executor = new IsolateExecutor({ maxRunsPerWorker: 2, idleWorkerMs: 200 });
    const request = { language: 'javascript' as const, code: 'return 7;', host: scriptedHost(), api };
    try {
      await until(() => executor.stats().workers.length === 1);
      const first = executor.stats().workers[0]?.pid;
      assert.equal((await executor.run(request)).value, 7);
      // One run left on the first worker: its replacement is already being started.
      await until(() => executor.stats().workers.length === 2);
      assert.equal((await executor.run(request)).value, 7);
      assert.equal((await executor.run(request)).value, 7);
      await until(() => !executor.stats().workers.some((w) => w.pid === first));
    } finally {
      await executor.close();
    }
  });

  it('a crashing worker fails its run only and the next run works', async () => {
    const gated = gatedHost();
    const executor = new IsolateExecutor({ maxConcurrentRuns: 2 });
    try {
      const request = {
        language: 'javascript' as const,
        code: 'return await codemode.db.gate({});',
        host: gated.host,
        api: gatedApi,
      };
      const a = executor.run(request);
      await until(() => gated.calls === 1);
      const victim = executor.stats().workers.find((w) => w.busy)?.pid;
      assert.ok(victim !== undefined && victim > 0);
      const b = executor.run(request);
      await until(() => gated.calls === 2);
      process.kill(victim, 'SIGKILL');
      const crashed = await a;
      assert.equal(crashed.status, 'killed');
      assert.match(crashed.reason ?? '', /was killed by SIGKILL; .*the next run gets a fresh worker/);
      assert.equal(crashed.toolCallsMade, true);
      gated.open();
      const survivor = await b;
      assert.deepEqual([survivor.status, survivor.value], ['ok', 'gate']);
      const next = await executor.run({ ...request, code: 'return 7;' });
      assert.deepEqual([next.status, next.value], ['ok', 7]);
      assert.ok(!executor.stats().workers.some((w) => w.pid === victim));
    } finally {
      await executor.close();
    }
  });

  it('tool call concurrency cap', async () => {
    const gated = gatedHost();
    const executor = new IsolateExecutor();
    try {
      const r = await executor.run({
        language: 'javascript',
        code: 'const r = await Promise.all(Array.from({ length: 12 }, (_, i) => codemode.db.slow({ i }))); return r.length;',
        host: gated.host,
        api: gatedApi,
        limits: { maxToolCallsInFlight: 3 },
      });
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.equal(r.value, 12);
      assert.equal(r.toolCalls.length, 12);
      assert.equal(r.toolCallsPeakInFlight, 3);
      assert.equal(r.limits.maxToolCallsInFlight, 3);
      assert.equal(gated.peak, 3);
    } finally {
      await executor.close();
    }
  });

  it('runs isolates outside the server process, in a worker without the server environment', async () => {
    const executor = new IsolateExecutor();
    try {
      assert.equal(executor.isolation.backend, 'worker-process');
      const r = await executor.run({ language: 'javascript', code: 'return 1', host: scriptedHost(), api });
      assert.equal(r.status, 'ok');
      const pids = executor.stats().workers.map((w) => w.pid);
      assert.ok(pids.length >= 1 && !pids.includes(process.pid));
    } finally {
      await executor.close();
    }
  });
});
