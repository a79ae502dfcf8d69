/**
 * `codemode serve --nats URL`: the gateway runtime. The same MCP server and
 * workbench as a single machine, on a RemoteSessionService and a
 * RemoteExecutor: no kernels here, every session and run is on a worker.
 * With --config the gateway is the Code Mode host: run_code_mode and
 * search_tools run here as on one machine, and kernels on workers reach the
 * same upstream servers through this gateway's ToolService
 * (src/cluster/remote-tools.ts); upstream credentials never leave it.
 * One-shot runs with `cache: true` use this gateway's own result cache.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { ServeOptions, ServeRuntime } from '../cli/commands/serve.js';
import type { CliIO } from '../cli/io.js';
import { CachingExecutor } from '../sandbox/caching-executor.js';
import type { Executor } from '../sandbox/executor.js';
import { resolveLimits } from '../sandbox/limits.js';
import type { ResultCache, resultCacheKey } from '../store/result-cache.js';
import { openLink } from './link.js';
import { gatewayInbox } from './nats-config.js';
import { checkNodeId, natsLinkOptions, type NatsFlagValues } from './node-options.js';
import { RemoteExecutor } from './remote-executor.js';
import { RemoteSessionService } from './remote-sessions.js';
import { ToolService } from './remote-tools.js';

export interface GatewayFlags extends NatsFlagValues {
  'gateway-id'?: string | undefined;
}

export interface GatewayRuntime extends ServeRuntime {
  sessions: RemoteSessionService;
  /** With --config: the service answering workers' kernel tool calls. */
  tools?: ToolService;
}

export function gatewayRuntime(
  flags: GatewayFlags,
): (options: ServeOptions, io: CliIO, log: (m: string) => void) => Promise<GatewayRuntime> {
  return async (options, io, log) => {
    const id = checkNodeId(
      flags['gateway-id'] ??
        `${hostname()
          .replace(/[^A-Za-z0-9_-]/g, '-')
          .slice(0, 40)}-${process.pid}`,
      '--gateway-id',
    );
    const { openCodeMode } = await import('../cli/commands/serve.js');
    // Before the link: a bad --config stops here with nothing to undo but the upstreams.
    const codeMode = await openCodeMode(options, io, log);
    const link = await openLink({
      ...natsLinkOptions(flags, io.env, io.cwd, `gateway ${id}`, log),
      inboxPrefix: gatewayInbox(id),
    }).catch(async (e: unknown) => {
      await codeMode?.runtime.close();
      throw e;
    });
    let sessions: RemoteSessionService | undefined;
    let tools: ToolService | undefined;
    let cache: ResultCache | undefined;
    try {
      const maxWallMs = options.settings.limits.max.wallMs;
      sessions = await RemoteSessionService.open({ link, maxWallMs, log });
      const remote = new RemoteExecutor(link, maxWallMs);
      // One-shot runs with `cache: true` are answered from this gateway's own result cache (no cache: --no-store).
      const opened = options.store ? await openGatewayCache(options) : undefined;
      cache = opened?.cache;
      const executor: Executor =
        opened === undefined
          ? remote
          : new CachingExecutor(remote, {
              cache: opened.cache,
              keyOf: opened.keyOf,
              resolveLimits: (o) => resolveLimits(o, options.settings.limits.defaults, options.settings.limits.max),
            });
      if (codeMode !== undefined) {
        const view = sessions.view;
        tools = new ToolService({ link, host: codeMode.runtime, session: (s) => view.session(s)?.record, log });
        await tools.start();
      }
      log(
        `gateway ${id}: sessions and runs go to the cluster's workers (no kernels here)` +
          (codeMode === undefined ? '' : "; Code Mode's upstream servers are here, for run_code_mode and kernels"),
      );
      const service = sessions;
      const toolService = tools;
      const resultCache = cache;
      return {
        executor,
        sessions: service,
        ...(toolService === undefined ? {} : { tools: toolService }),
        extensions: codeMode === undefined ? [] : [codeMode.extension],
        ...(codeMode?.agent === undefined ? {} : { agent: codeMode.agent }),
        async close() {
          toolService?.stop();
          await service.shutdown();
          await link.close();
          await codeMode?.runtime.close();
          resultCache?.close();
        },
      };
    } catch (e) {
      tools?.stop();
      await sessions?.shutdown();
      await link.close();
      await codeMode?.runtime.close();
      cache?.close();
      throw e;
    }
  };
}

/** The gateway's result cache: the store's database file (settings store.path or --db), holding only cached runs. */
async function openGatewayCache(options: ServeOptions): Promise<{ cache: ResultCache; keyOf: typeof resultCacheKey }> {
  const { ResultCache: Cache, resultCacheKey: keyOf } = await import('../store/result-cache.js');
  const file = options.db ?? options.settings.store.path;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  return { cache: new Cache(file), keyOf };
}
