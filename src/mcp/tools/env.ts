/**
 * What a codemode tool handler works with, bound to one principal: the
 * executor, the session service, the owner every session call carries, and
 * the reply sizes. Plus the small content helpers several tools share (MIME
 * types, text detection, base64 input, resource URIs). No I/O here.
 */
import { AppError } from '../../errors.js';
import type { Executor } from '../../sandbox/executor.js';
import type { SessionInfo, SessionService } from '../../sessions/contract.js';
import type { OutputStore } from '../output-store.js';
import type { AgentToolConfig } from './agent.js';
import type { Policy } from '../../analysis/policy.js';

export interface ToolEnv {
  executor: Executor;
  sessions: SessionService;
  /** Who is calling: passed as `owner` on every session call. */
  owner: string;
  /** Full copies of clipped one-shot output, shared across MCP sessions. */
  outputs: OutputStore;
  /** Characters of each output stream kept inline in a reply. */
  replyChars: number;
  /** Characters of a file returned inline by read_file. */
  readFileChars: number;
  /** Minimum interval between progress notifications (undefined: the reporter's default). */
  progressIntervalMs: number | undefined;
  log: (message: string) => void;
  /** run_agent's configuration; the tool is offered only when set (settings agent.enabled). */
  agent?: AgentToolConfig;
  /**
   * The policy runs are checked against (settings analysis), so check_code answers as a run would:
   * undefined means the default policy, null that analysis is off on this server.
   */
  analysisPolicy?: Policy | null;
}

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

export function mimeTypeOf(path: string, isText: boolean): string {
  const ext = path.split('.').pop()?.toLowerCase() ?? '';
  return IMAGE_EXT[ext] ?? TEXT_EXT[ext] ?? (isText ? 'text/plain' : 'application/octet-stream');
}

/** UTF-8 text without NUL bytes, or undefined for binary data. */
export function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined; // not UTF-8: the caller treats it as binary
  }
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

export function decodeContent(content: string, encoding: 'utf8' | 'base64', argument: string): Uint8Array {
  if (encoding === 'utf8') return Buffer.from(content, 'utf8');
  if (!BASE64.test(content)) {
    throw new AppError('INVALID_ARGUMENT', `${argument} is not valid base64`, { argument });
  }
  return Buffer.from(content, 'base64');
}

export function sessionJson(info: SessionInfo): Record<string, unknown> {
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

export function sessionFileUri(sessionId: string, path: string): string {
  return `codemode://sessions/${encodeURIComponent(sessionId)}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export function sessionNotebookUri(sessionId: string): string {
  return `codemode://sessions/${encodeURIComponent(sessionId)}/notebook`;
}

export function sessionHistoryUri(sessionId: string): string {
  return `codemode://sessions/${encodeURIComponent(sessionId)}/history`;
}

export function text(content: string): { type: 'text'; text: string }[] {
  return [{ type: 'text', text: content }];
}
