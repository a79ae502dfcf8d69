/**
 * Code Mode across the cluster: kernels on workers call upstream MCP tools that
 * only gateways hold (upstream servers and their credentials never reach a
 * worker). A worker's RemoteToolHost forwards each call with its session's id
 * on `codemode.tools.call.<worker>` to the gateways' queue group; a gateway's
 * ToolService checks the session's record first: it exists, is not closed,
 * belongs to the owner the worker names, and runs on the asking worker (the
 * subject says which, and only that worker may publish there; the reply inbox,
 * which only it can read, must agree). Then it calls its Code Mode runtime,
 * whose approval rules (requireApproval) are those of one machine. Errors come
 * back as values (AppError frames); a worker-side abort or timeout cancels the
 * upstream call at the gateway.
 */
import { randomBytes } from 'node:crypto';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import type { ToolHost } from '../codemode/contract.js';
import { AppError, errorMessage, isAppError } from '../errors.js';
import { decodeFrame, okFrame, reply, request, type Link } from './link.js';
import { workerInbox } from './nats-config.js';
import {
  errorToFrame,
  ID_PATTERN,
  parseFrame,
  requestFrameSchema,
  sessionRecordSchema,
  SUBJECTS,
  toolRequestSchema,
  type SessionRecord,
  type ToolRequest,
} from './protocol.js';

/** The cluster session a kernel belongs to, looked up at call time (undefined: not hosted here any more). */
export type ToolSessionLookup = () => { sessionId: string; owner: string } | undefined;

/** How long a worker waits for a gateway's answer to one tool call, by default (the kernel's wall limit is shorter). */
export const DEFAULT_TOOL_CALL_TIMEOUT_MS = 5 * 60_000;
/** searchTools and declarations: no upstream call, only the gateway's catalogue. */
const CATALOGUE_TIMEOUT_MS = 60_000;

const CANCEL_PREFIX = SUBJECTS.toolsCancel('', '').slice(0, -1); // `codemode.tools.cancel.`
const NO_GATEWAY =
  'no gateway with Code Mode answers on codemode.tools.call (start one with `codemode serve --nats URL --config mcp.json`)';

/** Worker side: one per session kernel. */
export class RemoteToolHost implements ToolHost {
  constructor(
    private readonly link: Link,
    /** This worker's id: the subject its calls go on. */
    private readonly workerId: string,
    private readonly session: ToolSessionLookup,
    private readonly timeoutMs = DEFAULT_TOOL_CALL_TIMEOUT_MS,
  ) {}

  async callTool(server: string, tool: string, args: unknown, signal?: AbortSignal): Promise<unknown> {
    const label = `codemode.${server}.${tool}`;
    const s = this.#session(label);
    const callId = `t${randomBytes(12).toString('hex')}`;
    const body: ToolRequest = { op: 'callTool', callId, ...s, server, tool, args, timeoutMs: this.timeoutMs };
    // The gateway stops the upstream call when told (abort), and by itself after timeoutMs.
    const cancel = () => this.link.nc.publish(SUBJECTS.toolsCancel(this.workerId, callId));
    if (signal?.aborted) throw new AppError('CANCELLED', `${label} was cancelled`);
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        cancel();
        reject(new AppError('CANCELLED', `${label} was cancelled`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([
        request(this.link, SUBJECTS.tools(this.workerId), body, { timeoutMs: this.timeoutMs + 2000 }),
        aborted,
      ]);
    } catch (e) {
      if (isAppError(e, 'UPSTREAM_UNAVAILABLE') && e.data?.['reason'] === 'timeout') cancel();
      throw this.#unreachable(label, e);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async searchTools(query: string, detail: 'names' | 'signatures' | 'full' = 'signatures'): Promise<string> {
    const s = this.#session('codemode.search');
    const raw = await request(
      this.link,
      SUBJECTS.tools(this.workerId),
      { op: 'searchTools', ...s, query, detail } satisfies ToolRequest,
      { timeoutMs: CATALOGUE_TIMEOUT_MS },
    ).catch((e: unknown) => {
      throw this.#unreachable('codemode.search', e);
    });
    return parseFrame(z.string(), raw, 'tool search reply');
  }

  async declarations(language: 'typescript' | 'python'): Promise<string> {
    const s = this.#session('codemode declarations');
    const raw = await request(
      this.link,
      SUBJECTS.tools(this.workerId),
      { op: 'declarations', ...s, language } satisfies ToolRequest,
      {
        timeoutMs: CATALOGUE_TIMEOUT_MS,
      },
    ).catch((e: unknown) => {
      throw this.#unreachable('codemode declarations', e);
    });
    return parseFrame(z.string(), raw, 'declarations reply');
  }

  #session(label: string): { sessionId: string; owner: string } {
    const s = this.session();
    if (s === undefined) throw new AppError('SESSION_CLOSED', `${label}: this session is no longer hosted here`);
    return s;
  }

  /** NATS failures named for the kernel: who did not answer, and why. */
  #unreachable(label: string, e: unknown): unknown {
    if (!isAppError(e, 'UPSTREAM_UNAVAILABLE')) return e;
    const reason = e.data?.['reason'];
    if (reason === 'no_responders') {
      return new AppError('UPSTREAM_UNAVAILABLE', `${label}: ${NO_GATEWAY}`, { reason: 'no_gateway', retryable: true });
    }
    if (reason === 'timeout') {
      return new AppError('TIMEOUT', `${label}: no gateway answered in ${this.timeoutMs} ms (the call was cancelled)`, {
        reason: 'timeout',
      });
    }
    return new AppError('UPSTREAM_UNAVAILABLE', `${label}: the cluster could not carry the call: ${e.message}`, e.data);
  }
}

/** The worker a reply subject belongs to (`_INBOX_W.<id>.…`), or undefined. */
export function workerOfReply(subject: string | undefined): string | undefined {
  return idAfter(workerInbox(''), subject);
}

/** The worker a tool-call subject names (`codemode.tools.call.<id>`), or undefined. */
export function workerOfCall(subject: string): string | undefined {
  return idAfter(SUBJECTS.tools(''), subject);
}

function idAfter(prefix: string, subject: string | undefined): string | undefined {
  if (subject === undefined || !subject.startsWith(prefix)) return undefined;
  const id = subject.slice(prefix.length).split('.')[0] ?? '';
  return ID_PATTERN.test(id) ? id : undefined;
}

export interface ToolServiceOptions {
  link: Link;
  /** The gateway's Code Mode runtime (upstream servers, approval rules). */
  host: ToolHost;
  /** Session records as the gateway sees them (the watched bucket); the bucket itself is read on a miss. */
  session: (id: string) => SessionRecord | undefined;
  log?: (m: string) => void;
}

/** Gateway side: answers `codemode.tools` in the queue group, one of any number of gateways. */
export class ToolService {
  readonly #o: ToolServiceOptions;
  readonly #log: (m: string) => void;
  readonly #subs: Subscription[] = [];
  readonly #calls = new Map<string, AbortController>();

  constructor(options: ToolServiceOptions) {
    this.#o = options;
    this.#log = options.log ?? (() => {});
  }

  async start(): Promise<void> {
    const { nc } = this.#o.link;
    this.#subs.push(
      nc.subscribe(SUBJECTS.tools('*'), {
        queue: SUBJECTS.toolsQueue,
        callback: (_e, m) => void this.#onRequest(m),
      }),
      // `codemode.tools.cancel.<worker>.<call>`: calls are kept under `<worker>.<call>`, so a worker cancels its own only.
      nc.subscribe(SUBJECTS.toolsCancel('*', '*'), {
        callback: (_e, m) => this.#calls.get(m.subject.slice(CANCEL_PREFIX.length))?.abort(),
      }),
    );
    await nc.flush();
  }

  /** Upstream calls running for workers now (a cancelled or timed-out call leaves at once). */
  get inFlight(): number {
    return this.#calls.size;
  }

  /** Stop taking calls; calls in flight are cancelled (their workers get CANCELLED). */
  stop(): void {
    for (const s of this.#subs) s.unsubscribe();
    for (const c of this.#calls.values()) c.abort();
  }

  async #onRequest(msg: Msg): Promise<void> {
    try {
      const frame = parseFrame(requestFrameSchema, await decodeFrame(this.#o.link, msg.data), 'tool request');
      const body = parseFrame(toolRequestSchema, frame.body, 'tool request');
      // Who asks: the subject (only that worker may publish there), and its reply inbox (only it can read) agrees.
      const worker = workerOfCall(msg.subject);
      const asking = worker !== undefined && worker === workerOfReply(msg.reply) ? worker : undefined;
      await this.#authorize(body, asking);
      await reply(this.#o.link, msg, okFrame(await this.#handle(body, asking!)), this.#log);
    } catch (e) {
      if (!isAppError(e)) this.#log(`cluster: a tool call failed: ${errorMessage(e)}`);
      await reply(this.#o.link, msg, errorToFrame(e), this.#log);
    }
  }

  /** NOT_FOUND unless the session is live on the asking worker and owned by the owner it names. */
  async #authorize(req: ToolRequest, worker: string | undefined): Promise<void> {
    const fits = (r: SessionRecord | undefined) =>
      r !== undefined && r.state !== 'closed' && r.owner === req.owner && r.worker === worker;
    // The watched view may lag a record written a moment ago (a new or moved session): read the bucket then.
    if (worker !== undefined && (fits(this.#o.session(req.sessionId)) || fits(await this.#stored(req.sessionId))))
      return;
    throw new AppError('NOT_FOUND', `no session ${req.sessionId}`);
  }

  async #stored(id: string): Promise<SessionRecord | undefined> {
    const entry = await this.#o.link.sessions.get(id).catch(() => null); // unreadable: treated as unknown
    if (entry === null || entry.operation !== 'PUT') return undefined;
    const parsed = sessionRecordSchema.safeParse(safeJson(() => entry.json()));
    return parsed.success && parsed.data.id === id ? parsed.data : undefined;
  }

  async #handle(req: ToolRequest, worker: string): Promise<unknown> {
    const { host } = this.#o;
    switch (req.op) {
      case 'searchTools':
        return host.searchTools(req.query, req.detail);
      case 'declarations':
        return host.declarations(req.language);
      case 'callTool': {
        const key = `${worker}.${req.callId}`;
        if (this.#calls.has(key)) throw new AppError('ALREADY_EXISTS', `tool call ${req.callId} is running`);
        const abort = new AbortController();
        const timer = setTimeout(
          () => abort.abort(new AppError('TIMEOUT', `codemode.${req.server}.${req.tool}: the worker gave up waiting`)),
          req.timeoutMs,
        );
        this.#calls.set(key, abort);
        try {
          const value = await host.callTool(req.server, req.tool, req.args, abort.signal);
          return value === undefined ? null : value;
        } finally {
          clearTimeout(timer);
          this.#calls.delete(key);
        }
      }
    }
  }
}

function safeJson(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined; // not JSON: the schema check rejects it
  }
}
