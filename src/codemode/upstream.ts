/**
 * UpstreamManager: lazy, warm, self-healing connections to the configured MCP
 * servers. Env, headers and processes stay on the host; callers see tool lists,
 * call results and AppErrors that name the server (with its stderr when it died).
 *
 * Upstream processes never outlive codemode: on Linux each is started under
 * `setpriv --pdeathsig SIGKILL` (killed by the kernel when codemode dies, even
 * by SIGKILL), and any still running when the process exits is killed. Each
 * carries CODEMODE_UPSTREAM_OF, so a codemode started as an upstream (however
 * indirectly) does not start upstreams of its own.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, SdkErrorCode, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { AppError, errorMessage, isAppError } from '../errors.js';
import type { SelfIdentity, UpstreamServerConfig } from './config.js';

/** Set in every upstream's environment to the pid of the codemode that started it. */
export const UPSTREAM_MARKER_ENV = 'CODEMODE_UPSTREAM_OF';

/** A tool as listed by `tools/list`. */
export interface UpstreamToolInfo {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: Record<string, unknown>;
}

/** The parts of a `tools/call` result we use. */
export interface CallToolResultLike {
  content?: unknown[];
  structuredContent?: unknown;
  isError?: boolean;
}

/** The small surface of an MCP client the manager needs; tests inject fakes. */
export interface McpClientLike {
  listTools(options?: { signal?: AbortSignal }): Promise<UpstreamToolInfo[]>;
  callTool(
    name: string,
    args: Record<string, unknown>,
    options: { signal: AbortSignal; timeoutMs: number },
  ): Promise<CallToolResultLike>;
  close(): Promise<void>;
  /** The server's process id, for stdio servers. */
  readonly pid?: number | null;
}

export interface ConnectHooks {
  onStderr(chunk: string): void;
  /** The connection is gone (process exited, stream closed). */
  onClose(): void;
  /** The server sent `notifications/tools/list_changed`. */
  onToolsChanged(): void;
}

/** Connect to one server; rejects (after collecting its stderr) when it fails to start. */
export type UpstreamConnector = (server: UpstreamServerConfig, hooks: ConnectHooks) => Promise<McpClientLike>;

export type UpstreamState = 'idle' | 'connecting' | 'connected' | 'failed' | 'disabled';

export interface UpstreamServerStatus {
  name: string;
  state: UpstreamState;
  /** Number of tools, once listed. */
  tools?: number;
  lastError?: string;
  /** How many times a connection was made. */
  connects: number;
  /** After a failed start: when the background retry is due (epoch ms). */
  retryAt?: number;
}

/** A timer the manager can cancel; injected in tests to fire retries by hand. */
export type RetryScheduler = (fn: () => void, delayMs: number) => { cancel(): void };

const realScheduler: RetryScheduler = (fn, delayMs) => {
  const t = setTimeout(fn, delayMs);
  t.unref(); // a pending retry never keeps the process alive
  return { cancel: () => clearTimeout(t) };
};

export interface UpstreamManagerOptions {
  connector?: UpstreamConnector;
  /** Bytes of each server's stderr kept. Default 8 KiB. */
  stderrBytes?: number;
  /** Told when a server's tool list changed or it reconnected (so caches can refresh). */
  onToolsChanged?: (server: string) => void;
  /**
   * After a server fails to start, it is retried in the background after this
   * long, doubling after each further failure up to `maxRetryMs`; meanwhile
   * calls to it fail at once with its error, and nothing waits on it.
   * Default 1000 ms. (A server that was connected and died is restarted on its
   * next use without delay.)
   */
  retryFailedAfterMs?: number;
  /** The longest wait between background retries. Default 60 000 ms. */
  maxRetryMs?: number;
  /**
   * How long after a server's start began `listAllTools` stops waiting for it
   * and reports it as starting (listing the others). Default 5000 ms.
   */
  startWaitMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Timers for background retries, for tests. */
  schedule?: RetryScheduler;
}

interface ServerEntry {
  config: UpstreamServerConfig;
  client: McpClientLike | null;
  connecting: Promise<McpClientLike> | null;
  tools: UpstreamToolInfo[] | null;
  stderr: string;
  lastError: string | null;
  /** The start failure being served until `failedAt + retryFailedAfterMs`. */
  startFailure: AppError | null;
  failedAt: number;
  generation: number;
  connects: number;
  /** Start failures in a row: the exponent of the retry backoff. */
  failures: number;
  retry: { cancel(): void } | null;
  retryAt: number;
  /** When the current start attempt began: `startWaitMs` counts from here, not per listing. */
  startedAt: number;
}

const STDERR_TAIL_IN_MESSAGES = 2000;

function tail(text: string, max: number): string {
  return text.length <= max ? text : `...${text.slice(text.length - max)}`;
}

export class UpstreamManager {
  readonly #servers = new Map<string, ServerEntry>();
  readonly #connector: UpstreamConnector;
  readonly #stderrBytes: number;
  readonly #onToolsChanged: ((server: string) => void) | undefined;
  readonly #retryFailedAfterMs: number;
  readonly #maxRetryMs: number;
  readonly #startWaitMs: number;
  readonly #schedule: RetryScheduler;
  readonly #now: () => number;
  #closed = false;

  constructor(servers: readonly UpstreamServerConfig[], options: UpstreamManagerOptions = {}) {
    this.#connector = options.connector ?? connectSdkClient;
    this.#stderrBytes = options.stderrBytes ?? 8192;
    this.#onToolsChanged = options.onToolsChanged;
    this.#retryFailedAfterMs = options.retryFailedAfterMs ?? 1000;
    this.#maxRetryMs = options.maxRetryMs ?? 60_000;
    this.#startWaitMs = options.startWaitMs ?? 5000;
    this.#schedule = options.schedule ?? realScheduler;
    this.#now = options.now ?? Date.now;
    for (const config of servers) {
      this.#servers.set(config.name, {
        config,
        client: null,
        connecting: null,
        tools: null,
        stderr: '',
        lastError: null,
        startFailure: null,
        failedAt: 0,
        generation: 0,
        connects: 0,
        failures: 0,
        retry: null,
        retryAt: 0,
        startedAt: 0,
      });
    }
  }

  /** All configured servers (including disabled ones), in config order. */
  servers(): UpstreamServerConfig[] {
    return [...this.#servers.values()].map((e) => e.config);
  }

  status(): UpstreamServerStatus[] {
    return [...this.#servers.values()].map((e) => {
      const state: UpstreamState = e.config.disabled
        ? 'disabled'
        : e.client
          ? 'connected'
          : e.connecting
            ? 'connecting'
            : e.lastError
              ? 'failed'
              : 'idle';
      return {
        name: e.config.name,
        state,
        ...(e.tools ? { tools: e.tools.length } : {}),
        ...(e.lastError ? { lastError: e.lastError } : {}),
        connects: e.connects,
        ...(e.retry ? { retryAt: e.retryAt } : {}),
      };
    });
  }

  /** The last bytes the server wrote to stderr (stdio servers). */
  stderr(server: string): string {
    return this.#entry(server).stderr;
  }

  /** The server's process id while connected (stdio servers), else null. */
  pid(server: string): number | null {
    return this.#entry(server).client?.pid ?? null;
  }

  /** The server's tools (cached; refreshed after a reconnect or `tools/list_changed`). */
  async listTools(
    server: string,
    options: { refresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<UpstreamToolInfo[]> {
    const entry = this.#entry(server);
    if (entry.tools && !options.refresh) return entry.tools;
    const client = await this.#connect(entry);
    const generation = entry.generation;
    try {
      const tools = await client.listTools(options.signal ? { signal: options.signal } : {});
      if (entry.generation === generation) entry.tools = tools;
      return tools;
    } catch (e) {
      throw this.#callError(entry, 'tools/list', e, options.signal);
    }
  }

  /**
   * Tools of every enabled server. A server that fails is reported with its
   * error (and stderr) while the others are listed; one still starting is
   * waited for at most `startWaitMs` (its start goes on), and one that failed
   * is reported at once, so a sick server never holds up the healthy ones.
   */
  async listAllTools(): Promise<{ server: string; tools?: UpstreamToolInfo[]; error?: AppError }[]> {
    const enabled = [...this.#servers.values()].filter((e) => !e.config.disabled);
    return Promise.all(
      enabled.map(async (e) => {
        const name = e.config.name;
        try {
          const listing = this.listTools(name);
          if (e.client !== null || e.tools !== null) return { server: name, tools: await listing };
          listing.catch(() => undefined); // reported through the entry's state on the next listing
          const waitMs = Math.max(0, e.startedAt + this.#startWaitMs - this.#now());
          let timer: NodeJS.Timeout | undefined;
          const starting = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new AppError(
                    'UPSTREAM_UNAVAILABLE',
                    `upstream server "${name}" is still starting (no answer to initialize within ${this.#startWaitMs} ms); ` +
                      'its tools appear once it answers',
                    { server: name, starting: true },
                  ),
                ),
              waitMs,
            );
          });
          try {
            return { server: name, tools: await Promise.race([listing, starting]) };
          } finally {
            clearTimeout(timer);
          }
        } catch (err) {
          const error = isAppError(err) ? err : new AppError('UPSTREAM_UNAVAILABLE', errorMessage(err));
          return { server: name, error };
        }
      }),
    );
  }

  /** True while the server's first start (or a restart) is under way. */
  isStarting(server: string): boolean {
    const e = this.#entry(server);
    return e.client === null && e.connecting !== null;
  }

  /**
   * Call a tool. Resolves to the raw result (including `isError` results);
   * rejects with TIMEOUT, CANCELLED, UPSTREAM_UNAVAILABLE or UPSTREAM_ERROR.
   */
  async callTool(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<CallToolResultLike> {
    const entry = this.#entry(server);
    const timeoutMs = options.timeoutMs ?? entry.config.timeoutMs;
    const label = `${server}.${tool}`;
    if (options.signal?.aborted) throw new AppError('CANCELLED', `${label} was cancelled before it started`);
    // Start-up has its own timeout (timeoutMs again); the call's timer starts once connected.
    const client = options.signal
      ? await raceAbort(this.#connect(entry), options.signal).catch((e: unknown) => {
          throw options.signal?.aborted ? new AppError('CANCELLED', `${label} was cancelled`, { server, tool }) : e;
        })
      : await this.#connect(entry);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new AppError('TIMEOUT', `${label} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = () => controller.abort(new AppError('CANCELLED', `${label} was cancelled`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await raceAbort(client.callTool(tool, args, { signal: controller.signal, timeoutMs }), controller.signal);
    } catch (e) {
      if (timedOut) {
        throw new AppError('TIMEOUT', `${label} timed out after ${timeoutMs} ms (the call was cancelled upstream)`, {
          server,
          tool,
          timeoutMs,
        });
      }
      if (options.signal?.aborted) throw new AppError('CANCELLED', `${label} was cancelled`, { server, tool });
      throw this.#callError(entry, `tool "${tool}"`, e, undefined);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Close every connection; later calls fail with UPSTREAM_UNAVAILABLE. */
  async close(): Promise<void> {
    this.#closed = true;
    const closing: Promise<unknown>[] = [];
    for (const e of this.#servers.values()) {
      e.generation++;
      const client = e.client;
      const connecting = e.connecting;
      e.client = null;
      e.connecting = null;
      e.retry?.cancel();
      e.retry = null;
      if (client) closing.push(client.close().catch(() => undefined));
      if (connecting) closing.push(connecting.then((c) => c.close()).catch(() => undefined));
    }
    await Promise.all(closing);
  }

  #entry(server: string): ServerEntry {
    const entry = this.#servers.get(server);
    if (!entry) {
      const names = [...this.#servers.keys()].join(', ') || '(none)';
      throw new AppError('NOT_FOUND', `no upstream server "${server}" (configured: ${names})`, { server });
    }
    return entry;
  }

  #connect(entry: ServerEntry, background = false): Promise<McpClientLike> {
    const name = entry.config.name;
    if (this.#closed) return Promise.reject(new AppError('UPSTREAM_UNAVAILABLE', 'upstream manager is closed'));
    if (entry.config.disabled) {
      return Promise.reject(
        new AppError('UPSTREAM_UNAVAILABLE', `upstream server "${name}" is disabled in the config`, { server: name }),
      );
    }
    if (entry.client) return Promise.resolve(entry.client);
    if (entry.connecting) return entry.connecting;
    // A server that failed to start is retried by its background timer only, never by a caller.
    if (entry.startFailure && !background) return Promise.reject(entry.startFailure);
    const generation = ++entry.generation;
    entry.stderr = '';
    entry.startedAt = this.#now();
    const hooks: ConnectHooks = {
      onStderr: (chunk) => {
        entry.stderr = (entry.stderr + chunk).slice(-this.#stderrBytes);
      },
      onClose: () => {
        if (entry.generation !== generation) return;
        entry.client = null;
        entry.tools = null;
        entry.lastError = `upstream server "${name}" disconnected`;
      },
      onToolsChanged: () => {
        if (entry.generation !== generation) return;
        entry.tools = null;
        this.#onToolsChanged?.(name);
      },
    };
    const connecting = this.#connector(entry.config, hooks).then(
      (client) => {
        if (entry.generation !== generation) {
          void client.close().catch(() => undefined);
          throw new AppError('UPSTREAM_UNAVAILABLE', `upstream server "${name}" was closed while connecting`);
        }
        entry.client = client;
        entry.connecting = null;
        const recovered = entry.failures > 0;
        entry.lastError = null;
        entry.startFailure = null;
        entry.failures = 0;
        entry.retry?.cancel();
        entry.retry = null;
        entry.connects++;
        if (entry.connects > 1 || recovered) {
          entry.tools = null;
          this.#onToolsChanged?.(name);
        }
        return client;
      },
      (e: unknown) => {
        if (entry.generation === generation) entry.connecting = null;
        const stderr = entry.stderr.trim();
        const current = entry.generation === generation && !this.#closed;
        const delay = Math.min(this.#retryFailedAfterMs * 2 ** entry.failures, this.#maxRetryMs);
        const message =
          `upstream server "${name}" failed to start: ${errorMessage(e)}` +
          (stderr ? `\nstderr:\n${tail(stderr, STDERR_TAIL_IN_MESSAGES)}` : ' (no stderr output)') +
          (current ? `\n(retrying in the background in ${Math.round(delay / 1000)} s)` : '');
        entry.lastError = message;
        const error = new AppError('UPSTREAM_UNAVAILABLE', message, { server: name, stderr }, { cause: e });
        if (current) {
          entry.startFailure = error;
          entry.failedAt = this.#now();
          entry.failures++;
          entry.retryAt = entry.failedAt + delay;
          entry.retry?.cancel();
          entry.retry = this.#schedule(() => {
            entry.retry = null;
            // Failures are recorded (and the next retry scheduled) by the attempt itself.
            this.#connect(entry, true).catch(() => undefined);
          }, delay);
        }
        throw error;
      },
    );
    entry.connecting = connecting;
    return connecting;
  }

  #callError(entry: ServerEntry, what: string, e: unknown, signal: AbortSignal | undefined): AppError {
    const name = entry.config.name;
    if (isAppError(e)) return e;
    if (signal?.aborted) return new AppError('CANCELLED', `${name} ${what} was cancelled`);
    const code = (e as { code?: unknown } | null)?.code;
    if (code === SdkErrorCode.ConnectionClosed || entry.client === null) {
      const stderr = entry.stderr.trim();
      return new AppError(
        'UPSTREAM_UNAVAILABLE',
        `upstream server "${name}" disconnected during ${what}; it will be restarted on the next call` +
          (stderr ? `\nstderr:\n${tail(stderr, STDERR_TAIL_IN_MESSAGES)}` : ''),
        { server: name, stderr },
        { cause: e },
      );
    }
    if (code === SdkErrorCode.RequestTimeout) {
      return new AppError('TIMEOUT', `${name} ${what} timed out`, { server: name }, { cause: e });
    }
    // v1 SDK peers put "MCP error N: " into the wire message and prefix it again on receipt: keep one.
    const message = errorMessage(e).replace(/(MCP error -?\d+: )+/g, '$1');
    return new AppError('UPSTREAM_ERROR', `${name} ${what} failed: ${message}`, { server: name }, { cause: e });
  }
}

/** Reject as soon as `signal` aborts, with its reason. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The default connector: the official SDK client over stdio or Streamable HTTP. */
export const connectSdkClient: UpstreamConnector = async (server, hooks) => {
  const client = new Client(
    { name: 'codemode', version: '0.1.0' },
    {
      capabilities: {},
      listChanged: { tools: { autoRefresh: false, debounceMs: 50, onChanged: () => hooks.onToolsChanged() } },
    },
  );
  const t = server.transport;
  let stdio: StdioClientTransport | null = null;
  let stderrDone: Promise<void> = Promise.resolve();
  let transport: StdioClientTransport | StreamableHTTPClientTransport;
  if (t.kind === 'stdio') {
    const guarded = dieWithParent(t.command, t.args);
    stdio = new StdioClientTransport({
      command: guarded.command,
      args: guarded.args,
      env: { ...inheritedEnv(), ...t.env, [UPSTREAM_MARKER_ENV]: String(process.pid) },
      ...(t.cwd !== undefined ? { cwd: t.cwd } : {}),
      stderr: 'pipe',
    });
    const stream = stdio.stderr;
    if (stream) {
      stream.on('data', (chunk: Buffer | string) => hooks.onStderr(chunk.toString()));
      stderrDone = new Promise((resolve) => {
        stream.once('end', () => resolve());
        stream.once('close', () => resolve());
      });
    }
    transport = stdio;
  } else {
    transport = new StreamableHTTPClientTransport(new URL(t.url), { requestInit: { headers: t.headers } });
  }
  try {
    // The server's own timeout bounds its start-up too (spawn + initialize): startTimeoutMs, else timeoutMs.
    await client.connect(transport, { timeout: server.startTimeoutMs ?? server.timeoutMs });
  } catch (e) {
    // Give a dying process a moment to flush stderr, so the report carries it.
    await Promise.race([stderrDone, new Promise((r) => setTimeout(r, 250))]);
    await client.close().catch(() => undefined);
    throw e;
  }
  const pid = stdio?.pid ?? null;
  if (pid !== null) liveUpstreams.add(pid);
  client.onclose = () => {
    if (pid !== null) liveUpstreams.delete(pid);
    hooks.onClose();
  };
  return {
    get pid() {
      return stdio?.pid ?? null;
    },
    async listTools(options) {
      const tools: UpstreamToolInfo[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : undefined, {
          timeout: server.timeoutMs,
          ...(options?.signal ? { signal: options.signal } : {}),
        });
        tools.push(...(page.tools as UpstreamToolInfo[]));
        cursor = page.nextCursor;
      } while (cursor);
      return tools;
    },
    async callTool(name, args, options) {
      // Our own timer aborts first; the SDK's timeout is only a backstop.
      const result = await client.callTool(
        { name, arguments: args },
        {
          signal: options.signal,
          timeout: options.timeoutMs + 1000,
        },
      );
      return result as CallToolResultLike;
    },
    close: async () => {
      await client.close();
      if (pid !== null) liveUpstreams.delete(pid);
    },
  };
};

/** Pids of upstream processes started and not yet closed; killed when this process exits. */
const liveUpstreams = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of liveUpstreams) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone: nothing to kill.
      }
    }
  });
}

let setprivPath: string | null | undefined;

/** `setpriv` when it supports --pdeathsig (util-linux 2.33+), else null. Looked up once. */
function setpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform !== 'linux') return null;
  for (const candidate of ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv']) {
    if (!existsSync(candidate)) continue;
    const help = spawnSync(candidate, ['--help'], { encoding: 'utf8', timeout: 2000 });
    if (`${help.stdout}${help.stderr}`.includes('--pdeathsig')) setprivPath = candidate;
    break;
  }
  return setprivPath;
}

/** The command wrapped so the kernel kills it when codemode dies (where setpriv allows). */
export function dieWithParent(command: string, args: readonly string[]): { command: string; args: string[] } {
  installExitHook();
  const wrapper = setpriv();
  if (wrapper === null) return { command, args: [...args] };
  return { command: wrapper, args: ['--pdeathsig', 'SIGKILL', '--', command, ...args] };
}

/** This codemode's identity: its entry points on disk, the package name, and a PATH resolver. */
export function selfIdentity(env: NodeJS.ProcessEnv = process.env): SelfIdentity {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const candidates = [
    path.join(root, 'bin/codemode.js'),
    path.join(root, 'dist/cli/main.js'),
    path.join(root, 'src/cli/main.ts'),
    ...(process.argv[1] === undefined ? [] : [process.argv[1]]),
  ];
  const entryPoints = [...new Set(candidates.map(realOrNull).filter((p): p is string => p !== null))];
  return { entryPoints, packageName: 'codemode', resolve: (command, cwd) => resolveCommand(command, cwd, env) };
}

function realOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/** The real path of a command: a path (relative to cwd) or an executable found on PATH. */
export function resolveCommand(command: string, cwd: string | undefined, env: NodeJS.ProcessEnv): string | null {
  if (command.includes('/')) return realOrNull(path.resolve(cwd ?? process.cwd(), command));
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return realOrNull(candidate);
    } catch {
      // Not in this PATH entry: try the next.
    }
  }
  return null;
}

/** A minimal inherited environment (PATH, HOME...), like the SDK's default. */
function inheritedEnv(): Record<string, string> {
  const keys = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER', 'TMPDIR', 'LANG', 'NODE_PATH'];
  const env: Record<string, string> = {};
  for (const k of keys) {
    const v = process.env[k];
    if (v !== undefined && !v.startsWith('()')) env[k] = v;
  }
  return env;
}
