/**
 * The CLI's in-process session service: settings from the environment and
 * files, the OS sandbox, the SQLite store at settings.store.path (memory only
 * when the store is disabled) and a SessionManager over them. One
 * construction shared by `agent`, `repl` and `sessions`, so they all see the
 * same saved sessions as `codemode serve`.
 */
import type { Settings } from '../config/settings.js';
import type { SessionService } from '../sessions/contract.js';
import type { CliIO } from './io.js';

export interface SessionRuntime {
  /** The session manager behind the static analysis (settings.analysis). */
  sessions: SessionService;
  settings: Settings;
  stateDir: string;
  /** Stops the kernels (sessions stay resumable) and closes the store. */
  close(): Promise<void>;
}

export async function openSessionRuntime(io: Pick<CliIO, 'env' | 'cwd'>): Promise<SessionRuntime> {
  const { loadSettings, ensureStateDirs } = await import('../config/load-settings.js');
  const { createProcessSandbox } = await import('../sandbox/process/process-sandbox.js');
  const { SessionManager } = await import('../sessions/session-manager.js');
  const { settings, stateDir } = loadSettings({ env: io.env, cwd: io.cwd });
  ensureStateDirs(settings, stateDir);
  let store = null;
  if (settings.store.enabled) {
    const { SqliteSessionStore } = await import('../store/session-store.js');
    store = new SqliteSessionStore(settings.store.path);
  }
  const manager = new SessionManager({
    sandbox: await createProcessSandbox(),
    store,
    workspaceRoot: settings.workspaces.root,
    limits: settings.limits.defaults,
    ceiling: settings.limits.max,
    pool: false,
    environments: (await import('../projects/kits-session.js')).sessionEnvironments(settings, stateDir),
  });
  const { analyzingSessions } = await import('../analysis/analyzing-sessions.js');
  const { operatorOf } = await import('../analysis/compose.js');
  const sessions = settings.analysis.enabled
    ? analyzingSessions(manager, { operator: operatorOf(settings.analysis) })
    : manager;
  return {
    sessions,
    settings,
    stateDir,
    async close() {
      try {
        await sessions.shutdown();
      } finally {
        store?.close();
      }
    },
  };
}
