/**
 * The cluster's wire contract: subjects, bucket names and the versioned JSON
 * frames gateways and workers exchange over NATS request/reply. Every frame
 * that crosses the network is parsed with a zod schema here before anything
 * uses it: a peer may be buggy or hostile. Pure: no NATS or node imports.
 */
import { z } from 'zod';
import { AppError, type ErrorCode } from '../errors.js';
import { EXEC_STATUSES, LANGUAGES } from '../sandbox/executor.js';

export const PROTOCOL_VERSION = 1;

/** NATS names. Workers answer only their own subject (nats-server permissions, see nats-config.ts). */
/** The NATS service (`@nats-io/services`) every worker registers as: `$SRV.PING|INFO|STATS.codemode-worker`. */
export const WORKER_SERVICE = 'codemode-worker';

export const SUBJECTS = {
  /** One-shot runs: a queue group, so any free worker takes each. */
  run: 'codemode.run',
  runQueue: 'workers',
  /** Session requests for one worker. */
  worker: (id: string) => `codemode.worker.${id}.session`,
  /** Session events (SessionService.subscribe) as the owning worker publishes them. */
  events: (sessionId: string) => `codemode.events.${sessionId}`,
  /** Cancel a one-shot run by its id (any worker may hold it). */
  cancel: (runId: string) => `codemode.cancel.${runId}`,
  /** History records, one message per execution, in the HISTORY stream. */
  history: (sessionId: string) => `codemode.history.${sessionId}`,
  /**
   * Kernel tool calls (Code Mode) from a worker, to a queue group of the gateways that hold upstream servers.
   * The worker's id is in the subject, where permissions let only that worker publish: the gateway knows who asks.
   */
  tools: (workerId: string) => `codemode.tools.call.${workerId}`,
  toolsQueue: 'gateways',
  /** Cancel a forwarded tool call by the asking worker and the call's id (any gateway may be running it). */
  toolsCancel: (workerId: string, callId: string) => `codemode.tools.cancel.${workerId}.${callId}`,
} as const;

export const BUCKETS = {
  /** Heartbeats: one key per worker, expiring (max_age) when it stops. */
  workers: 'codemode_workers',
  /** Session records: owner, worker, state, limits, the latest info. */
  sessions: 'codemode_sessions',
  /** Workspace checkpoints (tar.gz), one object per session. */
  workspaces: 'codemode_workspaces',
  /** Frames too large for one message (max_payload is 1 MiB by default), deleted once read. */
  transfer: 'codemode_transfer',
} as const;
/** How long the history stream keeps a record (it refuses purges; age is what trims it). */
export const HISTORY_MAX_AGE_DAYS = 30;
export const HISTORY_STREAM = 'CODEMODE_HISTORY';

/** Worker ids and session ids become subject tokens and keys: a strict alphabet, no dots or wildcards. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const idSchema = z.string().regex(ID_PATTERN);

/** Frames above this many bytes travel through the transfer object store (max_payload 1 MiB, with headroom). */
export const INLINE_FRAME_BYTES = 900 * 1024;
/** The largest frame accepted by reference: a workspace archive or a full result, never more. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
/** One streamed output chunk's text. */
export const MAX_OUTPUT_CHUNK_CHARS = 64 * 1024;

const limitsSchema = z.object({
  wallMs: z.number(),
  cpuMs: z.number(),
  memoryBytes: z.number(),
  processes: z.number(),
  outputBytes: z.number(),
  outputTotalBytes: z.number(),
  diskBytes: z.number(),
  tmpBytes: z.number(),
  openFiles: z.number(),
});
const overridesSchema = limitsSchema.partial();
const languageSchema = z.enum(LANGUAGES);

export const sessionInfoSchema = z.looseObject({
  id: z.string(),
  language: languageSchema,
  owner: z.string(),
  state: z.enum(['starting', 'idle', 'busy', 'dead', 'closed']),
  createdAt: z.string(),
  lastUsedAt: z.string(),
  executionCount: z.number(),
  limits: limitsSchema,
  pooled: z.boolean(),
  note: z.string().optional(),
});

export const execResultSchema = z.looseObject({
  status: z.enum(EXEC_STATUSES as [string, ...string[]]),
  exitCode: z.number().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  stdoutDroppedBytes: z.number(),
  stderrDroppedBytes: z.number(),
  durationMs: z.number(),
  limits: limitsSchema,
  isolation: z.looseObject({ backend: z.string(), cgroup: z.string(), seccomp: z.boolean() }),
});
export const sessionExecResultSchema = execResultSchema.extend({
  executionId: z.string(),
  sessionId: z.string(),
  executionCount: z.number(),
});

export const executionRecordSchema = z.looseObject({
  id: z.string(),
  sessionId: z.string(),
  executionCount: z.number(),
  kind: z.enum(['execute', 'script']).optional(),
  language: languageSchema,
  code: z.string(),
  status: z.enum(EXEC_STATUSES as [string, ...string[]]),
  stdout: z.string(),
  stderr: z.string(),
  outputs: z.array(z.looseObject({ kind: z.enum(['result', 'display']), data: z.record(z.string(), z.string()) })),
  startedAt: z.string(),
  durationMs: z.number(),
});

export const workspaceEntrySchema = z.object({ path: z.string(), size: z.number() });

/** Binary content inside a JSON frame. */
export const bytesSchema = z.object({ b64: z.string() });
export type WireBytes = z.infer<typeof bytesSchema>;
export const toWire = (bytes: Uint8Array): WireBytes => ({ b64: Buffer.from(bytes).toString('base64') });
export const fromWire = (w: WireBytes): Uint8Array => new Uint8Array(Buffer.from(w.b64, 'base64'));

/** One kit as a worker reports it (list_kits' shape). */
export const kitStatusSchema = z.object({
  name: z.string().max(64),
  version: z.string().max(64),
  description: z.string().max(2048),
  languages: z.array(z.enum(['python', 'javascript'])).max(4),
  installed: z.boolean(),
  missing: z.array(z.string().max(256)).max(64),
  install: z.string().max(4096),
  packages: z
    .array(
      z.object({
        manager: z.enum(['debian', 'npm']),
        name: z.string().max(256),
        version: z.string().max(128).nullable(),
      }),
    )
    .max(256),
});

/** A worker's heartbeat: who it is, where it listens, what room it has. */
export const heartbeatSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  id: idSchema,
  sessions: z.number().int().min(0),
  maxSessions: z.number().int().min(0),
  runsInFlight: z.number().int().min(0),
  freeMemoryBytes: z.number().min(0),
  languages: z.array(languageSchema),
  startedAt: z.string(),
  version: z.string().max(64),
  /** The kits this worker knows (installed or not) and the network policies it has (absent: an older worker). */
  kits: z.array(kitStatusSchema).max(256).optional(),
  networks: z.array(z.string().max(64)).max(256).optional(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** A session's record in the sessions bucket. The owning worker keeps `info` current. */
export const sessionRecordSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  id: idSchema,
  owner: z.string().max(512),
  language: languageSchema,
  worker: idSchema,
  /** live: served by `worker`; lost: its worker stopped heartbeating, resumable; closed: gone. */
  state: z.enum(['live', 'lost', 'closed']),
  limits: overridesSchema.optional(),
  kits: z.array(z.string()).optional(),
  network: z.string().optional(),
  info: sessionInfoSchema,
  /** Workers that held the session before, oldest first (failovers). */
  previousWorkers: z.array(idSchema).max(64).default([]),
});
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

const owner = z.string().max(512);
const path = z.string().max(4096);
const args = z.array(z.string().max(65536)).max(1024);
const sid = idSchema;
const code = z.string().max(8 * 1024 * 1024);

/** Session requests, one per SessionService call, addressed to the owning worker. */
export const sessionRequestSchema = z.discriminatedUnion('op', [
  /** Is this worker there? (A gateway asks before declaring it lost.) */
  z.object({ op: z.literal('ping') }),
  z.object({ op: z.literal('create'), record: sessionRecordSchema }),
  /** Take over a lost session: workspace from its checkpoint, variables by replaying its history. */
  z.object({ op: z.literal('resume'), record: sessionRecordSchema }),
  z.object({ op: z.literal('execute'), sessionId: sid, owner, code, limits: overridesSchema.optional() }),
  z.object({
    op: z.literal('runScript'),
    sessionId: sid,
    owner,
    path,
    args,
    limits: overridesSchema.optional(),
  }),
  z.object({
    op: z.literal('runProgram'),
    sessionId: sid,
    owner,
    program: z.enum(['python', 'node', 'bash', 'git']),
    args,
    record: z.boolean().optional(),
    limits: overridesSchema.optional(),
  }),
  z.object({ op: z.literal('interrupt'), sessionId: sid, owner }),
  z.object({
    op: z.literal('restart'),
    sessionId: sid,
    owner,
    replayUpTo: z.number().int().min(0).optional(),
    replayOnly: z.array(z.number().int().min(1)).max(100_000).optional(),
  }),
  z.object({ op: z.literal('close'), sessionId: sid, owner }),
  z.object({
    op: z.literal('writeFile'),
    sessionId: sid,
    owner,
    path,
    content: bytesSchema,
    append: z.boolean().optional(),
  }),
  z.object({ op: z.literal('readFile'), sessionId: sid, owner, path }),
  z.object({ op: z.literal('listFiles'), sessionId: sid, owner, path: path.optional() }),
  z.object({ op: z.literal('deleteFile'), sessionId: sid, owner, path }),
  z.object({ op: z.literal('importArchive'), sessionId: sid, owner, path, archive: bytesSchema }),
  z.object({ op: z.literal('exportArchive'), sessionId: sid, owner, path }),
]);
export type SessionRequest = z.infer<typeof sessionRequestSchema>;

/**
 * A kernel's Code Mode call, forwarded by the session's worker to any gateway with upstream servers. The gateway
 * checks the session's record (it exists, is live on the asking worker, belongs to `owner`) before calling.
 */
export const toolRequestSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('callTool'),
    callId: idSchema,
    sessionId: sid,
    owner,
    server: z.string().max(256),
    tool: z.string().max(256),
    args: z.unknown(),
    /** The worker gives up after this long; the gateway stops the upstream call then too. */
    timeoutMs: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600_000),
  }),
  z.object({
    op: z.literal('searchTools'),
    sessionId: sid,
    owner,
    query: z.string().max(4096),
    detail: z.enum(['names', 'signatures', 'full']),
  }),
  z.object({ op: z.literal('declarations'), sessionId: sid, owner, language: z.enum(['typescript', 'python']) }),
]);
export type ToolRequest = z.infer<typeof toolRequestSchema>;

/** The frame around every request: version, and where to stream output (an inbox of the gateway). */
export const requestFrameSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  outputSubject: z.string().max(256).optional(),
  body: z.unknown(),
});

/** A one-shot run: ExecRequest without host paths or callbacks. */
export const runRequestSchema = z.object({
  runId: idSchema,
  language: languageSchema,
  code,
  stdin: bytesSchema.optional(),
  args: args.optional(),
  files: z
    .array(z.object({ path, content: bytesSchema }))
    .max(1024)
    .optional(),
  limits: overridesSchema.optional(),
});
export type RunRequest = z.infer<typeof runRequestSchema>;

export const outputFrameSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  stream: z.enum(['stdout', 'stderr']),
  text: z.string().max(MAX_OUTPUT_CHUNK_CHARS),
});

const errorCodes = [
  'INVALID_ARGUMENT',
  'INVALID_CONFIG',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'FORBIDDEN',
  'PATH_ESCAPE',
  'TOO_LARGE',
  'LIMIT_EXCEEDED',
  'SANDBOX_UNAVAILABLE',
  'SESSION_BUSY',
  'SESSION_CLOSED',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_ERROR',
  'TIMEOUT',
  'CANCELLED',
  'APPROVAL_REQUIRED',
  'INTERNAL',
] as const satisfies readonly ErrorCode[];

export const replyFrameSchema = z.discriminatedUnion('ok', [
  z.object({ v: z.literal(PROTOCOL_VERSION), ok: z.literal(true), result: z.unknown() }),
  z.object({
    v: z.literal(PROTOCOL_VERSION),
    ok: z.literal(false),
    error: z.object({
      code: z.enum(errorCodes),
      message: z.string().max(4096),
      data: z.record(z.string(), z.unknown()).optional(),
    }),
  }),
]);
export type ReplyFrame = z.infer<typeof replyFrameSchema>;

/** Parse a peer's frame; INTERNAL naming what was wrong (never the peer's bytes in full). */
export function parseFrame<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError(
      'INTERNAL',
      `cluster: a malformed ${what} frame (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''})`,
    );
  }
  return parsed.data;
}

/** The error a gateway gives when the cluster cannot answer right now: safe to retry. */
export function unavailable(message: string, data: Record<string, unknown> = {}): AppError {
  return new AppError('UPSTREAM_UNAVAILABLE', `cluster: ${message} (retryable: try again)`, {
    ...data,
    retryable: true,
  });
}

/** Errors that ride inside a reply frame: our own codes pass, anything else becomes INTERNAL. */
export function errorToFrame(e: unknown): ReplyFrame {
  if (e instanceof AppError) {
    return {
      v: PROTOCOL_VERSION,
      ok: false,
      error: { code: e.code, message: e.message.slice(0, 4096), ...(e.data ? { data: safeData(e.data) } : {}) },
    };
  }
  return { v: PROTOCOL_VERSION, ok: false, error: { code: 'INTERNAL', message: 'the worker failed' } };
}

function safeData(data: Record<string, unknown>): Record<string, unknown> | undefined {
  try {
    const text = JSON.stringify(data);
    return text.length <= 16_384 ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // not serialisable (a cause object): the code and message still say enough
  }
}

export function frameToError(frame: Extract<ReplyFrame, { ok: false }>): AppError {
  return new AppError(frame.error.code, frame.error.message, frame.error.data);
}
