/**
 * The NATS flags every cluster role shares (--nats, --nats-credentials,
 * --nats-tls-*, --replicas; defined in nats-flags.ts), resolved from flags then
 * environment into LinkOptions.
 */
import path from 'node:path';
import { AppError } from '../errors.js';
import { readCredentials, type LinkOptions } from './link.js';
import { ID_PATTERN } from './protocol.js';
import type { NatsFlagValues } from './nats-flags.js';

export { NATS_FLAGS, NATS_USAGE, type NatsFlagValues } from './nats-flags.js';

export function natsLinkOptions(
  values: NatsFlagValues,
  env: NodeJS.ProcessEnv,
  cwd: string,
  name: string,
  warn: (m: string) => void,
): Omit<LinkOptions, 'inboxPrefix'> {
  const servers = (values.nats ?? (env['CODEMODE_NATS'] === undefined ? [] : [env['CODEMODE_NATS']]))
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0)
    throw new AppError('INVALID_ARGUMENT', 'give the cluster: --nats nats://HOST:4222', { argument: '--nats' });
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^\s/]+$/.test(s)) {
      throw new AppError('INVALID_ARGUMENT', `--nats wants nats://host:port, got ${s}`, { argument: '--nats' });
    }
  }
  const replicas = values.replicas === undefined ? (servers.length >= 3 ? 3 : 1) : Number(values.replicas);
  if (![1, 3, 5].includes(replicas)) {
    throw new AppError('INVALID_ARGUMENT', '--replicas must be 1, 3 or 5', { argument: '--replicas' });
  }
  const file = values['nats-credentials'] ?? env['CODEMODE_NATS_CREDENTIALS'];
  const tls = natsTls(values, env, cwd);
  return {
    servers,
    name,
    replicas,
    ...(file === undefined ? {} : { credentials: readCredentials(path.resolve(cwd, file), warn) }),
    ...(tls === undefined ? {} : { tls }),
  };
}

/** TLS files from flags then environment; cert and key come together. Files are read when connecting. */
function natsTls(values: NatsFlagValues, env: NodeJS.ProcessEnv, cwd: string): LinkOptions['tls'] {
  const pick = (flag: 'nats-tls-ca' | 'nats-tls-cert' | 'nats-tls-key', name: string) => {
    const v = values[flag] ?? env[name];
    return v === undefined || v === '' ? undefined : path.resolve(cwd, v);
  };
  const caFile = pick('nats-tls-ca', 'CODEMODE_NATS_TLS_CA');
  const certFile = pick('nats-tls-cert', 'CODEMODE_NATS_TLS_CERT');
  const keyFile = pick('nats-tls-key', 'CODEMODE_NATS_TLS_KEY');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new AppError('INVALID_ARGUMENT', '--nats-tls-cert and --nats-tls-key go together', {
      argument: certFile === undefined ? '--nats-tls-cert' : '--nats-tls-key',
    });
  }
  if (caFile === undefined && certFile === undefined) return undefined;
  return {
    ...(caFile === undefined ? {} : { caFile }),
    ...(certFile === undefined || keyFile === undefined ? {} : { certFile, keyFile }),
  };
}

export function checkNodeId(id: string | undefined, flag: string): string {
  if (id === undefined || !ID_PATTERN.test(id)) {
    throw new AppError('INVALID_ARGUMENT', `${flag} must be 1-64 letters, digits, - or _`, { argument: flag });
  }
  return id;
}
