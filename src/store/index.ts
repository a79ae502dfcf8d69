/**
 * Public surface of the embedded store: session history (SessionStore and its
 * SQLite implementation) and the opt-in one-shot result cache.
 */
export {
  MIGRATIONS,
  SqliteSessionStore,
  defaultDatabasePath,
  defaultStateDir,
  migrate,
  openDatabase,
} from './session-store.js';
export type { SessionStore, StoredSession } from './session-store.js';
export { ResultCache, resultCacheKey } from './result-cache.js';
export type { CacheKeyInput, ResultCacheOptions } from './result-cache.js';
