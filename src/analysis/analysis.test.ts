import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Analyzer } from './analyzer.js';
import { CORPUS } from './corpus.js';
import { normalizeArgv } from './match.js';
import { operatorPolicy, sessionPolicy } from './policy.js';
import { bashFacts } from './extract/bash.js';

const analyzer = new Analyzer();
after(() => analyzer.close());

describe('the labelled corpus', () => {
  it('has at least 80 cases across the four languages, clean code included', () => {
    assert.ok(CORPUS.length >= 80, `${CORPUS.length} cases`);
    for (const lang of ['python', 'javascript', 'typescript', 'bash'] as const)
      assert.ok(CORPUS.some((c) => c.language === lang && c.expect.length === 0));
  });
  for (const c of CORPUS) {
    it(`${c.language}: ${c.name}`, async () => {
      const r = await analyzer.analyze({ language: c.language, code: c.code, tools: c.tools });
      assert.equal(r.syntaxError, undefined, JSON.stringify(r.syntaxError));
      assert.equal(r.unanalysed, undefined);
      const got = r.findings.map((f) => `${f.rule}@${f.line}`).sort();
      assert.deepEqual(got, [...c.expect].sort());
    });
  }
});

describe('syntax errors before any sandbox, with line and column', () => {
  const cases = [
    ['python', 'x = 1\ndef f(:\n    pass\n', 2],
    ['javascript', 'const a = 1;\nconst b = ;\n', 2],
    ['typescript', 'let x: number = 1;\nif (x {\n}\n', 2],
    ['bash', 'echo hi\nif [ -f x ]; then\n  echo y\n', 4],
  ] as const;
  for (const [language, code, line] of cases) {
    it(language, async () => {
      const r = await analyzer.analyze({ language, code });
      assert.ok(r.syntaxError, 'a syntax error');
      assert.equal(r.syntaxError.line, line);
      assert.ok(r.syntaxError.column >= 1);
      assert.ok(r.syntaxError.message.length > 0);
    });
  }
});

describe('limits of the layer', () => {
  it('obfuscated calls are out of reach: getattr(__import__("o"+"s"), "sys"+"tem") produces no finding', async () => {
    const r = await analyzer.analyze({
      language: 'python',
      code: "getattr(__import__('o'+'s'), 'sys'+'tem')('curl http://x')\n",
    });
    assert.deepEqual(r.findings, []);
  });
  it('a parser helper that times out reports unanalysed and blocks nothing', async () => {
    const slow = new Analyzer({ python: { timeoutMs: 1 } });
    try {
      const r = await slow.analyze({
        language: 'python',
        code: 'import shutil\nshutil.rmtree("/workspace")\n' + 'x = 1\n'.repeat(20000),
      });
      assert.ok(r.unanalysed);
      assert.deepEqual(r.findings, []);
    } finally {
      slow.close();
    }
  });
  it('input over the size bound is not analysed', async () => {
    const small = new Analyzer({ maxBytes: 100 });
    const r = await small.analyze({ language: 'bash', code: 'rm -rf /workspace\n' + '#'.repeat(200) });
    assert.match(r.unanalysed ?? '', /larger than/);
  });
  it('deeply nested Python is reported unanalysed or as a syntax error, never a crash', async () => {
    const r = await analyzer.analyze({ language: 'python', code: 'x = ' + '('.repeat(5000) + ')'.repeat(5000) + '\n' });
    assert.ok(r.unanalysed || r.syntaxError);
    const after = await analyzer.analyze({ language: 'python', code: 'import socket\n' });
    assert.equal(after.findings[0]?.rule, 'network.python');
  });
});

describe('policy', () => {
  it('defaults: ordinary data analysis is never blocked; wiping the workspace is', () => {
    const p = operatorPolicy();
    assert.equal(p.get('workspace.wipe'), 'block');
    assert.equal(p.get('network.python'), 'warn');
    assert.equal(p.get('loop.endless'), 'warn');
  });
  it('operator levels by family and rule, the rule winning', () => {
    const p = operatorPolicy({ rules: { network: 'block', 'network.url-read': 'off' } });
    assert.equal(p.get('network.python'), 'block');
    assert.equal(p.get('network.url-read'), 'off');
  });
  it('a session may tighten, and loosen only down to the operator minimum', () => {
    const { policy, clamped } = sessionPolicy(
      { rules: { process: 'warn' }, sessionMinimum: { env: 'off' } },
      { 'workspace.wipe': 'off', env: 'off', 'process.python': 'block' },
    );
    assert.equal(policy.get('workspace.wipe'), 'block');
    assert.equal(policy.get('env.python'), 'off');
    assert.equal(policy.get('process.python'), 'block');
    assert.deepEqual(
      clamped.map((c) => c.key),
      ['workspace.wipe'],
    );
  });
  it('names the bad key', () => {
    assert.throws(() => operatorPolicy({ rules: { nope: 'warn' } }), /analysis\.rules\.nope/);
    assert.throws(() => operatorPolicy({ rules: { network: 'deny' as 'warn' } }), /not one of/);
  });
  it('findings follow the policy; the cache serves every policy', async () => {
    const code = 'import socket\n';
    const off = await analyzer.analyze({ language: 'python', code }, operatorPolicy({ rules: { network: 'off' } }));
    assert.deepEqual(off.findings, []);
    const block = await analyzer.analyze({ language: 'python', code }, operatorPolicy({ rules: { network: 'block' } }));
    assert.equal(block.findings[0]?.severity, 'block');
  });
});

describe('bash tokenizer', () => {
  it('quotes, substitutions and wrappers', () => {
    const cmds = bashFacts('A=1 env B=2 "c"url -s \'x y\' $(echo `id`)\n').filter((f) => f.kind === 'command');
    assert.deepEqual(cmds.map((c) => (c.kind === 'command' ? c.argv[0] : '')).sort(), ['echo', 'env', 'id']);
    const main = cmds.find((c) => c.kind === 'command' && c.argv[0] === 'env');
    assert.ok(main && main.kind === 'command');
    assert.deepEqual(normalizeArgv(main.argv).slice(0, 3), ['curl', '-s', 'x y']);
  });
});
