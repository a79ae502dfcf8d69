// What the parser cannot see, the sandbox still contains: obfuscated calls are
// out of reach of static analysis (documented in docs/analysis.md) and are run
// here in the real sandbox to show they are stopped there.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Executor } from '../sandbox/executor.js';
import { ProcessExecutor } from '../sandbox/process/process-executor.js';
import { createProcessSandbox } from '../sandbox/process/process-sandbox.js';
import { Analyzer } from './analyzer.js';

const OBFUSCATED_NETWORK = [
  "sock = getattr(__import__('so' + 'cket'), 'create_' + 'connection')",
  "sock(('1.1.1.1', 80), timeout=3)",
  "print('CONNECTED')",
].join('\n');
const OBFUSCATED_SYSTEM =
  "rc = getattr(__import__('o' + 's'), 'sys' + 'tem')('echo x > /etc/codemode-owned')\nprint('rc', rc)\n";

describe('obfuscation: out of reach of analysis, contained by the sandbox', () => {
  const analyzer = new Analyzer();
  let executor: Executor;
  before(async () => {
    executor = new ProcessExecutor(await createProcessSandbox());
  });
  after(async () => {
    analyzer.close();
    await executor.close();
  });

  it('the analysis sees nothing in getattr(__import__("o"+"s"), "sys"+"tem")', async () => {
    for (const code of [OBFUSCATED_NETWORK, OBFUSCATED_SYSTEM])
      assert.deepEqual((await analyzer.analyze({ language: 'python', code })).findings, []);
  });

  it('the sandbox denies network to an obfuscated socket call', async () => {
    const r = await executor.run({ language: 'python', code: OBFUSCATED_NETWORK });
    assert.equal(r.status, 'error');
    assert.doesNotMatch(r.stdout, /CONNECTED/);
    assert.match(r.stderr + (r.error?.type ?? ''), /OSError|Network is unreachable|PermissionError|Errno/);
  });

  it('the sandbox keeps an obfuscated os.system from writing outside the workspace', async () => {
    const r = await executor.run({ language: 'python', code: OBFUSCATED_SYSTEM });
    assert.equal(r.status, 'ok');
    assert.match(r.stdout, /rc [1-9]/);
    assert.match(r.stderr, /Read-only|Permission denied|No such file/);
  });
});
