import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreStatus, describeStoreError, isTransientStoreError } from './store-status.js';
import { StoreWriteQueue, type StoreWrite } from './write-queue.js';

/** An error shaped like better-sqlite3's SqliteError. */
function sqliteError(code: string, message = 'database or disk is full'): Error {
  return Object.assign(new Error(message), { code });
}

/** A store that fails while `full` is set, and records what it took. */
function diskStore() {
  const saved: string[] = [];
  const state = { full: false, error: sqliteError('SQLITE_FULL') };
  const write = (id: string, bytes = 10): StoreWrite => ({
    operation: 'addExecution',
    sessionId: id.split(':')[0]!,
    bytes,
    payload: id,
    run: () => {
      if (state.full) throw state.error;
      saved.push(id);
    },
  });
  return { saved, state, write };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('StoreWriteQueue', () => {
  it('a write the full disk refuses stays queued, in order, and lands when space returns', async () => {
    const events: string[] = [];
    const status = new StoreStatus({
      onDegraded: (part, cause) => events.push(`degraded ${part}: ${cause}`),
      onRecovered: (part) => events.push(`recovered ${part}`),
    });
    const store = diskStore();
    const q = new StoreWriteQueue({ status, retryMs: 60_000 });
    q.push(store.write('a:1'));
    await tick();
    store.state.full = true;
    q.push(store.write('a:2'));
    q.push(store.write('b:1'));
    await tick();
    q.push(store.write('a:3'));
    q.flush();
    assert.deepEqual(store.saved, ['a:1']);
    assert.equal(q.pending, 3);
    assert.deepEqual(
      q.pendingFor('a').map((w) => w.payload),
      ['a:2', 'a:3'],
    );
    assert.equal(status.health().state, 'degraded');
    assert.equal(status.health().pendingWrites, 3);
    assert.deepEqual(events, ['degraded history: no space left on device (SQLITE_FULL)'], 'said once per cause');
    store.state.full = false;
    q.flush();
    assert.deepEqual(store.saved, ['a:1', 'a:2', 'b:1', 'a:3']);
    assert.equal(status.health().state, 'ok');
    assert.deepEqual(events.at(-1), 'recovered history');
    q.close();
  });

  it('retries by itself (backoff timer) without another write coming', async () => {
    const status = new StoreStatus();
    const store = diskStore();
    const q = new StoreWriteQueue({ status, retryMs: 20, maxRetryMs: 40 });
    store.state.full = true;
    q.push(store.write('a:1'));
    await tick();
    assert.equal(q.pending, 1);
    store.state.full = false;
    for (let i = 0; i < 100 && q.pending > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(store.saved, ['a:1']);
    q.close();
  });

  it('is bounded: past maxPendingWrites/bytes the oldest are given up, each reported', () => {
    const lost: string[] = [];
    const status = new StoreStatus();
    const store = diskStore();
    const q = new StoreWriteQueue({
      status,
      retryMs: 60_000,
      maxPendingWrites: 3,
      maxPendingBytes: 1000,
      onLost: (w, why) => lost.push(`${String(w.payload)}: ${why}`),
    });
    store.state.full = true;
    for (let i = 1; i <= 5; i++) q.push(store.write(`a:${i}`));
    q.flush();
    assert.equal(q.pending, 3);
    assert.equal(lost.length, 2);
    assert.match(lost[0]!, /^a:1: too many writes were waiting/);
    q.push(store.write('a:big', 5000)); // alone above the byte cap: the others go, it stays
    assert.deepEqual(
      q.pendingFor('a').map((w) => w.payload),
      ['a:big'],
    );
    assert.equal(status.health().lostWrites, 5);
    q.close();
  });

  it('a write that can never succeed is given up at once and does not block the rest', () => {
    const lost: string[] = [];
    const status = new StoreStatus();
    const store = diskStore();
    const q = new StoreWriteQueue({ status, onLost: (w) => lost.push(String(w.payload)) });
    q.push({
      ...store.write('a:bad'),
      run: () => {
        throw sqliteError('SQLITE_CONSTRAINT_PRIMARYKEY', 'UNIQUE constraint failed');
      },
    });
    q.push(store.write('a:2'));
    q.flush();
    assert.deepEqual(lost, ['a:bad']);
    assert.deepEqual(store.saved, ['a:2']);
    assert.equal(status.health().state, 'ok');
    q.close();
  });

  it('close gives up what the store still refuses and says how many', () => {
    const lost: string[] = [];
    const store = diskStore();
    const q = new StoreWriteQueue({ status: new StoreStatus(), retryMs: 60_000, onLost: (_w, why) => lost.push(why) });
    store.state.full = true;
    q.push(store.write('a:1'));
    q.push(store.write('a:2'));
    assert.equal(q.close(), 2);
    assert.deepEqual(lost, [
      'the server stopped before the store took it',
      'the server stopped before the store took it',
    ]);
    q.push(store.write('a:3')); // after close: nothing runs
    assert.equal(q.pending, 0);
  });
});

describe('store errors in words', () => {
  it('names the common causes and never passes free text on', () => {
    assert.equal(describeStoreError(sqliteError('SQLITE_FULL')), 'no space left on device (SQLITE_FULL)');
    assert.equal(
      describeStoreError(sqliteError('SQLITE_READONLY_DBMOVED')),
      'the database is read-only (SQLITE_READONLY_DBMOVED)',
    );
    assert.equal(
      describeStoreError(sqliteError('SQLITE_BUSY')),
      'the database is locked by another process (SQLITE_BUSY)',
    );
    assert.equal(describeStoreError(new Error('/secret/path/x.db is odd')), 'unexpected store error (Error)');
    assert.ok(isTransientStoreError(sqliteError('SQLITE_IOERR_WRITE')));
    assert.ok(!isTransientStoreError(sqliteError('SQLITE_CORRUPT')));
    assert.ok(!isTransientStoreError(sqliteError('SQLITE_CONSTRAINT_PRIMARYKEY')));
  });
});
