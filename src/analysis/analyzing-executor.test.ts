import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ExecRequest, ExecResult, Executor } from '../sandbox/executor.js';
import { DEFAULT_LIMITS } from '../sandbox/limits.js';
import { Analyzer } from './analyzer.js';
import { AnalyzingExecutor } from './analyzing-executor.js';
import { operatorPolicy } from './policy.js';

class FakeExecutor implements Executor {
  runs: ExecRequest[] = [];
  async run(request: ExecRequest): Promise<ExecResult> {
    this.runs.push(request);
    return {
      status: 'ok',
      exitCode: 0,
      signal: null,
      stdout: 'ran\n',
      stderr: '',
      stdoutDroppedBytes: 0,
      stderrDroppedBytes: 0,
      durationMs: 1,
      limits: DEFAULT_LIMITS,
      isolation: { backend: 'bwrap', cgroup: 'v2', seccomp: true, uid: 1000 },
    };
  }
  async close(): Promise<void> {}
}

describe('AnalyzingExecutor', () => {
  const analyzer = new Analyzer();
  after(() => analyzer.close());
  const make = (policy = operatorPolicy()) => {
    const inner = new FakeExecutor();
    return { inner, exec: new AnalyzingExecutor(inner, { analyzer, policy, resolveLimits: () => DEFAULT_LIMITS }) };
  };

  it('blocks wiping the workspace before any sandbox starts, with the findings', async () => {
    const { inner, exec } = make();
    const r = await exec.run({ language: 'bash', code: 'rm -rf /workspace\n' });
    assert.equal(r.status, 'blocked');
    assert.equal(inner.runs.length, 0);
    assert.equal(r.findings?.[0]?.rule, 'workspace.wipe-shell');
    assert.equal(r.findings?.[0]?.severity, 'block');
    assert.match(r.reason ?? '', /workspace\.wipe-shell at line 1/);
  });

  it('attaches warn findings to the result of the run', async () => {
    const { inner, exec } = make();
    const r = await exec.run({ language: 'python', code: 'import requests\nprint(1)\n' });
    assert.equal(r.status, 'ok');
    assert.equal(inner.runs.length, 1);
    assert.deepEqual(
      r.findings?.map((f) => [f.rule, f.severity, f.line]),
      [['network.python', 'warn', 1]],
    );
  });

  it('clean data-analysis code runs with no findings field', async () => {
    const { exec } = make();
    const r = await exec.run({ language: 'python', code: "import pandas as pd\nprint(pd.read_csv('a.csv'))\n" });
    assert.equal(r.status, 'ok');
    assert.equal(r.findings, undefined);
  });

  it('reports a syntax error with line and column without starting a sandbox', async () => {
    const { inner, exec } = make();
    const r = await exec.run({ language: 'javascript', code: 'let a = 1;\nlet b = ;\n' });
    assert.equal(r.status, 'error');
    assert.equal(inner.runs.length, 0);
    assert.equal(r.error?.type, 'SyntaxError');
    assert.equal(r.error?.line, 2);
  });

  it('an operator policy that blocks a family blocks it; off silences it', async () => {
    const blocking = make(operatorPolicy({ rules: { network: 'block' } }));
    assert.equal((await blocking.exec.run({ language: 'bash', code: 'curl http://x\n' })).status, 'blocked');
    const off = make(operatorPolicy({ rules: { network: 'off' } }));
    const r = await off.exec.run({ language: 'bash', code: 'curl http://x\n' });
    assert.equal(r.status, 'ok');
    assert.equal(r.findings, undefined);
  });

  it('analysis that cannot run never blocks: the code runs', async () => {
    const inner = new FakeExecutor();
    const small = new Analyzer({ maxBytes: 10 });
    const exec = new AnalyzingExecutor(inner, { analyzer: small, resolveLimits: () => DEFAULT_LIMITS });
    const r = await exec.run({ language: 'bash', code: 'rm -rf /workspace\n' });
    assert.equal(r.status, 'ok');
    assert.equal(inner.runs.length, 1);
  });
});
