/**
 * `codemode cluster status`: the cluster's workers (heartbeat age, load) and
 * sessions, read from the NATS buckets. `--json` for scripts. Exit 1 when
 * no live worker is there.
 */
import { errorMessage, isAppError } from '../../errors.js';
import { openLink } from '../../cluster/link.js';
import { NATS_FLAGS, NATS_USAGE, natsLinkOptions } from '../../cluster/node-options.js';
import { clusterStatus, formatStatus, type ClusterStatus } from '../../cluster/status.js';
import { numberFlag, parseFlags } from '../args.js';
import type { CliIO, Command } from '../io.js';

export const CLUSTER_USAGE = `usage: codemode cluster status --nats URL [--nats-credentials FILE] [--liveness-ms 3000]
                               [--sessions] [--json]

  List the workers (load, last heartbeat, service counters, kits) and the sessions of a codemode cluster.
  --sessions           also list each live or lost session: worker, state, language, executions, owner
${NATS_USAGE}`;

export async function runClusterStatus(argv: string[], io: CliIO): Promise<{ code: number; status?: ClusterStatus }> {
  const { values } = parseFlags(argv, {
    ...NATS_FLAGS,
    json: { type: 'boolean', default: false },
    sessions: { type: 'boolean', default: false },
    'liveness-ms': { type: 'string' },
  });
  const livenessMs = numberFlag(values['liveness-ms'], 'liveness-ms') ?? 3000;
  const log = (m: string) => void io.stderr.write(`codemode cluster: ${m}\n`);
  const link = await openLink({ ...natsLinkOptions(values, io.env, io.cwd, 'codemode cluster status', log) });
  try {
    const status = await clusterStatus(link, livenessMs, { sessions: values.sessions });
    io.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    return { code: status.workers.some((w) => w.alive) ? 0 : 1, status };
  } finally {
    await link.close();
  }
}

export const clusterCommand: Command = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(`${CLUSTER_USAGE}\n`);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'status') {
    io.stderr.write(`codemode cluster: unknown subcommand "${sub}"\n${CLUSTER_USAGE}\n`);
    return 2;
  }
  try {
    return (await runClusterStatus(rest, io)).code;
  } catch (e) {
    io.stderr.write(`codemode cluster: ${errorMessage(e)}\n`);
    return isAppError(e, 'INVALID_ARGUMENT') || isAppError(e, 'INVALID_CONFIG') ? 2 : 1;
  }
};
