/**
 * The one way a codemode MCP tool is written: `defineTool({ name, description,
 * input, output, handler })`, with zod as the single source of its schemas.
 * The JSON Schema the SDK advertises is derived from that zod source once per
 * compiled schema (`compileSchema`) and reused by every server built from it,
 * so a per-request server (HTTP 2026-07-28) converts nothing. Inputs are
 * strict: an unknown argument is refused with the closest right name, never
 * dropped (a dropped `sessionId` would run the code somewhere else). Schema
 * errors read like every other tool error (`argument:` and `hint:` lines).
 * No runtime imports besides zod: the SDK is mounted in ../server.ts.
 */
import type { CallToolResult, ReadResourceResult, ToolAnnotations } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Limits } from '../../sandbox/limits.js';
import { argumentErrorText, type ArgumentIssue } from '../tool-errors.js';

export type { CallToolResult, ReadResourceResult };

/** What a tool handler learns about its call, whatever the protocol revision and transport. */
export interface ToolCallContext {
  /** Aborted when the client cancels the request (or, on stateless HTTP, disconnects). */
  signal: AbortSignal;
  /** The request's `_meta.progressToken`, when the client asked for progress. */
  progressToken?: string | number;
  /** Sends a notification related to this request (e.g. `notifications/progress`). */
  notify(notification: { method: string; params?: Record<string, unknown> }): Promise<void>;
}

/** What the live settings contribute to the schemas: the server's ceiling of every limit. */
export interface SchemaSettings {
  ceiling: Readonly<Limits>;
}

/** A tool's schema: fixed, or derived from the live settings (e.g. the limits' maximums). */
export type SchemaSource<S extends z.ZodType> = S | ((settings: SchemaSettings) => S);

export interface ToolDefinition<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType, Env = unknown> {
  name: string;
  title?: string;
  description: string;
  input: SchemaSource<I>;
  output?: SchemaSource<O>;
  annotations?: ToolAnnotations;
  /** Whether a server with this environment offers the tool (default: always). */
  offered?(env: Env): boolean;
  /** Throws for a failure: the mount turns it into a tool error result the model can act on. */
  handler(args: z.output<I>, call: ToolCallContext, env: Env): Promise<CallToolResult>;
}

/** The type-checked identity: ties the handler's arguments to the zod input. */
export function defineTool<I extends z.ZodType, O extends z.ZodType = z.ZodType, Env = unknown>(
  definition: ToolDefinition<I, O, Env>,
): ToolDefinition<I, O, Env> {
  return definition;
}

/** Any tool, whatever its schemas (for lists of tools). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the handler's argument type varies per tool
export type AnyToolDefinition<Env = unknown> = ToolDefinition<any, any, Env>;

/** URI-template variables as the SDK parses them. */
export type TemplateVariables = Record<string, string | string[]>;

export interface ResourceListEntry {
  uri: string;
  name: string;
  mimeType?: string;
}

export interface ResourceTemplateDefinition<Env = unknown> {
  name: string;
  /** RFC 6570 template, e.g. `codemode://sessions/{session_id}/history`. */
  uriTemplate: string;
  title: string;
  description: string;
  mimeType?: string;
  list(env: Env): Promise<ResourceListEntry[]>;
  /** Throws ResourceReadError for a failure the client should see as a JSON-RPC error. */
  read(uri: URL, variables: TemplateVariables, env: Env): Promise<ReadResourceResult>;
}

export function defineResourceTemplate<Env>(
  definition: ResourceTemplateDefinition<Env>,
): ResourceTemplateDefinition<Env> {
  return definition;
}

/**
 * A resource read the client must see as a protocol error. `not_found` maps to
 * the SDK's resource-not-found error, `invalid_params` to -32602, `internal`
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

/**
 * A Standard Schema (what the SDK validates with and converts to JSON Schema)
 * that validates with the zod schema and converts it to JSON Schema once: the
 * SDK asks on every `tools/list`, and on every `tools/call` of a fresh server.
 */
export interface CompiledSchema<S extends z.ZodType = z.ZodType> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: S['~standard']['validate'];
    readonly jsonSchema: {
      readonly input: (options: { target: string }) => Record<string, unknown>;
      readonly output: (options: { target: string }) => Record<string, unknown>;
    };
  };
  /** The zod source, e.g. for tests. */
  readonly zod: S;
}

const compiledSchemas = new WeakMap<z.ZodType, CompiledSchema>();

/** The compiled form of `schema`, made once per zod schema object. */
export function compileSchema<S extends z.ZodType>(schema: S): CompiledSchema<S> {
  const known = compiledSchemas.get(schema);
  if (known !== undefined) return known as CompiledSchema<S>;
  const std = schema['~standard'] as S['~standard'] & {
    jsonSchema: {
      input(o: { target: string }): Record<string, unknown>;
      output(o: { target: string }): Record<string, unknown>;
    };
  };
  const cache = new Map<string, Record<string, unknown>>();
  const convert = (io: 'input' | 'output', options: { target: string }): Record<string, unknown> => {
    const key = `${io}:${options.target}`;
    let json = cache.get(key);
    if (json === undefined) {
      json = std.jsonSchema[io](options);
      cache.set(key, json);
    }
    return json;
  };
  const compiled: CompiledSchema<S> = {
    '~standard': {
      version: 1,
      vendor: std.vendor,
      validate: std.validate.bind(std),
      jsonSchema: { input: (o) => convert('input', o), output: (o) => convert('output', o) },
    },
    zod: schema,
  };
  compiledSchemas.set(schema, compiled);
  return compiled;
}

/** A tool with its schemas resolved against the settings and compiled. */
export interface CompiledTool<Env = unknown> {
  definition: AnyToolDefinition<Env>;
  input: CompiledSchema;
  output?: CompiledSchema;
}

function settingsKey(settings: SchemaSettings): string {
  return JSON.stringify(settings.ceiling);
}

const compiledTools = new WeakMap<AnyToolDefinition<never>, { key: string; tool: CompiledTool<never> }>();

/**
 * The tool with its schemas for these settings, compiled once: a schema that
 * depends on the settings is rebuilt only when the settings change.
 */
export function compileTool<Env>(definition: AnyToolDefinition<Env>, settings: SchemaSettings): CompiledTool<Env> {
  const key = settingsKey(settings);
  const known = compiledTools.get(definition as AnyToolDefinition<never>);
  if (known !== undefined && known.key === key) return known.tool as CompiledTool<Env>;
  const resolve = (source: SchemaSource<z.ZodType>): z.ZodType =>
    source instanceof z.ZodType ? source : source(settings);
  const tool: CompiledTool<Env> = {
    definition,
    input: compileInput(resolve(definition.input)),
    ...(definition.output === undefined ? {} : { output: compileSchema(resolve(definition.output)) }),
  };
  compiledTools.set(definition as AnyToolDefinition<never>, { key, tool: tool as CompiledTool<never> });
  return tool;
}

/** The schema inside optional/default/nullable wrappers and arrays (for the names valid at a path). */
function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (let i = 0; i < 8; i++) {
    const def = (s as unknown as { _zod: { def: { innerType?: z.ZodType; element?: z.ZodType } } })._zod.def;
    const inner = def.innerType ?? def.element;
    if (inner === undefined) return s;
    s = inner;
  }
  return s;
}

/** The argument names valid at `path` of `schema` (empty when the path leads nowhere known). */
export function argumentNamesAt(schema: z.ZodType, path: ArgumentIssue['path']): string[] {
  let s = unwrap(schema);
  for (const p of path ?? []) {
    const key = typeof p === 'object' && p !== null ? p.key : p;
    if (typeof key === 'number') continue; // an array index: unwrap already went to the element
    if (!(s instanceof z.ZodObject)) return [];
    const next = (s.shape as Record<string, z.ZodType>)[String(key)];
    if (next === undefined) return [];
    s = unwrap(next);
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

/**
 * A tool's input, compiled: a plain object schema made strict (unknown
 * arguments are errors), and a failed validation reported as one issue whose
 * message is the whole tool-error text, which the SDK puts in its reply as is.
 */
function compileInput(schema: z.ZodType): CompiledSchema {
  const strict = schema instanceof z.ZodObject ? (schema as z.ZodObject).strict() : schema;
  const base = compileSchema(strict);
  const validate = async (value: unknown) => {
    const result = await base['~standard'].validate(value);
    if (result.issues === undefined || result.issues.length === 0) return result;
    const text = argumentErrorText(result.issues as readonly ArgumentIssue[], (path) => argumentNamesAt(strict, path));
    return { issues: [{ message: text }] };
  };
  return {
    '~standard': { ...base['~standard'], validate: validate as (typeof base)['~standard']['validate'] },
    zod: strict,
  };
}
