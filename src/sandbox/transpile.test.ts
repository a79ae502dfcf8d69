import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import { transpileTypeScript } from './transpile.js';

describe('transpileTypeScript', () => {
  it('strips types from TypeScript and the output runs', async () => {
    const source = [
      'interface Point { x: number; y: number }',
      'type Id = string | number;',
      'const p: Point = { x: 1, y: 2 };',
      'function add(a: number, b: number): number { return a + b; }',
      'const id: Id = "a" as Id;',
      'globalThis.result = add(p.x, p.y) + String(id);',
    ].join('\n');
    const out = await transpileTypeScript(source);
    assert.ok(out.ok);
    assert.doesNotMatch(out.code, /interface Point|: number/);
    const context: { result?: unknown } = {};
    vm.runInNewContext(out.code.replace('globalThis.result', 'result'), context);
    assert.equal(context.result, '3a');
  });

  it('does not type-check: a type error still transpiles', async () => {
    const out = await transpileTypeScript('const n: number = "not a number";');
    assert.equal(out.ok, true);
  });

  it('keeps top-level await', async () => {
    const out = await transpileTypeScript('const v: number = await Promise.resolve(1);');
    assert.ok(out.ok);
    assert.match(out.code, /await Promise\.resolve\(1\)/);
  });

  it('adds an inline source map naming the user file', async () => {
    const out = await transpileTypeScript('const x: number = 1;', 'main.ts');
    assert.ok(out.ok);
    const m = /sourceMappingURL=data:application\/json;base64,(\S+)/.exec(out.code);
    assert.ok(m, 'has an inline source map');
    const map = JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')) as { sources: string[] };
    assert.deepEqual(map.sources, ['main.ts']);
  });

  it('a syntax error returns the 1-based line and column of the user code', async () => {
    const source = 'const a: number = 1;\nconst b = (2 + ;\n';
    const out = await transpileTypeScript(source, 'main.ts');
    assert.equal(out.ok, false);
    assert.ok(!out.ok);
    assert.equal(out.error.type, 'SyntaxError');
    assert.equal(out.error.line, 2);
    // "const b = (2 + ;": the ';' is the 16th character.
    assert.equal(out.error.column, 16);
    assert.match(out.error.message, /Unexpected ";"/);
    assert.equal(
      out.error.traceback,
      'main.ts:2:16\n  const b = (2 + ;\n                 ^\nSyntaxError: Unexpected ";"',
    );
  });

  it('locates a syntax error on the first line at column 1', async () => {
    const out = await transpileTypeScript('}');
    assert.ok(!out.ok);
    assert.equal(out.error.line, 1);
    assert.equal(out.error.column, 1);
  });
});
