/**
 * What `codemode cluster status` shows: every worker with its heartbeat's age
 * and load, the sessions per worker and state (read once from the buckets),
 * and what each worker's NATS service answers to `$SRV.STATS` (requests and
 * errors per endpoint). A fresh heartbeat without a service answer is a
 * worker that no longer takes requests.
 */
import { Svcm } from '@nats-io/services';
import { heartbeatSchema, sessionRecordSchema, WORKER_SERVICE, type Heartbeat } from './protocol.js';
import { natsFailure, type Link } from './link.js';

/** One worker's NATS service counters, summed over its endpoints. */
export interface ServiceCounters {
  requests: number;
  errors: number;
}

export interface ClusterStatus {
  workers: (Heartbeat & {
    alive: boolean;
    lastSeenMs: number;
    liveSessions: number;
    /** Absent when the worker's service did not answer. */
    service?: ServiceCounters;
  })[];
  sessions: { live: number; lost: number; closed: number };
  /** With `sessions: true`: every session not closed, by worker then id. */
  list?: SessionRow[];
}

export interface SessionRow {
  id: string;
  owner: string;
  language: string;
  worker: string;
  state: 'live' | 'lost';
  executions: number;
  /** Workers that held it before (failovers), oldest first. */
  previousWorkers: string[];
}

export async function clusterStatus(
  link: Pick<Link, 'workers' | 'sessions' | 'nc'>,
  livenessMs: number,
  options: { sessions?: boolean; now?: number } = {},
): Promise<ClusterStatus> {
  let status: ClusterStatus;
  try {
    status = await readStatus(link, livenessMs, options.now ?? Date.now(), options.sessions === true);
  } catch (e) {
    throw natsFailure(e, 'the cluster buckets');
  }
  const counters = await serviceCounters(link.nc);
  for (const w of status.workers) {
    const c = counters.get(w.id);
    if (c !== undefined) w.service = c;
  }
  return status;
}

/** `$SRV.STATS.codemode-worker`: every answering worker's counters, by worker id (from the service metadata). */
async function serviceCounters(nc: Link['nc']): Promise<Map<string, ServiceCounters>> {
  const out = new Map<string, ServiceCounters>();
  try {
    for await (const s of await new Svcm(nc).client({ strategy: 'stall', maxWait: 1500 }).stats(WORKER_SERVICE)) {
      const id = s.metadata?.['worker'];
      if (typeof id !== 'string') continue;
      const endpoints = s.endpoints ?? [];
      out.set(id, {
        requests: endpoints.reduce((n, e) => n + e.num_requests, 0),
        errors: endpoints.reduce((n, e) => n + e.num_errors, 0),
      });
    }
  } catch {
    // No answer at all (no worker, or no permission): every worker shows as not answering.
  }
  return out;
}

async function readStatus(
  link: Pick<Link, 'workers' | 'sessions'>,
  livenessMs: number,
  now: number,
  listSessions: boolean,
): Promise<ClusterStatus> {
  const perWorker = new Map<string, number>();
  const sessions = { live: 0, lost: 0, closed: 0 };
  const list: SessionRow[] = [];
  // keys() walks a consumer: a key written meanwhile can come twice, hence the sets.
  for (const key of await keysOf(link.sessions)) {
    const e = await link.sessions.get(key);
    if (e === null || e.operation !== 'PUT') continue;
    const r = sessionRecordSchema.safeParse(safeJson(() => e.json()));
    if (!r.success) continue;
    sessions[r.data.state]++;
    if (listSessions && r.data.state !== 'closed')
      list.push({
        id: r.data.id,
        owner: r.data.owner,
        language: r.data.language,
        worker: r.data.worker,
        state: r.data.state,
        executions: r.data.info.executionCount,
        previousWorkers: r.data.previousWorkers,
      });
    if (r.data.state === 'live') perWorker.set(r.data.worker, (perWorker.get(r.data.worker) ?? 0) + 1);
  }
  const workers: ClusterStatus['workers'] = [];
  for (const key of await keysOf(link.workers)) {
    const e = await link.workers.get(key);
    if (e === null || e.operation !== 'PUT') continue;
    const hb = heartbeatSchema.safeParse(safeJson(() => e.json()));
    if (!hb.success) continue;
    const lastSeenMs = now - e.created.getTime();
    workers.push({
      ...hb.data,
      alive: lastSeenMs < livenessMs,
      lastSeenMs,
      liveSessions: perWorker.get(hb.data.id) ?? 0,
    });
  }
  workers.sort((a, b) => a.id.localeCompare(b.id));
  list.sort((a, b) => a.worker.localeCompare(b.worker) || a.id.localeCompare(b.id));
  return { workers, sessions, ...(listSessions ? { list } : {}) };
}

export function formatStatus(s: ClusterStatus): string {
  const lines = ['WORKER                STATE  SESSIONS  RUNS  FREE MEM   REQUESTS  ERRORS  LAST SEEN  KITS'];
  for (const w of s.workers) {
    // DEAF: it heartbeats but its service does not answer, so requests to it fail.
    const state = !w.alive ? 'LOST' : w.service === undefined ? 'DEAF' : 'up';
    lines.push(
      `${w.id.padEnd(20)}  ${state.padEnd(5)}  ${`${w.sessions}/${w.maxSessions}`.padEnd(8)}  ${String(w.runsInFlight).padEnd(4)}  ${`${Math.round(w.freeMemoryBytes / 2 ** 20)} MiB`.padEnd(9)}  ${String(w.service?.requests ?? '-').padEnd(8)}  ${String(w.service?.errors ?? '-').padEnd(6)}  ${`${(w.lastSeenMs / 1000).toFixed(1)} s ago`.padEnd(9)}  ${installedKits(w)}`,
    );
  }
  if (s.workers.length === 0) lines.push('(no worker has heartbeated)');
  lines.push(
    `sessions: ${s.sessions.live} live, ${s.sessions.lost} lost (resume at next use), ${s.sessions.closed} closed`,
  );
  if (s.list !== undefined) {
    lines.push('', 'SESSION                    WORKER                STATE  LANGUAGE    EXECS  OWNER  (MOVED FROM)');
    for (const r of s.list)
      lines.push(
        `${r.id.padEnd(25)}  ${r.worker.padEnd(20)}  ${r.state.padEnd(5)}  ${r.language.padEnd(10)}  ${String(r.executions).padEnd(5)}  ${r.owner}${r.previousWorkers.length ? `  (${r.previousWorkers.join(', ')})` : ''}`,
      );
    if (s.list.length === 0) lines.push('(no live or lost session)');
  }
  return `${lines.join('\n')}\n`;
}

/** The kits a worker has installed (placement needs them), or `-`. */
function installedKits(w: Heartbeat): string {
  const names = (w.kits ?? []).filter((k) => k.installed).map((k) => k.name);
  return names.length ? names.join(',') : '-';
}

async function keysOf(kv: Link['sessions']): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const k of await kv.keys()) keys.add(k);
  return keys;
}

function safeJson(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined; // not JSON: the schema check rejects it
  }
}
