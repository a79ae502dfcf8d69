/**
 * An in-process SessionManager for e2e tests: the real sandbox, an in-memory
 * store, workspaces under a fresh temporary root (mode 755: the sandbox's user
 * must be able to enter it), no warm pool. close() shuts the manager down and
 * removes the root.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import { MemorySessionStore } from '../../src/store/memory-session-store.js';

export interface SessionHarness {
  manager: SessionManager;
  /** The temporary root; workspaces live in root/ws. */
  root: string;
  close(): Promise<void>;
}

/** `name` tells the temporary root apart: codemode-e2e-NAME-XXXXXX. */
export async function startSessionManager(name: string): Promise<SessionHarness> {
  const root = mkdtempSync(path.join(os.tmpdir(), `codemode-e2e-${name}-`));
  chmodSync(root, 0o755);
  const manager = new SessionManager({
    sandbox: await createProcessSandbox(),
    store: new MemorySessionStore(),
    workspaceRoot: path.join(root, 'ws'),
    pool: false,
  });
  return {
    manager,
    root,
    async close() {
      await manager.shutdown();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
