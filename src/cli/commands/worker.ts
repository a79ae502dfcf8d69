/**
 * `codemode worker --nats URL`: a cluster worker. It runs kernels and one-shot
 * runs for the gateways (src/cluster/worker.ts) on the same runtime as
 * `codemode serve` (sandbox, session manager, analysis), without a local store:
 * checkpoints and history live in JetStream. Stops on SIGINT/SIGTERM.
 */
import { hostname } from 'node:os';
import { AppError, errorMessage, isAppError } from '../../errors.js';
import { LANGUAGES } from '../../sandbox/executor.js';
import { openLink } from '../../cluster/link.js';
import { NATS_FLAGS, NATS_USAGE, checkNodeId, natsLinkOptions } from '../../cluster/node-options.js';
import { workerInbox } from '../../cluster/nats-config.js';
import { RemoteToolHost } from '../../cluster/remote-tools.js';
import { ClusterWorker, DEFAULT_CHECKPOINT_SCHEDULE, type CheckpointSchedule } from '../../cluster/worker.js';
import type { CliIO, Command } from '../io.js';
import { SERVER_VERSION } from '../../mcp/server.js';
import { defaultRuntime, parseServeArgs } from './serve.js';
import { parseFlags } from '../args.js';

export const WORKER_USAGE = `usage: codemode worker --nats URL [--id NAME] [--nats-credentials FILE] [--replicas N]
                       [--heartbeat-ms 1000] [--checkpoint-large-mib 8] [--checkpoint-every-ms 10000]
                       [--settings FILE] [--unsandboxed-i-know-this-is-unsafe]

  Run kernels and one-shot runs for the cluster's gateways (docs/cluster.md).
${NATS_USAGE}
  --id NAME            this worker's name: its subject and heartbeat key (default: the host name);
                       with permissions, it must match the user's (see docs/cluster.md)
  --heartbeat-ms N     how often to publish capacity (default 1000)
  --checkpoint-large-mib N, --checkpoint-every-ms M
                       a session's workspace is saved to the object store after each execution while
                       its archive is under N MiB (default 8); above, at most every M ms (default 10000):
                       a resume then replays the history over the last saved one. File writes, deletes
                       and imports are always saved at once
  --settings FILE      limits, sessions.maxSessions and the rest, as for codemode serve`;

export const workerCommand: Command = async (argv: string[], io: CliIO) => {
  const log = (m: string) => void io.stderr.write(`codemode worker: ${m}\n`);
  let values;
  try {
    ({ values } = parseFlags(argv, {
      ...NATS_FLAGS,
      id: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'checkpoint-large-mib': { type: 'string' },
      'checkpoint-every-ms': { type: 'string' },
      settings: { type: 'string' },
      'unsandboxed-i-know-this-is-unsafe': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    }));
  } catch (e) {
    io.stderr.write(`codemode worker: ${errorMessage(e)}\n${WORKER_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${WORKER_USAGE}\n`);
    return 0;
  }
  let id: string;
  let heartbeatMs: number;
  let checkpoints: CheckpointSchedule;
  try {
    id = checkNodeId(
      values.id ??
        hostname()
          .replace(/[^A-Za-z0-9_-]/g, '-')
          .slice(0, 64),
      '--id',
    );
    heartbeatMs = Number(values['heartbeat-ms'] ?? 1000);
    if (!Number.isInteger(heartbeatMs) || heartbeatMs < 100) {
      throw new AppError('INVALID_ARGUMENT', '--heartbeat-ms must be an integer of at least 100');
    }
    const largeMib = Number(values['checkpoint-large-mib'] ?? DEFAULT_CHECKPOINT_SCHEDULE.largeBytes / 2 ** 20);
    const everyMs = Number(values['checkpoint-every-ms'] ?? DEFAULT_CHECKPOINT_SCHEDULE.everyMs);
    if (!(largeMib > 0 && largeMib <= 65536))
      throw new AppError('INVALID_ARGUMENT', '--checkpoint-large-mib must be a number above 0 (MiB)');
    if (!Number.isInteger(everyMs) || everyMs < 100 || everyMs > 3_600_000)
      throw new AppError('INVALID_ARGUMENT', '--checkpoint-every-ms must be an integer from 100 to 3600000');
    checkpoints = { largeBytes: Math.round(largeMib * 2 ** 20), everyMs };
  } catch (e) {
    io.stderr.write(`codemode worker: ${errorMessage(e)}\n`);
    return 2;
  }
  const serveArgs = [
    '--no-store',
    ...(values.settings === undefined ? [] : ['--settings', values.settings]),
    ...(values['unsandboxed-i-know-this-is-unsafe'] ? ['--unsandboxed-i-know-this-is-unsafe'] : []),
  ];
  let link;
  let runtime;
  try {
    const linkOptions = natsLinkOptions(values, io.env, io.cwd, `worker ${id}`, log);
    const options = parseServeArgs(serveArgs, io.env, io.cwd, (w) => log(`settings: ${w}`));
    link = await openLink({
      ...linkOptions,
      inboxPrefix: workerInbox(id),
      heartbeatTtlMs: Math.max(30_000, heartbeatMs * 10),
    });
    const started: { worker?: ClusterWorker } = {};
    const toGateways = link;
    // Kernel tool calls (Code Mode) go to the gateways that hold the upstream servers, each with its session's id.
    runtime = await defaultRuntime(
      { ...options, toolHostFor: (s) => new RemoteToolHost(toGateways, id, () => started.worker?.sessionOf(s.id)) },
      io,
      log,
    );
    const sessions = runtime.sessions;
    const maxSessions = options.settings.sessions.maxSessions;
    const worker = new ClusterWorker({
      id,
      link,
      sessions,
      kits: () => sessions.kits?.() ?? { kits: [], networks: [] },
      executor: runtime.executor,
      maxSessions,
      // The session manager's own per-owner cap (its default): above it, it would suspend the owner's idle sessions.
      maxSessionsPerOwner: Math.min(maxSessions, 16),
      languages: [...LANGUAGES],
      heartbeatMs,
      checkpoints,
      version: SERVER_VERSION,
      log,
    });
    started.worker = worker;
    await worker.start();
    log(`worker ${id} ready: ${maxSessions} session slots, on ${linkOptions.servers.join(', ')}`);
    const why = await Promise.race([
      new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      }),
      worker.failed.then((reason) => `failed: ${reason}`),
    ]);
    log(`stopping (${why}): sessions here become lost and resume elsewhere`);
    await worker.stop();
    // A worker that stopped answering exits non-zero, so its supervisor (systemd, Kubernetes) restarts it.
    return why.startsWith('failed') ? 1 : 0;
  } catch (e) {
    log(`cannot run: ${errorMessage(e)}`);
    return isAppError(e, 'INVALID_ARGUMENT') || isAppError(e, 'INVALID_CONFIG') ? 2 : 1;
  } finally {
    await runtime?.close().catch((e: unknown) => log(`shutdown: ${errorMessage(e)}`));
    await link?.close();
  }
};
