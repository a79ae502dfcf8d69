import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resultCacheKey, ResultCache } from '../store/result-cache.js';
import { CachingExecutor } from './caching-executor.js';
import type { ExecRequest, ExecResult, Executor } from './executor.js';
import { DEFAULT_LIMITS, resolveLimits } from './limits.js';

function fakeExecutor(status: ExecResult['status'] = 'ok') {
  const calls: ExecRequest[] = [];
  const executor: Executor = {
    async run(request) {
      calls.push(request);
      return {
        status,
        exitCode: status === 'ok' ? 0 : null,
        signal: null,
        stdout: `out ${calls.length}\n`,
        stderr: '',
        stdoutDroppedBytes: 0,
        stderrDroppedBytes: 0,
        durationMs: 5,
        limits: resolveLimits(request.limits),
        isolation: { backend: 'bwrap', cgroup: 'v1', seccomp: true, uid: 65534 },
      };
    },
    async close() {},
  };
  return { executor, calls };
}

function cachingExecutor(inner: Executor) {
  const cache = new ResultCache(':memory:');
  return new CachingExecutor(inner, { cache, keyOf: resultCacheKey, resolveLimits: (o) => resolveLimits(o) });
}

/** The view of one principal, as the MCP layer uses it. */
function caching(inner: Executor) {
  return cachingExecutor(inner).forPrincipal('a');
}

describe('CachingExecutor', () => {
  it('answers a repeated run from the cache when asked to, replaying its output', async () => {
    const { executor, calls } = fakeExecutor();
    const exec = caching(executor);
    const first = await exec.run({ language: 'python', code: 'print(1)', cache: true });
    const seen: string[] = [];
    const second = await exec.run({
      language: 'python',
      code: 'print(1)',
      cache: true,
      onOutput: (c) => seen.push(c.text),
    });
    assert.equal(calls.length, 1);
    assert.equal(first.cached, undefined);
    assert.equal(second.cached, true);
    assert.equal(second.stdout, 'out 1\n');
    assert.deepEqual(seen, ['out 1\n']);
  });

  it('runs again when the code, input files or limits differ', async () => {
    const { executor, calls } = fakeExecutor();
    const exec = caching(executor);
    await exec.run({ language: 'python', code: 'x', cache: true });
    await exec.run({ language: 'python', code: 'y', cache: true });
    await exec.run({ language: 'python', code: 'x', cache: true, files: [{ path: 'a', content: '1' }] });
    await exec.run({ language: 'python', code: 'x', cache: true, limits: { wallMs: DEFAULT_LIMITS.wallMs - 1 } });
    await exec.run({ language: 'python', code: 'x', cache: true, limits: { wallMs: DEFAULT_LIMITS.wallMs } });
    assert.equal(calls.length, 4, 'an override equal to the default shares the default run');
  });

  it('never caches without the opt-in, with a caller workspace, or a run a limit stopped', async () => {
    const ok = fakeExecutor();
    const exec = caching(ok.executor);
    await exec.run({ language: 'bash', code: 'true' });
    await exec.run({ language: 'bash', code: 'true' });
    await exec.run({ language: 'bash', code: 'true', cache: true, workspaceDir: '/tmp/x' });
    await exec.run({ language: 'bash', code: 'true', cache: true, workspaceDir: '/tmp/x' });
    assert.equal(ok.calls.length, 4);
    const timeout = fakeExecutor('timeout');
    const exec2 = caching(timeout.executor);
    await exec2.run({ language: 'bash', code: 'sleep 9', cache: true });
    await exec2.run({ language: 'bash', code: 'sleep 9', cache: true });
    assert.equal(timeout.calls.length, 2);
  });

  it('keeps principals apart: principal B never gets principal A’s cached result', async () => {
    const { executor, calls } = fakeExecutor();
    const shared = cachingExecutor(executor);
    const exec = { a: shared.forPrincipal('token:a'), b: shared.forPrincipal('token:b') };
    const a = await exec.a.run({ language: 'python', code: 'print(secret)', cache: true });
    const b = await exec.b.run({ language: 'python', code: 'print(secret)', cache: true });
    assert.equal(calls.length, 2, 'B ran its own program');
    assert.equal(b.cached, undefined);
    assert.equal(b.stdout, 'out 2\n');
    assert.notEqual(b.stdout, a.stdout);
    const again = await exec.a.run({ language: 'python', code: 'print(secret)', cache: true });
    assert.equal(again.cached, true, 'A still gets its own');
    assert.equal(again.stdout, a.stdout);
  });

  it('never caches a request that does not say who asked', async () => {
    const { executor, calls } = fakeExecutor();
    const exec = cachingExecutor(executor);
    await exec.run({ language: 'bash', code: 'true', cache: true });
    await exec.run({ language: 'bash', code: 'true', cache: true });
    assert.equal(calls.length, 2);
  });
});
