/**
 * Defs and uses per cell (issue 17) against a corpus of expected sets, on the
 * real parsers: Python's ast in the resident helper, tree-sitter for JS/TS.
 * Honest limits (exec, globals(), star imports, mutation) must come back as
 * unknown, never as guessed names.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Analyzer } from './analyzer.js';
import type { Language } from '../sandbox/executor.js';

interface Case {
  language: Language;
  code: string;
  defs: string[];
  uses: string[];
  /** `reason` or `reason:name` of each unknown entry. */
  unknown?: string[];
}

const py = (code: string, defs: string[], uses: string[], unknown?: string[]): Case => ({
  language: 'python',
  code,
  defs,
  uses,
  ...(unknown ? { unknown } : {}),
});
const js = (code: string, defs: string[], uses: string[], unknown?: string[]): Case => ({
  language: 'javascript',
  code,
  defs,
  uses,
  ...(unknown ? { unknown } : {}),
});

const CASES: Case[] = [
  py('x = 1', ['x'], []),
  py('y = x + 1', ['y'], ['x']),
  py('x = 1\ny = x + z', ['x', 'y'], ['z']),
  py('import pandas as pd', ['pd'], []),
  py('import os.path', ['os'], []),
  py('from math import sqrt as r, pi', ['pi', 'r'], []),
  py('def f(a):\n    return a + k', ['f'], ['k']),
  py('def f(a):\n    return g(a)\ndef g(b):\n    return b', ['f', 'g'], []),
  py('class C(Base):\n    attr = y', ['C'], ['Base', 'y']),
  py('x += 1', ['x'], ['x']),
  py('total = sum(v for v in values if v > lim)', ['total'], ['lim', 'values']),
  py('[q * 2 for q in items]', [], ['items']),
  py('for i in range(n):\n    acc = acc + i', ['acc', 'i'], ['acc', 'n']),
  py('with open(p) as fh:\n    data = fh.read()', ['data', 'fh'], ['p']),
  py('try:\n    r = risky()\nexcept ValueError as err:\n    print(err)', ['err', 'r'], ['risky']),
  py('if (n := len(a)) > 10:\n    print(n)', ['n'], ['a']),
  py('a, (b, *c) = t', ['a', 'b', 'c'], ['t']),
  py('del old', ['old'], []),
  py('def g():\n    global G\n    G = 3', ['G', 'g'], []),
  py('sq = lambda t: t * t + u', ['sq'], ['u']),
  py('print(len([1, 2]))', [], []),
  py('await asyncio.sleep(0)', [], ['asyncio']),
  py('match cmd:\n    case [first, *rest]:\n        out = first', ['first', 'out', 'rest'], ['cmd']),
  py('x: int = y', ['x'], ['y']),
  py('@deco\ndef h():\n    pass', ['h'], ['deco']),
  py("df['b'] = df.a * 2", [], ['df'], ['mutation:df']),
  py('obj.attr = 5', [], ['obj'], ['mutation:obj']),
  py("exec('a = 1')", [], [], ['exec']),
  py("globals()['b'] = 2", [], [], ['globals()']),
  py('from os import *', [], [], ['star import:os']),
  py('v = eval(expr)', ['v'], ['expr'], ['eval']),
  js('const x = 1;', ['x'], []),
  js('const y = x + z;', ['y'], ['x', 'z']),
  js('let total = 0;\nfor (const v of values) total += v;', ['total'], ['values']),
  js('function f(a) { return a + k; }', ['f'], ['k']),
  js('x = x + 1', ['x'], ['x']),
  js('const {a, b: c} = obj;', ['a', 'c'], ['obj']),
  js(
    'import fs from "node:fs";\nimport { join as j } from "node:path";\nconst p = j(dir, "a");',
    ['fs', 'j', 'p'],
    ['dir'],
  ),
  js('const sq = (n) => n * n * m;', ['sq'], ['m']),
  js('try { g(); } catch (e) { console.log(e); }', [], ['g']),
  js('class K extends Base { m() { return w; } }', ['K'], ['Base', 'w']),
  js('console.log(JSON.stringify([1]));', [], []),
  js('obj.x = 5;', [], ['obj'], ['mutation:obj']),
  js('eval("a = 1");', [], [], ['eval']),
  js('globalThis["k"] = 1;', [], [], ['globalThis[...] assignment']),
  {
    language: 'typescript',
    code: 'const n: number = count + 1;\ntype T = { a: number };',
    defs: ['n'],
    uses: ['count'],
  },
];

describe('defs and uses per cell (dataflow corpus)', () => {
  const analyzer = new Analyzer();
  after(() => analyzer.close());

  it('has at least 40 cells, unknown cases included', () => {
    assert.ok(CASES.length >= 40);
    assert.ok(CASES.filter((c) => c.unknown).length >= 8);
  });

  for (const c of CASES) {
    it(`${c.language}: ${JSON.stringify(c.code).slice(0, 70)}`, async () => {
      const d = await analyzer.dataflow(c.language, c.code);
      assert.deepEqual(d.defs, [...c.defs].sort(), 'defs');
      assert.deepEqual(d.uses, [...c.uses].sort(), 'uses');
      const unknown = d.unknown.map((u) => (u.name ? `${u.reason}:${u.name}` : u.reason));
      assert.deepEqual(unknown, c.unknown ?? [], 'unknown');
    });
  }

  it('bash cells are reported unknown, not guessed', async () => {
    const d = await analyzer.dataflow('bash', 'X=1\necho $X');
    assert.deepEqual([d.defs, d.uses], [[], []]);
    assert.equal(d.unknown.length, 1);
  });
});
