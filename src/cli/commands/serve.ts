/**
 * `codemode serve`: the MCP server over stdio (default) or Streamable HTTP,
 * speaking 2026-07-28 and the 2025 revisions on both, from the one (v2) SDK:
 * on stdio its `serveStdio` lets the client's opening pick the era; HTTP is
 * http-server.ts. stdout is the protocol on stdio,
 * so every log line goes to stderr. Shuts down cleanly (all kernels killed)
 * on SIGINT, SIGTERM or stdin closing.
 *
 * HTTP always requires a bearer token, on loopback too, unless --no-auth (from
 * a flag, the environment or the user's own settings; loopback only). Tokens
 * come from --token-file, CODEMODE_TOKEN(_FILE) or a trusted settings file;
 * without any, one is generated, saved 0600 in the state directory and printed
 * once to stderr. --token on the command line still works, with a warning: it
 * shows in `ps`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { ensureStateDirs, loadSettings } from '../../config/load-settings.js';
import { secretFileWarning } from '../../config/secret-file.js';
import type { GatewayFlags } from '../../cluster/gateway.js';
import { NATS_FLAGS } from '../../cluster/nats-flags.js';
import type { DeepPartial, Settings } from '../../config/settings.js';
import { AppError, errorMessage, isAppError } from '../../errors.js';
import { startHttpServer } from '../../mcp/http-server.js';
import { createWorkbench } from '../../mcp/http/workbench.js';
import {
  createCodemodeServer,
  SERVER_VERSION,
  type CodemodeServerOptions,
  type ServerExtension,
} from '../../mcp/server.js';
import { OutputStore } from '../../mcp/output-store.js';
import { ValidatingStdioTransport } from '../../mcp/stdio-transport.js';
import { executorFor } from '../../sandbox/caching-executor.js';
import type { Executor } from '../../sandbox/executor.js';
import type { ToolHost } from '../../codemode/contract.js';
import type { SessionStore } from '../../store/session-store.js';
import type { StoreHealth } from '../../store/store-status.js';
import type { SessionService } from '../../sessions/contract.js';
import type { AgentToolConfig } from '../../mcp/tools/agent.js';
import type { CliIO, Command } from '../io.js';
import { parseFlags } from '../args.js';

export interface ServeOptions {
  http: boolean;
  host: string;
  port: number;
  /** Require a bearer token over HTTP (false only with --no-auth or CODEMODE_AUTH=off, on loopback). */
  auth: boolean;
  /** Bearer tokens from --token (repeatable), CODEMODE_TOKEN (comma-separated) or a trusted settings file. */
  tokens: string[];
  /** A file of bearer tokens, one a line (--token-file, CODEMODE_TOKEN_FILE). */
  tokenFile: string | null;
  /** Where state lives: the generated token, and by default the database and workspaces. */
  stateDir: string;
  /** Extra host names accepted in Host/Origin (--allow-host). */
  allowedHosts: string[];
  /** Serve HTTPS with this PEM certificate and key (--tls-cert, --tls-key). */
  tls?: { certFile: string; keyFile: string };
  /** mcpServers JSON for Code Mode. */
  config?: string;
  store: boolean;
  db?: string;
  unsandboxed: boolean;
  /** Everything else: limits, sessions, workspaces (flags > env > settings file > defaults). */
  settings: Settings;
  /** --nats: serve as a cluster gateway (src/cluster/gateway.ts); the flags as given. */
  cluster?: GatewayFlags;
  /** Programmatic, for `codemode worker`: each session's kernel tool calls go to the cluster's gateways. */
  toolHostFor?: (session: { id: string; owner: string }) => ToolHost | undefined;
}

/** What the server runs on; built by a RuntimeFactory so tests can swap it. */
export interface ServeRuntime {
  executor: Executor;
  sessions: SessionService;
  /** Extra tool registrations, e.g. Code Mode. */
  extensions: ServerExtension[];
  /** run_agent's configuration when settings agent.enabled is on. */
  agent?: AgentToolConfig;
  /** The store's health for /healthz (history and result-cache writes). */
  storeHealth?: () => StoreHealth;
  close(): Promise<void>;
}

/**
 * First step of a stop, before the transports close: running executions are
 * interrupted and recorded as `interrupted` (closing a transport first would
 * cancel them instead), and their replies can still reach the clients.
 */
async function stopSessions(runtime: ServeRuntime, log: (m: string) => void): Promise<void> {
  await runtime.sessions.shutdown().catch((e: unknown) => log(`shutdown: ${errorMessage(e)}`));
}

/** How long a graceful stop may take before the process exits anyway. */
export const SHUTDOWN_DEADLINE_MS = 10_000;

/**
 * From the first stop signal on: a second SIGINT/SIGTERM, or the deadline,
 * ends the process at once (a stuck kernel or upstream must not keep it).
 * The one place besides the entry point that exits: nothing else can.
 */
function armForcedExit(log: (m: string) => void, deadlineMs = SHUTDOWN_DEADLINE_MS): () => void {
  const force = (why: string, code: number) => {
    log(`${why}: exiting now`);
    process.exit(code);
  };
  const onInt = () => force('second signal (SIGINT)', 130);
  const onTerm = () => force('second signal (SIGTERM)', 143);
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  // unref: a shutdown that finishes lets the process end at once; one that hangs ends here.
  const timer = setTimeout(() => force(`shutdown took longer than ${deadlineMs / 1000} s`, 1), deadlineMs).unref();
  // Disarmed once the stop is complete: a process that embeds the server (a test) lives on.
  return () => {
    clearTimeout(timer);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

export type RuntimeFactory = (options: ServeOptions, io: CliIO, log: (m: string) => void) => Promise<ServeRuntime>;

export const SERVE_USAGE = `usage: codemode serve [--http] [--host 127.0.0.1] [--port 8765] [--token-file FILE] [--no-auth]
                      [--allow-host NAME]... [--tls-cert FILE --tls-key FILE]
                      [--config mcp.json] [--no-store] [--db PATH]
                      [--settings FILE] [--unsandboxed-i-know-this-is-unsafe]
                      [--nats URL [--nats-credentials FILE] [--nats-tls-ca FILE] [--gateway-id NAME] [--replicas N]]

  (default)        serve MCP over stdio
  --http           serve Streamable HTTP at http://HOST:PORT/mcp (health: /healthz)
  --token-file F   bearer tokens clients must send, one a line (also CODEMODE_TOKEN_FILE, or
                   CODEMODE_TOKEN comma-separated). Without any, a token is generated, saved
                   0600 in $CODEMODE_HOME/http-token and printed once
  --token T        like --token-file, but visible to every local user in ps: avoid
  --no-auth        no token on loopback (single-user machines only; also CODEMODE_AUTH=off)
  --allow-host N   accept Host/Origin N besides loopback and the bind address (a remote name;
                   NAME:PORT when a proxy in front listens on PORT)
  --tls-cert F     serve HTTPS with this PEM certificate (chain); needs --tls-key
  --tls-key F      the certificate's PEM private key
  --config FILE    upstream MCP servers ({"mcpServers": {...}}) exposed to code (Code Mode)
  --no-store       keep sessions in memory only
  --db PATH        session store database (default $CODEMODE_HOME/codemode.db)
  --settings FILE  settings file (default ~/.config/codemode/config.json, then ./codemode.json
                   when present, which may not set commands, host, tokens, auth or paths)
  --nats URL       be a cluster gateway: sessions and runs go to \`codemode worker\`s (docs/cluster.md)`;

/** Parse argv and env; throws AppError INVALID_ARGUMENT naming the bad flag. */
export function parseServeArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
  onWarning: (message: string) => void = () => {},
): ServeOptions {
  const { values } = parseFlags(argv, {
    http: { type: 'boolean', default: false },
    host: { type: 'string' },
    port: { type: 'string' },
    token: { type: 'string', multiple: true },
    'token-file': { type: 'string' },
    'no-auth': { type: 'boolean', default: false },
    'allow-host': { type: 'string', multiple: true },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    config: { type: 'string' },
    'no-store': { type: 'boolean', default: false },
    db: { type: 'string' },
    settings: { type: 'string' },
    'unsandboxed-i-know-this-is-unsafe': { type: 'boolean', default: false },
    ...NATS_FLAGS,
    'gateway-id': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const clusterFlags = [...(Object.keys(NATS_FLAGS) as (keyof typeof NATS_FLAGS)[]), 'gateway-id' as const];
  if (values.nats === undefined && clusterFlags.some((f) => f !== 'nats' && values[f] !== undefined)) {
    throw new AppError(
      'INVALID_ARGUMENT',
      '--nats-credentials, --nats-tls-*, --replicas and --gateway-id only apply with --nats',
      {
        argument: '--nats',
      },
    );
  }
  if (values.help) throw new AppError('INVALID_ARGUMENT', 'help requested', { help: true });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new AppError('INVALID_ARGUMENT', `--port must be an integer from 0 to 65535, got ${values.port}`, {
      argument: '--port',
    });
  }
  const httpOnly = ['host', 'port', 'token', 'token-file', 'tls-cert', 'tls-key'] as const;
  if (!values.http && (httpOnly.some((f) => values[f] !== undefined) || values['no-auth'])) {
    throw new AppError(
      'INVALID_ARGUMENT',
      '--host, --port, --token, --token-file, --tls-cert, --tls-key and --no-auth only apply with --http',
      {
        argument: '--http',
      },
    );
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new AppError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together: give both, or neither', {
      argument: values['tls-cert'] === undefined ? '--tls-cert' : '--tls-key',
    });
  }
  if (values.token !== undefined) {
    onWarning(
      '--token puts the token on the command line, where every local user can read it (ps); use --token-file FILE or CODEMODE_TOKEN',
    );
  }
  const flags: DeepPartial<Settings> = {
    http: {
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(port === undefined ? {} : { port }),
      ...(values['no-auth'] ? { auth: false } : {}),
      ...(values['token-file'] === undefined ? {} : { tokenFile: path.resolve(cwd, values['token-file']) }),
      ...(values['allow-host'] === undefined ? {} : { allowedHosts: values['allow-host'] }),
    },
    store: {
      ...(values['no-store'] ? { enabled: false } : {}),
      ...(values.db === undefined ? {} : { path: path.resolve(cwd, values.db) }),
    },
    ...(values.config === undefined ? {} : { mcpServersFile: path.resolve(cwd, values.config) }),
  };
  const { settings, warnings, stateDir } = loadSettings({
    env,
    cwd,
    flags,
    ...(values.settings === undefined ? {} : { settingsPath: values.settings }),
  });
  for (const w of warnings) onWarning(w);
  const tokens = [...(values.token ?? []), ...settings.http.tokens];
  for (const t of tokens) checkToken(t, '--token');
  if (!settings.http.auth && (tokens.length > 0 || settings.http.tokenFile !== null)) {
    throw new AppError('INVALID_ARGUMENT', 'auth is turned off (--no-auth) but a token was given too; choose one', {
      argument: '--no-auth',
    });
  }
  return {
    http: values.http,
    host: settings.http.host,
    port: settings.http.port,
    auth: settings.http.auth,
    tokens,
    tokenFile: settings.http.tokenFile,
    stateDir,
    allowedHosts: settings.http.allowedHosts,
    ...(values['tls-cert'] === undefined || values['tls-key'] === undefined
      ? {}
      : { tls: { certFile: path.resolve(cwd, values['tls-cert']), keyFile: path.resolve(cwd, values['tls-key']) } }),
    ...(settings.mcpServersFile === null ? {} : { config: settings.mcpServersFile }),
    store: settings.store.enabled,
    db: settings.store.path,
    unsandboxed: values['unsandboxed-i-know-this-is-unsafe'],
    settings,
    ...(values.nats === undefined
      ? {}
      : {
          cluster: Object.fromEntries(clusterFlags.map((f) => [f, values[f]])) as GatewayFlags,
        }),
  };
}

function checkToken(t: string, argument: string): void {
  if (t.length < 16 || /\s/.test(t)) {
    throw new AppError('INVALID_ARGUMENT', 'a token must be at least 16 characters without spaces', { argument });
  }
}

/** The saved HTTP token, or a new one (32 random bytes) saved with mode 0600 (a looser saved file is tightened). */
export function loadOrCreateToken(home: string): { token: string; created: boolean; file: string } {
  const file = path.join(home, 'http-token');
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 16) {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      return { token, created: false, file };
    }
  } catch (e) {
    // Not created yet (ENOENT) is the normal first start; anything else is worth refusing.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = randomBytes(32).toString('base64url');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, created: true, file };
}

/** Tokens of a token file: one a line, blank lines and # comments ignored. */
export function readTokenFile(file: string, warn: (message: string) => void = () => {}): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AppError('INVALID_CONFIG', `cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code}`, {
      argument: '--token-file',
    });
  }
  const exposed = secretFileWarning(file, 'token file');
  if (exposed !== undefined) warn(exposed);
  const tokens = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0) throw new AppError('INVALID_CONFIG', `the token file ${file} holds no token`);
  for (const t of tokens) checkToken(t, '--token-file');
  return tokens;
}

/** What the HTTP server authenticates with: the tokens, or none at all when auth is off. */
export function httpTokens(options: ServeOptions, log: (message: string) => void): string[] | 'anonymous' {
  if (!options.auth) {
    log(
      'WARNING: HTTP authentication is OFF (--no-auth): every local user and every process on this machine ' +
        'can run code as you and call your upstream tools with your credentials. Use it only on a single-user machine.',
    );
    return 'anonymous';
  }
  const tokens = [...options.tokens];
  if (options.tokenFile !== null) tokens.push(...readTokenFile(options.tokenFile, log));
  if (tokens.length > 0) return tokens;
  const { token, created, file } = loadOrCreateToken(options.stateDir);
  if (created) {
    log(`generated a bearer token (saved in ${file}, mode 0600; shown only this once): ${token}`);
    log(`clients send "Authorization: Bearer <token>"; pass it by file: --token-file ${file}`);
  } else log(`using the bearer token saved in ${file}`);
  return [token];
}

/** The TLS certificate and key files' bytes; INVALID_CONFIG naming the flag when one cannot be read. */
function readTls(files: ServeOptions['tls']): { cert: Buffer; key: Buffer } | undefined {
  if (files === undefined) return undefined;
  const read = (file: string, argument: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new AppError('INVALID_CONFIG', `cannot read ${argument} ${file}: ${(e as NodeJS.ErrnoException).code}`, {
        argument,
      });
    }
  };
  return { cert: read(files.certFile, '--tls-cert'), key: read(files.keyFile, '--tls-key') };
}

/** Wait for the first of: SIGINT, SIGTERM, stdin closing (stdio only). */
function shutdownSignal(io: CliIO, watchStdin: boolean): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      io.stdin.off('end', onEnd);
      io.stdin.off('close', onEnd);
      resolve(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    const onEnd = () => done('stdin closed');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    if (watchStdin) {
      io.stdin.on('end', onEnd);
      io.stdin.on('close', onEnd);
    }
  });
}

export function createServeCommand(buildRuntime: RuntimeFactory): Command {
  return async (argv, io) => {
    const log = (m: string) => void io.stderr.write(`codemode: ${m}\n`);
    let options: ServeOptions;
    try {
      options = parseServeArgs(argv, io.env, io.cwd, (w) => log(`settings: ${w}`));
    } catch (e) {
      if (isAppError(e) && e.data?.['help'] === true) {
        io.stdout.write(`${SERVE_USAGE}\n`);
        return 0;
      }
      io.stderr.write(`codemode serve: ${errorMessage(e)}\n${SERVE_USAGE}\n`);
      return 2;
    }
    // Before anything starts: the token (or --no-auth) is settled, and a bad token file stops us here.
    let auth: string[] | 'anonymous' = 'anonymous';
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (options.http) {
      try {
        auth = httpTokens(options, log);
        tls = readTls(options.tls);
      } catch (e) {
        log(`cannot start: ${errorMessage(e)}`);
        return isAppError(e, 'INVALID_CONFIG') || isAppError(e, 'INVALID_ARGUMENT') ? 2 : 1;
      }
    }

    let runtime: ServeRuntime;
    try {
      runtime = await buildRuntime(options, io, log);
    } catch (e) {
      log(`cannot start: ${errorMessage(e)}`);
      return isAppError(e, 'INVALID_CONFIG') || isAppError(e, 'INVALID_ARGUMENT') ? 2 : 1;
    }
    if (options.unsandboxed)
      log('WARNING: running UNSANDBOXED: code runs as your user with full access to this machine');
    const outputs = new OutputStore();
    const analysisPolicy = (await import('../../analysis/compose.js')).activePolicy(options.settings.analysis);
    const serverOptions = (principal: string): CodemodeServerOptions => ({
      // One-shot runs see the result cache of this principal only.
      executor: executorFor(runtime.executor, principal),
      sessions: runtime.sessions,
      principal,
      outputs,
      ceiling: options.settings.limits.max,
      analysisPolicy,
      extensions: runtime.extensions,
      ...(runtime.agent === undefined ? {} : { agent: runtime.agent }),
      log,
    });

    let disarm = () => {};
    try {
      if (!options.http) {
        log('serving MCP on stdio (protocol revisions 2026-07-28, 2025-11-25, 2025-06-18 and older)');
        const shutdown = shutdownSignal(io, true);
        // Our wire (JSON-RPC errors for bad lines, the settings' size limit) under the SDK's
        // stdio entry, where the opening message picks the era (2025 initialize, or 2026-07-28).
        const transport = new ValidatingStdioTransport(io.stdin, io.stdout, {
          maxMessageBytes: options.settings.http.maxBodyBytes,
        });
        const stdio = serveStdio(() => createCodemodeServer(serverOptions('local')), {
          transport,
          onerror: (error) => log(`stdio: ${error.message.replace(/^stdio: /, '')}`),
        });
        const why = await Promise.race([shutdown, transport.closed.then(() => 'stdin closed')]);
        log(`shutting down (${why})`);
        disarm = armForcedExit(log);
        await stopSessions(runtime, log);
        await stdio.close().catch((e: unknown) => log(`stdio: close failed: ${errorMessage(e)}`));
        return 0;
      }

      // The workbench (page at /, API at /api/v1) shares the sessions, tokens and output store.
      const workbench = createWorkbench({
        sessions: runtime.sessions,
        limits: options.settings.limits,
        maxBodyBytes: options.settings.http.maxBodyBytes,
        version: SERVER_VERSION,
        outputs,
        env: io.env,
      });
      const http = await startHttpServer({
        web: (req, res, principal) => workbench.handle(req, res, principal),
        createServer: (principal) => createCodemodeServer(serverOptions(principal)),
        host: options.host,
        port: options.port,
        ...(auth === 'anonymous' ? { allowAnonymous: true } : { tokens: auth }),
        allowedHosts: options.allowedHosts,
        maxBodyBytes: options.settings.http.maxBodyBytes,
        maxSessionsPerPrincipal: options.settings.http.maxSessionsPerPrincipal,
        ...(tls === undefined ? {} : { tls }),
        ...(runtime.storeHealth === undefined ? {} : { storeHealth: runtime.storeHealth }),
        log,
      });
      log(`serving MCP on ${http.url}${auth === 'anonymous' ? ' (NO authentication)' : ' (bearer token required)'}`);
      const why = await shutdownSignal(io, false);
      log(`shutting down (${why})`);
      disarm = armForcedExit(log);
      await stopSessions(runtime, log);
      workbench.close();
      await http.close();
      return 0;
    } catch (e) {
      log(`server failed: ${errorMessage(e)}`);
      return 1;
    } finally {
      await runtime.close().catch((e: unknown) => log(`shutdown: ${errorMessage(e)}`));
      disarm();
    }
  };
}

/**
 * With --config: the Code Mode runtime (upstream servers), its MCP tools with
 * the static-analysis preflight, and the agent's Code Mode tools. One place for
 * a single machine and a cluster gateway; the caller closes the runtime.
 */
export async function openCodeMode(
  options: ServeOptions,
  io: CliIO,
  log: (m: string) => void,
): Promise<
  | {
      runtime: import('../../codemode/codemode.js').CodeModeRuntime;
      extension: ServerExtension;
      agent?: AgentToolConfig;
    }
  | undefined
> {
  if (options.config === undefined) return undefined;
  const { openCodeModeRuntime } = await import('../../codemode/open-runtime.js');
  const runtime = await openCodeModeRuntime(options.config, io.env, log);
  if (runtime === undefined) return undefined;
  const { registerCodeModeTools } = await import('../../mcp/tools/code-mode.js');
  const { codeModePreflight } = await import('../../analysis/compose.js');
  const preflight = codeModePreflight(runtime, options.settings.analysis);
  const extension: ServerExtension = (registrar) =>
    registerCodeModeTools(registrar, runtime, { log, ...(preflight ? { preflight } : {}) }).ready;
  if (!options.settings.agent.enabled) return { runtime, extension };
  const { codeModeAgentTools } = await import('../../mcp/tools/agent.js');
  return {
    runtime,
    extension,
    agent: { models: options.settings.agent.models, env: io.env, codeMode: codeModeAgentTools(runtime) },
  };
}

/** The real runtime: the OS sandbox, the session manager and, with --config, Code Mode. */
export const defaultRuntime: RuntimeFactory = async (options, io, log) => {
  const extensions: ServerExtension[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  let toolHost: ToolHost | undefined;
  let agent: AgentToolConfig | undefined;
  const { settings } = options;
  ensureStateDirs(settings, options.stateDir);
  // One health for history and cache writes: logged once when a cause starts and once when it ends.
  const { StoreStatus } = await import('../../store/store-status.js');
  const storeStatus = new StoreStatus({
    onDegraded: (part, cause) =>
      log(`store degraded: ${part} writes fail: ${cause}; history is kept in memory and retried (see /healthz)`),
    onRecovered: (part) => log(`store recovered: ${part} writes work again`),
  });
  // The store before anything starts: a database that must be refused stops here, with nothing to undo.
  let sqlite: import('../../store/session-store.js').SqliteSessionStore | undefined;
  if (options.store) {
    const { SqliteSessionStore, migrationBackupOf } = await import('../../store/session-store.js');
    sqlite = new SqliteSessionStore(options.db ?? settings.store.path);
    const backup = migrationBackupOf(sqlite.db);
    if (backup !== undefined) log(`store: migrated the database; the previous version is backed up at ${backup}`);
  }
  const codeMode = await openCodeMode(options, io, log);
  if (codeMode !== undefined) {
    toolHost = codeMode.runtime;
    agent = codeMode.agent;
    extensions.push(codeMode.extension);
    closers.push(() => codeMode.runtime.close());
  }
  const { createProcessSandbox } = await import('../../sandbox/process/process-sandbox.js');
  const { ProcessExecutor } = await import('../../sandbox/process/process-executor.js');
  const { SessionManager } = await import('../../sessions/session-manager.js');
  const { hideHostPaths } = await import('../../mcp/tool-errors.js');
  hideHostPaths([options.stateDir, settings.workspaces.root, path.dirname(settings.store.path)]);
  const sandbox = await createProcessSandbox({ unsandboxed: options.unsandboxed });
  const processExecutor = new ProcessExecutor(sandbox, {
    defaults: settings.limits.defaults,
    ceiling: settings.limits.max,
  });
  let executor: Executor = processExecutor;
  let store: SessionStore | null = null;
  if (sqlite !== undefined) {
    const { ResultCache, resultCacheKey } = await import('../../store/result-cache.js');
    const { CachingExecutor } = await import('../../sandbox/caching-executor.js');
    store = sqlite;
    const cache = new ResultCache(sqlite.db, { status: storeStatus });
    executor = new CachingExecutor(processExecutor, {
      cache,
      keyOf: resultCacheKey,
      resolveLimits: (o) => processExecutor.limitsFor(o),
    });
    const db = sqlite;
    closers.push(() => db.close());
  }
  const pool = settings.sessions.pool;
  const manager = new SessionManager({
    sandbox,
    store,
    workspaceRoot: settings.workspaces.root,
    limits: settings.limits.defaults,
    ceiling: settings.limits.max,
    idleTimeoutMs: settings.sessions.idleTimeoutMs,
    maxSessions: settings.sessions.maxSessions,
    storeStatus,
    onStoreError: (error, write) => {
      if (write.operation === 'shutdown') log(`store: ${(error as Error).message}`);
    },
    pool: { python: pool.python, node: Math.max(pool.javascript, pool.typescript), bash: pool.bash },
    ...(toolHost === undefined ? {} : { toolHost }),
    ...(options.toolHostFor === undefined ? {} : { toolHostFor: options.toolHostFor }),
    environments: (await import('../../projects/kits-session.js')).sessionEnvironments(settings, options.stateDir),
  });
  // Static analysis in front of one-shot runs and session cells/scripts (settings.analysis).
  const { withAnalysis } = await import('../../analysis/compose.js');
  const analysed = withAnalysis(
    { executor, sessions: manager, resolveLimits: (r) => processExecutor.limitsFor(r.limits) },
    settings.analysis,
  );
  // The server's own memory: running executions hold at most settings.server.maxOutputInFlightBytes of output.
  const { OutputBudget, withOutputBudget } = await import('../../mcp/output-budget.js');
  const budgeted = withOutputBudget(
    { ...analysed, resolveLimits: (r) => processExecutor.limitsFor(r.limits) },
    new OutputBudget(settings.server.maxOutputInFlightBytes),
  );
  executor = budgeted.executor;
  const sessions = budgeted.sessions;
  if (settings.agent.enabled) agent ??= { models: settings.agent.models, env: io.env };
  return {
    executor,
    sessions,
    extensions,
    ...(agent === undefined ? {} : { agent }),
    storeHealth: () => storeStatus.health(),
    async close() {
      // In order, and every step runs even when one fails: kernels first, then the executor and Code Mode.
      let failure: unknown;
      for (const step of [() => sessions.shutdown(), () => executor.close(), ...closers]) {
        try {
          await step();
        } catch (e) {
          failure ??= e;
        }
      }
      if (failure !== undefined) throw failure;
    },
  };
};

export const serveCommand: Command = createServeCommand(async (options, io, log) =>
  options.cluster === undefined
    ? defaultRuntime(options, io, log)
    : (await import('../../cluster/gateway.js')).gatewayRuntime(options.cluster)(options, io, log),
);
