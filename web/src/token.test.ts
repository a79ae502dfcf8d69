import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { takeToken } from './token.js';

function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, v),
  };
}

function place(hash: string) {
  const replaced: string[] = [];
  const loc = { hash, pathname: '/', search: '' } as Location;
  const hist = { replaceState: (_s: unknown, _t: string, url: string) => replaced.push(url) } as unknown as History;
  return { loc, hist, replaced };
}

describe('takeToken', () => {
  it('takes the token from the fragment, keeps it, and removes it from the address bar (other keys stay)', () => {
    const store = memoryStorage();
    const { loc, hist, replaced } = place('#token=abc&session=s1');
    assert.equal(takeToken(loc, hist, store), 'abc');
    assert.equal(store.getItem('codemode.token'), 'abc');
    assert.deepEqual(replaced, ['/#session=s1']);
  });

  it('falls back to the stored token, and to null without one', () => {
    const store = memoryStorage();
    const { loc, hist, replaced } = place('');
    assert.equal(takeToken(loc, hist, store), null);
    store.setItem('codemode.token', 'kept');
    assert.equal(takeToken(loc, hist, store), 'kept');
    assert.deepEqual(replaced, [], 'the address bar is left alone');
  });
});
