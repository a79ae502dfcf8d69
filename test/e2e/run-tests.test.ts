import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { runTests, REPORT_DIR } from '../../src/projects/run-tests.js';
import type { SessionManager } from '../../src/sessions/session-manager.js';
import { startSessionManager, type SessionHarness } from './session-harness.js';

let harness: SessionHarness;
let manager: SessionManager;
let root: string;
const owner = 'alice';
const enc = (s: string) => new TextEncoder().encode(s);

before(async () => {
  harness = await startSessionManager('tests');
  manager = harness.manager;
  root = harness.root;
});

after(async () => {
  await harness?.close();
});

describe('run_tests: tests as data in a real session', () => {
  it('pytest: each test with its outcome, the failing line, and coverage of the code under test', async () => {
    const s = await manager.create({ language: 'python', owner });
    await manager.writeFile(
      s.id,
      'calc.py',
      enc('def add(a, b):\n    return a + b\n\ndef unused(x):\n    return x * 2\n'),
      owner,
    );
    await manager.writeFile(
      s.id,
      'test_calc.py',
      enc(
        'from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\n' +
          'def test_wrong():\n    assert add(2, 2) == 5\n',
      ),
      owner,
    );
    const r = await runTests(manager, s.id, { owner, coverage: true });
    assert.equal(r.status, 'failed', r.reason ?? r.run.stdout);
    assert.equal(r.passed, 1);
    assert.equal(r.failed, 1);
    const bad = r.tests.find((t) => t.outcome === 'failed');
    assert.equal(bad?.name, 'test_calc::test_wrong');
    assert.equal(bad?.file, 'test_calc.py');
    assert.equal(bad?.line, 7);
    assert.match(bad?.message ?? '', /assert 4 == 5/);
    assert.ok(r.coverage, 'coverage measured');
    assert.deepEqual(
      r.coverage.files.map((f) => f.file),
      ['calc.py'],
    );
    assert.ok(r.coverage.percent > 0 && r.coverage.percent < 100, `partial coverage, got ${r.coverage.percent}`);
    // The reports are read and removed: the workspace holds only the user's files (and __pycache__).
    const names = (await manager.listFiles(s.id, '', owner)).map((e) => e.path);
    assert.ok(!names.some((n) => n.startsWith(REPORT_DIR)), names.join(','));
    // The run is in the session's history like any other execution.
    assert.equal(manager.history(s.id, owner).at(-1)?.executionCount, r.run.executionCount);
  });

  it('node --test: a failing test in a JavaScript session, with its workspace line', async () => {
    const s = await manager.create({ language: 'javascript', owner });
    await manager.writeFile(s.id, 'lib.mjs', enc('export const double = (x) => x * 2;\n'), owner);
    await manager.writeFile(
      s.id,
      'lib.test.mjs',
      enc(
        "import test from 'node:test';\nimport assert from 'node:assert';\nimport { double } from './lib.mjs';\n" +
          "test('doubles', () => assert.equal(double(2), 4));\ntest('breaks', () => assert.equal(double(2), 5));\n",
      ),
      owner,
    );
    const r = await runTests(manager, s.id, { owner, coverage: true });
    assert.equal(r.status, 'failed', r.reason ?? r.run.stderr);
    assert.deepEqual(
      r.tests.map((t) => [t.name, t.outcome]),
      [
        ['doubles', 'passed'],
        ['breaks', 'failed'],
      ],
    );
    assert.equal(r.tests[1]?.file, 'lib.test.mjs');
    assert.equal(r.tests[1]?.line, 5);
    assert.equal(r.coverage?.files[0]?.file, 'lib.mjs');
  });

  it('no tests, and a report folder planted as a symlink is refused, not followed', async () => {
    const s = await manager.create({ language: 'python', owner });
    const empty = await runTests(manager, s.id, { owner });
    assert.equal(empty.status, 'no_tests');
    // Sandboxed code races the runner: it keeps replacing the report folder with a link to /etc.
    await manager.writeFile(
      s.id,
      'test_a.py',
      enc('import os\ndef test_a():\n    os.system("rm -rf .codemode-tests; ln -s /etc .codemode-tests")\n'),
      owner,
    );
    const r = await runTests(manager, s.id, { owner });
    assert.equal(r.status, 'error');
    assert.match(r.reason ?? '', /link|escape|not found|no report/i);
  });

  it('refuses test paths that leave the workspace or look like options', async () => {
    const s = await manager.create({ language: 'python', owner });
    await assert.rejects(runTests(manager, s.id, { owner, paths: ['../x'] }), /\.\./);
    await assert.rejects(runTests(manager, s.id, { owner, paths: ['-p', 'evil'] }), /bad test path/);
  });
});

describe('codemode test DIR', () => {
  it('copies the folder into a session, reports the failure, exits 1, and leaves the folder as it was', async () => {
    const dir = path.join(root, 'project');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'calc.py'), 'def add(a, b):\n    return a + b\n');
    writeFileSync(path.join(dir, 'test_calc.py'), 'from calc import add\ndef test_a():\n    assert add(1, 1) == 3\n');
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    const env = { ...process.env, CODEMODE_HOME: path.join(root, 'home') };
    const io = { stdin: new PassThrough(), stdout, stderr: new PassThrough(), env, cwd: dir, stdinIsTTY: true };
    assert.equal(await main(['test', '--coverage'], io), 1, out);
    assert.match(out, /failed: 0 passed, 1 failed/);
    assert.match(out, /FAILED test_calc::test_a at test_calc\.py:3/);
    assert.deepEqual(readdirSync(dir).sort(), ['calc.py', 'test_calc.py']);
  });
});
