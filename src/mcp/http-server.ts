/**
 * Streamable HTTP front end on plain node:http. Guards every request before
 * either MCP stack sees it: Host and Origin against DNS rebinding (403),
 * bearer token (401, on loopback too unless explicitly turned off), body size
 * (413), JSON content type (415).
 *
 * Both protocol eras share the one endpoint and the one (v2) SDK, routed with
 * the SDK's own classifier `isLegacyRequest`, so the routing cannot disagree
 * with the SDK:
 * - 2025 revisions (2025-06-18, 2025-11-25, ...): the SDK's sessionful
 *   Streamable HTTP transport (`NodeStreamableHTTPServerTransport`). One MCP
 *   session per initialize, each with its own server, bound to the principal
 *   (token) that created it; another principal gets 404 as if it did not
 *   exist. Sessionful rather than the SDK's stateless 2025 fallback, which
 *   drops Mcp-Session-Id, GET streams and DELETE, all of which existing 2025
 *   clients rely on.
 * - 2026-07-28: the SDK's `createMcpHandler` in strict modern mode. It is
 *   stateless: a fresh server per request, built for the principal passed as
 *   `authInfo` (its schemas are compiled once, not per request); code
 *   sessions live in the shared SessionService, owned by that principal, so
 *   they outlive the request.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { NodeStreamableHTTPServerTransport, toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import {
  createMcpHandler,
  isInitializeRequest,
  isJsonContentType,
  isLegacyRequest,
  type AuthInfo,
  type McpServer,
} from '@modelcontextprotocol/server';
import { isLoopback } from '../config/loopback.js';
import { AppError } from '../errors.js';
import { MAX_MESSAGE_BYTES } from '../config/settings.js';
import type { StoreHealth } from '../store/store-status.js';
import { BoundedEventStore } from './event-store.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH, missingParamsMessage } from './jsonrpc-checks.js';

/** An --allow-host entry: a DNS name, IPv4 or [IPv6], and an optional port. */
const ALLOWED_HOST = /^([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/;

export interface HttpServerOptions {
  /**
   * Builds the server for a principal: one per 2025-revision MCP session, and
   * one per 2026-07-28 request.
   */
  createServer: (principal: string) => McpServer | Promise<McpServer>;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8765; 0 picks a free port. */
  port?: number;
  /** Accepted bearer tokens; each token is its own principal. Required unless `allowAnonymous`. */
  tokens?: string[];
  /**
   * Serve without a token: every caller is the principal "local". Only on a
   * loopback address, and only when asked for explicitly (`--no-auth`).
   */
  allowAnonymous?: boolean;
  /**
   * Extra host names accepted in Host/Origin (e.g. a LAN name), besides loopback and the bind address:
   * `NAME` on this server's own port, or `NAME:PORT` when a proxy in front listens on PORT (a Host
   * without a port then matches when PORT is 80 or 443, the defaults a proxy's clients leave out).
   */
  allowedHosts?: string[];
  /** Largest request body in bytes (default settings' MAX_MESSAGE_BYTES, 16 MiB). */
  maxBodyBytes?: number;
  /** Most MCP sessions open at once (default 1000). */
  maxSessions?: number;
  /** Most MCP sessions one principal may hold (default 64); past it, 429 for that principal only. */
  maxSessionsPerPrincipal?: number;
  /** Close MCP sessions idle this long (default 1 h). */
  idleTimeoutMs?: number;
  /**
   * A principal at its cap that opens another session first loses its own
   * oldest session idle at least this long (default 60 s).
   */
  atCapIdleMs?: number;
  /** Serve HTTPS with this PEM certificate chain and key (node:https). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  log?: (message: string) => void;
  /** The store's health for /healthz: "degraded" (still 200: the server answers) while writes fail or wait. */
  storeHealth?: () => StoreHealth;
  /**
   * Everything but /mcp and /healthz (the workbench: src/mcp/http/). Called
   * after the Host/Origin check with the caller's principal, or undefined
   * when the bearer token is missing or wrong.
   */
  web?: (req: IncomingMessage, res: ServerResponse, principal: string | undefined) => Promise<void>;
}

export interface RunningHttpServer {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Open 2025-revision MCP sessions (2026-07-28 is stateless and holds none). */
  sessionCount(): number;
  close(): Promise<void>;
}

interface McpSession {
  transport: NodeStreamableHTTPServerTransport;
  server: McpServer;
  principal: string;
  lastSeen: number;
}

/** The principal of a token: a stable, non-reversible id. */
export function principalOf(token: string): string {
  return `token:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function rpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers?: Record<string, string>,
) {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null }, headers);
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBytes) throw new BodyTooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/**
 * The principal travels to the modern factory as pass-through `authInfo`
 * (never read from headers by the SDK). It carries the principal, not the
 * bearer token, so the secret goes no further than `authenticate`.
 */
function authInfoFor(principal: string): AuthInfo {
  return { token: principal, clientId: principal, scopes: [] };
}

function principalFrom(authInfo: AuthInfo | undefined): string {
  if (authInfo === undefined) throw new Error('a 2026-07-28 request reached the server factory without a principal');
  return authInfo.clientId;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const host = options.host ?? '127.0.0.1';
  const tokens = (options.tokens ?? []).filter((t) => t !== '');
  const anonymous = options.allowAnonymous === true;
  if (anonymous && tokens.length > 0) {
    throw new Error('both bearer tokens and anonymous access were asked for; choose one');
  }
  if (anonymous && !isLoopback(host)) {
    throw new Error(`refusing to serve on ${host} without a bearer token: anonymous access is for loopback only`);
  }
  if (!anonymous && tokens.length === 0) {
    throw new Error(
      `refusing to serve on ${host} without a bearer token: configure a token, or allow anonymous access on loopback explicitly`,
    );
  }
  const maxBodyBytes = options.maxBodyBytes ?? MAX_MESSAGE_BYTES;
  const maxSessions = options.maxSessions ?? 1000;
  const maxPerPrincipal = options.maxSessionsPerPrincipal ?? 64;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60 * 60 * 1000;
  const atCapIdleMs = options.atCapIdleMs ?? 60_000;
  const scheme = options.tls === undefined ? 'http' : 'https';
  const log = options.log ?? (() => {});
  const tokenDigests = tokens.map((t) => ({
    digest: createHash('sha256').update(t).digest(),
    principal: principalOf(t),
  }));
  const sessions = new Map<string, McpSession>();
  let port = options.port ?? 8765;

  const modern = createMcpHandler((ctx) => options.createServer(principalFrom(ctx.authInfo)), {
    legacy: 'reject',
    maxRequestBodySize: maxBodyBytes,
    onerror: (error) => log(`http (2026-07-28): ${error.message}`),
  });
  const serveModern = toNodeHandler(modern, {
    maxRequestBodySize: maxBodyBytes,
    onerror: (error) => log(`http (2026-07-28): request failed: ${error.stack ?? error.message}`),
  });

  // Names reached on our own port, and names:ports that a proxy in front of us serves.
  const ownPortNames = new Set<string>(['localhost', '127.0.0.1', '[::1]']);
  if (host !== '0.0.0.0' && host !== '::') ownPortNames.add(host.includes(':') ? `[${host}]` : host);
  const proxiedPorts = new Map<string, Set<number>>();
  for (const entry of options.allowedHosts ?? []) {
    const m = ALLOWED_HOST.exec(entry.toLowerCase());
    const entryPort = m?.[2] === undefined ? undefined : Number(m[2]);
    if (m === null || (entryPort !== undefined && (entryPort < 1 || entryPort > 65535)))
      throw new AppError('INVALID_ARGUMENT', `--allow-host ${JSON.stringify(entry)}: expected NAME or NAME:PORT`, {
        argument: '--allow-host',
      });
    if (entryPort === undefined) ownPortNames.add(m[1]!);
    else proxiedPorts.set(m[1]!, (proxiedPorts.get(m[1]!) ?? new Set()).add(entryPort));
  }

  /**
   * Host must be an allowed name with our port; Origin, when sent, likewise.
   * Undefined when allowed, else what the 403 says: the header refused and the flag that allows it.
   */
  function hostRefusal(req: IncomingMessage): string | undefined {
    const defaultPort = scheme === 'https' ? 443 : 80;
    /** Whether an authority (`name`, `name:port`) is allowed; undefined when it is not an authority at all. */
    const allowed = (authority: string): { ok: boolean; name: string; port: number | undefined } | undefined => {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority.toLowerCase());
      if (m === null) return undefined;
      const name = m[1]!;
      const p = m[2] === undefined ? undefined : Number(m[2]);
      const own = ownPortNames.has(name) && (p === undefined ? port === defaultPort : p === port);
      const proxied = proxiedPorts.get(name);
      const viaProxy =
        proxied !== undefined && (p === undefined ? proxied.has(80) || proxied.has(443) : proxied.has(p));
      return { ok: own || viaProxy, name, port: p };
    };
    const refuse = (
      which: string,
      value: string,
      a: { name: string; port: number | undefined } | undefined,
    ): string => {
      if (a === undefined || a.name === '')
        return `${which} header "${value}" refused: it must name this server with port ${port} (DNS rebinding protection)`;
      const flag = a.port === undefined || a.port === port ? a.name : `${a.name}:${a.port}`;
      return (
        `${which} header "${value}" refused: "${flag}" is not an allowed host name (DNS rebinding protection). ` +
        `If this server is meant to be reached as ${flag}, restart it with --allow-host ${flag}`
      );
    };
    const hostHeader = header(req, 'host');
    if (hostHeader === undefined) return 'Host header missing';
    const hostAuthority = allowed(hostHeader);
    if (!hostAuthority?.ok) return refuse('Host', hostHeader, hostAuthority);
    const origin = header(req, 'origin');
    if (origin === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return refuse('Origin', origin, undefined);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return refuse('Origin', origin, undefined);
    const originAuthority = allowed(url.host || 'invalid');
    return originAuthority?.ok ? undefined : refuse('Origin', origin, originAuthority);
  }

  /** A request line or headers no well-behaved client sends: what the 400 says, or undefined. */
  function malformed(req: IncomingMessage): string | undefined {
    // Absolute-form targets (`POST http://host/mcp`) are for proxies; this is not one.
    if (!(req.url ?? '').startsWith('/')) return 'the request target must be a path (origin-form), e.g. /mcp';
    let hosts = 0;
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'host') hosts++;
    if (hosts > 1) return 'more than one Host header';
    return undefined;
  }

  /** The principal, or undefined when the token is missing or wrong. */
  function authenticate(req: IncomingMessage): string | undefined {
    if (anonymous) return 'local';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header(req, 'authorization') ?? '');
    if (m === null) return undefined;
    const digest = createHash('sha256')
      .update(m[1] ?? '')
      .digest();
    let principal: string | undefined;
    for (const t of tokenDigests) if (timingSafeEqual(t.digest, digest)) principal = t.principal;
    return principal;
  }

  async function closeSession(id: string, session: McpSession): Promise<void> {
    sessions.delete(id);
    await session.server.close().catch(() => {});
  }

  /**
   * Room for one more session of `principal`: under its cap, or at it with its
   * own oldest session idle for `atCapIdleMs` closed to make room. False when
   * every one of its sessions is in use.
   */
  async function makeRoomFor(principal: string): Promise<boolean> {
    const own = [...sessions].filter(([, s]) => s.principal === principal);
    if (own.length < maxPerPrincipal) return true;
    const cutoff = Date.now() - atCapIdleMs;
    const idle = own.filter(([, s]) => s.lastSeen <= cutoff).sort(([, a], [, b]) => a.lastSeen - b.lastSeen);
    const oldest = idle[0];
    if (oldest === undefined) return false;
    log(`http: ${principal} is at its ${maxPerPrincipal} MCP sessions: closing its oldest idle one`);
    await closeSession(oldest[0], oldest[1]);
    return true;
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse, principal: string): Promise<void> {
    const sessionId = header(req, 'mcp-session-id');
    let body: unknown;
    if (req.method === 'POST') {
      let raw: Buffer;
      try {
        raw = await readBody(req, maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLarge) {
          rpcError(res, 413, -32600, `Request body larger than ${maxBodyBytes} bytes`, { connection: 'close' });
          req.resume();
          return;
        }
        throw error;
      }
      if (!isJsonContentType(header(req, 'content-type') ?? null)) {
        rpcError(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
        return;
      }
      const text = raw.toString('utf8');
      // Deep nesting would overflow the SDK's recursive schema checks (a 500), so refuse it first.
      if (jsonDepthExceeds(text)) {
        rpcError(res, 400, -32600, `Invalid Request: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
        return;
      }
      try {
        body = JSON.parse(text);
      } catch {
        rpcError(res, 400, -32700, 'Parse error: the body is not valid JSON');
        return;
      }
      const missing = missingParamsMessage(body);
      if (missing !== undefined) {
        sendJson(res, 200, {
          jsonrpc: '2.0',
          id: (body as { id: unknown }).id,
          error: { code: -32602, message: missing },
        });
        return;
      }
    }

    const probe = await toWebRequest(req, body, { maxRequestBodySize: maxBodyBytes });
    if (!(await isLegacyRequest(probe, body, { maxRequestBodySize: maxBodyBytes }))) {
      // 2026-07-28: stateless, the principal rides along as authInfo.
      (req as IncomingMessage & { auth?: AuthInfo }).auth = authInfoFor(principal);
      await serveModern(req, res, body);
      return;
    }

    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      // Another principal's session does not exist for this caller.
      if (session === undefined || session.principal !== principal) {
        rpcError(res, 404, -32001, 'Session not found');
        return;
      }
      session.lastSeen = Date.now();
      await session.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      rpcError(res, 400, -32000, 'Bad Request: no valid session id; start with an initialize request');
      return;
    }
    if (!(await makeRoomFor(principal))) {
      rpcError(
        res,
        429,
        -32000,
        `Too many open MCP sessions for this token (${maxPerPrincipal}, settings http.maxSessionsPerPrincipal), ` +
          'all active in the last minute: close one (DELETE /mcp with its Mcp-Session-Id) and try again',
        { 'retry-after': String(Math.ceil(atCapIdleMs / 1000)) },
      );
      return;
    }
    if (sessions.size >= maxSessions) {
      rpcError(res, 503, -32000, 'Too many open MCP sessions; close one and try again', { 'retry-after': '5' });
      return;
    }
    const server = await options.createServer(principal);
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // SSE event ids, so a client whose stream dropped resumes with Last-Event-ID.
      eventStore: new BoundedEventStore(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, principal, lastSeen: Date.now() });
      },
      onsessionclosed: (id) => {
        const s = sessions.get(id);
        if (s !== undefined) void closeSession(id, s);
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      const s = id === undefined ? undefined : sessions.get(id);
      if (id !== undefined && s !== undefined) void closeSession(id, s);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const bad = malformed(req);
    if (bad !== undefined) {
      sendJson(res, 400, { error: 'bad_request', message: `Bad Request: ${bad}` }, { connection: 'close' });
      req.resume();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refused = hostRefusal(req);
    if (refused !== undefined) {
      sendJson(res, 403, { error: 'forbidden', message: refused });
      req.resume();
      return;
    }
    if (url.pathname === '/healthz') {
      const store = options.storeHealth?.();
      sendJson(res, 200, {
        status: store?.state === 'degraded' ? 'degraded' : 'ok',
        sessions: sessions.size,
        ...(store === undefined ? {} : { store }),
      });
      return;
    }
    if (url.pathname !== '/mcp' && options.web !== undefined) {
      options.web(req, res, authenticate(req)).catch((error: unknown) => {
        log(`http: request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        sendJson(res, 500, { error: { code: 'INTERNAL', message: 'Internal server error' } });
      });
      return;
    }
    if (url.pathname !== '/mcp') {
      sendJson(res, 404, { error: 'not_found', message: 'The MCP endpoint is /mcp' });
      req.resume();
      return;
    }
    const principal = authenticate(req);
    if (principal === undefined) {
      rpcError(res, 401, -32001, 'Unauthorized: send "Authorization: Bearer <token>"', {
        'www-authenticate': 'Bearer realm="codemode"',
      });
      req.resume();
      return;
    }
    handleMcp(req, res, principal).catch((error: unknown) => {
      log(`http: request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      rpcError(res, 500, -32603, 'Internal server error');
    });
  };
  const http: Server = options.tls === undefined ? createServer(onRequest) : createTlsServer(options.tls, onRequest);
  http.requestTimeout = 0; // SSE responses of long runs stay open
  http.headersTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  port = (http.address() as AddressInfo).port;

  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - idleTimeoutMs;
      for (const [id, s] of sessions) if (s.lastSeen < cutoff) void closeSession(id, s);
    },
    Math.min(idleTimeoutMs, 60_000),
  );
  sweeper.unref();

  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `${scheme}://${urlHost}:${port}/mcp`,
    port,
    host,
    sessionCount: () => sessions.size,
    async close() {
      clearInterval(sweeper);
      await Promise.all([...sessions].map(([id, s]) => closeSession(id, s)));
      await modern.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
