import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamCapture, markerPrefixLength } from './stream-capture.js';

const MARKER = '\u0001end-abc\u0001';

describe('StreamCapture', () => {
  it('stops at the end marker even when it is split across chunks, and never emits it', () => {
    const live: string[] = [];
    const cap = new StreamCapture(
      MARKER,
      1000,
      () => {},
      (t) => live.push(t),
    );
    const all = Buffer.from(`hello world${MARKER}late`);
    let ended = false;
    for (let i = 0; i < all.length; i += 3) ended = cap.push(all.subarray(i, i + 3)) || ended;
    assert.equal(ended, true);
    assert.equal(cap.ended, true);
    assert.equal(cap.text, 'hello world');
    assert.equal(live.join(''), 'hello world');
  });

  it('releases a held-back marker prefix when it turns out to be ordinary output', () => {
    const cap = new StreamCapture(MARKER, 1000, () => {});
    assert.equal(cap.push(Buffer.from('a\u0001en')), false);
    assert.equal(cap.push(Buffer.from('d-x')), false);
    cap.flush();
    assert.equal(cap.text, 'a\u0001end-x');
  });

  it('keeps at most keepBytes and counts what it dropped', () => {
    let seen = 0;
    const cap = new StreamCapture(MARKER, 100, (n) => (seen += n));
    cap.push(Buffer.alloc(10_000, 'z'));
    cap.push(Buffer.from(MARKER));
    assert.equal(seen, 10_000);
    assert.equal(cap.droppedBytes, 9_900);
    assert.match(cap.text, /\[\.\.\. 9,900 bytes truncated \.\.\.\]/);
  });

  it('markerPrefixLength finds the longest proper prefix at the end', () => {
    const m = Buffer.from(MARKER);
    assert.equal(markerPrefixLength(Buffer.from('xx\u0001end'), m), 4);
    assert.equal(markerPrefixLength(Buffer.from('xx'), m), 0);
    assert.equal(markerPrefixLength(Buffer.from('\u0001'), m), 1);
  });
});
