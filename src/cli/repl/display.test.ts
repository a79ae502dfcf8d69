import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { SessionExecResult } from '../../sessions/contract.js';
import { showResult } from './display.js';
import { cellOfLine } from './json-mode.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-repl-display-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PNG = Buffer.from('89504e470d0a1a0a', 'hex');

function result(fields: Partial<SessionExecResult>): SessionExecResult {
  return { status: 'ok', stdout: '', stderr: '', outputs: [], executionCount: 3, ...fields } as SessionExecResult;
}

function capture(r: SessionExecResult, streamed = { stdout: '', stderr: '' }, imagesDir = dir) {
  const out: string[] = [];
  const err: string[] = [];
  const files = showResult(r, streamed, { out: (s) => out.push(s), err: (s) => err.push(s), imagesDir });
  return { out: out.join(''), err: err.join(''), files };
}

describe('showResult', () => {
  it('prints only what streaming did not show, and the last value as Out[n]', () => {
    const r = result({ stdout: 'a\nb\n', outputs: [{ kind: 'result', data: { 'text/plain': '42' } }] });
    assert.equal(capture(r, { stdout: 'a\n', stderr: '' }).out, 'b\nOut[3]: 42\n');
    assert.equal(capture(r).out, 'a\nb\nOut[3]: 42\n', 'nothing streamed: all of it');
  });

  it('shows the error once: not again when the traceback already streamed', () => {
    const error = { type: 'ValueError', message: 'nope', traceback: 'Traceback...\nValueError: nope' };
    const streamedTb = capture(result({ status: 'error', stderr: 'Traceback...\nValueError: nope\n', error }));
    assert.equal(streamedTb.err, 'Traceback...\nValueError: nope\n');
    assert.equal(capture(result({ status: 'error', error })).err, 'Traceback...\nValueError: nope\n');
    assert.match(capture(result({ status: 'timeout', reason: 'ran longer than 1 s' })).err, /\[timeout: ran longer/);
  });

  it('saves images under names of its own, never over an existing file or through a planted link', () => {
    const images = path.join(dir, 'images');
    const r = result({ outputs: [{ kind: 'display', data: { 'image/png': PNG.toString('base64') } }] });
    const first = capture(r, undefined, images);
    assert.deepEqual(first.files, [path.join(images, 'cell-3-1.png')]);
    assert.deepEqual(readFileSync(first.files[0]!), PNG);
    assert.equal(first.out, `[image image/png saved to ${first.files[0]}]\n`);
    const target = path.join(dir, 'victim');
    writeFileSync(target, 'keep');
    symlinkSync(target, path.join(images, 'cell-3-1-1.png'));
    const second = capture(r, undefined, images);
    assert.deepEqual(second.files, [path.join(images, 'cell-3-1-2.png')]);
    assert.equal(readFileSync(target, 'utf8'), 'keep');
  });

  it('an output type outside the image table is named, not written', () => {
    const r = result({ outputs: [{ kind: 'display', data: { 'application/x-evil': 'x' } }] });
    assert.deepEqual(capture(r).files, []);
    assert.equal(capture(r).out, '[display output: application/x-evil]\n');
  });
});

describe('cellOfLine (repl --json)', () => {
  it('takes the code of a JSON object, or the line itself', () => {
    assert.equal(cellOfLine('{"code": "a\\nb"}'), 'a\nb');
    assert.equal(cellOfLine('print(1)'), 'print(1)');
    assert.equal(cellOfLine('{ echo hi; }'), '{ echo hi; }', 'a bash group is code');
    assert.equal(cellOfLine('{"other": 1}'), '{"other": 1}');
  });
});
