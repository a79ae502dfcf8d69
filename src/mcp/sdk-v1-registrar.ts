/**
 * Mounts the SDK-neutral registrar on a v1 `@modelcontextprotocol/sdk`
 * McpServer: the server behind the sessionful 2025-revision HTTP endpoint.
 * Maps the handler context (`extra`) and ResourceReadError to v1 types.
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  ResourceReadError,
  type McpRegistrar,
  type RegisteredToolHandle,
  type ToolCallContext,
  type ToolConfig,
  type ToolHandler,
  type ToolInput,
} from './mcp-registrar.js';

/** The v1 handler context fields the adapter reads. */
interface V1Extra {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification(notification: { method: string; params?: Record<string, unknown> }): Promise<void>;
}

function callContext(extra: V1Extra): ToolCallContext {
  const token = extra._meta?.progressToken;
  return {
    signal: extra.signal,
    ...(token === undefined ? {} : { progressToken: token }),
    notify: (n) => extra.sendNotification(n as Parameters<V1Extra['sendNotification']>[0]),
  };
}

function toMcpError(error: unknown): unknown {
  if (!(error instanceof ResourceReadError)) return error;
  if (error.kind === 'not_found') return new McpError(-32002, error.message, { uri: error.uri });
  if (error.kind === 'invalid_params') {
    return new McpError(ErrorCode.InvalidParams, error.message, { uri: error.uri, ...error.data });
  }
  return new McpError(ErrorCode.InternalError, error.message);
}

export function v1Registrar(server: McpServer): McpRegistrar {
  return {
    registerTool<I extends ToolInput>(name: string, config: ToolConfig<I>, handler: ToolHandler<I>) {
      // The v1 generics cannot follow ToolArgs<I>; the schema is the same, so the parsed args match.
      const registered = server.registerTool(
        name,
        config as ToolConfig<Record<string, never>>,
        (async (args: unknown, extra: V1Extra) =>
          handler(args as Parameters<ToolHandler<I>>[0], callContext(extra))) as never,
      );
      return {
        update: (updates) => registered.update(updates),
        remove: () => registered.remove(),
      } satisfies RegisteredToolHandle;
    },
    registerResourceTemplate(def) {
      server.registerResource(
        def.name,
        new ResourceTemplate(def.uriTemplate, { list: async () => ({ resources: await def.list() }) }),
        {
          title: def.title,
          description: def.description,
          ...(def.mimeType === undefined ? {} : { mimeType: def.mimeType }),
        },
        async (uri, variables) => {
          try {
            return await def.read(uri, variables);
          } catch (error) {
            throw toMcpError(error);
          }
        },
      );
    },
  };
}
