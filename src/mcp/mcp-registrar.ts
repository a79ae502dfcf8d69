/**
 * The SDK-neutral surface codemode registers its tools and resources on. The
 * tool and resource definitions are written once against this contract and
 * mounted on either MCP SDK by an adapter: `sdk-v1-registrar.ts` (the v1
 * `@modelcontextprotocol/sdk` McpServer, 2025 revisions over sessionful HTTP)
 * and `sdk-v2-registrar.ts` (the v2 `@modelcontextprotocol/server` McpServer,
 * 2026-07-28 and the 2025 revisions). No runtime imports: types only.
 */
import type { CallToolResult, ReadResourceResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';

/** A tool's input: a record of zod fields (wrapped in an object) or a zod object schema. */
export type ToolInput = Record<string, z.ZodType> | z.ZodType;

/** The parsed arguments a handler receives for `I`. */
export type ToolArgs<I extends ToolInput> = I extends z.ZodType
  ? z.output<I>
  : I extends Record<string, z.ZodType>
    ? z.output<z.ZodObject<I>>
    : never;

export type { CallToolResult, ReadResourceResult };

export interface ToolConfig<I extends ToolInput> {
  title?: string;
  description?: string;
  inputSchema: I;
  outputSchema?: Record<string, z.ZodType>;
  annotations?: ToolAnnotations;
}

/** What a tool handler learns about its call, whatever the SDK and protocol revision. */
export interface ToolCallContext {
  /** Aborted when the client cancels the request (or, on stateless HTTP, disconnects). */
  signal: AbortSignal;
  /** The request's `_meta.progressToken`, when the client asked for progress. */
  progressToken?: string | number;
  /** Sends a notification related to this request (e.g. `notifications/progress`). */
  notify(notification: { method: string; params?: Record<string, unknown> }): Promise<void>;
}

export type ToolHandler<I extends ToolInput> = (args: ToolArgs<I>, call: ToolCallContext) => Promise<CallToolResult>;

/** A registered tool that can be described anew or removed (list_changed is the SDK's job). */
export interface RegisteredToolHandle {
  update(updates: { description?: string }): void;
  remove(): void;
}

export interface ResourceListEntry {
  uri: string;
  name: string;
  mimeType?: string;
}

/** URI-template variables as the SDKs parse them. */
export type TemplateVariables = Record<string, string | string[]>;

export interface ResourceTemplateDefinition {
  name: string;
  /** RFC 6570 template, e.g. `codemode://sessions/{session_id}/history`. */
  uriTemplate: string;
  title: string;
  description: string;
  mimeType?: string;
  list(): Promise<ResourceListEntry[]>;
  /** Throws ResourceReadError for a failure the client should see as a JSON-RPC error. */
  read(uri: URL, variables: TemplateVariables): Promise<ReadResourceResult>;
}

/**
 * A resource read the client must see as a protocol error. `not_found` maps to
 * each SDK's resource-not-found error, `invalid_params` to -32602, `internal`
 * to -32603 (its message is generic; details stay in the server log).
 */
export class ResourceReadError extends Error {
  constructor(
    readonly kind: 'not_found' | 'invalid_params' | 'internal',
    message: string,
    readonly uri: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ResourceReadError';
  }
}

/** Where tools and resource templates are registered: one adapter per SDK. */
export interface McpRegistrar {
  registerTool<I extends ToolInput>(name: string, config: ToolConfig<I>, handler: ToolHandler<I>): RegisteredToolHandle;
  registerResourceTemplate(definition: ResourceTemplateDefinition): void;
}

/** Registers more tools on a server being built, e.g. Code Mode; may finish asynchronously. */
export type ServerExtension = (registrar: McpRegistrar) => void | Promise<unknown>;
