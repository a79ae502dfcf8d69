import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecutionRecord } from './contract.js';
import { toLines, toNotebook } from './notebook.js';

const base = { sessionId: 's1', language: 'python' as const, startedAt: '2026-01-01T00:00:00.000Z', durationMs: 1 };

describe('toNotebook', () => {
  it('maps streams, results, images and errors to nbformat 4.5 outputs', () => {
    const records: ExecutionRecord[] = [
      {
        ...base,
        id: 'e1',
        executionCount: 1,
        code: 'print(1)\n2',
        status: 'ok',
        stdout: '1\n',
        stderr: '',
        outputs: [{ kind: 'result', data: { 'text/plain': '2' } }],
      },
      {
        ...base,
        id: 'e2',
        executionCount: 2,
        code: 'plot()',
        status: 'ok',
        stdout: '',
        stderr: '',
        outputs: [{ kind: 'display', data: { 'image/png': 'iVBORw0KGgo=', 'text/plain': '<Figure>' } }],
      },
      {
        ...base,
        id: 'e3',
        executionCount: 3,
        code: '1/0',
        status: 'error',
        stdout: '',
        stderr: 'Traceback...\nZeroDivisionError: division by zero\n',
        outputs: [],
        error: {
          type: 'ZeroDivisionError',
          message: 'division by zero',
          traceback: 'Traceback...\nZeroDivisionError: division by zero\n',
        },
      },
    ];
    const nb = JSON.parse(JSON.stringify(toNotebook(records, 'python'))) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(nb.nbformat, 4);
    assert.equal(nb.nbformat_minor, 5);
    assert.equal(nb.metadata.kernelspec.name, 'python3');
    assert.equal(nb.metadata.language_info.name, 'python');
    assert.equal(nb.cells.length, 3);
    const [c1, c2, c3] = nb.cells;
    assert.deepEqual(c1.source, ['print(1)\n', '2']);
    assert.equal(c1.execution_count, 1);
    assert.deepEqual(c1.outputs, [
      { output_type: 'stream', name: 'stdout', text: ['1\n'] },
      { output_type: 'execute_result', execution_count: 1, data: { 'text/plain': ['2'] }, metadata: {} },
    ]);
    assert.equal(c2.outputs[0].output_type, 'display_data');
    assert.equal(c2.outputs[0].data['image/png'], 'iVBORw0KGgo=', 'images stay one base64 string');
    assert.equal(c3.outputs.length, 1, 'the traceback is not repeated as a stderr stream');
    assert.equal(c3.outputs[0].output_type, 'error');
    assert.equal(c3.outputs[0].ename, 'ZeroDivisionError');
    assert.ok(Array.isArray(c3.outputs[0].traceback));
    const ids = new Set(nb.cells.map((c: { id: string }) => c.id));
    assert.equal(ids.size, 3, 'cell ids are unique (required by nbformat 4.5)');
    for (const c of nb.cells) assert.match(c.id, /^[a-zA-Z0-9-_]{1,64}$/);
  });

  it('toLines keeps newlines on every line but the last', () => {
    assert.deepEqual(toLines('a\nb\n'), ['a\n', 'b\n']);
    assert.deepEqual(toLines('a\nb'), ['a\n', 'b']);
    assert.deepEqual(toLines(''), []);
  });
});
