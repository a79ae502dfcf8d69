/**
 * For the cluster tests and the bench: a runtime (a gateway's, or a single
 * machine's) served over MCP on loopback HTTP without a token, with an SDK
 * client connected, the way a real client talks to `codemode serve --http`.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ServeRuntime } from '../cli/commands/serve.js';
import { startHttpServer } from '../mcp/http-server.js';
import { OutputStore } from '../mcp/output-store.js';
import { createCodemodeServer } from '../mcp/server.js';
import type { Limits } from '../sandbox/limits.js';

export interface LocalMcp {
  client: Client;
  url: string;
  /** The client, then the HTTP server (the runtime stays the caller's). */
  close(): Promise<void>;
}

export async function localMcp(
  runtime: Pick<ServeRuntime, 'executor' | 'sessions' | 'extensions'>,
  options: { name: string; ceiling?: Readonly<Limits> },
): Promise<LocalMcp> {
  const outputs = new OutputStore();
  const http = await startHttpServer({
    createServer: (principal) =>
      createCodemodeServer({
        executor: runtime.executor,
        sessions: runtime.sessions,
        principal,
        outputs,
        ...(options.ceiling === undefined ? {} : { ceiling: options.ceiling }),
        extensions: runtime.extensions,
      }),
    port: 0,
    allowAnonymous: true,
  });
  const client = new Client({ name: options.name, version: '1' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)));
  } catch (e) {
    await http.close();
    throw e;
  }
  return {
    client,
    url: http.url,
    async close() {
      await client.close().catch(() => undefined); // the server may have gone first
      await http.close();
    },
  };
}
