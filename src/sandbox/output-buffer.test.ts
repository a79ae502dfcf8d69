import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputBuffer, truncationMarker } from './output-buffer.js';

/** n bytes of a repeating, position-revealing ASCII pattern. */
function pattern(n: number, offset = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 97 + ((i + offset) % 26);
  return b;
}

/** Bytes held by the buffer (head + tail), read from its private state. */
function keptBytes(buf: OutputBuffer): number {
  const inner = buf as unknown as { head: Buffer[]; tail: Buffer[] };
  return [...inner.head, ...inner.tail].reduce((n, b) => n + b.length, 0);
}

describe('truncationMarker', () => {
  it('formats the dropped count with thousands separators', () => {
    assert.equal(truncationMarker(1234), '\n[... 1,234 bytes truncated ...]\n');
    assert.equal(truncationMarker(10_485_760), '\n[... 10,485,760 bytes truncated ...]\n');
    assert.equal(truncationMarker(7), '\n[... 7 bytes truncated ...]\n');
  });
});

describe('OutputBuffer', () => {
  it('keeps everything and adds no marker under the cap', () => {
    const buf = new OutputBuffer(100);
    buf.push(Buffer.from('hello '));
    buf.push(Buffer.from('world'));
    assert.equal(buf.text(), 'hello world');
    assert.equal(buf.droppedBytes, 0);
    assert.equal(buf.total, 11);
  });

  it('keeps everything at exactly the cap', () => {
    const data = pattern(100);
    const buf = new OutputBuffer(100);
    buf.push(data);
    assert.equal(buf.text(), data.toString());
    assert.equal(buf.droppedBytes, 0);
  });

  it('over the cap keeps the first 80% and the last 20%, and counts the exact bytes dropped', () => {
    const data = pattern(1000 + 1234);
    const buf = new OutputBuffer(1000);
    buf.push(data);
    assert.equal(buf.droppedBytes, 1234);
    assert.equal(buf.total, 2234);
    const expected =
      data.subarray(0, 800).toString() + '\n[... 1,234 bytes truncated ...]\n' + data.subarray(2234 - 200).toString();
    assert.equal(buf.text(), expected);
  });

  it('one byte over the cap drops exactly one byte from the middle', () => {
    const data = pattern(1001);
    const buf = new OutputBuffer(1000);
    buf.push(data);
    assert.equal(buf.droppedBytes, 1);
    assert.equal(buf.text(), data.subarray(0, 800).toString() + truncationMarker(1) + data.subarray(801).toString());
  });

  it('many small chunks give the same text and counts as one big chunk', () => {
    const data = pattern(50_000);
    const big = new OutputBuffer(4096);
    big.push(data);
    for (const size of [1, 7, 333, 4096]) {
      const small = new OutputBuffer(4096);
      for (let i = 0; i < data.length; i += size) small.push(data.subarray(i, i + size));
      assert.equal(small.text(), big.text(), `chunk size ${size}`);
      assert.equal(small.droppedBytes, big.droppedBytes, `chunk size ${size}`);
      assert.equal(small.total, big.total, `chunk size ${size}`);
    }
  });

  it('a chunk that straddles the head limit is split between head and tail', () => {
    const buf = new OutputBuffer(10); // head 8, tail 2
    buf.push(Buffer.from('abcdef'));
    buf.push(Buffer.from('ghijkl'));
    assert.equal(buf.droppedBytes, 2);
    assert.equal(buf.text(), 'abcdefgh' + truncationMarker(2) + 'kl');
  });

  it('pushing 10 MB keeps memory bounded: the kept bytes equal the cap', () => {
    const cap = 64 * 1024;
    const buf = new OutputBuffer(cap);
    const chunk = pattern(64 * 1024);
    const total = 10 * 1024 * 1024;
    for (let sent = 0; sent < total; sent += chunk.length) {
      buf.push(chunk);
      assert.ok(keptBytes(buf) <= cap);
    }
    assert.equal(keptBytes(buf), cap);
    assert.equal(buf.total, total);
    assert.equal(buf.droppedBytes, total - cap);
    assert.ok(buf.text().includes(`[... ${(total - cap).toLocaleString('en-US')} bytes truncated ...]`));
    assert.equal(Buffer.byteLength(buf.text()), cap + Buffer.byteLength(truncationMarker(total - cap)));
  });

  it('replaces a UTF-8 sequence cut at the seam with U+FFFD rather than throwing', () => {
    const buf = new OutputBuffer(5); // head 4, tail 1
    buf.push(Buffer.from('aaa\u00e9bbbbb')); // é is 2 bytes: c3 a9, cut after c3
    assert.ok(buf.text().startsWith('aaa\ufffd'));
  });
});
