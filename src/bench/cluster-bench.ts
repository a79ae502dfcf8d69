/**
 * The cluster's costs (issue 15), in one run on a local cluster (3 NATS
 * servers, replicas 3, two workers, src/cluster/local-cluster.ts):
 * - routing: the same MCP `list_files` call on a single-machine server (the
 *   floor) and on a gateway (`serve --nats` runtime: gateway → NATS → worker),
 *   interleaved over Streamable HTTP, both in this process; target: under 1 ms
 *   added. Beside it, as information, the SessionService calls without MCP
 *   (cells include the worker's checkpoint), a one-shot run through the queue
 *   group, and a bare NATS ping of the worker (the transport's share).
 * - worker loss: a worker holding a session is killed with SIGKILL; rows for
 *   the time until the gateway calls it lost and until the session answers
 *   again on the other worker with its variable back (target: under 10 s),
 *   the floor being a fresh session and the same cell replayed on a live
 *   worker. Each repeat restarts the killed worker.
 * Needs nats-server (scripts/setup.sh); without it the bench fails at once.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processIO } from '../cli/io.js';
import { defaultRuntime, parseServeArgs, type ServeRuntime } from '../cli/commands/serve.js';
import { gatewayRuntime } from '../cluster/gateway.js';
import { request } from '../cluster/link.js';
import { startLocalCluster, type LocalCluster } from '../cluster/local-cluster.js';
import { SUBJECTS } from '../cluster/protocol.js';
import { RemoteExecutor } from '../cluster/remote-executor.js';
import { RemoteSessionService } from '../cluster/remote-sessions.js';
import { AppError, isAppError } from '../errors.js';
import { interleave, makeRow, sample, type ReportRow, type SubjectFilter } from './report.js';
import { localMcp } from '../cluster/local-mcp.js';

/** Issue 15: routing adds under 1 ms median over a single-machine server. */
export const ROUTING_TARGET_PLUS_MS = 1;
/** Issue 15: a lost worker's sessions answer again within 10 s. */
export const LOSS_TARGET_MS = 10_000;

export interface ClusterBenchOptions {
  rounds?: number;
  /** Worker kills (each one restarts the worker: ~10 s apiece). */
  losses?: number;
  log?: (m: string) => void;
  only?: SubjectFilter;
}

/** Fail at once, with the reason, when nats-server is not installed (spawning it would only say ENOENT). */
export function requireNatsServer(): void {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new AppError(
      'INVALID_CONFIG',
      'the cluster bench needs nats-server 2.9+ on the PATH (scripts/setup.sh installs it)',
    );
  }
}

export async function runClusterBench(options: ClusterBenchOptions = {}): Promise<{ rows: ReportRow[] }> {
  requireNatsServer();
  const rounds = options.rounds ?? 20;
  const only = options.only ?? (() => true);
  const progress = options.log ?? (() => {});
  const home = mkdtempSync(path.join(os.tmpdir(), 'codemode-bench-cluster-'));
  chmodSync(home, 0o711); // the sandbox users reach the local workspaces under it
  // No warm pool on the single-machine side, as on the workers (local-cluster.ts): kernels on demand on both.
  const settings = path.join(home, 'settings.json');
  writeFileSync(settings, JSON.stringify({ sessions: { pool: { python: 0, javascript: 0, typescript: 0, bash: 0 } } }));
  const env = { ...process.env, CODEMODE_HOME: home, CODEMODE_SETTINGS: settings };
  const io = { ...processIO(), env };
  let cluster: LocalCluster | undefined;
  let local: ServeRuntime | undefined;
  let remote: RemoteSessionService | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  try {
    progress('starting 3 NATS servers and 2 workers');
    cluster = await startLocalCluster({ workerIds: ['w1', 'w2'], gatewayIds: ['g1', 'g2'] });
    const c = cluster;
    local = await defaultRuntime(parseServeArgs(['--no-store'], env), io, () => {});
    await Promise.all(['w1', 'w2'].map((id) => startWorker(c, id)));
    const link = await c.gatewayLink('g1');
    remote = await RemoteSessionService.open({ link, maxWallMs: 60_000 });
    const gateway = remote;
    const executor = new RemoteExecutor(link, 60_000);
    await until(() => gateway.view.workers().filter((w) => w.alive).length === 2, 'two live workers', 20_000);
    const rows: ReportRow[] = [];

    if (only('list_files over MCP')) {
      progress('MCP list_files: single-machine server vs gateway');
      const gw = await gatewayRuntime({
        nats: [c.urls.join(',')],
        'gateway-id': 'g2',
        'nats-credentials': c.credentialFile('g2'),
      })(parseServeArgs(['--no-store'], env), io, () => {});
      closers.push(() => gw.close());
      const single = await mcpOn(local, closers);
      const routed = await mcpOn(gw, closers);
      const mcp = await interleave(routed, single, rounds * 5);
      rows.push(
        makeRow(
          'list_files over MCP: gateway vs single-machine server',
          mcp.subject,
          mcp.floor,
          { kind: 'plus', ms: ROUTING_TARGET_PLUS_MS },
          { n: rounds * 5 },
        ),
      );
    }

    if (only('NATS ping')) {
      const ping = await sample(
        () => request(link, SUBJECTS.worker('w1'), { op: 'ping' }, { timeoutMs: 10_000 }),
        rounds * 5,
        10,
      );
      rows.push(makeRow('NATS ping of a worker (request/reply only)', ping, null, { kind: 'info' }));
    }

    for (const language of ['python', 'bash'] as const) {
      if (!only(`${language} cell via gateway`) && !only(`${language} list_files via gateway`)) continue;
      const code = language === 'python' ? 'x = 1 + 1' : 'x=$((1+1))';
      progress(`${language}: creating sessions`);
      const r = await gateway.create({ language, owner: 'bench' });
      const l = await local.sessions.create({ language, owner: 'bench' });
      const cell = await interleave(
        () => gateway.execute(r.id, code, { owner: 'bench' }),
        () => local!.sessions.execute(l.id, code, { owner: 'bench' }),
        rounds,
      );
      rows.push(
        makeRow(
          `${language} cell via gateway (incl. checkpoint)`,
          cell.subject,
          cell.floor,
          { kind: 'info' },
          { n: rounds },
        ),
      );
      const files = await interleave(
        () => gateway.listFiles(r.id, '', 'bench'),
        () => local!.sessions.listFiles(l.id, '', 'bench'),
        rounds * 5,
      );
      rows.push(
        makeRow(`${language} list_files via gateway`, files.subject, files.floor, { kind: 'info' }, { n: rounds * 5 }),
      );
      await gateway.close(r.id, 'bench');
      await local.sessions.close(l.id, 'bench');
    }

    if (only('one-shot bash via queue group')) {
      const oneShot = await interleave(
        () => executor.run({ language: 'bash', code: 'echo hi' }),
        () => local!.executor.run({ language: 'bash', code: 'echo hi' }),
        Math.ceil(rounds / 2),
      );
      rows.push(makeRow('one-shot bash via queue group', oneShot.subject, oneShot.floor, { kind: 'info' }));
    }

    if (only('worker lost')) rows.push(...(await workerLoss(c, gateway, options.losses ?? 3, progress)));
    return { rows };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined); // tearing down: nothing to report
    await remote?.shutdown();
    await local?.close();
    await cluster?.stop();
    rmSync(home, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * Kill the worker that holds a session (SIGKILL), then time: (a) until the gateway's view calls it lost,
 * (b) until the session answers on the other worker with its variable back. Floor of (b): a fresh session on
 * a live worker, the same cell and the same read (what a resume does, without waiting for the loss).
 */
async function workerLoss(
  cluster: LocalCluster,
  gateway: RemoteSessionService,
  repeats: number,
  progress: (m: string) => void,
): Promise<ReportRow[]> {
  const detected: number[] = [];
  const resumed: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const s = await gateway.create({ language: 'python', owner: 'bench' });
    await gateway.execute(s.id, 'x = 6 * 7', { owner: 'bench' });
    const victim = gateway.view.session(s.id)!.record.worker;
    const killedAt = performance.now();
    cluster.workers.get(victim)!.kill('SIGKILL');
    const seenLost = until(() => !gateway.view.isAlive(victim), `the loss of ${victim}`, 60_000).then(
      () => performance.now() - killedAt,
    );
    const answered = await retrying(() => gateway.execute(s.id, 'print(x)', { owner: 'bench' }));
    const back = performance.now() - killedAt;
    if (answered.stdout !== '42\n' || gateway.view.session(s.id)!.record.worker === victim) {
      throw new Error(`the session did not resume elsewhere with its variable: ${JSON.stringify(answered)}`);
    }
    detected.push(await seenLost);
    resumed.push(back);
    progress(
      `worker ${victim} killed: lost after ${detected.at(-1)!.toFixed(0)} ms, session back after ${back.toFixed(0)} ms`,
    );
    const t0 = performance.now();
    const f = await gateway.create({ language: 'python', owner: 'bench' });
    await gateway.execute(f.id, 'x = 6 * 7', { owner: 'bench' });
    await gateway.execute(f.id, 'print(x)', { owner: 'bench' });
    floor.push(performance.now() - t0);
    await gateway.close(f.id, 'bench');
    await gateway.close(s.id, 'bench');
    await startWorker(cluster, victim);
    await until(() => gateway.view.isAlive(victim), `${victim} back`, 30_000);
  }
  const target = { kind: 'under', ms: LOSS_TARGET_MS } as const;
  return [
    makeRow('worker lost (SIGKILL): gateway calls it lost', detected, null, target, { n: repeats }),
    makeRow('worker lost (SIGKILL): its session answers again elsewhere', resumed, floor, target, { n: repeats }),
  ];
}

/** An MCP client over HTTP on a runtime's own server, and a `list_files` call on one of its sessions. */
async function mcpOn(
  runtime: Pick<ServeRuntime, 'executor' | 'sessions' | 'extensions'>,
  closers: (() => Promise<unknown>)[],
): Promise<() => Promise<unknown>> {
  const { client, close } = await localMcp(runtime, { name: 'cluster-bench' });
  closers.push(close);
  const created = await client.callTool({ name: 'create_session', arguments: { language: 'bash' } });
  const id = (created.structuredContent as { session?: { id?: string } } | undefined)?.session?.id;
  if (id === undefined) throw new Error(`create_session: ${JSON.stringify(created)}`);
  return async () => {
    const r = await client.callTool({ name: 'list_files', arguments: { session_id: id } });
    if (r.isError === true) throw new Error(`list_files: ${JSON.stringify(r)}`);
  };
}

/**
 * Start a worker, again when it gave up for a retryable reason: on a loaded machine JetStream may still be
 * electing its leaders when the first worker opens the buckets.
 */
async function startWorker(cluster: LocalCluster, id: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await cluster.startWorker(id);
      return;
    } catch (e) {
      if (i >= 2 || !/retryable/.test(String(e))) throw e;
    }
  }
}

/** Retry what the cluster reports as retryable (a failover under way), bounded. */
async function retrying<T>(work: () => Promise<T>, tries = 60): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await work();
    } catch (e) {
      if (i >= tries || !(isAppError(e) && e.data?.['retryable'] === true)) throw e;
      await sleep(100);
    }
  }
}

async function until(check: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const isEntry = process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]));
if (isEntry) {
  const { formatTable } = await import('./report.js');
  const { rows } = await runClusterBench({ log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(`${formatTable(rows)}\n`);
}
