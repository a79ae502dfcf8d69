import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromDataResource } from './table.js';

describe('fromDataResource', () => {
  it('reads a table-schema bundle with row objects or row arrays', () => {
    const fields = [{ name: 'a' }, { name: 'b' }];
    assert.deepEqual(fromDataResource({ schema: { fields }, data: [{ a: 1, b: 'x' }, { b: 2 }] }), {
      columns: ['a', 'b'],
      rows: [
        [1, 'x'],
        [undefined, 2],
      ],
    });
    assert.deepEqual(fromDataResource({ schema: { fields }, data: [[1, 2]] })?.rows, [[1, 2]]);
  });

  it('refuses what is not one (the caller falls back to another representation)', () => {
    for (const v of [null, 'x', 42, {}, { data: [] }, { schema: { fields: 'a' }, data: [] }]) {
      assert.equal(fromDataResource(v), undefined);
    }
  });
});
