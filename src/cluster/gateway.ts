/**
 * `codemode serve --nats URL`: the gateway runtime. The same MCP server and
 * workbench as a single machine, on a RemoteSessionService and a
 * RemoteExecutor: no kernels here, every session and run is on a worker.
 * Code Mode (--config) is not offered on a gateway yet: a kernel's tool calls
 * would have to cross back from the worker.
 */
import { hostname } from 'node:os';
import { AppError } from '../errors.js';
import type { RuntimeFactory } from '../cli/commands/serve.js';
import { openLink } from './link.js';
import { gatewayInbox } from './nats-config.js';
import { checkNodeId, natsLinkOptions, type NatsFlagValues } from './node-options.js';
import { RemoteExecutor } from './remote-executor.js';
import { RemoteSessionService } from './remote-sessions.js';

export interface GatewayFlags extends NatsFlagValues {
  'gateway-id'?: string | undefined;
}

export function gatewayRuntime(flags: GatewayFlags): RuntimeFactory {
  return async (options, io, log) => {
    if (options.config !== undefined) {
      throw new AppError('INVALID_ARGUMENT', 'Code Mode (--config) is not available on a cluster gateway yet', {
        argument: '--config',
      });
    }
    const id = checkNodeId(
      flags['gateway-id'] ??
        `${hostname()
          .replace(/[^A-Za-z0-9_-]/g, '-')
          .slice(0, 40)}-${process.pid}`,
      '--gateway-id',
    );
    const link = await openLink({
      ...natsLinkOptions(flags, io.env, io.cwd, `gateway ${id}`, log),
      inboxPrefix: gatewayInbox(id),
    });
    try {
      const maxWallMs = options.settings.limits.max.wallMs;
      const sessions = await RemoteSessionService.open({ link, maxWallMs, log });
      const executor = new RemoteExecutor(link, maxWallMs);
      log(`gateway ${id}: sessions and runs go to the cluster's workers (no kernels here)`);
      return {
        executor,
        sessions,
        extensions: [],
        async close() {
          await sessions.shutdown();
          await link.close();
        },
      };
    } catch (e) {
      await link.close();
      throw e;
    }
  };
}
