/**
 * The Code Mode tools, registered on a server being built (a ToolRegistry):
 * `run_code_mode` (a program calls upstream tools as
 * `codemode.<server>.<tool>()`), `search_tools`, and optionally every upstream
 * tool passed through as `<server>__<tool>` for comparison.
 */
import { z } from 'zod';
import type { CodeModeRuntime } from '../../codemode/codemode.js';
import type { CodeModeLimits, CodeModeResult } from '../../codemode/isolate-executor.js';
import type { CodeModePreflight } from '../../analysis/compose.js';
import { errorMessage } from '../../errors.js';
import type { RegisteredToolHandle, ToolRegistry } from '../server.js';
import { defineTool, type CallToolResult } from './define-tool.js';
import { execError, finding } from './schemas.js';

export interface CodeModeToolsOptions {
  /** Also expose every upstream tool directly as `<server>__<tool>`. Default false. */
  passThrough?: boolean;
  /** Limits for every run_code_mode call (wall time, memory...). */
  limits?: Partial<CodeModeLimits>;
  /** Characters of the result value and of the logs kept in the text reply. Default 8000. */
  replyChars?: number;
  /** Where background failures (e.g. listing upstream tools) are reported. */
  log?: (message: string) => void;
  /** Static analysis before each run (src/analysis codeModePreflight): blocked runs never start. */
  preflight?: CodeModePreflight;
}

export interface CodeModeToolsHandle {
  runCode: RegisteredToolHandle;
  searchTools: RegisteredToolHandle;
  /** Pass-through tools, filled in once `ready` resolves. */
  passThrough: RegisteredToolHandle[];
  /** Resolves when the upstream tools are listed and descriptions/pass-through tools are in place. Never rejects. */
  ready: Promise<void>;
  /** Re-list upstream tools and update descriptions (and pass-through tools). Never rejects. */
  refresh(): Promise<void>;
}

const RUN_INPUT = z.object({
  language: z
    .enum(['javascript', 'typescript'])
    .default('javascript')
    .describe('Language of the program: "javascript" or "typescript" (types are stripped, not checked).'),
  code: z
    .string()
    .min(1)
    .max(200_000)
    .describe(
      'Body of an async function: use await and `return` the result. Example: ' +
        '`const r = await codemode.memory.search_nodes({ query: "x" }); return r.entities.length;`',
    ),
});

const RUN_OUTPUT = z.object({
  status: z
    .enum(['ok', 'error', 'timeout', 'memory', 'killed', 'cancelled', 'not_started', 'blocked'])
    .describe(
      'How the program ended: ok, error (exception), timeout, memory, killed (its worker died), cancelled, not_started, blocked (by policy, nothing ran).',
    ),
  value: z.unknown().describe('The returned value (JSON), or null.'),
  logs: z.array(z.string()).describe('console output.'),
  tool_calls: z
    .array(z.object({ name: z.string(), duration_ms: z.number(), ok: z.boolean(), error: z.string().optional() }))
    .describe('Every upstream tool call the program made, in order of completion.'),
  tool_calls_made: z.boolean().describe('True when upstream tools were already called: a retry repeats their effects.'),
  error: execError.optional(),
  reason: z.string().optional(),
  duration_ms: z.number(),
  findings: z.array(finding).optional(),
});

const SEARCH_INPUT = z.object({
  query: z.string().max(500).describe('Keywords, e.g. "create entity" or "read file".'),
  detail: z
    .enum(['names', 'signatures', 'full'])
    .optional()
    .describe(
      '"names": one line each; "signatures" (default): argument and result types; "full": declarations with docs.',
    ),
});

const BASE_DESCRIPTION =
  'Run a JavaScript/TypeScript program that calls upstream MCP tools as typed async functions, ' +
  '`await codemode.<server>.<tool>(args)`, in a sandboxed V8 isolate (no network, files or Node APIs). ' +
  'Chain many calls, filter and aggregate in code, and return only what you need: one run replaces many tool calls. ' +
  'A failing tool throws an Error naming the tool (catch it in code). The reply says which tool calls already ran.';

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n... [${text.length - max} more characters clipped]`;
}

/** The compact text reply for a run: status line, value, logs, and what to try on failure. */
export function formatRunReply(r: CodeModeResult, replyChars = 8000): string {
  const calls = r.toolCalls.length;
  const failed = r.toolCalls.filter((c) => !c.ok).length;
  const lines = [
    `status: ${r.status} (${r.durationMs} ms, ${calls} tool call${calls === 1 ? '' : 's'}${failed ? `, ${failed} failed` : ''})`,
  ];
  if (r.status === 'ok') {
    const json = JSON.stringify(r.value, null, 1) ?? 'null';
    lines.push(`value: ${clip(json, replyChars)}`);
  }
  if (r.error) {
    lines.push(
      `error: ${r.error.type}${r.error.line !== undefined ? ` at line ${r.error.line}` : ''}: ${r.error.message}`,
    );
  }
  if (r.reason) lines.push(`reason: ${r.reason}`);
  if (r.logs.length > 0) lines.push(`logs:\n${clip(r.logs.join('\n'), replyChars)}`);
  if (r.status !== 'ok') {
    if (r.toolCallsMade) {
      const names = r.toolCalls.map((c) => `${c.name}${c.ok ? '' : ' (failed)'}`).join(', ');
      lines.push(`tool calls already made: ${names}. A retry runs them again; skip the ones with effects.`);
    } else lines.push('no tool calls were made; it is safe to retry.');
    if (r.status === 'error')
      lines.push('hint: fix the code and run again; use search_tools to check tool names and argument types.');
    if (r.status === 'timeout') lines.push('hint: do less per run, or check for an endless loop or a tool that hangs.');
    if (r.status === 'memory') lines.push('hint: keep less data in memory; return summaries instead of whole results.');
    if (r.status === 'killed')
      lines.push('hint: the process running the program died; run it again, doing less per run.');
  }
  return lines.join('\n');
}

function findingLine(f: { severity: string; rule: string; line: number; message: string; hint: string }): string {
  return `${f.severity} ${f.rule} at line ${f.line}: ${f.message} Hint: ${f.hint}`;
}

/** A run the policy stopped before it started: no tool was called. */
function blockedReply(findings: Parameters<typeof findingLine>[0][]): CallToolResult {
  const reason = `blocked by policy before running: ${findings
    .filter((f) => f.severity === 'block')
    .map((f) => `${f.rule} at line ${f.line}`)
    .join(', ')}`;
  return {
    content: [
      { type: 'text', text: [`status: blocked (nothing ran, no tool calls)`, ...findings.map(findingLine)].join('\n') },
    ],
    structuredContent: {
      status: 'blocked',
      value: null,
      logs: [],
      tool_calls: [],
      tool_calls_made: false,
      duration_ms: 0,
      reason,
      findings,
    },
    isError: true,
  };
}

const passThroughSchemas = new WeakMap<object, z.ZodType>();

/** The zod form of an upstream tool's input schema (once per schema object), or an open object. */
function passThroughInputSchema(schema: unknown): z.ZodType {
  const key = typeof schema === 'object' && schema !== null ? schema : undefined;
  const known = key === undefined ? undefined : passThroughSchemas.get(key);
  if (known !== undefined) return known;
  let result: z.ZodType = z.looseObject({});
  try {
    if (key !== undefined) {
      const s = z.fromJSONSchema(key as Parameters<typeof z.fromJSONSchema>[0]);
      if (s instanceof z.ZodObject) result = s;
    }
  } catch {
    // not convertible: an open object, and the upstream server validates.
  }
  if (key !== undefined) passThroughSchemas.set(key, result);
  return result;
}

/**
 * Register `run_code_mode` and `search_tools` (and, with `passThrough`, every
 * upstream tool as `<server>__<tool>`) on `server`. Synchronous, so it fits a
 * server's extension hook; upstream tools are listed in the background and the
 * descriptions updated when that finishes (`handle.ready`).
 */
export function registerCodeModeTools(
  server: ToolRegistry,
  runtime: CodeModeRuntime,
  options: CodeModeToolsOptions = {},
): CodeModeToolsHandle {
  const replyChars = options.replyChars ?? 8000;
  const log = options.log ?? (() => undefined);

  const runCode = server.registerTool(
    defineTool({
      name: 'run_code_mode',
      title: 'Run Code Mode program',
      description: BASE_DESCRIPTION,
      input: RUN_INPUT,
      output: RUN_OUTPUT,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
      async handler(args, call): Promise<CallToolResult> {
        const checked = await options.preflight?.({ language: args.language, code: args.code });
        if (checked?.blocked) return blockedReply(checked.findings);
        const r = await runtime.run({
          language: args.language,
          code: args.code,
          ...(options.limits ? { limits: options.limits } : {}),
          signal: call.signal,
        });
        const structured: Record<string, unknown> = {
          status: r.status,
          value: r.value ?? null,
          logs: r.logs,
          tool_calls: r.toolCalls.map((c) => ({
            name: c.name,
            duration_ms: c.durationMs,
            ok: c.ok,
            ...(c.error === undefined ? {} : { error: c.error }),
          })),
          tool_calls_made: r.toolCallsMade,
          duration_ms: r.durationMs,
          ...(r.error ? { error: r.error } : {}),
          ...(r.reason ? { reason: r.reason } : {}),
          ...(checked?.findings.length ? { findings: checked.findings } : {}),
        };
        const notes = (checked?.findings ?? []).map(findingLine);
        return {
          content: [{ type: 'text', text: [formatRunReply(r, replyChars), ...notes].join('\n') }],
          structuredContent: structured,
          ...(r.status === 'ok' ? {} : { isError: true }),
        };
      },
    }),
  );

  const searchTools = server.registerTool(
    defineTool({
      name: 'search_tools',
      title: 'Search upstream tools',
      description:
        'Search the upstream tools available to run_code_mode by keywords; returns names, TypeScript signatures or full declarations.',
      input: SEARCH_INPUT,
      annotations: { readOnlyHint: true, openWorldHint: false },
      async handler(args): Promise<CallToolResult> {
        const text = await runtime.searchTools(args.query, args.detail ?? 'signatures');
        return { content: [{ type: 'text', text }] };
      },
    }),
  );

  const handle: CodeModeToolsHandle = {
    runCode,
    searchTools,
    passThrough: [],
    ready: Promise.resolve(),
    refresh: async () => {
      try {
        const summary = await runtime.summary();
        runCode.update({ description: `${BASE_DESCRIPTION}\n\n${summary}` });
        if (options.passThrough) await syncPassThrough();
      } catch (e) {
        log(`codemode: could not list upstream tools: ${errorMessage(e)}`);
      }
    },
  };

  async function syncPassThrough(): Promise<void> {
    for (const t of handle.passThrough) t.remove();
    handle.passThrough = [];
    const catalog = await runtime.catalog();
    for (const entry of catalog.entries) {
      const name = `${entry.server.identifier}__${entry.tool.identifier}`;
      const registered = server.registerTool(
        defineTool({
          name,
          ...(entry.info.title ? { title: entry.info.title } : {}),
          description: entry.info.description ?? `Upstream tool ${entry.tool.name} of ${entry.server.name}.`,
          input: passThroughInputSchema(entry.info.inputSchema),
          ...(entry.info.annotations ? { annotations: entry.info.annotations } : {}),
          async handler(args: unknown, call): Promise<CallToolResult> {
            const { result } = await runtime.callToolRaw(entry.server.name, entry.tool.name, args ?? {}, call.signal);
            return {
              content: (result.content ?? []) as CallToolResult['content'],
              ...(result.structuredContent !== undefined
                ? { structuredContent: result.structuredContent as Record<string, unknown> }
                : {}),
              ...(result.isError ? { isError: true } : {}),
            };
          },
        }),
      );
      handle.passThrough.push(registered);
    }
  }

  handle.ready = handle.refresh();
  return handle;
}
