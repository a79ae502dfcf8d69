/**
 * Verification of generated code: which files are tests, whether a test can
 * fail at all (an assertion that is not trivially true), and the command that
 * runs them. Pure; the loop runs the command in the session.
 */
import type { Language } from '../sandbox/executor.js';

export type TestKind = 'pytest' | 'node';

export function testKindOf(path: string): TestKind | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (/^test_.*\.py$|_test\.py$/.test(base)) return 'pytest';
  if (/\.test\.(mjs|cjs|js|mts|ts)$|^test\.(mjs|js)$/.test(base)) return 'node';
  return null;
}

/** Python and JS assertions that can fail, and forms that never can (assert True, assert.ok(1)). */
const PY_ASSERT =
  /^\s*assert\s+(?!(True|1|not\s+False|not\s+None)\s*(,|#|$))\S|\bself\.assert\w+\(|\bpytest\.(raises|approx|fail)\b|\bnp\.testing\.assert\w+\(|\bassert_\w+\(/;
const JS_ASSERT =
  /\bassert(\.\w+)?\s*\((?!\s*(true|1|!0)\s*[,)])|\bexpect\s*\(|\bt\.assert\.\w+\(|\b(strictEqual|deepStrictEqual|deepEqual|equal|throws|rejects|match)\s*\(/;

export interface TestCheck {
  assertions: number;
  /** Test functions without any assertion (names). */
  empty: string[];
  counted: boolean;
  reason?: string;
}

/** Counts assertions per test; a file counts only when it has tests and every test asserts something. */
export function checkTestSource(source: string, kind: TestKind): TestCheck {
  const lines = source.split('\n').filter((l) => !/^\s*(#|\/\/)/.test(l));
  const re = kind === 'pytest' ? PY_ASSERT : JS_ASSERT;
  const tests: { name: string; assertions: number }[] = [];
  let assertions = 0;
  for (const line of lines) {
    const start =
      kind === 'pytest'
        ? /^\s*(?:async\s+)?def\s+(test\w*)\s*\(/.exec(line)
        : /\b(?:it|test)\s*\(\s*(['"`])(.*?)\1/.exec(line);
    if (start) tests.push({ name: (kind === 'pytest' ? start[1] : start[2]) ?? '?', assertions: 0 });
    if (re.test(line)) {
      assertions++;
      const current = tests[tests.length - 1];
      if (current) current.assertions++;
    }
  }
  const empty = tests.filter((t) => t.assertions === 0).map((t) => t.name);
  if (!tests.length) return { assertions, empty, counted: false, reason: 'no test functions found' };
  if (empty.length)
    return {
      assertions,
      empty,
      counted: false,
      reason: `no assertion that can fail in: ${empty.join(', ')} (a test that cannot fail proves nothing)`,
    };
  return { assertions, empty, counted: true };
}

/**
 * Runs test files with pytest when the sandbox has it, else with a small
 * built-in runner that calls every test_* function (no fixtures) and fails
 * when any test fails or none ran.
 */
const PY_RUNNER = `import importlib.util, inspect, os, sys, traceback
files = sys.argv[1:]
sys.path.insert(0, os.getcwd())
if importlib.util.find_spec("pytest"):
    import pytest
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *files]))
passed = failed = 0
for f in files:
    spec = importlib.util.spec_from_file_location(os.path.basename(f)[:-3], f)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception:
        failed += 1
        print(f"ERROR {f}: could not import"); traceback.print_exc()
        continue
    for name, fn in list(vars(mod).items()):
        if not (name.startswith("test") and inspect.isfunction(fn)):
            continue
        if inspect.signature(fn).parameters:
            failed += 1
            print(f"ERROR {f}::{name}: takes fixtures (pytest is not installed)")
            continue
        try:
            fn()
            passed += 1
            print(f"PASS {f}::{name}")
        except Exception:
            failed += 1
            print(f"FAIL {f}::{name}"); traceback.print_exc(limit=3)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
`;

/** How many times in a row a generated test must pass to count. */
export const VERIFY_RUNS = 3;

/**
 * Whether one generated test file counts: every run passed (VERIFY_RUNS of
 * them), and line coverage with the file is above coverage without it.
 */
export function judgeTestFile(
  runs: readonly string[],
  coverageWith: number | undefined,
  coverageWithout: number | undefined,
): { counted: boolean; reason?: string } {
  const passed = runs.filter((r) => r === 'passed').length;
  if (passed < VERIFY_RUNS) {
    return {
      counted: false,
      reason:
        passed === runs.length
          ? `passed ${passed} of ${VERIFY_RUNS} runs`
          : `failed on run ${passed + 1} of ${VERIFY_RUNS} (a test must pass every time)`,
    };
  }
  if (coverageWith === undefined) return { counted: false, reason: 'no coverage was measured' };
  if (coverageWith <= (coverageWithout ?? 0)) {
    return {
      counted: false,
      reason: `does not raise coverage (${coverageWith}% with it, ${coverageWithout ?? 0}% without): it tests nothing the others do not`,
    };
  }
  return { counted: true };
}

/** Code for the session's language that runs the tests and fails when they fail. */
export function testRunnerCode(language: Language, kind: TestKind, paths: string[]): { code: string; command: string } {
  const argv = kind === 'pytest' ? ['python3', '-c', PY_RUNNER, ...paths] : ['node', '--test', ...paths];
  const command = kind === 'pytest' ? `pytest (or the built-in runner) ${paths.join(' ')}` : argv.join(' ');
  const json = JSON.stringify(argv);
  switch (language) {
    case 'python':
      return {
        command,
        code: `import subprocess as _sp\n_r = _sp.run(${json}, capture_output=True, text=True)\nprint(_r.stdout[-6000:])\nprint(_r.stderr[-2000:])\nif _r.returncode != 0:\n    raise AssertionError(f"tests failed (exit code {_r.returncode})")`,
      };
    case 'bash':
      return { command, code: argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ') };
    default:
      return {
        command,
        code: `const _r = (await import('node:child_process')).spawnSync(${json}[0], ${json}.slice(1), { encoding: 'utf8' });\nconsole.log((_r.stdout ?? '').slice(-6000));\nconsole.log((_r.stderr ?? '').slice(-2000));\nif (_r.status !== 0) throw new Error('tests failed (exit code ' + _r.status + ')');`,
      };
  }
}
