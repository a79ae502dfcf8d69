/**
 * nats-server configuration for a codemode cluster: JetStream, authenticated
 * (optionally TLS) routes between the servers, and one user per node (password
 * or NKEY) with subject permissions. Pure: returns text.
 *
 * Permissions are least privilege per role. A worker may subscribe only to its
 * own session subject (plus the one-shot queue and cancels) and write only its
 * own heartbeat; a gateway may not answer worker subjects at all; an operator
 * only reads. The JetStream API is allowed subject by subject for the named
 * streams: info, create (exact names: re-creating an existing stream is a no-op
 * or refused), reads (direct/msg get, consumers), and purge only of the object
 * stores a role writes (an object overwrite or delete purges its chunks). No
 * role may delete or update a stream, list streams, or purge a KV bucket or the
 * history stream; those streams also carry deny_purge/deny_delete (link.ts).
 */
import { AppError } from '../errors.js';
import { BUCKETS, HISTORY_STREAM, SUBJECTS, WORKER_SERVICE } from './protocol.js';

export interface PasswordUser {
  user: string;
  pass: string;
}
/** An NKEY user: its public key (U...); the node holds the seed. */
export interface NkeyUser {
  nkey: string;
}
export type NodeUser = PasswordUser | NkeyUser;

export interface ClusterUsers<U extends NodeUser = NodeUser> {
  workers: (U & { id: string })[];
  gateways: (U & { id: string })[];
  /** For `codemode cluster status`: reads only. */
  operators?: U[];
}

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

/** Reply subjects of each role: a node subscribes only under its own prefix. */
export const workerInbox = (id: string) => `_INBOX_W.${id}`;
export const gatewayInbox = (id: string) => `_INBOX_G.${id}`;

/** The JetStream streams behind the buckets (the KV and object-store clients' naming). */
export const STREAMS = {
  workers: `KV_${BUCKETS.workers}`,
  sessions: `KV_${BUCKETS.sessions}`,
  workspaces: `OBJ_${BUCKETS.workspaces}`,
  transfer: `OBJ_${BUCKETS.transfer}`,
  history: HISTORY_STREAM,
} as const;
const ALL_STREAMS = Object.values(STREAMS);

const API = '$JS.API';

/** Open the link: account info, each stream's info, and creating it (exact names) when absent. */
function openApi(create: boolean): string[] {
  return [
    `${API}.INFO`,
    ...ALL_STREAMS.map((s) => `${API}.STREAM.INFO.${s}`),
    ...(create ? ALL_STREAMS.map((s) => `${API}.STREAM.CREATE.${s}`) : []),
  ];
}

/** Read a stream: gets by key or sequence, and ephemeral (ordered) consumers with a filter. */
function readApi(stream: string): string[] {
  return [
    `${API}.DIRECT.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}.>`,
    `${API}.STREAM.MSG.GET.${stream}`,
    `${API}.CONSUMER.CREATE.${stream}.*.>`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.*`,
    `${API}.CONSUMER.INFO.${stream}.*`,
    // An ordered consumer deletes its old consumer when it resets.
    `${API}.CONSUMER.DELETE.${stream}.*`,
  ];
}

/** An object store's writer purges the chunks of the object it overwrites or deletes. */
const purgeApi = (stream: string) => `${API}.STREAM.PURGE.${stream}`;

export function workerPermissions(id: string): Permissions {
  return {
    publish: [
      ...openApi(true),
      ...[STREAMS.sessions, STREAMS.workspaces, STREAMS.transfer, STREAMS.history].flatMap(readApi),
      purgeApi(STREAMS.workspaces),
      purgeApi(STREAMS.transfer),
      `$KV.${BUCKETS.workers}.${id}`,
      `$KV.${BUCKETS.sessions}.>`,
      `$O.${BUCKETS.workspaces}.>`,
      `$O.${BUCKETS.transfer}.>`,
      'codemode.history.>',
      'codemode.events.>',
      // Streamed output goes to the requesting gateway's inbox.
      '_INBOX_G.>',
      // Kernel tool calls (Code Mode) to the gateways' queue group, and their cancels.
      SUBJECTS.tools(id),
      SUBJECTS.toolsCancel(id, '*'),
    ],
    subscribe: [
      `codemode.worker.${id}.session`,
      'codemode.run',
      'codemode.cancel.*',
      `${workerInbox(id)}.>`,
      // Service discovery (PING, INFO, STATS): all services, by name, by the service's own id.
      '$SRV.*',
      `$SRV.*.${WORKER_SERVICE}`,
      `$SRV.*.${WORKER_SERVICE}.*`,
    ],
  };
}

export function gatewayPermissions(id: string): Permissions {
  return {
    publish: [
      ...openApi(true),
      ...[STREAMS.workers, STREAMS.sessions, STREAMS.transfer, STREAMS.history].flatMap(readApi),
      purgeApi(STREAMS.transfer),
      `$KV.${BUCKETS.sessions}.>`,
      `$O.${BUCKETS.transfer}.>`,
      'codemode.worker.*.session',
      'codemode.run',
      'codemode.cancel.*',
    ],
    subscribe: ['codemode.events.*', `${gatewayInbox(id)}.>`, SUBJECTS.tools('*'), SUBJECTS.toolsCancel('*', '*')],
  };
}

/** `codemode cluster status`: reads the heartbeats and session records, pings the workers' service. */
export function operatorPermissions(): Permissions {
  return {
    publish: [
      ...openApi(false),
      ...[STREAMS.workers, STREAMS.sessions].flatMap(readApi),
      ...['PING', 'INFO', 'STATS'].map((v) => `$SRV.${v}.${WORKER_SERVICE}`),
    ],
    subscribe: ['_INBOX.>'],
  };
}

const quote = (s: string) => JSON.stringify(s);
const list = (items: string[]) => `[${items.map(quote).join(', ')}]`;

function userBlock(u: NodeUser, p: Permissions, responses: boolean): string {
  const who = 'nkey' in u ? `nkey: ${quote(u.nkey)}` : `user: ${quote(u.user)}, password: ${quote(u.pass)}`;
  return (
    `    { ${who}, permissions: {\n` +
    `        publish: { allow: ${list(p.publish)} }\n` +
    `        subscribe: { allow: ${list(p.subscribe)} }\n` +
    (responses ? '        allow_responses: true\n' : '') +
    '    } }'
  );
}

export interface TlsFiles {
  cert: string;
  key: string;
  /** The CA that signed the peers' certificates (routes: required; clients: to verify client certificates). */
  ca?: string;
}

export interface ServerConfigOptions {
  name: string;
  host: string;
  port: number;
  /** The route listener; without it the server runs alone (no cluster block). */
  clusterPort?: number;
  /** host:port of the other servers' cluster listeners. */
  routes?: string[];
  /** The route secret every server of the cluster shares (user and password of route connections); required with clusterPort. */
  routeAuth?: { user: string; pass: string };
  storeDir: string;
  users: ClusterUsers;
  /** TLS for client connections; with `ca` and `verifyClients`, clients must present a certificate it signed. */
  tls?: TlsFiles & { verifyClients?: boolean };
  /** TLS between the servers (mutual: each route presents its certificate, checked against `ca`). */
  routeTls?: TlsFiles & { ca: string };
}

const ROUTE_SECRET = /^[A-Za-z0-9_-]{1,128}$/;

function tlsBlock(t: TlsFiles, verify: boolean): string {
  const ca = t.ca === undefined ? '' : `, ca_file: ${quote(t.ca)}`;
  return `tls { cert_file: ${quote(t.cert)}, key_file: ${quote(t.key)}${ca}, verify: ${verify}, timeout: 5 }`;
}

function clusterBlock(o: ServerConfigOptions, port: number): string {
  const auth = o.routeAuth;
  // The secret goes into route URLs: a URL-safe alphabet keeps it one token.
  if (auth === undefined || !ROUTE_SECRET.test(auth.user) || !ROUTE_SECRET.test(auth.pass) || auth.pass.length < 16) {
    throw new AppError(
      'INVALID_CONFIG',
      'a clustered server needs routeAuth: URL-safe (A-Z a-z 0-9 _ -) user and secret, the secret 16+ characters',
    );
  }
  const routes = (o.routes ?? []).map((r) => `nats-route://${auth.user}:${auth.pass}@${r}`);
  const lines = [
    `  name: "codemode"`,
    `  listen: ${quote(`${o.host}:${port}`)}`,
    `  authorization { user: ${quote(auth.user)}, password: ${quote(auth.pass)}, timeout: 5 }`,
    `  routes: ${list(routes)}`,
    ...(o.routeTls === undefined ? [] : [`  ${tlsBlock(o.routeTls, true)}`]),
  ];
  return `cluster {\n${lines.join('\n')}\n}`;
}

export function natsServerConfig(o: ServerConfigOptions): string {
  const users = [
    ...o.users.workers.map((w) => userBlock(w, workerPermissions(w.id), true)),
    // Gateways answer workers' tool calls (codemode.tools): replies only, to the asking worker's inbox.
    ...o.users.gateways.map((g) => userBlock(g, gatewayPermissions(g.id), true)),
    ...(o.users.operators ?? []).map((u) => userBlock(u, operatorPermissions(), false)),
  ];
  return [
    `server_name: ${quote(o.name)}`,
    `listen: ${quote(`${o.host}:${o.port}`)}`,
    ...(o.tls === undefined ? [] : [tlsBlock(o.tls, o.tls.verifyClients === true)]),
    `jetstream { store_dir: ${quote(o.storeDir)}, max_memory_store: 64MB, max_file_store: 2GB }`,
    ...(o.clusterPort === undefined ? [] : [clusterBlock(o, o.clusterPort)]),
    `authorization { users: [\n${users.join(',\n')}\n] }`,
    '',
  ].join('\n');
}
