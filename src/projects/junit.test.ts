import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '../errors.js';
import { parseCoveragePy, parseLcov } from './coverage.js';
import { failureLocation, JUNIT_LIMITS, parseJunit } from './junit.js';

const PYTEST = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" tests="3">
<testcase classname="test_calc" name="test_ok" time="0.001" />
<testcase classname="test_calc" name="test_bad" time="0.020"><failure message="assert 4 == 5&#10; +  where 4 = add(2, 2)">def test_bad():
&gt;       assert add(2, 2) == 5
E       assert 4 == 5

test_calc.py:7: AssertionError</failure></testcase>
<testcase classname="test_calc" name="test_skip" time="0"><skipped type="pytest.skip" message="not today">skip</skipped></testcase>
</testsuite></testsuites>`;

describe('JUnit reports', () => {
  it('reads pytest cases: outcome, duration, message, file and line', () => {
    const cases = parseJunit(PYTEST);
    assert.deepEqual(
      cases.map((c) => [c.name, c.outcome]),
      [
        ['test_calc::test_ok', 'passed'],
        ['test_calc::test_bad', 'failed'],
        ['test_calc::test_skip', 'skipped'],
      ],
    );
    assert.equal(cases[1]?.durationMs, 20);
    assert.equal(cases[1]?.message, 'assert 4 == 5');
    assert.deepEqual([cases[1]?.file, cases[1]?.line], ['test_calc.py', 7]);
    assert.match(cases[1]?.details ?? '', /> {7}assert add/);
    assert.equal(cases[2]?.message, 'not today');
  });

  it('names node cases by their describe() suites and finds the workspace frame', () => {
    const xml =
      '<testsuites><testsuite name="math"><testcase name="adds" time="0.1" classname="test"/>' +
      '<testcase name="fails" time="0.1" classname="test" failure="1 == 2"><failure type="testCodeFailure" message="1 == 2">' +
      'at TestContext.&lt;anonymous&gt; (file:///workspace/src/a.test.mjs:4:26)\n at node:internal/x:1:1</failure></testcase>' +
      '</testsuite></testsuites>';
    const cases = parseJunit(xml);
    assert.deepEqual(
      cases.map((c) => c.name),
      ['math > adds', 'math > fails'],
    );
    assert.deepEqual([cases[1]?.file, cases[1]?.line], ['src/a.test.mjs', 4]);
  });

  it('refuses DOCTYPEs (no entity expansion), unclosed and over-deep documents with a typed error', () => {
    const refused = (xml: string) =>
      assert.throws(
        () => parseJunit(xml),
        (e) => isAppError(e, 'INVALID_ARGUMENT'),
      );
    refused('<!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite>&a;</testsuite>');
    refused('<testsuite><testcase name="x">');
    refused('<testsuite></testcase>');
    refused('<a>'.repeat(JUNIT_LIMITS.depth + 2) + '</a>'.repeat(JUNIT_LIMITS.depth + 2));
    refused('<testsuite>' + '<testcase name="x"/>'.repeat(JUNIT_LIMITS.cases + 1) + '</testsuite>');
    refused('<testcase name=unquoted/>');
  });

  it('caps details, and leaves unknown entities and hostile code points as text', () => {
    const long = 'x'.repeat(JUNIT_LIMITS.detailChars * 2);
    const [c] = parseJunit(`<testcase name="a &bogus; &#0; &#x110000;"><error>${long}</error></testcase>`);
    assert.equal(c?.name, 'a &bogus; \uFFFD \uFFFD');
    assert.equal(c?.outcome, 'error');
    assert.ok((c?.details?.length ?? 0) < JUNIT_LIMITS.detailChars + 20);
  });

  it('a failure location is only a workspace path or a relative test file', () => {
    assert.equal(failureLocation('at f (/usr/lib/node/x.js:3:1)'), undefined);
    assert.deepEqual(failureLocation('tests/test_x.py:12: AssertionError'), { file: 'tests/test_x.py', line: 12 });
  });
});

describe('coverage reports', () => {
  it('lcov: workspace code only, tests and absolute paths left out', () => {
    const lcov = [
      'SF:/workspace/lib.mjs',
      'LF:10',
      'LH:7',
      'end_of_record',
      'SF:/workspace/lib.test.mjs',
      'LF:5',
      'LH:5',
      'end_of_record',
      'SF:/usr/lib/node/x.js',
      'LF:5',
      'LH:1',
      'end_of_record',
      'SF:/workspace/liar.mjs',
      'LF:2',
      'LH:999',
      'end_of_record',
    ].join('\n');
    const c = parseLcov(lcov);
    assert.deepEqual(
      c.files.map((f) => [f.file, f.coveredLines, f.totalLines]),
      [
        ['lib.mjs', 7, 10],
        ['liar.mjs', 2, 2],
      ],
    );
    assert.equal(c.percent, 75);
  });

  it('coverage.py JSON: checked shape, not trusted', () => {
    const json = JSON.stringify({ files: { 'calc.py': { summary: { covered_lines: 2, num_statements: 4 } } } });
    assert.equal(parseCoveragePy(json).percent, 50);
    assert.throws(
      () => parseCoveragePy('{"files": {"a.py": {"summary": {"covered_lines": -1}}}}'),
      /coverage\.py JSON/,
    );
    assert.throws(() => parseCoveragePy('nope'), /not JSON/);
  });
});
