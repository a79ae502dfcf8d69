import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadInputHistory, saveInputHistory } from './input-history.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-repl-history-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('REPL input history file', () => {
  it('round-trips readline entries (newest first) through a file kept oldest first, private', () => {
    const file = path.join(dir, 'h1');
    saveInputHistory(file, ['c = 3', 'b = 2', 'a = 1']);
    assert.equal(readFileSync(file, 'utf8'), 'a = 1\nb = 2\nc = 3\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(loadInputHistory(file), ['c = 3', 'b = 2', 'a = 1']);
  });

  it('keeps only the newest entries past the cap, on save and on load', () => {
    const file = path.join(dir, 'h2');
    saveInputHistory(file, ['5', '4', '3', '2', '1'], 3);
    assert.deepEqual(loadInputHistory(file), ['5', '4', '3']);
    writeFileSync(file, '1\n2\n3\n4\n');
    assert.deepEqual(loadInputHistory(file, 2), ['4', '3']);
  });

  it('a missing file is an empty history', () => {
    assert.deepEqual(loadInputHistory(path.join(dir, 'none')), []);
  });
});
