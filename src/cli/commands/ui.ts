/**
 * `codemode ui [--port P] [--open]`: the workbench on loopback. Starts the
 * HTTP server (MCP at /mcp, the API at /api/v1, the page at /) with a fresh
 * random token made for this start only, and prints the page's address with
 * the token in the URL fragment (`#token=`), which the browser never sends to
 * the server; the page sends it back as a bearer header.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AppError, errorMessage, isAppError } from '../../errors.js';
import { startHttpServer, type RunningHttpServer } from '../../mcp/http-server.js';
import { createWorkbench } from '../../mcp/http/workbench.js';
import { OutputStore } from '../../mcp/output-store.js';
import { createCodemodeServer, SERVER_VERSION } from '../../mcp/server.js';
import { executorFor } from '../../sandbox/caching-executor.js';
import type { CliIO, Command } from '../io.js';
import { defaultRuntime, parseServeArgs, type RuntimeFactory } from './serve.js';
import { writeLauncherPage, type LauncherPage } from './ui-launcher.js';
import { parseFlags } from '../args.js';

export const UI_USAGE = `usage: codemode ui [--port P] [--open] [--settings FILE] [--config mcp.json] [--no-store]

  Serves the workbench on http://127.0.0.1:P/ (P: a free port unless given) with a fresh
  random token, and prints the address to open (the token rides in the #fragment).
  --open           open it with xdg-open (through a private file:// page, so the token is not on a command line)
  --port P         port to listen on (default: any free port)
  --config FILE    upstream MCP servers for Code Mode, as for codemode serve
  --no-store       keep sessions in memory only
  --settings FILE  settings file, as for codemode serve
  The agent panel uses the models in CODEMODE_AGENT_MODEL / CODEMODE_AGENT_MODELS (comma-separated).`;

export interface UiOptions {
  port: number;
  open: boolean;
  /** Arguments passed on to codemode serve's parser (settings, config, store). */
  serveArgs: string[];
}

export function parseUiArgs(argv: string[]): UiOptions {
  const { values } = parseFlags(argv, {
    port: { type: 'string' },
    open: { type: 'boolean', default: false },
    settings: { type: 'string' },
    config: { type: 'string' },
    'no-store': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) throw new AppError('INVALID_ARGUMENT', 'help requested', { help: true });
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AppError('INVALID_ARGUMENT', `--port must be an integer from 0 to 65535, got ${values.port}`, {
      argument: '--port',
    });
  }
  const serveArgs = [
    ...(values.settings === undefined ? [] : ['--settings', values.settings]),
    ...(values.config === undefined ? [] : ['--config', values.config]),
    ...(values['no-store'] ? ['--no-store'] : []),
  ];
  return { port, open: values.open, serveArgs };
}

export interface RunningUi {
  /** The page with the token in its fragment. */
  url: string;
  token: string;
  http: RunningHttpServer;
  close(): Promise<void>;
}

/** Starts everything `codemode ui` serves; the caller decides when to close. */
export async function startUi(
  options: UiOptions,
  io: CliIO,
  log: (m: string) => void,
  buildRuntime: RuntimeFactory = defaultRuntime,
): Promise<RunningUi> {
  const serve = parseServeArgs(
    ['--http', '--host', '127.0.0.1', '--port', String(options.port), ...options.serveArgs],
    io.env,
    io.cwd,
    (w) => log(`settings: ${w}`),
  );
  const token = randomBytes(32).toString('base64url');
  const runtime = await buildRuntime(serve, io, log);
  const outputs = new OutputStore();
  const workbench = createWorkbench({
    sessions: runtime.sessions,
    limits: serve.settings.limits,
    maxBodyBytes: serve.settings.http.maxBodyBytes,
    version: SERVER_VERSION,
    outputs,
    env: io.env,
  });
  if (!workbench.built) log('the web front-end is not built (run npm run build); the API and /mcp work without it');
  const analysisPolicy = (await import('../../analysis/compose.js')).activePolicy(serve.settings.analysis);
  let http: RunningHttpServer;
  try {
    http = await startHttpServer({
      createServer: (principal) =>
        createCodemodeServer({
          executor: executorFor(runtime.executor, principal),
          sessions: runtime.sessions,
          principal,
          outputs,
          ceiling: serve.settings.limits.max,
          analysisPolicy,
          extensions: runtime.extensions,
          log,
        }),
      host: '127.0.0.1',
      port: options.port,
      tokens: [token],
      maxBodyBytes: serve.settings.http.maxBodyBytes,
      web: (req, res, principal) => workbench.handle(req, res, principal),
      log,
    });
  } catch (e) {
    workbench.close();
    await runtime.close();
    throw e;
  }
  return {
    url: `http://127.0.0.1:${http.port}/#token=${token}`,
    token,
    http,
    async close() {
      workbench.close();
      await http.close();
      await runtime.close();
    },
  };
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

export const uiCommand: Command = async (argv, io) => {
  const log = (m: string) => void io.stderr.write(`codemode: ${m}\n`);
  let options: UiOptions;
  try {
    options = parseUiArgs(argv);
  } catch (e) {
    if (isAppError(e) && e.data?.['help'] === true) {
      io.stdout.write(`${UI_USAGE}\n`);
      return 0;
    }
    io.stderr.write(`codemode ui: ${errorMessage(e)}\n${UI_USAGE}\n`);
    return 2;
  }
  let ui: RunningUi;
  try {
    ui = await startUi(options, io, log);
  } catch (e) {
    log(`cannot start: ${errorMessage(e)}`);
    return isAppError(e, 'INVALID_CONFIG') || isAppError(e, 'INVALID_ARGUMENT') ? 2 : 1;
  }
  io.stdout.write(`${ui.url}\n`);
  log(`workbench on http://127.0.0.1:${ui.http.port}/ (MCP at /mcp with the same token); Ctrl-C stops it`);
  let launcher: LauncherPage | undefined;
  if (options.open) {
    launcher = writeLauncherPage(ui.url); // the token stays off xdg-open's command line
    const opener = spawn('xdg-open', [launcher.url], { detached: true, stdio: 'ignore' });
    opener.on('error', (e) => log(`could not run xdg-open (${e.message}); open the address above yourself`));
    opener.unref();
  }
  const why = await untilSignal();
  launcher?.remove();
  log(`shutting down (${why})`);
  await ui.close().catch((e: unknown) => log(`shutdown: ${errorMessage(e)}`));
  return 0;
};
