/**
 * The workbench's `/api/v1` router (api-contract.ts is the contract): one
 * handler per route over the SessionService, with the same principal and
 * ownership as /mcp, bodies size-capped and validated, and every failure a
 * typed JSON error. The event stream (GET .../events) is written here from
 * the session's live channel (live.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import { sharedAnalyzer } from '../../analysis/analyzer.js';
import { AppError } from '../../errors.js';
import { LANGUAGES } from '../../sandbox/executor.js';
import type { LimitOverrides, Limits } from '../../sandbox/limits.js';
import type { SessionService } from '../../sessions/contract.js';
import { rerunDownstream, sessionGraph, type DataflowOf } from '../../sessions/graph-session.js';
import type { OutputStore } from '../output-store.js';
import { limitOverridesFrom, limitsJson, limitsSchema } from '../tools/schemas.js';
import type { AgentRuns } from './agent-runs.js';
import {
  API_BASE,
  type AckResponse,
  type ApiEvent,
  type HistoryResponse,
  type ImportNotebookResponse,
  type InfoResponse,
  type ListFilesResponse,
  type ListSessionsResponse,
  type SessionResponse,
  type WriteFileResponse,
  type ExecResultJson,
  type GraphResponse,
  type LimitsJson,
  type RerunDownstreamResponse,
} from './api-contract.js';
import type { LiveHub } from './live.js';
import { SECURITY_HEADERS } from './static.js';
import { ApiError, errorResponse, recordJson, resumableJson, sessionJson, type ResultWire } from './wire.js';

export interface ApiRouterOptions {
  sessions: SessionService;
  hub: LiveHub;
  wire: ResultWire;
  agents: AgentRuns;
  outputs: OutputStore;
  version: string;
  limits: { defaults: Limits; max: Limits };
  /** Largest JSON body, and largest file through /files/content. */
  maxBodyBytes: number;
  /** Interval of `: ping` lines on event streams (default 15 s). */
  pingMs?: number;
  /** Event streams one principal may hold open (default 32). */
  maxStreamsPerPrincipal?: number;
}

const API_HEADERS: Record<string, string> = { ...SECURITY_HEADERS, 'cache-control': 'no-store' };
const MAX_NOTEBOOK_CELLS = 1000;
/** Bytes queued for one slow event-stream reader before it is cut off. */
const MAX_STREAM_BACKLOG_BYTES = 16 * 1024 * 1024;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { ...API_HEADERS, 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, error: unknown, headers: Record<string, string> = {}): void {
  const { status, body } = errorResponse(error);
  sendJson(res, status, body, headers);
}

async function readRaw(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () => new ApiError('TOO_LARGE', `the request body is larger than ${maxBytes} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON body against `schema`; zod's first issue names the field at fault. */
async function readJson<T>(req: IncomingMessage, maxBytes: number, schema: z.ZodType<T>): Promise<T> {
  const type = req.headers['content-type'] ?? '';
  const raw = await readRaw(req, maxBytes);
  if (raw.length === 0 && type === '') return parseWith(schema, {});
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with Content-Type: application/json');
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError('INVALID_ARGUMENT', 'the body is not valid JSON');
  }
  return parseWith(schema, value);
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = issue?.path.join('.') ?? '';
  throw new AppError('INVALID_ARGUMENT', `${at === '' ? 'body' : at}: ${issue?.message ?? 'invalid'}`, {
    ...(at === '' ? {} : { argument: at }),
  });
}

function queryPath(url: URL, required: boolean): string {
  const p = url.searchParams.get('path');
  if (p === null || p === '') {
    if (required)
      throw new AppError('INVALID_ARGUMENT', 'the query parameter "path" is required', { argument: 'path' });
    return '';
  }
  return p;
}

/** A download name that cannot break the header: the base name, safe characters only. */
function attachmentName(p: string): string {
  const base = path.posix.basename(p).replace(/[^\w.-]/g, '_');
  return base === '' || base === '.' || base === '..' ? 'download' : base.slice(0, 200);
}

const dataflowOf: DataflowOf = (language, code) => sharedAnalyzer().dataflow(language, code);
const CODE_HEAD_CHARS = 120;

const COMMENT: Record<string, string> = { python: '#', bash: '#', javascript: '//', typescript: '//' };

export function createApiRouter(options: ApiRouterOptions) {
  const { sessions, hub, wire, agents, outputs } = options;
  const maxBody = options.maxBodyBytes;
  const pingMs = options.pingMs ?? 15_000;
  const maxStreams = options.maxStreamsPerPrincipal ?? 32;
  const streams = new Map<string, number>();

  const limits = limitsSchema(options.limits.max);
  const createBody = z.strictObject({ language: z.enum(LANGUAGES), limits: limits.optional() });
  const resumeBody = z.strictObject({ replay_history: z.boolean().optional() });
  const executeBody = z.strictObject({ code: z.string().min(1).max(1_000_000), limits: limits.optional() });
  const agentBody = z.strictObject({
    task: z.string().min(1).max(100_000),
    model: z.string().min(1).max(2000).optional(),
    approval: z.enum(['auto', 'ask']).optional(),
    max_steps: z.number().int().positive().max(200).optional(),
  });
  const approvalBody = z.strictObject({ approve: z.boolean() });
  const rerunBody = z.strictObject({
    execution_count: z.number().int().min(1),
    dry_run: z.boolean().optional(),
  });
  const notebookBody = z.looseObject({
    nbformat: z.number().int().min(4).max(4).optional(),
    cells: z
      .array(
        z.looseObject({
          cell_type: z.string(),
          source: z.union([z.string(), z.array(z.string())]),
        }),
      )
      .max(MAX_NOTEBOOK_CELLS),
  });

  function info(): InfoResponse {
    return {
      name: 'codemode',
      version: options.version,
      api_version: 1,
      languages: [...LANGUAGES],
      limits: {
        defaults: limitsJson(options.limits.defaults) as unknown as LimitsJson,
        max: limitsJson(options.limits.max) as unknown as LimitsJson,
      },
      max_body_bytes: maxBody,
      max_file_bytes: maxBody,
      event_buffer: hub.maxEvents,
      agent: { available: agents.models.length > 0, models: agents.models, default_model: agents.models[0] ?? null },
    };
  }

  /** A session route's session, visible to `owner` only (NOT_FOUND otherwise); its live channel is opened. */
  function session(id: string, owner: string): SessionResponse {
    hub.channel(id, owner);
    return { session: sessionJson(sessions.get(id, owner)) };
  }

  async function execute(id: string, owner: string, code: string, l?: LimitOverrides): Promise<ExecResultJson> {
    hub.channel(id, owner);
    const result = await sessions.execute(id, code, {
      owner,
      source: 'web',
      ...(l === undefined ? {} : { limits: l }),
    });
    return wire.toJson(result, owner);
  }

  function stream(req: IncomingMessage, res: ServerResponse, id: string, owner: string, url: URL): void {
    const channel = hub.channel(id, owner);
    const open = streams.get(owner) ?? 0;
    if (open >= maxStreams) {
      throw new ApiError('RATE_LIMITED', `${open} event streams are open; at most ${maxStreams} at once`);
    }
    const rawLast = req.headers['last-event-id'] ?? url.searchParams.get('last_event_id') ?? undefined;
    const lastText = Array.isArray(rawLast) ? rawLast[0] : rawLast;
    let lastEventId: number | undefined;
    if (lastText !== undefined && lastText !== '') {
      lastEventId = Number(lastText);
      if (!Number.isSafeInteger(lastEventId) || lastEventId < 0) {
        throw new AppError('INVALID_ARGUMENT', 'Last-Event-ID must be a non-negative integer', {
          argument: 'Last-Event-ID',
        });
      }
    }
    streams.set(owner, open + 1);
    res.writeHead(200, {
      ...API_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const write = (event: ApiEvent): void => {
      if (res.writableEnded) return;
      // A reader this far behind is cut off rather than buffered without bound; it resumes with Last-Event-ID.
      if (res.writableLength > MAX_STREAM_BACKLOG_BYTES) {
        res.end();
        return;
      }
      res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      if (event.type === 'session.closed') res.end();
    };
    const openEvent = {
      id: channel.lastId,
      type: 'stream.open',
      session_id: channel.sessionId,
      at: new Date().toISOString(),
      data: { session: sessionJson(sessions.get(id, owner)), last_event_id: channel.lastId },
    } satisfies ApiEvent;
    // No id line: stream.open must not move the client's Last-Event-ID.
    res.write(`event: stream.open\ndata: ${JSON.stringify(openEvent)}\n\n`);
    const { backlog, gap, detach } = channel.attach(write, lastEventId);
    if (gap) {
      const reset = {
        id: channel.lastId,
        type: 'stream.reset',
        session_id: channel.sessionId,
        at: new Date().toISOString(),
        data: { reason: 'events after Last-Event-ID are no longer held; reload the session and its history' },
      } satisfies ApiEvent;
      res.write(`event: stream.reset\ndata: ${JSON.stringify(reset)}\n\n`);
    }
    for (const event of backlog) write(event);
    const ping = setInterval(() => {
      if (!res.writableEnded) res.write(': ping\n\n');
    }, pingMs);
    ping.unref();
    res.on('close', () => {
      clearInterval(ping);
      detach();
      const n = (streams.get(owner) ?? 1) - 1;
      if (n <= 0) streams.delete(owner);
      else streams.set(owner, n);
    });
  }

  async function graphOf(id: string, owner: string): Promise<GraphResponse> {
    const { graph, records } = await sessionGraph(sessions, id, owner, dataflowOf);
    const byCount = new Map(records.map((r) => [r.executionCount, r]));
    const view = graph.view();
    return {
      session_id: id,
      nodes: view.nodes.map((n) => ({
        execution_count: n.id,
        execution_id: byCount.get(n.id)?.id ?? '',
        kind: n.kind,
        status: n.status,
        code_head: (byCount.get(n.id)?.code ?? '').trimStart().split('\n', 1)[0]!.slice(0, CODE_HEAD_CHARS),
        defs: n.defs,
        uses: n.uses,
        mutates: n.mutates,
        unknown: n.unknown.map((u) => ({ reason: u.reason, line: u.line, ...(u.name ? { name: u.name } : {}) })),
        opaque: n.opaque,
        stale: n.stale,
        stale_because: n.staleBecause,
      })),
      edges: view.edges.map((e) => ({
        from: e.from,
        to: e.to,
        name: e.name,
        ...(e.uncertain ? { uncertain: true } : {}),
      })),
      stale: view.nodes.filter((n) => n.stale).map((n) => n.id),
    };
  }

  async function rerun(req: IncomingMessage, id: string, owner: string): Promise<RerunDownstreamResponse> {
    hub.channel(id, owner); // before reading the body: another principal learns nothing from a 400
    const body = await readJson(req, maxBody, rerunBody);
    // The same code path as the rerun_downstream MCP tool; each run streams on the event stream as usual.
    const { plan, runs } = await rerunDownstream(sessions, id, owner, body.execution_count, dataflowOf, {
      dryRun: body.dry_run === true,
      source: 'web',
    });
    return {
      session_id: id,
      planned: plan.cells,
      unknown: plan.unknown,
      ...(plan.refused ? { refused: plan.refused } : {}),
      runs: runs.map((r) => ({ cell: r.cell, result: wire.toJson(r.result, owner) })),
    };
  }

  function scriptOf(id: string, owner: string): string {
    const s = sessions.get(id, owner);
    const c = COMMENT[s.language] ?? '#';
    const cells = sessions
      .history(id, owner)
      .filter((r) => (r.kind ?? 'execute') === 'execute')
      .map((r) => `${c} In [${r.executionCount}]:\n${r.code.replace(/\n*$/, '')}\n`);
    return `${c} codemode session ${s.id} (${s.language})\n\n${cells.join('\n')}`;
  }

  async function importNotebook(req: IncomingMessage, id: string, owner: string): Promise<ImportNotebookResponse> {
    const nb = await readJson(req, maxBody, notebookBody);
    const code = nb.cells
      .filter((c) => c.cell_type === 'code')
      .map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source))
      .filter((s) => s.trim() !== '');
    const results: ExecResultJson[] = [];
    for (const cell of code) {
      const r = await execute(id, owner, cell);
      results.push(r);
      if (r.status !== 'ok') break;
    }
    return { session_id: id, results, skipped: code.length - results.length };
  }

  /** Routes one /api request of an authenticated principal. */
  async function route(req: IncomingMessage, res: ServerResponse, url: URL, owner: string): Promise<void> {
    const method = req.method ?? 'GET';
    const rest = url.pathname.slice(API_BASE.length);
    const parts = rest.split('/').filter((p) => p !== '');
    const seg = parts.map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw new ApiError('INVALID_ARGUMENT', 'the request path is not valid percent-encoding');
      }
    });
    const notAllowed = (): never => {
      throw new ApiError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`);
    };
    const [head, id, sub, sub2] = seg;

    if (head === 'info' && seg.length === 1) {
      if (method !== 'GET') notAllowed();
      return sendJson(res, 200, info());
    }
    if (head === 'outputs' && id !== undefined && seg.length === 2) {
      if (method !== 'GET') notAllowed();
      const entry = outputs.get(id, owner);
      if (entry === undefined) throw new AppError('NOT_FOUND', `output ${id} not found (it may have been evicted)`);
      res.writeHead(200, { ...API_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
      res.end(entry.text);
      return;
    }
    if (head === 'agent-runs' && id !== undefined && seg.length <= 3) {
      if (sub === undefined) {
        if (method !== 'GET') notAllowed();
        return sendJson(res, 200, agents.get(id, owner));
      }
      if (method !== 'POST') notAllowed();
      if (sub === 'approval') {
        const body = await readJson(req, maxBody, approvalBody);
        return sendJson(res, 200, agents.approve(id, owner, body.approve));
      }
      if (sub === 'cancel') return sendJson(res, 200, agents.cancel(id, owner));
    }
    if (head === 'sessions' && id === undefined) {
      if (method === 'GET') {
        const body: ListSessionsResponse = {
          sessions: sessions.list(owner).map(sessionJson),
          resumable: sessions.listResumable(owner).map(resumableJson),
        };
        return sendJson(res, 200, body);
      }
      if (method !== 'POST') notAllowed();
      const body = await readJson(req, maxBody, createBody);
      const created = await sessions.create({
        language: body.language,
        owner,
        ...(body.limits === undefined ? {} : { limits: limitOverridesFrom(body.limits) as LimitOverrides }),
      });
      hub.channel(created.id, owner);
      return sendJson(res, 201, { session: sessionJson(created) } satisfies SessionResponse);
    }
    if (head === 'sessions' && id !== undefined) {
      const action = sub2 === undefined ? sub : `${sub}/${sub2}`;
      if (seg.length > 4) throw new ApiError('NOT_FOUND', `no such endpoint: ${url.pathname}`);
      switch (action) {
        case undefined:
          if (method === 'GET') return sendJson(res, 200, session(id, owner));
          if (method !== 'DELETE') notAllowed();
          sessions.get(id, owner);
          await sessions.close(id, owner);
          return sendJson(res, 200, { session_id: id, done: true } satisfies AckResponse);
        case 'resume': {
          if (method !== 'POST') notAllowed();
          const body = await readJson(req, maxBody, resumeBody);
          const saved = sessions.listResumable(owner).find((r) => r.id === id);
          if (saved === undefined) {
            // Live already, or not this principal's: answer as get() does.
            return sendJson(res, 200, session(id, owner));
          }
          const resumed = await sessions.create({
            language: saved.language,
            owner,
            resumeId: id,
            replayHistory: body.replay_history ?? true,
          });
          hub.channel(resumed.id, owner);
          return sendJson(res, 200, { session: sessionJson(resumed) } satisfies SessionResponse);
        }
        case 'restart': {
          if (method !== 'POST') notAllowed();
          hub.channel(id, owner);
          const info = await sessions.restart(id, owner);
          return sendJson(res, 200, { session: sessionJson(info) } satisfies SessionResponse);
        }
        case 'interrupt':
          if (method !== 'POST') notAllowed();
          await sessions.interrupt(id, owner);
          hub.peek(id)?.publish('session.state', { session: sessionJson(sessions.get(id, owner)) });
          return sendJson(res, 200, { session_id: id, done: true } satisfies AckResponse);
        case 'executions': {
          if (method !== 'POST') notAllowed();
          const body = await readJson(req, maxBody, executeBody);
          return sendJson(res, 200, await execute(id, owner, body.code, limitOverridesFrom(body.limits)));
        }
        case 'history': {
          if (method !== 'GET') notAllowed();
          const q = (url.searchParams.get('q') ?? '').toLowerCase();
          const records = sessions
            .history(id, owner)
            .filter(
              (r) =>
                q === '' ||
                r.code.toLowerCase().includes(q) ||
                r.stdout.toLowerCase().includes(q) ||
                r.stderr.toLowerCase().includes(q),
            );
          return sendJson(res, 200, { session_id: id, executions: records.map(recordJson) } satisfies HistoryResponse);
        }
        case 'events':
          if (method !== 'GET') notAllowed();
          return stream(req, res, id, owner, url);
        case 'files': {
          if (method !== 'GET') notAllowed();
          const files = await sessions.listFiles(id, queryPath(url, false), owner);
          return sendJson(res, 200, {
            session_id: id,
            files: files.map((f) => ({ path: f.path, size: f.size })),
          } satisfies ListFilesResponse);
        }
        case 'files/content': {
          const p = queryPath(url, true);
          if (method === 'GET' || method === 'HEAD') {
            const bytes = await sessions.readFile(id, p, owner);
            if (bytes.length > maxBody) {
              throw new AppError('TOO_LARGE', `${p} is ${bytes.length} bytes, more than the ${maxBody} served here`, {
                argument: 'path',
              });
            }
            res.writeHead(200, {
              ...API_HEADERS,
              // Never rendered by the browser from here: the workbench fetches it with its token.
              'content-security-policy': "sandbox; default-src 'none'",
              'content-type': 'application/octet-stream',
              'content-disposition': `attachment; filename="${attachmentName(p)}"`,
              'content-length': String(bytes.length),
            });
            res.end(method === 'HEAD' ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
            return;
          }
          if (method === 'PUT') {
            sessions.get(id, owner); // before reading the body: another principal learns nothing from a 413
            const raw = await readRaw(req, maxBody);
            const entry = await sessions.writeFile(id, p, raw, owner);
            return sendJson(res, 200, {
              session_id: id,
              path: entry.path,
              size: entry.size,
            } satisfies WriteFileResponse);
          }
          if (method !== 'DELETE') notAllowed();
          await sessions.deleteFile(id, p, owner);
          return sendJson(res, 200, { session_id: id, path: p, size: 0 } satisfies WriteFileResponse);
        }
        case 'export': {
          if (method !== 'GET') notAllowed();
          const format = url.searchParams.get('format') ?? 'ipynb';
          if (format === 'ipynb') {
            const text = sessions.exportNotebook(id, owner);
            res.writeHead(200, {
              ...API_HEADERS,
              'content-type': 'application/x-ipynb+json',
              'content-disposition': `attachment; filename="${attachmentName(`session-${id}.ipynb`)}"`,
            });
            res.end(text);
            return;
          }
          if (format !== 'script') {
            throw new AppError('INVALID_ARGUMENT', 'format must be "ipynb" or "script"', { argument: 'format' });
          }
          res.writeHead(200, { ...API_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
          res.end(scriptOf(id, owner));
          return;
        }
        case 'graph':
          if (method !== 'GET') notAllowed();
          hub.channel(id, owner);
          return sendJson(res, 200, await graphOf(id, owner));
        case 'rerun-downstream':
          if (method !== 'POST') notAllowed();
          return sendJson(res, 200, await rerun(req, id, owner));
        case 'import-notebook':
          if (method !== 'POST') notAllowed();
          hub.channel(id, owner);
          return sendJson(res, 200, await importNotebook(req, id, owner));
        case 'agent': {
          if (method !== 'POST') notAllowed();
          const body = await readJson(req, maxBody, agentBody);
          return sendJson(
            res,
            202,
            agents.start(id, owner, {
              task: body.task,
              ...(body.model === undefined ? {} : { model: body.model }),
              ...(body.approval === undefined ? {} : { approval: body.approval }),
              ...(body.max_steps === undefined ? {} : { max_steps: body.max_steps }),
            }),
          );
        }
      }
    }
    throw new ApiError(
      'NOT_FOUND',
      `no such endpoint: ${method} ${url.pathname}`,
      'See docs/api.md for the endpoints.',
    );
  }

  return {
    info,
    /** Handles one /api request; `principal` undefined means no valid token (401). */
    async handle(req: IncomingMessage, res: ServerResponse, url: URL, principal: string | undefined): Promise<void> {
      try {
        if (principal === undefined) {
          throw new ApiError(
            'UNAUTHORIZED',
            'send "Authorization: Bearer <token>"',
            'Use the token the server printed (codemode ui puts it in the page URL after #token=).',
          );
        }
        if (url.pathname !== API_BASE && !url.pathname.startsWith(`${API_BASE}/`)) {
          throw new ApiError('NOT_FOUND', `no such endpoint: ${url.pathname}`, `The API is under ${API_BASE}.`);
        }
        await route(req, res, url, principal);
      } catch (error) {
        // An unread body is drained so the connection can answer (413 closes it instead).
        const tooLarge = error instanceof ApiError && error.code === 'TOO_LARGE';
        sendError(res, error, {
          ...(tooLarge ? { connection: 'close' } : {}),
          ...(principal === undefined ? { 'www-authenticate': 'Bearer realm="codemode"' } : {}),
        });
        if (!req.readableEnded) req.resume();
      }
    },
  };
}
