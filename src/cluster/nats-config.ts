/**
 * nats-server configuration for a codemode cluster: JetStream, routes between
 * the servers, and one user per node with subject permissions. A worker may
 * subscribe only to its own session subject (plus the one-shot queue and
 * cancels) and write only its own heartbeat; a gateway may not answer worker
 * subjects at all. Pure: returns text.
 *
 * Not yet tightened: both roles get the JetStream API ($JS.API.>) whole,
 * which the KV and object-store clients need; a hostile node holding valid
 * credentials could use it to delete buckets (see docs/cluster.md).
 */
import { BUCKETS } from './protocol.js';

export interface NodeUser {
  user: string;
  pass: string;
}

export interface ClusterUsers {
  workers: (NodeUser & { id: string })[];
  gateways: (NodeUser & { id: string })[];
  /** For `codemode cluster status`: reads only. */
  operators?: NodeUser[];
}

/** Reply subjects of each role: a node subscribes only under its own prefix. */
export const workerInbox = (id: string) => `_INBOX_W.${id}`;
export const gatewayInbox = (id: string) => `_INBOX_G.${id}`;

const JS_CLIENT = ['$JS.API.>', '$JS.ACK.>', '$JS.FC.>'];

export function workerPermissions(id: string): { publish: string[]; subscribe: string[] } {
  return {
    publish: [
      ...JS_CLIENT,
      `$KV.${BUCKETS.workers}.${id}`,
      `$KV.${BUCKETS.sessions}.>`,
      `$O.${BUCKETS.workspaces}.>`,
      `$O.${BUCKETS.transfer}.>`,
      'codemode.history.>',
      'codemode.events.>',
      // Streamed output goes to the requesting gateway's inbox.
      '_INBOX_G.>',
      // Kernel tool calls (Code Mode) to the gateways' queue group, and their cancels.
      'codemode.tools',
      'codemode.tools.cancel.*',
    ],
    subscribe: [`codemode.worker.${id}.session`, 'codemode.run', 'codemode.cancel.*', `${workerInbox(id)}.>`],
  };
}

export function gatewayPermissions(id: string): { publish: string[]; subscribe: string[] } {
  return {
    publish: [
      ...JS_CLIENT,
      `$KV.${BUCKETS.sessions}.>`,
      `$O.${BUCKETS.transfer}.>`,
      'codemode.worker.*.session',
      'codemode.run',
      'codemode.cancel.*',
    ],
    subscribe: ['codemode.events.*', `${gatewayInbox(id)}.>`, 'codemode.tools', 'codemode.tools.cancel.*'],
  };
}

const quote = (s: string) => JSON.stringify(s);
const list = (items: string[]) => `[${items.map(quote).join(', ')}]`;

function userBlock(u: NodeUser, p: { publish: string[]; subscribe: string[] }, responses: boolean): string {
  return (
    `    { user: ${quote(u.user)}, password: ${quote(u.pass)}, permissions: {\n` +
    `        publish: { allow: ${list(p.publish)} }\n` +
    `        subscribe: { allow: ${list(p.subscribe)} }\n` +
    (responses ? '        allow_responses: true\n' : '') +
    '    } }'
  );
}

export interface ServerConfigOptions {
  name: string;
  host: string;
  port: number;
  clusterPort: number;
  /** host:port of the other servers' cluster listeners. */
  routes: string[];
  storeDir: string;
  users: ClusterUsers;
}

export function natsServerConfig(o: ServerConfigOptions): string {
  const users = [
    ...o.users.workers.map((w) => userBlock(w, workerPermissions(w.id), true)),
    // Gateways answer workers' tool calls (codemode.tools): replies only, to the asking worker's inbox.
    ...o.users.gateways.map((g) => userBlock(g, gatewayPermissions(g.id), true)),
    ...(o.users.operators ?? []).map((u) => userBlock(u, { publish: ['$JS.API.>'], subscribe: ['_INBOX.>'] }, false)),
  ];
  return [
    `server_name: ${quote(o.name)}`,
    `listen: ${quote(`${o.host}:${o.port}`)}`,
    `jetstream { store_dir: ${quote(o.storeDir)}, max_memory_store: 64MB, max_file_store: 2GB }`,
    `cluster { name: "codemode", listen: ${quote(`${o.host}:${o.clusterPort}`)}, routes: ${list(o.routes.map((r) => `nats-route://${r}`))} }`,
    `authorization { users: [\n${users.join(',\n')}\n] }`,
    '',
  ].join('\n');
}
