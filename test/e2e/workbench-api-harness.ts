/**
 * The workbench API in process for e2e tests: the real HTTP server (bearer
 * tokens) with the workbench and the MCP endpoint on it, over a session
 * manager on the real sandbox (no store, no warm pool), workspaces in root/ws.
 * The caller owns root.
 */
import path from 'node:path';
import { startHttpServer, type RunningHttpServer } from '../../src/mcp/http-server.js';
import { createWorkbench, type WorkbenchOptions } from '../../src/mcp/http/workbench.js';
import { OutputStore } from '../../src/mcp/output-store.js';
import { createCodemodeServer } from '../../src/mcp/server.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { ProcessExecutor } from '../../src/sandbox/process/process-executor.js';
import { SessionManager } from '../../src/sessions/session-manager.js';

export interface WorkbenchApi {
  http: RunningHttpServer;
  /** http://127.0.0.1:PORT */
  base: string;
  close(): Promise<void>;
}

export async function startWorkbenchApi(o: {
  root: string;
  tokens: string[];
  maxBodyBytes: number;
  /** Further workbench options (the agent's models and env, webRoot, replyChars). */
  workbench: Omit<WorkbenchOptions, 'sessions' | 'limits' | 'maxBodyBytes' | 'version' | 'outputs'>;
}): Promise<WorkbenchApi> {
  const sandbox = await createProcessSandbox();
  const executor = new ProcessExecutor(sandbox);
  const sessions = new SessionManager({ sandbox, store: null, workspaceRoot: path.join(o.root, 'ws'), pool: false });
  const outputs = new OutputStore();
  const workbench = createWorkbench({
    sessions,
    limits: { defaults: executor.limitsFor({}), max: executor.limitsFor({}) },
    maxBodyBytes: o.maxBodyBytes,
    version: 'test',
    outputs,
    ...o.workbench,
  });
  const http = await startHttpServer({
    port: 0,
    tokens: o.tokens,
    maxBodyBytes: o.maxBodyBytes,
    createServer: (principal) => createCodemodeServer({ executor, sessions, principal, outputs }),
    web: (req, res, principal) => workbench.handle(req, res, principal),
  });
  return {
    http,
    base: `http://127.0.0.1:${http.port}`,
    async close() {
      workbench.close();
      await http.close();
      await sessions.shutdown();
      await executor.close();
    },
  };
}
