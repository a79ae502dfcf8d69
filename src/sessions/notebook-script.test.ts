import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { Language } from '../sandbox/executor.js';
import type { ExecutionRecord } from './contract.js';
import { toNotebook } from './notebook.js';
import { exportSession, notebookToScript } from './notebook-script.js';

function records(language: Language, cells: [string, ExecutionRecord['status']][]): ExecutionRecord[] {
  return cells.map(([code, status], i) => ({
    id: `e${i + 1}`,
    sessionId: 's1',
    executionCount: i + 1,
    language,
    code,
    status,
    stdout: '',
    stderr: '',
    outputs: [],
    ...(status === 'error' ? { error: { type: 'NameError', message: "name 'y' is not defined" } } : {}),
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1,
  }));
}

const nbJson = (language: Language, cells: [string, ExecutionRecord['status']][]) =>
  JSON.stringify(toNotebook(records(language, cells), language, 's1'));

describe('notebookToScript', () => {
  it('python: # %% markers, failed cells commented out, script runs as python', () => {
    const out = notebookToScript(
      nbJson('python', [
        ['def f(x):\n    return x * 2\n', 'ok'],
        ['print(y)', 'error'],
        ['print(f(21))', 'ok'],
      ]),
    );
    assert.equal(out.extension, '.py');
    assert.equal(
      out.text,
      [
        '# codemode session s1 (python), exported as a script',
        '',
        '# %% In[1]',
        'def f(x):',
        '    return x * 2',
        '',
        "# %% In[2] (error: NameError: name 'y' is not defined; commented out)",
        '# print(y)',
        '',
        '# %% In[3]',
        'print(f(21))',
        '',
      ].join('\n'),
    );
    assert.equal(execFileSync('python3', ['-c', out.text], { encoding: 'utf8' }), '42\n');
  });

  it('javascript and typescript: // %% markers; bash: a shebang and .sh', () => {
    const js = notebookToScript(nbJson('javascript', [['let a = 1;', 'ok']]));
    assert.equal(js.extension, '.js');
    assert.match(js.text, /^\/\/ codemode session s1 \(javascript\)[^\n]*\n\n\/\/ %% In\[1\]\nlet a = 1;\n$/);
    assert.equal(notebookToScript(nbJson('typescript', [['let a: number = 1;', 'ok']])).extension, '.ts');
    const sh = notebookToScript(nbJson('bash', [['echo hi', 'ok']]));
    assert.equal(sh.extension, '.sh');
    assert.ok(sh.text.startsWith('#!/usr/bin/env bash\n'));
    assert.equal(execFileSync('bash', ['-c', sh.text], { encoding: 'utf8' }), 'hi\n');
  });

  it('a script run becomes a comment, not code', () => {
    const recs = records('python', [['python3 tool.py --x', 'ok']]).map((r) => ({ ...r, kind: 'script' as const }));
    const out = notebookToScript(JSON.stringify(toNotebook(recs, 'python', 's1')));
    assert.match(out.text, /# %% \[markdown\]\n# Ran `python3 tool.py --x`/);
    assert.doesNotMatch(out.text, /^python3 tool/m);
  });

  it('exportSession hands back the notebook itself for ipynb', () => {
    const nb = nbJson('python', [['1', 'ok']]);
    const asked: string[] = [];
    const service = {
      exportNotebook: (id: string) => {
        asked.push(id);
        return nb;
      },
    };
    assert.deepEqual(exportSession(service, 's1', 'ipynb'), {
      text: nb,
      extension: '.ipynb',
      mimeType: 'application/x-ipynb+json',
    });
    assert.equal(exportSession(service, 's1', 'script').extension, '.py');
    assert.deepEqual(asked, ['s1', 's1']);
  });
});
