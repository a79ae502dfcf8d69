import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameReader, type KernelFrame } from './control-channel.js';

function reader(max?: number) {
  const frames: KernelFrame[] = [];
  const violations: string[] = [];
  let bytes = 0;
  const r = new FrameReader(
    {
      onBytes: (n) => (bytes += n),
      onFrame: (f) => frames.push(f),
      onViolation: (v) => violations.push(v),
    },
    max,
  );
  return { r, frames, violations, bytes: () => bytes };
}

const line = (o: unknown) => Buffer.from(JSON.stringify(o) + '\n');

describe('control channel frames', () => {
  it('delivers well-formed frames split anywhere across chunks', () => {
    const { r, frames, violations } = reader();
    const data = Buffer.concat([
      line({ type: 'ready', pid: 1, language: 'python' }),
      line({ type: 'output', id: 'a', kind: 'display', data: { 'text/plain': 'hi' } }),
      line({ type: 'done', id: 'a', status: 'ok' }),
    ]);
    for (let i = 0; i < data.length; i += 7) r.push(data.subarray(i, i + 7));
    assert.deepEqual(violations, []);
    assert.deepEqual(
      frames.map((f) => f.type),
      ['ready', 'output', 'done'],
    );
  });

  it("a done frame may carry the cell's output and name the marked pipes; every byte is counted", () => {
    const { r, frames, violations, bytes } = reader();
    const frame = line({ type: 'done', id: 'a', status: 'ok', marked: ['stderr'], stdout: 'hi\n', stderr: '' });
    r.push(frame);
    assert.deepEqual(violations, []);
    assert.equal(bytes(), frame.length);
    const done = frames[0] as Extract<KernelFrame, { type: 'done' }>;
    assert.deepEqual(done.marked, ['stderr']);
    assert.equal(done.stdout, 'hi\n');
  });

  it('rejects a done frame naming an unknown pipe or non-text output', () => {
    for (const bad of [
      { type: 'done', id: 'a', marked: ['stdin'] },
      { type: 'done', id: 'a', marked: ['stdout', 'stderr', 'stdout'] },
      { type: 'done', id: 'a', stdout: 42 },
    ]) {
      const { r, violations } = reader();
      r.push(line(bad));
      assert.equal(violations.length, 1, JSON.stringify(bad));
    }
  });

  it('"null" is a protocol violation, not a crash (finding 2)', () => {
    const { r, violations, frames } = reader();
    assert.doesNotThrow(() => r.push(Buffer.from('null\n')));
    assert.equal(frames.length, 0);
    assert.equal(violations.length, 1);
  });

  for (const [name, text] of [
    ['not JSON', 'hello\n'],
    ['an array', '[1,2]\n'],
    ['a number', '42\n'],
    ['an unknown frame type', '{"type":"shell","cmd":"rm"}\n'],
    ['an empty line', '\n'],
    ['a frame with an extra key', '{"type":"done","id":"a","status":"ok","evil":1}\n'],
    [
      'an output frame whose data values are lists (finding 2: bypassed outputTotalBytes)',
      '{"type":"output","id":"a","kind":"display","data":{"text/plain":["x","y"]}}\n',
    ],
    ['an output frame whose data is a list', '{"type":"output","id":"a","kind":"display","data":["x"]}\n'],
    ['an rpc frame for an unknown method', '{"type":"rpc","rid":1,"method":"exec","params":{}}\n'],
    ['a done frame without an id', '{"type":"done","status":"ok"}\n'],
    ['a NaN (not JSON)', '{"type":"done","id":"a","exitCode":NaN}\n'],
  ] as const) {
    it(`rejects ${name}`, () => {
      const { r, violations, frames } = reader();
      r.push(Buffer.from(text));
      assert.equal(frames.length, 0, JSON.stringify(frames));
      assert.equal(violations.length, 1);
    });
  }

  it('stops delivering after the first violation', () => {
    const { r, violations, frames } = reader();
    r.push(Buffer.concat([Buffer.from('null\n'), line({ type: 'done', id: 'a', status: 'ok' })]));
    r.push(line({ type: 'done', id: 'b', status: 'ok' }));
    assert.equal(frames.length, 0);
    assert.equal(violations.length, 1);
  });

  it('caps a frame: a newline-free flood is a violation once past the cap, with bounded memory', () => {
    const { r, violations } = reader(1024);
    const chunk = Buffer.alloc(100, 0x61);
    for (let i = 0; i < 10; i++) r.push(chunk);
    assert.equal(violations.length, 0);
    assert.ok(r.bufferedBytes <= 1024);
    r.push(chunk);
    assert.equal(violations.length, 1);
    assert.equal(r.bufferedBytes, 0);
  });

  it('counts every byte it is given, including the bytes of a bad frame', () => {
    const { r, bytes } = reader();
    r.push(Buffer.from('{"type":"output","id":"a","kind":"display","data":{"x":["' + 'y'.repeat(1000) + '"]}}\n'));
    assert.ok(bytes() > 1000);
  });

  it('frames a 64 MiB newline-free flood in linear time (finding 2: the host re-copied its buffer per chunk)', () => {
    const { r, violations } = reader(128 * 1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const t0 = performance.now();
    for (let i = 0; i < 1024; i++) r.push(chunk);
    const ms = performance.now() - t0;
    assert.equal(violations.length, 0);
    // Quadratic re-copying of 64 MiB in 64 KiB chunks takes many seconds; linear framing takes milliseconds.
    assert.ok(ms < 500, `took ${ms} ms`);
  });
});
