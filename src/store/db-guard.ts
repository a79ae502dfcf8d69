/**
 * What an existing database file is, checked before codemode writes to it: a
 * file that is not SQLite, a damaged one, another program's database or one of
 * a newer codemode is refused with a clear message and never changed (the
 * checks open it read-only). A database of an older schema is backed up
 * through SQLite (VACUUM INTO: a consistent copy, WAL included) before any
 * migration runs.
 */
import Database from 'better-sqlite3';
import { closeSync, constants, copyFileSync, existsSync, openSync, readSync } from 'node:fs';
import { AppError } from '../errors.js';

const SQLITE_HEADER = 'SQLite format 3\0';

export type RefusalReason = 'not_sqlite' | 'damaged' | 'foreign' | 'newer';

/** What the file holds: nothing yet, or codemode's schema at `version`. Throws (refuses) otherwise. */
export function inspectDatabaseFile(
  file: string,
  knownVersions: number,
  options: { copyOnRefusal?: boolean } = {},
): { version: number } {
  const refuse = (f: string, reason: RefusalReason, why: string): never =>
    refuseFile(f, reason, why, options.copyOnRefusal ?? true);
  const header = readHeader(file);
  if (header.length === 0) return { version: 0 }; // new (empty) file
  if (header.length < SQLITE_HEADER.length || header.toString('latin1', 0, 16) !== SQLITE_HEADER) {
    refuse(file, 'not_sqlite', 'it is not a SQLite database');
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok') refuse(file, 'damaged', `it is damaged (SQLite: ${String(check)})`);
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as {
        name: string;
      }[]
    ).map((t) => t.name);
    if (tables.length === 0) return { version: 0 };
    if (!tables.includes('schema_migrations')) {
      refuse(file, 'foreign', `it is not a codemode database (tables: ${tables.slice(0, 5).join(', ')})`);
    }
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const version = row.v ?? 0;
    if (version > knownVersions) {
      refuse(
        file,
        'newer',
        `its schema version ${version} is newer than this codemode knows (${knownVersions}): a newer codemode wrote it`,
      );
    }
    return { version };
  } catch (e) {
    if (e instanceof AppError) throw e;
    // SQLite could not read it at all: "file is not a database", "database disk image is malformed", ...
    return refuse(file, 'damaged', `SQLite cannot read it (${(e as Error).message})`);
  } finally {
    db?.close();
  }
}

/** Copy the database through SQLite before a migration; returns the backup's path. */
export function backupBeforeMigration(db: Database.Database, file: string, fromVersion: number): string {
  const backup = freePath(`${file}.v${fromVersion}-${stamp()}.bak`);
  db.prepare('VACUUM INTO ?').run(backup);
  return backup;
}

function readHeader(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(100);
    return buf.subarray(0, readSync(fd, buf, 0, 100, 0));
  } finally {
    closeSync(fd);
  }
}

/** Refuse the file: a byte-for-byte copy is made beside it (the original stays as it is), and both are named. */
function refuseFile(file: string, reason: RefusalReason, why: string, copy: boolean): never {
  let backup: string | null = copy ? freePath(`${file}.refused-${stamp()}.bak`) : null;
  if (backup !== null) {
    try {
      copyFileSync(file, backup, constants.COPYFILE_EXCL);
      if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${backup}-wal`, constants.COPYFILE_EXCL);
    } catch {
      backup = null; // no room for a copy: the original is untouched all the same
    }
  }
  throw new AppError(
    'INTERNAL',
    `the session store ${file} cannot be used: ${why}. It was left untouched` +
      (backup ? `; a copy was made at ${backup}` : '') +
      `. Move it away (or point --db / store.path at another file) and start again.`,
    { store: reason, path: file, backup },
  );
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

function freePath(p: string): string {
  let candidate = p;
  for (let i = 1; existsSync(candidate); i++) candidate = `${p}.${i}`;
  return candidate;
}
