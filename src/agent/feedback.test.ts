import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clip, formatObservation, trimTraceback } from './feedback.js';

const base = {
  status: 'ok' as const,
  exitCode: 0,
  stdout: '',
  stderr: '',
  stdoutDroppedBytes: 0,
  stderrDroppedBytes: 0,
};

describe('formatObservation', () => {
  it('shows the status line and the output', () => {
    const o = formatObservation({ ...base, stdout: 'hello\n', durationMs: 120 }, 'print("hello")', 'python');
    assert.equal(o.text, 'Status: ok in 0.12 s\nstdout:\nhello');
    assert.equal(o.ok, true);
  });
  it('quotes the failing line of the model code and the error', () => {
    const code = 'a = 1\nb = a + c\nprint(b)';
    const o = formatObservation(
      {
        ...base,
        status: 'error',
        exitCode: 1,
        error: {
          type: 'NameError',
          message: "name 'c' is not defined",
          line: 2,
          traceback: 'Traceback...\n  line 2\nNameError',
        },
      },
      code,
      'python',
    );
    assert.match(o.text, /^Status: error \(exit code 1\)/);
    assert.match(o.text, /Error: NameError: name 'c' is not defined/);
    assert.match(o.text, /At line 2 of your code:\n {2}2 \| b = a \+ c/);
    assert.equal(o.ok, false);
  });
  it('keeps head and tail of long output and names the bytes cut', () => {
    const long = 'x'.repeat(10_000);
    const c = clip(long, 50, 100, 100);
    assert.match(
      c,
      /^x{100}\n\.\.\. \[9800 bytes cut\] \.\.\.\nx{100}\n\.\.\. \[50 more bytes dropped by the output limit\]$/,
    );
  });
  it('refers to images and attaches them', () => {
    const o = formatObservation(
      { ...base, outputs: [{ kind: 'display', data: { 'image/png': 'iVBORw0KGgo=', 'text/plain': '<Figure>' } }] },
      'plt.show()',
      'python',
    );
    assert.match(o.text, /\[display 1: image\/png, 0 KB, attached as image 1\]/);
    assert.equal(o.images[0]?.mediaType, 'image/png');
  });
  it('hints what is available when a module is missing', () => {
    const o = formatObservation(
      {
        ...base,
        status: 'error',
        exitCode: 1,
        error: { type: 'ModuleNotFoundError', message: "No module named 'polars'" },
      },
      'import polars',
      'python',
      { availablePackages: ['numpy', 'pandas'] },
    );
    assert.match(o.text, /Hint: "polars" is not installed.*Available: numpy, pandas\./);
  });
  it('explains limits', () => {
    const o = formatObservation(
      { ...base, status: 'timeout', exitCode: null, reason: 'wall time 5 s' },
      'while 1: pass',
      'python',
    );
    assert.match(o.text, /Status: timeout \(wall time 5 s\)\nHint: the run hit the time limit/);
  });
  it('says when there was no output at all', () => {
    assert.match(formatObservation(base, 'x = 1', 'python').text, /no output: print what you need/);
  });
  it('trims a long traceback to its last lines', () => {
    const tb = Array.from({ length: 30 }, (_, i) => `frame ${i}`).join('\n');
    assert.equal(trimTraceback(tb, 3), '... (27 lines above left out)\nframe 27\nframe 28\nframe 29');
  });
});
