/**
 * Maps failures to MCP tool results the model can act on (`isError: true`):
 * what failed, the argument at fault, and what to try. AppErrors keep their
 * code; anything else becomes a generic internal error that blames nobody.
 * Host paths (the state directory, workspaces, temporary and home directories)
 * never reach the client: they are replaced by "<host path>".
 */
import os from 'node:os';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { defaultStateDir } from '../config/state-dir.js';
import { isAppError, type ErrorCode } from '../errors.js';

export const HIDDEN_PATH = '<host path>';

const hidden = new Set<string>();

/** Add host directories (e.g. a configured workspaces root) whose paths replies must not show. */
export function hideHostPaths(roots: readonly string[]): void {
  for (const r of roots) hidden.add(r);
}

/** The host directories hidden by default plus those added with hideHostPaths. */
function hiddenRoots(): string[] {
  return [defaultStateDir(), os.tmpdir(), os.homedir(), ...hidden];
}

/**
 * `text` with every path under one of `roots` replaced by "<host path>". Pure.
 * A root matches only as a whole path component, so "/tmpfoo" is not "/tmp";
 * "/" and relative roots are ignored.
 */
export function scrubHostPaths(text: string, roots: readonly string[]): string {
  const usable = [...new Set(roots.map((r) => r.replace(/\/+$/, '')))]
    .filter((r) => r.startsWith('/') && r.length > 1)
    .sort((a, b) => b.length - a.length);
  if (usable.length === 0) return text;
  const escaped = usable.map((r) => r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(
    `(?<![\\w./-])(?:${escaped.join('|')})(?=$|[/\\s'"\`:;,)\\]])(?:/[^\\s'"\`:;,)\\]]*)?`,
    'g',
  );
  return text.replace(pattern, HIDDEN_PATH);
}

export interface ToolErrorPayload {
  /** Our stable error code, e.g. "INVALID_ARGUMENT". */
  code: ErrorCode;
  message: string;
  /** The argument at fault, when one is, e.g. "limits.wallMs" or "path". */
  argument?: string;
  hint: string;
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  INVALID_ARGUMENT: 'Correct the argument named above and call the tool again.',
  LIMIT_EXCEEDED: "Ask for a value at or below the server's maximum, or omit the limit to use the default.",
  PATH_ESCAPE: 'Use a relative path inside the workspace, such as "data/input.csv" (no "..", no absolute paths).',
  NOT_FOUND: 'Check the id or path: call list_sessions or list_files to see what exists.',
  ALREADY_EXISTS: 'Pick another name, or delete the existing one first.',
  FORBIDDEN: 'This is not allowed for your client; do not retry it.',
  TOO_LARGE: 'Send less data at once, e.g. split the file or write it in parts.',
  SANDBOX_UNAVAILABLE: 'The sandbox could not start on this server; tell the user, retrying will not help.',
  SESSION_BUSY: 'Wait for the running execution to finish, or call interrupt_session first.',
  SESSION_CLOSED: 'Create a new session with create_session.',
  UPSTREAM_UNAVAILABLE: 'The upstream server is not reachable; try again later.',
  UPSTREAM_ERROR: 'The upstream tool failed; read its message and adjust the call.',
  TIMEOUT: 'The operation took too long; try a smaller piece of work.',
  CANCELLED: 'The request was cancelled.',
  APPROVAL_REQUIRED: 'Ask the user to approve this call.',
  INVALID_CONFIG: "The server's configuration is invalid; tell the user.",
};

/** The payload for any thrown value. Unknown errors never leak their message; known ones lose their host paths. */
export function toolErrorPayload(error: unknown, roots: readonly string[] = hiddenRoots()): ToolErrorPayload {
  if (isAppError(error) && error.code !== 'INTERNAL') {
    const argument = typeof error.data?.['argument'] === 'string' ? error.data['argument'] : undefined;
    return {
      code: error.code,
      message: scrubHostPaths(error.message, roots),
      ...(argument === undefined ? {} : { argument }),
      hint: HINTS[error.code] ?? 'Adjust the call and try again.',
    };
  }
  return {
    code: 'INTERNAL',
    message: 'The server hit an internal error while handling this call.',
    hint: 'This is not caused by your arguments; try again, and if it repeats, tell the user.',
  };
}

/**
 * A tool result for a failed call. No structuredContent: clients validate it
 * against the tool's output schema, which describes success.
 */
export function toolErrorResult(tool: string, error: unknown): CallToolResult {
  const payload = toolErrorPayload(error);
  const lines = [`${tool} failed: ${payload.code}: ${payload.message}`];
  if (payload.argument !== undefined) lines.push(`argument: ${payload.argument}`);
  lines.push(`hint: ${payload.hint}`);
  return {
    isError: true,
    content: [{ type: 'text', text: lines.join('\n') }],
  };
}
