import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isAppError } from '../errors.js';
import { DEFAULT_LIMITS } from '../sandbox/limits.js';
import { MIGRATIONS, SqliteSessionStore, migrationBackupOf, openDatabase } from './session-store.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-dbguard-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(dir, `db${++n}`, 'codemode.db');

/** Open, expect a refusal; returns the error's data after checking the original is byte-identical. */
function expectRefused(file: string, reason: string, message: RegExp): { backup: string | null } {
  const before = readFileSync(file);
  let caught: unknown;
  try {
    openDatabase(file);
  } catch (e) {
    caught = e;
  }
  assert.ok(isAppError(caught), `refused with an AppError, got ${String(caught)}`);
  assert.equal(caught.data?.['store'], reason);
  assert.match(caught.message, message);
  assert.match(caught.message, /left untouched/);
  assert.ok(caught.message.includes(file), 'the message names the file');
  assert.deepEqual(readFileSync(file), before, 'the original is unchanged');
  const backup = caught.data?.['backup'] as string | null;
  assert.ok(backup && caught.message.includes(backup), 'the message names the copy');
  assert.deepEqual(readFileSync(backup), before, 'the copy is the original, byte for byte');
  return { backup };
}

function withData(file: string): void {
  const store = new SqliteSessionStore(file);
  for (let i = 0; i < 200; i++) {
    store.saveSession({
      id: `s${i}`,
      owner: 'alice',
      language: 'python',
      limits: { ...DEFAULT_LIMITS },
      workspaceDir: `/tmp/${'x'.repeat(200)}${i}`,
      createdAt: '2026-01-01T00:00:00.000Z',
      lastUsedAt: '2026-01-01T00:00:00.000Z',
      executionCount: 0,
      closedAt: null,
    });
  }
  store.close();
}

describe('opening an existing database file', () => {
  it('a file that is not SQLite is refused, untouched, with a copy named', () => {
    const file = fresh();
    openDatabase(file).close(); // makes the directory
    writeFileSync(file, 'name,value\nthis is a CSV file, not a database\n'.repeat(50));
    expectRefused(file, 'not_sqlite', /not a SQLite database/);
  });

  it('a truncated database is refused, untouched', () => {
    const file = fresh();
    withData(file);
    truncateSync(file, 4096 + 1000); // mid-page, after the header
    expectRefused(file, 'damaged', /damaged|cannot read/);
  });

  it('a database of a newer codemode is refused', () => {
    const file = fresh();
    openDatabase(file).close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(MIGRATIONS.length + 5, 'x');
    db.close();
    expectRefused(file, 'newer', new RegExp(`schema version ${MIGRATIONS.length + 5} is newer`));
  });

  it("another program's SQLite database is refused", () => {
    const file = fresh();
    openDatabase(file).close();
    rmSync(file);
    const db = new Database(file);
    db.exec('CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)');
    db.close();
    expectRefused(file, 'foreign', /not a codemode database \(tables: photos\)/);
  });

  it('an older schema is backed up through SQLite before it is migrated', () => {
    const file = fresh();
    const old = new Database((openDatabase(file).close(), rmSync(file), file));
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    old.exec(MIGRATIONS[0]!);
    old.prepare('INSERT INTO schema_migrations VALUES (1, ?)').run('x');
    old
      .prepare("INSERT INTO sessions VALUES ('s1', 'alice', 'python', '{}', '/w', '2026-01-01', '2026-01-01', 0, NULL)")
      .run();
    old.close();
    const db = openDatabase(file);
    const backup = migrationBackupOf(db);
    assert.ok(backup?.startsWith(`${file}.v1-`), String(backup));
    assert.equal(
      (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v,
      MIGRATIONS.length,
    );
    db.close();
    const copy = new Database(backup, { readonly: true });
    assert.equal((copy.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v, 1);
    assert.equal((copy.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n, 1);
    copy.close();
    // Opening the current schema again makes no further backup.
    const again = openDatabase(file);
    assert.equal(migrationBackupOf(again), undefined);
    again.close();
    assert.equal(readdirSync(path.dirname(file)).filter((f) => f.endsWith('.bak')).length, 1);
  });

  it('an empty file and a missing file are new databases', () => {
    const file = fresh();
    openDatabase(file).close();
    rmSync(file);
    writeFileSync(file, '');
    const db = openDatabase(file);
    assert.equal(migrationBackupOf(db), undefined);
    db.close();
  });
});
