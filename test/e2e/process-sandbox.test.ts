// The executor contract against the real bubblewrap + cgroups sandbox, and what is specific to it.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';
import { executorContract } from '../../src/sandbox/executor-contract.js';
import { ProcessExecutor } from '../../src/sandbox/process/process-executor.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';

executorContract({
  name: 'process (bubblewrap + cgroups)',
  make: async () => new ProcessExecutor(await createProcessSandbox()),
  // Until one-shot workspaces live on capped volumes, these cannot pass; the first would fill the host's disk.
  skip: {
    'a disk fill with many files is stopped':
      'one-shot workspaces are not on a size- and inode-capped volume yet: without one this test fills the host disk',
  },
  todo: {
    'disk: 100k empty files count toward the disk limit':
      'one-shot workspaces are not on a size- and inode-capped volume yet (ProcessExecutorOptions.diskFull is not wired)',
  },
});

describe('process sandbox', () => {
  it('says a program never started when the sandbox setup fails', async () => {
    const sandbox = await createProcessSandbox();
    const ws = mkdtempSync(path.join(os.tmpdir(), 'codemode-ns-'));
    chmodSync(ws, 0o777);
    try {
      const proc = await sandbox.spawn({
        argv: ['/bin/true'],
        workspaceDir: ws,
        limits: DEFAULT_LIMITS,
        roBinds: [{ host: '/nonexistent/codemode-missing', sandbox: '/run/missing' }],
      });
      let stderr = '';
      proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exit = await proc.exited;
      await proc.dispose();
      assert.equal(exit.started, false);
      assert.match(stderr, /missing/);
      const ok = await sandbox.spawn({ argv: ['/bin/true'], workspaceDir: ws, limits: DEFAULT_LIMITS });
      assert.deepEqual(await ok.exited, { exitCode: 0, signal: null, started: true });
      await ok.dispose();
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });

  it('keeps two sandboxes in one process apart (distinct run cgroups)', async () => {
    const a = new ProcessExecutor(await createProcessSandbox());
    const b = new ProcessExecutor(await createProcessSandbox());
    const results = await Promise.all([
      a.run({ language: 'bash', code: 'echo a' }),
      b.run({ language: 'bash', code: 'echo b' }),
      a.run({ language: 'bash', code: 'echo c' }),
    ]);
    await Promise.all([a.close(), b.close()]);
    assert.deepEqual(
      results.map((r) => [r.status, r.stdout]),
      [
        ['ok', 'a\n'],
        ['ok', 'b\n'],
        ['ok', 'c\n'],
      ],
    );
  });
});
