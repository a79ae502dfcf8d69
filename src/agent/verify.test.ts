import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkTestSource, judgeTestFile, testKindOf, testRunnerCode } from './verify.js';

describe('verify', () => {
  it('recognises test files', () => {
    assert.equal(testKindOf('test_solution.py'), 'pytest');
    assert.equal(testKindOf('tests/solution_test.py'), 'pytest');
    assert.equal(testKindOf('solution.test.mjs'), 'node');
    assert.equal(testKindOf('solution.py'), null);
  });
  it('a test that cannot fail does not count', () => {
    const none = checkTestSource('def test_it():\n    solve()\n', 'pytest');
    assert.equal(none.counted, false);
    assert.deepEqual(none.empty, ['test_it']);
    assert.equal(checkTestSource('def test_it():\n    assert True\n', 'pytest').counted, false);
    assert.equal(checkTestSource('def test_it():\n    # assert solve() == 2\n    pass\n', 'pytest').counted, false);
    assert.equal(checkTestSource('x = 1\n', 'pytest').counted, false);
  });
  it('every test must assert; real assertions count', () => {
    const ok = checkTestSource(
      'def test_a():\n    assert solve(2) == 4\n\ndef test_b():\n    with pytest.raises(ValueError):\n        solve(-1)\n',
      'pytest',
    );
    assert.equal(ok.counted, true);
    assert.equal(ok.assertions, 2);
    assert.equal(checkTestSource('def test_a():\n    assert f()\n\ndef test_b():\n    f()\n', 'pytest').counted, false);
    const js = "import test from 'node:test';\ntest('adds', () => {\n  assert.equal(add(1, 2), 3);\n});\n";
    assert.equal(checkTestSource(js, 'node').counted, true);
    assert.equal(checkTestSource("test('nothing', () => {\n  assert.ok(true);\n});\n", 'node').counted, false);
  });
  it('builds a runner for each session language', () => {
    assert.match(testRunnerCode('python', 'pytest', ['test_a.py']).code, /"python3","-c",.*pytest.*"test_a.py"/);
    assert.equal(testRunnerCode('bash', 'node', ['a.test.mjs']).code, "'node' '--test' 'a.test.mjs'");
  });
  it('the built-in python runner fails on a failing test and when no test ran', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/verify-');
    writeFileSync(`${dir}/test_a.py`, 'def test_ok():\n    assert 1 + 1 == 2\n\ndef test_bad():\n    assert 1 == 2\n');
    const argv = JSON.parse(
      /_sp\.run\((\[.*\]), capture/s.exec(testRunnerCode('python', 'pytest', ['test_a.py']).code)?.[1] ?? '[]',
    ) as string[];
    const script = argv[2] ?? '';
    const r = spawnSync(
      'python3',
      ['-I', '-c', script.replace('if importlib.util.find_spec("pytest")', 'if False'), 'test_a.py'],
      { cwd: dir, encoding: 'utf8' },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /1 passed, 1 failed/);
  });
  it('a generated test counts only when it passes every run and raises coverage', () => {
    assert.deepEqual(judgeTestFile(['passed', 'passed', 'passed'], 80, 50), { counted: true });
    assert.match(judgeTestFile(['passed', 'failed'], 80, 50).reason ?? '', /failed on run 2 of 3/);
    assert.match(
      judgeTestFile(['passed', 'passed', 'passed'], 50, 50).reason ?? '',
      /does not raise coverage \(50% with it, 50% without\)/,
    );
    assert.equal(judgeTestFile(['passed', 'passed', 'passed'], 10, undefined).counted, true, 'alone: above nothing');
    assert.equal(judgeTestFile(['passed', 'passed', 'passed'], undefined, 0).counted, false, 'no coverage measured');
  });
});
