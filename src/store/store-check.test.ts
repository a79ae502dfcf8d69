import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkStore } from './store-check.js';
import { openDatabase } from './session-store.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-storecheck-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('checkStore (doctor)', () => {
  it('reports off, a new store, a current one, and an unusable file without copying or changing it', () => {
    assert.equal(checkStore(path.join(dir, 'x.db'), false).state, 'off');
    const fresh = checkStore(path.join(dir, 'new', 'codemode.db'));
    assert.equal(fresh.state, 'ok');
    assert.match(fresh.detail, /no database yet/);
    const file = path.join(dir, 'cur.db');
    openDatabase(file).close();
    const cur = checkStore(file);
    assert.equal(cur.state, 'ok');
    assert.match(cur.detail, /schema version \d+ of \d+/);
    assert.ok((cur.freeBytes ?? 0) > 0);
    const bad = path.join(dir, 'bad.db');
    writeFileSync(bad, 'not a database at all');
    const before = readdirSync(dir).sort();
    const r = checkStore(bad);
    assert.equal(r.state, 'unusable');
    assert.match(r.detail, /not a SQLite database/);
    assert.deepEqual(readdirSync(dir).sort(), before, 'doctor makes no copy and leaves no probe file');
  });
});
