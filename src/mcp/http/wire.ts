/**
 * Conversions from the session layer's objects to the API's JSON bodies
 * (api-contract.ts), and from thrown errors to the API's error body with its
 * HTTP status. Pure, except that clipped output is saved in the OutputStore
 * so the result can link its full text.
 */
import type { ExecutionRecord, ResumableSession, SessionExecResult, SessionInfo } from '../../sessions/contract.js';
import type { ErrorCode } from '../../errors.js';
import { execStructured, type FullOutputLink } from '../exec-reply.js';
import type { OutputStore } from '../output-store.js';
import { toolErrorPayload } from '../tool-errors.js';
import { limitsJson } from '../tools/schemas.js';
import {
  API_BASE,
  type ApiErrorBody,
  type ApiErrorCode,
  type ExecResultJson,
  type ExecutionRecordJson,
  type ResumableSessionJson,
  type SessionJson,
} from './api-contract.js';

export function sessionJson(info: SessionInfo): SessionJson {
  return {
    id: info.id,
    language: info.language,
    state: info.state,
    created_at: info.createdAt,
    last_used_at: info.lastUsedAt,
    execution_count: info.executionCount,
    limits: limitsJson(info.limits) as unknown as SessionJson['limits'],
    pooled: info.pooled,
    ...(info.note === undefined ? {} : { note: info.note }),
  };
}

export function resumableJson(r: ResumableSession): ResumableSessionJson {
  return {
    session_id: r.id,
    language: r.language,
    created_at: r.createdAt,
    last_used_at: r.lastUsedAt,
    execution_count: r.executionCount,
  };
}

export function recordJson(r: ExecutionRecord): ExecutionRecordJson {
  return {
    execution_id: r.id,
    execution_count: r.executionCount,
    kind: r.kind ?? 'execute',
    language: r.language,
    code: r.code,
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    displays: r.outputs.map((o) => ({ kind: o.kind, data: { ...o.data } })),
    ...(r.error === undefined ? {} : { error: { ...r.error } }),
    started_at: r.startedAt,
    duration_ms: Math.round(r.durationMs),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
  };
}

/**
 * The result body of an execution, converted once per result (the HTTP reply
 * and the event stream share it, so clipped output is stored once).
 */
export class ResultWire {
  readonly #cache = new WeakMap<SessionExecResult, ExecResultJson>();

  constructor(
    private readonly outputs: OutputStore,
    private readonly maxChars: number,
  ) {}

  toJson(result: SessionExecResult, owner: string): ExecResultJson {
    const cached = this.#cache.get(result);
    if (cached !== undefined) return cached;
    const links: { stdout?: FullOutputLink; stderr?: FullOutputLink } = {};
    for (const stream of ['stdout', 'stderr'] as const) {
      const text = result[stream];
      if (text.length <= this.maxChars) continue;
      const stored = this.outputs.put(owner, `${stream}.txt`, text);
      links[stream] = { uri: `${API_BASE}/outputs/${stored.id}`, name: `${stream}.txt`, size: Buffer.byteLength(text) };
    }
    const json = {
      ...execStructured(result, { maxChars: this.maxChars, links }),
      displays: (result.outputs ?? []).map((o) => ({ kind: o.kind, data: { ...o.data } })),
      ...(result.warnings === undefined ? {} : { warnings: [...result.warnings] }),
    } as unknown as ExecResultJson;
    this.#cache.set(result, json);
    return json;
  }
}

const STATUS: Record<ApiErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  LIMIT_EXCEEDED: 400,
  PATH_ESCAPE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  APPROVAL_REQUIRED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  ALREADY_EXISTS: 409,
  SESSION_BUSY: 409,
  SESSION_CLOSED: 409,
  CANCELLED: 409,
  TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UPSTREAM_ERROR: 502,
  INVALID_CONFIG: 503,
  SANDBOX_UNAVAILABLE: 503,
  UPSTREAM_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

/** An error raised by the API layer itself (auth, routing, media types), never by user code. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly hint?: string,
    readonly argument?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Status and body for anything thrown: AppErrors through the MCP layer's one mapping (host paths scrubbed). */
export function errorResponse(error: unknown): { status: number; body: ApiErrorBody } {
  if (error instanceof ApiError) {
    return {
      status: STATUS[error.code],
      body: {
        error: {
          code: error.code,
          message: error.message,
          ...(error.hint === undefined ? {} : { hint: error.hint }),
          ...(error.argument === undefined ? {} : { argument: error.argument }),
        },
      },
    };
  }
  const p = toolErrorPayload(error);
  const code: ErrorCode = p.code;
  return {
    status: STATUS[code],
    body: {
      error: {
        code,
        message: p.message,
        hint: p.hint,
        ...(p.argument === undefined ? {} : { argument: p.argument }),
      },
    },
  };
}
