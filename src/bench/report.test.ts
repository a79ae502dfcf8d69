import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';

import { formatTable, judge, makeRow, median, quantile, stats, subjectFilter } from './report.js';
import { parseBenchArgs } from './index.js';

test('median and quantiles interpolate between closest ranks', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(quantile([1, 2, 3, 4, 5], 0.9), 4.6);
  assert.ok(Number.isNaN(median([])));
});

test('a p99 is only reported from 200+ samples', () => {
  assert.equal(stats(Array.from({ length: 199 }, (_, i) => i)).p99, null);
  assert.equal(typeof stats(Array.from({ length: 200 }, (_, i) => i)).p99, 'number');
});

test('verdicts judge the median against the floor measured beside it', () => {
  assert.equal(judge(1.4, 1, { kind: 'ratio', max: 1.5 }), 'PASS');
  assert.equal(judge(1.6, 1, { kind: 'ratio', max: 1.5 }), 'MISS');
  assert.equal(judge(1.6, null, { kind: 'ratio', max: 1.5 }), 'MISS');
  assert.equal(judge(0.5, 0.2, { kind: 'plus', ms: 0.4 }), 'PASS');
  assert.equal(judge(NaN, 1, { kind: 'under', ms: 5 }), 'MISS');
  const row = makeRow('x', [2, 2, 2], [1, 1, 1], { kind: 'ratio', max: 1.5 });
  assert.equal(row.ratio, 2);
  assert.equal(row.verdict, 'MISS');
  const table = formatTable([row]);
  assert.match(table, /^subject\s+floor ms\s+median ms\s+ratio\s+target\s+verdict/);
  assert.match(table, /MISS$/);
});

describe('--only', () => {
  it('keeps the subjects whose name contains a pattern, case-insensitively; all without patterns', () => {
    const only = subjectFilter(['stdio 2026', 'JAVASCRIPT']);
    assert.equal(only('execute_code, stdio 2026-07-28'), true);
    assert.equal(only('warm javascript Kernel.run("x = 1")'), true);
    assert.equal(only('execute_code, HTTP 2026-07-28'), false);
    assert.equal(subjectFilter([])('anything'), true);
  });

  it('reads bench names and repeated --only patterns from argv', () => {
    assert.deepEqual(parseBenchArgs(['mcp', '--only', 'stdio', '--only=HTTP 2025', 'sessions']), {
      names: ['mcp', 'sessions'],
      only: ['stdio', 'HTTP 2025'],
    });
  });
});
