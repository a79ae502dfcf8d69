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

/** For a saved session that is not running (e.g. after a server restart): how to bring it back. */
function resumeHint(data: Record<string, unknown> | undefined): string | undefined {
  if (data?.['resumable'] !== true || typeof data['sessionId'] !== 'string') return undefined;
  return (
    `Resume it: call create_session with resume_session_id "${data['sessionId']}" and replay_history: true ` +
    'to rebuild its variables (its files and history are kept), then retry this call.'
  );
}

/** The payload for any thrown value. Unknown errors never leak their message; known ones lose their host paths. */
export function toolErrorPayload(error: unknown, roots: readonly string[] = hiddenRoots()): ToolErrorPayload {
  if (isAppError(error) && error.code !== 'INTERNAL') {
    const argument = typeof error.data?.['argument'] === 'string' ? error.data['argument'] : undefined;
    // A hint written for this very failure (e.g. how to resume a saved session) beats the code's generic one.
    const own = typeof error.data?.['hint'] === 'string' ? error.data['hint'] : resumeHint(error.data);
    return {
      code: error.code,
      message: scrubHostPaths(error.message, roots),
      ...(argument === undefined ? {} : { argument }),
      hint: own ?? HINTS[error.code] ?? 'Adjust the call and try again.',
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

/** One problem with a tool's arguments, as a Standard Schema validator reports it. */
export interface ArgumentIssue {
  code?: string;
  path?: readonly (PropertyKey | { key: PropertyKey })[];
  message: string;
  keys?: readonly string[];
  maximum?: unknown;
}

/** "limits.wall_ms", "files[0].path": how the model wrote the argument. */
export function argumentPath(path: ArgumentIssue['path']): string {
  let out = '';
  for (const p of path ?? []) {
    const key = typeof p === 'object' && p !== null ? p.key : p;
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

const normalName = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, '');

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The known name closest to `given` ("sessionId" → "session_id"), or undefined
 * when none is close: case, "_" and "-" are ignored, then a few edits allowed.
 */
export function closestName(given: string, known: readonly string[]): string | undefined {
  const g = normalName(given);
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(g, normalName(name));
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  if (best === undefined) return undefined;
  return best.distance <= Math.max(1, Math.floor(g.length / 3)) ? best.name : undefined;
}

/**
 * The text of a call whose arguments failed the tool's schema, in the same
 * shape as every other tool error: what is wrong, `argument:` and `hint:`.
 * `knownAt(path)` lists the argument names valid at a path, for suggestions.
 */
export function argumentErrorText(
  issues: readonly ArgumentIssue[],
  knownAt: (path: ArgumentIssue['path']) => readonly string[],
): string {
  // Unknown names first: a misspelt argument also shows up as a missing one.
  const ordered = [...issues].sort(
    (a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'),
  );
  const problems: string[] = [];
  let argument: string | undefined;
  let hint: string | undefined;
  for (const issue of ordered) {
    const at = argumentPath(issue.path);
    if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
      const known = knownAt(issue.path);
      for (const key of issue.keys) {
        const name = at === '' ? key : `${at}.${key}`;
        const suggestion = closestName(key, known);
        problems.push(`unknown argument "${name}"${suggestion === undefined ? '' : `; did you mean "${suggestion}"?`}`);
        argument ??= name;
        hint ??=
          suggestion === undefined
            ? `Remove "${key}". The arguments here are: ${known.join(', ')}.`
            : `Use "${suggestion}" instead of "${key}".`;
      }
      continue;
    }
    const what = issue.code === 'invalid_type' && /received undefined$/.test(issue.message) ? 'is required' : '';
    problems.push(at === '' ? issue.message : `${at}: ${what || issue.message}`);
    argument ??= at === '' ? undefined : at;
    if (issue.code === 'too_big' && at.startsWith('limits.')) hint ??= HINTS.LIMIT_EXCEEDED;
  }
  const lines = [`INVALID_ARGUMENT: ${problems.join('; ')}`];
  if (argument !== undefined) lines.push(`argument: ${argument}`);
  lines.push(`hint: ${hint ?? HINTS.INVALID_ARGUMENT}`);
  return lines.join('\n');
}
