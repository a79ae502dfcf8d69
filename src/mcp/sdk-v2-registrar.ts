/**
 * Mounts the SDK-neutral registrar on a v2 `@modelcontextprotocol/server`
 * McpServer: the server that answers 2026-07-28 over HTTP and both eras on
 * stdio. Maps the handler context (`ctx.mcpReq`) and ResourceReadError to v2
 * types; raw zod field records are wrapped in `z.object`.
 */
import {
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  ResourceTemplate,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import {
  ResourceReadError,
  type McpRegistrar,
  type RegisteredToolHandle,
  type ToolCallContext,
  type ToolConfig,
  type ToolHandler,
  type ToolInput,
} from './mcp-registrar.js';

function callContext(ctx: ServerContext): ToolCallContext {
  const token = ctx.mcpReq._meta?.progressToken;
  return {
    signal: ctx.mcpReq.signal,
    ...(token === undefined ? {} : { progressToken: token }),
    notify: (n) => ctx.mcpReq.notify(n),
  };
}

function toProtocolError(error: unknown): unknown {
  if (!(error instanceof ResourceReadError)) return error;
  if (error.kind === 'not_found') return new ResourceNotFoundError(error.uri, error.message);
  if (error.kind === 'invalid_params') {
    return new ProtocolError(ProtocolErrorCode.InvalidParams, error.message, { uri: error.uri, ...error.data });
  }
  return new ProtocolError(ProtocolErrorCode.InternalError, error.message);
}

function objectSchema(input: ToolInput | undefined): z.ZodType | undefined {
  if (input === undefined || input instanceof z.ZodType) return input;
  return z.object(input);
}

export function v2Registrar(server: McpServer): McpRegistrar {
  return {
    registerTool<I extends ToolInput>(name: string, config: ToolConfig<I>, handler: ToolHandler<I>) {
      const inputSchema = objectSchema(config.inputSchema) ?? z.object({});
      const outputSchema = objectSchema(config.outputSchema);
      const registered = server.registerTool(
        name,
        {
          ...(config.title === undefined ? {} : { title: config.title }),
          ...(config.description === undefined ? {} : { description: config.description }),
          inputSchema,
          ...(outputSchema === undefined ? {} : { outputSchema }),
          ...(config.annotations === undefined ? {} : { annotations: config.annotations }),
        },
        // The v2 generics cannot follow ToolArgs<I>; the schema is the same, so the parsed args match.
        (async (args: unknown, ctx: ServerContext) =>
          handler(args as Parameters<ToolHandler<I>>[0], callContext(ctx))) as never,
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
            return (await def.read(uri, variables)) as never;
          } catch (error) {
            throw toProtocolError(error);
          }
        },
      );
    },
  };
}
