/**
 * The codemode MCP server: code execution, sessions and workspace files as MCP
 * tools, session history and files as resources. Defined once against the
 * SDK-neutral McpRegistrar and built on either SDK: `createCodemodeServer`
 * (v1 SDK, the sessionful 2025-revision HTTP endpoint) and
 * `createModernCodemodeServer` (v2 SDK, 2026-07-28 over HTTP and both eras on
 * stdio). Each server is bound to one principal that owns every code session
 * it touches. Failures come back as tool results the model can act on, never
 * as protocol errors; only resource reads map AppErrors to JSON-RPC errors.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { McpServer as ModernMcpServer } from '@modelcontextprotocol/server';
import { AppError, isAppError } from '../errors.js';
import type { ExecResult, Executor, InputFile } from '../sandbox/executor.js';
import type { LimitOverrides } from '../sandbox/limits.js';
import type { SessionExecResult, SessionInfo, SessionService } from '../sessions/contract.js';
import { buildExecReply, type FullOutputLink } from './exec-reply.js';
import {
  ResourceReadError,
  type McpRegistrar,
  type ServerExtension,
  type TemplateVariables,
  type ToolCallContext,
} from './mcp-registrar.js';
import { OutputStore } from './output-store.js';
import { createProgressReporter } from './progress-reporter.js';
import { v1Registrar } from './sdk-v1-registrar.js';
import { v2Registrar } from './sdk-v2-registrar.js';
import { toolErrorResult } from './tool-errors.js';
import {
  CREATE_SESSION_INPUT,
  DELETE_FILE_INPUT,
  EXEC_OUTPUT_SHAPE,
  EXECUTE_CODE_INPUT,
  FILE_ENTRY_OUTPUT_SHAPE,
  LIST_FILES_INPUT,
  LIST_FILES_OUTPUT_SHAPE,
  READ_FILE_INPUT,
  READ_FILE_OUTPUT_SHAPE,
  RUN_SCRIPT_INPUT,
  SESSION_ACK_OUTPUT_SHAPE,
  SESSION_ID_INPUT,
  SESSION_LIST_OUTPUT_SHAPE,
  SESSION_OUTPUT_SHAPE,
  WRITE_FILE_INPUT,
} from './tool-schemas.js';

export const SERVER_NAME = 'codemode';
export const SERVER_VERSION = '0.1.0';

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
  /** Registers more tools, e.g. the Code Mode tools (registerCodeModeTools). */
  extensions?: ServerExtension[];
  /** Where internal errors are logged (stderr in the CLI). */
  log?: (message: string) => void;
}

const FULL_OUTPUT_DIR = '.codemode/outputs';
const INSTRUCTIONS =
  'Run code in a sandbox. Use execute_code without session_id for one-off programs; ' +
  'create_session to keep variables and files between runs (then pass session_id). ' +
  'The sandbox has no network access. Files live in the session workspace (write_file, read_file, list_files).';

const IMAGE_EXT: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
};
const TEXT_EXT: Record<string, string> = {
  json: 'application/json',
  csv: 'text/csv',
  html: 'text/html',
  md: 'text/markdown',
  svg: 'image/svg+xml',
};

function mimeTypeOf(path: string, isText: boolean): string {
  const ext = path.split('.').pop()?.toLowerCase() ?? '';
  return IMAGE_EXT[ext] ?? TEXT_EXT[ext] ?? (isText ? 'text/plain' : 'application/octet-stream');
}

/** UTF-8 text without NUL bytes, or undefined for binary data. */
function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function decodeContent(content: string, encoding: 'utf8' | 'base64', argument: string): Uint8Array {
  if (encoding === 'utf8') return Buffer.from(content, 'utf8');
  if (!BASE64.test(content)) {
    throw new AppError('INVALID_ARGUMENT', `${argument} is not valid base64`, { argument });
  }
  return Buffer.from(content, 'base64');
}

function sessionJson(info: SessionInfo): Record<string, unknown> {
  return {
    id: info.id,
    language: info.language,
    state: info.state,
    created_at: info.createdAt,
    last_used_at: info.lastUsedAt,
    execution_count: info.executionCount,
    limits: { ...info.limits },
    ...(info.note === undefined ? {} : { note: info.note }),
  };
}

function sessionLine(info: SessionInfo): string {
  return `${info.id}  ${info.language}  ${info.state}  runs=${info.executionCount}  last used ${info.lastUsedAt}`;
}

export function sessionFileUri(sessionId: string, path: string): string {
  return `codemode://sessions/${encodeURIComponent(sessionId)}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

const NOTEBOOK_MIME = 'application/x-ipynb+json';

export function sessionNotebookUri(sessionId: string): string {
  return `codemode://sessions/${encodeURIComponent(sessionId)}/notebook`;
}

export function sessionHistoryUri(sessionId: string): string {
  return `codemode://sessions/${encodeURIComponent(sessionId)}/history`;
}

function variable(value: TemplateVariables[string] | undefined): string {
  const v = Array.isArray(value) ? value.join(',') : (value ?? '');
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Resource reads are protocol requests: map AppErrors to protocol errors here (the adapters pick the codes). */
function resourceError(error: unknown, uri: string): ResourceReadError {
  if (isAppError(error, 'NOT_FOUND') || isAppError(error, 'PATH_ESCAPE')) {
    return new ResourceReadError('not_found', `Resource not found: ${uri}`, uri);
  }
  if (isAppError(error) && error.code !== 'INTERNAL') {
    return new ResourceReadError('invalid_params', error.message, uri, { code: error.code });
  }
  return new ResourceReadError('internal', 'Internal error while reading the resource', uri);
}

function text(content: string): CallToolResult['content'] {
  return [{ type: 'text', text: content }];
}

const SERVER_INFO = { name: SERVER_NAME, version: SERVER_VERSION, title: 'codemode: sandboxed code execution' };
const SERVER_OPTIONS = { capabilities: { tools: {}, resources: {}, logging: {} }, instructions: INSTRUCTIONS };

/** The codemode server on the v1 SDK: one per sessionful 2025-revision HTTP session. */
export function createCodemodeServer(options: CodemodeServerOptions): McpServer {
  const server = new McpServer(SERVER_INFO, SERVER_OPTIONS);
  const registrar = v1Registrar(server);
  registerCodemodeSurface(registrar, options);
  const log = options.log ?? (() => {});
  for (const extend of options.extensions ?? []) {
    void Promise.resolve(extend(registrar)).catch((e: unknown) => log(`server extension failed: ${String(e)}`));
  }
  return server;
}

/**
 * The codemode server on the v2 SDK: one per 2026-07-28 HTTP request, or one
 * per stdio connection (either era). Resolves once every extension is ready,
 * so a short-lived per-request server lists its tools complete.
 */
export async function createModernCodemodeServer(options: CodemodeServerOptions): Promise<ModernMcpServer> {
  const server = new ModernMcpServer(SERVER_INFO, SERVER_OPTIONS);
  const registrar = v2Registrar(server);
  registerCodemodeSurface(registrar, options);
  for (const extend of options.extensions ?? []) await extend(registrar);
  return server;
}

/** Registers every codemode tool and resource template on `server`. */
export function registerCodemodeSurface(server: McpRegistrar, options: CodemodeServerOptions): void {
  const { executor, sessions, principal: owner } = options;
  const outputs = options.outputs ?? new OutputStore();
  const replyChars = options.replyChars ?? 20_000;
  const readFileChars = options.readFileChars ?? 200_000;
  const log = options.log ?? (() => {});

  async function guard(tool: string, fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
    try {
      return await fn();
    } catch (error) {
      if (!isAppError(error) || error.code === 'INTERNAL') {
        log(
          `tool ${tool} failed with an internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
      }
      return toolErrorResult(tool, error);
    }
  }

  /** Save clipped streams in full: in the workspace for session runs, in the output store otherwise. */
  async function fullOutputLinks(result: ExecResult | SessionExecResult): Promise<{
    stdout?: FullOutputLink;
    stderr?: FullOutputLink;
  }> {
    const links: { stdout?: FullOutputLink; stderr?: FullOutputLink } = {};
    for (const stream of ['stdout', 'stderr'] as const) {
      const full = result[stream];
      if (full.length <= replyChars) continue;
      if ('sessionId' in result) {
        const path = `${FULL_OUTPUT_DIR}/${result.executionId}.${stream}.txt`;
        try {
          const entry = await sessions.writeFile(result.sessionId, path, Buffer.from(full, 'utf8'), owner);
          links[stream] = {
            uri: sessionFileUri(result.sessionId, path),
            name: path,
            workspacePath: path,
            size: entry.size,
          };
          continue;
        } catch (error) {
          log(`could not save full ${stream} in session ${result.sessionId}: ${String(error)}`);
        }
      }
      const stored = outputs.put(owner, `${stream}.txt`, full);
      links[stream] = { uri: OutputStore.uri(stored.id), name: `${stream}.txt`, size: Buffer.byteLength(full) };
    }
    return links;
  }

  async function reply(result: ExecResult | SessionExecResult): Promise<CallToolResult> {
    return buildExecReply(result, { maxChars: replyChars, links: await fullOutputLinks(result) });
  }

  function progressFor(call: ToolCallContext) {
    return createProgressReporter({
      progressToken: call.progressToken,
      send: (n) => call.notify(n),
      ...(options.progressIntervalMs === undefined ? {} : { intervalMs: options.progressIntervalMs }),
    });
  }

  // ---- execution ----

  server.registerTool(
    'execute_code',
    {
      title: 'Execute code',
      description:
        'Run a Python, JavaScript, TypeScript or Bash program in an isolated sandbox (no network) and get its ' +
        'stdout, stderr, status and error (with line). Without session_id each call starts fresh; with session_id ' +
        'the code runs in that session and variables, imports and files persist. Plots (matplotlib) and other ' +
        'images come back as images. Long output is clipped and linked.',
      inputSchema: EXECUTE_CODE_INPUT,
      outputSchema: EXEC_OUTPUT_SHAPE,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (args, call) =>
      guard('execute_code', async () => {
        const files: InputFile[] = (args.files ?? []).map((f, i) => ({
          path: f.path,
          content: decodeContent(f.content, f.encoding, `files[${i}].content`),
        }));
        const limits = args.limits as LimitOverrides | undefined;
        const progress = progressFor(call);
        try {
          if (args.session_id === undefined) {
            const result = await executor.run({
              language: args.language,
              code: args.code,
              files,
              signal: call.signal,
              onOutput: progress.onOutput,
              ...(args.cache ? { cache: true } : {}),
              ...(args.stdin === undefined ? {} : { stdin: args.stdin }),
              ...(limits === undefined ? {} : { limits }),
            });
            return await reply(result);
          }
          const sessionId = args.session_id;
          if (args.cache) {
            throw new AppError(
              'INVALID_ARGUMENT',
              'cache is only for one-shot runs: a session run depends on its state',
              {
                argument: 'cache',
              },
            );
          }
          if (args.stdin !== undefined) {
            throw new AppError('INVALID_ARGUMENT', 'stdin is only supported for one-shot runs (without session_id)', {
              argument: 'stdin',
            });
          }
          const info = sessions.get(sessionId, owner);
          if (info.language !== args.language) {
            throw new AppError(
              'INVALID_ARGUMENT',
              `session ${sessionId} runs ${info.language}, not ${args.language}; pass language "${info.language}" or create a ${args.language} session`,
              { argument: 'language' },
            );
          }
          for (const file of files) await sessions.writeFile(sessionId, file.path, toBytes(file.content), owner);
          const result = await sessions.execute(sessionId, args.code, {
            owner,
            signal: call.signal,
            onOutput: progress.onOutput,
            ...(limits === undefined ? {} : { limits }),
          });
          return await reply(result);
        } finally {
          progress.stop();
        }
      }),
  );

  server.registerTool(
    'run_script',
    {
      title: 'Run a workspace script',
      description:
        'Run a script file from a session workspace with command-line arguments, e.g. path "main.py", args ["--n", "3"]. ' +
        'Write the file first with write_file. Returns the same fields as execute_code.',
      inputSchema: RUN_SCRIPT_INPUT,
      outputSchema: EXEC_OUTPUT_SHAPE,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (args, call) =>
      guard('run_script', async () => {
        const progress = progressFor(call);
        try {
          const limits = args.limits as LimitOverrides | undefined;
          const result = await sessions.runScript(args.session_id, args.path, args.args, {
            owner,
            signal: call.signal,
            onOutput: progress.onOutput,
            ...(limits === undefined ? {} : { limits }),
          });
          return await reply(result);
        } finally {
          progress.stop();
        }
      }),
  );

  // ---- sessions ----

  server.registerTool(
    'create_session',
    {
      title: 'Create a session',
      description:
        'Start a stateful session: a kernel whose variables persist between execute_code calls, with a private ' +
        'workspace directory for files. Returns the session id to pass as session_id. Close it with close_session when done.',
      inputSchema: CREATE_SESSION_INPUT,
      outputSchema: SESSION_OUTPUT_SHAPE,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (args) =>
      guard('create_session', async () => {
        const limits = args.limits as LimitOverrides | undefined;
        const info = await sessions.create({
          language: args.language,
          owner,
          ...(limits === undefined ? {} : { limits }),
          ...(args.resume_session_id === undefined ? {} : { resumeId: args.resume_session_id }),
          ...(args.replay_history ? { replayHistory: true } : {}),
        });
        return {
          content: text(
            `created session ${info.id} (${info.language}); pass session_id "${info.id}" to execute_code` +
              (info.note === undefined ? '' : `\nnote: ${info.note}`),
          ),
          structuredContent: { session: sessionJson(info) },
        };
      }),
  );

  server.registerTool(
    'list_sessions',
    {
      title: 'List sessions',
      description: 'List your open sessions with their language, state and number of runs.',
      inputSchema: {},
      outputSchema: SESSION_LIST_OUTPUT_SHAPE,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () =>
      guard('list_sessions', async () => {
        const list = sessions.list(owner);
        const resumable = sessions.listResumable(owner).map((r) => ({
          session_id: r.id,
          language: r.language,
          created_at: r.createdAt,
          last_used_at: r.lastUsedAt,
          execution_count: r.executionCount,
        }));
        const lines = list.length === 0 ? ['no live sessions; create one with create_session'] : list.map(sessionLine);
        for (const r of resumable) {
          lines.push(`${r.session_id} (${r.language}, saved, ${r.execution_count} runs): resume with create_session`);
        }
        return {
          content: text(lines.join('\n')),
          structuredContent: { sessions: list.map(sessionJson), resumable },
        };
      }),
  );

  server.registerTool(
    'restart_session',
    {
      title: 'Restart a session',
      description:
        'Replace the session kernel with a fresh one: all variables and imports are lost, workspace files are kept. ' +
        'Use it when the kernel is stuck or its state is broken.',
      inputSchema: SESSION_ID_INPUT,
      outputSchema: SESSION_OUTPUT_SHAPE,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    async (args) =>
      guard('restart_session', async () => {
        const info = await sessions.restart(args.session_id, owner);
        return {
          content: text(`restarted session ${info.id}: variables cleared, files kept`),
          structuredContent: { session: sessionJson(info) },
        };
      }),
  );

  server.registerTool(
    'interrupt_session',
    {
      title: 'Interrupt a session',
      description:
        'Stop the execution currently running in a session (like Ctrl-C), keeping the session and its variables where the language allows.',
      inputSchema: SESSION_ID_INPUT,
      outputSchema: SESSION_ACK_OUTPUT_SHAPE,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) =>
      guard('interrupt_session', async () => {
        await sessions.interrupt(args.session_id, owner);
        return {
          content: text(`interrupted session ${args.session_id}`),
          structuredContent: { session_id: args.session_id, done: true },
        };
      }),
  );

  server.registerTool(
    'close_session',
    {
      title: 'Close a session',
      description: 'Stop the session kernel and delete its workspace. The session id is no longer valid afterwards.',
      inputSchema: SESSION_ID_INPUT,
      outputSchema: SESSION_ACK_OUTPUT_SHAPE,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args) =>
      guard('close_session', async () => {
        await sessions.close(args.session_id, owner);
        return {
          content: text(`closed session ${args.session_id}`),
          structuredContent: { session_id: args.session_id, done: true },
        };
      }),
  );

  // ---- files ----

  server.registerTool(
    'write_file',
    {
      title: 'Write a workspace file',
      description:
        'Create or overwrite a file in a session workspace (parent directories are created). Use encoding "base64" for binary data.',
      inputSchema: WRITE_FILE_INPUT,
      outputSchema: FILE_ENTRY_OUTPUT_SHAPE,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args) =>
      guard('write_file', async () => {
        const bytes = decodeContent(args.content, args.encoding, 'content');
        const entry = await sessions.writeFile(args.session_id, args.path, bytes, owner);
        return {
          content: text(`wrote ${entry.path} (${entry.size} bytes) in session ${args.session_id}`),
          structuredContent: { session_id: args.session_id, path: entry.path, size: entry.size },
        };
      }),
  );

  server.registerTool(
    'read_file',
    {
      title: 'Read a workspace file',
      description:
        'Read a file from a session workspace. Text comes back as text, images (png, jpeg, gif, webp) as images, ' +
        'other binary files as base64. Large files are clipped; the reply links to the full file.',
      inputSchema: READ_FILE_INPUT,
      outputSchema: READ_FILE_OUTPUT_SHAPE,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args) =>
      guard('read_file', async () => {
        const bytes = await sessions.readFile(args.session_id, args.path, owner);
        const asText = args.encoding === 'base64' ? undefined : decodeText(bytes);
        if (args.encoding === 'utf8' && asText === undefined) {
          throw new AppError('INVALID_ARGUMENT', `${args.path} is not UTF-8 text; read it with encoding "base64"`, {
            argument: 'encoding',
          });
        }
        const mimeType = mimeTypeOf(args.path, asText !== undefined);
        const uri = sessionFileUri(args.session_id, args.path);
        const encoded = asText ?? Buffer.from(bytes).toString('base64');
        const clipped = encoded.length > readFileChars;
        const body = clipped ? encoded.slice(0, readFileChars) : encoded;
        const structured = {
          session_id: args.session_id,
          path: args.path,
          size: bytes.byteLength,
          encoding: asText === undefined ? 'base64' : 'utf8',
          mime_type: mimeType,
          content: body,
          truncated: clipped,
          uri,
        };
        const content: CallToolResult['content'] = [];
        if (asText === undefined && mimeType.startsWith('image/') && args.encoding === 'auto' && !clipped) {
          content.push({ type: 'text', text: `${args.path}: ${mimeType}, ${bytes.byteLength} bytes` });
          content.push({ type: 'image', data: encoded, mimeType });
        } else {
          const head = `${args.path}: ${bytes.byteLength} bytes, ${structured.encoding}${clipped ? `, clipped to ${readFileChars} characters` : ''}`;
          content.push({ type: 'text', text: `${head}\n${body}` });
        }
        if (clipped)
          content.push({ type: 'resource_link', uri, name: args.path, mimeType, description: 'The full file.' });
        return { content, structuredContent: structured };
      }),
  );

  server.registerTool(
    'list_files',
    {
      title: 'List workspace files',
      description: 'List the files in a session workspace (recursively) with their sizes in bytes.',
      inputSchema: LIST_FILES_INPUT,
      outputSchema: LIST_FILES_OUTPUT_SHAPE,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args) =>
      guard('list_files', async () => {
        const files = await sessions.listFiles(args.session_id, args.path, owner);
        const lines = files.map((f) => `${f.path}  ${f.size}`);
        return {
          content: text(files.length === 0 ? 'no files' : lines.join('\n')),
          structuredContent: { session_id: args.session_id, files: files.map((f) => ({ path: f.path, size: f.size })) },
        };
      }),
  );

  server.registerTool(
    'delete_file',
    {
      title: 'Delete a workspace file',
      description: 'Delete a file from a session workspace.',
      inputSchema: DELETE_FILE_INPUT,
      outputSchema: FILE_ENTRY_OUTPUT_SHAPE,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args) =>
      guard('delete_file', async () => {
        await sessions.deleteFile(args.session_id, args.path, owner);
        return {
          content: text(`deleted ${args.path} in session ${args.session_id}`),
          structuredContent: { session_id: args.session_id, path: args.path, size: 0 },
        };
      }),
  );

  // ---- resources ----

  server.registerResourceTemplate({
    name: 'session-history',
    uriTemplate: 'codemode://sessions/{session_id}/history',
    title: 'Session history',
    description: 'Every execution of a session: code, status, output and error, as JSON.',
    mimeType: 'application/json',
    list: async () =>
      sessions.list(owner).map((s) => ({
        uri: sessionHistoryUri(s.id),
        name: `history of session ${s.id}`,
        mimeType: 'application/json',
      })),
    read: async (uri, vars) => {
      try {
        const history = sessions.history(variable(vars['session_id']), owner);
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(history, null, 2) }] };
      } catch (error) {
        throw resourceError(error, uri.href);
      }
    },
  });

  server.registerResourceTemplate({
    name: 'session-notebook',
    uriTemplate: 'codemode://sessions/{session_id}/notebook',
    title: 'Session as a Jupyter notebook',
    description: 'The session history as a Jupyter notebook (nbformat 4): code cells with their outputs and images.',
    mimeType: NOTEBOOK_MIME,
    list: async () =>
      sessions.list(owner).map((s) => ({
        uri: sessionNotebookUri(s.id),
        name: `session ${s.id} as a notebook`,
        mimeType: NOTEBOOK_MIME,
      })),
    read: async (uri, vars) => {
      try {
        const notebook = sessions.exportNotebook(variable(vars['session_id']), owner);
        return { contents: [{ uri: uri.href, mimeType: NOTEBOOK_MIME, text: notebook }] };
      } catch (error) {
        throw resourceError(error, uri.href);
      }
    },
  });

  server.registerResourceTemplate({
    name: 'session-file',
    uriTemplate: 'codemode://sessions/{session_id}/files/{+path}',
    title: 'Workspace file',
    description: 'A file in a session workspace.',
    list: async () => {
      const resources: { uri: string; name: string; mimeType: string }[] = [];
      for (const s of sessions.list(owner)) {
        const files = await sessions.listFiles(s.id, undefined, owner).catch(() => []); // closed meanwhile
        for (const f of files.slice(0, Math.max(0, 1000 - resources.length))) {
          resources.push({ uri: sessionFileUri(s.id, f.path), name: f.path, mimeType: mimeTypeOf(f.path, true) });
        }
      }
      return resources;
    },
    read: async (uri, vars) => {
      try {
        const path = variable(vars['path']);
        const bytes = await sessions.readFile(variable(vars['session_id']), path, owner);
        const asText = decodeText(bytes);
        const mimeType = mimeTypeOf(path, asText !== undefined);
        return {
          contents: [
            asText === undefined
              ? { uri: uri.href, mimeType, blob: Buffer.from(bytes).toString('base64') }
              : { uri: uri.href, mimeType, text: asText },
          ],
        };
      } catch (error) {
        throw resourceError(error, uri.href);
      }
    },
  });

  server.registerResourceTemplate({
    name: 'run-output',
    uriTemplate: 'codemode://outputs/{output_id}',
    title: 'Full run output',
    description: 'The full stdout or stderr of a one-shot run whose reply was clipped.',
    list: async () =>
      outputs.list(owner).map((o) => ({ uri: OutputStore.uri(o.id), name: o.name, mimeType: 'text/plain' })),
    read: async (uri, vars) => {
      const entry = outputs.get(variable(vars['output_id']), owner);
      if (entry === undefined) throw new ResourceReadError('not_found', `Resource not found: ${uri.href}`, uri.href);
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: entry.text }] };
    },
  });
}

function toBytes(content: Uint8Array | string): Uint8Array {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
}
