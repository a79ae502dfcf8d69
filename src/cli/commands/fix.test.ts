import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { unifiedDiff } from './fix.js';

describe('unifiedDiff', () => {
  it('prints a GNU-style hunk with three lines of context', () => {
    const a = 'a\nb\nc\nd\ne\nf\ng\nh\n';
    const b = 'a\nb\nc\nd\nE\nf\ng\nh\n';
    assert.equal(
      unifiedDiff(a, b, 'a/x', 'b/x'),
      '--- a/x\n+++ b/x\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n',
    );
    assert.equal(unifiedDiff(a, a, 'a/x', 'b/x'), '');
  });

  it('marks a missing final newline', () => {
    assert.equal(
      unifiedDiff('x\n', 'x', 'a', 'b'),
      '--- a\n+++ b\n@@ -1 +1 @@\n-x\n+x\n\\ No newline at end of file\n',
    );
  });

  it('the real patch(1) turns the old text into the new one (random edits)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-diff-'));
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    try {
      for (let round = 0; round < 40; round++) {
        const a = Array.from({ length: rand(30) }, () => `line ${rand(8)}\n`);
        const b = [...a];
        for (let e = rand(6); e > 0; e--) {
          const at = rand(b.length + 1);
          if (rand(2) && b.length) b.splice(at, 1);
          else b.splice(at, 0, `new ${rand(5)}\n`);
        }
        const before = a.join('') + (rand(4) === 0 ? 'tail' : '');
        const after = b.join('') + (rand(4) === 0 ? 'tail' : '');
        const file = path.join(dir, 'f.txt');
        writeFileSync(file, before);
        const diff = unifiedDiff(before, after, 'a/f.txt', 'b/f.txt');
        if (before === after) continue;
        execFileSync('patch', ['--quiet', '--force', '--fuzz=0', '--no-backup-if-mismatch', file], { input: diff });
        assert.equal(readFileSync(file, 'utf8'), after, `round ${round}:\n${diff}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
