/**
 * `codemode doctor`'s look at the store from outside the server: is the
 * database file codemode's and readable (checked read-only, nothing copied),
 * is there room beside it, and can a file be written there. A running server
 * reports its own view at /healthz.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { inspectDatabaseFile } from './db-guard.js';
import { MIGRATIONS } from './session-store.js';
import { describeStoreError } from './store-status.js';

export interface StoreCheck {
  state: 'ok' | 'degraded' | 'unusable' | 'off';
  path: string;
  detail: string;
  freeBytes: number | null;
}

/** Below this much free space beside the database, the store is reported degraded. */
export const LOW_SPACE_BYTES = 16 * 1024 * 1024;
const PROBE_BYTES = 64 * 1024;

export function checkStore(file: string, enabled = true): StoreCheck {
  if (!enabled)
    return {
      state: 'off',
      path: file,
      detail: 'store.enabled is false: history lives in memory only',
      freeBytes: null,
    };
  const dir = path.dirname(file);
  let schema = 'no database yet (made at the first start)';
  if (existsSync(file)) {
    try {
      const { version } = inspectDatabaseFile(file, MIGRATIONS.length, { copyOnRefusal: false });
      schema = `schema version ${version} of ${MIGRATIONS.length}`;
    } catch (e) {
      return { state: 'unusable', path: file, detail: errorMessage(e), freeBytes: null };
    }
  }
  let freeBytes: number | null = null;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fs = statfsSync(dir);
    freeBytes = fs.bavail * fs.bsize;
    probeWrite(dir);
  } catch (e) {
    return { state: 'degraded', path: file, detail: `${schema}; writes fail: ${describeStoreError(e)}`, freeBytes };
  }
  if (freeBytes !== null && freeBytes < LOW_SPACE_BYTES) {
    const mib = (freeBytes / 1024 / 1024).toFixed(1);
    return { state: 'degraded', path: file, detail: `${schema}; only ${mib} MiB free beside it`, freeBytes };
  }
  return { state: 'ok', path: file, detail: schema, freeBytes };
}

/** Write, sync and remove a small file: ENOSPC, EROFS and EACCES show here. */
function probeWrite(dir: string): void {
  const probe = path.join(dir, `.codemode-store-probe-${process.pid}`);
  const fd = openSync(probe, 'w', 0o600);
  try {
    writeSync(fd, Buffer.alloc(PROBE_BYTES));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
    unlinkSync(probe);
  }
}
