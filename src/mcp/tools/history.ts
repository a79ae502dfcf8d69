/**
 * The history tools: get_history (a session's executions, paged and searched)
 * and export_notebook (the session as a Jupyter notebook or a plain script).
 * Both read the saved history, so they work on a live session and on a saved
 * one after a restart. Output text in replies is clipped; exports are whole.
 */
import { z } from 'zod';
import type { ExecutionRecord } from '../../sessions/contract.js';
import { exportSession } from '../../sessions/notebook-script.js';
import { defineTool } from './define-tool.js';
import { text, type ToolEnv } from './env.js';
import { execError, sessionId } from './schemas.js';

/** Characters of each stream kept per execution in a history reply (below the run reply's own size). */
const HISTORY_STREAM_CHARS = 2000;

const historyEntry = z.object({
  execution_count: z.number(),
  kind: z.enum(['execute', 'script', 'restart']),
  status: z.string(),
  code: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  error: execError.optional(),
  outputs: z.array(z.object({ kind: z.enum(['result', 'display']), mime_types: z.array(z.string()) })),
  reason: z.string().optional(),
  unsaved: z
    .string()
    .optional()
    .describe('Set while the store cannot take this execution (why): it is kept in memory and retried.'),
  started_at: z.string(),
  duration_ms: z.number(),
});

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}\n... [${s.length - max} more characters clipped]`;
}

function matches(r: ExecutionRecord, needle: string): boolean {
  const hay = [r.code, r.stdout, r.stderr, r.error?.type ?? '', r.error?.message ?? ''].join('\n').toLowerCase();
  return hay.includes(needle);
}

function entryJson(r: ExecutionRecord, max: number): z.output<typeof historyEntry> {
  return {
    execution_count: r.executionCount,
    kind: r.kind ?? 'execute',
    status: r.status,
    code: r.code,
    stdout: clip(r.stdout, max),
    stderr: clip(r.stderr, max),
    ...(r.error === undefined ? {} : { error: r.error }),
    outputs: r.outputs.map((o) => ({ kind: o.kind, mime_types: Object.keys(o.data) })),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.unsaved === undefined ? {} : { unsaved: r.unsaved }),
    started_at: r.startedAt,
    duration_ms: r.durationMs,
  };
}

function entryText(e: z.output<typeof historyEntry>): string {
  const lines = [
    `[${e.execution_count}] ${e.kind === 'script' ? 'script ' : ''}${e.status}, ${Math.round(e.duration_ms)} ms` +
      (e.unsaved === undefined ? '' : ` (NOT SAVED YET: ${e.unsaved}; kept in memory and retried)`),
  ];
  lines.push(e.code.replace(/\n$/, ''));
  if (e.stdout) lines.push(`--- stdout ---\n${e.stdout.replace(/\n$/, '')}`);
  if (e.stderr) lines.push(`--- stderr ---\n${e.stderr.replace(/\n$/, '')}`);
  if (e.error) lines.push(`error: ${e.error.type}: ${e.error.message}`);
  if (e.outputs.length > 0) lines.push(`outputs: ${e.outputs.map((o) => o.mime_types.join('+')).join(', ')}`);
  return lines.join('\n');
}

export const getHistory = defineTool({
  name: 'get_history',
  title: 'Get a session history',
  description:
    "A session's executions, oldest first: code, status, output (clipped) and error. Page with offset/limit; " +
    'query keeps only executions whose code, output or error contains the text (case-insensitive). ' +
    'Works for saved sessions too (see list_sessions "resumable").',
  input: z.object({
    session_id: sessionId,
    limit: z.number().int().min(1).max(200).default(20).describe('Executions to return at most (default 20).'),
    offset: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Matching executions to skip, counted from the oldest (default 0). total says how many match.'),
    query: z.string().max(1000).optional().describe('Only executions whose code, output or error contains this text.'),
  }),
  output: z.object({
    session_id: z.string(),
    total: z.number().describe('Executions that match (before offset and limit).'),
    offset: z.number(),
    executions: z.array(historyEntry),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const all = env.sessions.history(args.session_id, env.owner);
    const needle = args.query?.toLowerCase();
    const matching = needle ? all.filter((r) => matches(r, needle)) : all;
    const max = Math.min(env.replyChars, HISTORY_STREAM_CHARS);
    const page = matching.slice(args.offset, args.offset + args.limit).map((r) => entryJson(r, max));
    const head =
      page.length === 0
        ? `no executions${needle ? ` matching "${args.query}"` : ''} at offset ${args.offset} (${matching.length} in total)`
        : `executions ${args.offset + 1}-${args.offset + page.length} of ${matching.length}` +
          `${needle ? ` matching "${args.query}"` : ''} in session ${args.session_id}`;
    return {
      content: text([head, ...page.map(entryText)].join('\n\n')),
      structuredContent: { session_id: args.session_id, total: matching.length, offset: args.offset, executions: page },
    };
  },
});

export const exportNotebook = defineTool({
  name: 'export_notebook',
  title: 'Export a session',
  description:
    'Export a session as a Jupyter notebook (format "ipynb", nbformat 4 JSON with outputs and images) or as a ' +
    'plain script in its language (format "script": .py with "# %%" cell markers, .js/.ts with "// %%", .sh; ' +
    'failed cells are commented out). Returns the whole file as text.',
  input: z.object({
    session_id: sessionId,
    format: z.enum(['ipynb', 'script']).default('ipynb').describe('"ipynb" (default) or "script".'),
  }),
  output: z.object({
    session_id: z.string(),
    format: z.enum(['ipynb', 'script']),
    file_name: z.string().describe('A suggested file name, e.g. session-<id>.ipynb.'),
    mime_type: z.string(),
    content: z.string(),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const out = exportSession(env.sessions, args.session_id, args.format, env.owner);
    const fileName = `session-${args.session_id.replace(/[^A-Za-z0-9-]/g, '').slice(0, 64)}${out.extension}`;
    return {
      content: text(out.text),
      structuredContent: {
        session_id: args.session_id,
        format: args.format,
        file_name: fileName,
        mime_type: out.mimeType,
        content: out.text,
      },
    };
  },
});
