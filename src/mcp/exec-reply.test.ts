import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecResult } from '../sandbox/executor.js';
import { DEFAULT_LIMITS } from '../sandbox/limits.js';
import { buildExecReply, clipText, execHint } from './exec-reply.js';

function result(over: Partial<ExecResult> = {}): ExecResult {
  return {
    status: 'ok',
    exitCode: 0,
    signal: null,
    stdout: '',
    stderr: '',
    stdoutDroppedBytes: 0,
    stderrDroppedBytes: 0,
    durationMs: 12.4,
    limits: { ...DEFAULT_LIMITS },
    isolation: { backend: 'bwrap', cgroup: 'v2', seccomp: true, uid: 65534 },
    ...over,
  };
}

describe('clipText', () => {
  it('keeps short text unchanged', () => {
    assert.deepEqual(clipText('abc', 10), { text: 'abc', omitted: 0 });
  });
  it('keeps the head and the tail, counts and marks what was cut', () => {
    const text = 'a'.repeat(50) + 'b'.repeat(50);
    const clipped = clipText(text, 20, 'codemode://outputs/x');
    assert.equal(clipped.omitted, 80);
    assert.ok(clipped.text.startsWith('a'.repeat(12)));
    assert.ok(clipped.text.endsWith('b'.repeat(8)));
    assert.match(clipped.text, /\[\.\.\. 80 characters omitted; full output: codemode:\/\/outputs\/x \.\.\.\]/);
  });
});

describe('buildExecReply', () => {
  it('an ok run is not an error and its text is status line plus stdout', () => {
    const reply = buildExecReply(result({ stdout: 'hi\n' }), { maxChars: 100 });
    assert.equal(reply.isError, false);
    assert.deepEqual(reply.content, [{ type: 'text', text: 'status: ok, 12 ms\n--- stdout ---\nhi' }]);
    assert.equal((reply.structuredContent as { duration_ms: number }).duration_ms, 12);
  });

  it('a failed run is isError with the error line and a hint naming the line', () => {
    const reply = buildExecReply(
      result({
        status: 'error',
        exitCode: 1,
        error: { type: 'NameError', message: "name 'x' is not defined", line: 3 },
      }),
      { maxChars: 100 },
    );
    assert.equal(reply.isError, true);
    const text = (reply.content[0] as { text: string }).text;
    assert.match(text, /^status: error, exit code 1, 12 ms/);
    assert.match(text, /error: NameError: name 'x' is not defined \(line 3\)/);
    assert.match(text, /hint: The program raised NameError at line 3; fix the code and run it again\./);
  });

  it('image/png display outputs become image content, whitespace stripped from base64', () => {
    const reply = buildExecReply(
      result({ outputs: [{ kind: 'display', data: { 'image/png': 'iVBO\nRw==', 'text/plain': '<Figure>' } }] }),
      { maxChars: 100 },
    );
    assert.deepEqual(reply.content[1], { type: 'image', data: 'iVBORw==', mimeType: 'image/png' });
  });

  it('links clipped output with resource_link content and full_output', () => {
    const reply = buildExecReply(result({ stdout: 'x'.repeat(500) }), {
      maxChars: 100,
      links: { stdout: { uri: 'codemode://outputs/1', name: 'stdout.txt', size: 500 } },
    });
    assert.deepEqual((reply.structuredContent as { full_output: unknown }).full_output, {
      stdout: 'codemode://outputs/1',
    });
    assert.equal(reply.content.at(-1)?.type, 'resource_link');
  });

  it('reports bytes dropped by the executor', () => {
    const reply = buildExecReply(result({ stdout: 'x', stdoutDroppedBytes: 99 }), { maxChars: 100 });
    assert.match(
      (reply.content[0] as { text: string }).text,
      /\[stdout: 99 bytes over the output limit were dropped\]/,
    );
  });
});

describe('execHint', () => {
  it('names the limit that stopped a run', () => {
    assert.match(execHint(result({ status: 'memory' })) ?? '', /memory limit of 512 MiB.*limits\.memory_bytes/);
    assert.match(execHint(result({ status: 'timeout' })) ?? '', /30000 ms.*limits\.wall_ms/);
    assert.match(execHint(result({ status: 'output_limit' })) ?? '', /write results to a file/);
  });
  it('says nothing for a plain ok run', () => {
    assert.equal(execHint(result()), undefined);
  });
});
