/**
 * A whole cluster on one machine, for the end-to-end test and the bench:
 * nats-server processes with generated configs and users in a temporary
 * directory (random loopback ports), and `codemode worker` child processes.
 * Not used in production: there, operators run nats-server and the roles.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLink, type Link } from './link.js';
import { gatewayInbox, natsServerConfig, type ClusterUsers, type PasswordUser } from './nats-config.js';

export interface LocalCluster {
  dir: string;
  urls: string[];
  users: ClusterUsers<PasswordUser>;
  /** Credential files by node id. */
  credentialFile(id: string): string;
  servers: ChildProcess[];
  workers: Map<string, ChildProcess>;
  /** `args`: more `codemode worker` flags. */
  startWorker(id: string, env?: NodeJS.ProcessEnv, args?: string[]): Promise<ChildProcess>;
  /** A gateway's link (in this process). */
  gatewayLink(id: string): Promise<Link>;
  stop(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
// The built CLI beside a built copy (dist/, where `npm run bench` runs), else the source through tsx.
const MAIN = [path.resolve(here, '../cli/main.js'), path.resolve(here, '../cli/main.ts')].find((f) => existsSync(f))!;

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 0));
    });
  });
}

/** Wait for a line matching `pattern` on a child's stderr (or its exit, which fails). */
function waitFor(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`${what} did not start in time:\n${seen.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) done();
    };
    const onExit = (code: number | null) => done(new Error(`${what} exited (${code}):\n${seen.slice(-2000)}`));
    const done = (e?: Error) => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (e) reject(e);
      else resolve();
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

export async function startLocalCluster(options: {
  servers?: number;
  workerIds: string[];
  gatewayIds: string[];
  log?: (m: string) => void;
}): Promise<LocalCluster> {
  const n = options.servers ?? 3;
  const dir = path.join('/tmp', `codemode-cluster-${randomBytes(6).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o711); // the sandbox users must traverse it to reach the workers' workspaces
  const secret = () => randomBytes(18).toString('base64url');
  const users: ClusterUsers<PasswordUser> = {
    workers: options.workerIds.map((id) => ({ id, user: `worker-${id}`, pass: secret() })),
    gateways: options.gatewayIds.map((id) => ({ id, user: `gateway-${id}`, pass: secret() })),
    operators: [{ user: 'operator', pass: secret() }],
  };
  // Workers without a warm pool: kernels start on demand, which keeps the test's CPU for the test.
  const settingsFile = path.join(dir, 'worker-settings.json');
  writeFileSync(
    settingsFile,
    JSON.stringify({ sessions: { pool: { python: 0, javascript: 0, typescript: 0, bash: 0 } } }),
  );
  const creds = new Map<string, string>();
  for (const u of [...users.workers, ...users.gateways, { id: 'operator', ...users.operators![0]! }]) {
    const file = path.join(dir, `${u.id}.creds`);
    writeFileSync(file, `${u.user}:${u.pass}\n`, { mode: 0o600 });
    creds.set(u.id, file);
  }
  // One route secret for the servers: a server without it cannot join the cluster.
  const routeAuth = { user: 'route', pass: secret() };
  const ports = await Promise.all(
    Array.from({ length: n }, async () => ({ client: await freePort(), route: await freePort() })),
  );
  const servers: ChildProcess[] = [];
  const stderr: string[] = [];
  for (const [i, p] of ports.entries()) {
    const conf = path.join(dir, `nats-${i}.conf`);
    writeFileSync(
      conf,
      natsServerConfig({
        name: `n${i}`,
        host: '127.0.0.1',
        port: p.client,
        // A lone server runs unclustered (JetStream refuses a cluster without routes).
        ...(n === 1
          ? {}
          : {
              clusterPort: p.route,
              routes: ports.filter((_, j) => j !== i).map((q) => `127.0.0.1:${q.route}`),
              routeAuth,
            }),
        storeDir: path.join(dir, `js-${i}`),
        users,
      }),
    );
    const child = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
    servers.push(child);
  }
  await Promise.all(servers.map((s, i) => waitFor(s, /Server is ready/, `nats-server ${i}`, 20_000)));
  const urls = ports.map((p) => `nats://127.0.0.1:${p.client}`);
  const workers = new Map<string, ChildProcess>();
  const links: Link[] = [];

  const cluster: LocalCluster = {
    dir,
    urls,
    users,
    servers,
    workers,
    credentialFile: (id) => {
      const f = creds.get(id);
      if (f === undefined) throw new Error(`no user ${id}`);
      return f;
    },
    async startWorker(id, env = {}, args = []) {
      const child = spawn(
        process.execPath,
        [
          '--no-node-snapshot',
          '--import',
          'tsx',
          MAIN,
          'worker',
          '--nats',
          urls.join(','),
          '--id',
          id,
          '--nats-credentials',
          cluster.credentialFile(id),
          '--replicas',
          String(Math.min(3, n)),
          '--heartbeat-ms',
          '500',
          ...args,
        ],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, CODEMODE_HOME: path.join(dir, `home-${id}`), CODEMODE_SETTINGS: settingsFile, ...env },
        },
      );
      workers.set(id, child);
      child.stderr?.on('data', (d: Buffer) => options.log?.(`[${id}] ${d.toString().trimEnd()}`));
      await waitFor(child, /ready:/, `worker ${id}`);
      return child;
    },
    async gatewayLink(id) {
      const gw = users.gateways.find((g) => g.id === id);
      if (gw === undefined) throw new Error(`no gateway ${id}`);
      const link = await openLink({
        servers: urls,
        name: `gateway ${id}`,
        credentials: { user: gw.user, pass: gw.pass },
        inboxPrefix: gatewayInbox(id),
        replicas: Math.min(3, n),
        heartbeatTtlMs: 30_000,
      });
      links.push(link);
      return link;
    },
    async stop() {
      for (const l of links) {
        // A link to a stopped server may fail to drain, or take long: close it, bounded.
        await Promise.race([l.close().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
        if (!l.nc.isClosed()) await l.nc.close().catch(() => undefined);
      }
      const exits = [...workers.values(), ...servers].map(
        (c) =>
          new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()))),
      );
      for (const w of workers.values()) w.kill('SIGTERM');
      await Promise.race([Promise.all(exits.slice(0, workers.size)), new Promise((r) => setTimeout(r, 10_000))]);
      for (const c of [...workers.values(), ...servers]) c.kill('SIGKILL');
      await Promise.all(exits);
      // A killed worker leaves its workspace mounts behind: detach them (deepest first) before removing the directory.
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[4] ?? '')
        .filter((m) => m.startsWith(`${dir}/`))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) spawnSync('umount', ['-l', m]);
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
  return cluster;
}
