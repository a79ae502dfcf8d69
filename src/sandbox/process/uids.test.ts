import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '../../errors.js';
import { parseUidRange, UidAllocator } from './uids.js';

describe('sandbox uids', () => {
  it('no two live tenants share a uid, and a released uid can be handed out again', () => {
    const a = new UidAllocator({ first: 5000, count: 3 });
    const got = [a.acquire(), a.acquire(), a.acquire()];
    assert.equal(new Set(got).size, 3);
    assert.ok(got.every((u) => u >= 5000 && u < 5003));
    assert.throws(
      () => a.acquire(),
      (e) => isAppError(e, 'LIMIT_EXCEEDED'),
    );
    a.release(got[1]!);
    assert.equal(a.acquire(), got[1]);
  });

  it('a preferred uid (a resumed workspace’s owner) is honoured only when free and in range', () => {
    const a = new UidAllocator({ first: 5000, count: 10 });
    assert.equal(a.acquire(5007), 5007);
    assert.notEqual(a.acquire(5007), 5007);
    assert.notEqual(a.acquire(42), 42);
  });

  it('parses FIRST-LAST and refuses ranges that reach system uids or wrap', () => {
    assert.deepEqual(parseUidRange('2000000-2065535'), { first: 2_000_000, count: 65_536 });
    for (const bad of ['0-100', '5000-4000', 'abc', '1000-99999999999']) {
      assert.throws(
        () => parseUidRange(bad),
        (e) => isAppError(e, 'INVALID_ARGUMENT'),
        bad,
      );
    }
  });
});
