/**
 * The codemode MCP server: the tools and resource templates of ./tools/,
 * mounted on the v2 SDK's McpServer, which serves every protocol revision
 * (2026-07-28 and the 2025 ones) on stdio and Streamable HTTP. Each server is
 * bound to one principal that owns every code session it touches. Schemas are
 * compiled once per settings (./tools/define-tool.ts), so a server built per
 * request converts no zod to JSON Schema. Failures come back as tool results
 * the model can act on, never as protocol errors; only resource reads map to
 * JSON-RPC errors.
 */
import {
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  ResourceTemplate,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { isAppError } from '../errors.js';
import type { Executor } from '../sandbox/executor.js';
import { MAX_LIMITS, type Limits } from '../sandbox/limits.js';
import type { SessionService } from '../sessions/contract.js';
import { OutputStore } from './output-store.js';
import { toolErrorResult } from './tool-errors.js';
import {
  compileTool,
  ResourceReadError,
  type AnyToolDefinition,
  type ResourceTemplateDefinition,
  type SchemaSettings,
  type ToolCallContext,
} from './tools/define-tool.js';
import type { Policy } from '../analysis/policy.js';
import type { AgentToolConfig } from './tools/agent.js';
import type { ToolEnv } from './tools/env.js';
import { CODEMODE_RESOURCE_TEMPLATES, CODEMODE_TOOLS } from './tools/index.js';

export const SERVER_NAME = 'codemode';
export const SERVER_VERSION = '0.1.0';

/** A registered tool that can be described anew or removed (list_changed is the SDK's job). */
export interface RegisteredToolHandle {
  update(updates: { description?: string }): void;
  remove(): void;
}

/** Where an extension (e.g. Code Mode) registers more tools on a server being built. */
export interface ToolRegistry {
  registerTool(definition: AnyToolDefinition<undefined>): RegisteredToolHandle;
}

/** Registers more tools on a server being built; the server waits for the returned promise. */
export type ServerExtension = (registry: ToolRegistry) => void | Promise<unknown>;

export interface CodemodeServerOptions {
  executor: Executor;
  sessions: SessionService;
  /** Who is calling: passed as `owner` on every session call. */
  principal: string;
  /** Full copies of clipped one-shot output; share one store across MCP sessions. */
  outputs?: OutputStore;
  /** Characters of each output stream kept inline in a reply (default 20 000). */
  replyChars?: number;
  /** Characters of a file returned inline by read_file (default 200 000). */
  readFileChars?: number;
  /** Minimum interval between progress notifications (default 250 ms). */
  progressIntervalMs?: number;
  /** The server's ceiling of every limit (settings `limits.max`): the maximums in the schemas. */
  ceiling?: Readonly<Limits>;
  /** Registers more tools, e.g. the Code Mode tools (registerCodeModeTools). */
  extensions?: ServerExtension[];
  /** Where internal errors are logged (stderr in the CLI). */
  log?: (message: string) => void;
  /** Offer run_agent with this configuration (settings agent.enabled). */
  agent?: AgentToolConfig;
  /** What check_code reports against: the policy runs are checked with (null: analysis is off). */
  analysisPolicy?: Policy | null;
}

const INSTRUCTIONS =
  'Run code in a sandbox. Use execute_code without session_id for one-off programs; ' +
  'create_session to keep variables and files between runs (then pass session_id). ' +
  'The sandbox has no network access. Files live in the session workspace (write_file, read_file, list_files).';

const SERVER_INFO = { name: SERVER_NAME, version: SERVER_VERSION, title: 'codemode: sandboxed code execution' };
/**
 * Only what codemode does: no `logging` (it logs to stderr and sends no
 * notifications/message) and no resources.listChanged (it never sends one;
 * the SDK would otherwise advertise it). Tools do change (Code Mode's
 * descriptions follow its upstreams), and `completions` comes with the
 * templates' completers.
 */
const SERVER_OPTIONS = {
  capabilities: { tools: { listChanged: true }, resources: { listChanged: false } },
  instructions: INSTRUCTIONS,
};

/** Completes one variable of a resource template from what the principal owns. */
export type TemplateCompleter = (variable: string, value: string, context: Record<string, string>) => Promise<string[]>;

function callContext(ctx: ServerContext): ToolCallContext {
  const token = ctx.mcpReq._meta?.progressToken;
  return {
    signal: ctx.mcpReq.signal,
    ...(token === undefined ? {} : { progressToken: token }),
    notify: (n) => ctx.mcpReq.notify(n as Parameters<ServerContext['mcpReq']['notify']>[0]),
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

/**
 * Mounts one tool on `server`: schemas compiled for `settings`, the handler
 * given `env`, and any exception turned into a tool error result (internal
 * ones logged with their stack).
 */
export function mountTool<Env>(
  server: McpServer,
  definition: AnyToolDefinition<Env>,
  env: Env,
  settings: SchemaSettings,
  log: (message: string) => void = () => {},
): RegisteredToolHandle {
  const compiled = compileTool(definition, settings);
  const registered = server.registerTool(
    definition.name,
    {
      ...(definition.title === undefined ? {} : { title: definition.title }),
      description: definition.description,
      inputSchema: compiled.input as never,
      ...(compiled.output === undefined ? {} : { outputSchema: compiled.output as never }),
      ...(definition.annotations === undefined ? {} : { annotations: definition.annotations }),
    },
    (async (args: unknown, ctx: ServerContext) => {
      try {
        return await definition.handler(args, callContext(ctx), env);
      } catch (error) {
        if (!isAppError(error) || error.code === 'INTERNAL') {
          log(
            `tool ${definition.name} failed with an internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
          );
        }
        return toolErrorResult(definition.name, error);
      }
    }) as never,
  );
  return {
    update: (updates) => registered.update(updates),
    remove: () => registered.remove(),
  };
}

export function mountResourceTemplate<Env>(
  server: McpServer,
  definition: ResourceTemplateDefinition<Env>,
  env: Env,
  completer?: TemplateCompleter,
): void {
  const variables = [...definition.uriTemplate.matchAll(/\{\+?(\w+)\}/g)].map((m) => m[1] ?? '');
  const complete =
    completer === undefined
      ? undefined
      : Object.fromEntries(
          variables.map((v) => [
            v,
            (value: string, context?: { arguments?: Record<string, string> }) =>
              completer(v, value, context?.arguments ?? {}),
          ]),
        );
  server.registerResource(
    definition.name,
    new ResourceTemplate(definition.uriTemplate, {
      list: async () => ({ resources: await definition.list(env) }),
      ...(complete === undefined ? {} : { complete }),
    }),
    {
      title: definition.title,
      description: definition.description,
      ...(definition.mimeType === undefined ? {} : { mimeType: definition.mimeType }),
    },
    async (uri, variables) => {
      try {
        return (await definition.read(uri, variables, env)) as never;
      } catch (error) {
        throw toProtocolError(error);
      }
    },
  );
}

const MAX_COMPLETIONS = 100;

/**
 * Completions for the templates' variables, from the principal's own things
 * only: its session ids, the files of one of its sessions (given the
 * session_id already chosen), its clipped outputs.
 */
function completerFor(env: ToolEnv): TemplateCompleter {
  return async (variable, value, context) => {
    let candidates: string[] = [];
    if (variable === 'session_id') candidates = env.sessions.list(env.owner).map((s) => s.id);
    else if (variable === 'output_id') candidates = env.outputs.list(env.owner).map((o) => o.id);
    else if (variable === 'path' && context['session_id'] !== undefined) {
      // Someone else's or a closed session lists nothing, the same as an empty one.
      const files = await env.sessions.listFiles(context['session_id'], undefined, env.owner).catch(() => []);
      candidates = files.map((f) => f.path);
    }
    return candidates.filter((c) => c.startsWith(value)).slice(0, MAX_COMPLETIONS);
  };
}

/** A registry that mounts tools (with no environment) on `server`, e.g. for the Code Mode tools alone. */
export function registryFor(server: McpServer, settings: SchemaSettings = { ceiling: MAX_LIMITS }): ToolRegistry {
  return { registerTool: (definition) => mountTool(server, definition, undefined, settings) };
}

/** An empty server with codemode's identity, capabilities and instructions. */
export function createBareServer(): McpServer {
  return new McpServer(SERVER_INFO, SERVER_OPTIONS);
}

/**
 * The codemode server for one principal: one per 2026-07-28 HTTP request, per
 * 2025 HTTP session, or per stdio connection (either era). Resolves once every
 * extension is ready, so its tool list is complete from the first request.
 */
export async function createCodemodeServer(options: CodemodeServerOptions): Promise<McpServer> {
  const server = createBareServer();
  const log = options.log ?? (() => {});
  const settings: SchemaSettings = { ceiling: options.ceiling ?? MAX_LIMITS };
  const env: ToolEnv = {
    executor: options.executor,
    sessions: options.sessions,
    owner: options.principal,
    outputs: options.outputs ?? new OutputStore(),
    replyChars: options.replyChars ?? 20_000,
    readFileChars: options.readFileChars ?? 200_000,
    progressIntervalMs: options.progressIntervalMs,
    log,
    ...(options.agent === undefined ? {} : { agent: options.agent }),
    ...(options.analysisPolicy === undefined ? {} : { analysisPolicy: options.analysisPolicy }),
  };
  for (const tool of CODEMODE_TOOLS) if (tool.offered?.(env) ?? true) mountTool(server, tool, env, settings, log);
  for (const template of CODEMODE_RESOURCE_TEMPLATES) mountResourceTemplate(server, template, env, completerFor(env));
  const registry: ToolRegistry = {
    registerTool: (definition) => mountTool(server, definition, undefined, settings, log),
  };
  for (const extend of options.extensions ?? []) await extend(registry);
  return server;
}
