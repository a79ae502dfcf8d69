import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { directive, extractBlocks, stripJsonComments } from './docs-blocks.js';

describe('extractBlocks', () => {
  it('finds fenced blocks with their line, language and the directives right above them', () => {
    const md = [
      '# Title', // 1
      '', // 2
      '<!-- docs-test: skip (needs a model key) -->', // 3
      '```sh', // 4
      'codemode agent "x"', // 5
      '```', // 6
      '', // 7
      'Some text.', // 8
      '<!-- docs-test: files (a.py, b.csv) -->', // 9
      '~~~~python', // 10
      'print(1)', // 11
      '```', // 12: not a closing fence for ~~~~
      '~~~~', // 13
      '', // 14
      '  ```json', // 15: indented fence
      '  {"a": 1}', // 16
      '  ```', // 17
    ].join('\n');
    const blocks = extractBlocks('x.md', md);
    assert.deepEqual(
      blocks.map((b) => [b.line, b.lang, b.kind, b.code, b.directives]),
      [
        [4, 'sh', 'shell', 'codemode agent "x"\n', [{ kind: 'skip', detail: 'needs a model key' }]],
        [10, 'python', 'python', 'print(1)\n```\n', [{ kind: 'files', detail: 'a.py, b.csv' }]],
        [15, 'json', 'json', '{"a": 1}\n', []],
      ],
    );
    assert.equal(directive(blocks[0]!, 'skip')?.detail, 'needs a model key');
    assert.equal(directive(blocks[2]!, 'skip'), undefined);
  });

  it('drops a directive that text separates from the next block', () => {
    const blocks = extractBlocks('x.md', '<!-- docs-test: skip (why) -->\nText between.\n```sh\ntrue\n```\n');
    assert.deepEqual(blocks[0]?.directives, []);
  });
});

describe('stripJsonComments', () => {
  it('removes comments and trailing commas but not look-alikes inside strings', () => {
    const text = '{\n  "url": "http://x/*y*/", // a comment\n  /* block */ "b": [1, 2,],\n}';
    assert.deepEqual(JSON.parse(stripJsonComments(text)), { url: 'http://x/*y*/', b: [1, 2] });
  });
});
