/**
 * The workbench on the HTTP server: `/api/...` to the API router (a bearer
 * token required, as /mcp), every other path to the static build. Given to
 * startHttpServer as its `web` handler, after its Host/Origin check.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Limits } from '../../sandbox/limits.js';
import type { SessionService } from '../../sessions/contract.js';
import { OutputStore } from '../output-store.js';
import { AgentRuns } from './agent-runs.js';
import { createApiRouter } from './api-router.js';
import { LiveHub } from './live.js';
import { createStaticServer, defaultWebRoot } from './static.js';
import { ResultWire } from './wire.js';

export interface WorkbenchOptions {
  sessions: SessionService;
  /** The server's limits (settings `limits`): defaults and ceiling. */
  limits: { defaults: Limits; max: Limits };
  /** Largest request body and file transfer (settings `http.maxBodyBytes`). */
  maxBodyBytes: number;
  version: string;
  /** Full copies of clipped output; share the MCP server's store. */
  outputs?: OutputStore;
  /** Model strings the workbench may run the agent with (the first is the default). */
  agentModels?: string[];
  /** Where the agent's providers find keys and base URLs (default process.env). */
  env?: Record<string, string | undefined>;
  /** The built front-end (default dist/web of this checkout); null serves none. */
  webRoot?: string | null;
  /** Events held per session for resume (default 1000). */
  eventBuffer?: number;
  pingMs?: number;
  maxStreamsPerPrincipal?: number;
  /** Characters of each stream inline in a result (default 100 000); the rest is linked. */
  replyChars?: number;
}

export interface Workbench {
  /** The `web` handler for startHttpServer. */
  handle(req: IncomingMessage, res: ServerResponse, principal: string | undefined): Promise<void>;
  /** Whether a front-end build is served. */
  readonly built: boolean;
  close(): void;
}

/** The agent's model strings from the environment: CODEMODE_AGENT_MODELS (comma-separated) and CODEMODE_AGENT_MODEL. */
export function agentModelsFromEnv(env: Record<string, string | undefined>): string[] {
  const list = [env['CODEMODE_AGENT_MODEL'] ?? '', ...(env['CODEMODE_AGENT_MODELS'] ?? '').split(',')]
    .map((m) => m.trim())
    .filter((m) => m !== '');
  return [...new Set(list)];
}

export function createWorkbench(options: WorkbenchOptions): Workbench {
  const outputs = options.outputs ?? new OutputStore();
  const wire = new ResultWire(outputs, options.replyChars ?? 100_000);
  const hub = new LiveHub({
    sessions: options.sessions,
    wire,
    ...(options.eventBuffer === undefined ? {} : { maxEvents: options.eventBuffer }),
  });
  const env = options.env ?? process.env;
  const agents = new AgentRuns({
    sessions: options.sessions,
    hub,
    models: options.agentModels ?? agentModelsFromEnv(env),
    env,
  });
  const api = createApiRouter({
    sessions: options.sessions,
    hub,
    wire,
    agents,
    outputs,
    version: options.version,
    limits: options.limits,
    maxBodyBytes: options.maxBodyBytes,
    ...(options.pingMs === undefined ? {} : { pingMs: options.pingMs }),
    ...(options.maxStreamsPerPrincipal === undefined ? {} : { maxStreamsPerPrincipal: options.maxStreamsPerPrincipal }),
  });
  const statics = createStaticServer(options.webRoot === undefined ? defaultWebRoot() : options.webRoot);
  return {
    built: statics.built,
    async handle(req, res, principal) {
      // Joined, not resolved: "//host/x" must stay a path, not become another authority.
      const url = new URL(
        `http://localhost${(req.url ?? '/').startsWith('/') ? (req.url ?? '/') : `/${req.url ?? ''}`}`,
      );
      if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
        await api.handle(req, res, url, principal);
        return;
      }
      statics.serve(req, res, url.pathname);
      req.resume();
    },
    close() {
      agents.close();
      hub.close();
    },
  };
}
