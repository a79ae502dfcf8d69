/**
 * Shared setup for the MCP e2e suites: the real sandboxed executor and
 * SessionManager (in-memory store, temporary workspaces), an in-process
 * Streamable HTTP server on port 0 serving 2026-07-28 and the 2025 revisions
 * from the v2 SDK, and SDK clients connected to it: v1 (2025 revisions) and
 * v2 (2026-07-28, or a pinned 2025 revision).
 * Like `codemode serve --http`, the server requires a bearer token by default
 * (`TEST_TOKEN`, or the given `tokens`); `noAuth` is the `--no-auth` server.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHttpTransport,
} from '@modelcontextprotocol/client';
import { createCodemodeServer, type CodemodeServerOptions } from '../../src/mcp/server.js';
import { startHttpServer, type RunningHttpServer } from '../../src/mcp/http-server.js';
import { OutputStore } from '../../src/mcp/output-store.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { ProcessExecutor } from '../../src/sandbox/process/process-executor.js';
import { CachingExecutor, executorFor } from '../../src/sandbox/caching-executor.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import { ResultCache, resultCacheKey } from '../../src/store/result-cache.js';

/** The token of a test server started without explicit `tokens`. */
export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface TestServer {
  http: RunningHttpServer;
  /** The token clients send (the first configured one), or undefined with `noAuth`. */
  token: string | undefined;
  executor: ProcessExecutor;
  sessions: SessionManager;
  close(): Promise<void>;
}

export async function startTestServer(
  options: { tokens?: string[]; noAuth?: boolean; maxBodyBytes?: number; replyChars?: number } = {},
) {
  const sandbox = await createProcessSandbox();
  const executor = new ProcessExecutor(sandbox);
  // As `codemode serve` does with its store: one-shot runs may ask for the result cache.
  const cache = new ResultCache(':memory:');
  const cachingExecutor = new CachingExecutor(executor, {
    cache,
    keyOf: resultCacheKey,
    resolveLimits: (o) => executor.limitsFor(o),
  });
  const workspaceRoot = mkdtempSync(path.join(os.tmpdir(), 'codemode-mcp-e2e-'));
  chmodSync(workspaceRoot, 0o711); // the sandbox user must reach its workspace
  const sessions = new SessionManager({ sandbox, store: null, workspaceRoot, pool: false });
  const outputs = new OutputStore();
  const serverOptions = (principal: string): CodemodeServerOptions => ({
    executor: executorFor(cachingExecutor, principal),
    sessions,
    principal,
    outputs,
    progressIntervalMs: 100,
    ...(options.replyChars === undefined ? {} : { replyChars: options.replyChars }),
  });
  const tokens = options.noAuth === true ? [] : (options.tokens ?? [TEST_TOKEN]);
  const http = await startHttpServer({
    port: 0,
    ...(options.noAuth === true ? { allowAnonymous: true } : { tokens }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    createServer: (principal) => createCodemodeServer(serverOptions(principal)),
  });
  return {
    http,
    token: tokens[0],
    executor,
    sessions,
    async close() {
      await http.close();
      await sessions.shutdown();
      await executor.close();
      cache.close();
      rmSync(workspaceRoot, { recursive: true, force: true });
    },
  } satisfies TestServer;
}

export async function connectHttpClient(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: 'codemode-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    ...(token === undefined ? {} : { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
  });
  await client.connect(transport);
  return client;
}

/**
 * A v2 SDK client over Streamable HTTP. `auto` probes with server/discover and
 * takes 2026-07-28 when offered; a pinned revision fails unless it is offered.
 */
export async function connectModernHttpClient(
  url: string,
  options: { token?: string; mode?: 'auto' | { pin: string } } = {},
): Promise<ModernClient> {
  const client = new ModernClient(
    { name: 'codemode-e2e-v2', version: '1.0.0' },
    { versionNegotiation: { mode: options.mode ?? 'auto' } },
  );
  const transport = new ModernHttpTransport(new URL(url), {
    ...(options.token === undefined ? {} : { requestInit: { headers: { authorization: `Bearer ${options.token}` } } }),
  });
  await client.connect(transport);
  return client;
}

/** The text of a tool result's first text part. */
export function firstText(result: unknown): string {
  const parts = ((result as { content?: unknown }).content ?? []) as { type: string; text?: string }[];
  return parts.find((p) => p.type === 'text')?.text ?? '';
}
