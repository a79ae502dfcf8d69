/**
 * What `codemode cluster status` shows: every worker with its heartbeat's age
 * and load, and the sessions per worker and state, read once from the buckets.
 */
import { heartbeatSchema, sessionRecordSchema, type Heartbeat } from './protocol.js';
import { natsFailure, type Link } from './link.js';

export interface ClusterStatus {
  workers: (Heartbeat & { alive: boolean; lastSeenMs: number; liveSessions: number })[];
  sessions: { live: number; lost: number; closed: number };
}

export async function clusterStatus(
  link: Pick<Link, 'workers' | 'sessions'>,
  livenessMs: number,
  now = Date.now(),
): Promise<ClusterStatus> {
  try {
    return await readStatus(link, livenessMs, now);
  } catch (e) {
    throw natsFailure(e, 'the cluster buckets');
  }
}

async function readStatus(
  link: Pick<Link, 'workers' | 'sessions'>,
  livenessMs: number,
  now = Date.now(),
): Promise<ClusterStatus> {
  const perWorker = new Map<string, number>();
  const sessions = { live: 0, lost: 0, closed: 0 };
  // keys() walks a consumer: a key written meanwhile can come twice, hence the sets.
  for (const key of await keysOf(link.sessions)) {
    const e = await link.sessions.get(key);
    if (e === null || e.operation !== 'PUT') continue;
    const r = sessionRecordSchema.safeParse(safeJson(() => e.json()));
    if (!r.success) continue;
    sessions[r.data.state]++;
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
  return { workers, sessions };
}

export function formatStatus(s: ClusterStatus): string {
  const lines = ['WORKER                STATE  SESSIONS  RUNS  FREE MEM   LAST SEEN'];
  for (const w of s.workers) {
    lines.push(
      `${w.id.padEnd(20)}  ${(w.alive ? 'up' : 'LOST').padEnd(5)}  ${`${w.sessions}/${w.maxSessions}`.padEnd(8)}  ${String(w.runsInFlight).padEnd(4)}  ${`${Math.round(w.freeMemoryBytes / 2 ** 20)} MiB`.padEnd(9)}  ${(w.lastSeenMs / 1000).toFixed(1)} s ago`,
    );
  }
  if (s.workers.length === 0) lines.push('(no worker has heartbeated)');
  lines.push(
    `sessions: ${s.sessions.live} live, ${s.sessions.lost} lost (resume at next use), ${s.sessions.closed} closed`,
  );
  return `${lines.join('\n')}\n`;
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
