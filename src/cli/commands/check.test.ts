import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { CliIO } from '../io.js';
import { checkCommand } from './check.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function io(): CliIO & { out: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let text = '';
  stdout.on('data', (c: Buffer) => (text += c.toString()));
  stderr.resume();
  return { stdin: new PassThrough(), stdout, stderr, env: {}, cwd: dir, stdinIsTTY: true, out: () => text };
}

describe('codemode check', () => {
  it('exit 0 for clean code, 0 with warnings, 1 at block, 1 on a syntax error, 2 on usage', async () => {
    writeFileSync(path.join(dir, 'clean.py'), 'import pandas as pd\nprint(pd.DataFrame())\n');
    writeFileSync(path.join(dir, 'warn.sh'), 'curl http://x\n');
    writeFileSync(path.join(dir, 'wipe.txt'), 'rm -rf /workspace\n');
    writeFileSync(path.join(dir, 'bad.js'), 'let x = ;\n');
    assert.equal(await checkCommand(['clean.py'], io()), 0);
    const w = io();
    assert.equal(await checkCommand(['warn.sh'], w), 0);
    assert.match(w.out(), /warn\.sh:1:1: warn network\.command/);
    const j = io();
    assert.equal(await checkCommand(['wipe.txt', '--lang', 'bash', '--json'], j), 1);
    assert.equal(JSON.parse(j.out()).findings[0].rule, 'workspace.wipe-shell');
    assert.equal(await checkCommand(['bad.js'], io()), 1);
    assert.equal(await checkCommand([], io()), 2);
    await assert.rejects(checkCommand(['wipe.txt'], io()), /--lang/);
  });
});
