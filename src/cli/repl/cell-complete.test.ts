import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Language } from '../../sandbox/executor.js';
import { isCellComplete } from './cell-complete.js';

/** Feed lines one at a time, as the REPL does; returns how many lines it took to complete the cell. */
function linesUntilComplete(language: Language, lines: string[]): number | null {
  for (let i = 1; i <= lines.length; i++) if (isCellComplete(lines.slice(0, i), language)) return i;
  return null;
}

describe('isCellComplete', () => {
  it('python: a simple statement runs at once', () => {
    assert.equal(isCellComplete(['x = 1'], 'python'), true);
    assert.equal(isCellComplete(['print(x)  # done'], 'python'), true);
    assert.equal(isCellComplete(['if x: print(1)'], 'python'), true);
  });

  it('python: a block header waits, and the block ends at a blank line', () => {
    assert.equal(linesUntilComplete('python', ['def f(x):', '    return x * 2', '', 'f(2)']), 3);
    assert.equal(isCellComplete(['for i in range(3):'], 'python'), false);
    assert.equal(isCellComplete(['for i in range(3):', '    print(i)'], 'python'), false);
    assert.equal(isCellComplete(['class A:  # comment'], 'python'), false);
    assert.equal(isCellComplete(['@decorator'], 'python'), false);
  });

  it('python: open brackets, backslashes and triple-quoted strings continue', () => {
    assert.equal(linesUntilComplete('python', ['xs = [1,', '  2,', ']']), 3);
    assert.equal(isCellComplete(['total = 1 + \\'], 'python'), false);
    assert.equal(linesUntilComplete('python', ['s = """a', '', 'b"""']), 3, 'a blank line inside a string continues');
    assert.equal(isCellComplete(['d = {"a": "(", "b": "#"}'], 'python'), true, 'brackets in strings do not count');
    assert.equal(isCellComplete(['x = 1  # (open'], 'python'), true, 'brackets in comments do not count');
    assert.equal(isCellComplete(["s = 'it\\'s'"], 'python'), true);
  });

  it('javascript and typescript: open brackets, template literals and block comments continue', () => {
    for (const lang of ['javascript', 'typescript'] as const) {
      assert.equal(isCellComplete(['const x = 1;'], lang), true);
      assert.equal(linesUntilComplete(lang, ['function f(x) {', '  return x * 2;', '}']), 3);
      assert.equal(linesUntilComplete(lang, ['const s = `a', '', 'b`;']), 3);
      assert.equal(linesUntilComplete(lang, ['/* note', '*/ 1']), 2);
      assert.equal(isCellComplete(['const s = "{"; // ('], lang), true);
      assert.equal(isCellComplete(['const o = {', ''], lang), true, 'a blank line forces the cell out');
    }
  });

  it('bash: quotes, blocks, loops, case and trailing operators continue', () => {
    assert.equal(isCellComplete(['echo hi'], 'bash'), true);
    assert.equal(isCellComplete(['echo done fi esac'], 'bash'), true, 'keywords only count in command position');
    assert.equal(linesUntilComplete('bash', ['if true; then', '  echo yes', 'fi']), 3);
    assert.equal(linesUntilComplete('bash', ['for i in 1 2; do', '  echo $i', 'done']), 3);
    assert.equal(linesUntilComplete('bash', ['case x in', '  x) echo x;;', 'esac']), 3);
    assert.equal(linesUntilComplete('bash', ['f() {', '  echo f', '}']), 3);
    assert.equal(linesUntilComplete('bash', ['echo "a', 'b"']), 2);
    assert.equal(linesUntilComplete('bash', ['ls |', 'wc -l']), 2);
    assert.equal(linesUntilComplete('bash', ['true &&', 'echo ok']), 2);
    assert.equal(linesUntilComplete('bash', ['echo a \\', 'b']), 2);
    assert.equal(isCellComplete(['echo ${HOME}'], 'bash'), true);
  });

  it('an empty buffer is complete (nothing to wait for)', () => {
    assert.equal(isCellComplete([''], 'python'), true);
  });
});
